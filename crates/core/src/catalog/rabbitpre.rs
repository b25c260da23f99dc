//! Rabbitpre (兔展) integrations (SPEC §6).

use super::*;
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
        max_bytes("sendName", &i.send_name, 32)?;
        max_bytes("wishing", &i.wishing, 128)?;
        Ok(i)
    }
}
