//! Whole processes: the real `rewardgate` binary as `sandbox` and as one or two `serve`s, killed
//! with SIGKILL mid-run and restarted. Nothing may be lost and no key granted twice.

mod common;
use common::*;
use serde_json::{Value, json};
use std::time::Duration;

#[test]
fn sigkill_mid_run_loses_nothing_and_pays_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    sigkill_mid_run(&format!("sqlite://{}/rg.db", dir.path().display()));
}

#[test]
fn sigkill_mid_run_on_postgres() {
    let pg = PgDb::new("kill");
    sigkill_mid_run(&pg.url());
}

fn sigkill_mid_run(db: &str) {
    let env = start_sandbox();
    env.http
        .put(format!("{}/sandbox/v1/faults", env.sandbox))
        .json(&json!({"systemError": 0.2}))
        .send()
        .unwrap();
    let db = db.to_string();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut first = serve(&env, &db, port);
    setup(&env, &base);
    let n = 300;
    for i in 0..n {
        place(&env, &base, i, i);
    }
    std::thread::sleep(Duration::from_millis(700));
    // SIGKILL: no shutdown, no flush, leases left held.
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    let _second = serve(&env, &db, port);
    wait_all_success(&env, &base, n, Duration::from_secs(120));
    assert_exactly_once(&env, n);
    ledger_balanced(&env, &base);
}

#[test]
fn two_serves_on_one_postgres_deliver_1000_orders_once() {
    let pg = PgDb::new("two");
    let env = start_sandbox();
    let db = pg.url();
    env.http
        .put(format!("{}/sandbox/v1/faults", env.sandbox))
        .json(&json!({"systemError": 0.1}))
        .send()
        .unwrap();
    let (pa, pb) = (free_port(), free_port());
    let (a, b) = (
        format!("http://127.0.0.1:{pa}"),
        format!("http://127.0.0.1:{pb}"),
    );
    let sa = serve(&env, &db, pa);
    let sb = serve(&env, &db, pb);
    setup(&env, &a);
    let n = 1000;
    for i in 0..n {
        // Coupons (no per-minute limit) so the run stays short; orders go in through both.
        let base = if i % 2 == 0 { &a } else { &b };
        place(&env, base, 1 + i % 2, i);
    }
    wait_all_success(&env, &a, n, Duration::from_secs(120));
    assert_exactly_once(&env, n);
    ledger_balanced(&env, &b);
    // Both processes did part of the work.
    let v: Value = env
        .http
        .get(format!("{a}/admin/v1/orders?limit=1000"))
        .bearer_auth(TOKEN)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let codes: Vec<String> = v["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["orderCode"].as_str().unwrap().to_string())
        .collect();
    let mut workers = std::collections::HashSet::new();
    for c in codes.iter().step_by(10) {
        let o: Value = env
            .http
            .get(format!("{a}/admin/v1/orders/{c}"))
            .bearer_auth(TOKEN)
            .send()
            .unwrap()
            .json()
            .unwrap();
        for at in o["data"]["attempts"].as_array().unwrap() {
            workers.insert(
                at["worker"]
                    .as_str()
                    .unwrap()
                    .split('-')
                    .next()
                    .unwrap()
                    .to_string(),
            );
        }
    }
    assert_eq!(workers.len(), 2, "both processes delivered: {workers:?}");
    // Stop both serves before their database goes.
    drop((sa, sb));
}
