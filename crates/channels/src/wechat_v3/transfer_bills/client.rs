//! The transfer-bills calls on the v3 client: the same `WECHATPAY2-SHA256-RSA2048` signing and
//! answer verification as the coupon send (`wechat_v3::client`), the outcomes of `super`.

use super::{
    BillState, Call, CreateRequest, TransferAnswer, answer_outcome, cancel_path, query_path,
};
use crate::outcome::Outcome;
use crate::wechat_v3::client::Client;
use rewardgate_core::order::UserConfirm;

fn now_secs() -> i64 {
    rewardgate_core::clock::now_ms() / 1000
}

impl Client {
    /// 发起转账. `wechatpay_serial`: the id of the key `user_name` was encrypted with (required
    /// with `user_name`, doc 4012716434 Wechatpay-Serial).
    ///
    /// A definitive refusal is confirmed by a query of the same `out_bill_no` before it is
    /// returned: a bill that exists (INVALID_REQUEST also answers a resend with other
    /// parameters) is answered instead; only `NotFound` leaves the refusal standing.
    pub async fn create_transfer_bill(
        &self,
        req: &CreateRequest,
        wechatpay_serial: Option<&str>,
    ) -> TransferAnswer {
        if let Err(why) = req.validate() {
            return TransferAnswer {
                bill: None,
                outcome: Outcome::Failed {
                    code: "PARAM_ERROR".into(),
                    message: format!("not sent: {why}"),
                },
            };
        }
        let sent = self
            .request("POST", super::CREATE_PATH, req.body(), wechatpay_serial)
            .await;
        let answer = match sent {
            Ok(a) => answer_outcome(
                &a,
                &self.cfg.platform_keys,
                now_secs(),
                &req.out_bill_no,
                Call::Create,
            ),
            Err(o) => TransferAnswer {
                bill: None,
                outcome: o,
            },
        };
        if !matches!(answer.outcome, Outcome::Failed { .. }) {
            return self.with_confirm(answer, &req.appid);
        }
        let q = self.query_transfer_bill(&req.out_bill_no).await;
        match q.outcome {
            Outcome::NotFound => answer,
            _ => q,
        }
    }

    /// A create answer of WAIT_USER_CONFIRM carries `package_info` — the only call that does
    /// (Q: the query answer has none): the outcome carries what the merchant's app needs.
    fn with_confirm(&self, answer: TransferAnswer, appid: &str) -> TransferAnswer {
        let confirm = answer.bill.as_ref().and_then(|b| {
            (b.state == BillState::WaitUserConfirm)
                .then_some(b.package_info.as_ref())
                .flatten()
                .map(|p| UserConfirm {
                    mch_id: self.cfg.mch_id.clone(),
                    app_id: appid.to_string(),
                    package: p.clone(),
                })
        });
        match confirm {
            Some(confirm) => TransferAnswer {
                outcome: Outcome::AwaitingUser { confirm },
                ..answer
            },
            None => answer,
        }
    }

    /// Verifies (this account's platform keys) and opens (its APIv3 key) one notification.
    pub fn open_notification(
        &self,
        headers: &super::notify::NotifyHeaders,
        body: &str,
        api_v3_key: &[u8],
    ) -> Result<super::notify::Notification, super::notify::NotifyError> {
        super::notify::verify_and_decrypt_notification(
            headers,
            body,
            &self.cfg.platform_keys,
            api_v3_key,
            now_secs(),
        )
    }

    /// A known-good request of the 商家转账 product: the query of a number no order uses (404
    /// NOT_FOUND "记录不存在" is the healthy answer: 商户单号查询转账单's error table, and the
    /// community thread cited at `answer_outcome`). A 401, or a 403 NO_AUTH, here is the account's — its
    /// signature or its rights to 商家转账 — not one order's; the coupon probe would ask about
    /// another product's rights.
    pub async fn probe_transfer_bills(&self) -> crate::Probe {
        crate::wechat_v3::client::probe_answer(
            self.request("GET", &query_path("RGPROBE0"), String::new(), None)
                .await,
        )
    }

    /// 商户单号查询转账单 (last 30 days).
    pub async fn query_transfer_bill(&self, out_bill_no: &str) -> TransferAnswer {
        if !super::valid_out_bill_no(out_bill_no) {
            return TransferAnswer {
                bill: None,
                outcome: Outcome::Unknown {
                    reason: format!("not an out_bill_no: {out_bill_no:?}"),
                },
            };
        }
        match self
            .request("GET", &query_path(out_bill_no), String::new(), None)
            .await
        {
            Ok(a) => answer_outcome(
                &a,
                &self.cfg.platform_keys,
                now_secs(),
                out_bill_no,
                Call::Query,
            ),
            Err(o) => TransferAnswer {
                bill: None,
                outcome: o,
            },
        }
    }

    /// 撤销转账: accepted (CANCELING) is not done; the bill's end is what a query says. The
    /// outcome is the cancel's: `Failed` means the cancel was refused (the bill is past
    /// confirmation, or unknown), not that the order failed.
    pub async fn cancel_transfer_bill(&self, out_bill_no: &str) -> TransferAnswer {
        if !super::valid_out_bill_no(out_bill_no) {
            return TransferAnswer {
                bill: None,
                outcome: Outcome::Failed {
                    code: "PARAM_ERROR".into(),
                    message: format!("not an out_bill_no: {out_bill_no:?}"),
                },
            };
        }
        // The body is empty for a direct merchant (doc 4012716458 请求示例 sends none).
        match self
            .request("POST", &cancel_path(out_bill_no), String::new(), None)
            .await
        {
            Ok(a) => answer_outcome(
                &a,
                &self.cfg.platform_keys,
                now_secs(),
                out_bill_no,
                Call::Cancel,
            ),
            Err(o) => TransferAnswer {
                bill: None,
                outcome: o,
            },
        }
    }
}
