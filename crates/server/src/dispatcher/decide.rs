//! What an outcome does to an order and its job — the dispatcher's policy in one place:
//! granted → SUCCESS (capture); failed → FAILED (release); unknown → check again with the same
//! key, never a new one; deferred → later, pausing the account when it cannot pay; red packets
//! are then followed to RECEIVED or REFUNDED (credited back). Past the give-up bound a job is
//! marked stuck for an operator, never failed on a guess.

use super::{Ctx, DispatcherConfig, Step};
use crate::views::callback_body;
use rewardgate_channels::{Outcome, Wait};
use rewardgate_core::clock::now_ms;
use rewardgate_core::order::{OrderStatus, PostingKind, ProductType};
use rewardgate_store::StoreError;
use rewardgate_store::jobs::{self, Attempt, Claimed, JobNext, NewNotification, Transition};

pub(super) async fn record(
    ctx: &Ctx,
    job: &Claimed,
    step: Step,
    outcome: Outcome,
    latency_ms: i64,
) {
    let now = now_ms();
    let o = &job.order;
    let (label, detail) = describe(&outcome);
    let plan = plan(&ctx.cfg, job, step, &outcome, now);
    let attempt = Attempt {
        worker: ctx.worker.clone(),
        step,
        outcome: label.to_string(),
        detail: detail.clone(),
        latency_ms,
    };
    if let Some((account, until, reason)) = &plan.pause {
        tracing::error!(alert = true, channel_account = %account, reason = %reason, "channel account paused: its orders wait");
        let (a, u, r) = (account.clone(), *until, reason.clone());
        let _ = ctx
            .state
            .store
            .write(move |db| jobs::pause_account(db, &a, u, &r))
            .await;
    }
    if matches!(plan.next, JobNext::Stuck) {
        tracing::error!(alert = true, order_code = %o.order_code, detail = ?detail, "order stuck: an operator must look (admin retry)");
    }
    let (order, lease, transition, next) = (
        o.clone(),
        job.lease.clone(),
        plan.transition.clone(),
        plan.next.clone(),
    );
    let r = ctx
        .state
        .store
        .write(move |db| {
            jobs::record(
                db,
                &order,
                &lease,
                &attempt,
                transition.as_ref(),
                &next,
                now,
            )
        })
        .await;
    match r {
        Ok(true) => {
            if let Some(t) = &plan.transition {
                tracing::info!(order_code = %o.order_code, from = t.from.as_str(), to = t.to.as_str(), "order status changed");
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

fn describe(o: &Outcome) -> (&'static str, Option<String>) {
    match o {
        Outcome::Granted { upstream_id, .. } => ("GRANTED", Some(upstream_id.clone())),
        Outcome::Failed { code, message } => ("FAILED", Some(format!("{code}: {message}"))),
        Outcome::Unknown { reason } => ("UNKNOWN", Some(reason.clone())),
        Outcome::Deferred { code, message, .. } => ("DEFERRED", Some(format!("{code}: {message}"))),
        Outcome::Pending { code, message } => ("PENDING", Some(format!("{code}: {message}"))),
        Outcome::NotFound => ("NOT_FOUND", None),
        Outcome::Received { upstream_id } => ("RECEIVED", Some(upstream_id.clone())),
        Outcome::Refunded { upstream_id } => ("REFUNDED", Some(upstream_id.clone())),
    }
}

/// What one outcome does: the order's transition (with its posting and report), the job's next
/// step, and a channel account to pause.
pub struct Plan {
    pub transition: Option<Transition>,
    pub next: JobNext,
    pub pause: Option<(String, i64, String)>,
}

/// The next 08:00 in Asia/Shanghai after `now`.
fn shanghai_morning(now: i64) -> i64 {
    let day = 86_400_000;
    let local = now + 8 * 3_600_000;
    let eight = local - local.rem_euclid(day) + 8 * 3_600_000;
    let next = if eight > local { eight } else { eight + day };
    next - 8 * 3_600_000
}

/// The next 00:00 in Asia/Shanghai after `now`, plus five minutes (a daily cap has reset).
fn next_shanghai_day(now: i64) -> i64 {
    let day = 86_400_000;
    let local = now + 8 * 3_600_000;
    local - local.rem_euclid(day) + day - 8 * 3_600_000 + 300_000
}

/// An upstream still working on it (PROCESSING: "二十分钟后查询", the 2017 red-packet table):
/// `first` (a minute by default), doubling to at most 20 times that (twenty minutes).
fn pending_wait(attempts: i64, first: i64) -> i64 {
    (first << attempts.clamp(0, 5)).min(first * 20)
}

/// 0.5 s doubling per attempt up to a minute, with up to a quarter of jitter.
fn backoff(attempts: i64) -> i64 {
    let base = (500i64 << attempts.clamp(0, 7)).min(60_000);
    base + (rewardgate_core::clock::now_ms().rem_euclid(1000) * base / 4000)
}

/// The dispatcher's decision table: pure, so that recorded upstream answers can be run through
/// it in tests.
pub fn plan(
    cfg: &DispatcherConfig,
    job: &Claimed,
    step: Step,
    outcome: &Outcome,
    now: i64,
) -> Plan {
    let o = &job.order;
    let follow = cfg.follow_interval.as_millis() as i64;
    // A sent red packet is followed until it is opened or refunded — WeChat refunds 24 h after
    // the send, so that clock runs from the send, not from the order's creation.
    let too_old = if o.status == OrderStatus::Success {
        let sent = job.first_sent_at.unwrap_or(o.created_at);
        now - sent > cfg.follow_for.as_millis() as i64
    } else {
        now - o.created_at > cfg.give_up_after.as_millis() as i64
    };
    let change = |to: OrderStatus,
                  posting: Option<(PostingKind, rewardgate_core::Fen)>,
                  upstream_id: Option<String>,
                  err: Option<(String, String)>| {
        let finished = matches!(
            to,
            OrderStatus::Success
                | OrderStatus::Failed
                | OrderStatus::Received
                | OrderStatus::Refunded
        )
        .then_some(now);
        let version = o.version + 1;
        let (code, msg) = err.map(|(c, m)| (Some(c), Some(m))).unwrap_or((None, None));
        let notification = o.callback_url.as_ref().map(|target| {
            let notify_id = format!("{}-{version}", o.order_code);
            let body = callback_body(
                o,
                &notify_id,
                to,
                version,
                code.as_deref(),
                msg.as_deref(),
                finished.or(o.finished_at),
            );
            NewNotification {
                notify_id,
                target: target.clone(),
                body,
            }
        });
        Transition {
            from: o.status,
            from_version: o.version,
            to,
            posting,
            upstream_id,
            error_code: code,
            error_message: msg,
            finished_at: finished,
            notification,
        }
    };
    let again = |step: Step, at: i64| Plan {
        transition: None,
        next: JobNext::Again {
            step,
            not_before: at,
        },
        pause: None,
    };
    let red = o.product_type == ProductType::RedPacket;
    match (outcome, o.status) {
        (Outcome::Granted { upstream_id, .. }, OrderStatus::Processing) => Plan {
            transition: Some(change(
                OrderStatus::Success,
                Some((PostingKind::Capture, o.settlement)),
                Some(upstream_id.clone()).filter(|u| !u.is_empty()),
                None,
            )),
            next: if red {
                JobNext::Again {
                    step: Step::Follow,
                    not_before: now + follow,
                }
            } else {
                JobNext::Done
            },
            pause: None,
        },
        // Still SENT: look again later.
        (Outcome::Granted { .. }, OrderStatus::Success) => again(Step::Follow, now + follow),
        // Opened or refunded while we did not know it was sent: record the send first, then
        // follow at once.
        (
            Outcome::Received { upstream_id } | Outcome::Refunded { upstream_id },
            OrderStatus::Processing,
        ) => Plan {
            transition: Some(change(
                OrderStatus::Success,
                Some((PostingKind::Capture, o.settlement)),
                Some(upstream_id.clone()),
                None,
            )),
            next: JobNext::Again {
                step: Step::Follow,
                not_before: now,
            },
            pause: None,
        },
        (Outcome::Received { .. }, OrderStatus::Success) => Plan {
            transition: Some(change(OrderStatus::Received, None, None, None)),
            next: JobNext::Done,
            pause: None,
        },
        // WeChat returned the money: the merchant gets the red packet's amount back (the fee is
        // the platform's, for the service it did).
        (Outcome::Refunded { .. }, OrderStatus::Success) => {
            let back = o.amount.unwrap_or(o.settlement).min(o.settlement);
            Plan {
                transition: Some(change(
                    OrderStatus::Refunded,
                    Some((PostingKind::Refund, back)),
                    None,
                    None,
                )),
                next: JobNext::Done,
                pause: None,
            }
        }
        (Outcome::Failed { code, message }, OrderStatus::Processing) => Plan {
            transition: Some(change(
                OrderStatus::Failed,
                Some((PostingKind::Release, o.settlement)),
                None,
                Some((code.clone(), message.clone())),
            )),
            next: JobNext::Done,
            pause: None,
        },
        // Nothing was granted under this key: send again with it, now.
        (Outcome::NotFound, OrderStatus::Processing) if step == Step::Check => {
            again(Step::Send, now)
        }
        (
            Outcome::Deferred {
                wait,
                message,
                code,
            },
            _,
        ) if !too_old => {
            let step = if step == Step::Follow {
                Step::Follow
            } else {
                job.step
            };
            match wait {
                Wait::ShanghaiMorning => again(step, shanghai_morning(now)),
                Wait::Backoff => again(step, now + 1000 + backoff(0)),
                Wait::NextShanghaiDay => again(step, next_shanghai_day(now)),
                // Unconfirmed credential refusals are turned into one of the others before this.
                Wait::PauseAccount | Wait::Credentials => {
                    let until = now + cfg.pause.as_millis() as i64;
                    Plan {
                        transition: None,
                        next: JobNext::Again {
                            step,
                            not_before: until,
                        },
                        pause: Some((
                            o.channel_account_id.clone(),
                            until,
                            format!("{code}: {message}"),
                        )),
                    }
                }
            }
        }
        // The upstream has it and is still working: ask again in minutes, with the same key.
        (Outcome::Pending { .. }, OrderStatus::Processing) if !too_old => again(
            Step::Check,
            now + pending_wait(job.attempts, cfg.pending_wait.as_millis() as i64),
        ),
        // Unknown, or anything that does not fit the order's status: ask again with the same key.
        _ if too_old => Plan {
            transition: None,
            next: JobNext::Stuck,
            pause: None,
        },
        (_, OrderStatus::Success) => again(Step::Follow, now + follow.min(backoff(job.attempts))),
        _ => again(Step::Check, now + backoff(job.attempts)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn morning_in_shanghai() {
        // 2021-08-12 03:00 Shanghai = 2021-08-11T19:00Z → 08:00 Shanghai = 00:00Z on the 12th.
        assert_eq!(shanghai_morning(1_628_708_400_000), 1_628_726_400_000);
        // 09:00 Shanghai → the next day's 08:00.
        assert_eq!(
            shanghai_morning(1_628_730_000_000),
            1_628_726_400_000 + 86_400_000
        );
        // 2021-08-12 09:00 Shanghai → 2021-08-13 00:05 Shanghai = 2021-08-12T16:05Z.
        assert_eq!(next_shanghai_day(1_628_730_000_000), 1_628_784_300_000);
        assert_eq!(pending_wait(0, 60_000), 60_000);
        assert_eq!(pending_wait(9, 60_000), 1_200_000);
    }
}
