//! WeChat Pay API v3: JSON over HTTPS, requests signed `WECHATPAY2-SHA256-RSA2048` with the
//! merchant's key, answers signed with the platform key (or the WeChat Pay public key).

pub mod client;
pub mod crypto;
pub mod policy;
pub mod transfer_bills;

use rewardgate_core::keys::{RsaPrivateKey, RsaPublicKey};

pub const DEFAULT_BASE_URL: &str = "https://api.mch.weixin.qq.com";
pub const SCHEMA: &str = "WECHATPAY2-SHA256-RSA2048";

/// `POST /v3/marketing/favor/users/{openid}/coupons`, the openid percent-encoded as a path
/// segment ("Path 参数需做 URL 编码": pay.weixin.qq.com doc 4020807413; wechatpay-go
/// api_coupon.go:L195 `neturl.PathEscape`), so that what is signed is exactly what is sent.
pub fn coupon_path(openid: &str) -> String {
    format!("/v3/marketing/favor/users/{}/coupons", path_segment(openid))
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What a request signs: method, path with query, timestamp, nonce, body — each line ended.
pub fn request_message(
    method: &str,
    path: &str,
    timestamp: &str,
    nonce: &str,
    body: &str,
) -> String {
    format!("{method}\n{path}\n{timestamp}\n{nonce}\n{body}\n")
}

/// What an answer signs: timestamp, nonce, body — each line ended.
pub fn response_message(timestamp: &str, nonce: &str, body: &str) -> String {
    format!("{timestamp}\n{nonce}\n{body}\n")
}

/// The fields of an `Authorization: WECHATPAY2-SHA256-RSA2048 k="v",…` header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Authorization {
    pub mchid: String,
    pub nonce_str: String,
    pub signature: String,
    pub timestamp: String,
    pub serial_no: String,
}

impl Authorization {
    pub fn parse(h: &str) -> Option<Authorization> {
        let rest = h.strip_prefix(SCHEMA)?.trim();
        let mut a = Authorization::default();
        for part in rest.split(',') {
            let (k, v) = part.trim().split_once('=')?;
            let v = v.trim().trim_matches('"').to_string();
            match k.trim() {
                "mchid" => a.mchid = v,
                "nonce_str" => a.nonce_str = v,
                "signature" => a.signature = v,
                "timestamp" => a.timestamp = v,
                "serial_no" => a.serial_no = v,
                _ => {}
            }
        }
        (!a.mchid.is_empty() && !a.signature.is_empty()).then_some(a)
    }

    pub fn header(&self) -> String {
        format!(
            "{SCHEMA} mchid=\"{}\",nonce_str=\"{}\",signature=\"{}\",timestamp=\"{}\",serial_no=\"{}\"",
            self.mchid, self.nonce_str, self.signature, self.timestamp, self.serial_no
        )
    }
}

/// A merchant's request-signing identity.
pub struct Signer<'a> {
    pub key: &'a RsaPrivateKey,
    pub mchid: &'a str,
    pub serial_no: &'a str,
}

impl Signer<'_> {
    /// Signs a request: the Authorization header's value.
    pub fn authorize(
        &self,
        method: &str,
        path: &str,
        body: &str,
        timestamp: i64,
        nonce: &str,
    ) -> String {
        let ts = timestamp.to_string();
        let sig = self
            .key
            .sign_b64(request_message(method, path, &ts, nonce, body).as_bytes());
        Authorization {
            mchid: self.mchid.into(),
            nonce_str: nonce.into(),
            signature: sig,
            timestamp: ts,
            serial_no: self.serial_no.into(),
        }
        .header()
    }
}

/// Checks an answer's `Wechatpay-Signature` over timestamp, nonce and body.
pub fn verify_response(
    key: &RsaPublicKey,
    timestamp: &str,
    nonce: &str,
    body: &str,
    signature: &str,
) -> bool {
    key.verify_b64(
        response_message(timestamp, nonce, body).as_bytes(),
        signature,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn openid_is_one_path_segment() {
        assert_eq!(
            coupon_path("oUser_1-x"),
            "/v3/marketing/favor/users/oUser_1-x/coupons"
        );
        assert_eq!(
            coupon_path("x/../oEVIL"),
            "/v3/marketing/favor/users/x%2F..%2FoEVIL/coupons"
        );
    }

    #[test]
    fn authorization_round_trip() {
        let a = Authorization {
            mchid: "1900000109".into(),
            nonce_str: "N".into(),
            signature: "c2ln".into(),
            timestamp: "1".into(),
            serial_no: "S".into(),
        };
        assert_eq!(Authorization::parse(&a.header()), Some(a));
        assert_eq!(Authorization::parse("Basic abc"), None);
    }
}
