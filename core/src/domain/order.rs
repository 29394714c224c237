//! Order requests, parsed before anything touches the database ("parse, don't validate").

use crate::error::AppError;

/// The most units one order line may ask for; larger numbers are refused before any lookup.
pub const MAX_QUANTITY: i64 = 99;

/// A quantity known to be within 1..=MAX_QUANTITY.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity(u32);

impl Quantity {
    pub fn parse(raw: i64) -> Result<Quantity, AppError> {
        if raw < 1 {
            return Err(AppError::bad_request("Quantity must be at least 1."));
        }
        if raw > MAX_QUANTITY {
            return Err(AppError::bad_request(format!(
                "You can buy at most {MAX_QUANTITY} at a time."
            )));
        }
        Ok(Quantity(raw as u32))
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// A client-chosen idempotency key: 8 to 64 characters from [A-Za-z0-9_-].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(raw: &str) -> Result<IdempotencyKey, AppError> {
        let ok_len = (8..=64).contains(&raw.len());
        let ok_chars = raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok_len && ok_chars {
            Ok(IdempotencyKey(raw.to_string()))
        } else {
            Err(AppError::bad_request(
                "Malformed request: invalid idempotency key.",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_out_of_range_are_refused() {
        for bad in [0, -1, i64::MIN, 100, i64::MAX] {
            assert!(Quantity::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Quantity::parse(1).expect("ok").get(), 1);
        assert_eq!(Quantity::parse(99).expect("ok").get(), 99);
    }

    #[test]
    fn idempotency_keys_are_bounded_and_plain() {
        assert!(IdempotencyKey::parse("order-1234abcd").is_ok());
        assert!(IdempotencyKey::parse("short").is_err());
        assert!(IdempotencyKey::parse(&"x".repeat(65)).is_err());
        assert!(IdempotencyKey::parse("has space 123").is_err());
    }
}
