//! WeChat Pay API v3 stand-in: coupon send (`POST /v3/marketing/favor/users/{openid}/coupons`).
//! Requests must carry a valid `WECHATPAY2-SHA256-RSA2048` authorization by the merchant's key
//! and serial, over the path exactly as sent. Successes are signed with the platform key; 5xx
//! errors come unsigned as the real ones do (a 500 SYSTEM_ERROR header dump on
//! developers.weixin.qq.com shows no Wechatpay-* headers), 4xx signed unless `v3UnsignedErrors`.
//! Errors are HTTP 4xx/5xx with `{"code","message"}`.

use crate::Shared;
use crate::later::SignLater;
use crate::state::*;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use rewardgate_channels::wechat_v3::{self as v3, Authorization};
use rewardgate_core::keys::RsaPrivateKey;
use serde_json::{Value, json};
use std::time::Duration;

/// A JSON answer signed as the platform signs (`Wechatpay-*` headers; made on the way out, after
/// the world's lock is let go: `later`).
pub(crate) fn signed(
    status: StatusCode,
    body: Value,
    key: Option<(&RsaPrivateKey, &str)>,
) -> Response {
    let text = body.to_string();
    let r = (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        text.clone(),
    )
        .into_response();
    match key {
        Some((k, serial)) => SignLater::WechatV3 {
            key: k.clone(),
            serial: serial.to_string(),
            body: text,
        }
        .attach(r),
        None => r,
    }
}

pub(crate) fn error(
    status: StatusCode,
    code: &str,
    message: &str,
    key: Option<(&RsaPrivateKey, &str)>,
) -> Response {
    signed(status, json!({"code": code, "message": message}), key)
}

pub async fn send_coupon(
    State(s): State<Shared>,
    Path(openid): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let decided = s.with(|st| decide(st, &openid, uri.path(), &headers, &body));
    match decided {
        (r, None) => r,
        (r, Some(secs)) => {
            tokio::time::sleep(Duration::from_secs(secs)).await;
            r
        }
    }
}

