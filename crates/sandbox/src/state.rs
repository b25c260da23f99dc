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
    /// Sandbox times of red packets sent, for the per-minute limit.
    pub recent_sends: std::collections::VecDeque<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RedpackStatus {
    Sent,
    Received,
    Refund,
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
}

pub struct Transfer {
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
    pub app_public_key: RsaPublicKey,
    pub alipay_private_key: Arc<RsaPrivateKey>,
    pub activities: HashMap<String, AliActivity>,
}

pub struct Voucher {
    pub fingerprint: String,
    pub voucher_id: String,
    pub user_id: String,
}

#[derive(Default)]
pub struct World {
    pub clock_offset_ms: i64,
    pub faults: Faults,
    pub v2: HashMap<String, V2Account>,
    pub redpacks: HashMap<String, Redpack>,
    pub transfers: HashMap<(String, String), Transfer>,
    /// Red packets a user received on a Shanghai day: (mch_id, openid, yyyymmdd).
    pub daily: HashMap<(String, String, String), i64>,
    pub v3: HashMap<String, V3Account>,
    pub coupons: HashMap<(String, String), Coupon>,
    pub alipay: HashMap<String, AliAccount>,
    pub vouchers: HashMap<(String, String), Voucher>,
    pub effects: Vec<Effect>,
    /// Refusals by error code (for benchmarks and operators).
    pub refusals: HashMap<String, u64>,
    pub seq: u64,
}

/// Red packets not opened within this are refunded (sandbox clock).
pub const REFUND_AFTER_MS: i64 = 24 * 3600 * 1000;

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

    /// Moves unopened red packets past 24 hours to REFUND, crediting the merchant back.
    pub fn settle_refunds(&mut self) {
        let now = self.now();
        let mut back: Vec<(String, i64)> = Vec::new();
        for r in self.redpacks.values_mut() {
            if r.status == RedpackStatus::Sent && now >= r.sent_at + REFUND_AFTER_MS {
                r.status = RedpackStatus::Refund;
                r.refund_time = Some(r.sent_at + REFUND_AFTER_MS);
                back.push((r.mch_id.clone(), r.amount));
            }
        }
        for (mch, amount) in back {
            if let Some(a) = self.v2.get_mut(&mch) {
                a.balance_fen += amount;
            }
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
