//! WeChat Pay 商家转账 stand-in (API v3 transfer-bills): create, query by out_bill_no and
//! cancel, signed and checked as the coupon stand-in (`wechat_v3`), on the v3 accounts of
//! `PUT /sandbox/v1/accounts/wechat-v3/{mchId}` (`apiV3Key`, `transferBalance`,
//! `transferMaxAmount`). The rules are `rules`; a bill's life is `life`; notifications are
//! `notify`; the knobs (`POST /sandbox/v1/transfer-bills/{out_bill_no}/confirm|cancel`,
//! `GET /sandbox/v1/transfer-bills/{out_bill_no}`) are `knobs`.
//!
//! Faults (`PUT /sandbox/v1/faults`): `frequencyLimited` (429, nothing done), `systemError`
//! (500 SYSTEM_ERROR, unsigned, the bill created or not), `timeout` (the answer held back, the
//! bill created or not), `notEnough` (the bill held in PROCESSING, 403 NOT_ENOUGH, until a
//! resend, query or clock move finds the fault gone and the balance enough), `notifyDuplicate`.

pub mod knobs;
pub mod life;
pub mod notify;
pub mod rules;

pub use life::Bill;

use crate::Shared;
use crate::state::{World, roll};
use crate::wechat_v3::{PlatformKey, authenticate, error, signed};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use rewardgate_channels::wechat_v3::transfer_bills::BillState;
use serde_json::Value;
use std::time::Duration;

fn sign_with(k: &PlatformKey) -> Option<(&rewardgate_core::keys::RsaPrivateKey, &str)> {
    Some((k.0.as_ref(), k.1.as_str()))
}

/// Signed errors, unless `v3UnsignedErrors`.
fn refuse(st: &mut World, k: &PlatformKey, status: StatusCode, code: &str, msg: &str) -> Response {
    st.refused(code);
    let key = sign_with(k).filter(|_| !st.faults.v3_unsigned_errors);
    error(status, code, msg, key)
}

fn path_and_query(uri: &Uri) -> &str {
    uri.path_and_query().map(|p| p.as_str()).unwrap_or("")
}

/// `POST /v3/fund-app/mch-transfer/transfer-bills`.
pub async fn create(
    State(s): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (answer, hold) = s.with(|st| decide_create(st, path_and_query(&uri), &headers, &body));
    notify::flush(&s);
    if let Some(secs) = hold {
        tokio::time::sleep(Duration::from_secs(secs)).await;
    }
    answer
}

fn decide_create(
    st: &mut World,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> (Response, Option<u64>) {
    let now = |r| (r, None);
    st.settle_transfer_bills();
    let (mch, k) = match authenticate(st, "POST", path, headers, body) {
        Ok(x) => x,
        Err(r) => return now(*r),
    };
    if roll() < st.faults.frequency_limited {
        return now(refuse(
            st,
            &k,
            StatusCode::TOO_MANY_REQUESTS,
            "FREQUENCY_LIMITED",
            "频率超限",
        ));
    }
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return now(refuse(
            st,
            &k,
            StatusCode::BAD_REQUEST,
            "PARAM_ERROR",
            "请求体不是合法的JSON",
        ));
    };
    let serial = headers
        .get("Wechatpay-Serial")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let c = match rules::parse(&v, serial, &st.v3[&mch]) {
        Ok(c) => c,
        Err((status, code, msg)) => return now(refuse(st, &k, status, code, &msg)),
    };
    let key = (mch.clone(), c.out_bill_no.clone());
    if let Some(b) = st.transfer_bills.get(&key) {
        if b.fingerprint != c.fingerprint {
            return now(refuse(
                st,
                &k,
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST",
                "商户单号重复，且请求参数与原单不一致",
            ));
        }
        // The same request again: the same bill ("ACCEPTED…可原单重试"; a PROCESSING bill is
        // funded now if the balance allows).
        st.fund_bill(&key);
        return now(answer_for(st, &key, &k));
    }
    let roll = st.faults.roll(false);
    if roll.grants {
        let now_ms = st.now();
        let transfer_bill_no = st.next_id("1330");
        st.transfer_bills.insert(
            key.clone(),
            Bill {
                mch_id: mch,
                fingerprint: c.fingerprint,
                appid: c.appid,
                openid: c.openid,
                amount: c.amount,
                remark: c.remark,
                notify_url: c.notify_url,
                user_name: c.user_name,
                transfer_bill_no,
                state: BillState::Accepted,
                package_info: None,
                fail_reason: None,
                created_at: now_ms,
                updated_at: now_ms,
                funded: false,
                confirm_by: i64::MAX,
                notifications_sent: 0,
            },
        );
        st.fund_bill(&key);
    }
    let answer = if roll.system_error || !roll.grants {
        // Real 5xx come without Wechatpay-* headers.
        st.refused("SYSTEM_ERROR");
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "SYSTEM_ERROR",
            "系统错误",
            None,
        )
    } else {
        answer_for(st, &key, &k)
    };
    (answer, roll.timeout.then_some(st.faults.timeout_seconds))
}

