//! Bounded fuzzing (proptest; `cargo fuzz` needs a nightly toolchain this project does not use):
//! inputs mutated from the corpus in `fuzz/corpus/` (and the recorded upstream answers) go
//! through the signed open-API path and the Rabbitpre endpoint of a real server over HTTP, the
//! WeChat Pay XML reader and the callback-URL rules. Nothing may panic, every open-API answer is
//! SPEC's envelope with one of its statuses (and never 50001 for bad input), every Rabbitpre
//! answer is the seed's shape. `RG_FUZZ_CASES` multiplies the cases (CI runs the default).

mod common;
use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::Value;
use std::path::Path;

/// A runner for `n` cases (times `RG_FUZZ_CASES`), without failure files: a failure prints its
/// input, and the input belongs in the corpus.
fn runner(n: u32) -> TestRunner {
    let k: u32 = std::env::var("RG_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    TestRunner::new(Config {
        cases: n * k,
        failure_persistence: None,
        ..Config::default()
    })
}

fn corpus(dir: &str) -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(dir);
    let mut out = Vec::new();
    for e in std::fs::read_dir(&root).unwrap_or_else(|e| panic!("{}: {e}", root.display())) {
        let p = e.unwrap().path();
        let text = std::fs::read(&p).unwrap();
        if p.extension().is_some_and(|x| x == "txt") {
            out.extend(
                text.split(|b| *b == b'\n')
                    .filter(|l| !l.is_empty())
                    .map(<[u8]>::to_vec),
            );
        } else {
            out.push(text);
        }
    }
    assert!(!out.is_empty(), "no corpus in {}", root.display());
    out
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
    Repeat(usize, usize),
}

/// A corpus entry with a few mutations applied, or plain random bytes.
fn input(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let n = seeds.len();
    let m = prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (
            any::<usize>(),
            prop_oneof![
                any::<u8>(),
                Just(b'{'),
                Just(b'"'),
                Just(b'\\'),
                Just(b'<'),
                Just(0xff)
            ]
        )
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 1usize..64).prop_map(|(i, k)| Mutation::Repeat(i, k)),
    ];
    prop_oneof![
        9 => (0..n, proptest::collection::vec(m, 0..6)).prop_map(move |(i, ms)| {
            let mut b = seeds[i].clone();
            for m in ms {
                let len = b.len().max(1);
                match m {
                    Mutation::Flip(i, x) if !b.is_empty() => b[i % len] ^= x.max(1),
                    Mutation::Insert(i, x) => b.insert(i % (b.len() + 1), x),
                    Mutation::Delete(i) if !b.is_empty() => {
                        b.remove(i % len);
                    }
                    Mutation::Truncate(i) => b.truncate(i % (b.len() + 1)),
                    Mutation::Repeat(i, k) if !b.is_empty() => {
                        let s = i % len;
                        let piece = b[s..(s + 8).min(b.len())].to_vec();
                        for _ in 0..k {
                            b.splice(s..s, piece.iter().copied());
                        }
                    }
                    _ => {}
                }
            }
            b
        }),
        1 => proptest::collection::vec(any::<u8>(), 0..512),
    ]
}

const SPEC_STATUSES: &[i64] = &[
    200, 40001, 40002, 40101, 40102, 40103, 40104, 40301, 40302, 40401, 40901, 42201, 40201, 42901,
];

#[test]
fn wechat_xml_reader() {
    let mut seeds = corpus("crates/channels/fixtures/wechat_v2");
    seeds.push(b"<xml><a><![CDATA[x]]></a><b>&amp;&#x41;</b></xml>".to_vec());
    let mut r = runner(3000);
    r.run(&input(seeds), |bytes| {
        let text = String::from_utf8_lossy(&bytes);
        let _ = rewardgate_channels::wechat_v2::xml::parse(&text);
        if let Ok(a) = rewardgate_channels::wechat_v2::client::parse_answer(&text, "k") {
            let _ = rewardgate_channels::wechat_v2::client::redpack_outcome(&a);
            let _ = rewardgate_channels::wechat_v2::client::redpack_query_outcome(&a);
            let _ = rewardgate_channels::wechat_v2::client::transfer_outcome(&a);
        }
        Ok(())
    })
    .unwrap();
}

