//! Read connections: a few, each used by one blocking task at a time, each read in its own
//! read-only transaction so that it sees one snapshot (SQLite's read transaction in WAL mode;
//! REPEATABLE READ on PostgreSQL, whose default, READ COMMITTED, gives each statement its own).

use crate::StoreError;
use crate::db::Db;
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

type Factory = Arc<dyn Fn() -> Result<Box<dyn Db>, StoreError> + Send + Sync>;

#[derive(Clone)]
pub(crate) struct ReadPool {
    idle: Arc<Mutex<Vec<Box<dyn Db>>>>,
    permits: Arc<Semaphore>,
    factory: Factory,
}

impl ReadPool {
    pub fn new(size: usize, factory: Factory) -> ReadPool {
        ReadPool {
            idle: Arc::new(Mutex::new(Vec::new())),
            permits: Arc::new(Semaphore::new(size)),
            factory,
        }
    }

    pub async fn read<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&mut dyn Db) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Db("pool closed".into()))?;
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut db = match this.idle.lock().expect("pool lock").pop() {
                Some(d) => d,
                None => (this.factory)()?,
            };
            let begin = match db.dialect() {
                crate::db::Dialect::Sqlite => "BEGIN",
                crate::db::Dialect::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
            };
            let r = db.batch(begin).and_then(|_| f(db.as_mut()));
            let end = db.batch("ROLLBACK");
            if end.is_ok() && !db.is_broken() {
                this.idle.lock().expect("pool lock").push(db);
            }
            r
        })
        .await
        .map_err(|e| StoreError::Db(format!("read task failed: {e}")))?
    }
}
