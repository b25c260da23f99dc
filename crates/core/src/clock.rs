//! Time as rewardgate uses it: epoch milliseconds, and the calendar day in Asia/Shanghai (UTC+8,
//! no daylight saving) that WeChat Pay's `mch_billno` and time limits are reckoned in.

use time::{OffsetDateTime, UtcOffset};

pub fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

pub const SHANGHAI: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(o) => o,
    Err(_) => panic!("valid offset"),
};

/// `yyyymmdd` of the given instant in Asia/Shanghai.
pub fn shanghai_ymd(ms: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(SHANGHAI);
    format!("{:04}{:02}{:02}", t.year(), t.month() as u8, t.day())
}

/// RFC 3339 text of an epoch-ms instant, in UTC.
/// `yyyy-MM-dd HH:mm:ss` in Asia/Shanghai, the time format of WeChat Pay v2 answers and of
/// Alipay's `timestamp` parameter.
pub fn shanghai_datetime(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .to_offset(SHANGHAI);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

pub fn rfc3339(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Parses RFC 3339 into epoch ms.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn shanghai_day_turns_at_16_utc() {
        // 2021-08-12T15:59:59Z is still the 12th in Shanghai at 23:59:59; a second later the 13th.
        assert_eq!(shanghai_ymd(1_628_783_999_000), "20210812");
        assert_eq!(shanghai_ymd(1_628_784_000_000), "20210813");
        assert_eq!(
            parse_rfc3339("2021-08-12T16:00:00Z"),
            Some(1_628_784_000_000)
        );
    }
}
