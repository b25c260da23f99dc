//! How stored records are shown to merchants and operators (the JSON of answers is the server's;
//! the store hands back typed records).

use rewardgate_core::order::{Order, OrderStatus};
use rewardgate_store::{
    AttemptRecord, Balance, OrderDetail, PostingRecord, ReportAttempt, ReportRecord,
};
use serde_json::{Value, json};

/// The order as `/v1/openapi/order/info` answers it.
pub fn order_view(o: &Order) -> Value {
    let mut v = json!({
        "orderCode": o.order_code,
        "bizCode": o.biz_code,
        "merchantId": o.merchant_id,
        "businessId": o.business_id,
        "productType": o.product_type.as_str(),
        "status": o.status.as_str(),
        "settlementPrice": o.settlement,
        "spec": o.amount,
        "templateId": o.template_id,
        "productCode": o.product_code,
        "activityId": o.activity_id,
        "openId": o.open_id,
        "mobile": o.mobile,
        "appId": o.app_id,
        "createdAt": o.created_at,
        "finishedAt": o.finished_at,
        "errorCode": o.error_code,
        "errorMessage": o.error_message,
        "upstreamKey": o.upstream_key,
        "upstreamId": o.upstream_id,
        "version": o.version,
    });
    // SPEC §10: while WeChat waits for the user to confirm a 商家转账.
    if let Some(u) = o
        .user_confirm
        .as_ref()
        .filter(|_| o.status == OrderStatus::Processing)
    {
        v["userConfirm"] = json!(u);
    }
    v
}

/// The operator's view adds routing and delivery state.
pub fn admin_order_view(o: &Order) -> Value {
    let mut v = order_view(o);
    if let Some(m) = v.as_object_mut() {
        m.insert("channelAccountId".into(), json!(o.channel_account_id));
        m.insert("callbackUrl".into(), json!(o.callback_url));
        m.insert("description".into(), json!(o.description));
        m.insert("jobState".into(), json!(o.job_state.map(|s| s.as_str())));
        m.insert("attempts".into(), json!(o.job_attempts));
        m.insert("updatedAt".into(), json!(o.updated_at));
    }
    v
}

pub fn posting_view(p: &PostingRecord) -> Value {
    json!({"kind": p.kind.as_str(), "amount": p.amount, "at": p.at})
}

pub fn attempt_view(a: &AttemptRecord) -> Value {
    json!({"step": a.step.as_str(), "outcome": a.outcome, "detail": a.detail, "latencyMs": a.latency_ms,
        "worker": a.worker, "at": a.at})
}

/// A status report with its delivery state, and its attempts when given.
pub fn report_view(r: &ReportRecord, attempts: Option<&[ReportAttempt]>) -> Value {
    let mut v = json!({
        "notifyId": r.notify_id, "version": r.version, "target": r.target, "state": r.state.as_str(),
        "attempts": r.attempts, "nextAt": r.next_at, "lastError": r.last_error,
        "createdAt": r.created_at, "deliveredAt": r.delivered_at,
        "body": serde_json::from_str::<Value>(&r.body).unwrap_or_default(),
    });
    if let Some(a) = attempts {
        v["attemptLog"] = a
            .iter()
            .map(|a| json!({"at": a.at, "httpStatus": a.http_status, "latencyMs": a.latency_ms, "error": a.error}))
            .collect::<Vec<_>>()
            .into();
    }
    v
}

/// The order with its postings, attempts and reports (`GET /admin/v1/orders/{code}`).
pub fn order_detail_view(d: &OrderDetail) -> Value {
    let mut v = admin_order_view(&d.order);
    v["postings"] = d
        .postings
        .iter()
        .map(posting_view)
        .collect::<Vec<_>>()
        .into();
    v["attempts"] = d
        .attempts
        .iter()
        .map(attempt_view)
        .collect::<Vec<_>>()
        .into();
    v["notifications"] = d
        .reports
        .iter()
        .map(|(r, a)| report_view(r, Some(a)))
        .collect::<Vec<_>>()
        .into();
    v
}

pub fn balance_view(b: &Balance) -> Value {
    json!({"amount": b.available, "frozen": b.held, "creditLine": b.credit_line, "spent": b.spent})
}
