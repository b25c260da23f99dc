//! Recorded upstream answers (`crates/channels/fixtures/`, each with its public source) run
//! through the real clients over HTTP and then through the dispatcher's decision table: what
//! the client makes of the answer, and what that does to the order. A fixture's header says
//! which call it answers, the order's step and status when it arrives, and what must follow.

use rewardgate_channels::wechat_v2::client as v2;
use rewardgate_channels::wechat_v3::client as v3;
use rewardgate_channels::{Outcome, Wait, alipay};
use rewardgate_core::Fen;
use rewardgate_core::delivery::{Job, Policy, Step, decide};
use rewardgate_core::keys::{RsaPrivateKey, RsaPublicKey};
use rewardgate_core::order::{Order, OrderSpec, OrderStatus, ProductType};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn testdata(name: &str) -> String {
    let p = format!(
        "{}/../../../shared/testdata/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("test data {p}: {e}"))
}

fn fixtures(dir: &str) -> Vec<PathBuf> {
    let d = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../channels/fixtures")
        .join(dir);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&d)
        .unwrap_or_else(|e| panic!("{}: {e}", d.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "xml" || x == "json"))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no fixtures in {}", d.display());
    v
}

/// A fixture: its header (`<!-- key: value -->` or `// key: value` lines) and its body.
struct Fixture {
    name: String,
    head: BTreeMap<String, String>,
    body: String,
}

impl Fixture {
    fn read(p: &Path) -> Fixture {
        let text = std::fs::read_to_string(p).unwrap();
        let mut head = BTreeMap::new();
        let mut body = Vec::new();
        for line in text.lines() {
            let t = line.trim();
            let h = t
                .strip_prefix("<!--")
                .and_then(|r| r.strip_suffix("-->"))
                .or_else(|| t.strip_prefix("//"));
            match h.and_then(|h| h.split_once(':')) {
                Some((k, v)) if body.is_empty() => {
                    head.insert(k.trim().to_string(), v.trim().to_string());
                }
                _ => body.push(line),
            }
        }
        let f = Fixture {
            name: p.file_name().unwrap().to_string_lossy().into(),
            head,
            body: body.join("\n").trim().to_string(),
        };
        for k in [
            "source",
            "call",
            "step",
            "status",
            "expect-outcome",
            "expect-order",
        ] {
            assert!(f.head.contains_key(k), "{}: header {k} is missing", f.name);
        }
        f
    }
    fn get(&self, k: &str) -> &str {
        self.head.get(k).map(String::as_str).unwrap_or("")
    }
}

/// One canned answer on a local port, whatever the path.
async fn upstream(status: u16, headers: Vec<(String, String)>, body: String) -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let app = axum::Router::new().fallback(move || {
        let (headers, body) = (headers.clone(), body.clone());
        async move {
            let mut r = axum::response::Response::new(axum::body::Body::from(body));
            *r.status_mut() = axum::http::StatusCode::from_u16(status).unwrap();
            for (k, v) in headers {
                r.headers_mut().insert(
                    axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    v.parse().unwrap(),
                );
            }
            r
        }
    });
    tokio::spawn(async move { axum::serve(l, app).await });
    format!("http://{addr}")
}

fn label(o: &Outcome) -> String {
    match o {
        Outcome::Granted { .. } => "GRANTED".into(),
        Outcome::Failed { code, .. } => format!("FAILED:{code}"),
        Outcome::Unknown { .. } => "UNKNOWN".into(),
        Outcome::Pending { .. } => "PENDING".into(),
        Outcome::AwaitingUser { .. } => "AWAITING_USER".into(),
        Outcome::Deferred { wait, .. } => format!(
            "DEFERRED:{}",
            match wait {
                Wait::PauseAccount => "PAUSE",
                Wait::Credentials => "CREDENTIALS",
                Wait::Backoff => "BACKOFF",
                Wait::ShanghaiMorning => "MORNING",
                Wait::NextShanghaiDay => "NEXT_DAY",
            }
        ),
        Outcome::NotFound => "NOT_FOUND".into(),
        Outcome::Received { .. } => "RECEIVED".into(),
        Outcome::Refunded { .. } => "REFUNDED".into(),
    }
}

