//! Coupon and transfer products, and the activities (upstream stocks) that deliver coupons.

use super::template::fee_bp;
use super::*;
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProductKind {
    WechatCoupon,
    AlipayCoupon,
    WechatTransfer,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    pub code: String,
    pub kind: ProductKind,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub face_value: Option<Fen>,
    /// Fixed settlement price (coupons).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<Fen>,
    /// Fee on `spec` (transfers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee_rate_bp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_account_id: Option<String>,
}

impl Product {
    pub fn from_admin(
        code: &str,
        o: &JsonObject<'_>,
        channel: Option<&ChannelAccount>,
    ) -> Result<Product, ApiError> {
        id_ok("productCode", code)?;
        let kind = match o.req_str("kind")?.as_str() {
            "WECHAT_COUPON" => ProductKind::WechatCoupon,
            "ALIPAY_COUPON" => ProductKind::AlipayCoupon,
            "WECHAT_TRANSFER" => ProductKind::WechatTransfer,
            _ => {
                return Err(ApiError::field(
                    "kind",
                    "must be WECHAT_COUPON, ALIPAY_COUPON or WECHAT_TRANSFER",
                ));
            }
        };
        let mut p = Product {
            code: code.to_string(),
            kind,
            name: o.req_str("name")?,
            face_value: o.opt_money("faceValue")?,
            price: None,
            fee_rate_bp: None,
            channel_account_id: None,
        };
        max_len("name", &p.name, 64)?;
        if kind == ProductKind::WechatTransfer {
            p.fee_rate_bp = Some(fee_bp(o)?);
            let ca = o.req_str("channelAccountId")?;
            // WECHAT_V2: `promotion/transfers`; WECHAT_V3: 商家转账 (SPEC §10).
            if channel.map(|c| c.kind) != Some(ChannelKind::WechatV3) {
                wechat_v2_channel(&ca, channel).map_err(|e| match channel {
                    Some(c) if c.kind != ChannelKind::WechatV2 => ApiError::field(
                        "channelAccountId",
                        "must be a WECHAT_V2 or WECHAT_V3 account",
                    ),
                    _ => e,
                })?;
            }
            p.channel_account_id = Some(ca);
        } else {
            p.price = Some(o.req_money("price")?);
        }
        Ok(p)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    pub id: String,
    pub product_code: String,
    pub channel_account_id: String,
    pub upstream_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<i64>,
}

impl Activity {
    pub fn from_admin(
        id: &str,
        o: &JsonObject<'_>,
        product: Option<&Product>,
        channel: Option<&ChannelAccount>,
    ) -> Result<Activity, ApiError> {
        id_ok("activityId", id)?;
        let product_code = o.req_str("productCode")?;
        let channel_account_id = o.req_str("channelAccountId")?;
        let p = product
            .ok_or_else(|| ApiError::not_found(format!("productCode {product_code} not found")))?;
        let c = channel.ok_or_else(|| {
            ApiError::not_found(format!("channelAccountId {channel_account_id} not found"))
        })?;
        let fits = matches!(
            (p.kind, c.kind),
            (ProductKind::WechatCoupon, ChannelKind::WechatV3)
                | (ProductKind::AlipayCoupon, ChannelKind::Alipay)
        );
        if !fits {
            return Err(ApiError::field(
                "channelAccountId",
                "does not deliver this product's kind",
            ));
        }
        let time = |f: &str| -> Result<Option<i64>, ApiError> {
            match o.opt_str(f)? {
                None => Ok(None),
                Some(s) => crate::clock::parse_rfc3339(&s)
                    .map(Some)
                    .ok_or_else(|| ApiError::field(f, "must be an RFC 3339 time")),
            }
        };
        let a = Activity {
            id: id.to_string(),
            product_code,
            channel_account_id,
            upstream_id: o.req_str("upstreamId")?,
            starts_at: time("startsAt")?,
            ends_at: time("endsAt")?,
        };
        if let (Some(s), Some(e)) = (a.starts_at, a.ends_at)
            && s >= e
        {
            return Err(ApiError::field("endsAt", "must be after startsAt"));
        }
        Ok(a)
    }
}
