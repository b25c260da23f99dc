//! The operator's catalogue (SPEC §8): channel accounts, red-packet templates, coupon products,
//! activities, merchants and businesses. Each is parsed from its admin body with errors that name
//! the field, stored as JSON (secrets included, through `secret::expose`), and shown to operators
//! through `Serialize`, which masks every secret.

use crate::json::JsonObject;
use crate::keys::{RsaPrivateKey, RsaPublicKey, pem_decode};
use crate::secret::{Secret, expose};
use crate::{ApiError, Fen, Status};
use serde::{Deserialize, Serialize};

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

/// The answer form of a stored object: secrets masked.
pub fn view<T: Serialize>(obj: &T) -> serde_json::Value {
    serde_json::to_value(MaskedView(obj)).unwrap_or(serde_json::Value::Null)
}

/// Storage serializes secrets in full (through `expose`); an answer must not, so the view
/// re-masks every field that the storage form exposes.
struct MaskedView<'a, T>(&'a T);

impl<T: Serialize> Serialize for MaskedView<'_, T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut v = serde_json::to_value(self.0).map_err(serde::ser::Error::custom)?;
        if let Some(m) = v.as_object_mut() {
            for k in SECRET_FIELDS {
                if let Some(x) = m.get_mut(*k)
                    && let Some(s) = x.as_str()
                {
                    *x = serde_json::Value::String(Secret::new(s).masked());
                }
            }
        }
        v.serialize(s)
    }
}

/// Every field name that holds a secret, in any catalogue object.
pub const SECRET_FIELDS: &[&str] = &[
    "apiKey",
    "keyPem",
    "privateKeyPem",
    "apiV3Key",
    "md5Key",
    "apiSecretKey",
];

fn id_ok(field: &str, id: &str) -> Result<(), ApiError> {
    let ok = (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ApiError::field(
            field,
            "must be 1-64 characters of A-Z a-z 0-9 _ - .",
        ))
    }
}

/// WeChat Pay v2 counts a field's width in UTF-8 bytes, not characters: a 15-character act_name
/// (37 bytes) is refused with "act_name字段必填,并且少于32个字符" and a 13-character one (31 bytes)
/// passes (JeffreySu/WeiXinMPSDK PR #947).
pub fn max_bytes(field: &str, v: &str, n: usize) -> Result<(), ApiError> {
    if v.len() > n {
        Err(ApiError::field(
            field,
            format_args!(
                "must be at most {n} bytes in UTF-8 (WeChat Pay counts bytes: a Chinese character is 3); it is {}",
                v.len()
            ),
        ))
    } else {
        Ok(())
    }
}

/// WeChat red-packet scenes (WxJava WxPaySendRedpackRequest.java:L125-140: PRODUCT_1 商品促销 …
/// PRODUCT_8 税务刮奖).
pub const SCENE_IDS: [&str; 8] = [
    "PRODUCT_1",
    "PRODUCT_2",
    "PRODUCT_3",
    "PRODUCT_4",
    "PRODUCT_5",
    "PRODUCT_6",
    "PRODUCT_7",
    "PRODUCT_8",
];

fn max_len(field: &str, v: &str, n: usize) -> Result<(), ApiError> {
    if v.chars().count() > n {
        Err(ApiError::field(
            field,
            format_args!("must be at most {n} characters"),
        ))
    } else {
        Ok(())
    }
}

fn opt_url(o: &JsonObject<'_>, field: &str) -> Result<Option<String>, ApiError> {
    match o.opt_str(field)? {
        None => Ok(None),
        Some(u) => normalize_url(&u)
            .map(Some)
            .ok_or_else(|| ApiError::field(field, "must be an http(s) URL")),
    }
}

/// A URL with a scheme, or `https://` put in front of one without (the seeds' `callbackUrl`s),
/// read as the HTTP client will read it (`target::parse`: http(s), a host, no user information).
pub fn normalize_url(u: &str) -> Option<String> {
    crate::target::parse(u).ok()?;
    let u = u.trim();
    Some(if u.contains("://") {
        u.to_string()
    } else {
        format!("https://{u}")
    })
}

