//! The operator's admin API (SPEC §8). Bearer token; JSON in, the open API's envelope out.
//! Secrets given to it are stored for signing and never answered back in full. By concern:
//! `catalog` (channel accounts, templates, products, activities, merchants, businesses,
//! Rabbitpre integrations), `money` (top-ups, balances, the ledger), `orders` (orders, retries,
//! reports, jobs).

pub(crate) mod catalog;
pub(crate) mod money;
pub(crate) mod orders;

use crate::envelope::http_error;
use crate::state::AppState;
use axum::Router;
use axum::extract::{FromRequest, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};
use subtle::ConstantTimeEq;

pub fn routes() -> Router<AppState> {
    use catalog::*;
    use money::*;
    use orders::*;
    Router::new()
        .route(
            "/channel-accounts/{id}",
            get(get_channel_account).put(put_channel_account),
        )
        .route("/templates/{id}", get(get_template).put(put_template))
        .route("/products/{id}", get(get_product).put(put_product))
        .route("/activities/{id}", get(get_activity).put(put_activity))
        .route("/merchants/{id}", get(get_merchant).put(put_merchant))
        .route("/businesses/{id}", get(get_business).put(put_business))
        .route("/businesses/{id}/topups", post(topup))
        .route("/businesses/{id}/balance", get(balance))
        .route(
            "/rabbitpre-integrations/{id}",
            get(get_integration).put(put_integration),
        )
        .route("/rabbitpre-integrations/{id}/openids", post(put_openids))
        .route(
            "/rabbitpre-integrations/{id}/openids/{user}",
            get(get_openid),
        )
        .route("/orders", get(list_orders))
        .route("/orders/{code}", get(show_order))
        .route("/orders/{code}/retry", post(retry_order))
        .route("/orders/{code}/cancel", post(cancel_order))
        .route("/orders/{code}/notifications", get(order_notifications))
        .route("/notifications/{id}/redeliver", post(redeliver))
        .route("/jobs", get(job_counts))
        .route("/ledger", get(ledger))
}

/// Refuses every admin call without the configured token (HTTP 401), and all of them when no
/// token is configured (the admin API is off).
pub async fn require_token(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let Some(token) = &s.admin_token else {
        return http_error(
            StatusCode::NOT_FOUND,
            "the admin API is off: set RG_ADMIN_TOKEN",
        );
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !bool::from(given.as_bytes().ct_eq(token.expose().as_bytes())) {
        return http_error(StatusCode::UNAUTHORIZED, "missing or wrong admin token");
    }
    next.run(req).await
}

/// An admin body: JSON, at most 64 KiB (read as its handler parses it: one object, no duplicate
/// member names, errors that name the field).
pub struct AdminJson(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for AdminJson {
    type Rejection = Response;
    async fn from_request(req: Request, _: &S) -> Result<Self, Response> {
        let (parts, body) = req.into_parts();
        crate::body::read_json_body(&parts.headers, body, false)
            .await
            .map(AdminJson)
    }
}
