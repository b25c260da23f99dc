//! The WeChat Pay v2 client: XML over HTTPS with the merchant's client certificate (rustls mTLS).
//! Red-packet and transfer calls are signed with MD5 only and never send `sign_type` (WeChat
//! answers SIGN_ERROR otherwise: WxJava issues #570 and #726; WxJava excludes `sign_type` from
//! these requests' signatures, e.g. EntPayRequest.java:L234-237; weixin-popular #125: "企业付款仅
//! 支持默认的 MD5 签名方式"). Their answers come unsigned (WxJava #140 quotes a real one;
//! chanxuehong/wechat PR #220; wechatpay-axios-plugin #56): a `sign` is verified when present
//! (as WxJava's BaseWxPayResult.checkResult does), and one that does not verify is never success.

use super::{Params, SignType, policy, xml};
use crate::outcome::{Class, Outcome, transport_unknown};

pub struct Config {
    pub base_url: String,
    pub mch_id: String,
    pub api_key: String,
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

    /// Posts MD5-signed parameters; the parsed answer, or the outcome when there is no usable
    /// one (a transport failure, an HTTP error, unreadable XML, a `sign` that does not verify).
    async fn call(&self, path: &str, mut p: Params) -> Result<Params, Outcome> {
        p.insert("nonce_str".into(), crate::nonce(32));
        let sign = super::sign(&p, &self.cfg.api_key, SignType::Md5);
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
        parse_answer(&text, &self.cfg.api_key)
    }

    /// `sendredpack`, or `sendminiprogramhb` when `mini` (its answer carries `package`).
    pub async fn send_redpack(&self, mut p: Params, mini: bool) -> Outcome {
        p.insert("mch_id".into(), self.cfg.mch_id.clone());
        let path = if mini {
            super::SENDMINIPROGRAMHB
        } else {
            super::SENDREDPACK
        };
        match self.call(path, p).await {
            Ok(a) => redpack_outcome(&a),
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
        match self.call(super::GETHBINFO, p).await {
            Ok(a) => redpack_query_outcome(&a),
            Err(o) => o,
        }
    }

    /// `promotion/transfers` (`check_name=NO_CHECK`).
    pub async fn transfer(&self, mut p: Params) -> Outcome {
        p.insert("mchid".into(), self.cfg.mch_id.clone());
        match self.call(super::TRANSFERS, p).await {
            Ok(a) => transfer_outcome(&a),
            Err(o) => o,
        }
    }

    /// A known-good request: `gethbinfo` for a bill number that was never used. Its only input is
    /// the account's own, so a credentials refusal here is the account's.
    pub async fn probe(&self, appid: &str) -> crate::Probe {
        let billno = format!("{}{}", self.cfg.mch_id, "0".repeat(18));
        crate::Probe::from_outcome(&self.query_redpack(&billno, appid).await)
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
        match self.call(super::GETTRANSFERINFO, p).await {
            Ok(a) => transfer_query_outcome(&a),
            Err(o) => o,
        }
    }
}

/// An answer's parameters, after checking its `sign` when it carries one (MD5, the only type
/// these endpoints use). Its absence alone is no reason to distrust an answer that came over the
/// verified TLS connection.
pub fn parse_answer(text: &str, api_key: &str) -> Result<Params, Outcome> {
    let a = xml::parse(text).map_err(|e| Outcome::Unknown {
        reason: format!("unreadable answer: {e}"),
    })?;
    if a.contains_key("sign") && !super::verify(&a, api_key, SignType::Md5) {
        return Err(Outcome::Unknown {
            reason: "answer signature does not verify".into(),
        });
    }
    Ok(a)
}

fn field<'a>(a: &'a Params, f: &str) -> &'a str {
    a.get(f).map(String::as_str).unwrap_or("")
}

/// Both codes SUCCESS: the call did what was asked.
fn succeeded(a: &Params) -> bool {
    field(a, "return_code") == "SUCCESS" && field(a, "result_code") == "SUCCESS"
}

