//! The OpenAPI 3.1 document of everything `serve` routes: the open API (SPEC §2–§4), the
//! Rabbitpre endpoint (§6), the admin API (§8) and the operational paths. Built with utoipa's
//! builders from what the handlers parse and answer; `GET /openapi.json` serves it and
//! `GET /docs` renders it as HTML (`docs`). By part: `open` (open API and operations),
//! `rabbitpre`, `admin` and `catalog` (the admin API); this file holds the document, the
//! `/openapi.json` handler and the schema helpers the parts share.

mod admin;
mod catalog;
mod docs;
mod open;
mod rabbitpre;

pub use docs::docs;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::sync::LazyLock;
use utoipa::openapi::path::{Operation, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    ComponentsBuilder, Content, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, RefOr,
    Required, ResponseBuilder,
};

/// The sections of the document (its tags), in the order `/docs` shows them.
pub const TAGS: [(&str, &str); 5] = [
    (
        OPEN,
        "Merchant-facing, SPEC §2–§4: `POST` with a JSON body (at most 64 KiB) signed as SPEC §3 says, \
         in the headers `businessId`, `nonce`, `timestamp`, `sign` and `signType`. Money is yuan as a \
         JSON number with at most 2 decimals. Every answer that reaches the API logic is HTTP 200 with \
         the envelope `{status, message, data}`; `status` 200 is success, any other a refusal from \
         SPEC §2's table (40001 parameter, 40101 signature, 40104 unknown business, …).",
    ),
    (
        RABBITPRE,
        "兔展 red packets, SPEC §6: the seed's request and answer fields, answered synchronously.",
    ),
    (
        ADMIN,
        "The operator's API under `/admin/v1`, SPEC §8: `Authorization: Bearer <RG_ADMIN_TOKEN>` \
         (a wrong token is HTTP 401; with no token configured the admin API is off and answers 404). \
         Configuration objects are created or replaced with `PUT`; money in yuan; secrets are \
         answered masked.",
    ),
    (
        OPS,
        "Health, readiness, Prometheus metrics and this document; no authentication.",
    ),
    (
        UPSTREAM,
        "What the upstreams post to this service, SPEC §10: WeChat Pay's 商家转账 notifications, \
         verified with the channel account's platform key and opened with its APIv3 key; only a \
         hint — the bill is queried before anything changes. Answers as WeChat Pay expects.",
    ),
];
pub const OPEN: &str = "open API";
pub const RABBITPRE: &str = "Rabbitpre";
pub const ADMIN: &str = "admin API";
pub const OPS: &str = "operations";
pub const UPSTREAM: &str = "upstream notifications";

/// The whole document.
pub fn document() -> OpenApi {
    let paths = admin::paths(open::paths(PathsBuilder::new()));
    let bearer = HttpBuilder::new()
        .scheme(HttpAuthScheme::Bearer)
        .description(Some("The admin token (`RG_ADMIN_TOKEN`)."))
        .build();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("rewardgate")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Rewards gateway: WeChat red packets, WeChat and Alipay coupons, WeChat \
                     transfers. Paths that do not exist answer HTTP 404 and a method a path does \
                     not take HTTP 405, both with the envelope `{status, message, data: null}`.",
                )),
        )
        .paths(paths)
        .components(Some(
            ComponentsBuilder::new()
                .security_scheme("adminToken", SecurityScheme::Http(bearer))
                .build(),
        ))
        .tags(Some(TAGS.iter().map(|(name, about)| {
            TagBuilder::new()
                .name(*name)
                .description(Some(*about))
                .build()
        })))
        .build()
}

static JSON: LazyLock<String> =
    LazyLock::new(|| document().to_json().expect("the document serialises"));

/// `GET /openapi.json`.
pub async fn json() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], JSON.as_str()).into_response()
}

// ---- helpers shared by the parts ----

