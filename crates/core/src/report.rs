//! Status reports (SPEC §5): the body a merchant receives on every change of an order, rendered
//! once when the change is recorded and sent as is on every retry (same `notifyId`).

use crate::order::{Order, OrderStatus};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The waits after each failed delivery of a report (SPEC §5: 15 s, 30 s, 3, 10, 20, 30, 60 min,
/// 3 h, 6 h), in seconds; past the last the report is FAILED (an operator can redeliver it).
pub const RETRY_SCHEDULE_SECS: [u64; 9] = [15, 30, 180, 600, 1200, 1800, 3600, 10_800, 21_600];

/// A status report's delivery state (SPEC §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReportState {
    /// Due at its `next_at`.
    Pending,
    /// Claimed under a lease.
    Sending,
    Delivered,
    /// Its retries ran out: an operator may redeliver it.
    Failed,
}

impl ReportState {
    pub const ALL: [ReportState; 4] = [
        ReportState::Pending,
        ReportState::Sending,
        ReportState::Delivered,
        ReportState::Failed,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            ReportState::Pending => "PENDING",
            ReportState::Sending => "SENDING",
            ReportState::Delivered => "DELIVERED",
            ReportState::Failed => "FAILED",
        }
    }
    pub fn parse(s: &str) -> Option<ReportState> {
        ReportState::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

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

    /// The report of a 商家转账 now waiting for its user (SPEC §10): still `PROCESSING`, as
    /// `version`, carrying `userConfirm` for the merchant's app.
    pub fn awaiting_user(
        o: &Order,
        version: i64,
        confirm: &crate::order::UserConfirm,
        target: &str,
    ) -> Report {
        let mut r = Report::new(
            o,
            version,
            OrderStatus::Processing,
            None,
            None,
            None,
            target,
        );
        let mut body: serde_json::Value =
            serde_json::from_str(&r.body).expect("a report body is JSON");
        body["userConfirm"] = json!(confirm);
        r.body = body.to_string();
        r
    }
}
