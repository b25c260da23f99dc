//! Red-packet templates: texts, scene, amount limits and fee of a WeChat cash red packet.

use super::*;
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

pub(crate) fn fee_bp(o: &JsonObject<'_>) -> Result<i64, ApiError> {
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
