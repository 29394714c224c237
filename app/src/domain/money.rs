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
    /// `¥199.00`; negative amounts as `-¥5.50`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}¥{}.{:02}", abs / 100, abs % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
