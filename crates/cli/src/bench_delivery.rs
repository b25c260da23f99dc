//! `rewardgate bench-delivery`: delivery throughput against an in-process sandbox. First red
//! packets through one channel account at its 1800-a-minute limit (target: at least 97 % of it
//! and no SECOND_OVER_LIMITED); then a backlog of WeChat coupons, which have no per-minute limit,
//! drained by a dispatcher (grants/s); then their status reports, signed SHA256-RSA, drained by
//! the callback sender to a local receiver (callbacks/s); then, apart, the reports of a business
//! that has only an MD5 key, which SPEC §5 signs with MD5: the sender's own cost without RSA's.
//! Runs on a throw-away SQLite database.

use anyhow::{Context, bail};
use rewardgate_core::sign::Signer;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

#[derive(clap::Args)]
pub struct Args {
    /// Red packets for the rate-limited run.
    #[arg(long, default_value_t = 1200)]
    red_packets: usize,
    /// Coupons for the unlimited run (and their status reports).
    #[arg(long, default_value_t = 10_000)]
    coupons: usize,
    /// Coupons of a business with only an MD5 key, whose status reports are MD5-signed.
    #[arg(long, default_value_t = 10_000)]
    md5_reports: usize,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            red_packets: 1200,
            coupons: 10_000,
            md5_reports: 10_000,
        }
    }
}

const TOKEN: &str = "bench-delivery-token";
const MD5_KEY: &str = "bench-delivery-md5-key-0001";

/// What one run measured.
pub struct Figures {
    pub grants_per_s: f64,
    pub callbacks_per_s: f64,
    /// Status reports of a business with only an MD5 key (no RSA signature).
    pub md5_callbacks_per_s: f64,
}

pub async fn run(a: Args) -> anyhow::Result<()> {
    measure(a).await.map(|_| ())
}

