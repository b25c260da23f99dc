//! The WeChat Pay v3 client: `WECHATPAY2-SHA256-RSA2048` request signing, and verification of the
//! `Wechatpay-Signature` on every answer (a 2xx that does not verify is an unknown outcome).

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
    /// The platform's (or WeChat Pay public key's) verifier and its serial.
    pub platform_key: RsaPublicKey,
    pub platform_serial_no: String,
    pub extra_roots_pem: Option<String>,
}

pub struct Client {
    http: reqwest::Client,
    cfg: Config,
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
        let path = coupon_path(openid);
        let body = json!({
            "stock_id": stock_id,
            "out_request_no": out_request_no,
            "appid": app_id.unwrap_or(&self.cfg.app_id),
            "stock_creator_mchid": self.cfg.mch_id,
        })
        .to_string();
        let signer = Signer {
            key: &self.cfg.private_key,
            mchid: &self.cfg.mch_id,
            serial_no: &self.cfg.cert_serial_no,
        };
        let ts = rewardgate_core::clock::now_ms() / 1000;
        let auth = signer.authorize("POST", &path, &body, ts, &crate::nonce(32));
        let url = format!("{}{path}", self.cfg.base_url.trim_end_matches('/'));
        let resp = self
            .http
            .post(url)
            .header("Authorization", auth)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .body(body)
            .send()
            .await;
        let resp = match resp {
            Ok(r) => r,
            Err(e) => return transport_unknown(&e),
        };
        let status = resp.status().as_u16();
        let h = |n: &str| {
            resp.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let (ts, nonce, sig, serial) = (
            h("Wechatpay-Timestamp"),
            h("Wechatpay-Nonce"),
            h("Wechatpay-Signature"),
            h("Wechatpay-Serial"),
        );
        let text = match resp.text().await {
            Ok(t) => t,
            Err(e) => return transport_unknown(&e),
        };
        let verified = serial == self.cfg.platform_serial_no
            && super::verify_response(&self.cfg.platform_key, &ts, &nonce, &text, &sig);
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            if !verified {
                return Outcome::Unknown {
                    reason: "answer signature does not verify".into(),
                };
            }
            return match v["coupon_id"].as_str() {
                Some(id) => Outcome::Granted {
                    upstream_id: id.to_string(),
                    extra: None,
                },
                None => Outcome::Unknown {
                    reason: "2xx without coupon_id".into(),
                },
            };
        }
        // An error answer that does not verify could be anyone's: only a verified one may fail
        // an order; the rest are unknown and resent with the same out_request_no.
        let code = v["code"].as_str().unwrap_or("").to_string();
        let message = v["message"].as_str().unwrap_or("").to_string();
        if !verified {
            return Outcome::Unknown {
                reason: format!("HTTP {status} {code} (answer not verified)"),
            };
        }
        Outcome::from_class(policy::classify(status, &code), &code, &message)
    }
}
