//! Every statement rewardgate runs, written once for both backends.

use crate::StoreError;
use crate::db::{Db, Val};
use crate::records::*;
use rewardgate_core::Fen;
use rewardgate_core::ids::{mch_billno, out_request_no};
use rewardgate_core::order::{AccountKind, PostingKind};
use rewardgate_core::sign::NONCE_TTL_MS;

pub fn account_id(business_id: &str, kind: AccountKind) -> String {
    match kind {
        AccountKind::Funding => "platform:FUNDING".to_string(),
        k => format!("{business_id}:{}", k.as_str()),
    }
}

// ---- catalogue ---------------------------------------------------------------------------------

pub fn put_catalog(
    db: &mut dyn Db,
    kind: &str,
    id: &str,
    data: &str,
    now: i64,
) -> Result<(), StoreError> {
    db.exec(
        "INSERT INTO catalog (kind, id, data, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (kind, id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
        &[kind.into(), id.into(), data.into(), now.into()],
    )?;
    Ok(())
}

pub fn get_catalog(db: &mut dyn Db, kind: &str, id: &str) -> Result<Option<String>, StoreError> {
    Ok(db
        .query_opt(
            "SELECT data FROM catalog WHERE kind = $1 AND id = $2",
            &[kind.into(), id.into()],
        )?
        .map(|r| r.text(0)))
}

pub fn list_catalog(db: &mut dyn Db, kind: &str) -> Result<Vec<String>, StoreError> {
    Ok(db
        .query(
            "SELECT data FROM catalog WHERE kind = $1 ORDER BY id",
            &[kind.into()],
        )?
        .iter()
        .map(|r| r.text(0))
        .collect())
}

/// Creates the business's ledger accounts if new and sets its credit line.
pub fn ensure_business_accounts(
    db: &mut dyn Db,
    business_id: &str,
    credit_line: Fen,
) -> Result<(), StoreError> {
    for k in [
        AccountKind::Available,
        AccountKind::Held,
        AccountKind::Spent,
    ] {
        db.exec(
            "INSERT INTO accounts (id, business_id, kind, balance, credit_line) VALUES ($1, $2, $3, 0, 0) \
             ON CONFLICT (id) DO NOTHING",
            &[account_id(business_id, k).into(), business_id.into(), k.as_str().into()],
        )?;
    }
    db.exec(
        "UPDATE accounts SET credit_line = $1 WHERE id = $2",
        &[
            credit_line.0.into(),
            account_id(business_id, AccountKind::Available).into(),
        ],
    )?;
    Ok(())
}

// ---- ledger ------------------------------------------------------------------------------------

/// Moves `amount` between two accounts of `business_id` (or the platform's) as one posting.
pub fn post(
    db: &mut dyn Db,
    kind: PostingKind,
    business_id: &str,
    amount: Fen,
    order_id: Option<i64>,
    now: i64,
) -> Result<(), StoreError> {
    let (from, to) = kind.accounts();
    let (from, to) = (account_id(business_id, from), account_id(business_id, to));
    let n1 = db.exec(
        "UPDATE accounts SET balance = balance - $1 WHERE id = $2",
        &[amount.0.into(), (&from).into()],
    )?;
    let n2 = db.exec(
        "UPDATE accounts SET balance = balance + $1 WHERE id = $2",
        &[amount.0.into(), (&to).into()],
    )?;
    if n1 != 1 || n2 != 1 {
        return Err(StoreError::Db(format!(
            "ledger account missing for {business_id}"
        )));
    }
    db.exec(
        "INSERT INTO postings (kind, from_account, to_account, amount, order_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        &[kind.as_str().into(), from.into(), to.into(), amount.0.into(), order_id.into(), now.into()],
    )?;
    Ok(())
}

pub fn balance(db: &mut dyn Db, business_id: &str) -> Result<Option<Balance>, StoreError> {
    let rows = db.query(
        "SELECT kind, balance, credit_line FROM accounts WHERE business_id = $1",
        &[business_id.into()],
    )?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut b = Balance {
        available: Fen(0),
        held: Fen(0),
        spent: Fen(0),
        credit_line: Fen(0),
    };
    for r in rows {
        match r.text(0).as_str() {
            "AVAILABLE" => {
                b.available = Fen(r.int(1));
                b.credit_line = Fen(r.int(2));
            }
            "HELD" => b.held = Fen(r.int(1)),
            "SPENT" => b.spent = Fen(r.int(1)),
            _ => {}
        }
    }
    Ok(Some(b))
}

