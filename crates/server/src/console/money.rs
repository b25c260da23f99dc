//! Businesses and their money: balances (available, held, spent, credit line), top-ups with a
//! reference (idempotent, as in the admin API), keys shown masked, MD5 key rotation, and what each
//! business may order. Changes go through the admin API's functions.

use super::auth::{FormData, Operator};
use super::internal;
use super::page::{Flash, back_to, enc, flash, layout, yuan};
use crate::admin::catalog::parse_and_store;
use crate::admin::money::apply_topup;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use maud::html;
use rewardgate_core::catalog::{Business, CatalogObject, Merchant};
use rewardgate_core::clock;
use rewardgate_core::secret::Secret;
use serde_json::{Value, json};

pub async fn list(State(s): State<AppState>, op: Operator) -> Response {
    let l = op.lang;
    let rows = match s.store.list_catalog(Business::KIND).await {
        Ok(r) => r,
        Err(e) => return internal(e),
    };
    let balances: std::collections::HashMap<String, rewardgate_store::Balance> =
        match s.store.all_balances().await {
            Ok(v) => v.into_iter().collect(),
            Err(e) => return internal(e),
        };
    let items: Vec<(Business, Option<rewardgate_store::Balance>)> = rows
        .iter()
        .filter_map(|d| serde_json::from_str::<Business>(d).ok())
        .map(|b| {
            let bal = balances.get(&b.id).copied();
            (b, bal)
        })
        .collect();
    let body = html! {
        table #businesses {
            tr { th { (l.t("Business", "业务")) } th { (l.t("Name", "名称")) } th { (l.t("Merchant", "商户")) }
                 th.n { (l.t("Available", "可用")) } th.n { (l.t("Held", "冻结")) } th.n { (l.t("Credit line", "授信额度")) } th { (l.t("Enabled", "启用")) } }
            @for (b, bal) in &items {
                tr {
                    td { a.mono href=(format!("/console/businesses/{}", enc(&b.id))) { (b.id) } }
                    td { (b.name) } td.mono { (b.merchant_id) }
                    @if let Some(x) = bal { td.n { (yuan(x.available)) } td.n { (yuan(x.held)) } td.n { (yuan(x.credit_line)) } }
                    @else { td.n { "—" } td.n { "—" } td.n { "—" } }
                    td { (if b.enabled { l.t("yes", "是") } else { l.t("no", "否") }) }
                }
            }
            @if items.is_empty() { tr { td colspan="7" .muted { (l.t("no businesses yet: create one under Catalogue", "尚无业务：请在“配置”中创建")) } } }
        }
    };
    layout(
        l,
        &op.csrf,
        "businesses",
        l.t("Businesses", "商户业务"),
        body,
    )
    .into_response()
}

