//! The answer envelope of SPEC §2 and the mapping of every error to it, in one place.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rewardgate_core::{ApiError, Status};
use serde::Serialize;

#[derive(Serialize)]
pub struct Envelope<T: Serialize> {
    pub status: u32,
    pub message: String,
    pub data: Option<T>,
}

pub fn ok<T: Serialize>(data: T) -> Response {
    axum::Json(Envelope {
        status: 200,
        message: "success".into(),
        data: Some(data),
    })
    .into_response()
}

/// An `ApiError` answered as HTTP 200 with its status in the envelope.
pub struct Refusal(pub ApiError);

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Self {
        Refusal(e)
    }
}

impl From<rewardgate_store::StoreError> for Refusal {
    fn from(e: rewardgate_store::StoreError) -> Self {
        tracing::error!(error = %e, "store error");
        Refusal(ApiError::internal())
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        if self.0.status == Status::Internal {
            tracing::warn!(status = self.0.status.code(), "refused: internal error");
        } else {
            tracing::debug!(status = self.0.status.code(), message = %self.0.message, "refused");
        }
        axum::Json(Envelope::<()> {
            status: self.0.status.code(),
            message: self.0.message,
            data: None,
        })
        .into_response()
    }
}

/// For what never reached the API logic: a non-200 HTTP code, still with the envelope.
pub fn http_error(code: StatusCode, message: &str) -> Response {
    let body = Envelope::<()> {
        status: code.as_u16() as u32,
        message: message.into(),
        data: None,
    };
    (code, axum::Json(body)).into_response()
}

pub type ApiResult = Result<Response, Refusal>;
