//! The delivery decision: what one upstream outcome does to an order and its job. Pure — the
//! dispatcher carries the plan out (one transaction: the order's change with its posting and
//! report, the job's next step), the store keeps it.
//!
//! - granted → SUCCESS (capture); failed → FAILED (release); red packets are then followed until
//!   RECEIVED or REFUNDED (the red packet's amount credited back; the fee is the platform's);
//! - unknown → check again with the same key, never a new one; pending (the upstream is still
//!   working) → check again in minutes;
//! - deferred → later with the same step, pausing the account when it cannot pay;
//! - past the give-up bound (from creation, or for a sent red packet from its send) → stuck for
//!   an operator, never failed on a guess.

use crate::Fen;
use crate::ids::ChannelAccountId;
use crate::order::{Event, Order, OrderStatus, PostingKind, ProductType, transition};
use crate::outcome::{Outcome, Wait};
use crate::report::Report;
use serde::{Deserialize, Serialize};

/// A delivery job's state (what the dispatcher does with it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobState {
    /// Due at its `not_before`.
    Ready,
    /// Claimed under a lease.
    InFlight,
    /// Nothing more to do.
    Done,
    /// Given up: an operator must look (admin retry re-arms it).
    Stuck,
}

impl JobState {
    pub const ALL: [JobState; 4] = [
        JobState::Ready,
        JobState::InFlight,
        JobState::Done,
        JobState::Stuck,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Ready => "READY",
            JobState::InFlight => "IN_FLIGHT",
            JobState::Done => "DONE",
            JobState::Stuck => "STUCK",
        }
    }
    pub fn parse(s: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// What a job does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    /// Send (the first time, or again with the same key after a query found nothing).
    Send,
    /// The last send's outcome is unknown: query, or resend with the same key.
    Check,
    /// A red packet was sent: follow it until the user opens it or it is refunded.
    Follow,
}

impl Step {
    pub const ALL: [Step; 3] = [Step::Send, Step::Check, Step::Follow];
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Send => "SEND",
            Step::Check => "CHECK",
            Step::Follow => "FOLLOW",
        }
    }
    pub fn parse(s: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// The job as the decision sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Job {
    /// The step it was claimed for.
    pub step: Step,
    /// Claims so far, this one included.
    pub attempts: i64,
    /// When its request first went out.
    pub first_sent_at: Option<i64>,
}

/// The timing rules, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// How often a sent red packet is looked at until it is opened or refunded.
    pub follow_interval: i64,
    /// After this long since acceptance an order that cannot be settled is stuck.
    pub give_up_after: i64,
    /// After this long since its send a red packet still followed is stuck.
    pub follow_for: i64,
    /// How long an account that cannot pay is paused.
    pub pause: i64,
    /// The first wait before asking again about a request the upstream is processing.
    pub pending_wait: i64,
    /// How long after its send a 商家转账 waiting for the user is asked about before it is
    /// stuck: WeChat closes an unconfirmed bill after 24 hours (CANCELLED, the money back), and a
    /// query must see that end before the hold is released.
    pub await_user_for: i64,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            follow_interval: 1_800_000,
            give_up_after: 86_400_000,
            follow_for: 3 * 86_400_000,
            pause: 300_000,
            pending_wait: 60_000,
            await_user_for: 2 * 86_400_000,
        }
    }
}

/// Where the job goes after an attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    Done,
    /// Run `step` again from `not_before`.
    Again {
        step: Step,
        not_before: i64,
    },
    /// Given up: an operator must look (admin retry re-arms it).
    Stuck,
}

/// An order's change of status, with everything that goes with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub from: OrderStatus,
    pub from_version: i64,
    pub to: OrderStatus,
    pub posting: Option<(PostingKind, Fen)>,
    pub upstream_id: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub finished_at: Option<i64>,
    /// A 商家转账 now waiting for the user: what the merchant's app needs (kept on the order).
    pub user_confirm: Option<crate::order::UserConfirm>,
    /// The status report to send (none without a callback target).
    pub report: Option<Report>,
}

/// A channel account to pause, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pause {
    pub account: ChannelAccountId,
    pub until: i64,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub change: Option<Change>,
    pub next: Next,
    pub pause: Option<Pause>,
}

