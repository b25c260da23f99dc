//! `rewardgate bench`: the intake benchmark. Sets up its own merchant through the admin API,
//! pre-signs unique orders (MD5 and SHA256-RSA), fires them at a fixed concurrency, and prints
//! accepted orders/s and latency percentiles next to the same server's plain GET rate.

use anyhow::{Context, bail};
use rewardgate_core::keys::RsaPrivateKey;
use rewardgate_core::sign::Signer;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[derive(clap::Args, Clone)]
pub struct BenchArgs {
    /// The running serve.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Its admin token (not needed with --suite).
    #[arg(
        long,
        env = "RG_ADMIN_TOKEN",
        default_value = "",
        hide_default_value = true
    )]
    admin_token: String,
    /// Orders per signing scheme.
    #[arg(long, default_value_t = 20_000)]
    requests: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Drive the load with wrk (must be installed: `apt install wrk`) instead of the built-in
    /// client, which spends a core of its own and caps the GET rate well below wrk's.
    #[arg(long)]
    wrk: bool,
    /// The serve process's id (on this machine): adds its CPU time per order and peak RSS.
    #[arg(long)]
    pid: Option<u32>,
    /// With --wrk: seconds of load per scheme (give --requests enough orders for them).
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Everything in one run: a `serve` of its own on a fresh SQLite file and one on a fresh
    /// PostgreSQL database (created on --postgres-url's server, dropped after), intake on each
    /// (MD5 and RSA, with CPU and RSS), then bench-delivery (1800/min, grants/s, callbacks/s).
    #[arg(long)]
    suite: bool,
    /// The PostgreSQL server --suite creates its database on.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    postgres_url: String,
}

mod suite;
mod wrk;

struct Signed {
    headers: Vec<(&'static str, String)>,
    body: String,
}

pub async fn run(a: BenchArgs) -> anyhow::Result<()> {
    if a.suite {
        return suite::run(a).await;
    }
    intake(a).await.map(|_| ())
}

/// The intake bench against a running serve; the same run's plain GET rate.
async fn intake(a: BenchArgs) -> anyhow::Result<f64> {
    if a.admin_token.is_empty() {
        bail!("--admin-token (or RG_ADMIN_TOKEN) is needed to set up the bench merchant");
    }
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(a.concurrency * 2)
        .build()?;
    let tag = rewardgate_core::clock::now_ms().to_string();
    let (biz, md5_key, key) = setup(&http, &a, &tag)
        .await
        .context("setting up the bench merchant")?;
    println!(
        "rewardgate intake bench — {} orders per scheme, concurrency {}, {} cores",
        a.requests,
        a.concurrency,
        cores()
    );
    if a.wrk {
        return wrk::run(&http, &a, &biz, &md5_key, &key, &tag).await;
    }
    let get = fire(
        &http,
        &a,
        (0..a.requests).map(|_| None).collect(),
        "/healthz",
    )
    .await?;
    report("plain GET /healthz", &get);
    for scheme in ["MD5", "SHA256-RSA"] {
        let reqs = (0..a.requests)
            .map(|i| {
                Some(sign_order(
                    &biz,
                    &md5_key,
                    &key,
                    scheme,
                    &format!("{tag}-{scheme}-{i}"),
                ))
            })
            .collect();
        let r = fire(&http, &a, reqs, "/v1/openapi/order/redPacket").await?;
        report(&format!("signed orders, {scheme}"), &r);
        if r.accepted != a.requests {
            bail!(
                "{} of {} orders were not accepted (first refusal: {})",
                a.requests - r.accepted,
                a.requests,
                r.first_error
            );
        }
        println!("  ratio to plain GET: {:.2}", r.rate() / get.rate());
    }
    Ok(get.rate())
}

fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

async fn setup(
    http: &reqwest::Client,
    a: &BenchArgs,
    tag: &str,
) -> anyhow::Result<(String, String, Arc<RsaPrivateKey>)> {
    use reqwest::Method;
    let (private, public) = RsaPrivateKey::generate_pem()?;
    let md5_key = format!("bench{tag}md5key");
    let biz = format!("BENCH-B-{tag}");
    crate::signed::admin(http, &a.url, &a.admin_token, Method::PUT, "/channel-accounts/bench-wx2", json!({
        "kind": "WECHAT_V2", "mchId": "1900000109", "appId": "wxbench000000000", "apiKey": "b".repeat(32),
        "baseUrl": "http://127.0.0.1:9", "ratePerMinute": 1800})).await?;
    crate::signed::admin(
        http,
        &a.url,
        &a.admin_token,
        Method::PUT,
        "/templates/BENCH-T",
        json!({"channelAccountId": "bench-wx2", "sendName": "bench",
        "wishing": "bench", "actName": "bench", "remark": "bench"}),
    )
    .await?;
    crate::signed::admin(
        http,
        &a.url,
        &a.admin_token,
        Method::PUT,
        "/merchants/BENCH-M",
        json!({"name": "bench"}),
    )
    .await?;
    crate::signed::admin(
        http,
        &a.url,
        &a.admin_token,
        Method::PUT,
        &format!("/businesses/{biz}"),
        json!({"merchantId": "BENCH-M", "name": "bench",
        "md5Key": md5_key, "rsaPublicKeyPem": public}),
    )
    .await?;
    crate::signed::admin(
        http,
        &a.url,
        &a.admin_token,
        Method::POST,
        &format!("/businesses/{biz}/topups"),
        json!({"amount": 100_000_000, "reference": tag}),
    )
    .await?;
    Ok((biz, md5_key, Arc::new(RsaPrivateKey::from_pem(&private)?)))
}

fn sign_order(
    biz: &str,
    md5_key: &str,
    key: &RsaPrivateKey,
    scheme: &str,
    biz_code: &str,
) -> Signed {
    let body = json!({"merchantId": "BENCH-M", "businessId": biz, "templateId": "BENCH-T", "openId": "oBench",
        "spec": 1.5, "bizCode": biz_code})
    .to_string();
    let nonce = biz_code.replace(|c: char| !c.is_ascii_alphanumeric(), "_");
    let signer = if scheme == "MD5" {
        Signer::Md5(md5_key)
    } else {
        Signer::Rsa(key)
    };
    Signed {
        headers: crate::signed::headers(biz, nonce, &body, signer),
        body,
    }
}

struct Run {
    elapsed: Duration,
    latencies: Vec<Duration>,
    accepted: usize,
    first_error: String,
}

impl Run {
    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }
}

