//! The store's story without HTTP, on SQLite and PostgreSQL (a database of its own per test):
//! accepting orders and their idempotency, holds under racing orders, one failing operation in a
//! group commit, leases that run out, reports, migrations that refuse an edited file, TLS to
//! PostgreSQL.

use rewardgate_core::Fen;
use rewardgate_core::delivery::{Change, Next, Step};
use rewardgate_core::order::{
    KeyScheme, NewOrder, OrderSpec, OrderStatus, PostingKind, ProductType,
};
use rewardgate_core::report::Report;
use rewardgate_core::report::ReportState;
use rewardgate_store::*;
use rewardgate_testkit::{Backend, TestDb};
use std::collections::HashMap;

fn now() -> i64 {
    rewardgate_core::clock::now_ms()
}

async fn store_with_business(db: &TestDb, credit: i64) -> Store {
    let s = Store::open(&db.url).await.expect("the store opens");
    s.put_business(
        "B1".into(),
        r#"{"id":"B1"}"#.into(),
        Fen(credit),
        None,
        now(),
    )
    .await
    .unwrap();
    s
}

fn order(biz: &str, settlement: i64, callback: bool) -> NewOrder {
    NewOrder {
        spec: OrderSpec {
            order_code: rewardgate_core::ids::order_code(now()),
            business_id: "B1".into(),
            merchant_id: "M1".into(),
            biz_code: biz.into(),
            product_type: ProductType::WechatCoupon,
            fingerprint: format!("fp-{biz}-{settlement}"),
            template_id: None,
            product_code: Some("P".into()),
            activity_id: Some("A".into()),
            open_id: Some("oUser".into()),
            mobile: None,
            app_id: None,
            amount: None,
            settlement: Fen(settlement),
            callback_url: callback.then(|| "https://m.example/cb".to_string()),
            description: None,
            channel_account_id: "wx3".into(),
            created_at: now(),
            delivery: None,
        },
        key: KeyScheme::OrderCode,
    }
}

fn nonce(n: &str) -> NonceUse {
    NonceUse {
        business_id: "B1".into(),
        nonce: n.into(),
        now: now(),
    }
}

async fn assert_balanced(s: &Store) {
    let c = s.ledger_check().await.unwrap();
    assert_eq!((c.sum, c.mismatched_accounts), (0, vec![]), "the ledger");
}

macro_rules! both {
    ($name:ident, $body:ident) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $body(Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $body(Backend::Postgres).await
            }
        }
    };
}

async fn accept_and_idempotency(b: Backend) {
    let db = TestDb::new(b);
    let s = store_with_business(&db, 0).await;
    s.topup("B1".into(), Fen(1000), "t1".into(), now())
        .await
        .unwrap();
    assert!(matches!(
        s.topup("B1".into(), Fen(1000), "t1".into(), now())
            .await
            .unwrap(),
        TopupOutcome::AlreadyApplied(_)
    ));
    assert_eq!(
        s.topup("B1".into(), Fen(5), "t1".into(), now())
            .await
            .unwrap(),
        TopupOutcome::Conflict
    );
    let first = match s
        .accept(nonce("n1"), order("b1", 300, false))
        .await
        .unwrap()
    {
        AcceptOutcome::Created(o) => o,
        other => panic!("{other:?}"),
    };
    assert_eq!(first.status, OrderStatus::Processing);
    assert!(first.upstream_key.is_some());
    // The same bizCode and request: the first order; another request: a conflict.
    match s
        .accept(nonce("n2"), order("b1", 300, false))
        .await
        .unwrap()
    {
        AcceptOutcome::Existing(o) => assert_eq!(o.order_code, first.order_code),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        s.accept(nonce("n3"), order("b1", 301, false))
            .await
            .unwrap(),
        AcceptOutcome::Conflict
    ));
    assert!(matches!(
        s.accept(nonce("n1"), order("b2", 100, false))
            .await
            .unwrap(),
        AcceptOutcome::NonceReplay
    ));
    // A nonce whose 15 minutes are over may be used again (its row is renewed, not added).
    let later = NonceUse {
        now: now() + rewardgate_core::sign::NONCE_TTL_MS + 1,
        ..nonce("n1")
    };
    assert!(matches!(
        s.accept(later.clone(), order("b4", 100, false))
            .await
            .unwrap(),
        AcceptOutcome::Created(_)
    ));
    assert!(matches!(
        s.accept(later, order("b5", 100, false)).await.unwrap(),
        AcceptOutcome::NonceReplay
    ));
    // Insufficient balance stores nothing.
    assert!(matches!(
        s.accept(nonce("n4"), order("b3", 800, false))
            .await
            .unwrap(),
        AcceptOutcome::Insufficient
    ));
    assert!(
        s.order_by_biz_code("B1".into(), "b3".into())
            .await
            .unwrap()
            .is_none()
    );
    let bal = s.balance("B1".into()).await.unwrap().unwrap();
    assert_eq!((bal.available, bal.held), (Fen(600), Fen(400)));
    let d = s
        .order_detail(first.order_code.to_string())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.postings.len(), 1);
    assert_eq!(d.postings[0].kind, PostingKind::Hold);
    assert_balanced(&s).await;
}
both!(
    accepting_orders_and_their_idempotency,
    accept_and_idempotency
);

