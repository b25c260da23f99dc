//! The catalogue (channel accounts, templates, products, activities, merchants, businesses,
//! Rabbitpre integrations): lists, and one form per object holding its admin JSON — saved through
//! `admin::catalog::parse_and_store`, the admin API's own parser, so the console can store nothing
//! the API would refuse. Secrets are never put in a form: an edit that leaves a secret field out
//! keeps the stored one.

use super::auth::{FormData, Operator};
use super::internal;
use super::page::{Lang, enc, flash, layout};
use crate::admin::catalog::parse_and_store;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use rewardgate_core::catalog::SECRET_FIELDS;
use serde::Deserialize;
use serde_json::{Map, Value};

/// (kind, English label, Chinese label, an example for a new object).
const KINDS: &[(&str, &str, &str, &str)] = &[
    (
        "channel_account",
        "Channel accounts",
        "渠道账户",
        r#"{"kind": "WECHAT_V2", "mchId": "", "appId": "", "apiKey": "", "signType": "MD5", "certPem": "", "keyPem": "", "ratePerMinute": 1800}"#,
    ),
    (
        "template",
        "Red-packet templates",
        "红包模板",
        r#"{"channelAccountId": "", "sendName": "", "wishing": "", "actName": "", "remark": "", "sceneId": "PRODUCT_1", "minSpec": 1, "maxSpec": 200, "feeRateBp": 0}"#,
    ),
    (
        "product",
        "Coupon products",
        "立减金产品",
        r#"{"kind": "WECHAT_COUPON", "name": "", "faceValue": 10, "price": 9.5}"#,
    ),
    (
        "activity",
        "Activities",
        "活动",
        r#"{"productCode": "", "channelAccountId": "", "upstreamId": "", "startsAt": null, "endsAt": null}"#,
    ),
    ("merchant", "Merchants", "商户", r#"{"name": ""}"#),
    (
        "business",
        "Businesses",
        "业务",
        r#"{"merchantId": "", "name": "", "md5Key": "", "callbackUrl": "https://", "creditLine": 0}"#,
    ),
    (
        "rabbitpre_integration",
        "Rabbitpre integrations",
        "兔展对接",
        r#"{"apiSecretKey": "", "businessId": "", "channelAccountId": "", "templateId": "", "openidMapping": "DIRECT"}"#,
    ),
];

fn kind_of(k: &str) -> Option<&'static (&'static str, &'static str, &'static str, &'static str)> {
    KINDS.iter().find(|x| x.0 == k)
}

