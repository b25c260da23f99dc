//! The callback sender (SPEC §5): POSTs each status report to its target, signed as in §3 (MD5 with
//! the business's key when it has only that, else SHA256-RSA with the platform key), until the
//! merchant answers `SUCCESS`; retries on SPEC's schedule, shares the work across processes like
//! the dispatcher, and never lets one slow merchant hold back the others (per-target limits,
//! 3 s connect / 10 s total, no redirects). Private, loopback, link-local and metadata addresses
//! are refused unless the operator allows them.

use crate::lease_loop::Work;
use crate::state::AppState;
use rewardgate_core::catalog::Business;
use rewardgate_core::clock::now_ms;
use rewardgate_core::sign::{self, AuthHeaders, Signer};
use rewardgate_core::target;
use rewardgate_store::{Attempted, DueReport, ReportClaim};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

#[derive(Clone, Debug)]
pub struct NotifierConfig {
    pub enabled: bool,
    /// Waits after each failure (SPEC §5); past the last, the report is FAILED.
    pub schedule: Vec<Duration>,
    /// Reports in flight at once to one host.
    pub per_target: usize,
    /// Reports in flight at once in this process.
    pub concurrency: usize,
    pub allow_private: bool,
}

impl NotifierConfig {
    /// A host's share of requests in flight: `per_target`, but never more than a quarter of all
    /// the slots.
    pub fn per_host(&self) -> usize {
        self.per_target.min(self.concurrency / 4).max(1)
    }

    /// How many of one host's reports this process may hold at once: its requests in flight and
    /// as many claimed ahead, waiting for a request to end — but never more than a quarter of
    /// all the slots, so that hanging hosts hold at most a quarter each and the others keep
    /// being served. Claiming ahead keeps the claim's commit off the host's path: with only
    /// what it could send at once, each batch of 16 waited for its claim to be committed
    /// before it was sent (bench-delivery on a 2-core machine without AVX-512: 1261 callbacks/s
    /// to one host before, 1400–1670 with 16 claimed ahead).
    pub fn held_per_host(&self) -> usize {
        (2 * self.per_host())
            .min(self.concurrency / 4)
            .max(self.per_host())
    }
}

impl Default for NotifierConfig {
    fn default() -> Self {
        NotifierConfig {
            enabled: true,
            schedule: rewardgate_core::report::RETRY_SCHEDULE_SECS
                .iter()
                .map(|s| Duration::from_secs(*s))
                .collect(),
            // 16 requests to one host: 4096 callbacks/s to a local receiver (bench-delivery);
            // 4 were ~2500/s. 512 slots in all, 32 held by one host at most (its 16 in flight
            // and 16 claimed ahead), so that as before sixteen hanging hosts are needed to hold
            // every slot.
            per_target: 16,
            concurrency: 512,
            allow_private: false,
        }
    }
}

pub use rewardgate_core::target::forbidden;

