//! The sandbox's memory: accounts, what each upstream granted, faults and the clock.

use rewardgate_core::keys::{RsaPrivateKey, RsaPublicKey};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct Sandbox {
    state: Mutex<World>,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox::default()
    }
    /// Runs `f` with the whole state locked: every decision and its grant are one step, so
    /// parallel requests with one key cannot both pay.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut s)
    }
    /// How many grants really happened (the length of `effects`), without copying them.
    pub fn effect_count(&self) -> usize {
        self.with(|w| w.effects.len())
    }
}

#[derive(Clone, Debug, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Faults {
    pub system_error: f64,
    pub timeout: f64,
    pub not_enough: f64,
    pub enforce_time_limit: bool,
    /// How long an injected timeout holds the answer back.
    pub timeout_seconds: u64,
    /// WeChat Pay v2: the share of red packets and transfers that are accepted but still being
    /// processed (a red packet answers PROCESSING and stays SENDING; a transfer answers
    /// SYSTEMERROR and stays PROCESSING) for `processing_seconds` of the sandbox clock.
    pub processing: f64,
    pub processing_seconds: u64,
    /// WeChat Pay v2: every business failure in seed 002's failure shape (`return_code=FAIL`,
    /// `result_code=FAIL`, `err_code`), not only SYSTEMERROR and NOTENOUGH.
    pub v2_return_code_fail: bool,
    /// WeChat Pay v3: error answers without `Wechatpay-*` headers (5xx are always unsigned).
    pub v3_unsigned_errors: bool,
    /// How long an unclaimed red packet stays RFUND_ING (退款中) before REFUND.
    pub refunding_seconds: u64,
    /// WeChat Pay v2 queries (gethbinfo, gettransferinfo) answer this err_code (NO_AUTH,
    /// PARAM_ERROR, SYSTEMERROR, FREQ_LIMIT …) whatever the bill's state.
    pub query_error: Option<String>,
    /// 商家转账: the share of calls refused 429 FREQUENCY_LIMITED (nothing done), and of
    /// notifications delivered twice.
    pub frequency_limited: f64,
    pub notify_duplicate: f64,
}

impl Faults {
    pub fn none() -> Faults {
        Faults {
            timeout_seconds: 15,
            processing_seconds: 60,
            refunding_seconds: 600,
            ..Default::default()
        }
    }
}

/// One grant that really happened (SPEC §9 `effects`).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Effect {
    pub channel: &'static str,
    pub key: String,
    pub amount_fen: i64,
    pub user: String,
    pub at: i64,
}

pub struct V2Account {
    pub api_key: String,
    pub app_ids: Vec<String>,
    pub balance_fen: i64,
    pub cert_der: Option<Vec<u8>>,
    /// Sign answers with MD5 (the real red-packet and transfer answers carry no `sign`).
    pub sign_answers: bool,
    /// 商户单日出资金额上限 (SENDAMOUNT_LIMIT) and 单用户单日收款金额上限 (RCVDAMOUNT_LIMIT), fen.
    pub daily_amount_limit: i64,
    pub user_daily_amount_limit: i64,
    /// The red-packet range a merchant set for scenes on its platform (fen): 1–200 yuan until
    /// it lowers the minimum to 0.30 or raises the maximum up to 4999 (WxJava issue #802).
    pub scene_range: (i64, i64),
    /// Sandbox times of red packets sent, for the per-minute limit.
    pub recent_sends: std::collections::VecDeque<i64>,
}

/// gethbinfo's states (WxJava WxPayRedpackQueryResult.java:L57-68).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedpackStatus {
    Sending,
    Sent,
    Failed,
    Received,
    Refunding,
    Refund,
}

impl RedpackStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RedpackStatus::Sending => "SENDING",
            RedpackStatus::Sent => "SENT",
            RedpackStatus::Failed => "FAILED",
            RedpackStatus::Received => "RECEIVED",
            RedpackStatus::Refunding => "RFUND_ING",
            RedpackStatus::Refund => "REFUND",
        }
    }
    pub fn parse(s: &str) -> Option<RedpackStatus> {
        use RedpackStatus::*;
        [Sending, Sent, Failed, Received, Refunding, Refund]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// gettransferinfo's states.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransferStatus {
    Processing,
    Success,
    Failed,
}

