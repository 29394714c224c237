//! The pay sheet's rules, pure: what the open sheet shows and allows, derived from the prices
//! the shopper agreed to, the offer now, the chosen quantity and variant, and what the server
//! answered. No signals and no browser: unit-tested below; the view (`super`) only shows it.

use crate::{
    domain::money::Fen,
    error::AppError,
    i18n::{t, tf, tp, K},
    model::{OrderStatus, OrderView, ProductId, ProductOffer, SessionStatus, VariantView},
};

/// The prices a shopper has seen and accepted in the pay sheet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgreedPrice {
    pub price: Fen,
    pub discounted_units_left: i64,
    pub discount_per_unit: Fen,
}

impl AgreedPrice {
    pub fn of(offer: &ProductOffer) -> AgreedPrice {
        AgreedPrice {
            price: offer.price,
            discounted_units_left: offer.discounted_units_left,
            discount_per_unit: offer.discount_per_unit,
        }
    }

    /// The total for `quantity` units at these prices (the server's own rule, see
    /// [`ProductOffer::total`]).
    pub fn total(&self, quantity: i64) -> Fen {
        self.as_offer().total(quantity)
    }

    fn as_offer(&self) -> ProductOffer {
        ProductOffer {
            product_id: ProductId(0),
            presented: true,
            explaining_now: false,
            stock: 0,
            price: self.price,
            your_price: self.price,
            discounted: self.discounted_units_left > 0,
            bought_units: 0,
            discounted_units_left: self.discounted_units_left,
            discount_per_unit: self.discount_per_unit,
            discounted_bought: 0,
        }
    }
}

/// Something the sheet tells the shopper about the product while it is open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SheetNote {
    /// The session is not live (it ended while the sheet was open): buying is closed.
    Closed,
    SoldOut,
    /// Fewer units left than the chosen quantity.
    OnlyLeft(i64),
    /// This shopper already bought as many as the session allows.
    LimitReached,
    /// The host moved on to another product; this one can still be bought.
    NoLongerPresented,
}

impl std::fmt::Display for SheetNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SheetNote::Closed => f.write_str(&t(K::live_pay_closed)),
            SheetNote::SoldOut => f.write_str(&t(K::live_pay_sold_out_while_choosing)),
            SheetNote::OnlyLeft(n) => f.write_str(&tp(K::live_pay_only_left, *n, &[])),
            SheetNote::LimitReached => f.write_str(&t(K::live_pay_limit_reached)),
            SheetNote::NoLongerPresented => f.write_str(&t(K::live_pay_no_longer_presented)),
        }
    }
}

/// Everything the open sheet shows, derived from what the shopper agreed to and the offer now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetModel {
    /// The total at the agreed prices: what Pay sends and charges.
    pub total: Fen,
    /// The total at the current prices, when it differs from `total`: the shopper must accept
    /// it before paying.
    pub new_total: Option<Fen>,
    pub notes: Vec<SheetNote>,
    /// The most units the stepper allows (at least 1 so the stepper stays usable).
    pub max_quantity: i64,
    pub can_pay: bool,
}

/// Derives the sheet from the agreed prices, the current offer (`None` when the product is
/// gone from the viewer's state), the chosen quantity and the session's state.
pub fn sheet_model(
    agreed: AgreedPrice,
    offer: Option<&ProductOffer>,
    quantity: i64,
    purchase_limit: i64,
    status: SessionStatus,
    opened_while_explaining: bool,
) -> SheetModel {
    let total = agreed.total(quantity);
    let mut notes = Vec::new();
    if status != SessionStatus::Live {
        notes.push(SheetNote::Closed);
    }
    let Some(offer) = offer else {
        if notes.is_empty() {
            notes.push(SheetNote::SoldOut);
        }
        return SheetModel {
            total,
            new_total: None,
            notes,
            max_quantity: 1,
            can_pay: false,
        };
    };
    let allowance = purchase_limit - offer.bought_units;
    if offer.stock <= 0 {
        notes.push(SheetNote::SoldOut);
    } else if allowance <= 0 {
        notes.push(SheetNote::LimitReached);
    } else if offer.stock < quantity {
        notes.push(SheetNote::OnlyLeft(offer.stock));
    }
    if opened_while_explaining && !offer.explaining_now && status == SessionStatus::Live {
        notes.push(SheetNote::NoLongerPresented);
    }
    let current = offer.total(quantity);
    let new_total = (current != total).then_some(current);
    let max_quantity = offer.max_quantity(purchase_limit).max(1);
    let blocking = notes
        .iter()
        .any(|n| !matches!(n, SheetNote::NoLongerPresented));
    SheetModel {
        total,
        new_total,
        can_pay: !blocking
            && new_total.is_none()
            && quantity >= 1
            && quantity <= offer.max_quantity(purchase_limit),
        notes,
        max_quantity,
    }
}

