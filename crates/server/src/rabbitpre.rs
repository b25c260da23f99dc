//! Rabbitpre (兔展) red packets (SPEC §6, seed 003): `POST /pay/sendApiRedPack`, answered
//! synchronously in the seed's fields. The integration is found by its `apiSecretKey` (compared
//! in constant time), `mchId` / `wxAppId` must be its channel account's, `openid` is mapped when
//! the integration says so, the integration's business pays, and the same `mchBillno` always
//! answers the first order — never a second payout. `privateKey`, `certKey` and `apiSecretKey`
//! from the request are read, never logged nor stored.

use crate::body::read_json_body;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use rewardgate_core::catalog::{
    Business, ChannelAccount, OpenidMapping, RabbitpreIntegration, Template,
};
use rewardgate_core::json::parse_object;
use rewardgate_core::order::{Delivery, KeyScheme, NewOrder, Order, OrderSpec};
use rewardgate_core::order::{OrderStatus, ProductType};
use rewardgate_core::{Fen, clock, ids};
use rewardgate_store::{AcceptOutcome, NonceUse};
use serde_json::{Value, json};
use std::time::Duration;
use subtle::ConstantTimeEq;

/// How long the answer waits for the outcome before saying SYSTEMERROR (retry with the same
/// mchBillno then answers the eventual result).
pub const ANSWER_WITHIN: Duration = Duration::from_secs(8);

fn answer(v: Value) -> Response {
    axum::Json(v).into_response()
}

fn return_fail(msg: &str) -> Response {
    answer(json!({"returnCode": "FAIL", "returnMsg": msg}))
}

fn result_fail(mch_billno: &str, code: &str, des: &str) -> Response {
    answer(
        json!({"returnCode": "SUCCESS", "returnMsg": "OK", "resultCode": "FAIL", "errCode": code, "errCodeDes": des, "mchBillno": mch_billno}),
    )
}

