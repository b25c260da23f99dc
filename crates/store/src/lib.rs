//! rewardgate's storage: SQLite (default, WAL) or PostgreSQL behind one set of statements.
//! Every write goes through a group-committing writer thread (see `writer`); reads use a small
//! pool. Uniqueness that money depends on (business + bizCode, nonce, top-up reference, upstream
//! key) is enforced by the database.

mod db;
mod migrate;
mod pool;
pub mod records;
mod sql;
mod writer;

pub use records::*;
pub use rewardgate_core::rate::Rate;

use db::{Db, Dialect};
use rewardgate_core::Fen;
use rewardgate_core::delivery::{Change, Next};
use rewardgate_core::order::{JobState, NewOrder, Order};
use rewardgate_core::upstream::UpstreamRequest;
use std::sync::Arc;

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(String),
    /// A transient failure (lock conflict, lost connection): the operation can run again.
    #[error("database busy: {0}")]
    Retryable(String),
    /// The row moved on under us (a lost lease): nothing was written.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("unsupported database URL: {0}")]
    BadUrl(String),
}

/// Where the data lives, from `RG_DATABASE_URL`.
#[derive(Clone, Debug)]
pub enum DbUrl {
    Sqlite(String),
    Postgres(String),
}

impl DbUrl {
    pub fn parse(url: &str) -> Result<DbUrl, StoreError> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            let path = path.split('?').next().unwrap_or(path);
            if path.is_empty() {
                return Err(StoreError::BadUrl("sqlite:// needs a file path".into()));
            }
            Ok(DbUrl::Sqlite(path.to_string()))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DbUrl::Postgres(url.to_string()))
        } else {
            Err(StoreError::BadUrl(
                "expected sqlite://PATH or postgres://…".into(),
            ))
        }
    }

    fn connect(&self) -> Result<Box<dyn Db>, StoreError> {
        Ok(match self {
            DbUrl::Sqlite(p) => Box::new(db::SqliteDb::open(p)?),
            DbUrl::Postgres(u) => Box::new(db::PgConn::connect(u)?),
        })
    }
}

/// Writer connections on PostgreSQL (SQLite has exactly one writer).
const POSTGRES_WRITERS: usize = 4;

/// The handle every part of `serve` shares.
#[derive(Clone)]
pub struct Store {
    writer: writer::Writer,
    readers: pool::ReadPool,
    dialect: Dialect,
}

