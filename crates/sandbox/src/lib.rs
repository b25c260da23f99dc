//! `rewardgate sandbox`: local stand-ins for WeChat Pay v2 (red packets, transfers), WeChat Pay
//! v3 (coupons, 商家转账 transfer-bills) and the Alipay gateway (vouchers), at the real paths, checking signatures and
//! enforcing the real rules and error codes, with injected faults (SPEC §9). Its state lives in
//! memory: it is a test double, safe under concurrent requests.

mod alipay;
mod later;
mod state;
mod surface;
pub mod tls;
mod transfer_bills;
mod wechat_v2;
mod wechat_v3;

pub use state::Sandbox;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub type Shared = Arc<Sandbox>;

pub fn router(s: Shared) -> Router {
    use rewardgate_channels::wechat_v2 as v2;
    Router::new()
        .route(v2::SENDREDPACK, post(wechat_v2::sendredpack))
        .route(v2::SENDMINIPROGRAMHB, post(wechat_v2::sendminiprogramhb))
        .route(v2::GETHBINFO, post(wechat_v2::gethbinfo))
        .route(v2::TRANSFERS, post(wechat_v2::transfers))
        .route(v2::GETTRANSFERINFO, post(wechat_v2::gettransferinfo))
        .route(
            "/v3/marketing/favor/users/{openid}/coupons",
            post(wechat_v3::send_coupon),
        )
        .route(
            "/v3/marketing/favor/stocks/{stock_id}",
            get(wechat_v3::get_stock),
        )
        .route(
            "/v3/fund-app/mch-transfer/transfer-bills",
            post(transfer_bills::create),
        )
        .route(
            "/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}",
            get(transfer_bills::query),
        )
        .route(
            "/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}/cancel",
            post(transfer_bills::cancel),
        )
        .route(
            "/sandbox/v1/transfer-bills/{out_bill_no}",
            get(transfer_bills::knobs::show),
        )
        .route(
            "/sandbox/v1/transfer-bills/{out_bill_no}/confirm",
            post(transfer_bills::knobs::confirm),
        )
        .route(
            "/sandbox/v1/transfer-bills/{out_bill_no}/cancel",
            post(transfer_bills::knobs::cancel),
        )
        .route(
            "/gateway.do",
            get(alipay::gateway_get).post(alipay::gateway_post),
        )
        .route(
            "/sandbox/v1/accounts/wechat-v2/{mch_id}",
            put(surface::put_wechat_v2),
        )
        .route(
            "/sandbox/v1/accounts/wechat-v3/{mch_id}",
            put(surface::put_wechat_v3),
        )
        .route(
            "/sandbox/v1/accounts/alipay/{app_id}",
            put(surface::put_alipay),
        )
        .route(
            "/sandbox/v1/faults",
            put(surface::put_faults).get(surface::get_faults),
        )
        .route("/sandbox/v1/effects", get(surface::effects))
        .route("/sandbox/v1/stats", get(surface::stats))
        .route("/sandbox/v1/redpacks/{billno}/claim", post(surface::claim))
        .route(
            "/sandbox/v1/redpacks/{billno}/state",
            post(surface::redpack_state),
        )
        .route(
            "/sandbox/v1/transfers/{trade_no}/state",
            post(surface::transfer_state),
        )
        .route("/sandbox/v1/clock/advance", post(surface::advance_clock))
        .route("/healthz", get(|| async { "ok" }))
        .fallback(|| async { (StatusCode::NOT_FOUND, "no such path in the sandbox") })
        // Last, over every route: an answer marked to be signed (WeChat v3's headers, Alipay's
        // body, which is empty until then) is signed here, after the handler let go of the lock.
        .layer(axum::middleware::map_response(later::sign))
        .with_state(s)
}

/// Serves the sandbox on `listener` (plain HTTP) and, if given, `tls` (HTTPS that asks for a
/// client certificate, for WeChat Pay v2's mTLS) until `shutdown`.
pub async fn run(
    sandbox: Shared,
    listener: TcpListener,
    tls: Option<TcpListener>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let app = router(sandbox);
    tracing::info!(addr = %listener.local_addr()?, "sandbox serving");
    let tls_task = match tls {
        Some(l) => {
            tracing::info!(addr = %l.local_addr()?, "sandbox serving TLS (client certificates requested)");
            Some(tokio::spawn(tls::serve(l, app.clone(), shutdown.clone())))
        }
        None => None,
    };
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown.clone().cancelled_owned())
    .await?;
    if let Some(t) = tls_task {
        t.abort();
    }
    Ok(())
}
