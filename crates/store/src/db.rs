//! The one seam between rewardgate's SQL and the two databases: a synchronous connection with
//! `exec` and `query` over positional `$n` parameters. SQLite reads `$1` as a named parameter,
//! numbered in order of first appearance, so every statement lists `$1, $2, …` in order and the
//! same text runs on both backends.

use crate::StoreError;
use std::collections::HashMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A parameter or column value. Nulls carry their type: PostgreSQL checks it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Val {
    I(Option<i64>),
    T(Option<String>),
}

impl From<i64> for Val {
    fn from(v: i64) -> Val {
        Val::I(Some(v))
    }
}
impl From<Option<i64>> for Val {
    fn from(v: Option<i64>) -> Val {
        Val::I(v)
    }
}
impl From<&str> for Val {
    fn from(v: &str) -> Val {
        Val::T(Some(v.to_string()))
    }
}
impl From<String> for Val {
    fn from(v: String) -> Val {
        Val::T(Some(v))
    }
}
impl From<&String> for Val {
    fn from(v: &String) -> Val {
        Val::T(Some(v.clone()))
    }
}
impl From<Option<String>> for Val {
    fn from(v: Option<String>) -> Val {
        Val::T(v)
    }
}
impl From<&Option<String>> for Val {
    fn from(v: &Option<String>) -> Val {
        Val::T(v.clone())
    }
}

/// One result row, read by column name: a column that is missing, NULL where a value is needed,
/// or of another type is an error, never a silent default.
#[derive(Clone, Debug)]
pub struct Row {
    cols: std::sync::Arc<[String]>,
    vals: Vec<Val>,
}

impl Row {
    fn val(&self, name: &str) -> Result<&Val, StoreError> {
        self.cols
            .iter()
            .position(|c| c == name)
            .map(|i| &self.vals[i])
            .ok_or_else(|| StoreError::Db(format!("no column {name} in the result")))
    }
    pub fn opt_int(&self, name: &str) -> Result<Option<i64>, StoreError> {
        match self.val(name)? {
            Val::I(v) => Ok(*v),
            Val::T(None) => Ok(None),
            Val::T(Some(s)) => s
                .parse()
                .map(Some)
                .map_err(|_| StoreError::Db(format!("column {name} is not an integer: {s:?}"))),
        }
    }
    pub fn int(&self, name: &str) -> Result<i64, StoreError> {
        self.opt_int(name)?
            .ok_or_else(|| StoreError::Db(format!("column {name} is NULL")))
    }
    pub fn opt_text(&self, name: &str) -> Result<Option<String>, StoreError> {
        match self.val(name)? {
            Val::T(v) => Ok(v.clone()),
            Val::I(None) => Ok(None),
            Val::I(Some(n)) => Err(StoreError::Db(format!(
                "column {name} is an integer ({n}), text expected"
            ))),
        }
    }
    pub fn text(&self, name: &str) -> Result<String, StoreError> {
        self.opt_text(name)?
            .ok_or_else(|| StoreError::Db(format!("column {name} is NULL")))
    }
    /// A text column parsed into a closed set of values.
    pub fn parsed<T>(&self, name: &str, parse: fn(&str) -> Option<T>) -> Result<T, StoreError> {
        let t = self.text(name)?;
        parse(&t)
            .ok_or_else(|| StoreError::Db(format!("column {name} holds an unknown value {t:?}")))
    }
}

pub trait Db: Send {
    fn dialect(&self) -> Dialect;
    /// Runs one statement; the number of rows it changed.
    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, StoreError>;
    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>, StoreError>;
    /// Several statements without parameters (migrations, BEGIN/COMMIT).
    fn batch(&mut self, sql: &str) -> Result<(), StoreError>;
    /// Whether the connection is gone and must be replaced.
    fn is_broken(&self) -> bool {
        false
    }
}

impl dyn Db + '_ {
    pub fn query_opt(&mut self, sql: &str, params: &[Val]) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }
    pub fn query_one(&mut self, sql: &str, params: &[Val]) -> Result<Row, StoreError> {
        self.query_opt(sql, params)?
            .ok_or_else(|| StoreError::Db("expected a row".into()))
    }
    pub fn begin(&mut self) -> Result<(), StoreError> {
        match self.dialect() {
            Dialect::Sqlite => self.batch("BEGIN IMMEDIATE"),
            Dialect::Postgres => self.batch("BEGIN"),
        }
    }
}

// ---- SQLite ------------------------------------------------------------------------------------

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

// ---- PostgreSQL --------------------------------------------------------------------------------

/// Prepared statements kept per PostgreSQL connection at most.
const MAX_STATEMENTS: usize = 256;

