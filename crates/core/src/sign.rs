//! SPEC §3, the public platform's signing scheme, in one place: the string to sign is the auth
//! headers other than `sign` (`signType` only when sent non-empty) as sorted `name=value` pairs
//! joined by `&`, immediately followed by the body's exact bytes.

use crate::keys::{RsaPrivateKey, RsaPublicKey};
use crate::{ApiError, Status};
use md5::{Digest, Md5};
use subtle::ConstantTimeEq;

/// How long a request's timestamp may differ from the server's clock.
pub const TIMESTAMP_WINDOW_MS: i64 = 300_000;
/// How long a nonce is remembered: past it, the timestamp check already refuses a replay.
pub const NONCE_TTL_MS: i64 = 15 * 60 * 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignType {
    Md5,
    Sha256Rsa,
}

impl SignType {
    /// The `signType` header: absent or empty means SHA256-RSA; anything unknown is 40002.
    pub fn parse(header: Option<&str>) -> Result<SignType, ApiError> {
        match header.map(str::trim).unwrap_or("") {
            "" => Ok(SignType::Sha256Rsa),
            s if s.eq_ignore_ascii_case("MD5") => Ok(SignType::Md5),
            s if s.eq_ignore_ascii_case("SHA256-RSA") => Ok(SignType::Sha256Rsa),
            _ => Err(ApiError::new(
                Status::UnsupportedSignType,
                "signType must be SHA256-RSA or MD5",
            )),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            SignType::Md5 => "MD5",
            SignType::Sha256Rsa => "SHA256-RSA",
        }
    }
}

/// The authentication headers of one request, as received.
#[derive(Clone, Copy, Debug)]
pub struct AuthHeaders<'a> {
    pub business_id: &'a str,
    pub nonce: &'a str,
    pub timestamp: &'a str,
    /// The `signType` header exactly as sent; `None` or empty when not sent.
    pub sign_type: Option<&'a str>,
}

/// S = `businessId=…&nonce=…[&signType=…]&timestamp=…` + body (names sorted ascending).
pub fn string_to_sign(h: &AuthHeaders<'_>, body: &[u8]) -> Vec<u8> {
    let mut s = Vec::with_capacity(96 + body.len());
    s.extend_from_slice(b"businessId=");
    s.extend_from_slice(h.business_id.as_bytes());
    s.extend_from_slice(b"&nonce=");
    s.extend_from_slice(h.nonce.as_bytes());
    if let Some(t) = h.sign_type.filter(|t| !t.is_empty()) {
        s.extend_from_slice(b"&signType=");
        s.extend_from_slice(t.as_bytes());
    }
    s.extend_from_slice(b"&timestamp=");
    s.extend_from_slice(h.timestamp.as_bytes());
    s.extend_from_slice(body);
    s
}

/// `UPPERCASE_HEX(MD5(S + key))`.
pub fn md5_sign(s: &[u8], key: &str) -> String {
    let mut h = Md5::new();
    h.update(s);
    h.update(key.as_bytes());
    hex::encode_upper(h.finalize())
}

