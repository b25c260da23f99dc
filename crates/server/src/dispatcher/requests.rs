//! The upstream request of an order, built once from the order and the catalogue at its first
//! send (then frozen with the job by the store).

use super::Ctx;
use rewardgate_core::catalog::{
    Activity, CatalogObject, ChannelAccount, ChannelKind, Product, Template,
};
use rewardgate_core::order::ProductType;
use rewardgate_core::upstream::UpstreamRequest;
use rewardgate_store::Claimed;
use std::collections::BTreeMap;

/// Why no request could be built: what it needs is gone (the order fails: nothing was sent), or
/// could not be read (asked again: a read error is never a verdict).
pub(super) enum BuildError {
    Missing(String),
    Read(String),
}

/// A catalogue object the request needs.
async fn needed<T: CatalogObject>(ctx: &Ctx, id: &Option<String>) -> Result<T, BuildError> {
    let id = id.clone().unwrap_or_default();
    match ctx.state.catalog(&id).await {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Err(BuildError::Missing(format!(
            "{} {id} no longer exists",
            T::KIND
        ))),
        Err(e) => Err(BuildError::Read(e.message)),
    }
}

fn params<const N: usize>(pairs: [(&str, String); N]) -> BTreeMap<String, String> {
    pairs
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

pub(super) async fn build(
    ctx: &Ctx,
    job: &Claimed,
    account: &ChannelAccount,
) -> Result<UpstreamRequest, BuildError> {
    let o = &job.order;
    let app_id = o.app_id.clone().unwrap_or_else(|| account.app_id.clone());
    let key = job.upstream_key.clone();
    let amount = o.amount.map(|f| f.0).unwrap_or(0).to_string();
    let open_id = o.open_id.clone().unwrap_or_default();
    Ok(match o.product_type {
        // Rabbitpre: the caller's texts and mode, frozen with the order.
        ProductType::RedPacket if o.delivery.is_some() => {
            let d = o.delivery.clone().expect("checked");
            let mini = d.mini_program();
            let mut p = params([
                ("mch_billno", key),
                ("wxappid", app_id),
                ("send_name", d.send_name),
                ("re_openid", open_id),
                ("total_amount", amount),
                ("total_num", "1".into()),
                ("wishing", d.wishing),
                ("act_name", d.act_name),
                ("remark", d.remark),
            ]);
            if mini {
                p.insert("notify_way".into(), "MINI_PROGRAM_JSAPI".into());
            } else {
                p.insert(
                    "client_ip".into(),
                    d.client_ip.unwrap_or_else(|| ctx.cfg.client_ip.clone()),
                );
            }
            UpstreamRequest::RedPacket { params: p, mini }
        }
        ProductType::RedPacket => {
            let t: Template = needed(ctx, &o.template_id).await?;
            UpstreamRequest::RedPacket {
                params: params([
                    ("mch_billno", key),
                    ("wxappid", app_id),
                    ("send_name", t.send_name),
                    ("re_openid", open_id),
                    ("total_amount", amount),
                    ("total_num", "1".into()),
                    ("wishing", t.wishing),
                    ("client_ip", ctx.cfg.client_ip.clone()),
                    ("act_name", t.act_name),
                    ("remark", t.remark),
                    ("scene_id", t.scene_id.unwrap_or_default()),
                ]),
                mini: false,
            }
        }
        // 商家转账 on a WECHAT_V3 account (SPEC §10).
        ProductType::WechatTransfer if account.kind == ChannelKind::WechatV3 => {
            let p: Product = needed(ctx, &o.product_code).await?;
            let description = o
                .description
                .clone()
                .filter(|d| !d.trim().is_empty())
                .unwrap_or_else(|| p.name.clone());
            UpstreamRequest::TransferBill {
                appid: app_id,
                openid: open_id,
                amount: o.amount.map(|f| f.0).unwrap_or(0),
                // Shown to the user: at most 32 characters (doc 4012716434 transfer_remark).
                remark: description.chars().take(32).collect(),
                activity_name: p.name.chars().take(32).collect(),
                reward_description: description.chars().take(32).collect(),
                notify_url: ctx
                    .cfg
                    .public_url
                    .as_ref()
                    .map(|u| format!("{u}/v1/notify/wechat/transfer-bills/{}", account.id)),
            }
        }
        ProductType::WechatTransfer => {
            let p: Product = needed(ctx, &o.product_code).await?;
            UpstreamRequest::Transfer {
                params: params([
                    ("mch_appid", app_id),
                    ("partner_trade_no", key),
                    ("openid", open_id),
                    ("check_name", "NO_CHECK".into()),
                    ("amount", amount),
                    ("desc", o.description.clone().unwrap_or(p.name)),
                    ("spbill_create_ip", ctx.cfg.client_ip.clone()),
                ]),
            }
        }
        ProductType::WechatCoupon => {
            let a: Activity = needed(ctx, &o.activity_id).await?;
            UpstreamRequest::WechatCoupon {
                openid: open_id,
                stock_id: a.upstream_id,
                appid: app_id,
            }
        }
        ProductType::AlipayCoupon => {
            let a: Activity = needed(ctx, &o.activity_id).await?;
            UpstreamRequest::AlipayVoucher {
                template_id: a.upstream_id,
                login_id: o.mobile.clone().unwrap_or_default(),
            }
        }
    })
}
