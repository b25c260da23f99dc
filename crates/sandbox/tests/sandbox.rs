//! The sandbox over real HTTP: each upstream's rules and error codes, idempotency under
//! concurrency, faults, the clock, and client-certificate TLS.

use rewardgate_channels::alipay as ali;
use rewardgate_channels::wechat_v2::{self as v2, Params, SignType, xml};
use rewardgate_channels::wechat_v3 as v3;
use rewardgate_core::keys::{RsaPrivateKey, RsaPublicKey};
use serde_json::{Value, json};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

const KEY: &str = "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk";
const MCH: &str = "1900000109";
const APP: &str = "wx8888888888888888";

fn testdata(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../../../shared/testdata/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

struct Sb {
    base: String,
    tls_base: String,
    http: reqwest::Client,
    _stop: tokio_util::sync::DropGuard,
}

async fn spawn() -> Sb {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let t = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (a, b) = (l.local_addr().unwrap(), t.local_addr().unwrap());
    let stop = CancellationToken::new();
    tokio::spawn(rewardgate_sandbox::run(
        Arc::new(rewardgate_sandbox::Sandbox::new()),
        l,
        Some(t),
        stop.clone(),
    ));
    let sb = Sb {
        base: format!("http://{a}"),
        tls_base: format!("https://127.0.0.1:{}", b.port()),
        http: reqwest::Client::new(),
        _stop: stop.drop_guard(),
    };
    sb.put(
        "/sandbox/v1/accounts/wechat-v2/1900000109",
        json!({"apiKey": KEY, "appIds": [APP], "balance": 1000}),
    )
    .await;
    sb
}

impl Sb {
    async fn put(&self, path: &str, body: Value) -> Value {
        let r = self
            .http
            .put(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}");
        r.json().await.unwrap()
    }
    async fn post_json(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }
    async fn effects(&self) -> Vec<Value> {
        self.http
            .get(format!("{}/sandbox/v1/effects", self.base))
            .send()
            .await
            .unwrap()
            .json::<Vec<Value>>()
            .await
            .unwrap()
    }
    async fn v2(&self, path: &str, mut p: Params, key: &str) -> Params {
        p.entry("nonce_str".into())
            .or_insert_with(|| rewardgate_channels::nonce(32));
        let s = v2::sign(&p, key, SignType::Md5);
        p.insert("sign".into(), s);
        let text = self
            .http
            .post(format!("{}{path}", self.base))
            .body(xml::write(&p))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        xml::parse(&text).unwrap()
    }
}

fn redpack(billno: &str, openid: &str, amount: i64) -> Params {
    let mut p = Params::new();
    for (k, v) in [
        ("mch_billno", billno.to_string()),
        ("mch_id", MCH.into()),
        ("wxappid", APP.into()),
        ("send_name", "示例".into()),
        ("re_openid", openid.into()),
        ("total_amount", amount.to_string()),
        ("total_num", "1".into()),
        ("wishing", "恭喜".into()),
        ("client_ip", "127.0.0.1".into()),
        ("act_name", "活动".into()),
        ("remark", "备注".into()),
    ] {
        p.insert(k.into(), v);
    }
    p
}

fn billno(n: u64) -> String {
    format!("{MCH}20261127{n:010}")
}

fn err(p: &Params) -> (&str, &str) {
    (
        p["result_code"].as_str(),
        p.get("err_code").map(String::as_str).unwrap_or(""),
    )
}

#[tokio::test]
async fn red_packet_rules() {
    let sb = spawn().await;
    let ok = sb
        .v2(v2::SENDREDPACK, redpack(&billno(1), "oUser1", 150), KEY)
        .await;
    assert_eq!(err(&ok), ("SUCCESS", "SUCCESS"), "{ok:?}");
    assert!(
        !ok.contains_key("sign"),
        "red-packet answers are unsigned, as upstream"
    );
    let again = sb
        .v2(v2::SENDREDPACK, redpack(&billno(1), "oUser1", 150), KEY)
        .await;
    assert_eq!(
        again["send_listid"], ok["send_listid"],
        "same billno, same parameters: the first result"
    );
    assert_eq!(
        err(&sb
            .v2(v2::SENDREDPACK, redpack(&billno(1), "oUser1", 151), KEY)
            .await),
        ("FAIL", "FATAL_ERROR")
    );
    assert_eq!(
        err(&sb
            .v2(v2::SENDREDPACK, redpack(&billno(2), "oUser1", 99), KEY)
            .await),
        ("FAIL", "MONEY_LIMIT")
    );
    assert_eq!(
        err(&sb
            .v2(v2::SENDREDPACK, redpack(&billno(3), "oUser1", 20_001), KEY)
            .await),
        ("FAIL", "MONEY_LIMIT")
    );
    let mut scene = redpack(&billno(4), "oUser1", 30_000);
    scene.insert("scene_id".into(), "PRODUCT_1".into());
    assert_eq!(
        err(&sb.v2(v2::SENDREDPACK, scene.clone(), KEY).await),
        ("FAIL", "MONEY_LIMIT"),
        "a scene alone does not lift the limit: the merchant's range does"
    );
    sb.put(
        "/sandbox/v1/accounts/wechat-v2/1900000109",
        json!({"apiKey": KEY, "appIds": [APP], "balance": 1000, "sceneMaxAmount": 300}),
    )
    .await;
    assert_eq!(
        err(&sb.v2(v2::SENDREDPACK, scene, KEY).await),
        ("SUCCESS", "SUCCESS"),
        "scene_id with the merchant's raised range"
    );
    assert_eq!(
        err(&sb
            .v2(v2::SENDREDPACK, redpack(&billno(5), "xbad", 150), KEY)
            .await),
        ("FAIL", "OPENID_ERROR")
    );
    assert_eq!(
        err(&sb
            .v2(v2::SENDREDPACK, redpack(&billno(6), "oRISKuser", 150), KEY)
            .await),
        ("FAIL", "NO_AUTH")
    );
    for bad in ["12-3", &"1".repeat(29)] {
        assert_eq!(
            err(&sb
                .v2(v2::SENDREDPACK, redpack(bad, "oUser1", 150), KEY)
                .await),
            ("FAIL", "PARAM_ERROR"),
            "{bad}"
        );
    }
    assert_eq!(
        err(&sb
            .v2(
                v2::SENDREDPACK,
                redpack(&billno(7), "oUser1", 150),
                &"x".repeat(32)
            )
            .await),
        ("FAIL", "SIGN_ERROR")
    );
    let mut missing = redpack(&billno(8), "oUser1", 150);
    missing.remove("wishing");
    let r = sb.v2(v2::SENDREDPACK, missing, KEY).await;
    assert_eq!(err(&r), ("FAIL", "PARAM_ERROR"));
    assert!(r["err_code_des"].contains("wishing"));
    let mut other_app = redpack(&billno(9), "oUser1", 150);
    other_app.insert("wxappid".into(), "wx0000000000000000".into());
    assert_eq!(
        err(&sb.v2(v2::SENDREDPACK, other_app, KEY).await),
        ("FAIL", "PARAM_ERROR")
    );
    // 10 a user a day.
    for i in 0..8 {
        assert_eq!(
            err(&sb
                .v2(
                    v2::SENDREDPACK,
                    redpack(&billno(100 + i), "oUser1", 100),
                    KEY
                )
                .await)
            .0,
            "SUCCESS"
        );
    }
    assert_eq!(
        err(&sb
            .v2(v2::SENDREDPACK, redpack(&billno(200), "oUser1", 100), KEY)
            .await),
        ("FAIL", "SENDNUM_LIMIT")
    );
    // Balance: 1000 yuan = 100000 fen; spent 150 + 30000 + 800 so far.
    assert_eq!(
        err(&sb
            .v2(
                v2::SENDREDPACK,
                redpack(&billno(300), "oUser2", 20_000),
                KEY
            )
            .await)
        .0,
        "SUCCESS"
    );
    for i in 0..2 {
        let _ = sb
            .v2(
                v2::SENDREDPACK,
                redpack(&billno(301 + i), &format!("oRich{i}"), 20_000),
                KEY,
            )
            .await;
    }
    assert_eq!(
        err(&sb
            .v2(
                v2::SENDREDPACK,
                redpack(&billno(310), "oUser3", 20_000),
                KEY
            )
            .await),
        ("FAIL", "NOTENOUGH")
    );
    let effects = sb.effects().await;
    assert_eq!(effects.iter().filter(|e| e["key"] == billno(1)).count(), 1);
}

#[tokio::test]
async fn claim_refund_and_query() {
    let sb = spawn().await;
    let mut q = Params::new();
    q.insert("mch_billno".into(), billno(1));
    q.insert("mch_id".into(), MCH.into());
    q.insert("appid".into(), APP.into());
    q.insert("bill_type".into(), "MCHT".into());
    assert_eq!(
        err(&sb.v2(v2::GETHBINFO, q.clone(), KEY).await),
        ("FAIL", "NOT_FOUND")
    );
    sb.v2(v2::SENDREDPACK, redpack(&billno(1), "oAaa", 100), KEY)
        .await;
    sb.v2(v2::SENDREDPACK, redpack(&billno(2), "oBbb", 100), KEY)
        .await;
    assert_eq!(sb.v2(v2::GETHBINFO, q.clone(), KEY).await["status"], "SENT");
    let (st, _) = sb
        .post_json(
            &format!("/sandbox/v1/redpacks/{}/claim", billno(1)),
            json!({}),
        )
        .await;
    assert_eq!(st, 200);
    let r = sb.v2(v2::GETHBINFO, q.clone(), KEY).await;
    assert_eq!(r["status"], "RECEIVED");
    assert!(!r.contains_key("sign"), "gethbinfo answers are unsigned");
    sb.post_json("/sandbox/v1/clock/advance", json!({"seconds": 86_400}))
        .await;
    q.insert("mch_billno".into(), billno(2));
    let r = sb.v2(v2::GETHBINFO, q.clone(), KEY).await;
    assert_eq!(r["status"], "RFUND_ING", "a refund is first in progress");
    sb.post_json("/sandbox/v1/clock/advance", json!({"seconds": 600}))
        .await;
    let r = sb.v2(v2::GETHBINFO, q, KEY).await;
    assert_eq!(r["status"], "REFUND");
    assert_eq!(r["refund_amount"], "100");
    let (st, _) = sb
        .post_json(
            &format!("/sandbox/v1/redpacks/{}/claim", billno(2)),
            json!({}),
        )
        .await;
    assert_eq!(st, 409, "a refunded red packet cannot be opened");
}

#[tokio::test]
async fn one_billno_in_parallel_pays_once() {
    let sb = Arc::new(spawn().await);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..100 {
        let sb = sb.clone();
        set.spawn(async move {
            sb.v2(v2::SENDREDPACK, redpack(&billno(42), "oPar", 500), KEY)
                .await
        });
    }
    let mut ids = std::collections::HashSet::new();
    while let Some(r) = set.join_next().await {
        let r = r.unwrap();
        assert_eq!(err(&r), ("SUCCESS", "SUCCESS"));
        ids.insert(r["send_listid"].clone());
    }
    assert_eq!(ids.len(), 1);
    assert_eq!(sb.effects().await.len(), 1);
}

#[tokio::test]
async fn per_minute_limit_and_time_limit() {
    let sb = spawn().await;
    sb.put(
        "/sandbox/v1/accounts/wechat-v2/1900000109",
        json!({"apiKey": KEY, "appIds": [APP], "balance": 100000}),
    )
    .await;
    let mut set = tokio::task::JoinSet::new();
    let sb = Arc::new(sb);
    for i in 0..1801u64 {
        let sb = sb.clone();
        set.spawn(async move {
            err(&sb
                .v2(
                    v2::SENDREDPACK,
                    redpack(&billno(i), &format!("oU{i}"), 100),
                    KEY,
                )
                .await)
            .1
            .to_string()
        });
    }
    let mut limited = 0;
    while let Some(r) = set.join_next().await {
        if r.unwrap() == "SECOND_OVER_LIMITED" {
            limited += 1;
        }
    }
    assert_eq!(
        limited, 1,
        "the 1801st red packet within a minute is refused"
    );
    sb.post_json("/sandbox/v1/clock/advance", json!({"seconds": 61}))
        .await;
    assert_eq!(
        err(&sb
            .v2(v2::SENDREDPACK, redpack(&billno(5000), "oLater", 100), KEY)
            .await)
        .1,
        "SUCCESS"
    );
    // TIME_LIMITED: move the sandbox clock to 03:00 in Shanghai.
    let r = sb
        .http
        .put(format!("{}/sandbox/v1/faults", sb.base))
        .json(&json!({"enforceTimeLimit": true}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let now = rewardgate_core::clock::now_ms() + 61_000;
    let shanghai_ms_of_day = (now + 8 * 3_600_000).rem_euclid(86_400_000);
    let to_3am = (3 * 3_600_000 - shanghai_ms_of_day).rem_euclid(86_400_000) / 1000 + 60;
    sb.post_json("/sandbox/v1/clock/advance", json!({"seconds": to_3am}))
        .await;
    assert_eq!(
        err(&sb
            .v2(v2::SENDREDPACK, redpack(&billno(5001), "oNight", 100), KEY)
            .await),
        ("FAIL", "TIME_LIMITED")
    );
}

#[tokio::test]
async fn faults_may_or_may_not_grant() {
    let sb = spawn().await;
    let r = sb
        .http
        .put(format!("{}/sandbox/v1/faults", sb.base))
        .json(&json!({"systemError": 1.0}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let mut granted = 0;
    for i in 0..40 {
        let r = sb
            .v2(
                v2::SENDREDPACK,
                redpack(&billno(i), &format!("oF{i}"), 100),
                KEY,
            )
            .await;
        assert_eq!(err(&r), ("FAIL", "SYSTEMERROR"));
        granted += usize::from(sb.effects().await.iter().any(|e| e["key"] == billno(i)));
    }
    assert!(
        granted > 0 && granted < 40,
        "a SYSTEMERROR sometimes granted ({granted}/40)"
    );
    let r = sb
        .http
        .put(format!("{}/sandbox/v1/faults", sb.base))
        .json(&json!({"systemError": 1.5}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    sb.http
        .put(format!("{}/sandbox/v1/faults", sb.base))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    // A retry with the same billno settles it either way, paying at most once.
    for i in 0..40 {
        let r = sb
            .v2(
                v2::SENDREDPACK,
                redpack(&billno(i), &format!("oF{i}"), 100),
                KEY,
            )
            .await;
        assert_eq!(err(&r).1, "SUCCESS");
    }
    assert_eq!(sb.effects().await.len(), 40);
}

#[tokio::test]
async fn transfers() {
    let sb = spawn().await;
    let t = |no: &str, amount: i64| {
        let mut p = Params::new();
        for (k, v) in [
            ("mch_appid", APP),
            ("mchid", MCH),
            ("partner_trade_no", no),
            ("openid", "oTr"),
            ("check_name", "NO_CHECK"),
            ("desc", "零钱"),
            ("spbill_create_ip", "127.0.0.1"),
        ] {
            p.insert(k.into(), v.into());
        }
        p.insert("amount".into(), amount.to_string());
        p
    };
    let r = sb.v2(v2::TRANSFERS, t("RG1", 30), KEY).await;
    assert_eq!(r["result_code"], "SUCCESS", "{r:?}");
    let again = sb.v2(v2::TRANSFERS, t("RG1", 30), KEY).await;
    assert_eq!(again["payment_no"], r["payment_no"]);
    assert_eq!(
        err(&sb.v2(v2::TRANSFERS, t("RG1", 31), KEY).await),
        ("FAIL", "FATAL_ERROR"),
        "the same partner_trade_no with other parameters"
    );
    assert_eq!(
        err(&sb.v2(v2::TRANSFERS, t("RG2", 29), KEY).await),
        ("FAIL", "AMOUNT_LIMIT")
    );
    assert_eq!(
        err(&sb.v2(v2::TRANSFERS, t("RG3", 50_001), KEY).await),
        ("FAIL", "AMOUNT_LIMIT"),
        "over 500 yuan a payment"
    );
    let mut q = Params::new();
    for (k, v) in [("partner_trade_no", "RG1"), ("mch_id", MCH), ("appid", APP)] {
        q.insert(k.into(), v.into());
    }
    let info = sb.v2(v2::GETTRANSFERINFO, q, KEY).await;
    assert_eq!(
        (info["status"].as_str(), info["payment_amount"].as_str()),
        ("SUCCESS", "30")
    );
    assert_eq!(sb.effects().await.len(), 1);
}

fn v3_account(stock_remaining: i64, max_per_user: i64) -> Value {
    json!({"merchantPublicKeyPem": testdata("merchant_test_public.pem"), "merchantSerialNo": "MSERIAL",
        "platformPrivateKeyPem": testdata("platform_test_private.pem"), "platformSerialNo": "PUB_KEY_ID_1",
        "apiV3Key": "v".repeat(32), "stocks": [{"stockId": "S1", "couponValue": 5, "remaining": stock_remaining, "maxPerUser": max_per_user}]})
}

async fn coupon(
    sb: &Sb,
    key: &RsaPrivateKey,
    serial: &str,
    openid: &str,
    body: Value,
) -> (u16, Value, bool) {
    let path = v3::coupon_path(openid);
    let text = body.to_string();
    let signer = v3::Signer {
        key,
        mchid: MCH,
        serial_no: serial,
    };
    let auth = signer.authorize(
        "POST",
        &path,
        &text,
        rewardgate_core::clock::now_ms() / 1000,
        "N1",
    );
    let r = sb
        .http
        .post(format!("{}{path}", sb.base))
        .header("Authorization", auth)
        .header("Content-Type", "application/json")
        .body(text)
        .send()
        .await
        .unwrap();
    let st = r.status().as_u16();
    let h = |n: &str| {
        r.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let (ts, nonce, sig) = (
        h("Wechatpay-Timestamp"),
        h("Wechatpay-Nonce"),
        h("Wechatpay-Signature"),
    );
    assert_eq!(h("Wechatpay-Serial"), "PUB_KEY_ID_1");
    let body = r.text().await.unwrap();
    let platform = RsaPublicKey::from_pem(&testdata("platform_test_public.pem")).unwrap();
    let verified = v3::verify_response(&platform, &ts, &nonce, &body, &sig);
    (st, serde_json::from_str(&body).unwrap(), verified)
}

#[tokio::test]
async fn wechat_v3_coupons() {
    let sb = spawn().await;
    sb.put(
        "/sandbox/v1/accounts/wechat-v3/1900000109",
        v3_account(2, 1),
    )
    .await;
    let key = RsaPrivateKey::from_pem(&testdata("merchant_test_private.pem")).unwrap();
    let body = |no: &str, stock: &str| json!({"stock_id": stock, "out_request_no": no, "appid": APP, "stock_creator_mchid": MCH});
    let (st, v, ok) = coupon(&sb, &key, "MSERIAL", "oC1", body("R1", "S1")).await;
    assert!(st == 200 && ok, "{st} {v}");
    let id = v["coupon_id"].clone();
    let (_, v, _) = coupon(&sb, &key, "MSERIAL", "oC1", body("R1", "S1")).await;
    assert_eq!(v["coupon_id"], id, "idempotent out_request_no");
    let (st, v, ok) = coupon(&sb, &key, "MSERIAL", "oC1", body("R2", "S1")).await;
    assert_eq!(
        (st, v["code"].as_str(), ok),
        (403, Some("REQUEST_BLOCKED"), true)
    );
    let (st, _, _) = coupon(&sb, &key, "MSERIAL", "oC2", body("R3", "S1")).await;
    assert_eq!(st, 200);
    let (st, v, _) = coupon(&sb, &key, "MSERIAL", "oC3", body("R4", "S1")).await;
    assert_eq!((st, v["code"].as_str()), (403, Some("NOT_ENOUGH")));
    let (st, v, _) = coupon(&sb, &key, "MSERIAL", "oC3", body("R5", "NOPE")).await;
    assert_eq!((st, v["code"].as_str()), (404, Some("RESOURCE_NOT_EXISTS")));
    let (st, v, _) = coupon(&sb, &key, "OTHER", "oC3", body("R6", "S1")).await;
    assert_eq!((st, v["code"].as_str()), (401, Some("SIGN_ERROR")));
    let wrong = RsaPrivateKey::from_pem(&testdata("platform_test_private.pem")).unwrap();
    let (st, _, _) = coupon(&sb, &wrong, "MSERIAL", "oC3", body("R7", "S1")).await;
    assert_eq!(st, 401);
    let (st, v, _) = coupon(&sb, &key, "MSERIAL", "oC3", json!({"stock_id": "S1"})).await;
    assert_eq!((st, v["code"].as_str()), (400, Some("PARAM_ERROR")));
    assert_eq!(sb.effects().await.len(), 2);
}

async fn alipay_call(sb: &Sb, key: &RsaPrivateKey, biz: Value, post: bool) -> Value {
    let mut p = ali::Params::new();
    for (k, v) in [
        ("app_id", "2021000000000009"),
        ("method", ali::VOUCHER_SEND),
        ("charset", "utf-8"),
        ("sign_type", "RSA2"),
        ("timestamp", "2026-11-27 12:00:00"),
        ("version", "1.0"),
    ] {
        p.insert(k.into(), v.into());
    }
    p.insert("biz_content".into(), biz.to_string());
    let s = ali::sign(&p, key);
    p.insert("sign".into(), s);
    let enc: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(p.iter())
        .finish();
    let r = if post {
        sb.http
            .post(format!("{}/gateway.do", sb.base))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(enc)
            .send()
            .await
            .unwrap()
    } else {
        sb.http
            .get(format!("{}/gateway.do?{enc}", sb.base))
            .send()
            .await
            .unwrap()
    };
    let body = r.text().await.unwrap();
    let (node, sign) = ali::split_response(&body, ali::VOUCHER_SEND).unwrap();
    let mut v: Value = serde_json::from_str(node).unwrap();
    let platform = RsaPublicKey::from_pem(&testdata("platform_test_public.pem")).unwrap();
    v["_verified"] = json!(sign.is_some_and(|s| platform.verify_b64(node.as_bytes(), &s)));
    v
}

#[tokio::test]
async fn alipay_vouchers() {
    let sb = spawn().await;
    sb.put("/sandbox/v1/accounts/alipay/2021000000000009", json!({"appPublicKeyPem": testdata("merchant_test_public.pem"),
        "alipayPrivateKeyPem": testdata("platform_test_private.pem"), "activities": [{"activityId": "T123", "amount": 5, "remaining": 2, "maxPerUser": 1}]})).await;
    let key = RsaPrivateKey::from_pem(&testdata("merchant_test_private.pem")).unwrap();
    let biz = |no: &str, user: &str, t: &str| json!({"template_id": t, "login_id": user, "out_biz_no": no});
    let v = alipay_call(&sb, &key, biz("B1", "13211551111", "T123"), false).await;
    assert_eq!(
        (v["code"].as_str(), v["_verified"].as_bool()),
        (Some("10000"), Some(true)),
        "{v}"
    );
    let again = alipay_call(&sb, &key, biz("B1", "13211551111", "T123"), true).await;
    assert_eq!(again["voucher_id"], v["voucher_id"]);
    // Business failures as Alipay sends them: the code inside sub_msg.
    let code = |v: &Value| {
        assert_eq!(
            (v["code"].as_str(), v["sub_code"].as_str()),
            (Some("40004"), Some("unknown-sub-code")),
            "{v}"
        );
        v["sub_msg"].as_str().unwrap().to_string()
    };
    let v = alipay_call(&sb, &key, biz("B2", "13211551111", "T123"), true).await;
    assert_eq!(code(&v), "未知的错误码EXCEED_USER_TAKE_LIMIT");
    assert_eq!(
        alipay_call(&sb, &key, biz("B3", "13211552222", "T123"), false).await["code"],
        "10000"
    );
    let v = alipay_call(&sb, &key, biz("B4", "13211553333", "T123"), false).await;
    assert_eq!(code(&v), "未知的错误码BUDGET_NOT_ENOUGH_ERROR");
    let v = alipay_call(&sb, &key, biz("B5", "13211553333", "NOPE"), false).await;
    assert_eq!(code(&v), "未知的错误码TEMPLATE_NOT_EXIST");
    let v = alipay_call(&sb, &key, biz("B7", "nobody", "T123"), false).await;
    assert_eq!(code(&v), "未知的错误码CIF_USER_NOT_EXIST");
    let wrong = RsaPrivateKey::from_pem(&testdata("platform_test_private.pem")).unwrap();
    let v = alipay_call(&sb, &wrong, biz("B6", "13211553333", "T123"), false).await;
    assert_eq!(
        (
            v["code"].as_str(),
            v["sub_code"].as_str(),
            v["_verified"].as_bool()
        ),
        (Some("40002"), Some("isv.invalid-signature"), Some(false))
    );
    assert_eq!(sb.effects().await.len(), 2);
    // Idempotency is (template_id, out_biz_no): the same out_biz_no under another template is
    // another send.
    sb.put("/sandbox/v1/accounts/alipay/2021000000000009", json!({"appPublicKeyPem": testdata("merchant_test_public.pem"),
        "alipayPrivateKeyPem": testdata("platform_test_private.pem"), "activities": [{"activityId": "T1", "amount": 5, "remaining": 9},
        {"activityId": "T2", "amount": 5, "remaining": 9}]})).await;
    let a = alipay_call(&sb, &key, biz("SAME", "13211554444", "T1"), false).await;
    let b = alipay_call(&sb, &key, biz("SAME", "13211554444", "T2"), false).await;
    assert_eq!(
        (a["code"].as_str(), b["code"].as_str()),
        (Some("10000"), Some("10000"))
    );
    assert_ne!(a["voucher_id"], b["voucher_id"]);
    sb.put("/sandbox/v1/accounts/alipay/2021000000000009", json!({"appPublicKeyPem": testdata("merchant_test_public.pem"),
        "alipayPrivateKeyPem": testdata("platform_test_private.pem"), "insufficientPermissions": true})).await;
    let v = alipay_call(&sb, &key, biz("B8", "13211554444", "T1"), false).await;
    assert_eq!(
        (v["code"].as_str(), v["sub_code"].as_str()),
        (Some("40006"), Some("isv.insufficient-isv-permissions"))
    );
}

#[tokio::test]
async fn client_certificate_over_tls() {
    let sb = spawn().await;
    sb.put(
        "/sandbox/v1/accounts/wechat-v2/1900000109",
        json!({"apiKey": KEY, "appIds": [APP], "balance": 100, "certPem": testdata("wx_cert.pem")}),
    )
    .await;
    let ca = reqwest::Certificate::from_pem(rewardgate_sandbox::tls::SERVER_CERT_PEM.as_bytes())
        .unwrap();
    let identity = reqwest::Identity::from_pem(
        format!("{}{}", testdata("wx_cert.pem"), testdata("wx_key.pem")).as_bytes(),
    )
    .unwrap();
    let with_cert = reqwest::Client::builder()
        .add_root_certificate(ca.clone())
        .identity(identity)
        .build()
        .unwrap();
    let without = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let mut p = redpack(&billno(1), "oTls", 100);
    p.insert("nonce_str".into(), "n".into());
    let s = v2::sign(&p, KEY, SignType::Md5);
    p.insert("sign".into(), s);
    let body = xml::write(&p);
    let send = |c: reqwest::Client, url: String, body: String| async move {
        xml::parse(
            &c.post(url)
                .body(body)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        )
        .unwrap()
    };
    let r = send(
        without,
        format!("{}{}", sb.tls_base, v2::SENDREDPACK),
        body.clone(),
    )
    .await;
    assert_eq!(err(&r), ("FAIL", "CA_ERROR"));
    let r = send(
        sb.http.clone(),
        format!("{}{}", sb.base, v2::SENDREDPACK),
        body.clone(),
    )
    .await;
    assert_eq!(
        err(&r),
        ("FAIL", "CA_ERROR"),
        "plain HTTP carries no certificate"
    );
    let r = send(
        with_cert,
        format!("{}{}", sb.tls_base, v2::SENDREDPACK),
        body,
    )
    .await;
    assert_eq!(err(&r), ("SUCCESS", "SUCCESS"), "{r:?}");
}

#[tokio::test]
async fn wechat_v3_frequency_limit() {
    let sb = spawn().await;
    let mut acct = v3_account(100, 100);
    acct["maxPerSecond"] = json!(3);
    sb.put("/sandbox/v1/accounts/wechat-v3/1900000109", acct)
        .await;
    let key = RsaPrivateKey::from_pem(&testdata("merchant_test_private.pem")).unwrap();
    let mut codes = Vec::new();
    for i in 0..5 {
        let body = json!({"stock_id": "S1", "out_request_no": format!("F{i}"), "appid": APP, "stock_creator_mchid": MCH});
        let (st, v, verified) = coupon(&sb, &key, "MSERIAL", &format!("oF{i}"), body).await;
        assert!(verified);
        codes.push((st, v["code"].as_str().unwrap_or("").to_string()));
    }
    assert_eq!(
        codes.iter().filter(|(s, _)| *s == 200).count(),
        3,
        "{codes:?}"
    );
    assert!(
        codes
            .iter()
            .any(|(s, c)| *s == 429 && c == "FREQUENCY_LIMIT_EXCEED"),
        "{codes:?}"
    );
}

/// The shapes and rules WeChat Pay v2's red-packet and transfer endpoints really have: unsigned
/// answers (signAnswers to sign them), SYSTEMERROR behind return_code=FAIL (and every failure,
/// with v2ReturnCodeFail), MD5 without sign_type, any 28-character alphanumeric billno, byte
/// widths, scene rules, daily caps, PROCESSING, and every query state through the knobs.
#[tokio::test]
async fn v2_real_shapes_and_states() {
    let sb = spawn().await;
    sb.put(
        "/sandbox/v1/accounts/wechat-v2/1900000109",
        json!({"apiKey": KEY, "appIds": [APP], "balance": 100000, "dailyAmountLimit": 50,
        "userDailyAmountLimit": 20, "sceneMinAmount": 0.3}),
    )
    .await;
    // Any billno of 0-9a-zA-Z up to 28 characters (what wechatpy and WxJava make, too).
    let r = sb
        .v2(v2::SENDREDPACK, redpack("RGabc123", "oUser1", 100), KEY)
        .await;
    assert_eq!(err(&r), ("SUCCESS", "SUCCESS"), "{r:?}");
    assert!(!r.contains_key("sign"));
    // MD5 without sign_type: a sign_type in the signed set, or an HMAC signature, is SIGN_ERROR;
    // a sign_type sent but not signed is ignored.
    let mut p = redpack("RGst1", "oUser1", 100);
    p.insert("sign_type".into(), "MD5".into());
    assert_eq!(
        err(&sb.v2(v2::SENDREDPACK, p, KEY).await),
        ("FAIL", "SIGN_ERROR")
    );
    let mut p = redpack("RGst2", "oUser1", 100);
    p.insert("nonce_str".into(), "N".into());
    p.insert("sign".into(), v2::sign(&p, KEY, SignType::HmacSha256));
    p.insert("sign_type".into(), "HMAC-SHA256".into());
    let text = sb
        .http
        .post(format!("{}{}", sb.base, v2::SENDREDPACK))
        .body(xml::write(&p))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(err(&xml::parse(&text).unwrap()), ("FAIL", "SIGN_ERROR"));
    // Widths in UTF-8 bytes: 10 Chinese characters (30 bytes) pass, 11 (33) do not.
    let mut p = redpack("RGw1", "oUser2", 100);
    p.insert("act_name".into(), "一二三四五六七八九十".into());
    assert_eq!(err(&sb.v2(v2::SENDREDPACK, p, KEY).await).1, "SUCCESS");
    let mut p = redpack("RGw2", "oUser2", 100);
    p.insert("act_name".into(), "一二三四五六七八九十一".into());
    let r = sb.v2(v2::SENDREDPACK, p, KEY).await;
    assert_eq!(err(&r), ("FAIL", "PARAM_ERROR"));
    assert!(r["err_code_des"].contains("act_name"), "{r:?}");
    // Under 1 yuan needs a scene; a scene must be PRODUCT_1..8.
    assert_eq!(
        err(&sb
            .v2(v2::SENDREDPACK, redpack("RGs1", "oUser3", 50), KEY)
            .await),
        ("FAIL", "MONEY_LIMIT")
    );
    let mut p = redpack("RGs2", "oUser3", 50);
    p.insert("scene_id".into(), "PRODUCT_3".into());
    assert_eq!(err(&sb.v2(v2::SENDREDPACK, p, KEY).await).1, "SUCCESS");
    let mut p = redpack("RGs3", "oUser3", 50);
    p.insert("scene_id".into(), "PRODUCT_9".into());
    assert_eq!(
        err(&sb.v2(v2::SENDREDPACK, p, KEY).await),
        ("FAIL", "PARAM_ERROR")
    );
    // Daily caps: the user's amount (20 yuan), the merchant's amount (50 yuan).
    assert_eq!(
        err(&sb
            .v2(v2::SENDREDPACK, redpack("RGd1", "oUser4", 1900), KEY)
            .await)
        .1,
        "SUCCESS"
    );
    assert_eq!(
        err(&sb
            .v2(v2::SENDREDPACK, redpack("RGd2", "oUser4", 200), KEY)
            .await),
        ("FAIL", "RCVDAMOUNT_LIMIT")
    );
    for (i, u) in ["oUser5", "oUser6"].iter().enumerate() {
        assert_eq!(
            err(&sb
                .v2(v2::SENDREDPACK, redpack(&format!("RGm{i}"), u, 1000), KEY)
                .await)
            .1,
            "SUCCESS"
        );
    }
    assert_eq!(
        err(&sb
            .v2(v2::SENDREDPACK, redpack("RGm9", "oUser7", 1000), KEY)
            .await),
        ("FAIL", "SENDAMOUNT_LIMIT")
    );
    // SYSTEMERROR comes behind return_code=FAIL, as in seed 002's failure example; with
    // v2ReturnCodeFail so does every business failure; signAnswers signs them.
    sb.put(
        "/sandbox/v1/accounts/wechat-v2/1900000109",
        json!({"apiKey": KEY, "appIds": [APP], "balance": 100000, "signAnswers": true}),
    )
    .await;
    sb.put("/sandbox/v1/faults", json!({"systemError": 1.0}))
        .await;
    let r = sb
        .v2(v2::SENDREDPACK, redpack("RGf1", "oUser8", 100), KEY)
        .await;
    assert_eq!(
        (r["return_code"].as_str(), err(&r)),
        ("FAIL", ("FAIL", "SYSTEMERROR"))
    );
    assert!(v2::verify(&r, KEY, SignType::Md5), "signAnswers signs");
    sb.put("/sandbox/v1/faults", json!({"v2ReturnCodeFail": true}))
        .await;
    let r = sb
        .v2(v2::SENDREDPACK, redpack("RGf2", "oUser8", 99), KEY)
        .await;
    assert_eq!(
        (r["return_code"].as_str(), err(&r)),
        ("FAIL", ("FAIL", "MONEY_LIMIT"))
    );
    // PROCESSING: accepted, SENDING until processingSeconds pass, then SENT.
    sb.put(
        "/sandbox/v1/faults",
        json!({"processing": 1.0, "processingSeconds": 120}),
    )
    .await;
    let r = sb
        .v2(v2::SENDREDPACK, redpack("RGp1", "oUser9", 100), KEY)
        .await;
    assert_eq!(err(&r), ("FAIL", "PROCESSING"));
    let q = |b: &str| {
        let mut q = Params::new();
        for (k, v) in [
            ("mch_billno", b),
            ("mch_id", MCH),
            ("appid", APP),
            ("bill_type", "MCHT"),
        ] {
            q.insert(k.into(), v.into());
        }
        q
    };
    assert_eq!(
        sb.v2(v2::GETHBINFO, q("RGp1"), KEY).await["status"],
        "SENDING"
    );
    sb.put("/sandbox/v1/faults", json!({})).await;
    assert_eq!(
        err(&sb
            .v2(v2::SENDREDPACK, redpack("RGp1", "oUser9", 100), KEY)
            .await)
        .1,
        "PROCESSING",
        "a resend while it is still sending"
    );
    sb.post_json("/sandbox/v1/clock/advance", json!({"seconds": 121}))
        .await;
    assert_eq!(sb.v2(v2::GETHBINFO, q("RGp1"), KEY).await["status"], "SENT");
    // Every gethbinfo state on demand; a FAILED red packet was never a payout.
    for s in [
        "SENDING",
        "SENT",
        "RECEIVED",
        "RFUND_ING",
        "REFUND",
        "FAILED",
    ] {
        let (st, _) = sb
            .post_json("/sandbox/v1/redpacks/RGabc123/state", json!({"status": s}))
            .await;
        assert_eq!(st, 200);
        assert_eq!(sb.v2(v2::GETHBINFO, q("RGabc123"), KEY).await["status"], s);
    }
    assert!(!sb.effects().await.iter().any(|e| e["key"] == "RGabc123"));
    let (st, _) = sb
        .post_json(
            "/sandbox/v1/redpacks/RGabc123/state",
            json!({"status": "LOST"}),
        )
        .await;
    assert_eq!(st, 400);
    // Transfers: PROCESSING and FAILED through the knob.
    let mut t = Params::new();
    for (k, v) in [
        ("mch_appid", APP),
        ("mchid", MCH),
        ("partner_trade_no", "RGT1"),
        ("openid", "oTr"),
        ("check_name", "NO_CHECK"),
        ("amount", "100"),
        ("desc", "零钱"),
    ] {
        t.insert(k.into(), v.into());
    }
    assert_eq!(err(&sb.v2(v2::TRANSFERS, t, KEY).await).0, "SUCCESS");
    let mut tq = Params::new();
    for (k, v) in [
        ("partner_trade_no", "RGT1"),
        ("mch_id", MCH),
        ("appid", APP),
    ] {
        tq.insert(k.into(), v.into());
    }
    for s in ["PROCESSING", "FAILED", "SUCCESS"] {
        sb.post_json("/sandbox/v1/transfers/RGT1/state", json!({"status": s}))
            .await;
        let r = sb.v2(v2::GETTRANSFERINFO, tq.clone(), KEY).await;
        assert_eq!(r["status"], s, "{r:?}");
    }
}
