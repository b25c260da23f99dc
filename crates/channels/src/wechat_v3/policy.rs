//! WeChat Pay v3 coupon-send errors and what each means for an order. The send is idempotent
//! by `out_request_no` ("幂等规则:接口支持幂等重入", pay.weixin.qq.com/wiki/doc/apiv3/apis/
//! chapter9_1_2.shtml; wechatpay-go services/cashcoupons/api_coupon.go:L174), so a refusal that
//! answers a resend is the first send's own answer. Sources: V3 = the generic v3 status table
//! (400 PARAM_ERROR, 401 SIGN_ERROR, 403 NO_AUTH, 429, 500 SYSTEM_ERROR "按具体接口的错误指引进行
//! 重试"); F = codes seen from this endpoint on developers.weixin.qq.com (RULE_LIMIT
//! 用户已达最大领券次数, USER_AL_GET_COUPON, INVALID_REQUEST 暂时无法领取, APPID_MCHID_NOT_MATCH);
//! R = the v3 refund/transfer tables for NOT_ENOUGH, USER_ACCOUNT_ABNORMAL, RESOURCE_NOT_EXISTS.

use crate::outcome::{Class, Wait};

pub fn classify(status: u16, code: &str) -> Class {
    use Class::*;
    match (status, code) {
        // The request can never succeed for this user, stock or appid (nothing was granted).
        (
            400..=499,
            "PARAM_ERROR" // V3
            | "INVALID_REQUEST" // F: risk control, 暂时无法领取
            | "RESOURCE_NOT_EXISTS" // R: the stock does not exist
            | "NOT_ENOUGH" // R; doc 4020807413: 270079534 批次预算不足
            | "REQUEST_BLOCKED"
            | "USER_ACCOUNT_ABNORMAL" // R
            | "APPID_MCHID_NOT_MATCH" // F
            | "RULE_LIMIT" // F: 用户已达最大领券次数
            | "USER_AL_GET_COUPON", // F: 超过自然人最大限领数
        ) => Definitive,
        // V3: 429 请求未受理，请降低频率后重试.
        (_, "FREQUENCY_LIMIT_EXCEED" | "FREQUENCY_LIMITED" | "RATELIMIT_EXCEEDED") | (429, _) => {
            Deferred(Wait::Backoff)
        }
        // V3: 401 签名验证失败; 403 NO_AUTH 权限异常 — the account's credentials or rights.
        (401, _) | (_, "SIGN_ERROR") | (403, "NO_AUTH") => Deferred(Wait::Credentials),
        // SYSTEM_ERROR, 5xx and any code not listed: resend with the same out_request_no.
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
            Class::Deferred(Wait::Credentials)
        );
        assert_eq!(classify(500, "SYSTEM_ERROR"), Class::Unknown);
        assert_eq!(classify(502, ""), Class::Unknown);
        assert_eq!(classify(400, "SOMETHING_NEW"), Class::Unknown);
        // A definitive code on a 5xx is not definitive.
        assert_eq!(classify(500, "PARAM_ERROR"), Class::Unknown);
    }
}
