//! Issue 4's story over HTTP against the sandbox, on SQLite and PostgreSQL: every reward type
//! end to end, the policy table, faults with exactly-once grants, the rate limiter, retries.

mod common;
use common::delivery::*;
use common::*;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

async fn end_to_end(b: Backend) {
    let db = TestDb::new(b);
    let up = sandbox().await;
    let app = spawn_with(&db.url, fast_dispatcher()).await;
    wire(&app, &up).await;
    app.put("/businesses/B1", json!({"merchantId": "M1", "name": "业务", "md5Key": MD5_KEY, "callbackUrl": "https://merchant.example/notify"})).await;
    let mut codes = Vec::new();
    for kind in ["rp", "tr", "wx", "ali"] {
        codes.push(app.place(kind, 1).await);
    }
    app.wait_for(&codes, &["SUCCESS"], Duration::from_secs(20))
        .await;
    let effects = up.effects().await;
    assert_eq!(effects.len(), 4, "{effects:?}");
    for c in &codes {
        let o = app.order(c).await;
        assert!(
            o["upstreamId"].as_str().is_some_and(|s| !s.is_empty()),
            "{o}"
        );
        assert_eq!(
            effects
                .iter()
                .filter(|e| e["key"] == o["upstreamKey"])
                .count(),
            1,
            "{o}"
        );
        let n = &o["notifications"][0];
        assert_eq!(
            (n["body"]["status"].as_str(), n["body"]["version"].as_i64()),
            (Some("SUCCESS"), Some(2)),
            "{o}"
        );
        assert_eq!(o["postings"][1]["kind"], "CAPTURE");
    }
    // The red packet is followed: the user opens it → RECEIVED.
    let rp = app.order(&codes[0]).await;
    let billno = rp["upstreamKey"].as_str().unwrap();
    assert_eq!(
        up.post(&format!("/sandbox/v1/redpacks/{billno}/claim"), json!({}))
            .await["status"],
        "RECEIVED"
    );
    app.wait_for(&codes[..1], &["RECEIVED"], Duration::from_secs(10))
        .await;
    // Another is never opened: refunded after 24 h (sandbox clock) and credited back.
    let second = app.place("rp", 2).await;
    app.wait_for(
        std::slice::from_ref(&second),
        &["SUCCESS"],
        Duration::from_secs(10),
    )
    .await;
    let before = app
        .call(
            "/v1/openapi/merchant/business/balance",
            &json!({"merchantId": "M1", "businessId": "B1"}),
            &Sign::md5("B1"),
        )
        .await;
    // After 24 h a refund is first in progress (RFUND_ING): not yet a refund, nothing credited.
    up.post("/sandbox/v1/clock/advance", json!({"seconds": 86_401}))
        .await;
    let follows = |o: &Value| o["attempts"].as_array().map_or(0, |a| a.len());
    let seen = follows(&app.order(&second).await);
    // The red packet is followed every 300 ms: wait for three more looks at it.
    app.wait_attempt(&second, seen + 3, |_| true, Duration::from_secs(10))
        .await;
    assert_eq!(app.order(&second).await["status"], "SUCCESS");
    let mid = app
        .call(
            "/v1/openapi/merchant/business/balance",
            &json!({"merchantId": "M1", "businessId": "B1"}),
            &Sign::md5("B1"),
        )
        .await;
    assert_eq!(
        mid["data"]["amount"], before["data"]["amount"],
        "RFUND_ING credits nothing"
    );
    up.post("/sandbox/v1/clock/advance", json!({"seconds": 600}))
        .await;
    app.wait_for(
        std::slice::from_ref(&second),
        &["REFUNDED"],
        Duration::from_secs(10),
    )
    .await;
    let after = app
        .call(
            "/v1/openapi/merchant/business/balance",
            &json!({"merchantId": "M1", "businessId": "B1"}),
            &Sign::md5("B1"),
        )
        .await;
    let (b, a) = (
        before["data"]["amount"].as_f64().unwrap(),
        after["data"]["amount"].as_f64().unwrap(),
    );
    assert!(
        (a - b - 1.0).abs() < 1e-9,
        "the red packet's 1 yuan comes back: {b} → {a}"
    );
    let o = app.order(&second).await;
    let reports: Vec<_> = o["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["body"]["status"].clone())
        .collect();
    assert_eq!(
        reports,
        vec![json!("SUCCESS"), json!("REFUNDED")],
        "one report per change, in version order: {o}"
    );
    app.assert_ledger_balanced().await;
    app.stop().await;
}
both_backends!(every_reward_type_end_to_end, end_to_end);

async fn policy_rows(b: Backend) {
    let db = TestDb::new(b);
    let up = sandbox().await;
    let app = spawn_with(&db.url, fast_dispatcher()).await;
    wire(&app, &up).await;
    let md5 = Sign::md5("B1");
    let rp = |biz: &str, open_id: &str, spec: Value| json!({"merchantId": "M1", "businessId": "B1", "templateId": "T1", "openId": open_id, "spec": spec, "bizCode": biz});
    // Definitive: MONEY_LIMIT (over 200 yuan without scene_id), OPENID_ERROR, NO_AUTH → FAILED, hold released.
    let mut failed = Vec::new();
    for (biz, open_id, spec, code) in [
        ("ml", "oMoney", json!(280), "MONEY_LIMIT"),
        ("oe", "xbad", json!(1), "OPENID_ERROR"),
        ("na", "oRISKy", json!(1), "NO_AUTH"),
    ] {
        let r = app
            .call("/v1/openapi/order/redPacket", &rp(biz, open_id, spec), &md5)
            .await;
        failed.push((r["data"]["orderCode"].as_str().unwrap().to_string(), code));
    }
    for (c, code) in &failed {
        app.wait_for(
            std::slice::from_ref(c),
            &["FAILED"],
            Duration::from_secs(10),
        )
        .await;
        let o = app.order(c).await;
        assert_eq!(o["errorCode"], *code, "{o}");
        assert_eq!(
            o["postings"].as_array().unwrap().last().unwrap()["kind"],
            "RELEASE"
        );
    }
    // Deferred: NOTENOUGH pauses the account and keeps the order; once the balance is back it goes.
    up.put("/sandbox/v1/accounts/wechat-v2/1900000109", json!({"apiKey": "k".repeat(32), "appIds": ["wx8888888888888888"], "balance": 0.5, "certPem": testdata("wx_cert.pem")})).await;
    let poor = app.place("rp", 10).await;
    let starts =
        |p: &'static str| move |a: &Value| a["detail"].as_str().unwrap_or("").starts_with(p);
    let o = app
        .wait_attempt(&poor, 1, starts("NOTENOUGH"), Duration::from_secs(15))
        .await;
    assert_eq!(o["status"], "PROCESSING");
    up.put("/sandbox/v1/accounts/wechat-v2/1900000109", json!({"apiKey": "k".repeat(32), "appIds": ["wx8888888888888888"], "balance": 1000, "certPem": testdata("wx_cert.pem")})).await;
    app.wait_for(
        std::slice::from_ref(&poor),
        &["SUCCESS"],
        Duration::from_secs(15),
    )
    .await;
    // Deferred: TIME_LIMITED waits for 08:00 in Shanghai.
    up.faults(json!({"enforceTimeLimit": true})).await;
    let now = rewardgate_core::clock::now_ms();
    let to_3am = (3 * 3_600_000 - (now + 8 * 3_600_000).rem_euclid(86_400_000))
        .rem_euclid(86_400_000)
        / 1000
        + 60;
    up.post("/sandbox/v1/clock/advance", json!({"seconds": to_3am}))
        .await;
    let night = app.place("rp", 11).await;
    let o = app
        .wait_attempt(&night, 1, starts("TIME_LIMITED"), Duration::from_secs(15))
        .await;
    assert_eq!(o["status"], "PROCESSING");
    // Stock exhaustion (v3) and budget (Alipay) are definitive.
    up.put("/sandbox/v1/accounts/wechat-v3/1900000109", json!({"merchantPublicKeyPem": testdata("merchant_test_public.pem"),
        "merchantSerialNo": "5157F09EFDC096DE15EBE81A47057A7232F1B8E1", "platformPrivateKeyPem": testdata("platform_test_private.pem"),
        "platformSerialNo": "PUB_KEY_ID_1", "apiV3Key": "v".repeat(32), "stocks": [{"stockId": "123456", "couponValue": 5, "remaining": 0}]})).await;
    up.put("/sandbox/v1/accounts/alipay/2021000000000009", json!({"appPublicKeyPem": testdata("merchant_test_public.pem"),
        "alipayPrivateKeyPem": testdata("platform_test_private.pem"), "activities": [{"activityId": "T123", "amount": 5, "remaining": 0}]})).await;
    let (wx, ali) = (app.place("wx", 20).await, app.place("ali", 21).await);
    app.wait_for(
        &[wx.clone(), ali.clone()],
        &["FAILED"],
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(app.order(&wx).await["errorCode"], "NOT_ENOUGH");
    assert_eq!(
        app.order(&ali).await["errorCode"],
        "BUDGET_NOT_ENOUGH_ERROR"
    );
    // An answer signed by another platform key is never a success.
    up.put("/sandbox/v1/accounts/wechat-v3/1900000109", json!({"merchantPublicKeyPem": testdata("merchant_test_public.pem"),
        "merchantSerialNo": "5157F09EFDC096DE15EBE81A47057A7232F1B8E1", "platformPrivateKeyPem": testdata("merchant_test_private.pem"),
        "platformSerialNo": "PUB_KEY_ID_1", "apiV3Key": "v".repeat(32), "stocks": [{"stockId": "123456", "couponValue": 5, "remaining": 10}]})).await;
    let forged = app.place("wx", 22).await;
    let o = app
        .wait_attempt(
            &forged,
            2,
            |a| a["outcome"] == "UNKNOWN",
            Duration::from_secs(15),
        )
        .await;
    assert_eq!(o["status"], "PROCESSING", "{o}");
    assert!(
        o["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["outcome"] == "UNKNOWN"),
        "{o}"
    );
    app.assert_ledger_balanced().await;
    app.stop().await;
}
both_backends!(policy_table_rows, policy_rows);

async fn faults_exactly_once(b: Backend) {
    let db = TestDb::new(b);
    let up = sandbox().await;
    let mut cfg = fast_dispatcher();
    cfg.concurrency = 48;
    let app = spawn_with(&db.url, cfg).await;
    wire(&app, &up).await;
    up.faults(json!({"systemError": 0.2, "timeout": 0.05, "timeoutSeconds": 11}))
        .await;
    let mut codes = Vec::new();
    for i in 0..500 {
        let kind = ["rp", "tr", "wx", "ali"][i % 4];
        codes.push(app.place(kind, i).await);
    }
    app.wait_for(&codes, &["SUCCESS"], Duration::from_secs(240))
        .await;
    let effects = up.effects().await;
    let mut per_key: HashMap<String, usize> = HashMap::new();
    for e in &effects {
        *per_key
            .entry(e["key"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(per_key.len(), 500, "one grant per order");
    assert!(per_key.values().all(|n| *n == 1), "no key granted twice");
    app.assert_ledger_balanced().await;
    app.stop().await;
}
both_backends!(
    faults_twenty_percent_all_succeed_exactly_once,
    faults_exactly_once
);

/// More red packets than WeChat Pay's 1800 a minute, at once: all delivered, none refused with
/// SECOND_OVER_LIMITED, no minute over the limit. (About a minute each: a per-minute
/// limit needs a minute to show.)
async fn rate_limiter(b: Backend) {
    let db = TestDb::new(b);
    let up = sandbox().await;
    let app = spawn_with(&db.url, fast_dispatcher()).await;
    wire(&app, &up).await;
    let n = 1850;
    let mut set = tokio::task::JoinSet::new();
    for c in 0..8 {
        let (http, base) = (app.http.clone(), app.base.clone());
        set.spawn(async move {
            for i in (c..n).step_by(8) {
                let (path, body) = order("rp", i);
                let text = body.to_string();
                let mut rb = http.post(format!("{base}{path}"));
                for (k, v) in Sign::md5("B1").headers(&text) {
                    rb = rb.header(k, v);
                }
                let v: Value = rb.body(text).send().await.unwrap().json().await.unwrap();
                assert_eq!(v["status"], 200, "{v}");
            }
        });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(150);
    loop {
        let stats: Value = up
            .http
            .get(format!("{}/sandbox/v1/stats", up.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            stats["refusals"]["SECOND_OVER_LIMITED"],
            Value::Null,
            "{stats}"
        );
        if stats["effects"] == n {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{stats}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let effects = up.effects().await;
    let mut at: Vec<i64> = effects.iter().map(|e| e["at"].as_i64().unwrap()).collect();
    at.sort();
    let busiest = (0..at.len())
        .map(|i| at[i..].iter().take_while(|t| **t < at[i] + 60_000).count())
        .max()
        .unwrap();
    assert!(
        busiest <= 1800,
        "busiest minute {busiest}: never over the limit (how close it runs is bench-delivery's to measure)"
    );
    app.assert_ledger_balanced().await;
    app.stop().await;
}

both_backends!(rate_limiter_never_trips_the_upstream_limit, rate_limiter);

async fn retry(b: Backend) {
    let db = TestDb::new(b);
    let up = sandbox().await;
    let mut cfg = fast_dispatcher();
    cfg.give_up_after = Duration::from_secs(2);
    let app = spawn_with(&db.url, cfg).await;
    wire(&app, &up).await;
    // The upstream cannot be reached at all: the outcome stays unknown until the bound.
    let wx3 = |base: &str| {
        json!({"kind": "WECHAT_V3", "mchId": "1900000109", "appId": "wx8888888888888888",
        "privateKeyPem": testdata("merchant_test_private.pem"), "certSerialNo": "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
        "apiV3Key": "v".repeat(32), "platformPublicKeyPem": testdata("platform_test_public.pem"),
        "platformSerialNo": "PUB_KEY_ID_1", "baseUrl": base})
    };
    app.put("/channel-accounts/wx3", wx3("http://127.0.0.1:9"))
        .await;
    let code = app.place("wx", 1).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let o = app.order(&code).await;
        if o["jobState"] == "STUCK" {
            assert_eq!(o["status"], "PROCESSING", "never failed on a guess");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never stuck: {o}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.put("/channel-accounts/wx3", wx3(&up.base)).await;
    let (_, v) = app
        .admin("POST", &format!("/orders/{code}/retry"), None)
        .await;
    assert_eq!(v["status"], 200, "{v}");
    app.wait_for(
        std::slice::from_ref(&code),
        &["SUCCESS"],
        Duration::from_secs(10),
    )
    .await;
    let (_, v) = app
        .admin("POST", &format!("/orders/{code}/retry"), None)
        .await;
    assert_eq!(
        v["status"], 40001,
        "a delivered order has nothing to retry: {v}"
    );
    let key = app.order(&code).await["upstreamKey"].clone();
    assert_eq!(
        up.effects()
            .await
            .iter()
            .filter(|e| e["key"] == key)
            .count(),
        1
    );
    app.assert_ledger_balanced().await;
    app.stop().await;
}
both_backends!(admin_retry_of_a_stuck_order_pays_once, retry);
