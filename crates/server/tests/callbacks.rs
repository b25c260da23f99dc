//! Issue 5's callbacks over HTTP: signed reports checked by a verifier written here (not the code
//! under test), retries against a failing receiver, a hanging receiver, a refused private target,
//! redelivery.

mod common;
use axum::extract::State;
use axum::http::HeaderMap;
use base64::Engine;
use common::delivery::*;
use common::*;
use md5::{Digest, Md5};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct Receiver {
    fail_first: usize,
    hang: bool,
    got: Vec<(HeaderMap, String)>,
}

type Shared = Arc<Mutex<Receiver>>;

async fn receive(
    State(r): State<Shared>,
    headers: HeaderMap,
    body: String,
) -> (axum::http::StatusCode, &'static str) {
    let (hang, fail) = {
        let mut g = r.lock().unwrap();
        g.got.push((headers, body));
        let n = g.got.len();
        (g.hang, n <= g.fail_first)
    };
    if hang {
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
    if fail {
        (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "try later")
    } else {
        (axum::http::StatusCode::OK, " success\n")
    }
}

async fn receiver(r: Receiver) -> (String, Shared) {
    let shared = Arc::new(Mutex::new(r));
    let app = axum::Router::new()
        .route("/cb", axum::routing::post(receive))
        .with_state(shared.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/cb", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (url, shared)
}

fn fast_notifier(allow_private: bool) -> rewardgate_server::notifier::NotifierConfig {
    rewardgate_server::notifier::NotifierConfig {
        schedule: vec![Duration::from_millis(200); 4],
        allow_private,
        ..Default::default()
    }
}

/// SPEC §3 verification, written here from the SPEC: sorted auth headers, then the body.
fn verify(headers: &HeaderMap, body: &str, md5_key: Option<&str>, public_pem: &str) -> bool {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let mut pairs = vec![
        ("businessId", h("businessId")),
        ("nonce", h("nonce")),
        ("timestamp", h("timestamp")),
    ];
    if !h("signType").is_empty() {
        pairs.push(("signType", h("signType")));
    }
    pairs.sort();
    let s = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
        + body;
    match h("signType").as_str() {
        "MD5" => {
            hex::encode_upper(Md5::digest(format!("{s}{}", md5_key.unwrap()).as_bytes()))
                == h("sign")
        }
        _ => {
            let der = base64::engine::general_purpose::STANDARD
                .decode(
                    public_pem
                        .lines()
                        .filter(|l| !l.starts_with("-----"))
                        .collect::<String>(),
                )
                .unwrap();
            let sig = base64::engine::general_purpose::STANDARD
                .decode(h("sign"))
                .unwrap();
            aws_lc_rs::signature::UnparsedPublicKey::new(
                &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
                der,
            )
            .verify(s.as_bytes(), &sig)
            .is_ok()
        }
    }
}

async fn wait_until(what: &str, mut f: impl AsyncFnMut() -> bool, within: Duration) {
    let deadline = std::time::Instant::now() + within;
    while !f().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn signed_and_retried(b: Backend) {
    let db = TestDb::new(b);
    let up = sandbox().await;
    let app = spawn_full(&db.url, fast_dispatcher(), fast_notifier(true)).await;
    wire(&app, &up).await;
    let (md5_url, md5_rx) = receiver(Receiver {
        fail_first: 2,
        ..Default::default()
    })
    .await;
    let (rsa_url, rsa_rx) = receiver(Receiver::default()).await;
    // B1 has only an MD5 key: MD5 reports. B2 has an RSA key: SHA256-RSA with the platform key.
    app.put(
        "/businesses/B1",
        json!({"merchantId": "M1", "name": "md5 only", "md5Key": MD5_KEY, "callbackUrl": md5_url}),
    )
    .await;
    app.put("/businesses/B2", json!({"merchantId": "M1", "name": "rsa", "md5Key": MD5_KEY, "rsaPublicKeyPem": testdata("merchant_test_public.pem"), "callbackUrl": rsa_url})).await;
    app.topup("B2", json!(100), "b2").await;
    let code1 = app.place("wx", 1).await;
    let (path, mut body) = order("ali", 2);
    body["businessId"] = json!("B2");
    let r = app.call(path, &body, &Sign::md5("B2")).await;
    let code2 = r["data"]["orderCode"].as_str().unwrap().to_string();
    let public = app
        .http
        .get(format!("{}/v1/openapi/platform/publicKey", app.base))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["data"]["publicKey"]
        .as_str()
        .unwrap()
        .to_string();
    wait_until(
        "the MD5 report",
        async || md5_rx.lock().unwrap().got.len() >= 3,
        Duration::from_secs(15),
    )
    .await;
    wait_until(
        "the RSA report",
        async || !rsa_rx.lock().unwrap().got.is_empty(),
        Duration::from_secs(15),
    )
    .await;
    for (rx, code, key) in [(&md5_rx, &code1, Some(MD5_KEY)), (&rsa_rx, &code2, None)] {
        let got = rx.lock().unwrap().got.clone();
        let ids: Vec<String> = got
            .iter()
            .map(|(_, b)| {
                serde_json::from_str::<Value>(b).unwrap()["notifyId"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert!(
            ids.windows(2).all(|w| w[0] == w[1]),
            "notifyId is the same on every retry"
        );
        for (h, body) in &got {
            assert!(
                verify(h, body, key, &public),
                "independent verification failed: {h:?} {body}"
            );
            let v: Value = serde_json::from_str(body).unwrap();
            assert_eq!(
                (
                    v["orderCode"].as_str(),
                    v["status"].as_str(),
                    v["version"].as_i64()
                ),
                (Some(code.as_str()), Some("SUCCESS"), Some(2))
            );
            for f in [
                "merchantId",
                "businessId",
                "bizCode",
                "productType",
                "settlementPrice",
                "errorCode",
                "errorMessage",
                "finishedAt",
            ] {
                assert!(v.get(f).is_some(), "{f} missing in {v}");
            }
        }
    }
    let (_, v) = app
        .admin("GET", &format!("/orders/{code1}/notifications"), None)
        .await;
    let n = &v["data"]["items"][0];
    wait_until(
        "DELIVERED",
        async || {
            app.admin("GET", &format!("/orders/{code1}/notifications"), None)
                .await
                .1["data"]["items"][0]["state"]
                == "DELIVERED"
        },
        Duration::from_secs(5),
    )
    .await;
    let (_, v) = app
        .admin("GET", &format!("/orders/{code1}/notifications"), None)
        .await;
    let log = v["data"]["items"][0]["attemptLog"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(log.len(), 3, "{v}");
    assert_eq!(
        (log[0]["httpStatus"].as_i64(), log[2]["httpStatus"].as_i64()),
        (Some(500), Some(200))
    );
    // Redelivery sends the same report again.
    let id = n["notifyId"].as_str().unwrap();
    let (_, v) = app
        .admin("POST", &format!("/notifications/{id}/redeliver"), None)
        .await;
    assert_eq!(v["status"], 200, "{v}");
    wait_until(
        "the redelivery",
        async || md5_rx.lock().unwrap().got.len() >= 4,
        Duration::from_secs(10),
    )
    .await;
    let (_, v) = app
        .admin("POST", "/notifications/nope/redeliver", None)
        .await;
    assert_eq!(v["status"], 40401);
    app.stop().await;
}
both_backends!(
    reports_are_signed_retried_and_redelivered,
    signed_and_retried
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_receiver_holds_back_nobody_and_times_out() {
    let db = TestDb::new(Backend::Sqlite);
    let up = sandbox().await;
    let app = spawn_full(&db.url, fast_dispatcher(), fast_notifier(true)).await;
    wire(&app, &up).await;
    let (slow_url, _slow) = receiver(Receiver {
        hang: true,
        ..Default::default()
    })
    .await;
    let (fast_url, fast) = receiver(Receiver::default()).await;
    app.put(
        "/businesses/B1",
        json!({"merchantId": "M1", "name": "slow", "md5Key": MD5_KEY, "callbackUrl": slow_url}),
    )
    .await;
    app.put(
        "/businesses/B2",
        json!({"merchantId": "M1", "name": "fast", "md5Key": MD5_KEY, "callbackUrl": fast_url}),
    )
    .await;
    app.topup("B2", json!(100), "b2").await;
    let slow_code = app.place("wx", 1).await;
    for i in 0..5 {
        let (path, mut body) = order("wx", 100 + i);
        body["businessId"] = json!("B2");
        app.call(path, &body, &Sign::md5("B2")).await;
    }
    wait_until(
        "the fast merchant's reports",
        async || fast.lock().unwrap().got.len() >= 5,
        Duration::from_secs(8),
    )
    .await;
    wait_until(
        "a timeout recorded",
        async || {
            let v = app
                .admin("GET", &format!("/orders/{slow_code}/notifications"), None)
                .await
                .1;
            v["data"]["items"][0]["attemptLog"]
                .as_array()
                .is_some_and(|l| {
                    l.iter()
                        .any(|a| a["error"].as_str().unwrap_or("").starts_with("timeout"))
                })
        },
        Duration::from_secs(20),
    )
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_target_is_refused_with_the_reason() {
    let db = TestDb::new(Backend::Sqlite);
    let up = sandbox().await;
    let (url, rx) = receiver(Receiver::default()).await;
    // Refused at intake when private targets are not allowed…
    let app = spawn_full(&db.url, fast_dispatcher(), fast_notifier(false)).await;
    wire(&app, &up).await;
    let (_, v) = app
        .admin(
            "PUT",
            "/businesses/B1",
            Some(json!({"merchantId": "M1", "name": "b", "md5Key": MD5_KEY, "callbackUrl": url})),
        )
        .await;
    assert_eq!(v["status"], 40001, "{v}");
    app.stop().await;
    // …and at send, for a target stored while they were allowed (an operator turned it off).
    let quiet = rewardgate_server::notifier::NotifierConfig {
        enabled: false,
        ..fast_notifier(true)
    };
    let app = spawn_full(&db.url, fast_dispatcher(), quiet).await;
    app.put(
        "/businesses/B1",
        json!({"merchantId": "M1", "name": "b", "md5Key": MD5_KEY, "callbackUrl": url}),
    )
    .await;
    let code = app.place("wx", 1).await;
    app.wait_for(
        std::slice::from_ref(&code),
        &["SUCCESS"],
        Duration::from_secs(10),
    )
    .await;
    app.stop().await;
    let app = spawn_full(&db.url, fast_dispatcher(), fast_notifier(false)).await;
    let code = app.place("wx", 1).await;
    wait_until(
        "FAILED",
        async || {
            app.admin("GET", &format!("/orders/{code}/notifications"), None)
                .await
                .1["data"]["items"][0]["state"]
                == "FAILED"
        },
        Duration::from_secs(10),
    )
    .await;
    let (_, v) = app
        .admin("GET", &format!("/orders/{code}/notifications"), None)
        .await;
    assert!(
        v["data"]["items"][0]["lastError"]
            .as_str()
            .unwrap()
            .contains("refused target"),
        "{v}"
    );
    assert!(rx.lock().unwrap().got.is_empty(), "nothing was sent");
    app.stop().await;
}

/// A host's share: however many of its reports are due (and claimed ahead), no more than
/// `per_target` of its requests are in flight at once, and every report arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_host_never_has_more_than_its_share_in_flight() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let db = TestDb::new(Backend::Sqlite);
    let up = sandbox().await;
    let (now, most, got) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let (n, m, g) = (now.clone(), most.clone(), got.clone());
    let slow = axum::Router::new().route(
        "/cb",
        axum::routing::post(move || {
            let (n, m, g) = (n.clone(), m.clone(), g.clone());
            async move {
                let inside = n.fetch_add(1, Ordering::SeqCst) + 1;
                m.fetch_max(inside, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(150)).await;
                n.fetch_sub(1, Ordering::SeqCst);
                g.fetch_add(1, Ordering::SeqCst);
                "SUCCESS"
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/cb", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, slow).await });
    let notifier = rewardgate_server::notifier::NotifierConfig {
        per_target: 3,
        concurrency: 64,
        ..fast_notifier(true)
    };
    assert_eq!((notifier.per_host(), notifier.held_per_host()), (3, 6));
    let app = spawn_full(&db.url, fast_dispatcher(), notifier).await;
    wire(&app, &up).await;
    app.put(
        "/businesses/B1",
        json!({"merchantId": "M1", "name": "b", "md5Key": MD5_KEY, "callbackUrl": url}),
    )
    .await;
    for i in 0..15 {
        app.place("wx", 200 + i).await;
    }
    wait_until(
        "every report",
        async || got.load(Ordering::SeqCst) >= 15,
        Duration::from_secs(30),
    )
    .await;
    let most = most.load(Ordering::SeqCst);
    assert!(
        (1..=3).contains(&most),
        "{most} requests in flight at once to one host"
    );
    app.stop().await;
}
