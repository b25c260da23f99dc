//! WeChat Pay v3 coupon errors and what each means for an order.

use crate::outcome::{Class, Wait};

pub fn classify(status: u16, code: &str) -> Class {
    use Class::*;
    match (status, code) {
        (
            _,
            "PARAM_ERROR"
            | "INVALID_REQUEST"
            | "RESOURCE_NOT_EXISTS"
            | "NOT_ENOUGH"
            | "REQUEST_BLOCKED"
            | "NO_AUTH"
            | "USER_ACCOUNT_ABNORMAL"
            | "APPID_MCHID_NOT_MATCH"
            | "RULE_LIMIT",
        ) => Definitive,
        (_, "FREQUENCY_LIMIT_EXCEED" | "FREQUENCY_LIMITED") | (429, _) => Deferred(Wait::Backoff),
        (401, _) | (_, "SIGN_ERROR") => Deferred(Wait::PauseAccount),
        // SYSTEM_ERROR, 5xx and anything else: resend with the same out_request_no.
        _ => Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn table() {
        assert_eq!(classify(403, "NOT_ENOUGH"), Class::Definitive);
        assert_eq!(classify(404, "RESOURCE_NOT_EXISTS"), Class::Definitive);
        assert_eq!(
            classify(429, "FREQUENCY_LIMIT_EXCEED"),
            Class::Deferred(Wait::Backoff)
        );
        assert_eq!(
            classify(401, "SIGN_ERROR"),
            Class::Deferred(Wait::PauseAccount)
        );
        assert_eq!(classify(500, "SYSTEM_ERROR"), Class::Unknown);
        assert_eq!(classify(502, ""), Class::Unknown);
    }
}