fn pem_field(o: &JsonObject<'_>, field: &str, required: bool) -> Result<Option<String>, ApiError> {
    let v = if required {
        Some(o.req_str(field)?)
    } else {
        o.opt_str(field)?
    };
    Ok(v)
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

/// `channelAccountId` must name an existing WECHAT_V2 account (red packets, transfers,
/// Rabbitpre) that signs with MD5: WeChat Pay's red-packet and transfer APIs take MD5 only
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

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Template {
    pub id: String,
    pub channel_account_id: String,
    pub send_name: String,
    pub wishing: String,
    pub act_name: String,
    pub remark: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scene_id: Option<String>,
    pub min_spec: Fen,
    pub max_spec: Fen,
    pub fee_rate_bp: i64,
}

impl<'de> Deserialize<'de> for Fen {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<serde_json::value::RawValue>::deserialize(d)?;
        Fen::parse_yuan(raw.get()).map_err(serde::de::Error::custom)
    }
}

fn fee_bp(o: &JsonObject<'_>) -> Result<i64, ApiError> {
    let bp = o.opt_i64("feeRateBp")?.unwrap_or(0);
    if !(0..=10_000).contains(&bp) {
        return Err(ApiError::field("feeRateBp", "must be 0-10000 basis points"));
    }
    Ok(bp)
}

