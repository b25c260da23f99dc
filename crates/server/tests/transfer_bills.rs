//! Issue 13 over HTTP against the sandbox, on SQLite and PostgreSQL: WeChat 零钱 through 商家转账
//! (WeChat Pay v3 transfer-bills) on a WECHAT_V3 channel account — the order waits for the user
//! with `userConfirm` in its query answer and report, ends SUCCESS on the user's confirmation
//! (captured once), FAILED on a cancel or after 24 h unconfirmed (hold released); unknown creates
//! settle by query with the same `out_bill_no` and pay once; duplicate and forged notifications
//! change nothing.

mod common;
use common::delivery::*;
use common::*;
use rewardgate_channels::wechat_v3::transfer_bills::notify::seal_notification;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

const MCH: &str = "1900000109";
const APP: &str = "wx8888888888888888";

/// serve (with `pending_wait`) and the sandbox, the catalogue of `wire`, product PTB (a transfer
/// on the WECHAT_V3 account wx3) and B1's callback URL.
async fn setup(b: Backend, pending_wait: Duration) -> (TestDb, Upstream, TestApp) {
    let db = TestDb::new(b);
    let up = sandbox().await;
    let mut cfg = fast_dispatcher();
    cfg.pending_wait = pending_wait;
    let app = spawn_with(&db.url, cfg).await;
    wire(&app, &up).await;
    app.put(
        "/products/PTB",
        json!({"kind": "WECHAT_TRANSFER", "name": "新年红包活动", "feeRateBp": 60, "channelAccountId": "wx3"}),
    )
    .await;
    app.put(
        "/businesses/B1",
        json!({"merchantId": "M1", "name": "业务", "md5Key": MD5_KEY,
        "callbackUrl": "https://merchant.example/notify"}),
    )
    .await;
    (db, up, app)
}

async fn place(app: &TestApp, i: usize) -> String {
    let body = json!({"merchantId": "M1", "businessId": "B1", "bizCode": format!("tb-{i}"),
        "productCode": "PTB", "openId": format!("oUser{i}"), "spec": 1.5, "description": "活动奖励"});
    let r = app
        .call("/v1/openapi/order/wechat/transfer", &body, &Sign::md5("B1"))
        .await;
    assert_eq!(r["status"], 200, "{r}");
    r["data"]["orderCode"].as_str().unwrap().to_string()
}

/// The merchant's own query of an order (`order/info`).
async fn info(app: &TestApp, code: &str) -> Value {
    let body = json!({"merchantId": "M1", "businessId": "B1", "orderCode": code});
    let r = app
        .call("/v1/openapi/order/info", &body, &Sign::md5("B1"))
        .await;
    assert_eq!(r["status"], 200, "{r}");
    r["data"].clone()
}

