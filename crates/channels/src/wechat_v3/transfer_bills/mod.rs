//! WeChat Pay 商家转账 (API v3 transfer-bills, the user-confirmation mode that replaced
//! `promotion/transfers` for new merchants on 2025-01-15): the wire shapes of create, query and
//! cancel, the bill's states, and what each answer means for an order.
//!
//! Sources (pay.weixin.qq.com, read 2026-11):
//! - 发起转账 doc 4012716434 = docs/merchant/apis/mch-trans/transfer-bill/transfer-to-user.html:
//!   `POST /v3/fund-app/mch-transfer/transfer-bills`; "HTTP状态码不为200时，请务必不要立即更换商户
//!   订单单号重试…通过商户单号查询转账单…当查询原订单结果明确为“失败”时再更换商户订单号"; "如果发起
//!   转账接口遇到新的错误码，请务必不要换单重试"; 100 requests/s per merchant.
//! - 商户单号查询转账单 (Q) = …/transfer-bill/get-transfer-bill-by-out-no.html: `GET
//!   …/out-bill-no/{out_bill_no}`, last 30 days; the states and their meanings (ACCEPTED "可原单重试",
//!   PROCESSING "转账锁定资金中…如余额不足，可充值后再原单重试", WAIT_USER_CONFIRM, TRANSFERING,
//!   SUCCESS, FAIL, CANCELING, CANCELLED); no `package_info` in its answer.
//! - 撤销转账 doc 4012716458: `POST …/out-bill-no/{out_bill_no}/cancel`, only before the user
//!   confirms; "返回成功仅表示撤销请求已受理…以最终查询单据返回状态为准"; answers CANCELING/CANCELLED.
//! - wechatpayv3 2.0.4 mchtransfer.py (`mch_transfer_bills`, `…_query`, `…_cancel`) and WxJava
//!   weixin-java-pay/src/main/java/com/github/binarywang/wxpay/bean/transfer/TransferBillsResult.java
//!   (out_bill_no, transfer_bill_no, create_time, fail_reason, package_info) for the field names.

pub mod client;
pub mod notify;
pub mod policy;

use super::client::{Answer, Signature};
use crate::outcome::Outcome;
use rewardgate_core::keys::RsaPublicKey;
use serde_json::{Value, json};

pub const CREATE_PATH: &str = "/v3/fund-app/mch-transfer/transfer-bills";

/// `GET …/out-bill-no/{out_bill_no}`. `out_bill_no` is `[0-9A-Za-z]` (checked before any call),
/// so it is its own path segment.
pub fn query_path(out_bill_no: &str) -> String {
    format!(
        "{CREATE_PATH}/out-bill-no/{}",
        super::path_segment(out_bill_no)
    )
}

pub fn cancel_path(out_bill_no: &str) -> String {
    format!("{}/cancel", query_path(out_bill_no))
}

/// 1000 现金营销: the scene a reward is paid under (doc 4012716434, "如:1000(现金营销)").
pub const SCENE_CASH_MARKETING: &str = "1000";
/// The report infos scene 1000 requires, in this order (doc 4012711988 转账场景报备信息; a
/// request without them: 400 PARAM_ERROR "需传入转账场景报备信息,请检查", developers.weixin.qq.com
/// community thread 000ccef96d868053c813e092361400).
pub const SCENE_1000_INFO_TYPES: [&str; 2] = ["活动名称", "奖励说明"];
/// What scene 1000 may show the user (`user_recv_perception`); anything else: 400
/// INVALID_REQUEST "暂不支持展示当前传入的用户收款感知" (same thread).
pub const SCENE_1000_PERCEPTIONS: [&str; 2] = ["现金奖励", "活动奖励"];
/// From this amount (2000 yuan) `user_name` is required (doc 4012716434: "转账金额 >= 2,000元时，
/// 该笔明细必须填写"; wechatpayv3 2.0.4 mchtransfer.py raises below it too).
pub const USER_NAME_FROM_FEN: i64 = rewardgate_core::pricing::TRANSFER_BILL_NAME_FROM.0;
/// The least one transfer may be: 0.1 yuan (issue 13; a 1-fen transfer is refused "超过单笔转账
/// 上下限", developers.weixin.qq.com community 2025-04-26).
pub const MIN_FEN: i64 = 10;

/// A bill's state (Q 单据状态).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BillState {
    Accepted,
    Processing,
    WaitUserConfirm,
    Transfering,
    Success,
    Fail,
    Canceling,
    Cancelled,
    /// A state this code does not know: never acted on.
    Other(String),
}

