//! RSA keys in PEM: merchants' public keys (SPEC §3 SHA256-RSA verification, ≥ 2048 bits) and the
//! private keys rewardgate signs with. Backed by aws-lc-rs (the same crypto rustls uses here).

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicEncryptingKey};
use aws_lc_rs::signature::{self, KeyPair as _, ParsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("is not a PEM block")]
    NotPem,
    #[error("is not an RSA key of the expected kind")]
    NotRsa,
    #[error("must be an RSA key of at least 2048 bits")]
    TooShort,
}

/// Decodes the first PEM block: (label, DER bytes).
pub fn pem_decode(pem: &str) -> Result<(String, Vec<u8>), KeyError> {
    let start = pem.find("-----BEGIN ").ok_or(KeyError::NotPem)?;
    let rest = &pem[start + 11..];
    let label_end = rest.find("-----").ok_or(KeyError::NotPem)?;
    let label = rest[..label_end].to_string();
    let body_and_end = &rest[label_end + 5..];
    let end = body_and_end
        .find(&format!("-----END {label}-----"))
        .ok_or(KeyError::NotPem)?;
    let b64: String = body_and_end[..end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let der = B64.decode(b64).map_err(|_| KeyError::NotPem)?;
    Ok((label, der))
}

pub fn pem_encode(label: &str, der: &[u8]) -> String {
    let b = B64.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A verifier for RSASSA-PKCS1-v1_5 with SHA-256, parsed once.
#[derive(Clone)]
pub struct RsaPublicKey {
    key: ParsedPublicKey,
}

impl std::fmt::Debug for RsaPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RsaPublicKey")
    }
}

impl RsaPublicKey {
    /// `-----BEGIN PUBLIC KEY-----` (X.509 SubjectPublicKeyInfo) or `-----BEGIN RSA PUBLIC KEY-----`
    /// (PKCS#1), at least 2048 bits.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let (label, der) = pem_decode(pem)?;
        if label != "PUBLIC KEY" && label != "RSA PUBLIC KEY" {
            return Err(KeyError::NotRsa);
        }
        let bits = PublicEncryptingKey::from_der(&der)
            .map(|k| k.key_size_bits())
            .or_else(|_| aws_lc_rs::rsa::PublicKey::from_der(&der).map(|k| k.as_ref().len() * 8))
            .map_err(|_| KeyError::NotRsa)?;
        if bits < 2048 {
            return Err(KeyError::TooShort);
        }
        let key = ParsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &der)
            .map_err(|_| KeyError::NotRsa)?;
        Ok(RsaPublicKey { key })
    }

    /// Whether `sig` is a valid signature of `msg`.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        self.key.verify_sig(msg, sig).is_ok()
    }

    /// As `verify`, with the signature in standard base64 (padding optional, whitespace ignored).
    pub fn verify_b64(&self, msg: &[u8], sig_b64: &str) -> bool {
        let cleaned: String = sig_b64.chars().filter(|c| !c.is_whitespace()).collect();
        let sig = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(cleaned.trim_end_matches('='))
            .ok();
        sig.is_some_and(|s| self.verify(msg, &s))
    }
}

/// An RSA private key for signing (SHA256withRSA, PKCS#1 v1.5). Cloning shares the key.
#[derive(Clone)]
pub struct RsaPrivateKey {
    key: std::sync::Arc<KeyPair>,
}

impl std::fmt::Debug for RsaPrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RsaPrivateKey(****)")
    }
}

impl RsaPrivateKey {
    /// `-----BEGIN PRIVATE KEY-----` (PKCS#8) or `-----BEGIN RSA PRIVATE KEY-----` (PKCS#1).
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let (label, der) = pem_decode(pem)?;
        let key = match label.as_str() {
            "PRIVATE KEY" => KeyPair::from_pkcs8(&der),
            "RSA PRIVATE KEY" => KeyPair::from_der(&der),
            _ => return Err(KeyError::NotRsa),
        }
        .map_err(|_| KeyError::NotRsa)?;
        if key.public_modulus_len() * 8 < 2048 {
            return Err(KeyError::TooShort);
        }
        Ok(RsaPrivateKey { key: key.into() })
    }

    /// A new 2048-bit key pair as PEM (PKCS#8 private, SubjectPublicKeyInfo public).
    pub fn generate_pem() -> Result<(String, String), KeyError> {
        let kp = KeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::NotRsa)?;
        let private = kp.as_der().map_err(|_| KeyError::NotRsa)?;
        let public = kp.public_key().as_der().map_err(|_| KeyError::NotRsa)?;
        Ok((
            pem_encode("PRIVATE KEY", private.as_ref()),
            pem_encode("PUBLIC KEY", public.as_ref()),
        ))
    }

    /// The public half as SubjectPublicKeyInfo PEM.
    pub fn public_pem(&self) -> String {
        let der = self
            .key
            .public_key()
            .as_der()
            .expect("an RSA public key encodes");
        pem_encode("PUBLIC KEY", der.as_ref())
    }

    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        let mut sig = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                msg,
                &mut sig,
            )
            .expect("RSA signing with a valid key does not fail");
        sig
    }

    pub fn sign_b64(&self, msg: &[u8]) -> String {
        B64.encode(self.sign(msg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRIV: &str = include_str!("../../../../shared/testdata/merchant_test_private.pem");
    const PUB: &str = include_str!("../../../../shared/testdata/merchant_test_public.pem");

    #[test]
    fn signs_and_verifies() {
        let k = RsaPrivateKey::from_pem(PRIV).unwrap();
        let p = RsaPublicKey::from_pem(PUB).unwrap();
        let sig = k.sign_b64(b"hello");
        assert!(p.verify_b64(b"hello", &sig));
        assert!(!p.verify_b64(b"hellO", &sig));
        assert!(!p.verify_b64(b"hello", "not base64!"));
        assert_eq!(RsaPublicKey::from_pem(&k.public_pem()).map(|_| ()), Ok(()));
    }

    #[test]
    fn refuses_what_is_not_a_public_key() {
        assert_eq!(
            RsaPublicKey::from_pem("hello").unwrap_err(),
            KeyError::NotPem
        );
        assert_eq!(RsaPublicKey::from_pem(PRIV).unwrap_err(), KeyError::NotRsa);
    }
}
