//! The callback outbox (SPEC §5): reports written with each order change, claimed host by host
//! under a lease per claim (one order's reports strictly in version order), each attempt recorded,
//! retries scheduled, redelivery.

use crate::StoreError;
use crate::db::{Db, Dialect, Row};
use crate::records::{Attempted, DueReport, ReportAttempt, ReportRecord};
use rewardgate_core::report::Report;
use rewardgate_core::report::ReportState;

/// The key a target's concurrency is counted by (host and port, no user information); targets
/// that do not parse share one key and are refused when sent.
pub(crate) fn host_of(target: &str) -> String {
    rewardgate_core::target::parse(target)
        .map(|u| rewardgate_core::target::host_key(&u))
        .unwrap_or_default()
}

pub(crate) fn insert(
    db: &mut dyn Db,
    order_id: i64,
    version: i64,
    r: &Report,
    now: i64,
) -> Result<(), StoreError> {
    db.exec(
        "INSERT INTO notifications (notify_id, order_id, version, target, body, state, attempts, next_at, created_at, host) \
         VALUES ($1, $2, $3, $4, $5, 'PENDING', 0, $6, $6, $7)",
        &[
            r.notify_id.as_str().into(),
            order_id.into(),
            version.into(),
            r.target.as_str().into(),
            r.body.as_str().into(),
            now.into(),
            host_of(&r.target).into(),
        ],
    )?;
    Ok(())
}

const DUE_COLUMNS: &str = "SELECT n.notify_id, n.order_id, o.business_id, n.target, n.body, n.attempts, n.host \
                           FROM notifications n JOIN orders o ON o.id = n.order_id";

