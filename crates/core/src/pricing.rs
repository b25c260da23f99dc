//! What an order costs the merchant (SPEC §4) — the one home of every pricing rule: a red packet
//! within its template's limits plus the template's fee, a transfer plus its product's fee, a
//! coupon at its product's fixed price while its activity is on, a Rabbitpre red packet plus its
//! integration's template's fee.

use crate::catalog::{Activity, Product, ProductKind, Template};
use crate::order::ProductType;
use crate::{ApiError, Fen, Status};

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
    Ok(with_fee(spec, t.fee_rate_bp))
}

/// `spec` plus its fee of `fee_rate_bp` basis points (SPEC §4: round half up, in fen) — the one
/// pricing rule of every amount-based order.
pub fn with_fee(spec: Fen, fee_rate_bp: i64) -> Fen {
    Fen(spec.0 + spec.fee_bp(fee_rate_bp).0)
}

/// The red-packet amounts Rabbitpre's endpoint takes (WeChat's default range, seed 002).
pub const RABBITPRE_RANGE: std::ops::RangeInclusive<i64> = 100..=20_000;

/// Settlement for a Rabbitpre red packet: the amount plus the fee of the integration's template,
/// if it names one.
pub fn price_rabbitpre(amount: Fen, template: Option<&Template>) -> Fen {
    with_fee(amount, template.map_or(0, |t| t.fee_rate_bp))
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
    Ok(with_fee(spec, p.fee_rate_bp.unwrap_or(0)))
}

/// From this amount WeChat Pay's 商家转账 requires the user's real name (`user_name`, doc
/// 4012716434: "转账金额 >= 2,000元时，该笔明细必须填写"), which this API does not collect.
pub const TRANSFER_BILL_NAME_FROM: Fen = Fen(200_000);

/// A transfer through 商家转账 (a WECHAT_V3 account) must stay below
/// `TRANSFER_BILL_NAME_FROM`: refused at intake (42201) rather than accepted and failed.
pub fn check_transfer_bill(spec: Fen) -> Result<(), ApiError> {
    if spec >= TRANSFER_BILL_NAME_FROM {
        return Err(ApiError::new(
            Status::OutOfLimits,
            "spec must be below 2000 yuan for a transfer through 商家转账 (WeChat Pay requires the user's real name from 2000 yuan)",
        ));
    }
    Ok(())
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