impl Template {
    /// `channel` is the account named by `channelAccountId`, if it exists.
    pub fn from_admin(
        id: &str,
        o: &JsonObject<'_>,
        channel: Option<&ChannelAccount>,
    ) -> Result<Template, ApiError> {
        id_ok("templateId", id)?;
        let channel_account_id = o.req_str("channelAccountId")?;
        wechat_v2_channel(&channel_account_id, channel)?;
        let t = Template {
            id: id.to_string(),
            channel_account_id,
            send_name: o.req_str("sendName")?,
            wishing: o.req_str("wishing")?,
            act_name: o.req_str("actName")?,
            remark: o.req_str("remark")?,
            scene_id: o.opt_str("sceneId")?,
            min_spec: o.opt_money("minSpec")?.unwrap_or(Fen(100)),
            max_spec: o.opt_money("maxSpec")?.unwrap_or(Fen(20_000)),
            fee_rate_bp: fee_bp(o)?,
        };
        // sendredpack's widths: send_name String(32), wishing String(128), act_name String(32),
        // remark String(256) (seed 002).
        max_bytes("sendName", &t.send_name, 32)?;
        max_bytes("wishing", &t.wishing, 128)?;
        max_bytes("actName", &t.act_name, 32)?;
        max_bytes("remark", &t.remark, 256)?;
        if t.min_spec > t.max_spec {
            return Err(ApiError::field("minSpec", "must not exceed maxSpec"));
        }
        if let Some(scene) = &t.scene_id
            && !SCENE_IDS.contains(&scene.as_str())
        {
            return Err(ApiError::field("sceneId", "must be PRODUCT_1 … PRODUCT_8"));
        }
        // "红包金额大于200或者小于1元时，请求参数scene_id必传" (handsomegyr/wechat Qy/Pay.php:L181);
        // the smallest red packet a merchant can enable is 0.30 yuan (WxJava issue #802).
        if (t.min_spec < Fen(100) || t.max_spec > Fen(20_000)) && t.scene_id.is_none() {
            return Err(ApiError::field(
                "sceneId",
                "is required when minSpec is under 1 yuan or maxSpec over 200 yuan (WeChat requires scene_id for such red packets)",
            ));
        }
        if t.min_spec < Fen(30) {
            return Err(ApiError::field(
                "minSpec",
                "must be at least 0.3 yuan (WeChat's smallest red packet)",
            ));
        }
        if t.max_spec > Fen(499_900) {
            return Err(ApiError::field(
                "maxSpec",
                "must be at most 4999 yuan (WeChat's largest red packet)",
            ));
        }
        Ok(t)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProductKind {
    WechatCoupon,
    AlipayCoupon,
    WechatTransfer,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    pub code: String,
    pub kind: ProductKind,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub face_value: Option<Fen>,
    /// Fixed settlement price (coupons).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<Fen>,
    /// Fee on `spec` (transfers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee_rate_bp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_account_id: Option<String>,
}

impl Product {
    pub fn from_admin(
        code: &str,
        o: &JsonObject<'_>,
        channel: Option<&ChannelAccount>,
    ) -> Result<Product, ApiError> {
        id_ok("productCode", code)?;
        let kind = match o.req_str("kind")?.as_str() {
            "WECHAT_COUPON" => ProductKind::WechatCoupon,
            "ALIPAY_COUPON" => ProductKind::AlipayCoupon,
            "WECHAT_TRANSFER" => ProductKind::WechatTransfer,
            _ => {
                return Err(ApiError::field(
                    "kind",
                    "must be WECHAT_COUPON, ALIPAY_COUPON or WECHAT_TRANSFER",
                ));
            }
        };
        let mut p = Product {
            code: code.to_string(),
            kind,
            name: o.req_str("name")?,
            face_value: o.opt_money("faceValue")?,
            price: None,
            fee_rate_bp: None,
            channel_account_id: None,
        };
        max_len("name", &p.name, 64)?;
        if kind == ProductKind::WechatTransfer {
            p.fee_rate_bp = Some(fee_bp(o)?);
            let ca = o.req_str("channelAccountId")?;
            wechat_v2_channel(&ca, channel)?;
            p.channel_account_id = Some(ca);
        } else {
            p.price = Some(o.req_money("price")?);
        }
        Ok(p)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    pub id: String,
    pub product_code: String,
    pub channel_account_id: String,
    pub upstream_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<i64>,
}

impl Activity {
    pub fn from_admin(
        id: &str,
        o: &JsonObject<'_>,
        product: Option<&Product>,
        channel: Option<&ChannelAccount>,
    ) -> Result<Activity, ApiError> {
        id_ok("activityId", id)?;
        let product_code = o.req_str("productCode")?;
        let channel_account_id = o.req_str("channelAccountId")?;
        let p = product
            .ok_or_else(|| ApiError::not_found(format!("productCode {product_code} not found")))?;
        let c = channel.ok_or_else(|| {
            ApiError::not_found(format!("channelAccountId {channel_account_id} not found"))
        })?;
        let fits = matches!(
            (p.kind, c.kind),
            (ProductKind::WechatCoupon, ChannelKind::WechatV3)
                | (ProductKind::AlipayCoupon, ChannelKind::Alipay)
        );
        if !fits {
            return Err(ApiError::field(
                "channelAccountId",
                "does not deliver this product's kind",
            ));
        }
        let time = |f: &str| -> Result<Option<i64>, ApiError> {
            match o.opt_str(f)? {
                None => Ok(None),
                Some(s) => crate::clock::parse_rfc3339(&s)
                    .map(Some)
                    .ok_or_else(|| ApiError::field(f, "must be an RFC 3339 time")),
            }
        };
        let a = Activity {
            id: id.to_string(),
            product_code,
            channel_account_id,
            upstream_id: o.req_str("upstreamId")?,
            starts_at: time("startsAt")?,
            ends_at: time("endsAt")?,
        };
        if let (Some(s), Some(e)) = (a.starts_at, a.ends_at)
            && s >= e
        {
            return Err(ApiError::field("endsAt", "must be after startsAt"));
        }
        Ok(a)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Merchant {
    pub id: String,
    pub name: String,
}

impl Merchant {
    pub fn from_admin(id: &str, o: &JsonObject<'_>) -> Result<Merchant, ApiError> {
        id_ok("merchantId", id)?;
        let m = Merchant {
            id: id.to_string(),
            name: o.req_str("name")?,
        };
        max_len("name", &m.name, 128)?;
        Ok(m)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Business {
    pub id: String,
    pub merchant_id: String,
    pub name: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "expose"
    )]
    pub md5_key: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rsa_public_key_pem: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_app_id: Option<String>,
    pub credit_line: Fen,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_allowlist: Option<Vec<String>>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Open-API requests a second this business may make (absent: no limit); beyond, 42901.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_second: Option<i64>,
    /// What this business may order (SPEC §8): absent, all; present, only these (else 40401).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_ids: Option<Vec<String>>,
    /// The WeChat appIds its orders may name; absent: only `default_app_id` or the channel
    /// account's (another is 40001).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_ids: Option<Vec<String>>,
}

fn yes() -> bool {
    true
}

/// An optional list of catalogue ids (`templateIds`, `activityIds`, `appIds`).
fn id_list(o: &JsonObject<'_>, field: &str) -> Result<Option<Vec<String>>, ApiError> {
    let Some(list) = o.opt_str_list(field)? else {
        return Ok(None);
    };
    for id in &list {
        id_ok(field, id)?;
    }
    Ok(Some(list))
}

impl Business {
    pub fn from_admin(
        id: &str,
        o: &JsonObject<'_>,
        merchant_exists: bool,
    ) -> Result<Business, ApiError> {
        id_ok("businessId", id)?;
        let merchant_id = o.req_str("merchantId")?;
        if !merchant_exists {
            return Err(ApiError::not_found(format!(
                "merchantId {merchant_id} not found"
            )));
        }
        let md5_key = o.opt_str("md5Key")?;
        if let Some(k) = &md5_key
            && (k.len() < 16 || k.len() > 128)
        {
            return Err(ApiError::field("md5Key", "must be 16-128 characters"));
        }
        let rsa = o.opt_str("rsaPublicKeyPem")?;
        if let Some(p) = &rsa {
            RsaPublicKey::from_pem(p).map_err(|e| ApiError::field("rsaPublicKeyPem", e))?;
        }
        if md5_key.is_none() && rsa.is_none() {
            return Err(ApiError::field("md5Key", "or rsaPublicKeyPem is required"));
        }
        let credit_line = o.opt_nonneg_money("creditLine")?.unwrap_or(Fen::ZERO);
        let ip_allowlist = match o.opt_str_list("ipAllowlist")? {
            None => None,
            Some(list) => {
                for ip in &list {
                    parse_ip_rule(ip).ok_or_else(|| {
                        ApiError::field(
                            "ipAllowlist",
                            format_args!("has an entry that is not an IP or CIDR: {ip}"),
                        )
                    })?;
                }
                Some(list)
            }
        };
        let b = Business {
            id: id.to_string(),
            merchant_id,
            name: o.req_str("name")?,
            md5_key: md5_key.map(Secret::new),
            rsa_public_key_pem: rsa,
            callback_url: opt_url(o, "callbackUrl")?,
            default_app_id: o.opt_str("defaultAppId")?,
            credit_line,
            ip_allowlist,
            enabled: o.opt_bool("enabled")?.unwrap_or(true),
            requests_per_second: o.opt_i64("requestsPerSecond")?,
            template_ids: id_list(o, "templateIds")?,
            activity_ids: id_list(o, "activityIds")?,
            app_ids: id_list(o, "appIds")?,
        };
        if b.requests_per_second
            .is_some_and(|r| !(1..=1_000_000).contains(&r))
        {
            return Err(ApiError::field("requestsPerSecond", "must be 1-1000000"));
        }
        max_len("name", &b.name, 128)?;
        Ok(b)
    }

    /// Whether this business may order from template `id` (no list: any).
    pub fn allows_template(&self, id: &str) -> bool {
        self.template_ids
            .as_ref()
            .is_none_or(|l| l.iter().any(|t| t == id))
    }

    /// Whether this business may order from activity `id` (no list: any).
    pub fn allows_activity(&self, id: &str) -> bool {
        self.activity_ids
            .as_ref()
            .is_none_or(|l| l.iter().any(|a| a == id))
    }

    /// The WeChat appId an order goes out with: the one it names, if this business may name it,
    /// else the business's default, else the channel account's.
    pub fn app_id_for(
        &self,
        named: Option<&str>,
        channel_app_id: &str,
    ) -> Result<String, ApiError> {
        let fallback = || {
            self.default_app_id
                .clone()
                .unwrap_or_else(|| channel_app_id.to_string())
        };
        let Some(a) = named else {
            return Ok(fallback());
        };
        let allowed = match &self.app_ids {
            Some(list) => list.iter().any(|x| x == a),
            None => a == fallback() || a == channel_app_id,
        };
        if allowed {
            Ok(a.to_string())
        } else {
            Err(ApiError::field(
                "appId",
                format_args!("{a} is not an appId this business may use"),
            ))
        }
    }

    /// Whether `ip` may call for this business (no list: any).
    pub fn ip_allowed(&self, ip: std::net::IpAddr) -> bool {
        let ip = match ip {
            std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map(std::net::IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match &self.ip_allowlist {
            None => true,
            Some(list) => list
                .iter()
                .filter_map(|r| parse_ip_rule(r))
                .any(|net| net.contains(&ip)),
        }
    }
}

fn parse_ip_rule(s: &str) -> Option<ipnet::IpNet> {
    let s = s.trim();
    s.parse::<ipnet::IpNet>()
        .ok()
        .or_else(|| s.parse::<std::net::IpAddr>().ok().map(ipnet::IpNet::from))
}

/// A top-up (SPEC §8): `amount` in yuan and an idempotency `reference`.
pub struct Topup {
    pub amount: Fen,
    pub reference: String,
}

impl Topup {
    pub fn from_admin(o: &JsonObject<'_>) -> Result<Topup, ApiError> {
        let t = Topup {
            amount: o.req_money("amount")?,
            reference: o.req_str("reference")?,
        };
        max_len("reference", &t.reference, 128)?;
        Ok(t)
    }
}

/// The error for an object that exists but cannot be used by this caller.
pub fn not_enabled(what: &str, id: &str) -> ApiError {
    ApiError::new(
        Status::NotFound,
        format!("{what} {id} not found or not enabled for this business"),
    )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OpenidMapping {
    /// Rabbitpre's `openid` is the WeChat openid.
    Direct,
    /// Looked up in the integration's mapping table (filled through the admin API or a CSV import).
    Mapped,
}

/// A Rabbitpre (兔展) integration (SPEC §6): who may call `/pay/sendApiRedPack`, which business
/// pays, which channel account sends.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RabbitpreIntegration {
    pub id: String,
    #[serde(serialize_with = "expose_required")]
    pub api_secret_key: Secret,
    pub business_id: String,
    pub channel_account_id: String,
    pub openid_mapping: OpenidMapping,
    /// Fee and default texts come from this template when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_id: Option<String>,
    pub send_name: String,
    pub wishing: String,
}

fn expose_required<S: serde::Serializer>(v: &Secret, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v.expose())
}

impl RabbitpreIntegration {
    pub fn from_admin(
        id: &str,
        o: &JsonObject<'_>,
        business: Option<&Business>,
        channel: Option<&ChannelAccount>,
        template: Option<&Template>,
    ) -> Result<RabbitpreIntegration, ApiError> {
        id_ok("id", id)?;
        let secret = o.req_str("apiSecretKey")?;
        if secret.len() < 16 {
            return Err(ApiError::field(
                "apiSecretKey",
                "must be at least 16 characters",
            ));
        }
        let business_id = o.req_str("businessId")?;
        business
            .ok_or_else(|| ApiError::not_found(format!("businessId {business_id} not found")))?;
        let channel_account_id = o.req_str("channelAccountId")?;
        wechat_v2_channel(&channel_account_id, channel)?;
        let openid_mapping = match o.opt_str("openidMapping")?.as_deref().unwrap_or("DIRECT") {
            "DIRECT" => OpenidMapping::Direct,
            "MAPPED" => OpenidMapping::Mapped,
            _ => return Err(ApiError::field("openidMapping", "must be DIRECT or MAPPED")),
        };
        let template_id = o.opt_str("templateId")?;
        if let Some(t) = &template_id
            && template.is_none()
        {
            return Err(ApiError::not_found(format!("templateId {t} not found")));
        }
        let i = RabbitpreIntegration {
            id: id.to_string(),
            api_secret_key: Secret::new(secret),
            business_id,
            channel_account_id,
            openid_mapping,
            send_name: o
                .opt_str("sendName")?
                .or_else(|| template.map(|t| t.send_name.clone()))
                .unwrap_or_else(|| "红包".into()),
            wishing: o
                .opt_str("wishing")?
                .or_else(|| template.map(|t| t.wishing.clone()))
                .unwrap_or_else(|| "恭喜发财".into()),
            template_id,
        };
        max_len("sendName", &i.send_name, 32)?;
        max_len("wishing", &i.wishing, 128)?;
        Ok(i)
    }
}