/// Waits until the order waits for its user; the operator's view of it.
async fn waiting(app: &TestApp, code: &str, within: Duration) -> Value {
    let deadline = std::time::Instant::now() + within;
    loop {
        let o = app.order(code).await;
        if o["userConfirm"].is_object() {
            return o;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never waiting for the user: {o}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The kinds of an order's ledger postings, in order.
fn postings(o: &Value) -> Vec<&str> {
    o["postings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap())
        .collect()
}

async fn available(app: &TestApp) -> i64 {
    fen(&app.balance("B1").await["data"]["amount"])
}

/// Confirmation, cancel and expiry, with a slow poll: the order moves at once only because the
/// sandbox's notification (or the cancel) makes its job due.
async fn confirm_cancel_expire(b: Backend) {
    let (_db, up, app) = setup(b, Duration::from_secs(60)).await;
    let start = available(&app).await;

    // 0. From 2000 yuan WeChat wants the user's real name, which this API does not take:
    // refused at intake, nothing held.
    let big = json!({"merchantId": "M1", "businessId": "B1", "bizCode": "tb-big",
        "productCode": "PTB", "openId": "oUserBig", "spec": 2000});
    let r = app
        .call("/v1/openapi/order/wechat/transfer", &big, &Sign::md5("B1"))
        .await;
    assert_eq!(r["status"], 42201, "{r}");
    assert!(r["message"].as_str().unwrap().contains("2000"), "{r}");
    assert_eq!(available(&app).await, start);

    // 1. The user confirms: SUCCESS, captured once, one payout.
    let c1 = place(&app, 1).await;
    let o = waiting(&app, &c1, Duration::from_secs(10)).await;
    assert_eq!(o["status"], "PROCESSING", "{o}");
    let uc = o["userConfirm"].clone();
    assert_eq!(
        (uc["mchId"].as_str(), uc["appId"].as_str()),
        (Some(MCH), Some(APP)),
        "{o}"
    );
    assert!(uc["package"].as_str().is_some_and(|p| !p.is_empty()), "{o}");
    assert_eq!(
        info(&app, &c1).await["userConfirm"],
        uc,
        "order/info carries it"
    );
    let report = o["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["body"]["userConfirm"].is_object())
        .cloned()
        .unwrap_or_else(|| panic!("no report with userConfirm: {o}"));
    assert_eq!(report["body"]["status"], "PROCESSING");
    assert_eq!(report["body"]["userConfirm"], uc);
    assert_eq!(report["body"]["version"], 2);
    let key = o["upstreamKey"].as_str().unwrap().to_string();
    let settlement = fen(&o["settlementPrice"]);
    assert_eq!(available(&app).await, start - settlement, "held");
    let r = up
        .post(
            &format!("/sandbox/v1/transfer-bills/{key}/confirm"),
            json!({}),
        )
        .await;
    assert_eq!(r["state"], "SUCCESS", "{r}");
    app.wait_for(
        std::slice::from_ref(&c1),
        &["SUCCESS"],
        Duration::from_secs(10),
    )
    .await;
    let o = app.order(&c1).await;
    assert_eq!(postings(&o), ["HOLD", "CAPTURE"], "{o}");
    assert!(
        info(&app, &c1).await.get("userConfirm").is_none(),
        "gone once final"
    );
    assert_eq!(available(&app).await, start - settlement, "charged once");
    let effects = up.effects().await;
    assert_eq!(
        effects.iter().filter(|e| e["key"] == key.as_str()).count(),
        1
    );
    assert_eq!(effects.len(), 1, "{effects:?}");

    // 2. The operator cancels a waiting bill: FAILED, hold released.
    let c2 = place(&app, 2).await;
    waiting(&app, &c2, Duration::from_secs(10)).await;
    let (st, v) = app
        .admin("POST", &format!("/orders/{c2}/cancel"), None)
        .await;
    assert_eq!((st, v["status"].as_i64()), (200, Some(200)), "{v}");
    assert!(
        ["CANCELING", "CANCELLED"].contains(&v["data"]["billState"].as_str().unwrap()),
        "{v}"
    );
    app.wait_for(
        std::slice::from_ref(&c2),
        &["FAILED"],
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(info(&app, &c2).await["errorCode"], "CANCELLED");
    // A final order cannot be cancelled again; a coupon order is no transfer bill.
    let (_, v) = app
        .admin("POST", &format!("/orders/{c2}/cancel"), None)
        .await;
    assert_eq!(v["status"], 40001, "{v}");
    let (_, v) = app.admin("POST", "/orders/NOPE/cancel", None).await;
    assert_eq!(v["status"], 40401, "{v}");

    // 3. Nobody confirms for 24 hours: WeChat closes the bill, the order fails, the hold goes back.
    let c3 = place(&app, 3).await;
    waiting(&app, &c3, Duration::from_secs(10)).await;
    up.post("/sandbox/v1/clock/advance", json!({"seconds": 86_401}))
        .await;
    app.wait_for(
        std::slice::from_ref(&c3),
        &["FAILED"],
        Duration::from_secs(10),
    )
    .await;
    let o = app.order(&c3).await;
    assert_eq!(postings(&o), ["HOLD", "RELEASE"], "{o}");
    let last = o["notifications"]
        .as_array()
        .unwrap()
        .last()
        .cloned()
        .unwrap();
    assert_eq!(last["body"]["status"], "FAILED", "{o}");
    assert!(last["body"].get("userConfirm").is_none(), "{o}");

    // 4. The operator cancels from the console: the page shows the waiting bill and its button.
    let c4 = place(&app, 4).await;
    waiting(&app, &c4, Duration::from_secs(10)).await;
    let cookie = console::sign_in(&app, TOKEN).await.unwrap();
    let (st, html, _) = console::page(&app, &cookie, &format!("/console/orders/{c4}")).await;
    assert_eq!(st, 200);
    assert!(html.contains("id=\"user-confirm\"") && html.contains("id=\"cancel-transfer\""));
    let csrf = console::csrf_of(&html);
    let (st, loc) = console::post(
        &app,
        &cookie,
        &format!("/console/orders/{c4}/cancel"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(st, 303);
    assert!(
        loc.as_deref().is_some_and(|l| l.contains("done=")),
        "{loc:?}"
    );
    app.wait_for(
        std::slice::from_ref(&c4),
        &["FAILED"],
        Duration::from_secs(10),
    )
    .await;
    let (_, html, _) = console::page(&app, &cookie, &format!("/console/orders/{c4}")).await;
    assert!(
        !html.contains("id=\"cancel-transfer\""),
        "no cancel once final"
    );

    assert_eq!(
        available(&app).await,
        start - settlement,
        "only the confirmed one is paid"
    );
    assert_eq!(up.effects().await.len(), 1);
    app.assert_ledger_balanced().await;
    app.stop().await;
}
both_backends!(confirm_cancel_and_expiry, confirm_cancel_expire);

/// Creates that answer SYSTEM_ERROR or never answer (the bill made or not): settled by queries
/// and resends with the same out_bill_no; each user confirms once, each bill pays once.
async fn unknown_creates(b: Backend) {
    let (_db, up, app) = setup(b, Duration::from_millis(300)).await;
    let start = available(&app).await;
    // One create surely answered SYSTEM_ERROR, one surely timed out, then a mix.
    let unknown_attempt = |a: &Value| a["outcome"] == "UNKNOWN";
    let mut codes = Vec::new();
    for (i, faults) in [
        json!({"systemError": 1.0}),
        json!({"timeout": 1.0, "timeoutSeconds": 11}),
    ]
    .into_iter()
    .enumerate()
    {
        up.faults(faults).await;
        codes.push(place(&app, i).await);
        app.wait_attempt(&codes[i], 1, unknown_attempt, Duration::from_secs(30))
            .await;
    }
    up.faults(json!({"systemError": 0.4, "timeout": 0.1, "timeoutSeconds": 11}))
        .await;
    for i in 2..8 {
        codes.push(place(&app, i).await);
    }
    let mut keys = Vec::new();
    let mut settled = 0;
    for c in &codes {
        let o = waiting(&app, c, Duration::from_secs(120)).await;
        keys.push(o["upstreamKey"].as_str().unwrap().to_string());
        settled += fen(&o["settlementPrice"]);
    }
    up.faults(json!({})).await;
    for k in &keys {
        let r = up
            .post(
                &format!("/sandbox/v1/transfer-bills/{k}/confirm"),
                json!({}),
            )
            .await;
        assert_eq!(r["state"], "SUCCESS", "{r}");
    }
    app.wait_for(&codes, &["SUCCESS"], Duration::from_secs(20))
        .await;
    let mut per_key: HashMap<String, usize> = HashMap::new();
    for e in up.effects().await {
        *per_key
            .entry(e["key"].as_str().unwrap().into())
            .or_default() += 1;
    }
    assert_eq!(per_key.len(), 8, "{per_key:?}");
    assert!(per_key.values().all(|n| *n == 1), "{per_key:?}");
    let mut unknown = 0;
    for c in &codes {
        let o = app.order(c).await;
        unknown += o["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["outcome"] == "UNKNOWN")
            .count();
        assert_eq!(postings(&o), ["HOLD", "CAPTURE"], "{o}");
    }
    assert!(unknown > 0, "the faults made some creates unknown");
    assert_eq!(available(&app).await, start - settled);
    app.assert_ledger_balanced().await;
    app.stop().await;
}
both_backends!(
    unknown_creates_settle_by_query_and_pay_once,
    unknown_creates
);

/// WeChat's notification, signed with the test platform key and sealed with the APIv3 key.
fn notification(
    resource: &Value,
    signature: Option<&str>,
) -> (Vec<(&'static str, String)>, String) {
    let body = seal_notification(
        "c5e1963a-bd4d-5dd2-bbaf-8f7236a2b20a",
        "2026-11-30T10:00:00+08:00",
        resource,
        "v".repeat(32).as_bytes(),
        "Nonce1234567",
    )
    .unwrap();
    let ts = (rewardgate_core::clock::now_ms() / 1000).to_string();
    let nonce = "N0nce0000000000000000000000000001".to_string();
    let key =
        rewardgate_core::keys::RsaPrivateKey::from_pem(&testdata("platform_test_private.pem"))
            .unwrap();
    let sig = signature
        .map(str::to_string)
        .unwrap_or_else(|| key.sign_b64(format!("{ts}\n{nonce}\n{body}\n").as_bytes()));
    let headers = vec![
        ("Wechatpay-Timestamp", ts),
        ("Wechatpay-Nonce", nonce),
        ("Wechatpay-Signature", sig),
        ("Wechatpay-Serial", "PUB_KEY_ID_1".to_string()),
        ("Content-Type", "application/json".to_string()),
    ];
    (headers, body)
}

async fn notify(app: &TestApp, account: &str, headers: &[(&str, String)], body: String) -> u16 {
    let mut r = app.http.post(format!(
        "{}/v1/notify/wechat/transfer-bills/{account}",
        app.base
    ));
    for (k, v) in headers {
        r = r.header(*k, v);
    }
    r.body(body).send().await.unwrap().status().as_u16()
}

/// A notification is a hint: forged ones are refused, a genuine one that lies (SUCCESS for a bill
/// still waiting) and duplicates change nothing — only the bill's query moves the order.
async fn notifications_are_hints(b: Backend) {
    let (_db, up, app) = setup(b, Duration::from_secs(60)).await;
    up.faults(json!({"notifyDuplicate": 1.0})).await;
    let code = place(&app, 1).await;
    let o = waiting(&app, &code, Duration::from_secs(10)).await;
    let key = o["upstreamKey"].as_str().unwrap().to_string();
    let lie = json!({"out_bill_no": key, "transfer_bill_no": "1330000000000000000000000001",
        "state": "SUCCESS", "mch_id": MCH, "transfer_amount": 150, "openid": "oUser1",
        "create_time": "2026-11-30T10:00:00+08:00", "update_time": "2026-11-30T10:00:01+08:00"});
    // Forged: no signature, a signature probe, a wrong signature, a body that does not open.
    assert_eq!(notify(&app, "wx3", &[], "{}".into()).await, 401);
    let (h, body) = notification(&lie, Some("WECHATPAY/SIGNTEST/abc"));
    assert_eq!(notify(&app, "wx3", &h, body).await, 401);
    let (h, body) = notification(&lie, Some("AAAA"));
    assert_eq!(notify(&app, "wx3", &h, body).await, 401);
    let (h, body) = notification(&lie, None);
    let tampered = body.replace("\"ciphertext\":\"", "\"ciphertext\":\"AAAA");
    assert_eq!(
        notify(&app, "wx3", &h, tampered).await,
        401,
        "signed over other bytes"
    );
    assert_eq!(notify(&app, "nope", &h, body.clone()).await, 404);
    assert_eq!(
        notify(&app, "wx2", &h, body.clone()).await,
        404,
        "not a v3 account"
    );
    // Genuine but untrue, twice: accepted as a hint; the query says WAIT_USER_CONFIRM.
    assert_eq!(notify(&app, "wx3", &h, body.clone()).await, 204);
    assert_eq!(notify(&app, "wx3", &h, body).await, 204);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let o = app.order(&code).await;
    assert_eq!(o["status"], "PROCESSING", "{o}");
    assert!(o["userConfirm"].is_object(), "{o}");
    assert!(up.effects().await.is_empty());
    // The user confirms; the sandbox notifies twice: one SUCCESS, one capture.
    up.post(
        &format!("/sandbox/v1/transfer-bills/{key}/confirm"),
        json!({}),
    )
    .await;
    app.wait_for(
        std::slice::from_ref(&code),
        &["SUCCESS"],
        Duration::from_secs(10),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let o = app.order(&code).await;
    assert_eq!(postings(&o), ["HOLD", "CAPTURE"], "captured once: {o}");
    assert_eq!(o["version"], 3, "PROCESSING, waiting, SUCCESS: {o}");
    assert_eq!(up.effects().await.len(), 1);
    app.assert_ledger_balanced().await;
    app.stop().await;
}
both_backends!(
    forged_and_duplicate_notifications_change_nothing,
    notifications_are_hints
);
