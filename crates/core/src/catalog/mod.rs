//! The operator's catalogue (SPEC §8): channel accounts, red-packet templates, coupon products,
//! activities, merchants and businesses. Each is parsed from its admin body with errors that name
//! the field, stored as JSON (secrets included, through `secret::expose`), and shown to operators
//! through `Serialize`, which masks every secret. One file per kind of object; this one holds
//! what they share: the `CatalogObject` trait, the masked view and the field rules.

mod business;
mod channel;
mod product;
mod rabbitpre;
mod template;

pub use business::{Business, Merchant, Topup};
pub use channel::{ChannelAccount, ChannelKind, PlatformKey, wechat_v2_channel};
pub use product::{Activity, Product, ProductKind};
pub use rabbitpre::{OpenidMapping, RabbitpreIntegration};
pub use template::Template;

use crate::json::JsonObject;
use crate::keys::{RsaPrivateKey, RsaPublicKey, pem_decode};
use crate::secret::{Secret, expose};
use crate::{ApiError, Fen, Status};
use serde::{Deserialize, Serialize};

/// A kind of catalogue object: stored as its JSON under its kind's name, found by its id.
pub trait CatalogObject:
    Serialize + serde::de::DeserializeOwned + Clone + Send + Sync + 'static
{
    const KIND: &'static str;
    fn id(&self) -> &str;
}

macro_rules! catalog_object {
    ($t:ty, $kind:literal, $id:ident) => {
        impl CatalogObject for $t {
            const KIND: &'static str = $kind;
            fn id(&self) -> &str {
                &self.$id
            }
        }
    };
}

catalog_object!(ChannelAccount, "channel_account", id);
catalog_object!(Template, "template", id);
catalog_object!(Product, "product", code);
catalog_object!(Activity, "activity", id);
catalog_object!(Merchant, "merchant", id);
catalog_object!(Business, "business", id);
catalog_object!(RabbitpreIntegration, "rabbitpre_integration", id);

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

pub(crate) fn id_ok(field: &str, id: &str) -> Result<(), ApiError> {
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

pub(crate) fn max_len(field: &str, v: &str, n: usize) -> Result<(), ApiError> {
    if v.chars().count() > n {
        Err(ApiError::field(
            field,
            format_args!("must be at most {n} characters"),
        ))
    } else {
        Ok(())
    }
}

pub(crate) fn opt_url(o: &JsonObject<'_>, field: &str) -> Result<Option<String>, ApiError> {
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

pub(crate) fn pem_field(
    o: &JsonObject<'_>,
    field: &str,
    required: bool,
) -> Result<Option<String>, ApiError> {
    let v = if required {
        Some(o.req_str(field)?)
    } else {
        o.opt_str(field)?
    };
    Ok(v)
}

/// The error for an object that exists but cannot be used by this caller.
pub fn not_enabled(what: &str, id: &str) -> ApiError {
    ApiError::new(
        Status::NotFound,
        format!("{what} {id} not found or not enabled for this business"),
    )
}
