//! `rewardgate import-openids`: fills a Rabbitpre integration's user id → openid table from a CSV
//! file (`userId,openid` a line; a header line is skipped) through the admin API, in batches, with
//! progress and a summary. Bad lines are reported by number and skipped; nothing is half-written:
//! each batch is one transaction.

use anyhow::{Context, bail};
use serde_json::{Value, json};

#[derive(clap::Args)]
pub struct Args {
    /// The integration's id.
    #[arg(long)]
    integration: String,
    /// The CSV file.
    file: std::path::PathBuf,
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    #[arg(long, env = "RG_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: String,
}

const BATCH: usize = 5000;
/// What one batch's body may hold (the admin API takes 64 KiB; room left for the envelope).
const MAX_BODY: usize = 60 * 1024;

pub async fn run(a: Args) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&a.file)
        .with_context(|| format!("reading {}", a.file.display()))?;
    let mut pairs = Vec::new();
    let mut bad = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty()
            || (n == 0
                && line.to_ascii_lowercase().contains("openid")
                && line.to_ascii_lowercase().contains("user"))
        {
            continue;
        }
        let mut cols = line.split(',').map(|c| c.trim().trim_matches('"'));
        match (cols.next(), cols.next(), cols.next()) {
            (Some(u), Some(o), None)
                if !u.is_empty() && !o.is_empty() && u.len() <= 128 && o.len() <= 128 =>
            {
                pairs.push(json!({"userId": u, "openid": o}))
            }
            _ => bad.push(n + 1),
        }
    }
    if pairs.is_empty() {
        bail!("no userId,openid lines in {}", a.file.display());
    }
    let http = reqwest::Client::new();
    let mut stored = 0;
    let mut progress = crate::progress::Progress::new();
    // Batches under the admin API's 64 KiB body limit, and at most BATCH mappings each.
    let mut chunks: Vec<&[Value]> = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, p) in pairs.iter().enumerate() {
        let size = p.to_string().len() + 1;
        if i > start && (bytes + size > MAX_BODY || i - start >= BATCH) {
            chunks.push(&pairs[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    chunks.push(&pairs[start..]);
    for chunk in chunks {
        let v: Value = http
            .post(format!(
                "{}/admin/v1/rabbitpre-integrations/{}/openids",
                a.url.trim_end_matches('/'),
                a.integration
            ))
            .bearer_auth(&a.admin_token)
            .json(&json!({"mappings": chunk}))
            .send()
            .await?
            .json()
            .await?;
        if v["status"] != 200 {
            bail!("after {stored} stored: {}", v["message"]);
        }
        stored += chunk.len();
        progress.update(&format!("  {stored}/{} stored", pairs.len()));
    }
    progress.finish();
    println!(
        "imported {stored} mappings into integration {}; {} bad lines skipped{}",
        a.integration,
        bad.len(),
        if bad.is_empty() {
            String::new()
        } else {
            format!(" (lines {:?})", &bad[..bad.len().min(20)])
        }
    );
    Ok(())
}
