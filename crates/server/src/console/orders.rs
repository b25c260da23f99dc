//! Orders: a filtered, paged list (merchant, business, status — or STUCK, type, time range, an
//! orderCode or bizCode), one order's timeline (attempts with the upstream key and answer,
//! postings, callbacks with their attempts), and the retry and redelivery buttons, which run the
//! admin API's own functions.

use super::auth::{FormData, Operator};
use super::internal;
use super::page::{Flash, Lang, at, back_to, badge, enc, flash, layout, parse_local, yuan};
use crate::admin::orders::{cancel, redeliver_report, retry};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use rewardgate_core::delivery::JobState;
use rewardgate_core::order::{Order, OrderStatus, ProductType};
use rewardgate_store::OrderFilter;
use serde::Deserialize;

const PAGE: i64 = 50;

/// The list's filters as the form sends them (every field optional; empty means any).
#[derive(Deserialize, Default, Clone)]
pub struct OrdersQuery {
    #[serde(default)]
    pub merchant: String,
    #[serde(default)]
    pub business: String,
    #[serde(default)]
    pub status: String,
    #[serde(default, rename = "type")]
    pub product_type: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub cursor: String,
}

impl OrdersQuery {
    /// The store's filter, or the first field that does not parse (named).
    pub fn filter(&self, limit: i64) -> Result<OrderFilter, String> {
        let opt = |v: &str| Some(v.trim().to_string()).filter(|v| !v.is_empty());
        let mut f = OrderFilter {
            merchant_id: opt(&self.merchant),
            business_id: opt(&self.business),
            code: opt(&self.q),
            limit,
            ..OrderFilter::default()
        };
        match self.status.trim() {
            "" => {}
            "STUCK" => f.job_state = Some(JobState::Stuck),
            s => {
                f.status = Some(
                    OrderStatus::parse(s).ok_or(format!("status {s} is not an order status"))?,
                )
            }
        }
        if let Some(t) = opt(&self.product_type) {
            f.product_type =
                Some(ProductType::parse(&t).ok_or(format!("type {t} is not a product type"))?);
        }
        if let Some(v) = opt(&self.from) {
            f.created_from =
                Some(parse_local(&v).ok_or("from must be a date and time (yyyy-mm-ddThh:mm)")?);
        }
        if let Some(v) = opt(&self.to) {
            f.created_before =
                Some(parse_local(&v).ok_or("to must be a date and time (yyyy-mm-ddThh:mm)")?);
        }
        if let Some(c) = opt(&self.cursor) {
            f.before_id = Some(
                c.parse()
                    .map_err(|_| "cursor is not from a previous page".to_string())?,
            );
        }
        Ok(f)
    }

    /// The filters as a query string (without the cursor), for the next page and the export.
    pub fn query_string(&self) -> String {
        [
            ("merchant", &self.merchant),
            ("business", &self.business),
            ("status", &self.status),
            ("type", &self.product_type),
            ("from", &self.from),
            ("to", &self.to),
            ("q", &self.q),
        ]
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| format!("{k}={}", enc(v.trim())))
        .collect::<Vec<_>>()
        .join("&")
    }
}

fn filters(l: Lang, q: &OrdersQuery) -> Markup {
    html! {
        form.filters #order-filters method="get" action="/console/orders" {
            label { (l.t("orderCode or bizCode", "订单号或业务单号")) input #q name="q" value=(q.q) size="32"; }
            label { (l.t("Merchant", "商户")) input name="merchant" value=(q.merchant) size="10"; }
            label { (l.t("Business", "业务")) input name="business" value=(q.business) size="10"; }
            label { (l.t("Status", "状态"))
                select name="status" {
                    option value="" { (l.t("any", "全部")) }
                    @for st in OrderStatus::ALL.iter().map(|s| s.as_str()).chain(["STUCK"]) {
                        option value=(st) selected[q.status == st] { (st) }
                    }
                }
            }
            label { (l.t("Type", "类型"))
                select name="type" {
                    option value="" { (l.t("any", "全部")) }
                    @for t in ProductType::ALL { option value=(t.as_str()) selected[q.product_type == t.as_str()] { (t.as_str()) } }
                }
            }
            label { (l.t("From (UTC+8)", "起（北京时间）")) input type="datetime-local" name="from" value=(q.from); }
            label { (l.t("To", "止")) input type="datetime-local" name="to" value=(q.to); }
            button #search type="submit" { (l.t("Search", "查询")) }
            a.btn #export href=(format!("/console/orders.csv?{}", q.query_string())) { (l.t("Export CSV", "导出 CSV")) }
        }
    }
}

