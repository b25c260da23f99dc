//! 商家转账 end to end: this project's client (`rewardgate_channels::wechat_v3`) against the
//! sandbox's stand-in over HTTP, with a local receiver for the notifications it sends.

use axum::body::Bytes;
use axum::http::HeaderMap;
use rewardgate_channels::Outcome;
use rewardgate_channels::Wait;
use rewardgate_channels::wechat_v3::client::{Client, Config};
use rewardgate_channels::wechat_v3::crypto::SensitiveEncryptor;
use rewardgate_channels::wechat_v3::transfer_bills::notify::{
    Notification, NotifyHeaders, verify_and_decrypt_notification,
};
use rewardgate_channels::wechat_v3::transfer_bills::{
    BillState, CREATE_PATH, CreateRequest, Perception, TransferAnswer,
};
use rewardgate_channels::wechat_v3::{self as v3};
use rewardgate_core::keys::{RsaPrivateKey, RsaPublicKey};
use serde_json::{Value, json};
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const MCH: &str = "1900000109";
const APP: &str = "wx8888888888888888";
const API_V3_KEY: &str = "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv";

fn testdata(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../../../shared/testdata/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

type Inbox = Arc<Mutex<Vec<(NotifyHeaders, String)>>>;

struct World {
    base: String,
    http: reqwest::Client,
    client: Client,
    inbox: Inbox,
    /// How many notifications the receiver refuses (500) before it accepts.
    refuse_first: Arc<AtomicUsize>,
    notify_url: String,
    _stop: tokio_util::sync::DropGuard,
}

async fn spawn(extra: Value) -> World {
    let stop = CancellationToken::new();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(rewardgate_sandbox::run(
        Arc::new(rewardgate_sandbox::Sandbox::new()),
        l,
        None,
        stop.clone(),
    ));
    // The merchant's notify endpoint: records what arrives and answers 204.
    let inbox: Inbox = Arc::default();
    let rx = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let notify_url = format!("http://{}/notify", rx.local_addr().unwrap());
    let keep = inbox.clone();
    let refuse_first = Arc::new(AtomicUsize::new(0));
    let refusals = refuse_first.clone();
    let app = axum::Router::new().route(
        "/notify",
        axum::routing::post(move |h: HeaderMap, body: Bytes| {
            let (keep, refusals) = (keep.clone(), refusals.clone());
            async move {
                let g = |n: &str| {
                    h.get(n)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string()
                };
                let headers = NotifyHeaders {
                    timestamp: g("Wechatpay-Timestamp"),
                    nonce: g("Wechatpay-Nonce"),
                    signature: g("Wechatpay-Signature"),
                    serial: g("Wechatpay-Serial"),
                };
                let text = String::from_utf8_lossy(&body).to_string();
                keep.lock().unwrap().push((headers, text));
                let refuse = refusals
                    .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                if refuse {
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    axum::http::StatusCode::NO_CONTENT
                }
            }
        }),
    );
    let s2 = stop.clone();
    tokio::spawn(async move {
        axum::serve(rx, app)
            .with_graceful_shutdown(s2.cancelled_owned())
            .await
    });
    let http = reqwest::Client::new();
    let mut acct = json!({"merchantPublicKeyPem": testdata("merchant_test_public.pem"),
        "merchantSerialNo": "MSERIAL", "platformPrivateKeyPem": testdata("platform_test_private.pem"),
        "platformSerialNo": "PUB_KEY_ID_1", "apiV3Key": API_V3_KEY, "stocks": []});
    for (k, v) in extra.as_object().unwrap() {
        acct[k] = v.clone();
    }
    let r = http
        .put(format!("{base}/sandbox/v1/accounts/wechat-v3/{MCH}"))
        .json(&acct)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let client = Client::new(Config {
        base_url: base.clone(),
        mch_id: MCH.into(),
        app_id: APP.into(),
        private_key: RsaPrivateKey::from_pem(&testdata("merchant_test_private.pem")).unwrap(),
        cert_serial_no: "MSERIAL".into(),
        platform_keys: keys(),
        extra_roots_pem: None,
    })
    .unwrap();
    World {
        base,
        http,
        client,
        inbox,
        refuse_first,
        notify_url,
        _stop: stop.drop_guard(),
    }
}

fn keys() -> Vec<(String, RsaPublicKey)> {
    vec![(
        "PUB_KEY_ID_1".into(),
        RsaPublicKey::from_pem(&testdata("platform_test_public.pem")).unwrap(),
    )]
}

impl World {
    fn req(&self, out_bill_no: &str, fen: i64) -> CreateRequest {
        CreateRequest {
            appid: APP.into(),
            out_bill_no: out_bill_no.into(),
            openid: "oUser_1".into(),
            transfer_amount: fen,
            transfer_remark: "新会员奖励".into(),
            notify_url: None,
            perception: Perception::CashReward,
            activity_name: "新会员有礼".into(),
            reward_description: "注册会员抽奖一等奖".into(),
            user_name_ciphertext: None,
        }
    }

    async fn knob(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn show(&self, out_bill_no: &str) -> Value {
        let r = self
            .http
            .get(format!(
                "{}/sandbox/v1/transfer-bills/{out_bill_no}",
                self.base
            ))
            .send()
            .await
            .unwrap();
        r.json().await.unwrap()
    }

    async fn effects(&self, key: &str) -> Vec<Value> {
        let all: Vec<Value> = self
            .http
            .get(format!("{}/sandbox/v1/effects", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        all.into_iter().filter(|e| e["key"] == key).collect()
    }

    async fn faults(&self, f: Value) {
        let r = self
            .http
            .put(format!("{}/sandbox/v1/faults", self.base))
            .json(&f)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }

    /// A create signed by hand, for bodies the client would not send: (status, body).
    async fn raw_create(&self, body: Value, serial: Option<&str>) -> (u16, Value) {
        let text = body.to_string();
        let key = RsaPrivateKey::from_pem(&testdata("merchant_test_private.pem")).unwrap();
        let signer = v3::Signer {
            key: &key,
            mchid: MCH,
            serial_no: "MSERIAL",
        };
        let auth = signer.authorize(
            "POST",
            CREATE_PATH,
            &text,
            rewardgate_core::clock::now_ms() / 1000,
            "N1",
        );
        let r = self
            .http
            .post(format!("{}{CREATE_PATH}", self.base))
            .header("Authorization", auth)
            .header("Content-Type", "application/json")
            .header("Wechatpay-Serial", serial.unwrap_or("PUB_KEY_ID_1"))
            .body(text)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    /// The notifications received so far, verified and opened.
    async fn notifications(&self, at_least: usize) -> Vec<Notification> {
        for _ in 0..100 {
            if self.inbox.lock().unwrap().len() >= at_least {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let now = rewardgate_core::clock::now_ms() / 1000;
        self.inbox
            .lock()
            .unwrap()
            .iter()
            .map(|(h, b)| {
                verify_and_decrypt_notification(h, b, &keys(), API_V3_KEY.as_bytes(), now).unwrap()
            })
            .collect()
    }
}

fn body(w: &World, out_bill_no: &str, fen: i64) -> Value {
    let mut v: Value = serde_json::from_str(&w.req(out_bill_no, fen).body()).unwrap();
    v["notify_url"] = json!(w.notify_url);
    v
}

fn state(a: &TransferAnswer) -> &str {
    match &a.outcome {
        Outcome::Pending { code, .. } => code,
        // A create answer of WAIT_USER_CONFIRM with its package.
        Outcome::AwaitingUser { .. } => "WAIT_USER_CONFIRM",
        Outcome::Granted { .. } => "GRANTED",
        Outcome::Failed { code, .. } => code,
        Outcome::NotFound => "NOT_FOUND",
        Outcome::Unknown { .. } => "UNKNOWN",
        Outcome::Deferred { code, .. } => code,
        _ => "?",
    }
}

#[tokio::test]
async fn create_resend_confirm_pays_once() {
    let w = spawn(json!({})).await;
    let a = w.client.create_transfer_bill(&w.req("TB1", 30), None).await;
    assert_eq!(state(&a), "WAIT_USER_CONFIRM", "{a:?}");
    let bill = a.bill.unwrap();
    assert!(bill.package_info.is_some());
    // The same request again: the same bill.
    let again = w.client.create_transfer_bill(&w.req("TB1", 30), None).await;
    assert_eq!(again.bill.unwrap().transfer_bill_no, bill.transfer_bill_no);
    // The same number with another amount: INVALID_REQUEST, which the client confirms by a
    // query: the first bill exists, so the answer is that bill, not a failure.
    let other = w.client.create_transfer_bill(&w.req("TB1", 31), None).await;
    assert_eq!(state(&other), "WAIT_USER_CONFIRM", "{other:?}");
    assert_eq!(
        w.client.query_transfer_bill("TB1").await.outcome,
        Outcome::Pending {
            code: "WAIT_USER_CONFIRM".into(),
            message: "用户待确认收款".into()
        }
    );
    assert_eq!(
        w.knob("/sandbox/v1/transfer-bills/TB1/confirm", json!({}))
            .await
            .0,
        200
    );
    assert_eq!(
        w.knob("/sandbox/v1/transfer-bills/TB1/confirm", json!({}))
            .await
            .0,
        409
    );
    let q = w.client.query_transfer_bill("TB1").await;
    assert_eq!(state(&q), "GRANTED");
    assert_eq!(q.bill.unwrap().transfer_amount, Some(30));
    let e = w.effects("TB1").await;
    assert_eq!(e.len(), 1);
    assert_eq!(
        (e[0]["channel"].as_str(), e[0]["amountFen"].as_i64()),
        (Some("wechat_transfer_bills"), Some(30))
    );
    // Unknown numbers: NOT_FOUND, never a failure.
    assert_eq!(
        w.client.query_transfer_bill("NOPE").await.outcome,
        Outcome::NotFound
    );
}

#[tokio::test]
async fn notifications_are_signed_sealed_and_sent_on_each_end() {
    let w = spawn(json!({})).await;
    assert_eq!(w.raw_create(body(&w, "TBN1", 50), None).await.0, 200);
    assert_eq!(w.raw_create(body(&w, "TBN2", 60), None).await.0, 200);
    w.knob("/sandbox/v1/transfer-bills/TBN1/confirm", json!({}))
        .await;
    let c = w.client.cancel_transfer_bill("TBN2").await;
    assert_eq!(state(&c), "CANCELING", "{c:?}");
    let q = w.client.query_transfer_bill("TBN2").await;
    assert_eq!(state(&q), "CANCELLED");
    let mut got: Vec<(String, String)> = w
        .notifications(2)
        .await
        .into_iter()
        .map(|n| (n.bill.out_bill_no, n.bill.state.as_str().to_string()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("TBN1".into(), "SUCCESS".into()),
            ("TBN2".into(), "CANCELLED".into())
        ]
    );
    assert!(w.effects("TBN2").await.is_empty());
    // Past confirmation, a cancel is refused; that is the cancel's failure, not the order's.
    let late = w.client.cancel_transfer_bill("TBN1").await;
    assert_eq!(state(&late), "INVALID_REQUEST");
}

#[tokio::test]
async fn unconfirmed_bills_close_after_24_hours_and_the_money_returns() {
    let w = spawn(json!({"transferBalance": 1})).await;
    assert_eq!(w.raw_create(body(&w, "TBX1", 100), None).await.0, 200);
    assert_eq!(w.show("TBX1").await["balanceFen"], 0);
    w.knob("/sandbox/v1/clock/advance", json!({"seconds": 24 * 3600}))
        .await;
    let q = w.client.query_transfer_bill("TBX1").await;
    assert_eq!(state(&q), "CANCELLED");
    assert_eq!(w.show("TBX1").await["balanceFen"], 100);
    let n = w.notifications(1).await;
    assert_eq!(n[0].bill.state, BillState::Cancelled);
}

#[tokio::test]
async fn the_rules_of_scene_1000() {
    let w = spawn(json!({"transferMaxAmount": 3000})).await;
    let code = |r: (u16, Value)| (r.0, r.1["code"].as_str().unwrap_or("").to_string());
    assert_eq!(
        code(w.raw_create(body(&w, "R1", 9), None).await),
        (400, "INVALID_REQUEST".into())
    );
    assert_eq!(
        code(w.raw_create(body(&w, "R2", 300_001), None).await),
        (400, "INVALID_REQUEST".into())
    );
    let mut b = body(&w, "R3", 50);
    b["transfer_scene_report_infos"] = json!([{"info_type": "活动名称", "info_content": "x"}]);
    assert_eq!(
        code(w.raw_create(b, None).await),
        (400, "PARAM_ERROR".into())
    );
    let mut b = body(&w, "R4", 50);
    b["user_recv_perception"] = json!("佣金报酬");
    assert_eq!(
        code(w.raw_create(b, None).await),
        (400, "INVALID_REQUEST".into())
    );
    let mut b = body(&w, "R5", 50);
    b["transfer_scene_id"] = json!("1005");
    assert_eq!(
        code(w.raw_create(b, None).await),
        (400, "INVALID_REQUEST".into())
    );
    let mut b = body(&w, "R6", 50);
    b["transfer_remark"] = json!("一".repeat(33));
    assert_eq!(
        code(w.raw_create(b, None).await),
        (400, "PARAM_ERROR".into())
    );
    // From 2000 yuan the user's name is required, RSA-OAEP encrypted with the platform key.
    assert_eq!(
        code(w.raw_create(body(&w, "R7", 200_000), None).await),
        (400, "PARAM_ERROR".into())
    );
    let enc = SensitiveEncryptor::from_pem("PUB_KEY_ID_1", &testdata("platform_test_public.pem"))
        .unwrap();
    let mut b = body(&w, "R8", 200_000);
    b["user_name"] = json!(enc.encrypt("张三").unwrap());
    assert_eq!(
        code(w.raw_create(b.clone(), Some("PUB_KEY_ID_OTHER")).await),
        (400, "PARAM_ERROR".into())
    );
    assert_eq!(w.raw_create(b, None).await.0, 200);
    assert_eq!(w.show("R8").await["userName"], "张三");
    // Through the client too.
    let mut r = w.req("R9", 200_000);
    r.user_name_ciphertext = Some(enc.encrypt("李四").unwrap());
    let a = w.client.create_transfer_bill(&r, Some(&enc.serial)).await;
    assert_eq!(state(&a), "WAIT_USER_CONFIRM", "{a:?}");
    assert!(w.effects("R8").await.is_empty());
    // Over the merchant's cap: INVALID_REQUEST, confirmed by a query that finds no bill, so
    // the refusal stands and the order may fail.
    let mut r = w.req("R10", 300_001);
    r.user_name_ciphertext = Some(enc.encrypt("王五").unwrap());
    let a = w.client.create_transfer_bill(&r, Some(&enc.serial)).await;
    assert_eq!(state(&a), "INVALID_REQUEST", "{a:?}");
    assert_eq!(a.bill, None);
}

#[tokio::test]
async fn faults_settle_by_the_same_number() {
    let w = spawn(json!({})).await;
    // 429: nothing done; back off.
    w.faults(json!({"frequencyLimited": 1.0})).await;
    let a = w.client.create_transfer_bill(&w.req("F1", 30), None).await;
    assert!(
        matches!(
            a.outcome,
            Outcome::Deferred {
                wait: Wait::Backoff,
                ..
            }
        ),
        "{a:?}"
    );
    // NOT_ENOUGH: the bill waits in PROCESSING; retried with the same number once the money is
    // there, it goes on to the user.
    w.faults(json!({"notEnough": 1.0})).await;
    let a = w.client.create_transfer_bill(&w.req("F1", 30), None).await;
    assert!(
        matches!(
            a.outcome,
            Outcome::Deferred {
                wait: Wait::PauseAccount,
                ..
            }
        ),
        "{a:?}"
    );
    assert_eq!(
        state(&w.client.query_transfer_bill("F1").await),
        "PROCESSING"
    );
    w.faults(json!({})).await;
    let a = w.client.create_transfer_bill(&w.req("F1", 30), None).await;
    assert_eq!(state(&a), "WAIT_USER_CONFIRM", "{a:?}");
    // A timeout (the answer held past the client's 10 s): unknown; resent with the same
    // number, one bill, paid once.
    w.faults(json!({"timeout": 1.0, "timeoutSeconds": 11}))
        .await;
    let mut r = w.req("F3", 50);
    r.notify_url = Some(w.notify_url.clone());
    let a = w.client.create_transfer_bill(&r, None).await;
    assert!(matches!(a.outcome, Outcome::Unknown { .. }), "{a:?}");
    w.faults(json!({})).await;
    let a = w.client.create_transfer_bill(&r, None).await;
    assert_eq!(state(&a), "WAIT_USER_CONFIRM", "{a:?}");
    w.knob("/sandbox/v1/transfer-bills/F3/confirm", json!({}))
        .await;
    assert_eq!(w.effects("F3").await.len(), 1);
    let n = w.notifications(1).await;
    assert_eq!((n.len(), n[0].bill.state.clone()), (1, BillState::Success));
    // SYSTEM_ERROR: unknown; the bill may or may not exist. A resend with the same number
    // settles it, and the user is paid once.
    for n in 0..6 {
        let no = format!("F2x{n}");
        w.faults(json!({"systemError": 1.0})).await;
        let a = w.client.create_transfer_bill(&w.req(&no, 40), None).await;
        assert!(matches!(a.outcome, Outcome::Unknown { .. }), "{a:?}");
        w.faults(json!({})).await;
        let a = w.client.create_transfer_bill(&w.req(&no, 40), None).await;
        assert_eq!(state(&a), "WAIT_USER_CONFIRM", "{a:?}");
        w.knob(
            &format!("/sandbox/v1/transfer-bills/{no}/confirm"),
            json!({}),
        )
        .await;
        assert_eq!(w.effects(&no).await.len(), 1);
    }
}

#[tokio::test]
async fn notifications_are_retried_and_may_come_twice() {
    let w = spawn(json!({})).await;
    // Refused once: sent again a second later.
    w.refuse_first.store(1, SeqCst);
    assert_eq!(w.raw_create(body(&w, "TBR1", 50), None).await.0, 200);
    // Confirmed, but the money still on its way: TRANSFERING, nothing sent yet.
    let (st, v) = w
        .knob(
            "/sandbox/v1/transfer-bills/TBR1/confirm",
            json!({"hold": true}),
        )
        .await;
    assert_eq!((st, v["state"].as_str()), (200, Some("TRANSFERING")));
    assert_eq!(
        state(&w.client.query_transfer_bill("TBR1").await),
        "TRANSFERING"
    );
    w.knob("/sandbox/v1/transfer-bills/TBR1/confirm", json!({}))
        .await;
    let n = w.notifications(2).await;
    assert_eq!(n.len(), 2, "refused once, then delivered");
    assert_eq!(n[0], n[1], "the same notification again");
    assert_eq!(w.show("TBR1").await["notificationsSent"], 2);
    // notifyDuplicate: one accepted notification delivered twice.
    w.faults(json!({"notifyDuplicate": 1.0})).await;
    assert_eq!(w.raw_create(body(&w, "TBR2", 50), None).await.0, 200);
    w.knob(
        "/sandbox/v1/transfer-bills/TBR2/confirm",
        json!({"fail": "PAYEE_ACCOUNT_ABNORMAL"}),
    )
    .await;
    let n = w.notifications(4).await;
    let twice: Vec<_> = n.iter().filter(|x| x.bill.out_bill_no == "TBR2").collect();
    assert_eq!(twice.len(), 2);
    assert_eq!(twice[0].bill.state, BillState::Fail);
    assert_eq!(
        twice[0].bill.fail_reason.as_deref(),
        Some("PAYEE_ACCOUNT_ABNORMAL")
    );
    assert!(w.effects("TBR2").await.is_empty());
}

/// The credential probe of 商家转账 orders: a query of a number no order uses answers 404
/// NOT_FOUND (healthy); signed with a key the account does not know, 401 (the account's).
#[tokio::test]
async fn the_transfer_bills_probe() {
    let w = spawn(json!({})).await;
    assert_eq!(
        w.client.probe_transfer_bills().await,
        rewardgate_channels::Probe::Healthy
    );
    let (other, _) = RsaPrivateKey::generate_pem().unwrap();
    let stranger = Client::new(Config {
        base_url: w.base.clone(),
        mch_id: MCH.into(),
        app_id: APP.into(),
        private_key: RsaPrivateKey::from_pem(&other).unwrap(),
        cert_serial_no: "MSERIAL".into(),
        platform_keys: keys(),
        extra_roots_pem: None,
    })
    .unwrap();
    assert!(matches!(
        stranger.probe_transfer_bills().await,
        rewardgate_channels::Probe::Reproduced(_)
    ));
}
