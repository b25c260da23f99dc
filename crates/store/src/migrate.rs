//! Schema migrations, applied on start. One source where the dialects allow (`migrations/*.sql`,
//! written for PostgreSQL and rendered for SQLite: `BIGSERIAL PRIMARY KEY` → `INTEGER PRIMARY KEY`,
//! `BIGINT` → `INTEGER`), a file per dialect where they do not. Each runs once, in its own
//! transaction; several processes starting together on PostgreSQL take turns. Every applied
//! migration's checksum is kept: a file edited after it was applied stops the start, loudly
//! (a database written by an older build gets its checksums recorded on first sight).

use crate::StoreError;
use crate::db::{Db, Dialect, Val};
use md5::{Digest, Md5};

/// A migration's text, shared or per dialect.
enum Source {
    Shared(&'static str),
    PerDialect {
        sqlite: &'static str,
        postgres: &'static str,
    },
}

const MIGRATIONS: &[(i64, Source)] = &[
    (
        1,
        Source::Shared(include_str!("../migrations/0001_init.sql")),
    ),
    (
        2,
        Source::Shared(include_str!("../migrations/0002_delivery.sql")),
    ),
    (
        3,
        Source::Shared(include_str!("../migrations/0003_callbacks.sql")),
    ),
    (
        4,
        Source::Shared(include_str!("../migrations/0004_fairness.sql")),
    ),
    (
        5,
        Source::PerDialect {
            sqlite: include_str!("../migrations/sqlite/0005_typed_states.sql"),
            postgres: include_str!("../migrations/postgres/0005_typed_states.sql"),
        },
    ),
    (
        6,
        Source::Shared(include_str!("../migrations/0006_console.sql")),
    ),
    (
        7,
        Source::Shared(include_str!("../migrations/0007_catalog_version.sql")),
    ),
    (
        8,
        Source::Shared(include_str!("../migrations/0008_drop_jobs_due.sql")),
    ),
    (
        9,
        Source::Shared(include_str!("../migrations/0009_user_confirm.sql")),
    ),
    (
        10,
        Source::Shared(include_str!("../migrations/0010_job_nudge.sql")),
    ),
    (
        11,
        Source::PerDialect {
            sqlite: include_str!("../migrations/sqlite/0011_state_checks.sql"),
            postgres: include_str!("../migrations/postgres/0011_state_checks.sql"),
        },
    ),
];

fn text(s: &Source, d: Dialect) -> String {
    match (s, d) {
        (Source::Shared(t), Dialect::Postgres) => t.to_string(),
        (Source::Shared(t), Dialect::Sqlite) => t
            .replace("BIGSERIAL PRIMARY KEY", "INTEGER PRIMARY KEY")
            .replace("BIGINT", "INTEGER"),
        (Source::PerDialect { sqlite, .. }, Dialect::Sqlite) => sqlite.to_string(),
        (Source::PerDialect { postgres, .. }, Dialect::Postgres) => postgres.to_string(),
    }
}

fn checksum(sql: &str) -> String {
    hex::encode(Md5::digest(sql.as_bytes()))
}

/// The newest migration this build knows.
pub fn latest() -> i64 {
    MIGRATIONS.last().map(|(v, _)| *v).unwrap_or(0)
}

/// The newest migration the database has.
pub fn applied(db: &mut dyn Db) -> Result<i64, StoreError> {
    db.query_opt(
        "SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) AS v FROM schema_migrations",
        &[],
    )?
    .map(|r| r.int("v"))
    .transpose()
    .map(|v| v.unwrap_or(0))
}

pub fn migrate(db: &mut dyn Db) -> Result<(), StoreError> {
    if db.dialect() == Dialect::Postgres {
        // One migrator at a time across processes (released with the session or below).
        db.batch("SELECT pg_advisory_lock(7262011)")?;
    }
    let r = run(db);
    if db.dialect() == Dialect::Postgres {
        db.batch("SELECT pg_advisory_unlock(7262011)")?;
    }
    r
}

fn run(db: &mut dyn Db) -> Result<(), StoreError> {
    db.batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )?;
    // Databases from before checksums: add the column (once).
    let has_checksum = match db.dialect() {
        Dialect::Sqlite => db
            .query(
                "SELECT name FROM pragma_table_info('schema_migrations')",
                &[],
            )?
            .iter()
            .any(|r| r.text("name").is_ok_and(|n| n == "checksum")),
        Dialect::Postgres => db
            .query_opt(
                "SELECT column_name FROM information_schema.columns \
                 WHERE table_name = 'schema_migrations' AND column_name = 'checksum'",
                &[],
            )?
            .is_some(),
    };
    if !has_checksum {
        db.batch("ALTER TABLE schema_migrations ADD COLUMN checksum TEXT")?;
    }
    for (version, source) in MIGRATIONS {
        let sql = text(source, db.dialect());
        let sum = checksum(&sql);
        let done = db.query_opt(
            "SELECT checksum FROM schema_migrations WHERE version = $1",
            &[Val::from(*version)],
        )?;
        if let Some(row) = done {
            match row.opt_text("checksum")? {
                Some(s) if s == sum => {}
                Some(s) => {
                    return Err(StoreError::Db(format!(
                        "migration {version} was edited after it was applied (checksum {s} in the database, {sum} in this build): \
                         a migration that ran must never change; add a new one instead"
                    )));
                }
                None => {
                    db.exec(
                        "UPDATE schema_migrations SET checksum = $1 WHERE version = $2",
                        &[sum.into(), Val::from(*version)],
                    )?;
                }
            }
            continue;
        }
        db.begin()?;
        let step = db.batch(&sql).and_then(|_| {
            db.exec(
                "INSERT INTO schema_migrations (version, applied_at, checksum) VALUES ($1, $2, $3)",
                &[
                    Val::from(*version),
                    Val::from(rewardgate_core::clock::now_ms()),
                    sum.into(),
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
