//! Orders as CSV for the list's filters, streamed a page at a time (newest first), so an export
//! of a busy month never sits in memory. Cells that a spreadsheet would run as a formula are
//! defused with a leading apostrophe.

use super::auth::Operator;
use super::orders::OrdersQuery;
use super::page::yuan;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use rewardgate_core::clock;
use rewardgate_core::order::Order;
use rewardgate_store::OrderFilter;

/// Rows read per database round.
const BATCH: i64 = 500;

const HEADER: &str = "orderCode,bizCode,merchantId,businessId,productType,status,jobState,spec,settlementPrice,channelAccountId,upstreamKey,upstreamId,errorCode,errorMessage,createdAt,finishedAt\r\n";

pub async fn csv(
    State(s): State<AppState>,
    _op: Operator,
    Query(q): Query<OrdersQuery>,
) -> Response {
    let first = match q.filter(BATCH) {
        Ok(f) => f,
        Err(e) => return (StatusCode::BAD_REQUEST, e).into_response(),
    };
    // The state: the next page's filter, or None when done; the header goes out first.
    let stream = futures_util::stream::unfold((Some(first), true), move |(next, head)| {
        let s = s.clone();
        async move {
            if head {
                return Some((Ok::<_, std::io::Error>(HEADER.to_string()), (next, false)));
            }
            let f: OrderFilter = next?;
            match s.store.list_orders(f.clone()).await {
                Ok(items) => {
                    let more = (items.len() as i64 == BATCH)
                        .then(|| {
                            items.last().map(|o| OrderFilter {
                                before_id: Some(o.id),
                                ..f.clone()
                            })
                        })
                        .flatten();
                    if items.is_empty() {
                        return None;
                    }
                    let text: String = items.iter().map(line).collect();
                    Some((Ok(text), (more, false)))
                }
                Err(e) => {
                    tracing::error!(error = %e, "CSV export stopped: store error");
                    Some((Err(std::io::Error::other("store error")), (None, false)))
                }
            }
        }
    });
    let name = format!("orders-{}.csv", clock::shanghai_ymd(clock::now_ms()));
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

fn line(o: &Order) -> String {
    let cells = [
        o.order_code.to_string(),
        o.biz_code.clone(),
        o.merchant_id.clone(),
        o.business_id.to_string(),
        o.product_type.as_str().to_string(),
        o.status.as_str().to_string(),
        o.job_state
            .map(|j| j.as_str().to_string())
            .unwrap_or_default(),
        o.amount.map(yuan).unwrap_or_default(),
        yuan(o.settlement),
        o.channel_account_id.to_string(),
        o.upstream_key.clone().unwrap_or_default(),
        o.upstream_id.clone().unwrap_or_default(),
        o.error_code.clone().unwrap_or_default(),
        o.error_message.clone().unwrap_or_default(),
        clock::rfc3339(o.created_at),
        o.finished_at.map(clock::rfc3339).unwrap_or_default(),
    ];
    let mut out = cells.iter().map(|c| cell(c)).collect::<Vec<_>>().join(",");
    out.push_str("\r\n");
    out
}

/// One CSV cell (RFC 4180 quoting), defused against formula injection.
pub fn cell(v: &str) -> String {
    let v = if v.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{v}")
    } else {
        v.to_string()
    };
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::cell;
    #[test]
    fn cells_are_quoted_and_defused() {
        assert_eq!(cell("abc"), "abc");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("=1+1"), "'=1+1");
        assert_eq!(cell("-3,x"), "\"'-3,x\"");
    }
}