fn job(product_type: ProductType, status: &str, step: &str) -> (Order, Job) {
    let status = match status {
        "PROCESSING" => OrderStatus::Processing,
        "SUCCESS" => OrderStatus::Success,
        s => panic!("status {s}"),
    };
    let step = Step::parse(step).unwrap_or_else(|| panic!("step {step}"));
    let now = rewardgate_core::clock::now_ms();
    let order = Order {
        id: 1,
        spec: OrderSpec {
            order_code: "RG1".into(),
            business_id: "B1".into(),
            merchant_id: "M1".into(),
            biz_code: "b1".into(),
            product_type,
            fingerprint: String::new(),
            template_id: None,
            product_code: None,
            activity_id: None,
            open_id: Some("oUser".into()),
            mobile: None,
            app_id: None,
            amount: Some(Fen(100)),
            settlement: Fen(101),
            callback_url: None,
            description: None,
            channel_account_id: "acct".into(),
            created_at: now,
            delivery: None,
        },
        status,
        upstream_id: None,
        error_code: None,
        error_message: None,
        version: 1,
        updated_at: now,
        finished_at: None,
        upstream_key: Some("KEY".into()),
        job_state: None,
        job_attempts: 0,
        user_confirm: None,
    };
    (
        order,
        Job {
            step,
            attempts: 1,
            first_sent_at: None,
        },
    )
}

/// The outcome through the decision table: the order's status afterwards, or OPEN.
fn check(f: &Fixture, product_type: ProductType, outcome: &Outcome) {
    assert_eq!(
        label(outcome),
        f.get("expect-outcome"),
        "{}: the client's outcome ({outcome:?})",
        f.name
    );
    let (order, j) = job(product_type, f.get("status"), f.get("step"));
    let plan = decide(
        &order,
        &j,
        j.step,
        outcome,
        &Policy::default(),
        rewardgate_core::clock::now_ms(),
    );
    let after = plan
        .change
        .as_ref()
        .map(|t| t.to.as_str().to_string())
        .unwrap_or_else(|| "OPEN".into());
    assert_eq!(
        after,
        f.get("expect-order"),
        "{}: the order after it",
        f.name
    );
}

const API_KEY: &str = "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk";

#[tokio::test]
async fn wechat_v2_answers() {
    for p in fixtures("wechat_v2") {
        let f = Fixture::read(&p);
        let base = upstream(
            200,
            vec![("Content-Type".into(), "text/xml".into())],
            f.body.clone(),
        )
        .await;
        let c = v2::Client::new(v2::Config {
            base_url: base,
            mch_id: "1900000109".into(),
            api_key: API_KEY.into(),
            cert_pem: None,
            key_pem: None,
            extra_roots_pem: None,
        })
        .unwrap();
        let (o, t) = match f.get("call") {
            "sendredpack" => (
                c.send_redpack(Default::default(), false).await,
                ProductType::RedPacket,
            ),
            "sendminiprogramhb" => (
                c.send_redpack(Default::default(), true).await,
                ProductType::RedPacket,
            ),
            "gethbinfo" => (c.query_redpack("KEY", "wx1").await, ProductType::RedPacket),
            "transfers" => (
                c.transfer(Default::default()).await,
                ProductType::WechatTransfer,
            ),
            "gettransferinfo" => (
                c.query_transfer("KEY", "wx1").await,
                ProductType::WechatTransfer,
            ),
            other => panic!("{}: call {other}", f.name),
        };
        check(&f, t, &o);
    }
}

