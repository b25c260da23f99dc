//! One client per channel account, built from its configuration and rebuilt when it changes.

use rewardgate_channels::{alipay, wechat_v2, wechat_v3};
use rewardgate_core::catalog::{ChannelAccount, ChannelKind};
use rewardgate_core::keys::{RsaPrivateKey, RsaPublicKey};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub enum ChannelClient {
    WechatV2(wechat_v2::client::Client),
    WechatV3(wechat_v3::client::Client),
    Alipay(alipay::client::Client),
}

/// The clients of every channel account this process has used, shared by the dispatcher, the
/// notification endpoint and the admin API's cancel.
#[derive(Default)]
pub struct Clients {
    built: Mutex<HashMap<String, (String, Arc<ChannelClient>)>>,
    /// Extra roots to trust for upstream TLS (the sandbox's certificate).
    extra_roots: Option<String>,
}

impl Clients {
    pub fn new(extra_roots: Option<String>) -> Clients {
        Clients {
            built: Mutex::default(),
            extra_roots,
        }
    }

    /// The account's client, built again when its configuration changed.
    pub fn get(&self, a: &ChannelAccount) -> Result<Arc<ChannelClient>, String> {
        let extra_roots = self.extra_roots.as_deref();
        let version = serde_json::to_string(a).unwrap_or_default();
        if let Some((v, c)) = self.built.lock().expect("clients lock").get(&a.id)
            && *v == version
        {
            return Ok(c.clone());
        }
        let c = Arc::new(build(a, extra_roots)?);
        self.built
            .lock()
            .expect("clients lock")
            .insert(a.id.clone(), (version, c.clone()));
        Ok(c)
    }
}

fn build(a: &ChannelAccount, extra_roots: Option<&str>) -> Result<ChannelClient, String> {
    let secret = |s: &Option<rewardgate_core::secret::Secret>, f: &str| {
        s.as_ref()
            .map(|x| x.expose().to_string())
            .ok_or_else(|| format!("channel account {} has no {f}", a.id))
    };
    let roots = extra_roots.map(str::to_string);
    Ok(match a.kind {
        ChannelKind::WechatV2 => {
            ChannelClient::WechatV2(wechat_v2::client::Client::new(wechat_v2::client::Config {
                base_url: a
                    .base_url
                    .clone()
                    .unwrap_or_else(|| wechat_v2::DEFAULT_BASE_URL.into()),
                mch_id: a.mch_id.clone().unwrap_or_default(),
                api_key: secret(&a.api_key, "apiKey")?,
                cert_pem: a.cert_pem.clone(),
                key_pem: a.key_pem.as_ref().map(|k| k.expose().to_string()),
                extra_roots_pem: roots,
            })?)
        }
        ChannelKind::WechatV3 => {
            ChannelClient::WechatV3(wechat_v3::client::Client::new(wechat_v3::client::Config {
                base_url: a
                    .base_url
                    .clone()
                    .unwrap_or_else(|| wechat_v3::DEFAULT_BASE_URL.into()),
                mch_id: a.mch_id.clone().unwrap_or_default(),
                app_id: a.app_id.clone(),
                private_key: RsaPrivateKey::from_pem(&secret(&a.private_key_pem, "privateKeyPem")?)
                    .map_err(|e| e.to_string())?,
                cert_serial_no: a.cert_serial_no.clone().unwrap_or_default(),
                platform_keys: a
                    .platform_keys()
                    .into_iter()
                    .map(|(serial, pem)| {
                        RsaPublicKey::from_pem(pem)
                            .map(|k| (serial.to_string(), k))
                            .map_err(|e| format!("platform key {serial}: {e}"))
                    })
                    .collect::<Result<_, _>>()?,
                extra_roots_pem: roots,
            })?)
        }
        ChannelKind::Alipay => {
            ChannelClient::Alipay(alipay::client::Client::new(alipay::client::Config {
                // `baseUrl` may name the gateway itself or only its host.
                gateway: match &a.base_url {
                    None => alipay::DEFAULT_GATEWAY.into(),
                    Some(u) if u.ends_with("gateway.do") => u.clone(),
                    Some(u) => format!("{}/gateway.do", u.trim_end_matches('/')),
                },
                app_id: a.app_id.clone(),
                private_key: RsaPrivateKey::from_pem(&secret(&a.private_key_pem, "privateKeyPem")?)
                    .map_err(|e| e.to_string())?,
                alipay_public_key: RsaPublicKey::from_pem(
                    a.alipay_public_key_pem.as_deref().unwrap_or(""),
                )
                .map_err(|e| e.to_string())?,
                extra_roots_pem: roots,
            })?)
        }
    })
}