/// A bill's create answer: 200 with it, or 403 NOT_ENOUGH while it waits for money.
fn answer_for(st: &mut World, key: &life::Key, k: &PlatformKey) -> Response {
    let b = &st.transfer_bills[key];
    if b.state == BillState::Processing {
        return refuse(
            st,
            k,
            StatusCode::FORBIDDEN,
            "NOT_ENOUGH",
            "商户运营账户资金不足,充值后可以原单号发起重试,请勿更换商户单号",
        );
    }
    signed(StatusCode::OK, b.create_view(&key.1), sign_with(k))
}

/// `GET /v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}`.
pub async fn query(
    State(s): State<Shared>,
    Path(out_bill_no): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let r = s.with(|st| {
        st.settle_transfer_bills();
        let (mch, k) = match authenticate(st, "GET", path_and_query(&uri), &headers, b"") {
            Ok(x) => x,
            Err(r) => return *r,
        };
        if roll() < st.faults.frequency_limited {
            return refuse(
                st,
                &k,
                StatusCode::TOO_MANY_REQUESTS,
                "FREQUENCY_LIMITED",
                "频率超限",
            );
        }
        match st.transfer_bills.get(&(mch, out_bill_no.clone())) {
            None => refuse(st, &k, StatusCode::NOT_FOUND, "NOT_FOUND", "记录不存在"),
            Some(b) => signed(StatusCode::OK, b.query_view(&out_bill_no), sign_with(&k)),
        }
    });
    notify::flush(&s);
    r
}

/// `POST …/out-bill-no/{out_bill_no}/cancel`: accepted before the user confirms (answered
/// CANCELING, asynchronous upstream); the sandbox completes it at once, so the next query
/// says CANCELLED.
pub async fn cancel(
    State(s): State<Shared>,
    Path(out_bill_no): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let r = s.with(|st| {
        st.settle_transfer_bills();
        let (mch, k) = match authenticate(st, "POST", path_and_query(&uri), &headers, &body) {
            Ok(x) => x,
            Err(r) => return *r,
        };
        if roll() < st.faults.frequency_limited {
            return refuse(
                st,
                &k,
                StatusCode::TOO_MANY_REQUESTS,
                "FREQUENCY_LIMITED",
                "频率超限",
            );
        }
        let key = (mch, out_bill_no.clone());
        let Some(state) = st.transfer_bills.get(&key).map(|b| b.state.clone()) else {
            return refuse(st, &k, StatusCode::NOT_FOUND, "NOT_FOUND", "记录不存在");
        };
        let answered = match state {
            BillState::Accepted | BillState::Processing | BillState::WaitUserConfirm => {
                st.finish_bill(&key, BillState::Cancelled, Some("商户撤销"));
                BillState::Canceling
            }
            BillState::Canceling | BillState::Cancelled => state,
            _ => {
                return refuse(
                    st,
                    &k,
                    StatusCode::BAD_REQUEST,
                    "INVALID_REQUEST",
                    "当前单据状态不允许撤销",
                );
            }
        };
        let b = &st.transfer_bills[&key];
        let view = serde_json::json!({
            "out_bill_no": out_bill_no,
            "transfer_bill_no": b.transfer_bill_no,
            "state": answered.as_str(),
            "update_time": life::wechat_time(b.updated_at),
        });
        signed(StatusCode::OK, view, sign_with(&k))
    });
    notify::flush(&s);
    r
}