impl BillState {
    pub fn parse(s: &str) -> BillState {
        use BillState::*;
        match s {
            "ACCEPTED" => Accepted,
            "PROCESSING" => Processing,
            "WAIT_USER_CONFIRM" => WaitUserConfirm,
            "TRANSFERING" => Transfering,
            "SUCCESS" => Success,
            "FAIL" => Fail,
            "CANCELING" => Canceling,
            "CANCELLED" => Cancelled,
            other => Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        use BillState::*;
        match self {
            Accepted => "ACCEPTED",
            Processing => "PROCESSING",
            WaitUserConfirm => "WAIT_USER_CONFIRM",
            Transfering => "TRANSFERING",
            Success => "SUCCESS",
            Fail => "FAIL",
            Canceling => "CANCELING",
            Cancelled => "CANCELLED",
            Other(s) => s,
        }
    }

    /// SUCCESS, FAIL and CANCELLED are final (the notification is sent on them: 商家转账回调通知,
    /// docs/merchant/apis/batch-transfer-to-balance/callback-notice.html).
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            BillState::Success | BillState::Fail | BillState::Cancelled
        )
    }
}

/// A bill as an answer or a notification describes it. Fields an answer lacks are `None`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bill {
    pub out_bill_no: String,
    pub transfer_bill_no: String,
    pub state: BillState,
    /// Only in the create answer, while WAIT_USER_CONFIRM: what the merchant's app passes to
    /// `wx.requestMerchantTransfer`. The query does not return it: keep it from the create.
    pub package_info: Option<String>,
    pub fail_reason: Option<String>,
    pub mch_id: Option<String>,
    pub appid: Option<String>,
    pub openid: Option<String>,
    pub transfer_amount: Option<i64>,
    pub create_time: Option<String>,
    pub update_time: Option<String>,
}

impl Bill {
    /// From a JSON object; `None` without `out_bill_no` or `state`.
    pub fn from_json(v: &Value) -> Option<Bill> {
        let s = |f: &str| v[f].as_str().map(str::to_string);
        Some(Bill {
            out_bill_no: s("out_bill_no")?,
            transfer_bill_no: s("transfer_bill_no").unwrap_or_default(),
            state: BillState::parse(v["state"].as_str()?),
            package_info: s("package_info").filter(|p| !p.is_empty()),
            fail_reason: s("fail_reason").filter(|p| !p.is_empty()),
            mch_id: s("mch_id"),
            appid: s("appid"),
            openid: s("openid"),
            transfer_amount: v["transfer_amount"].as_i64(),
            create_time: s("create_time"),
            update_time: s("update_time"),
        })
    }
}

/// What the user is told the money is (`user_recv_perception`, scene 1000).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Perception {
    CashReward,
    ActivityReward,
}

impl Perception {
    pub fn as_str(self) -> &'static str {
        match self {
            Perception::CashReward => SCENE_1000_PERCEPTIONS[0],
            Perception::ActivityReward => SCENE_1000_PERCEPTIONS[1],
        }
    }
}

/// One transfer under scene 1000. `user_name_ciphertext` is `user_name` already encrypted with
/// the key whose id is `Wechatpay-Serial` (`crypto::SensitiveEncryptor`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateRequest {
    pub appid: String,
    pub out_bill_no: String,
    pub openid: String,
    pub transfer_amount: i64,
    pub transfer_remark: String,
    pub notify_url: Option<String>,
    pub perception: Perception,
    /// 活动名称 and 奖励说明.
    pub activity_name: String,
    pub reward_description: String,
    pub user_name_ciphertext: Option<String>,
}

/// `out_bill_no`: "只能由数字、大小写字母组成", string(32) (doc 4012716434).
pub fn valid_out_bill_no(s: &str) -> bool {
    !s.is_empty() && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// `notify_url`: "必须为HTTPS，不能携带参数", string(256) (doc 4012716434). Plain HTTP to loopback
/// passes too: the sandbox accepts it, so that local test servers can receive notifications.
pub fn valid_notify_url(u: &str) -> bool {
    let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
        .iter()
        .any(|p| u.starts_with(p));
    (u.starts_with("https://") || loopback) && !u.contains('?') && u.len() <= 256
}

impl CreateRequest {
    /// The rules the upstream states for the fields, checked before anything is sent.
    pub fn validate(&self) -> Result<(), String> {
        if !valid_out_bill_no(&self.out_bill_no) {
            return Err("out_bill_no must be 1-32 of [0-9A-Za-z]".into());
        }
        if self.appid.is_empty() || self.openid.is_empty() {
            return Err("appid and openid are required".into());
        }
        if self.transfer_amount < MIN_FEN {
            return Err(format!("transfer_amount must be at least {MIN_FEN} fen"));
        }
        let remark = self.transfer_remark.chars().count();
        if remark == 0 || remark > 32 {
            return Err("transfer_remark must be 1-32 characters".into());
        }
        if self.activity_name.is_empty() || self.reward_description.is_empty() {
            return Err("活动名称 and 奖励说明 are required for scene 1000".into());
        }
        if self.transfer_amount >= USER_NAME_FROM_FEN && self.user_name_ciphertext.is_none() {
            return Err("user_name is required from 2000 yuan".into());
        }
        if self
            .notify_url
            .as_deref()
            .is_some_and(|u| !valid_notify_url(u))
        {
            return Err("notify_url must be https, without a query, at most 256".into());
        }
        Ok(())
    }

    pub fn body(&self) -> String {
        let mut v = json!({
            "appid": self.appid,
            "out_bill_no": self.out_bill_no,
            "transfer_scene_id": SCENE_CASH_MARKETING,
            "openid": self.openid,
            "transfer_amount": self.transfer_amount,
            "transfer_remark": self.transfer_remark,
            "user_recv_perception": self.perception.as_str(),
            "transfer_scene_report_infos": [
                {"info_type": SCENE_1000_INFO_TYPES[0], "info_content": self.activity_name},
                {"info_type": SCENE_1000_INFO_TYPES[1], "info_content": self.reward_description},
            ],
        });
        if let Some(u) = &self.notify_url {
            v["notify_url"] = json!(u);
        }
        if let Some(n) = &self.user_name_ciphertext {
            v["user_name"] = json!(n);
        }
        v.to_string()
    }
}

/// Which call an answer is to: what a bill's state means depends on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    Create,
    Query,
    Cancel,
}

