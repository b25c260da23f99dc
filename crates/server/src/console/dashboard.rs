//! The dashboard: orders by status and by channel over the last hour and day, the success rate,
//! orders per minute (an SVG drawn here), paused and troubled channel accounts, businesses low on
//! money, and the callback backlog.

use super::auth::Operator;
use super::internal;
use super::page::{Lang, ago, at, badge, layout, yuan};
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use rewardgate_core::Fen;
use rewardgate_core::clock;
use rewardgate_core::delivery::JobState;
use rewardgate_core::order::OrderStatus;
use rewardgate_core::report::ReportState;
use serde::Deserialize;

/// Businesses under this available balance are listed (yuan; `?low=` changes it).
const DEFAULT_LOW_YUAN: i64 = 1000;

#[derive(Deserialize)]
pub struct DashQuery {
    low: Option<String>,
}

pub async fn show(State(s): State<AppState>, op: Operator, Query(q): Query<DashQuery>) -> Response {
    let low_yuan = q
        .low
        .as_deref()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|v| (0..=100_000_000).contains(v))
        .unwrap_or(DEFAULT_LOW_YUAN);
    let now = clock::now_ms();
    let d = match s.store.dashboard(now, Fen(low_yuan * 100)).await {
        Ok(d) => d,
        Err(e) => return internal(e),
    };
    let jobs = match s.store.job_counts().await {
        Ok(j) => j,
        Err(e) => return internal(e),
    };
    let l = op.lang;
    let count = |st: OrderStatus| {
        d.by_status
            .iter()
            .find(|(x, _, _)| *x == st)
            .map(|(_, h, dd)| (*h, *dd))
            .unwrap_or((0, 0))
    };
    let (hour_total, day_total) = d
        .by_status
        .iter()
        .fold((0, 0), |(a, b), (_, h, dd)| (a + h, b + dd));
    let good = count(OrderStatus::Success).1 + count(OrderStatus::Received).1;
    let bad = count(OrderStatus::Failed).1 + count(OrderStatus::Refunded).1;
    let rate = if good + bad > 0 {
        format!("{:.1} %", good as f64 * 100.0 / (good + bad) as f64)
    } else {
        "—".to_string()
    };
    let stuck = jobs
        .iter()
        .find(|(j, _)| *j == JobState::Stuck)
        .map(|x| x.1)
        .unwrap_or(0);
    let backlog: i64 = d
        .reports
        .iter()
        .filter(|(r, _)| matches!(r, ReportState::Pending | ReportState::Sending))
        .map(|x| x.1)
        .sum();
    let body = html! {
        div.cards {
            div.card #card-hour { div.v { (hour_total) } div.k { (l.t("orders, last hour", "近 1 小时订单")) } }
            div.card #card-day { div.v { (day_total) } div.k { (l.t("orders, last 24 h", "近 24 小时订单")) } }
            div.card #card-rate { div.v { (rate) } div.k { (l.t("success rate of finished orders, 24 h", "24 小时已结束订单成功率")) } }
            div.card #card-stuck { div.v { a href="/console/orders?status=STUCK" { (stuck) } } div.k { (l.t("stuck orders (need an operator)", "卡住的订单（需人工处理）")) } }
            div.card #card-backlog { div.v { (backlog) } div.k {
                (l.t("callbacks waiting", "待发送回调"))
                @if let Some(o) = d.oldest_open_report { " · " (l.t("oldest", "最早")) " " (ago(l, o, now)) }
            } }
        }
        h2 { (l.t("Orders per minute, last hour", "近 1 小时每分钟订单数")) }
        (chart(l, &d.per_minute))
        div.two {
            div {
                h2 { (l.t("By status", "按状态")) }
                table #by-status {
                    tr { th { (l.t("Status", "状态")) } th.n { (l.t("1 h", "1 小时")) } th.n { (l.t("24 h", "24 小时")) } }
                    @for st in OrderStatus::ALL {
                        @let (h, dd) = count(st);
                        tr { td { a href=(format!("/console/orders?status={}", st.as_str())) { (badge(st.as_str())) } } td.n { (h) } td.n { (dd) } }
                    }
                }
            }
            div {
                h2 { (l.t("By channel account", "按渠道账户")) }
                table #by-channel {
                    tr { th { (l.t("Account", "账户")) } th { (l.t("Type", "类型")) } th.n { (l.t("1 h", "1 小时")) } th.n { (l.t("24 h", "24 小时")) } th.n { (l.t("ok", "成功")) } th.n { (l.t("failed", "失败")) } }
                    @for c in &d.by_channel {
                        tr { td.mono { (c.channel_account_id) } td { (c.product_type.as_str()) } td.n { (c.hour) } td.n { (c.day) } td.n { (c.succeeded) } td.n { (c.failed) } }
                    }
                    @if d.by_channel.is_empty() { tr { td colspan="6" .muted { (l.t("no orders in the last 24 h", "24 小时内无订单")) } } }
                }
            }
        }
        div.two {
            div {
                h2 { (l.t("Channel accounts paused or failing", "暂停或异常的渠道账户")) }
                table #accounts {
                    tr { th { (l.t("Account", "账户")) } th { (l.t("State", "情况")) } th { (l.t("Since", "起始")) } th { (l.t("Reason / last answer", "原因 / 最近应答")) } }
                    @for p in &d.pauses {
                        tr { td.mono { (p.channel_account_id) } td { (badge("PAUSED")) " " (l.t("until", "至")) " " (at(p.until)) }
                             td { @if p.since > 0 { (at(p.since)) } } td.mono { (p.reason) } }
                    }
                    @for t in &d.troubled {
                        tr { td.mono { (t.channel_account_id) }
                             td { (t.unknown) " " (l.t("unknown", "结果未知")) ", " (t.deferred) " " (l.t("deferred", "延后")) " " (l.t("in 1 h", "（1 小时内）")) }
                             td { (l.t("last", "最近")) " " (at(t.last_at)) } td.mono { (t.last_detail.as_deref().unwrap_or("")) } }
                    }
                    @if d.pauses.is_empty() && d.troubled.is_empty() { tr { td colspan="4" .muted { (l.t("all channel accounts are answering", "所有渠道账户正常")) } } }
                }
            }
            div {
                h2 { (l.t("Businesses low on balance", "余额不足的业务")) " (< " (low_yuan) " " (l.t("yuan", "元")) ")" }
                table #low-balance {
                    tr { th { (l.t("Business", "业务")) } th.n { (l.t("Available", "可用")) } th.n { (l.t("Credit line", "授信额度")) } }
                    @for b in &d.low_balance {
                        tr { td { a.mono href=(format!("/console/businesses/{}", b.business_id)) { (b.business_id) } } td.n { (yuan(b.available)) } td.n { (yuan(b.credit_line)) } }
                    }
                    @if d.low_balance.is_empty() { tr { td colspan="3" .muted { (l.t("none", "无")) } } }
                }
                h2 { (l.t("Callbacks", "回调")) }
                table #callbacks {
                    tr { th { (l.t("State", "状态")) } th.n { (l.t("Reports", "条数")) } }
                    @for (st, n) in &d.reports { tr { td { (badge(st.as_str())) } td.n { (n) } } }
                    @if d.reports.is_empty() { tr { td colspan="2" .muted { (l.t("none yet", "暂无")) } } }
                }
            }
        }
        p.muted { (l.t("Times are Asia/Shanghai (UTC+8). Read at ", "时间为北京时间（UTC+8）。读取于 ")) (at(now)) }
    };
    layout(l, &op.csrf, "dashboard", l.t("Dashboard", "概览"), body).into_response()
}

