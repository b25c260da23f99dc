//! Issue 8's story over HTTP on SQLite and PostgreSQL: a WeChat Pay v2 upstream that answers as
//! the real one does — unsigned answers, and failures behind `return_code=FAIL` +
//! `result_code=FAIL` + `err_code`, exactly the shapes of seed 002's own examples — and the
//! states only the real upstream has (PROCESSING, a refund in progress). Also: an HMAC-SHA256
//! account is refused where red packets or transfers would go through it.

mod common;
use common::delivery::*;
use common::*;
use serde_json::{Value, json};
use std::time::Duration;

async fn balance(app: &TestApp) -> Value {
    app.call(
        "/v1/openapi/merchant/business/balance",
        &json!({"merchantId": "M1", "businessId": "B1"}),
        &Sign::md5("B1"),
    )
    .await["data"]
        .clone()
}

fn red_packet(biz: &str, spec: Value) -> Value {
    json!({"merchantId": "M1", "businessId": "B1", "templateId": "T1", "openId": format!("o{biz}"),
        "spec": spec, "bizCode": biz})
}

async fn seed_shapes(b: Backend) {
    let db = TestDb::new(b);
    let up = sandbox().await;
    let app = spawn_with(&db.url, fast_dispatcher()).await;
    wire(&app, &up).await;
    // Every refusal in seed 002's failure shape; answers unsigned (the sandbox's default).
    up.faults(json!({"v2ReturnCodeFail": true})).await;
    let md5 = Sign::md5("B1");

    // An unsigned success, like seed 002's success example, ends SUCCESS.
    let r = app
        .call(
            "/v1/openapi/order/redPacket",
            &red_packet("ok1", json!(1)),
            &md5,
        )
        .await;
    assert_eq!(r["status"], 200, "{r}");
    let ok = r["data"]["orderCode"].as_str().unwrap().to_string();
    app.wait_for(
        std::slice::from_ref(&ok),
        &["SUCCESS"],
        Duration::from_secs(15),
    )
    .await;

    // SYSTEMERROR behind return_code=FAIL: unknown, asked again with the same billno, paid once.
    up.faults(json!({"v2ReturnCodeFail": true, "systemError": 1.0}))
        .await;
    let r = app
        .call(
            "/v1/openapi/order/redPacket",
            &red_packet("se1", json!(2)),
            &md5,
        )
        .await;
    let se = r["data"]["orderCode"].as_str().unwrap().to_string();
    let o = app
        .wait_attempt(
            &se,
            1,
            |a| {
                a["outcome"] == "UNKNOWN"
                    && a["detail"]
                        .as_str()
                        .unwrap_or("")
                        .starts_with("SYSTEMERROR")
            },
            Duration::from_secs(15),
        )
        .await;
    assert_eq!(o["status"], "PROCESSING", "{o}");
    up.faults(json!({"v2ReturnCodeFail": true})).await;
    app.wait_for(
        std::slice::from_ref(&se),
        &["SUCCESS"],
        Duration::from_secs(15),
    )
    .await;
    let o = app.order(&se).await;
    let key = o["upstreamKey"].as_str().unwrap();
    let effects = up.effects().await;
    let paid: Vec<_> = effects.iter().filter(|e| e["key"] == key).collect();
    assert_eq!(
        paid.len(),
        1,
        "one payout under the order's one billno: {effects:?}"
    );
    assert_eq!(paid[0]["amountFen"], 200);

    // MONEY_LIMIT behind return_code=FAIL ends FAILED and releases the hold.
    let before = balance(&app).await;
    let r = app
        .call(
            "/v1/openapi/order/redPacket",
            &red_packet("ml1", json!(280)),
            &md5,
        )
        .await;
    let ml = r["data"]["orderCode"].as_str().unwrap().to_string();
    app.wait_for(
        std::slice::from_ref(&ml),
        &["FAILED"],
        Duration::from_secs(15),
    )
    .await;
    let o = app.order(&ml).await;
    assert_eq!(o["errorCode"], "MONEY_LIMIT", "{o}");
    assert_eq!(
        o["postings"].as_array().unwrap().last().unwrap()["kind"],
        "RELEASE"
    );
    assert_eq!(balance(&app).await, before, "the hold is released in full");
    assert!(
        !up.effects()
            .await
            .iter()
            .any(|e| e["key"] == o["upstreamKey"])
    );

    // PROCESSING: accepted upstream, asked again later (never resent under a new key).
    up.faults(json!({"processing": 1.0, "processingSeconds": 1}))
        .await;
    let r = app
        .call(
            "/v1/openapi/order/redPacket",
            &red_packet("pr1", json!(3)),
            &md5,
        )
        .await;
    let pr = r["data"]["orderCode"].as_str().unwrap().to_string();
    app.wait_attempt(
        &pr,
        1,
        |a| a["outcome"] == "PENDING",
        Duration::from_secs(15),
    )
    .await;
    up.faults(json!({})).await;
    app.wait_for(
        std::slice::from_ref(&pr),
        &["SUCCESS"],
        Duration::from_secs(15),
    )
    .await;
    let key = app.order(&pr).await["upstreamKey"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        up.effects()
            .await
            .iter()
            .filter(|e| e["key"] == key)
            .count(),
        1
    );

    // Answers that do carry a sign are checked, and pass when it is right.
    up.put(
        "/sandbox/v1/accounts/wechat-v2/1900000109",
        json!({"apiKey": "k".repeat(32),
        "appIds": ["wx8888888888888888"], "balance": 100000, "certPem": testdata("wx_cert.pem"),
        "sceneMinAmount": 0.3, "sceneMaxAmount": 250, "signAnswers": true}),
    )
    .await;
    let r = app
        .call(
            "/v1/openapi/order/redPacket",
            &red_packet("sg1", json!(1)),
            &md5,
        )
        .await;
    let sg = r["data"]["orderCode"].as_str().unwrap().to_string();
    app.wait_for(
        std::slice::from_ref(&sg),
        &["SUCCESS"],
        Duration::from_secs(15),
    )
    .await;

    // A transfer accepted but still PROCESSING (the send answered SYSTEMERROR): asked again
    // until the query says FAILED, then FAILED with the hold released.
    up.faults(json!({"processing": 1.0, "processingSeconds": 3600}))
        .await;
    let before = balance(&app).await;
    let tr = app.place("tr", 1).await;
    app.wait_attempt(
        &tr,
        1,
        |a| a["outcome"] == "PENDING",
        Duration::from_secs(15),
    )
    .await;
    up.faults(json!({})).await;
    assert_eq!(app.order(&tr).await["status"], "PROCESSING");
    let key = app.order(&tr).await["upstreamKey"]
        .as_str()
        .unwrap()
        .to_string();
    let (st, v) = up_state(&up, &format!("/sandbox/v1/transfers/{key}/state"), "FAILED").await;
    assert_eq!(st, 200, "{v}");
    app.wait_for(
        std::slice::from_ref(&tr),
        &["FAILED"],
        Duration::from_secs(15),
    )
    .await;
    assert_eq!(app.order(&tr).await["errorCode"], "TRANSFER_FAILED");
    assert_eq!(balance(&app).await, before);
    assert!(!up.effects().await.iter().any(|e| e["key"] == key.as_str()));
    app.assert_ledger_balanced().await;
    app.stop().await;
}
both_backends!(seed_002_shapes_end_to_end, seed_shapes);

