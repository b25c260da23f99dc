//! What a create request must be, as the upstream states it (the sources are in
//! `rewardgate_channels::wechat_v3::transfer_bills`): the refusal to answer, or the request
//! parsed with its parameter fingerprint.

use crate::state::V3Account;
use axum::http::StatusCode;
use rewardgate_channels::wechat_v3::transfer_bills::{
    MIN_FEN, SCENE_1000_INFO_TYPES, SCENE_1000_PERCEPTIONS, SCENE_CASH_MARKETING,
    USER_NAME_FROM_FEN, valid_notify_url, valid_out_bill_no,
};
use serde_json::Value;

/// A refusal: status, code, message.
pub type Refusal = (StatusCode, &'static str, String);

fn param(msg: impl Into<String>) -> Refusal {
    (StatusCode::BAD_REQUEST, "PARAM_ERROR", msg.into())
}

fn invalid(msg: impl Into<String>) -> Refusal {
    (StatusCode::BAD_REQUEST, "INVALID_REQUEST", msg.into())
}

#[derive(Debug)]
pub struct Create {
    pub appid: String,
    pub out_bill_no: String,
    pub openid: String,
    pub amount: i64,
    pub remark: String,
    pub notify_url: Option<String>,
    pub user_name: Option<String>,
    /// Every parameter but the number: a resend must match it.
    pub fingerprint: String,
}

/// Parses and checks one create body. `serial`: the request's `Wechatpay-Serial`.
pub fn parse(v: &Value, serial: &str, acct: &V3Account) -> Result<Create, Refusal> {
    let s = |f: &str| v[f].as_str().filter(|x| !x.is_empty()).map(str::to_string);
    let (Some(appid), Some(out_bill_no), Some(scene), Some(openid), Some(remark)) = (
        s("appid"),
        s("out_bill_no"),
        s("transfer_scene_id"),
        s("openid"),
        s("transfer_remark"),
    ) else {
        return Err(param(
            "appid、out_bill_no、transfer_scene_id、openid、transfer_remark必填",
        ));
    };
    if !valid_out_bill_no(&out_bill_no) {
        return Err(param("out_bill_no只能由数字、大小写字母组成，最长32位"));
    }
    let Some(amount) = v["transfer_amount"].as_i64() else {
        return Err(param("transfer_amount必须为整数，单位为分"));
    };
    if remark.chars().count() > 32 {
        return Err(param("transfer_remark最多允许32个字符"));
    }
    if scene != SCENE_CASH_MARKETING {
        return Err(invalid("商户未开通该转账场景"));
    }
    // "需传入转账场景报备信息,请检查" (community thread, see the channels policy): both types,
    // each with content, nothing else.
    let infos: Vec<(String, String)> = v["transfer_scene_report_infos"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|i| {
                    let f = |k: &str| i[k].as_str().unwrap_or("").to_string();
                    (f("info_type"), f("info_content"))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut types: Vec<&str> = infos.iter().map(|(t, _)| t.as_str()).collect();
    types.sort();
    let mut wanted = SCENE_1000_INFO_TYPES.to_vec();
    wanted.sort();
    if types != wanted || infos.iter().any(|(_, c)| c.is_empty()) {
        return Err(param("需传入转账场景报备信息,请检查"));
    }
    let perception = s("user_recv_perception");
    if perception
        .as_deref()
        .is_some_and(|p| !SCENE_1000_PERCEPTIONS.contains(&p))
    {
        return Err(invalid("暂不支持展示当前传入的用户收款感知"));
    }
    let notify_url = s("notify_url");
    if notify_url.as_deref().is_some_and(|u| !valid_notify_url(u)) {
        return Err(param("notify_url必须为HTTPS且不能携带参数"));
    }
    // The user's limits: at least 0.1 yuan; at most the merchant's per-transfer cap.
    if amount < MIN_FEN || amount > acct.transfer_max_fen {
        return Err(invalid("超过单笔转账上下限"));
    }
    let user_name = match s("user_name") {
        None if amount >= USER_NAME_FROM_FEN => {
            return Err(param("转账金额>=2000元时，收款用户姓名必填"));
        }
        None => None,
        Some(c) => {
            if serial != acct.platform_serial_no {
                return Err(param("Wechatpay-Serial与加密敏感信息所用的公钥不匹配"));
            }
            let d = acct.sensitive.as_ref().ok_or_else(|| param("无法解密"))?;
            Some(
                d.decrypt(&c)
                    .map_err(|_| param("user_name解密失败，请检查加密方式"))?,
            )
        }
    };
    let mut sorted_infos = infos.clone();
    sorted_infos.sort();
    let fingerprint = format!(
        "{appid}|{scene}|{openid}|{amount}|{remark}|{notify_url:?}|{perception:?}|{sorted_infos:?}|{user_name:?}"
    );
    Ok(Create {
        appid,
        out_bill_no,
        openid,
        amount,
        remark,
        notify_url,
        user_name,
        fingerprint,
    })
}
