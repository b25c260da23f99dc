//! How stored records are shown to merchants and operators.

use rewardgate_core::order::OrderStatus;
use rewardgate_store::OrderRecord;
use serde_json::{Value, json};

/// The order as `/v1/openapi/order/info` answers it.
pub fn order_view(o: &OrderRecord) -> Value {
    json!({
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
    })
}

/// The operator's view adds routing and delivery state.
pub fn admin_order_view(o: &OrderRecord) -> Value {
    let mut v = order_view(o);
    if let Some(m) = v.as_object_mut() {
        m.insert("channelAccountId".into(), json!(o.channel_account_id));
        m.insert("callbackUrl".into(), json!(o.callback_url));
        m.insert("description".into(), json!(o.description));
        m.insert("jobState".into(), json!(o.job_state));
        m.insert("attempts".into(), json!(o.job_attempts));
        m.insert("updatedAt".into(), json!(o.updated_at));
    }
    v
}

/// The callback body of SPEC §5 for `o` moving to `status` as its `version`.
pub fn callback_body(
    o: &OrderRecord,
    notify_id: &str,
    status: OrderStatus,
    version: i64,
    error_code: Option<&str>,
    error_message: Option<&str>,
    finished_at: Option<i64>,
) -> String {
    json!({
        "notifyId": notify_id,
        "merchantId": o.merchant_id,
        "businessId": o.business_id,
        "orderCode": o.order_code,
        "bizCode": o.biz_code,
        "productType": o.product_type.as_str(),
        "status": status.as_str(),
        "settlementPrice": o.settlement,
        "errorCode": error_code,
        "errorMessage": error_message,
        "finishedAt": finished_at,
        "version": version,
    })
    .to_string()
}
