//! Setting the demo up: its catalogue, merchant and business through the admin API, and its
//! signed orders of every kind.

use super::*;

pub(super) struct Keys {
    merchant: RsaPrivateKey,
}

pub(super) async fn setup(
    http: &reqwest::Client,
    base: &str,
    sandbox: &str,
    token: &str,
    receiver: &str,
) -> anyhow::Result<Keys> {
    use reqwest::Method;
    let (merchant_priv, merchant_pub) = RsaPrivateKey::generate_pem()?;
    let (app_priv, app_pub) = RsaPrivateKey::generate_pem()?;
    let (platform_priv, platform_pub) = RsaPrivateKey::generate_pem()?;
    let sb = |path: &str, body: Value| {
        let (http, url) = (http.clone(), format!("{sandbox}{path}"));
        async move {
            let r = http.put(url).json(&body).send().await?;
            anyhow::ensure!(
                r.status().is_success(),
                "sandbox account: {}",
                r.text().await.unwrap_or_default()
            );
            anyhow::Ok(())
        }
    };
    sb(
        "/sandbox/v1/accounts/wechat-v2/1900000109",
        json!({"apiKey": "demo".repeat(8), "appIds": ["wx8888888888888888"], "balance": 10000}),
    )
    .await?;
    sb("/sandbox/v1/accounts/wechat-v3/1900000109", json!({"merchantPublicKeyPem": app_pub, "merchantSerialNo": "DEMO-SERIAL",
        "platformPrivateKeyPem": platform_priv, "platformSerialNo": "PUB_KEY_ID_DEMO", "apiV3Key": "v".repeat(32),
        "stocks": [{"stockId": "9856000", "couponValue": 5, "remaining": 100, "maxPerUser": 5}]})).await?;
    sb("/sandbox/v1/accounts/alipay/2021000000000009", json!({"appPublicKeyPem": app_pub, "alipayPrivateKeyPem": platform_priv,
        "activities": [{"activityId": "20261127DEMO", "amount": 5, "remaining": 100, "maxPerUser": 5}]})).await?;
    let a = |m: Method, p: &'static str, b: Value| crate::signed::admin(http, base, token, m, p, b);
    a(Method::PUT, "/channel-accounts/demo-wx2", json!({"kind": "WECHAT_V2", "mchId": "1900000109", "appId": "wx8888888888888888", "apiKey": "demo".repeat(8), "baseUrl": sandbox})).await?;
    a(Method::PUT, "/channel-accounts/demo-wx3", json!({"kind": "WECHAT_V3", "mchId": "1900000109", "appId": "wx8888888888888888", "privateKeyPem": app_priv, "certSerialNo": "DEMO-SERIAL", "apiV3Key": "v".repeat(32), "platformPublicKeyPem": platform_pub, "platformSerialNo": "PUB_KEY_ID_DEMO", "baseUrl": sandbox})).await?;
    a(Method::PUT, "/channel-accounts/demo-ali", json!({"kind": "ALIPAY", "appId": "2021000000000009", "privateKeyPem": app_priv, "alipayPublicKeyPem": platform_pub, "baseUrl": sandbox})).await?;
    a(Method::PUT, "/templates/DEMO-T", json!({"channelAccountId": "demo-wx2", "sendName": "演示商户", "wishing": "恭喜发财", "actName": "演示活动", "remark": "rewardgate demo", "feeRateBp": 100})).await?;
    a(
        Method::PUT,
        "/products/DEMO-WX",
        json!({"kind": "WECHAT_COUPON", "name": "微信立减金 5元", "faceValue": 5, "price": 4.5}),
    )
    .await?;
    a(
        Method::PUT,
        "/products/DEMO-ALI",
        json!({"kind": "ALIPAY_COUPON", "name": "支付宝立减金 5元", "faceValue": 5, "price": 4.6}),
    )
    .await?;
    a(Method::PUT, "/products/DEMO-TB", json!({"kind": "WECHAT_TRANSFER", "name": "微信零钱（商家转账）", "feeRateBp": 60, "channelAccountId": "demo-wx3"})).await?;
    a(Method::PUT, "/products/DEMO-TR", json!({"kind": "WECHAT_TRANSFER", "name": "微信零钱", "feeRateBp": 60, "channelAccountId": "demo-wx2"})).await?;
    a(
        Method::PUT,
        "/activities/DEMO-AWX",
        json!({"productCode": "DEMO-WX", "channelAccountId": "demo-wx3", "upstreamId": "9856000"}),
    )
    .await?;
    a(Method::PUT, "/activities/DEMO-AALI", json!({"productCode": "DEMO-ALI", "channelAccountId": "demo-ali", "upstreamId": "20261127DEMO"})).await?;
    a(
        Method::PUT,
        "/merchants/DEMO-M",
        json!({"name": "演示商家"}),
    )
    .await?;
    a(Method::PUT, "/businesses/DEMO-B", json!({"merchantId": "DEMO-M", "name": "演示业务", "md5Key": MD5_KEY, "rsaPublicKeyPem": merchant_pub, "callbackUrl": receiver})).await?;
    a(
        Method::POST,
        "/businesses/DEMO-B/topups",
        json!({"amount": 100, "reference": "demo-first-topup"}),
    )
    .await?;
    Ok(Keys {
        merchant: RsaPrivateKey::from_pem(&merchant_priv)?,
    })
}

