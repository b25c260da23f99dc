//! Recorded and documented 商家转账 answers (`fixtures/wechat_v3_transfer_bills/`, each with its
//! public source) through the transfer-bills outcome mapping, signed as the fixture's header says;
//! and the notification, sealed and signed, through verification and decryption.

use rewardgate_channels::Outcome;
use rewardgate_channels::wechat_v3::client::Answer;
use rewardgate_channels::wechat_v3::response_message;
use rewardgate_channels::wechat_v3::transfer_bills::notify::{
    NotifyError, NotifyHeaders, seal_notification, verify_and_decrypt_notification,
};
use rewardgate_channels::wechat_v3::transfer_bills::{BillState, Call, answer_outcome};
use rewardgate_core::keys::{RsaPrivateKey, RsaPublicKey};
use std::collections::BTreeMap;
use std::path::Path;

const API_V3_KEY: &[u8] = b"fidelityapiv3key0000000000000000";

fn testdata(name: &str) -> String {
    let p = format!(
        "{}/../../../shared/testdata/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("test data {p}: {e}"))
}

struct Fixture {
    name: String,
    head: BTreeMap<String, String>,
    body: String,
}

fn fixtures() -> Vec<Fixture> {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/wechat_v3_transfer_bills");
    let mut paths: Vec<_> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 20, "fixtures missing in {}", d.display());
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            let mut head = BTreeMap::new();
            let mut body = Vec::new();
            for line in text.lines() {
                match line.strip_prefix("//").and_then(|h| h.split_once(':')) {
                    Some((k, v)) if body.is_empty() => {
                        head.insert(k.trim().to_string(), v.trim().to_string());
                    }
                    _ => body.push(line),
                }
            }
            let f = Fixture {
                name: p.file_name().unwrap().to_string_lossy().into(),
                head,
                body: body.join("\n"),
            };
            for k in [
                "source",
                "call",
                "out-bill-no",
                "http-status",
                "signature",
                "expect-outcome",
            ] {
                assert!(f.head.contains_key(k), "{}: header {k} missing", f.name);
            }
            f
        })
        .collect()
}

/// The `Wechatpay-*` headers the fixture's `signature` asks for: (timestamp, nonce, signature, serial).
fn sign(f: &Fixture, body: &str, now: i64) -> (String, String, String, String) {
    let platform = RsaPrivateKey::from_pem(&testdata("platform_test_private.pem")).unwrap();
    let other = RsaPrivateKey::from_pem(&testdata("merchant_test_private.pem")).unwrap();
    let (key, serial, ts) = match f.head["signature"].as_str() {
        "none" => return Default::default(),
        "valid" => (&platform, "PUB_KEY_ID_1", now),
        "wrong" => (&other, "PUB_KEY_ID_1", now),
        "stale" => (&platform, "PUB_KEY_ID_1", now - 301),
        "unknown-serial" => (&platform, "PUB_KEY_ID_OTHER", now),
        s => panic!("{}: signature {s}", f.name),
    };
    let nonce = "NONCE123".to_string();
    let sig = key.sign_b64(response_message(&ts.to_string(), &nonce, body).as_bytes());
    (ts.to_string(), nonce, sig, serial.to_string())
}

fn keys() -> Vec<(String, RsaPublicKey)> {
    vec![(
        "PUB_KEY_ID_1".into(),
        RsaPublicKey::from_pem(&testdata("platform_test_public.pem")).unwrap(),
    )]
}

fn label(o: &Outcome) -> String {
    match o {
        Outcome::Granted { .. } => "GRANTED".into(),
        Outcome::Pending { code, .. } => format!("PENDING:{code}"),
        Outcome::Failed { code, .. } => format!("FAILED:{code}"),
        Outcome::Deferred { wait, .. } => format!("DEFERRED:{wait:?}"),
        Outcome::NotFound => "NOT_FOUND".into(),
        Outcome::Unknown { .. } => "UNKNOWN".into(),
        other => format!("{other:?}"),
    }
}

#[test]
fn answers_mean_what_their_fixture_says() {
    let now = rewardgate_core::clock::now_ms() / 1000;
    let mut seen = 0;
    for f in fixtures().iter().filter(|f| f.head["call"] != "notify") {
        let call = match f.head["call"].as_str() {
            "create" => Call::Create,
            "query" => Call::Query,
            "cancel" => Call::Cancel,
            c => panic!("{}: call {c}", f.name),
        };
        let (timestamp, nonce, signature, serial) = sign(f, &f.body, now);
        let a = Answer {
            status: f.head["http-status"].parse().unwrap(),
            timestamp,
            nonce,
            signature,
            serial,
            body: f.body.clone(),
        };
        let got = answer_outcome(&a, &keys(), now, &f.head["out-bill-no"], call);
        assert_eq!(
            label(&got.outcome),
            f.head["expect-outcome"],
            "{}: {:?}",
            f.name,
            got
        );
        // A bill is handed over only with a verified 2xx answer for the number asked about.
        if let Some(b) = &got.bill {
            assert_eq!(b.out_bill_no, f.head["out-bill-no"], "{}", f.name);
        }
        seen += 1;
    }
    assert!(seen >= 20);
}

