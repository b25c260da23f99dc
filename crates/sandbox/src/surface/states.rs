//! Knobs that put one red packet or transfer in a given state: a user's claim, and every state
//! the query answers can report.

use super::*;

pub async fn claim(State(s): State<Shared>, Path(billno): Path<String>) -> Response {
    s.with(|st| {
        st.settle_refunds();
        let now = st.now();
        match st.redpacks.get_mut(&billno) {
            None => (
                StatusCode::NOT_FOUND,
                Json(json!({"error": "no such red packet"})),
            )
                .into_response(),
            Some(r) if r.status == RedpackStatus::Sent => {
                r.status = RedpackStatus::Received;
                r.rcv_time = Some(now);
                ok(json!({"mchBillno": billno, "status": "RECEIVED"}))
            }
            Some(r) => (
                StatusCode::CONFLICT,
                Json(json!({"error": format!("red packet is {:?}", r.status)})),
            )
                .into_response(),
        }
    })
}

/// Puts a red packet in any of gethbinfo's states (SENDING, SENT, FAILED, RECEIVED, RFUND_ING,
/// REFUND), so that every documented answer can be produced on demand.
pub async fn redpack_state(
    State(s): State<Shared>,
    Path(billno): Path<String>,
    Json(v): Json<Value>,
) -> Response {
    let Some(status) = v["status"].as_str().and_then(RedpackStatus::parse) else {
        return bad("status must be SENDING, SENT, FAILED, RECEIVED, RFUND_ING or REFUND");
    };
    s.with(|st| {
        let now = st.now();
        let Some(r) = st.redpacks.get_mut(&billno) else {
            return (
                StatusCode::NOT_FOUND,
                Json(json!({"error": "no such red packet"})),
            )
                .into_response();
        };
        let was_paid = r.status != RedpackStatus::Failed;
        r.status = status;
        // Held there until the next knob: no automatic move on.
        r.pinned = true;
        match status {
            RedpackStatus::Received => r.rcv_time = Some(now),
            RedpackStatus::Refund => r.refund_time = Some(now),
            RedpackStatus::Failed => {
                r.reason = Some(v["reason"].as_str().unwrap_or("余额不足").to_string())
            }
            _ => {}
        }
        // A red packet that failed to send was never a payout.
        if was_paid && status == RedpackStatus::Failed {
            let (mch, amount) = (r.mch_id.clone(), r.amount);
            st.effects.retain(|e| e.key != billno);
            if let Some(a) = st.v2.get_mut(&mch) {
                a.balance_fen += amount;
            }
        }
        ok(json!({"mchBillno": billno, "status": status.as_str()}))
    })
}

/// Puts a transfer in any of gettransferinfo's states (PROCESSING, SUCCESS, FAILED).
pub async fn transfer_state(
    State(s): State<Shared>,
    Path(trade_no): Path<String>,
    Json(v): Json<Value>,
) -> Response {
    let Some(status) = v["status"].as_str().and_then(TransferStatus::parse) else {
        return bad("status must be PROCESSING, SUCCESS or FAILED");
    };
    s.with(|st| {
        let Some(t) = st
            .transfers
            .iter_mut()
            .find(|((_, k), _)| *k == trade_no)
            .map(|(_, t)| t)
        else {
            return (
                StatusCode::NOT_FOUND,
                Json(json!({"error": "no such transfer"})),
            )
                .into_response();
        };
        let was_paid = t.status != TransferStatus::Failed;
        t.status = status;
        t.pinned = true;
        if status == TransferStatus::Failed {
            t.reason = Some(v["reason"].as_str().unwrap_or("余额不足").to_string());
            if was_paid {
                st.effects.retain(|e| e.key != trade_no);
            }
        }
        ok(json!({"partnerTradeNo": trade_no, "status": status.as_str()}))
    })
}
