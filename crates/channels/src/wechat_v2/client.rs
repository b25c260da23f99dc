//! The WeChat Pay v2 client: XML over HTTPS with the merchant's client certificate (rustls mTLS),
//! MD5 or HMAC-SHA256 signatures. Answers that are signed and do not verify are unknown outcomes.

use super::{Params, SignType, policy, xml};
use crate::outcome::{Outcome, transport_unknown};

pub struct Config {
    pub base_url: String,
    pub mch_id: String,
    pub api_key: String,
    pub sign_type: SignType,
    /// Client certificate and key (PEM), for the calls that need them.
    pub cert_pem: Option<String>,
    pub key_pem: Option<String>,
    /// Extra roots to trust (the sandbox's certificate); the system's are always trusted.
    pub extra_roots_pem: Option<String>,
}

pub struct Client {
    http: reqwest::Client,
    cfg: Config,
}

impl Client {
    pub fn new(cfg: Config) -> Result<Client, String> {
        let identity = match (&cfg.cert_pem, &cfg.key_pem) {
            (Some(c), Some(k)) => Some(format!("{c}\n{k}")),
            _ => None,
        };
        Ok(Client {
            http: crate::http_client(cfg.extra_roots_pem.as_deref(), identity)?,
            cfg,
        })
    }

    /// Posts signed parameters; the parsed answer, or the outcome when there is no usable one.
    async fn call(
        &self,
        path: &str,
        mut p: Params,
        signed_answer: bool,
    ) -> Result<Params, Outcome> {
        p.insert("nonce_str".into(), crate::nonce(32));
        if self.cfg.sign_type == SignType::HmacSha256 {
            p.insert("sign_type".into(), "HMAC-SHA256".into());
        }
        let sign = super::sign(&p, &self.cfg.api_key, self.cfg.sign_type);
        p.insert("sign".into(), sign);
        let url = format!("{}{path}", self.cfg.base_url.trim_end_matches('/'));
        let resp = self
            .http
            .post(url)
            .header("Content-Type", "text/xml; charset=utf-8")
            .body(xml::write(&p))
            .send()
            .await;
        let resp = resp.map_err(|e| transport_unknown(&e))?;
        if !resp.status().is_success() {
            return Err(Outcome::Unknown {
                reason: format!("HTTP {}", resp.status()),
            });
        }
        let text = resp.text().await.map_err(|e| transport_unknown(&e))?;
        let a = xml::parse(&text).map_err(|e| Outcome::Unknown {
            reason: format!("unreadable answer: {e}"),
        })?;
        if a.get("return_code").map(String::as_str) != Some("SUCCESS") {
            let msg = a.get("return_msg").cloned().unwrap_or_default();
            return Err(Outcome::Unknown {
                reason: format!("return_code FAIL: {msg}"),
            });
        }
        // An answer carrying a signature must verify; one that should and does not is never
        // taken as success.
        if (signed_answer || a.contains_key("sign"))
            && !super::verify(&a, &self.cfg.api_key, self.cfg.sign_type)
        {
            return Err(Outcome::Unknown {
                reason: "answer signature does not verify".into(),
            });
        }
        Ok(a)
    }

    fn business(a: &Params, id_field: &str) -> Outcome {
        if a.get("result_code").map(String::as_str) == Some("SUCCESS") {
            return match a.get(id_field).filter(|v| !v.is_empty()) {
                Some(id) => Outcome::Granted {
                    upstream_id: id.clone(),
                    extra: a.get("package").cloned(),
                },
                None => Outcome::Unknown {
                    reason: format!("success without {id_field}"),
                },
            };
        }
        let code = a
            .get("err_code")
            .cloned()
            .unwrap_or_else(|| "UNKNOWN".into());
        let msg = a.get("err_code_des").cloned().unwrap_or_default();
        Outcome::from_class(policy::classify(&code), &code, &msg)
    }

    /// `sendredpack`, or `sendminiprogramhb` when `mini` (its answer carries `package`).
    pub async fn send_redpack(&self, mut p: Params, mini: bool) -> Outcome {
        p.insert("mch_id".into(), self.cfg.mch_id.clone());
        let path = if mini {
            super::SENDMINIPROGRAMHB
        } else {
            super::SENDREDPACK
        };
        match self.call(path, p, true).await {
            Ok(a) => Self::business(&a, "send_listid"),
            Err(o) => o,
        }
    }

    /// `gethbinfo`: where a red packet stands.
    pub async fn query_redpack(&self, mch_billno: &str, appid: &str) -> Outcome {
        let mut p = Params::new();
        for (k, v) in [
            ("mch_billno", mch_billno),
            ("mch_id", &self.cfg.mch_id),
            ("appid", appid),
            ("bill_type", "MCHT"),
        ] {
            p.insert(k.into(), v.into());
        }
        let a = match self.call(super::GETHBINFO, p, true).await {
            Ok(a) => a,
            Err(o) => return o,
        };
        if a.get("result_code").map(String::as_str) != Some("SUCCESS") {
            let code = a.get("err_code").cloned().unwrap_or_default();
            if code == "NOT_FOUND" {
                return Outcome::NotFound;
            }
            return Self::business(&a, "detail_id");
        }
        let id = a.get("detail_id").cloned().unwrap_or_default();
        match a.get("status").map(String::as_str).unwrap_or("") {
            "SENT" => Outcome::Granted {
                upstream_id: id,
                extra: None,
            },
            "RECEIVED" => Outcome::Received { upstream_id: id },
            "REFUND" | "RFUND_ING" => Outcome::Refunded { upstream_id: id },
            "FAILED" => Outcome::Failed {
                code: "SEND_FAILED".into(),
                message: a.get("reason").cloned().unwrap_or_default(),
            },
            other => Outcome::Unknown {
                reason: format!("red packet status {other}"),
            },
        }
    }

    /// `promotion/transfers` (`check_name=NO_CHECK`). Its answers are not signed upstream.
    pub async fn transfer(&self, mut p: Params) -> Outcome {
        p.insert("mchid".into(), self.cfg.mch_id.clone());
        match self.call(super::TRANSFERS, p, false).await {
            Ok(a) => Self::business(&a, "payment_no"),
            Err(o) => o,
        }
    }

    /// `gettransferinfo`.
    pub async fn query_transfer(&self, partner_trade_no: &str, appid: &str) -> Outcome {
        let mut p = Params::new();
        for (k, v) in [
            ("partner_trade_no", partner_trade_no),
            ("mch_id", &self.cfg.mch_id),
            ("appid", appid),
        ] {
            p.insert(k.into(), v.into());
        }
        let a = match self.call(super::GETTRANSFERINFO, p, true).await {
            Ok(a) => a,
            Err(o) => return o,
        };
        if a.get("result_code").map(String::as_str) != Some("SUCCESS") {
            if a.get("err_code").map(String::as_str) == Some("NOT_FOUND") {
                return Outcome::NotFound;
            }
            return Self::business(&a, "detail_id");
        }
        match a.get("status").map(String::as_str).unwrap_or("") {
            "SUCCESS" => Outcome::Granted {
                upstream_id: a.get("detail_id").cloned().unwrap_or_default(),
                extra: None,
            },
            "FAILED" => Outcome::Failed {
                code: "TRANSFER_FAILED".into(),
                message: a.get("reason").cloned().unwrap_or_default(),
            },
            other => Outcome::Unknown {
                reason: format!("transfer status {other}"),
            },
        }
    }
}
