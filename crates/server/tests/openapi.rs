//! `GET /openapi.json` and `GET /docs` over HTTP on both databases. The document must name
//! exactly the routes `serve` has: the explicit list below is compared with the document, with
//! the routes read from the router's own source (`router` in lib.rs, `admin::routes`), and with
//! the live server (each listed route answers something other than the 404/405 fallbacks, and
//! every other method on a listed path is the 405 fallback). A route added without documentation
//! fails here.

mod common;
use common::*;
use serde_json::Value;
use std::collections::BTreeSet;

/// Every route `serve` has, as (method, path).
const ROUTES: &[(&str, &str)] = &[
    ("POST", "/v1/openapi/order/redPacket"),
    ("POST", "/v1/openapi/order/wechat/coupons"),
    ("POST", "/v1/openapi/order/alipay/coupons"),
    ("POST", "/v1/openapi/order/wechat/transfer"),
    ("POST", "/v1/openapi/order/info"),
    ("POST", "/v1/openapi/merchant/business/balance"),
    ("GET", "/v1/openapi/platform/publicKey"),
    ("POST", "/pay/sendApiRedPack"),
    (
        "POST",
        "/v1/notify/wechat/transfer-bills/{channelAccountId}",
    ),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/admin/v1/channel-accounts/{id}"),
    ("PUT", "/admin/v1/channel-accounts/{id}"),
    ("GET", "/admin/v1/templates/{id}"),
    ("PUT", "/admin/v1/templates/{id}"),
    ("GET", "/admin/v1/products/{id}"),
    ("PUT", "/admin/v1/products/{id}"),
    ("GET", "/admin/v1/activities/{id}"),
    ("PUT", "/admin/v1/activities/{id}"),
    ("GET", "/admin/v1/merchants/{id}"),
    ("PUT", "/admin/v1/merchants/{id}"),
    ("GET", "/admin/v1/businesses/{id}"),
    ("PUT", "/admin/v1/businesses/{id}"),
    ("POST", "/admin/v1/businesses/{id}/topups"),
    ("GET", "/admin/v1/businesses/{id}/balance"),
    ("GET", "/admin/v1/rabbitpre-integrations/{id}"),
    ("PUT", "/admin/v1/rabbitpre-integrations/{id}"),
    ("POST", "/admin/v1/rabbitpre-integrations/{id}/openids"),
    (
        "GET",
        "/admin/v1/rabbitpre-integrations/{id}/openids/{user}",
    ),
    ("GET", "/admin/v1/orders"),
    ("GET", "/admin/v1/orders/{code}"),
    ("POST", "/admin/v1/orders/{code}/retry"),
    ("POST", "/admin/v1/orders/{code}/cancel"),
    ("GET", "/admin/v1/orders/{code}/notifications"),
    ("POST", "/admin/v1/notifications/{id}/redeliver"),
    ("GET", "/admin/v1/jobs"),
    ("GET", "/admin/v1/ledger"),
];

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "DELETE", "PATCH"];

type Routes = BTreeSet<(String, String)>;

fn listed() -> Routes {
    ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect()
}

/// The routes a router's source declares: each `.route("path", get(h).put(h)…)`, under
/// `prefix`.
fn declared(src: &str, prefix: &str) -> Routes {
    let mut out = Routes::new();
    let mut rest = src;
    while let Some(i) = rest.find(".route(") {
        rest = &rest[i + ".route(".len()..];
        let open = rest.find('"').expect("a route's path literal");
        let close = open + 1 + rest[open + 1..].find('"').unwrap();
        let path = &rest[open + 1..close];
        // The call's arguments: up to the parenthesis that closes `.route(`.
        let mut depth = 1;
        let mut end = 0;
        for (j, c) in rest.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                end = j;
                break;
            }
        }
        let args = &rest[close..end];
        for m in METHODS {
            let word = format!("{}(", m.to_ascii_lowercase());
            let mut from = 0;
            while let Some(k) = args[from..].find(&word) {
                let at = from + k;
                let before = args[..at].chars().next_back();
                if !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                    out.insert((m.to_string(), format!("{prefix}{path}")));
                }
                from = at + word.len();
            }
        }
    }
    out
}

