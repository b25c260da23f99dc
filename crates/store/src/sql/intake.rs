//! Taking an order in: the business's request bucket, the nonce, the order row, the hold and the
//! delivery job — all or nothing, in the caller's transaction.

use super::{buckets, ledger, orders};
use crate::StoreError;
use crate::db::{Db, Dialect, Val};
use crate::records::{AcceptOutcome, Admit, NonceUse};
use rewardgate_core::delivery::JobState;
use rewardgate_core::order::{AccountKind, NewOrder, OrderStatus, PostingKind};
use rewardgate_core::rate::business_bucket;
use rewardgate_core::sign::NONCE_TTL_MS;

/// Uses a nonce: true if it was free (never seen, or its 15 minutes are over).
fn use_nonce(db: &mut dyn Db, n: &NonceUse) -> Result<bool, StoreError> {
    let changed = db.exec(
        "INSERT INTO nonces (business_id, nonce, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT (business_id, nonce) DO UPDATE SET expires_at = excluded.expires_at \
         WHERE nonces.expires_at <= $4",
        &[
            n.business_id.as_str().into(),
            (&n.nonce).into(),
            (n.now + NONCE_TTL_MS).into(),
            n.now.into(),
        ],
    )?;
    Ok(changed == 1)
}

/// The business's request limit (its bucket, if it has one), then the nonce.
pub(crate) fn admit(db: &mut dyn Db, n: &NonceUse) -> Result<Admit, StoreError> {
    if !buckets::take(db, &business_bucket(&n.business_id), n.now)? {
        return Ok(Admit::TooManyRequests);
    }
    Ok(if use_nonce(db, n)? {
        Admit::Yes
    } else {
        Admit::NonceReplay
    })
}

pub(crate) fn purge_nonces(db: &mut dyn Db, now: i64) -> Result<u64, StoreError> {
    db.exec("DELETE FROM nonces WHERE expires_at <= $1", &[now.into()])
}

/// Accepts one order: nonce, the order row, the hold and the delivery job, or nothing at all.
pub(crate) fn accept(
    db: &mut dyn Db,
    nonce: &NonceUse,
    o: &NewOrder,
) -> Result<AcceptOutcome, StoreError> {
    let delivery = o
        .delivery
        .as_ref()
        .map(|d| serde_json::to_string(d).map_err(|e| StoreError::Db(e.to_string())))
        .transpose()?;
    if db.dialect() == Dialect::Postgres {
        return accept_fused(db, nonce, o, delivery);
    }
    match admit(db, nonce)? {
        Admit::Yes => {}
        Admit::NonceReplay => return Ok(AcceptOutcome::NonceReplay),
        Admit::TooManyRequests => return Ok(AcceptOutcome::TooManyRequests),
    }
    let inserted = db.query_opt(
        "INSERT INTO orders (order_code, business_id, merchant_id, biz_code, product_type, status, fingerprint, \
           template_id, product_code, activity_id, open_id, mobile, app_id, amount, settlement, callback_url, \
           description, channel_account_id, version, created_at, updated_at, delivery) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, 1, $19, $19, $20) \
         ON CONFLICT (business_id, biz_code) DO NOTHING RETURNING id",
        &order_row(o, delivery),
    )?;
    let Some(row) = inserted else {
        return existing(db, o);
    };
    let id = row.int("id")?;
    // The overdraft check and the hold are one conditional statement: racing orders cannot pass
    // -creditLine whatever their interleaving.
    let (available, held) = (
        ledger::account_id(&o.business_id, AccountKind::Available),
        ledger::account_id(&o.business_id, AccountKind::Held),
    );
    let taken = db.exec(
        "UPDATE accounts SET balance = balance - $1 WHERE id = $2 AND balance - $1 >= -credit_line",
        &[o.settlement.0.into(), (&available).into()],
    )?;
    if taken == 0 {
        db.exec("DELETE FROM orders WHERE id = $1", &[id.into()])?;
        return Ok(AcceptOutcome::Insufficient);
    }
    if db.exec(
        "UPDATE accounts SET balance = balance + $1 WHERE id = $2",
        &[o.settlement.0.into(), (&held).into()],
    )? != 1
    {
        return Err(missing_account(o));
    }
    ledger::record_posting(
        db,
        PostingKind::Hold,
        &available,
        &held,
        o.settlement,
        Some(id),
        o.created_at,
    )?;
    insert_job(db, id, o)
}

