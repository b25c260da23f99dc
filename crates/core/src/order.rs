//! Orders: their types, the status machine of SPEC §4 and the ledger posting each step makes,
//! and the settlement price.

use crate::catalog::{Activity, Product, ProductKind, Template};
use crate::{ApiError, Fen, Status};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProductType {
    RedPacket,
    WechatCoupon,
    AlipayCoupon,
    WechatTransfer,
}

impl ProductType {
    pub fn as_str(self) -> &'static str {
        match self {
            ProductType::RedPacket => "RED_PACKET",
            ProductType::WechatCoupon => "WECHAT_COUPON",
            ProductType::AlipayCoupon => "ALIPAY_COUPON",
            ProductType::WechatTransfer => "WECHAT_TRANSFER",
        }
    }
    pub fn parse(s: &str) -> Option<ProductType> {
        [
            ProductType::RedPacket,
            ProductType::WechatCoupon,
            ProductType::AlipayCoupon,
            ProductType::WechatTransfer,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    Processing,
    Success,
    Failed,
    Received,
    Refunded,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 5] = [
        OrderStatus::Processing,
        OrderStatus::Success,
        OrderStatus::Failed,
        OrderStatus::Received,
        OrderStatus::Refunded,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Processing => "PROCESSING",
            OrderStatus::Success => "SUCCESS",
            OrderStatus::Failed => "FAILED",
            OrderStatus::Received => "RECEIVED",
            OrderStatus::Refunded => "REFUNDED",
        }
    }
    pub fn parse(s: &str) -> Option<OrderStatus> {
        OrderStatus::ALL.into_iter().find(|t| t.as_str() == s)
    }
    /// No further change can come.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            OrderStatus::Failed | OrderStatus::Received | OrderStatus::Refunded
        )
    }
}

/// What the upstream told us about an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    Delivered,
    Failed,
    Received,
    Refunded,
}

/// Ledger accounts of one business, plus the platform's funding account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccountKind {
    Available,
    Held,
    Spent,
    Funding,
}

impl AccountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::Available => "AVAILABLE",
            AccountKind::Held => "HELD",
            AccountKind::Spent => "SPENT",
            AccountKind::Funding => "FUNDING",
        }
    }
}

/// A posting moves an amount `from` one account `to` another, so the ledger always sums to zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PostingKind {
    Topup,
    Hold,
    Capture,
    Release,
    Refund,
}

