//! The PostgreSQL connection: the synchronous client over TLS when the URL asks for it, with a
//! bounded statement cache.

use super::{Db, Dialect, Row, Val};
use crate::StoreError;
use std::collections::HashMap;

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
        let (url, mode, root) = crate::pg_tls::parse(url)?;
        let client = if mode == crate::pg_tls::Mode::Plain {
            postgres::Client::connect(&url, postgres::NoTls)
        } else {
            let tls = crate::pg_tls::config(&mode, root.as_deref())?;
            postgres::Client::connect(&url, crate::pg_tls::MakeRustls(std::sync::Arc::new(tls)))
        }
        .map_err(pg_err)?;
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
    let mut msg = e.to_string();
    if let Some(d) = e.as_db_error() {
        msg.push_str(&format!(": {} ({})", d.message(), d.code().code()));
    }
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg.push_str(&format!(": {s}"));
        src = s.source();
    }
    match code.as_deref() {
        // deadlock, serialization failure, lock not available: the transaction can run again.
        Some("40P01") | Some("40001") | Some("55P03") => StoreError::Retryable(msg),
        _ if e.is_closed() => StoreError::Retryable(msg),
        _ => StoreError::Db(msg),
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
            Val::IA(v) => v.to_sql(ty, out),
            Val::TA(v) => v.to_sql(ty, out),
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