pub async fn list(
    State(s): State<AppState>,
    op: Operator,
    Query(q): Query<OrdersQuery>,
) -> Response {
    let l = op.lang;
    let (items, error) = match q.filter(PAGE) {
        Err(e) => (Vec::new(), Some(e)),
        Ok(f) => match s.store.list_orders(f).await {
            Ok(v) => (v, None),
            Err(e) => return internal(e),
        },
    };
    // One exact match by code goes straight to the order.
    if !q.q.trim().is_empty() && items.len() == 1 && q.cursor.is_empty() {
        return Redirect::to(&format!("/console/orders/{}", enc(&items[0].order_code)))
            .into_response();
    }
    let next = (items.len() as i64 == PAGE)
        .then(|| items.last().map(|o| o.id))
        .flatten();
    let body = html! {
        (filters(l, &q))
        (flash(None, error.as_deref()))
        table #orders {
            tr {
                th { (l.t("orderCode", "订单号")) } th { (l.t("bizCode", "业务单号")) } th { (l.t("Business", "业务")) }
                th { (l.t("Type", "类型")) } th.n { (l.t("Amount", "金额")) } th.n { (l.t("Charged", "结算价")) }
                th { (l.t("Status", "状态")) } th { (l.t("Delivery", "投递")) } th { (l.t("Created", "创建时间")) }
            }
            @for o in &items { (row(o)) }
            @if items.is_empty() { tr { td colspan="9" .muted { (l.t("no orders match", "没有匹配的订单")) } } }
        }
        div.pager {
            @if let Some(id) = next {
                a.btn #next-page href=(format!("/console/orders?{}&cursor={id}", q.query_string())) { (l.t("Older →", "更早 →")) }
            }
        }
    };
    layout(l, &op.csrf, "orders", l.t("Orders", "订单"), body).into_response()
}

fn row(o: &Order) -> Markup {
    html! {
        tr {
            td { a.mono href=(format!("/console/orders/{}", enc(&o.order_code))) { (o.order_code) } }
            td.mono { (o.biz_code) }
            td.mono { (o.business_id) }
            td { (o.product_type.as_str()) }
            td.n { @if let Some(a) = o.amount { (yuan(a)) } }
            td.n { (yuan(o.settlement)) }
            td { (badge(o.status.as_str())) }
            td { @if let Some(j) = o.job_state { (badge(j.as_str())) } }
            td { (at(o.created_at)) }
        }
    }
}