impl PostingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PostingKind::Topup => "TOPUP",
            PostingKind::Hold => "HOLD",
            PostingKind::Capture => "CAPTURE",
            PostingKind::Release => "RELEASE",
            PostingKind::Refund => "REFUND",
        }
    }
    /// (from, to).
    pub fn accounts(self) -> (AccountKind, AccountKind) {
        use AccountKind::*;
        match self {
            PostingKind::Topup => (Funding, Available),
            PostingKind::Hold => (Available, Held),
            PostingKind::Capture => (Held, Spent),
            PostingKind::Release => (Held, Available),
            PostingKind::Refund => (Spent, Available),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an order in {from:?} cannot take {event:?}")]
pub struct IllegalTransition {
    pub from: OrderStatus,
    pub event: Event,
}

/// The status machine: (status, event) → (new status, the posting it makes, if any: RECEIVED
/// only records the user's claim, the capture happened at SUCCESS).
pub fn transition(
    from: OrderStatus,
    event: Event,
    product: ProductType,
) -> Result<(OrderStatus, Option<PostingKind>), IllegalTransition> {
    use OrderStatus::*;
    let red = product == ProductType::RedPacket;
    match (from, event) {
        (Processing, Event::Delivered) => Ok((Success, Some(PostingKind::Capture))),
        (Processing, Event::Failed) => Ok((Failed, Some(PostingKind::Release))),
        (Success, Event::Received) if red => Ok((Received, None)),
        (Success, Event::Refunded) if red => Ok((Refunded, Some(PostingKind::Refund))),
        _ => Err(IllegalTransition { from, event }),
    }
}

/// The smallest WeChat 零钱 transfer (SPEC §2, 42201).
pub const MIN_TRANSFER: Fen = Fen(30);

/// Settlement for a red packet: `spec` within the template's limits, plus the fee.
pub fn price_red_packet(spec: Fen, t: &Template) -> Result<Fen, ApiError> {
    if spec < t.min_spec || spec > t.max_spec {
        return Err(ApiError::new(
            Status::OutOfLimits,
            format!(
                "spec must be between {} and {} yuan for template {}",
                t.min_spec, t.max_spec, t.id
            ),
        ));
    }
    Ok(Fen(spec.0 + spec.fee_bp(t.fee_rate_bp).0))
}

/// Settlement for a WeChat 零钱 transfer: `spec` ≥ 0.3 yuan, plus the product's fee.
pub fn price_transfer(spec: Fen, p: &Product) -> Result<Fen, ApiError> {
    if spec < MIN_TRANSFER {
        return Err(ApiError::new(
            Status::OutOfLimits,
            "spec must be at least 0.3 yuan for a WeChat transfer",
        ));
    }
    if spec.0 > 2_000_000 {
        return Err(ApiError::new(
            Status::OutOfLimits,
            "spec must be at most 20000 yuan for a WeChat transfer",
        ));
    }
    Ok(Fen(spec.0 + spec.fee_bp(p.fee_rate_bp.unwrap_or(0)).0))
}

/// Settlement for a coupon: the product's fixed price, if the activity is on at `now_ms`.
pub fn price_coupon(p: &Product, a: &Activity, now_ms: i64) -> Result<Fen, ApiError> {
    if a.product_code != p.code {
        return Err(ApiError::not_found(format!(
            "activityId {} is not an activity of productCode {}",
            a.id, p.code
        )));
    }
    if a.starts_at.is_some_and(|s| now_ms < s) {
        return Err(ApiError::new(
            Status::OutOfLimits,
            format!("activityId {} has not started", a.id),
        ));
    }
    if a.ends_at.is_some_and(|e| now_ms >= e) {
        return Err(ApiError::new(
            Status::OutOfLimits,
            format!("activityId {} has expired", a.id),
        ));
    }
    p.price
        .ok_or_else(|| ApiError::not_found(format!("productCode {} has no price", p.code)))
}

/// The product kind a coupon or transfer endpoint needs.
pub fn product_kind_for(t: ProductType) -> Option<ProductKind> {
    match t {
        ProductType::WechatCoupon => Some(ProductKind::WechatCoupon),
        ProductType::AlipayCoupon => Some(ProductKind::AlipayCoupon),
        ProductType::WechatTransfer => Some(ProductKind::WechatTransfer),
        ProductType::RedPacket => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderStatus::*;

    #[test]
    fn every_transition() {
        let events = [
            Event::Delivered,
            Event::Failed,
            Event::Received,
            Event::Refunded,
        ];
        for pt in [
            ProductType::RedPacket,
            ProductType::WechatCoupon,
            ProductType::AlipayCoupon,
            ProductType::WechatTransfer,
        ] {
            for from in OrderStatus::ALL {
                for ev in events {
                    let got = transition(from, ev, pt).ok().map(|x| x.0);
                    let want = match (from, ev) {
                        (Processing, Event::Delivered) => Some(Success),
                        (Processing, Event::Failed) => Some(Failed),
                        (Success, Event::Received) if pt == ProductType::RedPacket => {
                            Some(Received)
                        }
                        (Success, Event::Refunded) if pt == ProductType::RedPacket => {
                            Some(Refunded)
                        }
                        _ => None,
                    };
                    assert_eq!(got, want, "{from:?} {ev:?} {pt:?}");
                }
            }
        }
    }

    #[test]
    fn postings_balance() {
        for k in [
            PostingKind::Topup,
            PostingKind::Hold,
            PostingKind::Capture,
            PostingKind::Release,
            PostingKind::Refund,
        ] {
            let (a, b) = k.accounts();
            assert_ne!(a, b);
        }
    }
}
