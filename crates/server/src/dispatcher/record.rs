//! Carries out what the domain decided about an outcome: the account's pause, then the attempt
//! with the order's change and the job's next step in one transaction.

use super::Ctx;
use rewardgate_channels::Outcome;
use rewardgate_core::clock::now_ms;
use rewardgate_core::delivery::{Next, Step, decide};
use rewardgate_store::{Attempt, Claimed, StoreError};

pub(super) async fn record(
    ctx: &Ctx,
    job: &Claimed,
    step: Step,
    outcome: Outcome,
    latency_ms: i64,
) {
    let now = now_ms();
    let o = &job.order;
    let (label, detail) = outcome.describe();
    let plan = decide(o, &job.job, step, &outcome, &ctx.cfg.policy(), now);
    if let Some(p) = &plan.pause {
        tracing::error!(alert = true, channel_account = %p.account, reason = %p.reason, "channel account paused: its orders wait");
        if let Err(e) = ctx
            .state
            .store
            .pause_account(p.account.to_string(), p.until, p.reason.clone(), now)
            .await
        {
            tracing::warn!(error = %e, "channel account pause not recorded");
        }
    }
    if plan.next == Next::Stuck {
        tracing::error!(alert = true, order_code = %o.order_code, detail = ?detail, "order stuck: an operator must look (admin retry)");
    }
    let attempt = Attempt {
        worker: ctx.worker.clone(),
        step,
        outcome: label.to_string(),
        detail,
        latency_ms,
    };
    let to = plan.change.as_ref().map(|c| (c.from, c.to));
    let r = ctx
        .state
        .store
        .record_attempt(
            o.clone(),
            job.lease.clone(),
            attempt,
            plan.change,
            plan.next,
            now,
        )
        .await;
    match r {
        Ok(true) => {
            if let Some((from, to)) = to {
                tracing::info!(order_code = %o.order_code, from = from.as_str(), to = to.as_str(), "order status changed");
            }
        }
        Ok(false) => {
            tracing::warn!(order_code = %o.order_code, "lease lost before recording; the job will be checked again")
        }
        Err(StoreError::Conflict(e)) => {
            tracing::warn!(order_code = %o.order_code, error = %e, "outcome not recorded; will check again")
        }
        Err(e) => {
            tracing::error!(order_code = %o.order_code, error = %e, "outcome not recorded; will check again")
        }
    }
}
