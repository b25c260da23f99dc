//! The WeChat Pay v3 client: `WECHATPAY2-SHA256-RSA2048` request signing, and verification of
//! the `Wechatpay-Signature` on answers with the key its `Wechatpay-Serial` names.
//!
//! What an answer must be to count, as the official SDKs check it:
//! - 2xx: signed by a known serial (a map: platform certificates rotate, and the WeChat Pay
//!   public key `PUB_KEY_ID_…` sits beside them — wechatpay-go core/certificate_map.go:L12-16,
//!   wechatpay-php README:L107-118) and stamped within 5 minutes of our clock
//!   (wechatpay-go wechat_pay_validator.go:L117 `>= consts.FiveMinute`; wechatpay-php
//!   ClientJsonTrait.php:L29 MAXIMUM_CLOCK_OFFSET = 300). Otherwise it is an unknown outcome:
//!   "没有携带签名的成功应答…应认为是伪造或被篡改的应答" (wechatpay3_3 签名验证).
//! - 4xx/5xx: the SDKs never verify them (wechatpay-go client.go:L241-247 CheckResponse before
//!   Validate; wechatpay-java AbstractHttpClient.java:L73-78; wechatpay-apache-httpclient
//!   SignatureExec.java:L88-104 "对成功应答验签"), and real ones arrive without Wechatpay-*
//!   headers (a 500 SYSTEM_ERROR header dump on developers.weixin.qq.com). An unsigned one is
//!   acted on when its status and `{"code","message"}` body are well-formed; one that carries a
//!   signature that does not verify is an unknown outcome.

use super::{Signer, coupon_path, policy};
use crate::outcome::{Outcome, transport_unknown};
use rewardgate_core::keys::{RsaPrivateKey, RsaPublicKey};
use serde_json::{Value, json};

pub struct Config {
    pub base_url: String,
    pub mch_id: String,
    pub app_id: String,
    pub private_key: RsaPrivateKey,
    pub cert_serial_no: String,
    /// The platform certificates' and the WeChat Pay public key's verifiers, by serial.
    pub platform_keys: Vec<(String, RsaPublicKey)>,
    pub extra_roots_pem: Option<String>,
}

pub struct Client {
    http: reqwest::Client,
    pub(crate) cfg: Config,
}

/// What a known-good request's answer says about the account: a 401, or a 403 NO_AUTH, is its
/// signature or rights; a 5xx or no answer tells nothing; anything else is healthy.
pub(crate) fn probe_answer(r: Result<Answer, Outcome>) -> crate::Probe {
    match r {
        Err(Outcome::Unknown { reason }) => crate::Probe::Unclear(reason),
        Err(_) => crate::Probe::Unclear("no answer".into()),
        Ok(a) => {
            let v: Value = serde_json::from_str(&a.body).unwrap_or(Value::Null);
            let code = v["code"].as_str().unwrap_or("");
            match a.status {
                401 => crate::Probe::Reproduced(format!("401 {code}")),
                403 if code == "NO_AUTH" => crate::Probe::Reproduced(format!("403 {code}")),
                500..=599 => crate::Probe::Unclear(format!("HTTP {}", a.status)),
                _ => crate::Probe::Healthy,
            }
        }
    }
}

/// How far an answer's `Wechatpay-Timestamp` may be from our clock, in seconds.
pub const MAX_CLOCK_OFFSET_SECS: i64 = 300;

/// An answer as it arrived.
pub struct Answer {
    pub status: u16,
    /// `Wechatpay-Timestamp`, `-Nonce`, `-Signature`, `-Serial` (empty when absent).
    pub timestamp: String,
    pub nonce: String,
    pub signature: String,
    pub serial: String,
    pub body: String,
}

/// Whether an answer's signature holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Signature {
    Verified,
    Absent,
    /// Present, but wrong, by an unknown serial, or out of the time window.
    Bad(String),
}

impl Answer {
    pub fn check(&self, keys: &[(String, RsaPublicKey)], now_secs: i64) -> Signature {
        if self.signature.is_empty() && self.serial.is_empty() {
            return Signature::Absent;
        }
        let Some((_, key)) = keys.iter().find(|(s, _)| *s == self.serial) else {
            return Signature::Bad(format!("unknown platform serial {:?}", self.serial));
        };
        let Ok(ts) = self.timestamp.parse::<i64>() else {
            return Signature::Bad("no Wechatpay-Timestamp".into());
        };
        if now_secs.abs_diff(ts) >= MAX_CLOCK_OFFSET_SECS as u64 {
            return Signature::Bad(format!("Wechatpay-Timestamp {ts} is 5 minutes or more off"));
        }
        if super::verify_response(
            key,
            &self.timestamp,
            &self.nonce,
            &self.body,
            &self.signature,
        ) {
            Signature::Verified
        } else {
            Signature::Bad("answer signature does not verify".into())
        }
    }
}

