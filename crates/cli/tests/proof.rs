//! The proof suites of RELIABILITY.md, on the real binary.
//!
//! - Crash: orders of every kind go in while `serve` is SIGKILLed at random (at least 5 times;
//!   `RG_PROOF_KILLS` for more) under injected SYSTEMERROR and timeouts. Afterwards every order
//!   answered 200 has ended SUCCESS or FAILED with a reason, each SUCCESS was granted exactly once
//!   and each FAILED never, the balance is top-ups minus what was captured, the ledger sums to
//!   zero, and every status report reached the merchant. SQLite and PostgreSQL.
//! - Scale-out: three `serve`s on one PostgreSQL, one killed midway: no double grant, no nonce
//!   accepted twice, one channel account's rate limit held across them.

mod common;
use common::*;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A merchant's callback receiver that answers SUCCESS and counts reports by notifyId.
fn receiver() -> (String, Arc<Mutex<HashMap<String, usize>>>) {
    let got = Arc::new(Mutex::new(HashMap::new()));
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/cb", l.local_addr().unwrap());
    let g = got.clone();
    std::thread::spawn(move || {
        for stream in l.incoming().flatten() {
            let g = g.clone();
            std::thread::spawn(move || {
                use std::io::{BufRead, BufReader, Read, Write};
                let mut r = BufReader::new(stream.try_clone().unwrap());
                let mut len = 0usize;
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let l = line.trim_end().to_ascii_lowercase();
                    if let Some(v) = l.strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                    if l.is_empty() {
                        break;
                    }
                }
                let mut body = vec![0u8; len];
                if r.read_exact(&mut body).is_err() {
                    return;
                }
                if let Ok(v) = serde_json::from_slice::<Value>(&body)
                    && let Some(id) = v["notifyId"].as_str()
                {
                    *g.lock().unwrap().entry(id.to_string()).or_insert(0) += 1;
                }
                let mut w = stream;
                let _ = w.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nConnection: close\r\n\r\nSUCCESS",
                );
            });
        }
    });
    (url, got)
}

fn get(env: &Env, url: &str) -> Value {
    env.http
        .get(url)
        .bearer_auth(TOKEN)
        .send()
        .unwrap()
        .json()
        .unwrap()
}

/// Every order, through the admin list's pages.
fn all_orders(env: &Env, base: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let v = get(
            env,
            &format!("{base}/admin/v1/orders?limit=500&cursor={cursor}"),
        );
        out.extend(v["data"]["items"].as_array().cloned().unwrap_or_default());
        match v["data"]["nextCursor"].as_str() {
            Some(c) if !c.is_empty() => cursor = c.to_string(),
            _ => return out,
        }
    }
}

fn fen(v: &Value) -> i64 {
    // Yuan with at most two decimals, as SPEC writes money; exact through the text.
    let s = v.to_string();
    let (y, f) = s.split_once('.').unwrap_or((&s, "0"));
    y.parse::<i64>().unwrap() * 100 + format!("{f:0<2}")[..2].parse::<i64>().unwrap()
}