/// A refusal, classified by its `err_code` whatever `return_code` says: these endpoints put
/// business failures behind `return_code=FAIL` too (seed 002's failure example; the transfers
/// and gethbinfo samples in handsomegyr/wechat Pay337.php:L1335-1343, L637-647). Only a FAIL
/// with no `err_code` (a communication-level failure) is an unknown outcome.
fn refusal(a: &Params, table: fn(&str) -> Class) -> Outcome {
    let code = field(a, "err_code");
    let msg = a
        .get("err_code_des")
        .or_else(|| a.get("return_msg"))
        .cloned()
        .unwrap_or_default();
    if !code.is_empty() {
        return Outcome::from_class(table(code), code, &msg);
    }
    Outcome::Unknown {
        reason: format!(
            "return_code {} result_code {} without err_code: {msg}",
            field(a, "return_code"),
            field(a, "result_code")
        ),
    }
}

/// A send's answer. `send_listid` is WeChat's number for it; seed 002's success example has
/// none, so a success without it is still a success (the query's `detail_id` names it later).
pub fn redpack_outcome(a: &Params) -> Outcome {
    if succeeded(a) {
        return Outcome::Granted {
            upstream_id: field(a, "send_listid").to_string(),
            extra: a.get("package").cloned(),
        };
    }
    refusal(a, policy::classify_redpack)
}

pub fn transfer_outcome(a: &Params) -> Outcome {
    if succeeded(a) {
        return Outcome::Granted {
            upstream_id: field(a, "payment_no").to_string(),
            extra: None,
        };
    }
    refusal(a, policy::classify_transfer)
}

/// A query that failed: NOT_FOUND (nothing under this key, so sending with it is safe), or
/// something about the query itself, which never settles the order.
fn query_refusal(a: &Params) -> Outcome {
    if field(a, "err_code") == "NOT_FOUND" {
        return Outcome::NotFound;
    }
    refusal(a, policy::classify_query)
}

/// `gethbinfo`'s `status`: SENDING 发放中, SENT 已发放待领取, FAILED 发放失败, RECEIVED 已领取,
/// RFUND_ING 退款中 (the document's own spelling), REFUND 已退款 (WxJava
/// WxPayRedpackQueryResult.java:L57-68). A refund in progress is not yet a refund: the red
/// packet counts as sent until REFUND.
pub fn redpack_query_outcome(a: &Params) -> Outcome {
    if !succeeded(a) {
        return query_refusal(a);
    }
    let id = field(a, "detail_id").to_string();
    match field(a, "status") {
        "SENT" | "RFUND_ING" => Outcome::Granted {
            upstream_id: id,
            extra: None,
        },
        "RECEIVED" => Outcome::Received { upstream_id: id },
        "REFUND" => Outcome::Refunded { upstream_id: id },
        "SENDING" => Outcome::Pending {
            code: "SENDING".into(),
            message: field(a, "reason").into(),
        },
        "FAILED" => Outcome::Failed {
            code: "SEND_FAILED".into(),
            message: field(a, "reason").into(),
        },
        other => Outcome::Unknown {
            reason: format!("red packet status {other:?}"),
        },
    }
}

/// `gettransferinfo`'s `status`: SUCCESS, FAILED, PROCESSING (Pay337.php:L1451-1455).
pub fn transfer_query_outcome(a: &Params) -> Outcome {
    if !succeeded(a) {
        return query_refusal(a);
    }
    match field(a, "status") {
        "SUCCESS" => Outcome::Granted {
            upstream_id: field(a, "detail_id").to_string(),
            extra: None,
        },
        "FAILED" => Outcome::Failed {
            code: "TRANSFER_FAILED".into(),
            message: field(a, "reason").into(),
        },
        "PROCESSING" => Outcome::Pending {
            code: "PROCESSING".into(),
            message: field(a, "reason").into(),
        },
        other => Outcome::Unknown {
            reason: format!("transfer status {other:?}"),
        },
    }
}
