//! Texts the server writes into its answers for people (not errors: those are translated at
//! the API boundary), in the caller's language (`request::locale`).

use crate::{
    domain::discount::Eligibility,
    i18n::{text, text_f, text_p, Locale, K},
};

/// Why the shopper has (or has not yet) the discount: "50% off: 2 friends joined through
/// your invite".
pub fn eligibility(e: &Eligibility, locale: Locale) -> String {
    match e {
        Eligibility::JoinedThroughInvite {
            inviter, percent, ..
        } => text_f(
            locale,
            K::server_discount_joined,
            &[("percent", &percent.to_string()), ("inviter", inviter)],
        ),
        Eligibility::FriendsJoined {
            friends, percent, ..
        } => text_p(
            locale,
            K::server_discount_friends,
            i64::from(*friends),
            &[("percent", &percent.to_string())],
        ),
        Eligibility::NotReserved => text(locale, K::server_discount_not_reserved).to_string(),
        Eligibility::NeedsPhone { percent } => text_f(
            locale,
            K::server_discount_needs_phone,
            &[("percent", &percent.to_string())],
        ),
        Eligibility::NeedsFriends {
            joined,
            needed,
            percent,
        } => text_p(
            locale,
            K::server_discount_needs_friends,
            i64::from(needed.saturating_sub(*joined)),
            &[("percent", &percent.to_string())],
        ),
    }
}

/// An order as the caller reads it: each line's discount rule (written in English by
/// `domain::discount::rule_text`) in `locale`.
pub fn order(mut order: crate::model::OrderView, locale: Locale) -> crate::model::OrderView {
    if locale != Locale::En {
        for line in &mut order.lines {
            if let Some(t) = crate::i18n::translate_from("server_rule_", locale, &line.rule) {
                line.rule = t;
            }
        }
    }
    order
}

/// A payment provider's name for shoppers (`PaymentProvider::label`, in English), in
/// `locale`.
pub fn payment_label(english: &str, locale: Locale) -> String {
    let key = match english {
        "WeChat Pay" => K::server_payment_wechat,
        "Demo payment: no money is charged" => K::server_payment_demo,
        other => return other.to_string(),
    };
    text(locale, key).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// In English, the same words as `Eligibility`'s `Display` (logs, tests).
    #[test]
    fn english_reads_as_display() {
        let cases = [
            Eligibility::NotReserved,
            Eligibility::NeedsPhone { percent: 50 },
            Eligibility::NeedsFriends {
                joined: 0,
                needed: 1,
                percent: 50,
            },
            Eligibility::NeedsFriends {
                joined: 1,
                needed: 3,
                percent: 30,
            },
        ];
        for e in cases {
            assert_eq!(eligibility(&e, Locale::En), e.to_string());
            assert_ne!(eligibility(&e, Locale::ZhCn), e.to_string());
        }
        // Every rule text has its entry.
        for code in [
            "joined_through_invite",
            "friends_joined",
            "not_reserved",
            "needs_phone",
            "needs_friends",
            "not_presented",
            "discount_used",
            "prize",
            "other",
        ] {
            let english = crate::domain::discount::rule_text(code, 50);
            let zh = crate::i18n::translate_from("server_rule_", Locale::ZhCn, &english);
            assert!(zh.is_some_and(|z| z != english), "{code}");
        }
        // Every provider's label has its entry.
        for label in ["WeChat Pay", "Demo payment: no money is charged"] {
            assert_eq!(payment_label(label, Locale::En), label);
            assert_ne!(payment_label(label, Locale::ZhCn), label);
        }
    }
}
