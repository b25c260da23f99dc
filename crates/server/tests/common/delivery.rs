//! Delivery fixtures: an in-process sandbox (HTTP and client-certificate HTTPS), a serve whose
//! dispatcher trusts it, and the catalogue wired to it.
#![allow(dead_code)]

use super::*;
use std::time::Duration;

pub struct Upstream {
    pub base: String,
    pub tls_base: String,
    pub http: reqwest::Client,
    _stop: tokio_util::sync::DropGuard,
}

pub async fn sandbox() -> Upstream {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let t = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (a, b) = (l.local_addr().unwrap(), t.local_addr().unwrap());
    let stop = CancellationToken::new();
    let sb = std::sync::Arc::new(rewardgate_sandbox::Sandbox::new());
    tokio::spawn(rewardgate_sandbox::run(sb, l, Some(t), stop.clone()));
    Upstream {
        base: format!("http://{a}"),
        tls_base: format!("https://127.0.0.1:{}", b.port()),
        http: reqwest::Client::new(),
        _stop: stop.drop_guard(),
    }
}

impl Upstream {
    pub async fn put(&self, path: &str, body: Value) {
        let r = self
            .http
            .put(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            r.status().is_success(),
            "{path}: {}",
            r.text().await.unwrap()
        );
    }
    pub async fn post(&self, path: &str, body: Value) -> Value {
        self.http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap_or(Value::Null)
    }
    pub async fn effects(&self) -> Vec<Value> {
        self.http
            .get(format!("{}/sandbox/v1/effects", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
    pub async fn faults(&self, v: Value) {
        self.put("/sandbox/v1/faults", v).await;
    }
}

pub fn fast_dispatcher() -> rewardgate_server::dispatcher::DispatcherConfig {
    rewardgate_server::dispatcher::DispatcherConfig {
        follow_interval: Duration::from_millis(300),
        pause: Duration::from_secs(1),
        pending_wait: Duration::from_millis(300),
        extra_roots_pem: Some(rewardgate_sandbox::tls::SERVER_CERT_PEM.to_string()),
        ..Default::default()
    }
}

/// Sandbox accounts for mch 1900000109 (v2 with mTLS, v3) and Alipay app 2021000000000009, and
/// the operator's catalogue pointing at them: template T1, products PWX/PALI/PTR, activities.
pub async fn wire(app: &TestApp, up: &Upstream) {
    let pk = testdata("merchant_test_private.pem");
    let platform_priv = testdata("platform_test_private.pem");
    let platform_pub = testdata("platform_test_public.pem");
    up.put(
        "/sandbox/v1/accounts/wechat-v2/1900000109",
        json!({"apiKey": "k".repeat(32), "appIds": ["wx8888888888888888"],
        "balance": 100000, "certPem": testdata("wx_cert.pem"), "sceneMinAmount": 0.3, "sceneMaxAmount": 250}),
    )
    .await;
    up.put("/sandbox/v1/accounts/wechat-v3/1900000109", json!({"merchantPublicKeyPem": testdata("merchant_test_public.pem"),
        "merchantSerialNo": "5157F09EFDC096DE15EBE81A47057A7232F1B8E1", "platformPrivateKeyPem": platform_priv,
        "platformSerialNo": "PUB_KEY_ID_1", "apiV3Key": "v".repeat(32),
        "stocks": [{"stockId": "123456", "couponValue": 5, "remaining": 100000, "maxPerUser": 100000}]})).await;
    up.put("/sandbox/v1/accounts/alipay/2021000000000009", json!({"appPublicKeyPem": testdata("merchant_test_public.pem"),
        "alipayPrivateKeyPem": testdata("platform_test_private.pem"),
        "activities": [{"activityId": "T123", "amount": 5, "remaining": 100000, "maxPerUser": 100000}]})).await;
    app.put("/channel-accounts/wx2", json!({"kind": "WECHAT_V2", "mchId": "1900000109", "appId": "wx8888888888888888",
        "apiKey": "k".repeat(32), "signType": "MD5", "certPem": testdata("wx_cert.pem"), "keyPem": testdata("wx_key.pem"),
        "baseUrl": up.tls_base})).await;
    app.put("/channel-accounts/wx3", json!({"kind": "WECHAT_V3", "mchId": "1900000109", "appId": "wx8888888888888888",
        "privateKeyPem": pk, "certSerialNo": "5157F09EFDC096DE15EBE81A47057A7232F1B8E1", "apiV3Key": "v".repeat(32),
        "platformPublicKeyPem": platform_pub, "platformSerialNo": "PUB_KEY_ID_1", "baseUrl": up.base})).await;
    app.put(
        "/channel-accounts/ali",
        json!({"kind": "ALIPAY", "appId": "2021000000000009", "privateKeyPem": pk,
        "alipayPublicKeyPem": platform_pub, "baseUrl": format!("{}/gateway.do", up.base)}),
    )
    .await;
    app.put(
        "/templates/T1",
        json!({"channelAccountId": "wx2", "sendName": "示例", "wishing": "恭喜", "actName": "活动",
        "remark": "备注", "sceneId": "PRODUCT_1", "minSpec": 0.3, "maxSpec": 300, "feeRateBp": 100}),
    )
    .await;
    app.put(
        "/products/PWX",
        json!({"kind": "WECHAT_COUPON", "name": "立减金", "faceValue": 5, "price": 4.5}),
    )
    .await;
    app.put(
        "/products/PALI",
        json!({"kind": "ALIPAY_COUPON", "name": "立减金", "faceValue": 5, "price": 4.6}),
    )
    .await;
    app.put("/products/PTR", json!({"kind": "WECHAT_TRANSFER", "name": "零钱", "feeRateBp": 60, "channelAccountId": "wx2"})).await;
    app.put(
        "/activities/AWX",
        json!({"productCode": "PWX", "channelAccountId": "wx3", "upstreamId": "123456"}),
    )
    .await;
    app.put(
        "/activities/AALI",
        json!({"productCode": "PALI", "channelAccountId": "ali", "upstreamId": "T123"}),
    )
    .await;
    app.put("/merchants/M1", json!({"name": "商家"})).await;
    app.put(
        "/businesses/B1",
        json!({"merchantId": "M1", "name": "业务", "md5Key": MD5_KEY,
        "rsaPublicKeyPem": testdata("merchant_test_public.pem")}),
    )
    .await;
    app.topup("B1", json!(1_000_000), "wire").await;
}

/// One order of a kind by number: (path, body).
pub fn order(kind: &str, i: usize) -> (&'static str, Value) {
    let base = json!({"merchantId": "M1", "businessId": "B1", "bizCode": format!("{kind}-{i}")});
    let mut b = base.as_object().unwrap().clone();
    let path = match kind {
        "rp" => {
            b.extend(
                json!({"templateId": "T1", "openId": format!("oUser{i}"), "spec": 1})
                    .as_object()
                    .unwrap()
                    .clone(),
            );
            "/v1/openapi/order/redPacket"
        }
        "tr" => {
            b.extend(
                json!({"productCode": "PTR", "openId": format!("oUser{i}"), "spec": 1})
                    .as_object()
                    .unwrap()
                    .clone(),
            );
            "/v1/openapi/order/wechat/transfer"
        }
        "wx" => {
            b.extend(
                json!({"productCode": "PWX", "activityId": "AWX", "openId": format!("oUser{i}")})
                    .as_object()
                    .unwrap()
                    .clone(),
            );
            "/v1/openapi/order/wechat/coupons"
        }
        _ => {
            b.extend(json!({"productCode": "PALI", "activityId": "AALI", "mobile": format!("132{:08}", i)}).as_object().unwrap().clone());
            "/v1/openapi/order/alipay/coupons"
        }
    };
    (path, Value::Object(b))
}

impl TestApp {
    pub async fn place(&self, kind: &str, i: usize) -> String {
        let (path, body) = order(kind, i);
        let r = self.call(path, &body, &Sign::md5("B1")).await;
        assert_eq!(r["status"], 200, "{r}");
        r["data"]["orderCode"].as_str().unwrap().to_string()
    }

    pub async fn order(&self, code: &str) -> Value {
        self.admin("GET", &format!("/orders/{code}"), None).await.1["data"].clone()
    }

    /// Waits until `code` has an attempt that `pred` accepts (and at least `min` attempts); the order.
    pub async fn wait_attempt(
        &self,
        code: &str,
        min: usize,
        pred: impl Fn(&Value) -> bool,
        within: Duration,
    ) -> Value {
        let deadline = std::time::Instant::now() + within;
        loop {
            let o = self.order(code).await;
            let a = o["attempts"].as_array().cloned().unwrap_or_default();
            if a.len() >= min && a.iter().any(&pred) {
                return o;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no such attempt yet: {o}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until every order in `codes` has one of `statuses`; panics with the stragglers.
    pub async fn wait_for(&self, codes: &[String], statuses: &[&str], within: Duration) {
        let deadline = std::time::Instant::now() + within;
        loop {
            let mut pending = Vec::new();
            for c in codes {
                let o = self.order(c).await;
                if !statuses.contains(&o["status"].as_str().unwrap_or("")) {
                    pending.push(o);
                }
            }
            if pending.is_empty() {
                return;
            }
            if std::time::Instant::now() > deadline {
                panic!(
                    "{} orders not in {statuses:?}; first: {}",
                    pending.len(),
                    pending[0]
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
