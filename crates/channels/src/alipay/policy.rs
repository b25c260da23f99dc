//! Alipay gateway codes and `sub_code`s for `alipay.marketing.voucher.send`, and what each means
//! for an order. The send is idempotent by (template_id, out_biz_no) ("相同template_id和out_biz_no
//! 认为是同一次业务": AlipayMarketingVoucherSendModel.java:L41 in alipay-sdk-java-all, and
//! docs.open.alipay.com/api_5/alipay.marketing.voucher.send), so resending is always safe and an
//! unlisted `sub_code` is an unknown outcome, never a definitive failure. Alipay passes business
//! codes through as `sub_code` "unknown-sub-code" with the code in `sub_msg`
//! ("未知的错误码BUDGET_NOT_ENOUGH_ERROR": developer.aliyun.com/ask/285812): `code_of` reads it.
//! Gateway codes: the 公共错误码 page (opendocs 105806) — 20000 服务不可用, 20001 授权权限不足,
//! 40001 缺少必选参数, 40002 非法的参数, 40004 业务处理失败, 40006 权限不足.

use crate::outcome::{Class, Wait};

/// The business code of an answer: `sub_code`, or the code inside `sub_msg` when Alipay answers
/// "unknown-sub-code".
pub fn code_of<'a>(sub_code: &'a str, sub_msg: &'a str) -> &'a str {
    if sub_code == "unknown-sub-code" {
        let tail = sub_msg.rsplit("错误码").next().unwrap_or("").trim();
        if !tail.is_empty() {
            return tail;
        }
    }
    sub_code
}

pub fn classify(code: &str, sub_code: &str) -> Class {
    use Class::*;
    match (code, sub_code) {
        // Our credentials or rights: the account waits for the operator.
        ("40002", s) if s.starts_with("isv.invalid-signature") || s.starts_with("isv.invalid-app-id") => {
            Deferred(Wait::Credentials)
        }
        ("40006", _) | ("20001", _) => Deferred(Wait::Credentials), // 权限不足 / 授权权限不足
        // The request lacks what it must carry: it can never succeed.
        ("40001", _) => Definitive,
        (
            "40004",
            "BUDGET_NOT_ENOUGH_ERROR" // developer.aliyun.com/ask/285812: 预算不足，优惠券数量已经领完
            | "CIF_USER_NOT_EXIST" // developer.aliyun.com/ask/285813: 领券人账号错误
            | "AFTER_VOUCHER_END_TIME", // developer.aliyun.com/ask/285772: 劵模板对应的劵已失效
        ) => Definitive,
        ("40004", s) if s.contains("FREQ") => Deferred(Wait::Backoff),
        // 20000 (isp.unknow-error), other 40002/40004 sub_codes, aop.* and anything else:
        // resend with the same out_biz_no.
        _ => Unknown,
    }
}

/// A resend after an unknown outcome. Alipay documents (template_id, out_biz_no) as one business
/// ("认为是同一次业务") but not that a resend answers the first send's result: a budget or
/// user-limit refusal of the resend may be refusing *because* the first send granted. So only a
/// success settles such an order; any refusal of the resend stays unknown (and, past the give-up
/// bound, goes to an operator), never FAILED while the voucher may exist.
pub fn after_unknown(o: crate::Outcome) -> crate::Outcome {
    match o {
        crate::Outcome::Failed { code, message } => crate::Outcome::Unknown {
            reason: format!(
                "{code}: {message} (a resend's refusal after an unknown outcome does not say the first send failed)"
            ),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn table() {
        let budget = code_of("unknown-sub-code", "未知的错误码BUDGET_NOT_ENOUGH_ERROR");
        assert_eq!(budget, "BUDGET_NOT_ENOUGH_ERROR");
        assert_eq!(classify("40004", budget), Class::Definitive);
        assert_eq!(code_of("unknown-sub-code", ""), "unknown-sub-code");
        assert_eq!(classify("40004", "unknown-sub-code"), Class::Unknown);
        assert_eq!(classify("40004", "SOMETHING_NEW"), Class::Unknown);
        assert_eq!(classify("20000", "isp.unknow-error"), Class::Unknown);
        assert_eq!(
            classify("40002", "isv.invalid-signature"),
            Class::Deferred(Wait::Credentials)
        );
        assert_eq!(
            classify("40006", "isv.insufficient-isv-permissions"),
            Class::Deferred(Wait::Credentials)
        );
    }
}
