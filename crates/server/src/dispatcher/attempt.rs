//! One attempt: the call the job's step asks for, with the order's key and frozen request, and
//! what the upstream's answer means (`Outcome`). A credential refusal is confirmed with a
//! known-good request of the account's before it may pause the account.

use super::Ctx;
use super::clients::ChannelClient;
use super::requests::{self, BuildError};
use rewardgate_channels::{Outcome, Probe, Wait};
use rewardgate_core::catalog::ChannelAccount;
use rewardgate_core::clock::now_ms;
use rewardgate_core::delivery::Step;
use rewardgate_core::upstream::UpstreamRequest;
use rewardgate_store::Claimed;

/// A read that fails says nothing about the catalogue: ask again soon, never a verdict.
fn store_down(what: &str, e: impl std::fmt::Display) -> Outcome {
    Outcome::Deferred {
        code: "STORE_UNAVAILABLE".into(),
        message: format!("reading the {what} failed: {e}"),
        wait: Wait::Backoff,
    }
}

/// Makes the call the job's step asks for; the outcome and the step really taken.
pub(super) async fn attempt(ctx: &Ctx, job: &Claimed) -> (Outcome, Step) {
    let o = &job.order;
    let step = job.job.step;
    let account: ChannelAccount = match ctx.state.catalog(&o.channel_account_id).await {
        Ok(Some(a)) => a,
        Ok(None) => {
            let missing = Outcome::Deferred {
                code: "NO_CHANNEL_ACCOUNT".into(),
                message: format!("channel account {} is missing", o.channel_account_id),
                wait: Wait::PauseAccount,
            };
            return (missing, step);
        }
        Err(e) => return (store_down("channel account", e.message), step),
    };
    let client = match ctx.state.clients.get(&account) {
        Ok(c) => c,
        Err(e) => {
            let bad = Outcome::Deferred {
                code: "CHANNEL_CONFIG".into(),
                message: e,
                wait: Wait::PauseAccount,
            };
            return (bad, step);
        }
    };
    let request = match &job.request {
        Some(r) => r.clone(),
        None => match requests::build(ctx, job, &account).await {
            Ok(r) => {
                let frozen = ctx
                    .state
                    .store
                    .freeze_request(o.clone(), job.lease.clone(), r, now_ms())
                    .await;
                match frozen {
                    Ok(Some(r)) => r,
                    _ => {
                        let unfrozen = Outcome::Unknown {
                            reason: "could not freeze the upstream request".into(),
                        };
                        return (unfrozen, step);
                    }
                }
            }
            Err(BuildError::Missing(e)) => {
                let gone = Outcome::Failed {
                    code: "CATALOG".into(),
                    message: e,
                };
                return (gone, step);
            }
            Err(BuildError::Read(e)) => return (store_down("catalogue", e), step),
        },
    };
    let key = job.upstream_key.as_str();
    match (&*client, &request) {
        (ChannelClient::WechatV2(c), UpstreamRequest::RedPacket { params, mini }) => {
            // Ask before sending again: only NOT_FOUND allows the resend with the same key.
            if step != Step::Send {
                let q = c.query_redpack(key, request.appid().unwrap_or("")).await;
                if !(q == Outcome::NotFound && step == Step::Check) {
                    return (q, step);
                }
            }
            (c.send_redpack(params.clone(), *mini).await, Step::Send)
        }
        (ChannelClient::WechatV2(c), UpstreamRequest::Transfer { params }) => {
            if step != Step::Send {
                let q = c.query_transfer(key, request.appid().unwrap_or("")).await;
                if q != Outcome::NotFound {
                    return (q, step);
                }
            }
            (c.transfer(params.clone()).await, Step::Send)
        }
        // 商家转账: a send creates the bill (the client confirms a refusal by a query); a check
        // queries it, resending the same request only when there is no bill under the number
        // (decide turns NotFound into a send) or when a bill waits for the user and its package —
        // which only a create answer carries — was never seen (a create lost to a timeout).
        (ChannelClient::WechatV3(c), UpstreamRequest::TransferBill { .. }) => {
            let req = transfer_bill(key, &request).expect("matched a TransferBill");
            if step == Step::Send {
                return (c.create_transfer_bill(&req, None).await.outcome, step);
            }
            let q = c.query_transfer_bill(key).await.outcome;
            let needs_package = o.user_confirm.is_none()
                && matches!(&q, Outcome::Pending { code, .. } if code == "WAIT_USER_CONFIRM");
            if needs_package {
                return (c.create_transfer_bill(&req, None).await.outcome, Step::Send);
            }
            (q, step)
        }
        // v3 coupons answer a resend with the same key idempotently ("接口支持幂等重入"): that is
        // how an unknown outcome is settled, and a refusal of the resend is the first send's own.
        (
            ChannelClient::WechatV3(c),
            UpstreamRequest::WechatCoupon {
                openid,
                stock_id,
                appid,
            },
        ) => (
            c.send_coupon(openid, stock_id, key, Some(appid)).await,
            step,
        ),
        (
            ChannelClient::Alipay(c),
            UpstreamRequest::AlipayVoucher {
                template_id,
                login_id,
            },
        ) => {
            let o = c.send_voucher(template_id, login_id, key).await;
            let o = if step == Step::Check {
                rewardgate_channels::alipay::policy::after_unknown(o)
            } else {
                o
            };
            (o, step)
        }
        _ => {
            let mismatch = Outcome::Failed {
                code: "CHANNEL_MISMATCH".into(),
                message: format!(
                    "channel account {} cannot deliver {}",
                    account.id,
                    o.product_type.as_str()
                ),
            };
            (mismatch, step)
        }
    }
}

