//! Orders: their types, the status machine of SPEC §4 and the ledger posting each step makes.
//! (Their price: `pricing`.)

use crate::Fen;
use crate::delivery::JobState;
use crate::ids::{BusinessId, ChannelAccountId, OrderCode};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProductType {
    RedPacket,
    WechatCoupon,
    AlipayCoupon,
    WechatTransfer,
}

impl ProductType {
    pub const ALL: [ProductType; 4] = [
        ProductType::RedPacket,
        ProductType::WechatCoupon,
        ProductType::AlipayCoupon,
        ProductType::WechatTransfer,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            ProductType::RedPacket => "RED_PACKET",
            ProductType::WechatCoupon => "WECHAT_COUPON",
            ProductType::AlipayCoupon => "ALIPAY_COUPON",
            ProductType::WechatTransfer => "WECHAT_TRANSFER",
        }
    }
    pub fn parse(s: &str) -> Option<ProductType> {
        ProductType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    Processing,
    Success,
    Failed,
    Received,
    Refunded,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 5] = [
        OrderStatus::Processing,
        OrderStatus::Success,
        OrderStatus::Failed,
        OrderStatus::Received,
        OrderStatus::Refunded,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Processing => "PROCESSING",
            OrderStatus::Success => "SUCCESS",
            OrderStatus::Failed => "FAILED",
            OrderStatus::Received => "RECEIVED",
            OrderStatus::Refunded => "REFUNDED",
        }
    }
    pub fn parse(s: &str) -> Option<OrderStatus> {
        OrderStatus::ALL.into_iter().find(|t| t.as_str() == s)
    }
    /// No further change can come.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            OrderStatus::Failed | OrderStatus::Received | OrderStatus::Refunded
        )
    }
}

/// What an order is, fixed when it is accepted: who asked, for what, priced and routed.
#[derive(Clone, Debug)]
pub struct OrderSpec {
    pub order_code: OrderCode,
    pub business_id: BusinessId,
    pub merchant_id: String,
    pub biz_code: String,
    pub product_type: ProductType,
    /// The request's fingerprint: the same bizCode with another request is 40901.
    pub fingerprint: String,
    pub template_id: Option<String>,
    pub product_code: Option<String>,
    pub activity_id: Option<String>,
    pub open_id: Option<String>,
    pub mobile: Option<String>,
    pub app_id: Option<String>,
    /// What the user gets (red packets, transfers), when it is an amount.
    pub amount: Option<Fen>,
    pub settlement: Fen,
    pub callback_url: Option<String>,
    pub description: Option<String>,
    pub channel_account_id: ChannelAccountId,
    pub created_at: i64,
    /// How to deliver beyond the catalogue (Rabbitpre: the caller's texts and mode).
    pub delivery: Option<Delivery>,
}

/// One order as stored: what it is, where it stands, and its delivery job's key and state.
#[derive(Clone, Debug)]
pub struct Order {
    pub id: i64,
    pub spec: OrderSpec,
    pub status: OrderStatus,
    pub upstream_id: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// Grows with each change; a report carries it so that a receiver can drop stale ones.
    pub version: i64,
    pub updated_at: i64,
    pub finished_at: Option<i64>,
    pub upstream_key: Option<String>,
    pub job_state: Option<JobState>,
    pub job_attempts: i64,
    /// While WeChat waits for the user to confirm a 商家转账 (SPEC §10): what the merchant's app
    /// passes to `wx.requestMerchantTransfer`.
    pub user_confirm: Option<UserConfirm>,
}

/// `userConfirm` of a 商家转账 waiting for the user (SPEC §10): the merchant's app calls
/// `wx.requestMerchantTransfer` with these — `mchId` 商户号, `appId`, and `package` "商家转账付款单
/// 跳转收款页 pkg 信息，商家转账付款单受理成功时返回给商户" (the create answer's `package_info`;
/// DCloud's wrapper of that call documents its parameters, doc.dcloud.net.cn/uni-app-x/api/
/// request-merchant-transfer.html, pointing at pay.weixin.qq.com/doc/v3/merchant/4012711988).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserConfirm {
    pub mch_id: String,
    pub app_id: String,
    pub package: String,
}

impl std::ops::Deref for Order {
    type Target = OrderSpec;
    fn deref(&self) -> &OrderSpec {
        &self.spec
    }
}

/// Rabbitpre's own texts and mode for a red packet, frozen with the order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub send_name: String,
    pub wishing: String,
    pub act_name: String,
    pub remark: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_way: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trade_record_id: Option<i64>,
}

impl Delivery {
    /// Rabbitpre's mini-program red packet (`sendminiprogramhb`).
    pub fn mini_program(&self) -> bool {
        self.notify_way.as_deref() == Some("MINI_PROGRAM_JSAPI")
    }
}

/// The upstream idempotency key of a new order (SPEC §10).
#[derive(Clone, Debug)]
pub enum KeyScheme {
    /// WeChat Pay v2 red packets: `mch_billno` = mch_id + yyyymmdd + 10 digits from the row id.
    MchBillno { mch_id: String },
    /// Everything else: the orderCode.
    OrderCode,
}

