//! Hostile input over HTTP: attempts to get past the signature, to read another business's
//! orders, to reach the admin API, and inputs built to exhaust the parser. Every one is refused
//! with SPEC's envelope and changes nothing. (Secrets in logs: `crates/cli/tests/proof.rs`.)

mod common;
use common::*;
use serde_json::{Value, json};

fn balance_body() -> Value {
    json!({"merchantId": "M1", "businessId": "B1"})
}

async fn signature_bypass(b: Backend) {
    let db = TestDb::new(b);
    let app = spawn_app(&db.url).await;
    setup_catalog(&app).await;
    let path = "/v1/openapi/merchant/business/balance";
    let body = balance_body().to_string();
    let good = Sign::md5("B1").headers(&body);
    let with = |name: &'static str, value: &str| {
        let mut h = Sign::md5("B1").headers(&body);
        match h.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
            Some(x) => x.1 = value.to_string(),
            None => h.push((
                Box::leak(name.to_string().into_boxed_str()),
                value.to_string(),
            )),
        }
        h
    };
    type Headers = Vec<(&'static str, String)>;
    let cases: Vec<(Headers, i64, &str)> = vec![
        (with("sign", ""), 40001, "empty sign"),
        (with("sign", &"0".repeat(32)), 40101, "zeros"),
        (
            with("sign", &good[4].1.to_lowercase()),
            40101,
            "lowercase hex is another string",
        ),
        (
            with("signType", "md5"),
            40101,
            "signType as sent is what was signed",
        ),
        (with("signType", "NONE"), 40002, "no signature type"),
        (with("signType", "HMAC-SHA256"), 40002, "another algorithm"),
        (
            with("businessId", "Ｂ1"),
            40001,
            "a full-width look-alike business",
        ),
        (
            with("businessId", "B1\u{200b}"),
            40001,
            "a zero-width space",
        ),
        (with("businessId", "b1"), 40104, "ids are case-sensitive"),
        (with("nonce", "a/../b"), 40001, "nonce charset"),
        (with("nonce", &"n".repeat(65)), 40001, "nonce length"),
        (
            with("timestamp", "1e12"),
            40101,
            "a timestamp changed after signing",
        ),
    ];
    for (h, want, what) in cases {
        let (st, v) = app.raw(path, &h, body.clone().into_bytes()).await;
        assert_eq!((st, v["status"].as_i64()), (200, Some(want)), "{what}: {v}");
    }
    // RSA signed by another key.
    let mut other = Sign::rsa("B1");
    other.rsa_pem = Some(testdata("platform_test_private.pem"));
    let v = app.call(path, &balance_body(), &other).await;
    assert_eq!(v["status"], 40101, "{v}");
    // Header and body disagree on the business.
    let mixed = json!({"merchantId": "M1", "businessId": "B2"});
    let v = app.call(path, &mixed, &Sign::md5("B1")).await;
    assert_eq!(v["status"], 40001, "{v}");
    // Oversized headers and bodies, deep JSON: refused, the server stays up.
    let mut h = good.clone();
    h.push(("x-padding", "a".repeat(200_000)));
    let r = app
        .http
        .post(format!("{}{path}", app.base))
        .headers(
            h.iter()
                .map(|(k, v)| (k.parse().unwrap(), v.parse().unwrap()))
                .collect(),
        )
        .body(body.clone())
        .send()
        .await;
    let r = r.unwrap();
    assert_eq!(r.status(), 431);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], 431);
    let big = format!(
        "{{\"merchantId\":\"M1\",\"businessId\":\"B1\",\"x\":\"{}\"}}",
        "a".repeat(70_000)
    );
    let (st, v) = app
        .raw(path, &Sign::md5("B1").headers(&big), big.into_bytes())
        .await;
    assert_eq!((st, v["status"].as_i64()), (413, Some(413)), "{v}");
    let deep = format!(
        "{{\"merchantId\":\"M1\",\"businessId\":\"B1\",\"x\":{}{}}}",
        "[".repeat(20_000),
        "]".repeat(20_000)
    );
    let (st, v) = app
        .raw(path, &Sign::md5("B1").headers(&deep), deep.into_bytes())
        .await;
    assert_eq!((st, v["status"].as_i64()), (200, Some(40001)), "{v}");
    let v = app.call(path, &balance_body(), &Sign::md5("B1")).await;
    assert_eq!(v["status"], 200, "still serving: {v}");
    app.assert_ledger_balanced().await;
    app.stop().await;
}
both_backends!(signature_bypass_attempts_are_refused, signature_bypass);

async fn cross_business(b: Backend) {
    let db = TestDb::new(b);
    let app = spawn_app(&db.url).await;
    setup_catalog(&app).await;
    app.put("/merchants/M2", json!({"name": "other"})).await;
    app.put(
        "/businesses/B2",
        json!({"merchantId": "M2", "name": "other", "md5Key": MD5_KEY}),
    )
    .await;
    app.topup("B1", json!(100), "t1").await;
    let v = app
        .call(
            "/v1/openapi/order/redPacket",
            &red_packet("mine-1", json!(1)),
            &Sign::md5("B1"),
        )
        .await;
    let code = v["data"]["orderCode"]
        .as_str()
        .unwrap_or_else(|| panic!("{v}"))
        .to_string();
    // B2 asks for B1's order by its code and by its bizCode, and for B1's balance.
    for body in [
        json!({"merchantId": "M2", "businessId": "B2", "orderCode": code}),
        json!({"merchantId": "M2", "businessId": "B2", "bizCode": "mine-1"}),
    ] {
        let v = app
            .call("/v1/openapi/order/info", &body, &Sign::md5("B2"))
            .await;
        assert!(v["status"] == 40401 || v["status"] == 40301, "{v}");
        assert!(v["data"].is_null(), "{v}");
    }
    let v = app
        .call(
            "/v1/openapi/merchant/business/balance",
            &json!({"merchantId": "M2", "businessId": "B1"}),
            &Sign::md5("B2"),
        )
        .await;
    assert_ne!(v["status"], 200, "{v}");
    let v = app
        .call(
            "/v1/openapi/merchant/business/balance",
            &json!({"merchantId": "M1", "businessId": "B1"}),
            &Sign::md5("B2"),
        )
        .await;
    assert_ne!(v["status"], 200, "{v}");
    app.stop().await;
}
both_backends!(one_business_cannot_read_another, cross_business);

#[tokio::test]
async fn admin_needs_the_token() {
    let db = TestDb::new(Backend::Sqlite);
    let app = spawn_app(&db.url).await;
    for auth in [
        None,
        Some("Bearer wrong-token".to_string()),
        Some(format!("bearer{TOKEN}")),
        Some(format!("Basic {TOKEN}")),
        Some(format!("Bearer {}", &TOKEN[..TOKEN.len() - 1])),
    ] {
        let mut rb = app.http.get(format!("{}/admin/v1/ledger", app.base));
        if let Some(a) = &auth {
            rb = rb.header("Authorization", a);
        }
        let r = rb.send().await.unwrap();
        assert_eq!(r.status(), 401, "{auth:?}");
        let v: Value = r.json().await.unwrap();
        assert!(v["status"].is_number() && v["data"].is_null(), "{v}");
    }
    let (st, _) = app.admin("GET", "/ledger", None).await;
    assert_eq!(st, 200);
    app.stop().await;
}
