//! Signatures made after the world's lock is let go. The handlers decide an answer under the
//! sandbox's one lock; an RSA signature takes ~0.7 ms on a 2-core machine without AVX-512, and
//! made under that (blocking) lock it put every signed answer in one line and held a runtime
//! worker waiting meanwhile (`bench-delivery`, the same hour: 596–640 coupons granted a second
//! before, 707–797 after; a profile of the grants before showed 0.6 of 2 cores busy).
//! An answer to sign carries what its signature needs; `sign` (a layer on every route) signs it
//! on its way out.

use axum::body::Body;
use axum::http::header;
use axum::response::Response;
use rewardgate_channels::{alipay as ali, wechat_v3 as v3};
use rewardgate_core::keys::RsaPrivateKey;

/// What an answer's signature is over, and with which key.
#[derive(Clone)]
pub(crate) enum SignLater {
    /// WeChat Pay v3: the `Wechatpay-*` headers over the body as sent.
    WechatV3 {
        key: RsaPrivateKey,
        serial: String,
        body: String,
    },
    /// Alipay: the body is the response node and its `sign`, made here.
    Alipay {
        key: RsaPrivateKey,
        method: String,
        node: String,
    },
}

impl SignLater {
    /// Marks `r` to be signed on its way out.
    pub(crate) fn attach(self, mut r: Response) -> Response {
        r.extensions_mut().insert(self);
        r
    }
}

/// Signs an answer that asks for it (`SignLater`); any other passes as it is.
pub(crate) async fn sign(mut r: Response) -> Response {
    let Some(later) = r.extensions_mut().remove::<SignLater>() else {
        return r;
    };
    match later {
        SignLater::WechatV3 { key, serial, body } => {
            let ts = (rewardgate_core::clock::now_ms() / 1000).to_string();
            let nonce = rewardgate_channels::nonce(32);
            let sig = key.sign_b64(v3::response_message(&ts, &nonce, &body).as_bytes());
            let h = r.headers_mut();
            for (n, v) in [
                ("Wechatpay-Signature", sig),
                ("Wechatpay-Timestamp", ts),
                ("Wechatpay-Nonce", nonce),
                ("Wechatpay-Serial", serial),
                ("Wechatpay-Signature-Type", v3::SCHEMA.to_string()),
            ] {
                h.insert(n, v.parse().expect("header value"));
            }
        }
        SignLater::Alipay { key, method, node } => {
            let body = ali::response_body(&method, &node, &key);
            r.headers_mut().remove(header::CONTENT_LENGTH);
            *r.body_mut() = Body::from(body);
        }
    }
    r
}