/// (kind, orderCode)
pub(super) type Placed = Vec<(&'static str, String)>;

pub(super) async fn place(
    http: &reqwest::Client,
    base: &str,
    keys: &Keys,
) -> anyhow::Result<Placed> {
    let m = json!({"merchantId": "DEMO-M", "businessId": "DEMO-B"});
    let with = |extra: Value| {
        let mut v = m.clone();
        v.as_object_mut()
            .expect("object")
            .extend(extra.as_object().expect("object").clone());
        v
    };
    let list: Vec<(&'static str, &str, Value, bool)> = vec![
        (
            "red packet",
            "/v1/openapi/order/redPacket",
            with(
                json!({"templateId": "DEMO-T", "openId": "oDemoUser0001", "spec": 1.88, "bizCode": "demo-rp-1"}),
            ),
            true,
        ),
        (
            "red packet",
            "/v1/openapi/order/redPacket",
            with(
                json!({"templateId": "DEMO-T", "openId": "oDemoUser0002", "spec": 6.66, "bizCode": "demo-rp-2"}),
            ),
            false,
        ),
        (
            "WeChat 零钱",
            "/v1/openapi/order/wechat/transfer",
            with(
                json!({"productCode": "DEMO-TR", "openId": "oDemoUser0003", "spec": 0.5, "bizCode": "demo-tr-1"}),
            ),
            false,
        ),
        (
            "WeChat 商家转账",
            "/v1/openapi/order/wechat/transfer",
            with(
                json!({"productCode": "DEMO-TB", "openId": "oDemoUser0005", "spec": 0.88, "bizCode": "demo-tb-1", "description": "演示活动奖励"}),
            ),
            true,
        ),
        (
            "WeChat 立减金",
            "/v1/openapi/order/wechat/coupons",
            with(
                json!({"productCode": "DEMO-WX", "activityId": "DEMO-AWX", "openId": "oDemoUser0004", "bizCode": "demo-wx-1"}),
            ),
            true,
        ),
        (
            "Alipay 立减金",
            "/v1/openapi/order/alipay/coupons",
            with(
                json!({"productCode": "DEMO-ALI", "activityId": "DEMO-AALI", "mobile": "13800138000", "bizCode": "demo-ali-1"}),
            ),
            false,
        ),
    ];
    let mut out = Vec::new();
    for (i, (kind, path, body, rsa)) in list.into_iter().enumerate() {
        let text = body.to_string();
        let nonce = format!("demo{i}{}", rewardgate_channels::nonce(8));
        let signer = if rsa {
            Signer::Rsa(&keys.merchant)
        } else {
            Signer::Md5(MD5_KEY)
        };
        let v = crate::signed::post(
            http,
            &format!("{base}{path}"),
            "DEMO-B",
            nonce,
            &text,
            signer,
        )
        .await?;
        if v["status"] != 200 {
            bail!("{kind} refused: {} {}", v["status"], v["message"]);
        }
        out.push((
            kind,
            v["data"]["orderCode"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        ));
    }
    Ok(out)
}
