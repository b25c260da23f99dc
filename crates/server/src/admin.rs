//! The operator's admin API (SPEC §8). Bearer token; JSON in, the open API's envelope out.
//! Secrets given to it are stored for signing and never answered back in full.

use crate::body::read_json_body;
use crate::envelope::{ApiResult, Refusal, http_error, ok};
use crate::state::AppState;
use crate::views::admin_order_view;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Router, body::Body};
use rewardgate_core::catalog::{
    self, Activity, Business, ChannelAccount, Merchant, Product, RabbitpreIntegration, Template,
    Topup,
};
use rewardgate_core::json::{JsonObject, parse_object};
use rewardgate_core::{ApiError, Status, clock};
use rewardgate_store::{OrderFilter, TopupOutcome, ops};
use serde::Deserialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/channel-accounts/{id}",
            get(get_one).put(put_channel_account),
        )
        .route("/templates/{id}", get(get_one).put(put_template))
        .route("/products/{id}", get(get_one).put(put_product))
        .route("/activities/{id}", get(get_one).put(put_activity))
        .route("/merchants/{id}", get(get_one).put(put_merchant))
        .route("/businesses/{id}", get(get_one).put(put_business))
        .route("/businesses/{id}/topups", post(topup))
        .route("/businesses/{id}/balance", get(balance))
        .route(
            "/rabbitpre-integrations/{id}",
            get(get_one).put(put_integration),
        )
        .route("/rabbitpre-integrations/{id}/openids", post(put_openids))
        .route(
            "/rabbitpre-integrations/{id}/openids/{user}",
            get(get_openid),
        )
        .route("/orders", get(list_orders))
        .route("/orders/{code}", get(show_order))
        .route("/orders/{code}/retry", post(retry_order))
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

fn kind_of(path: &str) -> Option<&'static str> {
    let seg = path
        .trim_start_matches("/admin/v1")
        .trim_start_matches('/')
        .split('/')
        .next()?;
    Some(match seg {
        "channel-accounts" => "channel_account",
        "templates" => "template",
        "products" => "product",
        "activities" => "activity",
        "merchants" => "merchant",
        "businesses" => "business",
        "rabbitpre-integrations" => "rabbitpre_integration",
        _ => return None,
    })
}

async fn get_one(
    State(s): State<AppState>,
    Path(id): Path<String>,
    uri: axum::http::Uri,
) -> ApiResult {
    let kind = kind_of(uri.path()).ok_or_else(|| ApiError::not_found("unknown collection"))?;
    let v: Value = s
        .catalog(kind, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("{id} not found")))?;
    Ok(ok(catalog::view(&v)))
}

/// Reads an admin body: JSON object, duplicate-free.
async fn admin_body(req: Request) -> Result<axum::body::Bytes, Response> {
    let (parts, body): (_, Body) = req.into_parts();
    read_json_body(&parts.headers, body, false).await
}

async fn store_object<T: serde::Serialize>(
    s: &AppState,
    kind: &'static str,
    id: &str,
    obj: &T,
) -> Result<(), Refusal> {
    let data = serde_json::to_string(obj).map_err(|_| ApiError::internal())?;
    let (id, now) = (id.to_string(), clock::now_ms());
    s.store
        .write(move |db| ops::put_catalog(db, kind, &id, &data, now))
        .await?;
    tracing::info!(kind, "catalogue object stored");
    Ok(())
}

macro_rules! put_handler {
    ($name:ident, $kind:literal, |$s:ident, $id:ident, $o:ident| $build:expr) => {
        async fn $name(
            State($s): State<AppState>,
            Path($id): Path<String>,
            req: Request,
        ) -> Response {
            let bytes = match admin_body(req).await {
                Ok(b) => b,
                Err(r) => return r,
            };
            let r: ApiResult = async {
                let $o: JsonObject<'_> = parse_object(&bytes)?;
                let obj = $build;
                store_object(&$s, $kind, &$id, &obj).await?;
                Ok(ok(catalog::view(&obj)))
            }
            .await;
            r.unwrap_or_else(IntoResponse::into_response)
        }
    };
}

