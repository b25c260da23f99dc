//! The merchant-facing open API (SPEC §4): thin handlers — verify, parse, route and price through
//! the domain, store, answer.

use crate::auth::{Signed, Verified};
use crate::envelope::{ApiResult, Refusal, ok};
use crate::state::AppState;
use crate::views::order_view;
use axum::extract::State;
use axum::response::Response;
use rewardgate_core::catalog::{
    Activity, ChannelAccount, ChannelKind, Product, Template, not_enabled,
};
use rewardgate_core::json::{JsonObject, parse_object};
use rewardgate_core::order::{KeyScheme, NewOrder, OrderSpec, ProductType};
use rewardgate_core::request::{Caller, CreateOrder, OrderQuery, parse_caller};
use rewardgate_core::{ApiError, Fen, Status, ids, pricing};
use rewardgate_store::{AcceptOutcome, Admit, NonceUse};
use serde_json::json;

fn too_many() -> Refusal {
    ApiError::new(
        Status::TooManyRequests,
        "too many requests for this business; retry later",
    )
    .into()
}

fn owner_check(v: &Verified, caller: &Caller) -> Result<(), ApiError> {
    if v.auth.business.merchant_id != caller.merchant_id {
        return Err(ApiError::new(
            Status::NotOwner,
            "merchantId does not own businessId",
        ));
    }
    Ok(())
}

pub async fn red_packet(State(s): State<AppState>, req: Signed) -> ApiResult {
    create(&s, req, ProductType::RedPacket).await
}

pub async fn wechat_coupon(State(s): State<AppState>, req: Signed) -> ApiResult {
    create(&s, req, ProductType::WechatCoupon).await
}

pub async fn alipay_coupon(State(s): State<AppState>, req: Signed) -> ApiResult {
    create(&s, req, ProductType::AlipayCoupon).await
}

pub async fn wechat_transfer(State(s): State<AppState>, req: Signed) -> ApiResult {
    create(&s, req, ProductType::WechatTransfer).await
}

async fn create(s: &AppState, req: Signed, t: ProductType) -> ApiResult {
    let (v, body) = (req.verified, req.body);
    let obj = parse_object(&body)?;
    let req = CreateOrder::parse(t, &obj, &v.auth.business.id)?;
    owner_check(&v, &req.caller)?;
    let new = route(s, &v, req).await?;
    let nonce = NonceUse {
        business_id: new.business_id.clone(),
        nonce: v.nonce.clone(),
        now: v.now,
    };
    let order = match s.store.accept(nonce, new).await? {
        AcceptOutcome::Created(o) => {
            tracing::info!(order_code = %o.order_code, business_id = %o.business_id, product_type = o.product_type.as_str(), settlement = o.settlement.0, "order accepted");
            o
        }
        AcceptOutcome::Existing(o) => o,
        AcceptOutcome::Conflict => {
            return Err(ApiError::new(
                Status::BizCodeConflict,
                "bizCode was already used with a different request",
            )
            .into());
        }
        AcceptOutcome::NonceReplay => {
            return Err(ApiError::new(Status::NonceUsed, "nonce was already used").into());
        }
        AcceptOutcome::TooManyRequests => return Err(too_many()),
        AcceptOutcome::Insufficient => {
            return Err(ApiError::new(
                Status::InsufficientBalance,
                "insufficient balance for this order's settlement price",
            )
            .into());
        }
    };
    Ok(ok(
        json!({"orderCode": order.order_code, "bizCode": order.biz_code, "settlementPrice": order.settlement}),
    ))
}