#[test]
fn the_real_create_answer_carries_the_package() {
    let f = fixtures()
        .into_iter()
        .find(|f| f.name == "create_200_wait_user_confirm.json")
        .unwrap();
    let now = rewardgate_core::clock::now_ms() / 1000;
    let (timestamp, nonce, signature, serial) = sign(&f, &f.body, now);
    let a = Answer {
        status: 200,
        timestamp,
        nonce,
        signature,
        serial,
        body: f.body.clone(),
    };
    let got = answer_outcome(&a, &keys(), now, "SJZZ202506300839261554", Call::Create);
    let bill = got.bill.unwrap();
    assert_eq!(bill.state, BillState::WaitUserConfirm);
    assert_eq!(bill.transfer_bill_no, "1330001424260332506300083551658036");
    assert!(bill.package_info.unwrap().starts_with("ABBQO+oY"));
}

fn notification(f: &Fixture, now: i64) -> (NotifyHeaders, String) {
    let inner: serde_json::Value = serde_json::from_str(&f.body).unwrap();
    let body = seal_notification(
        "EV-2018022511223320873",
        "2015-05-20T13:29:35+08:00",
        &inner,
        API_V3_KEY,
        "fPqxLQRZmjVn",
    )
    .unwrap();
    let (timestamp, nonce, signature, serial) = sign(f, &body, now);
    (
        NotifyHeaders {
            timestamp,
            nonce,
            signature,
            serial,
        },
        body,
    )
}

#[test]
fn notifications_verify_and_open() {
    let now = rewardgate_core::clock::now_ms() / 1000;
    let notes: Vec<_> = fixtures()
        .into_iter()
        .filter(|f| f.head["call"] == "notify")
        .collect();
    assert_eq!(notes.len(), 3);
    for f in &notes {
        let (h, body) = notification(f, now);
        let n = verify_and_decrypt_notification(&h, &body, &keys(), API_V3_KEY, now)
            .unwrap_or_else(|e| panic!("{}: {e}", f.name));
        assert_eq!(
            format!("STATE:{}", n.bill.state.as_str()),
            f.head["expect-outcome"],
            "{}",
            f.name
        );
        assert_eq!(n.bill.out_bill_no, "plfk2020042013");
        assert_eq!(n.bill.transfer_amount, Some(2000));
        assert_eq!(n.bill.mch_id.as_deref(), Some("1900001109"));
        assert_eq!(n.id, "EV-2018022511223320873");
    }
}

#[test]
fn forged_stale_probing_and_undecryptable_notifications_are_refused() {
    let now = rewardgate_core::clock::now_ms() / 1000;
    let f = fixtures()
        .into_iter()
        .find(|f| f.name == "notify_success.json")
        .unwrap();
    let (h, body) = notification(&f, now);
    let check = |h: &NotifyHeaders, body: &str, key: &[u8]| {
        verify_and_decrypt_notification(h, body, &keys(), key, now)
    };
    assert!(check(&h, &body, API_V3_KEY).is_ok());
    // WeChat's signature probe.
    let probe = NotifyHeaders {
        signature: format!("WECHATPAY/SIGNTEST/{}", h.signature),
        ..h.clone()
    };
    assert_eq!(check(&probe, &body, API_V3_KEY), Err(NotifyError::Probe));
    // Unsigned, stale, by an unknown serial, or a body changed after signing.
    assert!(matches!(
        check(&NotifyHeaders::default(), &body, API_V3_KEY),
        Err(NotifyError::Signature(_))
    ));
    let stale = NotifyHeaders {
        timestamp: (now - 301).to_string(),
        ..h.clone()
    };
    assert!(matches!(
        check(&stale, &body, API_V3_KEY),
        Err(NotifyError::Signature(_))
    ));
    let other_serial = NotifyHeaders {
        serial: "PUB_KEY_ID_OTHER".into(),
        ..h.clone()
    };
    assert!(matches!(
        check(&other_serial, &body, API_V3_KEY),
        Err(NotifyError::Signature(_))
    ));
    let tampered = body.replace("EV-2018022511223320873", "EV-2018022511223320874");
    assert!(matches!(
        check(&h, &tampered, API_V3_KEY),
        Err(NotifyError::Signature(_))
    ));
    // Signed correctly, but sealed under another APIv3 key.
    assert!(matches!(
        check(&h, &body, b"anotherapiv3key00000000000000000"),
        Err(NotifyError::Decrypt(_))
    ));
}
