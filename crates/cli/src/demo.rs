//! `rewardgate demo`: the newcomer's first run. The sandbox and `serve` in one process on a
//! throw-away SQLite database; a demo catalogue, merchant and business set up through the admin
//! API; a handful of signed orders of every kind followed to their end with a progress line;
//! their callbacks received on a local receiver; a summary table; exit 0, or non-zero naming the
//! step that failed. `--keep` stays up for exploring.

use anyhow::{Context, bail};
use rewardgate_core::keys::RsaPrivateKey;
use rewardgate_core::sign::Signer;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

#[derive(clap::Args)]
pub struct Args {
    /// Stay up afterwards (Ctrl-C to stop).
    #[arg(long)]
    keep: bool,
    /// Where serve listens.
    #[arg(long, env = "RG_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// Where the sandbox listens.
    #[arg(long, env = "RG_SANDBOX_LISTEN", default_value = "127.0.0.1:9090")]
    sandbox_listen: String,
}

const MD5_KEY: &str = "demo-md5-key-0123456789abcdef";

struct Step(&'static str);

impl Step {
    fn ctx<T>(&self, r: anyhow::Result<T>) -> anyhow::Result<T> {
        r.with_context(|| format!("demo step failed: {}", self.0))
    }
}

pub async fn run(a: Args) -> anyhow::Result<()> {
    let stop = CancellationToken::new();
    let _guard = stop.clone().drop_guard();
    let dir = std::env::temp_dir().join(format!("rewardgate-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let token = format!("demo-{}", rewardgate_channels::nonce(16));

    println!(
        "rewardgate demo — sandbox upstreams and serve in one process, database {}/demo.db",
        dir.display()
    );
    let s = Step("start the sandbox and serve");
    let (sandbox, base) = s.ctx(start(&a, &dir, &token, &stop).await)?;
    let (receiver, received) =
        Step("start the callback receiver").ctx(callback_receiver(&stop).await)?;
    let http = reqwest::Client::new();
    let keys = Step("set up the sandbox accounts and the demo catalogue")
        .ctx(setup(&http, &base, &sandbox, &token, &receiver).await)?;
    println!("  sandbox {sandbox}   serve {base}   callbacks {receiver}");

    let s = Step("place signed orders of every kind");
    let orders = s.ctx(place(&http, &base, &keys).await)?;
    println!(
        "  placed {} orders (SHA256-RSA and MD5 signed)",
        orders.len()
    );

    let s = Step("follow the orders and their callbacks to the end");
    s.ctx(follow(&http, &base, &sandbox, &token, &orders, &received).await)?;

    summary(&http, &base, &token, &orders, &received).await?;
    let _ = std::fs::remove_dir_all(&dir).ok().filter(|_| !a.keep);
    println!("\nTry next (admin token {token}):");
    println!("  curl -s -H 'Authorization: Bearer {token}' '{base}/admin/v1/orders?limit=10'");
    println!(
        "  curl -s -H 'Authorization: Bearer {token}' {base}/admin/v1/orders/{}",
        orders[0].1
    );
    println!("  curl -s {sandbox}/sandbox/v1/effects");
    println!("  curl -s {base}/v1/openapi/platform/publicKey");
    if a.keep {
        println!("\nStaying up (--keep); Ctrl-C to stop.");
        tokio::signal::ctrl_c().await?;
    } else {
        println!("  (run `rewardgate demo --keep` to keep everything up)");
    }
    stop.cancel();
    Ok(())
}

async fn start(
    a: &Args,
    dir: &std::path::Path,
    token: &str,
    stop: &CancellationToken,
) -> anyhow::Result<(String, String)> {
    let sl = tokio::net::TcpListener::bind(&a.sandbox_listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (set RG_SANDBOX_LISTEN)",
                a.sandbox_listen
            )
        })?;
    let sandbox = format!("http://{}", sl.local_addr()?);
    tokio::spawn(rewardgate_sandbox::run(
        Arc::new(rewardgate_sandbox::Sandbox::new()),
        sl,
        None,
        stop.clone(),
    ));
    let listener = tokio::net::TcpListener::bind(&a.listen)
        .await
        .with_context(|| format!("cannot listen on {} (set RG_LISTEN)", a.listen))?;
    let base = format!("http://{}", listener.local_addr()?);
    let cfg = rewardgate_server::Config {
        listen: a.listen.clone(),
        database_url: format!("sqlite://{}/demo.db", dir.display()),
        admin_token: Some(rewardgate_core::secret::Secret::new(token)),
        allow_private_callbacks: true,
        platform_key_file: None,
        dispatcher: rewardgate_server::dispatcher::DispatcherConfig {
            follow_interval: Duration::from_secs(1),
            ..Default::default()
        },
        notifier: rewardgate_server::notifier::NotifierConfig {
            schedule: vec![Duration::from_secs(1); 5],
            ..Default::default()
        },
    };
    tokio::spawn(rewardgate_server::run(cfg, listener, stop.clone()));
    let http = reqwest::Client::new();
    for _ in 0..100 {
        if http.get(format!("{base}/healthz")).send().await.is_ok() {
            return Ok((sandbox, base));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("serve did not come up")
}

type Received = Arc<Mutex<Vec<Value>>>;

async fn callback_receiver(stop: &CancellationToken) -> anyhow::Result<(String, Received)> {
    let got: Received = Arc::default();
    let g = got.clone();
    let app = axum::Router::new().route(
        "/notify",
        axum::routing::post(move |body: String| {
            let g = g.clone();
            async move {
                if let Ok(v) = serde_json::from_str::<Value>(&body) {
                    g.lock().expect("lock").push(v);
                }
                "SUCCESS"
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/notify", l.local_addr()?);
    let stop = stop.clone();
    tokio::spawn(async move {
        axum::serve(l, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await
    });
    Ok((url, got))
}

struct Keys {
    merchant: RsaPrivateKey,
}

async fn admin(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> anyhow::Result<Value> {
    let v: Value = http
        .request(method, format!("{base}/admin/v1{path}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?
        .json()
        .await?;
    if v["status"] != 200 {
        bail!("admin {path}: {}", v["message"]);
    }
    Ok(v["data"].clone())
}

async fn setup(
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
    let a = |m: Method, p: &'static str, b: Value| admin(http, base, token, m, p, b);
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
type Placed = Vec<(&'static str, String)>;

async fn place(http: &reqwest::Client, base: &str, keys: &Keys) -> anyhow::Result<Placed> {
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

async fn order(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    code: &str,
) -> anyhow::Result<Value> {
    let v: Value = http
        .get(format!("{base}/admin/v1/orders/{code}"))
        .bearer_auth(token)
        .send()
        .await?
        .json()
        .await?;
    Ok(v["data"].clone())
}

async fn follow(
    http: &reqwest::Client,
    base: &str,
    sandbox: &str,
    token: &str,
    orders: &Placed,
    received: &Received,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut claimed = false;
    loop {
        let mut done = 0;
        for (kind, code) in orders {
            let o = order(http, base, token, code).await?;
            let st = o["status"].as_str().unwrap_or("");
            // The first red packet's user opens it in WeChat (the sandbox's claim).
            if !claimed && *kind == "red packet" && st == "SUCCESS" {
                let billno = o["upstreamKey"].as_str().unwrap_or_default();
                http.post(format!("{sandbox}/sandbox/v1/redpacks/{billno}/claim"))
                    .send()
                    .await?;
                claimed = true;
            }
            if st == "FAILED" {
                bail!(
                    "order {code} ({kind}) failed: {} {}",
                    o["errorCode"],
                    o["errorMessage"]
                );
            }
            let final_here = if code == &orders[0].1 {
                st == "RECEIVED"
            } else {
                st == "SUCCESS"
            };
            done += usize::from(final_here);
        }
        let calls = received.lock().expect("lock").len();
        print!(
            "\r  delivered {done}/{}   callbacks received {calls}   {:.1}s ",
            orders.len(),
            started.elapsed().as_secs_f64()
        );
        use std::io::Write;
        let _ = std::io::stdout().flush();
        if done == orders.len() && calls > orders.len() {
            println!();
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(60) {
            println!();
            bail!(
                "after 60 s: {done}/{} orders at their end, {calls} callbacks",
                orders.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn summary(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    orders: &Placed,
    received: &Received,
) -> anyhow::Result<()> {
    println!(
        "\n  {:<28} {:<14} {:<10} {:>10}  callback",
        "order", "type", "status", "settlement"
    );
    let got = received.lock().expect("lock").clone();
    for (kind, code) in orders {
        let o = order(http, base, token, code).await?;
        let calls: Vec<String> = got
            .iter()
            .filter(|c| c["orderCode"] == code.as_str())
            .map(|c| c["status"].as_str().unwrap_or("").to_string())
            .collect();
        println!(
            "  {:<28} {:<14} {:<10} {:>10}  {}",
            code,
            kind,
            o["status"].as_str().unwrap_or(""),
            o["settlementPrice"].to_string(),
            if calls.is_empty() {
                "none".to_string()
            } else {
                format!("delivered ({})", calls.join(", "))
            }
        );
    }
    let bal: Value = http
        .get(format!("{base}/admin/v1/businesses/DEMO-B/balance"))
        .bearer_auth(token)
        .send()
        .await?
        .json()
        .await?;
    let ledger: Value = http
        .get(format!("{base}/admin/v1/ledger"))
        .bearer_auth(token)
        .send()
        .await?
        .json()
        .await?;
    println!(
        "\n  business DEMO-B: available {} yuan, frozen {}, spent {}; ledger balanced: {}",
        bal["data"]["amount"],
        bal["data"]["frozen"],
        bal["data"]["spent"],
        ledger["data"]["balanced"]
    );
    if ledger["data"]["balanced"] != true {
        bail!("demo step failed: the ledger does not balance");
    }
    Ok(())
}
