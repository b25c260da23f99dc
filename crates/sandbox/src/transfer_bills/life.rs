//! A bill's life on the sandbox clock: funded from the operating account (ACCEPTED →
//! WAIT_USER_CONFIRM with a package, or PROCESSING while the balance is short), then SUCCESS
//! on the user's confirmation (the payout recorded once), FAIL, or CANCELLED on a cancel or 24
//! hours unconfirmed (the money back); a notification queued on each end.

use super::notify::Outgoing;
use crate::state::{World, roll};
use rewardgate_channels::wechat_v3::transfer_bills::BillState;
use serde_json::{Value, json};

/// Unconfirmed bills close after this (issue 13: "unconfirmed bills close after 24 h and the
/// money returns").
pub const CONFIRM_WITHIN_MS: i64 = 24 * 3600 * 1000;

pub struct Bill {
    pub mch_id: String,
    pub fingerprint: String,
    pub appid: String,
    pub openid: String,
    pub amount: i64,
    pub remark: String,
    pub notify_url: Option<String>,
    pub user_name: Option<String>,
    pub transfer_bill_no: String,
    pub state: BillState,
    pub package_info: Option<String>,
    pub fail_reason: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Debited from the balance (and so owed back if it does not succeed).
    pub funded: bool,
    /// When an unconfirmed bill closes: 24 hours after it reached the user.
    pub confirm_by: i64,
    pub notifications_sent: u64,
}

/// RFC 3339 in Asia/Shanghai, as WeChat Pay writes times.
pub fn wechat_time(ms: i64) -> String {
    format!(
        "{}+08:00",
        rewardgate_core::clock::shanghai_datetime(ms).replace(' ', "T")
    )
}

impl Bill {
    /// The create answer.
    pub fn create_view(&self, out_bill_no: &str) -> Value {
        let mut v = json!({
            "out_bill_no": out_bill_no,
            "transfer_bill_no": self.transfer_bill_no,
            "create_time": wechat_time(self.created_at),
            "state": self.state.as_str(),
        });
        if self.state == BillState::WaitUserConfirm {
            v["package_info"] = json!(self.package_info);
        }
        v
    }

    /// The query answer (no package_info: the query does not return it).
    pub fn query_view(&self, out_bill_no: &str) -> Value {
        let mut v = json!({
            "mch_id": self.mch_id,
            "out_bill_no": out_bill_no,
            "transfer_bill_no": self.transfer_bill_no,
            "appid": self.appid,
            "state": self.state.as_str(),
            "transfer_amount": self.amount,
            "transfer_remark": self.remark,
            "openid": self.openid,
            "create_time": wechat_time(self.created_at),
            "update_time": wechat_time(self.updated_at),
        });
        if let Some(r) = &self.fail_reason {
            v["fail_reason"] = json!(r);
        }
        v
    }

    /// The notification's plaintext `resource`.
    pub fn notify_view(&self, out_bill_no: &str) -> Value {
        let mut v = json!({
            "out_bill_no": out_bill_no,
            "transfer_bill_no": self.transfer_bill_no,
            "state": self.state.as_str(),
            "mch_id": self.mch_id,
            "transfer_amount": self.amount,
            "openid": self.openid,
            "create_time": wechat_time(self.created_at),
            "update_time": wechat_time(self.updated_at),
        });
        if let Some(r) = &self.fail_reason {
            v["fail_reason"] = json!(r);
        }
        v
    }
}

pub type Key = (String, String);

impl World {
    /// Locks the money for an ACCEPTED or PROCESSING bill if the balance allows (and the
    /// `notEnough` fault does not say otherwise): WAIT_USER_CONFIRM with a package; else it
    /// stays PROCESSING ("转账锁定资金中…如余额不足，可充值后再原单重试").
    pub fn fund_bill(&mut self, key: &Key) {
        let now = self.now();
        let not_enough = self.faults.not_enough;
        let Some(b) = self.transfer_bills.get_mut(key) else {
            return;
        };
        if !matches!(b.state, BillState::Accepted | BillState::Processing) {
            return;
        }
        let Some(acct) = self.v3.get_mut(&key.0) else {
            return;
        };
        if acct.transfer_balance_fen >= b.amount && roll() >= not_enough {
            acct.transfer_balance_fen -= b.amount;
            b.funded = true;
            b.state = BillState::WaitUserConfirm;
            b.package_info = Some(format!("SBX{}", rewardgate_channels::nonce(96)));
            b.confirm_by = now + CONFIRM_WITHIN_MS;
        } else {
            b.state = BillState::Processing;
        }
        b.updated_at = now;
    }

    /// Ends a bill: SUCCESS records the payout (once), FAIL and CANCELLED give a funded
    /// bill's money back; a notification is queued when the bill has a notify_url and the
    /// account an APIv3 key.
    pub fn finish_bill(&mut self, key: &Key, state: BillState, reason: Option<&str>) {
        let now = self.now();
        let Some(b) = self.transfer_bills.get_mut(key) else {
            return;
        };
        if b.state.is_terminal() {
            return;
        }
        b.state = state.clone();
        b.updated_at = now;
        b.fail_reason = reason.map(str::to_string);
        let (amount, openid, funded) = (b.amount, b.openid.clone(), b.funded);
        match state {
            BillState::Success => {
                self.record("wechat_transfer_bills", &key.1, amount, &openid);
            }
            _ if funded => {
                if let Some(a) = self.v3.get_mut(&key.0) {
                    a.transfer_balance_fen += amount;
                }
            }
            _ => {}
        }
        self.queue_notification(key);
    }

    fn queue_notification(&mut self, key: &Key) {
        let (Some(b), Some(acct)) = (self.transfer_bills.get(key), self.v3.get(&key.0)) else {
            return;
        };
        let (Some(url), Some(api_v3_key)) = (&b.notify_url, &acct.api_v3_key) else {
            return;
        };
        let out = Outgoing {
            key: key.clone(),
            url: url.clone(),
            id: uuid_like(),
            create_time: wechat_time(self.now()),
            resource: b.notify_view(&key.1),
            api_v3_key: api_v3_key.clone(),
            platform: (acct.platform_key.clone(), acct.platform_serial_no.clone()),
            duplicate: roll() < self.faults.notify_duplicate,
        };
        self.outbox.push(out);
    }

    /// Time's effects: bills unconfirmed for 24 hours close (CANCELLED); PROCESSING bills are
    /// funded once the balance allows.
    pub fn settle_transfer_bills(&mut self) {
        let now = self.now();
        let keys: Vec<Key> = self.transfer_bills.keys().cloned().collect();
        for k in keys {
            let b = &self.transfer_bills[&k];
            let expired = b.state == BillState::WaitUserConfirm && now >= b.confirm_by;
            let waiting = b.state == BillState::Processing;
            if expired {
                self.finish_bill(&k, BillState::Cancelled, Some("超过24小时未确认收款"));
            } else if waiting {
                self.fund_bill(&k);
            }
        }
    }
}

/// A notification id in the shape WeChat sends (`c5e1963a-bd4d-5dd2-bbaf-8f7236a2b20a`).
fn uuid_like() -> String {
    let h = rewardgate_channels::nonce(32).to_lowercase();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}
