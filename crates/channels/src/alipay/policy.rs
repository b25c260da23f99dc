//! Alipay gateway codes and `sub_code`s for `alipay.marketing.voucher.send`, and what each means
//! for an order.

use crate::outcome::{Class, Wait};

pub fn classify(code: &str, sub_code: &str) -> Class {
    use Class::*;
    match (code, sub_code) {
        ("40002", s)
            if s.starts_with("isv.invalid-signature") || s.starts_with("isv.invalid-app-id") =>
        {
            Deferred(Wait::PauseAccount)
        }
        (
            "40004",
            "TEMPLATE_NOT_EXIST"
            | "BUDGET_NOT_ENOUGH"
            | "EXCEED_USER_TAKE_LIMIT"
            | "USER_NOT_EXIST"
            | "INVALID_PARAMETER"
            | "AFTER_VOUCHER_END_TIME"
            | "TEMPLATE_EXPIRED"
            | "USER_ACCOUNT_ABNORMAL",
        ) => Definitive,
        ("40004", "OUT_BIZ_NO_REPEAT") => Unknown,
        ("40004", s) if s.contains("FREQ") => Deferred(Wait::Backoff),
        ("40001" | "40002" | "40006", _) => Definitive,
        ("40004", _) => Definitive,
        // 20000 (isp.*), aop.* and anything else: resend with the same out_biz_no.
        _ => Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn table() {
        assert_eq!(classify("40004", "BUDGET_NOT_ENOUGH"), Class::Definitive);
        assert_eq!(classify("20000", "isp.unknow-error"), Class::Unknown);
        assert_eq!(
            classify("40002", "isv.invalid-signature"),
            Class::Deferred(Wait::PauseAccount)
        );
        assert_eq!(classify("40004", "OUT_BIZ_NO_REPEAT"), Class::Unknown);
    }
}
