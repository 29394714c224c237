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
    #[error("A coupon takes off at most ¥100000.")]
    AmountTooLarge,
    #[error("The minimum spend can be at most ¥100000.")]
    MinimumTooLarge,
    #[error("A coupon's quota is between 1 and 1000000.")]
    QuotaOutOfRange,
    #[error("A coupon is valid for 1 to 1440 minutes.")]
    MinutesOutOfRange,
}

/// The largest amount a coupon takes off, and the largest minimum spend: ¥100,000.
pub const MAX_AMOUNT: Fen = Fen(10_000_000);
/// Coupons one drop hands out, at most.
pub const MAX_QUOTA: i64 = 1_000_000;
/// How long a dropped coupon may be valid, at most: a day.
pub const MAX_MINUTES: i64 = 1440;

/// A coupon as the studio's form sends it: `value` is fen off, or percent off with `percent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CouponForm {
    pub percent: bool,
    pub value: i64,
    pub min_spend_fen: i64,
    pub quota: i64,
    pub minutes: i64,
}

/// A coupon to drop, checked: its terms, how many may claim it and for how long it is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CouponDrop {
    pub terms: CouponTerms,
    pub quota: i64,
    pub minutes: i64,
}

impl CouponDrop {
    pub fn parse(form: &CouponForm) -> Result<CouponDrop, CouponError> {
        let value = if form.percent {
            CouponValue::PercentOff(
                u8::try_from(form.value).map_err(|_| CouponError::PercentOutOfRange)?,
            )
        } else {
            if form.value > MAX_AMOUNT.0 {
                return Err(CouponError::AmountTooLarge);
            }
            CouponValue::AmountOff(Fen(form.value))
        };
        if form.min_spend_fen > MAX_AMOUNT.0 {
            return Err(CouponError::MinimumTooLarge);
        }
        let terms = CouponTerms::new(value, Fen(form.min_spend_fen))?;
        if !(1..=MAX_QUOTA).contains(&form.quota) {
            return Err(CouponError::QuotaOutOfRange);
        }
        if !(1..=MAX_MINUTES).contains(&form.minutes) {
            return Err(CouponError::MinutesOutOfRange);
        }
        Ok(CouponDrop {
            terms,
            quota: form.quota,
            minutes: form.minutes,
        })
    }
}

/// The coupon that takes the most off `after_invite` among those a shopper holds (`None`:
/// none applies, each below its minimum spend). Ties go to the first.
pub fn best<T: Copy>(held: &[(T, CouponTerms)], after_invite: Fen) -> Option<(T, Fen)> {
    let mut found: Option<(T, Fen)> = None;
    for (id, terms) in held {
        if let CouponOutcome::Applied { off, .. } = apply(terms, after_invite) {
            if off.0 > 0 && found.is_none_or(|(_, best)| off > best) {
                found = Some((*id, off));
            }
        }
    }
    found
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

    #[test]
    fn a_drop_is_checked() {
        let form = CouponForm {
            percent: false,
            value: 1_000,
            min_spend_fen: 5_000,
            quota: 1_000,
            minutes: 10,
        };
        let d = CouponDrop::parse(&form).expect("valid");
        assert_eq!(d.terms.value(), CouponValue::AmountOff(Fen(1_000)));
        assert_eq!((d.quota, d.minutes), (1_000, 10));
        let bad = |f: CouponForm| CouponDrop::parse(&f).expect_err("refused");
        assert_eq!(
            bad(CouponForm {
                quota: 0,
                ..form.clone()
            }),
            CouponError::QuotaOutOfRange
        );
        assert_eq!(
            bad(CouponForm {
                quota: MAX_QUOTA + 1,
                ..form.clone()
            }),
            CouponError::QuotaOutOfRange
        );
        assert_eq!(
            bad(CouponForm {
                minutes: 0,
                ..form.clone()
            }),
            CouponError::MinutesOutOfRange
        );
        assert_eq!(
            bad(CouponForm {
                minutes: 1441,
                ..form.clone()
            }),
            CouponError::MinutesOutOfRange
        );
        assert_eq!(
            bad(CouponForm {
                value: 0,
                ..form.clone()
            }),
            CouponError::NothingOff
        );
        assert_eq!(
            bad(CouponForm {
                value: MAX_AMOUNT.0 + 1,
                ..form.clone()
            }),
            CouponError::AmountTooLarge
        );
        assert_eq!(
            bad(CouponForm {
                percent: true,
                value: 300,
                ..form.clone()
            }),
            CouponError::PercentOutOfRange
        );
        assert_eq!(
            bad(CouponForm {
                min_spend_fen: -1,
                ..form.clone()
            }),
            CouponError::NegativeMinimum
        );
        let pct = CouponDrop::parse(&CouponForm {
            percent: true,
            value: 15,
            ..form
        })
        .expect("ok");
        assert_eq!(pct.terms.value(), CouponValue::PercentOff(15));
    }

    #[test]
    fn the_best_coupon_held_applies() {
        let ten = terms(CouponValue::AmountOff(Fen(1_000)), 0);
        let pct = terms(CouponValue::PercentOff(20), 0);
        let big_min = terms(CouponValue::AmountOff(Fen(5_000)), 100_000);
        let held = [(1, ten), (2, pct), (3, big_min)];
        // 20% of ¥99.50 (¥19.90) beats ¥10; the ¥50 coupon needs ¥1000 spent.
        assert_eq!(best(&held, Fen(9_950)), Some((2, Fen(1_990))));
        // 20% of ¥30 is ¥6: ¥10 wins.
        assert_eq!(best(&held, Fen(3_000)), Some((1, Fen(1_000))));
        assert_eq!(best(&held[2..], Fen(3_000)), None);
        assert_eq!(best::<i64>(&[], Fen(3_000)), None);
        // Nothing off a free order: no coupon is used on it.
        assert_eq!(best(&held, Fen(0)), None);
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