pub async fn show(
    State(s): State<AppState>,
    op: Operator,
    Path(id): Path<String>,
    Query(fl): Query<Flash>,
) -> Response {
    let l = op.lang;
    let b: Business = match s.catalog(&id).await {
        Ok(Some(b)) => b,
        Ok(None) => {
            let body = html! { p.error { (l.t("No such business: ", "没有此业务：")) (id) } };
            let mut r =
                layout(l, &op.csrf, "businesses", l.t("Business", "业务"), body).into_response();
            *r.status_mut() = axum::http::StatusCode::NOT_FOUND;
            return r;
        }
        Err(e) => return internal(e.message),
    };
    let merchant: Option<Merchant> = s.catalog(&b.merchant_id).await.ok().flatten();
    let bal = match s.store.balance(id.clone()).await {
        Ok(x) => x,
        Err(e) => return internal(e),
    };
    let list = |v: &Option<Vec<String>>| match v {
        None => l.t("any", "全部").to_string(),
        Some(v) if v.is_empty() => l.t("none", "无").to_string(),
        Some(v) => v.join(", "),
    };
    let reference = format!("console-{}", clock::now_ms());
    let body = html! {
        (flash(fl.done.as_deref(), fl.error.as_deref()))
        div.two {
            div {
                h2 { (l.t("Balance", "余额")) }
                dl.kv #balance {
                    @if let Some(x) = bal {
                        dt { (l.t("Available", "可用")) } dd #available { (yuan(x.available)) " " (l.t("yuan", "元")) }
                        dt { (l.t("Held by orders in flight", "在途冻结")) } dd #held { (yuan(x.held)) }
                        dt { (l.t("Spent", "已消费")) } dd { (yuan(x.spent)) }
                        dt { (l.t("Credit line", "授信额度")) } dd { (yuan(x.credit_line)) }
                    } @else { dt { "—" } dd { (l.t("no ledger accounts yet", "尚无账户")) } }
                }
                h2 { (l.t("Top up", "充值")) }
                form #topup method="post" action=(format!("/console/businesses/{}/topup", enc(&b.id))) {
                    input type="hidden" name="csrf" value=(op.csrf);
                    p { label { (l.t("Amount (yuan) ", "金额（元） ")) input #topup-amount name="amount" inputmode="decimal" required size="10"; } }
                    p { label { (l.t("Reference ", "凭证号 ")) input #topup-reference name="reference" value=(reference) required size="30"; } }
                    p.muted { (l.t("A second top-up with the same reference changes nothing.", "同一凭证号重复充值不会重复入账。")) }
                    button #topup-submit type="submit" { (l.t("Top up", "充值")) }
                }
            }
            div {
                h2 { (l.t("Business", "业务")) }
                dl.kv #business {
                    dt { (l.t("Id / name", "编号 / 名称")) } dd { span.mono { (b.id) } " · " (b.name) }
                    dt { (l.t("Merchant", "商户")) } dd { span.mono { (b.merchant_id) } @if let Some(m) = &merchant { " · " (m.name) } }
                    dt { (l.t("Enabled", "启用")) } dd { (if b.enabled { l.t("yes", "是") } else { l.t("no", "否") }) }
                    dt { (l.t("MD5 key", "MD5 密钥")) } dd.mono #md5-key { (b.md5_key.as_ref().map(Secret::masked).unwrap_or_else(|| "—".into())) }
                    dt { (l.t("RSA public key", "RSA 公钥")) } dd { (if b.rsa_public_key_pem.is_some() { l.t("set", "已设置") } else { "—" }) }
                    dt { (l.t("Callback URL", "回调地址")) } dd.mono { (b.callback_url.as_deref().unwrap_or("—")) }
                    dt { (l.t("IP allow-list", "IP 白名单")) } dd.mono { (list(&b.ip_allowlist)) }
                    dt { (l.t("Templates it may use", "可用红包模板")) } dd.mono { (list(&b.template_ids)) }
                    dt { (l.t("Activities it may use", "可用活动")) } dd.mono { (list(&b.activity_ids)) }
                    dt { (l.t("WeChat appIds", "微信 appId")) } dd.mono { (list(&b.app_ids)) }
                }
                p { a.btn href=(format!("/console/catalog/business/{}", enc(&b.id))) { (l.t("Edit", "编辑")) } }
                h2 { (l.t("Rotate the MD5 key", "更换 MD5 密钥")) }
                form #rotate method="post" action=(format!("/console/businesses/{}/rotate-md5", enc(&b.id))) {
                    input type="hidden" name="csrf" value=(op.csrf);
                    p { label { (l.t("New key (16-128 characters, agreed with the merchant) ", "新密钥（16-128 位，与商户约定） "))
                        input #new-md5-key type="password" name="md5Key" autocomplete="new-password" required minlength="16" maxlength="128"; } }
                    p.muted { (l.t("Requests signed with the old key are refused from the moment it is saved.", "保存后，用旧密钥签名的请求即被拒绝。")) }
                    button.warn type="submit" { (l.t("Rotate", "更换")) }
                }
            }
        }
    };
    layout(
        l,
        &op.csrf,
        "businesses",
        &format!("{} {}", l.t("Business", "业务"), b.id),
        body,
    )
    .into_response()
}

fn back(id: &str, r: Result<&str, String>) -> Response {
    back_to(&format!("/console/businesses/{}", enc(id)), r)
}

pub async fn topup(
    State(s): State<AppState>,
    op: Operator,
    Path(id): Path<String>,
    f: FormData,
) -> Response {
    if let Some(r) = op.refuse_forged(&f) {
        return r;
    }
    // The admin API's body, built from the form: a number stays a number, anything else goes in
    // as text so that the same parser names the field in its refusal.
    let amount = f.get("amount").trim();
    let amount = match serde_json::from_str::<Value>(amount) {
        Ok(v @ Value::Number(_)) => v,
        _ => Value::String(amount.to_string()),
    };
    let body = json!({"amount": amount, "reference": f.get("reference").trim()}).to_string();
    let r = apply_topup(&s, &id, body.as_bytes())
        .await
        .map(|_| {
            op.lang.t(
                "Top-up applied (or already applied with this reference).",
                "充值成功（或此凭证号已入账）。",
            )
        })
        .map_err(|e| e.0.message);
    back(&id, r)
}

pub async fn rotate_md5(
    State(s): State<AppState>,
    op: Operator,
    Path(id): Path<String>,
    f: FormData,
) -> Response {
    if let Some(r) = op.refuse_forged(&f) {
        return r;
    }
    let stored = match s.store.get_catalog(Business::KIND, id.clone()).await {
        Ok(Some(d)) => d,
        Ok(None) => return back(&id, Err(format!("businessId {id} not found"))),
        Err(e) => return internal(e),
    };
    let Ok(mut v) = serde_json::from_str::<Value>(&stored) else {
        return internal("stored business does not parse");
    };
    v["md5Key"] = Value::String(f.get("md5Key").to_string());
    let r = parse_and_store(&s, Business::KIND, &id, v.to_string().as_bytes())
        .await
        .map(|_| op.lang.t("MD5 key rotated.", "MD5 密钥已更换。"))
        .map_err(|e| e.0.message);
    back(&id, r)
}
