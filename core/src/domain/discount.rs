//! Discount eligibility and pricing: pure functions over stored facts.
//!
//! The rule, per session policy (defaults in [`DiscountPolicy::default`]):
//! - a shopper who joined the session through a friend's invite is eligible;
//! - a shopper whose invite brought at least `friends_needed` friends is eligible; a friend
//!   counts only if they were new to the session when they joined through the invite (the
//!   repository never attributes a shopper who had already reserved);
//! - with `verified_phone_required`, a shopper must have verified a mobile number, and only
//!   friends who verified one count (one number is one shopper, so fresh cookies make no new
//!   people);
//! - the discount applies only to products the host has presented during the live session,
//!   to at most `units_per_shopper` units per shopper per product, and (optionally) to at most
//!   `units_cap` discounted units per product in total.
//!
//! Rounding: the discount per unit is `price * percent / 100` rounded down to the fen, so the
//! shopper pays the rest (50% of ¥49.99 = ¥24.99 off, ¥25.00 to pay).

use serde::{Deserialize, Serialize};

use crate::domain::money::Fen;

/// A stored count (a database `BIGINT`, never negative) as the rules take it: below zero is
/// zero, past `u32` saturates.
pub fn count(stored: i64) -> u32 {
    u32::try_from(stored.max(0)).unwrap_or(u32::MAX)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscountPolicy {
    /// 1..=100
    pub percent_off: u8,
    /// Friends who must join through a shopper's invite to unlock the inviter's discount (>= 1).
    pub friends_needed: u32,
    /// Discounted units per shopper per product.
    pub units_per_shopper: u32,
    /// Discounted units per product across all shoppers; `None` = unlimited.
    pub units_cap: Option<u32>,
    /// Units (discounted or not) one shopper may buy of one product.
    pub purchase_limit: u32,
    /// The discount needs a verified mobile number (the shopper's, and each counted friend's).
    pub verified_phone_required: bool,
}

impl Default for DiscountPolicy {
    fn default() -> Self {
        DiscountPolicy {
            percent_off: 50,
            friends_needed: 1,
            units_per_shopper: 1,
            units_cap: None,
            purchase_limit: 5,
            verified_phone_required: false,
        }
    }
}

/// What we know about a shopper in a session, loaded from the database.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShopperFacts {
    pub reserved: bool,
    /// Set when the shopper joined through someone's invite: (invite id, inviter's nickname).
    pub joined_via: Option<(i64, String)>,
    /// The shopper's own invite, if they created one.
    pub own_invite: Option<i64>,
    /// Friends who joined through the shopper's own invite.
    pub friends_joined: u32,
    /// Of those, the friends with a verified mobile number.
    pub verified_friends: u32,
    /// The shopper has verified a mobile number.
    pub phone_verified: bool,
}

/// Why a shopper is (or is not) eligible. `Display` is the explanation shown in the UI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Eligibility {
    JoinedThroughInvite {
        invite_id: i64,
        inviter: String,
        percent: u8,
    },
    FriendsJoined {
        invite_id: i64,
        friends: u32,
        percent: u8,
    },
    NotReserved,
    /// The session's discount needs a verified mobile number first.
    NeedsPhone {
        percent: u8,
    },
    NeedsFriends {
        joined: u32,
        needed: u32,
        percent: u8,
    },
}

impl Eligibility {
    pub fn is_eligible(&self) -> bool {
        matches!(
            self,
            Eligibility::JoinedThroughInvite { .. } | Eligibility::FriendsJoined { .. }
        )
    }

    /// The invite that earned the discount (recorded in the ledger).
    pub fn invite_id(&self) -> Option<i64> {
        match self {
            Eligibility::JoinedThroughInvite { invite_id, .. }
            | Eligibility::FriendsJoined { invite_id, .. } => Some(*invite_id),
            _ => None,
        }
    }

    /// A stable code for the ledger's `rule` column.
    pub fn rule_code(&self) -> &'static str {
        match self {
            Eligibility::JoinedThroughInvite { .. } => "joined_through_invite",
            Eligibility::FriendsJoined { .. } => "friends_joined",
            Eligibility::NotReserved => "not_reserved",
            Eligibility::NeedsPhone { .. } => "needs_phone",
            Eligibility::NeedsFriends { .. } => "needs_friends",
        }
    }
}

