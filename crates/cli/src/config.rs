//! Layered configuration: defaults, then the optional TOML file, then `RG_*` variables; checked
//! before anything starts.

use anyhow::Context;
use rewardgate_core::secret::Secret;
use rewardgate_server::Config;
use serde::Deserialize;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    database_url: Option<String>,
    admin_token: Option<String>,
    allow_private_callbacks: Option<bool>,
}

pub fn load(path: Option<&std::path::Path>) -> anyhow::Result<Config> {
    let mut c = Config::default();
    if let Some(p) = path {
        let text =
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
        let f: FileConfig =
            toml::from_str(&text).with_context(|| format!("parsing {}", p.display()))?;
        c.listen = f.listen.unwrap_or(c.listen);
        c.database_url = f.database_url.unwrap_or(c.database_url);
        c.admin_token = f.admin_token.map(Secret::new).or(c.admin_token);
        c.allow_private_callbacks = f
            .allow_private_callbacks
            .unwrap_or(c.allow_private_callbacks);
    }
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if let Some(v) = env("RG_LISTEN") {
        c.listen = v;
    }
    if let Some(v) = env("RG_DATABASE_URL") {
        c.database_url = v;
    }
    if let Some(v) = env("RG_ADMIN_TOKEN") {
        c.admin_token = Some(Secret::new(v));
    }
    if let Some(v) = env("RG_ALLOW_PRIVATE_CALLBACKS") {
        c.allow_private_callbacks = match v.as_str() {
            "true" | "1" => true,
            "false" | "0" => false,
            _ => anyhow::bail!("RG_ALLOW_PRIVATE_CALLBACKS must be true or false"),
        };
    }
    let secs = |k: &str| -> anyhow::Result<Option<std::time::Duration>> {
        match env(k) {
            None => Ok(None),
            Some(v) => v
                .parse::<u64>()
                .map(|n| Some(std::time::Duration::from_secs(n)))
                .map_err(|_| anyhow::anyhow!("{k} must be a whole number of seconds")),
        }
    };
    let d = &mut c.dispatcher;
    if let Some(v) = secs("RG_FOLLOW_INTERVAL_SECS")? {
        d.follow_interval = v;
    }
    if let Some(v) = secs("RG_GIVE_UP_AFTER_SECS")? {
        d.give_up_after = v;
    }
    if let Some(v) = secs("RG_FOLLOW_FOR_SECS")? {
        d.follow_for = v;
    }
    if let Some(v) = secs("RG_LEASE_SECS")? {
        d.lease = v;
    }
    if let Some(v) = secs("RG_PAUSE_SECS")? {
        d.pause = v;
    }
    if let Some(v) = secs("RG_PENDING_WAIT_SECS")? {
        d.pending_wait = v;
    }
    if let Some(v) = secs("RG_AWAIT_USER_FOR_SECS")? {
        d.await_user_for = v;
    }
    if let Some(v) = env("RG_PUBLIC_URL") {
        let v = v.trim_end_matches('/').to_string();
        // WeChat Pay takes only https notify URLs without a query (doc 4012716434); plain http
        // is accepted for loopback (the sandbox and tests).
        let probe = format!("{v}/v1/notify/wechat/transfer-bills/x");
        if !rewardgate_channels::wechat_v3::transfer_bills::valid_notify_url(&probe) {
            anyhow::bail!(
                "RG_PUBLIC_URL must be an https base URL without a query (http only for loopback), at most 200 characters"
            );
        }
        d.public_url = Some(v);
    }
    if let Some(v) = env("RG_PLATFORM_KEY_FILE") {
        c.platform_key_file = Some(v.into());
    }
    if let Some(v) = env("RG_CLIENT_IP") {
        d.client_ip = v;
    }
    if let Some(v) = env("RG_DISPATCHER") {
        d.enabled = v != "off" && v != "false" && v != "0";
    }
    if let Some(path) = env("RG_EXTRA_CA_FILE") {
        d.extra_roots_pem = Some(
            std::fs::read_to_string(&path)
                .with_context(|| format!("reading RG_EXTRA_CA_FILE {path}"))?,
        );
    }
    rewardgate_store::DbUrl::parse(&c.database_url)
        .map_err(|e| anyhow::anyhow!("RG_DATABASE_URL: {e}"))?;
    if c.admin_token.as_ref().is_some_and(|t| t.expose().len() < 8) {
        anyhow::bail!("RG_ADMIN_TOKEN must be at least 8 characters");
    }
    Ok(c)
}
