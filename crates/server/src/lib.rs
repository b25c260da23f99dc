//! rewardgate's HTTP surface and background tasks. `run` boots the whole `serve` on a given
//! listener so that tests start the real thing on port 0.

pub mod admin;
pub mod auth;
pub mod body;
pub mod console;
pub mod dispatcher;
pub mod envelope;
pub mod lease_loop;
pub mod metrics;
pub mod notifier;
pub mod open_api;
pub mod openapi;
pub mod rabbitpre;
pub mod state;
pub mod views;
mod wechat_notify;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use envelope::http_error;
use rewardgate_core::keys::RsaPrivateKey;
use rewardgate_core::secret::Secret;
use rewardgate_store::Store;
use state::AppState;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// What `serve` needs, from defaults, the TOML file and `RG_*` variables (the CLI layers them).
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: String,
    pub database_url: String,
    pub admin_token: Option<Secret>,
    pub allow_private_callbacks: bool,
    /// The platform's callback-signing key as a PEM file (made there on first start if absent);
    /// unset: kept in the database, shared by every instance on it.
    pub platform_key_file: Option<std::path::PathBuf>,
    pub dispatcher: dispatcher::DispatcherConfig,
    pub notifier: notifier::NotifierConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            database_url: "sqlite://rewardgate.db".into(),
            admin_token: None,
            allow_private_callbacks: false,
            platform_key_file: None,
            dispatcher: dispatcher::DispatcherConfig::default(),
            notifier: notifier::NotifierConfig::default(),
        }
    }
}

pub fn router(state: AppState) -> Router {
    let admin = admin::routes().layer(middleware::from_fn_with_state(
        state.clone(),
        admin::require_token,
    ));
    Router::new()
        .route("/v1/openapi/order/redPacket", post(open_api::red_packet))
        .route(
            "/v1/openapi/order/wechat/coupons",
            post(open_api::wechat_coupon),
        )
        .route(
            "/v1/openapi/order/alipay/coupons",
            post(open_api::alipay_coupon),
        )
        .route(
            "/v1/openapi/order/wechat/transfer",
            post(open_api::wechat_transfer),
        )
        .route("/v1/openapi/order/info", post(open_api::order_info))
        .route(
            "/v1/openapi/merchant/business/balance",
            post(open_api::balance),
        )
        .route("/v1/openapi/platform/publicKey", get(open_api::public_key))
        .route("/pay/sendApiRedPack", post(rabbitpre::send_api_red_pack))
        .route(
            "/v1/notify/wechat/transfer-bills/{channelAccountId}",
            post(wechat_notify::transfer_bills),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics::metrics))
        .route("/openapi.json", get(openapi::json))
        .route("/docs", get(openapi::docs))
        .nest("/admin/v1", admin)
        .merge(console::routes())
        .route_layer(middleware::from_fn(metrics::note_route))
        .fallback(|| async { http_error(StatusCode::NOT_FOUND, "no such path") })
        .method_not_allowed_fallback(|| async {
            http_error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::record,
        ))
        .layer(middleware::from_fn(request_id))
        .with_state(state)
}

/// Ready to take orders: the database answers at the expected migration, the writer commits,
/// and the dispatcher and callback sender (where enabled) went round their loops lately.
/// 200 `ready`, or 503 with the reasons.
async fn readyz(axum::extract::State(s): axum::extract::State<AppState>) -> Response {
    use std::sync::atomic::Ordering::Relaxed;
    let mut why = s.store.readiness().await;
    let now = rewardgate_core::clock::now_ms();
    for (name, slot, enabled) in [
        ("dispatcher", &s.heartbeats.dispatcher, s.tasks.0),
        ("callback sender", &s.heartbeats.notifier, s.tasks.1),
    ] {
        let at = slot.load(Relaxed);
        if enabled && now - at > 15_000 {
            why.push(format!(
                "the {name} has not run for {} s",
                (now - at) / 1000
            ));
        }
    }
    let (status, body) = if why.is_empty() {
        (StatusCode::OK, serde_json::json!({"status": "ready"}))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({"status": "not ready", "reasons": why}),
        )
    };
    let mut r = axum::Json(body).into_response();
    *r.status_mut() = status;
    r
}

