//! Channel accounts: the operator's credentials for one upstream (SPEC §8).

use super::*;
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChannelKind {
    #[serde(rename = "WECHAT_V2")]
    WechatV2,
    #[serde(rename = "WECHAT_V3")]
    WechatV3,
    Alipay,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelAccount {
    pub id: String,
    pub kind: ChannelKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mch_id: Option<String>,
    pub app_id: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "expose"
    )]
    pub api_key: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_pem: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "expose"
    )]
    pub key_pem: Option<Secret>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "expose"
    )]
    pub private_key_pem: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_serial_no: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "expose"
    )]
    pub api_v3_key: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_public_key_pem: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_serial_no: Option<String>,
    /// More verifiers of WeChat Pay v3 answers, by serial: platform certificates rotate, and a
    /// merchant moving to the WeChat Pay public key has both for a while.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub platform_keys: Vec<PlatformKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alipay_public_key_pem: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Upstream sends a minute this account may make (WECHAT_V2 default 1800); `None`: unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_per_minute: Option<i64>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PlatformKey {
    pub serial_no: String,
    pub public_key_pem: String,
}

impl ChannelAccount {
    /// Every (serial, public key PEM) that may sign a WeChat Pay v3 answer of this account.
    pub fn platform_keys(&self) -> Vec<(&str, &str)> {
        let mut v = Vec::new();
        if let (Some(s), Some(p)) = (&self.platform_serial_no, &self.platform_public_key_pem) {
            v.push((s.as_str(), p.as_str()));
        }
        for k in &self.platform_keys {
            v.push((k.serial_no.as_str(), k.public_key_pem.as_str()));
        }
        v
    }
}

