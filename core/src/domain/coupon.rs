//! Live coupons and how they combine with the invite discount (issue 30), as pure rules.
//!
//! The order: the invite's discount first (`discount::quote_line`), then the coupon on what is
//! left, never below ¥0.01 for an order that costs anything, never more off than is left. The
//! minimum spend is read on what is left after the invite discount, the amount the shopper
//! actually spends before the coupon. A percentage is rounded down to the fen (like the
//! invite discount), so a coupon never takes more than it says.

use serde::{Deserialize, Serialize};

use crate::money::Fen;

/// What a coupon takes off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum CouponValue {
    /// A fixed amount.
    AmountOff(Fen),
    /// A share of the amount, 1 to 99 percent.
    PercentOff(u8),
}

/// A coupon's terms, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CouponTerms {
    value: CouponValue,
    min_spend: Fen,
}

/// Why coupon terms were not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CouponError {
    #[error("A coupon takes off at least ¥0.01.")]
    NothingOff,
    #[error("A percentage coupon takes off between 1% and 99%.")]
    PercentOutOfRange,
    #[error("The minimum spend cannot be negative.")]
    NegativeMinimum,
}

impl CouponTerms {
    pub fn new(value: CouponValue, min_spend: Fen) -> Result<CouponTerms, CouponError> {
        match value {
            CouponValue::AmountOff(off) if off.0 < 1 => return Err(CouponError::NothingOff),
            CouponValue::PercentOff(p) if !(1..=99).contains(&p) => {
                return Err(CouponError::PercentOutOfRange)
            }
            _ => {}
        }
        if min_spend.0 < 0 {
            return Err(CouponError::NegativeMinimum);
        }
        Ok(CouponTerms { value, min_spend })
    }

    pub fn value(&self) -> CouponValue {
        self.value
    }

    pub fn min_spend(&self) -> Fen {
        self.min_spend
    }
}

/// What a coupon does to an amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CouponOutcome {
    /// The amount is below the minimum spend: the coupon stays unused.
    BelowMinimum { missing: Fen },
    /// Applied: what it took off, and what is left to pay.
    Applied { off: Fen, paid: Fen },
}