put_handler!(put_channel_account, "channel_account", |s, id, o| {
    let a = ChannelAccount::from_admin(&id, &o)?;
    if a.sign_type.as_deref() == Some("HMAC-SHA256") {
        refuse_hmac_if_bound(&s, &a.id).await?;
    }
    // The rate bucket exists before the first order of this account can be sent.
    let (aid, rate, now) = (
        a.id.clone(),
        crate::dispatcher::bucket_for(&a),
        clock::now_ms(),
    );
    s.store
        .write(move |db| rewardgate_store::jobs::set_rate(db, &aid, rate, now))
        .await?;
    a
});
put_handler!(put_merchant, "merchant", |s, id, o| Merchant::from_admin(
    &id, &o
)?);
put_handler!(put_template, "template", |s, id, o| {
    let ch = referenced::<ChannelAccount>(&s, "channel_account", &o, "channelAccountId").await?;
    Template::from_admin(&id, &o, ch.as_ref())?
});
put_handler!(put_product, "product", |s, id, o| {
    let ch = referenced::<ChannelAccount>(&s, "channel_account", &o, "channelAccountId").await?;
    Product::from_admin(&id, &o, ch.as_ref())?
});
put_handler!(put_activity, "activity", |s, id, o| {
    let p = referenced::<Product>(&s, "product", &o, "productCode").await?;
    let ch = referenced::<ChannelAccount>(&s, "channel_account", &o, "channelAccountId").await?;
    Activity::from_admin(&id, &o, p.as_ref(), ch.as_ref())?
});

/// A WECHAT_V2 account that templates, transfer products or Rabbitpre integrations send through
/// cannot switch to HMAC-SHA256: those calls sign with MD5 only (see
/// `catalog::wechat_v2_channel`).
async fn refuse_hmac_if_bound(s: &AppState, account: &str) -> Result<(), ApiError> {
    for kind in ["template", "product", "rabbitpre_integration"] {
        let list = s
            .store
            .read(move |db| ops::list_catalog(db, kind))
            .await
            .map_err(|_| ApiError::internal())?;
        let bound = list.iter().any(|d| {
            serde_json::from_str::<Value>(d)
                .is_ok_and(|v| v["channelAccountId"].as_str() == Some(account))
        });
        if bound {
            return Err(ApiError::field(
                "signType",
                format_args!(
                    "HMAC-SHA256 cannot be used: a {kind} sends through {account}, and WeChat Pay's red-packet and transfer APIs sign with MD5 only"
                ),
            ));
        }
    }
    Ok(())
}

async fn referenced<T: serde::de::DeserializeOwned>(
    s: &AppState,
    kind: &'static str,
    o: &JsonObject<'_>,
    field: &str,
) -> Result<Option<T>, ApiError> {
    match o.opt_str(field)? {
        None => Ok(None),
        Some(id) => s.catalog(kind, &id).await,
    }
}

async fn put_business(State(s): State<AppState>, Path(id): Path<String>, req: Request) -> Response {
    let bytes = match admin_body(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let r: ApiResult = async {
        let o = parse_object(&bytes)?;
        let merchant = referenced::<Merchant>(&s, "merchant", &o, "merchantId").await?;
        let b = Business::from_admin(&id, &o, merchant.is_some())?;
        if let Some(u) = &b.callback_url
            && !s.allow_private_callbacks
            && let Some(why) = rewardgate_core::target::parse(u)
                .ok()
                .and_then(|url| rewardgate_core::target::refusal(&url))
        {
            return Err(ApiError::field(
                "callbackUrl",
                format_args!("must not point at a private address: {why}"),
            )
            .into());
        }
        let data = serde_json::to_string(&b).map_err(|_| ApiError::internal())?;
        let (bid, credit, now) = (b.id.clone(), b.credit_line, clock::now_ms());
        let rate = b.requests_per_second.map(|r| rewardgate_store::jobs::Rate {
            per_minute: r * 60,
            capacity: r,
        });
        s.store
            .write(move |db| {
                ops::put_catalog(db, "business", &bid, &data, now)?;
                ops::ensure_business_accounts(db, &bid, credit)?;
                rewardgate_store::jobs::set_rate(db, &ops::business_bucket(&bid), rate, now)
            })
            .await?;
        s.forget_business(&id);
        tracing::info!(business_id = %id, "business stored");
        Ok(ok(catalog::view(&b)))
    }
    .await;
    r.unwrap_or_else(IntoResponse::into_response)
}

async fn known_business(s: &AppState, id: &str) -> Result<Business, ApiError> {
    s.catalog::<Business>("business", id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("businessId {id} not found")))
}

