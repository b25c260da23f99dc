//! The operator console over HTTP on both databases, without a browser (tests/browser drives it
//! in Chromium): sign-in and its cookie, CSRF on every change, sessions shared through the
//! database and ended by a new admin token, secrets never on a page, bad filters named, the
//! CSV export, and changes made through the admin API's own parsers.

mod common;
use common::console::*;
use common::*;
use serde_json::json;

async fn console_story(b: Backend) {
    let db = TestDb::new(b);
    let app = spawn_app(&db.url).await;
    setup_catalog(&app).await;
    app.topup("B1", json!(50), "first").await;

    // Anonymous: the login form; a wrong token is refused and sets nothing.
    let (st, _, loc) = page(&app, "", "/console").await;
    assert_eq!((st, loc.as_deref()), (303, Some("/console/login")));
    assert_eq!(sign_in(&app, "wrong-token").await, None);
    let r = no_redirects()
        .post(format!("{}/console/login", app.base))
        .form_body(&[("token", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("Wrong token"));

    let cookie = sign_in(&app, TOKEN).await.expect("signed in");
    let (st, html, _) = page(&app, &cookie, "/console").await;
    assert_eq!(st, 200, "{html}");
    assert!(html.contains("id=\"per-minute\"") && html.contains("Businesses low on balance"));
    let csrf = csrf_of(&html);

    // Pages never carry a secret, nor the admin token.
    for path in [
        "/console/businesses/B1",
        "/console/catalog/business/B1",
        "/console/catalog/channel_account/wx2",
        "/console/catalog/business",
    ] {
        let (st, html, _) = page(&app, &cookie, path).await;
        assert_eq!(st, 200, "{path}");
        for secret in [
            MD5_KEY,
            TOKEN,
            &"k".repeat(32),
            &"v".repeat(32),
            "PRIVATE KEY",
        ] {
            assert!(!html.contains(secret), "{path} shows a secret");
        }
    }

    // Every change needs the session's CSRF token; without it nothing moves.
    let (st, _) = post(
        &app,
        &cookie,
        "/console/businesses/B1/topup",
        &[("amount", "5"), ("reference", "r1")],
    )
    .await;
    assert_eq!(st, 403);
    let (st, _) = post(
        &app,
        &cookie,
        "/console/businesses/B1/topup",
        &[
            ("amount", "5"),
            ("reference", "r1"),
            ("csrf", &"0".repeat(64)),
        ],
    )
    .await;
    assert_eq!(st, 403);
    let (_, bal) = app.admin("GET", "/businesses/B1/balance", None).await;
    assert_eq!(bal["data"]["amount"], json!(50));
    let (st, loc) = post(
        &app,
        &cookie,
        "/console/businesses/B1/topup",
        &[("amount", "5"), ("reference", "r1"), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(st, 303);
    assert!(loc.unwrap().contains("done="));
    // The same reference again changes nothing (the admin API's rule); a bad amount is named.
    post(
        &app,
        &cookie,
        "/console/businesses/B1/topup",
        &[("amount", "5"), ("reference", "r1"), ("csrf", &csrf)],
    )
    .await;
    let (_, loc) = post(
        &app,
        &cookie,
        "/console/businesses/B1/topup",
        &[("amount", "-1"), ("reference", "r2"), ("csrf", &csrf)],
    )
    .await;
    assert!(loc.unwrap().contains("error=amount"));
    let (_, bal) = app.admin("GET", "/businesses/B1/balance", None).await;
    assert_eq!(bal["data"]["amount"], json!(55));

    // MD5 key rotation goes through the business parser: a short key is refused, naming md5Key.
    let (_, loc) = post(
        &app,
        &cookie,
        "/console/businesses/B1/rotate-md5",
        &[("md5Key", "short"), ("csrf", &csrf)],
    )
    .await;
    assert!(loc.unwrap().contains("error=md5Key"));
    let (_, loc) = post(
        &app,
        &cookie,
        "/console/businesses/B1/rotate-md5",
        &[("md5Key", "a-new-md5-key-0123456789"), ("csrf", &csrf)],
    )
    .await;
    assert!(loc.unwrap().contains("done="));
    let stored = app.admin("GET", "/businesses/B1", None).await.1;
    assert_ne!(stored["data"]["md5Key"], json!(MD5_KEY));
    assert!(
        stored["data"]["rsaPublicKeyPem"].is_string(),
        "the rest of the business is kept"
    );

    // Catalogue edits keep secrets the form leaves out, and refuse what the admin API refuses.
    let body = json!({"kind": "WECHAT_V2", "mchId": "1900000109", "appId": "wx8888888888888888", "signType": "MD5",
        "certPem": testdata("wx_cert.pem"), "baseUrl": "http://127.0.0.1:9", "ratePerMinute": 600}).to_string();
    let (st, loc) = post(
        &app,
        &cookie,
        "/console/catalog/channel_account/wx2",
        &[("json", &body), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(st, 303, "{loc:?}");
    let a = app.admin("GET", "/channel-accounts/wx2", None).await.1;
    assert_eq!(a["data"]["ratePerMinute"], json!(600));
    assert!(
        a["data"]["apiKey"].as_str().unwrap().contains('*'),
        "the api key is kept (masked)"
    );
    let r = no_redirects()
        .post(format!("{}/console/catalog/template/T9", app.base))
        .header("cookie", &cookie)
        .form_body(&[
            ("json", r#"{"channelAccountId": "wx2", "sendName": "x"}"#),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert!(
        r.text().await.unwrap().contains("wishing"),
        "the missing field is named"
    );
    assert_eq!(
        app.admin("GET", "/templates/T9", None).await.1["status"],
        json!(40401)
    );

    // An activity with a time window saves unchanged: its stored epoch-ms times are shown as the
    // RFC 3339 text the admin API takes.
    let (_, html, _) = page(&app, &cookie, "/console/catalog/activity/AOLD").await;
    let i = html.find("name=\"json\"").unwrap();
    let start = html[i..].find('>').unwrap() + i + 1;
    let end = html[start..].find("</textarea>").unwrap() + start;
    let text = html[start..end]
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    assert!(text.contains("2020-01-01T00:00:00Z"), "{text}");
    let (st, loc) = post(
        &app,
        &cookie,
        "/console/catalog/activity/AOLD",
        &[("json", &text), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(st, 303, "{loc:?}");
    let a = app.admin("GET", "/activities/AOLD", None).await.1;
    assert!(a["data"]["endsAt"].is_number(), "the window is kept: {a}");

    // Orders: a bad filter is named; an order is found by bizCode; the export streams CSV.
    let o = app
        .call(
            "/v1/openapi/order/redPacket",
            &red_packet("console-1", json!(2)),
            &Sign::md5("B1"),
        )
        .await;
    assert_eq!(
        o["status"], 40101,
        "the rotated-out MD5 key signs nothing any more"
    );
    let o = app
        .call(
            "/v1/openapi/order/redPacket",
            &red_packet("console-1", json!(2)),
            &Sign::rsa("B1"),
        )
        .await;
    assert_eq!(o["status"], 200, "{o}");
    let code = o["data"]["orderCode"].as_str().unwrap().to_string();
    let (st, html, _) = page(&app, &cookie, "/console/orders?status=NOPE").await;
    assert_eq!(st, 200);
    assert!(html.contains("status NOPE is not an order status"));
    let (st, _, loc) = page(&app, &cookie, "/console/orders?q=console-1").await;
    assert_eq!((st, loc), (303, Some(format!("/console/orders/{code}"))));
    let (st, _, loc) = page(&app, &cookie, &format!("/console/orders?q={code}")).await;
    assert_eq!(
        (st, loc),
        (303, Some(format!("/console/orders/{code}"))),
        "found by orderCode too"
    );
    let (_, html, _) = page(&app, &cookie, "/console/orders?q=console-1&status=FAILED").await;
    assert!(
        html.contains("no orders match"),
        "the other filters still apply to a code search"
    );
    let (st, html, _) = page(&app, &cookie, &format!("/console/orders/{code}")).await;
    assert_eq!(st, 200);
    assert!(html.contains("console-1") && html.contains("HOLD"));
    let (st, csv, _) = page(&app, &cookie, "/console/orders.csv?type=RED_PACKET").await;
    assert_eq!(st, 200);
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("orderCode,bizCode,merchantId"));
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[1].starts_with(&format!(
        "{code},console-1,M1,B1,RED_PACKET,PROCESSING,READY,2.00,"
    )));
    let (st, _, _) = page(&app, &cookie, "/console/orders.csv?from=yesterday").await;
    assert_eq!(st, 400);

    // A retry of an order that is not final re-arms it (same key); a redelivery of nothing fails.
    let (st, loc) = post(
        &app,
        &cookie,
        &format!("/console/orders/{code}/retry"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(st, 303);
    assert!(loc.unwrap().contains(&format!("/console/orders/{code}?")));
    let (_, loc) = post(
        &app,
        &cookie,
        "/console/notifications/nope/redeliver",
        &[("csrf", &csrf), ("order", &code)],
    )
    .await;
    assert!(loc.unwrap().contains("error="));

    // Sessions live in the database: another instance knows them, until the admin token changes.
    let other = spawn_with_token(&db.url, TOKEN, no_dispatcher(), no_notifier()).await;
    assert_eq!(page(&other, &cookie, "/console").await.0, 200);
    other.stop().await;
    let rotated =
        spawn_with_token(&db.url, "a-new-admin-token", no_dispatcher(), no_notifier()).await;
    let (st, _, loc) = page(&rotated, &cookie, "/console").await;
    assert_eq!(
        (st, loc.as_deref()),
        (303, Some("/console/login")),
        "a new admin token ends old sessions"
    );
    rotated.stop().await;

    // Sign-out ends the session everywhere.
    let (st, _) = post(&app, &cookie, "/console/logout", &[("csrf", &csrf)]).await;
    assert_eq!(st, 303);
    assert_eq!(page(&app, &cookie, "/console").await.0, 303);
    app.stop().await;
}

fn no_dispatcher() -> rewardgate_server::dispatcher::DispatcherConfig {
    rewardgate_server::dispatcher::DispatcherConfig {
        enabled: false,
        ..Default::default()
    }
}

fn no_notifier() -> rewardgate_server::notifier::NotifierConfig {
    rewardgate_server::notifier::NotifierConfig {
        enabled: false,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_sqlite() {
    console_story(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_postgres() {
    console_story(Backend::Postgres).await;
}

/// Without an admin token there is no console.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_is_off_without_a_token() {
    let db = TestDb::new(Backend::Sqlite);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let cfg = rewardgate_server::Config {
        listen: addr.to_string(),
        database_url: db.url.clone(),
        admin_token: None,
        ..Default::default()
    };
    let stop = tokio_util::sync::CancellationToken::new();
    let h = tokio::spawn(rewardgate_server::run(cfg, listener, stop.clone()));
    let http = reqwest::Client::new();
    let mut st = 0;
    for _ in 0..200 {
        if let Ok(r) = http
            .get(format!("http://{addr}/console/login"))
            .send()
            .await
        {
            st = r.status().as_u16();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(st, 404);
    stop.cancel();
    let _ = h.await;
}