/// An answer's meaning: the bill when one was returned, and the outcome for the order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferAnswer {
    pub bill: Option<Bill>,
    pub outcome: Outcome,
}

impl TransferAnswer {
    fn only(outcome: Outcome) -> TransferAnswer {
        TransferAnswer {
            bill: None,
            outcome,
        }
    }
}

/// What a bill in this state means for the order. Only a query's FAIL or CANCELLED ends it
/// (doc 4012716434: change the number only "当查询原订单结果明确为“失败”时").
pub fn state_outcome(bill: &Bill, call: Call) -> Outcome {
    use BillState::*;
    let pending = |message: &str| Outcome::Pending {
        code: bill.state.as_str().to_string(),
        message: message.to_string(),
    };
    match (&bill.state, call) {
        (Success, _) => Outcome::Granted {
            upstream_id: bill.transfer_bill_no.clone(),
            extra: None,
        },
        (Fail | Cancelled, Call::Query) => Outcome::Failed {
            code: bill.state.as_str().to_string(),
            message: bill.fail_reason.clone().unwrap_or_default(),
        },
        (Fail | Cancelled, _) => Outcome::Unknown {
            reason: format!(
                "{:?} answered {}: query to confirm",
                call,
                bill.state.as_str()
            ),
        },
        (WaitUserConfirm, _) => pending("用户待确认收款"),
        (Accepted, _) => pending("转账已受理"),
        (Processing, _) => pending("转账锁定资金中"),
        (Transfering, _) => pending("转账中"),
        (Canceling, _) => pending("撤销中"),
        (Other(s), _) => Outcome::Unknown {
            reason: format!("unfamiliar state {s:?}"),
        },
    }
}

/// What one answer means. 2xx answers count only with a verified signature (as the coupon
/// client, `client::coupon_outcome`); error answers go through `policy::classify`, except that
/// an error from a query never fails an order (SPEC §10) and a query's 404 NOT_FOUND means no bill
/// exists under this number (yet: one still being accepted may answer so too, developers.weixin.
/// qq.com community 000a04eda085708f5bce038f051800), so it is `NotFound`: resend with the same
/// number, never a failure.
pub fn answer_outcome(
    a: &Answer,
    keys: &[(String, RsaPublicKey)],
    now_secs: i64,
    out_bill_no: &str,
    call: Call,
) -> TransferAnswer {
    let sig = a.check(keys, now_secs);
    let v: Value = serde_json::from_str(&a.body).unwrap_or(Value::Null);
    if (200..300).contains(&a.status) {
        if sig != Signature::Verified {
            return TransferAnswer::only(Outcome::Unknown {
                reason: match sig {
                    Signature::Bad(why) => why,
                    _ => "2xx answer without a signature".into(),
                },
            });
        }
        return match Bill::from_json(&v) {
            Some(bill) if bill.out_bill_no == out_bill_no => TransferAnswer {
                outcome: state_outcome(&bill, call),
                bill: Some(bill),
            },
            Some(bill) => TransferAnswer::only(Outcome::Unknown {
                reason: format!("answer is for out_bill_no {:?}", bill.out_bill_no),
            }),
            None => TransferAnswer::only(Outcome::Unknown {
                reason: "2xx without out_bill_no and state".into(),
            }),
        };
    }
    if let Signature::Bad(why) = sig {
        return TransferAnswer::only(Outcome::Unknown {
            reason: format!("HTTP {}: {why}", a.status),
        });
    }
    let (Some(code), message) = (v["code"].as_str(), v["message"].as_str().unwrap_or("")) else {
        return TransferAnswer::only(Outcome::Unknown {
            reason: format!("HTTP {} without an error code", a.status),
        });
    };
    if call == Call::Query && a.status == 404 && code == "NOT_FOUND" {
        return TransferAnswer::only(Outcome::NotFound);
    }
    let outcome = Outcome::from_class(policy::classify(a.status, code), code, message);
    TransferAnswer::only(match (outcome, call) {
        (Outcome::Failed { code, message }, Call::Query) => Outcome::Unknown {
            reason: format!("query refused {code}: {message}"),
        },
        (o, _) => o,
    })
}
