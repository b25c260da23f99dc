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
    pub host: String,
    pub body: String,
    pub attempts: i64,
    /// This claim's lease token: only it may record the attempt.
    pub lease: String,
}

/// The key a target's concurrency is counted by (host and port, no user information); targets
/// that do not parse share one key and are refused when sent.
pub fn host_of(target: &str) -> String {
    rewardgate_core::target::parse(target)
        .map(|u| rewardgate_core::target::host_key(&u))
        .unwrap_or_default()
}

/// Claims up to `limit` due reports, host by host: each host with due reports gets at most
/// `room(host)` (what its concurrency limit leaves free in this process), in turns starting at
/// `rotation`, so that one slow host's backlog never holds back another's reports. A report waits
/// while an earlier version of the same order is still pending, so that merchants see an order's
/// changes in order. Reports whose lease ran out are taken again first.
pub fn claim(
    db: &mut dyn Db,
    worker: &str,
    now: i64,
    lease_until: i64,
    limit: i64,
    room: &dyn Fn(&str) -> i64,
    rotation: usize,
) -> Result<Vec<Due>, StoreError> {
    let skip = if db.dialect() == Dialect::Postgres {
        " FOR UPDATE OF n SKIP LOCKED"
    } else {
        ""
    };
    let in_order = "NOT EXISTS (SELECT 1 FROM notifications m WHERE m.order_id = n.order_id AND m.version < n.version \
                    AND m.state IN ('PENDING', 'SENDING'))";
    let select = "SELECT n.notify_id, n.order_id, o.business_id, n.target, n.body, n.attempts, n.host FROM notifications n \
                  JOIN orders o ON o.id = n.order_id";
    let mut rows = db.query(
        &format!(
            "{select} WHERE n.state = 'SENDING' AND n.lease_until < $1 ORDER BY n.lease_until LIMIT $2{skip}"
        ),
        &[now.into(), limit.into()],
    )?;
    let mut hosts: Vec<String> = db
        .query(
            "WITH RECURSIVE h(host) AS (\
               SELECT MIN(host) FROM notifications WHERE state = 'PENDING' \
               UNION ALL \
               SELECT (SELECT MIN(host) FROM notifications WHERE state = 'PENDING' AND host > h.host) \
               FROM h WHERE h.host IS NOT NULL) \
             SELECT host FROM h WHERE host IS NOT NULL",
            &[],
        )?
        .iter()
        .map(|r| r.text(0))
        .collect();
    if !hosts.is_empty() {
        let k = rotation % hosts.len();
        hosts.rotate_left(k);
    }
    for host in hosts {
        let left = limit - rows.len() as i64;
        if left <= 0 {
            break;
        }
        let taken = rows.iter().filter(|r| r.text(6) == host).count() as i64;
        let n = (room(&host) - taken).min(left);
        if n <= 0 {
            continue;
        }
        rows.extend(db.query(
            &format!(
                "{select} WHERE n.state = 'PENDING' AND n.host = $1 AND n.next_at <= $2 AND {in_order} \
                 ORDER BY n.next_at LIMIT $3{skip}"
            ),
            &[host.as_str().into(), now.into(), n.into()],
        )?);
    }
    let mut out = Vec::new();
    for r in rows {
        let attempts = r.int(5);
        let d = Due {
            notify_id: r.text(0),
            order_id: r.int(1),
            business_id: r.text(2),
            target: r.text(3),
            body: r.text(4),
            attempts,
            host: r.text(6),
            lease: format!("{worker}@{now}"),
        };
        db.exec(
            "UPDATE notifications SET state = 'SENDING', lease_owner = $1, lease_until = $2 WHERE notify_id = $3",
            &[d.lease.as_str().into(), lease_until.into(), d.notify_id.as_str().into()],
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
    lease: &str,
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
        &[state.into(), next_at.into(), a.error.clone().into(), now.into(), notify_id.into(), lease.into()],
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
