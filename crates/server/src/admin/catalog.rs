//! Catalogue objects: created or replaced with PUT (idempotent), read back with secrets masked.

use super::AdminJson;
use crate::envelope::{ApiResult, Refusal, ok};
use crate::state::AppState;
use axum::extract::{Path, State};
use rewardgate_core::catalog::{
    self, Activity, Business, CatalogObject, ChannelAccount, Merchant, Product,
    RabbitpreIntegration, Template,
};
use rewardgate_core::json::{JsonObject, parse_object};
use rewardgate_core::rate::Rate;
use rewardgate_core::{ApiError, clock};
use serde_json::{Value, json};

async fn get_one<T: CatalogObject>(s: &AppState, id: &str) -> ApiResult {
    let v: T = s
        .catalog(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("{id} not found")))?;
    Ok(ok(catalog::view(&v)))
}

pub async fn get_channel_account(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult {
    get_one::<ChannelAccount>(&s, &id).await
}
pub async fn get_template(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult {
    get_one::<Template>(&s, &id).await
}
pub async fn get_product(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult {
    get_one::<Product>(&s, &id).await
}
pub async fn get_activity(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult {
    get_one::<Activity>(&s, &id).await
}
pub async fn get_merchant(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult {
    get_one::<Merchant>(&s, &id).await
}
pub async fn get_business(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult {
    get_one::<Business>(&s, &id).await
}
pub async fn get_integration(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult {
    get_one::<RabbitpreIntegration>(&s, &id).await
}

/// Stores a parsed object; its masked view.
async fn store<T: CatalogObject>(s: &AppState, obj: T) -> Result<Value, Refusal> {
    let data = serde_json::to_string(&obj).map_err(|_| ApiError::internal())?;
    s.store
        .put_catalog(T::KIND, obj.id().to_string(), data, clock::now_ms())
        .await?;
    s.forget_catalog();
    tracing::info!(kind = T::KIND, "catalogue object stored");
    Ok(catalog::view(&obj))
}

/// The object another one names in `field`, if it exists.
async fn referenced<T: CatalogObject>(
    s: &AppState,
    o: &JsonObject<'_>,
    field: &str,
) -> Result<Option<T>, ApiError> {
    match o.opt_str(field)? {
        None => Ok(None),
        Some(id) => s.catalog(&id).await,
    }
}

pub async fn put_channel_account(
    State(s): State<AppState>,
    Path(id): Path<String>,
    AdminJson(body): AdminJson,
) -> ApiResult {
    Ok(ok(parse_and_store_channel_account(&s, &id, &body).await?))
}

async fn parse_and_store_channel_account(
    s: &AppState,
    id: &str,
    body: &[u8],
) -> Result<Value, Refusal> {
    let o = parse_object(body)?;
    let a = ChannelAccount::from_admin(id, &o)?;
    if a.sign_type.as_deref() == Some("HMAC-SHA256") {
        refuse_hmac_if_bound(s, &a.id).await?;
    }
    // The account and its rate bucket together: the bucket exists before its first send.
    let data = serde_json::to_string(&a).map_err(|_| ApiError::internal())?;
    s.store
        .put_channel_account(a.id.clone(), data, Rate::for_account(&a), clock::now_ms())
        .await?;
    s.forget_catalog();
    tracing::info!(kind = ChannelAccount::KIND, "catalogue object stored");
    Ok(catalog::view(&a))
}

/// A WECHAT_V2 account that templates, transfer products or Rabbitpre integrations send through
/// cannot switch to HMAC-SHA256: those calls sign with MD5 only (see
/// `catalog::wechat_v2_channel`).
async fn refuse_hmac_if_bound(s: &AppState, account: &str) -> Result<(), ApiError> {
    for kind in [Template::KIND, Product::KIND, RabbitpreIntegration::KIND] {
        let list = s
            .store
            .list_catalog(kind)
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

pub async fn put_merchant(
    State(s): State<AppState>,
    Path(id): Path<String>,
    AdminJson(body): AdminJson,
) -> ApiResult {
    Ok(ok(parse_and_store_merchant(&s, &id, &body).await?))
}

async fn parse_and_store_merchant(s: &AppState, id: &str, body: &[u8]) -> Result<Value, Refusal> {
    let o = parse_object(body)?;
    store(s, Merchant::from_admin(id, &o)?).await
}

pub async fn put_template(
    State(s): State<AppState>,
    Path(id): Path<String>,
    AdminJson(body): AdminJson,
) -> ApiResult {
    Ok(ok(parse_and_store_template(&s, &id, &body).await?))
}

async fn parse_and_store_template(s: &AppState, id: &str, body: &[u8]) -> Result<Value, Refusal> {
    let o = parse_object(body)?;
    let ch: Option<ChannelAccount> = referenced(s, &o, "channelAccountId").await?;
    store(s, Template::from_admin(id, &o, ch.as_ref())?).await
}

pub async fn put_product(
    State(s): State<AppState>,
    Path(id): Path<String>,
    AdminJson(body): AdminJson,
) -> ApiResult {
    Ok(ok(parse_and_store_product(&s, &id, &body).await?))
}

async fn parse_and_store_product(s: &AppState, id: &str, body: &[u8]) -> Result<Value, Refusal> {
    let o = parse_object(body)?;
    let ch: Option<ChannelAccount> = referenced(s, &o, "channelAccountId").await?;
    store(s, Product::from_admin(id, &o, ch.as_ref())?).await
}

pub async fn put_activity(
    State(s): State<AppState>,
    Path(id): Path<String>,
    AdminJson(body): AdminJson,
) -> ApiResult {
    Ok(ok(parse_and_store_activity(&s, &id, &body).await?))
}

async fn parse_and_store_activity(s: &AppState, id: &str, body: &[u8]) -> Result<Value, Refusal> {
    let o = parse_object(body)?;
    let p: Option<Product> = referenced(s, &o, "productCode").await?;
    let ch: Option<ChannelAccount> = referenced(s, &o, "channelAccountId").await?;
    store(s, Activity::from_admin(id, &o, p.as_ref(), ch.as_ref())?).await
}

pub async fn put_business(
    State(s): State<AppState>,
    Path(id): Path<String>,
    AdminJson(body): AdminJson,
) -> ApiResult {
    Ok(ok(parse_and_store_business(&s, &id, &body).await?))
}

async fn parse_and_store_business(s: &AppState, id: &str, body: &[u8]) -> Result<Value, Refusal> {
    let o = parse_object(body)?;
    let merchant: Option<Merchant> = referenced(s, &o, "merchantId").await?;
    let b = Business::from_admin(id, &o, merchant.is_some())?;
    if let Some(u) = &b.callback_url {
        rewardgate_core::target::check_callback("callbackUrl", u, s.allow_private_callbacks)?;
    }
    let data = serde_json::to_string(&b).map_err(|_| ApiError::internal())?;
    let rate = b.requests_per_second.map(Rate::for_business);
    s.store
        .put_business(b.id.clone(), data, b.credit_line, rate, clock::now_ms())
        .await?;
    s.forget_catalog();
    tracing::info!(business_id = %id, "business stored");
    Ok(catalog::view(&b))
}

pub async fn put_integration(
    State(s): State<AppState>,
    Path(id): Path<String>,
    AdminJson(body): AdminJson,
) -> ApiResult {
    Ok(ok(parse_and_store_integration(&s, &id, &body).await?))
}

async fn parse_and_store_integration(
    s: &AppState,
    id: &str,
    body: &[u8],
) -> Result<Value, Refusal> {
    let o = parse_object(body)?;
    let b: Option<Business> = referenced(s, &o, "businessId").await?;
    let ch: Option<ChannelAccount> = referenced(s, &o, "channelAccountId").await?;
    let t: Option<Template> = referenced(s, &o, "templateId").await?;
    let i = RabbitpreIntegration::from_admin(id, &o, b.as_ref(), ch.as_ref(), t.as_ref())?;
    store(s, i).await
}

/// Parses and stores a catalogue object of `kind` (a `CatalogObject::KIND`) from its admin JSON,
/// exactly as the admin API's PUT does (the console's forms come through here): its masked view.
pub(crate) async fn parse_and_store(
    s: &AppState,
    kind: &str,
    id: &str,
    body: &[u8],
) -> Result<Value, Refusal> {
    match kind {
        ChannelAccount::KIND => parse_and_store_channel_account(s, id, body).await,
        Template::KIND => parse_and_store_template(s, id, body).await,
        Product::KIND => parse_and_store_product(s, id, body).await,
        Activity::KIND => parse_and_store_activity(s, id, body).await,
        Merchant::KIND => parse_and_store_merchant(s, id, body).await,
        Business::KIND => parse_and_store_business(s, id, body).await,
        RabbitpreIntegration::KIND => parse_and_store_integration(s, id, body).await,
        _ => Err(ApiError::not_found(format!("no catalogue kind {kind}")).into()),
    }
}

/// Bulk Rabbitpre user id → openid mappings: `{"mappings": [{"userId", "openid"}…]}` (up to
/// 10 000).
pub async fn put_openids(
    State(s): State<AppState>,
    Path(id): Path<String>,
    AdminJson(body): AdminJson,
) -> ApiResult {
    s.catalog::<RabbitpreIntegration>(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("integration {id} not found")))?;
    let v: Value =
        serde_json::from_slice(&body).map_err(|_| ApiError::field("body", "is not valid JSON"))?;
    let list = v["mappings"]
        .as_array()
        .ok_or_else(|| ApiError::field("mappings", "must be a list"))?;
    if list.len() > 10_000 {
        return Err(ApiError::field("mappings", "must have at most 10000 entries a call").into());
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
    let n = pairs.len();
    s.store
        .put_openid_mappings(id.clone(), pairs, clock::now_ms())
        .await?;
    Ok(ok(json!({"integration": id, "stored": n})))
}

pub async fn get_openid(
    State(s): State<AppState>,
    Path((id, user)): Path<(String, String)>,
) -> ApiResult {
    let openid = s
        .store
        .openid_mapping(id.clone(), user.clone())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no mapping for {user} in integration {id}")))?;
    Ok(ok(
        json!({"integration": id, "userId": user, "openid": openid}),
    ))
}
