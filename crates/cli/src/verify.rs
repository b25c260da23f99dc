//! `rewardgate verify-callback`: for merchants — says whether a status report's signature is
//! valid (SPEC §3 with the callback body), with the business's MD5 key or the platform's public
//! key (a PEM file, or fetched from `/v1/openapi/platform/publicKey`).

use anyhow::{Context, bail};
use rewardgate_core::keys::RsaPublicKey;
use rewardgate_core::sign::{self, AuthHeaders, SignType, Verifier};

#[derive(clap::Args)]
pub struct Args {
    /// The report's headers, one `Name: value` a line (as a receiver logs them).
    #[arg(long)]
    headers: std::path::PathBuf,
    /// The report's body, exactly as received.
    #[arg(long)]
    body: std::path::PathBuf,
    /// The business's MD5 key (for signType MD5).
    #[arg(long, env = "RG_MD5_KEY", hide_env_values = true)]
    md5_key: Option<String>,
    /// The platform's public key, PEM (for signType SHA256-RSA).
    #[arg(long)]
    public_key: Option<std::path::PathBuf>,
    /// Or fetch it: the rewardgate base URL (…/v1/openapi/platform/publicKey is appended).
    #[arg(long)]
    public_key_url: Option<String>,
}

pub async fn run(a: Args) -> anyhow::Result<bool> {
    let text = std::fs::read_to_string(&a.headers)
        .with_context(|| format!("reading {}", a.headers.display()))?;
    let body = std::fs::read(&a.body).with_context(|| format!("reading {}", a.body.display()))?;
    let header = |name: &str| -> Option<String> {
        text.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    };
    let need = |name: &str| header(name).with_context(|| format!("header {name} is missing"));
    let (business_id, nonce, timestamp, signature) = (
        need("businessId")?,
        need("nonce")?,
        need("timestamp")?,
        need("sign")?,
    );
    let sign_type_header = header("signType");
    let sign_type =
        SignType::parse(sign_type_header.as_deref()).map_err(|e| anyhow::anyhow!(e.message))?;
    let h = AuthHeaders {
        business_id: &business_id,
        nonce: &nonce,
        timestamp: &timestamp,
        sign_type: sign_type_header.as_deref(),
    };
    let s = sign::string_to_sign(&h, &body);
    let valid = match sign_type {
        SignType::Md5 => {
            let Some(k) = &a.md5_key else {
                bail!("signType is MD5: give --md5-key (or RG_MD5_KEY)")
            };
            sign::verify(Verifier::Md5(k), &s, &signature)
        }
        SignType::Sha256Rsa => {
            let pem = match (&a.public_key, &a.public_key_url) {
                (Some(p), _) => std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?,
                (None, Some(u)) => {
                    let v: serde_json::Value = reqwest::get(format!(
                        "{}/v1/openapi/platform/publicKey",
                        u.trim_end_matches('/')
                    ))
                    .await?
                    .json()
                    .await?;
                    v["data"]["publicKey"]
                        .as_str()
                        .context("no publicKey in the answer")?
                        .to_string()
                }
                (None, None) => {
                    bail!("signType is SHA256-RSA: give --public-key FILE or --public-key-url URL")
                }
            };
            let key =
                RsaPublicKey::from_pem(&pem).map_err(|e| anyhow::anyhow!("public key {e}"))?;
            sign::verify(Verifier::Rsa(&key), &s, &signature)
        }
    };
    let age = timestamp
        .parse::<i64>()
        .map(|t| (rewardgate_core::clock::now_ms() - t) / 1000)
        .ok();
    if valid {
        println!(
            "valid: {} signature of business {business_id}, nonce {nonce}, sent {} s ago",
            sign_type.as_str(),
            age.map(|a| a.to_string()).unwrap_or("?".into())
        );
    } else {
        println!(
            "INVALID: the {} signature does not match these headers and this body",
            sign_type.as_str()
        );
    }
    Ok(valid)
}
