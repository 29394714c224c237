//! Buying during the live session: Buy buttons, the one pay sheet of the page and the order
//! confirmation.
//!
//! A live room updates several times a second (stock, "just bought", counters), so nothing a
//! shopper is in the middle of may hang off those updates. The sheet and the confirmation are
//! owned by the page ([`Checkout`], provided as context), not by the card or row whose Buy
//! opened them: the explaining-now card can change product, a row can re-render, and the sheet
//! with its chosen quantity stays the same element. Inside the sheet only the figures that
//! changed update. A price that changes while the sheet is open is shown and must be accepted
//! before Pay works again; the order carries the total the shopper saw and the server refuses
//! a different one (409), so nobody pays a price they did not see.

use leptos::{html, prelude::*, task::spawn_local};

use crate::{
    api::orders::{my_orders, place_order},
    components::{
        address::DeliverTo,
        browser::{self, new_idempotency_key},
    },
    domain::money::Fen,
    error::AppError,
    i18n::{t, tf, tp, K},
    model::{
        OrderStatus, OrderView, PayAction, ProductOffer, SessionStatus, VariantView,
        VariantsByProduct, ViewerState,
    },
};

/// How many times the Pay button waits in the queue (about a second each) before it gives up
/// and shows the error; tapping again goes on with the same key.
const MAX_QUEUED_TRIES: u32 = 60;

// ---- The sheet's rules, pure (tested below without a browser) ----

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
            product_id: 0,
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

// ---- The page's checkout state ----

/// What the sheet is open for. `opened` tells two openings of the same product apart, so a
/// fresh opening starts with a fresh quantity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetTarget {
    pub product_id: i64,
    pub name: String,
    pub image_url: String,
    opened: u32,
}

/// The page's checkout: which product the pay sheet is open for and the latest confirmation.
/// Provided by the session page; Buy buttons anywhere on it open the one sheet.
#[derive(Clone, Copy)]
pub struct Checkout {
    session_id: i64,
    viewer: RwSignal<Option<ViewerState>>,
    target: RwSignal<Option<SheetTarget>>,
    confirmation: RwSignal<Option<OrderView>>,
    refresh: Callback<()>,
    /// Products' variants (shade, size), from the session's catalogue.
    variants: StoredValue<VariantsByProduct>,
}

impl Checkout {
    /// Creates the page's checkout and provides it to the components below.
    pub fn provide(
        session_id: i64,
        viewer: RwSignal<Option<ViewerState>>,
        refresh: Callback<()>,
        variants: VariantsByProduct,
    ) -> Checkout {
        let c = Checkout {
            session_id,
            viewer,
            target: RwSignal::new(None),
            confirmation: RwSignal::new(None),
            refresh,
            variants: StoredValue::new(variants),
        };
        provide_context(c);
        wechat_auth_if_needed();
        c
    }

    pub fn open(&self, product_id: i64, name: String, image_url: String) {
        self.target.update(|t| {
            let opened = t.as_ref().map_or(0, |t| t.opened.wrapping_add(1));
            *t = Some(SheetTarget {
                product_id,
                name,
                image_url,
                opened,
            });
        });
    }

    pub fn close(&self) {
        self.target.set(None);
    }

    /// [`variants_hint`] for one of the session's products.
    pub fn variants_hint(&self, product_id: i64) -> Option<String> {
        self.variants
            .with_value(|m| m.get(&product_id).and_then(|v| variants_hint(v)))
    }

    /// The viewer's offer for one product, as a memo: it changes only when that offer does.
    fn offer(&self, product_id: i64) -> Memo<Option<ProductOffer>> {
        let viewer = self.viewer;
        Memo::new(move |_| {
            viewer.with(|v| {
                v.as_ref()
                    .and_then(|v| v.offers.iter().find(|o| o.product_id == product_id))
                    .cloned()
            })
        })
    }
}

