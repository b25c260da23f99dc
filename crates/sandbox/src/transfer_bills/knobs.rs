//! The user's side of a bill, as knobs: confirm (SUCCESS; FAIL with `{"fail": "reason"}`;
//! TRANSFERING — confirmed, the money not yet arrived — with `{"hold": true}`, until confirmed
//! again), cancel (CANCELLED), and a view of the bill with the notifications sent for it.

use super::notify;
use crate::Shared;
use crate::state::World;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rewardgate_channels::wechat_v3::transfer_bills::BillState;
use serde_json::{Value, json};

fn find(st: &World, out_bill_no: &str) -> Option<super::life::Key> {
    st.transfer_bills
        .keys()
        .find(|(_, k)| k == out_bill_no)
        .cloned()
}

fn answer(status: StatusCode, v: Value) -> Response {
    (status, Json(v)).into_response()
}

fn no_bill() -> Response {
    answer(
        StatusCode::NOT_FOUND,
        json!({"error": "no such transfer bill"}),
    )
}

/// `POST /sandbox/v1/transfer-bills/{out_bill_no}/confirm`: the user confirms in the
/// merchant's app (`wx.requestMerchantTransfer`).
pub async fn confirm(
    State(s): State<Shared>,
    Path(out_bill_no): Path<String>,
    body: Bytes,
) -> Response {
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let fail = v["fail"].as_str().map(str::to_string);
    let hold = v["hold"].as_bool().unwrap_or(false);
    let r = s.with(|st| {
        st.settle_transfer_bills();
        let Some(key) = find(st, &out_bill_no) else {
            return no_bill();
        };
        let state = st.transfer_bills[&key].state.clone();
        if !matches!(state, BillState::WaitUserConfirm | BillState::Transfering) {
            return answer(
                StatusCode::CONFLICT,
                json!({"error": format!("the bill is {}", state.as_str())}),
            );
        }
        match &fail {
            None if hold => {
                let now = st.now();
                let b = st.transfer_bills.get_mut(&key).expect("found above");
                b.state = BillState::Transfering;
                b.updated_at = now;
            }
            None => st.finish_bill(&key, BillState::Success, None),
            Some(reason) => st.finish_bill(&key, BillState::Fail, Some(reason)),
        }
        view(st, &key)
    });
    notify::flush(&s);
    r
}

/// `POST /sandbox/v1/transfer-bills/{out_bill_no}/cancel`: the bill closes before
/// confirmation (the user declines, or the merchant cancels in its console).
pub async fn cancel(State(s): State<Shared>, Path(out_bill_no): Path<String>) -> Response {
    let r = s.with(|st| {
        st.settle_transfer_bills();
        let Some(key) = find(st, &out_bill_no) else {
            return no_bill();
        };
        let state = st.transfer_bills[&key].state.clone();
        if !matches!(
            state,
            BillState::Accepted | BillState::Processing | BillState::WaitUserConfirm
        ) {
            return answer(
                StatusCode::CONFLICT,
                json!({"error": format!("the bill is {}", state.as_str())}),
            );
        }
        st.finish_bill(&key, BillState::Cancelled, Some("用户取消"));
        view(st, &key)
    });
    notify::flush(&s);
    r
}

/// `GET /sandbox/v1/transfer-bills/{out_bill_no}`.
pub async fn show(State(s): State<Shared>, Path(out_bill_no): Path<String>) -> Response {
    let r = s.with(|st| {
        st.settle_transfer_bills();
        match find(st, &out_bill_no) {
            None => no_bill(),
            Some(key) => view(st, &key),
        }
    });
    notify::flush(&s);
    r
}

fn view(st: &World, key: &super::life::Key) -> Response {
    let b = &st.transfer_bills[key];
    answer(
        StatusCode::OK,
        json!({
            "mchId": key.0,
            "outBillNo": key.1,
            "transferBillNo": b.transfer_bill_no,
            "state": b.state.as_str(),
            "amountFen": b.amount,
            "openid": b.openid,
            "userName": b.user_name,
            "packageInfo": b.package_info,
            "failReason": b.fail_reason,
            "notificationsSent": b.notifications_sent,
            "balanceFen": st.v3.get(&key.0).map(|a| a.transfer_balance_fen),
        }),
    )
}
