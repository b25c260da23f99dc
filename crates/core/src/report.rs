//! Status reports (SPEC §5): the body a merchant receives on every change of an order, rendered
//! once when the change is recorded and sent as is on every retry (same `notifyId`).

use crate::order::{Order, OrderStatus};
use serde_json::json;

/// One report to send: its id, where to, and the body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub notify_id: String,
    pub target: String,
    pub body: String,
}

impl Report {
    /// The report of `o` moving to `status` as its `version`.
    pub fn new(
        o: &Order,
        version: i64,
        status: OrderStatus,
        error_code: Option<&str>,
        error_message: Option<&str>,
        finished_at: Option<i64>,
        target: &str,
    ) -> Report {
        let notify_id = format!("{}-{version}", o.order_code);
        let body = json!({
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
        .to_string();
        Report {
            notify_id,
            target: target.to_string(),
            body,
        }
    }
}
