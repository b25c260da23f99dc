//! Alipay OpenAPI gateway stand-in (`/gateway.do`, GET with a query string as python-alipay-sdk
//! sends it, or POST forms as the official SDKs do): RSA2 request verification over the sorted
//! parameters, answers `{"<method>_response": {…}, "sign": "…"}` signed over the node's exact text.
//! `alipay.marketing.voucher.send` (`template_id`, `login_id`, `out_biz_no`), idempotent by
//! (template_id, out_biz_no) as documented ("相同template_id和out_biz_no认为是同一次业务"), with
//! activity budget and per-user limits. Business failures come as Alipay really sends them: code
//! 40004, `sub_code` "unknown-sub-code" and the code in `sub_msg` ("未知的错误码
//! BUDGET_NOT_ENOUGH_ERROR": developer.aliyun.com/ask/285812; CIF_USER_NOT_EXIST: …/285813).
//! The sandbox's own names for what has no public sample: TEMPLATE_NOT_EXIST,
//! EXCEED_USER_TAKE_LIMIT (the client treats them as unknown, as it must any unlisted code).
//! A bad signature is 40002 `isv.invalid-signature` (unsigned, as upstream); an account with
//! `insufficientPermissions` answers 40006 isv.insufficient-isv-permissions.

use crate::Shared;
use crate::later::SignLater;
use crate::state::*;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use rewardgate_channels::alipay::{self as ali, Params};
use rewardgate_core::keys::RsaPrivateKey;
use serde_json::{Value, json};
use std::time::Duration;

fn parse(query: &str) -> Params {
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

pub async fn gateway_get(State(s): State<Shared>, RawQuery(q): RawQuery) -> Response {
    handle(s, parse(q.as_deref().unwrap_or(""))).await
}

pub async fn gateway_post(State(s): State<Shared>, RawQuery(q): RawQuery, body: Bytes) -> Response {
    // The official SDKs put the common parameters in the query and biz_content in the form.
    let mut p = parse(q.as_deref().unwrap_or(""));
    p.extend(parse(&String::from_utf8_lossy(&body)));
    handle(s, p).await
}

fn json_response(body: String) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json;charset=utf-8")],
        body,
    )
        .into_response()
}

/// A response node, signed with the account's Alipay key when there is one (on the way out,
/// after the world's lock is let go: `later`).
fn node(method: &str, v: Value, key: Option<&RsaPrivateKey>) -> Response {
    let text = v.to_string();
    match key {
        Some(k) => SignLater::Alipay {
            key: k.clone(),
            method: method.to_string(),
            node: text,
        }
        .attach(json_response(String::new())),
        None => json_response(format!("{{\"{}\":{text}}}", ali::response_key(method))),
    }
}

/// A business failure in Alipay's real shape: the code inside `sub_msg`.
fn business_fail(method: &str, code: &str, key: &RsaPrivateKey) -> Response {
    node(
        method,
        json!({"code": "40004", "msg": "Business Failed", "sub_code": "unknown-sub-code", "sub_msg": format!("未知的错误码{code}")}),
        Some(key),
    )
}

async fn handle(s: Shared, p: Params) -> Response {
    let (r, late) = s.with(|st| decide(st, &p));
    if let Some(secs) = late {
        tokio::time::sleep(Duration::from_secs(secs)).await;
    }
    r
}

