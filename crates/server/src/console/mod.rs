//! The operator console (issue 11): server-rendered pages under `/console` for whoever holds the
//! admin token — a dashboard, orders with their timelines, businesses and their money, and the
//! catalogue. Every change goes through the same functions as the admin API (`crate::admin`),
//! so a form can do nothing the API would refuse. No JavaScript; the pages carry their own CSS.
//!
//! By concern: `auth` (login, sessions, CSRF, language), `page` (layout, labels, formats),
//! `dashboard`, `orders` (list, detail, retry, redelivery), `export` (streamed CSV), `money`
//! (businesses, top-ups, key rotation), `catalog` (list, create, edit).

mod auth;
mod catalog;
mod dashboard;
mod export;
mod money;
mod orders;
mod page;

use crate::state::AppState;
use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::{get, post};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/login", get(auth::login_form).post(auth::login))
        .route("/console/logout", post(auth::logout))
        .route("/console/lang/{lang}", get(auth::set_lang))
        .route("/console", get(dashboard::show))
        .route("/console/orders", get(orders::list))
        .route("/console/orders.csv", get(export::csv))
        .route("/console/orders/{code}", get(orders::show))
        .route("/console/orders/{code}/retry", post(orders::retry_post))
        .route("/console/orders/{code}/cancel", post(orders::cancel_post))
        .route(
            "/console/notifications/{id}/redeliver",
            post(orders::redeliver),
        )
        .route("/console/businesses", get(money::list))
        .route("/console/businesses/{id}", get(money::show))
        .route("/console/businesses/{id}/topup", post(money::topup))
        .route(
            "/console/businesses/{id}/rotate-md5",
            post(money::rotate_md5),
        )
        .route("/console/catalog/{kind}", get(catalog::list))
        .route(
            "/console/catalog/{kind}/{id}",
            get(catalog::edit_form).post(catalog::save),
        )
        .layer(axum::middleware::map_response(protect))
}

/// Pages that show money and masked secrets: never cached, never framed, no outside resources,
/// no referrer outside the console.
async fn protect(mut r: Response) -> Response {
    let h = r.headers_mut();
    for (k, v) in [
        (header::CACHE_CONTROL, "no-store"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    ] {
        h.insert(k, HeaderValue::from_static(v));
    }
    r
}

/// A read or write that failed: logged, and a plain 500 (nothing about the cause is shown).
fn internal(e: impl std::fmt::Display) -> Response {
    use axum::response::IntoResponse;
    tracing::error!(error = %e, "console: store error");
    (
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        "internal error; the server log has the cause",
    )
        .into_response()
}