/// The coupon applied to `after_invite` (the amount once the invite discount is taken).
pub fn apply(terms: &CouponTerms, after_invite: Fen) -> CouponOutcome {
    let amount = after_invite.0.max(0);
    if amount < terms.min_spend.0 {
        return CouponOutcome::BelowMinimum {
            missing: Fen(terms.min_spend.0 - amount),
        };
    }
    let wanted = match terms.value {
        CouponValue::AmountOff(off) => off.0,
        CouponValue::PercentOff(p) => ((i128::from(amount) * i128::from(p)) / 100) as i64,
    };
    // Never below ¥0.01 for something that costs anything; nothing off a free order.
    let floor = amount.min(1);
    let off = wanted.clamp(0, amount - floor);
    CouponOutcome::Applied {
        off: Fen(off),
        paid: Fen(amount - off),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::discount::discount_per_unit;
    use proptest::prelude::*;

    fn terms(value: CouponValue, min: i64) -> CouponTerms {
        CouponTerms::new(value, Fen(min)).expect("terms")
    }

    #[test]
    fn the_invite_first_then_the_coupon_on_what_is_left() {
        // ¥199.00 at 50% off through an invite: ¥99.50 left; ¥20 off that: ¥79.50.
        let price = Fen(19_900);
        let after_invite = Fen(price.0 - discount_per_unit(price, 50).0);
        assert_eq!(after_invite, Fen(9_950));
        let t = terms(CouponValue::AmountOff(Fen(2_000)), 5_000);
        assert_eq!(
            apply(&t, after_invite),
            CouponOutcome::Applied {
                off: Fen(2_000),
                paid: Fen(7_950)
            }
        );
        // 10% of ¥99.50 is ¥9.95.
        let t = terms(CouponValue::PercentOff(10), 0);
        assert_eq!(
            apply(&t, after_invite),
            CouponOutcome::Applied {
                off: Fen(995),
                paid: Fen(8_955)
            }
        );
    }

    #[test]
    fn never_below_one_fen_and_the_minimum_is_read_after_the_invite() {
        let t = terms(CouponValue::AmountOff(Fen(5_000)), 0);
        assert_eq!(
            apply(&t, Fen(3_000)),
            CouponOutcome::Applied {
                off: Fen(2_999),
                paid: Fen(1)
            }
        );
        assert_eq!(
            apply(&t, Fen(0)),
            CouponOutcome::Applied {
                off: Fen(0),
                paid: Fen(0)
            }
        );
        // ¥100 minimum: ¥150 at 50% off is ¥75 spent, below it.
        let t = terms(CouponValue::AmountOff(Fen(1_000)), 10_000);
        assert_eq!(
            apply(&t, Fen(7_500)),
            CouponOutcome::BelowMinimum {
                missing: Fen(2_500)
            }
        );
    }

    #[test]
    fn terms_are_checked() {
        assert_eq!(
            CouponTerms::new(CouponValue::AmountOff(Fen(0)), Fen(0)),
            Err(CouponError::NothingOff)
        );
        assert_eq!(
            CouponTerms::new(CouponValue::PercentOff(100), Fen(0)),
            Err(CouponError::PercentOutOfRange)
        );
        assert_eq!(
            CouponTerms::new(CouponValue::PercentOff(0), Fen(0)),
            Err(CouponError::PercentOutOfRange)
        );
        assert_eq!(
            CouponTerms::new(CouponValue::PercentOff(10), Fen(-1)),
            Err(CouponError::NegativeMinimum)
        );
    }

    fn any_terms() -> impl Strategy<Value = CouponTerms> {
        let value = prop_oneof![
            (1i64..10_000_000).prop_map(|f| CouponValue::AmountOff(Fen(f))),
            (1u8..=99).prop_map(CouponValue::PercentOff),
        ];
        (value, 0i64..1_000_000).prop_map(|(v, m)| terms(v, m))
    }

    proptest! {
        /// Whatever the price, invite share and coupon: the invite applies first, the coupon
        /// takes no more than it says and no more than is left, the shopper pays at least
        /// ¥0.01 for anything that costs something, and the amounts add up.
        #[test]
        fn a_coupon_never_takes_more_than_it_says_or_than_is_left(
            price in 0i64..100_000_000,
            invite_percent in prop_oneof![Just(0u8), Just(50u8), 0u8..=100],
            t in any_terms(),
        ) {
            let after_invite = Fen(price - discount_per_unit(Fen(price), invite_percent).0);
            prop_assert!(after_invite.0 >= 0 && after_invite.0 <= price);
            match apply(&t, after_invite) {
                CouponOutcome::BelowMinimum { missing } => {
                    prop_assert!(after_invite.0 < t.min_spend().0);
                    prop_assert_eq!(missing.0, t.min_spend().0 - after_invite.0);
                }
                CouponOutcome::Applied { off, paid } => {
                    prop_assert!(after_invite.0 >= t.min_spend().0);
                    prop_assert_eq!(off.0 + paid.0, after_invite.0);
                    prop_assert!(off.0 >= 0);
                    if after_invite.0 > 0 {
                        prop_assert!(paid.0 >= 1, "below ¥0.01");
                    }
                    let says = match t.value() {
                        CouponValue::AmountOff(f) => f.0,
                        CouponValue::PercentOff(p) => after_invite.0 * i64::from(p) / 100,
                    };
                    prop_assert!(off.0 <= says);
                    // It takes all it says unless the ¥0.01 floor stops it.
                    if off.0 < says {
                        prop_assert_eq!(paid.0, after_invite.0.min(1));
                    }
                }
            }
        }
    }
}