/// An order ready to be stored: parsed, priced and routed by the domain.
#[derive(Clone, Debug)]
pub struct NewOrder {
    pub spec: OrderSpec,
    pub key: KeyScheme,
}

impl std::ops::Deref for NewOrder {
    type Target = OrderSpec;
    fn deref(&self) -> &OrderSpec {
        &self.spec
    }
}

impl NewOrder {
    /// Its upstream idempotency key once stored as row `id` (derived once, reused on retries).
    pub fn key_for(&self, id: i64) -> String {
        match &self.key {
            KeyScheme::MchBillno { mch_id } => {
                crate::ids::mch_billno(mch_id, self.spec.created_at, id)
            }
            KeyScheme::OrderCode => crate::ids::out_request_no(&self.spec.order_code),
        }
    }

    /// The order as it is once stored as row `id` under `key`.
    pub fn stored(&self, id: i64, key: String) -> Order {
        Order {
            id,
            spec: self.spec.clone(),
            status: OrderStatus::Processing,
            upstream_id: None,
            error_code: None,
            error_message: None,
            version: 1,
            updated_at: self.spec.created_at,
            finished_at: None,
            upstream_key: Some(key),
            job_state: Some(JobState::Ready),
            job_attempts: 0,
            user_confirm: None,
        }
    }
}

/// What the upstream told us about an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    Delivered,
    Failed,
    Received,
    Refunded,
}

/// Ledger accounts of one business, plus the platform's funding account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccountKind {
    Available,
    Held,
    Spent,
    Funding,
}

impl AccountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::Available => "AVAILABLE",
            AccountKind::Held => "HELD",
            AccountKind::Spent => "SPENT",
            AccountKind::Funding => "FUNDING",
        }
    }
    pub fn parse(s: &str) -> Option<AccountKind> {
        use AccountKind::*;
        [Available, Held, Spent, Funding]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// A posting moves an amount `from` one account `to` another, so the ledger always sums to zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PostingKind {
    Topup,
    Hold,
    Capture,
    Release,
    Refund,
}

impl PostingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PostingKind::Topup => "TOPUP",
            PostingKind::Hold => "HOLD",
            PostingKind::Capture => "CAPTURE",
            PostingKind::Release => "RELEASE",
            PostingKind::Refund => "REFUND",
        }
    }
    pub fn parse(s: &str) -> Option<PostingKind> {
        use PostingKind::*;
        [Topup, Hold, Capture, Release, Refund]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
    /// (from, to).
    pub fn accounts(self) -> (AccountKind, AccountKind) {
        use AccountKind::*;
        match self {
            PostingKind::Topup => (Funding, Available),
            PostingKind::Hold => (Available, Held),
            PostingKind::Capture => (Held, Spent),
            PostingKind::Release => (Held, Available),
            PostingKind::Refund => (Spent, Available),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an order in {from:?} cannot take {event:?}")]
pub struct IllegalTransition {
    pub from: OrderStatus,
    pub event: Event,
}

/// The status machine: (status, event) → (new status, the posting it makes, if any: RECEIVED
/// only records the user's claim, the capture happened at SUCCESS).
pub fn transition(
    from: OrderStatus,
    event: Event,
    product: ProductType,
) -> Result<(OrderStatus, Option<PostingKind>), IllegalTransition> {
    use OrderStatus::*;
    let red = product == ProductType::RedPacket;
    match (from, event) {
        (Processing, Event::Delivered) => Ok((Success, Some(PostingKind::Capture))),
        (Processing, Event::Failed) => Ok((Failed, Some(PostingKind::Release))),
        (Success, Event::Received) if red => Ok((Received, None)),
        (Success, Event::Refunded) if red => Ok((Refunded, Some(PostingKind::Refund))),
        _ => Err(IllegalTransition { from, event }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderStatus::*;

    #[test]
    fn every_transition() {
        let events = [
            Event::Delivered,
            Event::Failed,
            Event::Received,
            Event::Refunded,
        ];
        for pt in [
            ProductType::RedPacket,
            ProductType::WechatCoupon,
            ProductType::AlipayCoupon,
            ProductType::WechatTransfer,
        ] {
            for from in OrderStatus::ALL {
                for ev in events {
                    let got = transition(from, ev, pt).ok().map(|x| x.0);
                    let want = match (from, ev) {
                        (Processing, Event::Delivered) => Some(Success),
                        (Processing, Event::Failed) => Some(Failed),
                        (Success, Event::Received) if pt == ProductType::RedPacket => {
                            Some(Received)
                        }
                        (Success, Event::Refunded) if pt == ProductType::RedPacket => {
                            Some(Refunded)
                        }
                        _ => None,
                    };
                    assert_eq!(got, want, "{from:?} {ev:?} {pt:?}");
                }
            }
        }
    }

    #[test]
    fn postings_balance() {
        for k in [
            PostingKind::Topup,
            PostingKind::Hold,
            PostingKind::Capture,
            PostingKind::Release,
            PostingKind::Refund,
        ] {
            let (a, b) = k.accounts();
            assert_ne!(a, b);
        }
    }
}
