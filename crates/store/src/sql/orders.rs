//! Orders: decoded by column name into the domain's `Order`, and found by code, bizCode, id or
//! filter.

use crate::StoreError;
use crate::db::{Db, Row, Val};
use crate::records::{OrderFilter, PostingRecord};
use rewardgate_core::Fen;
use rewardgate_core::delivery::JobState;
use rewardgate_core::order::{Order, OrderSpec, OrderStatus, PostingKind, ProductType};

pub(crate) const ORDER_COLUMNS: &str = "o.id, o.order_code, o.business_id, o.merchant_id, o.biz_code, \
    o.product_type, o.status, o.fingerprint, o.template_id, o.product_code, o.activity_id, o.open_id, \
    o.mobile, o.app_id, o.amount, o.settlement, o.callback_url, o.description, o.channel_account_id, \
    o.upstream_id, o.error_code, o.error_message, o.version, o.created_at, o.updated_at, o.finished_at, \
    o.delivery, o.user_confirm, j.upstream_key AS upstream_key, j.state AS job_state, j.attempts AS job_attempts";

pub(crate) const ORDER_FROM: &str = "orders o LEFT JOIN jobs j ON j.order_id = o.id";

pub(crate) fn decode(r: &Row) -> Result<Order, StoreError> {
    let delivery = match r.opt_text("delivery")? {
        None => None,
        Some(d) => Some(
            serde_json::from_str(&d)
                .map_err(|e| StoreError::Db(format!("column delivery does not parse: {e}")))?,
        ),
    };
    Ok(Order {
        id: r.int("id")?,
        spec: OrderSpec {
            order_code: r.text("order_code")?.into(),
            business_id: r.text("business_id")?.into(),
            merchant_id: r.text("merchant_id")?,
            biz_code: r.text("biz_code")?,
            product_type: r.parsed("product_type", ProductType::parse)?,
            fingerprint: r.text("fingerprint")?,
            template_id: r.opt_text("template_id")?,
            product_code: r.opt_text("product_code")?,
            activity_id: r.opt_text("activity_id")?,
            open_id: r.opt_text("open_id")?,
            mobile: r.opt_text("mobile")?,
            app_id: r.opt_text("app_id")?,
            amount: r.opt_int("amount")?.map(Fen),
            settlement: Fen(r.int("settlement")?),
            callback_url: r.opt_text("callback_url")?,
            description: r.opt_text("description")?,
            channel_account_id: r.text("channel_account_id")?.into(),
            created_at: r.int("created_at")?,
            delivery,
        },
        status: r.parsed("status", OrderStatus::parse)?,
        upstream_id: r.opt_text("upstream_id")?,
        error_code: r.opt_text("error_code")?,
        error_message: r.opt_text("error_message")?,
        version: r.int("version")?,
        updated_at: r.int("updated_at")?,
        finished_at: r.opt_int("finished_at")?,
        upstream_key: r.opt_text("upstream_key")?,
        job_state: match r.opt_text("job_state")? {
            None => None,
            Some(s) => Some(JobState::parse(&s).ok_or_else(|| {
                StoreError::Db(format!("column job_state holds an unknown value {s:?}"))
            })?),
        },
        job_attempts: r.opt_int("job_attempts")?.unwrap_or(0),
        user_confirm: match r.opt_text("user_confirm")? {
            None => None,
            Some(u) => {
                Some(serde_json::from_str(&u).map_err(|e| {
                    StoreError::Db(format!("column user_confirm does not parse: {e}"))
                })?)
            }
        },
    })
}

fn one(db: &mut dyn Db, cond: &str, params: &[Val]) -> Result<Option<Order>, StoreError> {
    let sql = format!("SELECT {ORDER_COLUMNS} FROM {ORDER_FROM} WHERE {cond}");
    db.query_opt(&sql, params)?.as_ref().map(decode).transpose()
}

pub(crate) fn by_biz_code(
    db: &mut dyn Db,
    business_id: &str,
    biz_code: &str,
) -> Result<Option<Order>, StoreError> {
    one(
        db,
        "o.business_id = $1 AND o.biz_code = $2",
        &[business_id.into(), biz_code.into()],
    )
}

