//! The sandbox's own JSON surface (SPEC §9): accounts, faults, effects, claims and the clock.

use crate::Shared;
use crate::state::*;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rewardgate_channels::wechat_v3::crypto::SensitiveDecryptor;
use rewardgate_core::Fen;
use rewardgate_core::json::parse_object;
use rewardgate_core::keys::{RsaPrivateKey, RsaPublicKey, pem_decode};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

mod states;

pub use states::{claim, redpack_state, transfer_state};

fn bad(msg: impl std::fmt::Display) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": msg.to_string()})),
    )
        .into_response()
}

fn ok(v: Value) -> Response {
    Json(v).into_response()
}

/// A yuan amount inside a JSON value (exact text, no float kept).
fn yuan(v: &Value, field: &str) -> Result<i64, String> {
    match v {
        Value::Number(n) => Fen::parse_yuan(&n.to_string())
            .map(|f| f.0)
            .map_err(|e| format!("{field} {e}")),
        _ => Err(format!("{field} must be a number in yuan")),
    }
}

fn opt_yuan(v: &Value, field: &str, default_yuan: i64) -> Result<i64, String> {
    match v.get(field) {
        None | Some(Value::Null) => Ok(default_yuan * 100),
        Some(x) => yuan(x, field),
    }
}

fn int(v: &Value, field: &str) -> Result<i64, String> {
    v.as_i64()
        .filter(|n| *n >= 0)
        .ok_or_else(|| format!("{field} must be a non-negative integer"))
}

pub async fn put_wechat_v2(
    State(s): State<Shared>,
    Path(mch_id): Path<String>,
    body: Bytes,
) -> Response {
    let o = match parse_object(&body) {
        Ok(o) => o,
        Err(e) => return bad(e.message),
    };
    let r = (|| -> Result<V2Account, String> {
        let api_key = o.req_str("apiKey").map_err(|e| e.message)?;
        let app_ids = o
            .opt_str_list("appIds")
            .map_err(|e| e.message)?
            .unwrap_or_default();
        let balance_fen = o
            .opt_nonneg_money("balance")
            .map_err(|e| e.message)?
            .map(|f| f.0)
            .unwrap_or(100_000_000);
        let cert_der = match o.opt_str("certPem").map_err(|e| e.message)? {
            None => None,
            Some(p) => Some(pem_decode(&p).map_err(|e| format!("certPem {e}"))?.1),
        };
        let limit = |f: &str, default_yuan: i64| -> Result<i64, String> {
            Ok(o.opt_money(f)
                .map_err(|e| e.message)?
                .map(|f| f.0)
                .unwrap_or(default_yuan * 100))
        };
        Ok(V2Account {
            api_key,
            app_ids,
            balance_fen,
            cert_der,
            sign_answers: o
                .opt_bool("signAnswers")
                .map_err(|e| e.message)?
                .unwrap_or(false),
            // 商户单日出资金额上限—100万元；单用户单日收款金额上限—1000元 (handsomegyr/wechat
            // Qy/Pay.php:L175-178, the red-packet product rules).
            daily_amount_limit: limit("dailyAmountLimit", 1_000_000)?,
            user_daily_amount_limit: limit("userDailyAmountLimit", 1_000)?,
            scene_range: (
                o.opt_money("sceneMinAmount")
                    .map_err(|e| e.message)?
                    .map(|f| f.0.max(30))
                    .unwrap_or(100),
                o.opt_money("sceneMaxAmount")
                    .map_err(|e| e.message)?
                    .map(|f| f.0.min(499_900))
                    .unwrap_or(20_000),
            ),
            recent_sends: Default::default(),
        })
    })();
    match r {
        Ok(a) => {
            let view = json!({"mchId": mch_id, "appIds": a.app_ids, "balance": Fen(a.balance_fen), "mtls": a.cert_der.is_some()});
            s.with(|st| st.v2.insert(mch_id, a));
            ok(view)
        }
        Err(e) => bad(e),
    }
}