impl Plan {
    fn again(step: Step, not_before: i64) -> Plan {
        Plan {
            change: None,
            next: Next::Again { step, not_before },
            pause: None,
        }
    }
}

/// The next 08:00 in Asia/Shanghai after `now` (WeChat red packets are not sent 00:00–08:00).
pub fn shanghai_morning(now: i64) -> i64 {
    let day = 86_400_000;
    let local = now + 8 * 3_600_000;
    let eight = local - local.rem_euclid(day) + 8 * 3_600_000;
    let next = if eight > local { eight } else { eight + day };
    next - 8 * 3_600_000
}

/// The next 00:00 in Asia/Shanghai after `now`, plus five minutes (a daily cap has reset).
pub fn next_shanghai_day(now: i64) -> i64 {
    let day = 86_400_000;
    let local = now + 8 * 3_600_000;
    local - local.rem_euclid(day) + day - 8 * 3_600_000 + 300_000
}

/// An upstream still working on it ("二十分钟后查询"): `first`, doubling to twenty times that.
pub fn pending_wait(attempts: i64, first: i64) -> i64 {
    (first << attempts.clamp(0, 5)).min(first * 20)
}

/// 0.5 s doubling per attempt up to a minute, with up to a quarter of jitter (from `now`, so
/// that the decision stays a function of its inputs).
pub fn backoff(attempts: i64, now: i64) -> i64 {
    let base = (500i64 << attempts.clamp(0, 7)).min(60_000);
    base + now.rem_euclid(1000) * base / 4000
}

/// What a refunded red packet credits back: its amount — the fee stays with the platform, for
/// the service it did.
pub fn refund_amount(o: &Order) -> Fen {
    o.amount.unwrap_or(o.settlement).min(o.settlement)
}

/// The order's change for `event`, from the one status machine (`order::transition`).
fn change(
    o: &Order,
    event: Event,
    upstream_id: Option<String>,
    error: Option<(String, String)>,
    now: i64,
) -> Option<Change> {
    let (to, posting) = transition(o.status, event, o.product_type).ok()?;
    let amount = match posting {
        Some(PostingKind::Refund) => refund_amount(o),
        _ => o.settlement,
    };
    let finished_at = (to != OrderStatus::Processing).then_some(now);
    let (error_code, error_message) = error.map(|(c, m)| (Some(c), Some(m))).unwrap_or_default();
    let version = o.version + 1;
    let report = o.callback_url.as_ref().map(|target| {
        Report::new(
            o,
            version,
            to,
            error_code.as_deref(),
            error_message.as_deref(),
            finished_at.or(o.finished_at),
            target,
        )
    });
    Some(Change {
        from: o.status,
        from_version: o.version,
        to,
        posting: posting.map(|k| (k, amount)),
        upstream_id: upstream_id.filter(|u| !u.is_empty()),
        error_code,
        error_message,
        finished_at,
        user_confirm: None,
        report,
    })
}

/// A 商家转账 reached the user (SPEC §10): the order stays PROCESSING, but it changes — its
/// version grows, it keeps `userConfirm`, and a report carries it to the merchant.
fn awaiting_user(o: &Order, confirm: &crate::order::UserConfirm) -> Change {
    let version = o.version + 1;
    let report = o
        .callback_url
        .as_ref()
        .map(|target| Report::awaiting_user(o, version, confirm, target));
    Change {
        from: o.status,
        from_version: o.version,
        to: o.status,
        posting: None,
        upstream_id: None,
        error_code: None,
        error_message: None,
        finished_at: None,
        user_confirm: Some(confirm.clone()),
        report,
    }
}