/// What a coupon send's answer means for the order.
pub fn coupon_outcome(a: &Answer, keys: &[(String, RsaPublicKey)], now_secs: i64) -> Outcome {
    let sig = a.check(keys, now_secs);
    let v: Value = serde_json::from_str(&a.body).unwrap_or(Value::Null);
    if (200..300).contains(&a.status) {
        if sig != Signature::Verified {
            return Outcome::Unknown {
                reason: match sig {
                    Signature::Bad(why) => why,
                    _ => "2xx answer without a signature".into(),
                },
            };
        }
        return match v["coupon_id"].as_str() {
            Some(id) if !id.is_empty() => Outcome::Granted {
                upstream_id: id.to_string(),
                extra: None,
            },
            _ => Outcome::Unknown {
                reason: "2xx without coupon_id".into(),
            },
        };
    }
    if let Signature::Bad(why) = sig {
        return Outcome::Unknown {
            reason: format!("HTTP {}: {why}", a.status),
        };
    }
    let (Some(code), message) = (v["code"].as_str(), v["message"].as_str().unwrap_or("")) else {
        return Outcome::Unknown {
            reason: format!("HTTP {} without an error code", a.status),
        };
    };
    Outcome::from_class(policy::classify(a.status, code), code, message)
}

impl Client {
    pub fn new(cfg: Config) -> Result<Client, String> {
        Ok(Client {
            http: crate::http_client(cfg.extra_roots_pem.as_deref(), None)?,
            cfg,
        })
    }

    /// Sends one coupon of `stock_id` to `openid`; `out_request_no` makes it idempotent.
    pub async fn send_coupon(
        &self,
        openid: &str,
        stock_id: &str,
        out_request_no: &str,
        app_id: Option<&str>,
    ) -> Outcome {
        let body = json!({
            "stock_id": stock_id,
            "out_request_no": out_request_no,
            "appid": app_id.unwrap_or(&self.cfg.app_id),
            "stock_creator_mchid": self.cfg.mch_id,
        })
        .to_string();
        match self.request("POST", &coupon_path(openid), body, None).await {
            Ok(a) => coupon_outcome(
                &a,
                &self.cfg.platform_keys,
                rewardgate_core::clock::now_ms() / 1000,
            ),
            Err(o) => o,
        }
    }

    /// A known-good request: the stock's details (`GET /v3/marketing/favor/stocks/{stock_id}`),
    /// which carries nothing of any order's. A 401 or 403 NO_AUTH here is the account's.
    pub async fn probe(&self, stock_id: &str) -> crate::Probe {
        let path = format!(
            "/v3/marketing/favor/stocks/{}?stock_creator_mchid={}",
            super::path_segment(stock_id),
            super::path_segment(&self.cfg.mch_id)
        );
        probe_answer(self.request("GET", &path, String::new(), None).await)
    }

    /// One signed request; the answer as it arrived. `wechatpay_serial`: the key id a sensitive
    /// field was encrypted with, when the body carries one (else the first verifier's).
    pub(crate) async fn request(
        &self,
        method: &str,
        path: &str,
        body: String,
        wechatpay_serial: Option<&str>,
    ) -> Result<Answer, Outcome> {
        let signer = Signer {
            key: &self.cfg.private_key,
            mchid: &self.cfg.mch_id,
            serial_no: &self.cfg.cert_serial_no,
        };
        let ts = rewardgate_core::clock::now_ms() / 1000;
        let auth = signer.authorize(method, path, &body, ts, &crate::nonce(32));
        let url = format!("{}{path}", self.cfg.base_url.trim_end_matches('/'));
        let mut rb = if method == "GET" {
            self.http.get(url)
        } else {
            self.http
                .post(url)
                .header("Content-Type", "application/json")
                .body(body)
        };
        rb = rb
            .header("Authorization", auth)
            .header("Accept", "application/json")
            // The serial we can verify answers with (wechatpay-go client.go:L230-232), or the
            // one a sensitive field was encrypted with (doc 4012716434 Wechatpay-Serial).
            .header(
                "Wechatpay-Serial",
                wechatpay_serial.unwrap_or(
                    self.cfg
                        .platform_keys
                        .first()
                        .map(|(s, _)| s.as_str())
                        .unwrap_or(""),
                ),
            );
        let resp = rb.send().await.map_err(|e| transport_unknown(&e))?;
        let status = resp.status().as_u16();
        let h = |n: &str| {
            resp.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let (timestamp, nonce, signature, serial) = (
            h("Wechatpay-Timestamp"),
            h("Wechatpay-Nonce"),
            h("Wechatpay-Signature"),
            h("Wechatpay-Serial"),
        );
        let body = resp.text().await.map_err(|e| transport_unknown(&e))?;
        Ok(Answer {
            status,
            timestamp,
            nonce,
            signature,
            serial,
            body,
        })
    }
}
