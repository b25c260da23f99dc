//! Money: top-ups (idempotent by reference), balances and the whole ledger's check.

use super::AdminJson;
use crate::envelope::{ApiResult, Refusal, ok};
use crate::state::AppState;
use crate::views::balance_view;
use axum::extract::{Path, State};
use rewardgate_core::catalog::{Business, Topup};
use rewardgate_core::json::parse_object;
use rewardgate_core::{ApiError, Status, clock};
use rewardgate_store::{Balance, TopupOutcome};
use serde_json::json;

async fn known_business(s: &AppState, id: &str) -> Result<Business, ApiError> {
    s.catalog::<Business>(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("businessId {id} not found")))
}

pub async fn topup(
    State(s): State<AppState>,
    Path(id): Path<String>,
    AdminJson(body): AdminJson,
) -> ApiResult {
    Ok(ok(balance_view(&apply_topup(&s, &id, &body).await?)))
}

/// A top-up from its admin JSON (`amount` in yuan, `reference`): the admin API and the
/// console. Idempotent by reference; the balance afterwards.
pub(crate) async fn apply_topup(s: &AppState, id: &str, body: &[u8]) -> Result<Balance, Refusal> {
    let o = parse_object(body)?;
    let t = Topup::from_admin(&o)?;
    known_business(s, id).await?;
    match s
        .store
        .topup(id.to_string(), t.amount, t.reference, clock::now_ms())
        .await?
    {
        TopupOutcome::Applied(b) => {
            tracing::info!(business_id = %id, "top-up applied");
            Ok(b)
        }
        TopupOutcome::AlreadyApplied(b) => Ok(b),
        TopupOutcome::Conflict => Err(ApiError::new(
            Status::BizCodeConflict,
            "reference was already used with a different amount",
        )
        .into()),
    }
}

pub async fn balance(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult {
    known_business(&s, &id).await?;
    let b = s.store.balance(id).await?.ok_or_else(ApiError::internal)?;
    Ok(ok(balance_view(&b)))
}

pub async fn ledger(State(s): State<AppState>) -> ApiResult {
    let c = s.store.ledger_check().await?;
    Ok(ok(json!({
        "sum": c.sum,
        "postings": c.postings,
        "mismatchedAccounts": c.mismatched_accounts,
        "balanced": c.sum == 0 && c.mismatched_accounts.is_empty(),
    })))
}