fn balance_json(b: &rewardgate_store::Balance) -> Value {
    json!({"amount": b.available, "frozen": b.held, "creditLine": b.credit_line, "spent": b.spent})
}

async fn topup(State(s): State<AppState>, Path(id): Path<String>, req: Request) -> Response {
    let bytes = match admin_body(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let r: ApiResult = async {
        let o = parse_object(&bytes)?;
        let t = Topup::from_admin(&o)?;
        known_business(&s, &id).await?;
        let (bid, now) = (id.clone(), clock::now_ms());
        let out = s
            .store
            .write(move |db| ops::topup(db, &bid, t.amount, &t.reference, now))
            .await?;
        match out {
            TopupOutcome::Applied(b) => {
                tracing::info!(business_id = %id, "top-up applied");
                Ok(ok(balance_json(&b)))
            }
            TopupOutcome::AlreadyApplied(b) => Ok(ok(balance_json(&b))),
            TopupOutcome::Conflict => Err(ApiError::new(
                Status::BizCodeConflict,
                "reference was already used with a different amount",
            )
            .into()),
        }
    }
    .await;
    r.unwrap_or_else(IntoResponse::into_response)
}

async fn balance(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult {
    known_business(&s, &id).await?;
    let b = s.store.balance(id).await?.ok_or_else(ApiError::internal)?;
    Ok(ok(balance_json(&b)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    merchant_id: Option<String>,
    business_id: Option<String>,
    status: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

async fn list_orders(
    State(s): State<AppState>,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(q) = q.map_err(|e| ApiError::field("query", e.body_text()))?;
    let limit = match q.limit.as_deref().filter(|l| !l.is_empty()) {
        None => 50,
        Some(l) => l
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| ApiError::field("limit", "must be 1-1000"))?,
    };
    if let Some(st) = q.status.as_deref().filter(|x| !x.is_empty()) {
        rewardgate_core::order::OrderStatus::parse(st)
            .ok_or_else(|| ApiError::field("status", "is not an order status"))?;
    }
    let before_id = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(
            c.parse::<i64>()
                .map_err(|_| ApiError::field("cursor", "is not a cursor from a previous page"))?,
        ),
    };
    let f = OrderFilter {
        merchant_id: q.merchant_id.filter(|x| !x.is_empty()),
        business_id: q.business_id.filter(|x| !x.is_empty()),
        status: q.status.filter(|x| !x.is_empty()),
        limit,
        before_id,
    };
    let items = s.store.read(move |db| ops::list_orders(db, &f)).await?;
    let next = if items.len() as i64 == limit {
        items.last().map(|o| o.id.to_string())
    } else {
        None
    };
    Ok(ok(
        json!({"items": items.iter().map(admin_order_view).collect::<Vec<_>>(), "nextCursor": next}),
    ))
}

async fn show_order(State(s): State<AppState>, Path(code): Path<String>) -> ApiResult {
    let o = s
        .store
        .order_by_code(code.clone())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("order {code} not found")))?;
    let id = o.id;
    let postings = s.store.read(move |db| ops::order_postings(db, id)).await?;
    let mut v = admin_order_view(&o);
    v["postings"] = postings
        .iter()
        .map(|(k, a, at)| json!({"kind": k, "amount": a, "at": at}))
        .collect::<Vec<_>>()
        .into();
    let id = o.id;
    let (attempts, notes) = s
        .store
        .read(move |db| {
            Ok((
                rewardgate_store::jobs::attempts(db, id)?,
                ops::notifications_of(db, id)?,
            ))
        })
        .await?;
    v["attempts"] = attempts
        .iter()
        .map(|a| json!({"step": a.step, "outcome": a.outcome, "detail": a.detail, "latencyMs": a.latency_ms, "worker": a.worker, "at": a.at}))
        .collect::<Vec<_>>()
        .into();
    v["notifications"] = notifications_with_attempts(&s, notes).await?.into();
    Ok(ok(v))
}

/// Re-runs a stuck or waiting order with its same upstream key: it can never pay twice.
async fn retry_order(State(s): State<AppState>, Path(code): Path<String>) -> ApiResult {
    let o = s
        .store
        .order_by_code(code.clone())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("order {code} not found")))?;
    if o.status.is_final() {
        return Err(ApiError::field(
            "orderCode",
            format_args!("is {} already: nothing to retry", o.status.as_str()),
        )
        .into());
    }
    let (id, now) = (o.id, clock::now_ms());
    let rearmed = s
        .store
        .write(move |db| rewardgate_store::jobs::rearm(db, id, now))
        .await?;
    if !rearmed {
        return Err(ApiError::field(
            "orderCode",
            "is being delivered right now or has nothing left to do",
        )
        .into());
    }
    tracing::info!(order_code = %code, "order re-armed by an operator");
    let o = s
        .store
        .order_by_code(code)
        .await?
        .ok_or_else(ApiError::internal)?;
    Ok(ok(admin_order_view(&o)))
}

