//! The domain's outcome vocabulary (`rewardgate_core::outcome`), and what transport failures mean.

pub use rewardgate_core::outcome::{Class, Outcome, Probe, Wait};

/// The transport's failures: none of them says whether the upstream acted.
pub fn transport_unknown(e: &reqwest::Error) -> Outcome {
    let what = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "transport error"
    };
    Outcome::Unknown {
        reason: format!("{what}: {e}"),
    }
}
