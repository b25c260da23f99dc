//! Rabbitpre's `/pay/sendApiRedPack` over HTTP against the sandbox: happy path, wrong secret,
//! unknown mapping, replay of one mchBillno (one payout), mini-program mode, an injected timeout
//! followed by a retry.

mod common;
use common::delivery::*;
use common::*;
use serde_json::{Value, json};
use std::time::Duration;

const SECRET: &str = "rabbit-secret-key-0001";

fn request(billno: &str, openid: &str, extra: Value) -> Value {
    let mut v = json!({"privateKey": "PRIVATE-SHOULD-NOT-BE-STORED", "certKey": "CERT-SHOULD-NOT-BE-STORED", "wxAppId": "wx8888888888888888",
        "mchId": "1900000109", "apiSecretKey": SECRET, "mchBillno": billno, "openid": openid, "amount": 100, "clientIp": "127.0.0.1",
        "actName": "兔展活动", "remark": "备注", "tradeRecordId": 42});
    v.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    v
}

async fn send(app: &TestApp, body: &Value) -> Value {
    let r = app
        .http
        .post(format!("{}/pay/sendApiRedPack", app.base))
        .header("Content-Type", "application/jsonxml; charset=utf-8")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn setup(b: Backend) -> (TestDb, Upstream, TestApp) {
    let db = TestDb::new(b);
    let up = sandbox().await;
    let app = spawn_with(&db.url, fast_dispatcher()).await;
    wire(&app, &up).await;
    app.put("/rabbitpre-integrations/rp1", json!({"apiSecretKey": SECRET, "businessId": "B1", "channelAccountId": "wx2", "openidMapping": "DIRECT"})).await;
    (db, up, app)
}

async fn rabbitpre(b: Backend) {
    let (_db, up, app) = setup(b).await;
    let ok = send(&app, &request("RB0001", "oRabbit1", json!({}))).await;
    assert_eq!(
        (ok["returnCode"].as_str(), ok["resultCode"].as_str()),
        (Some("SUCCESS"), Some("SUCCESS")),
        "{ok}"
    );
    assert!(ok["sendListid"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(ok["reOpenid"], "oRabbit1");
    // The same mchBillno answers the first result and never pays twice.
    let again = send(&app, &request("RB0001", "oRabbit1", json!({}))).await;
    assert_eq!(again["sendListid"], ok["sendListid"]);
    let other = send(&app, &request("RB0001", "oRabbit1", json!({"amount": 200}))).await;
    assert_eq!(other["errCode"], "PARAM_ERROR", "{other}");
    // Wrong secret, foreign merchant number.
    let bad = send(
        &app,
        &request(
            "RB0002",
            "oRabbit1",
            json!({"apiSecretKey": "rabbit-secret-key-0002"}),
        ),
    )
    .await;
    assert_eq!(bad["returnCode"], "FAIL");
    let bad = send(
        &app,
        &request("RB0003", "oRabbit1", json!({"mchId": "1900000999"})),
    )
    .await;
    assert_eq!(bad["returnCode"], "FAIL");
    // Mini-program red packets go through sendminiprogramhb.
    let mini = send(
        &app,
        &request(
            "RB0004",
            "oRabbit2",
            json!({"notifyWay": "MINI_PROGRAM_JSAPI"}),
        ),
    )
    .await;
    assert_eq!(mini["resultCode"], "SUCCESS", "{mini}");
    let effects = up.effects().await;
    assert_eq!(effects.len(), 2, "{effects:?}");
    assert!(
        effects
            .iter()
            .any(|e| e["channel"] == "WECHAT_MINIPROGRAM_REDPACK")
    );
    // A mapped integration: unknown user ids are refused; mapped ones are paid to their openid.
    app.put("/rabbitpre-integrations/rp2", json!({"apiSecretKey": "rabbit-secret-key-mapped", "businessId": "B1", "channelAccountId": "wx2", "openidMapping": "MAPPED"})).await;
    let unknown = send(
        &app,
        &request(
            "RB0005",
            "user-77",
            json!({"apiSecretKey": "rabbit-secret-key-mapped"}),
        ),
    )
    .await;
    assert_eq!(unknown["errCode"], "OPENID_ERROR", "{unknown}");
    let (_, v) = app
        .admin(
            "POST",
            "/rabbitpre-integrations/rp2/openids",
            Some(json!({"mappings": [{"userId": "user-77", "openid": "oMapped77"}]})),
        )
        .await;
    assert_eq!(v["status"], 200, "{v}");
    let mapped = send(
        &app,
        &request(
            "RB0006",
            "user-77",
            json!({"apiSecretKey": "rabbit-secret-key-mapped"}),
        ),
    )
    .await;
    assert_eq!(
        (mapped["resultCode"].as_str(), mapped["reOpenid"].as_str()),
        (Some("SUCCESS"), Some("oMapped77")),
        "{mapped}"
    );
    // Nothing secret from the request was kept.
    let (_, list) = app.admin("GET", "/orders?limit=100", None).await;
    for o in list["data"]["items"].as_array().unwrap() {
        let (_, full) = app
            .admin(
                "GET",
                &format!("/orders/{}", o["orderCode"].as_str().unwrap()),
                None,
            )
            .await;
        let text = full.to_string();
        for secret in ["PRIVATE-SHOULD-NOT", "CERT-SHOULD-NOT", SECRET] {
            assert!(!text.contains(secret), "{text}");
        }
    }
    let (_, v) = app.admin("GET", "/rabbitpre-integrations/rp1", None).await;
    assert!(!v.to_string().contains(SECRET), "{v}");
    app.assert_ledger_balanced().await;
    app.stop().await;
}
both_backends!(rabbitpre_send_api_red_pack, rabbitpre);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_injected_timeout_then_a_retry_pays_once() {
    let (_db, up, app) = setup(Backend::Sqlite).await;
    up.faults(json!({"timeout": 1.0, "timeoutSeconds": 12}))
        .await;
    let first = send(&app, &request("RBT001", "oRabbitT", json!({}))).await;
    assert_eq!(
        (first["resultCode"].as_str(), first["errCode"].as_str()),
        (Some("FAIL"), Some("SYSTEMERROR")),
        "{first}"
    );
    up.faults(json!({})).await;
    let mut last = Value::Null;
    for _ in 0..3 {
        last = send(&app, &request("RBT001", "oRabbitT", json!({}))).await;
        if last["resultCode"] == "SUCCESS" {
            break;
        }
    }
    assert_eq!(last["resultCode"], "SUCCESS", "{last}");
    let effects = up.effects().await;
    assert_eq!(effects.len(), 1, "one payout: {effects:?}");
    tokio::time::sleep(Duration::from_millis(10)).await;
    app.stop().await;
}
