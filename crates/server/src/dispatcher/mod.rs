//! The dispatcher: takes delivery jobs from the database under a lease, calls the upstream with
//! the order's fixed idempotency key, and records each outcome with its order transition, ledger
//! posting and callback row in one transaction. Several processes share the work through the
//! database; a crashed one's jobs come back when their lease runs out, as unknown outcomes.

mod clients;
pub mod decide;
mod requests;

use crate::state::AppState;
use clients::{ChannelClient, Clients};
use rewardgate_channels::Outcome;
use rewardgate_core::catalog::ChannelAccount;
use rewardgate_core::clock::now_ms;
use rewardgate_core::order::ProductType;
use rewardgate_store::jobs::{self, Claimed, Rate, Step};
use rewardgate_store::ops;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
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
            client_ip: "127.0.0.1".into(),
            extra_roots_pem: None,
        }
    }
}

struct Ctx {
    state: AppState,
    cfg: DispatcherConfig,
    worker: String,
    clients: Clients,
    rotation: std::sync::atomic::AtomicUsize,
}

/// Runs until `shutdown`, then waits for the calls in flight.
pub async fn run(state: AppState, cfg: DispatcherConfig, shutdown: CancellationToken) {
    let worker = format!("{}-{}", std::process::id(), rewardgate_channels::nonce(8));
    tracing::info!(worker = %worker, concurrency = cfg.concurrency, "dispatcher started");
    let permits = Arc::new(Semaphore::new(cfg.concurrency));
    let ctx = Arc::new(Ctx {
        state,
        cfg,
        worker,
        clients: Clients::default(),
        rotation: Default::default(),
    });
    let mut last_rates = Instant::now() - Duration::from_secs(60);
    let tick = Duration::from_millis(100);
    while !shutdown.is_cancelled() {
        crate::state::Heartbeats::beat(&ctx.state.heartbeats.dispatcher);
        if last_rates.elapsed() > Duration::from_secs(5) {
            sync_rates(&ctx).await;
            last_rates = Instant::now();
        }
        let free = permits.available_permits();
        let claimed = if free == 0 {
            Vec::new()
        } else {
            claim(&ctx, free).await
        };
        if claimed.is_empty() {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(tick) => {}
            }
            continue;
        }
        for job in claimed {
            let permit = permits
                .clone()
                .acquire_owned()
                .await
                .expect("semaphore open");
            let ctx = ctx.clone();
            tokio::spawn(async move {
                process(&ctx, job).await;
                drop(permit);
            });
        }
    }
    let _ = permits.acquire_many(ctx.cfg.concurrency as u32).await;
    tracing::info!("dispatcher stopped");
}

async fn claim(ctx: &Ctx, n: usize) -> Vec<Claimed> {
    // Which account's share comes first turns with every claim.
    let rotation = ctx
        .rotation
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (worker, now, lease) = (
        ctx.worker.clone(),
        now_ms(),
        ctx.cfg.lease.as_millis() as i64,
    );
    match ctx
        .state
        .store
        .write(move |db| jobs::claim(db, &worker, now, now + lease, n as i64, rotation))
        .await
    {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "claiming jobs failed");
            Vec::new()
        }
    }
}

/// The shared rate bucket for a channel account's `ratePerMinute`: a sixth of a second's worth of
/// burst and 99.5 % of the rest, so that no sliding minute passes the upstream's limit (for 1800:
/// at most 5 + 1786 = 1791 in any 60 s) while the account stays busy. An operator who wants more
/// margin sets a lower `ratePerMinute`.
pub fn bucket_for(a: &ChannelAccount) -> Option<Rate> {
    a.rate_per_minute.map(|r| {
        let capacity = (r / 360).max(1);
        Rate {
            per_minute: ((r - capacity) * 995 / 1000).max(1),
            capacity,
        }
    })
}

