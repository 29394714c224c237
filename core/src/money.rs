//! Money as integer fen (1/100 yuan). Never floats: a discount of 50% on 1999 fen must be an
//! exact, documented rounding, not whatever binary floating point gives.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fen(pub i64);

impl Fen {
    pub const ZERO: Fen = Fen(0);

    pub fn checked_mul(self, qty: i64) -> Option<Fen> {
        self.0.checked_mul(qty).map(Fen)
    }
}

impl fmt::Display for Fen {
    /// `¥199.00`; negative amounts as `-¥5.50`. In the browser, as the page's language writes
    /// yuan (`i18n::yuan`: `¥1,299.00`, `1299,00 ¥`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        #[cfg(feature = "csr")]
        return f.write_str(&crate::i18n::yuan(self.0, crate::i18n::current()));
        #[cfg(not(feature = "csr"))]
        {
            let sign = if self.0 < 0 { "-" } else { "" };
            let abs = self.0.unsigned_abs();
            write!(f, "{sign}¥{}.{:02}", abs / 100, abs % 100)
        }
    }
}

/// Why a typed amount is not a price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PriceError {
    Empty,
    Malformed,
    TooManyDecimals,
    NotPositive,
    TooLarge,
}

impl fmt::Display for PriceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PriceError::Empty => "Enter a price.",
            PriceError::Malformed => "Enter the price in yuan, like 129 or 129.90.",
            PriceError::TooManyDecimals => "Prices have at most two decimals (fen).",
            PriceError::NotPositive => "The price must be more than zero.",
            PriceError::TooLarge => "That price is too large.",
        })
    }
}

/// The most a single product may cost: ¥1,000,000.
pub const MAX_PRICE: Fen = Fen(100_000_000);

impl Fen {
    /// Parses a price typed in yuan ("129", "129.9", "¥129.90", "1,299.00") into fen.
    pub fn parse_yuan(raw: &str) -> Result<Fen, PriceError> {
        let s: String = raw
            .trim()
            .trim_start_matches(['¥', '￥'])
            .chars()
            .filter(|c| *c != ',')
            .collect();
        if s.is_empty() {
            return Err(PriceError::Empty);
        }
        let (whole, frac) = s.split_once('.').unwrap_or((&s, ""));
        if whole.is_empty() && frac.is_empty() {
            return Err(PriceError::Malformed);
        }
        if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(if s.starts_with('-') {
                PriceError::NotPositive
            } else {
                PriceError::Malformed
            });
        }
        if frac.len() > 2 {
            return Err(PriceError::TooManyDecimals);
        }
        if whole.len() > 9 {
            return Err(PriceError::TooLarge);
        }
        let yuan: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| PriceError::Malformed)?
        };
        let fen: i64 = match frac.len() {
            0 => 0,
            1 => frac.parse::<i64>().map_err(|_| PriceError::Malformed)? * 10,
            _ => frac.parse().map_err(|_| PriceError::Malformed)?,
        };
        let total = Fen(yuan * 100 + fen);
        if total.0 <= 0 {
            return Err(PriceError::NotPositive);
        }
        if total > MAX_PRICE {
            return Err(PriceError::TooLarge);
        }
        Ok(total)
    }

    /// The amount as yuan without the currency sign, for form inputs: "129.90".
    pub fn to_yuan_string(self) -> String {
        format!("{}.{:02}", self.0 / 100, self.0.rem_euclid(100))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_yuan_typed_by_hosts() {
        assert_eq!(Fen::parse_yuan("129"), Ok(Fen(12_900)));
        assert_eq!(Fen::parse_yuan(" 129.9 "), Ok(Fen(12_990)));
        assert_eq!(Fen::parse_yuan("¥1,299.05"), Ok(Fen(129_905)));
        assert_eq!(Fen::parse_yuan(".5"), Ok(Fen(50)));
        assert_eq!(Fen::parse_yuan(""), Err(PriceError::Empty));
        assert_eq!(Fen::parse_yuan("12.345"), Err(PriceError::TooManyDecimals));
        assert_eq!(Fen::parse_yuan("-5"), Err(PriceError::NotPositive));
        assert_eq!(Fen::parse_yuan("0.00"), Err(PriceError::NotPositive));
        assert_eq!(Fen::parse_yuan("abc"), Err(PriceError::Malformed));
        assert_eq!(Fen::parse_yuan("1e5"), Err(PriceError::Malformed));
        assert_eq!(Fen::parse_yuan("99999999999"), Err(PriceError::TooLarge));
        assert_eq!(Fen(12_990).to_yuan_string(), "129.90");
    }

    proptest::proptest! {
        #[test]
        fn yuan_strings_round_trip(fen in 1i64..=MAX_PRICE.0) {
            proptest::prop_assert_eq!(Fen::parse_yuan(&Fen(fen).to_yuan_string()), Ok(Fen(fen)));
            proptest::prop_assert_eq!(Fen::parse_yuan(&Fen(fen).to_string()), Ok(Fen(fen)));
        }
    }

    #[test]
    fn formats_yuan_with_two_decimals() {
        assert_eq!(Fen(19900).to_string(), "¥199.00");
        assert_eq!(Fen(5).to_string(), "¥0.05");
        assert_eq!(Fen(0).to_string(), "¥0.00");
        assert_eq!(Fen(-550).to_string(), "-¥5.50");
        assert_eq!(Fen(i64::MIN).to_string(), "-¥92233720368547758.08");
    }

    #[test]
    fn multiplication_reports_overflow() {
        assert_eq!(Fen(100).checked_mul(3), Some(Fen(300)));
        assert_eq!(Fen(i64::MAX).checked_mul(2), None);
    }
}
