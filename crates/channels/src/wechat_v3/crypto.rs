//! WeChat Pay v3's two ciphers, on aws-lc-rs:
//! - AEAD_AES_256_GCM under the merchant's 32-byte APIv3 key, for notification `resource`s:
//!   base64 `ciphertext` with the 16-byte tag at its end, a 12-character `nonce` and the
//!   `associated_data` as AAD (wechatpay-go utils/aes.go `DecryptAES256GCM`; wechatpayv3 2.0.4
//!   utils.py `aes_decrypt`; pay.weixin.qq.com/doc/v3/merchant/4012071382 回调报文解密).
//! - RSAES-OAEP with SHA-1 and MGF1-SHA-1 for sensitive request fields such as `user_name`,
//!   encrypted with the WeChat Pay public key (or platform certificate) whose id goes in the
//!   `Wechatpay-Serial` header (wechatpay-go utils/rsa_crypto.go `EncryptOAEPWithPublicKey`:
//!   `rsa.EncryptOAEP(sha1.New(), …)`; wechatpayv3 2.0.4 utils.py `rsa_encrypt`:
//!   `OAEP(mgf=MGF1(SHA1()), algorithm=SHA1())`).

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey,
    PublicEncryptingKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use rewardgate_core::keys::pem_decode;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("the APIv3 key must be 32 bytes")]
    ApiV3Key,
    #[error("the nonce must be 12 bytes")]
    Nonce,
    #[error("not base64")]
    Base64,
    #[error("does not decrypt (wrong key, nonce, associated data, or tampered)")]
    Open,
    #[error("not UTF-8")]
    Utf8,
    #[error("not an RSA key of the expected kind")]
    Key,
    #[error("RSA-OAEP failed")]
    Rsa,
}

fn aead_key(api_v3_key: &[u8]) -> Result<LessSafeKey, CryptoError> {
    UnboundKey::new(&AES_256_GCM, api_v3_key)
        .map(LessSafeKey::new)
        .map_err(|_| CryptoError::ApiV3Key)
}

fn nonce(n: &str) -> Result<Nonce, CryptoError> {
    let b: [u8; NONCE_LEN] = n.as_bytes().try_into().map_err(|_| CryptoError::Nonce)?;
    Ok(Nonce::assume_unique_for_key(b))
}

/// Opens a `resource`: the plaintext as text.
pub fn aead_open(
    api_v3_key: &[u8],
    nonce_text: &str,
    associated_data: &str,
    ciphertext_b64: &str,
) -> Result<String, CryptoError> {
    let key = aead_key(api_v3_key)?;
    let mut buf = B64
        .decode(ciphertext_b64.trim())
        .map_err(|_| CryptoError::Base64)?;
    let plain = key
        .open_in_place(
            nonce(nonce_text)?,
            Aad::from(associated_data.as_bytes()),
            &mut buf,
        )
        .map_err(|_| CryptoError::Open)?;
    String::from_utf8(plain.to_vec()).map_err(|_| CryptoError::Utf8)
}

/// Seals a `resource` as WeChat Pay does (the sandbox's side): base64 of ciphertext ‖ tag.
pub fn aead_seal(
    api_v3_key: &[u8],
    nonce_text: &str,
    associated_data: &str,
    plaintext: &str,
) -> Result<String, CryptoError> {
    let key = aead_key(api_v3_key)?;
    let mut buf = plaintext.as_bytes().to_vec();
    key.seal_in_place_append_tag(
        nonce(nonce_text)?,
        Aad::from(associated_data.as_bytes()),
        &mut buf,
    )
    .map_err(|_| CryptoError::Open)?;
    Ok(B64.encode(buf))
}

/// The WeChat Pay public key (or a platform certificate's key) that sensitive fields are
/// encrypted with, and the id (`PUB_KEY_ID_…` or certificate serial) sent as `Wechatpay-Serial`.
pub struct SensitiveEncryptor {
    pub serial: String,
    key: OaepPublicEncryptingKey,
}

