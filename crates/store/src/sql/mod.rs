//! Every statement rewardgate runs, written once for both backends, by concern. Private to the
//! store: the rest of rewardgate sees `Store`'s typed methods only.

pub(crate) mod buckets;
pub(crate) mod catalog;
pub(crate) mod console;
pub(crate) mod intake;
pub(crate) mod jobs;
pub(crate) mod ledger;
pub(crate) mod orders;
pub(crate) mod prefill;
pub(crate) mod reports;

use crate::StoreError;
use crate::db::Db;

/// The distinct values of `column` among the rows of `table` in `state` (which has an index on
/// (state, column, …)): a loose index scan — one probe per value, not one row per row — so that
/// a large backlog costs as many probes as it has accounts or hosts.
pub(crate) fn distinct(
    db: &mut dyn Db,
    table: &str,
    column: &str,
    state: &str,
) -> Result<Vec<String>, StoreError> {
    db.query(
        &format!(
            "WITH RECURSIVE v(x) AS (\
               SELECT MIN({column}) FROM {table} WHERE state = '{state}' \
               UNION ALL \
               SELECT (SELECT MIN({column}) FROM {table} WHERE state = '{state}' AND {column} > v.x) \
               FROM v WHERE v.x IS NOT NULL) \
             SELECT x FROM v WHERE x IS NOT NULL"
        ),
        &[],
    )?
    .iter()
    .map(|r| r.text("x"))
    .collect()
}