fn decide(
    st: &mut World,
    openid: &str,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> (Response, Option<u64>) {
    let now = |r| (r, None);
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(Authorization::parse);
    let Some(auth) = auth else {
        return now(error(
            StatusCode::UNAUTHORIZED,
            "SIGN_ERROR",
            "Authorization头缺失或格式错误",
            None,
        ));
    };
    let Some(acct) = st.v3.get(&auth.mchid) else {
        return now(error(
            StatusCode::UNAUTHORIZED,
            "SIGN_ERROR",
            "商户号不存在或未开通APIv3",
            None,
        ));
    };
    let key = (acct.platform_key.clone(), acct.platform_serial_no.clone());
    let signed_errors = !st.faults.v3_unsigned_errors;
    let k = Some((key.0.as_ref(), key.1.as_str())).filter(|_| signed_errors);
    let text = String::from_utf8_lossy(body);
    let msg = v3::request_message("POST", path, &auth.timestamp, &auth.nonce_str, &text);
    // `oSIGERR…`: a request whose own content fails verification (the account's key is fine).
    if auth.serial_no != acct.merchant_serial_no
        || openid.starts_with("oSIGERR")
        || !acct
            .merchant_public_key
            .verify_b64(msg.as_bytes(), &auth.signature)
    {
        return now(error(
            StatusCode::UNAUTHORIZED,
            "SIGN_ERROR",
            "签名错误，请检查后再试",
            k,
        ));
    }
    let ts_ok = auth
        .timestamp
        .parse::<i64>()
        .is_ok_and(|t: i64| t.abs_diff(rewardgate_core::clock::now_ms() / 1000) <= 300);
    if !ts_ok {
        return now(error(
            StatusCode::UNAUTHORIZED,
            "SIGN_ERROR",
            "timestamp已过期",
            k,
        ));
    }
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return now(error(
            StatusCode::BAD_REQUEST,
            "PARAM_ERROR",
            "请求体不是合法的JSON",
            k,
        ));
    };
    let field = |f: &str| v[f].as_str().map(str::to_string).filter(|x| !x.is_empty());
    let (Some(stock_id), Some(out_request_no), Some(appid), Some(creator)) = (
        field("stock_id"),
        field("out_request_no"),
        field("appid"),
        field("stock_creator_mchid"),
    ) else {
        return now(error(
            StatusCode::BAD_REQUEST,
            "PARAM_ERROR",
            "参数错误，stock_id、out_request_no、appid、stock_creator_mchid必填",
            k,
        ));
    };
    if creator != auth.mchid {
        return now(error(
            StatusCode::FORBIDDEN,
            "NO_AUTH",
            "stock_creator_mchid与调用商户号不一致",
            k,
        ));
    }
    let fingerprint = format!("{stock_id}|{openid}|{appid}");
    let ck = (auth.mchid.clone(), out_request_no.clone());
    if let Some(c) = st.coupons.get(&ck) {
        if c.fingerprint != fingerprint {
            return now(error(
                StatusCode::BAD_REQUEST,
                "PARAM_ERROR",
                "out_request_no已使用，请使用原参数重试",
                k,
            ));
        }
        let ok_key = Some((key.0.as_ref(), key.1.as_str()));
        return now(signed(
            StatusCode::OK,
            json!({"coupon_id": c.coupon_id}),
            ok_key,
        ));
    }
    let now_ms = st.now();
    let acct = st.v3.get_mut(&auth.mchid).expect("found above");
    while acct.recent.front().is_some_and(|t| *t <= now_ms - 1000) {
        acct.recent.pop_front();
    }
    if acct.recent.len() >= acct.max_per_second {
        st.refused("FREQUENCY_LIMIT_EXCEED");
        return now(error(
            StatusCode::TOO_MANY_REQUESTS,
            "FREQUENCY_LIMIT_EXCEED",
            "调用频率超限，请降低频率后重试",
            k,
        ));
    }
    acct.recent.push_back(now_ms);
    let faults = st.faults.clone();
    let acct = st.v3.get_mut(&auth.mchid).expect("found above");
    let Some(stock) = acct.stocks.get_mut(&stock_id) else {
        return now(error(
            StatusCode::NOT_FOUND,
            "RESOURCE_NOT_EXISTS",
            "批次不存在",
            k,
        ));
    };
    if stock.remaining <= 0 || roll() < faults.not_enough {
        return now(error(
            StatusCode::FORBIDDEN,
            "NOT_ENOUGH",
            "批次预算不足",
            k,
        ));
    }
    if stock.per_user.get(openid).copied().unwrap_or(0) >= stock.max_per_user {
        return now(error(
            StatusCode::FORBIDDEN,
            "REQUEST_BLOCKED",
            "用户已达到本批次领取上限",
            k,
        ));
    }
    let Roll {
        system_error,
        timeout,
        grants,
        ..
    } = faults.roll(false);
    let value = stock.coupon_value;
    let mut coupon_id = None;
    if grants {
        stock.remaining -= 1;
        *stock.per_user.entry(openid.to_string()).or_insert(0) += 1;
        let id = st.next_id("9");
        st.coupons.insert(
            ck,
            Coupon {
                fingerprint,
                coupon_id: id.clone(),
            },
        );
        st.record("WECHAT_COUPON", &out_request_no, value, openid);
        coupon_id = Some(id);
    }
    let key_ref = Some((key.0.as_ref(), key.1.as_str()));
    let answer = match (&coupon_id, system_error) {
        (Some(id), false) => signed(StatusCode::OK, json!({"coupon_id": id}), key_ref),
        _ => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "SYSTEM_ERROR",
            "系统繁忙，请稍后重试",
            None,
        ),
    };
    (answer, timeout.then_some(faults.timeout_seconds))
}