impl TransferStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TransferStatus::Processing => "PROCESSING",
            TransferStatus::Success => "SUCCESS",
            TransferStatus::Failed => "FAILED",
        }
    }
    pub fn parse(s: &str) -> Option<TransferStatus> {
        use TransferStatus::*;
        [Processing, Success, Failed]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

pub struct Redpack {
    pub mch_id: String,
    pub fingerprint: String,
    pub openid: String,
    pub amount: i64,
    pub send_listid: String,
    pub sent_at: i64,
    pub status: RedpackStatus,
    pub rcv_time: Option<i64>,
    pub refund_time: Option<i64>,
    pub package: Option<String>,
    /// While SENDING: when it becomes SENT (sandbox ms).
    pub ready_at: i64,
    pub reason: Option<String>,
    /// Put in its state by a knob: time does not move it on.
    pub pinned: bool,
}

pub struct Transfer {
    pub status: TransferStatus,
    /// While PROCESSING: when it becomes SUCCESS (sandbox ms).
    pub ready_at: i64,
    pub reason: Option<String>,
    pub pinned: bool,
    pub fingerprint: String,
    pub openid: String,
    pub amount: i64,
    pub payment_no: String,
    pub payment_time: i64,
    pub app_id: String,
    pub desc: String,
}

pub struct Stock {
    pub coupon_value: i64,
    pub remaining: i64,
    pub max_per_user: i64,
    pub per_user: HashMap<String, i64>,
}

pub struct V3Account {
    pub merchant_public_key: RsaPublicKey,
    pub merchant_serial_no: String,
    pub platform_key: Arc<RsaPrivateKey>,
    pub platform_serial_no: String,
    pub stocks: HashMap<String, Stock>,
    /// Coupon sends a second before FREQUENCY_LIMIT_EXCEED, and the recent ones (sandbox ms).
    pub max_per_second: usize,
    pub recent: std::collections::VecDeque<i64>,
    /// 商家转账: the APIv3 key notifications are sealed with (none: no notifications), the
    /// platform key's decryptor for `user_name`, the operating account's balance and the
    /// merchant's per-transfer cap (fen).
    pub api_v3_key: Option<String>,
    pub sensitive: Option<Arc<rewardgate_channels::wechat_v3::crypto::SensitiveDecryptor>>,
    pub transfer_balance_fen: i64,
    pub transfer_max_fen: i64,
}

pub struct Coupon {
    pub fingerprint: String,
    pub coupon_id: String,
}

pub struct AliActivity {
    pub amount: i64,
    pub remaining: i64,
    pub max_per_user: i64,
    pub per_user: HashMap<String, i64>,
}

pub struct AliAccount {
    pub insufficient_permissions: bool,
    pub app_public_key: RsaPublicKey,
    pub alipay_private_key: Arc<RsaPrivateKey>,
    pub activities: HashMap<String, AliActivity>,
}

pub struct Voucher {
    pub fingerprint: String,
    pub voucher_id: String,
    pub user_id: String,
}

pub struct World {
    pub clock_offset_ms: i64,
    pub faults: Faults,
    pub v2: HashMap<String, V2Account>,
    pub redpacks: HashMap<String, Redpack>,
    pub transfers: HashMap<(String, String), Transfer>,
    /// Red packets a user received on a Shanghai day, and their amount: (mch_id, openid, yyyymmdd).
    pub daily: HashMap<(String, String, String), (i64, i64)>,
    /// What a merchant sent in red packets on a Shanghai day: (mch_id, yyyymmdd) → fen.
    pub daily_sent: HashMap<(String, String), i64>,
    pub v3: HashMap<String, V3Account>,
    pub coupons: HashMap<(String, String), Coupon>,
    pub alipay: HashMap<String, AliAccount>,
    /// By (app_id, template_id, out_biz_no).
    pub vouchers: HashMap<(String, String, String), Voucher>,
    pub effects: Vec<Effect>,
    /// Refusals by error code (for benchmarks and operators).
    pub refusals: HashMap<String, u64>,
    pub seq: u64,
    /// 商家转账 bills by (mch_id, out_bill_no), and the notifications waiting to be sent.
    pub transfer_bills: HashMap<(String, String), crate::transfer_bills::Bill>,
    pub outbox: Vec<crate::transfer_bills::notify::Outgoing>,
}

/// Red packets not opened within this are refunded (sandbox clock).
pub const REFUND_AFTER_MS: i64 = 24 * 3600 * 1000;

impl Default for World {
    fn default() -> World {
        World {
            clock_offset_ms: 0,
            faults: Faults::none(),
            v2: HashMap::new(),
            redpacks: HashMap::new(),
            transfers: HashMap::new(),
            daily: HashMap::new(),
            daily_sent: HashMap::new(),
            v3: HashMap::new(),
            coupons: HashMap::new(),
            alipay: HashMap::new(),
            vouchers: HashMap::new(),
            effects: Vec::new(),
            refusals: HashMap::new(),
            seq: 0,
            transfer_bills: HashMap::new(),
            outbox: Vec::new(),
        }
    }
}

impl World {
    pub fn now(&self) -> i64 {
        rewardgate_core::clock::now_ms() + self.clock_offset_ms
    }

    pub fn next_id(&mut self, prefix: &str) -> String {
        self.seq += 1;
        format!(
            "{prefix}{}{:010}",
            rewardgate_core::clock::shanghai_ymd(self.now()),
            self.seq
        )
    }

    pub fn refused(&mut self, code: &str) {
        *self.refusals.entry(code.to_string()).or_insert(0) += 1;
    }

    pub fn record(&mut self, channel: &'static str, key: &str, amount_fen: i64, user: &str) {
        let at = self.now();
        self.effects.push(Effect {
            channel,
            key: key.to_string(),
            amount_fen,
            user: user.to_string(),
            at,
        });
    }

    /// Moves time-driven states on: SENDING → SENT and PROCESSING → SUCCESS when their time
    /// has come; unopened red packets past 24 hours to RFUND_ING (退款中), and past the refund's
    /// own time to REFUND, crediting the merchant back.
    pub fn settle_refunds(&mut self) {
        let now = self.now();
        let refunding = self.faults.refunding_seconds as i64 * 1000;
        let mut back: Vec<(String, i64)> = Vec::new();
        for t in self.transfers.values_mut().filter(|t| !t.pinned) {
            if t.status == TransferStatus::Processing && now >= t.ready_at {
                t.status = TransferStatus::Success;
            }
        }
        for r in self.redpacks.values_mut().filter(|r| !r.pinned) {
            if r.status == RedpackStatus::Sending && now >= r.ready_at {
                r.status = RedpackStatus::Sent;
            }
            if r.status == RedpackStatus::Sent && now >= r.sent_at + REFUND_AFTER_MS {
                r.status = RedpackStatus::Refunding;
            }
            if r.status == RedpackStatus::Refunding
                && now >= r.sent_at + REFUND_AFTER_MS + refunding
            {
                r.status = RedpackStatus::Refund;
                r.refund_time = Some(r.sent_at + REFUND_AFTER_MS + refunding);
                back.push((r.mch_id.clone(), r.amount));
            }
        }
        for (mch, amount) in back {
            if let Some(a) = self.v2.get_mut(&mch) {
                a.balance_fen += amount;
            }
        }
        self.settle_transfer_bills();
    }
}

/// What the injected faults make of one request: still processing (granted, answer says so),
/// a SYSTEMERROR or a timeout (either may or may not have granted, as upstream), else a plain
/// grant.
#[derive(Clone, Copy, Debug)]
pub struct Roll {
    pub processing: bool,
    pub system_error: bool,
    pub timeout: bool,
    pub grants: bool,
}

impl Faults {
    /// Rolls the faults for one request; `can_process`: the upstream has a PROCESSING state.
    pub fn roll(&self, can_process: bool) -> Roll {
        let processing = can_process && roll() < self.processing;
        let system_error = !processing && roll() < self.system_error;
        let timeout = !processing && !system_error && roll() < self.timeout;
        Roll {
            processing,
            system_error,
            timeout,
            grants: processing || !(system_error || timeout) || roll() < 0.5,
        }
    }
}

/// A uniformly random number in [0, 1) for fault decisions.
pub fn roll() -> f64 {
    use aws_lc_rs::rand::{SecureRandom, SystemRandom};
    let mut b = [0u8; 8];
    SystemRandom::new()
        .fill(&mut b)
        .expect("the system RNG works");
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}