pub async fn put_wechat_v3(
    State(s): State<Shared>,
    Path(mch_id): Path<String>,
    Json(v): Json<Value>,
) -> Response {
    let r = (|| -> Result<V3Account, String> {
        let text = |f: &str| {
            v[f].as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("{f} is required"))
        };
        let merchant_public_key = RsaPublicKey::from_pem(&text("merchantPublicKeyPem")?)
            .map_err(|e| format!("merchantPublicKeyPem {e}"))?;
        let platform_key = RsaPrivateKey::from_pem(&text("platformPrivateKeyPem")?)
            .map_err(|e| format!("platformPrivateKeyPem {e}"))?;
        let mut stocks = HashMap::new();
        for st in v["stocks"].as_array().cloned().unwrap_or_default() {
            let id = st["stockId"]
                .as_str()
                .ok_or("stocks[].stockId is required")?
                .to_string();
            stocks.insert(
                id,
                Stock {
                    coupon_value: yuan(&st["couponValue"], "couponValue")?,
                    remaining: int(&st["remaining"], "remaining")?,
                    max_per_user: st
                        .get("maxPerUser")
                        .map(|m| int(m, "maxPerUser"))
                        .transpose()?
                        .unwrap_or(i64::MAX),
                    per_user: HashMap::new(),
                },
            );
        }
        Ok(V3Account {
            merchant_public_key,
            merchant_serial_no: text("merchantSerialNo")?,
            platform_key: Arc::new(platform_key),
            platform_serial_no: text("platformSerialNo")?,
            max_per_second: v
                .get("maxPerSecond")
                .map(|m| int(m, "maxPerSecond"))
                .transpose()?
                // 发放代金券: "频率限制:500/s" (pay.weixin.qq.com/wiki/doc/apiv3/apis/chapter9_1_2.shtml).
                .unwrap_or(500)
                .max(1) as usize,
            recent: Default::default(),
            stocks,
            api_v3_key: match v.get("apiV3Key").and_then(Value::as_str) {
                None => None,
                // AEAD_AES_256_GCM: the APIv3 key is 32 bytes (wechatpay-go utils/aes.go).
                Some(k) if k.len() == 32 => Some(k.to_string()),
                Some(_) => return Err("apiV3Key must be 32 characters".into()),
            },
            sensitive: Some(Arc::new(
                SensitiveDecryptor::from_pem(&text("platformPrivateKeyPem")?)
                    .map_err(|e| format!("platformPrivateKeyPem {e}"))?,
            )),
            transfer_balance_fen: opt_yuan(&v, "transferBalance", 1_000_000)?,
            // The per-transfer cap is the merchant's setting (商户平台-产品中心-商家转账); 2000 yuan
            // by default, so that user_name's threshold can be reached.
            transfer_max_fen: opt_yuan(&v, "transferMaxAmount", 2_000)?,
        })
    })();
    match r {
        Ok(a) => {
            let stocks: Vec<_> = a
                .stocks
                .iter()
                .map(|(k, st)| json!({"stockId": k, "remaining": st.remaining}))
                .collect();
            s.with(|st| st.v3.insert(mch_id.clone(), a));
            ok(json!({"mchId": mch_id, "stocks": stocks}))
        }
        Err(e) => bad(e),
    }
}

