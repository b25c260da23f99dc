//! Bulk history for growth benchmarks (`rewardgate prefill`): finished red-packet orders with their
//! done jobs and their ledger postings (top-up, hold, capture), written a chunk per transaction by
//! set-based statements — the same SQL on both databases (a recursive series). The ledger stays
//! balanced: each chunk's postings move the business's accounts by the same amounts.

use super::ledger;
use crate::StoreError;
use crate::db::Db;
use rewardgate_core::order::AccountKind;

/// Adds `count` finished orders numbered from `first` to `business_id` (whose ledger accounts
/// must exist), created one every 10 ms before `now`; `tag` (one per run) keeps their codes
/// unique across runs. How many were added.
#[allow(clippy::too_many_arguments)]
pub(crate) fn chunk(
    db: &mut dyn Db,
    tag: &str,
    business_id: &str,
    merchant_id: &str,
    channel_account_id: &str,
    first: i64,
    count: i64,
    now: i64,
) -> Result<u64, StoreError> {
    const PRICE: i64 = 101;
    let last = first + count - 1;
    // This run's rows only (live orders of the business may commit meanwhile).
    let like = format!("prefill-{tag}-%");
    let series = "WITH RECURSIVE s(i) AS (SELECT CAST($1 AS BIGINT) UNION ALL SELECT i + 1 FROM s WHERE i < $2)";
    let before: i64 = db
        .query_one(
            "SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) AS m FROM orders",
            &[],
        )?
        .int("m")?;
    let n = db.exec(
        &format!(
            "{series} INSERT INTO orders (order_code, business_id, merchant_id, biz_code, product_type, status, \
               fingerprint, template_id, open_id, amount, settlement, channel_account_id, upstream_id, version, \
               created_at, updated_at, finished_at) \
             SELECT 'PF' || $3 || CAST(i AS TEXT), $4, $5, 'prefill-' || $3 || '-' || CAST(i AS TEXT), 'RED_PACKET', \
               'SUCCESS', 'prefill', 'PREFILL', 'oPrefillUser', 100, {PRICE}, $6, 'PF' || $3 || CAST(i AS TEXT), 2, \
               $7 - i * 10, $7 - i * 10 + 500, $7 - i * 10 + 500 FROM s"
        ),
        &[
            first.into(),
            last.into(),
            tag.into(),
            business_id.into(),
            merchant_id.into(),
            channel_account_id.into(),
            now.into(),
        ],
    )?;
    db.exec(
        "INSERT INTO jobs (order_id, channel_account_id, upstream_key, state, step, attempts, not_before, created_at, updated_at) \
         SELECT id, channel_account_id, order_code, 'DONE', 'SEND', 1, created_at, created_at, updated_at \
         FROM orders WHERE id > $1 AND business_id = $2 AND fingerprint = 'prefill' AND biz_code LIKE $3",
        &[before.into(), business_id.into(), like.as_str().into()],
    )?;
    let acct = |k| ledger::account_id(business_id, k);
    let (funding, available, held, spent) = (
        acct(AccountKind::Funding),
        acct(AccountKind::Available),
        acct(AccountKind::Held),
        acct(AccountKind::Spent),
    );
    for (kind, from, to) in [("HOLD", &available, &held), ("CAPTURE", &held, &spent)] {
        db.exec(
            &format!(
                "INSERT INTO postings (kind, from_account, to_account, amount, order_id, created_at) \
                 SELECT '{kind}', $1, $2, settlement, id, created_at FROM orders \
                 WHERE id > $3 AND business_id = $4 AND fingerprint = 'prefill' AND biz_code LIKE $5"
            ),
            &[from.into(), to.into(), before.into(), business_id.into(), like.as_str().into()],
        )?;
    }
    let total = n as i64 * PRICE;
    db.exec(
        "INSERT INTO postings (kind, from_account, to_account, amount, order_id, created_at) \
         VALUES ('TOPUP', $1, $2, $3, NULL, $4)",
        &[
            (&funding).into(),
            (&available).into(),
            total.into(),
            now.into(),
        ],
    )?;
    for (account, delta) in [(&funding, -total), (&spent, total)] {
        db.exec(
            "UPDATE accounts SET balance = balance + $1 WHERE id = $2",
            &[delta.into(), account.into()],
        )?;
    }
    Ok(n)
}