/// A field of an object: name, required, schema.
pub(crate) type Field = (&'static str, bool, RefOr<Schema>);

fn schema(b: ObjectBuilder) -> RefOr<Schema> {
    RefOr::T(Schema::Object(b.build()))
}

fn typed(t: Type, about: &str) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(t).description(Some(about))
}

pub(crate) fn string(about: &str) -> RefOr<Schema> {
    schema(typed(Type::String, about))
}

/// A string that may not be empty (the parsers read `""` as absent), at most `max` long.
pub(crate) fn text(about: &str, max: usize) -> RefOr<Schema> {
    schema(
        typed(Type::String, about)
            .min_length(Some(1))
            .max_length(Some(max)),
    )
}

pub(crate) fn pattern(about: &str, re: &str) -> RefOr<Schema> {
    schema(typed(Type::String, about).pattern(Some(re)))
}

pub(crate) fn one_of(about: &str, values: &[&str]) -> RefOr<Schema> {
    schema(typed(Type::String, about).enum_values(Some(values.iter().copied())))
}

pub(crate) fn integer(about: &str) -> RefOr<Schema> {
    schema(typed(Type::Integer, about))
}

pub(crate) fn boolean(about: &str) -> RefOr<Schema> {
    schema(typed(Type::Boolean, about))
}

/// Money on the wire: yuan as a JSON number with at most 2 decimals (SPEC §4).
pub(crate) fn yuan(about: &str) -> RefOr<Schema> {
    schema(typed(
        Type::Number,
        &format!("{about} (yuan, at most 2 decimals)"),
    ))
}

/// `t` or `null`.
pub(crate) fn nullable(t: Type, about: &str) -> RefOr<Schema> {
    schema(
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([t, Type::Null]))
            .description(Some(about)),
    )
}

pub(crate) fn list(items: RefOr<Schema>, about: &str) -> RefOr<Schema> {
    RefOr::T(Schema::Array(
        ArrayBuilder::new()
            .items(items)
            .description(Some(about))
            .build(),
    ))
}

/// Any JSON object (a free-form map).
pub(crate) fn any_object(about: &str) -> RefOr<Schema> {
    schema(typed(Type::Object, about))
}