/// Keeps each channel account's bucket in line with its configuration (the admin API writes it
/// too; this also covers changes made by another process).
async fn sync_rates(ctx: &Ctx) {
    let list = ctx
        .state
        .store
        .read(|db| ops::list_catalog(db, "channel_account"))
        .await
        .unwrap_or_default();
    let now = now_ms();
    let rates: Vec<(String, Option<Rate>)> = list
        .iter()
        .filter_map(|d| serde_json::from_str::<ChannelAccount>(d).ok())
        .map(|a| (a.id.clone(), bucket_for(&a)))
        .collect();
    let r = ctx
        .state
        .store
        .write(move |db| {
            for (id, rate) in &rates {
                jobs::set_rate(db, id, *rate, now)?;
            }
            Ok(())
        })
        .await;
    if let Err(e) = r {
        tracing::warn!(error = %e, "rate buckets not updated");
    }
}

async fn process(ctx: &Ctx, job: Claimed) {
    let started = Instant::now();
    let (outcome, step) = attempt(ctx, &job).await;
    let outcome = confirm_credentials(ctx, &job, step, outcome).await;
    let latency_ms = started.elapsed().as_millis() as i64;
    decide::record(ctx, &job, step, outcome, latency_ms).await;
}

/// One order's request was refused for the account's credentials or rights. Before the account
/// is paused for every merchant, a known-good request of the account's (one that carries nothing
/// of any order's) must be refused the same way; if it is not, the refusal was this order's own
/// doing: a send that was never executed fails (nothing was granted), a query stays unknown.
async fn confirm_credentials(ctx: &Ctx, job: &Claimed, step: Step, outcome: Outcome) -> Outcome {
    let Outcome::Deferred {
        wait: rewardgate_channels::Wait::Credentials,
        code,
        message,
    } = outcome
    else {
        return outcome;
    };
    let o = &job.order;
    let probe = match ctx
        .state
        .catalog::<ChannelAccount>("channel_account", &o.channel_account_id)
        .await
    {
        Ok(Some(account)) => match ctx
            .clients
            .get(&account, ctx.cfg.extra_roots_pem.as_deref())
        {
            Ok(client) => {
                let req: serde_json::Value = job
                    .request
                    .as_deref()
                    .and_then(|r| serde_json::from_str(r).ok())
                    .unwrap_or_default();
                match &*client {
                    ChannelClient::WechatV2(c) => {
                        let appid = o.app_id.clone().unwrap_or_else(|| account.app_id.clone());
                        c.probe(&appid).await
                    }
                    ChannelClient::WechatV3(c) => {
                        c.probe(req["stock_id"].as_str().unwrap_or("0")).await
                    }
                    ChannelClient::Alipay(c) => c.probe().await,
                }
            }
            Err(e) => rewardgate_channels::Probe::Unclear(e),
        },
        Ok(None) => rewardgate_channels::Probe::Unclear("channel account missing".into()),
        Err(e) => rewardgate_channels::Probe::Unclear(e.message),
    };
    match probe {
        rewardgate_channels::Probe::Reproduced(why) => Outcome::Deferred {
            code,
            message: format!("{message} (a known-good request was refused too: {why})"),
            wait: rewardgate_channels::Wait::PauseAccount,
        },
        rewardgate_channels::Probe::Healthy if step == Step::Send => Outcome::Failed {
            code,
            message: format!(
                "{message} (refused for this order alone: the account's credentials work)"
            ),
        },
        rewardgate_channels::Probe::Healthy => Outcome::Unknown {
            reason: format!("{code}: {message} (a query refused for this order alone)"),
        },
        rewardgate_channels::Probe::Unclear(why) => Outcome::Deferred {
            code,
            message: format!("{message} (could not check the account: {why})"),
            wait: rewardgate_channels::Wait::Backoff,
        },
    }
}

