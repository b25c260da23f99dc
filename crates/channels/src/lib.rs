//! rewardgate's upstreams, one module each: their wire formats and signatures (shared with the
//! sandbox, so both sides agree by construction), their clients and their error-code policies.

pub mod alipay;
pub mod outcome;
pub mod wechat_v2;
pub mod wechat_v3;

pub use outcome::{Class, Outcome, Wait};

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