pub(crate) fn by_id(db: &mut dyn Db, id: i64) -> Result<Option<Order>, StoreError> {
    one(db, "o.id = $1", &[id.into()])
}

pub(crate) fn by_code(db: &mut dyn Db, order_code: &str) -> Result<Option<Order>, StoreError> {
    one(db, "o.order_code = $1", &[order_code.into()])
}

/// Newest first. Every condition is a parameter; absent ones match all (one statement text per
/// shape). Parameters appear in the text in their numeric order: SQLite numbers `$name`
/// parameters by first appearance. A search by code first finds its few candidates through the
/// `order_code` and `biz_code` indexes, so it never scans the table.
pub(crate) fn list(db: &mut dyn Db, f: &OrderFilter) -> Result<Vec<Order>, StoreError> {
    // The filter's conditions on `o` / `j`, numbered from `$n`.
    let conditions = |n: usize| {
        format!(
            "(CAST(${a} AS TEXT) IS NULL OR o.merchant_id = ${a}) AND (CAST(${b} AS TEXT) IS NULL OR o.business_id = ${b}) \
             AND (CAST(${c} AS TEXT) IS NULL OR o.status = ${c}) AND (CAST(${d} AS BIGINT) IS NULL OR o.id < ${d}) \
             AND (CAST(${e} AS TEXT) IS NULL OR o.product_type = ${e}) AND (CAST(${g} AS TEXT) IS NULL OR j.state = ${g}) \
             AND (CAST(${h} AS BIGINT) IS NULL OR o.created_at >= ${h}) AND (CAST(${i} AS BIGINT) IS NULL OR o.created_at < ${i}) \
             ORDER BY o.id DESC LIMIT ${l}",
            a = n,
            b = n + 1,
            c = n + 2,
            d = n + 3,
            e = n + 4,
            g = n + 5,
            h = n + 6,
            i = n + 7,
            l = n + 8
        )
    };
    let mut params = Vec::with_capacity(10);
    let sql = match &f.code {
        None => format!(
            "SELECT {ORDER_COLUMNS} FROM {ORDER_FROM} WHERE {}",
            conditions(1)
        ),
        Some(code) => {
            params.push(Val::T(Some(code.clone())));
            format!(
                "SELECT {ORDER_COLUMNS} FROM (SELECT id FROM orders WHERE order_code = $1 \
                 UNION SELECT id FROM orders WHERE biz_code = $1) c \
                 JOIN orders o ON o.id = c.id LEFT JOIN jobs j ON j.order_id = o.id WHERE {}",
                conditions(2)
            )
        }
    };
    params.extend([
        Val::T(f.merchant_id.clone()),
        Val::T(f.business_id.clone()),
        Val::T(f.status.map(|s| s.as_str().to_string())),
        Val::I(f.before_id),
        Val::T(f.product_type.map(|t| t.as_str().to_string())),
        Val::T(f.job_state.map(|t| t.as_str().to_string())),
        Val::I(f.created_from),
        Val::I(f.created_before),
        f.limit.clamp(1, 1000).into(),
    ]);
    db.query(&sql, &params)?.iter().map(decode).collect()
}

/// Postings of one order, oldest first.
pub(crate) fn postings(db: &mut dyn Db, order_id: i64) -> Result<Vec<PostingRecord>, StoreError> {
    db.query(
        "SELECT kind, amount, created_at FROM postings WHERE order_id = $1 ORDER BY id",
        &[order_id.into()],
    )?
    .iter()
    .map(|r| {
        Ok(PostingRecord {
            kind: r.parsed("kind", PostingKind::parse)?,
            amount: Fen(r.int("amount")?),
            at: r.int("created_at")?,
        })
    })
    .collect()
}

/// How many orders there are of each type in each status.
pub(crate) fn counts(db: &mut dyn Db) -> Result<Vec<(String, String, i64)>, StoreError> {
    db.query(
        "SELECT product_type, status, CAST(COUNT(*) AS BIGINT) AS n FROM orders \
         GROUP BY product_type, status ORDER BY product_type, status",
        &[],
    )?
    .iter()
    .map(|r| Ok((r.text("product_type")?, r.text("status")?, r.int("n")?)))
    .collect()
}
