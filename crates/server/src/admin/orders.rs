//! Orders for operators: lists and details, retries of stuck orders (same key: never pays
//! twice), status reports and their redelivery, job counts.

use crate::envelope::{ApiResult, Refusal, ok};
use crate::state::AppState;
use crate::views::{admin_order_view, order_detail_view, report_view};
use axum::extract::{Path, Query, State};
use rewardgate_core::order::{Order, OrderStatus};
use rewardgate_core::{ApiError, clock};
use rewardgate_store::{OrderFilter, ReportRecord};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    merchant_id: Option<String>,
    business_id: Option<String>,
    status: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

pub async fn list_orders(
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
    let status = match q.status.as_deref().filter(|x| !x.is_empty()) {
        None => None,
        Some(st) => Some(
            OrderStatus::parse(st)
                .ok_or_else(|| ApiError::field("status", "is not an order status"))?,
        ),
    };
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
        status,
        limit,
        before_id,
        ..OrderFilter::default()
    };
    let items = s.store.list_orders(f).await?;
    let next = if items.len() as i64 == limit {
        items.last().map(|o| o.id.to_string())
    } else {
        None
    };
    Ok(ok(json!({
        "items": items.iter().map(admin_order_view).collect::<Vec<_>>(),
        "nextCursor": next,
    })))
}

pub async fn show_order(State(s): State<AppState>, Path(code): Path<String>) -> ApiResult {
    let d = s
        .store
        .order_detail(code.clone())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("order {code} not found")))?;
    Ok(ok(order_detail_view(&d)))
}

/// Re-runs a stuck or waiting order with its same upstream key: it can never pay twice.
pub async fn retry_order(State(s): State<AppState>, Path(code): Path<String>) -> ApiResult {
    let o = retry(&s, &code).await?;
    Ok(ok(admin_order_view(&o)))
}

/// The retry itself (the admin API and the console): the order as it is afterwards.
pub(crate) async fn retry(s: &AppState, code: &str) -> Result<Order, Refusal> {
    let o = s
        .store
        .order_by_code(code.to_string())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("order {code} not found")))?;
    if o.status.is_final() {
        return Err(ApiError::field(
            "orderCode",
            format_args!("is {} already: nothing to retry", o.status.as_str()),
        )
        .into());
    }
    if !s.store.rearm(o.id, clock::now_ms()).await? {
        return Err(ApiError::field(
            "orderCode",
            "is being delivered right now or has nothing left to do",
        )
        .into());
    }
    tracing::info!(order_code = %code, "order re-armed by an operator");
    Ok(s.store
        .order_by_code(code.to_string())
        .await?
        .ok_or_else(ApiError::internal)?)
}

pub async fn cancel_order(State(s): State<AppState>, Path(code): Path<String>) -> ApiResult {
    let (o, bill_state) = cancel(&s, &code).await?;
    let mut v = admin_order_view(&o);
    v["billState"] = json!(bill_state);
    Ok(ok(v))
}