pub async fn put_alipay(
    State(s): State<Shared>,
    Path(app_id): Path<String>,
    Json(v): Json<Value>,
) -> Response {
    let r = (|| -> Result<AliAccount, String> {
        let text = |f: &str| {
            v[f].as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("{f} is required"))
        };
        let app_public_key = RsaPublicKey::from_pem(&text("appPublicKeyPem")?)
            .map_err(|e| format!("appPublicKeyPem {e}"))?;
        let key = RsaPrivateKey::from_pem(&text("alipayPrivateKeyPem")?)
            .map_err(|e| format!("alipayPrivateKeyPem {e}"))?;
        let mut activities = HashMap::new();
        for a in v["activities"].as_array().cloned().unwrap_or_default() {
            let id = a["activityId"]
                .as_str()
                .ok_or("activities[].activityId is required")?
                .to_string();
            activities.insert(
                id,
                AliActivity {
                    amount: yuan(&a["amount"], "amount")?,
                    remaining: int(&a["remaining"], "remaining")?,
                    max_per_user: a
                        .get("maxPerUser")
                        .map(|m| int(m, "maxPerUser"))
                        .transpose()?
                        .unwrap_or(i64::MAX),
                    per_user: HashMap::new(),
                },
            );
        }
        Ok(AliAccount {
            insufficient_permissions: v
                .get("insufficientPermissions")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            app_public_key,
            alipay_private_key: Arc::new(key),
            activities,
        })
    })();
    match r {
        Ok(a) => {
            let acts: Vec<_> = a
                .activities
                .iter()
                .map(|(k, x)| json!({"activityId": k, "remaining": x.remaining}))
                .collect();
            s.with(|st| st.alipay.insert(app_id.clone(), a));
            ok(json!({"appId": app_id, "activities": acts}))
        }
        Err(e) => bad(e),
    }
}

pub async fn put_faults(State(s): State<Shared>, Json(v): Json<Value>) -> Response {
    let rate = |f: &str| -> Result<f64, String> {
        match v.get(f) {
            None | Some(Value::Null) => Ok(0.0),
            Some(x) => x
                .as_f64()
                .filter(|r| (0.0..=1.0).contains(r))
                .ok_or_else(|| format!("{f} must be a rate between 0 and 1")),
        }
    };
    let flag = |f: &str| v.get(f).and_then(Value::as_bool).unwrap_or(false);
    let secs = |f: &str, default: u64, max: u64| {
        v.get(f).and_then(Value::as_u64).unwrap_or(default).min(max)
    };
    let f = (|| -> Result<Faults, String> {
        Ok(Faults {
            system_error: rate("systemError")?,
            timeout: rate("timeout")?,
            not_enough: rate("notEnough")?,
            enforce_time_limit: flag("enforceTimeLimit"),
            timeout_seconds: secs("timeoutSeconds", 15, 300),
            processing: rate("processing")?,
            processing_seconds: secs("processingSeconds", 60, 86_400),
            v2_return_code_fail: flag("v2ReturnCodeFail"),
            v3_unsigned_errors: flag("v3UnsignedErrors"),
            refunding_seconds: secs("refundingSeconds", 600, 86_400),
            query_error: v
                .get("queryError")
                .and_then(Value::as_str)
                .filter(|c| !c.is_empty())
                .map(str::to_string),
            frequency_limited: rate("frequencyLimited")?,
            notify_duplicate: rate("notifyDuplicate")?,
        })
    })();
    match f {
        Ok(f) => {
            s.with(|st| st.faults = f.clone());
            ok(json!(f))
        }
        Err(e) => bad(e),
    }
}

pub async fn get_faults(State(s): State<Shared>) -> Response {
    ok(json!(s.with(|st| st.faults.clone())))
}

pub async fn effects(State(s): State<Shared>) -> Response {
    ok(json!(s.with(|st| st.effects.clone())))
}

pub async fn advance_clock(State(s): State<Shared>, Json(v): Json<Value>) -> Response {
    let Some(secs) = v.get("seconds").and_then(Value::as_i64).filter(|n| *n >= 0) else {
        return bad("seconds must be a non-negative integer");
    };
    let now = s.with(|st| {
        st.clock_offset_ms += secs * 1000;
        st.settle_refunds();
        // Unconfirmed 商家转账 bills close as the clock passes their 24 hours (and notify).
        st.settle_transfer_bills();
        st.now()
    });
    crate::transfer_bills::notify::flush(&s);
    ok(json!({"now": now, "iso": rewardgate_core::clock::rfc3339(now)}))
}

pub async fn stats(State(s): State<Shared>) -> Response {
    ok(s.with(|st| json!({"effects": st.effects.len(), "refusals": st.refusals})))
}
