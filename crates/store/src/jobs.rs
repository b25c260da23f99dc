//! Delivery jobs: claiming with a lease (and, on PostgreSQL, `FOR UPDATE SKIP LOCKED`) under the
//! shared rate buckets and account pauses; order transitions with their postings, notification
//! and the job's next step, each in one transaction.

use crate::StoreError;
use crate::db::{Db, Dialect};
use crate::ops::{order_by_id, post};
use crate::records::OrderRecord;
use rewardgate_core::Fen;
use rewardgate_core::order::{OrderStatus, PostingKind};

/// What a job does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Send (the first time, or again with the same key after a query found nothing).
    Send,
    /// The last send's outcome is unknown: query, or resend with the same key.
    Check,
    /// A red packet was sent: follow it until the user opens it or it is refunded.
    Follow,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Send => "SEND",
            Step::Check => "CHECK",
            Step::Follow => "FOLLOW",
        }
    }
    pub fn parse(s: &str) -> Step {
        match s {
            "CHECK" => Step::Check,
            "FOLLOW" => Step::Follow,
            _ => Step::Send,
        }
    }
}

/// A job this worker holds the lease of.
#[derive(Clone, Debug)]
pub struct Claimed {
    pub order: OrderRecord,
    pub step: Step,
    pub attempts: i64,
    pub upstream_key: String,
    /// The upstream request frozen at the first send.
    pub request: Option<String>,
    pub first_sent_at: Option<i64>,
    /// This claim's lease token: only it may record the attempt.
    pub lease: String,
}

/// A rate bucket's settings, from the channel account.
#[derive(Clone, Copy, Debug)]
pub struct Rate {
    pub per_minute: i64,
    pub capacity: i64,
}

pub fn set_rate(
    db: &mut dyn Db,
    channel_account_id: &str,
    rate: Option<Rate>,
    now: i64,
) -> Result<(), StoreError> {
    match rate {
        None => {
            db.exec(
                "DELETE FROM rate_buckets WHERE channel_account_id = $1",
                &[channel_account_id.into()],
            )?;
        }
        Some(r) => {
            db.exec(
                "INSERT INTO rate_buckets (channel_account_id, rate_per_minute, capacity, units, refilled_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (channel_account_id) DO UPDATE \
                 SET rate_per_minute = excluded.rate_per_minute, capacity = excluded.capacity",
                &[channel_account_id.into(), r.per_minute.into(), r.capacity.into(), (r.capacity * UNITS).into(), now.into()],
            )?;
        }
    }
    Ok(())
}

/// One token in the bucket's units: a token per minute accrues `rate` units a millisecond, so a
/// token is 60 000 units and the arithmetic stays exact in integers.
const UNITS: i64 = 60_000;

/// Takes one token from the account's bucket if it has one (no bucket: unlimited).
pub(crate) fn take_token(
    db: &mut dyn Db,
    channel_account_id: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let lock = if db.dialect() == Dialect::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    let row = db.query_opt(
        &format!("SELECT rate_per_minute, capacity, units, refilled_at FROM rate_buckets WHERE channel_account_id = $1{lock}"),
        &[channel_account_id.into()],
    )?;
    let Some(r) = row else { return Ok(true) };
    let (rate, cap, units, at) = (r.int(0), r.int(1), r.int(2), r.int(3));
    let elapsed = (now - at).max(0);
    let units = (units + elapsed * rate).min(cap * UNITS);
    let (left, took) = if units >= UNITS {
        (units - UNITS, true)
    } else {
        (units, false)
    };
    db.exec(
        "UPDATE rate_buckets SET units = $1, refilled_at = $2 WHERE channel_account_id = $3",
        &[left.into(), now.max(at).into(), channel_account_id.into()],
    )?;
    Ok(took)
}

