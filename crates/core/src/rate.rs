//! Token buckets, in exact integer units: the one rule for a channel account's upstream rate (and
//! a business's request rate), kept as rows in the database so that every process draws from
//! the same bucket.

use crate::catalog::ChannelAccount;

/// One token in the bucket's units: a token per minute accrues `per_minute` units a millisecond,
/// so a token is 60 000 units and the arithmetic stays exact.
pub const UNITS: i64 = 60_000;

/// A bucket's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub per_minute: i64,
    pub capacity: i64,
}

impl Rate {
    /// The bucket after refilling from `refilled_at` to `now` and taking one token if there is
    /// one: (units left, whether a token was taken).
    pub fn take(&self, units: i64, refilled_at: i64, now: i64) -> (i64, bool) {
        let elapsed = (now - refilled_at).max(0);
        let units = units
            .saturating_add(elapsed.saturating_mul(self.per_minute))
            .min(self.capacity * UNITS);
        if units >= UNITS {
            (units - UNITS, true)
        } else {
            (units, false)
        }
    }

    /// A channel account's bucket for its `ratePerMinute`: a sixth of a second's worth of burst
    /// and 99.5 % of the rest, so that no sliding minute passes the upstream's limit (for 1800:
    /// at most 5 + 1786 = 1791 in any 60 s) while the account stays busy. An operator who wants
    /// more margin sets a lower `ratePerMinute`.
    pub fn for_account(a: &ChannelAccount) -> Option<Rate> {
        a.rate_per_minute.map(|r| {
            let capacity = (r / 360).max(1);
            Rate {
                per_minute: ((r - capacity) * 995 / 1000).max(1),
                capacity,
            }
        })
    }

    /// A business's open-API bucket for its `requestsPerSecond`.
    pub fn for_business(requests_per_second: i64) -> Rate {
        Rate {
            per_minute: requests_per_second * 60,
            capacity: requests_per_second,
        }
    }
}

/// The bucket key of a business's open-API requests (channel accounts use their id).
pub fn business_bucket(business_id: &str) -> String {
    format!("business:{business_id}")
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn exact_refill() {
        let r = Rate {
            per_minute: 60,
            capacity: 1,
        };
        // Full: one token, then empty until a second has passed.
        let (u, took) = r.take(UNITS, 0, 0);
        assert!(took);
        assert_eq!(r.take(u, 0, 999), (59_940, false));
        assert!(r.take(u, 0, 1000).1);
        // Never more than its capacity, whatever the idle time.
        assert_eq!(r.take(0, 0, i64::MAX / 2), (0, true));
    }
}