impl Store {
    /// Connects, applies migrations and starts the writer.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let url = DbUrl::parse(url)?;
        let u = url.clone();
        let db = tokio::task::spawn_blocking(move || -> Result<Box<dyn Db>, StoreError> {
            let mut db = u.connect()?;
            migrate::migrate(db.as_mut())?;
            Ok(db)
        })
        .await
        .map_err(|e| StoreError::Db(e.to_string()))??;
        let dialect = db.dialect();
        let mut dbs = vec![db];
        if dialect == Dialect::Postgres {
            let u = url.clone();
            let more = tokio::task::spawn_blocking(move || {
                (1..POSTGRES_WRITERS)
                    .map(|_| u.connect())
                    .collect::<Result<Vec<_>, _>>()
            })
            .await
            .map_err(|e| StoreError::Db(e.to_string()))??;
            dbs.extend(more);
        }
        let u = url.clone();
        let writer = writer::Writer::start(dbs, Arc::new(move || u.connect()));
        let u = url.clone();
        let readers = pool::ReadPool::new(4, Arc::new(move || u.connect()));
        Ok(Store {
            writer,
            readers,
            dialect,
        })
    }

    /// The database it runs on (for figures and diagnostics).
    pub fn backend(&self) -> &'static str {
        match self.dialect {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
        }
    }

    /// Runs `f` in a group-committed write transaction; it may run more than once.
    async fn write<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnMut(&mut dyn Db) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        self.writer.write(f).await
    }

    /// Runs `f` on a read connection, in one snapshot.
    async fn read<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&mut dyn Db) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        self.readers.read(f).await
    }

    // ---- intake --------------------------------------------------------------------------------

    /// Takes an order in: the business's request bucket, the nonce, the order with its hold and
    /// delivery job — all or nothing.
    pub async fn accept(
        &self,
        nonce: NonceUse,
        order: NewOrder,
    ) -> Result<AcceptOutcome, StoreError> {
        self.write(move |db| sql::intake::accept(db, &nonce, &order))
            .await
    }

    /// The business's request limit, then the nonce (signed reads).
    pub async fn admit(&self, nonce: NonceUse) -> Result<Admit, StoreError> {
        self.write(move |db| sql::intake::admit(db, &nonce)).await
    }

    /// Deletes expired nonces; how many.
    pub async fn purge_nonces(&self, now: i64) -> Result<u64, StoreError> {
        self.write(move |db| sql::intake::purge_nonces(db, now))
            .await
    }

    // ---- catalogue and settings ----------------------------------------------------------------

    pub async fn get_catalog(
        &self,
        kind: &'static str,
        id: String,
    ) -> Result<Option<String>, StoreError> {
        self.read(move |db| sql::catalog::get(db, kind, &id)).await
    }

    pub async fn list_catalog(&self, kind: &'static str) -> Result<Vec<String>, StoreError> {
        self.read(move |db| sql::catalog::list(db, kind)).await
    }

    /// Creates or replaces a catalogue object (its stored JSON).
    pub async fn put_catalog(
        &self,
        kind: &'static str,
        id: String,
        data: String,
        now: i64,
    ) -> Result<(), StoreError> {
        self.write(move |db| sql::catalog::put(db, kind, &id, &data, now))
            .await
    }

    /// A channel account and its rate bucket, together (the bucket exists before the account's
    /// first order can be sent).
    pub async fn put_channel_account(
        &self,
        id: String,
        data: String,
        rate: Option<Rate>,
        now: i64,
    ) -> Result<(), StoreError> {
        self.write(move |db| {
            sql::catalog::put(db, "channel_account", &id, &data, now)?;
            sql::buckets::set(db, &id, rate, now)
        })
        .await
    }

    /// A business, its ledger accounts and credit line, and its request bucket, together.
    pub async fn put_business(
        &self,
        id: String,
        data: String,
        credit_line: Fen,
        rate: Option<Rate>,
        now: i64,
    ) -> Result<(), StoreError> {
        self.write(move |db| {
            sql::catalog::put(db, "business", &id, &data, now)?;
            sql::ledger::ensure_accounts(db, &id, credit_line)?;
            sql::buckets::set(db, &rewardgate_core::rate::business_bucket(&id), rate, now)
        })
        .await
    }

    /// Keeps channel accounts' buckets in line with their configuration.
    pub async fn set_rates(
        &self,
        rates: Vec<(String, Option<Rate>)>,
        now: i64,
    ) -> Result<(), StoreError> {
        self.write(move |db| {
            for (id, rate) in &rates {
                sql::buckets::set(db, id, *rate, now)?;
            }
            Ok(())
        })
        .await
    }

    /// Sets a setting only if it is not set yet; the value in force.
    pub async fn init_setting(
        &self,
        key: &'static str,
        value: String,
    ) -> Result<String, StoreError> {
        self.write(move |db| sql::catalog::init_setting(db, key, &value))
            .await
    }

    pub async fn put_openid_mappings(
        &self,
        integration_id: String,
        pairs: Vec<(String, String)>,
        now: i64,
    ) -> Result<u64, StoreError> {
        self.write(move |db| sql::catalog::put_openid_mappings(db, &integration_id, &pairs, now))
            .await
    }

    pub async fn openid_mapping(
        &self,
        integration_id: String,
        user_id: String,
    ) -> Result<Option<String>, StoreError> {
        self.read(move |db| sql::catalog::openid_mapping(db, &integration_id, &user_id))
            .await
    }

    // ---- orders and money ----------------------------------------------------------------------

    pub async fn order_by_biz_code(
        &self,
        business_id: String,
        biz_code: String,
    ) -> Result<Option<Order>, StoreError> {
        self.read(move |db| sql::orders::by_biz_code(db, &business_id, &biz_code))
            .await
    }

    pub async fn order_by_code(&self, order_code: String) -> Result<Option<Order>, StoreError> {
        self.read(move |db| sql::orders::by_code(db, &order_code))
            .await
    }

    pub async fn list_orders(&self, filter: OrderFilter) -> Result<Vec<Order>, StoreError> {
        self.read(move |db| sql::orders::list(db, &filter)).await
    }

    /// An order with its postings, attempts and reports (with theirs), in one snapshot.
    pub async fn order_detail(
        &self,
        order_code: String,
    ) -> Result<Option<OrderDetail>, StoreError> {
        self.read(move |db| {
            let Some(order) = sql::orders::by_code(db, &order_code)? else {
                return Ok(None);
            };
            let postings = sql::orders::postings(db, order.id)?;
            let attempts = sql::jobs::attempts(db, order.id)?;
            let mut reports = Vec::new();
            for r in sql::reports::of_order(db, order.id)? {
                let a = sql::reports::attempts(db, &r.notify_id)?;
                reports.push((r, a));
            }
            Ok(Some(OrderDetail {
                order,
                postings,
                attempts,
                reports,
            }))
        })
        .await
    }

    pub async fn balance(&self, business_id: String) -> Result<Option<Balance>, StoreError> {
        self.read(move |db| sql::ledger::balance(db, &business_id))
            .await
    }

    pub async fn topup(
        &self,
        business_id: String,
        amount: Fen,
        reference: String,
        now: i64,
    ) -> Result<TopupOutcome, StoreError> {
        self.write(move |db| sql::ledger::topup(db, &business_id, amount, &reference, now))
            .await
    }

    pub async fn ledger_check(&self) -> Result<LedgerCheck, StoreError> {
        self.read(sql::ledger::check).await
    }

    // ---- delivery jobs -------------------------------------------------------------------------

    /// Claims due jobs fairly across channel accounts (see `sql::jobs::claim`).
    pub async fn claim_jobs(
        &self,
        worker: String,
        now: i64,
        lease_until: i64,
        limit: i64,
        rotation: usize,
    ) -> Result<Vec<Claimed>, StoreError> {
        self.write(move |db| sql::jobs::claim(db, &worker, now, lease_until, limit, rotation))
            .await
    }

    /// Freezes the upstream request at the first send; the request in force.
    pub async fn freeze_request(
        &self,
        order: Order,
        lease: String,
        request: UpstreamRequest,
        now: i64,
    ) -> Result<Option<UpstreamRequest>, StoreError> {
        self.write(move |db| sql::jobs::freeze_request(db, &order, &lease, &request, now))
            .await
    }

    /// Records an attempt with the order's change and the job's next step, in one transaction.
    /// False when this claim no longer holds the job; `Conflict` when the order moved on.
    pub async fn record_attempt(
        &self,
        order: Order,
        lease: String,
        attempt: Attempt,
        change: Option<Change>,
        next: Next,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.write(move |db| {
            sql::jobs::record(db, &order, &lease, &attempt, change.as_ref(), &next, now)
        })
        .await
    }

    pub async fn pause_account(
        &self,
        account: String,
        until: i64,
        reason: String,
    ) -> Result<(), StoreError> {
        self.write(move |db| sql::jobs::pause_account(db, &account, until, &reason))
            .await
    }

    /// Re-arms a job that is not final (admin retry); false if there is nothing to re-arm.
    pub async fn rearm(&self, order_id: i64, now: i64) -> Result<bool, StoreError> {
        self.write(move |db| sql::jobs::rearm(db, order_id, now))
            .await
    }

    pub async fn job_counts(&self) -> Result<Vec<(JobState, i64)>, StoreError> {
        self.read(sql::jobs::counts).await
    }

    // ---- status reports ------------------------------------------------------------------------

    /// Claims due reports host by host (see `sql::reports::claim`).
    pub async fn claim_reports(&self, c: ReportClaim) -> Result<Vec<DueReport>, StoreError> {
        self.write(move |db| {
            let f = |h: &str| c.per_host - c.busy.get(h).copied().unwrap_or(0);
            sql::reports::claim(db, &c.worker, c.now, c.lease_until, c.limit, &f, c.rotation)
        })
        .await
    }

    pub async fn record_report(
        &self,
        notify_id: String,
        lease: String,
        attempt: Attempted,
        retry_at: Option<i64>,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.write(move |db| sql::reports::record(db, &notify_id, &lease, &attempt, retry_at, now))
            .await
    }

    /// Sends a report again from the start of its schedule; false if unknown or being sent.
    pub async fn redeliver(&self, notify_id: String, now: i64) -> Result<bool, StoreError> {
        self.write(move |db| sql::reports::redeliver(db, &notify_id, now))
            .await
    }

    pub async fn report(
        &self,
        notify_id: String,
    ) -> Result<Option<(ReportRecord, Vec<ReportAttempt>)>, StoreError> {
        self.read(move |db| {
            let Some(r) = sql::reports::by_id(db, &notify_id)? else {
                return Ok(None);
            };
            let a = sql::reports::attempts(db, &r.notify_id)?;
            Ok(Some((r, a)))
        })
        .await
    }

    /// The reports of one order, in version order.
    pub async fn reports_of(
        &self,
        order_code: String,
    ) -> Result<Option<Vec<ReportRecord>>, StoreError> {
        self.read(move |db| match sql::orders::by_code(db, &order_code)? {
            None => Ok(None),
            Some(o) => sql::reports::of_order(db, o.id).map(Some),
        })
        .await
    }

    // ---- health --------------------------------------------------------------------------------

    /// Whether the store can serve: a read answers with the migrations this build expects, and
    /// the writer commits. The reasons it cannot, if any.
    pub async fn readiness(&self) -> Vec<String> {
        let mut why = Vec::new();
        let wait = std::time::Duration::from_secs(3);
        match tokio::time::timeout(wait, self.read(migrate::applied)).await {
            Ok(Ok(v)) if v == migrate::latest() => {}
            Ok(Ok(v)) => why.push(format!(
                "database schema is at migration {v}, this build expects {}",
                migrate::latest()
            )),
            Ok(Err(e)) => why.push(format!("database read failed: {e}")),
            Err(_) => why.push("database read timed out".into()),
        }
        match tokio::time::timeout(wait, self.write(|db| db.batch("SELECT 1"))).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => why.push(format!("the writer failed: {e}")),
            Err(_) => why.push("the writer did not answer within 3 s".into()),
        }
        why
    }
}
