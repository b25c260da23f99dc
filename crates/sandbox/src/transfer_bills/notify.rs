//! Notifications as WeChat Pay sends them: `POST` to the bill's notify_url, the body's
//! `resource` sealed with AEAD_AES_256_GCM under the merchant's APIv3 key and the whole signed
//! with the platform key (`Wechatpay-Timestamp`, `-Nonce`, `-Signature`, `-Serial`), repeated
//! until answered 2xx ("同样的通知可能会多次发送给商户系统", 商家转账回调通知), and sometimes
//! delivered twice (`notifyDuplicate`). The sandbox refuses nothing itself.

use crate::Shared;
use rewardgate_channels::wechat_v3::response_message;
use rewardgate_channels::wechat_v3::transfer_bills::notify::seal_notification;
use serde_json::Value;
use std::time::Duration;

pub struct Outgoing {
    pub key: super::life::Key,
    pub url: String,
    pub id: String,
    pub create_time: String,
    pub resource: Value,
    pub api_v3_key: String,
    pub platform: crate::wechat_v3::PlatformKey,
    pub duplicate: bool,
}

/// Waits between attempts (seconds): short, for tests; WeChat's own run 15 s to hours.
const RETRY_AFTER: [u64; 6] = [1, 2, 4, 8, 15, 30];

/// Sends what the last state changes queued.
pub fn flush(s: &Shared) {
    let out = s.with(|st| std::mem::take(&mut st.outbox));
    for o in out {
        tokio::spawn(deliver(s.clone(), o));
    }
}

async fn deliver(s: Shared, o: Outgoing) {
    let nonce = rewardgate_channels::nonce(12);
    let body = match seal_notification(
        &o.id,
        &o.create_time,
        &o.resource,
        o.api_v3_key.as_bytes(),
        &nonce,
    ) {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "transfer-bill notification not sealed");
            return;
        }
    };
    let Ok(http) = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .build()
    else {
        return;
    };
    let mut times = if o.duplicate { 2 } else { 1 };
    for wait in std::iter::once(0).chain(RETRY_AFTER) {
        tokio::time::sleep(Duration::from_secs(wait)).await;
        let ts = (rewardgate_core::clock::now_ms() / 1000).to_string();
        let n = rewardgate_channels::nonce(32);
        let sig = o
            .platform
            .0
            .sign_b64(response_message(&ts, &n, &body).as_bytes());
        let sent = http
            .post(&o.url)
            .header("Content-Type", "application/json")
            .header("Wechatpay-Timestamp", ts)
            .header("Wechatpay-Nonce", n)
            .header("Wechatpay-Signature", sig)
            .header("Wechatpay-Serial", &o.platform.1)
            .header("Wechatpay-Signature-Type", "WECHATPAY2-SHA256-RSA2048")
            .body(body.clone())
            .send()
            .await;
        s.with(|st| {
            if let Some(b) = st.transfer_bills.get_mut(&o.key) {
                b.notifications_sent += 1;
            }
        });
        if sent.is_ok_and(|r| r.status().is_success()) {
            times -= 1;
            if times == 0 {
                return;
            }
        }
    }
}