fn tabs(l: Lang, active: &str) -> Markup {
    html! {
        p.pager {
            @for (k, en, zh, _) in KINDS {
                @if *k == active { strong { (l.t(en, zh)) } } @else { a href=(format!("/console/catalog/{k}")) { (l.t(en, zh)) } }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct ListQuery {
    new: Option<String>,
    done: Option<String>,
}

pub async fn list(
    State(s): State<AppState>,
    op: Operator,
    Path(kind): Path<String>,
    Query(q): Query<ListQuery>,
) -> Response {
    let l = op.lang;
    let Some(&(k, en, zh, _)) = kind_of(&kind) else {
        return (StatusCode::NOT_FOUND, "no such catalogue kind").into_response();
    };
    if let Some(id) = q.new.as_deref().map(str::trim).filter(|x| !x.is_empty()) {
        return Redirect::to(&format!("/console/catalog/{k}/{}", enc(id))).into_response();
    }
    let rows = match s.store.list_catalog(k).await {
        Ok(r) => r,
        Err(e) => return internal(e),
    };
    let items: Vec<Value> = rows
        .iter()
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .map(without_secrets)
        .collect();
    let body = html! {
        (tabs(l, k))
        (flash(q.done.as_deref(), None))
        table #catalog {
            tr { th { (l.t("Id", "编号")) } th { (l.t("Settings (secrets left out)", "设置（不含密钥）")) } }
            @for v in &items {
                @let id = v.get("id").or(v.get("code")).and_then(Value::as_str).unwrap_or("");
                tr { td { a.mono href=(format!("/console/catalog/{k}/{}", enc(id))) { (id) } } td.mono { (summary(v)) } }
            }
            @if items.is_empty() { tr { td colspan="2" .muted { (l.t("none yet", "暂无")) } } }
        }
        h2 { (l.t("New", "新建")) }
        form.filters method="get" action=(format!("/console/catalog/{k}")) {
            label { (l.t("Id", "编号")) input #new-id name="new" required; }
            button type="submit" { (l.t("Create…", "新建…")) }
        }
    };
    layout(l, &op.csrf, "catalog", l.t(en, zh), body).into_response()
}

/// The object's fields without secrets, as compact text.
fn summary(v: &Value) -> String {
    let mut m = v.as_object().cloned().unwrap_or_default();
    m.remove("id");
    m.remove("code");
    let t = Value::Object(m).to_string();
    if t.chars().count() > 240 {
        format!("{}…", t.chars().take(240).collect::<String>())
    } else {
        t
    }
}

fn without_secrets(mut v: Value) -> Value {
    if let Some(m) = v.as_object_mut() {
        for k in SECRET_FIELDS {
            m.remove(*k);
        }
    }
    v
}

fn form_page(
    op: &Operator,
    kind: &'static str,
    label: &str,
    id: &str,
    exists: bool,
    text: &str,
    error: Option<&str>,
) -> Response {
    let l = op.lang;
    let title = format!(
        "{label} · {id}{}",
        if exists {
            ""
        } else {
            l.t(" (new)", "（新建）")
        }
    );
    let body = html! {
        (tabs(l, kind))
        (flash(None, error))
        form #catalog-form method="post" action=(format!("/console/catalog/{kind}/{}", enc(id))) {
            input type="hidden" name="csrf" value=(op.csrf);
            p.muted {
                (l.t("The admin API's JSON for this object (SPEC §8; money in yuan). ", "此对象的管理接口 JSON（SPEC §8；金额单位为元）。"))
                @if exists { (l.t("Secret fields are not shown: leave them out to keep the stored ones (while the kind stays the same), give new values, or null to remove one.", "密钥字段不显示：省略则保留原值（类型不变时），填写则替换，填 null 则删除。")) }
            }
            textarea #json name="json" rows="18" spellcheck="false" { (text) }
            p { button #save type="submit" { (l.t("Save", "保存")) } " " a href=(format!("/console/catalog/{kind}")) { (l.t("Cancel", "取消")) } }
        }
    };
    let mut r = layout(l, &op.csrf, "catalog", &title, body).into_response();
    if error.is_some() {
        *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    r
}

pub async fn edit_form(
    State(s): State<AppState>,
    op: Operator,
    Path((kind, id)): Path<(String, String)>,
) -> Response {
    let l = op.lang;
    let Some(&(k, en, zh, example)) = kind_of(&kind) else {
        return (StatusCode::NOT_FOUND, "no such catalogue kind").into_response();
    };
    let stored = match s.store.get_catalog(k, id.clone()).await {
        Ok(d) => d,
        Err(e) => return internal(e),
    };
    let (exists, text) = match stored.and_then(|d| serde_json::from_str::<Value>(&d).ok()) {
        Some(v) => {
            let mut v = without_secrets(v);
            if let Some(m) = v.as_object_mut() {
                m.remove("id");
                m.remove("code");
                // Stored as epoch ms, written as RFC 3339 (SPEC §8): shown as the API takes them.
                for f in ["startsAt", "endsAt"] {
                    if let Some(ms) = m.get(f).and_then(Value::as_i64) {
                        m.insert(f.into(), Value::String(rewardgate_core::clock::rfc3339(ms)));
                    }
                }
            }
            (true, serde_json::to_string_pretty(&v).unwrap_or_default())
        }
        None => (
            false,
            serde_json::from_str::<Value>(example)
                .ok()
                .and_then(|v| serde_json::to_string_pretty(&v).ok())
                .unwrap_or_default(),
        ),
    };
    form_page(&op, k, l.t(en, zh), &id, exists, &text, None)
}

pub async fn save(
    State(s): State<AppState>,
    op: Operator,
    Path((kind, id)): Path<(String, String)>,
    f: FormData,
) -> Response {
    if let Some(r) = op.refuse_forged(&f) {
        return r;
    }
    let l = op.lang;
    let Some(&(k, en, zh, _)) = kind_of(&kind) else {
        return (StatusCode::NOT_FOUND, "no such catalogue kind").into_response();
    };
    let text = f.get("json");
    let stored = match s.store.get_catalog(k, id.clone()).await {
        Ok(d) => d,
        Err(e) => return internal(e),
    };
    let exists = stored.is_some();
    // Secrets the form left out come from the stored object; otherwise the text goes to the
    // parser exactly as typed.
    let body = match (stored, serde_json::from_str::<Map<String, Value>>(text)) {
        (Some(d), Ok(mut posted))
            if SECRET_FIELDS.iter().any(|f| !posted.contains_key(*f))
                && serde_json::from_str::<Map<String, Value>>(&d)
                    .is_ok_and(|old| old.get("kind") == posted.get("kind")) =>
        {
            // Only into the same kind of object: a WeChat key never becomes an Alipay one.
            let old: Map<String, Value> = serde_json::from_str(&d).unwrap_or_default();
            for f in SECRET_FIELDS {
                if !posted.contains_key(*f)
                    && let Some(v) = old.get(*f)
                {
                    posted.insert(f.to_string(), v.clone());
                }
            }
            Value::Object(posted).to_string()
        }
        _ => text.to_string(),
    };
    match parse_and_store(&s, k, &id, body.as_bytes()).await {
        Ok(_) => {
            tracing::info!(kind = k, "catalogue object saved from the console");
            let done = enc(l.t("Saved.", "已保存。"));
            Redirect::to(&format!("/console/catalog/{k}?done={done}")).into_response()
        }
        Err(e) => {
            // The typed text comes back without its secrets: they are never put in a page.
            let shown = serde_json::from_str::<Value>(text)
                .map(|v| serde_json::to_string_pretty(&without_secrets(v)).unwrap_or_default())
                .unwrap_or_else(|_| text.to_string());
            form_page(&op, k, l.t(en, zh), &id, exists, &shown, Some(&e.0.message))
        }
    }
}