pub async fn measure(a: Args) -> anyhow::Result<Figures> {
    let stop = CancellationToken::new();
    let _guard = stop.clone().drop_guard();
    let (sl, tl) = (
        tokio::net::TcpListener::bind("127.0.0.1:0").await?,
        tokio::net::TcpListener::bind("127.0.0.1:0").await?,
    );
    let sandbox = format!("http://{}", sl.local_addr()?);
    let world = Arc::new(rewardgate_sandbox::Sandbox::new());
    tokio::spawn(rewardgate_sandbox::run(
        world.clone(),
        sl,
        Some(tl),
        stop.clone(),
    ));
    let (receiver, received, received_md5) = callback_receiver(stop.clone()).await?;
    let dir = tempfile_dir()?;
    let database_url = format!("sqlite://{}/bench.db", dir.display());
    // The open API alone; each phase below starts its own worker (dispatcher or callback sender)
    // on the same database, as a second `serve` process would, so that a phase can measure how
    // fast a backlog drains.
    let http = reqwest::Client::new();
    let base = start_serve(&http, &database_url, false, false, &stop).await?;
    setup(&http, &base, &sandbox).await.context("setting up")?;
    println!(
        "rewardgate delivery bench — {} cores, SQLite, in-process sandbox and callback receiver",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );

    // 1. Red packets at the per-minute limit, placed while the dispatcher runs.
    let worker = stop.child_token();
    start_serve(&http, &database_url, true, false, &worker).await?;
    let started = Instant::now();
    place_all(&http, &base, "B1", "rp", a.red_packets, &receiver).await?;
    wait_effects(&world, a.red_packets, Duration::from_secs(600)).await?;
    worker.cancel();
    let effects: Vec<Value> = http
        .get(format!("{sandbox}/sandbox/v1/effects"))
        .send()
        .await?
        .json()
        .await?;
    let mut at: Vec<i64> = effects.iter().filter_map(|e| e["at"].as_i64()).collect();
    at.sort();
    let max_window = at
        .iter()
        .enumerate()
        .map(|(i, t)| at[i..].iter().take_while(|x| **x < t + 60_000).count())
        .max()
        .unwrap_or(0);
    // Steady state: past the first second's burst.
    let skip = 30.min(at.len() / 4);
    let span = (at[at.len() - 1] - at[skip]) as f64 / 60_000.0;
    let per_min = (at.len() - 1 - skip) as f64 / span;
    let stats = sandbox_stats(&http, &sandbox).await?;
    let limited = stats["refusals"]["SECOND_OVER_LIMITED"]
        .as_u64()
        .unwrap_or(0);
    println!(
        "red packets, one account limited to 1800/min: {} delivered in {:.1}s; steady {:.0}/min = {:.1} % of the limit; busiest 60 s window {}; SECOND_OVER_LIMITED {}",
        a.red_packets,
        started.elapsed().as_secs_f64(),
        per_min,
        per_min / 18.0,
        max_window,
        limited
    );
    if limited > 0 || max_window > 1800 {
        bail!("the upstream limit was tripped");
    }

    // 2. Coupons, no per-minute limit: a backlog placed first, then drained by a dispatcher.
    let started = Instant::now();
    place_all(&http, &base, "B1", "wx", a.coupons, &receiver).await?;
    println!(
        "coupons: {} placed in {:.2}s",
        a.coupons,
        started.elapsed().as_secs_f64()
    );
    let worker = stop.child_token();
    let started = Instant::now();
    start_serve(&http, &database_url, true, false, &worker).await?;
    wait_effects(&world, a.red_packets + a.coupons, Duration::from_secs(600)).await?;
    let drained = started.elapsed().as_secs_f64();
    // The last outcomes are written just after the sandbox counts their grants.
    tokio::time::sleep(Duration::from_secs(2)).await;
    worker.cancel();
    let stats = sandbox_stats(&http, &sandbox).await?;
    println!(
        "coupons, no limit: the backlog of {} granted in {drained:.2}s = {:.0} grants/s (upstream refusals: {})",
        a.coupons,
        a.coupons as f64 / drained,
        stats["refusals"]
    );

    // 3. Their status reports (one each: the coupons name the receiver, the red packets no one;
    // SHA256-RSA signed, as the business has an RSA key), drained by a callback sender.
    let sent = send_reports(&http, &database_url, &received, a.coupons, &stop).await?;
    if received_md5.load(Ordering::Relaxed) > 0 {
        bail!("a report of the business with an RSA key came signed MD5");
    }
    println!(
        "status reports: {} signed (SHA256-RSA) and answered in {sent:.2}s = {:.0} callbacks/s",
        a.coupons,
        a.coupons as f64 / sent
    );

    // 4. A business with only an MD5 key: its coupons granted (not timed), then their reports,
    // MD5-signed (SPEC §5), drained by a callback sender — what sending costs without RSA.
    place_all(&http, &base, "B2", "md", a.md5_reports, &receiver).await?;
    let worker = stop.child_token();
    start_serve(&http, &database_url, true, false, &worker).await?;
    wait_effects(
        &world,
        a.red_packets + a.coupons + a.md5_reports,
        Duration::from_secs(600),
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    worker.cancel();
    let md5_before = received_md5.load(Ordering::Relaxed);
    let md5_sent = send_reports(&http, &database_url, &received, a.md5_reports, &stop).await?;
    let md5_signed = received_md5.load(Ordering::Relaxed) - md5_before;
    if md5_signed != a.md5_reports {
        bail!(
            "{md5_signed} of the MD5-only business's {} reports came with signType MD5",
            a.md5_reports
        );
    }
    println!(
        "status reports of an MD5-only business: {} signed (MD5) and answered in {md5_sent:.2}s = {:.0} callbacks/s",
        a.md5_reports,
        a.md5_reports as f64 / md5_sent
    );
    stop.cancel();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Figures {
        grants_per_s: a.coupons as f64 / drained,
        callbacks_per_s: a.coupons as f64 / sent,
        md5_callbacks_per_s: a.md5_reports as f64 / md5_sent,
    })
}