/// "1 at ¥64.50 (¥64.50 off), more at ¥129.00 each" or "¥129.00 each".
pub fn price_note(agreed: &AgreedPrice) -> String {
    if agreed.discounted_units_left > 0 && agreed.discount_per_unit.0 > 0 {
        let each = Fen(agreed.price.0 - agreed.discount_per_unit.0);
        tp(
            K::live_pay_price_note_discount,
            agreed.discounted_units_left,
            &[
                ("each", &each.to_string()),
                ("off", &agreed.discount_per_unit.to_string()),
                ("price", &agreed.price.to_string()),
            ],
        )
    } else {
        tf(
            K::live_pay_price_each,
            &[("price", &agreed.price.to_string())],
        )
    }
}

/// "Choose: Rose 02 · Coral 05" for a product with variants (the sheet picks one).
pub fn variants_hint(variants: &[VariantView]) -> Option<String> {
    (!variants.is_empty()).then(|| {
        let names: Vec<&str> = variants.iter().map(|v| v.name.as_str()).collect();
        tf(K::live_pay_variants_hint, &[("names", &names.join(" · "))])
    })
}

/// The confirmation's first line: "Order #12 paid: ¥64.50".
pub fn confirmation_text(order: &OrderView) -> String {
    let id = order.id.to_string();
    let amount = order.paid.to_string();
    let args = [("id", id.as_str()), ("amount", amount.as_str())];
    let key = match order.status {
        OrderStatus::Paid => K::live_order_paid,
        OrderStatus::PendingPayment => K::live_order_pending,
        OrderStatus::PaymentFailed => K::live_order_failed,
        OrderStatus::Refunded => K::live_order_refunded,
        OrderStatus::Shipped => K::live_order_shipped,
    };
    tf(key, &args)
}

/// The offer for the chosen variant: a variant with a price of its own is sold at that price
/// (the session's discount applied to it); otherwise the product's offer.
pub fn offer_for_variant(
    offer: ProductOffer,
    own_price: Option<Fen>,
    percent_off: i64,
) -> ProductOffer {
    match own_price {
        Some(price) => offer.at_price(price, percent_off),
        None => offer,
    }
}

/// Whether Pay works: the sheet allows it, no payment is under way, and a product with
/// variants has one chosen.
pub fn pay_enabled(
    model: Option<&SheetModel>,
    busy: bool,
    has_variants: bool,
    variant: Option<i64>,
) -> bool {
    model.is_some_and(|m| m.can_pay) && !busy && (!has_variants || variant.is_some())
}

/// The stepper's next quantity: one more or one fewer, within 1 and `max`.
pub fn step_quantity(quantity: i64, delta: i64, max: i64) -> i64 {
    (quantity + delta).clamp(1, max.max(1))
}

/// What the sheet does with the server's answer to Pay.
#[derive(Debug, Clone, PartialEq)]
pub enum PayOutcome {
    /// Placed: the confirmation shows it; the next Pay is a new order (a new key).
    Placed(OrderView),
    /// The chosen variant sold out meanwhile: it cannot be chosen again, the choice is
    /// cleared, and the next Pay is a new attempt (a new key).
    VariantSoldOut(i64),
    /// Anything else is shown as it is; the key is kept, so tapping again (after a network
    /// failure) cannot buy twice. A changed price is among these: the sheet then shows the
    /// new total and asks for a fresh tap.
    Failed(String),
}

/// Reads the server's answer to Pay for the variant that was chosen (the server words a sold
/// out in the shopper's language).
pub fn pay_outcome(answer: Result<OrderView, AppError>, chosen: Option<i64>) -> PayOutcome {
    match answer {
        Ok(order) => PayOutcome::Placed(order),
        Err(AppError::Conflict(m)) if m == "Sold out." || m == t(K::errors_order_sold_out) => {
            match chosen {
                Some(id) => PayOutcome::VariantSoldOut(id),
                None => PayOutcome::Failed(AppError::Conflict(m).to_string()),
            }
        }
        Err(e) => PayOutcome::Failed(e.to_string()),
    }
}

