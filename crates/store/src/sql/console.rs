//! The operator console's own rows (sessions) and its dashboard's windows over orders, attempts,
//! pauses and balances.

use crate::StoreError;
use crate::db::Db;
use crate::records::{ChannelCount, Dashboard, LowBalance, PauseRecord, SessionRecord, Trouble};
use rewardgate_core::Fen;
use rewardgate_core::order::{OrderStatus, ProductType};

pub(crate) fn create_session(
    db: &mut dyn Db,
    s: &SessionRecord,
    now: i64,
) -> Result<(), StoreError> {
    db.exec(
        "DELETE FROM console_sessions WHERE expires_at <= $1",
        &[now.into()],
    )?;
    db.exec(
        "INSERT INTO console_sessions (id_hash, csrf, token_fingerprint, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
        &[
            (&s.id_hash).into(),
            (&s.csrf).into(),
            (&s.token_fingerprint).into(),
            s.created_at.into(),
            s.expires_at.into(),
        ],
    )?;
    Ok(())
}

pub(crate) fn session(
    db: &mut dyn Db,
    id_hash: &str,
    now: i64,
) -> Result<Option<SessionRecord>, StoreError> {
    db.query_opt(
        "SELECT id_hash, csrf, token_fingerprint, created_at, expires_at FROM console_sessions \
         WHERE id_hash = $1 AND expires_at > $2",
        &[id_hash.into(), now.into()],
    )?
    .map(|r| {
        Ok(SessionRecord {
            id_hash: r.text("id_hash")?,
            csrf: r.text("csrf")?,
            token_fingerprint: r.text("token_fingerprint")?,
            created_at: r.int("created_at")?,
            expires_at: r.int("expires_at")?,
        })
    })
    .transpose()
}

pub(crate) fn delete_session(db: &mut dyn Db, id_hash: &str) -> Result<(), StoreError> {
    db.exec(
        "DELETE FROM console_sessions WHERE id_hash = $1",
        &[id_hash.into()],
    )?;
    Ok(())
}

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// Everything the dashboard shows, read in one snapshot. `low` is the available balance under
/// which a business is listed.
pub(crate) fn dashboard(db: &mut dyn Db, now: i64, low: Fen) -> Result<Dashboard, StoreError> {
    let (hour, day) = (now - HOUR, now - DAY);
    let mut by_status = Vec::new();
    for r in db.query(
        "SELECT status, CAST(SUM(CASE WHEN created_at >= $1 THEN 1 ELSE 0 END) AS BIGINT) AS hour, \
         CAST(COUNT(*) AS BIGINT) AS day FROM orders WHERE created_at >= $2 GROUP BY status",
        &[hour.into(), day.into()],
    )? {
        by_status.push((
            r.parsed("status", OrderStatus::parse)?,
            r.int("hour")?,
            r.int("day")?,
        ));
    }
    let mut by_channel = Vec::new();
    for r in db.query(
        "SELECT channel_account_id, product_type, \
         CAST(SUM(CASE WHEN created_at >= $1 THEN 1 ELSE 0 END) AS BIGINT) AS hour, \
         CAST(COUNT(*) AS BIGINT) AS day, \
         CAST(SUM(CASE WHEN status IN ('SUCCESS', 'RECEIVED') THEN 1 ELSE 0 END) AS BIGINT) AS succeeded, \
         CAST(SUM(CASE WHEN status IN ('FAILED', 'REFUNDED') THEN 1 ELSE 0 END) AS BIGINT) AS failed \
         FROM orders WHERE created_at >= $2 GROUP BY channel_account_id, product_type \
         ORDER BY channel_account_id, product_type",
        &[hour.into(), day.into()],
    )? {
        by_channel.push(ChannelCount {
            channel_account_id: r.text("channel_account_id")?,
            product_type: r.parsed("product_type", ProductType::parse)?,
            hour: r.int("hour")?,
            day: r.int("day")?,
            succeeded: r.int("succeeded")?,
            failed: r.int("failed")?,
        });
    }
    let start = now - 60 * MINUTE;
    let mut per_minute = vec![0i64; 60];
    for r in db.query(
        "SELECT CAST((created_at - $1) / 60000 AS BIGINT) AS m, CAST(COUNT(*) AS BIGINT) AS n \
         FROM orders WHERE created_at >= $1 GROUP BY (created_at - $1) / 60000",
        &[start.into()],
    )? {
        if let Some(slot) = usize::try_from(r.int("m")?)
            .ok()
            .and_then(|m| per_minute.get_mut(m))
        {
            *slot += r.int("n")?;
        }
    }
    let mut pauses = Vec::new();
    for r in db.query(
        "SELECT channel_account_id, until_at, reason, since_at FROM channel_pauses \
         WHERE until_at > $1 ORDER BY since_at",
        &[now.into()],
    )? {
        pauses.push(PauseRecord {
            channel_account_id: r.text("channel_account_id")?,
            until: r.int("until_at")?,
            reason: r.text("reason")?,
            since: r.int("since_at")?,
        });
    }
    let mut troubled: Vec<Trouble> = Vec::new();
    for r in db.query(
        "SELECT o.channel_account_id AS account, a.outcome AS outcome, CAST(COUNT(*) AS BIGINT) AS n, \
         CAST(MAX(a.at) AS BIGINT) AS last_at FROM job_attempts a JOIN orders o ON o.id = a.order_id \
         WHERE a.at >= $1 AND a.outcome IN ('UNKNOWN', 'DEFERRED') \
         GROUP BY o.channel_account_id, a.outcome ORDER BY o.channel_account_id",
        &[hour.into()],
    )? {
        let account = r.text("account")?;
        let (n, last_at) = (r.int("n")?, r.int("last_at")?);
        let unknown = r.text("outcome")? == "UNKNOWN";
        let t = match troubled.iter_mut().find(|t| t.channel_account_id == account) {
            Some(t) => t,
            None => {
                troubled.push(Trouble {
                    channel_account_id: account,
                    unknown: 0,
                    deferred: 0,
                    last_at: 0,
                    last_detail: None,
                });
                troubled.last_mut().expect("just pushed")
            }
        };
        if unknown {
            t.unknown += n;
        } else {
            t.deferred += n;
        }
        t.last_at = t.last_at.max(last_at);
    }
    for t in &mut troubled {
        t.last_detail = db
            .query_opt(
                "SELECT a.detail FROM job_attempts a JOIN orders o ON o.id = a.order_id \
                 WHERE a.at = $1 AND o.channel_account_id = $2 AND a.outcome IN ('UNKNOWN', 'DEFERRED') \
                 ORDER BY a.id DESC LIMIT 1",
                &[t.last_at.into(), (&t.channel_account_id).into()],
            )?
            .map(|r| r.opt_text("detail"))
            .transpose()?
            .flatten();
    }
    let mut low_balance = Vec::new();
    for r in db.query(
        "SELECT business_id, balance, credit_line FROM accounts \
         WHERE kind = 'AVAILABLE' AND balance < $1 ORDER BY balance, business_id LIMIT 50",
        &[low.0.into()],
    )? {
        low_balance.push(LowBalance {
            business_id: r.text("business_id")?,
            available: Fen(r.int("balance")?),
            credit_line: Fen(r.int("credit_line")?),
        });
    }
    Ok(Dashboard {
        now,
        by_status,
        by_channel,
        per_minute,
        pauses,
        troubled,
        low_balance,
        reports: super::reports::counts(db)?,
        oldest_open_report: super::reports::oldest_open(db)?,
    })
}
