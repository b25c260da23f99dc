//! `GET /metrics` over HTTP on both databases: Prometheus text format 0.0.4 (checked line by line
//! by a parser written here from the format's description), with the series operators watch:
//! requests by route and status, orders by type and status, upstream attempts by channel and
//! code, rate-limit waits, the job queue, callbacks and the writer's batches.

mod common;
use common::delivery::*;
use common::*;
use std::collections::HashMap;
use std::time::Duration;

/// One sample: name, labels, value.
type Sample = (String, HashMap<String, String>, f64);

/// Parses the text format strictly: `# HELP`/`# TYPE` lines, and samples
/// `name{label="value",…} value`; anything else fails the test.
fn parse(text: &str) -> (HashMap<String, String>, Vec<Sample>) {
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.chars().enumerate().all(|(i, c)| {
                c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit())
            })
    };
    let mut types = HashMap::new();
    let mut samples = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (n, t) = rest.split_once(' ').expect("TYPE name type");
            assert!(name_ok(n), "{line}");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&t),
                "{line}"
            );
            types.insert(n.to_string(), t.to_string());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        assert!(!line.starts_with('#'), "unexpected comment {line}");
        let (head, value) = line.rsplit_once(' ').expect("a sample has a value");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line}")),
        };
        let (name, labels) = match head.split_once('{') {
            None => (head, HashMap::new()),
            Some((n, l)) => {
                let l = l.strip_suffix('}').expect("labels end with }");
                let mut m = HashMap::new();
                let mut rest = l;
                while !rest.is_empty() {
                    let (k, v) = rest.split_once("=\"").expect("label=\"value\"");
                    assert!(name_ok(k), "{line}");
                    let mut end = None;
                    let mut esc = false;
                    for (i, c) in v.char_indices() {
                        match (esc, c) {
                            (true, _) => esc = false,
                            (false, '\\') => esc = true,
                            (false, '"') => {
                                end = Some(i);
                                break;
                            }
                            _ => {}
                        }
                    }
                    let end = end.expect("a closing quote");
                    m.insert(k.to_string(), v[..end].to_string());
                    rest = v[end + 1..].trim_start_matches(',');
                }
                (n, m)
            }
        };
        assert!(name_ok(name), "{line}");
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| types.get(*f).is_some_and(|t| t == "histogram"))
            })
            .unwrap_or(name);
        assert!(types.contains_key(family), "sample before its TYPE: {line}");
        samples.push((name.to_string(), labels, value));
    }
    (types, samples)
}

fn find<'a>(s: &'a [Sample], name: &str, want: &[(&str, &str)]) -> Vec<&'a Sample> {
    s.iter()
        .filter(|(n, l, _)| {
            n == name
                && want
                    .iter()
                    .all(|(k, v)| l.get(*k).is_some_and(|x| x == v || v.is_empty()))
        })
        .collect()
}

