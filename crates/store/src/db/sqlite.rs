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
        c.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
        )
        .map_err(sqlite_err)?;
        c.set_prepared_statement_cache_capacity(64);
        Ok(SqliteDb(c))
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
            _ => ToSqlOutput::Owned(Value::Null),
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
        self.0.execute_batch(sql).map_err(sqlite_err)
    }
}