/// The QR code image of a WeChat Pay `code_url`, drawn by the server.
pub fn pay_qr_src(code_url: &str) -> String {
    format!(
        "/payments/qr.svg?data={}",
        crate::domain::text::percent_encode(code_url)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(price: i64, left: i64, per_unit: i64, stock: i64) -> ProductOffer {
        ProductOffer {
            product_id: ProductId(7),
            presented: true,
            explaining_now: true,
            stock,
            price: Fen(price),
            your_price: Fen(if left > 0 { price - per_unit } else { price }),
            discounted: left > 0,
            bought_units: 0,
            discounted_units_left: left,
            discount_per_unit: Fen(per_unit),
            discounted_bought: 0,
        }
    }

    fn model(agreed: &ProductOffer, now: &ProductOffer, qty: i64) -> SheetModel {
        sheet_model(
            AgreedPrice::of(agreed),
            Some(now),
            qty,
            5,
            SessionStatus::Live,
            true,
        )
    }

    #[test]
    fn totals_discount_only_the_units_left() {
        let o = offer(12_900, 1, 6_450, 10);
        assert_eq!(o.total(1), Fen(6_450));
        assert_eq!(o.total(2), Fen(19_350));
        assert_eq!(offer(12_900, 0, 0, 10).total(3), Fen(38_700));
        assert_eq!(offer(1_000, 2, 500, 10).total(3), Fen(2_000));
    }

    #[test]
    fn unchanged_offer_can_be_paid_at_its_total() {
        let o = offer(12_900, 1, 6_450, 10);
        let m = model(&o, &o, 2);
        assert_eq!(m.total, Fen(19_350));
        assert_eq!(m.new_total, None);
        assert!(m.can_pay);
        assert!(m.notes.is_empty());
        assert_eq!(m.max_quantity, 5);
    }

    #[test]
    fn a_stock_update_changes_nothing_the_shopper_agreed_to() {
        let seen = offer(12_900, 1, 6_450, 10);
        let mut now = seen.clone();
        now.stock = 7;
        let m = model(&seen, &now, 1);
        assert!(m.can_pay);
        assert_eq!(m.new_total, None);
    }

    #[test]
    fn a_changed_price_is_shown_and_blocks_pay_until_accepted() {
        let seen = offer(12_900, 1, 6_450, 10);
        let now = offer(13_900, 1, 6_950, 10);
        let m = model(&seen, &now, 1);
        assert_eq!(m.total, Fen(6_450));
        assert_eq!(m.new_total, Some(Fen(6_950)));
        assert!(!m.can_pay);
        // Accepting makes the new prices the agreed ones.
        let m = model(&now, &now, 1);
        assert!(m.can_pay);
        assert_eq!(m.total, Fen(6_950));
    }

    #[test]
    fn a_used_up_discount_is_a_price_change() {
        let seen = offer(12_900, 1, 6_450, 10);
        let now = offer(12_900, 0, 0, 10);
        let m = model(&seen, &now, 1);
        assert_eq!(m.new_total, Some(Fen(12_900)));
        assert!(!m.can_pay);
    }

    #[test]
    fn sold_out_and_short_stock_keep_the_sheet_but_block_pay() {
        let seen = offer(12_900, 0, 0, 10);
        let mut now = seen.clone();
        now.stock = 0;
        let m = model(&seen, &now, 1);
        assert_eq!(m.notes, vec![SheetNote::SoldOut]);
        assert!(!m.can_pay);
        now.stock = 2;
        let m = model(&seen, &now, 3);
        assert_eq!(m.notes, vec![SheetNote::OnlyLeft(2)]);
        assert!(!m.can_pay);
        assert_eq!(m.max_quantity, 2);
        assert!(model(&seen, &now, 2).can_pay);
    }

    #[test]
    fn moving_on_to_another_product_is_said_but_does_not_block() {
        let seen = offer(12_900, 0, 0, 10);
        let mut now = seen.clone();
        now.explaining_now = false;
        let m = model(&seen, &now, 1);
        assert_eq!(m.notes, vec![SheetNote::NoLongerPresented]);
        assert!(m.can_pay);
        // Opened from the product list (not while explaining): nothing to say.
        let m = sheet_model(
            AgreedPrice::of(&seen),
            Some(&now),
            1,
            5,
            SessionStatus::Live,
            false,
        );
        assert!(m.notes.is_empty());
    }

    #[test]
    fn an_ended_session_closes_buying_in_an_open_sheet() {
        let o = offer(12_900, 0, 0, 10);
        let m = sheet_model(
            AgreedPrice::of(&o),
            Some(&o),
            1,
            5,
            SessionStatus::Ended,
            true,
        );
        assert_eq!(m.notes, vec![SheetNote::Closed]);
        assert!(!m.can_pay);
    }

    #[test]
    fn the_purchase_limit_counts_units_already_bought() {
        let mut o = offer(12_900, 0, 0, 10);
        o.bought_units = 4;
        let m = model(&o, &o, 1);
        assert_eq!(m.max_quantity, 1);
        assert!(m.can_pay);
        assert!(!model(&o, &o, 2).can_pay);
        o.bought_units = 5;
        let m = model(&o, &o, 1);
        assert_eq!(m.notes, vec![SheetNote::LimitReached]);
        assert!(!m.can_pay);
    }

    #[test]
    fn the_pay_code_image_carries_the_code_url_encoded() {
        assert_eq!(
            pay_qr_src("weixin://wxpay/bizpayurl?pr=ab c&x"),
            "/payments/qr.svg?data=weixin%3A%2F%2Fwxpay%2Fbizpayurl%3Fpr%3Dab%20c%26x"
        );
    }

    #[test]
    fn price_note_names_the_discounted_units() {
        let a = AgreedPrice::of(&offer(12_900, 1, 6_450, 10));
        assert_eq!(
            price_note(&a),
            "1 at ¥64.50 (¥64.50 off), more at ¥129.00 each"
        );
        let a = AgreedPrice::of(&offer(12_900, 0, 0, 10));
        assert_eq!(price_note(&a), "¥129.00 each");
    }

    #[test]
    fn a_variant_with_its_own_price_is_sold_at_that_price_with_the_discount() {
        let o = offer(12_900, 1, 6_450, 10);
        let v = offer_for_variant(o.clone(), Some(Fen(10_000)), 50);
        assert_eq!(v.price, Fen(10_000));
        assert_eq!(v.total(1), Fen(5_000));
        assert_eq!(offer_for_variant(o.clone(), None, 50), o);
    }

    #[test]
    fn pay_needs_the_sheet_ready_no_payment_under_way_and_a_chosen_variant() {
        let o = offer(12_900, 1, 6_450, 10);
        let m = model(&o, &o, 1);
        assert!(pay_enabled(Some(&m), false, false, None));
        assert!(!pay_enabled(Some(&m), true, false, None), "busy");
        assert!(
            !pay_enabled(Some(&m), false, true, None),
            "no variant chosen"
        );
        assert!(pay_enabled(Some(&m), false, true, Some(3)));
        assert!(!pay_enabled(None, false, false, None), "prices not loaded");
    }

    #[test]
    fn the_stepper_stays_within_one_and_the_most_allowed() {
        assert_eq!(step_quantity(1, -1, 5), 1);
        assert_eq!(step_quantity(1, 1, 5), 2);
        assert_eq!(step_quantity(5, 1, 5), 5);
        assert_eq!(step_quantity(3, 1, 0), 1, "a max below 1 still allows 1");
    }

    #[test]
    fn answers_to_pay_are_read_per_kind() {
        let sold_out = || Err(AppError::Conflict("Sold out.".into()));
        assert_eq!(
            pay_outcome(sold_out(), Some(4)),
            PayOutcome::VariantSoldOut(4)
        );
        assert!(matches!(
            pay_outcome(sold_out(), None),
            PayOutcome::Failed(_)
        ));
        let changed = pay_outcome(Err(AppError::PriceChanged { total: Fen(100) }), Some(4));
        assert!(matches!(changed, PayOutcome::Failed(_)));
        assert!(matches!(
            pay_outcome(Err(AppError::Network("offline".into())), None),
            PayOutcome::Failed(_)
        ));
    }
}