/// Makes the call the job's step asks for; the outcome and the step really taken.
async fn attempt(ctx: &Ctx, job: &Claimed) -> (Outcome, Step) {
    let o = &job.order;
    // A read that fails says nothing about the catalogue: ask again soon, never a verdict.
    let store_down = |what: &str, e: String| Outcome::Deferred {
        code: "STORE_UNAVAILABLE".into(),
        message: format!("reading the {what} failed: {e}"),
        wait: rewardgate_channels::Wait::Backoff,
    };
    let account: ChannelAccount = match ctx
        .state
        .catalog("channel_account", &o.channel_account_id)
        .await
    {
        Ok(Some(a)) => a,
        Ok(None) => {
            return (
                Outcome::Deferred {
                    code: "NO_CHANNEL_ACCOUNT".into(),
                    message: format!("channel account {} is missing", o.channel_account_id),
                    wait: rewardgate_channels::Wait::PauseAccount,
                },
                job.step,
            );
        }
        Err(e) => return (store_down("channel account", e.message), job.step),
    };
    let client = match ctx
        .clients
        .get(&account, ctx.cfg.extra_roots_pem.as_deref())
    {
        Ok(c) => c,
        Err(e) => {
            let w = rewardgate_channels::Wait::PauseAccount;
            return (
                Outcome::Deferred {
                    code: "CHANNEL_CONFIG".into(),
                    message: e,
                    wait: w,
                },
                job.step,
            );
        }
    };
    let request = match &job.request {
        Some(r) => r.clone(),
        None => match requests::build(ctx, job, &account).await {
            Ok(r) => {
                let (id, lease, now) = (o.id, job.lease.clone(), now_ms());
                let frozen = ctx
                    .state
                    .store
                    .write(move |db| jobs::freeze_request(db, id, &lease, &r, now))
                    .await;
                match frozen {
                    Ok(Some(r)) => r,
                    _ => {
                        return (
                            Outcome::Unknown {
                                reason: "could not freeze the upstream request".into(),
                            },
                            job.step,
                        );
                    }
                }
            }
            Err(requests::BuildError::Missing(e)) => {
                return (
                    Outcome::Failed {
                        code: "CATALOG".into(),
                        message: e,
                    },
                    job.step,
                );
            }
            Err(requests::BuildError::Read(e)) => return (store_down("catalogue", e), job.step),
        },
    };
    let req: serde_json::Value = serde_json::from_str(&request).unwrap_or_default();
    let key = job.upstream_key.as_str();
    let text = |f: &str| req[f].as_str().unwrap_or("").to_string();
    match (&*client, o.product_type, job.step) {
        (ChannelClient::WechatV2(c), ProductType::RedPacket, step) => {
            let appid = text("wxappid");
            if step != Step::Send {
                let q = c.query_redpack(key, &appid).await;
                if !(q == Outcome::NotFound && step == Step::Check) {
                    return (q, step);
                }
            }
            (
                c.send_redpack(requests::params(&req), text("mode") == "MINI_PROGRAM")
                    .await,
                Step::Send,
            )
        }
        (ChannelClient::WechatV2(c), ProductType::WechatTransfer, step) => {
            if step != Step::Send {
                let q = c.query_transfer(key, &text("mch_appid")).await;
                if q != Outcome::NotFound {
                    return (q, step);
                }
            }
            (c.transfer(requests::params(&req)).await, Step::Send)
        }
        // v3 coupons answer a resend with the same key idempotently ("接口支持幂等重入"): that is
        // how an unknown outcome is settled, and a refusal of the resend is the first send's own.
        (ChannelClient::WechatV3(c), ProductType::WechatCoupon, step) => (
            c.send_coupon(
                &text("openid"),
                &text("stock_id"),
                key,
                Some(&text("appid")),
            )
            .await,
            step,
        ),
        (ChannelClient::Alipay(c), ProductType::AlipayCoupon, step) => {
            let o = c
                .send_voucher(&text("template_id"), &text("login_id"), key)
                .await;
            let o = if step == Step::Check {
                rewardgate_channels::alipay::policy::after_unknown(o)
            } else {
                o
            };
            (o, step)
        }
        _ => (
            Outcome::Failed {
                code: "CHANNEL_MISMATCH".into(),
                message: format!(
                    "channel account {} cannot deliver {}",
                    account.id,
                    o.product_type.as_str()
                ),
            },
            job.step,
        ),
    }
}