/// Orders per minute as bars: 60 minutes, oldest on the left, the scale's top labelled.
fn chart(l: Lang, per_minute: &[i64]) -> Markup {
    const W: i64 = 960;
    const H: i64 = 150;
    const LEFT: i64 = 40;
    let top = per_minute.iter().copied().max().unwrap_or(0).max(1);
    let bw = (W - LEFT) / per_minute.len().max(1) as i64;
    html! {
        svg #per-minute width="100%" viewBox=(format!("0 0 {W} {}", H + 18)) role="img"
            aria-label=(l.t("orders per minute", "每分钟订单数")) style="background:#fff;border:1px solid #dde3ea" {
            line x1=(LEFT) y1=(H) x2=(W) y2=(H) stroke="#c3ccd8" {}
            line x1=(LEFT) y1="8" x2=(W) y2="8" stroke="#eef2f7" {}
            text x="4" y="12" { (top) }
            text x="4" y=(H) { "0" }
            @for (i, n) in per_minute.iter().enumerate() {
                @let h = n * (H - 10) / top;
                rect x=(LEFT + i as i64 * bw + 1) y=(H - h) width=((bw - 2).max(1)) height=(h) fill="#3d7bd9" {
                    title { (n) }
                }
            }
            text x=(LEFT) y=(H + 14) { (l.t("60 min ago", "60 分钟前")) }
            text x=(W - 30) y=(H + 14) { (l.t("now", "现在")) }
        }
    }
}