/// Constant-time check of an MD5 signature (hex compared case-insensitively).
pub fn md5_verify(s: &[u8], key: &str, sign: &str) -> bool {
    let expected = md5_sign(s, key);
    let given = sign.trim().to_ascii_uppercase();
    expected.len() == given.len() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

/// The credentials a signature is checked with.
pub enum Verifier<'a> {
    Md5(&'a str),
    Rsa(&'a RsaPublicKey),
}

pub fn verify(v: Verifier<'_>, s: &[u8], sign: &str) -> bool {
    match v {
        Verifier::Md5(key) => md5_verify(s, key, sign),
        Verifier::Rsa(key) => key.verify_b64(s, sign),
    }
}

/// The credentials a signature is made with (callbacks, tests, the bench, the demo).
pub enum Signer<'a> {
    Md5(&'a str),
    Rsa(&'a RsaPrivateKey),
}

pub fn sign(signer: Signer<'_>, s: &[u8]) -> String {
    match signer {
        Signer::Md5(key) => md5_sign(s, key),
        Signer::Rsa(key) => key.sign_b64(s),
    }
}

/// The `timestamp` header: decimal epoch milliseconds within ±5 minutes of `now_ms`.
pub fn check_timestamp(ts: &str, now_ms: i64) -> Result<i64, ApiError> {
    let t: i64 = ts
        .trim()
        .parse()
        .map_err(|_| ApiError::field("timestamp", "must be epoch milliseconds"))?;
    if t.abs_diff(now_ms) > TIMESTAMP_WINDOW_MS as u64 {
        return Err(ApiError::new(
            Status::StaleTimestamp,
            "timestamp is outside ±5 minutes of server time",
        ));
    }
    Ok(t)
}

/// The `nonce` header: 1–64 characters of `[A-Za-z0-9_-]`.
pub fn check_nonce(nonce: &str) -> Result<(), ApiError> {
    let ok = (1..=64).contains(&nonce.len())
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ApiError::field(
            "nonce",
            "must be 1-64 characters of A-Z a-z 0-9 _ -",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MD5_KEY: &str = "192006250b4c09247ec02edce69f6a2d";
    const PRIV: &str = include_str!("../../../../shared/testdata/merchant_test_private.pem");
    const PUB: &str = include_str!("../../../../shared/testdata/merchant_test_public.pem");

    #[test]
    fn vector_1_md5() {
        let body = br#"{"businessId":"754ea3e3a699404f9b82e8f881107f19","merchantId":"eb1bb305ca3940f8adf1d4e964555699"}"#;
        let h = AuthHeaders {
            business_id: "754ea3e3a699404f9b82e8f881107f19",
            nonce: "24bc2c17-0fef-440e-ba32-385c47c6cfa4",
            timestamp: "1628772138668",
            sign_type: Some("MD5"),
        };
        let s = string_to_sign(&h, body);
        assert_eq!(
            std::str::from_utf8(&s).unwrap(),
            r#"businessId=754ea3e3a699404f9b82e8f881107f19&nonce=24bc2c17-0fef-440e-ba32-385c47c6cfa4&signType=MD5&timestamp=1628772138668{"businessId":"754ea3e3a699404f9b82e8f881107f19","merchantId":"eb1bb305ca3940f8adf1d4e964555699"}"#
        );
        assert_eq!(md5_sign(&s, MD5_KEY), "DA4CF61AE7318B70C31EAED9251F8F50");
        assert!(md5_verify(&s, MD5_KEY, "da4cf61ae7318b70c31eaed9251f8f50"));
        assert!(!md5_verify(&s, MD5_KEY, "DA4CF61AE7318B70C31EAED9251F8F51"));
        assert!(!md5_verify(&s, MD5_KEY, ""));
    }

    const V2_BODY: &str = r#"{"merchantId":"194","businessId":"194","templateId":"T1001","openId":"oxTWIuGaIt6gTKsQRLau2M0yL16E","spec":1.50,"bizCode":"红包-92463","callbackUrl":"https://merchant.example/notify"}"#;
    const V2_SIGN: &str = "ZULC3zDbubURAPaksMPFp+RKqyDXVzkdA5UjbYFsePH65JrKHlLGp8cbw9hgrP0wjhfonk+gkSzhsA+UfIqBZpW7xgZdp0sS6oWSdVkZ9rTCpbagPZ9WccLNDtLPt3e0ipgR/YREvJ6eJV0Zn25PZSbjLumCdF+wFnIZDZUny5KmXBm6Fgy256JL/5dnwMqAIEycQZbnlM9IwhpdP54MSyIalp1dJ5UC0HIN3OEKvYlzOhMqBmJPx4o3xR3LmfqPA3srSrs9y5e+6UZWZDbUwztMM0JFeovwhxEPUjVuR03gCYWlyzIOLkewfkc7i9Ki4LbZM2fkqazRUhOKaWuwNg==";

    #[test]
    fn vector_2_rsa_and_md5() {
        let h = AuthHeaders {
            business_id: "194",
            nonce: "5K8264ILTKCH16CQ",
            timestamp: "1628757969177",
            sign_type: None,
        };
        let s = string_to_sign(&h, V2_BODY.as_bytes());
        assert!(s.starts_with(
            b"businessId=194&nonce=5K8264ILTKCH16CQ&timestamp=1628757969177{\"merchantId\""
        ));
        let key = RsaPrivateKey::from_pem(PRIV).unwrap();
        assert_eq!(key.sign_b64(&s), V2_SIGN, "PKCS#1 v1.5 is deterministic");
        let public = RsaPublicKey::from_pem(PUB).unwrap();
        assert!(verify(Verifier::Rsa(&public), &s, V2_SIGN));
        let mut tampered = s.clone();
        *tampered.last_mut().unwrap() = b' ';
        assert!(!verify(Verifier::Rsa(&public), &tampered, V2_SIGN));
        assert_eq!(md5_sign(&s, MD5_KEY), "C3750DB65C113F3C4AD230D8BE885165");
    }

    #[test]
    fn empty_sign_type_is_left_out() {
        let a = AuthHeaders {
            business_id: "1",
            nonce: "n",
            timestamp: "2",
            sign_type: Some(""),
        };
        assert_eq!(
            string_to_sign(&a, b"{}"),
            b"businessId=1&nonce=n&timestamp=2{}"
        );
    }

    #[test]
    fn header_rules() {
        assert_eq!(SignType::parse(None), Ok(SignType::Sha256Rsa));
        assert_eq!(SignType::parse(Some("md5")), Ok(SignType::Md5));
        assert_eq!(
            SignType::parse(Some("HMAC")).unwrap_err().status,
            Status::UnsupportedSignType
        );
        assert_eq!(
            check_timestamp("1000", 1000 + TIMESTAMP_WINDOW_MS),
            Ok(1000)
        );
        assert_eq!(
            check_timestamp("999", 1000 + TIMESTAMP_WINDOW_MS)
                .unwrap_err()
                .status,
            Status::StaleTimestamp
        );
        assert_eq!(
            check_timestamp("abc", 0).unwrap_err().status,
            Status::InvalidParam
        );
        assert!(check_nonce("24bc2c17-0fef_AZ").is_ok());
        assert!(check_nonce("").is_err());
        assert!(check_nonce(&"a".repeat(65)).is_err());
        assert!(check_nonce("a b").is_err());
    }
}
