//! Following the demo's orders to their end, and the summary table.

use super::*;

pub(super) async fn order(
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

pub(super) async fn follow(
    http: &reqwest::Client,
    base: &str,
    sandbox: &str,
    token: &str,
    orders: &Placed,
    received: &Received,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut progress = crate::progress::Progress::new();
    let mut claimed = false;
    let mut confirmed = false;
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
            // The 商家转账's user confirms in the merchant's app (wx.requestMerchantTransfer with
            // `userConfirm`; the sandbox's confirm stands in for WeChat).
            if *kind == "WeChat 商家转账" && o["userConfirm"].is_object() && !confirmed {
                let key = o["upstreamKey"].as_str().unwrap_or_default();
                progress.finish();
                println!(
                    "  商家转账 waits for its user: userConfirm {{mchId {}, appId {}, package {}…}} — the user confirms",
                    o["userConfirm"]["mchId"].as_str().unwrap_or(""),
                    o["userConfirm"]["appId"].as_str().unwrap_or(""),
                    o["userConfirm"]["package"]
                        .as_str()
                        .unwrap_or("")
                        .chars()
                        .take(12)
                        .collect::<String>()
                );
                let r = http
                    .post(format!("{sandbox}/sandbox/v1/transfer-bills/{key}/confirm"))
                    .send()
                    .await?;
                anyhow::ensure!(
                    r.status().is_success(),
                    "the sandbox's confirm of {key}: {}",
                    r.text().await.unwrap_or_default()
                );
                confirmed = true;
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
        progress.update(&format!(
            "  delivered {done}/{}   callbacks received {calls}   {:.1}s",
            orders.len(),
            started.elapsed().as_secs_f64()
        ));
        if done == orders.len() && calls > orders.len() {
            progress.finish();
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(60) {
            progress.finish();
            bail!(
                "after 60 s: {done}/{} orders at their end, {calls} callbacks",
                orders.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

pub(super) async fn summary(
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
            "  {:<28} {} {:<10} {:>10}  {}",
            code,
            pad(kind, 14),
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

/// `s` padded to `width` terminal columns (CJK characters take two).
fn pad(s: &str, width: usize) -> String {
    let cols: usize = s
        .chars()
        .map(|c| match c {
            '\u{1100}'..='\u{115F}' | '\u{2E80}'..='\u{A4CF}' | '\u{AC00}'..='\u{D7A3}' => 2,
            '\u{F900}'..='\u{FAFF}' | '\u{FE30}'..='\u{FE4F}' | '\u{FF00}'..='\u{FF60}' => 2,
            _ => 1,
        })
        .sum();
    format!("{s}{}", " ".repeat(width.saturating_sub(cols)))
}