pub fn topup(
    db: &mut dyn Db,
    business_id: &str,
    amount: Fen,
    reference: &str,
    now: i64,
) -> Result<TopupOutcome, StoreError> {
    let inserted = db.exec(
        "INSERT INTO topups (business_id, reference, amount, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (business_id, reference) DO NOTHING",
        &[
            business_id.into(),
            reference.into(),
            amount.0.into(),
            now.into(),
        ],
    )?;
    if inserted == 0 {
        let prior = db.query_one(
            "SELECT amount FROM topups WHERE business_id = $1 AND reference = $2",
            &[business_id.into(), reference.into()],
        )?;
        let b = balance(db, business_id)?.ok_or_else(|| StoreError::Db("no accounts".into()))?;
        return Ok(if prior.int(0) == amount.0 {
            TopupOutcome::AlreadyApplied(b)
        } else {
            TopupOutcome::Conflict
        });
    }
    post(db, PostingKind::Topup, business_id, amount, None, now)?;
    let b = balance(db, business_id)?.ok_or_else(|| StoreError::Db("no accounts".into()))?;
    Ok(TopupOutcome::Applied(b))
}

pub fn ledger_check(db: &mut dyn Db) -> Result<LedgerCheck, StoreError> {
    let sum = db
        .query_one(
            "SELECT CAST(COALESCE(SUM(balance), 0) AS BIGINT) FROM accounts",
            &[],
        )?
        .int(0);
    let postings = db.query_one("SELECT COUNT(*) FROM postings", &[])?.int(0);
    let rows = db.query(
        "SELECT a.id FROM accounts a WHERE a.balance <> \
           (SELECT CAST(COALESCE(SUM(p.amount), 0) AS BIGINT) FROM postings p WHERE p.to_account = a.id) \
         - (SELECT CAST(COALESCE(SUM(p.amount), 0) AS BIGINT) FROM postings p WHERE p.from_account = a.id) \
         ORDER BY a.id",
        &[],
    )?;
    Ok(LedgerCheck {
        sum,
        postings,
        mismatched_accounts: rows.iter().map(|r| r.text(0)).collect(),
    })
}

// ---- nonces ------------------------------------------------------------------------------------

/// Uses a nonce: true if it was free (never seen, or its 15 minutes are over).
pub fn use_nonce(db: &mut dyn Db, n: &NonceUse) -> Result<bool, StoreError> {
    let changed = db.exec(
        "INSERT INTO nonces (business_id, nonce, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT (business_id, nonce) DO UPDATE SET expires_at = excluded.expires_at \
         WHERE nonces.expires_at <= $4",
        &[
            (&n.business_id).into(),
            (&n.nonce).into(),
            (n.now + NONCE_TTL_MS).into(),
            n.now.into(),
        ],
    )?;
    Ok(changed == 1)
}

/// The business's request limit (its bucket, if it has one), then the nonce.
pub fn admit(db: &mut dyn Db, n: &NonceUse) -> Result<Admit, StoreError> {
    if !crate::jobs::take_token(db, &business_bucket(&n.business_id), n.now)? {
        return Ok(Admit::TooManyRequests);
    }
    Ok(if use_nonce(db, n)? {
        Admit::Yes
    } else {
        Admit::NonceReplay
    })
}

/// The rate bucket of a business's open-API requests.
pub fn business_bucket(business_id: &str) -> String {
    format!("business:{business_id}")
}

pub fn purge_nonces(db: &mut dyn Db, now: i64) -> Result<u64, StoreError> {
    db.exec("DELETE FROM nonces WHERE expires_at <= $1", &[now.into()])
}

// ---- orders ------------------------------------------------------------------------------------