fn decide(st: &mut World, p: &Params) -> (Response, Option<u64>) {
    let now = |r| (r, None);
    let g = |f: &str| p.get(f).cloned().unwrap_or_default();
    let method = g("method");
    let missing = [
        "app_id",
        "method",
        "sign_type",
        "sign",
        "timestamp",
        "version",
        "biz_content",
    ]
    .into_iter()
    .find(|f| g(f).is_empty());
    if let Some(f) = missing {
        let m = if method.is_empty() {
            "error".to_string()
        } else {
            method.clone()
        };
        return now(node(
            &m,
            json!({"code": "40001", "msg": "Missing Required Arguments", "sub_code": format!("isv.missing-{}", f.replace('_', "-")), "sub_msg": format!("缺少{f}参数")}),
            None,
        ));
    }
    let Some(acct) = st.alipay.get(&g("app_id")) else {
        return now(node(
            &method,
            json!({"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-app-id", "sub_msg": "无效的AppID参数"}),
            None,
        ));
    };
    if g("sign_type") != "RSA2" {
        return now(node(
            &method,
            json!({"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-signature-type", "sub_msg": "无效的签名类型"}),
            None,
        ));
    }
    if !ali::verify(p, &acct.app_public_key) {
        return now(node(
            &method,
            json!({"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-signature", "sub_msg": "验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配"}),
            None,
        ));
    }
    let key = acct.alipay_private_key.clone();
    if acct.insufficient_permissions {
        return now(node(
            &method,
            json!({"code": "40006", "msg": "Insufficient Permissions", "sub_code": "isv.insufficient-isv-permissions", "sub_msg": "ISV权限不足，建议在开发者中心检查对应功能是否已经添加"}),
            Some(&key),
        ));
    }
    if method != ali::VOUCHER_SEND {
        return now(node(
            &method,
            json!({"code": "40004", "msg": "Business Failed", "sub_code": "isv.invalid-method", "sub_msg": "沙箱不支持此接口"}),
            Some(&key),
        ));
    }
    let Ok(biz) = serde_json::from_str::<Value>(&g("biz_content")) else {
        return now(node(
            &method,
            json!({"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-biz-content", "sub_msg": "biz_content不是合法的JSON"}),
            Some(&key),
        ));
    };
    let field = |f: &str| {
        biz[f]
            .as_str()
            .map(str::to_string)
            .filter(|x| !x.is_empty())
    };
    let (Some(template_id), Some(out_biz_no)) = (field("template_id"), field("out_biz_no")) else {
        return now(node(
            &method,
            json!({"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.missing-parameter", "sub_msg": "template_id和out_biz_no必填"}),
            Some(&key),
        ));
    };
    let Some(user) = field("login_id").or_else(|| field("user_id")) else {
        return now(node(
            &method,
            json!({"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.missing-parameter", "sub_msg": "user_id、login_id不能同时为空"}),
            Some(&key),
        ));
    };
    let is_mobile =
        user.len() == 11 && user.starts_with('1') && user.bytes().all(|b| b.is_ascii_digit());
    if !(is_mobile || user.contains('@') || (user.starts_with("2088") && user.len() == 16)) {
        return now(business_fail(&method, "CIF_USER_NOT_EXIST", &key));
    }
    let app_id = g("app_id");
    let fingerprint = format!("{template_id}|{user}");
    let vk = (app_id.clone(), template_id.clone(), out_biz_no.clone());
    if let Some(v) = st.vouchers.get(&vk) {
        if v.fingerprint != fingerprint {
            return now(business_fail(&method, "OUT_BIZ_NO_REPEAT", &key));
        }
        return now(node(
            &method,
            json!({"code": "10000", "msg": "Success", "voucher_id": v.voucher_id, "user_id": v.user_id}),
            Some(&key),
        ));
    }
    let faults = st.faults.clone();
    let acct = st.alipay.get_mut(&app_id).expect("found above");
    let Some(act) = acct.activities.get_mut(&template_id) else {
        return now(business_fail(&method, "TEMPLATE_NOT_EXIST", &key));
    };
    if act.remaining <= 0 || roll() < faults.not_enough {
        return now(business_fail(&method, "BUDGET_NOT_ENOUGH_ERROR", &key));
    }
    if act.per_user.get(&user).copied().unwrap_or(0) >= act.max_per_user {
        return now(business_fail(&method, "EXCEED_USER_TAKE_LIMIT", &key));
    }
    let Roll {
        system_error,
        timeout,
        grants,
        ..
    } = faults.roll(false);
    let amount = act.amount;
    let mut granted = None;
    if grants {
        act.remaining -= 1;
        *act.per_user.entry(user.clone()).or_insert(0) += 1;
        let voucher_id = st.next_id("2026");
        let user_id = format!(
            "2088{:012}",
            user.bytes()
                .fold(0u64, |h, b| h.wrapping_mul(131).wrapping_add(b as u64))
                % 1_000_000_000_000
        );
        st.vouchers.insert(
            vk,
            Voucher {
                fingerprint,
                voucher_id: voucher_id.clone(),
                user_id: user_id.clone(),
            },
        );
        st.record("ALIPAY_VOUCHER", &out_biz_no, amount, &user);
        granted = Some((voucher_id, user_id));
    }
    let answer = match (granted, system_error) {
        (Some((vid, uid)), false) => node(
            &method,
            json!({"code": "10000", "msg": "Success", "voucher_id": vid, "user_id": uid}),
            Some(&key),
        ),
        _ => node(
            &method,
            json!({"code": "20000", "msg": "Service Currently Unavailable", "sub_code": "isp.unknow-error", "sub_msg": "系统繁忙"}),
            Some(&key),
        ),
    };
    (answer, timeout.then_some(faults.timeout_seconds))
}