/// A product's Buy button: "Buy" (or "Sold out"); opens the page's pay sheet.
#[component]
pub fn BuyButton(
    product_id: i64,
    #[prop(into)] name: String,
    #[prop(into)] image_url: String,
) -> impl IntoView {
    let Some(checkout) = use_context::<Checkout>() else {
        return ().into_any();
    };
    let offer = checkout.offer(product_id);
    let sold_out = move || offer.with(|o| o.as_ref().is_none_or(|o| o.stock <= 0));
    let label = tf(K::live_pay_buy_label, &[("name", &name)]);
    view! {
        <button type="button" class="btn btn-primary btn-buy" aria-label=label aria-haspopup="dialog"
            disabled=sold_out
            on:click=move |_| checkout.open(product_id, name.clone(), image_url.clone())>
            {move || if sold_out() { t(K::live_stock_sold_out) } else { t(K::live_pay_buy) }}
        </button>
    }
    .into_any()
}

/// The page's pay sheet (rendered once): a bottom sheet for the product it was opened for.
#[component]
pub fn PaySheet() -> impl IntoView {
    let Some(checkout) = use_context::<Checkout>() else {
        return ().into_any();
    };
    // Rebuilt only when it is opened for something else, never by a live update.
    let target = Memo::new(move |_| checkout.target.get());
    view! {
        {move || target.get().map(|t| view! { <PaySheetBody target=t checkout=checkout/> })}
    }
    .into_any()
}

