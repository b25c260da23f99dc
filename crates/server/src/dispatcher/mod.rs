//! The dispatcher: takes delivery jobs from the database under a lease (`lease_loop`), calls the
//! upstream with the order's fixed idempotency key (`attempt`), lets the domain decide what the
//! outcome means (`rewardgate_core::delivery::decide`) and records it with the order's change,
//! ledger posting and report in one transaction (`record`). Several processes share the work
//! through the database; a crashed one's jobs come back when their lease runs out, as unknown
//! outcomes.

mod attempt;
pub mod clients;
mod record;
mod requests;

use crate::lease_loop::{self, Work};
use crate::state::AppState;
use rewardgate_core::catalog::ChannelAccount;
use rewardgate_core::clock::now_ms;
use rewardgate_core::delivery::Policy;
use rewardgate_core::rate::Rate;
use rewardgate_store::Claimed;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

#[derive(Clone, Debug)]
pub struct DispatcherConfig {
    pub enabled: bool,
    /// Upstream calls in flight at once in this process.
    pub concurrency: usize,
    /// How long a claimed job is this process's: longer than any upstream call.
    pub lease: Duration,
    /// How often a sent red packet is looked at until it is opened or refunded.
    pub follow_interval: Duration,
    /// After this long since acceptance an order that still cannot be settled is marked stuck for
    /// an operator (never failed on a guess).
    pub give_up_after: Duration,
    /// How long after its send a red packet is followed before it is marked stuck (WeChat
    /// refunds an unopened one 24 hours after sending).
    pub follow_for: Duration,
    /// How long a channel account that cannot pay (NOTENOUGH, refused credentials) is paused.
    pub pause: Duration,
    /// The first wait before asking again about a request the upstream is still processing
    /// (PROCESSING, SENDING); it doubles up to twenty times this.
    pub pending_wait: Duration,
    /// How long after its send a 商家转账 waiting for the user is asked about before it is
    /// stuck (WeChat closes unconfirmed bills after 24 hours).
    pub await_user_for: Duration,
    /// This service's public base URL (`RG_PUBLIC_URL`, https): WeChat's 商家转账 notifications
    /// go to `{it}/v1/notify/wechat/transfer-bills/{channelAccountId}`. Unset: no `notify_url`
    /// is sent and bills are settled by queries alone.
    pub public_url: Option<String>,
    /// `client_ip` / `spbill_create_ip` sent to WeChat Pay.
    pub client_ip: String,
    /// Extra roots to trust for upstream TLS (the sandbox's certificate).
    pub extra_roots_pem: Option<String>,
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        DispatcherConfig {
            enabled: true,
            concurrency: 32,
            lease: Duration::from_secs(60),
            follow_interval: Duration::from_secs(1800),
            give_up_after: Duration::from_secs(24 * 3600),
            follow_for: Duration::from_secs(72 * 3600),
            pause: Duration::from_secs(300),
            pending_wait: Duration::from_secs(60),
            await_user_for: Duration::from_secs(48 * 3600),
            public_url: None,
            client_ip: "127.0.0.1".into(),
            extra_roots_pem: None,
        }
    }
}

impl DispatcherConfig {
    /// The domain's timing rules, from this configuration.
    pub fn policy(&self) -> Policy {
        let ms = |d: Duration| d.as_millis() as i64;
        Policy {
            follow_interval: ms(self.follow_interval),
            give_up_after: ms(self.give_up_after),
            follow_for: ms(self.follow_for),
            pause: ms(self.pause),
            pending_wait: ms(self.pending_wait),
            await_user_for: ms(self.await_user_for),
        }
    }
}

struct Ctx {
    state: AppState,
    cfg: DispatcherConfig,
    worker: String,
    /// Which account's share of a claim comes first turns with every claim.
    rotation: AtomicUsize,
    last_rates: std::sync::Mutex<Instant>,
}