#[test]
fn callback_urls() {
    use rewardgate_core::target;
    let mut r = runner(5000);
    r.run(&input(corpus("fuzz/corpus/url")), |bytes| {
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(u) = target::parse(&text) {
            prop_assert!(u.scheme() == "http" || u.scheme() == "https");
            prop_assert!(u.username().is_empty() && u.password().is_none());
            let _ = target::host_key(&u);
            // A literal address passes only when it is public unicast.
            if target::refusal(&u).is_none() {
                match u.host() {
                    Some(url::Host::Ipv4(ip)) => {
                        prop_assert!(target::forbidden(ip.into()).is_none())
                    }
                    Some(url::Host::Ipv6(ip)) => {
                        prop_assert!(target::forbidden(ip.into()).is_none())
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    })
    .unwrap();
}

/// Runs `cases` mutated requests against one real server.
fn against_server(
    cases: u32,
    seeds: Vec<Vec<u8>>,
    check: impl Fn(
        &TestApp,
        Vec<u8>,
        bool,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + '_>>,
) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let db = TestDb::new(Backend::Sqlite);
    let app = rt.block_on(async {
        let app = spawn_app(&db.url).await;
        setup_catalog(&app).await;
        app
    });
    let mut r = runner(cases);
    r.run(&(input(seeds), any::<bool>()), |(bytes, resign)| {
        rt.block_on(check(&app, bytes, resign))
            .map_err(TestCaseError::fail)
    })
    .unwrap();
    rt.block_on(app.stop());
}

#[test]
fn signed_open_api() {
    let paths = [
        "/v1/openapi/order/redPacket",
        "/v1/openapi/order/wechat/coupons",
        "/v1/openapi/order/alipay/coupons",
        "/v1/openapi/order/wechat/transfer",
        "/v1/openapi/order/info",
        "/v1/openapi/merchant/business/balance",
    ];
    against_server(
        400,
        corpus("fuzz/corpus/openapi"),
        move |app, bytes, resign| {
            Box::pin(async move {
                let path = paths[bytes.len() % paths.len()];
                // Half the cases are signed right, so that the body parser is reached.
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let mut headers = Sign::md5("B1").headers(&text);
                if !resign {
                    headers[4].1 = "0".repeat(32);
                }
                let (http, v) = app.raw(path, &headers, bytes).await;
                if ![200, 413, 415].contains(&http) {
                    return Err(format!("HTTP {http}: {v}"));
                }
                let status = v["status"]
                    .as_i64()
                    .ok_or_else(|| format!("no envelope: {v}"))?;
                if http == 200 && !SPEC_STATUSES.contains(&status) {
                    return Err(format!("status {status} for bad input: {v}"));
                }
                if !(v["message"].is_string() && v.get("data").is_some()) {
                    return Err(format!("not the envelope: {v}"));
                }
                Ok(())
            })
        },
    );
}

#[test]
fn rabbitpre_bodies() {
    against_server(
        400,
        corpus("fuzz/corpus/rabbitpre"),
        |app, bytes, json_xml| {
            Box::pin(async move {
                let ct = if json_xml {
                    "application/jsonxml; charset=utf-8"
                } else {
                    "application/json"
                };
                let r = app
                    .http
                    .post(format!("{}/pay/sendApiRedPack", app.base))
                    .header("Content-Type", ct)
                    .body(bytes)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                let http = r.status().as_u16();
                let v: Value = r.json().await.unwrap_or(Value::Null);
                if ![200, 413].contains(&http) {
                    return Err(format!("HTTP {http}: {v}"));
                }
                if http == 200 && !v["returnCode"].is_string() {
                    return Err(format!("not the seed's answer shape: {v}"));
                }
                Ok(())
            })
        },
    );
}