/// Orders that arrive together go in as one batch (more than one statement's 16 rows here): a
/// nonce past its 15 minutes among them is taken again and one still live is refused, and every
/// accepted order has its hold — the same answers as one by one.
async fn batched_nonces(b: Backend) {
    let ttl = rewardgate_core::sign::NONCE_TTL_MS;
    let db = TestDb::new(b);
    let s = store_with_business(&db, 0).await;
    s.topup("B1".into(), Fen(10_000), "t".into(), now())
        .await
        .unwrap();
    let at = |n: &str, t: i64| NonceUse { now: t, ..nonce(n) };
    for (n, t) in [("old", now() - ttl - 1), ("live", now())] {
        let r = s.accept(at(n, t), order(n, 100, false)).await.unwrap();
        assert!(matches!(r, AcceptOutcome::Created(_)), "{r:?}");
    }
    let mut set = tokio::task::JoinSet::new();
    for i in 0..40 {
        let s = s.clone();
        let n = match i {
            17 => "old".to_string(),
            23 => "live".to_string(),
            _ => format!("k{i}"),
        };
        set.spawn(async move {
            let r = s.accept(at(&n, now()), order(&format!("k{i}"), 100, false));
            (i, r.await.unwrap())
        });
    }
    let mut created = Vec::new();
    while let Some(r) = set.join_next().await {
        match r.unwrap() {
            (23, AcceptOutcome::NonceReplay) => {}
            (i, AcceptOutcome::Created(o)) if i != 23 => created.push(o),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(created.len(), 39);
    for o in &created {
        let d = s
            .order_detail(o.order_code.to_string())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(d.postings.len(), 1, "{}", o.biz_code);
        assert_eq!(d.postings[0].amount, Fen(100));
    }
    let bal = s.balance("B1".into()).await.unwrap().unwrap();
    assert_eq!((bal.available, bal.held), (Fen(10_000 - 4100), Fen(4100)));
    assert_balanced(&s).await;
}
both!(orders_arriving_together_use_nonces_as_alone, batched_nonces);

/// 60 orders of 1 yuan race for 20 yuan and a 5 yuan credit line: exactly 25 are held.
async fn racing_holds(b: Backend) {
    let db = TestDb::new(b);
    let s = store_with_business(&db, 500).await;
    s.topup("B1".into(), Fen(2000), "t".into(), now())
        .await
        .unwrap();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..60 {
        let s = s.clone();
        set.spawn(async move {
            s.accept(nonce(&format!("r{i}")), order(&format!("r{i}"), 100, false))
                .await
        });
    }
    let mut created = 0;
    while let Some(r) = set.join_next().await {
        match r.unwrap().unwrap() {
            AcceptOutcome::Created(_) => created += 1,
            AcceptOutcome::Insufficient => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(created, 25);
    let bal = s.balance("B1".into()).await.unwrap().unwrap();
    assert_eq!((bal.available, bal.held), (Fen(-500), Fen(2500)));
    assert_balanced(&s).await;
}
both!(holds_under_racing_orders, racing_holds);

/// One operation that fails inside a group commit (a top-up of a business without accounts) is
/// undone alone; its batch-mates commit.
async fn failing_batch_mate(b: Backend) {
    let db = TestDb::new(b);
    let s = store_with_business(&db, 0).await;
    s.topup("B1".into(), Fen(100_000), "t".into(), now())
        .await
        .unwrap();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..40 {
        let s = s.clone();
        set.spawn(async move {
            if i % 10 == 5 {
                s.topup("NOBODY".into(), Fen(1), format!("x{i}"), now())
                    .await
                    .map(|_| None)
            } else {
                s.accept(nonce(&format!("f{i}")), order(&format!("f{i}"), 100, false))
                    .await
                    .map(Some)
            }
        });
    }
    let (mut ok, mut failed) = (0, 0);
    while let Some(r) = set.join_next().await {
        match r.unwrap() {
            Ok(Some(AcceptOutcome::Created(_))) => ok += 1,
            Err(StoreError::Db(_)) => failed += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((ok, failed), (36, 4));
    assert_balanced(&s).await;
}
both!(a_failing_operation_fails_alone, failing_batch_mate);

/// An upstream's notification (a 商家转账 confirmed) is only a hint, kept in the database: a waiting
/// job becomes due now; a job in flight is due now once its attempt is recorded, whatever time
/// the attempt chose; a job with no hint keeps its own time.
async fn nudges(b: Backend) {
    let db = TestDb::new(b);
    let s = store_with_business(&db, 0).await;
    s.topup("B1".into(), Fen(1000), "t".into(), now())
        .await
        .unwrap();
    s.accept(nonce("n1"), order("n1", 100, true)).await.unwrap();
    let t = now();
    let claim = |at: i64| s.claim_jobs("W".into(), at, at + 60_000, 10, 0);
    let c = claim(t).await.unwrap().jobs.remove(0);
    let (account, key) = (
        c.order.channel_account_id.to_string(),
        c.upstream_key.clone(),
    );
    let attempt = Attempt {
        worker: "W".into(),
        step: Step::Check,
        outcome: "PENDING".into(),
        detail: None,
        latency_ms: 1,
    };
    let later = Next::Again {
        step: Step::Check,
        not_before: t + 3_600_000,
    };
    // In flight: the hint is kept and wins over the attempt's hour.
    assert!(
        s.nudge_job(account.clone(), key.clone(), t + 10)
            .await
            .unwrap()
    );
    let record = |c: &Claimed, at: i64| {
        s.record_attempt(
            c.order.clone(),
            c.lease.clone(),
            attempt.clone(),
            None,
            later.clone(),
            at,
        )
    };
    assert!(record(&c, t + 20).await.unwrap());
    let c = claim(t + 30).await.unwrap().jobs;
    assert_eq!(c.len(), 1, "due now, not in an hour");
    // No hint this time: it waits its hour.
    assert!(record(&c[0], t + 40).await.unwrap());
    assert!(claim(t + 50).await.unwrap().jobs.is_empty());
    // Waiting: due at once. Another account's or another key's hint matches nothing.
    assert!(
        !s.nudge_job("other".into(), key.clone(), t + 60)
            .await
            .unwrap()
    );
    assert!(
        !s.nudge_job(account.clone(), "nope".into(), t + 60)
            .await
            .unwrap()
    );
    assert!(s.nudge_job(account, key, t + 60).await.unwrap());
    assert_eq!(claim(t + 70).await.unwrap().jobs.len(), 1);
}
both!(a_notification_makes_the_job_due_even_in_flight, nudges);

/// The change a granted delivery makes at `t`: SUCCESS, the hold captured, a report to the
/// merchant's callback.
fn granted(o: &rewardgate_core::order::Order, t: i64) -> Change {
    Change {
        from: OrderStatus::Processing,
        from_version: o.version,
        to: OrderStatus::Success,
        posting: Some((PostingKind::Capture, o.settlement)),
        upstream_id: Some("U".into()),
        error_code: None,
        error_message: None,
        finished_at: Some(t),
        user_confirm: None,
        report: Some(Report::new(
            o,
            o.version + 1,
            OrderStatus::Success,
            None,
            None,
            Some(t),
            "https://m.example/cb",
        )),
    }
}

/// A claim whose lease ran out is taken again (a send becomes a check); the first claim can no
/// longer record.
async fn leases(b: Backend) {
    let db = TestDb::new(b);
    let s = store_with_business(&db, 0).await;
    s.topup("B1".into(), Fen(1000), "t".into(), now())
        .await
        .unwrap();
    s.accept(nonce("l1"), order("l1", 100, true)).await.unwrap();
    let t = now();
    let a = s
        .claim_jobs("A".into(), t, t + 50, 10, 0)
        .await
        .unwrap()
        .jobs;
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].job.step, Step::Send);
    assert!(
        s.claim_jobs("B".into(), t + 10, t + 60_000, 10, 0)
            .await
            .unwrap()
            .jobs
            .is_empty(),
        "leased"
    );
    let b2 = s
        .claim_jobs("B".into(), t + 100, t + 60_000, 10, 1)
        .await
        .unwrap()
        .jobs;
    assert_eq!(b2.len(), 1);
    assert_eq!(b2[0].job.step, Step::Check, "its send may have gone out");
    let attempt = |w: &str| Attempt {
        worker: w.into(),
        step: Step::Check,
        outcome: "GRANTED".into(),
        detail: None,
        latency_ms: 1,
    };
    let o = b2[0].order.clone();
    let change = granted(&o, t);
    assert!(
        !s.record_attempt(
            o.clone(),
            a[0].lease.clone(),
            attempt("A"),
            Some(change.clone()),
            Next::Done,
            t + 200
        )
        .await
        .unwrap(),
        "the lost lease records nothing"
    );
    assert!(
        s.record_attempt(
            o.clone(),
            b2[0].lease.clone(),
            attempt("B"),
            Some(change),
            Next::Done,
            t + 200
        )
        .await
        .unwrap()
    );
    let d = s
        .order_detail(o.order_code.to_string())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.order.status, OrderStatus::Success);
    assert_eq!(d.attempts.len(), 1);
    assert_eq!(d.postings.last().unwrap().kind, PostingKind::Capture);
    // The report written with the change is claimed, delivered, recorded once.
    let claim = |lease_until: i64| ReportClaim {
        worker: "N".into(),
        now: t + 300,
        lease_until,
        limit: 10,
        busy: HashMap::new(),
        per_host: 4,
        rotation: 0,
    };
    let due = s.claim_reports(claim(t + 60_000)).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].host, "m.example:443");
    let delivered = Attempted {
        http_status: Some(200),
        latency_ms: 3,
        error: None,
        delivered: true,
    };
    assert!(
        s.record_report(
            due[0].notify_id.clone(),
            due[0].lease.clone(),
            delivered.clone(),
            None,
            t + 400
        )
        .await
        .unwrap()
    );
    assert!(
        !s.record_report(
            due[0].notify_id.clone(),
            due[0].lease.clone(),
            delivered,
            None,
            t + 400
        )
        .await
        .unwrap()
    );
    let (r, attempts) = s.report(due[0].notify_id.clone()).await.unwrap().unwrap();
    assert_eq!((r.state, attempts.len()), (ReportState::Delivered, 1));
    assert_balanced(&s).await;
}
both!(leases_run_out_and_reports_go_out, leases);

/// Reports whose lease ran out are taken again within their host's room, like due ones: a
/// process taking over a stopped one's leases does not hold a host's whole backlog at once.
async fn expired_reports(b: Backend) {
    let db = TestDb::new(b);
    let s = store_with_business(&db, 0).await;
    s.topup("B1".into(), Fen(1000), "t".into(), now())
        .await
        .unwrap();
    for i in 0..5 {
        let biz = format!("x{i}");
        s.accept(nonce(&biz), order(&biz, 100, true)).await.unwrap();
    }
    let t = now();
    let jobs = s
        .claim_jobs("A".into(), t, t + 60_000, 10, 0)
        .await
        .unwrap()
        .jobs;
    assert_eq!(jobs.len(), 5);
    for j in jobs {
        let o = j.order.clone();
        let change = granted(&o, t);
        let attempt = Attempt {
            worker: "A".into(),
            step: Step::Send,
            outcome: "GRANTED".into(),
            detail: None,
            latency_ms: 1,
        };
        assert!(
            s.record_attempt(o, j.lease, attempt, Some(change), Next::Done, t + 1)
                .await
                .unwrap()
        );
    }
    let claim = |worker: &str, at: i64, per_host: i64| ReportClaim {
        worker: worker.into(),
        now: at,
        lease_until: at + 50,
        limit: 10,
        busy: HashMap::new(),
        per_host,
        rotation: 0,
    };
    // One process holds all five, then stops; its leases run out.
    assert_eq!(
        s.claim_reports(claim("P1", t + 10, 5)).await.unwrap().len(),
        5
    );
    // Another, whose room for the host is 2, takes 2 of them now and the rest later.
    let first = s.claim_reports(claim("P2", t + 100, 2)).await.unwrap();
    assert_eq!(
        first.len(),
        2,
        "expired reports count against the host's room"
    );
    let second = s.claim_reports(claim("P3", t + 110, 5)).await.unwrap();
    assert_eq!(second.len(), 3, "the rest stayed to be taken");
    assert_balanced(&s).await;
}
both!(expired_reports_respect_the_host_room, expired_reports);

/// A migration edited after it ran stops the start.
async fn edited_migration(b: Backend) {
    let db = TestDb::new(b);
    drop(Store::open(&db.url).await.unwrap());
    let sql = "UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1".to_string();
    match b {
        Backend::Sqlite => {
            let c = rusqlite::Connection::open(format!("{}/rg.db", db.dir().unwrap().display()))
                .unwrap();
            c.execute(&sql, []).unwrap();
        }
        Backend::Postgres => {
            let url = db.url.clone();
            std::thread::spawn(move || {
                let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
                c.batch_execute(&sql).unwrap();
            })
            .join()
            .unwrap();
        }
    }
    match Store::open(&db.url).await {
        Err(e) => assert!(e.to_string().contains("edited after it was applied"), "{e}"),
        Ok(_) => panic!("an edited migration was accepted"),
    }
}
both!(an_edited_migration_is_refused, edited_migration);

/// The closed sets (order status and type, job state and step, notification state, posting
/// kind) are the database's rule too: an unknown value is refused on insert and on update, and
/// the refusal names the column (SQLite: triggers, rewritten in migration 11; PostgreSQL: CHECK).
async fn closed_sets(b: Backend) {
    let db = TestDb::new(b);
    let bad = [
        "INSERT INTO postings (kind, from_account, to_account, amount, order_id, created_at) \
         VALUES ('BOGUS', 'x', 'y', 1, NULL, 1)",
        "UPDATE postings SET kind = 'BOGUS'",
        "UPDATE orders SET status = 'PAID'",
        "UPDATE orders SET product_type = 'CASH'",
        "UPDATE jobs SET state = 'LOST'",
        "UPDATE jobs SET step = 'GUESS'",
        "UPDATE notifications SET state = 'GONE'",
    ];
    let names = [
        "kind",
        "kind",
        "status",
        "product_type",
        "state",
        "step",
        "state",
    ];
    // Rows for the updates to meet: an order taken in (its hold's posting and its job), and a
    // status report about it.
    let s = store_with_business(&db, 0).await;
    s.topup("B1".into(), Fen(1000), "t1".into(), now())
        .await
        .unwrap();
    s.accept(nonce("n1"), order("b1", 300, true)).await.unwrap();
    drop(s);
    let seed = [
        "INSERT INTO accounts (id, business_id, kind, balance, credit_line) VALUES ('x', 'B', 'AVAILABLE', 0, 0)",
        "INSERT INTO accounts (id, business_id, kind, balance, credit_line) VALUES ('y', 'B', 'HELD', 0, 0)",
        "INSERT INTO notifications (notify_id, order_id, version, target, body, state, attempts, next_at, created_at, host) \
         SELECT 'N1', id, 1, 'https://m.example/n', '{}', 'PENDING', 0, 1, 1, 'm.example' FROM orders",
    ];
    let run = move |sqls: Vec<String>| -> Vec<Result<(), String>> {
        match b {
            Backend::Sqlite => {
                let c =
                    rusqlite::Connection::open(format!("{}/rg.db", db.dir().unwrap().display()))
                        .unwrap();
                sqls.iter()
                    .map(|q| c.execute(q, []).map(|_| ()).map_err(|e| e.to_string()))
                    .collect()
            }
            Backend::Postgres => {
                let url = db.url.clone();
                std::thread::spawn(move || {
                    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
                    sqls.iter()
                        .map(|q| c.batch_execute(q).map_err(|e| format!("{e:?}")))
                        .collect()
                })
                .join()
                .unwrap()
            }
        }
    };
    let mut all: Vec<String> = seed.iter().map(|s| s.to_string()).collect();
    all.extend(bad.iter().map(|s| s.to_string()));
    let got = run(all);
    for (i, r) in got[..seed.len()].iter().enumerate() {
        assert!(r.is_ok(), "seed {i}: {r:?}");
    }
    for ((sql, name), r) in bad.iter().zip(names).zip(&got[seed.len()..]) {
        match r {
            Err(e) => assert!(e.contains(name), "{sql}: the refusal names {name}: {e}"),
            Ok(()) => panic!("{sql} was accepted"),
        }
    }
}
both!(unknown_states_are_refused_by_the_database, closed_sets);

/// TLS to PostgreSQL: `sslmode=require` encrypts; `verify-full` checks the server's certificate
/// against `sslrootcert` and its name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_over_tls() {
    let db = TestDb::new(Backend::Postgres);
    let s = Store::open(&format!("{}?sslmode=require", db.url))
        .await
        .expect("sslmode=require");
    s.put_business("B1".into(), "{}".into(), Fen(0), None, now())
        .await
        .unwrap();
    let name = db.url.rsplit('/').next().unwrap().to_string();
    let base = rewardgate_testkit::pg_base();
    let ssl = std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&base, postgres::NoTls).unwrap();
        c.query(
            "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a ON a.pid = s.pid WHERE a.datname = $1",
            &[&name],
        )
        .unwrap()
        .iter()
        .map(|r| r.get::<_, bool>(0))
        .collect::<Vec<_>>()
    })
    .join()
    .unwrap();
    assert!(
        !ssl.is_empty() && ssl.iter().all(|x| *x),
        "every connection of the store is TLS: {ssl:?}"
    );
    // The machine's PostgreSQL serves Debian's snakeoil certificate (for localhost).
    let cert = "/etc/ssl/certs/ssl-cert-snakeoil.pem";
    let full = db.url.replace("@127.0.0.1:", "@localhost:");
    Store::open(&format!("{full}?sslmode=verify-full&sslrootcert={cert}"))
        .await
        .unwrap_or_else(|e| panic!("verify-full against {cert} (the server's certificate): {e}"));
    // Another name than the certificate's fails under verify-full, passes under verify-ca.
    match Store::open(&format!(
        "{}?sslmode=verify-full&sslrootcert={cert}",
        db.url
    ))
    .await
    {
        Err(e) => assert!(e.to_string().to_lowercase().contains("certificate"), "{e}"),
        Ok(_) => panic!("127.0.0.1 is not the certificate's name"),
    }
    Store::open(&format!("{}?sslmode=verify-ca&sslrootcert={cert}", db.url))
        .await
        .expect("verify-ca checks the chain only");
}

