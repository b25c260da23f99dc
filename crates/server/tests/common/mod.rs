//! The test harness: the real `serve` on port 0 over a fresh SQLite file or a fresh PostgreSQL
//! database, a signer written from SPEC §3 independently of the code under test, and helpers to
//! set up a catalogue through the admin API.
#![allow(dead_code)]

pub mod console;
pub mod delivery;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use md5::{Digest, Md5};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio_util::sync::CancellationToken;

pub const TOKEN: &str = "test-admin-token";
pub const MD5_KEY: &str = "192006250b4c09247ec02edce69f6a2d";

pub use rewardgate_testkit::{Backend, TestDb, testdata};

pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub http: reqwest::Client,
    pub shutdown: CancellationToken,
    pub handle: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// The intake alone: no dispatcher, so orders stay as accepted.
pub async fn spawn_app(db_url: &str) -> TestApp {
    let d = rewardgate_server::dispatcher::DispatcherConfig {
        enabled: false,
        ..Default::default()
    };
    spawn_with(db_url, d).await
}

pub async fn spawn_with(
    db_url: &str,
    dispatcher: rewardgate_server::dispatcher::DispatcherConfig,
) -> TestApp {
    let notifier = rewardgate_server::notifier::NotifierConfig {
        enabled: false,
        ..Default::default()
    };
    spawn_full(db_url, dispatcher, notifier).await
}

pub async fn spawn_full(
    db_url: &str,
    dispatcher: rewardgate_server::dispatcher::DispatcherConfig,
    notifier: rewardgate_server::notifier::NotifierConfig,
) -> TestApp {
    spawn_with_token(db_url, TOKEN, dispatcher, notifier).await
}

/// As `spawn_full`, with another admin token.
pub async fn spawn_with_token(
    db_url: &str,
    token: &str,
    dispatcher: rewardgate_server::dispatcher::DispatcherConfig,
    notifier: rewardgate_server::notifier::NotifierConfig,
) -> TestApp {
    // The server's warnings and errors, shown with a failing test's output (RG_LOG to change).
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RG_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut dispatcher = dispatcher;
    // WeChat's 商家转账 notifications come back to this server.
    dispatcher
        .public_url
        .get_or_insert_with(|| format!("http://{addr}"));
    let cfg = rewardgate_server::Config {
        listen: addr.to_string(),
        database_url: db_url.to_string(),
        admin_token: Some(rewardgate_core::secret::Secret::new(token)),
        allow_private_callbacks: false,
        platform_key_file: None,
        dispatcher,
        notifier,
    };
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn(rewardgate_server::run(cfg, listener, shutdown.clone()));
    let app = TestApp {
        addr,
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
        shutdown,
        handle,
    };
    for _ in 0..200 {
        if app
            .http
            .get(format!("{}/healthz", app.base))
            .send()
            .await
            .is_ok()
        {
            return app;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("server did not start");
}

impl TestApp {
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.handle.await.unwrap().unwrap();
    }

    pub async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut rb = self
            .http
            .request(m, format!("{}/admin/v1{path}", self.base))
            .bearer_auth(TOKEN);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.unwrap();
        let st = r.status().as_u16();
        (st, r.json().await.unwrap_or(Value::Null))
    }

    /// An admin call that must succeed.
    pub async fn put(&self, path: &str, body: Value) -> Value {
        let (st, v) = self.admin("PUT", path, Some(body)).await;
        assert_eq!((st, &v["status"]), (200, &json!(200)), "PUT {path}: {v}");
        v["data"].clone()
    }

    pub async fn topup(&self, business: &str, yuan: Value, reference: &str) -> Value {
        let (st, v) = self
            .admin(
                "POST",
                &format!("/businesses/{business}/topups"),
                Some(json!({"amount": yuan, "reference": reference})),
            )
            .await;
        assert_eq!(st, 200);
        v
    }

    /// The business's balance answer (merchant M1, signed with MD5).
    pub async fn balance(&self, business: &str) -> Value {
        self.call(
            "/v1/openapi/merchant/business/balance",
            &json!({"merchantId": "M1", "businessId": business}),
            &Sign::md5(business),
        )
        .await
    }

    /// Posts a raw body with the given headers; the HTTP status and the JSON answer.
    pub async fn raw(&self, path: &str, headers: &[(&str, String)], body: Vec<u8>) -> (u16, Value) {
        let mut rb = self.http.post(format!("{}{path}", self.base));
        for (k, v) in headers {
            rb = rb.header(*k, v);
        }
        let r = rb.body(body).send().await.unwrap();
        let st = r.status().as_u16();
        (st, r.json().await.unwrap_or(Value::Null))
    }

    /// A signed open-API call.
    pub async fn call(&self, path: &str, body: &Value, how: &Sign) -> Value {
        let text = body.to_string();
        let h = how.headers(&text);
        let (st, v) = self.raw(path, &h, text.into_bytes()).await;
        assert_eq!(st, 200, "{path}: {v}");
        v
    }

    pub async fn ledger(&self) -> Value {
        let (_, v) = self.admin("GET", "/ledger", None).await;
        v["data"].clone()
    }

    pub async fn assert_ledger_balanced(&self) {
        let l = self.ledger().await;
        assert_eq!(l["sum"], 0, "ledger: {l}");
        assert_eq!(l["mismatchedAccounts"], json!([]), "ledger: {l}");
    }
}

