//! The callback outbox: claiming due reports with a lease (one order's reports strictly in
//! version order), recording each attempt, scheduling retries, redelivery.

use crate::StoreError;
use crate::db::{Db, Dialect};
use crate::records::NotificationRecord;

/// A report to send, with what signing it needs.
#[derive(Clone, Debug)]
pub struct Due {
    pub notify_id: String,
    pub order_id: i64,
    pub business_id: String,
    pub target: String,
    pub body: String,
    pub attempts: i64,
}

/// Claims up to `limit` due reports. A report waits while an earlier version of the same order
/// is still pending, so that merchants see an order's changes in order.
pub fn claim(
    db: &mut dyn Db,
    worker: &str,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> Result<Vec<Due>, StoreError> {
    let skip = if db.dialect() == Dialect::Postgres {
        " FOR UPDATE OF n SKIP LOCKED"
    } else {
        ""
    };
    let rows = db.query(
        &format!(
            "SELECT n.notify_id, n.order_id, o.business_id, n.target, n.body, n.attempts FROM notifications n \
             JOIN orders o ON o.id = n.order_id \
             WHERE ((n.state = 'PENDING' AND n.next_at <= $1) OR (n.state = 'SENDING' AND n.lease_until < $1)) \
             AND NOT EXISTS (SELECT 1 FROM notifications m WHERE m.order_id = n.order_id AND m.version < n.version \
                             AND m.state IN ('PENDING', 'SENDING')) \
             ORDER BY n.next_at LIMIT {limit}{skip}"
        ),
        &[now.into()],
    )?;
    let mut out = Vec::new();
    for r in rows {
        let d = Due {
            notify_id: r.text(0),
            order_id: r.int(1),
            business_id: r.text(2),
            target: r.text(3),
            body: r.text(4),
            attempts: r.int(5),
        };
        db.exec(
            "UPDATE notifications SET state = 'SENDING', lease_owner = $1, lease_until = $2 WHERE notify_id = $3",
            &[worker.into(), lease_until.into(), d.notify_id.as_str().into()],
        )?;
        out.push(d);
    }
    Ok(out)
}

/// One delivery attempt's result.
#[derive(Clone, Debug)]
pub struct Attempted {
    pub http_status: Option<i64>,
    pub latency_ms: i64,
    pub error: Option<String>,
    pub delivered: bool,
}

/// Records an attempt; `retry_at` None after a failure means the report is given up (FAILED).
pub fn record(
    db: &mut dyn Db,
    notify_id: &str,
    worker: &str,
    a: &Attempted,
    retry_at: Option<i64>,
    now: i64,
) -> Result<bool, StoreError> {
    let (state, next_at) = match (a.delivered, retry_at) {
        (true, _) => ("DELIVERED", now),
        (false, Some(t)) => ("PENDING", t),
        (false, None) => ("FAILED", now),
    };
    let n = db.exec(
        "UPDATE notifications SET state = $1, next_at = $2, attempts = attempts + 1, last_error = $3, lease_owner = NULL, \
         lease_until = NULL, delivered_at = CASE WHEN $1 = 'DELIVERED' THEN $4 ELSE delivered_at END \
         WHERE notify_id = $5 AND lease_owner = $6 AND state = 'SENDING'",
        &[state.into(), next_at.into(), a.error.clone().into(), now.into(), notify_id.into(), worker.into()],
    )?;
    if n == 0 {
        return Ok(false);
    }
    db.exec(
        "INSERT INTO notification_attempts (notify_id, at, http_status, latency_ms, error) VALUES ($1, $2, $3, $4, $5)",
        &[notify_id.into(), now.into(), a.http_status.into(), a.latency_ms.into(), a.error.clone().into()],
    )?;
    Ok(true)
}

/// Sends a report again from the start of its schedule (operator's redeliver). False if unknown
/// or being sent right now.
pub fn redeliver(db: &mut dyn Db, notify_id: &str, now: i64) -> Result<bool, StoreError> {
    let n = db.exec(
        "UPDATE notifications SET state = 'PENDING', next_at = $1, attempts = 0 WHERE notify_id = $2 AND state <> 'SENDING'",
        &[now.into(), notify_id.into()],
    )?;
    Ok(n == 1)
}

/// One delivery attempt of a report, as recorded.
#[derive(Clone, Debug)]
pub struct AttemptLog {
    pub at: i64,
    pub http_status: Option<i64>,
    pub latency_ms: i64,
    pub error: Option<String>,
}

/// Attempts of one report, oldest first.
pub fn attempts_of(db: &mut dyn Db, notify_id: &str) -> Result<Vec<AttemptLog>, StoreError> {
    Ok(db
        .query(
            "SELECT at, http_status, latency_ms, error FROM notification_attempts WHERE notify_id = $1 ORDER BY id",
            &[notify_id.into()],
        )?
        .iter()
        .map(|r| AttemptLog { at: r.int(0), http_status: r.opt_int(1), latency_ms: r.int(2), error: r.opt_text(3) })
        .collect())
}

pub fn by_id(db: &mut dyn Db, notify_id: &str) -> Result<Option<NotificationRecord>, StoreError> {
    let order = db.query_opt(
        "SELECT order_id FROM notifications WHERE notify_id = $1",
        &[notify_id.into()],
    )?;
    match order {
        None => Ok(None),
        Some(r) => Ok(crate::ops::notifications_of(db, r.int(0))?
            .into_iter()
            .find(|n| n.notify_id == notify_id)),
    }
}