fn crash(db: &str) {
    let kills: usize = std::env::var("RG_PROOF_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
        .max(5);
    let env = start_sandbox();
    env.http
        .put(format!("{}/sandbox/v1/faults", env.sandbox))
        .json(&json!({"systemError": 0.2, "timeout": 0.02, "timeoutSeconds": 11}))
        .send()
        .unwrap();
    let (cb, reports) = receiver();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let more = [("RG_ALLOW_PRIVATE_CALLBACKS", "true")];
    let mut serve_now = serve_with(&env, db, port, &more);
    setup(&env, &base);
    admin(
        &env,
        &base,
        reqwest::Method::PUT,
        "/businesses/B1",
        json!({"merchantId": "M1", "name": "b", "md5Key": MD5_KEY, "callbackUrl": cb}),
    );
    // The load: orders of every kind, numbered; what was answered 200 is remembered.
    let stop = Arc::new(AtomicBool::new(false));
    let answered: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let sent = Arc::new(AtomicUsize::new(0));
    let load = {
        let (stop, answered, sent, base) =
            (stop.clone(), answered.clone(), sent.clone(), base.clone());
        std::thread::spawn(move || {
            let http = reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap();
            let mut i = 0usize;
            while !stop.load(Ordering::SeqCst) {
                let (path, body) = order_body(i, i);
                let nonce = format!("c{i}p{}", std::process::id());
                if let Ok(v) = post_signed(&http, &format!("{base}{path}"), &nonce, &body)
                    && v["status"] == 200
                {
                    answered
                        .lock()
                        .unwrap()
                        .push(v["data"]["orderCode"].as_str().unwrap().to_string());
                }
                sent.fetch_add(1, Ordering::SeqCst);
                i += 1;
                std::thread::sleep(Duration::from_millis(15));
            }
        })
    };
    // SIGKILL at random moments, restarting each time.
    for k in 0..kills {
        let wait =
            800 + (rewardgate_core::clock::now_ms() as u64 * 7919 + k as u64 * 104_729) % 1500;
        std::thread::sleep(Duration::from_millis(wait));
        serve_now.0.kill().unwrap();
        serve_now.0.wait().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        serve_now = serve_with(&env, db, port, &more);
    }
    stop.store(true, Ordering::SeqCst);
    load.join().unwrap();
    env.http
        .put(format!("{}/sandbox/v1/faults", env.sandbox))
        .json(&json!({}))
        .send()
        .unwrap();
    let answered = answered.lock().unwrap().clone();
    assert!(
        answered.len() > 100,
        "the load placed {} orders",
        answered.len()
    );
    // Every order ends; every report arrives.
    let deadline = Instant::now() + Duration::from_secs(180);
    let orders = loop {
        let orders = all_orders(&env, &base);
        let open = orders
            .iter()
            .filter(|o| o["status"] == "PROCESSING")
            .count();
        let undelivered = orders
            .iter()
            .filter(|o| o["status"] != "PROCESSING")
            .filter(|o| {
                let n = get(
                    &env,
                    &format!(
                        "{base}/admin/v1/orders/{}/notifications",
                        o["orderCode"].as_str().unwrap()
                    ),
                );
                n["data"]["items"]
                    .as_array()
                    .is_none_or(|l| l.is_empty() || l.iter().any(|x| x["state"] != "DELIVERED"))
            })
            .count();
        if open == 0 && undelivered == 0 {
            break orders;
        }
        assert!(
            Instant::now() < deadline,
            "{open} orders still PROCESSING, {undelivered} with reports not delivered"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let by_code: HashMap<&str, &Value> = orders
        .iter()
        .map(|o| (o["orderCode"].as_str().unwrap(), o))
        .collect();
    for c in &answered {
        let o = by_code
            .get(c.as_str())
            .unwrap_or_else(|| panic!("order {c} answered 200 is lost"));
        assert!(
            o["status"] == "SUCCESS" || (o["status"] == "FAILED" && o["errorCode"].is_string()),
            "{o}"
        );
    }
    // One grant per SUCCESS, none per FAILED.
    let effects: Vec<Value> = env
        .http
        .get(format!("{}/sandbox/v1/effects", env.sandbox))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let mut grants: HashMap<&str, usize> = HashMap::new();
    for e in &effects {
        *grants.entry(e["key"].as_str().unwrap()).or_default() += 1;
    }
    let mut captured = 0;
    for o in &orders {
        let key = o["upstreamKey"].as_str().unwrap();
        let n = grants.get(key).copied().unwrap_or(0);
        if o["status"] == "SUCCESS" {
            assert_eq!(n, 1, "{o}");
            captured += fen(&o["settlementPrice"]);
        } else {
            assert_eq!(n, 0, "{o}");
        }
    }
    // Balance = top-ups − captured; the ledger sums to zero.
    let b = post_signed(
        &env.http,
        &format!("{base}/v1/openapi/merchant/business/balance"),
        &format!("bal{}", std::process::id()),
        &json!({"merchantId": "M1", "businessId": "B1"}),
    )
    .unwrap();
    assert_eq!(fen(&b["data"]["frozen"]), 0, "{b}");
    assert_eq!(fen(&b["data"]["amount"]), 100_000_000 - captured, "{b}");
    ledger_balanced(&env, &base);
    // Every report reached the merchant (at least once).
    let got = reports.lock().unwrap();
    let ids: HashSet<String> = orders
        .iter()
        .flat_map(|o| {
            let n = get(
                &env,
                &format!(
                    "{base}/admin/v1/orders/{}/notifications",
                    o["orderCode"].as_str().unwrap()
                ),
            );
            n["data"]["items"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|x| x["notifyId"].as_str().unwrap().to_string())
        })
        .collect();
    for id in &ids {
        assert!(got.contains_key(id), "report {id} never arrived");
    }
    eprintln!(
        "crash suite: {kills} SIGKILLs, {} requests, {} answered 200, {} orders ({} SUCCESS), {} reports",
        sent.load(Ordering::SeqCst),
        answered.len(),
        orders.len(),
        orders.iter().filter(|o| o["status"] == "SUCCESS").count(),
        ids.len()
    );
    drop(serve_now);
}

#[test]
fn crash_suite_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    crash(&format!("sqlite://{}/rg.db", dir.path().display()));
}

#[test]
fn crash_suite_postgres() {
    let pg = PgDb::new("crash");
    crash(&pg.url());
}

#[test]
fn scale_out_three_serves_one_killed() {
    let pg = PgDb::new("scale");
    let db = pg.url();
    let env = start_sandbox();
    env.http
        .put(format!("{}/sandbox/v1/faults", env.sandbox))
        .json(&json!({"systemError": 0.1}))
        .send()
        .unwrap();
    let ports = [free_port(), free_port(), free_port()];
    let bases: Vec<String> = ports
        .iter()
        .map(|p| format!("http://127.0.0.1:{p}"))
        .collect();
    let mut serves: Vec<Option<Proc>> = ports.iter().map(|p| Some(serve(&env, &db, *p))).collect();
    setup(&env, &bases[0]);
    // Red packets through one channel account limited to 120 a minute, taken by all three.
    admin(
        &env,
        &bases[0],
        reqwest::Method::PUT,
        "/channel-accounts/wx2",
        json!({"kind": "WECHAT_V2", "mchId": "1900000109", "appId": "wx8888888888888888",
            "apiKey": "k".repeat(32), "baseUrl": env.sandbox, "ratePerMinute": 120}),
    );
    // No nonce accepted twice: each signed request goes to all three at once.
    let mut accepted = 0;
    let n = 240;
    for i in 0..n {
        let (path, body) = order_body(i % 3, i);
        let nonce = format!("s{i}p{}", std::process::id());
        let text = body.to_string();
        let headers = signed(&nonce, &text);
        let answers: Vec<Value> = std::thread::scope(|s| {
            let hs: Vec<_> = bases
                .iter()
                .enumerate()
                .filter(|(k, _)| serves[*k].is_some())
                .map(|(_, b)| {
                    let (url, text, headers, http) = (
                        format!("{b}{path}"),
                        text.clone(),
                        headers.clone(),
                        &env.http,
                    );
                    s.spawn(move || {
                        let mut rb = http.post(url);
                        for (k, v) in headers {
                            rb = rb.header(k, v);
                        }
                        rb.body(text)
                            .send()
                            .and_then(|r| r.json::<Value>())
                            .unwrap_or(Value::Null)
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let ok = answers.iter().filter(|a| a["status"] == 200).count();
        assert_eq!(ok, 1, "a nonce accepted {ok} times: {answers:?}");
        assert!(
            answers
                .iter()
                .all(|a| a["status"] == 200 || a["status"] == 40103),
            "{answers:?}"
        );
        accepted += ok;
        if i == n / 2 {
            // One of them dies midway; its leases run out and the others take over.
            let mut p = serves[1].take().unwrap();
            p.0.kill().unwrap();
            p.0.wait().unwrap();
        }
    }
    wait_all_success(&env, &bases[0], accepted, Duration::from_secs(180));
    assert_exactly_once(&env, accepted);
    ledger_balanced(&env, &bases[2]);
    // The shared bucket: red packets (mch_billno keys start with the mch_id) never went faster
    // than 120 a minute plus the bucket's one-token burst, in any 10-second window.
    let effects: Vec<Value> = env
        .http
        .get(format!("{}/sandbox/v1/effects", env.sandbox))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let mut at: Vec<i64> = effects
        .iter()
        .filter(|e| e["channel"] == "WECHAT_REDPACK")
        .map(|e| e["at"].as_i64().unwrap())
        .collect();
    at.sort();
    let busiest = at
        .iter()
        .map(|t| at.iter().filter(|u| **u >= *t && **u < t + 10_000).count())
        .max()
        .unwrap_or(0);
    assert!(
        busiest <= 21,
        "{busiest} red packets in 10 s through a 120/min account"
    );
    assert_eq!(at.len(), n / 3, "every red packet went");
    drop(serves);
}

/// No configured secret reaches a log line: a full run at debug level — every kind of order,
/// Rabbitpre with its secrets, callbacks, a credential refusal — then every secret is looked for
/// in everything `serve` printed.
#[test]
fn no_secret_in_the_logs() {
    let env = start_sandbox();
    let (cb, _reports) = receiver();
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let child = std::process::Command::new(BIN)
        .arg("serve")
        .env("RG_LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "RG_DATABASE_URL",
            format!("sqlite://{}/rg.db", dir.path().display()),
        )
        .env("RG_ADMIN_TOKEN", TOKEN)
        .env("RG_EXTRA_CA_FILE", env.ca_file.path())
        .env("RG_ALLOW_PRIVATE_CALLBACKS", "true")
        .env("RG_LOG", "debug")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let serve = Proc(child);
    wait_up(&env.http, &format!("{base}/healthz"));
    setup(&env, &base);
    admin(
        &env,
        &base,
        reqwest::Method::PUT,
        "/businesses/B1",
        json!({"merchantId": "M1", "name": "b", "md5Key": MD5_KEY, "callbackUrl": cb}),
    );
    admin(
        &env,
        &base,
        reqwest::Method::PUT,
        "/channel-accounts/wx2",
        json!({"kind": "WECHAT_V2", "mchId": "1900000109", "appId": "wx8888888888888888", "apiKey": "k".repeat(32),
            "certPem": testdata("wx_cert.pem"), "keyPem": testdata("wx_key.pem"), "baseUrl": env.sandbox}),
    );
    let (secret, private, cert) = (
        "rabbit-secret-key-in-no-log-0001",
        "RABBIT-PRIVATE-KEY-IN-NO-LOG",
        "RABBIT-CERT-KEY-IN-NO-LOG",
    );
    admin(
        &env,
        &base,
        reqwest::Method::PUT,
        "/rabbitpre-integrations/rp1",
        json!({"apiSecretKey": secret, "businessId": "B1", "channelAccountId": "wx2", "openidMapping": "DIRECT"}),
    );
    let mut codes = Vec::new();
    for k in 0..4 {
        let (path, body) = order_body(k, 50 + k);
        let v = post_signed(
            &env.http,
            &format!("{base}{path}"),
            &format!("log{k}"),
            &body,
        )
        .unwrap();
        assert_eq!(v["status"], 200, "{v}");
        codes.push(v["data"]["orderCode"].as_str().unwrap().to_string());
    }
    let v: Value = env
        .http
        .post(format!("{base}/pay/sendApiRedPack"))
        .header("Content-Type", "application/json")
        .body(
            json!({"privateKey": private, "certKey": cert, "wxAppId": "wx8888888888888888", "mchId": "1900000109",
                "apiSecretKey": secret, "mchBillno": "RPLOG1", "openid": "oLog1", "amount": 100, "clientIp": "127.0.0.1",
                "actName": "a", "remark": "r", "sendName": "s", "wishing": "w"})
            .to_string(),
        )
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(v["resultCode"], "SUCCESS", "{v}");
    // A wrong secret, a wrong admin token, a wrong signature: refusals are logged, secrets not.
    let _ = env
        .http
        .post(format!("{base}/pay/sendApiRedPack"))
        .header("Content-Type", "application/json")
        .body(json!({"apiSecretKey": format!("{secret}x"), "mchId": "1", "wxAppId": "w", "mchBillno": "B", "openid": "o", "amount": 1}).to_string())
        .send();
    let _ = env
        .http
        .get(format!("{base}/admin/v1/ledger"))
        .bearer_auth(format!("{TOKEN}x"))
        .send();
    // Everything settles and reports go out.
    let deadline = Instant::now() + Duration::from_secs(30);
    while codes.iter().any(|c| {
        get(&env, &format!("{base}/admin/v1/orders/{c}"))["data"]["status"] == "PROCESSING"
    }) {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(1));
    drop(serve);
    let text = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        text.contains("order accepted"),
        "the log was captured: {}",
        &text[..text.len().min(500)]
    );
    let pem_lines = |name: &str| -> Vec<String> {
        testdata(name)
            .lines()
            .filter(|l| !l.starts_with("-----") && l.len() > 40)
            .map(str::to_string)
            .collect()
    };
    let mut secrets: Vec<String> = vec![
        TOKEN.into(),
        MD5_KEY.into(),
        "k".repeat(32),
        "v".repeat(32),
        secret.into(),
        private.into(),
        cert.into(),
    ];
    secrets.extend(pem_lines("merchant_test_private.pem"));
    secrets.extend(pem_lines("wx_key.pem"));
    for s in &secrets {
        assert!(
            !text.contains(s.as_str()),
            "a secret is in the log: {}…",
            &s[..8.min(s.len())]
        );
    }
    eprintln!(
        "secrets: {} looked for in {} log lines, none found",
        secrets.len(),
        text.lines().count()
    );
}
