//! Buying a product during the live session: quantity, the viewer's price (from the server),
//! and the order result. Retries of one attempt reuse its idempotency key.

use leptos::{prelude::*, task::spawn_local};

use crate::{
    api::orders::place_order,
    components::browser::new_idempotency_key,
    domain::money::Fen,
    model::{OrderView, ProductOffer},
};

#[component]
pub fn BuyPanel(
    session_id: i64,
    #[prop(into)] offer: Signal<ProductOffer>,
    #[prop(into)] product_name: String,
    purchase_limit: i64,
    #[prop(into)] payment_label: String,
    #[prop(into)] on_done: Callback<()>,
) -> impl IntoView {
    let open = RwSignal::new(false);
    let qty = RwSignal::new(1i64);
    let key = RwSignal::new(new_idempotency_key());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let result = RwSignal::new(None::<OrderView>);
    let max = move || offer.with(|o| purchase_limit.min(o.stock).max(1));
    let sold_out = move || offer.with(|o| o.stock == 0);
    let product_id = offer.with_untracked(|o| o.product_id);

    let pay = move |_| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        let k = key.get_untracked();
        let q = qty.get_untracked();
        spawn_local(async move {
            match place_order(session_id, product_id, q, k).await {
                Ok(order) => {
                    result.set(Some(order));
                    key.set(new_idempotency_key());
                    open.set(false);
                    on_done.run(());
                }
                // Network failures keep the key, so tapping again cannot buy twice.
                Err(e) => error.set(Some(e.to_string())),
            }
            busy.set(false);
        });
    };

    let offer_note = move || {
        offer.with(|o| {
            if o.discounted {
                let saving = Fen(o.price.0 - o.your_price.0);
                format!(
                    "1 at {} ({saving} off), more at {} each",
                    o.your_price, o.price
                )
            } else {
                format!("{} each", o.price)
            }
        })
    };
    let label = format!("Buy {product_name}");
    view! {
        <div class="buy">
            <button type="button" class="btn btn-primary btn-buy" aria-label=label disabled=sold_out
                on:click=move |_| { open.update(|o| *o = !*o); result.set(None); }>
                {move || if sold_out() { "Sold out" } else { "Buy" }}
            </button>
            <Show when=move || open.get()>
                <div class="buy-sheet" role="group" aria-label="Choose quantity and pay">
                    <div class="stepper">
                        <button type="button" class="btn" aria-label="Fewer" disabled=move || qty.get() <= 1
                            on:click=move |_| qty.update(|q| *q = (*q - 1).max(1))>"−"</button>
                        <output aria-live="polite" aria-label="Quantity">{move || qty.get()}</output>
                        <button type="button" class="btn" aria-label="More" disabled=move || { qty.get() >= max() }
                            on:click=move |_| qty.update(|q| *q = (*q + 1).min(max()))>"+"</button>
                    </div>
                    <p class="muted">{offer_note}</p>
                    <button type="button" class="btn btn-primary" on:click=pay disabled=move || busy.get()>
                        {move || if busy.get() { "Paying…" } else { "Pay now" }}
                    </button>
                    <p class="muted small">{payment_label.clone()}</p>
                </div>
            </Show>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            {move || result.get().map(|o| view! {
                <p class="order-ok" role="status">
                    {format!("Order #{} paid: {}", o.id, o.paid)}
                    {(o.discount.0 > 0).then(|| format!(" (you saved {})", o.discount))}
                    " · " <a href="/orders">"My orders"</a>
                </p>
            })}
        </div>
    }
}
