//! WeChat Pay API v2: flat XML messages signed with the merchant's API key (MD5 or HMAC-SHA256
//! over the sorted non-empty parameters, `&key=` appended).

pub mod client;
pub mod policy;
pub mod xml;

use hmac_sha256::hmac_upper;
use md5::{Digest, Md5};
use std::collections::BTreeMap;
use subtle::ConstantTimeEq;

pub type Params = BTreeMap<String, String>;

/// The production host.
pub const DEFAULT_BASE_URL: &str = "https://api.mch.weixin.qq.com";

pub const SENDREDPACK: &str = "/mmpaymkttransfers/sendredpack";
pub const SENDMINIPROGRAMHB: &str = "/mmpaymkttransfers/sendminiprogramhb";
pub const GETHBINFO: &str = "/mmpaymkttransfers/gethbinfo";
pub const TRANSFERS: &str = "/mmpaymkttransfers/promotion/transfers";
pub const GETTRANSFERINFO: &str = "/mmpaymkttransfers/gettransferinfo";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignType {
    Md5,
    HmacSha256,
}

impl SignType {
    /// The `sign_type` parameter: absent means MD5.
    pub fn parse(s: Option<&str>) -> Option<SignType> {
        match s.unwrap_or("MD5") {
            "MD5" | "" => Some(SignType::Md5),
            "HMAC-SHA256" => Some(SignType::HmacSha256),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            SignType::Md5 => "MD5",
            SignType::HmacSha256 => "HMAC-SHA256",
        }
    }
}

/// `k1=v1&k2=v2…&key=KEY` over the sorted parameters with a value, `sign` left out.
pub fn string_to_sign(p: &Params, key: &str) -> String {
    let mut s = String::new();
    for (k, v) in p {
        if k == "sign" || v.is_empty() {
            continue;
        }
        s.push_str(k);
        s.push('=');
        s.push_str(v);
        s.push('&');
    }
    s.push_str("key=");
    s.push_str(key);
    s
}

pub fn sign(p: &Params, key: &str, t: SignType) -> String {
    let s = string_to_sign(p, key);
    match t {
        SignType::Md5 => hex::encode_upper(Md5::digest(s.as_bytes())),
        SignType::HmacSha256 => hmac_upper(key.as_bytes(), s.as_bytes()),
    }
}

/// Whether `p["sign"]` is right, compared in constant time.
pub fn verify(p: &Params, key: &str, t: SignType) -> bool {
    let Some(given) = p.get("sign") else {
        return false;
    };
    let want = sign(p, key, t);
    want.len() == given.len()
        && bool::from(want.as_bytes().ct_eq(given.to_ascii_uppercase().as_bytes()))
}

mod hmac_sha256 {
    use aws_lc_rs::hmac;
    pub fn hmac_upper(key: &[u8], msg: &[u8]) -> String {
        let k = hmac::Key::new(hmac::HMAC_SHA256, key);
        hex::encode_upper(hmac::sign(&k, msg).as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of WeChat Pay's own signing guide (API key 192006250b4c09247ec02edce69f6a2d).
    #[test]
    fn wechat_guide_example() {
        let mut p = Params::new();
        for (k, v) in [
            ("appid", "wxd930ea5d5a258f4f"),
            ("mch_id", "10000100"),
            ("device_info", "1000"),
            ("body", "test"),
            ("nonce_str", "ibuaiVcKdpRxkhJA"),
        ] {
            p.insert(k.into(), v.into());
        }
        let key = "192006250b4c09247ec02edce69f6a2d";
        assert_eq!(
            sign(&p, key, SignType::Md5),
            "9A0A8659F005D6984697E2CA0A9CF3B7"
        );
        assert_eq!(
            sign(&p, key, SignType::HmacSha256),
            "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6"
        );
        p.insert("sign".into(), "9a0a8659f005d6984697e2ca0a9cf3b7".into());
        assert!(verify(&p, key, SignType::Md5));
        p.insert("body".into(), "tost".into());
        assert!(!verify(&p, key, SignType::Md5));
    }
}