pub struct PgDb {
    client: postgres::Client,
    statements: HashMap<String, postgres::Statement>,
}

/// The synchronous client blocks on its own runtime when closed, which panics on an async thread:
/// a connection dropped there (the read pool, at shutdown) is closed on a plain thread instead.
pub struct PgConn(Option<PgDb>);

impl Drop for PgConn {
    fn drop(&mut self) {
        if let Some(db) = self.0.take()
            && tokio::runtime::Handle::try_current().is_ok()
        {
            std::thread::spawn(move || drop(db));
        }
    }
}

impl PgConn {
    pub fn connect(url: &str) -> Result<PgConn, StoreError> {
        PgDb::connect(url).map(|d| PgConn(Some(d)))
    }
    fn db(&mut self) -> &mut PgDb {
        self.0.as_mut().expect("a live connection")
    }
}

impl Db for PgConn {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }
    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, StoreError> {
        self.db().exec(sql, params)
    }
    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>, StoreError> {
        self.db().query(sql, params)
    }
    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        self.db().batch(sql)
    }
    fn is_broken(&self) -> bool {
        self.0.as_ref().is_none_or(|d| d.is_broken())
    }
}

impl PgDb {
    pub fn connect(url: &str) -> Result<PgDb, StoreError> {
        let client = postgres::Client::connect(url, postgres::NoTls).map_err(pg_err)?;
        Ok(PgDb {
            client,
            statements: HashMap::new(),
        })
    }
    fn prepare(&mut self, sql: &str) -> Result<postgres::Statement, StoreError> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        // Every statement text is fixed (parameters, never values, in the text), so the cache
        // stays small; the bound only guards against a mistake.
        if self.statements.len() >= MAX_STATEMENTS {
            self.statements.clear();
        }
        let s = self.client.prepare(sql).map_err(pg_err)?;
        self.statements.insert(sql.to_string(), s.clone());
        Ok(s)
    }
}

fn pg_err(e: postgres::Error) -> StoreError {
    let code = e.code().map(|c| c.code().to_string());
    match code.as_deref() {
        // deadlock, serialization failure, lock not available: the transaction can run again.
        Some("40P01") | Some("40001") | Some("55P03") => StoreError::Retryable(e.to_string()),
        _ if e.is_closed() => StoreError::Retryable(e.to_string()),
        _ => StoreError::Db(format!(
            "{e}{}",
            e.as_db_error()
                .map(|d| format!(": {}", d.message()))
                .unwrap_or_default()
        )),
    }
}

impl postgres::types::ToSql for Val {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use postgres::types::Type;
        match self {
            Val::I(None) | Val::T(None) => Ok(postgres::types::IsNull::Yes),
            Val::I(Some(v)) if *ty == Type::INT4 => (*v as i32).to_sql(ty, out),
            Val::I(Some(v)) => v.to_sql(ty, out),
            Val::T(Some(s)) => s.to_sql(ty, out),
        }
    }
    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }
    postgres::types::to_sql_checked!();
}

impl Db for PgDb {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }
    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, StoreError> {
        let st = self.prepare(sql)?;
        let p: Vec<&(dyn postgres::types::ToSql + Sync)> = params.iter().map(|v| v as _).collect();
        self.client.execute(&st, &p).map_err(pg_err)
    }
    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>, StoreError> {
        use postgres::types::Type;
        let st = self.prepare(sql)?;
        let p: Vec<&(dyn postgres::types::ToSql + Sync)> = params.iter().map(|v| v as _).collect();
        let rows = self.client.query(&st, &p).map_err(pg_err)?;
        let cols: std::sync::Arc<[String]> =
            st.columns().iter().map(|c| c.name().to_string()).collect();
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let mut v = Vec::with_capacity(r.len());
            for (i, c) in r.columns().iter().enumerate() {
                let t = c.type_();
                v.push(if *t == Type::INT8 {
                    Val::I(r.try_get::<_, Option<i64>>(i).map_err(pg_err)?)
                } else if *t == Type::INT4 {
                    Val::I(
                        r.try_get::<_, Option<i32>>(i)
                            .map_err(pg_err)?
                            .map(i64::from),
                    )
                } else if *t == Type::BOOL {
                    Val::I(
                        r.try_get::<_, Option<bool>>(i)
                            .map_err(pg_err)?
                            .map(i64::from),
                    )
                } else {
                    Val::T(r.try_get::<_, Option<String>>(i).map_err(pg_err)?)
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
        self.client.batch_execute(sql).map_err(pg_err)
    }
    fn is_broken(&self) -> bool {
        self.client.is_closed()
    }
}