/// Runs until `shutdown`, then waits for the calls in flight.
pub async fn run(state: AppState, cfg: DispatcherConfig, shutdown: CancellationToken) {
    let worker = format!("{}-{}", std::process::id(), rewardgate_channels::nonce(8));
    tracing::info!(worker = %worker, concurrency = cfg.concurrency, "dispatcher started");
    let heartbeat: Arc<AtomicI64> = state.heartbeats.dispatcher.clone();
    let concurrency = cfg.concurrency;
    let ctx = Arc::new(Ctx {
        state,
        cfg,
        worker,
        rotation: AtomicUsize::new(0),
        last_rates: std::sync::Mutex::new(Instant::now() - Duration::from_secs(60)),
    });
    lease_loop::run(
        ctx,
        concurrency,
        Duration::from_millis(100),
        heartbeat,
        shutdown,
    )
    .await;
    tracing::info!("dispatcher stopped");
}

impl Work for Ctx {
    type Item = Claimed;

    async fn claim(self: &Arc<Self>, free: usize) -> Vec<Claimed> {
        let rotation = self.rotation.fetch_add(1, Ordering::Relaxed);
        let now = now_ms();
        let lease_until = now + self.cfg.lease.as_millis() as i64;
        self.state
            .store
            .claim_jobs(self.worker.clone(), now, lease_until, free as i64, rotation)
            .await
            .map(|c| {
                self.state.metrics.rate_limited(&c.rate_limited);
                c.jobs
            })
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "claiming jobs failed");
                Vec::new()
            })
    }

    async fn process(self: Arc<Self>, job: Claimed) {
        let started = Instant::now();
        let (outcome, step) = attempt::attempt(&self, &job).await;
        let outcome = attempt::confirm_credentials(&self, &job, step, outcome).await;
        let took = started.elapsed();
        let latency_ms = took.as_millis() as i64;
        // The account's kind decides WeChat transfers' channel (v2 transfers or v3 商家转账).
        let v3 = self
            .state
            .catalog::<ChannelAccount>(&job.order.channel_account_id)
            .await
            .ok()
            .flatten()
            .is_some_and(|a| a.kind == rewardgate_core::catalog::ChannelKind::WechatV3);
        self.state.metrics.upstream_attempt(
            channel_of(job.order.product_type, v3),
            job.order.channel_account_id.as_str(),
            step.as_str(),
            &code_of(&outcome),
            took,
        );
        record::record(&self, &job, step, outcome, latency_ms).await;
    }

    /// Keeps each channel account's bucket in line with its configuration every few seconds (the
    /// admin API writes it too; this also covers changes made by another process).
    async fn round(self: &Arc<Self>) {
        {
            let mut last = self.last_rates.lock().expect("rates lock");
            if last.elapsed() < Duration::from_secs(5) {
                return;
            }
            *last = Instant::now();
        }
        let list = match self.state.store.list_catalog("channel_account").await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "rate buckets not updated");
                return;
            }
        };
        let rates: Vec<(String, Option<Rate>)> = list
            .iter()
            .filter_map(|d| serde_json::from_str::<ChannelAccount>(d).ok())
            .map(|a| (a.id.clone(), Rate::for_account(&a)))
            .collect();
        let ids: Vec<String> = rates.iter().map(|r| r.0.clone()).collect();
        self.state.metrics.known_accounts(&ids);
        if let Err(e) = self.state.store.set_rates(rates, now_ms()).await {
            tracing::warn!(error = %e, "rate buckets not updated");
        }
    }
}

/// The upstream an order type is delivered through (SPEC §10), as `/metrics` labels it.
fn channel_of(t: rewardgate_core::order::ProductType, v3_account: bool) -> &'static str {
    use rewardgate_core::order::ProductType::*;
    match t {
        WechatTransfer if v3_account => "wechat_v3",
        RedPacket | WechatTransfer => "wechat_v2",
        WechatCoupon => "wechat_v3",
        AlipayCoupon => "alipay",
    }
}

/// An outcome as `/metrics` labels it: its kind, with the upstream's code where it has one.
fn code_of(o: &rewardgate_channels::Outcome) -> String {
    use rewardgate_channels::Outcome::*;
    match o {
        Failed { code, .. } | Deferred { code, .. } | Pending { code, .. } => {
            format!("{}:{code}", o.describe().0)
        }
        _ => o.describe().0.to_string(),
    }
}