#[component]
fn PaySheetBody(target: SheetTarget, checkout: Checkout) -> impl IntoView {
    let product_id = target.product_id;
    let opened = target.opened;
    let viewer = checkout.viewer;
    let variants: Vec<VariantView> = checkout
        .variants
        .with_value(|m| m.get(&product_id).cloned())
        .unwrap_or_default();
    let has_variants = !variants.is_empty();
    // The chosen variant: its own price (if any) is what the sheet shows and charges.
    let variant = RwSignal::new(None::<i64>);
    // Variants the server said are sold out since the catalogue was read.
    let gone = RwSignal::new(Vec::<i64>::new());
    let own_prices: Vec<(i64, Option<Fen>)> = variants.iter().map(|v| (v.id, v.price)).collect();
    let product_offer = checkout.offer(product_id);
    let offer = Memo::new(move |_| {
        let pct = viewer.with(|v| v.as_ref().map_or(0, |v| v.percent_off));
        let own = variant
            .get()
            .and_then(|id| own_prices.iter().find(|(v, _)| *v == id).and_then(|v| v.1));
        product_offer.get().map(|o| match own {
            Some(price) => o.at_price(price, pct),
            None => o,
        })
    });
    let session = Memo::new(move |_| {
        viewer.with(|v| {
            v.as_ref()
                .map(|v| (v.status, v.purchase_limit, v.payment_label.clone()))
        })
    });
    let initial = offer.get_untracked();
    let opened_while_explaining = initial.as_ref().is_some_and(|o| o.explaining_now);
    let agreed = RwSignal::new(initial.as_ref().map(AgreedPrice::of));
    // Prices not loaded yet when the sheet opened: the first ones that arrive are the ones seen.
    Effect::new(move |_| {
        if agreed.with_untracked(Option::is_none) {
            if let Some(o) = offer.get() {
                agreed.set(Some(AgreedPrice::of(&o)));
            }
        }
    });
    let qty = RwSignal::new(1i64);
    let key = RwSignal::new(new_idempotency_key());
    let address = RwSignal::new(None::<i64>);
    let busy = RwSignal::new(false);
    let queued = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let model = Memo::new(move |_| {
        let (status, limit, _) = session
            .get()
            .unwrap_or((SessionStatus::Live, 1, String::new()));
        agreed.get().map(|a| {
            offer.with(|o| {
                sheet_model(
                    a,
                    o.as_ref(),
                    qty.get(),
                    limit,
                    status,
                    opened_while_explaining,
                )
            })
        })
    });
    let can_pay = move || {
        model.with(|m| m.as_ref().is_some_and(|m| m.can_pay))
            && !busy.get()
            && (!has_variants || variant.get().is_some())
    };
    let total = move || model.with(|m| m.as_ref().map(|m| m.total));
    let max = move || model.with(|m| m.as_ref().map_or(1, |m| m.max_quantity));

    let close = move || checkout.close();
    let accept = move |_| {
        if let Some(o) = offer.get_untracked() {
            agreed.set(Some(AgreedPrice::of(&o)));
            error.set(None);
        }
    };
    let pay = move |_| {
        if !can_pay() {
            return;
        }
        let Some(expected) = total() else { return };
        busy.set(true);
        error.set(None);
        let k = key.get_untracked();
        let q = qty.get_untracked();
        let c = checkout;
        // Not tied to the sheet: closing it while paying must not lose the confirmation. Only
        // writes below (safe on a disposed signal), and `try_run` for the page's refresh.
        spawn_local(async move {
            // A rush answers 503 "you're in the queue": the same key again after the
            // server's Retry-After (with jitter), so waiting can never buy twice.
            let mut tries = 0;
            let chosen = variant.get_untracked();
            let placed = loop {
                let to = address.get_untracked();
                match place_order(
                    c.session_id,
                    product_id,
                    q,
                    k.clone(),
                    Some(expected),
                    to,
                    chosen,
                )
                .await
                {
                    Err(AppError::Busy) if tries < MAX_QUEUED_TRIES => {
                        tries += 1;
                        queued.set(true);
                        browser::sleep_ms(1000 + browser::jitter_ms(1000)).await;
                    }
                    other => break other,
                }
            };
            queued.set(false);
            match placed {
                Ok(order) => {
                    c.confirmation.set(Some(order));
                    key.set(new_idempotency_key());
                    c.target.try_update(|t| {
                        if t.as_ref().is_some_and(|t| t.opened == opened) {
                            *t = None;
                        }
                    });
                }
                // The server priced it differently: fetch the current prices; the sheet then
                // shows the change and asks for a fresh tap.
                Err(e @ AppError::PriceChanged { .. }) => error.set(Some(e.to_string())),
                // This variant sold out: it cannot be chosen again.
                // (The server words it in the shopper's language.)
                Err(AppError::Conflict(m))
                    if chosen.is_some()
                        && (m == "Sold out." || m == t(K::errors_order_sold_out)) =>
                {
                    gone.update(|g| g.extend(chosen));
                    variant.set(None);
                    key.set(new_idempotency_key());
                    error.set(Some(t(K::live_pay_variant_just_sold_out)));
                }
                // Network failures keep the key, so tapping again cannot buy twice.
                Err(e) => error.set(Some(e.to_string())),
            }
            busy.set(false);
            c.refresh.try_run(());
        });
    };
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" {
            close();
        }
    };
    let dialog = NodeRef::<html::Div>::new();
    Effect::new(move |_| {
        if let Some(el) = dialog.get() {
            let _ = el.focus();
        }
    });
    let name = target.name.clone();
    view! {
        <div class="sheet-backdrop" on:click=move |_| close()></div>
        <div class="pay-sheet" role="dialog" aria-modal="true" aria-label=t(K::live_pay_title)
            tabindex="-1" node_ref=dialog on:keydown=on_key data-product-id=product_id>
            <header class="pay-sheet-head">
                <img src=target.image_url.clone() alt="" width="64" height="64"/>
                <div class="pay-sheet-title">
                    <h2>{name}</h2>
                    <p class="muted small pay-note">{move || agreed.get().map(|a| price_note(&a))}</p>
                    <p class="muted small">{move || offer.with(|o| o.as_ref().map(|o| if o.stock > 0 { tp(K::live_stock_left, o.stock, &[]) } else { t(K::live_stock_sold_out) }))}</p>
                </div>
                <button type="button" class="sheet-close" aria-label=t(K::live_pay_close) on:click=move |_| close()>"×"</button>
            </header>
            {move || model.with(|m| m.as_ref().map(|m| m.notes.clone())).unwrap_or_default().into_iter().map(|n| view! {
                <p class="sheet-note" role="status">{n.to_string()}</p>
            }).collect_view()}
            {move || model.with(|m| m.as_ref().and_then(|m| m.new_total.map(|n| (m.total, n)))).map(|(was, now)| view! {
                <div class="price-changed" role="alert">
                    <p>{t(K::live_pay_price_changed)}<s>{was.to_string()}</s> " → " <strong>{now.to_string()}</strong></p>
                    <button type="button" class="btn btn-small" on:click=accept>{t(K::live_pay_use_new_price)}</button>
                </div>
            })}
            {has_variants.then(|| {
                let chips = variants.clone().into_iter().map(|v| {
                    let id = v.id;
                    let out = v.stock <= 0;
                    let label = match v.price {
                        Some(p) => format!("{} · {p}", v.name),
                        None => v.name.clone(),
                    };
                    let pick = move |_| {
                        variant.set(Some(id));
                        // The price shown for this variant is the one agreed to.
                        if let Some(o) = offer.get_untracked() {
                            agreed.set(Some(AgreedPrice::of(&o)));
                        }
                        key.set(new_idempotency_key());
                        error.set(None);
                    };
                    view! {
                        <button type="button" role="radio" class="chip variant-chip"
                            aria-checked=move || if variant.get() == Some(id) { "true" } else { "false" }
                            disabled=move || out || gone.with(|g| g.contains(&id))
                            on:click=pick>
                            {if out { tf(K::live_pay_variant_sold_out, &[("name", &label)]) } else { label }}
                        </button>
                    }
                }).collect_view();
                view! {
                    <div class="variants" role="radiogroup" aria-label=t(K::live_pay_choose_variant)>{chips}</div>
                    <Show when=move || variant.get().is_none()>
                        <p class="muted small">{t(K::live_pay_choose_variant_hint)}</p>
                    </Show>
                }
            })}
            <div class="stepper">
                <button type="button" class="btn" aria-label=t(K::live_pay_fewer) disabled=move || qty.get() <= 1
                    on:click=move |_| qty.update(|q| *q = (*q - 1).max(1))>"−"</button>
                <output aria-live="polite" aria-label=t(K::live_pay_quantity)>{move || qty.get()}</output>
                <button type="button" class="btn" aria-label=t(K::live_pay_more) disabled=move || { qty.get() >= max() }
                    on:click=move |_| qty.update(|q| *q = (*q + 1).min(max()))>"+"</button>
            </div>
            <DeliverTo chosen=address/>
            <p class="pay-total">{t(K::live_pay_total)}<strong class="price">{move || total().map(|t| t.to_string())}</strong></p>
            <button type="button" class="btn btn-primary btn-pay" on:click=pay disabled=move || !can_pay()>
                {move || if queued.get() { t(K::live_pay_in_queue) } else if busy.get() { t(K::live_pay_paying) } else { tf(K::live_pay_pay, &[("amount", &total().unwrap_or(Fen::ZERO).to_string())]) }}
            </button>
            {move || queued.get().then(|| view! { <p class="sheet-note queued" role="status">{AppError::Busy.to_string()}" "{t(K::live_pay_queued)}</p> })}
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <p class="muted small">{move || session.with(|s| s.as_ref().map(|s| s.2.clone()))}</p>
        </div>
    }
}

