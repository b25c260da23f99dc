//! WeChat Pay v2's error codes and what each means for an order — the one place this is decided.

use crate::outcome::{Class, Wait};

/// `err_code` (or `return_msg` when the call failed before the business logic) → class.
/// Anything not listed is an unknown outcome: asking again is always safe, guessing is not.
pub fn classify(code: &str) -> Class {
    use Class::*;
    match code {
        // The request itself is wrong for this user or amount: it will never succeed.
        "PARAM_ERROR"
        | "OPENID_ERROR"
        | "MONEY_LIMIT"
        | "NOAUTH"
        | "NO_AUTH"
        | "SENDNUM_LIMIT"
        | "AMOUNT_LIMIT"
        | "NAME_MISMATCH"
        | "V2_ACCOUNT_SIMPLE_BAN"
        | "SEND_FAILED"
        | "ILLEGAL_APPID"
        | "RECV_ACCOUNT_NOT_ALLOWED"
        | "PAY_CHANNEL_NOT_ALLOWED" => Definitive,
        // Not now.
        "TIME_LIMITED" => Deferred(Wait::ShanghaiMorning),
        "NOTENOUGH" | "SIGN_ERROR" | "CA_ERROR" | "XML_ERROR" => Deferred(Wait::PauseAccount),
        "SECOND_OVER_LIMITED" | "FREQ_LIMIT" | "FREQUENCY_LIMITED" => Deferred(Wait::Backoff),
        // SYSTEMERROR, PROCESSING, FATAL_ERROR (the same billno seen with other parameters: only
        // a query can say what happened) and everything unknown.
        _ => Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn table() {
        for c in [
            "PARAM_ERROR",
            "OPENID_ERROR",
            "MONEY_LIMIT",
            "NOAUTH",
            "SENDNUM_LIMIT",
        ] {
            assert_eq!(classify(c), Class::Definitive, "{c}");
        }
        assert_eq!(classify("SYSTEMERROR"), Class::Unknown);
        assert_eq!(classify("FATAL_ERROR"), Class::Unknown);
        assert_eq!(classify("SOMETHING_NEW"), Class::Unknown);
        assert_eq!(
            classify("TIME_LIMITED"),
            Class::Deferred(Wait::ShanghaiMorning)
        );
        assert_eq!(classify("NOTENOUGH"), Class::Deferred(Wait::PauseAccount));
        assert_eq!(
            classify("SECOND_OVER_LIMITED"),
            Class::Deferred(Wait::Backoff)
        );
    }
}