async fn series_operators_watch(b: Backend) {
    let db = TestDb::new(b);
    let up = sandbox().await;
    let app = spawn_full(
        &db.url,
        fast_dispatcher(),
        rewardgate_server::notifier::NotifierConfig {
            schedule: vec![Duration::from_millis(200); 2],
            allow_private: true,
            ..Default::default()
        },
    )
    .await;
    wire(&app, &up).await;
    // A merchant receiver that takes every report.
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let callback = format!("http://{}/cb", l.local_addr().unwrap());
    tokio::spawn(async move {
        let rx = axum::Router::new().route("/cb", axum::routing::post(|| async { "SUCCESS" }));
        axum::serve(l, rx).await.unwrap()
    });
    app.put(
        "/businesses/B1",
        serde_json::json!({"merchantId": "M1", "name": "业务", "md5Key": MD5_KEY,
            "callbackUrl": callback}),
    )
    .await;
    let codes = vec![app.place("wx", 1).await, app.place("ali", 2).await];
    app.wait_for(&codes, &["SUCCESS"], Duration::from_secs(20))
        .await;
    let r = app
        .http
        .get(format!("{}/no/such/path/12345", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // Let the dispatcher go round once more (known accounts) and a report be tried.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let r = app
        .http
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = r.text().await.unwrap();
    let (types, s) = parse(&text);
    for (name, t) in [
        ("rewardgate_http_requests_total", "counter"),
        ("rewardgate_http_request_duration_seconds", "histogram"),
        ("rewardgate_orders", "gauge"),
        ("rewardgate_upstream_attempts_total", "counter"),
        ("rewardgate_upstream_attempt_duration_seconds", "histogram"),
        ("rewardgate_rate_limit_waits_total", "counter"),
        ("rewardgate_jobs", "gauge"),
        ("rewardgate_job_queue_oldest_age_seconds", "gauge"),
        ("rewardgate_callbacks", "gauge"),
        ("rewardgate_callback_backlog_oldest_age_seconds", "gauge"),
        ("rewardgate_callback_attempts_total", "counter"),
        ("rewardgate_callback_attempt_duration_seconds", "histogram"),
        ("rewardgate_writer_batch_size", "histogram"),
        ("rewardgate_writer_commit_duration_seconds", "histogram"),
    ] {
        assert_eq!(
            types.get(name).map(String::as_str),
            Some(t),
            "{name} in\n{text}"
        );
    }
    let one = |name: &str, want: &[(&str, &str)]| -> f64 {
        let f = find(&s, name, want);
        assert!(!f.is_empty(), "no {name} {want:?} in\n{text}");
        f.iter().map(|x| x.2).sum()
    };
    assert!(
        one(
            "rewardgate_http_requests_total",
            &[
                ("route", "/v1/openapi/order/wechat/coupons"),
                ("method", "POST"),
                ("status", "200")
            ]
        ) >= 1.0
    );
    assert!(
        one(
            "rewardgate_http_requests_total",
            &[("route", "/admin/v1/orders/{code}"), ("method", "GET")]
        ) >= 1.0,
        "nested admin routes are labelled by their template"
    );
    assert!(
        one(
            "rewardgate_http_requests_total",
            &[("route", "unmatched"), ("status", "404")]
        ) >= 1.0
    );
    assert_eq!(
        one(
            "rewardgate_orders",
            &[("type", "WECHAT_COUPON"), ("status", "SUCCESS")]
        ),
        1.0
    );
    assert_eq!(
        one(
            "rewardgate_orders",
            &[("type", "ALIPAY_COUPON"), ("status", "SUCCESS")]
        ),
        1.0
    );
    assert!(
        one(
            "rewardgate_upstream_attempts_total",
            &[
                ("channel", "wechat_v3"),
                ("step", "SEND"),
                ("code", "GRANTED")
            ]
        ) >= 1.0
    );
    assert!(
        one(
            "rewardgate_upstream_attempts_total",
            &[("channel", "alipay"), ("code", "GRANTED")]
        ) >= 1.0
    );
    one("rewardgate_rate_limit_waits_total", &[("account", "")]);
    assert_eq!(one("rewardgate_jobs", &[("state", "DONE")]), 2.0);
    assert_eq!(one("rewardgate_jobs", &[("state", "READY")]), 0.0);
    assert_eq!(one("rewardgate_job_queue_oldest_age_seconds", &[]), 0.0);
    assert!(
        one("rewardgate_callbacks", &[("state", "DELIVERED")]) >= 2.0,
        "the SUCCESS report of each order:\n{text}"
    );
    one("rewardgate_callback_backlog_oldest_age_seconds", &[]);
    assert!(
        one(
            "rewardgate_callback_attempts_total",
            &[("result", "delivered")]
        ) >= 2.0
    );
    one(
        "rewardgate_callback_attempts_total",
        &[("result", "failed")],
    );
    assert!(one("rewardgate_writer_batch_size_count", &[]) >= 4.0);
    assert!(one("rewardgate_writer_commit_duration_seconds_count", &[]) >= 4.0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_sqlite() {
    series_operators_watch(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_postgres() {
    series_operators_watch(Backend::Postgres).await;
}
