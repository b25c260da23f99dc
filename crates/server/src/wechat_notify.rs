//! `POST /v1/notify/wechat/transfer-bills/{channelAccountId}`: WeChat Pay's 商家转账 notification
//! (`MCHTRANSFER.BILL.FINISHED`, SPEC §10). It is verified with the account's platform keys and
//! opened with its APIv3 key (`rewardgate_channels::wechat_v3::transfer_bills::notify`), and then
//! it is only a hint: the order's job becomes due now and the dispatcher's query of the bill
//! decides — a notification never moves money itself, so a duplicate or a replay changes nothing.
//!
//! Answers as WeChat expects (商家转账回调通知, pay.weixin.qq.com docs/merchant/apis/
//! batch-transfer-to-balance/callback-notice.html: "接收成功：HTTP应答状态码需返回200或204，无需返回
//! 应答报文"; failure: 4XX/5XX with `{"code": "FAIL", "message": …}`, and WeChat retries): 204 once
//! the hint is recorded; 401 for a signature that does not verify (signature probes
//! `WECHATPAY/SIGNTEST/` included, which must fail); 400 for a body that does not open; 404 for an
//! account that is not a WECHAT_V3 one; 500 when the hint could not be stored (WeChat sends it
//! again).

use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use rewardgate_channels::wechat_v3::transfer_bills::notify::{NotifyError, NotifyHeaders};
use rewardgate_core::catalog::{ChannelAccount, ChannelKind};
use serde_json::json;

fn fail(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"code": "FAIL", "message": message})),
    )
        .into_response()
}

fn header(h: &HeaderMap, name: &str) -> String {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

pub async fn transfer_bills(
    State(s): State<AppState>,
    Path(account_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let account = match s.catalog::<ChannelAccount>(&account_id).await {
        Ok(Some(a)) if a.kind == ChannelKind::WechatV3 => a,
        Ok(_) => return fail(StatusCode::NOT_FOUND, "no such WECHAT_V3 channel account"),
        Err(_) => return fail(StatusCode::INTERNAL_SERVER_ERROR, "try again"),
    };
    let (Some(key), Ok(text)) = (account.api_v3_key.as_ref(), std::str::from_utf8(&body)) else {
        return fail(StatusCode::BAD_REQUEST, "unreadable notification");
    };
    let client = match s.clients.get(&account) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(account = %account.id, error = %e, "transfer-bills notification: account unusable");
            return fail(StatusCode::INTERNAL_SERVER_ERROR, "try again");
        }
    };
    let crate::dispatcher::clients::ChannelClient::WechatV3(c) = &*client else {
        return fail(StatusCode::INTERNAL_SERVER_ERROR, "try again");
    };
    let h = NotifyHeaders {
        timestamp: header(&headers, "Wechatpay-Timestamp"),
        nonce: header(&headers, "Wechatpay-Nonce"),
        signature: header(&headers, "Wechatpay-Signature"),
        serial: header(&headers, "Wechatpay-Serial"),
    };
    let n = match c.open_notification(&h, text, key.expose().as_bytes()) {
        Ok(n) => n,
        Err(e) => {
            // The reason names no secret: a signature or AEAD failure, or a body field.
            tracing::warn!(account = %account.id, error = %e, "transfer-bills notification refused");
            let status = match e {
                NotifyError::Probe | NotifyError::Signature(_) => StatusCode::UNAUTHORIZED,
                NotifyError::Body(_) | NotifyError::Decrypt(_) => StatusCode::BAD_REQUEST,
            };
            return fail(status, "notification refused");
        }
    };
    let now = rewardgate_core::clock::now_ms();
    match s
        .store
        .nudge_job(account.id.clone(), n.bill.out_bill_no.clone(), now)
        .await
    {
        Ok(nudged) => {
            tracing::info!(account = %account.id, out_bill_no = %n.bill.out_bill_no,
                state = %n.bill.state.as_str(), nudged, "transfer-bills notification");
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "transfer-bills notification not recorded");
            fail(StatusCode::INTERNAL_SERVER_ERROR, "try again")
        }
    }
}
