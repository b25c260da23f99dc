//! `bench --suite`: every figure of issue 12 in one run, each server started here so that its
//! CPU and memory are its own: intake on a fresh SQLite file and on a fresh PostgreSQL database
//! (wrk when installed, else the built-in client), then `bench-delivery`.

use super::BenchArgs;
use anyhow::{Context, bail};
use std::process::{Command, Stdio};
use std::time::Duration;

const TOKEN: &str = "bench-suite-admin-token";

pub(super) async fn run(a: BenchArgs) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("rg-bench-suite-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let name = format!("rg_bench_{}", std::process::id());
    let pg = database_url(&a.postgres_url, &name)?;
    let (server, n) = (a.postgres_url.clone(), name.clone());
    tokio::task::spawn_blocking(move || create_database(&server, &n))
        .await?
        .context("creating the PostgreSQL database (is --postgres-url's server up?)")?;
    let wrk = a.wrk || Command::new("wrk").arg("--version").output().is_ok();
    if !wrk {
        println!("(wrk is not installed: the built-in client drives the load)");
    }
    let mut result = Ok(0.0);
    for (label, url) in [
        ("SQLite", format!("sqlite://{}/bench.db", dir.display())),
        ("PostgreSQL", pg),
    ] {
        println!("\n== intake on {label}");
        let r = intake(&a, &dir, &url, wrk).await;
        let stop = r.is_err();
        // The first (SQLite) run's GET rate is the ceiling the delivery figures are put beside.
        if !matches!(result, Ok(g) if g > 0.0) || stop {
            result = r;
        }
        if stop {
            break;
        }
    }
    let server = a.postgres_url.clone();
    let _ = tokio::task::spawn_blocking(move || {
        postgres::Client::connect(&server, postgres::NoTls)
            .and_then(|mut c| c.batch_execute(&format!("DROP DATABASE IF EXISTS {name}")))
    })
    .await;
    let get = result?;
    println!("\n== delivery and callbacks");
    let f = crate::bench_delivery::measure(Default::default()).await?;
    println!(
        "  ratios to the SQLite run's plain GET (with --wrk the mean of its two; {get:.0}/s): grants {:.3}, callbacks {:.3} (MD5-signed {:.3})",
        f.grants_per_s / get,
        f.callbacks_per_s / get,
        f.md5_callbacks_per_s / get
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

async fn intake(a: &BenchArgs, dir: &std::path::Path, url: &str, wrk: bool) -> anyhow::Result<f64> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let log = std::fs::File::create(dir.join(format!("serve-{port}.log")))?;
    let mut child = Command::new(std::env::current_exe()?)
        .arg("serve")
        .env("RG_DATABASE_URL", url)
        .env("RG_ADMIN_TOKEN", TOKEN)
        .env("RG_DISPATCHER", "off")
        .env("RG_LISTEN", format!("127.0.0.1:{port}"))
        .env("RG_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .context("starting serve")?;
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut up = false;
    for _ in 0..200 {
        if http.get(format!("{base}/healthz")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let args = BenchArgs {
        url: base,
        admin_token: TOKEN.into(),
        pid: Some(child.id()),
        wrk,
        suite: false,
        ..a.clone()
    };
    let r = if up {
        Box::pin(super::intake(args)).await
    } else {
        Err(anyhow::anyhow!(
            "serve did not answer within 20 s (log in {})",
            dir.display()
        ))
    };
    let _ = child.kill();
    let _ = child.wait();
    r
}

/// The server's URL with `name` as its database.
fn database_url(server: &str, name: &str) -> anyhow::Result<String> {
    let (base, query) = server.split_once('?').unwrap_or((server, ""));
    let Some((head, _)) = base.rsplit_once('/') else {
        bail!("--postgres-url {server}: expected postgres://…/DATABASE");
    };
    if !head.contains("//") || head.ends_with('/') {
        bail!("--postgres-url {server}: expected postgres://…/DATABASE");
    }
    Ok(if query.is_empty() {
        format!("{head}/{name}")
    } else {
        format!("{head}/{name}?{query}")
    })
}

fn create_database(server: &str, name: &str) -> anyhow::Result<()> {
    let mut c = postgres::Client::connect(server, postgres::NoTls)?;
    c.batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))?;
    c.batch_execute(&format!("CREATE DATABASE {name}"))?;
    Ok(())
}
