//! `bench --wrk`: the same merchant and orders, driven by wrk (C, event loop, two threads) so that
//! the load generator takes as little of the machine as it can, and so that the figures compare
//! with the issue's. Each pre-signed order is sent once (`orders.lua` splits them between wrk's
//! threads); accepted orders are counted by the money they hold, not by HTTP status (every
//! answer of the open API is HTTP 200).

use super::{BenchArgs, Signed, sign_order};
use anyhow::{Context, bail};
use rewardgate_core::keys::RsaPrivateKey;
use std::path::Path;
use std::process::Command;

const SCRIPT: &str = include_str!("orders.lua");
const ORDER_PATH: &str = "/v1/openapi/order/redPacket";
/// wrk's threads: one per core of these machines.
const THREADS: usize = 2;

/// One wrk run's figures, from the script's `done` line.
#[derive(Debug, Default)]
struct WrkRun {
    requests: u64,
    duration_us: u64,
    p50_us: u64,
    p99_us: u64,
    p999_us: u64,
    status_errors: u64,
    socket_errors: u64,
    exhausted: u64,
}

impl WrkRun {
    fn rate(&self) -> f64 {
        self.requests as f64 / (self.duration_us.max(1) as f64 / 1e6)
    }
}

pub(super) async fn run(
    http: &reqwest::Client,
    a: &BenchArgs,
    biz: &str,
    md5_key: &str,
    key: &RsaPrivateKey,
    tag: &str,
) -> anyhow::Result<f64> {
    if Command::new("wrk").arg("--version").output().is_err() {
        bail!("--wrk needs wrk on the PATH (apt install wrk)");
    }
    let dir = std::env::temp_dir().join(format!("rg-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let script = dir.join("orders.lua");
    std::fs::write(&script, SCRIPT)?;
    let seconds = a.seconds;

    let get = wrk(a, &script, None, seconds)?;
    println!(
        "plain GET /healthz (wrk): {:.0}/s, p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms",
        get.rate(),
        ms(get.p50_us),
        ms(get.p99_us),
        ms(get.p999_us)
    );
    // One order first: what an order holds, so that the held money counts the accepted ones.
    let before = frozen(http, a, biz).await?;
    let one = sign_order(biz, md5_key, key, "MD5", &format!("{tag}-warm"));
    post(http, a, &one).await?;
    let per_order = frozen(http, a, biz).await? - before;
    if per_order <= 0 {
        bail!("the warm-up order was not accepted");
    }
    let mut peak_rss = None;
    let mut rates = Vec::new();
    for scheme in ["MD5", "SHA256-RSA"] {
        let file = dir.join(format!("orders-{scheme}.txt"));
        write_orders(&file, a.requests, |i| {
            sign_order(biz, md5_key, key, scheme, &format!("{tag}-{scheme}-{i}"))
        })?;
        let held_before = frozen(http, a, biz).await?;
        let cpu_before = a.pid.map(cpu_ticks).transpose()?;
        let r = wrk(a, &script, Some(&file), seconds)?;
        let cpu_after = a.pid.map(cpu_ticks).transpose()?;
        let accepted = (frozen(http, a, biz).await? - held_before) / per_order;
        let _ = std::fs::remove_file(&file);
        if r.exhausted > 0 {
            bail!(
                "wrk ran out of pre-signed orders within {seconds} s: raise --requests (now {})",
                a.requests
            );
        }
        let posted = r.requests;
        println!(
            "signed orders, {scheme} (wrk): {posted} in {:.2}s = {:.0}/s, p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms; accepted {accepted}, HTTP errors {}, socket errors {}",
            r.duration_us as f64 / 1e6,
            r.rate(),
            ms(r.p50_us),
            ms(r.p99_us),
            ms(r.p999_us),
            r.status_errors,
            r.socket_errors
        );
        println!("  ratio to plain GET: {:.3}", r.rate() / get.rate());
        rates.push((scheme, r.rate()));
        if let (Some(b), Some(e)) = (cpu_before, cpu_after) {
            // USER_HZ is 100 on Linux: a tick is 10 ms.
            let cpu_ms = (e - b) as f64 * 10.0;
            println!(
                "  server CPU: {:.3} ms an order ({:.2} cores busy)",
                cpu_ms / accepted.max(1) as f64,
                cpu_ms / 1e3 / (r.duration_us as f64 / 1e6)
            );
        }
        // wrk counts the answers it read; orders still in flight when it stopped were taken too.
        let accepted = accepted.max(0) as u64;
        if accepted < posted || accepted > posted + a.concurrency as u64 {
            bail!("{posted} orders answered but {accepted} accepted");
        }
        peak_rss = a.pid.map(peak_rss_kib).transpose()?;
    }
    if let Some(kib) = peak_rss {
        println!("server peak RSS: {:.1} MiB", kib as f64 / 1024.0);
    }
    // GET again after the orders: on a shared machine GET alone moves by a third between runs of
    // the same hour, so the ratios are given to the mean of the GET before and the GET after too.
    let again = wrk(a, &script, None, seconds)?;
    let mean = (get.rate() + again.rate()) / 2.0;
    println!(
        "plain GET /healthz again (wrk): {:.0}/s; ratios to the mean of both GETs ({mean:.0}/s): {}",
        again.rate(),
        rates
            .iter()
            .map(|(scheme, rate)| format!("{scheme} {:.3}", rate / mean))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(mean)
}

fn ms(us: u64) -> f64 {
    us as f64 / 1e3
}

fn wrk(a: &BenchArgs, script: &Path, file: Option<&Path>, seconds: u64) -> anyhow::Result<WrkRun> {
    let mut c = Command::new("wrk");
    c.args(["-t", &THREADS.to_string(), "-c", &a.concurrency.to_string()])
        .args(["-d", &format!("{seconds}s"), "--timeout", "10s", "-s"])
        .arg(script)
        .arg(&a.url)
        .env("RG_BENCH_THREADS", THREADS.to_string())
        .env("RG_BENCH_PATH", ORDER_PATH);
    if let Some(f) = file {
        c.env("RG_BENCH_FILE", f);
    }
    let out = c.output().context("running wrk")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("RG "))
        .with_context(|| format!("wrk said: {text}{}", String::from_utf8_lossy(&out.stderr)))?;
    let mut r = WrkRun::default();
    for kv in line.split_whitespace().skip(1) {
        let (k, v) = kv.split_once('=').context("wrk's summary line")?;
        let v: u64 = v.parse().context("wrk's summary line")?;
        match k {
            "requests" => r.requests = v,
            "duration_us" => r.duration_us = v,
            "p50_us" => r.p50_us = v,
            "p99_us" => r.p99_us = v,
            "p999_us" => r.p999_us = v,
            "status_errors" => r.status_errors = v,
            "socket_errors" => r.socket_errors = v,
            "exhausted" => r.exhausted = v,
            _ => {}
        }
    }
    Ok(r)
}

/// Signs `n` orders on every core and writes them one per line for `orders.lua`.
fn write_orders(
    file: &Path,
    n: usize,
    sign: impl Fn(usize) -> Signed + Sync,
) -> anyhow::Result<()> {
    let cores = super::cores();
    let parts: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..cores)
            .map(|c| {
                let sign = &sign;
                s.spawn(move || {
                    let mut out = String::new();
                    for i in (c..n).step_by(cores) {
                        let o = sign(i);
                        for (k, v) in &o.headers {
                            out.push_str(k);
                            out.push_str(": ");
                            out.push_str(v);
                            out.push('\t');
                        }
                        out.push_str("Content-Type: application/json; charset=utf-8\t");
                        out.push_str(&o.body);
                        out.push('\n');
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    std::fs::write(file, parts.concat())?;
    Ok(())
}

async fn post(http: &reqwest::Client, a: &BenchArgs, o: &Signed) -> anyhow::Result<()> {
    let mut rb = http
        .post(format!("{}{ORDER_PATH}", a.url))
        .header("Content-Type", "application/json; charset=utf-8");
    for (k, v) in &o.headers {
        rb = rb.header(*k, v);
    }
    let v: serde_json::Value = rb.body(o.body.clone()).send().await?.json().await?;
    if v["status"] != 200 {
        bail!("the warm-up order was refused: {v}");
    }
    Ok(())
}

async fn frozen(http: &reqwest::Client, a: &BenchArgs, biz: &str) -> anyhow::Result<i64> {
    let v = crate::signed::admin(
        http,
        &a.url,
        &a.admin_token,
        reqwest::Method::GET,
        &format!("/businesses/{biz}/balance"),
        serde_json::Value::Null,
    )
    .await?;
    let fen = rewardgate_core::money::Fen::parse_yuan(&v["frozen"].to_string())
        .map_err(|e| anyhow::anyhow!("the balance answer {v}: {e}"))?;
    Ok(fen.0)
}

/// The process's user + system CPU time in clock ticks (/proc/PID/stat fields 14 and 15).
fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat (is --pid the serve process?)"))?;
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let n =
        |i: usize| -> anyhow::Result<u64> { Ok(f.get(i).context("/proc stat fields")?.parse()?) };
    Ok(n(11)? + n(12)?)
}

/// The process's peak resident set (VmHWM), in KiB.
fn peak_rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("VmHWM in /proc status")
}