async fn up_state(up: &Upstream, path: &str, status: &str) -> (u16, Value) {
    let r = up
        .http
        .post(format!("{}{path}", up.base))
        .json(&json!({"status": status}))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// Red-packet and transfer calls sign with MD5 only: an HMAC-SHA256 account is refused where it
/// would carry them, at configuration time, naming the field.
async fn hmac_refused(b: Backend) {
    let db = TestDb::new(b);
    let up = sandbox().await;
    let app = spawn_with(&db.url, fast_dispatcher()).await;
    wire(&app, &up).await;
    let hmac = json!({"kind": "WECHAT_V2", "mchId": "1900000109", "appId": "wx8888888888888888",
        "apiKey": "k".repeat(32), "signType": "HMAC-SHA256"});
    let (st, v) = app
        .admin("PUT", "/channel-accounts/wxh", Some(hmac.clone()))
        .await;
    assert_eq!((st, v["status"].as_i64()), (200, Some(200)), "{v}");
    let (_, v) = app
        .admin(
            "PUT",
            "/templates/TH",
            Some(json!({"channelAccountId": "wxh",
        "sendName": "a", "wishing": "b", "actName": "c", "remark": "d"})),
        )
        .await;
    assert_eq!(v["status"], 40001, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .starts_with("channelAccountId"),
        "{v}"
    );
    assert!(v["message"].as_str().unwrap().contains("MD5"), "{v}");
    let (_, v) = app
        .admin(
            "PUT",
            "/products/PH",
            Some(json!({"kind": "WECHAT_TRANSFER",
        "name": "零钱", "channelAccountId": "wxh"})),
        )
        .await;
    assert_eq!(v["status"], 40001, "{v}");
    // wx2 carries template T1: it cannot switch to HMAC-SHA256.
    let mut wx2 = hmac.clone();
    wx2["certPem"] = json!(testdata("wx_cert.pem"));
    wx2["keyPem"] = json!(testdata("wx_key.pem"));
    let (_, v) = app.admin("PUT", "/channel-accounts/wx2", Some(wx2)).await;
    assert_eq!(v["status"], 40001, "{v}");
    assert!(
        v["message"].as_str().unwrap().starts_with("signType"),
        "{v}"
    );
    // Byte widths and scenes, as WeChat counts them.
    let (_, v) = app
        .admin(
            "PUT",
            "/templates/TW",
            Some(json!({"channelAccountId": "wx2",
        "sendName": "一二三四五六七八九十一", "wishing": "b", "actName": "c", "remark": "d"})),
        )
        .await;
    assert_eq!(v["status"], 40001, "{v}");
    assert!(
        v["message"].as_str().unwrap().starts_with("sendName"),
        "{v}"
    );
    let (_, v) = app
        .admin(
            "PUT",
            "/templates/TS",
            Some(json!({"channelAccountId": "wx2",
        "sendName": "a", "wishing": "b", "actName": "c", "remark": "d", "minSpec": 0.5})),
        )
        .await;
    assert_eq!(v["status"], 40001, "{v}");
    assert!(v["message"].as_str().unwrap().starts_with("sceneId"), "{v}");
    app.stop().await;
}
both_backends!(hmac_account_refused_for_md5_only_calls, hmac_refused);