/// The most header bytes a request may carry.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Gives every request an id (the caller's `X-Request-Id` if sane), a span carrying it, and
/// the id on the answer.
async fn request_id(req: Request, next: Next) -> Response {
    // No caller needs more than a few kilobytes of headers; a flood of them is refused before
    // any work (431, with the envelope).
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len())
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return http_error(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "request headers are too large",
        );
    }
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=64).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        .map(str::to_string)
        .unwrap_or_else(|| rewardgate_channels::nonce(16).to_ascii_lowercase());
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path());
    let started = std::time::Instant::now();
    let mut res = next.run(req).instrument(span.clone()).await;
    span.in_scope(|| {
        tracing::debug!(
            status = res.status().as_u16(),
            micros = started.elapsed().as_micros() as u64,
            "answered"
        )
    });
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert("x-request-id", v);
    }
    res
}

/// The platform's RSA key that signs callbacks: made on first start and kept in the database, so
/// every instance on one database signs with the same key.
async fn platform_key(
    store: &Store,
    file: Option<&std::path::Path>,
) -> anyhow::Result<RsaPrivateKey> {
    if let Some(path) = file {
        if !path.exists() {
            let (fresh, _) = RsaPrivateKey::generate_pem()?;
            write_private(path, &fresh)?;
            tracing::info!(path = %path.display(), "platform key generated");
        }
        let pem = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("reading the platform key {}: {e}", path.display()))?;
        return RsaPrivateKey::from_pem(&pem)
            .map_err(|e| anyhow::anyhow!("the platform key {} {e}", path.display()));
    }
    let (fresh, _) = RsaPrivateKey::generate_pem()?;
    let pem = store
        .init_setting("platform_private_key_pem", fresh)
        .await?;
    Ok(RsaPrivateKey::from_pem(&pem)?)
}

/// How often each instance reads the catalogue's version: an admin change made through another
/// instance is in force here within this.
pub const CATALOG_POLL: Duration = Duration::from_millis(250);

/// Starts everything `serve` runs and returns when `shutdown` is cancelled and in-flight requests
/// are answered.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let store = Store::open(&config.database_url).await?;
    let key = platform_key(&store, config.platform_key_file.as_deref()).await?;
    let state = AppState::new(
        store.clone(),
        config.admin_token.clone(),
        key,
        config.allow_private_callbacks || config.notifier.allow_private,
        (config.dispatcher.enabled, config.notifier.enabled),
        config.dispatcher.extra_roots_pem.clone(),
    );
    let m = state.metrics.clone();
    store.observe_writer(std::sync::Arc::new(move |n, t| m.writer_batch(n, t)));
    let now = rewardgate_core::clock::now_ms();
    state
        .heartbeats
        .dispatcher
        .store(now, std::sync::atomic::Ordering::Relaxed);
    state
        .heartbeats
        .notifier
        .store(now, std::sync::atomic::Ordering::Relaxed);
    let purge = tokio::spawn(purge_nonces(store.clone(), shutdown.clone()));
    let watch = tokio::spawn(state.clone().watch_catalog(CATALOG_POLL, shutdown.clone()));
    let dispatch = config.dispatcher.enabled.then(|| {
        tokio::spawn(dispatcher::run(
            state.clone(),
            config.dispatcher.clone(),
            shutdown.clone(),
        ))
    });
    let mut ncfg = config.notifier.clone();
    ncfg.allow_private |= config.allow_private_callbacks;
    let notify = ncfg
        .enabled
        .then(|| tokio::spawn(notifier::run(state.clone(), ncfg, shutdown.clone())));
    tracing::info!(addr = %listener.local_addr()?, database = store_kind(&config.database_url), "rewardgate serving");
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .await?;
    shutdown.cancel();
    let _ = purge.await;
    let _ = watch.await;
    if let Some(d) = dispatch {
        let _ = d.await;
    }
    if let Some(n) = notify {
        let _ = n.await;
    }
    tracing::info!("rewardgate stopped");
    Ok(())
}

fn store_kind(url: &str) -> &'static str {
    if url.starts_with("sqlite:") {
        "sqlite"
    } else {
        "postgres"
    }
}

/// Deletes expired nonces now and then (they are refused by the timestamp window anyway).
async fn purge_nonces(store: Store, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
        let now = rewardgate_core::clock::now_ms();
        match store.purge_nonces(now).await {
            Ok(n) if n > 0 => tracing::debug!(deleted = n, "expired nonces purged"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "nonce purge failed"),
        }
    }
}

/// Writes a private key readable by its owner only.
fn write_private(path: &std::path::Path, pem: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(pem.as_bytes())?;
    Ok(())
}
