//! What every test suite of rewardgate shares: a database of its own for each test — a SQLite
//! file in a temporary folder, or a freshly created PostgreSQL database dropped afterwards — and
//! the shared test keys. PostgreSQL must answer at `RG_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); when it does not, the test fails and says so.

use std::sync::atomic::{AtomicU64, Ordering};

/// A file of `shared/testdata` (the SPEC's test keys).
pub fn testdata(name: &str) -> String {
    let p = format!(
        "{}/../../../shared/testdata/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("test data {p}: {e}"))
}

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server tests create their databases on.
pub fn pg_base() -> String {
    std::env::var("RG_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Runs `sql` on the base database (on a plain thread: the synchronous client has a runtime of
/// its own).
pub fn pg_admin(sql: String) {
    let base = pg_base();
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&base, postgres::NoTls).unwrap_or_else(|e| {
            panic!("PostgreSQL is required for these tests and is not reachable at {base}: {e}")
        });
        c.batch_execute(&sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    })
    .join()
    .expect("the PostgreSQL admin thread");
}

/// A database of its own for one test, gone when dropped.
pub struct TestDb {
    pub url: String,
    dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

static SEQ: AtomicU64 = AtomicU64::new(0);

impl TestDb {
    pub fn new(b: Backend) -> TestDb {
        match b {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary folder");
                TestDb {
                    url: format!("sqlite://{}/rg.db", dir.path().display()),
                    dir: Some(dir),
                    pg_name: None,
                }
            }
            Backend::Postgres => {
                let name = format!(
                    "rg_t_{}_{}_{}",
                    std::process::id(),
                    SEQ.fetch_add(1, Ordering::Relaxed),
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_millis() % 1_000_000)
                        .unwrap_or(0)
                );
                pg_admin(format!("CREATE DATABASE {name}"));
                let base = pg_base();
                let i = base
                    .rfind('/')
                    .expect("RG_TEST_PG_URL needs a database path");
                TestDb {
                    url: format!("{}/{name}", &base[..i]),
                    dir: None,
                    pg_name: Some(name),
                }
            }
        }
    }

    /// The SQLite file's folder (SQLite only).
    pub fn dir(&self) -> Option<&std::path::Path> {
        self.dir.as_ref().map(|d| d.path())
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take() {
            let base = pg_base();
            let _ = std::thread::spawn(move || {
                if let Ok(mut c) = postgres::Client::connect(&base, postgres::NoTls) {
                    let _ =
                        c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
                }
            })
            .join();
        }
    }
}
