//! Money. Inside rewardgate every amount is an integer number of fen (分); yuan with at most two
//! decimals exist only on the wire, parsed from and printed to the JSON number's exact text.

use serde_json::value::RawValue;
use std::fmt;

/// An amount in fen. Never a float.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fen(pub i64);

/// Why a yuan amount was refused; the caller names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("must be a number")]
    NotANumber,
    #[error("must have at most 2 decimals")]
    TooManyDecimals,
    #[error("must be greater than 0")]
    NotPositive,
    #[error("is too large")]
    TooLarge,
}

/// The largest amount accepted anywhere: 10^12 fen (ten billion yuan) keeps every sum far from
/// overflowing an i64.
pub const MAX_FEN: i64 = 1_000_000_000_000;

impl Fen {
    pub const ZERO: Fen = Fen(0);

    /// Parses the exact text of a JSON number in yuan (`1.5`, `175`, `1.50`, `2e1`) into fen.
    /// Trailing zeros beyond two decimals are accepted (`1.500`); a non-zero third decimal is not.
    pub fn parse_yuan(text: &str) -> Result<Fen, MoneyError> {
        let t = text.trim();
        let (neg, t) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t),
        };
        let (mantissa, exp) = match t.find(['e', 'E']) {
            Some(i) => {
                let e: i32 = t[i + 1..].parse().map_err(|_| MoneyError::NotANumber)?;
                (&t[..i], e)
            }
            None => (t, 0),
        };
        let (int_part, frac_part) = match mantissa.split_once('.') {
            Some((a, b)) => (a, b),
            None => (mantissa, ""),
        };
        if int_part.is_empty()
            || !int_part.bytes().all(|b| b.is_ascii_digit())
            || !frac_part.bytes().all(|b| b.is_ascii_digit())
            || (mantissa.contains('.') && frac_part.is_empty())
        {
            return Err(MoneyError::NotANumber);
        }
        // All digits as one integer with `scale` digits after the point, then shift by the exponent.
        let digits: String = format!("{int_part}{frac_part}");
        let digits = digits.trim_start_matches('0');
        let scale = frac_part.len() as i64 - exp as i64; // value = digits * 10^-scale
        let digits = if digits.is_empty() { "0" } else { digits };
        // Bring to scale 2 (fen): drop trailing zeros that would be beyond it.
        let mut d = digits.to_string();
        let mut scale = scale;
        while scale > 2 {
            if d.ends_with('0') && d.len() > 1 {
                d.pop();
                scale -= 1;
            } else if d == "0" {
                scale = 2;
            } else {
                return Err(MoneyError::TooManyDecimals);
            }
        }
        if d.len() as i64 + (2 - scale) > 15 {
            return Err(MoneyError::TooLarge);
        }
        let mut v: i64 = d.parse().map_err(|_| MoneyError::TooLarge)?;
        for _ in scale..2 {
            v = v.checked_mul(10).ok_or(MoneyError::TooLarge)?;
        }
        if v > MAX_FEN {
            return Err(MoneyError::TooLarge);
        }
        if neg && v != 0 {
            return Err(MoneyError::NotPositive);
        }
        Ok(Fen(v))
    }

    /// As `parse_yuan`, and refuses zero and negative amounts.
    pub fn parse_positive_yuan(text: &str) -> Result<Fen, MoneyError> {
        let f = Fen::parse_yuan(text)?;
        if f.0 <= 0 {
            return Err(MoneyError::NotPositive);
        }
        Ok(f)
    }

    /// The yuan text with no needless zeros: `150` → `1.5`, `17500` → `175`, `-3` → `-0.03`.
    pub fn yuan_text(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let a = self.0.unsigned_abs();
        let (y, f) = (a / 100, a % 100);
        match f {
            0 => format!("{sign}{y}"),
            f if f % 10 == 0 => format!("{sign}{y}.{}", f / 10),
            f => format!("{sign}{y}.{f:02}"),
        }
    }

    /// The amount as a JSON number in yuan, written from its exact text (no float on the way).
    pub fn to_json(self) -> Box<RawValue> {
        RawValue::from_string(self.yuan_text()).expect("a decimal is valid JSON")
    }

    /// `self × bp / 10000`, rounded half up, in fen (fees are never negative).
    pub fn fee_bp(self, bp: i64) -> Fen {
        let n = self.0 as i128 * bp as i128;
        Fen(((n + 5_000) / 10_000) as i64)
    }

    pub fn checked_add(self, o: Fen) -> Option<Fen> {
        self.0.checked_add(o.0).map(Fen)
    }
}

impl fmt::Display for Fen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.yuan_text())
    }
}

impl serde::Serialize for Fen {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_wire_amounts() {
        assert_eq!(Fen::parse_yuan("1.5"), Ok(Fen(150)));
        assert_eq!(Fen::parse_yuan("1.50"), Ok(Fen(150)));
        assert_eq!(Fen::parse_yuan("175"), Ok(Fen(17500)));
        assert_eq!(Fen::parse_yuan("0.01"), Ok(Fen(1)));
        assert_eq!(Fen::parse_yuan("1.500"), Ok(Fen(150)));
        assert_eq!(Fen::parse_yuan("2e1"), Ok(Fen(2000)));
        assert_eq!(Fen::parse_yuan("1.5E-1"), Ok(Fen(15)));
        assert_eq!(Fen::parse_yuan("0"), Ok(Fen(0)));
        assert_eq!(Fen::parse_yuan("1.505"), Err(MoneyError::TooManyDecimals));
        assert_eq!(Fen::parse_yuan("1e-3"), Err(MoneyError::TooManyDecimals));
        assert_eq!(Fen::parse_yuan("-1"), Err(MoneyError::NotPositive));
        assert_eq!(
            Fen::parse_positive_yuan("0.00"),
            Err(MoneyError::NotPositive)
        );
        assert_eq!(Fen::parse_yuan("1e30"), Err(MoneyError::TooLarge));
        assert_eq!(Fen::parse_yuan("\"1\""), Err(MoneyError::NotANumber));
        assert_eq!(Fen::parse_yuan("1."), Err(MoneyError::NotANumber));
        assert_eq!(Fen::parse_yuan(".5"), Err(MoneyError::NotANumber));
    }

    #[test]
    fn prints_yuan() {
        for (f, s) in [
            (150, "1.5"),
            (17500, "175"),
            (1, "0.01"),
            (460, "4.6"),
            (-3, "-0.03"),
            (0, "0"),
        ] {
            assert_eq!(Fen(f).yuan_text(), s);
            assert_eq!(Fen(f).to_json().get(), s);
        }
    }

    #[test]
    fn round_trips_every_small_amount() {
        for f in 0..100_000 {
            assert_eq!(Fen::parse_yuan(&Fen(f).yuan_text()), Ok(Fen(f)));
        }
    }

    #[test]
    fn fee_rounds_half_up() {
        assert_eq!(Fen(150).fee_bp(0), Fen(0));
        assert_eq!(Fen(150).fee_bp(100), Fen(2)); // 1.5
        assert_eq!(Fen(149).fee_bp(100), Fen(1)); // 1.49
        assert_eq!(Fen(10000).fee_bp(600), Fen(600));
    }
}