/// Accepts one order: nonce, the order row, the hold and the delivery job, or nothing at all.
pub fn accept(
    db: &mut dyn Db,
    nonce: &NonceUse,
    o: &NewOrder,
) -> Result<AcceptOutcome, StoreError> {
    match admit(db, nonce)? {
        Admit::Yes => {}
        Admit::NonceReplay => return Ok(AcceptOutcome::NonceReplay),
        Admit::TooManyRequests => return Ok(AcceptOutcome::TooManyRequests),
    }
    let amount = Val::I(o.amount.map(|f| f.0));
    let inserted = db.query_opt(
        "INSERT INTO orders (order_code, business_id, merchant_id, biz_code, product_type, status, fingerprint, \
           template_id, product_code, activity_id, open_id, mobile, app_id, amount, settlement, callback_url, \
           description, channel_account_id, version, created_at, updated_at, delivery_mode) \
         VALUES ($1, $2, $3, $4, $5, 'PROCESSING', $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, 1, $18, $18, $19) \
         ON CONFLICT (business_id, biz_code) DO NOTHING RETURNING id",
        &[
            (&o.order_code).into(),
            (&o.business_id).into(),
            (&o.merchant_id).into(),
            (&o.biz_code).into(),
            o.product_type.as_str().into(),
            (&o.fingerprint).into(),
            (&o.template_id).into(),
            (&o.product_code).into(),
            (&o.activity_id).into(),
            (&o.open_id).into(),
            (&o.mobile).into(),
            (&o.app_id).into(),
            amount,
            o.settlement.0.into(),
            (&o.callback_url).into(),
            (&o.description).into(),
            (&o.channel_account_id).into(),
            o.created_at.into(),
            (&o.delivery).into(),
        ],
    )?;
    let Some(row) = inserted else {
        let existing = order_by_biz_code(db, &o.business_id, &o.biz_code)?
            .ok_or_else(|| StoreError::Db("bizCode conflict without an order".into()))?;
        return Ok(if existing.fingerprint == o.fingerprint {
            AcceptOutcome::Existing(existing)
        } else {
            AcceptOutcome::Conflict
        });
    };
    let id = row.int(0);
    // The overdraft check and the hold are one conditional statement: racing orders cannot pass
    // -creditLine whatever their interleaving.
    let held = db.exec(
        "UPDATE accounts SET balance = balance - $1 WHERE id = $2 AND balance - $1 >= -credit_line",
        &[
            o.settlement.0.into(),
            account_id(&o.business_id, AccountKind::Available).into(),
        ],
    )?;
    if held == 0 {
        db.exec("DELETE FROM orders WHERE id = $1", &[id.into()])?;
        return Ok(AcceptOutcome::Insufficient);
    }
    let held_to = db.exec(
        "UPDATE accounts SET balance = balance + $1 WHERE id = $2",
        &[
            o.settlement.0.into(),
            account_id(&o.business_id, AccountKind::Held).into(),
        ],
    )?;
    if held_to != 1 {
        return Err(StoreError::Db(format!(
            "ledger account missing for {}",
            o.business_id
        )));
    }
    db.exec(
        "INSERT INTO postings (kind, from_account, to_account, amount, order_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            PostingKind::Hold.as_str().into(),
            account_id(&o.business_id, AccountKind::Available).into(),
            account_id(&o.business_id, AccountKind::Held).into(),
            o.settlement.0.into(),
            id.into(),
            o.created_at.into(),
        ],
    )?;
    let key = match &o.key {
        KeyScheme::MchBillno { mch_id } => mch_billno(mch_id, o.created_at, id),
        KeyScheme::OrderCode => out_request_no(&o.order_code),
    };
    db.exec(
        "INSERT INTO jobs (order_id, channel_account_id, upstream_key, state, attempts, not_before, created_at, updated_at) \
         VALUES ($1, $2, $3, 'READY', 0, $4, $4, $4)",
        &[id.into(), (&o.channel_account_id).into(), (&key).into(), o.created_at.into()],
    )?;
    Ok(AcceptOutcome::Created(new_record(o, id, key)))
}

fn new_record(o: &NewOrder, id: i64, key: String) -> OrderRecord {
    OrderRecord {
        id,
        order_code: o.order_code.clone(),
        business_id: o.business_id.clone(),
        merchant_id: o.merchant_id.clone(),
        biz_code: o.biz_code.clone(),
        product_type: o.product_type,
        status: rewardgate_core::order::OrderStatus::Processing,
        fingerprint: o.fingerprint.clone(),
        template_id: o.template_id.clone(),
        product_code: o.product_code.clone(),
        activity_id: o.activity_id.clone(),
        open_id: o.open_id.clone(),
        mobile: o.mobile.clone(),
        app_id: o.app_id.clone(),
        amount: o.amount,
        settlement: o.settlement,
        callback_url: o.callback_url.clone(),
        description: o.description.clone(),
        channel_account_id: o.channel_account_id.clone(),
        upstream_id: None,
        error_code: None,
        error_message: None,
        version: 1,
        created_at: o.created_at,
        updated_at: o.created_at,
        finished_at: None,
        upstream_key: Some(key),
        job_state: Some("READY".into()),
        job_attempts: 0,
        delivery: o.delivery.clone(),
    }
}

fn one_order(
    db: &mut dyn Db,
    cond: &str,
    params: &[Val],
) -> Result<Option<OrderRecord>, StoreError> {
    let sql = format!("SELECT {ORDER_COLUMNS} FROM {ORDER_FROM} WHERE {cond}");
    Ok(db
        .query_opt(&sql, params)?
        .map(|r| OrderRecord::from_row(&r)))
}