/// PostgreSQL, where every statement is a round trip (intake was bound by them: ~1.4k orders/s
/// with the server's CPU mostly idle): the nonce, the order row, the hold with its overdraft
/// check and the hold's posting in one statement of data-modifying CTEs, each step only if the
/// one before it happened; the same rules and the same outcomes as `accept`'s statements.
fn accept_fused(
    db: &mut dyn Db,
    nonce: &NonceUse,
    o: &NewOrder,
    delivery: Option<String>,
) -> Result<AcceptOutcome, StoreError> {
    if !buckets::take(db, &business_bucket(&nonce.business_id), nonce.now)? {
        return Ok(AcceptOutcome::TooManyRequests);
    }
    let (available, held) = (
        ledger::account_id(&o.business_id, AccountKind::Available),
        ledger::account_id(&o.business_id, AccountKind::Held),
    );
    let row = db.query_one(
        "WITH n AS ( \
           INSERT INTO nonces (business_id, nonce, expires_at) VALUES ($1, $2, $3::bigint) \
           ON CONFLICT (business_id, nonce) DO UPDATE SET expires_at = excluded.expires_at \
           WHERE nonces.expires_at <= $4::bigint RETURNING 1), \
         o AS ( \
           INSERT INTO orders (order_code, business_id, merchant_id, biz_code, product_type, status, fingerprint, \
             template_id, product_code, activity_id, open_id, mobile, app_id, amount, settlement, callback_url, \
             description, channel_account_id, version, created_at, updated_at, delivery) \
           SELECT $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18::bigint, $19::bigint, $20, \
             $21, $22, 1, $23::bigint, $23::bigint, $24 \
           WHERE EXISTS (SELECT 1 FROM n) \
           ON CONFLICT (business_id, biz_code) DO NOTHING RETURNING id), \
         a AS ( \
           UPDATE accounts SET balance = balance - $19::bigint \
           WHERE id = $25 AND balance - $19::bigint >= -credit_line AND EXISTS (SELECT 1 FROM o) RETURNING 1), \
         h AS ( \
           UPDATE accounts SET balance = balance + $19::bigint WHERE id = $26 AND EXISTS (SELECT 1 FROM a) RETURNING 1), \
         p AS ( \
           INSERT INTO postings (kind, from_account, to_account, amount, order_id, created_at) \
           SELECT $27, $25, $26, $19::bigint, o.id, $23::bigint FROM o WHERE EXISTS (SELECT 1 FROM a) RETURNING 1) \
         SELECT (SELECT count(*) FROM n) AS nonce_ok, (SELECT id FROM o) AS id, \
           (SELECT count(*) FROM a) AS taken, (SELECT count(*) FROM h) AS held, (SELECT count(*) FROM p) AS posted",
        &[
            vec![
                nonce.business_id.as_str().into(),
                (&nonce.nonce).into(),
                (nonce.now + NONCE_TTL_MS).into(),
                nonce.now.into(),
            ],
            order_row(o, delivery),
            vec![
                (&available).into(),
                (&held).into(),
                PostingKind::Hold.as_str().into(),
            ],
        ]
        .concat(),
    )?;
    if row.int("nonce_ok")? == 0 {
        return Ok(AcceptOutcome::NonceReplay);
    }
    let Some(id) = row.opt_int("id")? else {
        return existing(db, o);
    };
    if row.int("taken")? == 0 {
        db.exec("DELETE FROM orders WHERE id = $1", &[id.into()])?;
        return Ok(AcceptOutcome::Insufficient);
    }
    if row.int("held")? != 1 || row.int("posted")? != 1 {
        return Err(missing_account(o));
    }
    insert_job(db, id, o)
}

/// The order row's values, in the column order both intake statements list them (20: the
/// statements use `created_at` for `updated_at` too).
fn order_row(o: &NewOrder, delivery: Option<String>) -> Vec<Val> {
    vec![
        o.order_code.as_str().into(),
        o.business_id.as_str().into(),
        (&o.merchant_id).into(),
        (&o.biz_code).into(),
        o.product_type.as_str().into(),
        OrderStatus::Processing.as_str().into(),
        (&o.fingerprint).into(),
        (&o.template_id).into(),
        (&o.product_code).into(),
        (&o.activity_id).into(),
        (&o.open_id).into(),
        (&o.mobile).into(),
        (&o.app_id).into(),
        Val::I(o.amount.map(|f| f.0)),
        o.settlement.0.into(),
        (&o.callback_url).into(),
        (&o.description).into(),
        o.channel_account_id.as_str().into(),
        o.created_at.into(),
        delivery.into(),
    ]
}

/// The answer for a `bizCode` the business already used: the same order, or a conflict.
fn existing(db: &mut dyn Db, o: &NewOrder) -> Result<AcceptOutcome, StoreError> {
    let existing = orders::by_biz_code(db, &o.business_id, &o.biz_code)?
        .ok_or_else(|| StoreError::Db("bizCode conflict without an order".into()))?;
    Ok(if existing.fingerprint == o.fingerprint {
        AcceptOutcome::Existing(existing)
    } else {
        AcceptOutcome::Conflict
    })
}

fn missing_account(o: &NewOrder) -> StoreError {
    StoreError::Db(format!("ledger account missing for {}", o.business_id))
}

/// The order's delivery job, ready now, under the upstream key derived from the order.
fn insert_job(db: &mut dyn Db, id: i64, o: &NewOrder) -> Result<AcceptOutcome, StoreError> {
    let key = o.key_for(id);
    db.exec(
        "INSERT INTO jobs (order_id, channel_account_id, upstream_key, state, step, attempts, not_before, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'SEND', 0, $5, $5, $5)",
        &[
            id.into(),
            o.channel_account_id.as_str().into(),
            (&key).into(),
            JobState::Ready.as_str().into(),
            o.created_at.into(),
        ],
    )?;
    Ok(AcceptOutcome::Created(o.stored(id, key)))
}