/// The create request of a frozen `TransferBill` under the job's key `out_bill_no`.
fn transfer_bill(
    out_bill_no: &str,
    r: &UpstreamRequest,
) -> Option<rewardgate_channels::wechat_v3::transfer_bills::CreateRequest> {
    use rewardgate_channels::wechat_v3::transfer_bills::{CreateRequest, Perception};
    let UpstreamRequest::TransferBill {
        appid,
        openid,
        amount,
        remark,
        activity_name,
        reward_description,
        notify_url,
    } = r
    else {
        return None;
    };
    Some(CreateRequest {
        appid: appid.clone(),
        out_bill_no: out_bill_no.to_string(),
        openid: openid.clone(),
        transfer_amount: *amount,
        transfer_remark: remark.clone(),
        notify_url: notify_url.clone(),
        perception: Perception::CashReward,
        activity_name: activity_name.clone(),
        reward_description: reward_description.clone(),
        // Not collected: a transfer of 2000 yuan or more is refused before it is sent.
        user_name_ciphertext: None,
    })
}

/// One order's request was refused for the account's credentials or rights. Before the account
/// is paused for every merchant, a known-good request of the account's (one that carries nothing
/// of any order's) must be refused the same way; if it is not, the refusal was this order's own
/// doing: a send that was never executed fails (nothing was granted), a query stays unknown.
pub(super) async fn confirm_credentials(
    ctx: &Ctx,
    job: &Claimed,
    step: Step,
    outcome: Outcome,
) -> Outcome {
    let Outcome::Deferred {
        wait: Wait::Credentials,
        code,
        message,
    } = outcome
    else {
        return outcome;
    };
    let o = &job.order;
    let probe = match ctx
        .state
        .catalog::<ChannelAccount>(&o.channel_account_id)
        .await
    {
        Ok(Some(account)) => match ctx.state.clients.get(&account) {
            Ok(client) => match &*client {
                ChannelClient::WechatV2(c) => {
                    let appid = o.app_id.clone().unwrap_or_else(|| account.app_id.clone());
                    c.probe(&appid).await
                }
                ChannelClient::WechatV3(c) => match &job.request {
                    Some(UpstreamRequest::TransferBill { .. }) => c.probe_transfer_bills().await,
                    Some(UpstreamRequest::WechatCoupon { stock_id, .. }) => c.probe(stock_id).await,
                    _ => c.probe("0").await,
                },
                ChannelClient::Alipay(c) => c.probe().await,
            },
            Err(e) => Probe::Unclear(e),
        },
        Ok(None) => Probe::Unclear("channel account missing".into()),
        Err(e) => Probe::Unclear(e.message),
    };
    match probe {
        Probe::Reproduced(why) => Outcome::Deferred {
            code,
            message: format!("{message} (a known-good request was refused too: {why})"),
            wait: Wait::PauseAccount,
        },
        // A 商家转账 ends only on a query's FAIL or CANCELLED (doc 4012716434: change the number
        // only "当查询原订单结果明确为“失败”时"): a refusal of its create, even this order's own, is
        // asked again with the same number — an operator sees it stuck if it never settles.
        Probe::Healthy if matches!(job.request, Some(UpstreamRequest::TransferBill { .. })) => {
            Outcome::Unknown {
                reason: format!("{code}: {message} (a 商家转账 is settled by its query)"),
            }
        }
        Probe::Healthy if step == Step::Send => Outcome::Failed {
            code,
            message: format!(
                "{message} (refused for this order alone: the account's credentials work)"
            ),
        },
        Probe::Healthy => Outcome::Unknown {
            reason: format!("{code}: {message} (a query refused for this order alone)"),
        },
        Probe::Unclear(why) => Outcome::Deferred {
            code,
            message: format!("{message} (could not check the account: {why})"),
            wait: Wait::Backoff,
        },
    }
}
