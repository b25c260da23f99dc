//! 商家转账 (transfer-bills) error answers and what each means for an order. The default is the
//! safe `Unknown`: "如果发起转账接口遇到新的错误码，请务必不要换单重试，需通过商户单号查询转账单…查询
//! 原订单结果明确为"失败"时，再更换商户订单号进行重试。否则会有重复转账的资金风险" (D below).
//!
//! Sources:
//! - D = 发起转账, pay.weixin.qq.com/doc/v3/merchant/4012716434 (= docs/merchant/apis/mch-trans/
//!   transfer-bill/transfer-to-user.html) and its 错误码 table; Q = 商户单号查询转账单
//!   (…/transfer-bill/get-transfer-bill-by-out-no.html: "超过频率限制，会报错 FREQUENCY_LIMITED").
//! - V3 = the generic v3 table (pay.weixin.qq.com/doc/v2/partner/4011940964 shape: PARAM_ERROR
//!   "请求参数不符合参数格式", INVALID_REQUEST "符合参数格式，但不符合业务规则", NO_AUTH
//!   "商户没有开通权限"; 401 SIGN_ERROR; 500 SYSTEM_ERROR "请使用相同参数稍后重新调用").
//! - C1 = developers.weixin.qq.com/community/pay/doc/000ccef96d868053c813e092361400: this endpoint
//!   answering 400 INVALID_REQUEST "暂不支持展示当前传入的用户收款感知" and 400 PARAM_ERROR
//!   "需传入转账场景报备信息,请检查".
//! - C2 = developers.weixin.qq.com/community/personal/oCJUsw9p202oUNSDMtvYf2BUsKvA/answer: this
//!   endpoint answering 403 NOT_ENOUGH "商户运营账户资金不足,充值后可以原单号发起重试,请勿更换商户单号".
//! - C3 = developers.weixin.qq.com/community/pay/doc/00082c33108b60f232c2013986bc00: over 100/s
//!   "超频率一般是429,超频率正常是不会处理成功的,先查询确认出资情况".
//! - C4 = developers.weixin.qq.com/community/pay/doc/0006e032c70ea8198fee080375b000 (the batch
//!   transfer table the bill API inherited): 500 SYSTEM_ERROR "请使用相同参数再次调用", 403
//!   NOT_ENOUGH "请充值后原单重试", 429 FREQUENCY_LIMITED "请降低频率后原单重试".
//!
//! A definitive refusal of a create is not the order's end by itself: the client confirms it
//! with a query (`client::Client::create_transfer_bill`), because INVALID_REQUEST also answers a
//! resend of an existing `out_bill_no` with other parameters, whose first bill may be paid.

use crate::outcome::{Class, Wait};

pub fn classify(status: u16, code: &str) -> Class {
    use Class::*;
    match (status, code) {
        // D, V3, C1: the request as written can never succeed (nothing was created by it).
        (400, "PARAM_ERROR" | "INVALID_REQUEST") => Definitive,
        // C2, C4: the operating account is short; retry with the SAME out_bill_no once topped up
        // (the bill may be held in PROCESSING meanwhile, Q).
        (403, "NOT_ENOUGH") => Deferred(Wait::PauseAccount),
        // V3: 商户没有开通权限 — the account's rights (a known-good request decides whose).
        (403, "NO_AUTH") => Deferred(Wait::Credentials),
        // V3: 401 签名验证失败.
        (401, _) | (_, "SIGN_ERROR") => Deferred(Wait::Credentials),
        // Q, C3, C4: not accepted; back off and ask again with the same number.
        (_, "FREQUENCY_LIMITED" | "FREQUENCY_LIMIT_EXCEED" | "RATELIMIT_EXCEEDED") | (429, _) => {
            Deferred(Wait::Backoff)
        }
        // V3, C4: SYSTEM_ERROR "请使用相同参数再次调用"; any 5xx, any other code: unknown, query first.
        _ => Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        assert_eq!(classify(400, "PARAM_ERROR"), Class::Definitive);
        assert_eq!(classify(400, "INVALID_REQUEST"), Class::Definitive);
        assert_eq!(
            classify(403, "NOT_ENOUGH"),
            Class::Deferred(Wait::PauseAccount)
        );
        assert_eq!(classify(403, "NO_AUTH"), Class::Deferred(Wait::Credentials));
        assert_eq!(
            classify(401, "SIGN_ERROR"),
            Class::Deferred(Wait::Credentials)
        );
        assert_eq!(
            classify(429, "FREQUENCY_LIMITED"),
            Class::Deferred(Wait::Backoff)
        );
        assert_eq!(classify(500, "SYSTEM_ERROR"), Class::Unknown);
        assert_eq!(classify(502, ""), Class::Unknown);
        // Unfamiliar codes, and familiar ones on an unexpected status, are unknown.
        assert_eq!(classify(400, "SOMETHING_NEW"), Class::Unknown);
        assert_eq!(classify(500, "PARAM_ERROR"), Class::Unknown);
        assert_eq!(classify(404, "NOT_FOUND"), Class::Unknown);
    }
}
