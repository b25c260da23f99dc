//! `GET /docs`: the document rendered as one HTML page, read from the `OpenApi` object itself
//! (sections by tag; each operation with its method, path, summary, parameters, body fields and
//! answers). No script, no external asset.

use maud::{DOCTYPE, Markup, PreEscaped, html};
use std::sync::LazyLock;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{ArrayItems, Schema, SchemaType, Type};
use utoipa::openapi::{OpenApi, RefOr, Required};

static PAGE: LazyLock<String> = LazyLock::new(|| render(&super::document()).into_string());

/// `GET /docs`.
pub async fn docs() -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
        PAGE.as_str(),
    )
        .into_response()
}

const CSS: &str = "
body { font: 15px/1.45 system-ui, sans-serif; max-width: 70em; margin: 0 auto; padding: 1em 2em; color: #222; }
h2 { border-bottom: 2px solid #ccc; margin-top: 2em; }
.op { border: 1px solid #ddd; border-radius: 6px; padding: .3em 1em .8em; margin: 1em 0; }
.op h3 { font-size: 1.05em; }
.m { display: inline-block; min-width: 3.5em; padding: 0 .4em; border-radius: 4px; color: #fff; text-align: center; }
.get { background: #2a7ab0; } .post { background: #2f8f4e; } .put { background: #b07a2a; }
table { border-collapse: collapse; width: 100%; margin: .4em 0; font-size: .93em; }
th, td { border-bottom: 1px solid #eee; padding: .2em .5em; text-align: left; vertical-align: top; }
th { background: #f6f6f6; } code { background: #f3f3f3; padding: 0 .2em; }
.req { color: #b00; } nav li { margin: .1em 0; } td:first-child { white-space: nowrap; }
";

/// Every (method, path, operation) of the document, in path order.
pub(crate) fn operations(doc: &OpenApi) -> Vec<(&'static str, &str, &Operation)> {
    let mut v = Vec::new();
    for (path, item) in &doc.paths.paths {
        for (m, op) in [
            ("GET", &item.get),
            ("PUT", &item.put),
            ("POST", &item.post),
            ("DELETE", &item.delete),
            ("PATCH", &item.patch),
        ] {
            if let Some(op) = op {
                v.push((m, path.as_str(), op));
            }
        }
    }
    v
}

/// Text with its `backticked` words as code.
fn prose(s: &str) -> Markup {
    html! {
        @for (i, part) in s.split('`').enumerate() {
            @if i % 2 == 1 { code { (part) } } @else { (part) }
        }
    }
}

fn anchor(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

fn render(doc: &OpenApi) -> Markup {
    let ops = operations(doc);
    let tags = doc.tags.clone().unwrap_or_default();
    let in_tag = |t: &str| {
        ops.iter()
            .filter(|(_, _, o)| o.tags.iter().flatten().any(|x| x == t))
            .cloned()
            .collect::<Vec<_>>()
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (doc.info.title) " API reference" }
                style { (PreEscaped(CSS)) }
            }
            body {
                h1 { (doc.info.title) " " (doc.info.version) " — API reference" }
                @if let Some(d) = &doc.info.description { p { (prose(d)) } }
                p { "The machine-readable document: " a href="/openapi.json" { "/openapi.json" } " (OpenAPI 3.1)." }
                nav { ul {
                    @for t in &tags {
                        li { a href={ "#" (anchor(&t.name)) } { (t.name) } " (" (in_tag(&t.name).len()) ")" }
                    }
                } }
                @for t in &tags {
                    section id=(anchor(&t.name)) {
                        h2 { (t.name) }
                        @if let Some(d) = &t.description { p { (prose(d)) } }
                        @for (m, path, op) in in_tag(&t.name) { (operation(m, path, op)) }
                    }
                }
            }
        }
    }
}

fn operation(method: &str, path: &str, op: &Operation) -> Markup {
    let id = op.operation_id.clone().unwrap_or_default();
    let params: Vec<_> = op
        .parameters
        .iter()
        .flatten()
        .filter_map(|p| match p {
            RefOr::T(p) => Some(p),
            RefOr::Ref(_) => None,
        })
        .collect();
    let secured = op.security.iter().flatten().next().is_some();
    html! {
        div.op id=(id) {
            h3 {
                span class={ "m " (method.to_lowercase()) } { (method) } " " code { (path) }
            }
            @if let Some(s) = &op.summary { p { (prose(s)) } }
            @if secured { p { "Needs " code { "Authorization: Bearer <admin token>" } "." } }
            @if !params.is_empty() {
                h4 { "Parameters" }
                table {
                    tr { th { "name" } th { "in" } th { "type" } th { "about" } }
                    @for p in &params {
                        tr {
                            td { code { (p.name) } @if matches!(p.required, Required::True) { span.req { " *" } } }
                            td { (where_(&p.parameter_in)) }
                            td { (p.schema.as_ref().map(type_of).unwrap_or_default()) }
                            td { (prose(&p.description.clone().or_else(|| p.schema.as_ref().map(about)).unwrap_or_default())) }
                        }
                    }
                }
            }
            @if let Some(RefOr::T(b)) = &op.request_body {
                h4 { "Body " span { "(" (b.content.keys().cloned().collect::<Vec<_>>().join(", ")) ")" } }
                @if let Some(d) = &b.description { p { (prose(d)) } }
                @if let Some(RefOr::T(c)) = b.content.values().next() {
                    @if let Some(s) = &c.schema { (fields_table(s)) }
                }
            }
            h4 { "Answers" }
            table {
                tr { th { "HTTP" } th { "when" } th { "body" } }
                @for (code, r) in &op.responses.responses {
                    @if let RefOr::T(r) = r {
                        tr {
                            td { (code) }
                            td { (prose(&r.description)) }
                            td { (r.content.keys().cloned().collect::<Vec<_>>().join(", ")) }
                        }
                    }
                }
            }
            @if let Some(RefOr::T(r)) = op.responses.responses.get("200") {
                @if let Some(RefOr::T(c)) = r.content.get("application/json") {
                    @if let Some(s) = &c.schema {
                        details { summary { "HTTP 200 fields" } (fields_table(s)) }
                    }
                }
            }
        }
    }
}

fn where_(p: &ParameterIn) -> &'static str {
    match p {
        ParameterIn::Path => "path",
        ParameterIn::Query | ParameterIn::QueryString => "query",
        ParameterIn::Header => "header",
        ParameterIn::Cookie => "cookie",
    }
}

fn fields_table(s: &RefOr<Schema>) -> Markup {
    let mut rows = Vec::new();
    flatten("", s, true, &mut rows);
    html! {
        table {
            tr { th { "field" } th { "type" } th { "about" } }
            @for (name, required, ty, about) in rows {
                tr {
                    td { code { (name) } @if required { span.req { " *" } } }
                    td { (ty) }
                    td { (prose(&about)) }
                }
            }
        }
    }
}

/// Fields as rows `(dotted name, required, type, about)`, nested objects and lists of objects
/// included (`mappings[].userId`).
fn flatten(
    prefix: &str,
    s: &RefOr<Schema>,
    top: bool,
    rows: &mut Vec<(String, bool, String, String)>,
) {
    match s {
        RefOr::T(Schema::Object(o)) => {
            for (name, p) in &o.properties {
                let full = if prefix.is_empty() {
                    name.clone()
                } else {
                    format!("{prefix}.{name}")
                };
                rows.push((
                    full.clone(),
                    o.required.contains(name),
                    type_of(p),
                    about(p),
                ));
                flatten(&full, p, false, rows);
            }
        }
        RefOr::T(Schema::Array(a)) if !top => {
            if let ArrayItems::RefOrSchema(items) = &a.items {
                flatten(&format!("{prefix}[]"), items, false, rows);
            }
        }
        _ => {}
    }
}

fn about(s: &RefOr<Schema>) -> String {
    match s {
        RefOr::T(Schema::Object(o)) => o.description.clone().unwrap_or_default(),
        RefOr::T(Schema::Array(a)) => a.description.clone().unwrap_or_default(),
        _ => String::new(),
    }
}

/// A short type: `string (1-64)`, `integer or null`, `one of MD5, SHA256-RSA`, `array of object`.
fn type_of(s: &RefOr<Schema>) -> String {
    let name = |t: &Type| {
        serde_json::to_value(t)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    };
    match s {
        RefOr::T(Schema::Object(o)) => {
            if let Some(vals) = &o.enum_values {
                let v: Vec<String> = vals
                    .iter()
                    .map(|v| v.as_str().unwrap_or("?").to_string())
                    .collect();
                return format!("one of {}", v.join(", "));
            }
            let mut t = match &o.schema_type {
                SchemaType::Type(t) => name(t),
                SchemaType::Array(ts) => ts.iter().map(name).collect::<Vec<_>>().join(" or "),
                SchemaType::AnyValue => "any".into(),
            };
            if let Some(p) = &o.pattern {
                t += &format!(" matching {p}");
            } else if let (Some(a), Some(b)) = (o.min_length, o.max_length) {
                t += &format!(" ({a}-{b} characters)");
            }
            let num =
                |n: &Option<utoipa::Number>| n.as_ref().and_then(|n| serde_json::to_string(n).ok());
            if let (Some(a), Some(b)) = (num(&o.minimum), num(&o.maximum)) {
                t += &format!(" ({a}-{b})");
            }
            t
        }
        RefOr::T(Schema::Array(a)) => match &a.items {
            ArrayItems::RefOrSchema(i) => format!("array of {}", type_of(i)),
            ArrayItems::False => "array".into(),
        },
        _ => "see the document".into(),
    }
}