/// How a test signs: which key, and what to put in the headers.
/// A JSON amount in yuan as fen, read from the number's text (never through a float).
pub fn fen(v: &Value) -> i64 {
    rewardgate_core::money::Fen::parse_yuan(&v.to_string())
        .unwrap_or_else(|e| panic!("{v} is not an amount: {e:?}"))
        .0
}

#[derive(Clone)]
pub struct Sign {
    pub business: String,
    pub md5_key: Option<String>,
    pub rsa_pem: Option<String>,
    pub nonce: Option<String>,
    pub timestamp: Option<i64>,
    pub send_sign_type: bool,
}

impl Sign {
    pub fn md5(business: &str) -> Sign {
        Sign {
            business: business.into(),
            md5_key: Some(MD5_KEY.into()),
            rsa_pem: None,
            nonce: None,
            timestamp: None,
            send_sign_type: true,
        }
    }
    pub fn rsa(business: &str) -> Sign {
        Sign {
            business: business.into(),
            md5_key: None,
            rsa_pem: Some(testdata("merchant_test_private.pem")),
            nonce: None,
            timestamp: None,
            send_sign_type: false,
        }
    }
    pub fn with_nonce(mut self, n: &str) -> Sign {
        self.nonce = Some(n.into());
        self
    }
    pub fn with_timestamp(mut self, t: i64) -> Sign {
        self.timestamp = Some(t);
        self
    }

    /// SPEC §3, written again here from the SPEC text alone.
    pub fn headers(&self, body: &str) -> Vec<(&'static str, String)> {
        static N: AtomicU64 = AtomicU64::new(0);
        let nonce = self.nonce.clone().unwrap_or_else(|| {
            format!(
                "n{}x{}",
                rewardgate_core::clock::now_ms(),
                N.fetch_add(1, Ordering::Relaxed)
            )
        });
        let ts = self
            .timestamp
            .unwrap_or_else(rewardgate_core::clock::now_ms)
            .to_string();
        let sign_type = if self.md5_key.is_some() {
            Some("MD5")
        } else if self.send_sign_type {
            Some("SHA256-RSA")
        } else {
            None
        };
        let mut pairs = vec![
            ("businessId", self.business.clone()),
            ("nonce", nonce.clone()),
            ("timestamp", ts.clone()),
        ];
        if let Some(t) = sign_type {
            pairs.push(("signType", t.to_string()));
        }
        pairs.sort();
        let s = pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
            + body;
        let sign = match (&self.md5_key, &self.rsa_pem) {
            (Some(k), _) => hex::encode_upper(Md5::digest(format!("{s}{k}").as_bytes())),
            (None, Some(pem)) => {
                let der = base64::engine::general_purpose::STANDARD
                    .decode(
                        pem.lines()
                            .filter(|l| !l.starts_with("-----"))
                            .collect::<String>(),
                    )
                    .unwrap();
                let kp = RsaKeyPair::from_pkcs8(&der).unwrap();
                let mut sig = vec![0; kp.public_modulus_len()];
                kp.sign(
                    &RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    s.as_bytes(),
                    &mut sig,
                )
                .unwrap();
                base64::engine::general_purpose::STANDARD.encode(sig)
            }
            _ => unreachable!(),
        };
        let mut h = vec![
            (
                "Content-Type",
                "application/json; charset=utf-8".to_string(),
            ),
            ("businessId", self.business.clone()),
            ("nonce", nonce),
            ("timestamp", ts),
            ("sign", sign),
        ];
        if let Some(t) = sign_type {
            h.push(("signType", t.to_string()));
        }
        h
    }
}