#[tokio::test]
async fn wechat_v3_answers() {
    let platform = RsaPrivateKey::from_pem(&testdata("platform_test_private.pem")).unwrap();
    let other = RsaPrivateKey::from_pem(&testdata("merchant_test_private.pem")).unwrap();
    for p in fixtures("wechat_v3") {
        let f = Fixture::read(&p);
        let now = rewardgate_core::clock::now_ms() / 1000;
        let (key, serial, ts) = match f.get("signature") {
            "none" => (None, "", now),
            "valid" => (Some(&platform), "PUB_KEY_ID_1", now),
            "wrong" => (Some(&other), "PUB_KEY_ID_1", now),
            "stale" => (Some(&platform), "PUB_KEY_ID_1", now - 301),
            "unknown-serial" => (Some(&platform), "PUB_KEY_ID_OTHER", now),
            s => panic!("{}: signature {s}", f.name),
        };
        let mut headers = vec![("Content-Type".to_string(), "application/json".to_string())];
        if let Some(k) = key {
            let nonce = "NONCE123";
            let sig = k.sign_b64(
                rewardgate_channels::wechat_v3::response_message(&ts.to_string(), nonce, &f.body)
                    .as_bytes(),
            );
            for (n, v) in [
                ("Wechatpay-Timestamp", ts.to_string()),
                ("Wechatpay-Nonce", nonce.to_string()),
                ("Wechatpay-Signature", sig),
                ("Wechatpay-Serial", serial.to_string()),
            ] {
                headers.push((n.into(), v));
            }
        }
        let status: u16 = f.get("http-status").parse().unwrap();
        let base = upstream(status, headers, f.body.clone()).await;
        let c = v3::Client::new(v3::Config {
            base_url: base,
            mch_id: "1900000109".into(),
            app_id: "wx8888888888888888".into(),
            private_key: RsaPrivateKey::from_pem(&testdata("merchant_test_private.pem")).unwrap(),
            cert_serial_no: "S".into(),
            platform_keys: vec![(
                "PUB_KEY_ID_1".into(),
                RsaPublicKey::from_pem(&testdata("platform_test_public.pem")).unwrap(),
            )],
            extra_roots_pem: None,
        })
        .unwrap();
        let o = c.send_coupon("oUser", "123", "KEY", None).await;
        check(&f, ProductType::WechatCoupon, &o);
    }
}

#[tokio::test]
async fn alipay_answers() {
    let key = RsaPrivateKey::from_pem(&testdata("platform_test_private.pem")).unwrap();
    for p in fixtures("alipay") {
        let f = Fixture::read(&p);
        let (node, _) = alipay::split_response(&f.body, alipay::VOUCHER_SEND)
            .unwrap_or_else(|| panic!("{}: no response node", f.name));
        let node = node.to_string();
        let body = match f.get("signature") {
            "as-is" => f.body.clone(),
            "resign" => format!(
                "{{\"{}\":{node},\"sign\":\"{}\"}}",
                alipay::response_key(alipay::VOUCHER_SEND),
                key.sign_b64(node.as_bytes())
            ),
            "strip" => format!(
                "{{\"{}\":{node}}}",
                alipay::response_key(alipay::VOUCHER_SEND)
            ),
            s => panic!("{}: signature {s}", f.name),
        };
        let base = upstream(
            200,
            vec![("Content-Type".into(), "application/json".into())],
            body,
        )
        .await;
        let c = alipay::client::Client::new(alipay::client::Config {
            gateway: format!("{base}/gateway.do"),
            app_id: "2021000000000009".into(),
            private_key: RsaPrivateKey::from_pem(&testdata("merchant_test_private.pem")).unwrap(),
            alipay_public_key: RsaPublicKey::from_pem(&testdata("platform_test_public.pem"))
                .unwrap(),
            extra_roots_pem: None,
        })
        .unwrap();
        let o = c.send_voucher("T1", "13200000000", "KEY").await;
        check(&f, ProductType::AlipayCoupon, &o);
    }
}
