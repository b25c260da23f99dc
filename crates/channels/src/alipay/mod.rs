//! Alipay OpenAPI: form parameters signed RSA2 (SHA256withRSA over the sorted `k=v` pairs, `sign`
//! left out), answers `{"<method>_response": {…}, "sign": "…"}` signed over the response node's
//! exact text.

pub mod client;
pub mod policy;

use rewardgate_core::keys::{RsaPrivateKey, RsaPublicKey};
use std::collections::BTreeMap;

pub const DEFAULT_GATEWAY: &str = "https://openapi.alipay.com/gateway.do";
pub const VOUCHER_SEND: &str = "alipay.marketing.voucher.send";

pub type Params = BTreeMap<String, String>;

/// The sorted `k=v&…` string of every parameter with a value, except `sign`.
pub fn sign_content(p: &Params) -> String {
    p.iter()
        .filter(|(k, v)| k.as_str() != "sign" && !v.is_empty())
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

pub fn sign(p: &Params, key: &RsaPrivateKey) -> String {
    key.sign_b64(sign_content(p).as_bytes())
}

pub fn verify(p: &Params, key: &RsaPublicKey) -> bool {
    p.get("sign")
        .is_some_and(|s| key.verify_b64(sign_content(p).as_bytes(), s))
}

/// The answer's node name for a method: `alipay.marketing.voucher.send` →
/// `alipay_marketing_voucher_send_response`.
pub fn response_key(method: &str) -> String {
    format!("{}_response", method.replace('.', "_"))
}

/// Builds an answer body: the node as given (compact JSON text) and its signature.
pub fn response_body(method: &str, node: &str, key: &RsaPrivateKey) -> String {
    let sig = key.sign_b64(node.as_bytes());
    format!("{{\"{}\":{node},\"sign\":\"{sig}\"}}", response_key(method))
}

/// Finds the raw text of the response node and the sign in an answer body, to verify the node
/// exactly as sent.
pub fn split_response<'a>(body: &'a str, method: &str) -> Option<(&'a str, Option<String>)> {
    let raw: BTreeMap<String, &'a serde_json::value::RawValue> = serde_json::from_str(body).ok()?;
    let key = response_key(method);
    let node = raw
        .get(key.as_str())
        .or_else(|| raw.get("error_response"))?;
    let sign = raw
        .get("sign")
        .and_then(|s| serde_json::from_str::<String>(s.get()).ok());
    Some((node.get(), sign))
}

#[cfg(test)]
mod tests {
    use super::*;
    const PRIV: &str = include_str!("../../../../../shared/testdata/platform_test_private.pem");
    const PUB: &str = include_str!("../../../../../shared/testdata/platform_test_public.pem");

    #[test]
    fn answer_round_trip() {
        let k = RsaPrivateKey::from_pem(PRIV).unwrap();
        let p = RsaPublicKey::from_pem(PUB).unwrap();
        let node = r#"{"code":"10000","msg":"Success","voucher_id":"v1"}"#;
        let body = response_body(VOUCHER_SEND, node, &k);
        let (n, s) = split_response(&body, VOUCHER_SEND).unwrap();
        assert_eq!(n, node);
        assert!(p.verify_b64(n.as_bytes(), &s.unwrap()));
    }

    #[test]
    fn sign_content_sorted_without_sign_and_empty() {
        let mut p = Params::new();
        p.insert("method".into(), "m".into());
        p.insert("app_id".into(), "1".into());
        p.insert("sign".into(), "x".into());
        p.insert("notify_url".into(), String::new());
        assert_eq!(sign_content(&p), "app_id=1&method=m");
    }
}
