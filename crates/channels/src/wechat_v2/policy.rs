//! WeChat Pay v2's error codes and what each means for an order — the one place this is decided.
//! Three tables: red-packet sends, transfer sends, and queries (whose errors never settle money).
//! Anything not listed is an unknown outcome: asking again with the same key is always safe,
//! guessing is not ("遇到回包返回新的错误码，请商户务必不要换单重试" — the red-packet error table,
//! copied in handsomegyr/wechat@a55d951 lib/Weixin/Qy/Pay.php:L186). Sources, one per rule:
//! - R17: the 2017 sendredpack table, deerchao/weixin.next@e158995 src/Weixin.Next/Pay/SendRedPack.cs:L145-251
//! - RQY: the later red-packet table, handsomegyr/wechat@a55d951 lib/Weixin/Qy/Pay.php:L284-308
//! - S002: seed 002 (the operator's own copy of the sendredpack page)
//! - T14: the transfers table, handsomegyr/wechat@94cd59e lib/Weixin/Pay337.php:L1344-1367, and its
//!   later revision ("如果要继续付款必须使用原商户订单号重试", "付款错误，请查单确认付款结果")
//! - Q: the gethbinfo / gettransferinfo tables, Pay337.php:L648-657 and L1478-1487

use crate::outcome::{Class, Wait};

/// `sendredpack` / `sendminiprogramhb` `err_code` → class.
pub fn classify_redpack(code: &str) -> Class {
    use Class::*;
    match code {
        // The request can never succeed for this user or amount (nothing was paid).
        "PARAM_ERROR" // R17 L247: 参数错误
        | "OPENID_ERROR" // R17 L223: openid和appid不匹配
        | "MONEY_LIMIT" // S002, R17 L165: 每个红包金额必须大于1元，小于200元
        | "NO_AUTH" // R17 L147: 此请求可能存在风险，已被微信拦截 (this user)
        | "SENDNUM_LIMIT" // R17 L153: 该用户今日领取红包个数超过限制
        | "RCVDAMOUNT_LIMIT" // RQY L285: 该用户今日领取金额超过限制
        | "ILLEGAL_APPID" // R17 L159: 非法appid (the order's appId)
        | "SEND_FAILED" // R17 L171: 该红包已经发放失败，如果需要重新发放，请更换单号
        | "PARAM_IS_NOT_UTF8" => Definitive, // T14 L1366: 请求参数中包含非utf8编码字符
        // The account cannot pay: pause it, its orders wait (nothing is failed).
        "NOTENOUGH" => Deferred(Wait::PauseAccount), // S002, R17 L217: 帐号余额不足，请到商户平台充值后再重试
        // The account's credentials or rights, unless this order's request broke them: checked
        // with a known-good request before the account is paused.
        "NOAUTH" // S002: 无权限，请联系微信支付开通api权限
        | "API_METHOD_CLOSED" // RQY L308: 商户号API发放方式已关闭
        | "MSGAPPID_ERROR" // R17 L229: msgappid与主、子商户号的绑定关系校验失败
        | "ACCEPTMODE_ERROR" // R17 L235: 主、子商户号关系校验失败
        | "SIGN_ERROR" // R17 L195
        | "CA_ERROR" // R17 L189: 请求未携带证书或证书出错
        | "XML_ERROR" => Deferred(Wait::Credentials), // R17 L205
        "TIME_LIMITED" => Deferred(Wait::ShanghaiMorning), // S002: 北京时间0:00-8:00之外触发
        "SENDAMOUNT_LIMIT" // RQY L284: 商户号今日发放金额超过限制
        | "DAY_OVER_LIMITED" => Deferred(Wait::NextShanghaiDay), // Senparc RedPackApi.cs 2015 table
        "SECOND_OVER_LIMITED" | "FREQ_LIMIT" => Deferred(Wait::Backoff), // S002; R17 L211
        // R17 L241: 请求已受理，请稍后使用原单号查询发放结果 — 二十分钟后查询.
        "PROCESSING" => Pending,
        // SYSTEMERROR (R17 L199: 使用原单号调用接口，查询发放结果), FATAL_ERROR and 金额和原始单参数不一致
        // (R17 L177-188: the same billno seen with other parameters — only a query can say what
        // happened), numeric codes like seed 002's 268458547, and everything unknown.
        _ => Unknown,
    }
}