/// Claims up to `limit` due jobs for `worker` with a lease until `lease_until`, fairly across
/// channel accounts: each account with due work gets its share in turn (starting at `rotation`),
/// so a rate-limited backlog on one account never holds back another's orders. Jobs of paused
/// accounts wait; an account whose bucket is empty is passed over until a later claim. A job whose
/// lease ran out mid-send is taken as unknown (`Check`): its send may have gone out. Each claim
/// has its own lease token (`worker#attempt`), so a task that outlived its lease cannot record
/// over the claim that followed it, even in the same process.
pub fn claim(
    db: &mut dyn Db,
    worker: &str,
    now: i64,
    lease_until: i64,
    limit: i64,
    rotation: usize,
) -> Result<Vec<Claimed>, StoreError> {
    let skip = if db.dialect() == Dialect::Postgres {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let paused: Vec<String> = db
        .query(
            "SELECT channel_account_id FROM channel_pauses WHERE until_at > $1",
            &[now.into()],
        )?
        .iter()
        .map(|r| r.text(0))
        .collect();
    // Expired leases first: their sends may have gone out, and they are few.
    let mut picked: Vec<(i64, String, Step, bool)> = db
        .query(
            &format!(
                "SELECT order_id, channel_account_id, step FROM jobs WHERE state = 'IN_FLIGHT' AND lease_until < $1 \
                 ORDER BY lease_until LIMIT $2{skip}"
            ),
            &[now.into(), limit.into()],
        )?
        .iter()
        .filter(|r| !paused.contains(&r.text(1)))
        .map(|r| (r.int(0), r.text(1), Step::parse(&r.text(2)), true))
        .collect();
    // The accounts with ready jobs: a loose index scan, one probe per account.
    let mut accounts: Vec<String> = db
        .query(
            "WITH RECURSIVE a(id) AS (\
               SELECT MIN(channel_account_id) FROM jobs WHERE state = 'READY' \
               UNION ALL \
               SELECT (SELECT MIN(channel_account_id) FROM jobs WHERE state = 'READY' AND channel_account_id > a.id) \
               FROM a WHERE a.id IS NOT NULL) \
             SELECT id FROM a WHERE id IS NOT NULL",
            &[],
        )?
        .iter()
        .map(|r| r.text(0))
        .filter(|a| !paused.contains(a))
        .collect();
    if !accounts.is_empty() {
        let k = rotation % accounts.len();
        accounts.rotate_left(k);
    }
    // Each account its share first, then what the others left over to those that had more.
    let room = (limit - picked.len() as i64).max(0);
    if room > 0 && !accounts.is_empty() {
        let share = (room / accounts.len() as i64).max(1);
        let mut more: Vec<&String> = Vec::new();
        for pass in [Some(share), None] {
            let list: Vec<&String> = match pass {
                Some(_) => accounts.iter().collect(),
                None => std::mem::take(&mut more),
            };
            for account in list {
                let room = limit - picked.len() as i64;
                if room <= 0 {
                    break;
                }
                let n = pass.unwrap_or(room).min(room);
                let rows = db.query(
                    &format!(
                        "SELECT order_id, step FROM jobs WHERE state = 'READY' AND channel_account_id = $1 \
                         AND not_before <= $2 ORDER BY not_before LIMIT $3 OFFSET $4{skip}"
                    ),
                    &[account.as_str().into(), now.into(), n.into(), if pass.is_some() { 0i64 } else { share }.into()],
                )?;
                if rows.len() as i64 == n {
                    more.push(account);
                }
                for r in rows {
                    if !picked.iter().any(|p| p.0 == r.int(0)) {
                        picked.push((r.int(0), account.clone(), Step::parse(&r.text(1)), false));
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    let mut empty: Vec<String> = Vec::new();
    for (order_id, account, step, expired) in picked {
        if out.len() as i64 >= limit {
            break;
        }
        let step = if expired && step == Step::Send {
            Step::Check
        } else {
            step
        };
        if step != Step::Follow {
            if empty.contains(&account) {
                continue;
            }
            if !take_token(db, &account, now)? {
                empty.push(account);
                continue;
            }
        }
        let j = db.query_one(
            "SELECT attempts + 1, upstream_key, request, first_sent_at FROM jobs WHERE order_id = $1",
            &[order_id.into()],
        )?;
        let lease = format!("{worker}#{}", j.int(0));
        db.exec(
            "UPDATE jobs SET state = 'IN_FLIGHT', step = $1, lease_owner = $2, lease_until = $3, attempts = attempts + 1, \
             updated_at = $4 WHERE order_id = $5",
            &[step.as_str().into(), lease.as_str().into(), lease_until.into(), now.into(), order_id.into()],
        )?;
        let order = order_by_id(db, order_id)?
            .ok_or_else(|| StoreError::Db(format!("job without order {order_id}")))?;
        out.push(Claimed {
            order,
            step,
            attempts: j.int(0),
            upstream_key: j.text(1),
            request: j.opt_text(2),
            first_sent_at: j.opt_int(3),
            lease,
        });
    }
    Ok(out)
}

/// Freezes the upstream request at the first send (kept if one is already frozen); the request in force.
pub fn freeze_request(
    db: &mut dyn Db,
    order_id: i64,
    lease: &str,
    request: &str,
    now: i64,
) -> Result<Option<String>, StoreError> {
    db.exec(
        "UPDATE jobs SET request = $1, first_sent_at = $2 WHERE order_id = $3 AND lease_owner = $4 AND request IS NULL",
        &[request.into(), now.into(), order_id.into(), lease.into()],
    )?;
    Ok(db
        .query_opt(
            "SELECT request FROM jobs WHERE order_id = $1",
            &[order_id.into()],
        )?
        .and_then(|r| r.opt_text(0)))
}

/// A callback to write with a transition.
#[derive(Clone, Debug)]
pub struct NewNotification {
    pub notify_id: String,
    pub target: String,
    pub body: String,
}

/// Where the job goes after an attempt.
#[derive(Clone, Debug)]
pub enum JobNext {
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
#[derive(Clone, Debug)]
pub struct Transition {
    pub from: OrderStatus,
    pub from_version: i64,
    pub to: OrderStatus,
    pub posting: Option<(PostingKind, Fen)>,
    pub upstream_id: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub finished_at: Option<i64>,
    pub notification: Option<NewNotification>,
}

/// One attempt's record, for operators.
#[derive(Clone, Debug)]
pub struct Attempt {
    /// The process that made it.
    pub worker: String,
    pub step: Step,
    pub outcome: String,
    pub detail: Option<String>,
    pub latency_ms: i64,
}

/// Records an attempt: the order's transition if any (guarded by its version, so a lost lease
/// can never post twice), and the job's next step. False when this worker no longer holds the
/// job or the order moved on meanwhile — then nothing was written.
pub fn record(
    db: &mut dyn Db,
    order: &OrderRecord,
    lease: &str,
    attempt: &Attempt,
    transition: Option<&Transition>,
    next: &JobNext,
    now: i64,
) -> Result<bool, StoreError> {
    let (state, step, not_before) = match next {
        JobNext::Done => ("DONE", attempt.step, now),
        JobNext::Again { step, not_before } => ("READY", *step, *not_before),
        JobNext::Stuck => ("STUCK", attempt.step, now),
    };
    let held = db.exec(
        "UPDATE jobs SET state = $1, step = $2, not_before = $3, lease_owner = NULL, lease_until = NULL, last_error = $4, \
         updated_at = $5 WHERE order_id = $6 AND lease_owner = $7 AND state = 'IN_FLIGHT'",
        &[state.into(), step.as_str().into(), not_before.into(), attempt.detail.clone().into(), now.into(), order.id.into(), lease.into()],
    )?;
    if held == 0 {
        return Ok(false);
    }
    db.exec(
        "INSERT INTO job_attempts (order_id, step, outcome, detail, latency_ms, worker, at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            order.id.into(),
            attempt.step.as_str().into(),
            attempt.outcome.as_str().into(),
            attempt.detail.clone().into(),
            attempt.latency_ms.into(),
            attempt.worker.as_str().into(),
            now.into(),
        ],
    )?;
    if let Some(t) = transition
        && !apply_transition(db, order, t, now)?
    {
        // Rolls this attempt back whole; the job's lease runs out and it is checked again.
        return Err(StoreError::Conflict(format!(
            "order {} changed meanwhile",
            order.order_code
        )));
    }
    Ok(true)
}

/// The order row, its posting and its notification, or nothing if the order is not where `t`
/// says it is.
pub fn apply_transition(
    db: &mut dyn Db,
    order: &OrderRecord,
    t: &Transition,
    now: i64,
) -> Result<bool, StoreError> {
    let changed = db.exec(
        "UPDATE orders SET status = $1, version = version + 1, upstream_id = COALESCE($2, upstream_id), error_code = $3, \
         error_message = $4, finished_at = COALESCE($5, finished_at), updated_at = $6 \
         WHERE id = $7 AND status = $8 AND version = $9",
        &[
            t.to.as_str().into(),
            t.upstream_id.clone().into(),
            t.error_code.clone().into(),
            t.error_message.clone().into(),
            t.finished_at.into(),
            now.into(),
            order.id.into(),
            t.from.as_str().into(),
            t.from_version.into(),
        ],
    )?;
    if changed == 0 {
        return Ok(false);
    }
    if let Some((kind, amount)) = t.posting
        && amount.0 > 0
    {
        post(db, kind, &order.business_id, amount, Some(order.id), now)?;
    }
    if let Some(n) = &t.notification {
        db.exec(
            "INSERT INTO notifications (notify_id, order_id, version, target, body, state, attempts, next_at, created_at, host) \
             VALUES ($1, $2, $3, $4, $5, 'PENDING', 0, $6, $6, $7)",
            &[n.notify_id.as_str().into(), order.id.into(), (t.from_version + 1).into(), n.target.as_str().into(), n.body.as_str().into(), now.into(),
              crate::notifications::host_of(&n.target).into()],
        )?;
    }
    Ok(true)
}

pub fn pause_account(
    db: &mut dyn Db,
    channel_account_id: &str,
    until: i64,
    reason: &str,
) -> Result<(), StoreError> {
    db.exec(
        "INSERT INTO channel_pauses (channel_account_id, until_at, reason) VALUES ($1, $2, $3) \
         ON CONFLICT (channel_account_id) DO UPDATE SET until_at = excluded.until_at, reason = excluded.reason",
        &[channel_account_id.into(), until.into(), reason.into()],
    )?;
    Ok(())
}

/// Re-arms a job that is not final (admin retry): due now, its account's pause lifted, the same
/// key. A job that ever sent goes to `Check` so that it asks before sending.
pub fn rearm(db: &mut dyn Db, order_id: i64, now: i64) -> Result<bool, StoreError> {
    let Some(j) = db.query_opt(
        "SELECT state, attempts, channel_account_id, step FROM jobs WHERE order_id = $1",
        &[order_id.into()],
    )?
    else {
        return Ok(false);
    };
    if j.text(0) == "DONE" || j.text(0) == "IN_FLIGHT" {
        return Ok(false);
    }
    let step = match Step::parse(&j.text(3)) {
        Step::Follow => Step::Follow,
        _ if j.int(1) > 0 => Step::Check,
        _ => Step::Send,
    };
    db.exec(
        "UPDATE jobs SET state = 'READY', step = $1, not_before = $2, updated_at = $2 WHERE order_id = $3",
        &[step.as_str().into(), now.into(), order_id.into()],
    )?;
    db.exec(
        "DELETE FROM channel_pauses WHERE channel_account_id = $1",
        &[j.text(2).into()],
    )?;
    Ok(true)
}

/// One recorded attempt of an order.
#[derive(Clone, Debug)]
pub struct AttemptRecord {
    pub step: String,
    pub outcome: String,
    pub detail: Option<String>,
    pub latency_ms: i64,
    pub worker: String,
    pub at: i64,
}

/// Attempts of one order, oldest first.
pub fn attempts(db: &mut dyn Db, order_id: i64) -> Result<Vec<AttemptRecord>, StoreError> {
    Ok(db
        .query(
            "SELECT step, outcome, detail, latency_ms, worker, at FROM job_attempts WHERE order_id = $1 ORDER BY id",
            &[order_id.into()],
        )?
        .iter()
        .map(|r| AttemptRecord { step: r.text(0), outcome: r.text(1), detail: r.opt_text(2), latency_ms: r.int(3), worker: r.text(4), at: r.int(5) })
        .collect())
}

/// How many jobs are in each state (for progress displays and tests).
pub fn job_counts(db: &mut dyn Db) -> Result<Vec<(String, i64)>, StoreError> {
    Ok(db
        .query(
            "SELECT state, COUNT(*) FROM jobs GROUP BY state ORDER BY state",
            &[],
        )?
        .iter()
        .map(|r| (r.text(0), r.int(1)))
        .collect())
}
