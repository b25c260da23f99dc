//! The Alipay OpenAPI client: RSA2 request signing, and verification of the answer's `sign` over
//! the response node's exact text (an answer that does not verify is an unknown outcome).

use super::{Params, VOUCHER_SEND, policy, split_response};
use crate::outcome::{Outcome, transport_unknown};
use rewardgate_core::keys::{RsaPrivateKey, RsaPublicKey};
use serde_json::{Value, json};

pub struct Config {
    /// The full gateway URL (`…/gateway.do`).
    pub gateway: String,
    pub app_id: String,
    pub private_key: RsaPrivateKey,
    pub alipay_public_key: RsaPublicKey,
    pub extra_roots_pem: Option<String>,
}

pub struct Client {
    http: reqwest::Client,
    cfg: Config,
}

fn timestamp() -> String {
    rewardgate_core::clock::shanghai_datetime(rewardgate_core::clock::now_ms())
}

impl Client {
    pub fn new(cfg: Config) -> Result<Client, String> {
        Ok(Client {
            http: crate::http_client(cfg.extra_roots_pem.as_deref(), None)?,
            cfg,
        })
    }

    /// `alipay.marketing.voucher.send`: one voucher of `template_id` to the account of `login_id`.
    pub async fn send_voucher(
        &self,
        template_id: &str,
        login_id: &str,
        out_biz_no: &str,
    ) -> Outcome {
        let biz =
            json!({"template_id": template_id, "login_id": login_id, "out_biz_no": out_biz_no});
        match self.call(VOUCHER_SEND, biz).await {
            Ok(text) => voucher_outcome(&text, &self.cfg.alipay_public_key),
            Err(o) => o,
        }
    }

    /// A known-good request: `alipay.marketing.voucher.query` for a voucher that does not exist.
    /// Any business answer means the app's signature and rights hold; 40002 invalid-signature /
    /// invalid-app-id or 40006 means they do not.
    pub async fn probe(&self) -> crate::Probe {
        const QUERY: &str = "alipay.marketing.voucher.query";
        let text = match self.call(QUERY, json!({"voucher_id": "0"})).await {
            Ok(t) => t,
            Err(Outcome::Unknown { reason }) => return crate::Probe::Unclear(reason),
            Err(_) => return crate::Probe::Unclear("no answer".into()),
        };
        let Some((node, _)) = super::split_response(&text, QUERY) else {
            return crate::Probe::Unclear("unreadable answer".into());
        };
        let v: Value = serde_json::from_str(node).unwrap_or(Value::Null);
        let (code, sub) = (
            v["code"].as_str().unwrap_or(""),
            v["sub_code"].as_str().unwrap_or(""),
        );
        match policy::classify(code, sub) {
            crate::Class::Deferred(crate::Wait::Credentials) => {
                crate::Probe::Reproduced(format!("{code} {sub}"))
            }
            _ if code.is_empty() || code == "20000" => {
                crate::Probe::Unclear(format!("{code} {sub}"))
            }
            _ => crate::Probe::Healthy,
        }
    }

    /// One signed gateway call; the answer's text.
    async fn call(&self, method: &str, biz: Value) -> Result<String, Outcome> {
        let mut p = Params::new();
        for (k, v) in [
            ("app_id", self.cfg.app_id.as_str()),
            ("method", method),
            ("format", "JSON"),
            ("charset", "utf-8"),
            ("sign_type", "RSA2"),
            ("version", "1.0"),
        ] {
            p.insert(k.into(), v.into());
        }
        p.insert("timestamp".into(), timestamp());
        p.insert("biz_content".into(), biz.to_string());
        let sign = super::sign(&p, &self.cfg.private_key);
        p.insert("sign".into(), sign);
        let form: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(p.iter())
            .finish();
        let resp = self
            .http
            .post(&self.cfg.gateway)
            .header(
                "Content-Type",
                "application/x-www-form-urlencoded;charset=utf-8",
            )
            .body(form)
            .send()
            .await
            .map_err(|e| transport_unknown(&e))?;
        if !resp.status().is_success() {
            return Err(Outcome::Unknown {
                reason: format!("HTTP {}", resp.status()),
            });
        }
        resp.text().await.map_err(|e| transport_unknown(&e))
    }
}

/// What a `voucher.send` answer means for the order. A success must carry a `sign` that verifies
/// over the response node's exact text; a refusal is verified when it carries one, and acted on
/// by its codes when it does not (the official SDK's `AbstractAlipayClient.checkResponseSign`
/// verifies a failed answer only when a sign is present: unsigned refusals such as 40002
/// isv.invalid-app-id are real — fzlee/alipay#20).
pub fn voucher_outcome(text: &str, alipay_key: &RsaPublicKey) -> Outcome {
    let Some((node, sign)) = split_response(text, VOUCHER_SEND) else {
        return Outcome::Unknown {
            reason: "unreadable answer".into(),
        };
    };
    let verified = sign
        .as_deref()
        .map(|s| alipay_key.verify_b64(node.as_bytes(), s));
    let v: Value = serde_json::from_str(node).unwrap_or(Value::Null);
    let code = v["code"].as_str().unwrap_or("");
    if code == "10000" {
        if verified != Some(true) {
            return Outcome::Unknown {
                reason: "10000 answer without a signature that verifies".into(),
            };
        }
        return match v["voucher_id"].as_str() {
            Some(id) if !id.is_empty() => Outcome::Granted {
                upstream_id: id.to_string(),
                extra: None,
            },
            _ => Outcome::Unknown {
                reason: "10000 without voucher_id".into(),
            },
        };
    }
    if verified == Some(false) {
        return Outcome::Unknown {
            reason: format!("answer signature does not verify ({code})"),
        };
    }
    if code.is_empty() {
        return Outcome::Unknown {
            reason: "answer without a code".into(),
        };
    }
    let sub_msg = v["sub_msg"].as_str().unwrap_or("");
    let sub = policy::code_of(v["sub_code"].as_str().unwrap_or(""), sub_msg);
    let msg = if sub_msg.is_empty() {
        v["msg"].as_str().unwrap_or("")
    } else {
        sub_msg
    };
    let shown = if sub.is_empty() { code } else { sub };
    Outcome::from_class(policy::classify(code, sub), shown, msg)
}