/// Resolves names and refuses the answer when any address is forbidden, so that the connection
/// goes to an address that was checked (no second lookup to rebind).
struct GuardedResolver;

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some((ip, why)) = addrs
                .iter()
                .find_map(|a| forbidden(a.ip()).map(|w| (a.ip(), w)))
            {
                return Err(format!("refused target: {host} resolves to {ip} ({why})").into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// What one host holds in this process: reports claimed and not yet recorded, and the permits
/// of its requests in flight (`per_host` of them).
struct HostShare {
    held: usize,
    sending: Arc<Semaphore>,
}

struct Ctx {
    state: AppState,
    cfg: NotifierConfig,
    worker: String,
    http: reqwest::Client,
    /// Each host's share in this process (entries leave when it holds nothing).
    hosts: Mutex<HashMap<String, HostShare>>,
    /// Which host's share of a claim comes first turns with every claim.
    rotation: AtomicUsize,
}

/// How long a claimed report belongs to this process; a delivery never outlives it.
const LEASE: Duration = Duration::from_secs(60);

pub async fn run(state: AppState, cfg: NotifierConfig, shutdown: CancellationToken) {
    let mut b = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("rewardgate-callback/1");
    if !cfg.allow_private {
        b = b.dns_resolver(Arc::new(GuardedResolver));
    }
    let http = b.build().expect("an HTTP client");
    let worker = format!("{}-{}", std::process::id(), rewardgate_channels::nonce(8));
    let heartbeat = state.heartbeats.notifier.clone();
    let concurrency = cfg.concurrency;
    let ctx = Arc::new(Ctx {
        state,
        cfg,
        worker,
        http,
        hosts: Mutex::new(HashMap::new()),
        rotation: AtomicUsize::new(0),
    });
    crate::lease_loop::run(
        ctx,
        concurrency,
        Duration::from_millis(200),
        heartbeat,
        shutdown,
    )
    .await;
}

impl Work for Ctx {
    type Item = DueReport;

    /// Claims what each host may still take: a host's slots are counted before a global one is
    /// used, so a slow host's reports wait for that host's slots, never holding anyone else's.
    async fn claim(self: &Arc<Self>, free: usize) -> Vec<DueReport> {
        let now = now_ms();
        let busy: HashMap<String, i64> = self
            .hosts
            .lock()
            .expect("hosts lock")
            .iter()
            .map(|(h, s)| (h.clone(), s.held as i64))
            .collect();
        let due = self
            .state
            .store
            .claim_reports(ReportClaim {
                worker: self.worker.clone(),
                now,
                lease_until: now + LEASE.as_millis() as i64,
                limit: free as i64,
                busy,
                per_host: self.cfg.held_per_host() as i64,
                rotation: self.rotation.fetch_add(1, Ordering::Relaxed),
            })
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "claiming callbacks failed");
                Vec::new()
            });
        let mut hosts = self.hosts.lock().expect("hosts lock");
        for d in &due {
            hosts
                .entry(d.host.clone())
                .or_insert_with(|| HostShare {
                    held: 0,
                    sending: Arc::new(Semaphore::new(self.cfg.per_host())),
                })
                .held += 1;
        }
        due
    }

    async fn process(self: Arc<Self>, d: DueReport) {
        let host = d.host.clone();
        let _held = Holding {
            ctx: &self,
            host: host.clone(),
        };
        let sending = self
            .hosts
            .lock()
            .expect("hosts lock")
            .get(&host)
            .map(|s| s.sending.clone())
            .expect("a claimed report's host has a share");
        // Never past the lease: another process may take the report after it.
        let budget = LEASE - Duration::from_secs(5);
        if tokio::time::timeout(budget, deliver(&self, d, &sending))
            .await
            .is_err()
        {
            tracing::warn!(host = %host, "callback delivery outlived its budget; the report is taken again after its lease");
        }
    }
}

/// One report in its host's share, given back however `process` ends (a panic included), so that
/// a host's room never shrinks for good.
struct Holding<'a> {
    ctx: &'a Ctx,
    host: String,
}

impl Drop for Holding<'_> {
    fn drop(&mut self) {
        let mut hosts = self
            .ctx
            .hosts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(s) = hosts.get_mut(&self.host) {
            s.held = s.held.saturating_sub(1);
            if s.held == 0 {
                hosts.remove(&self.host);
            }
        }
    }
}

/// The headers of a signed report (SPEC §3 with the callback body).
pub fn signed_headers(
    business: &Business,
    platform: &rewardgate_core::keys::RsaPrivateKey,
    body: &str,
) -> Vec<(&'static str, String)> {
    let nonce = rewardgate_channels::nonce(32);
    let ts = now_ms().to_string();
    let md5_only = business.rsa_public_key_pem.is_none() && business.md5_key.is_some();
    let sign_type = if md5_only { "MD5" } else { "SHA256-RSA" };
    let h = AuthHeaders {
        business_id: &business.id,
        nonce: &nonce,
        timestamp: &ts,
        sign_type: Some(sign_type),
    };
    let s = sign::string_to_sign(&h, body.as_bytes());
    let signature = match (&business.md5_key, md5_only) {
        (Some(k), true) => sign::sign(Signer::Md5(k.expose()), &s),
        _ => sign::sign(Signer::Rsa(platform), &s),
    };
    vec![
        ("businessId", business.id.clone()),
        ("nonce", nonce),
        ("timestamp", ts),
        ("signType", sign_type.into()),
        ("sign", signature),
    ]
}