/// Claims up to `limit` due reports, host by host: each host with due reports gets at most
/// `room(host)` (what its concurrency limit leaves free in this process), in turns starting at
/// `rotation`, so that one slow host's backlog never holds back another's reports. A report waits
/// while an earlier version of the same order is still pending, so that merchants see an order's
/// changes in order. Reports whose lease ran out are taken again first, within their host's room.
pub(crate) fn claim(
    db: &mut dyn Db,
    worker: &str,
    now: i64,
    lease_until: i64,
    limit: i64,
    room: &dyn Fn(&str) -> i64,
    rotation: usize,
) -> Result<Vec<DueReport>, StoreError> {
    let skip = if db.dialect() == Dialect::Postgres {
        " FOR UPDATE OF n SKIP LOCKED"
    } else {
        ""
    };
    let in_order = "NOT EXISTS (SELECT 1 FROM notifications m WHERE m.order_id = n.order_id AND m.version < n.version \
                    AND m.state IN ('PENDING', 'SENDING'))";
    let mut rows: Vec<Row> = db.query(
        &format!("{DUE_COLUMNS} WHERE n.state = 'SENDING' AND n.lease_until < $1 ORDER BY n.lease_until LIMIT $2{skip}"),
        &[now.into(), limit.into()],
    )?;
    // Those count against their host's room like the rest (a process taking over the leases of
    // several stopped ones would otherwise hold a hanging host's whole backlog at once); the
    // others stay for a later claim.
    let mut again: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
    rows.retain(|r| {
        let host = r.text("host").unwrap_or_default();
        let room = room(&host);
        let n = again.entry(host).or_insert(0);
        *n += 1;
        *n <= room
    });
    let mut hosts = super::distinct(db, "notifications", "host", "PENDING")?;
    if !hosts.is_empty() {
        let k = rotation % hosts.len();
        hosts.rotate_left(k);
    }
    for host in hosts {
        let left = limit - rows.len() as i64;
        if left <= 0 {
            break;
        }
        let taken = rows
            .iter()
            .filter(|r| r.text("host").is_ok_and(|h| h == host))
            .count() as i64;
        let n = (room(&host) - taken).min(left);
        if n <= 0 {
            continue;
        }
        rows.extend(db.query(
            &format!(
                "{DUE_COLUMNS} WHERE n.state = 'PENDING' AND n.host = $1 AND n.next_at <= $2 AND {in_order} \
                 ORDER BY n.next_at LIMIT $3{skip}"
            ),
            &[host.as_str().into(), now.into(), n.into()],
        )?);
    }
    let mut out = Vec::new();
    for r in rows {
        let d = DueReport {
            notify_id: r.text("notify_id")?,
            order_id: r.int("order_id")?,
            business_id: r.text("business_id")?.into(),
            target: r.text("target")?,
            body: r.text("body")?,
            attempts: r.int("attempts")?,
            host: r.text("host")?,
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

/// Records an attempt; `retry_at` None after a failure means the report is given up (FAILED).
pub(crate) fn record(
    db: &mut dyn Db,
    notify_id: &str,
    lease: &str,
    a: &Attempted,
    retry_at: Option<i64>,
    now: i64,
) -> Result<bool, StoreError> {
    let (state, next_at) = match (a.delivered, retry_at) {
        (true, _) => (ReportState::Delivered, now),
        (false, Some(t)) => (ReportState::Pending, t),
        (false, None) => (ReportState::Failed, now),
    };
    let delivered_at = (state == ReportState::Delivered).then_some(now);
    let n = db.exec(
        "UPDATE notifications SET state = $1, next_at = $2, attempts = attempts + 1, last_error = $3, lease_owner = NULL, \
         lease_until = NULL, delivered_at = COALESCE($4, delivered_at) \
         WHERE notify_id = $5 AND lease_owner = $6 AND state = 'SENDING'",
        &[
            state.as_str().into(),
            next_at.into(),
            a.error.clone().into(),
            delivered_at.into(),
            notify_id.into(),
            lease.into(),
        ],
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
pub(crate) fn redeliver(db: &mut dyn Db, notify_id: &str, now: i64) -> Result<bool, StoreError> {
    let n = db.exec(
        "UPDATE notifications SET state = 'PENDING', next_at = $1, attempts = 0 WHERE notify_id = $2 AND state <> 'SENDING'",
        &[now.into(), notify_id.into()],
    )?;
    Ok(n == 1)
}

/// Attempts of one report, oldest first.
pub(crate) fn attempts(db: &mut dyn Db, notify_id: &str) -> Result<Vec<ReportAttempt>, StoreError> {
    db.query(
        "SELECT at, http_status, latency_ms, error FROM notification_attempts WHERE notify_id = $1 ORDER BY id",
        &[notify_id.into()],
    )?
    .iter()
    .map(|r| {
        Ok(ReportAttempt {
            at: r.int("at")?,
            http_status: r.opt_int("http_status")?,
            latency_ms: r.int("latency_ms")?,
            error: r.opt_text("error")?,
        })
    })
    .collect()
}

const REPORT_COLUMNS: &str = "SELECT notify_id, order_id, version, target, body, state, attempts, next_at, last_error, \
                              created_at, delivered_at FROM notifications";

fn decode(r: &Row) -> Result<ReportRecord, StoreError> {
    Ok(ReportRecord {
        notify_id: r.text("notify_id")?,
        order_id: r.int("order_id")?,
        version: r.int("version")?,
        target: r.text("target")?,
        body: r.text("body")?,
        state: r.parsed("state", ReportState::parse)?,
        attempts: r.int("attempts")?,
        next_at: r.int("next_at")?,
        last_error: r.opt_text("last_error")?,
        created_at: r.int("created_at")?,
        delivered_at: r.opt_int("delivered_at")?,
    })
}

/// The reports of one order, in version order.
pub(crate) fn of_order(db: &mut dyn Db, order_id: i64) -> Result<Vec<ReportRecord>, StoreError> {
    db.query(
        &format!("{REPORT_COLUMNS} WHERE order_id = $1 ORDER BY version"),
        &[order_id.into()],
    )?
    .iter()
    .map(decode)
    .collect()
}

pub(crate) fn by_id(db: &mut dyn Db, notify_id: &str) -> Result<Option<ReportRecord>, StoreError> {
    db.query_opt(
        &format!("{REPORT_COLUMNS} WHERE notify_id = $1"),
        &[notify_id.into()],
    )?
    .as_ref()
    .map(decode)
    .transpose()
}

/// How many reports are in each state.
pub(crate) fn counts(db: &mut dyn Db) -> Result<Vec<(ReportState, i64)>, StoreError> {
    db.query(
        "SELECT state, CAST(COUNT(*) AS BIGINT) AS n FROM notifications GROUP BY state ORDER BY state",
        &[],
    )?
    .iter()
    .map(|r| Ok((r.parsed("state", ReportState::parse)?, r.int("n")?)))
    .collect()
}

/// When the oldest report still to deliver was created.
pub(crate) fn oldest_open(db: &mut dyn Db) -> Result<Option<i64>, StoreError> {
    db.query_one(
        "SELECT MIN(created_at) AS at FROM notifications WHERE state IN ('PENDING', 'SENDING')",
        &[],
    )?
    .opt_int("at")
}