/// `rewardgate prefill`'s history: finished orders with done jobs, found like any order, the
/// ledger balanced, the business's money spent (not available), and a second run beside the first.
async fn prefilled_history(b: Backend) {
    let db = TestDb::new(b);
    let s = Store::open(&db.url).await.unwrap();
    for tag in ["a", "b"] {
        let n = s
            .prefill(
                tag.into(),
                "PF-B".into(),
                "PF-M".into(),
                "PF-CH".into(),
                1,
                1500,
                now(),
            )
            .await
            .unwrap();
        assert_eq!(n, 1500);
    }
    assert_balanced(&s).await;
    let bal = s.balance("PF-B".into()).await.unwrap().unwrap();
    assert_eq!(
        (bal.available.0, bal.held.0, bal.spent.0),
        (0, 0, 3000 * 101)
    );
    let o = s
        .order_by_biz_code("PF-B".into(), "prefill-b-7".into())
        .await
        .unwrap()
        .expect("a prefilled order");
    assert_eq!(o.status.as_str(), "SUCCESS");
    assert_eq!(o.job_state.map(|j| j.as_str()), Some("DONE"));
    let jobs = s.job_counts().await.unwrap();
    assert!(
        jobs.iter().any(|(j, n)| j.as_str() == "DONE" && *n == 3000),
        "{jobs:?}"
    );
}

both!(prefill_keeps_the_ledger_balanced, prefilled_history);
