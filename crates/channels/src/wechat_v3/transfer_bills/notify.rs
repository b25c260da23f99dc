//! The `MCHTRANSFER.BILL.FINISHED` notification (商家转账回调通知, pay.weixin.qq.com/docs/merchant/
//! apis/batch-transfer-to-balance/callback-notice.html; the real shape, with `original_type` and
//! `associated_data` "mch_payment", in developers.weixin.qq.com/community/pay/doc/
//! 000e2607ecc80099bbb2336866f400): verified as an answer is (timestamp\nnonce\nbody\n with the
//! platform key its `Wechatpay-Serial` names, within 5 minutes), then `resource` opened with
//! AEAD_AES_256_GCM under the APIv3 key. It is only a hint: the state is confirmed by a query.
//!
//! `Wechatpay-Signature` values starting `WECHATPAY/SIGNTEST/` are WeChat's signature probes
//! and must fail ("此前缀为签名探测流量", pay.weixin.qq.com/doc/v3/merchant/4016241880).

use super::Bill;
use crate::wechat_v3::client::{Answer, Signature};
use crate::wechat_v3::crypto::{self, CryptoError};
use rewardgate_core::keys::RsaPublicKey;
use serde_json::{Value, json};

pub const EVENT_TYPE: &str = "MCHTRANSFER.BILL.FINISHED";
pub const ASSOCIATED_DATA: &str = "mch_payment";
pub const SIGNTEST_PREFIX: &str = "WECHATPAY/SIGNTEST/";

/// The notification's `Wechatpay-*` headers (empty when absent).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NotifyHeaders {
    pub timestamp: String,
    pub nonce: String,
    pub signature: String,
    pub serial: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    #[error("a signature probe (WECHATPAY/SIGNTEST/)")]
    Probe,
    #[error("signature: {0}")]
    Signature(String),
    #[error("body: {0}")]
    Body(String),
    #[error("resource: {0}")]
    Decrypt(#[from] CryptoError),
}

/// A verified, opened notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    pub id: String,
    pub create_time: String,
    pub bill: Bill,
}

/// Verifies and opens one notification. `platform_keys`: the WeChat Pay public key and platform
/// certificates by id, as for answers; `now_secs`: our clock.
pub fn verify_and_decrypt_notification(
    headers: &NotifyHeaders,
    body: &str,
    platform_keys: &[(String, RsaPublicKey)],
    api_v3_key: &[u8],
    now_secs: i64,
) -> Result<Notification, NotifyError> {
    if headers.signature.starts_with(SIGNTEST_PREFIX) {
        return Err(NotifyError::Probe);
    }
    let as_answer = Answer {
        status: 200,
        timestamp: headers.timestamp.clone(),
        nonce: headers.nonce.clone(),
        signature: headers.signature.clone(),
        serial: headers.serial.clone(),
        body: body.to_string(),
    };
    match as_answer.check(platform_keys, now_secs) {
        Signature::Verified => {}
        Signature::Absent => return Err(NotifyError::Signature("absent".into())),
        Signature::Bad(why) => return Err(NotifyError::Signature(why)),
    }
    let v: Value = serde_json::from_str(body).map_err(|e| NotifyError::Body(e.to_string()))?;
    let event = v["event_type"].as_str().unwrap_or("");
    if event != EVENT_TYPE {
        return Err(NotifyError::Body(format!("event_type {event:?}")));
    }
    let r = &v["resource"];
    if r["algorithm"].as_str() != Some("AEAD_AES_256_GCM") {
        return Err(NotifyError::Body(format!(
            "algorithm {:?}",
            r["algorithm"].as_str()
        )));
    }
    let field = |f: &str| {
        r[f].as_str()
            .ok_or_else(|| NotifyError::Body(format!("resource.{f} missing")))
    };
    let plain = crypto::aead_open(
        api_v3_key,
        field("nonce")?,
        r["associated_data"].as_str().unwrap_or(""),
        field("ciphertext")?,
    )?;
    let inner: Value =
        serde_json::from_str(&plain).map_err(|e| NotifyError::Body(format!("resource: {e}")))?;
    let bill = Bill::from_json(&inner)
        .ok_or_else(|| NotifyError::Body("resource without out_bill_no and state".into()))?;
    Ok(Notification {
        id: v["id"].as_str().unwrap_or("").to_string(),
        create_time: v["create_time"].as_str().unwrap_or("").to_string(),
        bill,
    })
}

/// The body WeChat Pay posts (the sandbox's side): `resource` sealed over `bill_json`.
pub fn seal_notification(
    id: &str,
    create_time: &str,
    bill_json: &Value,
    api_v3_key: &[u8],
    nonce: &str,
) -> Result<String, CryptoError> {
    let ciphertext = crypto::aead_seal(api_v3_key, nonce, ASSOCIATED_DATA, &bill_json.to_string())?;
    Ok(json!({
        "id": id,
        "create_time": create_time,
        "resource_type": "encrypt-resource",
        "event_type": EVENT_TYPE,
        "summary": "商家转账单据终态通知",
        "resource": {
            "original_type": ASSOCIATED_DATA,
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": ciphertext,
            "associated_data": ASSOCIATED_DATA,
            "nonce": nonce,
        },
    })
    .to_string())
}
