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

/// The orders' columns each intake path writes, in the order `order_row` gives their values
/// (`version` a literal 1, `created_at` twice): one list for the four statements below.
macro_rules! order_columns {
    () => {
        "order_code, business_id, merchant_id, biz_code, product_type, status, fingerprint, \
         template_id, product_code, activity_id, open_id, mobile, app_id, amount, settlement, callback_url, \
         description, channel_account_id, version, created_at, updated_at, delivery"
    };
}

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
    let delivery = delivery_json(o)?;
    if db.dialect() == Dialect::Postgres {
        return accept_fused(db, nonce, o, delivery);
    }
    match admit(db, nonce)? {
        Admit::Yes => {}
        Admit::NonceReplay => return Ok(AcceptOutcome::NonceReplay),
        Admit::TooManyRequests => return Ok(AcceptOutcome::TooManyRequests),
    }
    let inserted = db.query_opt(INSERT_ORDER, &order_row(o, delivery))?;
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
        concat!(
        "WITH n AS ( \
           INSERT INTO nonces (business_id, nonce, expires_at) VALUES ($1, $2, $3::bigint) \
           ON CONFLICT (business_id, nonce) DO UPDATE SET expires_at = excluded.expires_at \
           WHERE nonces.expires_at <= $4::bigint RETURNING 1), \
         o AS ( \
           INSERT INTO orders (", order_columns!(), ") \
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
           (SELECT count(*) FROM a) AS taken, (SELECT count(*) FROM h) AS held, (SELECT count(*) FROM p) AS posted"),
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

/// The order's delivery mode as stored.
fn delivery_json(o: &NewOrder) -> Result<Option<String>, StoreError> {
    o.delivery
        .as_ref()
        .map(|d| serde_json::to_string(d).map_err(|e| StoreError::Db(e.to_string())))
        .transpose()
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

/// One order row (SQLite's intake; `order_row`'s values).
const INSERT_ORDER: &str = concat!(
    "INSERT INTO orders (",
    order_columns!(),
    ") \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, 1, $19, $19, $20) \
     ON CONFLICT (business_id, biz_code) DO NOTHING RETURNING id"
);

/// The order's delivery job, ready now, under the upstream key derived from the order.
fn insert_job(db: &mut dyn Db, id: i64, o: &NewOrder) -> Result<AcceptOutcome, StoreError> {
    let key = o.key_for(id);
    write_job(db, id, o, &key)?;
    Ok(AcceptOutcome::Created(o.stored(id, key)))
}

fn write_job(db: &mut dyn Db, id: i64, o: &NewOrder, key: &str) -> Result<(), StoreError> {
    db.exec(
        "INSERT INTO jobs (order_id, channel_account_id, upstream_key, state, step, attempts, not_before, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'SEND', 0, $5, $5, $5)",
        &[
            id.into(),
            o.channel_account_id.as_str().into(),
            key.into(),
            JobState::Ready.as_str().into(),
            o.created_at.into(),
        ],
    )?;
    Ok(())
}

/// Takes in a run of orders together (the writer's batch): the same rules and outcomes as
/// `accept` for each of them in their order, with the per-business work done once — one read
/// and one write of a business's request bucket, one locked read of its balance with the
/// admissions decided in memory in arrival order, one update of its two accounts — and, on
/// PostgreSQL, each kind of row (nonces, orders, postings, jobs) written by one statement over
/// arrays. `None` for an order that repeats an earlier one's nonce or `bizCode` in the run: the
/// caller takes it in alone afterwards, so that it meets the earlier one's rows.
pub(crate) fn accept_batch(
    db: &mut dyn Db,
    items: &[(&NonceUse, &NewOrder)],
) -> Result<Vec<Option<AcceptOutcome>>, StoreError> {
    use std::collections::{BTreeMap, HashMap, HashSet};
    let mut out: Vec<Option<AcceptOutcome>> = items.iter().map(|_| None).collect();
    // Repeats within the run go alone; so does an order whose nonce names another business.
    let (mut nonces, mut codes) = (HashSet::new(), HashSet::new());
    let mut live: Vec<usize> = Vec::with_capacity(items.len());
    for (i, (n, o)) in items.iter().enumerate() {
        let fresh_nonce = nonces.insert((n.business_id.as_str(), n.nonce.as_str()));
        let fresh_code = codes.insert((o.business_id.as_str(), o.biz_code.as_str()));
        if fresh_nonce && fresh_code && n.business_id == o.business_id {
            live.push(i);
        }
    }
    // Sorted, so that concurrent batches lock businesses' rows in one order.
    let by_business = |live: &[usize]| {
        let mut m: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for &i in live {
            m.entry(items[i].1.business_id.as_str())
                .or_default()
                .push(i);
        }
        m
    };

    // The business's request bucket, one token an order in arrival order.
    let mut admitted = Vec::with_capacity(live.len());
    for (business, idx) in by_business(&live) {
        let nows: Vec<i64> = idx.iter().map(|&i| items[i].0.now).collect();
        let took = buckets::take_each(db, &business_bucket(business), &nows)?;
        for (i, took) in idx.into_iter().zip(took) {
            if took {
                admitted.push(i);
            } else {
                out[i] = Some(AcceptOutcome::TooManyRequests);
            }
        }
    }
    admitted.sort_unstable();
    let live = admitted;

    // Nonces: the ones a statement took come back (keyed: RETURNING's order is not promised).
    // The TTL is taken from each row's expiry to compare with that request's own time.
    let reuse = format!(
        " ON CONFLICT (business_id, nonce) DO UPDATE SET expires_at = excluded.expires_at \
         WHERE nonces.expires_at <= excluded.expires_at - {NONCE_TTL_MS} RETURNING business_id, nonce"
    );
    let taken = if db.dialect() == Dialect::Postgres {
        let col = |f: fn(&NonceUse) -> Val| live.iter().map(|&i| f(items[i].0)).collect();
        db.query(
            &format!(
                "INSERT INTO nonces (business_id, nonce, expires_at) \
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[]){reuse}"
            ),
            &[
                column(col(|n| n.business_id.as_str().into())),
                column(col(|n| (&n.nonce).into())),
                column(col(|n| (n.now + NONCE_TTL_MS).into())),
            ],
        )?
    } else {
        let rows: Vec<Vec<Val>> = live
            .iter()
            .map(|&i| {
                let n = items[i].0;
                vec![
                    n.business_id.as_str().into(),
                    (&n.nonce).into(),
                    (n.now + NONCE_TTL_MS).into(),
                ]
            })
            .collect();
        static SQL: Chunked = Chunked::new();
        let sql = SQL.texts(|| {
            (
                "INSERT INTO nonces (business_id, nonce, expires_at) VALUES ".into(),
                3,
                |p| format!("({})", places(p, &[1, 2, 3])),
                reuse.clone(),
            )
        });
        insert_rows(db, sql, rows, Returning::Rows)?.0
    };
    let used: HashSet<(String, String)> = taken
        .iter()
        .map(|r| Ok((r.text("business_id")?, r.text("nonce")?)))
        .collect::<Result<_, StoreError>>()?;
    let fresh: Vec<bool> = live
        .iter()
        .map(|&i| {
            let n = items[i].0;
            used.contains(&(n.business_id.to_string(), n.nonce.clone()))
        })
        .collect();
    let mut nonce_ok = Vec::with_capacity(live.len());
    for (i, ok) in live.into_iter().zip(fresh) {
        if ok {
            nonce_ok.push(i);
        } else {
            out[i] = Some(AcceptOutcome::NonceReplay);
        }
    }
    let live = nonce_ok;

    // Order rows; a bizCode the business already used answers with that order or a conflict.
    let mut rows = Vec::with_capacity(live.len());
    for &i in &live {
        rows.push(order_row(items[i].1, delivery_json(items[i].1)?));
    }
    // Keyed by business and bizCode: neither database promises RETURNING's order.
    let returned = if db.dialect() == Dialect::Sqlite {
        sqlite_insert_orders(db, rows)?
    } else if !rows.is_empty() {
        let cols = (0..rows[0].len())
            .map(|k| column(rows.iter().map(|r| r[k].clone()).collect()))
            .collect::<Vec<_>>();
        db.query(
                concat!("INSERT INTO orders (", order_columns!(), ") \
                 SELECT c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15, c16, c17, c18, 1, c19, c19, c20 \
                 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], \
                   $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::bigint[], \
                   $15::bigint[], $16::text[], $17::text[], $18::text[], $19::bigint[], $20::text[]) \
                   AS u(c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15, c16, c17, c18, c19, c20) \
                 ON CONFLICT (business_id, biz_code) DO NOTHING RETURNING id, business_id, biz_code"),
                &cols,
            )?
    } else {
        Vec::new()
    };
    let got: HashMap<(String, String), i64> = returned
        .iter()
        .map(|r| Ok(((r.text("business_id")?, r.text("biz_code")?), r.int("id")?)))
        .collect::<Result<_, StoreError>>()?;
    let ids: Vec<Option<i64>> = live
        .iter()
        .map(|&i| {
            let o = items[i].1;
            got.get(&(o.business_id.to_string(), o.biz_code.clone()))
                .copied()
        })
        .collect();
    let mut inserted: Vec<(usize, i64)> = Vec::with_capacity(live.len());
    for (i, id) in live.into_iter().zip(ids) {
        match id {
            Some(id) => inserted.push((i, id)),
            None => out[i] = Some(existing(db, items[i].1)?),
        }
    }

    // The balance: read under lock once a business, each order held while it still fits above
    // -creditLine (the rule `accept`'s conditional update applies), one update of both accounts.
    let mut held: Vec<(usize, i64)> = Vec::with_capacity(inserted.len());
    let ids: HashMap<usize, i64> = inserted.iter().copied().collect();
    let lock = if db.dialect() == Dialect::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    // PostgreSQL's account updates (account, change), made with the postings and jobs.
    let mut moves: Vec<(String, i64)> = Vec::new();
    for (business, idx) in by_business(&inserted.iter().map(|p| p.0).collect::<Vec<_>>()) {
        let o = items[idx[0]].1;
        let (available, held_account) = (
            ledger::account_id(&o.business_id, AccountKind::Available),
            ledger::account_id(&o.business_id, AccountKind::Held),
        );
        let row = db
            .query_opt(
                &format!("SELECT balance, credit_line FROM accounts WHERE id = $1{lock}"),
                &[(&available).into()],
            )?
            .ok_or_else(|| missing_account(o))?;
        let (mut balance, floor) = (row.int("balance")?, -row.int("credit_line")?);
        let mut total = 0i64;
        for i in idx {
            let amount = items[i].1.settlement.0;
            if balance - amount >= floor {
                balance -= amount;
                total += amount;
                held.push((i, ids[&i]));
            } else {
                db.exec("DELETE FROM orders WHERE id = $1", &[ids[&i].into()])?;
                out[i] = Some(AcceptOutcome::Insufficient);
            }
        }
        if total > 0 && db.dialect() == Dialect::Postgres {
            // Written with the postings and jobs below: one round trip less a business.
            moves.push((available, -total));
            moves.push((held_account, total));
        } else if total > 0
            && db.exec(
                "UPDATE accounts SET balance = balance + (CASE WHEN id = $1 THEN -1 ELSE 1 END) * $2::bigint \
                 WHERE id = $1 OR id = $3",
                &[(&available).into(), total.into(), (&held_account).into()],
            )? != 2
        {
            return Err(StoreError::Db(format!(
                "ledger account missing for {business}"
            )));
        }
    }
    held.sort_unstable();

    // Postings and delivery jobs.
    let keys: Vec<String> = held.iter().map(|&(i, id)| items[i].1.key_for(id)).collect();
    if db.dialect() == Dialect::Postgres && !held.is_empty() {
        let col = |f: &dyn Fn(&NewOrder, i64) -> Val| {
            column(held.iter().map(|&(i, id)| f(items[i].1, id)).collect())
        };
        let available = |o: &NewOrder| ledger::account_id(&o.business_id, AccountKind::Available);
        let held_account = |o: &NewOrder| ledger::account_id(&o.business_id, AccountKind::Held);
        let row = db.query_one(
            "WITH p AS ( \
               INSERT INTO postings (kind, from_account, to_account, amount, order_id, created_at) \
               SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[]) RETURNING 1), \
             j AS ( \
               INSERT INTO jobs (order_id, channel_account_id, upstream_key, state, step, attempts, not_before, created_at, updated_at) \
               SELECT u.id, u.ca, u.k, $7, 'SEND', 0, u.t, u.t, u.t \
               FROM UNNEST($5::bigint[], $8::text[], $9::text[], $6::bigint[]) AS u(id, ca, k, t) RETURNING 1), \
             a AS ( \
               UPDATE accounts SET balance = accounts.balance + m.change \
               FROM UNNEST($10::text[], $11::bigint[]) AS m(id, change) WHERE accounts.id = m.id RETURNING 1) \
             SELECT (SELECT count(*) FROM p) AS posted, (SELECT count(*) FROM j) AS jobs, \
               (SELECT count(*) FROM a) AS moved",
            &[
                PostingKind::Hold.as_str().into(),
                col(&|o, _| available(o).into()),
                col(&|o, _| held_account(o).into()),
                col(&|o, _| o.settlement.0.into()),
                col(&|_, id| id.into()),
                col(&|o, _| o.created_at.into()),
                JobState::Ready.as_str().into(),
                col(&|o, _| o.channel_account_id.as_str().into()),
                column(keys.iter().map(Val::from).collect()),
                Val::TA(moves.iter().map(|(a, _)| Some(a.clone())).collect()),
                Val::IA(moves.iter().map(|(_, c)| Some(*c)).collect()),
            ],
        )?;
        let n = held.len() as i64;
        if row.int("posted")? != n || row.int("jobs")? != n {
            return Err(StoreError::Db(
                "a batch's postings or jobs were not all written".into(),
            ));
        }
        if row.int("moved")? != moves.len() as i64 {
            return Err(StoreError::Db(
                "ledger account missing for a business of the batch".into(),
            ));
        }
    } else if !held.is_empty() {
        let postings: Vec<Vec<Val>> = held
            .iter()
            .map(|&(i, id)| {
                let o = items[i].1;
                vec![
                    ledger::account_id(&o.business_id, AccountKind::Available).into(),
                    ledger::account_id(&o.business_id, AccountKind::Held).into(),
                    o.settlement.0.into(),
                    id.into(),
                    o.created_at.into(),
                ]
            })
            .collect();
        static POSTINGS: Chunked = Chunked::new();
        let sql = POSTINGS.texts(|| {
            (
                "INSERT INTO postings (kind, from_account, to_account, amount, order_id, created_at) VALUES "
                    .into(),
                5,
                |p| {
                    format!(
                        "('{}', {})",
                        PostingKind::Hold.as_str(),
                        places(p, &[1, 2, 3, 4, 5])
                    )
                },
                String::new(),
            )
        });
        let posted = insert_rows(db, sql, postings, Returning::Count)?.1;
        let jobs: Vec<Vec<Val>> = held
            .iter()
            .zip(&keys)
            .map(|(&(i, id), key)| {
                let o = items[i].1;
                vec![
                    id.into(),
                    o.channel_account_id.as_str().into(),
                    key.into(),
                    o.created_at.into(),
                ]
            })
            .collect();
        static JOBS: Chunked = Chunked::new();
        let sql = JOBS.texts(|| {
            (
                "INSERT INTO jobs (order_id, channel_account_id, upstream_key, state, step, attempts, not_before, created_at, updated_at) VALUES "
                    .into(),
                4,
                |p| {
                    let ready = JobState::Ready.as_str();
                    format!(
                        "({}, '{ready}', 'SEND', 0, {})",
                        places(p, &[1, 2, 3]),
                        places(p, &[4, 4, 4])
                    )
                },
                String::new(),
            )
        });
        let queued = insert_rows(db, sql, jobs, Returning::Count)?.1;
        if posted != held.len() as u64 || queued != held.len() as u64 {
            return Err(StoreError::Db(
                "a batch's postings or jobs were not all written".into(),
            ));
        }
    }
    for ((i, id), key) in held.into_iter().zip(keys) {
        out[i] = Some(AcceptOutcome::Created(items[i].1.stored(id, key)));
    }
    Ok(out)
}

/// Values of one column as a PostgreSQL array parameter (all of one kind, as `order_row` and the
/// callers build them).
fn column(vals: Vec<Val>) -> Val {
    if vals.iter().any(|v| matches!(v, Val::T(_))) {
        Val::TA(
            vals.into_iter()
                .map(|v| match v {
                    Val::T(t) => t,
                    _ => None,
                })
                .collect(),
        )
    } else {
        Val::IA(
            vals.into_iter()
                .map(|v| match v {
                    Val::I(n) => n,
                    _ => None,
                })
                .collect(),
        )
    }
}

/// The placeholders `p` names for `ks`, comma-separated.
fn places(p: &dyn Fn(usize) -> String, ks: &[usize]) -> String {
    ks.iter().map(|&k| p(k)).collect::<Vec<_>>().join(", ")
}

/// SQLite's order rows, each with an id given here (the next after the table's last: this
/// transaction holds the database's write lock, so no other writer can take one meanwhile), so
/// that which rows went in — a bizCode the business already used goes in as nothing — is read
/// back as a range of ids, not through RETURNING (SQLite gathers a statement's RETURNING rows in
/// a temporary b-tree that it opens and frees for every statement: with the postings' and jobs'
/// `RETURNING 1` that was ~7 % of the writer thread under `rewardgate bench`; the rest of the
/// temporary b-trees came from the closed-set triggers, see migration 11). Answers the rows
/// that went in with their `id`, `business_id` and `biz_code`, as RETURNING did.
fn sqlite_insert_orders(
    db: &mut dyn Db,
    rows: Vec<Vec<Val>>,
) -> Result<Vec<crate::db::Row>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let last = db
        .query_opt("SELECT id FROM orders ORDER BY id DESC LIMIT 1", &[])?
        .map(|r| r.int("id"))
        .transpose()?
        .unwrap_or(0);
    let n = rows.len() as i64;
    let rows: Vec<Vec<Val>> = rows
        .into_iter()
        .zip(last + 1..)
        .map(|(mut r, id)| {
            r.insert(0, id.into());
            r
        })
        .collect();
    static SQL: Chunked = Chunked::new();
    let sql = SQL.texts(|| {
        (
            concat!("INSERT INTO orders (id, ", order_columns!(), ") VALUES ").into(),
            21,
            |p| {
                let cols: Vec<usize> = (1..=19).collect();
                format!("({}, 1, {})", places(p, &cols), places(p, &[20, 20, 21]))
            },
            " ON CONFLICT (business_id, biz_code) DO NOTHING".into(),
        )
    });
    let changed = insert_rows(db, sql, rows, Returning::Count)?.1;
    let inserted = db.query(
        "SELECT id, business_id, biz_code FROM orders WHERE id > $1 AND id <= $2",
        &[last.into(), (last + n).into()],
    )?;
    if inserted.len() as u64 != changed {
        return Err(StoreError::Db(format!(
            "{changed} order rows inserted but {} read back by their ids",
            inserted.len()
        )));
    }
    Ok(inserted)
}

/// The chunk sizes SQLite's multi-row statements take rows in.
const CHUNKS: [usize; 5] = [16, 8, 4, 2, 1];

/// One table's SQLite multi-row statement texts, one per chunk size, built on first use (building
/// them for every batch was 5 % of the writer thread).
struct Chunked(std::sync::OnceLock<Vec<String>>);

/// A multi-row statement's parts: the head, the values a row has, a function that writes one
/// row's group given one that names the k-th placeholder of the row (from 1), and the tail.
type Parts = (
    String,
    usize,
    fn(&dyn Fn(usize) -> String) -> String,
    String,
);

impl Chunked {
    const fn new() -> Chunked {
        Chunked(std::sync::OnceLock::new())
    }
    fn texts(&self, parts: impl FnOnce() -> Parts) -> &[String] {
        self.0.get_or_init(|| {
            let (head, width, row, tail) = parts();
            CHUNKS
                .iter()
                .map(|&n| {
                    let groups: Vec<String> = (0..n)
                        .map(|r| row(&|k| format!("${}", r * width + k)))
                        .collect();
                    format!("{head}{}{tail}", groups.join(", "))
                })
                .collect()
        })
    }
}

/// What `insert_rows` reads back.
#[derive(PartialEq)]
enum Returning {
    /// The rows of the statements' RETURNING clause.
    Rows,
    /// The number of rows changed.
    Count,
}

/// SQLite: inserts `rows` a few to a statement (`sql`, one text a chunk size), answering the rows
/// the statements return or the number of rows they changed. Inside a transaction SQLite
/// journals in memory every existing page a statement changes, once per statement: one statement
/// an order copied a 4 KiB page per index per row (a quarter of the order insert's time, with the
/// allocations), so a batch now takes them 16 at a time. Chunks are 16, 8, 4, 2 and 1 rows, so
/// that five statement texts a table cover every batch (they stay in the statement cache).
fn insert_rows(
    db: &mut dyn Db,
    sql: &[String],
    rows: Vec<Vec<Val>>,
    returning: Returning,
) -> Result<(Vec<crate::db::Row>, u64), StoreError> {
    let (mut out, mut changed) = (Vec::new(), 0);
    let mut rest = rows.len();
    let mut rows = rows.into_iter();
    while rest > 0 {
        let (k, n) = CHUNKS
            .iter()
            .copied()
            .enumerate()
            .find(|&(_, c)| c <= rest)
            .expect("a chunk of one fits");
        let params: Vec<Val> = rows.by_ref().take(n).flatten().collect();
        if returning == Returning::Rows {
            out.extend(db.query(&sql[k], &params)?);
        } else {
            changed += db.exec(&sql[k], &params)?;
        }
        rest -= n;
    }
    Ok((out, changed))
}
