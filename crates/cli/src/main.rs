//! The `rewardgate` binary: a thin layer over the library crates.

mod bench;
mod bench_delivery;
mod config;
mod demo;
mod import;
mod prefill;
mod progress;
mod signed;
mod verify;

use clap::{Parser, Subcommand};

/// mimalloc: under intake load glibc's malloc/free were ~8 % of the writer thread and more of
/// the request threads (perf); every order allocates its rows, JSON and answer.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "rewardgate",
    version,
    about = "A rewards-issuing gateway: WeChat red packets, WeChat and Alipay coupons"
)]
struct Cli {
    /// Optional TOML file (keys: listen, database_url, admin_token, allow_private_callbacks).
    #[arg(long, global = true, env = "RG_CONFIG")]
    config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the open API and the admin API.
    Serve,
    /// A first run: sandbox and serve in one process, a demo merchant, orders of every kind
    /// followed to their end with their callbacks, a summary. `--keep` stays up.
    Demo(demo::Args),
    /// Import Rabbitpre user id → openid mappings from a CSV file (userId,openid).
    ImportOpenids(import::Args),
    /// Delivery benchmark against an in-process sandbox (rate-limited red packets, then coupons).
    BenchDelivery(bench_delivery::Args),
    /// Check a status report's signature (for merchants): exit 0 if valid, 1 if not.
    VerifyCallback(verify::Args),
    /// Local stand-ins for WeChat Pay v2/v3 and the Alipay gateway (SPEC §9).
    Sandbox {
        /// Plain HTTP address.
        #[arg(long, env = "RG_SANDBOX_LISTEN", default_value = "127.0.0.1:9090")]
        listen: String,
        /// HTTPS address that asks for client certificates (WeChat Pay v2 mTLS); "off" to disable.
        #[arg(long, env = "RG_SANDBOX_TLS_LISTEN", default_value = "127.0.0.1:9443")]
        tls_listen: String,
    },
    /// Intake benchmark: pre-signed unique orders at fixed concurrency against a running serve.
    Bench(bench::BenchArgs),
    /// Load N finished orders into a database (history for growth benchmarks).
    Prefill(prefill::Args),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // The demo's own lines are its output: its log goes to a file (unless RG_LOG asks otherwise).
    let demo_log = matches!(cli.command, Command::Demo(_)).then(demo::log_path);
    // A benchmark's lines are its figures: the in-process server logs only warnings and errors
    // (unless RG_LOG asks otherwise).
    let quiet = matches!(
        cli.command,
        Command::BenchDelivery(_) | Command::Prefill(_) | Command::Bench(_)
    );
    let log = init_tracing(demo_log.as_deref(), if quiet { "warn" } else { "info" });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let ran = run(cli, &rt);
    // The log's last lines are written before the process ends (an exit skips destructors).
    drop(rt);
    drop(log);
    match ran {
        Ok(true) => Ok(()),
        Ok(false) => std::process::exit(1),
        Err(e) => Err(e),
    }
}

/// Runs one command; false when it ended in a "no" that is not an error (the process exits 1).
fn run(cli: Cli, rt: &tokio::runtime::Runtime) -> anyhow::Result<bool> {
    match cli.command {
        Command::Serve => {
            let cfg = config::load(cli.config.as_deref())?;
            rt.block_on(serve(cfg))
        }
        Command::Bench(args) => rt.block_on(bench::run(args)),
        Command::Prefill(args) => rt.block_on(prefill::run(args)),
        Command::BenchDelivery(args) => rt.block_on(bench_delivery::run(args)),
        Command::Demo(args) => rt.block_on(demo::run(args)),
        Command::ImportOpenids(args) => rt.block_on(import::run(args)),
        Command::VerifyCallback(args) => return rt.block_on(verify::run(args)),
        Command::Sandbox { listen, tls_listen } => rt.block_on(sandbox(listen, tls_listen)),
    }
    .map(|()| true)
}

/// The log: lines are formatted where they happen and written by a thread of their own
/// (tracing-appender), so that a request never waits for a write to stderr or the file — one
/// `write` a line on the request's worker cost ~15 % of intake (`rewardgate bench`, SQLite, one
/// INFO line an accepted order). Nothing is dropped: a full queue makes the logging thread wait
/// (lossy off). The returned guard writes what is queued when it is dropped.
fn init_tracing(
    to_file: Option<&std::path::Path>,
    default_level: &str,
) -> tracing_appender::non_blocking::WorkerGuard {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("RG_LOG").unwrap_or_else(|_| EnvFilter::new(default_level));
    let json = std::env::var("RG_LOG_FORMAT").is_ok_and(|v| v == "json");
    let file = to_file
        .filter(|_| std::env::var_os("RG_LOG").is_none())
        .and_then(|p| std::fs::File::create(p).ok());
    // Colours only on a terminal: a log redirected to a file stays plain text.
    let (sink, ansi): (Box<dyn std::io::Write + Send>, bool) = match file {
        Some(f) => (Box::new(f), false),
        None => (Box::new(std::io::stderr()), std::io::stderr().is_terminal()),
    };
    // Buffered: the thread writes what it has, then flushes once its queue is empty.
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("rg-log")
        .finish(std::io::BufWriter::new(sink));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer);
    if json {
        b.json().init()
    } else {
        b.init()
    }
    guard
}

async fn serve(cfg: rewardgate_server::Config) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&cfg.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", cfg.listen))?;
    if cfg.admin_token.is_none() {
        tracing::warn!("RG_ADMIN_TOKEN is not set: the admin API is off");
    }
    let shutdown = CancellationToken::new();
    let s = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down: finishing requests in flight");
        s.cancel();
    });
    rewardgate_server::run(cfg, listener, shutdown).await
}

async fn sandbox(listen: String, tls_listen: String) -> anyhow::Result<()> {
    let l = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    let tls = match tls_listen.as_str() {
        "off" | "" => None,
        a => Some(
            tokio::net::TcpListener::bind(a)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {a}: {e}"))?,
        ),
    };
    let shutdown = CancellationToken::new();
    let s = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        s.cancel();
    });
    rewardgate_sandbox::run(
        std::sync::Arc::new(rewardgate_sandbox::Sandbox::new()),
        l,
        tls,
        shutdown,
    )
    .await
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