/// A merchant `M1` with business `B1` (MD5 and RSA keys), a red-packet template `T1` (1–200 yuan,
/// 1 % fee), coupon products and activities, a transfer product, all through the admin API.
pub async fn setup_catalog(app: &TestApp) {
    let pk = testdata("merchant_test_private.pem");
    let platform_pub = testdata("platform_test_public.pem");
    app.put("/channel-accounts/wx2", json!({"kind": "WECHAT_V2", "mchId": "1900000109", "appId": "wx8888888888888888",
        "apiKey": "k".repeat(32), "signType": "MD5", "certPem": testdata("wx_cert.pem"), "keyPem": testdata("wx_key.pem"),
        "baseUrl": "http://127.0.0.1:9"})).await;
    app.put("/channel-accounts/wx3", json!({"kind": "WECHAT_V3", "mchId": "1900000109", "appId": "wx8888888888888888",
        "privateKeyPem": pk, "certSerialNo": "5157F09EFDC096DE15EBE81A47057A7232F1B8E1", "apiV3Key": "v".repeat(32),
        "platformPublicKeyPem": platform_pub, "platformSerialNo": "PUB_KEY_ID_1", "baseUrl": "http://127.0.0.1:9"})).await;
    app.put(
        "/channel-accounts/ali",
        json!({"kind": "ALIPAY", "appId": "2021000000000009", "privateKeyPem": pk,
        "alipayPublicKeyPem": platform_pub, "baseUrl": "http://127.0.0.1:9/gateway.do"}),
    )
    .await;
    app.put(
        "/templates/T1",
        json!({"channelAccountId": "wx2", "sendName": "示例", "wishing": "恭喜", "actName": "活动",
        "remark": "备注", "minSpec": 1, "maxSpec": 200, "feeRateBp": 100}),
    )
    .await;
    app.put(
        "/products/PWX",
        json!({"kind": "WECHAT_COUPON", "name": "立减金", "faceValue": 5, "price": 4.5}),
    )
    .await;
    app.put(
        "/products/PALI",
        json!({"kind": "ALIPAY_COUPON", "name": "立减金", "faceValue": 5, "price": 4.6}),
    )
    .await;
    app.put("/products/PTR", json!({"kind": "WECHAT_TRANSFER", "name": "零钱", "feeRateBp": 60, "channelAccountId": "wx2"})).await;
    app.put(
        "/activities/AWX",
        json!({"productCode": "PWX", "channelAccountId": "wx3", "upstreamId": "123456"}),
    )
    .await;
    app.put(
        "/activities/AALI",
        json!({"productCode": "PALI", "channelAccountId": "ali", "upstreamId": "T123"}),
    )
    .await;
    app.put(
        "/activities/AOLD",
        json!({"productCode": "PWX", "channelAccountId": "wx3", "upstreamId": "1",
        "startsAt": "2020-01-01T00:00:00Z", "endsAt": "2020-02-01T00:00:00Z"}),
    )
    .await;
    app.put("/merchants/M1", json!({"name": "商家"})).await;
    app.put("/merchants/M2", json!({"name": "other"})).await;
    app.put("/businesses/B1", json!({"merchantId": "M1", "name": "业务", "md5Key": MD5_KEY,
        "rsaPublicKeyPem": testdata("merchant_test_public.pem"), "callbackUrl": "https://merchant.example/notify"})).await;
}

pub fn red_packet(biz_code: &str, spec: Value) -> Value {
    json!({"merchantId": "M1", "businessId": "B1", "templateId": "T1", "openId": "oxTWIuGaIt6gTKsQRLau2M0yL16E",
        "spec": spec, "bizCode": biz_code})
}

/// Runs a test body once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:path) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $body(common::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $body(common::Backend::Postgres).await
            }
        }
    };
}