/// Starts a callback sender on the database and waits until `n` more reports have reached the
/// receiver; the seconds that took.
async fn send_reports(
    http: &reqwest::Client,
    database_url: &str,
    received: &AtomicUsize,
    n: usize,
    stop: &CancellationToken,
) -> anyhow::Result<f64> {
    let already = received.load(Ordering::Relaxed);
    let worker = stop.child_token();
    let started = Instant::now();
    start_serve(http, database_url, false, true, &worker).await?;
    let deadline = Instant::now() + Duration::from_secs(600);
    while received.load(Ordering::Relaxed) < already + n {
        if Instant::now() > deadline {
            bail!(
                "only {} of {n} status reports arrived",
                received.load(Ordering::Relaxed) - already
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sent = started.elapsed().as_secs_f64();
    worker.cancel();
    Ok(sent)
}

/// The sandbox's refusal counts.
async fn sandbox_stats(http: &reqwest::Client, sandbox: &str) -> anyhow::Result<Value> {
    Ok(http
        .get(format!("{sandbox}/sandbox/v1/stats"))
        .send()
        .await?
        .json()
        .await?)
}

/// Starts a `serve` on the bench database (the open API always; the dispatcher and the
/// callback sender as asked) until `stop`, and waits until it answers.
async fn start_serve(
    http: &reqwest::Client,
    database_url: &str,
    dispatcher: bool,
    notifier: bool,
    stop: &CancellationToken,
) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let cfg = rewardgate_server::Config {
        listen: String::new(),
        database_url: database_url.to_string(),
        admin_token: Some(rewardgate_core::secret::Secret::new(TOKEN)),
        allow_private_callbacks: true,
        platform_key_file: None,
        dispatcher: rewardgate_server::dispatcher::DispatcherConfig {
            enabled: dispatcher,
            concurrency: 64,
            ..Default::default()
        },
        notifier: rewardgate_server::notifier::NotifierConfig {
            enabled: notifier,
            allow_private: true,
            ..Default::default()
        },
    };
    tokio::spawn(rewardgate_server::run(cfg, listener, stop.clone()));
    for _ in 0..200 {
        if http.get(format!("{base}/healthz")).send().await.is_ok() {
            return Ok(base);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("serve did not start")
}

/// A merchant's callback endpoint: counts status reports (and those signed MD5) and answers
/// SUCCESS.
async fn callback_receiver(
    stop: CancellationToken,
) -> anyhow::Result<(String, Arc<AtomicUsize>, Arc<AtomicUsize>)> {
    let (count, md5) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (c, m) = (count.clone(), md5.clone());
    let app = axum::Router::new().route(
        "/cb",
        axum::routing::post(move |headers: axum::http::HeaderMap| {
            let (c, m) = (c.clone(), m.clone());
            async move {
                if headers.get("signType").is_some_and(|v| v == "MD5") {
                    m.fetch_add(1, Ordering::Relaxed);
                }
                c.fetch_add(1, Ordering::Relaxed);
                "SUCCESS"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/cb", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await;
    });
    Ok((url, count, md5))
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let d = std::env::temp_dir().join(format!("rg-bench-delivery-{}", std::process::id()));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

async fn setup(http: &reqwest::Client, base: &str, sandbox: &str) -> anyhow::Result<()> {
    use reqwest::Method;
    let (mpriv, mpub) = rewardgate_core::keys::RsaPrivateKey::generate_pem()?;
    let (ppriv, ppub) = rewardgate_core::keys::RsaPrivateKey::generate_pem()?;
    let put = |path: String, body: Value| {
        let http = http.clone();
        async move {
            let r = http
                .put(format!("{sandbox}{path}"))
                .json(&body)
                .send()
                .await?;
            anyhow::ensure!(r.status().is_success(), "sandbox {path}");
            anyhow::Ok(())
        }
    };
    put(
        "/sandbox/v1/accounts/wechat-v2/1900000109".into(),
        json!({"apiKey": "k".repeat(32), "appIds": ["wx8888888888888888"], "balance": 10_000_000}),
    )
    .await?;
    put("/sandbox/v1/accounts/wechat-v3/1900000109".into(), json!({"merchantPublicKeyPem": mpub, "merchantSerialNo": "S1",
        "platformPrivateKeyPem": ppriv, "platformSerialNo": "P1", "apiV3Key": "v".repeat(32),
        "maxPerSecond": 1_000_000,
        "stocks": [{"stockId": "1", "couponValue": 5, "remaining": 10_000_000, "maxPerUser": 10_000_000}]})).await?;
    crate::signed::admin(http, base, TOKEN, Method::PUT, "/channel-accounts/wx2", json!({"kind": "WECHAT_V2", "mchId": "1900000109", "appId": "wx8888888888888888", "apiKey": "k".repeat(32), "baseUrl": sandbox})).await?;
    crate::signed::admin(http, base, TOKEN, Method::PUT, "/channel-accounts/wx3", json!({"kind": "WECHAT_V3", "mchId": "1900000109", "appId": "wx8888888888888888", "privateKeyPem": mpriv, "certSerialNo": "S1", "apiV3Key": "v".repeat(32), "platformPublicKeyPem": ppub, "platformSerialNo": "P1", "baseUrl": sandbox})).await?;
    crate::signed::admin(http, base, TOKEN, Method::PUT, "/templates/T1", json!({"channelAccountId": "wx2", "sendName": "s", "wishing": "w", "actName": "a", "remark": "r"})).await?;
    crate::signed::admin(
        http,
        base,
        TOKEN,
        Method::PUT,
        "/products/PWX",
        json!({"kind": "WECHAT_COUPON", "name": "c", "price": 4.5}),
    )
    .await?;
    crate::signed::admin(
        http,
        base,
        TOKEN,
        Method::PUT,
        "/activities/AWX",
        json!({"productCode": "PWX", "channelAccountId": "wx3", "upstreamId": "1"}),
    )
    .await?;
    crate::signed::admin(
        http,
        base,
        TOKEN,
        Method::PUT,
        "/merchants/M1",
        json!({"name": "m"}),
    )
    .await?;
    // B1 has an RSA key as well, so its status reports are SHA256-RSA signed; B2 has only an
    // MD5 key, so its reports are MD5-signed (SPEC §5).
    let businesses = [
        (
            "B1",
            json!({"merchantId": "M1", "name": "b", "md5Key": MD5_KEY, "rsaPublicKeyPem": mpub}),
        ),
        (
            "B2",
            json!({"merchantId": "M1", "name": "b2", "md5Key": MD5_KEY}),
        ),
    ];
    for (id, body) in businesses {
        let path = format!("/businesses/{id}");
        crate::signed::admin(http, base, TOKEN, Method::PUT, &path, body).await?;
        let topup = json!({"amount": 100_000_000, "reference": "bench"});
        crate::signed::admin(
            http,
            base,
            TOKEN,
            Method::POST,
            &format!("{path}/topups"),
            topup,
        )
        .await?;
    }
    Ok(())
}

async fn place_all(
    http: &reqwest::Client,
    base: &str,
    business: &'static str,
    kind: &'static str,
    n: usize,
    receiver: &str,
) -> anyhow::Result<()> {
    let mut set = tokio::task::JoinSet::new();
    let chunk = n.div_ceil(32);
    for c in 0..32 {
        let (http, base, receiver) = (http.clone(), base.to_string(), receiver.to_string());
        set.spawn(async move {
            for i in c * chunk..((c + 1) * chunk).min(n) {
                let (path, body) = if kind == "rp" {
                    ("/v1/openapi/order/redPacket", json!({"merchantId": "M1", "businessId": business, "templateId": "T1", "openId": format!("oU{i}"), "spec": 1, "bizCode": format!("rp{i}")}))
                } else {
                    ("/v1/openapi/order/wechat/coupons", json!({"merchantId": "M1", "businessId": business, "productCode": "PWX", "activityId": "AWX", "openId": format!("oU{i}"), "bizCode": format!("{kind}{i}"), "callbackUrl": receiver}))
                };
                let text = body.to_string();
                let url = format!("{base}{path}");
                let v = crate::signed::post(&http, &url, business, format!("{kind}{i}"), &text, Signer::Md5(MD5_KEY)).await?;
                anyhow::ensure!(v["status"] == 200, "order refused: {v}");
            }
            anyhow::Ok(())
        });
    }
    while let Some(r) = set.join_next().await {
        r??;
    }
    Ok(())
}

/// Waits until the sandbox has granted `n` in all. Counted in process: fetching the whole
/// effects list every poll would hold the sandbox's lock and serialise thousands of grants
/// while the figure is being measured.
async fn wait_effects(
    world: &rewardgate_sandbox::Sandbox,
    n: usize,
    within: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    loop {
        let granted = world.effect_count();
        if granted >= n {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("only {granted} of {n} delivered");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