async fn deliver(ctx: &Ctx, d: DueReport, sending: &Semaphore) {
    // One of the host's requests in flight, for the request alone: the attempt is recorded
    // after the permit is given back.
    let permit = sending.acquire().await.expect("the semaphore stays open");
    let started = Instant::now();
    let attempt = send(ctx, &d).await;
    let took = started.elapsed();
    drop(permit);
    ctx.state.metrics.callback_attempt(attempt.delivered, took);
    let attempt = Attempted {
        latency_ms: took.as_millis() as i64,
        ..attempt
    };
    let now = now_ms();
    let refused = attempt
        .error
        .as_deref()
        .is_some_and(|e| e.contains("refused target"));
    let retry_at = if attempt.delivered || refused {
        None
    } else {
        ctx.cfg
            .schedule
            .get(d.attempts as usize)
            .map(|w| now + w.as_millis() as i64)
    };
    if !attempt.delivered {
        tracing::info!(notify_id = %d.notify_id, error = ?attempt.error, status = ?attempt.http_status, will_retry = retry_at.is_some(), "callback not delivered");
    }
    if let Err(e) = ctx
        .state
        .store
        .record_report(
            d.notify_id.clone(),
            d.lease.clone(),
            attempt.clone(),
            retry_at,
            now,
        )
        .await
    {
        tracing::warn!(error = %e, notify_id = %d.notify_id, "callback attempt not recorded");
    }
}

async fn send(ctx: &Ctx, d: &DueReport) -> Attempted {
    let fail = |e: String| Attempted {
        http_status: None,
        latency_ms: 0,
        error: Some(e),
        delivered: false,
    };
    // The URL as the HTTP client reads it: an address literal in any spelling is checked here
    // (the resolver never sees it), a name once resolved.
    let url = match target::parse(&d.target) {
        Ok(u) => u,
        Err(e) => return fail(format!("refused target: callbackUrl {e}")),
    };
    if !ctx.cfg.allow_private
        && let Some(why) = target::refusal(&url)
    {
        return fail(format!(
            "refused target: {why} (set RG_ALLOW_PRIVATE_CALLBACKS=true to allow)"
        ));
    }
    let business: Option<Business> = ctx.state.catalog(&d.business_id).await.ok().flatten();
    let Some(business) = business else {
        return fail(format!("business {} not found", d.business_id));
    };
    let mut rb = ctx
        .http
        .post(url)
        .header("Content-Type", "application/json; charset=utf-8");
    for (k, v) in signed_headers(&business, &ctx.state.platform_key, &d.body) {
        rb = rb.header(k, v);
    }
    match rb.body(d.body.clone()).send().await {
        Err(e) => {
            let mut msg = e.to_string();
            let mut src: Option<&dyn std::error::Error> = std::error::Error::source(&e);
            while let Some(s) = src {
                msg = format!("{msg}: {s}");
                src = s.source();
            }
            fail(if e.is_timeout() {
                format!("timeout: {msg}")
            } else {
                msg
            })
        }
        Ok(r) => {
            let status = r.status().as_u16() as i64;
            let ok_status = r.status().is_success();
            let text = r.text().await.unwrap_or_default();
            let delivered = ok_status && text.trim().eq_ignore_ascii_case("SUCCESS");
            let error = (!delivered).then(|| {
                format!(
                    "HTTP {status}, answer {:?}",
                    text.chars().take(64).collect::<String>()
                )
            });
            Attempted {
                http_status: Some(status),
                latency_ms: 0,
                error,
                delivered,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn forbidden_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.100.100.200",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(forbidden(ip.parse().unwrap()).is_some(), "{ip}");
        }
        for ip in ["8.8.8.8", "203.0.113.5", "2001:db8::1"] {
            assert!(forbidden(ip.parse().unwrap()).is_none(), "{ip}");
        }
    }
}
