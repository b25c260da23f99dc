//! What the store hands back: plain rows, typed.

use crate::db::Row;
use rewardgate_core::Fen;
use rewardgate_core::order::{OrderStatus, ProductType};

/// One order as stored, with its delivery job's key and state.
#[derive(Clone, Debug)]
pub struct OrderRecord {
    pub id: i64,
    pub order_code: String,
    pub business_id: String,
    pub merchant_id: String,
    pub biz_code: String,
    pub product_type: ProductType,
    pub status: OrderStatus,
    pub fingerprint: String,
    pub template_id: Option<String>,
    pub product_code: Option<String>,
    pub activity_id: Option<String>,
    pub open_id: Option<String>,
    pub mobile: Option<String>,
    pub app_id: Option<String>,
    pub amount: Option<Fen>,
    pub settlement: Fen,
    pub callback_url: Option<String>,
    pub description: Option<String>,
    pub channel_account_id: String,
    pub upstream_id: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub finished_at: Option<i64>,
    pub upstream_key: Option<String>,
    pub job_state: Option<String>,
    pub job_attempts: i64,
    /// How to deliver beyond the catalogue (Rabbitpre: the caller's texts, mini-program mode), JSON.
    pub delivery: Option<String>,
}

pub(crate) const ORDER_COLUMNS: &str = "o.id, o.order_code, o.business_id, o.merchant_id, o.biz_code, o.product_type, \
    o.status, o.fingerprint, o.template_id, o.product_code, o.activity_id, o.open_id, o.mobile, o.app_id, o.amount, \
    o.settlement, o.callback_url, o.description, o.channel_account_id, o.upstream_id, o.error_code, o.error_message, \
    o.version, o.created_at, o.updated_at, o.finished_at, j.upstream_key, j.state, j.attempts, o.delivery_mode";

pub(crate) const ORDER_FROM: &str = "orders o LEFT JOIN jobs j ON j.order_id = o.id";

impl OrderRecord {
    pub(crate) fn from_row(r: &Row) -> OrderRecord {
        OrderRecord {
            id: r.int(0),
            order_code: r.text(1),
            business_id: r.text(2),
            merchant_id: r.text(3),
            biz_code: r.text(4),
            product_type: ProductType::parse(&r.text(5)).unwrap_or(ProductType::RedPacket),
            status: OrderStatus::parse(&r.text(6)).unwrap_or(OrderStatus::Processing),
            fingerprint: r.text(7),
            template_id: r.opt_text(8),
            product_code: r.opt_text(9),
            activity_id: r.opt_text(10),
            open_id: r.opt_text(11),
            mobile: r.opt_text(12),
            app_id: r.opt_text(13),
            amount: r.opt_int(14).map(Fen),
            settlement: Fen(r.int(15)),
            callback_url: r.opt_text(16),
            description: r.opt_text(17),
            channel_account_id: r.text(18),
            upstream_id: r.opt_text(19),
            error_code: r.opt_text(20),
            error_message: r.opt_text(21),
            version: r.int(22),
            created_at: r.int(23),
            updated_at: r.int(24),
            finished_at: r.opt_int(25),
            upstream_key: r.opt_text(26),
            job_state: r.opt_text(27),
            job_attempts: r.int(28),
            delivery: r.opt_text(29),
        }
    }
}

/// A business's money, from its ledger accounts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Balance {
    /// What can still be spent: top-ups minus captured minus held.
    pub available: Fen,
    /// What orders in flight hold.
    pub held: Fen,
    pub spent: Fen,
    pub credit_line: Fen,
}

/// The whole ledger checked: the sum of every balance (must be zero) and the accounts whose
/// balance column disagrees with the sum of their postings (must be none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerCheck {
    pub sum: i64,
    pub postings: i64,
    pub mismatched_accounts: Vec<String>,
}

/// The upstream idempotency key of a new order (SPEC §10).
#[derive(Clone, Debug)]
pub enum KeyScheme {
    /// WeChat Pay v2 red packets: `mch_billno` = mch_id + yyyymmdd + 10 digits from the row id.
    MchBillno { mch_id: String },
    /// Everything else: the orderCode.
    OrderCode,
}

/// An order ready to be stored: parsed, priced and routed by the domain.
#[derive(Clone, Debug)]
pub struct NewOrder {
    pub order_code: String,
    pub business_id: String,
    pub merchant_id: String,
    pub biz_code: String,
    pub product_type: ProductType,
    pub fingerprint: String,
    pub template_id: Option<String>,
    pub product_code: Option<String>,
    pub activity_id: Option<String>,
    pub open_id: Option<String>,
    pub mobile: Option<String>,
    pub app_id: Option<String>,
    pub amount: Option<Fen>,
    pub settlement: Fen,
    pub callback_url: Option<String>,
    pub description: Option<String>,
    pub channel_account_id: String,
    pub key: KeyScheme,
    pub created_at: i64,
    pub delivery: Option<String>,
}

/// A signed request's nonce, to be used once.
#[derive(Clone, Debug)]
pub struct NonceUse {
    pub business_id: String,
    pub nonce: String,
    pub now: i64,
}

#[derive(Clone, Debug)]
pub enum AcceptOutcome {
    Created(OrderRecord),
    /// The same bizCode with the same request: the first order.
    Existing(OrderRecord),
    /// The same bizCode with another request.
    Conflict,
    NonceReplay,
    Insufficient,
    /// Over the business's requests-per-second limit: nothing was written.
    TooManyRequests,
}

/// Whether a signed read may go ahead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admit {
    Yes,
    NonceReplay,
    TooManyRequests,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TopupOutcome {
    Applied(Balance),
    /// The reference was used before with the same amount: nothing changed.
    AlreadyApplied(Balance),
    /// The reference was used before with another amount.
    Conflict,
}

#[derive(Clone, Debug, Default)]
pub struct OrderFilter {
    pub merchant_id: Option<String>,
    pub business_id: Option<String>,
    pub status: Option<String>,
    pub limit: i64,
    /// Orders with a smaller id than this (newest first).
    pub before_id: Option<i64>,
}

/// A callback of an order (SPEC §5), with its delivery state.
#[derive(Clone, Debug)]
pub struct NotificationRecord {
    pub notify_id: String,
    pub version: i64,
    pub target: String,
    pub body: String,
    pub state: String,
    pub attempts: i64,
    pub next_at: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

impl NotificationRecord {
    pub fn view(&self) -> serde_json::Value {
        serde_json::json!({
            "notifyId": self.notify_id, "version": self.version, "target": self.target, "state": self.state,
            "attempts": self.attempts, "nextAt": self.next_at, "lastError": self.last_error,
            "createdAt": self.created_at, "deliveredAt": self.delivered_at,
            "body": serde_json::from_str::<serde_json::Value>(&self.body).unwrap_or_default(),
        })
    }
}