/// The latest order's confirmation, until the shopper dismisses it or the next order replaces
/// it. Links to the order in "My orders".
#[component]
pub fn OrderConfirmation() -> impl IntoView {
    let Some(checkout) = use_context::<Checkout>() else {
        return ().into_any();
    };
    let confirmation = checkout.confirmation;
    view! {
        {move || confirmation.get().map(|o| view! {
            <div class="order-ok" role="status" data-order-id=o.id>
                <p>
                    {confirmation_text(&o)}
                    {(o.discount.0 > 0).then(|| tf(K::live_order_saved, &[("amount", &o.discount.to_string())]))}
                </p>
                {(o.status == OrderStatus::PendingPayment).then(|| o.pay.clone()).flatten().map(|action| view! {
                    <PayStep order_id=o.id action=action confirmation=confirmation refresh=checkout.refresh/>
                })}
                <a href=format!("/orders#order-{}", o.id)>{t(K::live_stage_my_orders)}</a>
                <button type="button" class="sheet-close" aria-label=t(K::live_order_dismiss) on:click=move |_| confirmation.set(None)>"×"</button>
            </div>
        })}
    }
    .into_any()
}

/// Inside WeChat, passes once through WeChat's silent authorisation when the server asks for
/// it (it needs the shopper's openid to open WeChat Pay in WeChat itself); `wxauth=` in the
/// address means it was done (or failed: then the QR code is the way to pay).
fn wechat_auth_if_needed() {
    let here = browser::path_and_query();
    if !browser::in_wechat() || here.contains("wxauth=") {
        return;
    }
    spawn_local(async move {
        if crate::api::shopper::whoami()
            .await
            .is_ok_and(|me| me.wechat_auth_needed)
        {
            browser::replace_location(&format!(
                "/wechat/auth?next={}",
                crate::domain::text::percent_encode(&here)
            ));
        }
    });
}