impl std::fmt::Display for Eligibility {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Eligibility::JoinedThroughInvite {
                inviter, percent, ..
            } => {
                write!(f, "{percent}% off: you joined through {inviter}'s invite")
            }
            Eligibility::FriendsJoined {
                friends, percent, ..
            } => {
                let s = if *friends == 1 { "" } else { "s" };
                write!(
                    f,
                    "{percent}% off: {friends} friend{s} joined through your invite"
                )
            }
            Eligibility::NotReserved => {
                write!(f, "Reserve and invite a friend to unlock the discount")
            }
            Eligibility::NeedsPhone { percent } => {
                write!(f, "Verify your mobile number to unlock {percent}% off")
            }
            Eligibility::NeedsFriends {
                joined,
                needed,
                percent,
            } => {
                let left = needed.saturating_sub(*joined);
                let s = if left == 1 { "" } else { "s" };
                write!(f, "Invite {left} more friend{s} to unlock {percent}% off")
            }
        }
    }
}

/// Decides eligibility from facts. Joining through an invite takes precedence (it is recorded
/// first); an inviter qualifies once enough friends joined.
pub fn eligibility(policy: &DiscountPolicy, facts: &ShopperFacts) -> Eligibility {
    if !facts.reserved {
        return Eligibility::NotReserved;
    }
    let percent = policy.percent_off;
    if policy.verified_phone_required && !facts.phone_verified {
        return Eligibility::NeedsPhone { percent };
    }
    // Which friends count: with verified numbers required, only verified ones.
    let friends = if policy.verified_phone_required {
        facts.verified_friends
    } else {
        facts.friends_joined
    };
    if let Some((invite_id, inviter)) = &facts.joined_via {
        return Eligibility::JoinedThroughInvite {
            invite_id: *invite_id,
            inviter: inviter.clone(),
            percent,
        };
    }
    match facts.own_invite {
        Some(invite_id) if friends >= policy.friends_needed.max(1) => Eligibility::FriendsJoined {
            invite_id,
            friends,
            percent,
        },
        _ => Eligibility::NeedsFriends {
            joined: friends,
            needed: policy.friends_needed.max(1),
            percent,
        },
    }
}

/// A product's facts at the moment of purchase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProductFacts {
    pub price: Fen,
    pub presented: bool,
    /// Discounted units already sold of this product (all shoppers).
    pub discounted_so_far: u32,
}

/// The priced line of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineQuote {
    pub quantity: u32,
    pub unit_price: Fen,
    pub discounted_units: u32,
    pub discount_per_unit: Fen,
    pub full_amount: Fen,
    pub discount: Fen,
    pub paid: Fen,
}

/// The discount per unit: `price * percent / 100`, rounded down to the fen.
pub fn discount_per_unit(price: Fen, percent: u8) -> Fen {
    let percent = i64::from(percent.min(100));
    // i128 so that no price can overflow the intermediate product.
    Fen(((i128::from(price.0.max(0)) * i128::from(percent)) / 100) as i64)
}

/// Prices `quantity` units for a shopper who already has `shopper_discounted` discounted units
/// of this product. Returns `None` only if the amounts overflow (a quantity the caller should
/// have refused).
pub fn quote_line(
    policy: &DiscountPolicy,
    eligibility: &Eligibility,
    product: &ProductFacts,
    shopper_discounted: u32,
    quantity: u32,
) -> Option<LineQuote> {
    let discounted_units = if eligibility.is_eligible() && product.presented {
        let shopper_left = policy.units_per_shopper.saturating_sub(shopper_discounted);
        let cap_left = policy.units_cap.map_or(u32::MAX, |cap| {
            cap.saturating_sub(product.discounted_so_far)
        });
        quantity.min(shopper_left).min(cap_left)
    } else {
        0
    };
    let per_unit = if discounted_units > 0 {
        discount_per_unit(product.price, policy.percent_off)
    } else {
        Fen::ZERO
    };
    let full_amount = product.price.checked_mul(i64::from(quantity))?;
    let discount = per_unit.checked_mul(i64::from(discounted_units))?;
    Some(LineQuote {
        quantity,
        unit_price: product.price,
        discounted_units,
        discount_per_unit: per_unit,
        full_amount,
        discount,
        paid: Fen(full_amount.0 - discount.0),
    })
}

