//! Schema migrations, applied on start. Each backend has its own files; a migration runs once, in
//! its own transaction, and several processes starting together on PostgreSQL take turns.

use crate::StoreError;
use crate::db::{Db, Dialect, Val};

const SQLITE: &[(i64, &str)] = &[
    (1, include_str!("../migrations/sqlite/0001_init.sql")),
    (2, include_str!("../migrations/sqlite/0002_delivery.sql")),
    (3, include_str!("../migrations/sqlite/0003_callbacks.sql")),
    (4, include_str!("../migrations/sqlite/0004_fairness.sql")),
];
const POSTGRES: &[(i64, &str)] = &[
    (1, include_str!("../migrations/postgres/0001_init.sql")),
    (2, include_str!("../migrations/postgres/0002_delivery.sql")),
    (3, include_str!("../migrations/postgres/0003_callbacks.sql")),
    (4, include_str!("../migrations/postgres/0004_fairness.sql")),
];

/// The newest migration this build knows.
pub fn latest() -> i64 {
    SQLITE
        .last()
        .map(|(v, _)| *v)
        .unwrap_or(0)
        .max(POSTGRES.last().map(|(v, _)| *v).unwrap_or(0))
}

/// The newest migration the database has.
pub fn applied(db: &mut dyn Db) -> Result<i64, StoreError> {
    Ok(db
        .query_opt("SELECT MAX(version) FROM schema_migrations", &[])?
        .and_then(|r| r.opt_int(0))
        .unwrap_or(0))
}

pub fn migrate(db: &mut dyn Db) -> Result<(), StoreError> {
    let list = match db.dialect() {
        Dialect::Sqlite => SQLITE,
        Dialect::Postgres => POSTGRES,
    };
    if db.dialect() == Dialect::Postgres {
        // One migrator at a time across processes (released with the session or below).
        db.batch("SELECT pg_advisory_lock(7262011)")?;
    }
    let r = run(db, list);
    if db.dialect() == Dialect::Postgres {
        db.batch("SELECT pg_advisory_unlock(7262011)")?;
    }
    r
}

fn run(db: &mut dyn Db, list: &[(i64, &str)]) -> Result<(), StoreError> {
    db.batch("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)")?;
    for (version, sql) in list {
        let done = db.query_opt(
            "SELECT version FROM schema_migrations WHERE version = $1",
            &[Val::from(*version)],
        )?;
        if done.is_some() {
            continue;
        }
        db.begin()?;
        let step = db.batch(sql).and_then(|_| {
            db.exec(
                "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                &[
                    Val::from(*version),
                    Val::from(rewardgate_core::clock::now_ms()),
                ],
            )
        });
        match step {
            Ok(_) => db.batch("COMMIT")?,
            Err(e) => {
                let _ = db.batch("ROLLBACK");
                return Err(StoreError::Db(format!("migration {version} failed: {e}")));
            }
        }
        tracing::info!(version, "applied migration");
    }
    Ok(())
}
