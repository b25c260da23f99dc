//! Rate buckets shared by every process on one database: a channel account's upstream rate, a
//! business's open-API requests. Taking a token is a read-modify-write of one row in the caller's
//! transaction (locked on PostgreSQL), in exact integer units.

use crate::StoreError;
use crate::db::{Db, Dialect};
use rewardgate_core::rate::{Rate, UNITS};

pub(crate) fn set(
    db: &mut dyn Db,
    bucket: &str,
    rate: Option<Rate>,
    now: i64,
) -> Result<(), StoreError> {
    match rate {
        None => {
            db.exec(
                "DELETE FROM rate_buckets WHERE channel_account_id = $1",
                &[bucket.into()],
            )?;
        }
        Some(r) => {
            db.exec(
                "INSERT INTO rate_buckets (channel_account_id, rate_per_minute, capacity, units, refilled_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (channel_account_id) DO UPDATE \
                 SET rate_per_minute = excluded.rate_per_minute, capacity = excluded.capacity",
                &[bucket.into(), r.per_minute.into(), r.capacity.into(), (r.capacity * UNITS).into(), now.into()],
            )?;
        }
    }
    Ok(())
}

/// Takes one token from the bucket if it has one (no bucket: unlimited).
pub(crate) fn take(db: &mut dyn Db, bucket: &str, now: i64) -> Result<bool, StoreError> {
    Ok(take_each(db, bucket, &[now])?[0])
}

/// One token for each request, in their order, at their times: which of them got one. The row is
/// read and written once, whatever the number of requests (a batch of orders).
pub(crate) fn take_each(
    db: &mut dyn Db,
    bucket: &str,
    nows: &[i64],
) -> Result<Vec<bool>, StoreError> {
    let lock = if db.dialect() == Dialect::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    let row = db.query_opt(
        &format!(
            "SELECT rate_per_minute, capacity, units, refilled_at FROM rate_buckets WHERE channel_account_id = $1{lock}"
        ),
        &[bucket.into()],
    )?;
    let Some(r) = row else {
        return Ok(vec![true; nows.len()]);
    };
    let rate = Rate {
        per_minute: r.int("rate_per_minute")?,
        capacity: r.int("capacity")?,
    };
    let (mut units, mut refilled_at) = (r.int("units")?, r.int("refilled_at")?);
    let took = nows
        .iter()
        .map(|&now| {
            let (left, took) = rate.take(units, refilled_at, now);
            (units, refilled_at) = (left, now.max(refilled_at));
            took
        })
        .collect();
    db.exec(
        "UPDATE rate_buckets SET units = $1, refilled_at = $2 WHERE channel_account_id = $3",
        &[units.into(), refilled_at.into(), bucket.into()],
    )?;
    Ok(took)
}