/// What every viewer of a live room is told about a product's price when it is presented or
/// repriced: the public price, the price of a discounted unit and the rule. Each viewer works
/// out its own price from its own eligibility ([`viewer_price`]), so an event costs no request
/// per viewer; the server prices the order again at checkout ([`quote_line`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LivePrice {
    pub price: Fen,
    pub discounted_price: Fen,
    pub percent_off: u8,
    pub units_per_shopper: u32,
}

impl LivePrice {
    pub fn new(price: Fen, policy: &DiscountPolicy) -> LivePrice {
        LivePrice {
            price,
            discounted_price: Fen(price.0 - discount_per_unit(price, policy.percent_off).0),
            percent_off: policy.percent_off,
            units_per_shopper: policy.units_per_shopper,
        }
    }
}

/// A viewer's own price for a presented product, worked out in the browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewerPrice {
    /// The next unit's price.
    pub your_price: Fen,
    /// How many of the units this viewer may still buy are discounted.
    pub discounted_units_left: u32,
    pub discount_per_unit: Fen,
}

/// [`quote_line`]'s arithmetic from what a viewer knows: whether it is eligible, how many
/// discounted units of the product it bought, how many units in all, and the purchase limit.
/// (A total cap on discounted units is the server's to apply; the pay sheet shows the
/// server's price before anyone pays.)
pub fn viewer_price(
    live: &LivePrice,
    eligible: bool,
    discounted_bought: u32,
    bought: u32,
    purchase_limit: u32,
) -> ViewerPrice {
    let allowance = purchase_limit.saturating_sub(bought).max(1);
    let left = if eligible {
        live.units_per_shopper
            .saturating_sub(discounted_bought)
            .min(allowance)
    } else {
        0
    };
    let per_unit = Fen(live.price.0 - live.discounted_price.0);
    ViewerPrice {
        your_price: if left > 0 {
            live.discounted_price
        } else {
            live.price
        },
        discounted_units_left: left,
        discount_per_unit: if left > 0 { per_unit } else { Fen::ZERO },
    }
}

/// The ledger's rule code for a priced line.
pub fn line_rule(eligibility: &Eligibility, presented: bool, quote: &LineQuote) -> &'static str {
    if !eligibility.is_eligible() {
        eligibility.rule_code()
    } else if !presented {
        "not_presented"
    } else if quote.discounted_units == 0 {
        "discount_used"
    } else {
        eligibility.rule_code()
    }
}

