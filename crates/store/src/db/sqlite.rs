//! The SQLite connection (the embedded default): one file, WAL, owner-only permissions.

use super::{Db, Dialect, Row, Val};
use crate::StoreError;

pub struct SqliteDb(pub rusqlite::Connection);

impl SqliteDb {
    pub fn open(path: &str) -> Result<SqliteDb, StoreError> {
        owner_only(path)?;
        let c = rusqlite::Connection::open(path).map_err(sqlite_err)?;
        c.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(sqlite_err)?;
        // WAL so readers never block the writer; FULL so an answered order survives power loss.
        // temp_store=MEMORY keeps the statement journal of each operation's savepoint in memory:
        // on a file it was a quarter of the writer's time (pwrite of every page an operation
        // touched, measured with perf under `rewardgate bench`). It holds only the pages of the
        // open transaction and goes with it; durability is the WAL's, unchanged. A 16 MiB page
        // cache (the default is 2 MiB) keeps the indexes' upper levels in memory on a large
        // database.
        c.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; \
             PRAGMA temp_store=MEMORY; PRAGMA cache_size=-16384; \
             PRAGMA wal_autocheckpoint=16384; PRAGMA journal_size_limit=67108864;",
        )
        .map_err(sqlite_err)?;
        // Room for intake's multi-row statements (five chunk sizes for each of four tables) beside
        // every other fixed statement text.
        c.set_prepared_statement_cache_capacity(128);
        Ok(SqliteDb(c))
    }
}

/// Copies the WAL back into the database file on its own thread and connection, for as long as
/// `alive` has an owner. The writer's commit used to run SQLite's automatic checkpoint itself at
/// every 1000 pages (a write and an fsync of the database file, 7 % of the writer's time under
/// `rewardgate bench`); the writer's own automatic checkpoint stays as a
/// backstop at 16384 pages (64 MiB of WAL; under steady writes the passive checkpoint is usually
/// a commit behind, so that backstop is what restarts the WAL, and `journal_size_limit` cuts the
/// file back to 64 MiB when it does). A passive checkpoint never blocks the writer or a
/// reader; durability is unchanged (a commit is durable once in the fsynced WAL).
///
/// While writes come in, every 50 ms: smaller copies, each written back before the next, kept the
/// commits' fsyncs from queueing behind a large write-back (`rewardgate bench` on SQLite on disk,
/// 2-core machine, p99 MD5 / RSA: 17.8–18.4 / 21–26 ms every 200 ms, 14–17 / 18–20 ms every 50 ms
/// over five runs (one RSA run at 32 ms, its rate also halved by the machine's neighbours), 23 /
/// 27 ms every second, 14–16 / 18–19 ms every 10–20 ms).
/// When nothing changed since the last one, every 250 ms.
pub fn spawn_checkpointer(path: &str, alive: std::sync::Weak<()>) {
    const BUSY: std::time::Duration = std::time::Duration::from_millis(50);
    const IDLE: std::time::Duration = std::time::Duration::from_millis(250);
    if path == ":memory:" {
        return;
    }
    let path = path.to_string();
    let spawned = std::thread::Builder::new()
        .name("rg-checkpoint".into())
        .spawn(move || {
            let Ok(db) = SqliteDb::open(&path) else {
                return;
            };
            // (frames in the WAL, frames copied) as the last checkpoint left them.
            let mut last = (-1i64, -1i64);
            let mut wait = IDLE;
            while alive.strong_count() > 0 {
                std::thread::sleep(wait);
                match db.0.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                    Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
                }) {
                    Ok(now) => {
                        wait = if now != last { BUSY } else { IDLE };
                        last = now;
                    }
                    Err(e) => tracing::debug!(error = %e, "checkpoint"),
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "no checkpoint thread: the writer checkpoints");
    }
}

/// The database holds every key and secret of the operator's: its file, and the -wal and -shm
/// files SQLite makes beside it (with the main file's permissions), are readable by the owner
/// alone. Made so before SQLite first opens it; an older file is tightened.
fn owner_only(path: &str) -> Result<(), StoreError> {
    if path == ":memory:" || path.starts_with("file:") {
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let err = |e: std::io::Error| StoreError::Db(format!("database file {path}: {e}"));
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(err)?;
        for p in [
            path.to_string(),
            format!("{path}-wal"),
            format!("{path}-shm"),
        ] {
            if let Ok(m) = std::fs::metadata(&p)
                && m.permissions().mode() & 0o077 != 0
            {
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))
                    .map_err(err)?;
            }
        }
    }
    Ok(())
}

fn sqlite_err(e: rusqlite::Error) -> StoreError {
    let retry = matches!(
        &e,
        rusqlite::Error::SqliteFailure(f, _) if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    );
    if retry {
        StoreError::Retryable(e.to_string())
    } else {
        StoreError::Db(e.to_string())
    }
}

impl rusqlite::ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value, ValueRef};
        Ok(match self {
            Val::I(Some(v)) => ToSqlOutput::Owned(Value::Integer(*v)),
            Val::T(Some(s)) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Val::I(None) | Val::T(None) => ToSqlOutput::Owned(Value::Null),
            Val::IA(_) | Val::TA(_) => {
                return Err(rusqlite::Error::ToSqlConversionFailure(
                    "arrays are PostgreSQL-only parameters".into(),
                ));
            }
        })
    }
}

impl Db for SqliteDb {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }
    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, StoreError> {
        let mut st = self.0.prepare_cached(sql).map_err(sqlite_err)?;
        st.execute(rusqlite::params_from_iter(params.iter()))
            .map(|n| n as u64)
            .map_err(sqlite_err)
    }
    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>, StoreError> {
        let mut st = self.0.prepare_cached(sql).map_err(sqlite_err)?;
        let n = st.column_count();
        let cols: std::sync::Arc<[String]> = st.column_names().map(|c| c.to_string()).collect();
        let mut rows = st
            .query(rusqlite::params_from_iter(params.iter()))
            .map_err(sqlite_err)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(sqlite_err)? {
            let mut v = Vec::with_capacity(n);
            for i in 0..n {
                use rusqlite::types::ValueRef;
                v.push(match r.get_ref(i).map_err(sqlite_err)? {
                    ValueRef::Integer(x) => Val::I(Some(x)),
                    ValueRef::Text(t) | ValueRef::Blob(t) => {
                        Val::T(Some(String::from_utf8_lossy(t).into_owned()))
                    }
                    ValueRef::Real(x) => Val::I(Some(x as i64)),
                    ValueRef::Null => Val::T(None),
                });
            }
            out.push(Row {
                cols: cols.clone(),
                vals: v,
            });
        }
        Ok(out)
    }
    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        // One statement (BEGIN, SAVEPOINT, COMMIT…: several per batch) is prepared once and kept.
        if !sql.contains(';') {
            // Stepped to its end, so that a statement with rows (`SELECT 1`) runs as well.
            return self
                .0
                .prepare_cached(sql)
                .and_then(|mut s| {
                    let mut rows = s.raw_query();
                    while rows.next()?.is_some() {}
                    Ok(())
                })
                .map_err(sqlite_err);
        }
        self.0.execute_batch(sql).map_err(sqlite_err)
    }
}
