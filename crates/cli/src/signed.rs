//! The client side of rewardgate's own APIs for the bench, the delivery bench and the demo:
//! signed open-API requests as a merchant makes them (SPEC §3), and admin calls.

use rewardgate_core::sign::{self, AuthHeaders, Signer};
use serde_json::Value;

/// The auth headers for `body`, `signType` sent explicitly.
pub fn headers(
    business: &str,
    nonce: String,
    body: &str,
    signer: Signer<'_>,
) -> Vec<(&'static str, String)> {
    let ts = rewardgate_core::clock::now_ms().to_string();
    let sign_type = match signer {
        Signer::Md5(_) => "MD5",
        Signer::Rsa(_) => "SHA256-RSA",
    };
    let h = AuthHeaders {
        business_id: business,
        nonce: &nonce,
        timestamp: &ts,
        sign_type: Some(sign_type),
    };
    let signature = sign::sign(signer, &sign::string_to_sign(&h, body.as_bytes()));
    vec![
        ("businessId", business.to_string()),
        ("nonce", nonce),
        ("timestamp", ts),
        ("signType", sign_type.to_string()),
        ("sign", signature),
    ]
}

/// Signs and posts `body`; the answer envelope.
pub async fn post(
    http: &reqwest::Client,
    url: &str,
    business: &str,
    nonce: String,
    body: &str,
    signer: Signer<'_>,
) -> anyhow::Result<Value> {
    let mut rb = http
        .post(url)
        .header("Content-Type", "application/json; charset=utf-8");
    for (k, v) in headers(business, nonce, body, signer) {
        rb = rb.header(k, v);
    }
    Ok(rb.body(body.to_string()).send().await?.json().await?)
}

/// One admin call that must succeed; its `data`.
pub async fn admin(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> anyhow::Result<Value> {
    let v: Value = http
        .request(
            method,
            format!("{}/admin/v1{path}", base.trim_end_matches('/')),
        )
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?
        .json()
        .await?;
    if v["status"] != 200 {
        anyhow::bail!("admin {path}: {}", v["message"]);
    }
    Ok(v["data"].clone())
}
