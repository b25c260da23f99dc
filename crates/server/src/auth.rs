//! SPEC §3 at the edge: the auth headers, the business, its allow-list and the signature over the
//! exact bytes received, all before the body is interpreted.

use crate::state::{AppState, BusinessAuth};
use axum::http::HeaderMap;
use rewardgate_core::sign::{self, AuthHeaders, SignType, Verifier};
use rewardgate_core::{ApiError, Status, clock};
use std::net::IpAddr;
use std::sync::Arc;

/// A request whose signature verified.
pub struct Verified {
    pub auth: Arc<BusinessAuth>,
    pub nonce: String,
    pub now: i64,
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
    match h.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(Some)
            .map_err(|_| ApiError::field(name, "header must be ASCII")),
    }
}

fn required<'a>(h: &'a HeaderMap, name: &str) -> Result<&'a str, ApiError> {
    header(h, name)?
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::field(name, "header is required"))
}

pub async fn verify(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    peer: IpAddr,
) -> Result<Verified, ApiError> {
    let business_id = required(headers, "businessId")?;
    let nonce = required(headers, "nonce")?;
    let timestamp = required(headers, "timestamp")?;
    let sign_value = required(headers, "sign")?;
    let sign_type_header = header(headers, "signType")?;
    let sign_type = SignType::parse(sign_type_header)?;
    sign::check_nonce(nonce)?;
    let auth = state
        .business_auth(business_id)
        .await?
        .filter(|a| a.business.enabled)
        .ok_or_else(|| {
            ApiError::new(Status::UnknownBusiness, "businessId is unknown or disabled")
        })?;
    if !auth.business.ip_allowed(peer) {
        return Err(ApiError::new(
            Status::IpNotAllowed,
            format!("caller IP {peer} is not on the business's allow-list"),
        ));
    }
    let h = AuthHeaders {
        business_id,
        nonce,
        timestamp,
        sign_type: sign_type_header,
    };
    let s = sign::string_to_sign(&h, body);
    let verifier = match sign_type {
        SignType::Md5 => auth
            .business
            .md5_key
            .as_ref()
            .map(|k| Verifier::Md5(k.expose())),
        SignType::Sha256Rsa => auth.rsa.as_ref().map(Verifier::Rsa),
    }
    .ok_or_else(|| {
        ApiError::new(
            Status::BadSignature,
            format!(
                "the business has no key for signType {}",
                sign_type.as_str()
            ),
        )
    })?;
    if !sign::verify(verifier, &s, sign_value) {
        return Err(ApiError::new(Status::BadSignature, "sign is invalid"));
    }
    let now = clock::now_ms();
    sign::check_timestamp(timestamp, now)?;
    Ok(Verified {
        auth: auth.clone(),
        nonce: nonce.to_string(),
        now,
    })
}

/// A signed open-API request, as handlers take it: the body under SPEC §2's transport rules,
/// and the signature (SPEC §3) checked over its exact bytes before anything reads it.
pub struct Signed {
    pub verified: Verified,
    pub body: axum::body::Bytes,
}

impl axum::extract::FromRequest<AppState> for Signed {
    type Rejection = axum::response::Response;

    async fn from_request(
        req: axum::extract::Request,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        use axum::response::IntoResponse;
        let peer = req
            .extensions()
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::from([127, 0, 0, 1]));
        let (parts, body) = req.into_parts();
        let bytes = crate::body::read_json_body(&parts.headers, body, false).await?;
        let verified = verify(state, &parts.headers, &bytes, peer)
            .await
            .map_err(|e| crate::envelope::Refusal(e).into_response())?;
        Ok(Signed {
            verified,
            body: bytes,
        })
    }
}