fn report(name: &str, r: &Run) {
    let mut l = r.latencies.clone();
    l.sort();
    let p = |q: f64| {
        l.get(((l.len() as f64 * q) as usize).min(l.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "{name}: {} requests in {:.2}s = {:.0}/s (accepted {}), p50 {:.2} ms, p99 {:.2} ms",
        l.len(),
        r.elapsed.as_secs_f64(),
        r.rate(),
        r.accepted,
        p(0.5).as_secs_f64() * 1e3,
        p(0.99).as_secs_f64() * 1e3
    );
}

async fn fire(
    http: &reqwest::Client,
    a: &BenchArgs,
    reqs: Vec<Option<Signed>>,
    path: &str,
) -> anyhow::Result<Run> {
    let reqs = Arc::new(reqs);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..a.concurrency {
        let (reqs, next, http, url) = (
            reqs.clone(),
            next.clone(),
            http.clone(),
            format!("{}{path}", a.url),
        );
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut accepted = 0;
            let mut first_error = String::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = reqs.get(i) else { break };
                let t = Instant::now();
                let resp = match item {
                    None => http.get(&url).send().await,
                    Some(s) => {
                        let mut rb = http
                            .post(&url)
                            .header("Content-Type", "application/json; charset=utf-8");
                        for (k, v) in &s.headers {
                            rb = rb.header(*k, v);
                        }
                        rb.body(s.body.clone()).send().await
                    }
                };
                let ok = match resp {
                    Ok(r) if item.is_none() => r.status().is_success(),
                    Ok(r) => {
                        let v: Value = r.json().await.unwrap_or(Value::Null);
                        let ok = v["status"] == 200;
                        if !ok && first_error.is_empty() {
                            first_error = v.to_string();
                        }
                        ok
                    }
                    Err(e) => {
                        if first_error.is_empty() {
                            first_error = e.to_string();
                        }
                        false
                    }
                };
                lat.push(t.elapsed());
                accepted += usize::from(ok);
            }
            (lat, accepted, first_error)
        }));
    }
    let mut run = Run {
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
        accepted: 0,
        first_error: String::new(),
    };
    for t in tasks {
        let (l, n, e) = t.await?;
        run.latencies.extend(l);
        run.accepted += n;
        if run.first_error.is_empty() {
            run.first_error = e;
        }
    }
    run.elapsed = started.elapsed();
    Ok(run)
}
