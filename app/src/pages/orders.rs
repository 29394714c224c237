//! `/orders`: the shopper's orders, with full price, discount and what was paid per line.

use crate::model::OrderId;
use leptos::prelude::*;

use crate::{
    api::orders::my_orders,
    components::{phone::PhoneVerify, time::LocalTime, ErrorNotice, Loading},
    i18n::{around, t, tf, K},
    model::{OrderStatus, OrderView, PhoneVerified},
};

/// An order's status as its badge says it.
/// An order placed without a delivery address: pick or add one (the host ships after that).
#[component]
fn AddAddress(order_id: OrderId) -> impl IntoView {
    use crate::{api::addresses::ship_to, components::address::DeliverTo};
    let chosen = RwSignal::new(None::<i64>);
    let ship = Action::new_local(move |address_id: &i64| ship_to(order_id, *address_id));
    let use_it = move |_| {
        if let Some(address_id) = chosen.get_untracked() {
            ship.dispatch(address_id);
        }
    };
    view! {
        <div class="order-add-address">
            {move || match ship.value().get() {
                Some(Ok(())) => view! { <p class="ok" role="status">{t(K::shop_orders_address_saved)}</p> }.into_any(),
                other => view! {
                    <p class="muted small">{t(K::shop_orders_no_address)}</p>
                    <DeliverTo chosen=chosen/>
                    <button type="button" class="btn btn-small" disabled=move || chosen.get().is_none() on:click=use_it>{t(K::shop_orders_ship_there)}</button>
                    {other.and_then(|r| r.err()).map(|e| view! { <p class="error" role="alert">{e.to_string()}</p> })}
                }.into_any(),
            }}
        </div>
    }
}

#[component]
pub fn OrdersPage() -> impl IntoView {
    let orders = LocalResource::new(my_orders);
    let retry = Callback::new(move |_| orders.refetch());
    let signed_in = Callback::new(move |_: PhoneVerified| orders.refetch());
    view! {
        <header class="top-bar">
            <a href="/" class="back" aria-label=t(K::shop_session_back)>"‹"</a>
            <h1 class="top-bar-title">{t(K::shop_orders_title)}</h1>
        </header>
        <section class="orders">
            <Suspense fallback=|| view! { <Loading label=t(K::shop_orders_loading)/> }>
                {move || Suspend::new(async move {
                    match orders.await {
                        Ok(list) if list.is_empty() => view! { <p class="empty">{t(K::shop_orders_empty)}</p> }.into_any(),
                        Ok(list) => view! {
                            <ul class="order-list">{list.into_iter().map(|o| view! { <OrderCard order=o/> }).collect_view()}</ul>
                        }.into_any(),
                        Err(e) => view! { <ErrorNotice error=e on_retry=retry/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
        <section class="orders-sign-in">
            <PhoneVerify heading=t(K::shop_orders_sign_in_heading)
                intro=t(K::shop_orders_sign_in_intro)
                on_verified=signed_in/>
        </section>
    }
}

#[component]
fn OrderCard(order: OrderView) -> impl IntoView {
    let demo = order.payment_provider == "demo";
    // A confirmation links here as /orders#order-{id}: show that order first, highlighted.
    let anchor = format!("order-{}", order.id);
    let targeted = window()
        .location()
        .hash()
        .is_ok_and(|h| h.trim_start_matches('#') == anchor);
    let node = NodeRef::<leptos::html::Li>::new();
    Effect::new(move |_| {
        if let Some(el) = node.get().filter(|_| targeted) {
            el.scroll_into_view();
        }
    });
    view! {
        <li class="order" class:order-target=targeted id=anchor data-order-id=order.id.get() node_ref=node>
            <div class="order-head">
                <strong>{tf(K::shop_orders_number, &[("id", &order.id.to_string())])}</strong>
                <span class=format!("badge badge-{}", order.status.as_str())>{order.status.label()}</span>
            </div>
            <p class="muted small">{order.session_title.clone()} " · " <LocalTime ms=order.created_at_ms/>
                {demo.then(|| format!(" · {}", t(K::shop_orders_demo_payment)))}</p>
            {order.ship_to.clone().map(|to| view! { <p class="order-ship-to muted small">{tf(K::shop_orders_ship_to, &[("address", &to)])}</p> })}
            {(order.ship_to.is_none() && matches!(order.status, OrderStatus::Paid | OrderStatus::PendingPayment)).then(|| view! {
                <AddAddress order_id=order.id/>
            })}
            {order.shipping.clone().map(|sh| {
                let text = tf(K::shop_orders_shipped_by, &[("carrier", &sh.carrier)]);
                let (before, after) = around(&text, "tracking");
                view! {
                    <p class="order-shipping">{before} <strong class="tracking">{sh.tracking_no}</strong> {after}</p>
                }
            })}
            <ul class="order-lines">
                {order.lines.into_iter().map(|l| view! {
                    <li class="order-line">
                        <img src=l.image_url alt="" width="48" height="48" loading="lazy"/>
                        <div>
                            <p class="order-line-name">{if l.variant.is_empty() { format!("{} × {}", l.product_name, l.quantity) } else { format!("{} ({}) × {}", l.product_name, l.variant, l.quantity) }}</p>
                            <p class="muted small">{l.rule}</p>
                        </div>
                        <div class="order-line-amounts">
                            {(l.discount.0 > 0).then(|| view! { <s class="price-was">{l.full_amount.to_string()}</s> })}
                            <span class="price">{l.paid.to_string()}</span>
                        </div>
                    </li>
                }).collect_view()}
            </ul>
            <dl class="order-totals">
                <dt>{t(K::shop_orders_full_price)}</dt><dd class="order-full">{order.full_amount.to_string()}</dd>
                <dt>{t(K::shop_orders_discount)}</dt><dd class="order-discount">{format!("-{}", order.discount)}</dd>
                <dt>{t(K::shop_orders_paid)}</dt><dd class="order-paid">{order.paid.to_string()}</dd>
            </dl>
        </li>
    }
}