/// `promotion/transfers` `err_code` → class. Differs from red packets where the transfer table
/// says so: SEND_FAILED asks for a query, MONEY_LIMIT is a daily cap of the merchant or the user.
pub fn classify_transfer(code: &str) -> Class {
    use Class::*;
    match code {
        "PARAM_ERROR" // T14 L1348
        | "OPENID_ERROR" // T14 L1349
        | "AMOUNT_LIMIT" // T14 L1347: 付款金额不能小于最低限额 / 高于最高单笔付款限额
        | "MONEY_LIMIT" // T14 L1361: 已经达到今日付款总额上限/已达到付款给此用户额度上限
        | "NAME_MISMATCH" // T14 L1353
        | "V2_ACCOUNT_SIMPLE_BAN" // T14 L1365: 无法给非实名用户付款
        | "SENDNUM_LIMIT" // T14 later revision: 该用户今日付款次数超过限制
        | "NO_AUTH" // T14 later revision: 用户账号被冻结 / 产品权限没有开通 (nothing paid)
        | "RECV_ACCOUNT_NOT_ALLOWED" // Go client constants: 收款账户不在收款账户列表
        | "PARAM_IS_NOT_UTF8" => Definitive, // T14 L1366
        "NOTENOUGH" => Deferred(Wait::PauseAccount), // T14 later revision: 如果要继续付款必须使用原商户订单号重试
        "NOAUTH"
        | "PAY_CHANNEL_NOT_ALLOWED" // Go client constants: 本商户号未配置API发起能力
        | "API_METHOD_CLOSED"
        | "SIGN_ERROR" // T14 L1354-1357
        | "CA_ERROR" // T14 L1362-1364
        | "XML_ERROR" => Deferred(Wait::Credentials), // T14 L1358
        "FREQ_LIMIT" => Deferred(Wait::Backoff), // T14 L1360
        "PROCESSING" => Pending,
        // SYSTEMERROR (T14 L1352: 请使用原单号以及原请求参数重试), SEND_FAILED (later revision:
        // 付款错误，请查单确认付款结果), FATAL_ERROR (T14 L1359: 两次请求参数不一致) and the rest.
        _ => Unknown,
    }
}

/// `gethbinfo` / `gettransferinfo` `err_code` → class. A query's error says nothing about the
/// payment, so nothing here is definitive; only a status or NOT_FOUND may settle an order.
pub fn classify_query(code: &str) -> Class {
    use Class::*;
    match code {
        // A query carries nothing of the order's but its billno: these are the account's.
        "CA_ERROR" | "SIGN_ERROR" | "NO_AUTH" | "NOAUTH" | "XML_ERROR" => {
            Deferred(Wait::Credentials) // Q: 请求未携带证书 / 商户签名错误 / 没有权限
        }
        "FREQ_LIMIT" => Deferred(Wait::Backoff), // Q: 受频率限制
        // PARAM_ERROR, SYSTEMERROR (the gethbinfo sample even uses it for 指定单号数据不存在:
        // Pay337.php:L637-647, so it is never taken as "not found") and everything else.
        _ => Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn tables() {
        for c in [
            "PARAM_ERROR",
            "OPENID_ERROR",
            "MONEY_LIMIT",
            "NO_AUTH",
            "SENDNUM_LIMIT",
            "RCVDAMOUNT_LIMIT",
            "PARAM_IS_NOT_UTF8",
        ] {
            assert_eq!(classify_redpack(c), Class::Definitive, "{c}");
        }
        for c in ["SYSTEMERROR", "FATAL_ERROR", "268458547", "SOMETHING_NEW"] {
            assert_eq!(classify_redpack(c), Class::Unknown, "{c}");
            assert_eq!(classify_transfer(c), Class::Unknown, "{c}");
        }
        assert_eq!(classify_redpack("PROCESSING"), Class::Pending);
        assert_eq!(
            classify_redpack("TIME_LIMITED"),
            Class::Deferred(Wait::ShanghaiMorning)
        );
        assert_eq!(
            classify_redpack("SENDAMOUNT_LIMIT"),
            Class::Deferred(Wait::NextShanghaiDay)
        );
        assert_eq!(
            classify_redpack("NOTENOUGH"),
            Class::Deferred(Wait::PauseAccount)
        );
        for c in [
            "SIGN_ERROR",
            "API_METHOD_CLOSED",
            "MSGAPPID_ERROR",
            "ACCEPTMODE_ERROR",
        ] {
            assert_eq!(classify_redpack(c), Class::Deferred(Wait::Credentials));
        }
        assert_eq!(
            classify_redpack("SECOND_OVER_LIMITED"),
            Class::Deferred(Wait::Backoff)
        );
        // Transfers: SEND_FAILED is settled by a query.
        assert_eq!(classify_redpack("SEND_FAILED"), Class::Definitive);
        assert_eq!(classify_transfer("SEND_FAILED"), Class::Unknown);
        assert_eq!(classify_transfer("AMOUNT_LIMIT"), Class::Definitive);
        // Queries never fail an order.
        for c in [
            "PARAM_ERROR",
            "NO_AUTH",
            "SYSTEMERROR",
            "MONEY_LIMIT",
            "NOT_FOUND",
            "X",
        ] {
            assert_ne!(classify_query(c), Class::Definitive, "{c}");
        }
    }
}
