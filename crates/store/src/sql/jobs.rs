//! Delivery jobs: claimed fairly across channel accounts under a lease per claim (and, on
//! PostgreSQL, `FOR UPDATE SKIP LOCKED`), under the shared rate buckets and account pauses; each
//! outcome recorded with the order's change, its posting and report, and the job's next step in
//! one transaction.

use super::{buckets, ledger, orders};
use crate::StoreError;
use crate::db::{Db, Dialect};
use crate::records::{Attempt, AttemptRecord, Claimed, Claims};
use rewardgate_core::delivery::JobState;
use rewardgate_core::delivery::{Change, Job, Next, Step};
use rewardgate_core::order::Order;
use rewardgate_core::upstream::UpstreamRequest;

/// Claims up to `limit` due jobs for `worker` with a lease until `lease_until`, fairly across
/// channel accounts: each account with due work gets its share in turn (starting at `rotation`),
/// so a rate-limited backlog on one account never holds back another's orders. Jobs of paused
/// accounts wait; an account whose bucket is empty is passed over until a later claim. A job whose
/// lease ran out mid-send is taken as unknown (`Check`): its send may have gone out. Each claim
/// has its own lease token (`worker#attempt`), so a task that outlived its lease cannot record
/// over the claim that followed it, even in the same process.
pub(crate) fn claim(
    db: &mut dyn Db,
    worker: &str,
    now: i64,
    lease_until: i64,
    limit: i64,
    rotation: usize,
) -> Result<Claims, StoreError> {
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
        .map(|r| r.text("channel_account_id"))
        .collect::<Result<_, _>>()?;
    let step_of = |r: &crate::db::Row| r.parsed("step", Step::parse);
    // Expired leases first: their sends may have gone out, and they are few.
    let mut picked: Vec<(i64, String, Step, bool)> = Vec::new();
    for r in db.query(
        &format!(
            "SELECT order_id, channel_account_id, step FROM jobs WHERE state = 'IN_FLIGHT' AND lease_until < $1 \
             ORDER BY lease_until LIMIT $2{skip}"
        ),
        &[now.into(), limit.into()],
    )? {
        let account = r.text("channel_account_id")?;
        if !paused.contains(&account) {
            picked.push((r.int("order_id")?, account, step_of(&r)?, true));
        }
    }
    // The accounts with ready jobs.
    let mut accounts: Vec<String> = super::distinct(db, "jobs", "channel_account_id", "READY")?
        .into_iter()
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
                let offset = if pass.is_some() { 0 } else { share };
                let rows = db.query(
                    &format!(
                        "SELECT order_id, step FROM jobs WHERE state = 'READY' AND channel_account_id = $1 \
                         AND not_before <= $2 ORDER BY not_before LIMIT $3 OFFSET $4{skip}"
                    ),
                    &[account.as_str().into(), now.into(), n.into(), offset.into()],
                )?;
                if rows.len() as i64 == n {
                    more.push(account);
                }
                for r in rows {
                    let id = r.int("order_id")?;
                    if !picked.iter().any(|p| p.0 == id) {
                        picked.push((id, account.clone(), step_of(&r)?, false));
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
            if !buckets::take(db, &account, now)? {
                empty.push(account);
                continue;
            }
        }
        let j = db.query_one(
            "SELECT attempts + 1 AS attempts, upstream_key, request, first_sent_at FROM jobs WHERE order_id = $1",
            &[order_id.into()],
        )?;
        let attempts = j.int("attempts")?;
        let lease = format!("{worker}#{attempts}");
        db.exec(
            "UPDATE jobs SET state = 'IN_FLIGHT', step = $1, lease_owner = $2, lease_until = $3, attempts = attempts + 1, \
             updated_at = $4 WHERE order_id = $5",
            &[step.as_str().into(), lease.as_str().into(), lease_until.into(), now.into(), order_id.into()],
        )?;
        let order = orders::by_id(db, order_id)?
            .ok_or_else(|| StoreError::Db(format!("job without order {order_id}")))?;
        let request = match j.opt_text("request")? {
            None => None,
            Some(t) => {
                Some(UpstreamRequest::parse(&t, order.product_type).map_err(StoreError::Db)?)
            }
        };
        out.push(Claimed {
            order,
            job: Job {
                step,
                attempts,
                first_sent_at: j.opt_int("first_sent_at")?,
            },
            upstream_key: j.text("upstream_key")?,
            request,
            lease,
        });
    }
    Ok(Claims {
        jobs: out,
        rate_limited: empty,
    })
}