/// Cancels a 商家转账 that WeChat has not paid yet (撤销转账, pay.weixin.qq.com doc 4012716458:
/// only before the user confirms; "返回成功仅表示撤销请求已受理…以最终查询单据返回状态为准").
/// Nothing about money changes here: an accepted cancel makes the order's job due now, and the
/// dispatcher's query of the bill (CANCELLED) releases the hold. The admin API and the console
/// call this; the answer is the order and the bill's state as the cancel reported it.
pub(crate) async fn cancel(s: &AppState, code: &str) -> Result<(Order, String), Refusal> {
    use crate::dispatcher::clients::ChannelClient;
    use rewardgate_channels::Outcome;
    use rewardgate_core::catalog::{ChannelAccount, ChannelKind};
    use rewardgate_core::order::ProductType;
    let o = s
        .store
        .order_by_code(code.to_string())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("order {code} not found")))?;
    if o.status != OrderStatus::Processing {
        return Err(ApiError::field(
            "orderCode",
            format_args!("is {} already: nothing to cancel", o.status.as_str()),
        )
        .into());
    }
    let account: Option<ChannelAccount> = s.catalog(&o.channel_account_id).await?;
    let account = account
        .filter(|a| a.kind == ChannelKind::WechatV3 && o.product_type == ProductType::WechatTransfer)
        .ok_or_else(|| {
            ApiError::field(
                "orderCode",
                "is not a 商家转账 (WECHAT_TRANSFER on a WECHAT_V3 account): only those can be cancelled",
            )
        })?;
    let key = o
        .upstream_key
        .clone()
        .ok_or_else(|| ApiError::field("orderCode", "has no upstream key"))?;
    let client = s.clients.get(&account).map_err(|e| {
        tracing::warn!(account = %account.id, error = %e, "channel account unusable for cancel");
        ApiError::new(
            rewardgate_core::Status::Internal,
            format!("channel account {} cannot be used: {e}", account.id),
        )
    })?;
    let ChannelClient::WechatV3(c) = &*client else {
        return Err(ApiError::internal().into());
    };
    let answer = c.cancel_transfer_bill(&key).await;
    let state = match (&answer.bill, &answer.outcome) {
        (Some(b), _) => b.state.as_str().to_string(),
        (None, Outcome::Failed { code: c, message }) => {
            return Err(ApiError::field(
                "orderCode",
                format_args!("cannot be cancelled: WeChat Pay answered {c}: {message}"),
            )
            .into());
        }
        (None, other) => {
            let (label, detail) = other.describe();
            return Err(ApiError::new(
                rewardgate_core::Status::Internal,
                format!(
                    "WeChat Pay's answer to the cancel is not known ({label}: {}); nothing changed, ask again",
                    detail.unwrap_or_default()
                ),
            )
            .into());
        }
    };
    let now = clock::now_ms();
    if !s
        .store
        .nudge_job(o.channel_account_id.to_string(), key, now)
        .await?
    {
        // A stuck job is re-armed; one in flight will ask the bill anyway.
        s.store.rearm(o.id, now).await?;
    }
    tracing::info!(order_code = %code, bill_state = %state, "transfer bill cancel requested by an operator");
    let o = s
        .store
        .order_by_code(code.to_string())
        .await?
        .ok_or_else(ApiError::internal)?;
    Ok((o, state))
}

pub async fn job_counts(State(s): State<AppState>) -> ApiResult {
    let m: serde_json::Map<String, Value> = s
        .store
        .job_counts()
        .await?
        .into_iter()
        .map(|(k, v)| (k.as_str().to_string(), json!(v)))
        .collect();
    Ok(ok(Value::Object(m)))
}

/// Every status report of an order, with every attempt (time, HTTP status, latency, error).
pub async fn order_notifications(State(s): State<AppState>, Path(code): Path<String>) -> ApiResult {
    let d = s
        .store
        .order_detail(code.clone())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("order {code} not found")))?;
    let items: Vec<Value> = d
        .reports
        .iter()
        .map(|(r, a)| report_view(r, Some(a)))
        .collect();
    Ok(ok(json!({"orderCode": code, "items": items})))
}

/// Sends a report again from the start of its schedule.
pub async fn redeliver(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult {
    let r = redeliver_report(&s, &id).await?;
    Ok(ok(report_view(&r, None)))
}

/// The redelivery itself (the admin API and the console): the report as it is afterwards.
pub(crate) async fn redeliver_report(s: &AppState, id: &str) -> Result<ReportRecord, Refusal> {
    if s.store.report(id.to_string()).await?.is_none() {
        return Err(ApiError::not_found(format!("notification {id} not found")).into());
    }
    if !s.store.redeliver(id.to_string(), clock::now_ms()).await? {
        return Err(
            ApiError::field("notifyId", "is being sent right now; try again in a moment").into(),
        );
    }
    tracing::info!(notify_id = %id, "callback redelivery requested");
    let (r, _) = s
        .store
        .report(id.to_string())
        .await?
        .ok_or_else(ApiError::internal)?;
    Ok(r)
}
