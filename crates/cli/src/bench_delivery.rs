//! `rewardgate bench-delivery`: delivery throughput against an in-process sandbox. First red
//! packets through one channel account at its 1800-a-minute limit (target: at least 97 % of it
//! and no SECOND_OVER_LIMITED), then WeChat coupons, which have no per-minute limit, for the
//! dispatcher's own orders/s. Runs on a throw-away SQLite database.

use anyhow::{Context, bail};
use rewardgate_core::sign::Signer;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

#[derive(clap::Args)]
pub struct Args {
    /// Red packets for the rate-limited run.
    #[arg(long, default_value_t = 1200)]
    red_packets: usize,
    /// Coupons for the unlimited run.
    #[arg(long, default_value_t = 3000)]
    coupons: usize,
}

const TOKEN: &str = "bench-delivery-token";
const MD5_KEY: &str = "bench-delivery-md5-key-0001";

pub async fn run(a: Args) -> anyhow::Result<()> {
    let stop = CancellationToken::new();
    let _guard = stop.clone().drop_guard();
    let (sl, tl) = (
        tokio::net::TcpListener::bind("127.0.0.1:0").await?,
        tokio::net::TcpListener::bind("127.0.0.1:0").await?,
    );
    let sandbox = format!("http://{}", sl.local_addr()?);
    tokio::spawn(rewardgate_sandbox::run(
        Arc::new(rewardgate_sandbox::Sandbox::new()),
        sl,
        Some(tl),
        stop.clone(),
    ));
    let dir = tempfile_dir()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let cfg = rewardgate_server::Config {
        listen: String::new(),
        database_url: format!("sqlite://{}/bench.db", dir.display()),
        admin_token: Some(rewardgate_core::secret::Secret::new(TOKEN)),
        allow_private_callbacks: true,
        platform_key_file: None,
        dispatcher: rewardgate_server::dispatcher::DispatcherConfig {
            concurrency: 64,
            ..Default::default()
        },
        notifier: Default::default(),
    };
    tokio::spawn(rewardgate_server::run(cfg, listener, stop.clone()));
    let http = reqwest::Client::new();
    for _ in 0..100 {
        if http.get(format!("{base}/healthz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    setup(&http, &base, &sandbox).await.context("setting up")?;
    println!(
        "rewardgate delivery bench — {} cores, SQLite, in-process sandbox",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );

    // 1. Red packets at the per-minute limit.
    let started = Instant::now();
    place_all(&http, &base, "rp", a.red_packets).await?;
    wait_effects(&http, &sandbox, a.red_packets, Duration::from_secs(600)).await?;
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
    let stats: Value = http
        .get(format!("{sandbox}/sandbox/v1/stats"))
        .send()
        .await?
        .json()
        .await?;
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

    // 2. Coupons, no per-minute limit: the dispatcher's own pace.
    let started = Instant::now();
    place_all(&http, &base, "wx", a.coupons).await?;
    let placed = started.elapsed();
    let granted_while_placing = effects_count(&http, &sandbox)
        .await?
        .saturating_sub(a.red_packets);
    wait_effects(
        &http,
        &sandbox,
        a.red_packets + a.coupons,
        Duration::from_secs(600),
    )
    .await?;
    let all = started.elapsed();
    let after = (all - placed).as_secs_f64().max(0.001);
    println!(
        "coupons, no limit: {} placed in {:.2}s ({} already granted by then), all delivered after {:.2}s = {:.0} deliveries/s end to end; {:.0} grants/s once placing was over",
        a.coupons,
        placed.as_secs_f64(),
        granted_while_placing,
        all.as_secs_f64(),
        a.coupons as f64 / all.as_secs_f64(),
        (a.coupons - granted_while_placing) as f64 / after
    );
    stop.cancel();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
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
    crate::signed::admin(
        http,
        base,
        TOKEN,
        Method::PUT,
        "/businesses/B1",
        json!({"merchantId": "M1", "name": "b", "md5Key": MD5_KEY}),
    )
    .await?;
    crate::signed::admin(
        http,
        base,
        TOKEN,
        Method::POST,
        "/businesses/B1/topups",
        json!({"amount": 100_000_000, "reference": "bench"}),
    )
    .await?;
    Ok(())
}

async fn place_all(
    http: &reqwest::Client,
    base: &str,
    kind: &'static str,
    n: usize,
) -> anyhow::Result<()> {
    let mut set = tokio::task::JoinSet::new();
    let chunk = n.div_ceil(32);
    for c in 0..32 {
        let (http, base) = (http.clone(), base.to_string());
        set.spawn(async move {
            for i in c * chunk..((c + 1) * chunk).min(n) {
                let (path, body) = if kind == "rp" {
                    ("/v1/openapi/order/redPacket", json!({"merchantId": "M1", "businessId": "B1", "templateId": "T1", "openId": format!("oU{i}"), "spec": 1, "bizCode": format!("rp{i}")}))
                } else {
                    ("/v1/openapi/order/wechat/coupons", json!({"merchantId": "M1", "businessId": "B1", "productCode": "PWX", "activityId": "AWX", "openId": format!("oU{i}"), "bizCode": format!("wx{i}")}))
                };
                let text = body.to_string();
                let url = format!("{base}{path}");
                let v = crate::signed::post(&http, &url, "B1", format!("{kind}{i}"), &text, Signer::Md5(MD5_KEY)).await?;
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

/// How many grants the sandbox has made so far.
async fn effects_count(http: &reqwest::Client, sandbox: &str) -> anyhow::Result<usize> {
    let e: Vec<Value> = http
        .get(format!("{sandbox}/sandbox/v1/effects"))
        .send()
        .await?
        .json()
        .await?;
    Ok(e.len())
}

async fn wait_effects(
    http: &reqwest::Client,
    sandbox: &str,
    n: usize,
    within: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    loop {
        let e: Vec<Value> = http
            .get(format!("{sandbox}/sandbox/v1/effects"))
            .send()
            .await?
            .json()
            .await?;
        if e.len() >= n {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("only {} of {n} delivered", e.len());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