fn routed() -> Routes {
    let lib = include_str!("../src/lib.rs");
    let router = &lib[lib.find("pub fn router(").expect("fn router")..];
    let router = &router[..router.find("\n}\n").unwrap()];
    let nest = router.find(".nest(\"").expect("the admin API is nested") + ".nest(\"".len();
    let prefix = &router[nest..nest + router[nest..].find('"').unwrap()];
    let admin = include_str!("../src/admin/mod.rs");
    let admin = &admin[admin.find("pub fn routes(").expect("fn routes")..];
    let admin = &admin[..admin.find("\n}\n").unwrap()];
    let mut all = declared(router, "");
    all.extend(declared(admin, prefix));
    all
}

fn documented(doc: &Value) -> Routes {
    let mut out = Routes::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (m, _) in item.as_object().unwrap() {
            let m = m.to_ascii_uppercase();
            if METHODS.contains(&m.as_str()) {
                out.insert((m, path.clone()));
            }
        }
    }
    out
}

#[test]
fn the_list_is_what_the_router_declares() {
    assert_eq!(
        routed(),
        listed(),
        "crates/server/src/lib.rs and admin/mod.rs route something else than this test lists: \
         document the new route in crates/server/src/openapi/ and list it here"
    );
}

/// Whether an answer is one of the router's fallbacks (no route, or not this method).
async fn fallback(r: reqwest::Response) -> bool {
    let st = r.status().as_u16();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    (st == 404 && v["message"] == "no such path") || st == 405
}

async fn document_names_every_route(b: Backend) {
    let db = TestDb::new(b);
    let app = spawn_app(&db.url).await;
    let r = app
        .http
        .get(format!("{}/openapi.json", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let doc: Value = r.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(documented(&doc), listed(), "the document's operations");
    // Each listed route is served (no fallback), and no other method is.
    let paths: BTreeSet<&str> = ROUTES.iter().map(|(_, p)| *p).collect();
    for path in paths {
        let url = format!(
            "{}{}",
            app.base,
            path.replace("{id}", "probe1")
                .replace("{code}", "probe2")
                .replace("{user}", "probe3")
        );
        for m in METHODS {
            let rb = app
                .http
                .request(reqwest::Method::from_bytes(m.as_bytes()).unwrap(), &url)
                .bearer_auth(TOKEN)
                .header("content-type", "application/json")
                .body("{}");
            let fell = fallback(rb.send().await.unwrap()).await;
            let routed = ROUTES.contains(&(m, path));
            assert_eq!(
                fell, !routed,
                "{m} {path}: routed {routed}, fell back {fell}"
            );
        }
    }
    let r = app
        .http
        .get(format!("{}/v1/openapi/nothing", app.base))
        .send()
        .await
        .unwrap();
    assert!(fallback(r).await, "an unknown path is the 404 fallback");
    // The reference page: HTML from the same document, every path and section on it.
    let r = app
        .http
        .get(format!("{}/docs", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    let page = r.text().await.unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"), "{}", &page[..60]);
    assert!(!page.contains("<script"), "no script on the page");
    for (_, p) in ROUTES {
        assert!(
            page.contains(&format!("<code>{p}</code>")),
            "/docs lacks {p}"
        );
    }
    for section in ["open API", "admin API", "Rabbitpre", "operations"] {
        assert!(page.contains(&format!("<h2>{section}</h2>")), "{section}");
    }
    // Field names from SPEC §4 and §8 reach the page.
    for field in [
        "templateId",
        "settlementPrice",
        "ipAllowlist",
        "apiSecretKey",
        "nextCursor",
    ] {
        assert!(page.contains(field), "/docs lacks {field}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_sqlite() {
    document_names_every_route(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_postgres() {
    document_names_every_route(Backend::Postgres).await;
}
