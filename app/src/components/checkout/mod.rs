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

mod sheet;

use crate::model::{OrderId, ProductId, SessionId};
pub use sheet::*;

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

// ---- The page's checkout state ----

/// What the sheet is open for. `opened` tells two openings of the same product apart, so a
/// fresh opening starts with a fresh quantity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetTarget {
    pub product_id: ProductId,
    pub name: String,
    pub image_url: String,
    opened: u32,
}

/// The page's checkout: which product the pay sheet is open for and the latest confirmation.
/// Provided by the session page; Buy buttons anywhere on it open the one sheet.
#[derive(Clone, Copy)]
pub struct Checkout {
    session_id: SessionId,
    viewer: RwSignal<Option<ViewerState>>,
    target: RwSignal<Option<SheetTarget>>,
    confirmation: RwSignal<Option<OrderView>>,
    refresh: Callback<()>,
    /// Products' variants (shade, size), from the session's catalogue.
    variants: StoredValue<VariantsByProduct>,
    /// The viewer's claimed, unused live coupons: the sheet shows the total with the best
    /// one (`domain::coupon::best`, as the server prices it).
    pub coupons: RwSignal<Vec<(i64, crate::domain::coupon::CouponTerms)>>,
}

impl Checkout {
    /// Creates the page's checkout and provides it to the components below.
    pub fn provide(
        session_id: SessionId,
        viewer: RwSignal<Option<ViewerState>>,
        refresh: Callback<()>,
        variants: VariantsByProduct,
    ) -> Checkout {
        // The page's refresh runs under the page, whoever calls it: the pay sheet's action
        // calls it as the sheet closes, and a task the sheet owned would end with the sheet.
        let page = Owner::current().map(|o| o.downgrade());
        let refresh = Callback::new(move |()| match page.as_ref().and_then(|p| p.upgrade()) {
            Some(page) => page.with(|| refresh.run(())),
            None => refresh.run(()),
        });
        let c = Checkout {
            session_id,
            viewer,
            target: RwSignal::new(None),
            confirmation: RwSignal::new(None),
            refresh,
            variants: StoredValue::new(variants),
            coupons: RwSignal::new(Vec::new()),
        };
        provide_context(c);
        wechat_auth_if_needed();
        c
    }

    /// The latest order placed on this page (tracked): parts that depend on what an order
    /// used up, such as the coupon strip, read it to know when to look again.
    pub fn last_order(&self) -> Option<OrderId> {
        self.confirmation.with(|o| o.as_ref().map(|o| o.id))
    }

    pub fn open(&self, product_id: ProductId, name: String, image_url: String) {
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
    pub fn variants_hint(&self, product_id: ProductId) -> Option<String> {
        self.variants
            .with_value(|m| m.get(&product_id).and_then(|v| variants_hint(v)))
    }

    /// The viewer's offer for one product, as a memo: it changes only when that offer does.
    fn offer(&self, product_id: ProductId) -> Memo<Option<ProductOffer>> {
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
    product_id: ProductId,
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
        product_offer.get().map(|o| offer_for_variant(o, own, pct))
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
    let c = checkout;
    // Not tied to the sheet: closing it while paying must not lose the confirmation. The
    // action's task runs on after the sheet is gone; it only writes (safe on a disposed
    // signal), and uses `try_run` for the page's refresh.
    let place = Action::new_local(move |(k, q, expected): &(String, i64, Fen)| {
        let (k, q, expected) = (k.clone(), *q, *expected);
        async move {
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
            match pay_outcome(placed, chosen) {
                PayOutcome::Placed(order) => {
                    c.confirmation.set(Some(order));
                    key.set(new_idempotency_key());
                    c.target.try_update(|t| {
                        if t.as_ref().is_some_and(|t| t.opened == opened) {
                            *t = None;
                        }
                    });
                }
                PayOutcome::VariantSoldOut(id) => {
                    gone.update(|g| g.push(id));
                    variant.set(None);
                    key.set(new_idempotency_key());
                    error.set(Some(t(K::live_pay_variant_just_sold_out)));
                }
                PayOutcome::Failed(message) => error.set(Some(message)),
            }
            c.refresh.try_run(());
        }
    });
    let can_pay = move || {
        model.with(|m| {
            pay_enabled(
                m.as_ref(),
                place.pending().get(),
                has_variants,
                variant.get(),
            )
        })
    };
    // What the shopper's best coupon takes off the agreed total (the server decides again).
    let coupon_off = move || {
        let before = model.with(|m| m.as_ref().map(|m| m.total))?;
        c.coupons
            .with(|held| crate::domain::coupon::best(held, before))
            .map(|(_, off)| off)
    };
    let total = move || {
        model
            .with(|m| m.as_ref().map(|m| m.total))
            .map(|t| Fen(t.0 - coupon_off().map_or(0, |o| o.0)))
    };
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
        error.set(None);
        place.dispatch((key.get_untracked(), qty.get_untracked(), expected));
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
            tabindex="-1" node_ref=dialog on:keydown=on_key data-product-id=product_id.get()>
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
                    on:click=move |_| qty.update(|q| *q = step_quantity(*q, -1, max()))>"−"</button>
                <output aria-live="polite" aria-label=t(K::live_pay_quantity)>{move || qty.get()}</output>
                <button type="button" class="btn" aria-label=t(K::live_pay_more) disabled=move || { qty.get() >= max() }
                    on:click=move |_| qty.update(|q| *q = step_quantity(*q, 1, max()))>"+"</button>
            </div>
            <DeliverTo chosen=address/>
            {move || coupon_off().map(|off| view! {
                <p class="pay-coupon">{t(K::live_coupon_applied)}<strong class="price">{format!("−{off}")}</strong></p>
            })}
            <p class="pay-total">{t(K::live_pay_total)}<strong class="price">{move || total().map(|t| t.to_string())}</strong></p>
            <button type="button" class="btn btn-primary btn-pay" on:click=pay disabled=move || !can_pay()>
                {move || if queued.get() { t(K::live_pay_in_queue) } else if place.pending().get() { t(K::live_pay_paying) } else { tf(K::live_pay_pay, &[("amount", &total().unwrap_or(Fen::ZERO).to_string())]) }}
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
            <div class="order-ok" role="status" data-order-id=o.id.get()>
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
    // A read, once, that may leave the page: a task, not a resource.
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
    order_id: OrderId,
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
    // Reads until the payment lands (the confirmation says when to stop): a polling task.
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
                // WeChat's own pay sheet (the JS bridge), not the server.
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