/// Freezes the upstream request at the first send (kept if one is already frozen); the request
/// in force.
pub(crate) fn freeze_request(
    db: &mut dyn Db,
    order: &Order,
    lease: &str,
    request: &UpstreamRequest,
    now: i64,
) -> Result<Option<UpstreamRequest>, StoreError> {
    db.exec(
        "UPDATE jobs SET request = $1, first_sent_at = $2 WHERE order_id = $3 AND lease_owner = $4 AND request IS NULL",
        &[request.to_json().into(), now.into(), order.id.into(), lease.into()],
    )?;
    match db
        .query_opt(
            "SELECT request FROM jobs WHERE order_id = $1",
            &[order.id.into()],
        )?
        .map(|r| r.opt_text("request"))
        .transpose()?
        .flatten()
    {
        None => Ok(None),
        Some(t) => UpstreamRequest::parse(&t, order.product_type)
            .map(Some)
            .map_err(StoreError::Db),
    }
}

/// Records an attempt: the order's change if any (guarded by its version, so a lost lease can
/// never post twice), and the job's next step. False when this claim no longer holds the job —
/// then nothing was written.
pub(crate) fn record(
    db: &mut dyn Db,
    order: &Order,
    lease: &str,
    attempt: &Attempt,
    change: Option<&Change>,
    next: &Next,
    now: i64,
) -> Result<bool, StoreError> {
    let (state, step, not_before) = match next {
        Next::Done => (JobState::Done, attempt.step, now),
        Next::Again { step, not_before } => (JobState::Ready, *step, *not_before),
        Next::Stuck => (JobState::Stuck, attempt.step, now),
    };
    // A job nudged while in flight (`nudge`) is due at once rather than at its own next time.
    let held = db.exec(
        "UPDATE jobs SET state = $1, step = $2, \
         not_before = CASE WHEN nudged_at IS NOT NULL AND CAST($3 AS BIGINT) > CAST($4 AS BIGINT) \
         THEN CAST($4 AS BIGINT) ELSE CAST($3 AS BIGINT) END, \
         lease_owner = NULL, lease_until = NULL, last_error = $5, updated_at = $4, nudged_at = NULL \
         WHERE order_id = $6 AND lease_owner = $7 AND state = 'IN_FLIGHT'",
        &[
            state.as_str().into(),
            step.as_str().into(),
            not_before.into(),
            now.into(),
            attempt.detail.clone().into(),
            order.id.into(),
            lease.into(),
        ],
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
    if let Some(c) = change
        && !apply_change(db, order, c, now)?
    {
        // Rolls this attempt back whole; the job's lease runs out and it is checked again.
        return Err(StoreError::Conflict(format!(
            "order {} changed meanwhile",
            order.order_code
        )));
    }
    Ok(true)
}

/// The order row, its posting and its report, or nothing if the order is not where `c` says.
pub(crate) fn apply_change(
    db: &mut dyn Db,
    order: &Order,
    c: &Change,
    now: i64,
) -> Result<bool, StoreError> {
    let changed = db.exec(
        "UPDATE orders SET status = $1, version = version + 1, upstream_id = COALESCE($2, upstream_id), error_code = $3, \
         error_message = $4, finished_at = COALESCE($5, finished_at), user_confirm = COALESCE($6, user_confirm), \
         updated_at = $7 WHERE id = $8 AND status = $9 AND version = $10",
        &[
            c.to.as_str().into(),
            c.upstream_id.clone().into(),
            c.error_code.clone().into(),
            c.error_message.clone().into(),
            c.finished_at.into(),
            c.user_confirm
                .as_ref()
                .map(|u| serde_json::to_string(u).expect("serializes"))
                .into(),
            now.into(),
            order.id.into(),
            c.from.as_str().into(),
            c.from_version.into(),
        ],
    )?;
    if changed == 0 {
        return Ok(false);
    }
    if let Some((kind, amount)) = c.posting
        && amount.0 > 0
    {
        ledger::post(db, kind, &order.business_id, amount, Some(order.id), now)?;
    }
    if let Some(r) = &c.report {
        super::reports::insert(db, order.id, c.from_version + 1, r, now)?;
    }
    Ok(true)
}

/// Pauses an account until `until`; a pause that is still running keeps its start (`since_at`).
pub(crate) fn pause_account(
    db: &mut dyn Db,
    account: &str,
    until: i64,
    reason: &str,
    now: i64,
) -> Result<(), StoreError> {
    db.exec(
        "INSERT INTO channel_pauses (channel_account_id, until_at, reason, since_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (channel_account_id) DO UPDATE SET until_at = excluded.until_at, reason = excluded.reason, \
         since_at = CASE WHEN channel_pauses.until_at > excluded.since_at THEN channel_pauses.since_at ELSE excluded.since_at END",
        &[account.into(), until.into(), reason.into(), now.into()],
    )?;
    Ok(())
}

/// Re-arms a job that is not final (admin retry): due now, its account's pause lifted, the same
/// key. A job that ever sent goes to `Check` so that it asks before sending.
pub(crate) fn rearm(db: &mut dyn Db, order_id: i64, now: i64) -> Result<bool, StoreError> {
    let Some(j) = db.query_opt(
        "SELECT state, attempts, channel_account_id, step FROM jobs WHERE order_id = $1",
        &[order_id.into()],
    )?
    else {
        return Ok(false);
    };
    let state = j.parsed("state", JobState::parse)?;
    if matches!(state, JobState::Done | JobState::InFlight) {
        return Ok(false);
    }
    let step = match j.parsed("step", Step::parse)? {
        Step::Follow => Step::Follow,
        _ if j.int("attempts")? > 0 => Step::Check,
        _ => Step::Send,
    };
    db.exec(
        "UPDATE jobs SET state = 'READY', step = $1, not_before = $2, updated_at = $2 WHERE order_id = $3",
        &[step.as_str().into(), now.into(), order_id.into()],
    )?;
    db.exec(
        "DELETE FROM channel_pauses WHERE channel_account_id = $1",
        &[j.text("channel_account_id")?.into()],
    )?;
    Ok(true)
}

/// A hint that the upstream has news of the order under `upstream_key` on `account` (a
/// 商家转账 notification): its job, if it is waiting, becomes due now with its step unchanged,
/// so that the dispatcher asks the upstream (the hint itself never moves money); if it is in
/// flight, the hint is kept (`nudged_at`) and the attempt's record makes it due now (`record`).
/// The account's pause, if any, stays. False when no waiting or running job matched (the order
/// is settled, or stuck for an operator).
pub(crate) fn nudge(
    db: &mut dyn Db,
    account: &str,
    upstream_key: &str,
    now: i64,
) -> Result<bool, StoreError> {
    Ok(db.exec(
        "UPDATE jobs SET not_before = CASE WHEN state = 'READY' AND not_before > $1 THEN $1 ELSE not_before END, \
         nudged_at = CASE WHEN state = 'IN_FLIGHT' THEN $1 ELSE nudged_at END \
         WHERE upstream_key = $2 AND channel_account_id = $3 AND state IN ('READY', 'IN_FLIGHT')",
        &[now.into(), upstream_key.into(), account.into()],
    )? > 0)
}

/// Attempts of one order, oldest first.
pub(crate) fn attempts(db: &mut dyn Db, order_id: i64) -> Result<Vec<AttemptRecord>, StoreError> {
    db.query(
        "SELECT step, outcome, detail, latency_ms, worker, at FROM job_attempts WHERE order_id = $1 ORDER BY id",
        &[order_id.into()],
    )?
    .iter()
    .map(|r| {
        Ok(AttemptRecord {
            step: r.parsed("step", Step::parse)?,
            outcome: r.text("outcome")?,
            detail: r.opt_text("detail")?,
            latency_ms: r.int("latency_ms")?,
            worker: r.text("worker")?,
            at: r.int("at")?,
        })
    })
    .collect()
}

/// When the oldest job still to deliver was created.
pub(crate) fn oldest_open(db: &mut dyn Db) -> Result<Option<i64>, StoreError> {
    db.query_one(
        "SELECT MIN(created_at) AS at FROM jobs WHERE state IN ('READY', 'IN_FLIGHT')",
        &[],
    )?
    .opt_int("at")
}

/// How many jobs are in each state.
pub(crate) fn counts(db: &mut dyn Db) -> Result<Vec<(JobState, i64)>, StoreError> {
    db.query(
        "SELECT state, CAST(COUNT(*) AS BIGINT) AS n FROM jobs GROUP BY state ORDER BY state",
        &[],
    )?
    .iter()
    .map(|r| Ok((r.parsed("state", JobState::parse)?, r.int("n")?)))
    .collect()
}
