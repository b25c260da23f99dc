//! The upstream request of an order, built once from the order and the catalogue and frozen in
//! the job: every retry sends exactly it again, so a changed template can never turn a retry into
//! a different request under the same key.

use super::Ctx;
use rewardgate_channels::wechat_v2::Params;
use rewardgate_core::catalog::{Activity, ChannelAccount, Product, Template};
use rewardgate_core::order::ProductType;
use rewardgate_store::jobs::Claimed;
use serde_json::{Value, json};

/// Why no request could be built: what it needs is gone (the order fails: nothing was sent), or
/// could not be read (asked again: a read error is never a verdict).
pub enum BuildError {
    Missing(String),
    Read(String),
}

/// A catalogue object the request needs.
async fn needed<T: serde::de::DeserializeOwned>(
    ctx: &Ctx,
    kind: &'static str,
    what: &str,
    id: &Option<String>,
) -> Result<T, BuildError> {
    let id = id.clone().unwrap_or_default();
    match ctx.state.catalog(kind, &id).await {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Err(BuildError::Missing(format!("{what} {id} no longer exists"))),
        Err(e) => Err(BuildError::Read(e.message)),
    }
}

pub async fn build(
    ctx: &Ctx,
    job: &Claimed,
    account: &ChannelAccount,
) -> Result<String, BuildError> {
    let o = &job.order;
    let app_id = o.app_id.clone().unwrap_or_else(|| account.app_id.clone());
    let v = match o.product_type {
        ProductType::RedPacket if o.delivery.is_some() => {
            // Rabbitpre: the caller's texts and mode, frozen with the order.
            let d: Value = serde_json::from_str(o.delivery.as_deref().unwrap_or("{}"))
                .map_err(|e| BuildError::Missing(e.to_string()))?;
            json!({
                "mch_billno": job.upstream_key,
                "wxappid": app_id,
                "send_name": d["sendName"],
                "re_openid": o.open_id,
                "total_amount": o.amount.map(|f| f.0).unwrap_or(0).to_string(),
                "total_num": "1",
                "wishing": d["wishing"],
                "client_ip": d["clientIp"].as_str().unwrap_or(&ctx.cfg.client_ip),
                "act_name": d["actName"],
                "remark": d["remark"],
                "notify_way": d["notifyWay"],
                "mode": if d["notifyWay"] == "MINI_PROGRAM_JSAPI" { "MINI_PROGRAM" } else { "NORMAL" },
            })
        }
        ProductType::RedPacket => {
            let t: Template = needed(ctx, "template", "template", &o.template_id).await?;
            let mut p = json!({
                "mch_billno": job.upstream_key,
                "wxappid": app_id,
                "send_name": t.send_name,
                "re_openid": o.open_id,
                "total_amount": o.amount.map(|f| f.0).unwrap_or(0).to_string(),
                "total_num": "1",
                "wishing": t.wishing,
                "client_ip": ctx.cfg.client_ip,
                "act_name": t.act_name,
                "remark": t.remark,
            });
            if let Some(scene) = t.scene_id {
                p["scene_id"] = json!(scene);
            }
            p
        }
        ProductType::WechatTransfer => {
            let p: Product = needed(ctx, "product", "product", &o.product_code).await?;
            json!({
                "mch_appid": app_id,
                "partner_trade_no": job.upstream_key,
                "openid": o.open_id,
                "check_name": "NO_CHECK",
                "amount": o.amount.map(|f| f.0).unwrap_or(0).to_string(),
                "desc": o.description.clone().unwrap_or(p.name),
                "spbill_create_ip": ctx.cfg.client_ip,
            })
        }
        ProductType::WechatCoupon | ProductType::AlipayCoupon => {
            let a: Activity = needed(ctx, "activity", "activity", &o.activity_id).await?;
            if o.product_type == ProductType::WechatCoupon {
                json!({"openid": o.open_id, "stock_id": a.upstream_id, "appid": app_id})
            } else {
                json!({"template_id": a.upstream_id, "login_id": o.mobile})
            }
        }
    };
    Ok(v.to_string())
}

/// The string members of a frozen request as WeChat Pay v2 parameters (`mode` is ours).
pub fn params(v: &Value) -> Params {
    v.as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| k.as_str() != "mode")
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}
