//! Whole processes: the real `rewardgate` binary as `sandbox` and as one or two `serve`s, killed
//! with SIGKILL mid-run and restarted. Nothing may be lost and no key granted twice.

use md5::{Digest, Md5};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rewardgate");
const TOKEN: &str = "process-test-token";
const MD5_KEY: &str = "192006250b4c09247ec02edce69f6a2d";

fn testdata(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../../../shared/testdata/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_up(http: &reqwest::blocking::Client, url: &str) {
    for _ in 0..200 {
        if http.get(url).send().is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{url} did not come up");
}

struct Env {
    http: reqwest::blocking::Client,
    sandbox: String,
    ca_file: tempfile::NamedTempFile,
    _sandbox: Proc,
}

fn start_sandbox() -> Env {
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
        include_str!("../../sandbox/certs/sandbox_cert.pem"),
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

fn serve(env: &Env, db: &str, port: u16) -> Proc {
    let child = Command::new(BIN)
        .arg("serve")
        .env("RG_LISTEN", format!("127.0.0.1:{port}"))
        .env("RG_DATABASE_URL", db)
        .env("RG_ADMIN_TOKEN", TOKEN)
        .env("RG_EXTRA_CA_FILE", env.ca_file.path())
        .env("RG_LEASE_SECS", "3")
        .env("RG_FOLLOW_INTERVAL_SECS", "3600")
        .env("RG_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    wait_up(&env.http, &format!("http://127.0.0.1:{port}/healthz"));
    Proc(child)
}

fn admin(env: &Env, base: &str, method: reqwest::Method, path: &str, body: Value) -> Value {
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

fn setup(env: &Env, base: &str) {
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

/// Signs and places one order; its orderCode.
fn place(env: &Env, base: &str, kind: usize, i: usize) -> String {
    let (path, body) = match kind % 3 {
        0 => (
            "/v1/openapi/order/redPacket",
            json!({"merchantId": "M1", "businessId": "B1", "templateId": "T1", "openId": format!("oU{i}"), "spec": 1, "bizCode": format!("o{i}")}),
        ),
        1 => (
            "/v1/openapi/order/wechat/coupons",
            json!({"merchantId": "M1", "businessId": "B1", "productCode": "PWX", "activityId": "AWX", "openId": format!("oU{i}"), "bizCode": format!("o{i}")}),
        ),
        _ => (
            "/v1/openapi/order/alipay/coupons",
            json!({"merchantId": "M1", "businessId": "B1", "productCode": "PALI", "activityId": "AALI", "mobile": format!("132{i:08}"), "bizCode": format!("o{i}")}),
        ),
    };
    let text = body.to_string();
    let (nonce, ts) = (
        format!("n{i}x{}", std::process::id()),
        rewardgate_core::clock::now_ms().to_string(),
    );
    let s = format!("businessId=B1&nonce={nonce}&signType=MD5&timestamp={ts}{text}{MD5_KEY}");
    let sign = hex::encode_upper(Md5::digest(s.as_bytes()));
    let v: Value = env
        .http
        .post(format!("{base}{path}"))
        .header("Content-Type", "application/json")
        .header("businessId", "B1")
        .header("nonce", nonce)
        .header("timestamp", ts)
        .header("signType", "MD5")
        .header("sign", sign)
        .body(text)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(v["status"], 200, "{v}");
    v["data"]["orderCode"].as_str().unwrap().to_string()
}

fn wait_all_success(env: &Env, base: &str, n: usize, within: Duration) {
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

fn assert_exactly_once(env: &Env, n: usize) {
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

fn ledger_balanced(env: &Env, base: &str) {
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
struct PgDb {
    base: String,
    name: String,
}

impl PgDb {
    fn new(tag: &str) -> PgDb {
        let base = std::env::var("RG_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let name = format!("rg_proc_{tag}_{}", std::process::id());
        let (b, n) = (base.clone(), name.clone());
        std::thread::spawn(move || {
            let mut c =
                postgres::Client::connect(&b, postgres::NoTls).expect("PostgreSQL is required");
            c.batch_execute(&format!("DROP DATABASE IF EXISTS {n} WITH (FORCE)"))
                .unwrap();
            c.batch_execute(&format!("CREATE DATABASE {n}")).unwrap();
        })
        .join()
        .unwrap();
        PgDb { base, name }
    }
    fn url(&self) -> String {
        format!(
            "{}/{}",
            &self.base[..self.base.rfind('/').unwrap()],
            self.name
        )
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let (b, n) = (self.base.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            if let Ok(mut c) = postgres::Client::connect(&b, postgres::NoTls) {
                let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {n} WITH (FORCE)"));
            }
        })
        .join();
    }
}

#[test]
fn sigkill_mid_run_loses_nothing_and_pays_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    sigkill_mid_run(&format!("sqlite://{}/rg.db", dir.path().display()));
}

#[test]
fn sigkill_mid_run_on_postgres() {
    let pg = PgDb::new("kill");
    sigkill_mid_run(&pg.url());
}

fn sigkill_mid_run(db: &str) {
    let env = start_sandbox();
    env.http
        .put(format!("{}/sandbox/v1/faults", env.sandbox))
        .json(&json!({"systemError": 0.2}))
        .send()
        .unwrap();
    let db = db.to_string();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut first = serve(&env, &db, port);
    setup(&env, &base);
    let n = 300;
    for i in 0..n {
        place(&env, &base, i, i);
    }
    std::thread::sleep(Duration::from_millis(700));
    // SIGKILL: no shutdown, no flush, leases left held.
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    let _second = serve(&env, &db, port);
    wait_all_success(&env, &base, n, Duration::from_secs(120));
    assert_exactly_once(&env, n);
    ledger_balanced(&env, &base);
}

#[test]
fn two_serves_on_one_postgres_deliver_1000_orders_once() {
    let env = start_sandbox();
    let base_url = std::env::var("RG_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let name = format!("rg_proc_{}", std::process::id());
    let b2 = base_url.clone();
    let n2 = name.clone();
    std::thread::spawn(move || {
        let mut c =
            postgres::Client::connect(&b2, postgres::NoTls).expect("PostgreSQL is required");
        c.batch_execute(&format!("DROP DATABASE IF EXISTS {n2} WITH (FORCE)"))
            .unwrap();
        c.batch_execute(&format!("CREATE DATABASE {n2}")).unwrap();
    })
    .join()
    .unwrap();
    let db = format!("{}/{name}", &base_url[..base_url.rfind('/').unwrap()]);
    env.http
        .put(format!("{}/sandbox/v1/faults", env.sandbox))
        .json(&json!({"systemError": 0.1}))
        .send()
        .unwrap();
    let (pa, pb) = (free_port(), free_port());
    let (a, b) = (
        format!("http://127.0.0.1:{pa}"),
        format!("http://127.0.0.1:{pb}"),
    );
    let sa = serve(&env, &db, pa);
    let sb = serve(&env, &db, pb);
    setup(&env, &a);
    let n = 1000;
    for i in 0..n {
        // Coupons (no per-minute limit) so the run stays short; orders go in through both.
        let base = if i % 2 == 0 { &a } else { &b };
        place(&env, base, 1 + i % 2, i);
    }
    wait_all_success(&env, &a, n, Duration::from_secs(120));
    assert_exactly_once(&env, n);
    ledger_balanced(&env, &b);
    // Both processes did part of the work.
    let v: Value = env
        .http
        .get(format!("{a}/admin/v1/orders?limit=1000"))
        .bearer_auth(TOKEN)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let codes: Vec<String> = v["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["orderCode"].as_str().unwrap().to_string())
        .collect();
    let mut workers = std::collections::HashSet::new();
    for c in codes.iter().step_by(10) {
        let o: Value = env
            .http
            .get(format!("{a}/admin/v1/orders/{c}"))
            .bearer_auth(TOKEN)
            .send()
            .unwrap()
            .json()
            .unwrap();
        for at in o["data"]["attempts"].as_array().unwrap() {
            workers.insert(
                at["worker"]
                    .as_str()
                    .unwrap()
                    .split('-')
                    .next()
                    .unwrap()
                    .to_string(),
            );
        }
    }
    assert_eq!(workers.len(), 2, "both processes delivered: {workers:?}");
    // Stop both serves before their database goes.
    drop((sa, sb));
    let bu = base_url.clone();
    std::thread::spawn(move || {
        if let Ok(mut c) = postgres::Client::connect(&bu, postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    })
    .join()
    .unwrap();
}
