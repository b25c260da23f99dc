//! The console's frame: one layout, its CSS, the two languages' labels and the formats of money
//! and time (yuan with two decimals; Asia/Shanghai, as the operators and WeChat Pay reckon).

use maud::{DOCTYPE, Markup, PreEscaped, html};
use rewardgate_core::Fen;
use rewardgate_core::clock;

/// The labels' language: English, or Chinese from the 中文 link (a cookie).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    En,
    Zh,
}

impl Lang {
    pub fn t(self, en: &'static str, zh: &'static str) -> &'static str {
        match self {
            Lang::En => en,
            Lang::Zh => zh,
        }
    }
    fn code(self) -> &'static str {
        self.t("en", "zh-CN")
    }
}

const CSS: &str = r#"
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI","PingFang SC","Noto Sans CJK SC","Microsoft YaHei",sans-serif;color:#1d2330;background:#f4f6f9}
header{background:#1f3a5f;color:#fff;display:flex;align-items:center;gap:18px;padding:0 20px;height:48px}
header a{color:#dbe6f5;text-decoration:none}header a.on,header a:hover{color:#fff;font-weight:600}
header .brand{font-weight:700;color:#fff;margin-right:8px}header .right{margin-left:auto;display:flex;gap:12px;align-items:center}
header form{margin:0}header button{background:none;border:1px solid #8aa4c8;color:#fff;border-radius:4px;padding:3px 10px;cursor:pointer}
main{max-width:1280px;margin:0 auto;padding:18px 20px 40px}
h1{font-size:20px;margin:4px 0 14px}h2{font-size:16px;margin:22px 0 8px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:12px}
.card{background:#fff;border:1px solid #dde3ea;border-radius:6px;padding:10px 14px}
.card .v{font-size:24px;font-weight:600}.card .k{color:#5b6678;font-size:12px}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #dde3ea}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e9edf2;vertical-align:top}
th{background:#eef2f7;font-weight:600;font-size:12px;color:#3c4657}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
tr:hover td{background:#f8fafc}
.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px;word-break:break-all}
.muted{color:#6b7586}.error{color:#a31d1d;background:#fdecec;border:1px solid #f3c2c2;padding:6px 10px;border-radius:4px}
.ok{color:#155d2b;background:#e8f6ec;border:1px solid #b9e2c5;padding:6px 10px;border-radius:4px}
.st{display:inline-block;padding:0 7px;border-radius:9px;font-size:12px;font-weight:600;background:#e7ebf1}
.st-SUCCESS,.st-RECEIVED,.st-DELIVERED,.st-DONE{background:#dff3e4;color:#1c6b34}.st-FAILED,.st-REFUNDED,.st-STUCK,.st-GAVE_UP{background:#fbe3e3;color:#9b1c1c}
.st-PROCESSING,.st-PENDING,.st-READY,.st-IN_FLIGHT,.st-SENDING{background:#fff1d6;color:#8a5a00}
form.filters{display:flex;flex-wrap:wrap;gap:8px;align-items:end;background:#fff;border:1px solid #dde3ea;padding:10px;border-radius:6px;margin-bottom:12px}
form.filters label{display:flex;flex-direction:column;font-size:12px;color:#5b6678}
input,select,textarea{font:inherit;padding:4px 6px;border:1px solid #c3ccd8;border-radius:4px;background:#fff}
textarea{width:100%;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px}
button,.btn{font:inherit;background:#1f5fbf;color:#fff;border:0;border-radius:4px;padding:5px 12px;cursor:pointer;text-decoration:none;display:inline-block}
button.warn{background:#b4540a}.inline{display:inline}
dl.kv{display:grid;grid-template-columns:180px 1fr;gap:4px 12px;background:#fff;border:1px solid #dde3ea;padding:10px 14px;margin:0}
dl.kv dt{color:#5b6678}dl.kv dd{margin:0}
.two{display:grid;grid-template-columns:1fr 1fr;gap:16px}@media(max-width:900px){.two{grid-template-columns:1fr}}
form.login{max-width:360px;margin:12vh auto;background:#fff;border:1px solid #dde3ea;border-radius:8px;padding:24px;display:flex;flex-direction:column;gap:10px}
.pager{margin:10px 0;display:flex;gap:12px}
svg text{font-size:10px;fill:#5b6678}
"#;

/// A page of the console: header with the sections, the language switch and logout.
pub fn layout(lang: Lang, csrf: &str, active: &str, title: &str, body: Markup) -> Markup {
    let nav = [
        ("dashboard", "/console", lang.t("Dashboard", "概览")),
        ("orders", "/console/orders", lang.t("Orders", "订单")),
        (
            "businesses",
            "/console/businesses",
            lang.t("Businesses", "商户业务"),
        ),
        (
            "catalog",
            "/console/catalog/channel_account",
            lang.t("Catalogue", "配置"),
        ),
    ];
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · rewardgate" }
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    span.brand { "rewardgate" }
                    @for (key, href, label) in nav {
                        a href=(href) class=[(key == active).then_some("on")] { (label) }
                    }
                    a href="/docs" { (lang.t("API reference", "接口文档")) }
                    div.right {
                        @if lang == Lang::En { a href="/console/lang/zh" { "中文" } }
                        @else { a href="/console/lang/en" { "English" } }
                        form method="post" action="/console/logout" {
                            input type="hidden" name="csrf" value=(csrf);
                            button #logout type="submit" { (lang.t("Sign out", "退出")) }
                        }
                    }
                }
                main { h1 { (title) } (body) }
            }
        }
    }
}

/// A page without the header (the login form).
pub fn layout_bare(lang: Lang, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · rewardgate" }
                style { (PreEscaped(CSS)) }
            }
            body { (body) }
        }
    }
}

/// Money as yuan text with two decimals.
pub fn yuan(f: Fen) -> String {
    let sign = if f.0 < 0 { "-" } else { "" };
    let a = f.0.unsigned_abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}

/// An instant in Asia/Shanghai.
pub fn at(ms: i64) -> String {
    clock::shanghai_datetime(ms)
}

/// How long ago, roughly.
pub fn ago(lang: Lang, ms: i64, now: i64) -> String {
    let s = ((now - ms) / 1000).max(0);
    let (n, en, zh) = match s {
        0..=119 => (s, "s", "秒"),
        120..=7199 => (s / 60, "min", "分钟"),
        7200..=172_799 => (s / 3600, "h", "小时"),
        _ => (s / 86400, "d", "天"),
    };
    match lang {
        Lang::En => format!("{n} {en} ago"),
        Lang::Zh => format!("{n} {zh}前"),
    }
}

/// A state as a coloured badge.
pub fn badge(state: &str) -> Markup {
    html! { span class=(format!("st st-{state}")) { (state) } }
}

/// What a change's redirect carries back to the page it came from.
#[derive(serde::Deserialize, Default)]
pub struct Flash {
    pub done: Option<String>,
    pub error: Option<String>,
}

/// After a change: back to `page` with its outcome as `?done=` or `?error=`.
pub fn back_to(page: &str, outcome: Result<&str, String>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let q = match outcome {
        Ok(d) => format!("done={}", enc(d)),
        Err(e) => format!("error={}", enc(&e)),
    };
    axum::response::Redirect::to(&format!("{page}?{q}")).into_response()
}

/// A flash line from `?done=` / `?error=` after a redirect.
pub fn flash(done: Option<&str>, error: Option<&str>) -> Markup {
    html! {
        @if let Some(d) = done { p.ok role="status" { (d) } }
        @if let Some(e) = error { p.error role="alert" { (e) } }
    }
}

/// Parses an `<input type="datetime-local">` value (Asia/Shanghai) into epoch ms.
pub fn parse_local(v: &str) -> Option<i64> {
    let v = v.trim();
    let full = match v.len() {
        16 => format!("{v}:00+08:00"),
        19 => format!("{v}+08:00"),
        _ => return None,
    };
    clock::parse_rfc3339(&full)
}

/// Percent-encodes a query value.
pub fn enc(v: &str) -> String {
    form_urlencoded::byte_serialize(v.as_bytes()).collect()
}