/// An object of `(name, required, schema)` fields; `null_too` also admits `null`.
pub(crate) fn object(
    fields: impl IntoIterator<Item = (&'static str, bool, RefOr<Schema>)>,
    null_too: bool,
) -> ObjectBuilder {
    let mut b = ObjectBuilder::new();
    b = if null_too {
        b.schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
    } else {
        b.schema_type(Type::Object)
    };
    for (name, required, s) in fields {
        b = b.property(name, s);
        if required {
            b = b.required(name);
        }
    }
    b
}

/// SPEC §2's envelope, with `data` as given (it is `null` on a refusal).
pub(crate) fn envelope(data: ObjectBuilder) -> RefOr<Schema> {
    schema(object(
        [
            (
                "status",
                true,
                integer("200 for success, else a refusal code of SPEC §2's table"),
            ),
            ("message", true, string("`success`, or what was wrong")),
            ("data", true, schema(data)),
        ],
        false,
    ))
}

/// An envelope whose `data` is always `null`: what never reached the API logic.
fn error_envelope() -> RefOr<Schema> {
    envelope(ObjectBuilder::new().schema_type(Type::Null))
}

/// An operation with its tag, id and summary, and the answers every route may give (404 for a
/// path parameter that names no route, 431 for too many header bytes).
pub(crate) fn op(tag: &str, id: &str, summary: &str) -> OperationBuilder {
    OperationBuilder::new()
        .tag(tag)
        .operation_id(Some(id))
        .summary(Some(summary))
        .response(
            "404",
            http_error("no such path (or, under /admin/v1, the admin API is off)"),
        )
        .response("431", http_error("request headers are larger than 16 KiB"))
}

fn http_error(why: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(why)
        .content("application/json", Content::new(Some(error_envelope())))
        .build()
}

/// The HTTP 200 answer: SPEC §2's envelope with `data` as described.
pub(crate) fn answers(b: OperationBuilder, about: &str, data: ObjectBuilder) -> OperationBuilder {
    b.response(
        "200",
        ResponseBuilder::new()
            .description(about)
            .content("application/json", Content::new(Some(envelope(data)))),
    )
}

/// A JSON request body (and the 413/415 answers its transport rules give).
pub(crate) fn body(b: OperationBuilder, about: &str, s: ObjectBuilder) -> OperationBuilder {
    json_body(b, about, schema(s), &["application/json"])
}

pub(crate) fn json_body(
    b: OperationBuilder,
    about: &str,
    s: RefOr<Schema>,
    types: &[&str],
) -> OperationBuilder {
    let mut rb = RequestBodyBuilder::new()
        .description(Some(about))
        .required(Some(Required::True));
    for t in types {
        rb = rb.content(*t, Content::new(Some(s.clone())));
    }
    b.request_body(Some(rb.build()))
        .response("413", http_error("the body is larger than 64 KiB"))
        .response(
            "415",
            http_error("the Content-Type is not application/json"),
        )
}

pub(crate) fn path_param(b: OperationBuilder, name: &str, s: RefOr<Schema>) -> OperationBuilder {
    b.parameter(
        ParameterBuilder::new()
            .name(name)
            .parameter_in(ParameterIn::Path)
            .required(Required::True)
            .schema(Some(s)),
    )
}

pub(crate) fn query_param(
    b: OperationBuilder,
    name: &str,
    about: &str,
    s: RefOr<Schema>,
) -> OperationBuilder {
    b.parameter(
        ParameterBuilder::new()
            .name(name)
            .parameter_in(ParameterIn::Query)
            .required(Required::False)
            .description(Some(about))
            .schema(Some(s)),
    )
}

pub(crate) fn header_param(
    b: OperationBuilder,
    name: &str,
    required: bool,
    about: &str,
    s: RefOr<Schema>,
) -> OperationBuilder {
    b.parameter(
        ParameterBuilder::new()
            .name(name)
            .parameter_in(ParameterIn::Header)
            .required(if required {
                Required::True
            } else {
                Required::False
            })
            .description(Some(about))
            .schema(Some(s)),
    )
}

/// A WeChat Pay v3 failure answer (`{"code": "FAIL", "message"}`).
pub(crate) fn wechat_fail(why: &str) -> utoipa::openapi::Response {
    let body = object(
        [
            ("code", true, one_of("", &["FAIL"])),
            ("message", true, string("")),
        ],
        false,
    );
    ResponseBuilder::new()
        .description(why)
        .content("application/json", Content::new(Some(schema(body))))
        .build()
}

/// An admin operation: the bearer token, and 401 without it.
pub(crate) fn admin_op(id: &str, summary: &str) -> OperationBuilder {
    op(ADMIN, id, summary)
        .security(SecurityRequirement::new("adminToken", Vec::<String>::new()))
        .response("401", http_error("missing or wrong admin token"))
}

/// A non-JSON answer.
pub(crate) fn plain(b: OperationBuilder, code: &str, about: &str, ctype: &str) -> OperationBuilder {
    b.response(
        code,
        ResponseBuilder::new()
            .description(about)
            .content(ctype, Content::new(Some(string(about)))),
    )
}

pub(crate) fn done(b: OperationBuilder) -> Operation {
    b.build()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_document_serialises_with_every_section() {
        let v: serde_json::Value = serde_json::from_str(&super::JSON).unwrap();
        assert_eq!(v["openapi"], "3.1.0");
        assert!(v["paths"]["/v1/openapi/order/redPacket"]["post"].is_object());
        assert!(v["paths"]["/admin/v1/orders"]["get"].is_object());
    }
}
