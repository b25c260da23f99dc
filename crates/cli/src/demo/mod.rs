//! `rewardgate demo`: the newcomer's first run. The sandbox and `serve` in one process on a
//! throw-away SQLite database; a demo catalogue, merchant and business set up through the admin
//! API; a handful of signed orders of every kind followed to their end with a progress line;
//! their callbacks received on a local receiver; a summary table; exit 0, or non-zero naming the
//! step that failed. `--keep` stays up for exploring.

use anyhow::{Context, bail};
use rewardgate_core::keys::RsaPrivateKey;
use rewardgate_core::sign::Signer;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

mod follow;
mod setup;

use follow::*;
use setup::*;

#[derive(clap::Args)]
pub struct Args {
    /// Stay up afterwards (Ctrl-C to stop).
    #[arg(long)]
    keep: bool,
    /// Where serve listens.
    #[arg(long, env = "RG_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// Where the sandbox listens.
    #[arg(long, env = "RG_SANDBOX_LISTEN", default_value = "127.0.0.1:9090")]
    sandbox_listen: String,
    /// The database (default: a throw-away SQLite file); `postgres://…` to try PostgreSQL. It
    /// should be empty: the demo's orders are placed with fixed bizCodes.
    #[arg(long)]
    database_url: Option<String>,
    /// Give an order up as STUCK after this many seconds without a definite answer (default 24 h;
    /// the console's browser tests use a few seconds).
    #[arg(long, hide = true)]
    give_up_after_secs: Option<u64>,
}

const MD5_KEY: &str = "demo-md5-key-0123456789abcdef";

struct Step(&'static str);

impl Step {
    fn ctx<T>(&self, r: anyhow::Result<T>) -> anyhow::Result<T> {
        r.with_context(|| format!("demo step failed: {}", self.0))
    }
}

/// Where the demo's log goes, so that its own lines stay readable.
pub fn log_path() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("rewardgate-demo-{}.log", std::process::id()))
}

pub async fn run(a: Args) -> anyhow::Result<()> {
    let stop = CancellationToken::new();
    let _guard = stop.clone().drop_guard();
    let dir = std::env::temp_dir().join(format!("rewardgate-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let token = format!("demo-{}", rewardgate_channels::nonce(16));

    println!(
        "rewardgate demo — sandbox upstreams and serve in one process, database {}",
        a.database_url
            .clone()
            .unwrap_or_else(|| format!("{}/demo.db", dir.display()))
    );
    if std::env::var_os("RG_LOG").is_none() {
        println!("  log: {}", log_path().display());
    }
    let s = Step("start the sandbox and serve");
    let (sandbox, base) = s.ctx(start(&a, &dir, &token, &stop).await)?;
    let (receiver, received) =
        Step("start the callback receiver").ctx(callback_receiver(&stop).await)?;
    let http = reqwest::Client::new();
    let keys = Step("set up the sandbox accounts and the demo catalogue")
        .ctx(setup(&http, &base, &sandbox, &token, &receiver).await)?;
    println!("  sandbox {sandbox}   serve {base}   callbacks {receiver}");

    let s = Step("place signed orders of every kind");
    let orders = s.ctx(place(&http, &base, &keys).await)?;
    println!(
        "  placed {} orders (SHA256-RSA and MD5 signed)",
        orders.len()
    );

    let s = Step("follow the orders and their callbacks to the end");
    s.ctx(follow(&http, &base, &sandbox, &token, &orders, &received).await)?;

    summary(&http, &base, &token, &orders, &received).await?;
    let _ = std::fs::remove_dir_all(&dir).ok().filter(|_| !a.keep);
    println!("\nOperator console: {base}/console   (sign in with the admin token {token})");
    println!("API reference:    {base}/docs");
    println!("\nTry next (admin token {token}):");
    println!("  curl -s -H 'Authorization: Bearer {token}' '{base}/admin/v1/orders?limit=10'");
    println!(
        "  curl -s -H 'Authorization: Bearer {token}' {base}/admin/v1/orders/{}",
        orders[0].1
    );
    println!("  curl -s {sandbox}/sandbox/v1/effects");
    println!("  curl -s {base}/v1/openapi/platform/publicKey");
    println!("  curl -s {base}/metrics");
    if a.keep {
        println!("\nStaying up (--keep); Ctrl-C to stop.");
        tokio::signal::ctrl_c().await?;
    } else {
        println!("  (run `rewardgate demo --keep` to keep everything up)");
    }
    stop.cancel();
    Ok(())
}

async fn start(
    a: &Args,
    dir: &std::path::Path,
    token: &str,
    stop: &CancellationToken,
) -> anyhow::Result<(String, String)> {
    let sl = tokio::net::TcpListener::bind(&a.sandbox_listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (set RG_SANDBOX_LISTEN)",
                a.sandbox_listen
            )
        })?;
    let sandbox = format!("http://{}", sl.local_addr()?);
    tokio::spawn(rewardgate_sandbox::run(
        Arc::new(rewardgate_sandbox::Sandbox::new()),
        sl,
        None,
        stop.clone(),
    ));
    let listener = tokio::net::TcpListener::bind(&a.listen)
        .await
        .with_context(|| format!("cannot listen on {} (set RG_LISTEN)", a.listen))?;
    let base = format!("http://{}", listener.local_addr()?);
    let mut dispatcher = rewardgate_server::dispatcher::DispatcherConfig {
        follow_interval: Duration::from_secs(1),
        // The sandbox's 商家转账 notifications come back here.
        public_url: Some(base.clone()),
        ..Default::default()
    };
    if let Some(secs) = a.give_up_after_secs {
        dispatcher.give_up_after = Duration::from_secs(secs);
    }
    let cfg = rewardgate_server::Config {
        listen: a.listen.clone(),
        database_url: a
            .database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}/demo.db", dir.display())),
        admin_token: Some(rewardgate_core::secret::Secret::new(token)),
        allow_private_callbacks: true,
        platform_key_file: None,
        dispatcher,
        notifier: rewardgate_server::notifier::NotifierConfig {
            schedule: vec![Duration::from_secs(1); 5],
            ..Default::default()
        },
    };
    tokio::spawn(rewardgate_server::run(cfg, listener, stop.clone()));
    let http = reqwest::Client::new();
    for _ in 0..100 {
        if http.get(format!("{base}/healthz")).send().await.is_ok() {
            return Ok((sandbox, base));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("serve did not come up")
}

type Received = Arc<Mutex<Vec<Value>>>;

async fn callback_receiver(stop: &CancellationToken) -> anyhow::Result<(String, Received)> {
    let got: Received = Arc::default();
    let g = got.clone();
    let app = axum::Router::new().route(
        "/notify",
        axum::routing::post(move |body: String| {
            let g = g.clone();
            async move {
                if let Ok(v) = serde_json::from_str::<Value>(&body) {
                    g.lock().expect("lock").push(v);
                }
                "SUCCESS"
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/notify", l.local_addr()?);
    let stop = stop.clone();
    tokio::spawn(async move {
        axum::serve(l, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await
    });
    Ok((url, got))
}
