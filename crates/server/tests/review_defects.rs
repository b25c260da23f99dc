//! Issue 9's defects, each reproduced over HTTP against a real server (SQLite and PostgreSQL
//! where the database matters): every test here failed before its fix.

mod common;
use common::delivery::*;
use common::*;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn is_open(o: &Value) -> bool {
    o["status"] == "PROCESSING"
}

/// Defect 1: A query's error says nothing about the payment: after an unknown send, gethbinfo answering
/// PARAM_ERROR or NO_AUTH leaves the order open (it used to fail it and release the hold).
async fn query_errors_never_settle(b: Backend) {
    let db = TestDb::new(b);
    let up = sandbox().await;
    let app = spawn_with(&db.url, fast_dispatcher()).await;
    wire(&app, &up).await;
    for (i, code) in ["PARAM_ERROR", "NO_AUTH", "SYSTEMERROR"].iter().enumerate() {
        up.faults(json!({"systemError": 1.0, "queryError": code}))
            .await;
        let c = app.place("rp", 100 + i).await;
        // Unknown send, then queries refused with `code`, several times over.
        app.wait_attempt(&c, 3, |a| a["step"] == "CHECK", Duration::from_secs(20))
            .await;
        let o = app.order(&c).await;
        assert!(is_open(&o), "{code}: {o}");
        up.faults(json!({})).await;
        app.wait_for(
            std::slice::from_ref(&c),
            &["SUCCESS"],
            Duration::from_secs(20),
        )
        .await;
        let key = app.order(&c).await["upstreamKey"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(
            up.effects()
                .await
                .iter()
                .filter(|e| e["key"] == key.as_str())
                .count(),
            1,
            "{code}: paid exactly once"
        );
    }
    app.assert_ledger_balanced().await;
    app.stop().await;
}
both_backends!(query_errors_never_fail_an_order, query_errors_never_settle);

/// Defect 2: Callback targets in any spelling of a private address are refused at intake, and nothing
/// reaches a local listener.
async fn ssrf_spellings(b: Backend) {
    let db = TestDb::new(b);
    let hits = Arc::new(AtomicUsize::new(0));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let h = hits.clone();
    tokio::spawn(async move {
        while let Ok((_s, _)) = l.accept().await {
            h.fetch_add(1, Ordering::SeqCst);
        }
    });
    let app = spawn_app(&db.url).await;
    setup_catalog(&app).await;
    let md5 = Sign::md5("B1");
    for (i, u) in [
        format!("http://2130706433:{port}/"),
        format!("http://127.1:{port}/"),
        format!("http://0x7f000001:{port}/"),
        format!("http://127.0.0.1.:{port}/"),
        format!("http://x@127.0.0.1:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
        format!("http://localhost:{port}/"),
        "http://169.254.169.254/latest".to_string(),
        "http://100.100.100.200/".to_string(),
    ]
    .iter()
    .enumerate()
    {
        let mut body = red_packet(&format!("ssrf{i}"), json!(1));
        body["callbackUrl"] = json!(u);
        let v = app.call("/v1/openapi/order/redPacket", &body, &md5).await;
        assert_eq!(v["status"], 40001, "{u}: {v}");
        assert!(
            v["message"].as_str().unwrap().starts_with("callbackUrl"),
            "{v}"
        );
        let (_, v) = app
            .admin(
                "PUT",
                "/businesses/B1",
                Some(json!({"merchantId": "M1", "name": "b",
                "md5Key": MD5_KEY, "callbackUrl": u})),
            )
            .await;
        assert_eq!(v["status"], 40001, "{u}: {v}");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(hits.load(Ordering::SeqCst), 0);
    app.stop().await;
}
both_backends!(callback_targets_refused_in_every_spelling, ssrf_spellings);

/// Defect 3: An openId that is not an openid is refused at intake; a credential refusal caused by one
/// order fails that order and leaves the account working; a real credential failure pauses it.
async fn one_order_cannot_pause(b: Backend) {
    let db = TestDb::new(b);
    let up = sandbox().await;
    let app = spawn_with(&db.url, fast_dispatcher()).await;
    wire(&app, &up).await;
    let md5 = Sign::md5("B1");
    let mut bad = order("wx", 1).1;
    bad["openId"] = json!("x/../oEVIL");
    let v = app
        .call("/v1/openapi/order/wechat/coupons", &bad, &md5)
        .await;
    assert_eq!(v["status"], 40001, "{v}");
    assert!(v["message"].as_str().unwrap().starts_with("openId"), "{v}");
    // oSIGERR…: the sandbox refuses that one order's signature (v3 401, v2 SIGN_ERROR).
    let mut codes = Vec::new();
    for (kind, path) in [
        ("wx", "/v1/openapi/order/wechat/coupons"),
        ("rp", "/v1/openapi/order/redPacket"),
    ] {
        let mut body = order(kind, 2).1;
        body["openId"] = json!("oSIGERR1");
        let v = app.call(path, &body, &md5).await;
        codes.push(v["data"]["orderCode"].as_str().unwrap().to_string());
    }
    app.wait_for(&codes, &["FAILED"], Duration::from_secs(20))
        .await;
    for c in &codes {
        let o = app.order(c).await;
        assert_eq!(o["errorCode"], "SIGN_ERROR", "{o}");
    }
    // The accounts were not paused: the next orders go at once.
    let ok = vec![app.place("wx", 3).await, app.place("rp", 3).await];
    app.wait_for(&ok, &["SUCCESS"], Duration::from_secs(10))
        .await;
    // The account's own key is wrong now: the probe is refused too, and the account is paused.
    up.put("/sandbox/v1/accounts/wechat-v3/1900000109", json!({"merchantPublicKeyPem": testdata("platform_test_public.pem"),
        "merchantSerialNo": "5157F09EFDC096DE15EBE81A47057A7232F1B8E1", "platformPrivateKeyPem": testdata("platform_test_private.pem"),
        "platformSerialNo": "PUB_KEY_ID_1", "apiV3Key": "v".repeat(32),
        "stocks": [{"stockId": "123456", "couponValue": 5, "remaining": 100}]})).await;
    let c = app.place("wx", 4).await;
    let o = app
        .wait_attempt(
            &c,
            1,
            |a| {
                a["detail"]
                    .as_str()
                    .unwrap_or("")
                    .contains("known-good request was refused too")
            },
            Duration::from_secs(15),
        )
        .await;
    assert!(is_open(&o), "{o}");
    app.assert_ledger_balanced().await;
    app.stop().await;
}
both_backends!(one_order_cannot_pause_an_account, one_order_cannot_pause);

/// Defect 4: A callback host that hangs does not delay another host's callbacks.
async fn slow_host(b: Backend) {
    let db = TestDb::new(b);
    let up = sandbox().await;
    let hang = axum::Router::new().route(
        "/cb",
        axum::routing::post(|| async {
            tokio::time::sleep(Duration::from_secs(15)).await;
            "SUCCESS"
        }),
    );
    let got = Arc::new(AtomicUsize::new(0));
    let g = got.clone();
    let fast = axum::Router::new().route(
        "/cb",
        axum::routing::post(move || {
            g.fetch_add(1, Ordering::SeqCst);
            async { "SUCCESS" }
        }),
    );
    let (slow_url, fast_url) = (serve_on(hang).await, serve_on(fast).await);
    let notifier = rewardgate_server::notifier::NotifierConfig {
        allow_private: true,
        concurrency: 8,
        ..Default::default()
    };
    let app = spawn_full(&db.url, fast_dispatcher(), notifier).await;
    wire(&app, &up).await;
    let md5 = Sign::md5("B1");
    for i in 0..40 {
        let mut body = order("wx", 100 + i).1;
        body["callbackUrl"] = json!(slow_url);
        app.call("/v1/openapi/order/wechat/coupons", &body, &md5)
            .await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let started = Instant::now();
    let mut body = order("wx", 999).1;
    body["callbackUrl"] = json!(fast_url);
    app.call("/v1/openapi/order/wechat/coupons", &body, &md5)
        .await;
    while got.load(Ordering::SeqCst) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "a healthy host's report waited behind a hanging host's"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.stop().await;
}
both_backends!(slow_callback_host_delays_nobody_else, slow_host);

async fn serve_on(app: axum::Router) -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/cb", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    url
}

/// Defect 5: A rate-limited backlog on one channel account does not hold back another's orders.
async fn fair_claims(b: Backend) {
    let db = TestDb::new(b);
    let up = sandbox().await;
    let app = spawn_with(&db.url, fast_dispatcher()).await;
    wire(&app, &up).await;
    app.put("/channel-accounts/wx2", json!({"kind": "WECHAT_V2", "mchId": "1900000109", "appId": "wx8888888888888888",
        "apiKey": "k".repeat(32), "certPem": testdata("wx_cert.pem"), "keyPem": testdata("wx_key.pem"),
        "baseUrl": up.tls_base, "ratePerMinute": 6})).await;
    let md5 = Sign::md5("B1");
    for i in 0..200 {
        let body = order("rp", 1000 + i).1;
        app.call("/v1/openapi/order/redPacket", &body, &md5).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let started = Instant::now();
    let c = app.place("wx", 1).await;
    app.wait_for(
        std::slice::from_ref(&c),
        &["SUCCESS"],
        Duration::from_secs(10),
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(10));
    app.stop().await;
}
both_backends!(
    rate_limited_backlog_holds_back_no_other_account,
    fair_claims
);

/// Defect 6: A catalogue object that cannot be read is not "gone": the order waits and goes through
/// once it can be read again (no FAILED CATALOG, no paused account).
async fn read_errors(b: Backend) {
    let db = TestDb::new(b);
    let up = sandbox().await;
    // Accepted while nothing delivers; then the activity becomes unreadable, and a serve that
    // delivers starts on the same database.
    let intake = spawn_app(&db.url).await;
    wire(&intake, &up).await;
    let c = intake.place("wx", 1).await;
    intake.stop().await;
    corrupt(&db.url, "activity", "AWX", true);
    let app = spawn_with(&db.url, fast_dispatcher()).await;
    let o = app
        .wait_attempt(
            &c,
            2,
            |a| {
                a["detail"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("STORE_UNAVAILABLE")
            },
            Duration::from_secs(15),
        )
        .await;
    assert!(is_open(&o), "{o}");
    corrupt(&db.url, "activity", "AWX", false);
    app.wait_for(
        std::slice::from_ref(&c),
        &["SUCCESS"],
        Duration::from_secs(15),
    )
    .await;
    app.stop().await;
}
both_backends!(read_errors_are_not_verdicts, read_errors);

/// Breaks (or mends) a stored catalogue object's JSON behind the server's back.
fn corrupt(url: &str, kind: &str, id: &str, broken: bool) {
    let (kind, id, url) = (kind.to_string(), id.to_string(), url.to_string());
    std::thread::spawn(move || {
        let (from, to) = if broken { ("{", "{!") } else { ("{!", "{") };
        let sql = format!(
            "UPDATE catalog SET data = REPLACE(data, '{from}', '{to}') WHERE kind = '{kind}' AND id = '{id}'"
        );
        if let Some(path) = url.strip_prefix("sqlite://") {
            let c = rusqlite::Connection::open(path).unwrap();
            c.busy_timeout(Duration::from_secs(10)).unwrap();
            assert_eq!(c.execute(&sql, []).unwrap(), 1);
        } else {
            let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            assert_eq!(c.execute(sql.as_str(), &[]).unwrap(), 1);
        }
    })
    .join()
    .unwrap();
}

/// Defect 7: A sent red packet is followed until it is refunded, however long after the order's
/// creation a follow-up stumbles (the give-up clock used to run from creation).
async fn refund_not_stranded(b: Backend) {
    let db = TestDb::new(b);
    let up = sandbox().await;
    let mut cfg = fast_dispatcher();
    cfg.give_up_after = Duration::from_secs(1);
    let app = spawn_with(&db.url, cfg).await;
    wire(&app, &up).await;
    let c = app.place("rp", 1).await;
    app.wait_for(
        std::slice::from_ref(&c),
        &["SUCCESS"],
        Duration::from_secs(10),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Follow-ups stumble past the creation-based bound.
    up.faults(json!({"queryError": "SYSTEMERROR"})).await;
    let seen = app.order(&c).await["attempts"].as_array().unwrap().len();
    app.wait_attempt(
        &c,
        seen + 3,
        |a| a["outcome"] == "UNKNOWN",
        Duration::from_secs(10),
    )
    .await;
    let o = app.order(&c).await;
    assert_ne!(o["jobState"], "STUCK", "{o}");
    up.faults(json!({})).await;
    up.post(
        "/sandbox/v1/clock/advance",
        json!({"seconds": 86_400 + 601}),
    )
    .await;
    app.wait_for(
        std::slice::from_ref(&c),
        &["REFUNDED"],
        Duration::from_secs(15),
    )
    .await;
    app.assert_ledger_balanced().await;
    app.stop().await;
}
both_backends!(refund_followed_past_the_creation_bound, refund_not_stranded);

/// Defect 8: A business orders only the templates, activities and appIds it is given.
async fn scoped(b: Backend) {
    let db = TestDb::new(b);
    let up = sandbox().await;
    let app = spawn_with(&db.url, fast_dispatcher()).await;
    wire(&app, &up).await;
    app.put(
        "/templates/T2",
        json!({"channelAccountId": "wx2", "sendName": "a", "wishing": "b",
        "actName": "c", "remark": "d"}),
    )
    .await;
    app.put(
        "/activities/AWX2",
        json!({"productCode": "PWX", "channelAccountId": "wx3", "upstreamId": "123456"}),
    )
    .await;
    app.put("/businesses/B1", json!({"merchantId": "M1", "name": "业务", "md5Key": MD5_KEY,
        "templateIds": ["T1"], "activityIds": ["AWX", "AALI"], "appIds": ["wx8888888888888888", "wxOTHERAPP0000001"]})).await;
    let md5 = Sign::md5("B1");
    let mut rp = order("rp", 1).1;
    rp["templateId"] = json!("T2");
    let v = app.call("/v1/openapi/order/redPacket", &rp, &md5).await;
    assert_eq!(v["status"], 40401, "{v}");
    let mut wx = order("wx", 1).1;
    wx["activityId"] = json!("AWX2");
    let v = app
        .call("/v1/openapi/order/wechat/coupons", &wx, &md5)
        .await;
    assert_eq!(v["status"], 40401, "{v}");
    let mut wx = order("wx", 2).1;
    wx["appId"] = json!("wxNOTMINE00000001");
    let v = app
        .call("/v1/openapi/order/wechat/coupons", &wx, &md5)
        .await;
    assert_eq!(v["status"], 40001, "{v}");
    assert!(v["message"].as_str().unwrap().starts_with("appId"), "{v}");
    wx["appId"] = json!("wxOTHERAPP0000001");
    let v = app
        .call("/v1/openapi/order/wechat/coupons", &wx, &md5)
        .await;
    assert_eq!(v["status"], 200, "{v}");
    // Without lists: any template; an appId only the default or the channel account's.
    app.put(
        "/businesses/B1",
        json!({"merchantId": "M1", "name": "业务", "md5Key": MD5_KEY}),
    )
    .await;
    let v = app.call("/v1/openapi/order/redPacket", &rp, &md5).await;
    assert_eq!(v["status"], 200, "{v}");
    let mut wx = order("wx", 3).1;
    wx["appId"] = json!("wxOTHERAPP0000001");
    let v = app
        .call("/v1/openapi/order/wechat/coupons", &wx, &md5)
        .await;
    assert_eq!(v["status"], 40001, "{v}");
    app.stop().await;
}
both_backends!(catalogue_scoped_per_business, scoped);

/// Defect 9: The SQLite database and its -wal/-shm files are readable by their owner alone.
#[tokio::test]
async fn sqlite_files_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let db = TestDb::new(Backend::Sqlite);
    let app = spawn_app(&db.url).await;
    setup_catalog(&app).await;
    let path = db.url.strip_prefix("sqlite://").unwrap().to_string();
    for p in [path.clone(), format!("{path}-wal"), format!("{path}-shm")] {
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{p}");
    }
    app.stop().await;
}

/// Defect 10: Smaller ones: a timestamp that would overflow is 40102, not a panic; `/readyz` answers.
#[tokio::test]
async fn smaller_ones() {
    let db = TestDb::new(Backend::Sqlite);
    let app = spawn_app(&db.url).await;
    setup_catalog(&app).await;
    for ts in [i64::MIN, i64::MAX] {
        let v = app
            .call(
                "/v1/openapi/merchant/business/balance",
                &json!({"merchantId": "M1", "businessId": "B1"}),
                &Sign::md5("B1").with_timestamp(ts),
            )
            .await;
        assert_eq!(v["status"], 40102, "{ts}: {v}");
    }
    let r = app
        .http
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "ready");
    app.stop().await;
}
