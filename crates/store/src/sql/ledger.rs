//! The double-entry ledger: accounts per business (available, held, spent) and the platform's
//! funding account; every balance change is a posting between two of them, so the ledger sums to
//! zero. Top-ups and the whole-ledger check.

use crate::StoreError;
use crate::db::Db;
use crate::records::{Balance, LedgerCheck, TopupOutcome};
use rewardgate_core::Fen;
use rewardgate_core::order::{AccountKind, PostingKind};

pub(crate) fn account_id(business_id: &str, kind: AccountKind) -> String {
    match kind {
        AccountKind::Funding => "platform:FUNDING".to_string(),
        k => format!("{business_id}:{}", k.as_str()),
    }
}

/// Creates the business's ledger accounts if new and sets its credit line.
pub(crate) fn ensure_accounts(
    db: &mut dyn Db,
    business_id: &str,
    credit_line: Fen,
) -> Result<(), StoreError> {
    create_accounts(db, business_id)?;
    db.exec(
        "UPDATE accounts SET credit_line = $1 WHERE id = $2",
        &[
            credit_line.0.into(),
            account_id(business_id, AccountKind::Available).into(),
        ],
    )?;
    Ok(())
}

/// Creates the business's ledger accounts if new (an existing one keeps its credit line).
pub(crate) fn create_accounts(db: &mut dyn Db, business_id: &str) -> Result<(), StoreError> {
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
    Ok(())
}

/// Moves `amount` between two accounts of `business_id` (or the platform's) as one posting.
pub(crate) fn post(
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
    record_posting(db, kind, &from, &to, amount, order_id, now)
}

pub(crate) fn record_posting(
    db: &mut dyn Db,
    kind: PostingKind,
    from: &str,
    to: &str,
    amount: Fen,
    order_id: Option<i64>,
    now: i64,
) -> Result<(), StoreError> {
    db.exec(
        "INSERT INTO postings (kind, from_account, to_account, amount, order_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        &[kind.as_str().into(), from.into(), to.into(), amount.0.into(), order_id.into(), now.into()],
    )?;
    Ok(())
}

/// Every business's balance, in one read.
pub(crate) fn all_balances(db: &mut dyn Db) -> Result<Vec<(String, Balance)>, StoreError> {
    let mut out: Vec<(String, Balance)> = Vec::new();
    for r in db.query(
        "SELECT business_id, kind, balance, credit_line FROM accounts WHERE business_id IS NOT NULL \
         ORDER BY business_id",
        &[],
    )? {
        let id = r.text("business_id")?;
        if out.last().is_none_or(|(b, _)| *b != id) {
            out.push((id, ZERO_BALANCE));
        }
        add_account(&mut out.last_mut().expect("just pushed").1, &r)?;
    }
    Ok(out)
}

const ZERO_BALANCE: Balance = Balance {
    available: Fen(0),
    held: Fen(0),
    spent: Fen(0),
    credit_line: Fen(0),
};

/// Puts one ledger account row (kind, balance, credit_line) into its business's balance.
fn add_account(b: &mut Balance, r: &crate::db::Row) -> Result<(), StoreError> {
    let amount = Fen(r.int("balance")?);
    match r.parsed("kind", AccountKind::parse)? {
        AccountKind::Available => {
            b.available = amount;
            b.credit_line = Fen(r.int("credit_line")?);
        }
        AccountKind::Held => b.held = amount,
        AccountKind::Spent => b.spent = amount,
        AccountKind::Funding => {}
    }
    Ok(())
}

pub(crate) fn balance(db: &mut dyn Db, business_id: &str) -> Result<Option<Balance>, StoreError> {
    let rows = db.query(
        "SELECT kind, balance, credit_line FROM accounts WHERE business_id = $1",
        &[business_id.into()],
    )?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut b = ZERO_BALANCE;
    for r in &rows {
        add_account(&mut b, r)?;
    }
    Ok(Some(b))
}

pub(crate) fn topup(
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
    let current = |db: &mut dyn Db| {
        balance(db, business_id)?
            .ok_or_else(|| StoreError::Db(format!("no accounts for {business_id}")))
    };
    if inserted == 0 {
        let prior = db.query_one(
            "SELECT amount FROM topups WHERE business_id = $1 AND reference = $2",
            &[business_id.into(), reference.into()],
        )?;
        return Ok(if prior.int("amount")? == amount.0 {
            TopupOutcome::AlreadyApplied(current(db)?)
        } else {
            TopupOutcome::Conflict
        });
    }
    post(db, PostingKind::Topup, business_id, amount, None, now)?;
    Ok(TopupOutcome::Applied(current(db)?))
}

pub(crate) fn check(db: &mut dyn Db) -> Result<LedgerCheck, StoreError> {
    let sum = db
        .query_one(
            "SELECT CAST(COALESCE(SUM(balance), 0) AS BIGINT) AS s FROM accounts",
            &[],
        )?
        .int("s")?;
    let postings = db
        .query_one("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM postings", &[])?
        .int("n")?;
    let rows = db.query(
        "SELECT a.id AS id FROM accounts a WHERE a.balance <> \
           (SELECT CAST(COALESCE(SUM(p.amount), 0) AS BIGINT) FROM postings p WHERE p.to_account = a.id) \
         - (SELECT CAST(COALESCE(SUM(p.amount), 0) AS BIGINT) FROM postings p WHERE p.from_account = a.id) \
         ORDER BY a.id",
        &[],
    )?;
    Ok(LedgerCheck {
        sum,
        postings,
        mismatched_accounts: rows
            .iter()
            .map(|r| r.text("id"))
            .collect::<Result<_, _>>()?,
    })
}