impl std::fmt::Debug for SensitiveEncryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SensitiveEncryptor({})", self.serial)
    }
}

impl SensitiveEncryptor {
    /// From a `-----BEGIN PUBLIC KEY-----` PEM.
    pub fn from_pem(serial: &str, public_key_pem: &str) -> Result<Self, CryptoError> {
        let (_, der) = pem_decode(public_key_pem).map_err(|_| CryptoError::Key)?;
        let key = PublicEncryptingKey::from_der(&der)
            .ok()
            .and_then(|k| OaepPublicEncryptingKey::new(k).ok())
            .ok_or(CryptoError::Key)?;
        Ok(SensitiveEncryptor {
            serial: serial.to_string(),
            key,
        })
    }

    /// The field's value: base64 of RSAES-OAEP(SHA-1) over its UTF-8 text.
    pub fn encrypt(&self, text: &str) -> Result<String, CryptoError> {
        let mut out = vec![0u8; self.key.ciphertext_size()];
        let c = self
            .key
            .encrypt(&OAEP_SHA1_MGF1SHA1, text.as_bytes(), &mut out, None)
            .map_err(|_| CryptoError::Rsa)?;
        Ok(B64.encode(c))
    }
}

/// The platform's private key for sensitive fields (the sandbox's side).
pub struct SensitiveDecryptor {
    key: OaepPrivateDecryptingKey,
}

impl SensitiveDecryptor {
    /// From a `-----BEGIN PRIVATE KEY-----` (PKCS#8) PEM.
    pub fn from_pem(private_key_pem: &str) -> Result<Self, CryptoError> {
        let (_, der) = pem_decode(private_key_pem).map_err(|_| CryptoError::Key)?;
        let key = PrivateDecryptingKey::from_pkcs8(&der)
            .ok()
            .and_then(|k| OaepPrivateDecryptingKey::new(k).ok())
            .ok_or(CryptoError::Key)?;
        Ok(SensitiveDecryptor { key })
    }

    pub fn decrypt(&self, b64: &str) -> Result<String, CryptoError> {
        let c = B64.decode(b64.trim()).map_err(|_| CryptoError::Base64)?;
        let mut out = vec![0u8; self.key.min_output_size()];
        let p = self
            .key
            .decrypt(&OAEP_SHA1_MGF1SHA1, &c, &mut out, None)
            .map_err(|_| CryptoError::Rsa)?;
        String::from_utf8(p.to_vec()).map_err(|_| CryptoError::Utf8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"fidelityapiv3key0000000000000000";

    #[test]
    fn aead_round_trip_and_tamper() {
        let c = aead_seal(KEY, "fPqxLQRZmjVn", "mch_payment", "{\"a\":1}").unwrap();
        assert_eq!(
            aead_open(KEY, "fPqxLQRZmjVn", "mch_payment", &c).unwrap(),
            "{\"a\":1}"
        );
        assert_eq!(
            aead_open(KEY, "fPqxLQRZmjVn", "other", &c),
            Err(CryptoError::Open)
        );
        assert_eq!(
            aead_open(KEY, "short", "mch_payment", &c),
            Err(CryptoError::Nonce)
        );
        assert_eq!(
            aead_open(b"short", "fPqxLQRZmjVn", "mch_payment", &c),
            Err(CryptoError::ApiV3Key)
        );
    }

    #[test]
    fn oaep_round_trip() {
        let (private, public) = rewardgate_core::keys::RsaPrivateKey::generate_pem().unwrap();
        let e = SensitiveEncryptor::from_pem("PUB_KEY_ID_1", &public).unwrap();
        let d = SensitiveDecryptor::from_pem(&private).unwrap();
        let c = e.encrypt("张三").unwrap();
        assert_ne!(c, e.encrypt("张三").unwrap(), "OAEP is randomised");
        assert_eq!(d.decrypt(&c).unwrap(), "张三");
    }
}