impl ChannelAccount {
    pub fn from_admin(id: &str, o: &JsonObject<'_>) -> Result<ChannelAccount, ApiError> {
        id_ok("id", id)?;
        let kind = match o.req_str("kind")?.as_str() {
            "WECHAT_V2" => ChannelKind::WechatV2,
            "WECHAT_V3" => ChannelKind::WechatV3,
            "ALIPAY" => ChannelKind::Alipay,
            _ => {
                return Err(ApiError::field(
                    "kind",
                    "must be WECHAT_V2, WECHAT_V3 or ALIPAY",
                ));
            }
        };
        let mut a = ChannelAccount {
            id: id.to_string(),
            kind,
            mch_id: None,
            app_id: o.req_str("appId")?,
            api_key: None,
            sign_type: None,
            cert_pem: None,
            key_pem: None,
            private_key_pem: None,
            cert_serial_no: None,
            api_v3_key: None,
            platform_public_key_pem: None,
            platform_serial_no: None,
            platform_keys: Vec::new(),
            alipay_public_key_pem: None,
            base_url: opt_url(o, "baseUrl")?,
            rate_per_minute: o.opt_i64("ratePerMinute")?,
        };
        max_len("appId", &a.app_id, 32)?;
        if a.rate_per_minute.is_some_and(|r| r <= 0) {
            return Err(ApiError::field(
                "ratePerMinute",
                "must be a positive integer",
            ));
        }
        match kind {
            ChannelKind::WechatV2 => {
                a.mch_id = Some(mch_id(o)?);
                let key = o.req_str("apiKey")?;
                if key.len() != 32 {
                    return Err(ApiError::field(
                        "apiKey",
                        "must be the 32-character WeChat Pay API key",
                    ));
                }
                a.api_key = Some(Secret::new(key));
                let st = o.opt_str("signType")?.unwrap_or_else(|| "MD5".into());
                if st != "MD5" && st != "HMAC-SHA256" {
                    return Err(ApiError::field("signType", "must be MD5 or HMAC-SHA256"));
                }
                a.sign_type = Some(st);
                a.cert_pem = pem_field(o, "certPem", false)?;
                if let Some(c) = &a.cert_pem
                    && pem_decode(c)
                        .map(|(l, _)| l != "CERTIFICATE")
                        .unwrap_or(true)
                {
                    return Err(ApiError::field("certPem", "must be a PEM certificate"));
                }
                if let Some(k) = pem_field(o, "keyPem", false)? {
                    RsaPrivateKey::from_pem(&k).map_err(|e| ApiError::field("keyPem", e))?;
                    a.key_pem = Some(Secret::new(k));
                }
                if a.cert_pem.is_some() != a.key_pem.is_some() {
                    return Err(ApiError::field(
                        "keyPem",
                        "and certPem must be given together",
                    ));
                }
                a.rate_per_minute = a.rate_per_minute.or(Some(1800));
            }
            ChannelKind::WechatV3 => {
                a.mch_id = Some(mch_id(o)?);
                let k = o.req_str("privateKeyPem")?;
                RsaPrivateKey::from_pem(&k).map_err(|e| ApiError::field("privateKeyPem", e))?;
                a.private_key_pem = Some(Secret::new(k));
                a.cert_serial_no = Some(o.req_str("certSerialNo")?);
                let v3 = o.req_str("apiV3Key")?;
                if v3.len() != 32 {
                    return Err(ApiError::field("apiV3Key", "must be 32 characters"));
                }
                a.api_v3_key = Some(Secret::new(v3));
                let p = o.req_str("platformPublicKeyPem")?;
                RsaPublicKey::from_pem(&p)
                    .map_err(|e| ApiError::field("platformPublicKeyPem", e))?;
                a.platform_public_key_pem = Some(p);
                a.platform_serial_no = Some(o.req_str("platformSerialNo")?);
                let keys = o.opt_object_list("platformKeys")?.unwrap_or_default();
                for (i, k) in keys.iter().enumerate() {
                    let at = format!("platformKeys[{i}]");
                    let serial_no = k.req_str("serialNo").map_err(|e| e.within(&at))?;
                    let pem = k.req_str("publicKeyPem").map_err(|e| e.within(&at))?;
                    RsaPublicKey::from_pem(&pem)
                        .map_err(|e| ApiError::field("publicKeyPem", e).within(&at))?;
                    a.platform_keys.push(PlatformKey {
                        serial_no,
                        public_key_pem: pem,
                    });
                }
            }
            ChannelKind::Alipay => {
                let k = o.req_str("privateKeyPem")?;
                RsaPrivateKey::from_pem(&k).map_err(|e| ApiError::field("privateKeyPem", e))?;
                a.private_key_pem = Some(Secret::new(k));
                let p = o.req_str("alipayPublicKeyPem")?;
                RsaPublicKey::from_pem(&p).map_err(|e| ApiError::field("alipayPublicKeyPem", e))?;
                a.alipay_public_key_pem = Some(p);
            }
        }
        Ok(a)
    }
}

/// `channelAccountId` must name an existing WECHAT_V2 account (red packets, v2 transfers,
/// Rabbitpre; a transfer product may name a WECHAT_V3 account instead, for 商家转账) that signs
/// with MD5: WeChat Pay's red-packet and transfer APIs take MD5 only
/// (weixin-popular #125: "企业付款仅支持默认的 MD5 签名方式"; WxJava leaves `sign_type` out of these
/// requests, EntPayRequest.java:L234-237), so an HMAC-SHA256 account would fail every payout.
pub fn wechat_v2_channel(id: &str, channel: Option<&ChannelAccount>) -> Result<(), ApiError> {
    match channel {
        None => Err(ApiError::not_found(format!(
            "channelAccountId {id} not found"
        ))),
        Some(c) if c.kind != ChannelKind::WechatV2 => Err(ApiError::field(
            "channelAccountId",
            "must be a WECHAT_V2 account",
        )),
        Some(c) if c.sign_type.as_deref() == Some("HMAC-SHA256") => Err(ApiError::field(
            "channelAccountId",
            format_args!(
                "names {id}, which signs with HMAC-SHA256; WeChat Pay's red-packet and transfer APIs sign with MD5 only: set its signType to MD5"
            ),
        )),
        Some(_) => Ok(()),
    }
}

fn mch_id(o: &JsonObject<'_>) -> Result<String, ApiError> {
    let m = o.req_str("mchId")?;
    if !(1..=32).contains(&m.len()) || !m.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::field(
            "mchId",
            "must be the digits of a WeChat Pay merchant id",
        ));
    }
    Ok(m)
}
