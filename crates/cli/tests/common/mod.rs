//! Helpers for whole-process tests: the real `rewardgate` binary as `sandbox` and `serve`s, a
//! catalogue set up through the admin API, signed orders, and the checks every run ends with.
#![allow(dead_code)]

use md5::{Digest, Md5};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_rewardgate");
pub const TOKEN: &str = "process-test-token";
pub const MD5_KEY: &str = "192006250b4c09247ec02edce69f6a2d";

pub use rewardgate_testkit::testdata;

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn wait_up(http: &reqwest::blocking::Client, url: &str) {
    for _ in 0..200 {
        if http.get(url).send().is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{url} did not come up");
}

pub struct Env {
    pub http: reqwest::blocking::Client,
    pub sandbox: String,
    pub ca_file: tempfile::NamedTempFile,
    _sandbox: Proc,
}

pub fn start_sandbox() -> Env {
    let (p, t) = (free_port(), free_port());
    let child = Command::new(BIN)
        .args([
            "sandbox",
            "--listen",
            &format!("127.0.0.1:{p}"),
            "--tls-listen",
            &format!("127.0.0.1:{t}"),
        ])
        .env("RG_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let sandbox = format!("http://127.0.0.1:{p}");
    wait_up(&http, &format!("{sandbox}/healthz"));
    let ca_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        ca_file.path(),
        include_str!("../../../sandbox/certs/sandbox_cert.pem"),
    )
    .unwrap();
    let put = |path: &str, body: Value| {
        let r = http
            .put(format!("{sandbox}{path}"))
            .json(&body)
            .send()
            .unwrap();
        assert!(r.status().is_success());
    };
    put(
        "/sandbox/v1/accounts/wechat-v2/1900000109",
        json!({"apiKey": "k".repeat(32), "appIds": ["wx8888888888888888"], "balance": 100000}),
    );
    put(
        "/sandbox/v1/accounts/wechat-v3/1900000109",
        json!({"merchantPublicKeyPem": testdata("merchant_test_public.pem"),
        "merchantSerialNo": "SERIAL1", "platformPrivateKeyPem": testdata("platform_test_private.pem"), "platformSerialNo": "PUB_KEY_ID_1",
        "apiV3Key": "v".repeat(32), "stocks": [{"stockId": "123456", "couponValue": 5, "remaining": 100000, "maxPerUser": 100000}]}),
    );
    put(
        "/sandbox/v1/accounts/alipay/2021000000000009",
        json!({"appPublicKeyPem": testdata("merchant_test_public.pem"),
        "alipayPrivateKeyPem": testdata("platform_test_private.pem"), "activities": [{"activityId": "T123", "amount": 5, "remaining": 100000, "maxPerUser": 100000}]}),
    );
    Env {
        http,
        sandbox,
        ca_file,
        _sandbox: Proc(child),
    }
}

pub fn serve(env: &Env, db: &str, port: u16) -> Proc {
    serve_with(env, db, port, &[])
}

/// A `serve` with more environment (`RG_…`) on top of the defaults used here.
pub fn serve_with(env: &Env, db: &str, port: u16, more: &[(&str, &str)]) -> Proc {
    let mut cmd = Command::new(BIN);
    cmd.arg("serve")
        .env("RG_LISTEN", format!("127.0.0.1:{port}"))
        .env("RG_DATABASE_URL", db)
        .env("RG_ADMIN_TOKEN", TOKEN)
        .env("RG_EXTRA_CA_FILE", env.ca_file.path())
        .env("RG_LEASE_SECS", "3")
        .env("RG_FOLLOW_INTERVAL_SECS", "3600")
        .env("RG_LOG", "warn")
        .stdout(Stdio::null());
    for (k, v) in more {
        cmd.env(k, v);
    }
    let child = cmd.spawn().unwrap();
    wait_up(&env.http, &format!("http://127.0.0.1:{port}/healthz"));
    Proc(child)
}

pub fn admin(env: &Env, base: &str, method: reqwest::Method, path: &str, body: Value) -> Value {
    let v: Value = env
        .http
        .request(method, format!("{base}/admin/v1{path}"))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(v["status"], 200, "{path}: {v}");
    v["data"].clone()
}

pub fn setup(env: &Env, base: &str) {
    use reqwest::Method;
    let pk = testdata("merchant_test_private.pem");
    let pubk = testdata("platform_test_public.pem");
    admin(
        env,
        base,
        Method::PUT,
        "/channel-accounts/wx2",
        json!({"kind": "WECHAT_V2", "mchId": "1900000109", "appId": "wx8888888888888888", "apiKey": "k".repeat(32), "baseUrl": env.sandbox}),
    );
    admin(
        env,
        base,
        Method::PUT,
        "/channel-accounts/wx3",
        json!({"kind": "WECHAT_V3", "mchId": "1900000109", "appId": "wx8888888888888888", "privateKeyPem": pk, "certSerialNo": "SERIAL1", "apiV3Key": "v".repeat(32), "platformPublicKeyPem": pubk, "platformSerialNo": "PUB_KEY_ID_1", "baseUrl": env.sandbox}),
    );
    admin(
        env,
        base,
        Method::PUT,
        "/channel-accounts/ali",
        json!({"kind": "ALIPAY", "appId": "2021000000000009", "privateKeyPem": pk, "alipayPublicKeyPem": pubk, "baseUrl": env.sandbox}),
    );
    admin(
        env,
        base,
        Method::PUT,
        "/templates/T1",
        json!({"channelAccountId": "wx2", "sendName": "s", "wishing": "w", "actName": "a", "remark": "r"}),
    );
    admin(
        env,
        base,
        Method::PUT,
        "/products/PWX",
        json!({"kind": "WECHAT_COUPON", "name": "c", "price": 4.5}),
    );
    admin(
        env,
        base,
        Method::PUT,
        "/products/PALI",
        json!({"kind": "ALIPAY_COUPON", "name": "c", "price": 4.6}),
    );
    admin(
        env,
        base,
        Method::PUT,
        "/products/PTR",
        json!({"kind": "WECHAT_TRANSFER", "name": "t", "feeRateBp": 60, "channelAccountId": "wx2"}),
    );
    admin(
        env,
        base,
        Method::PUT,
        "/activities/AWX",
        json!({"productCode": "PWX", "channelAccountId": "wx3", "upstreamId": "123456"}),
    );
    admin(
        env,
        base,
        Method::PUT,
        "/activities/AALI",
        json!({"productCode": "PALI", "channelAccountId": "ali", "upstreamId": "T123"}),
    );
    admin(
        env,
        base,
        Method::PUT,
        "/merchants/M1",
        json!({"name": "m"}),
    );
    admin(
        env,
        base,
        Method::PUT,
        "/businesses/B1",
        json!({"merchantId": "M1", "name": "b", "md5Key": MD5_KEY}),
    );
    admin(
        env,
        base,
        Method::POST,
        "/businesses/B1/topups",
        json!({"amount": 1000000, "reference": "t"}),
    );
}

/// An order's path and body: red packet, WeChat coupon, Alipay coupon or transfer by `kind % 4`
/// (`kind % 3` keeps to the first three).
pub fn order_body(kind: usize, i: usize) -> (&'static str, Value) {
    match kind % 4 {
        0 => (
            "/v1/openapi/order/redPacket",
            json!({"merchantId": "M1", "businessId": "B1", "templateId": "T1", "openId": format!("oU{i}"), "spec": 1, "bizCode": format!("o{i}")}),
        ),
        1 => (
            "/v1/openapi/order/wechat/coupons",
            json!({"merchantId": "M1", "businessId": "B1", "productCode": "PWX", "activityId": "AWX", "openId": format!("oU{i}"), "bizCode": format!("o{i}")}),
        ),
        2 => (
            "/v1/openapi/order/alipay/coupons",
            json!({"merchantId": "M1", "businessId": "B1", "productCode": "PALI", "activityId": "AALI", "mobile": format!("132{i:08}"), "bizCode": format!("o{i}")}),
        ),
        _ => (
            "/v1/openapi/order/wechat/transfer",
            json!({"merchantId": "M1", "businessId": "B1", "productCode": "PTR", "openId": format!("oU{i}"), "spec": 1, "bizCode": format!("o{i}")}),
        ),
    }
}

/// SPEC §3 MD5 headers for `text` with `nonce`.
pub fn signed(nonce: &str, text: &str) -> Vec<(&'static str, String)> {
    let ts = rewardgate_core::clock::now_ms().to_string();
    let s = format!("businessId=B1&nonce={nonce}&signType=MD5&timestamp={ts}{text}{MD5_KEY}");
    vec![
        ("Content-Type", "application/json".to_string()),
        ("businessId", "B1".to_string()),
        ("nonce", nonce.to_string()),
        ("timestamp", ts),
        ("signType", "MD5".to_string()),
        ("sign", hex::encode_upper(Md5::digest(s.as_bytes()))),
    ]
}

/// Posts a signed body; the answer, or the transport error.
pub fn post_signed(
    http: &reqwest::blocking::Client,
    url: &str,
    nonce: &str,
    body: &Value,
) -> Result<Value, String> {
    let text = body.to_string();
    let mut rb = http.post(url);
    for (k, v) in signed(nonce, &text) {
        rb = rb.header(k, v);
    }
    rb.body(text)
        .send()
        .and_then(|r| r.json())
        .map_err(|e| e.to_string())
}

/// Signs and places one order; its orderCode.
pub fn place(env: &Env, base: &str, kind: usize, i: usize) -> String {
    let (path, body) = order_body(kind % 3, i);
    let nonce = format!("n{i}x{}", std::process::id());
    let v = post_signed(&env.http, &format!("{base}{path}"), &nonce, &body).unwrap();
    assert_eq!(v["status"], 200, "{v}");
    v["data"]["orderCode"].as_str().unwrap().to_string()
}

pub fn wait_all_success(env: &Env, base: &str, n: usize, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let v: Value = env
            .http
            .get(format!("{base}/admin/v1/orders?status=SUCCESS&limit=1000"))
            .bearer_auth(TOKEN)
            .send()
            .unwrap()
            .json()
            .unwrap();
        let done = v["data"]["items"].as_array().map(Vec::len).unwrap_or(0);
        if done >= n {
            return;
        }
        let jobs: Value = env
            .http
            .get(format!("{base}/admin/v1/jobs"))
            .bearer_auth(TOKEN)
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert!(
            Instant::now() < deadline,
            "{done}/{n} delivered; jobs {}",
            jobs["data"]
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

pub fn assert_exactly_once(env: &Env, n: usize) {
    let effects: Vec<Value> = env
        .http
        .get(format!("{}/sandbox/v1/effects", env.sandbox))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let mut per_key: HashMap<String, usize> = HashMap::new();
    for e in &effects {
        *per_key
            .entry(e["key"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(per_key.len(), n, "one grant per order");
    assert!(
        per_key.values().all(|c| *c == 1),
        "a key granted twice: {:?}",
        per_key.iter().filter(|(_, c)| **c > 1).collect::<Vec<_>>()
    );
}

pub fn ledger_balanced(env: &Env, base: &str) {
    let v: Value = env
        .http
        .get(format!("{base}/admin/v1/ledger"))
        .bearer_auth(TOKEN)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(v["data"]["balanced"], true, "{v}");
}

/// A fresh PostgreSQL database for one test, dropped at the end.
pub struct PgDb(rewardgate_testkit::TestDb);

impl PgDb {
    pub fn new(_tag: &str) -> PgDb {
        PgDb(rewardgate_testkit::TestDb::new(
            rewardgate_testkit::Backend::Postgres,
        ))
    }
    pub fn url(&self) -> String {
        self.0.url.clone()
    }
}