/// The platform key and serial a merchant's answers are signed with.
pub(crate) type PlatformKey = (std::sync::Arc<RsaPrivateKey>, String);

/// Checks a request's `WECHATPAY2-SHA256-RSA2048` authorization over `method`, the path (with
/// its query) as sent, and the body, by the merchant's registered key and serial, stamped within
/// 5 minutes: the merchant id and its platform key, or the 401 SIGN_ERROR to answer.
pub(crate) fn authenticate(
    st: &World,
    method: &str,
    path_and_query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(String, PlatformKey), Box<Response>> {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(Authorization::parse);
    let Some(auth) = auth else {
        return Err(Box::new(error(
            StatusCode::UNAUTHORIZED,
            "SIGN_ERROR",
            "Authorization头缺失或格式错误",
            None,
        )));
    };
    let Some(acct) = st.v3.get(&auth.mchid) else {
        return Err(Box::new(error(
            StatusCode::UNAUTHORIZED,
            "SIGN_ERROR",
            "商户号不存在或未开通APIv3",
            None,
        )));
    };
    let key = (acct.platform_key.clone(), acct.platform_serial_no.clone());
    let k = Some((key.0.as_ref(), key.1.as_str())).filter(|_| !st.faults.v3_unsigned_errors);
    let text = String::from_utf8_lossy(body);
    let msg = v3::request_message(
        method,
        path_and_query,
        &auth.timestamp,
        &auth.nonce_str,
        &text,
    );
    if auth.serial_no != acct.merchant_serial_no
        || !acct
            .merchant_public_key
            .verify_b64(msg.as_bytes(), &auth.signature)
    {
        return Err(Box::new(error(
            StatusCode::UNAUTHORIZED,
            "SIGN_ERROR",
            "签名错误，请检查后再试",
            k,
        )));
    }
    let fresh = auth
        .timestamp
        .parse::<i64>()
        .is_ok_and(|t| t.abs_diff(rewardgate_core::clock::now_ms() / 1000) <= 300);
    if !fresh {
        return Err(Box::new(error(
            StatusCode::UNAUTHORIZED,
            "SIGN_ERROR",
            "timestamp已过期",
            k,
        )));
    }
    Ok((auth.mchid, key))
}

/// `GET /v3/marketing/favor/stocks/{stock_id}?stock_creator_mchid=…`: a stock's details (what a
/// client may use as a known-good request of its account's).
pub async fn get_stock(
    State(s): State<Shared>,
    Path(stock_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    s.with(|st| {
        let auth = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(Authorization::parse);
        let Some(auth) = auth else {
            return error(StatusCode::UNAUTHORIZED, "SIGN_ERROR", "Authorization头缺失或格式错误", None);
        };
        let Some(acct) = st.v3.get(&auth.mchid) else {
            return error(StatusCode::UNAUTHORIZED, "SIGN_ERROR", "商户号不存在或未开通APIv3", None);
        };
        let k = Some((acct.platform_key.as_ref(), acct.platform_serial_no.as_str()));
        let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("");
        let msg = v3::request_message("GET", path, &auth.timestamp, &auth.nonce_str, "");
        if auth.serial_no != acct.merchant_serial_no
            || !acct.merchant_public_key.verify_b64(msg.as_bytes(), &auth.signature)
        {
            return error(StatusCode::UNAUTHORIZED, "SIGN_ERROR", "签名错误，请检查后再试", k);
        }
        match acct.stocks.get(&stock_id) {
            None => error(StatusCode::NOT_FOUND, "RESOURCE_NOT_EXISTS", "批次不存在", k),
            Some(stock) => signed(
                StatusCode::OK,
                json!({"stock_id": stock_id, "stock_creator_mchid": auth.mchid, "status": "running",
                    "stock_use_rule": {"fixed_normal_coupon": {"coupon_amount": stock.coupon_value}},
                    "distributed_coupons": 0, "available_coupons": stock.remaining}),
                k,
            ),
        }
    })
}