async fn job_counts(State(s): State<AppState>) -> ApiResult {
    let counts = s.store.read(rewardgate_store::jobs::job_counts).await?;
    let m: serde_json::Map<String, Value> =
        counts.into_iter().map(|(k, v)| (k, json!(v))).collect();
    Ok(ok(Value::Object(m)))
}

async fn ledger(State(s): State<AppState>) -> ApiResult {
    let c = s.store.ledger_check().await?;
    Ok(ok(
        json!({"sum": c.sum, "postings": c.postings, "mismatchedAccounts": c.mismatched_accounts, "balanced": c.sum == 0 && c.mismatched_accounts.is_empty()}),
    ))
}

async fn notifications_with_attempts(
    s: &AppState,
    notes: Vec<rewardgate_store::NotificationRecord>,
) -> Result<Vec<Value>, Refusal> {
    let mut out = Vec::new();
    for n in notes {
        let id = n.notify_id.clone();
        let attempts = s
            .store
            .read(move |db| rewardgate_store::notifications::attempts_of(db, &id))
            .await?;
        let mut v = n.view();
        v["attemptLog"] = attempts
            .into_iter()
            .map(|a| json!({"at": a.at, "httpStatus": a.http_status, "latencyMs": a.latency_ms, "error": a.error}))
            .collect::<Vec<_>>()
            .into();
        out.push(v);
    }
    Ok(out)
}

/// Every status report of an order, with every attempt (time, HTTP status, latency, error).
async fn order_notifications(State(s): State<AppState>, Path(code): Path<String>) -> ApiResult {
    let o = s
        .store
        .order_by_code(code.clone())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("order {code} not found")))?;
    let id = o.id;
    let notes = s
        .store
        .read(move |db| ops::notifications_of(db, id))
        .await?;
    Ok(ok(
        json!({"orderCode": code, "items": notifications_with_attempts(&s, notes).await?}),
    ))
}