pub async fn show(
    State(s): State<AppState>,
    op: Operator,
    Path(code): Path<String>,
    Query(fl): Query<Flash>,
) -> Response {
    let l = op.lang;
    let d = match s.store.order_detail(code.clone()).await {
        Ok(Some(d)) => d,
        Ok(None) => {
            let body = html! { p.error { (l.t("No order has this code: ", "没有此订单号：")) span.mono { (code) } } };
            let mut r = layout(l, &op.csrf, "orders", l.t("Order", "订单"), body).into_response();
            *r.status_mut() = axum::http::StatusCode::NOT_FOUND;
            return r;
        }
        Err(e) => return internal(e),
    };
    let o = &d.order;
    let key = o.upstream_key.as_deref().unwrap_or("—");
    let body = html! {
        (flash(fl.done.as_deref(), fl.error.as_deref()))
        div.two {
            dl.kv #order {
                dt { (l.t("orderCode", "订单号")) } dd.mono #order-code { (o.order_code) }
                dt { (l.t("bizCode", "业务单号")) } dd.mono #biz-code { (o.biz_code) }
                dt { (l.t("Merchant / business", "商户 / 业务")) } dd.mono { (o.merchant_id) " / " a href=(format!("/console/businesses/{}", enc(&o.business_id))) { (o.business_id) } }
                dt { (l.t("Type", "类型")) } dd { (o.product_type.as_str()) }
                dt { (l.t("Status", "状态")) } dd #status { (badge(o.status.as_str())) " v" (o.version) }
                dt { (l.t("Delivery job", "投递任务")) } dd #job-state { @if let Some(j) = o.job_state { (badge(j.as_str())) } " " (o.job_attempts) " " (l.t("attempts", "次尝试")) }
                dt { (l.t("Amount / charged", "金额 / 结算价")) } dd { @if let Some(a) = o.amount { (yuan(a)) " / " } (yuan(o.settlement)) " " (l.t("yuan", "元")) }
                dt { (l.t("Channel account", "渠道账户")) } dd.mono { (o.channel_account_id) }
                dt { (l.t("Upstream key", "上游幂等键")) } dd.mono #upstream-key { (key) }
                dt { (l.t("Upstream id", "上游单号")) } dd.mono { (o.upstream_id.as_deref().unwrap_or("—")) }
                @if o.error_code.is_some() {
                    dt { (l.t("Error", "错误")) } dd.mono { (o.error_code.as_deref().unwrap_or("")) ": " (o.error_message.as_deref().unwrap_or("")) }
                }
                dt { (l.t("Recipient", "收款人")) } dd.mono { (o.open_id.as_deref().or(o.mobile.as_deref()).unwrap_or("—")) " " (o.app_id.as_deref().unwrap_or("")) }
                dt { (l.t("Created / finished", "创建 / 完成")) } dd { (at(o.created_at)) " / " @if let Some(f) = o.finished_at { (at(f)) } @else { "—" } }
                @if let Some(u) = o.user_confirm.as_ref().filter(|_| !o.status.is_final()) {
                    dt { (l.t("Waiting for the user", "等待用户确认收款")) } dd.mono #user-confirm { (u.mch_id) " / " (u.app_id) " / " (u.package) }
                }
            }
            div {
                @if !o.status.is_final() {
                    form.inline method="post" action=(format!("/console/orders/{}/retry", enc(&o.order_code))) {
                        input type="hidden" name="csrf" value=(op.csrf);
                        button.warn #retry type="submit" { (l.t("Retry delivery (same upstream key)", "重新投递（同一幂等键）")) }
                    }
                    p.muted { (l.t("A retry asks the upstream first with the same key: it can never pay twice.", "重试先用同一幂等键向上游查询，不会重复付款。")) }
                }
                @if o.user_confirm.is_some() && !o.status.is_final() {
                    form.inline method="post" action=(format!("/console/orders/{}/cancel", enc(&o.order_code))) {
                        input type="hidden" name="csrf" value=(op.csrf);
                        button.warn #cancel-transfer type="submit" { (l.t("Cancel the transfer (before the user confirms)", "撤销转账（用户确认前）")) }
                    }
                    p.muted { (l.t("WeChat Pay closes the bill; its query then fails the order and releases the hold.", "微信支付关闭转账单；查询确认后订单失败并解冻余额。")) }
                }
            }
        }
        h2 { (l.t("Timeline", "时间线")) }
        table #timeline {
            tr { th { (l.t("Time (UTC+8)", "时间（北京时间）")) } th { (l.t("Event", "事件")) } th { (l.t("Detail", "详情")) } }
            tr { td { (at(o.created_at)) } td { (l.t("accepted", "受理")) } td { (yuan(o.settlement)) " " (l.t("held", "冻结")) } }
            @for (t, ev, detail) in timeline(l, &d, key) { tr { td { (at(t)) } td { (ev) } td.mono { (detail) } } }
        }
        h2 { (l.t("Callbacks", "回调")) }
        table #callbacks {
            tr { th { "notifyId" } th { (l.t("Version", "版本")) } th { (l.t("State", "状态")) } th { (l.t("Target", "地址")) } th { (l.t("Attempts", "尝试")) } th {} }
            @for (r, attempts) in &d.reports {
                tr {
                    td.mono { (r.notify_id) } td { (r.version) } td { (badge(r.state.as_str())) } td.mono { (r.target) }
                    td {
                        @for a in attempts {
                            div.mono { (at(a.at)) " → " @if let Some(h) = a.http_status { "HTTP " (h) } @else { (a.error.as_deref().unwrap_or("error")) } " (" (a.latency_ms) " ms)" }
                        }
                        @if attempts.is_empty() { span.muted { (l.t("not sent yet", "尚未发送")) } }
                    }
                    td {
                        form.inline method="post" action=(format!("/console/notifications/{}/redeliver", enc(&r.notify_id))) {
                            input type="hidden" name="csrf" value=(op.csrf);
                            input type="hidden" name="order" value=(o.order_code);
                            button.redeliver type="submit" { (l.t("Redeliver", "重新推送")) }
                        }
                    }
                }
            }
            @if d.reports.is_empty() { tr { td colspan="6" .muted { (l.t("no callbacks (none configured, or the order has not changed yet)", "无回调（未配置或订单尚未变化）")) } } }
        }
    };
    layout(
        l,
        &op.csrf,
        "orders",
        &format!("{} {}", l.t("Order", "订单"), o.order_code),
        body,
    )
    .into_response()
}