pub async fn send_api_red_pack(State(s): State<AppState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = match read_json_body(&parts.headers, body, true).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let o = match parse_object(&bytes) {
        Ok(o) => o,
        Err(e) => return return_fail(&format!("参数格式校验错误: {}", e.message)),
    };
    let field = |f: &str| o.opt_str(f).ok().flatten();
    let (Some(secret), Some(mch_id), Some(app_id), Some(billno), Some(user)) = (
        field("apiSecretKey"),
        field("mchId"),
        field("wxAppId"),
        field("mchBillno"),
        field("openid"),
    ) else {
        return return_fail(
            "参数格式校验错误: apiSecretKey, mchId, wxAppId, mchBillno, openid are required",
        );
    };
    let amount = match o.opt_i64("amount") {
        Ok(Some(a)) if a > 0 => a,
        _ => return return_fail("参数格式校验错误: amount must be a positive integer of fen"),
    };
    if billno.len() > 32 || !billno.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return return_fail("参数格式校验错误: mchBillno must be 1-32 letters or digits");
    }
    let Some(integration) = find_integration(&s, &secret).await else {
        return return_fail("签名失败: apiSecretKey is wrong");
    };
    let channel: Option<ChannelAccount> = s
        .catalog(&integration.channel_account_id)
        .await
        .ok()
        .flatten();
    let Some(channel) =
        channel.filter(|c| c.mch_id.as_deref() == Some(mch_id.as_str()) && c.app_id == app_id)
    else {
        return return_fail("mchId / wxAppId do not belong to this integration");
    };
    let openid = match integration.openid_mapping {
        OpenidMapping::Direct => user.clone(),
        OpenidMapping::Mapped => {
            let (iid, u) = (integration.id.clone(), user.clone());
            match s.store.openid_mapping(iid, u).await {
                Ok(Some(o)) => o,
                Ok(None) => {
                    return result_fail(
                        &billno,
                        "OPENID_ERROR",
                        "no WeChat openid is mapped to this openid (user_id)",
                    );
                }
                Err(_) => {
                    return result_fail(&billno, "SYSTEMERROR", "系统繁忙，请用原商户订单号重试");
                }
            }
        }
    };
    if !rewardgate_core::ids::openid_ok(&openid) {
        return result_fail(
            &billno,
            "PARAM_ERROR",
            "openid must be 1-128 characters of A-Z a-z 0-9 _ -",
        );
    }
    if !rewardgate_core::pricing::RABBITPRE_RANGE.contains(&amount) {
        return result_fail(
            &billno,
            "MONEY_LIMIT",
            "每个红包的金额必须在1.00元到200.00元之间",
        );
    }
    let business: Option<Business> = s.catalog(&integration.business_id).await.ok().flatten();
    let Some(business) = business else {
        return return_fail("the integration's business no longer exists");
    };
    let template: Option<Template> = match &integration.template_id {
        Some(t) => s.catalog(t).await.ok().flatten(),
        None => None,
    };
    let spec = Fen(amount);
    let settlement = rewardgate_core::pricing::price_rabbitpre(spec, template.as_ref());
    let notify_way = field("notifyWay");
    let delivery = Delivery {
        send_name: integration.send_name.clone(),
        wishing: integration.wishing.clone(),
        act_name: field("actName").unwrap_or_else(|| "红包".into()),
        remark: field("remark").unwrap_or_else(|| "红包".into()),
        client_ip: field("clientIp"),
        notify_way: notify_way.clone(),
        trade_record_id: o.opt_i64("tradeRecordId").ok().flatten(),
    };
    // The same mchBillno with the same request is the same order.
    let fingerprint = format!(
        "rabbitpre|{openid}|{amount}|{app_id}|{}",
        notify_way.clone().unwrap_or_default()
    );
    let now = clock::now_ms();
    let new = NewOrder {
        spec: OrderSpec {
            order_code: ids::order_code(now),
            business_id: business.id.clone().into(),
            merchant_id: business.merchant_id.clone(),
            biz_code: billno.clone(),
            product_type: ProductType::RedPacket,
            fingerprint,
            template_id: integration.template_id.clone(),
            product_code: None,
            activity_id: None,
            open_id: Some(openid.clone()),
            mobile: None,
            app_id: Some(app_id.clone()),
            amount: Some(spec),
            settlement,
            callback_url: None,
            description: Some("rabbitpre".into()),
            channel_account_id: channel.id.clone().into(),
            created_at: now,
            delivery: Some(delivery),
        },
        key: KeyScheme::MchBillno {
            mch_id: mch_id.clone(),
        },
    };
    let nonce = NonceUse {
        business_id: business.id.clone().into(),
        nonce: format!("rabbitpre-{}", rewardgate_channels::nonce(24)),
        now,
    };
    let order = match s.store.accept(nonce, new).await {
        Ok(AcceptOutcome::Created(o)) | Ok(AcceptOutcome::Existing(o)) => o,
        Ok(AcceptOutcome::Conflict) => {
            return result_fail(
                &billno,
                "PARAM_ERROR",
                "mchBillno was already used with other parameters",
            );
        }
        Ok(AcceptOutcome::Insufficient) => return result_fail(&billno, "NOTENOUGH", "余额不足"),
        Ok(AcceptOutcome::TooManyRequests) => {
            return result_fail(
                &billno,
                "FREQ_LIMIT",
                "超过频率限制，请稍后用原商户订单号重试",
            );
        }
        Ok(AcceptOutcome::NonceReplay) | Err(_) => {
            return result_fail(&billno, "SYSTEMERROR", "系统繁忙，请用原商户订单号重试");
        }
    };
    tracing::info!(order_code = %order.order_code, integration = %integration.id, "rabbitpre red packet accepted");
    let settled = wait_settled(&s, &order.order_code).await.unwrap_or(order);
    match settled.status {
        OrderStatus::Success | OrderStatus::Received | OrderStatus::Refunded => answer(json!({
            "returnCode": "SUCCESS", "returnMsg": "OK", "resultCode": "SUCCESS", "errCode": "SUCCESS", "errCodeDes": "发放成功",
            "mchBillno": billno, "mchId": mch_id, "wxappid": app_id, "reOpenid": openid, "totalAmount": amount.to_string(),
            "sendListid": settled.upstream_id,
        })),
        OrderStatus::Failed => result_fail(
            &billno,
            settled.error_code.as_deref().unwrap_or("FAIL"),
            settled.error_message.as_deref().unwrap_or("发放失败"),
        ),
        OrderStatus::Processing => result_fail(
            &billno,
            "SYSTEMERROR",
            "处理中，结果未明确，请用原商户订单号重试",
        ),
    }
}

async fn find_integration(s: &AppState, secret: &str) -> Option<RabbitpreIntegration> {
    let list = s.store.list_catalog("rabbitpre_integration").await.ok()?;
    let mut found = None;
    // Compare with every integration, in constant time each, so timing tells nothing.
    for d in list {
        if let Ok(i) = serde_json::from_str::<RabbitpreIntegration>(&d) {
            let k = i.api_secret_key.expose().as_bytes();
            if k.len() == secret.len() && bool::from(k.ct_eq(secret.as_bytes())) {
                found = Some(i);
            }
        }
    }
    found
}

async fn wait_settled(s: &AppState, code: &str) -> Option<Order> {
    let deadline = std::time::Instant::now() + ANSWER_WITHIN;
    loop {
        let o = s
            .store
            .order_by_code(code.to_string())
            .await
            .ok()
            .flatten()?;
        if o.status != OrderStatus::Processing || std::time::Instant::now() > deadline {
            return Some(o);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
