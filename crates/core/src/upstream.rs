//! The upstream request of an order, built once from the order and the catalogue at its first
//! send and frozen with its job: every retry sends exactly it again, so a template changed later
//! can never turn a retry into a different request under the same key.

use crate::order::ProductType;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UpstreamRequest {
    /// WeChat Pay v2 `sendredpack` (or `sendminiprogramhb` when `mini`): its parameters but
    /// `mch_id`, `nonce_str` and `sign`, which the client adds.
    RedPacket {
        params: BTreeMap<String, String>,
        mini: bool,
    },
    /// WeChat Pay v2 `promotion/transfers`: its parameters but `mchid`, `nonce_str`, `sign`.
    Transfer { params: BTreeMap<String, String> },
    /// WeChat Pay v3 商家转账 (`transfer-bills`, scene 1000): everything of its body but
    /// `out_bill_no` (the job's key). `amount` in fen.
    TransferBill {
        appid: String,
        openid: String,
        amount: i64,
        remark: String,
        activity_name: String,
        reward_description: String,
        notify_url: Option<String>,
    },
    /// WeChat Pay v3 coupon send.
    WechatCoupon {
        openid: String,
        stock_id: String,
        appid: String,
    },
    /// Alipay `alipay.marketing.voucher.send`.
    AlipayVoucher {
        template_id: String,
        login_id: String,
    },
}

impl UpstreamRequest {
    /// Reads a stored request: this form, or the flat JSON that jobs frozen before it hold.
    pub fn parse(text: &str, product_type: ProductType) -> Result<UpstreamRequest, String> {
        if let Ok(r) = serde_json::from_str::<UpstreamRequest>(text) {
            return Ok(r);
        }
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("stored request: {e}"))?;
        let field = |f: &str| v[f].as_str().unwrap_or("").to_string();
        let params = || -> BTreeMap<String, String> {
            v.as_object()
                .map(|m| {
                    m.iter()
                        .filter(|(k, _)| k.as_str() != "mode")
                        .filter_map(|(k, x)| x.as_str().map(|s| (k.clone(), s.to_string())))
                        .collect()
                })
                .unwrap_or_default()
        };
        Ok(match product_type {
            ProductType::RedPacket => UpstreamRequest::RedPacket {
                params: params(),
                mini: field("mode") == "MINI_PROGRAM",
            },
            ProductType::WechatTransfer => UpstreamRequest::Transfer { params: params() },
            ProductType::WechatCoupon => UpstreamRequest::WechatCoupon {
                openid: field("openid"),
                stock_id: field("stock_id"),
                appid: field("appid"),
            },
            ProductType::AlipayCoupon => UpstreamRequest::AlipayVoucher {
                template_id: field("template_id"),
                login_id: field("login_id"),
            },
        })
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a request serializes")
    }

    /// The appid the request names (WeChat), for queries about it.
    pub fn appid(&self) -> Option<&str> {
        match self {
            UpstreamRequest::RedPacket { params, .. } => params.get("wxappid").map(String::as_str),
            UpstreamRequest::Transfer { params } => params.get("mch_appid").map(String::as_str),
            UpstreamRequest::WechatCoupon { appid, .. } => Some(appid),
            UpstreamRequest::TransferBill { appid, .. } => Some(appid),
            UpstreamRequest::AlipayVoucher { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn stored_forms() {
        let r = UpstreamRequest::WechatCoupon {
            openid: "o".into(),
            stock_id: "1".into(),
            appid: "wx".into(),
        };
        assert_eq!(
            UpstreamRequest::parse(&r.to_json(), ProductType::WechatCoupon).unwrap(),
            r
        );
        // A job frozen before this form.
        let old = r#"{"mch_billno":"B","wxappid":"wx","total_amount":"100","mode":"MINI_PROGRAM"}"#;
        match UpstreamRequest::parse(old, ProductType::RedPacket).unwrap() {
            UpstreamRequest::RedPacket { params, mini } => {
                assert!(mini);
                assert_eq!(params.get("wxappid").map(String::as_str), Some("wx"));
                assert!(!params.contains_key("mode"));
            }
            other => panic!("{other:?}"),
        }
    }
}