/// What `outcome` of the call made for `step` does to `o` and its `job`.
pub fn decide(o: &Order, job: &Job, step: Step, outcome: &Outcome, p: &Policy, now: i64) -> Plan {
    use OrderStatus::*;
    let red = o.product_type == ProductType::RedPacket;
    // A sent red packet is followed until it is opened or refunded — WeChat refunds 24 h after
    // the send, so that clock runs from the send, not from the order's creation.
    // A 商家转账 waiting for the user runs on WeChat's 24-hour confirmation clock, from its send.
    let awaiting = o.user_confirm.is_some() || matches!(outcome, Outcome::AwaitingUser { .. });
    let too_old = if o.status == Success {
        now - job.first_sent_at.unwrap_or(o.created_at) > p.follow_for
    } else if awaiting && o.status == Processing {
        now - job.first_sent_at.unwrap_or(o.created_at) > p.await_user_for
    } else {
        now - o.created_at > p.give_up_after
    };
    let with = |event, upstream_id: Option<String>, error, next| {
        let c = change(o, event, upstream_id, error, now);
        Plan {
            change: c,
            next,
            pause: None,
        }
    };
    let follow_soon = |at| Next::Again {
        step: Step::Follow,
        not_before: at,
    };
    match (outcome, o.status) {
        (Outcome::Granted { upstream_id, .. }, Processing) => with(
            Event::Delivered,
            Some(upstream_id.clone()),
            None,
            if red {
                follow_soon(now + p.follow_interval)
            } else {
                Next::Done
            },
        ),
        // Still SENT (or a refund only in progress): look again later.
        (Outcome::Granted { .. }, Success) if !too_old => {
            Plan::again(Step::Follow, now + p.follow_interval)
        }
        // Opened or refunded while we did not know it was sent: record the send first, then
        // follow at once.
        (Outcome::Received { upstream_id } | Outcome::Refunded { upstream_id }, Processing) => {
            with(
                Event::Delivered,
                Some(upstream_id.clone()),
                None,
                follow_soon(now),
            )
        }
        (Outcome::Received { .. }, Success) => with(Event::Received, None, None, Next::Done),
        (Outcome::Refunded { .. }, Success) => with(Event::Refunded, None, None, Next::Done),
        (Outcome::Failed { code, message }, Processing) => with(
            Event::Failed,
            None,
            Some((code.clone(), message.clone())),
            Next::Done,
        ),
        // Nothing was granted under this key: send again with it, now.
        (Outcome::NotFound, Processing) if step == Step::Check => Plan::again(Step::Send, now),
        (
            Outcome::Deferred {
                wait,
                code,
                message,
            },
            _,
        ) if !too_old => {
            let step = if step == Step::Follow {
                Step::Follow
            } else {
                job.step
            };
            match wait {
                Wait::ShanghaiMorning => Plan::again(step, shanghai_morning(now)),
                Wait::Backoff => Plan::again(step, now + 1000 + backoff(0, now)),
                Wait::NextShanghaiDay => Plan::again(step, next_shanghai_day(now)),
                // Unconfirmed credential refusals are turned into one of the others before this.
                Wait::PauseAccount | Wait::Credentials => {
                    let until = now + p.pause;
                    Plan {
                        change: None,
                        next: Next::Again {
                            step,
                            not_before: until,
                        },
                        pause: Some(Pause {
                            account: o.channel_account_id.clone(),
                            until,
                            reason: format!("{code}: {message}"),
                        }),
                    }
                }
            }
        }
        // Newly waiting for the user: keep what the app needs and tell the merchant; then ask
        // again in minutes, as for any pending request.
        (Outcome::AwaitingUser { confirm }, Processing)
            if !too_old && o.user_confirm.as_ref() != Some(confirm) =>
        {
            Plan {
                change: Some(awaiting_user(o, confirm)),
                next: Next::Again {
                    step: Step::Check,
                    not_before: now + pending_wait(job.attempts, p.pending_wait),
                },
                pause: None,
            }
        }
        // The upstream has it and is still working: ask again in minutes, with the same key.
        (Outcome::Pending { .. } | Outcome::AwaitingUser { .. }, Processing) if !too_old => {
            Plan::again(
                Step::Check,
                now + pending_wait(job.attempts, p.pending_wait),
            )
        }
        // Unknown, or anything that does not fit the order's status: ask again with the same key.
        _ if too_old => Plan {
            change: None,
            next: Next::Stuck,
            pause: None,
        },
        (_, Success) => Plan::again(
            Step::Follow,
            now + p.follow_interval.min(backoff(job.attempts, now)),
        ),
        _ => Plan::again(Step::Check, now + backoff(job.attempts, now)),
    }
}
