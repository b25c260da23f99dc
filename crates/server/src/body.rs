//! Reading a request body under SPEC §2's transport rules: JSON content type (415), at most
//! 64 KiB (413). The bytes are kept exactly as received, for the signature.

use crate::envelope::http_error;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;

pub const MAX_BODY: usize = 64 * 1024;

/// Whether the content type is JSON (`application/json`, with any parameters); Rabbitpre's seed
/// also sends `application/jsonxml`.
pub fn is_json(headers: &HeaderMap, allow_jsonxml: bool) -> bool {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (allow_jsonxml && mime == "application/jsonxml")
}

pub async fn read_json_body(
    headers: &HeaderMap,
    body: Body,
    allow_jsonxml: bool,
) -> Result<Bytes, Response> {
    if !is_json(headers, allow_jsonxml) {
        return Err(http_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json",
        ));
    }
    axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| http_error(StatusCode::PAYLOAD_TOO_LARGE, "body must be at most 64 KiB"))
}