pub fn order_by_biz_code(
    db: &mut dyn Db,
    business_id: &str,
    biz_code: &str,
) -> Result<Option<OrderRecord>, StoreError> {
    one_order(
        db,
        "o.business_id = $1 AND o.biz_code = $2",
        &[business_id.into(), biz_code.into()],
    )
}

pub fn order_by_id(db: &mut dyn Db, id: i64) -> Result<Option<OrderRecord>, StoreError> {
    one_order(db, "o.id = $1", &[id.into()])
}

pub fn order_by_code(db: &mut dyn Db, order_code: &str) -> Result<Option<OrderRecord>, StoreError> {
    one_order(db, "o.order_code = $1", &[order_code.into()])
}

pub fn list_orders(db: &mut dyn Db, f: &OrderFilter) -> Result<Vec<OrderRecord>, StoreError> {
    let mut conds = vec!["1 = 1".to_string()];
    let mut params: Vec<Val> = Vec::new();
    let mut add = |cond: &str, v: Val| {
        params.push(v);
        conds.push(cond.replace('?', &format!("${}", params.len())));
    };
    if let Some(m) = &f.merchant_id {
        add("o.merchant_id = ?", m.into());
    }
    if let Some(b) = &f.business_id {
        add("o.business_id = ?", b.into());
    }
    if let Some(s) = &f.status {
        add("o.status = ?", s.into());
    }
    if let Some(id) = f.before_id {
        add("o.id < ?", id.into());
    }
    let sql = format!(
        "SELECT {ORDER_COLUMNS} FROM {ORDER_FROM} WHERE {} ORDER BY o.id DESC LIMIT {}",
        conds.join(" AND "),
        f.limit.clamp(1, 1000)
    );
    Ok(db
        .query(&sql, &params)?
        .iter()
        .map(OrderRecord::from_row)
        .collect())
}

/// Postings of one order, oldest first: (kind, amount, at).
pub fn order_postings(
    db: &mut dyn Db,
    order_id: i64,
) -> Result<Vec<(String, Fen, i64)>, StoreError> {
    Ok(db
        .query(
            "SELECT kind, amount, created_at FROM postings WHERE order_id = $1 ORDER BY id",
            &[order_id.into()],
        )?
        .iter()
        .map(|r| (r.text(0), Fen(r.int(1)), r.int(2)))
        .collect())
}

pub fn get_setting(db: &mut dyn Db, key: &str) -> Result<Option<String>, StoreError> {
    Ok(db
        .query_opt("SELECT value FROM settings WHERE key = $1", &[key.into()])?
        .map(|r| r.text(0)))
}

/// Sets a setting only if it is not set yet; the value in force afterwards.
pub fn init_setting(db: &mut dyn Db, key: &str, value: &str) -> Result<String, StoreError> {
    db.exec(
        "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        &[key.into(), value.into()],
    )?;
    Ok(get_setting(db, key)?.unwrap_or_default())
}

pub fn notifications_of(
    db: &mut dyn Db,
    order_id: i64,
) -> Result<Vec<NotificationRecord>, StoreError> {
    Ok(db
        .query(
            "SELECT notify_id, version, target, body, state, attempts, next_at, last_error, created_at, delivered_at \
             FROM notifications WHERE order_id = $1 ORDER BY version",
            &[order_id.into()],
        )?
        .iter()
        .map(|r| NotificationRecord {
            notify_id: r.text(0),
            version: r.int(1),
            target: r.text(2),
            body: r.text(3),
            state: r.text(4),
            attempts: r.int(5),
            next_at: r.int(6),
            last_error: r.opt_text(7),
            created_at: r.int(8),
            delivered_at: r.opt_int(9),
        })
        .collect())
}

/// Rabbitpre user id → WeChat openid, per integration (upserts).
pub fn put_openid_mappings(
    db: &mut dyn Db,
    integration_id: &str,
    pairs: &[(String, String)],
    now: i64,
) -> Result<u64, StoreError> {
    let mut n = 0;
    for (user, openid) in pairs {
        n += db.exec(
            "INSERT INTO openid_mappings (integration_id, user_id, openid, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (integration_id, user_id) DO UPDATE SET openid = excluded.openid, updated_at = excluded.updated_at",
            &[integration_id.into(), user.into(), openid.into(), now.into()],
        )?;
    }
    Ok(n)
}

pub fn openid_mapping(
    db: &mut dyn Db,
    integration_id: &str,
    user_id: &str,
) -> Result<Option<String>, StoreError> {
    Ok(db
        .query_opt(
            "SELECT openid FROM openid_mappings WHERE integration_id = $1 AND user_id = $2",
            &[integration_id.into(), user_id.into()],
        )?
        .map(|r| r.text(0)))
}