/// Attempts and postings in time order.
fn timeline(l: Lang, d: &rewardgate_store::OrderDetail, key: &str) -> Vec<(i64, String, String)> {
    let mut v: Vec<(i64, String, String)> = Vec::new();
    for a in &d.attempts {
        v.push((
            a.at,
            format!(
                "{} {} → {}",
                l.t("upstream", "上游"),
                a.step.as_str(),
                a.outcome
            ),
            format!(
                "{} · key {key} · {} ms · {}",
                a.detail.as_deref().unwrap_or("—"),
                a.latency_ms,
                a.worker
            ),
        ));
    }
    for p in &d.postings {
        v.push((
            p.at,
            format!("{} {}", l.t("ledger", "账务"), p.kind.as_str()),
            format!("{} {}", yuan(p.amount), l.t("yuan", "元")),
        ));
    }
    v.sort_by_key(|x| x.0);
    v
}

pub async fn retry_post(
    State(s): State<AppState>,
    op: Operator,
    Path(code): Path<String>,
    f: FormData,
) -> Response {
    if let Some(r) = op.refuse_forged(&f) {
        return r;
    }
    let l = op.lang;
    let outcome = retry(&s, &code)
        .await
        .map(|_| {
            l.t(
                "Delivery re-armed with the same upstream key.",
                "已用同一幂等键重新投递。",
            )
        })
        .map_err(|e| e.0.message);
    back_to(&format!("/console/orders/{}", enc(&code)), outcome)
}

pub async fn cancel_post(
    State(s): State<AppState>,
    op: Operator,
    Path(code): Path<String>,
    f: FormData,
) -> Response {
    if let Some(r) = op.refuse_forged(&f) {
        return r;
    }
    let l = op.lang;
    let outcome = cancel(&s, &code)
        .await
        .map(|(_, state)| {
            format!(
                "{} {state}",
                l.t("WeChat Pay answered the cancel:", "微信支付撤销受理：")
            )
        })
        .map_err(|e| e.0.message);
    back_to(
        &format!("/console/orders/{}", enc(&code)),
        outcome.as_deref().map_err(Clone::clone),
    )
}

pub async fn redeliver(
    State(s): State<AppState>,
    op: Operator,
    Path(id): Path<String>,
    f: FormData,
) -> Response {
    if let Some(r) = op.refuse_forged(&f) {
        return r;
    }
    let l = op.lang;
    let outcome = redeliver_report(&s, &id)
        .await
        .map(|_| {
            l.t(
                "The callback will be sent again now.",
                "回调将立即重新发送。",
            )
        })
        .map_err(|e| e.0.message);
    back_to(&format!("/console/orders/{}", enc(f.get("order"))), outcome)
}