/// Finds what the order is made of (template, product, activity, channel account), checks it is
/// usable, and prices it.
async fn route(s: &AppState, v: &Verified, req: CreateOrder) -> Result<NewOrder, ApiError> {
    let b = &v.auth.business;
    let now = v.now;
    let (settlement, amount, channel_id): (Fen, Option<Fen>, String) = match req.product_type {
        ProductType::RedPacket => {
            let id = req.template_id.clone().unwrap_or_default();
            if !b.allows_template(&id) {
                return Err(not_enabled("templateId", &id));
            }
            let t: Template = s
                .catalog(&id)
                .await?
                .ok_or_else(|| not_enabled("templateId", &id))?;
            let spec = req.spec.unwrap_or_default();
            (
                pricing::price_red_packet(spec, &t)?,
                Some(spec),
                t.channel_account_id,
            )
        }
        ProductType::WechatTransfer => {
            let p = product(s, &req).await?;
            let spec = req.spec.unwrap_or_default();
            let ch = p.channel_account_id.clone().unwrap_or_default();
            let price = pricing::price_transfer(spec, &p)?;
            let account: Option<ChannelAccount> = s.catalog(&ch).await?;
            if account.is_some_and(|a| a.kind == ChannelKind::WechatV3) {
                pricing::check_transfer_bill(spec)?;
            }
            (price, Some(spec), ch)
        }
        ProductType::WechatCoupon | ProductType::AlipayCoupon => {
            let p = product(s, &req).await?;
            let id = req.activity_id.clone().unwrap_or_default();
            if !b.allows_activity(&id) {
                return Err(not_enabled("activityId", &id));
            }
            let a: Activity = s
                .catalog(&id)
                .await?
                .ok_or_else(|| not_enabled("activityId", &id))?;
            (
                pricing::price_coupon(&p, &a, now)?,
                p.face_value,
                a.channel_account_id,
            )
        }
    };
    let channel: ChannelAccount = s
        .catalog(&channel_id)
        .await?
        .ok_or_else(|| not_enabled("channel account", &channel_id))?;
    let key = match (req.product_type, &channel.mch_id) {
        (ProductType::RedPacket, Some(m)) => KeyScheme::MchBillno { mch_id: m.clone() },
        _ => KeyScheme::OrderCode,
    };
    let app_id = match req.product_type {
        ProductType::AlipayCoupon => None,
        _ => Some(b.app_id_for(req.app_id.as_deref(), &channel.app_id)?),
    };
    // A callback may not point inside the operator's network (SPEC §5), whatever its spelling.
    if let Some(u) = &req.callback_url
        && !s.allow_private_callbacks
    {
        let url =
            rewardgate_core::target::parse(u).map_err(|e| ApiError::field("callbackUrl", e))?;
        if let Some(why) = rewardgate_core::target::refusal(&url) {
            return Err(ApiError::field(
                "callbackUrl",
                format_args!("must not point at a private address: {why}"),
            ));
        }
    }
    Ok(NewOrder {
        spec: OrderSpec {
            order_code: ids::order_code(now),
            business_id: b.id.clone().into(),
            merchant_id: req.caller.merchant_id.clone(),
            fingerprint: req.fingerprint(),
            biz_code: req.biz_code,
            product_type: req.product_type,
            template_id: req.template_id,
            product_code: req.product_code,
            activity_id: req.activity_id,
            open_id: req.open_id,
            mobile: req.mobile,
            app_id,
            amount,
            settlement,
            callback_url: req.callback_url.or_else(|| b.callback_url.clone()),
            description: req.description,
            channel_account_id: channel.id.into(),
            created_at: now,
            delivery: None,
        },
        key,
    })
}

async fn product(s: &AppState, req: &CreateOrder) -> Result<Product, ApiError> {
    let code = req.product_code.clone().unwrap_or_default();
    let p: Product = s
        .catalog(&code)
        .await?
        .ok_or_else(|| not_enabled("productCode", &code))?;
    if Some(p.kind) != pricing::product_kind_for(req.product_type) {
        return Err(not_enabled("productCode", &code));
    }
    Ok(p)
}

/// Uses the request's nonce (reads consume one too: a replayed query is refused like any other).
async fn spend_nonce(s: &AppState, v: &Verified) -> Result<(), Refusal> {
    let n = NonceUse {
        business_id: v.auth.business.id.clone().into(),
        nonce: v.nonce.clone(),
        now: v.now,
    };
    match s.store.admit(n).await? {
        Admit::Yes => Ok(()),
        Admit::NonceReplay => {
            Err(ApiError::new(Status::NonceUsed, "nonce was already used").into())
        }
        Admit::TooManyRequests => Err(too_many()),
    }
}

pub async fn order_info(State(s): State<AppState>, req: Signed) -> ApiResult {
    let (v, body) = (req.verified, req.body);
    let obj = parse_object(&body)?;
    let q = OrderQuery::parse(&obj, &v.auth.business.id)?;
    owner_check(&v, &q.caller)?;
    spend_nonce(&s, &v).await?;
    let found = match (&q.order_code, &q.biz_code) {
        (Some(code), _) => s
            .store
            .order_by_code(code.clone())
            .await?
            .filter(|o| o.business_id.as_str() == q.caller.business_id),
        (None, Some(biz)) => {
            s.store
                .order_by_biz_code(q.caller.business_id.clone(), biz.clone())
                .await?
        }
        (None, None) => None,
    };
    let o = found.ok_or_else(|| ApiError::not_found("order not found"))?;
    if let (Some(code), Some(biz)) = (&q.order_code, &q.biz_code)
        && (code.as_str() != o.order_code.as_str() || *biz != o.biz_code)
    {
        return Err(ApiError::not_found(
            "order not found (orderCode and bizCode name different orders)",
        )
        .into());
    }
    Ok(ok(order_view(&o)))
}

pub async fn balance(State(s): State<AppState>, req: Signed) -> ApiResult {
    let (v, body) = (req.verified, req.body);
    let obj: JsonObject<'_> = parse_object(&body)?;
    let caller = parse_caller(&obj, &v.auth.business.id)?;
    owner_check(&v, &caller)?;
    spend_nonce(&s, &v).await?;
    let b = s
        .store
        .balance(caller.business_id.clone())
        .await?
        .ok_or_else(ApiError::internal)?;
    Ok(ok(json!({
        "merchantId": caller.merchant_id,
        "businessId": caller.business_id,
        "amount": b.available,
        "frozen": b.held,
        "creditLine": b.credit_line,
    })))
}

pub async fn public_key(State(s): State<AppState>) -> Response {
    ok(json!({"publicKey": s.platform_public_pem.as_str(), "signType": "SHA256-RSA"}))
}
