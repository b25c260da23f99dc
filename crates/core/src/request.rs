//! Typed open-API requests (SPEC §4), parsed once from the verified body: every refusal names
//! its field; unknown members are ignored.

use crate::catalog::normalize_url;
use crate::json::JsonObject;
use crate::order::ProductType;
use crate::{ApiError, Fen};
use aws_lc_rs::digest;

/// The merchant and business a request speaks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub merchant_id: String,
    pub business_id: String,
}

/// `merchantId` and `businessId` (equal to the header's, SPEC §3).
pub fn parse_caller(o: &JsonObject<'_>, header_business_id: &str) -> Result<Caller, ApiError> {
    let merchant_id = o.req_str("merchantId")?;
    let business_id = o.req_str("businessId")?;
    if business_id != header_business_id {
        return Err(ApiError::field(
            "businessId",
            "must equal the businessId header",
        ));
    }
    bounded("merchantId", &merchant_id, 64)?;
    Ok(Caller {
        merchant_id,
        business_id,
    })
}

fn bounded(field: &str, v: &str, max: usize) -> Result<(), ApiError> {
    let n = v.chars().count();
    if n == 0 || n > max {
        return Err(ApiError::field(
            field,
            format_args!("must be 1-{max} characters"),
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(ApiError::field(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// A request to create one order, of any type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateOrder {
    pub product_type: ProductType,
    pub caller: Caller,
    pub biz_code: String,
    pub template_id: Option<String>,
    pub product_code: Option<String>,
    pub activity_id: Option<String>,
    pub open_id: Option<String>,
    pub mobile: Option<String>,
    pub spec: Option<Fen>,
    pub app_id: Option<String>,
    pub callback_url: Option<String>,
    pub description: Option<String>,
}

fn mobile_ok(m: &str) -> bool {
    let b = m.as_bytes();
    b.len() == 11
        && b[0] == b'1'
        && (b'3'..=b'9').contains(&b[1])
        && b.iter().all(u8::is_ascii_digit)
}

impl CreateOrder {
    pub fn parse(
        t: ProductType,
        o: &JsonObject<'_>,
        header_business_id: &str,
    ) -> Result<CreateOrder, ApiError> {
        let caller = parse_caller(o, header_business_id)?;
        let req = |f: &str| -> Result<String, ApiError> { o.req_str(f) };
        let biz_code = req("bizCode")?;
        bounded("bizCode", &biz_code, 64)?;
        let mut c = CreateOrder {
            product_type: t,
            caller,
            biz_code,
            template_id: None,
            product_code: None,
            activity_id: None,
            open_id: None,
            mobile: o.opt_str("mobile")?,
            spec: None,
            app_id: None,
            callback_url: None,
            description: None,
        };
        match t {
            ProductType::RedPacket => {
                c.template_id = Some(req("templateId")?);
                c.open_id = Some(req("openId")?);
                c.spec = Some(o.req_money("spec")?);
            }
            ProductType::WechatCoupon => {
                c.open_id = Some(req("openId")?);
                c.product_code = Some(req("productCode")?);
                c.activity_id = Some(req("activityId")?);
            }
            ProductType::AlipayCoupon => {
                c.mobile = Some(req("mobile")?);
                c.product_code = Some(req("productCode")?);
                c.activity_id = Some(req("activityId")?);
            }
            ProductType::WechatTransfer => {
                c.open_id = Some(req("openId")?);
                c.product_code = Some(req("productCode")?);
                c.spec = Some(o.req_money("spec")?);
                c.description = o.opt_str("description")?;
            }
        }
        if t != ProductType::AlipayCoupon {
            c.app_id = o.opt_str("appId")?;
        }
        if let Some(u) = o.opt_str("callbackUrl")? {
            c.callback_url = Some(
                normalize_url(&u)
                    .ok_or_else(|| ApiError::field("callbackUrl", "must be an http(s) URL"))?,
            );
        }
        for (f, v, max) in [
            ("templateId", &c.template_id, 64),
            ("productCode", &c.product_code, 64),
            ("activityId", &c.activity_id, 64),
            ("openId", &c.open_id, 128),
            ("appId", &c.app_id, 32),
            ("description", &c.description, 100),
        ] {
            if let Some(v) = v {
                bounded(f, v, max)?;
            }
        }
        if let Some(o) = &c.open_id
            && !crate::ids::openid_ok(o)
        {
            return Err(ApiError::field(
                "openId",
                "must be 1-128 characters of A-Z a-z 0-9 _ -",
            ));
        }
        if let Some(m) = &c.mobile
            && !mobile_ok(m)
        {
            return Err(ApiError::field(
                "mobile",
                "must be a mainland mobile number (11 digits, 1[3-9]…)",
            ));
        }
        Ok(c)
    }

    /// What makes two requests "the same request" for one bizCode: every field that shapes the
    /// order, none of the transport (nonce, timestamp, signature) and no unknown member.
    pub fn fingerprint(&self) -> String {
        let mut s = String::new();
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        for part in [
            self.product_type.as_str().to_string(),
            self.caller.merchant_id.clone(),
            self.biz_code.clone(),
            opt(&self.template_id),
            opt(&self.product_code),
            opt(&self.activity_id),
            opt(&self.open_id),
            opt(&self.mobile),
            self.spec.map(|f| f.0.to_string()).unwrap_or_default(),
            opt(&self.app_id),
            opt(&self.callback_url),
            opt(&self.description),
        ] {
            s.push_str(&part);
            s.push('\u{1f}');
        }
        hex::encode(digest::digest(&digest::SHA256, s.as_bytes()))
    }
}

/// `/v1/openapi/order/info`: by bizCode or orderCode.
#[derive(Clone, Debug)]
pub struct OrderQuery {
    pub caller: Caller,
    pub biz_code: Option<String>,
    pub order_code: Option<String>,
}

impl OrderQuery {
    pub fn parse(o: &JsonObject<'_>, header_business_id: &str) -> Result<OrderQuery, ApiError> {
        let q = OrderQuery {
            caller: parse_caller(o, header_business_id)?,
            biz_code: o.opt_str("bizCode")?,
            order_code: o.opt_str("orderCode")?,
        };
        if q.biz_code.is_none() && q.order_code.is_none() {
            return Err(ApiError::field("bizCode", "or orderCode is required"));
        }
        Ok(q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse_object;

    fn parse(t: ProductType, body: &str) -> Result<CreateOrder, ApiError> {
        CreateOrder::parse(t, &parse_object(body.as_bytes()).unwrap(), "B")
    }

    #[test]
    fn red_packet() {
        let c = parse(ProductType::RedPacket, r#"{"merchantId":"M","businessId":"B","templateId":"T","openId":"o","spec":1.5,"bizCode":"x","callbackUrl":"www.example.com/cb","extra":1}"#).unwrap();
        assert_eq!(c.spec, Some(Fen(150)));
        assert_eq!(
            c.callback_url.as_deref(),
            Some("https://www.example.com/cb")
        );
        let e = parse(
            ProductType::RedPacket,
            r#"{"merchantId":"M","businessId":"B","templateId":"T","spec":1.5,"bizCode":"x"}"#,
        )
        .unwrap_err();
        assert_eq!(e.message, "openId is required");
        let e = parse(ProductType::RedPacket, r#"{"merchantId":"M","businessId":"C","templateId":"T","openId":"o","spec":1.5,"bizCode":"x"}"#).unwrap_err();
        assert!(e.message.starts_with("businessId"));
        let e = parse(ProductType::RedPacket, r#"{"merchantId":"M","businessId":"B","templateId":"T","openId":"o","spec":1.555,"bizCode":"x"}"#).unwrap_err();
        assert!(e.message.starts_with("spec"));
    }

    #[test]
    fn alipay_mobile() {
        let e = parse(ProductType::AlipayCoupon, r#"{"merchantId":"M","businessId":"B","mobile":"12345678901","productCode":"P","activityId":"A","bizCode":"x"}"#).unwrap_err();
        assert!(e.message.starts_with("mobile"));
        assert!(parse(ProductType::AlipayCoupon, r#"{"merchantId":"M","businessId":"B","mobile":"13211551111","productCode":"P","activityId":"A","bizCode":"x"}"#).is_ok());
    }

    #[test]
    fn fingerprint_ignores_unknown_members_and_key_order() {
        let a = parse(ProductType::RedPacket, r#"{"merchantId":"M","businessId":"B","templateId":"T","openId":"o","spec":1.5,"bizCode":"x"}"#).unwrap();
        let b = parse(ProductType::RedPacket, r#"{"bizCode":"x","spec":1.50,"openId":"o","templateId":"T","businessId":"B","merchantId":"M","z":2}"#).unwrap();
        let c = parse(ProductType::RedPacket, r#"{"merchantId":"M","businessId":"B","templateId":"T","openId":"o","spec":1.6,"bizCode":"x"}"#).unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), c.fingerprint());
    }
}
