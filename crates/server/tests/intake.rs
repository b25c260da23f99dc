//! Issue 2's story over real HTTP, on SQLite and on PostgreSQL: every status code the intake can
//! produce, idempotency, races for one bizCode and for the last yuan, restarts.

mod common;
use common::*;
use serde_json::{Value, json};

const RP: &str = "/v1/openapi/order/redPacket";

async fn happy_paths(b: Backend) {
    let db = TestDb::new(b);
    let app = spawn_app(&db.url).await;
    setup_catalog(&app).await;
    app.topup("B1", json!(100), "t1").await;

    let r = app
        .call(RP, &red_packet("rp-1", json!(1.5)), &Sign::rsa("B1"))
        .await;
    assert_eq!(r["status"], 200, "{r}");
    assert_eq!(
        r["data"]["settlementPrice"],
        json!(1.52),
        "1.5 + 1 % fee rounded half up"
    );
    assert_eq!(r["data"]["bizCode"], "rp-1");
    let code = r["data"]["orderCode"].as_str().unwrap().to_string();
    assert!(code.starts_with("RG") && code.len() == 32, "{code}");

    let base = json!({"merchantId": "M1", "businessId": "B1"});
    let with = |extra: Value| {
        let mut v = base.clone();
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        v
    };
    let r = app.call("/v1/openapi/order/wechat/coupons", &with(json!({"openId": "o1", "productCode": "PWX", "activityId": "AWX", "bizCode": "wx-1"})), &Sign::md5("B1")).await;
    assert_eq!(r["data"]["settlementPrice"], json!(4.5), "{r}");
    let r = app.call("/v1/openapi/order/alipay/coupons", &with(json!({"mobile": "13211551111", "productCode": "PALI", "activityId": "AALI", "bizCode": "ali-1"})), &Sign::md5("B1")).await;
    assert_eq!(r["data"]["settlementPrice"], json!(4.6), "{r}");
    let r = app
        .call(
            "/v1/openapi/order/wechat/transfer",
            &with(json!({"openId": "o1", "productCode": "PTR", "spec": 10, "bizCode": "tr-1"})),
            &Sign::md5("B1"),
        )
        .await;
    assert_eq!(r["data"]["settlementPrice"], json!(10.06), "{r}");

    // Query by bizCode and by orderCode.
    let r = app
        .call(
            "/v1/openapi/order/info",
            &with(json!({"bizCode": "rp-1"})),
            &Sign::md5("B1"),
        )
        .await;
    assert_eq!(r["data"]["orderCode"], code.as_str());
    assert_eq!(r["data"]["status"], "PROCESSING");
    assert_eq!(r["data"]["productType"], "RED_PACKET");
    let key = r["data"]["upstreamKey"].as_str().unwrap();
    assert!(
        key.starts_with("1900000109") && key.len() == 28,
        "mch_billno {key}"
    );
    let r = app
        .call(
            "/v1/openapi/order/info",
            &with(json!({"orderCode": code})),
            &Sign::rsa("B1"),
        )
        .await;
    assert_eq!(r["data"]["bizCode"], "rp-1");

    // Balance: 100 - 1.52 - 4.5 - 4.6 - 10.06 = 79.32 available, 20.68 frozen.
    let r = app
        .call(
            "/v1/openapi/merchant/business/balance",
            &base,
            &Sign::md5("B1"),
        )
        .await;
    assert_eq!(
        r["data"],
        json!({"merchantId": "M1", "businessId": "B1", "amount": 79.32, "frozen": 20.68, "creditLine": 0})
    );

    // Every accepted order waits as a delivery job, written with it.
    let (_, v) = app.admin("GET", &format!("/orders/{code}"), None).await;
    assert_eq!(v["data"]["jobState"], "READY", "{v}");
    assert_eq!(v["data"]["postings"][0]["kind"], "HOLD");
    let (_, v) = app
        .admin("GET", "/orders?businessId=B1&limit=3", None)
        .await;
    assert_eq!(v["data"]["items"].as_array().unwrap().len(), 3);
    let cursor = v["data"]["nextCursor"].as_str().unwrap().to_string();
    let (_, v) = app
        .admin(
            "GET",
            &format!("/orders?businessId=B1&limit=3&cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(v["data"]["items"].as_array().unwrap().len(), 1);
    assert_eq!(v["data"]["nextCursor"], Value::Null);

    let r = app
        .http
        .get(format!("{}/v1/openapi/platform/publicKey", app.base))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert!(
        v["data"]["publicKey"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );
    app.assert_ledger_balanced().await;
    app.stop().await;
}
both_backends!(happy_paths_every_reward_type, happy_paths);

async fn refusals(b: Backend) {
    let db = TestDb::new(b);
    let app = spawn_app(&db.url).await;
    setup_catalog(&app).await;
    app.topup("B1", json!(10), "t1").await;
    let md5 = Sign::md5("B1");
    let st = |v: &Value| v["status"].as_i64().unwrap();

    // 40001: missing, wrong type, three decimals, zero, negative, bad mobile, body/header mismatch.
    let mut body = red_packet("x1", json!(1.5));
    body.as_object_mut().unwrap().remove("openId");
    let v = app.call(RP, &body, &md5).await;
    assert_eq!(
        (st(&v), v["message"].as_str().unwrap()),
        (40001, "openId is required")
    );
    for (spec, field) in [
        (json!("1.5"), "spec"),
        (json!(1.505), "spec"),
        (json!(0), "spec"),
        (json!(-1), "spec"),
        (json!(true), "spec"),
    ] {
        let v = app.call(RP, &red_packet("x1", spec.clone()), &md5).await;
        assert_eq!(st(&v), 40001, "{spec}: {v}");
        assert!(v["message"].as_str().unwrap().starts_with(field), "{v}");
    }
    let mut body = red_packet("x1", json!(1.5));
    body["businessId"] = json!("B2");
    let v = app.call(RP, &body, &md5).await;
    assert!(
        st(&v) == 40001 && v["message"].as_str().unwrap().contains("businessId"),
        "{v}"
    );
    let v = app.call("/v1/openapi/order/alipay/coupons", &json!({"merchantId": "M1", "businessId": "B1", "mobile": "23211551111", "productCode": "PALI", "activityId": "AALI", "bizCode": "a"}), &md5).await;
    assert!(
        st(&v) == 40001 && v["message"].as_str().unwrap().starts_with("mobile"),
        "{v}"
    );

    // Raw bodies: malformed JSON, duplicate member, not an object, non-UTF-8 — all signed.
    for (raw, want) in [
        (&b"{\"merchantId\": "[..], "body"),
        (
            b"{\"merchantId\":\"M1\",\"merchantId\":\"M1\"}",
            "merchantId appears more than once",
        ),
        (b"[]", "body"),
        (b"{\"merchantId\":\"M\xff\"}", "body must be UTF-8"),
    ] {
        let text = String::from_utf8_lossy(raw).to_string();
        let mut h = md5.headers(&text);
        if raw.iter().any(|b| *b >= 0x80) {
            // Sign the exact bytes (the lossy text differs), so the refusal is about the body.
            let v = app.raw(RP, &h, raw.to_vec()).await.1;
            assert!(matches!(st(&v), 40001 | 40101), "{v}");
            h.clear();
            continue;
        }
        let (_, v) = app.raw(RP, &h, raw.to_vec()).await;
        assert_eq!(st(&v), 40001, "{v}");
        assert!(
            v["message"].as_str().unwrap().starts_with(want),
            "{want}: {v}"
        );
    }
    // Missing auth header.
    let body = red_packet("x1", json!(1.5)).to_string();
    let h: Vec<_> = md5
        .headers(&body)
        .into_iter()
        .filter(|(k, _)| *k != "nonce")
        .collect();
    let (_, v) = app.raw(RP, &h, body.clone().into_bytes()).await;
    assert_eq!(
        (st(&v), v["message"].as_str().unwrap()),
        (40001, "nonce header is required")
    );

    // 40002 unsupported signType.
    let mut h = md5.headers(&body);
    h.iter_mut().for_each(|(k, v)| {
        if *k == "signType" {
            *v = "HMAC-SHA1".into()
        }
    });
    assert_eq!(
        st(&app.raw(RP, &h, body.clone().into_bytes()).await.1),
        40002
    );

    // 40101: wrong key, tampered body.
    let wrong = Sign {
        md5_key: Some("0".repeat(32)),
        ..md5.clone()
    };
    assert_eq!(
        st(&app.call(RP, &red_packet("x1", json!(1.5)), &wrong).await),
        40101
    );
    let h = Sign::rsa("B1").headers(&body);
    let tampered = body.replace("1.5", "2.5");
    assert_eq!(st(&app.raw(RP, &h, tampered.into_bytes()).await.1), 40101);

    // 40102 stale timestamp (either side), 40103 replayed nonce.
    let now = rewardgate_core::clock::now_ms();
    for t in [now - 301_000, now + 301_000] {
        assert_eq!(
            st(&app
                .call(
                    RP,
                    &red_packet("x1", json!(1.5)),
                    &md5.clone().with_timestamp(t)
                )
                .await),
            40102
        );
    }
    let once = md5.clone().with_nonce("replay-me-1");
    assert_eq!(
        st(&app.call(RP, &red_packet("n1", json!(1.5)), &once).await),
        200
    );
    let v = app.call(RP, &red_packet("n2", json!(1.5)), &once).await;
    assert_eq!(st(&v), 40103, "{v}");
    let v = app
        .call(
            "/v1/openapi/merchant/business/balance",
            &json!({"merchantId": "M1", "businessId": "B1"}),
            &once,
        )
        .await;
    assert_eq!(st(&v), 40103, "{v}");

    // 40104 unknown business, 40301 wrong merchant, 40302 IP not allowed.
    assert_eq!(
        st(&app
            .call(RP, &red_packet("x1", json!(1.5)), &Sign::md5("NOPE"))
            .await),
        40104
    );
    let mut body = red_packet("x1", json!(1.5));
    body["merchantId"] = json!("M2");
    assert_eq!(st(&app.call(RP, &body, &md5).await), 40301);
    app.put("/businesses/B9", json!({"merchantId": "M1", "name": "fenced", "md5Key": MD5_KEY, "ipAllowlist": ["10.0.0.0/8"]})).await;
    let mut body = red_packet("x1", json!(1.5));
    body["businessId"] = json!("B9");
    assert_eq!(st(&app.call(RP, &body, &Sign::md5("B9")).await), 40302);

    // 40401: template, product, activity, order; product of the wrong kind.
    let mut body = red_packet("x1", json!(1.5));
    body["templateId"] = json!("NOPE");
    let v = app.call(RP, &body, &md5).await;
    assert!(
        st(&v) == 40401 && v["message"].as_str().unwrap().contains("templateId"),
        "{v}"
    );
    let c = |p: &str, a: &str| json!({"merchantId": "M1", "businessId": "B1", "openId": "o", "productCode": p, "activityId": a, "bizCode": "c1"});
    assert_eq!(
        st(&app
            .call("/v1/openapi/order/wechat/coupons", &c("NOPE", "AWX"), &md5)
            .await),
        40401
    );
    assert_eq!(
        st(&app
            .call("/v1/openapi/order/wechat/coupons", &c("PWX", "NOPE"), &md5)
            .await),
        40401
    );
    assert_eq!(
        st(&app
            .call("/v1/openapi/order/wechat/coupons", &c("PALI", "AALI"), &md5)
            .await),
        40401
    );
    assert_eq!(
        st(&app
            .call("/v1/openapi/order/wechat/coupons", &c("PWX", "AALI"), &md5)
            .await),
        40401
    );
    let v = app
        .call(
            "/v1/openapi/order/info",
            &json!({"merchantId": "M1", "businessId": "B1", "bizCode": "never"}),
            &md5,
        )
        .await;
    assert_eq!(st(&v), 40401);

    // 42201: spec outside the template, transfer under 0.3, expired activity.
    assert_eq!(
        st(&app.call(RP, &red_packet("x1", json!(0.99)), &md5).await),
        42201
    );
    assert_eq!(
        st(&app.call(RP, &red_packet("x1", json!(200.01)), &md5).await),
        42201
    );
    let t = json!({"merchantId": "M1", "businessId": "B1", "openId": "o", "productCode": "PTR", "spec": 0.29, "bizCode": "t1"});
    assert_eq!(
        st(&app
            .call("/v1/openapi/order/wechat/transfer", &t, &md5)
            .await),
        42201
    );
    assert_eq!(
        st(&app
            .call("/v1/openapi/order/wechat/coupons", &c("PWX", "AOLD"), &md5)
            .await),
        42201
    );

    // 40901: the same bizCode with another request.
    assert_eq!(
        st(&app.call(RP, &red_packet("dup", json!(1.5)), &md5).await),
        200
    );
    assert_eq!(
        st(&app.call(RP, &red_packet("dup", json!(1.6)), &md5).await),
        40901
    );

    // 40201: insufficient balance stores nothing.
    let before = app
        .call(
            "/v1/openapi/merchant/business/balance",
            &json!({"merchantId": "M1", "businessId": "B1"}),
            &md5,
        )
        .await;
    let v = app.call(RP, &red_packet("big", json!(50)), &md5).await;
    assert_eq!(st(&v), 40201);
    let v = app
        .call(
            "/v1/openapi/order/info",
            &json!({"merchantId": "M1", "businessId": "B1", "bizCode": "big"}),
            &md5,
        )
        .await;
    assert_eq!(st(&v), 40401, "a refused order leaves nothing");
    let after = app
        .call(
            "/v1/openapi/merchant/business/balance",
            &json!({"merchantId": "M1", "businessId": "B1"}),
            &md5,
        )
        .await;
    assert_eq!(before["data"], after["data"]);

    // Transport: 404, 405, 413, 415 — with the envelope.
    let r = app
        .http
        .post(format!("{}/v1/openapi/nothing", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], 404);
    let r = app
        .http
        .get(format!("{}{RP}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    let big = format!("{{\"x\":\"{}\"}}", "a".repeat(70_000));
    let (code, v) = app
        .raw(RP, &md5.headers(&big), big.clone().into_bytes())
        .await;
    assert_eq!((code, st(&v)), (413, 413));
    let (code, _) = app
        .raw(RP, &[("Content-Type", "text/plain".into())], b"{}".to_vec())
        .await;
    assert_eq!(code, 415);
    let r = app
        .http
        .get(format!("{}/admin/v1/orders", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = app
        .http
        .get(format!("{}/admin/v1/orders", app.base))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    app.assert_ledger_balanced().await;
    app.stop().await;
}
both_backends!(every_refusal_changes_nothing, refusals);

async fn idempotent_and_racing_duplicates(b: Backend) {
    let db = TestDb::new(b);
    let app = spawn_app(&db.url).await;
    setup_catalog(&app).await;
    app.topup("B1", json!(100), "t1").await;
    let first = app
        .call(RP, &red_packet("same", json!(2)), &Sign::md5("B1"))
        .await;
    // A retry with the body's members reordered and an unknown member is the same request.
    let retry = json!({"bizCode": "same", "spec": 2.00, "openId": "oxTWIuGaIt6gTKsQRLau2M0yL16E", "templateId": "T1",
        "businessId": "B1", "merchantId": "M1", "traceId": "ignored"});
    let again = app.call(RP, &retry, &Sign::rsa("B1")).await;
    assert_eq!(first["data"], again["data"]);

    // 50 identical requests at once (each its own nonce): one order, every answer names it.
    let reqs = (0..50)
        .map(|_| (red_packet("race", json!(3)), Sign::md5("B1")))
        .collect();
    let answers = burst(&app, reqs).await;
    let mut codes = std::collections::HashSet::new();
    for r in answers {
        assert_eq!(r["status"], 200, "{r}");
        codes.insert(r["data"]["orderCode"].as_str().unwrap().to_string());
    }
    assert_eq!(codes.len(), 1);
    let bal = app.balance("B1").await;
    // 2 + 2 % … : 2.00 + 0.02 and 3.00 + 0.03 held once each.
    assert_eq!(bal["data"]["frozen"], json!(5.05), "{bal}");
    app.assert_ledger_balanced().await;
    app.stop().await;
}
both_backends!(
    idempotent_retry_and_racing_duplicates,
    idempotent_and_racing_duplicates
);

async fn racing_balance(b: Backend) {
    let db = TestDb::new(b);
    let app = spawn_app(&db.url).await;
    setup_catalog(&app).await;
    // Room for exactly N orders of 1.01 (1 yuan + 1 % fee) with a 5.05 credit line.
    let n = 180usize;
    app.put(
        "/businesses/B1",
        json!({"merchantId": "M1", "name": "业务", "md5Key": MD5_KEY, "creditLine": 5.05}),
    )
    .await;
    let topup = ((n as i64 - 5) * 101) as f64 / 100.0;
    app.topup("B1", json!(topup), "t1").await;
    let reqs = (0..n + 20)
        .map(|i| (red_packet(&format!("b{i}"), json!(1)), Sign::md5("B1")))
        .collect();
    let answers = burst(&app, reqs).await;
    let (mut ok, mut short) = (0, 0);
    for r in answers {
        match r["status"].as_i64().unwrap() {
            200 => ok += 1,
            40201 => short += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!((ok, short), (n, 20));
    let bal = app.balance("B1").await;
    assert_eq!(
        bal["data"]["amount"],
        json!(-5.05),
        "down to -creditLine, never further: {bal}"
    );
    assert_eq!(bal["data"]["creditLine"], json!(5.05));
    app.assert_ledger_balanced().await;
    app.stop().await;
}
both_backends!(racing_for_the_last_yuan, racing_balance);

async fn restart_keeps_everything(b: Backend) {
    let db = TestDb::new(b);
    let app = spawn_app(&db.url).await;
    setup_catalog(&app).await;
    app.topup("B1", json!(10), "t1").await;
    let once = Sign::md5("B1").with_nonce("kept-across-restart");
    let r = app.call(RP, &red_packet("keep", json!(1)), &once).await;
    let code = r["data"]["orderCode"].clone();
    let key = app
        .http
        .get(format!("{}/v1/openapi/platform/publicKey", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    app.stop().await;

    let app = spawn_app(&db.url).await;
    let v = app
        .call(
            "/v1/openapi/order/info",
            &json!({"merchantId": "M1", "businessId": "B1", "bizCode": "keep"}),
            &Sign::md5("B1"),
        )
        .await;
    assert_eq!(v["data"]["orderCode"], code);
    assert_eq!(
        app.call(RP, &red_packet("other", json!(1)), &once).await["status"],
        40103
    );
    let again = app
        .http
        .get(format!("{}/v1/openapi/platform/publicKey", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(key, again, "the platform key is kept");
    // The same top-up reference changes nothing; another amount under it is refused.
    let v = app.topup("B1", json!(10), "t1").await;
    assert_eq!(v["data"]["amount"], json!(8.99));
    let v = app.topup("B1", json!(11), "t1").await;
    assert_eq!(v["status"], 40901);
    app.assert_ledger_balanced().await;
    app.stop().await;
}
both_backends!(
    restart_keeps_orders_nonces_and_keys,
    restart_keeps_everything
);

async fn admin_hides_secrets(b: Backend) {
    let db = TestDb::new(b);
    let app = spawn_app(&db.url).await;
    setup_catalog(&app).await;
    for path in [
        "/channel-accounts/wx2",
        "/channel-accounts/wx3",
        "/channel-accounts/ali",
        "/businesses/B1",
    ] {
        let (_, v) = app.admin("GET", path, None).await;
        let text = v.to_string();
        assert_eq!(v["status"], 200);
        for secret in [MD5_KEY, &"k".repeat(32), &"v".repeat(32), "MIIEv"] {
            assert!(!text.contains(secret), "{path} leaks a secret: {text}");
        }
    }
    // Bad admin input names the field and stores nothing.
    let (_, v) = app.admin("PUT", "/templates/T2", Some(json!({"channelAccountId": "wx2", "sendName": "a", "wishing": "b", "actName": "c", "remark": "d", "minSpec": 5, "maxSpec": 1}))).await;
    assert_eq!(v["status"], 40001);
    assert!(v["message"].as_str().unwrap().starts_with("minSpec"), "{v}");
    let (_, v) = app.admin("GET", "/templates/T2", None).await;
    assert_eq!(v["status"], 40401);
    let (_, v) = app
        .admin(
            "PUT",
            "/businesses/B5",
            Some(json!({"merchantId": "M1", "name": "x", "rsaPublicKeyPem": "junk"})),
        )
        .await;
    assert!(
        v["status"] == 40001
            && v["message"]
                .as_str()
                .unwrap()
                .starts_with("rsaPublicKeyPem"),
        "{v}"
    );
    let (_, v) = app
        .admin(
            "PUT",
            "/businesses/B5",
            Some(json!({"merchantId": "NOPE", "name": "x", "md5Key": MD5_KEY})),
        )
        .await;
    assert_eq!(v["status"], 40401);
    app.stop().await;
}
both_backends!(admin_validates_and_hides_secrets, admin_hides_secrets);

/// Two `serve` processes on one PostgreSQL database accept a nonce once between them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_nonces_and_bizcodes() {
    let db = TestDb::new(Backend::Postgres);
    let a = spawn_app(&db.url).await;
    let b = spawn_app(&db.url).await;
    setup_catalog(&a).await;
    a.topup("B1", json!(10), "t1").await;
    let once = Sign::md5("B1").with_nonce("shared-nonce");
    let body = red_packet("shared", json!(1)).to_string();
    let h = once.headers(&body);
    let (ra, rb) = tokio::join!(
        a.raw(RP, &h, body.clone().into_bytes()),
        b.raw(RP, &h, body.clone().into_bytes())
    );
    let mut statuses = [
        ra.1["status"].as_i64().unwrap(),
        rb.1["status"].as_i64().unwrap(),
    ];
    statuses.sort();
    assert_eq!(statuses, [200, 40103]);
    let ra = a
        .call(RP, &red_packet("both", json!(1)), &Sign::md5("B1"))
        .await;
    let rb = b
        .call(RP, &red_packet("both", json!(1)), &Sign::md5("B1"))
        .await;
    assert_eq!(ra["data"], rb["data"]);
    a.assert_ledger_balanced().await;
    a.stop().await;
    b.stop().await;
}

async fn too_many_requests(b: Backend) {
    let db = TestDb::new(b);
    let app = spawn_app(&db.url).await;
    setup_catalog(&app).await;
    app.put(
        "/businesses/B1",
        json!({"merchantId": "M1", "name": "limited", "md5Key": MD5_KEY, "requestsPerSecond": 2}),
    )
    .await;
    app.topup("B1", json!(100), "t1").await;
    let mut statuses = Vec::new();
    for i in 0..6 {
        let v = app
            .call(
                RP,
                &red_packet(&format!("lim{i}"), json!(1)),
                &Sign::md5("B1"),
            )
            .await;
        statuses.push(v["status"].as_i64().unwrap());
    }
    assert!(
        statuses.contains(&200) && statuses.contains(&42901),
        "{statuses:?}"
    );
    let refused = statuses.iter().position(|s| *s == 42901).unwrap();
    // A refused order stored nothing: its bizCode is free once the rate allows.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let v = app
        .call(
            "/v1/openapi/order/info",
            &json!({"merchantId": "M1", "businessId": "B1", "bizCode": format!("lim{refused}")}),
            &Sign::md5("B1"),
        )
        .await;
    assert_eq!(v["status"], 40401, "{v}");
    app.assert_ledger_balanced().await;
    app.stop().await;
}
both_backends!(over_the_business_rate_is_42901, too_many_requests);

/// A yuan amount in an answer, in fen, read from the JSON number's text (never through a float).
/// Posts every (body, signer) at once; the answers in the same order.
async fn burst(app: &TestApp, reqs: Vec<(Value, Sign)>) -> Vec<Value> {
    let mut set = tokio::task::JoinSet::new();
    for (i, (body, sign)) in reqs.into_iter().enumerate() {
        let (http, base) = (app.http.clone(), app.base.clone());
        set.spawn(async move {
            let body = body.to_string();
            let mut rb = http.post(format!("{base}{RP}"));
            for (k, v) in sign.headers(&body) {
                rb = rb.header(k, v);
            }
            let v = rb.body(body).send().await.unwrap().json::<Value>().await;
            (i, v.unwrap())
        });
    }
    let mut out = Vec::new();
    while let Some(r) = set.join_next().await {
        out.push(r.unwrap());
    }
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, v)| v).collect()
}

/// Orders arriving together are taken in together (one batch per business on the writer): a
/// burst that mixes every outcome — fresh orders, more than the balance holds, one nonce used by
/// several requests, one bizCode with two different requests — answers each as it would alone.
async fn mixed_burst(b: Backend) {
    let db = TestDb::new(b);
    let app = spawn_app(&db.url).await;
    setup_catalog(&app).await;
    // Room for exactly 20 orders of 1.01 (1 yuan + 1 % fee).
    app.topup("B1", json!(20.20), "t1").await;
    let mut reqs = Vec::new();
    for i in 0..30 {
        reqs.push((red_packet(&format!("f{i}"), json!(1)), Sign::md5("B1")));
    }
    for i in 0..8 {
        let s = Sign::md5("B1").with_nonce("one-nonce-for-eight");
        reqs.push((red_packet(&format!("n{i}"), json!(1)), s));
    }
    reqs.push((red_packet("twice", json!(1)), Sign::md5("B1")));
    reqs.push((red_packet("twice", json!(2)), Sign::rsa("B1")));
    let answers = burst(&app, reqs.clone()).await;

    let status = |v: &Value| v["status"].as_i64().unwrap();
    let replays = answers[30..38]
        .iter()
        .filter(|v| status(v) == 40103)
        .count();
    assert_eq!(replays, 7, "one request gets the nonce: {answers:?}");
    let twice: Vec<i64> = answers[38..].iter().map(status).collect();
    assert!(
        twice.contains(&40901) || twice.contains(&40201),
        "one bizCode, two requests: {twice:?}"
    );
    let created: std::collections::HashSet<String> = answers
        .iter()
        .filter(|v| status(v) == 200)
        .map(|v| v["data"]["orderCode"].as_str().unwrap().to_string())
        .collect();
    let total: i64 = answers
        .iter()
        .zip(&reqs)
        .filter(|(v, _)| status(v) == 200)
        .map(|(_, (body, _))| body["spec"].as_i64().unwrap() * 101)
        .sum();
    for (v, (body, _)) in answers.iter().zip(&reqs) {
        assert!(matches!(status(v), 200 | 40103 | 40201 | 40901), "{v}");
        if status(v) == 40201 {
            // Refused for the balance: nothing of it stored, its bizCode still free.
            let info = app
                .call(
                    "/v1/openapi/order/info",
                    &json!({"merchantId": "M1", "businessId": "B1", "bizCode": body["bizCode"]}),
                    &Sign::md5("B1"),
                )
                .await;
            if body["bizCode"] != "twice" {
                assert_eq!(info["status"], 40401, "{info}");
            }
        }
    }
    assert!(created.len() >= 19, "the balance is used up: {answers:?}");
    let bal = app.balance("B1").await;
    assert_eq!(
        fen(&bal["data"]["frozen"]),
        total,
        "every accepted order held once, nothing else: {bal}"
    );
    let left = fen(&bal["data"]["amount"]);
    assert!(
        (0..101).contains(&left),
        "less than one more order left: {bal}"
    );
    app.assert_ledger_balanced().await;

    // The business's request limit over a burst: a token per order in arrival order, and a
    // refused order stores nothing.
    app.put(
        "/businesses/B2",
        json!({"merchantId": "M1", "name": "limited", "md5Key": MD5_KEY, "requestsPerSecond": 3}),
    )
    .await;
    app.topup("B2", json!(100), "t2").await;
    let reqs: Vec<(Value, Sign)> = (0..24)
        .map(|i| {
            let mut b = red_packet(&format!("l{i}"), json!(1));
            b["businessId"] = json!("B2");
            (b, Sign::md5("B2"))
        })
        .collect();
    let answers = burst(&app, reqs).await;
    let ok = answers.iter().filter(|v| status(v) == 200).count();
    let limited = answers.iter().filter(|v| status(v) == 42901).count();
    assert_eq!(ok + limited, 24, "{answers:?}");
    assert!((3..=6).contains(&ok), "3 a second with a burst of 3: {ok}");
    // The balance query is a signed request too: after the bucket refills.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let bal = app.balance("B2").await;
    assert_eq!(fen(&bal["data"]["frozen"]), 101 * ok as i64, "{bal}");
    app.assert_ledger_balanced().await;
    app.stop().await;
}
both_backends!(a_burst_mixing_every_outcome, mixed_burst);
