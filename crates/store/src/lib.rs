//! rewardgate's storage: SQLite (default, WAL) or PostgreSQL behind one set of statements.
//! Every write goes through a group-committing writer thread (see `writer`); reads use a small
//! pool. Uniqueness that money depends on (business + bizCode, nonce, top-up reference, upstream
//! key) is enforced by the database.

mod api;
mod db;
mod migrate;
mod pg_tls;
mod pool;
pub mod records;
mod sql;
mod writer;

pub use records::*;
pub use rewardgate_core::rate::Rate;
pub use writer::WriterObserver;

use db::{Db, Dialect};
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
    /// Held by every clone; background threads of this store end once the last one is gone.
    _alive: Arc<()>,
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
        let alive = Arc::new(());
        if let DbUrl::Sqlite(path) = &url {
            db::spawn_checkpointer(path, Arc::downgrade(&alive));
        }
        Ok(Store {
            writer,
            readers,
            dialect,
            _alive: alive,
        })
    }

    /// Reports every batch the writer runs to `f` (for metrics); the first observer set stays.
    pub fn observe_writer(&self, f: WriterObserver) {
        let _ = self.writer.observer.set(f);
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

    /// As `write`, on the writer thread that owns `business_id`'s rows.
    async fn write_for<R, F>(&self, business_id: &str, f: F) -> Result<R, StoreError>
    where
        F: FnMut(&mut dyn Db) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        self.writer.write_for(business_id, f).await
    }

    /// Runs `f` on a read connection, in one snapshot.
    async fn read<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&mut dyn Db) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        self.readers.read(f).await
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
