//! SPEC §2 status codes and the error every layer maps to them.

use std::fmt;

/// The `status` of the answer envelope (SPEC §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok = 200,
    InvalidParam = 40001,
    UnsupportedSignType = 40002,
    BadSignature = 40101,
    StaleTimestamp = 40102,
    NonceUsed = 40103,
    UnknownBusiness = 40104,
    NotOwner = 40301,
    IpNotAllowed = 40302,
    NotFound = 40401,
    BizCodeConflict = 40901,
    OutOfLimits = 42201,
    InsufficientBalance = 40201,
    TooManyRequests = 42901,
    Internal = 50001,
}

impl Status {
    pub fn code(self) -> u32 {
        self as u32
    }
}

/// A refusal with the SPEC status and a message for the caller (never internal detail).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: Status,
    pub message: String,
}

impl ApiError {
    pub fn new(status: Status, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }
    /// 40001 naming the field: `"<field> <what>"`.
    pub fn field(field: &str, what: impl fmt::Display) -> Self {
        ApiError::new(Status::InvalidParam, format!("{field} {what}"))
    }
    pub fn missing(field: &str) -> Self {
        ApiError::field(field, "is required")
    }
    pub fn not_found(what: impl Into<String>) -> Self {
        ApiError::new(Status::NotFound, what)
    }
    /// The same refusal about a member of `prefix` (`platformKeys[0]` + `serialNo is required`).
    pub fn within(mut self, prefix: &str) -> Self {
        self.message = format!("{prefix}.{}", self.message);
        self
    }
    pub fn internal() -> Self {
        ApiError::new(
            Status::Internal,
            "internal error; nothing was charged unless a later query shows the order",
        )
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status.code(), self.message)
    }
}

impl std::error::Error for ApiError {}
