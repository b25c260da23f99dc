//! The one seam between rewardgate's SQL and the two databases: a synchronous connection with
//! `exec` and `query` over positional `$n` parameters. SQLite reads `$1` as a named parameter,
//! numbered in order of first appearance, so every statement lists `$1, $2, …` in order and the
//! same text runs on both backends.

use crate::StoreError;

mod postgres;
mod sqlite;

pub use self::postgres::PgConn;
pub use self::sqlite::{SqliteDb, spawn_checkpointer};

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
    /// Arrays, for one statement over many rows (`UNNEST`); PostgreSQL only.
    IA(Vec<Option<i64>>),
    TA(Vec<Option<String>>),
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
            Val::IA(_) | Val::TA(_) => Err(StoreError::Db(format!("column {name} is an array"))),
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
            Val::IA(_) | Val::TA(_) => Err(StoreError::Db(format!("column {name} is an array"))),
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