/// How often a confirmation awaiting the shopper's payment asks whether it came.
const PAYMENT_POLL_MS: u64 = 2000;

/// Paying an order the provider waits on (WeChat Pay): a QR code to scan, a link that hands
/// over to WeChat, or WeChat's own pay sheet inside WeChat. Meanwhile the order is watched
/// until the server, told by WeChat Pay, says it is paid (or released).
#[component]
fn PayStep(
    order_id: i64,
    action: PayAction,
    confirmation: RwSignal<Option<OrderView>>,
    refresh: Callback<()>,
) -> impl IntoView {
    let awaiting = move || {
        confirmation.with_untracked(|c| {
            c.as_ref()
                .is_some_and(|c| c.id == order_id && c.status == OrderStatus::PendingPayment)
        })
    };
    spawn_local(async move {
        while awaiting() {
            browser::sleep_ms(PAYMENT_POLL_MS).await;
            let Ok(orders) = my_orders().await else {
                continue;
            };
            let now = orders.into_iter().find(|o| o.id == order_id);
            if let Some(o) = now.filter(|o| o.status != OrderStatus::PendingPayment) {
                if awaiting() {
                    confirmation.try_set(Some(o));
                    refresh.try_run(());
                }
                break;
            }
        }
    });
    let note = RwSignal::new(None::<String>);
    match action {
        PayAction::QrCode { code_url } => {
            let hint = if browser::in_wechat() {
                t(K::live_pay_wechat_press_hold)
            } else {
                t(K::live_pay_wechat_scan)
            };
            view! {
                <div class="pay-step">
                    <img class="pay-qr" src=pay_qr_src(&code_url) width="200" height="200"
                        alt=t(K::live_pay_wechat_qr_alt)/>
                    <p>{hint}</p>
                </div>
            }
            .into_any()
        }
        PayAction::Redirect { url } => view! {
            <div class="pay-step">
                <a class="btn btn-primary btn-pay" href=url>{t(K::live_pay_wechat_pay_in)}</a>
                <p class="muted small">{t(K::live_pay_wechat_redirect_note)}</p>
            </div>
        }
        .into_any(),
        PayAction::WechatJsapi { params } => {
            let open = move |_| {
                let params = params.clone();
                spawn_local(async move {
                    note.set(Some(if browser::wechat_jsapi_pay(&params).await {
                        t(K::live_pay_wechat_confirming)
                    } else {
                        t(K::live_pay_wechat_not_paid)
                    }));
                });
            };
            view! {
                <div class="pay-step">
                    <button type="button" class="btn btn-primary btn-pay" on:click=open>{t(K::live_pay_wechat_pay_with)}</button>
                    {move || note.get().map(|n| view! { <p class="sheet-note" role="status">{n}</p> })}
                </div>
            }
            .into_any()
        }
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
            product_id: 7,
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
}