/// Sends a report again from the start of its schedule.
async fn redeliver(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult {
    let (nid, now) = (id.clone(), clock::now_ms());
    let found = s
        .store
        .read(move |db| rewardgate_store::notifications::by_id(db, &nid))
        .await?;
    if found.is_none() {
        return Err(ApiError::not_found(format!("notification {id} not found")).into());
    }
    let nid = id.clone();
    let done = s
        .store
        .write(move |db| rewardgate_store::notifications::redeliver(db, &nid, now))
        .await?;
    if !done {
        return Err(
            ApiError::field("notifyId", "is being sent right now; try again in a moment").into(),
        );
    }
    tracing::info!(notify_id = %id, "callback redelivery requested");
    let nid = id.clone();
    let n = s
        .store
        .read(move |db| rewardgate_store::notifications::by_id(db, &nid))
        .await?
        .ok_or_else(ApiError::internal)?;
    Ok(ok(n.view()))
}

async fn put_integration(
    State(s): State<AppState>,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    let bytes = match admin_body(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let r: ApiResult = async {
        let o = parse_object(&bytes)?;
        let b = referenced::<Business>(&s, "business", &o, "businessId").await?;
        let ch =
            referenced::<ChannelAccount>(&s, "channel_account", &o, "channelAccountId").await?;
        let t = referenced::<Template>(&s, "template", &o, "templateId").await?;
        let i = RabbitpreIntegration::from_admin(&id, &o, b.as_ref(), ch.as_ref(), t.as_ref())?;
        store_object(&s, "rabbitpre_integration", &id, &i).await?;
        Ok(ok(catalog::view(&i)))
    }
    .await;
    r.unwrap_or_else(IntoResponse::into_response)
}

/// Bulk Rabbitpre user id → openid mappings: `{"mappings": [{"userId", "openid"}…]}` (up to 10 000).
async fn put_openids(State(s): State<AppState>, Path(id): Path<String>, req: Request) -> Response {
    let bytes = match admin_body(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let r: ApiResult = async {
        s.catalog::<RabbitpreIntegration>("rabbitpre_integration", &id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("integration {id} not found")))?;
        let v: Value = serde_json::from_slice(&bytes)
            .map_err(|_| ApiError::field("body", "is not valid JSON"))?;
        let list = v["mappings"]
            .as_array()
            .ok_or_else(|| ApiError::field("mappings", "must be a list"))?;
        if list.len() > 10_000 {
            return Err(
                ApiError::field("mappings", "must have at most 10000 entries a call").into(),
            );
        }
        let mut pairs = Vec::with_capacity(list.len());
        for (n, m) in list.iter().enumerate() {
            let u = m["userId"]
                .as_str()
                .filter(|x| !x.is_empty() && x.len() <= 128);
            let o = m["openid"]
                .as_str()
                .filter(|x| rewardgate_core::ids::openid_ok(x));
            match (u, o) {
                (Some(u), Some(o)) => pairs.push((u.to_string(), o.to_string())),
                _ => {
                    return Err(ApiError::field(
                        "mappings",
                        format_args!(
                            "[{n}] needs userId (1-128 characters) and openid (1-128 of A-Z a-z 0-9 _ -)"
                        ),
                    )
                    .into());
                }
            }
        }
        let (iid, now) = (id.clone(), clock::now_ms());
        let n = pairs.len();
        s.store
            .write(move |db| ops::put_openid_mappings(db, &iid, &pairs, now))
            .await?;
        Ok(ok(json!({"integration": id, "stored": n})))
    }
    .await;
    r.unwrap_or_else(IntoResponse::into_response)
}

async fn get_openid(
    State(s): State<AppState>,
    Path((id, user)): Path<(String, String)>,
) -> ApiResult {
    let (iid, u) = (id.clone(), user.clone());
    let openid = s
        .store
        .read(move |db| ops::openid_mapping(db, &iid, &u))
        .await?;
    let openid = openid
        .ok_or_else(|| ApiError::not_found(format!("no mapping for {user} in integration {id}")))?;
    Ok(ok(
        json!({"integration": id, "userId": user, "openid": openid}),
    ))
}
