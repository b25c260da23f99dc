//! rewardgate's upstreams, one module each: their wire formats and signatures (shared with the
//! sandbox, so both sides agree by construction), their clients and their error-code policies.

pub mod alipay;
pub mod outcome;
pub mod wechat_v2;
pub mod wechat_v3;

pub use outcome::{Class, Outcome, Probe, Wait};

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

/// A random string of `n` characters of `[A-Z0-9]` (nonces).
pub fn nonce(n: usize) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut b = vec![0u8; n];
    SystemRandom::new()
        .fill(&mut b)
        .expect("the system RNG works");
    b.iter().map(|x| A[*x as usize % A.len()] as char).collect()
}

/// The HTTP client every upstream call uses: 3 s to connect, 10 s in all, no redirects, the
/// system's roots plus `extra_roots_pem`, and the merchant's client certificate when given.
pub fn http_client(
    extra_roots_pem: Option<&str>,
    identity_pem: Option<String>,
) -> Result<reqwest::Client, String> {
    let mut b = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(3))
        .timeout(std::time::Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none());
    if let Some(pem) = identity_pem {
        b = b.identity(
            reqwest::Identity::from_pem(pem.as_bytes())
                .map_err(|e| format!("client certificate: {e}"))?,
        );
    }
    if let Some(roots) = extra_roots_pem {
        for c in reqwest::Certificate::from_pem_bundle(roots.as_bytes())
            .map_err(|e| format!("extra roots: {e}"))?
        {
            b = b.add_root_certificate(c);
        }
    }
    b.build().map_err(|e| e.to_string())
}