/// A ledger rule code as shoppers read it on their orders.
pub fn rule_text(code: &str, percent: i64) -> String {
    match code {
        "joined_through_invite" => format!("{percent}% off: joined through a friend's invite"),
        "friends_joined" => format!("{percent}% off: friends joined through your invite"),
        "not_reserved" => "Full price: no reservation".to_string(),
        "needs_phone" => "Full price: the discount needs a verified mobile number".to_string(),
        "needs_friends" => {
            "Full price: the discount needs a friend to join through your invite".to_string()
        }
        "not_presented" => "Full price: not presented in the live session".to_string(),
        "discount_used" => "Full price: discount already used for this product".to_string(),
        "prize" => "Prize: won in a lucky draw".to_string(),
        _ => "Full price".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn friend() -> ShopperFacts {
        ShopperFacts {
            reserved: true,
            joined_via: Some((7, "Lin".into())),
            own_invite: None,
            friends_joined: 0,
            verified_friends: 0,
            phone_verified: false,
        }
    }

    #[test]
    fn friend_who_joined_through_an_invite_is_eligible() {
        let e = eligibility(&DiscountPolicy::default(), &friend());
        assert!(e.is_eligible());
        assert_eq!(e.invite_id(), Some(7));
        assert_eq!(e.to_string(), "50% off: you joined through Lin's invite");
    }

    #[test]
    fn inviter_unlocks_with_enough_friends() {
        let p = DiscountPolicy {
            friends_needed: 2,
            ..DiscountPolicy::default()
        };
        let mut f = ShopperFacts {
            reserved: true,
            joined_via: None,
            own_invite: Some(3),
            friends_joined: 1,
            verified_friends: 0,
            phone_verified: false,
        };
        assert_eq!(
            eligibility(&p, &f).to_string(),
            "Invite 1 more friend to unlock 50% off"
        );
        f.friends_joined = 2;
        let e = eligibility(&p, &f);
        assert!(e.is_eligible());
        assert_eq!(
            e.to_string(),
            "50% off: 2 friends joined through your invite"
        );
    }

    #[test]
    fn verified_numbers_gate_the_discount_and_the_friends_that_count() {
        let p = DiscountPolicy {
            verified_phone_required: true,
            ..DiscountPolicy::default()
        };
        // A friend who joined through an invite still needs a verified number.
        let e = eligibility(&p, &friend());
        assert_eq!(e, Eligibility::NeedsPhone { percent: 50 });
        assert_eq!(e.to_string(), "Verify your mobile number to unlock 50% off");
        let verified = ShopperFacts {
            phone_verified: true,
            ..friend()
        };
        assert!(eligibility(&p, &verified).is_eligible());
        // An inviter whose only friend is unverified (a fresh identity of their own, say).
        let mut inviter = ShopperFacts {
            reserved: true,
            joined_via: None,
            own_invite: Some(3),
            friends_joined: 1,
            verified_friends: 0,
            phone_verified: true,
        };
        assert!(!eligibility(&p, &inviter).is_eligible());
        inviter.verified_friends = 1;
        assert!(eligibility(&p, &inviter).is_eligible());
        // Without the requirement every friend counts, verified or not.
        assert!(eligibility(
            &DiscountPolicy::default(),
            &ShopperFacts {
                verified_friends: 0,
                ..inviter
            }
        )
        .is_eligible());
    }

    #[test]
    fn not_reserved_is_never_eligible() {
        let f = ShopperFacts {
            reserved: false,
            ..friend()
        };
        assert_eq!(
            eligibility(&DiscountPolicy::default(), &f),
            Eligibility::NotReserved
        );
    }

    #[test]
    fn half_price_rounds_the_discount_down() {
        assert_eq!(discount_per_unit(Fen(4999), 50), Fen(2499));
        assert_eq!(discount_per_unit(Fen(12_900), 50), Fen(6450));
        assert_eq!(discount_per_unit(Fen(i64::MAX), 100), Fen(i64::MAX));
    }

    #[test]
    fn one_discounted_unit_per_shopper_then_full_price() {
        let p = DiscountPolicy::default();
        let e = eligibility(&p, &friend());
        let prod = ProductFacts {
            price: Fen(10_000),
            presented: true,
            discounted_so_far: 0,
        };
        let q = quote_line(&p, &e, &prod, 0, 3).expect("no overflow");
        assert_eq!(
            (q.discounted_units, q.discount, q.paid),
            (1, Fen(5_000), Fen(25_000))
        );
        let q2 = quote_line(&p, &e, &prod, 1, 1).expect("no overflow");
        assert_eq!((q2.discounted_units, q2.paid), (0, Fen(10_000)));
    }

    #[test]
    fn unpresented_products_and_exhausted_caps_are_full_price() {
        let p = DiscountPolicy {
            units_cap: Some(10),
            ..DiscountPolicy::default()
        };
        let e = eligibility(&p, &friend());
        let unpresented = ProductFacts {
            price: Fen(100),
            presented: false,
            discounted_so_far: 0,
        };
        assert_eq!(
            quote_line(&p, &e, &unpresented, 0, 1)
                .expect("ok")
                .discounted_units,
            0
        );
        let capped = ProductFacts {
            price: Fen(100),
            presented: true,
            discounted_so_far: 10,
        };
        assert_eq!(
            quote_line(&p, &e, &capped, 0, 1)
                .expect("ok")
                .discounted_units,
            0
        );
    }

    fn arb_policy() -> impl Strategy<Value = DiscountPolicy> {
        (
            1u8..=100,
            1u32..5,
            0u32..4,
            proptest::option::of(0u32..50),
            1u32..10,
            any::<bool>(),
        )
            .prop_map(
                |(
                    percent_off,
                    friends_needed,
                    units_per_shopper,
                    units_cap,
                    purchase_limit,
                    verified_phone_required,
                )| {
                    DiscountPolicy {
                        percent_off,
                        friends_needed,
                        units_per_shopper,
                        units_cap,
                        purchase_limit,
                        verified_phone_required,
                    }
                },
            )
    }

    fn arb_facts() -> impl Strategy<Value = ShopperFacts> {
        (
            any::<bool>(),
            proptest::option::of(1i64..100),
            proptest::option::of(1i64..100),
            0u32..6,
            0u32..6,
            any::<bool>(),
        )
            .prop_map(|(reserved, via, own, friends, verified, phone_verified)| {
                ShopperFacts {
                    reserved,
                    joined_via: via.map(|id| (id, "friend".to_string())),
                    own_invite: own,
                    friends_joined: friends,
                    verified_friends: verified.min(friends),
                    phone_verified,
                }
            })
    }

    proptest! {
        #[test]
        fn eligible_only_when_reserved_and_invited_or_enough_friends(p in arb_policy(), f in arb_facts()) {
            let e = eligibility(&p, &f);
            let counted = if p.verified_phone_required { f.verified_friends } else { f.friends_joined };
            let expected = f.reserved
                && (f.phone_verified || !p.verified_phone_required)
                && (f.joined_via.is_some() || (f.own_invite.is_some() && counted >= p.friends_needed));
            prop_assert_eq!(e.is_eligible(), expected);
            prop_assert_eq!(e.invite_id().is_some(), expected);
        }

        #[test]
        fn quotes_are_consistent(
            p in arb_policy(), f in arb_facts(),
            price in 1i64..10_000_000, presented in any::<bool>(),
            so_far in 0u32..60, used in 0u32..5, qty in 1u32..100,
        ) {
            let e = eligibility(&p, &f);
            let prod = ProductFacts { price: Fen(price), presented, discounted_so_far: so_far };
            let q = quote_line(&p, &e, &prod, used, qty).expect("small values never overflow");
            // amounts add up and nobody pays less than zero or more than full price
            prop_assert_eq!(q.full_amount.0, price * i64::from(qty));
            prop_assert_eq!(q.paid.0 + q.discount.0, q.full_amount.0);
            prop_assert!(q.paid.0 >= 0 && q.discount.0 >= 0);
            // never more discounted units than bought, than the shopper's allowance, or the cap
            prop_assert!(q.discounted_units <= qty);
            prop_assert!(used + q.discounted_units <= p.units_per_shopper.max(used));
            if let Some(cap) = p.units_cap {
                prop_assert!(so_far + q.discounted_units <= cap.max(so_far));
            }
            // no discount without eligibility and presentation
            if !(e.is_eligible() && presented) {
                prop_assert_eq!(q.discounted_units, 0);
                prop_assert_eq!(q.paid.0, q.full_amount.0);
            }
            // each discounted unit gets exactly percent of the price, rounded down
            prop_assert_eq!(q.discount.0, i64::from(q.discounted_units) * (price * i64::from(p.percent_off) / 100));
        }

        /// The price a viewer works out from a live event is the server's quote (no total
        /// cap): for the next unit, and for every unit it may still buy.
        #[test]
        fn viewers_work_out_the_servers_price(
            p in arb_policy(), f in arb_facts(),
            price in 1i64..10_000_000, used in 0u32..5, bought in 0u32..8,
        ) {
            let p = DiscountPolicy { units_cap: None, ..p };
            let e = eligibility(&p, &f);
            let live = LivePrice::new(Fen(price), &p);
            let mine = viewer_price(&live, e.is_eligible(), used, bought, p.purchase_limit);
            let prod = ProductFacts { price: Fen(price), presented: true, discounted_so_far: 0 };
            let next = quote_line(&p, &e, &prod, used, 1).expect("quote");
            prop_assert_eq!(mine.your_price, next.paid);
            let allowance = p.purchase_limit.saturating_sub(bought).max(1);
            let all = quote_line(&p, &e, &prod, used, allowance).expect("quote");
            prop_assert_eq!(mine.discounted_units_left, all.discounted_units);
            prop_assert_eq!(mine.discount_per_unit, all.discount_per_unit);
        }
    }
}
