//! The session's orders: filtered by where they stand (awaiting payment, paid, to ship,
//! shipped, refunded); ship one with its carrier and tracking number, or many from a CSV of
//! `order_id,carrier,tracking_number`; refund one through the payment provider.

use crate::model::{OrderId, SessionId};
use std::time::Duration;

use leptos::prelude::*;

use crate::{
    api::studio::{import_tracking, refund_order, ship_order, studio_orders},
    components::{browser, scoped::every, time::LocalTime},
    i18n::{t, tf, tp, K},
    model::{OrderStatus, StudioOrder},
};

use super::{report, StatusLine};

/// How often the panel looks for new orders.
const REFRESH: Duration = Duration::from_secs(4);

const FILTERS: [(&str, K); 6] = [
    ("to_ship", K::studio_orders_filter_to_ship),
    ("awaiting_payment", K::studio_orders_filter_awaiting_payment),
    ("paid", K::studio_orders_filter_paid),
    ("shipped", K::studio_orders_filter_shipped),
    ("refunded", K::studio_orders_filter_refunded),
    ("all", K::studio_orders_filter_all),
];

#[component]
pub fn OrdersPanel(session_id: SessionId, msg: StatusLine) -> impl IntoView {
    let filter = RwSignal::new("to_ship".to_string());
    let ship = Action::new_local(move |(id, carrier, number): &(OrderId, String, String)| {
        let id = *id;
        let shipped = ship_order(id, carrier.clone(), number.clone());
        async move {
            let done = tf(K::studio_orders_shipped_done, &[("id", &id.to_string())]);
            report(msg, shipped.await.map(|_| done));
        }
    });
    let refund = Action::new_local(move |id: &OrderId| {
        let id = *id;
        let refunded = refund_order(id, String::new());
        async move {
            let res = refunded.await.map(|state| {
                let key = match state {
                    crate::model::RefundState::Refunded => K::studio_orders_refunded_done,
                    crate::model::RefundState::Pending => K::studio_orders_refund_pending,
                };
                tf(key, &[("id", &id.to_string())])
            });
            report(msg, res);
        }
    });
    let csv = RwSignal::new(String::new());
    let import = Action::new_local(move |text: &String| {
        let imported = import_tracking(session_id, text.clone());
        async move {
            let res = imported.await.map(|r| {
                let shipped = r.shipped;
                if r.errors.is_empty() {
                    tp(K::studio_orders_imported, shipped, &[])
                } else {
                    let errors = r.errors.join("; ");
                    tp(
                        K::studio_orders_imported_errors,
                        shipped,
                        &[("errors", &errors)],
                    )
                }
            });
            if res.is_ok() {
                csv.set(String::new());
            }
            report(msg, res);
        }
    });
    let loaded = LocalResource::new(move || {
        ship.version().track();
        refund.version().track();
        import.version().track();
        studio_orders(session_id, filter.get())
    });
    // New orders come in while the session is live: look again every few seconds (rows are
    // keyed, so a ship form being filled in stays as it is).
    every(REFRESH, move || loaded.refetch());
    // A failed look is reported in the status line, and the list keeps the rows it had.
    Effect::new(move |_| {
        if let Some(Err(e)) = loaded.get() {
            report(msg, Err(e));
        }
    });
    let orders = Memo::new(
        move |before: Option<&Option<Vec<StudioOrder>>>| match loaded.get() {
            Some(Ok(list)) => Some(list),
            _ => before.cloned().flatten(),
        },
    );
    view! {
        <section class="panel orders-panel" aria-labelledby="orders-h">
            <h2 id="orders-h">{t(K::studio_orders_title)}</h2>
            <div class="orders-tools">
                <label>{t(K::studio_orders_show)}" "
                    <select aria-label=t(K::studio_orders_which) on:change=move |ev| filter.set(event_target_value(&ev))>
                        {FILTERS.iter().map(|(value, label)| view! {
                            <option value=*value selected=move || filter.get() == *value>{t(*label)}</option>
                        }).collect_view()}
                    </select>
                </label>
                <a class="btn btn-small" href=format!("/studio/s/{session_id}/orders.csv") download="">{t(K::studio_orders_export)}</a>
            </div>
            {move || orders.with(|l| l.as_ref().is_some_and(Vec::is_empty)).then(|| view! { <p class="muted">{t(K::studio_orders_empty)}</p> })}
            <ul class="studio-orders">
                <For each=move || orders.get().unwrap_or_default()
                    key=|o| (o.id, o.status.as_str(), o.shipping.clone(), o.ship_to.clone())
                    children=move |o| view! { <OrderRow order=o ship=ship refund=refund/> }/>
            </ul>
            <details class="import-tracking">
                <summary>{t(K::studio_orders_import_title)}</summary>
                <p class="muted small">{t(K::studio_orders_import_hint)}</p>
                <textarea rows="4" aria-label=t(K::studio_orders_import_label) placeholder=t(K::studio_orders_import_placeholder)
                    prop:value=move || csv.get() on:input=move |ev| csv.set(event_target_value(&ev))></textarea>
                <button type="button" class="btn btn-small" on:click=move |_| { import.dispatch(csv.get_untracked()); } disabled=move || csv.with(|c| c.trim().is_empty())>{t(K::studio_orders_import)}</button>
            </details>
        </section>
    }
}

#[component]
fn OrderRow(
    order: StudioOrder,
    ship: Action<(OrderId, String, String), ()>,
    refund: Action<OrderId, ()>,
) -> impl IntoView {
    let id = order.id;
    let carrier = RwSignal::new(String::new());
    let number = RwSignal::new(String::new());
    let ship = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        ship.dispatch((id, carrier.get_untracked(), number.get_untracked()));
    };
    let refund = move |_| {
        if browser::confirm(&tf(
            K::studio_orders_refund_confirm,
            &[("id", &id.to_string())],
        )) {
            refund.dispatch(id);
        }
    };
    let can_ship = order.status == OrderStatus::Paid && order.ship_to.is_some();
    let waiting = order.status == OrderStatus::Paid && order.ship_to.is_none();
    let can_refund = matches!(order.status, OrderStatus::Paid | OrderStatus::Shipped);
    view! {
        <li class="studio-order" data-order-id=id.get()>
            <div class="studio-order-head">
                <strong>{format!("#{id}")}</strong>
                <span class=format!("badge badge-{}", order.status.as_str())>{order.status.label()}</span>
                <span class="muted small"><LocalTime ms=order.created_at_ms/></span>
            </div>
            <p>{format!("{} × {} · {} · {}", order.product_name, order.quantity, order.paid, order.shopper_nickname)}</p>
            {order.ship_to.map(|to| view! { <p class="small ship-to">{to}</p> })}
            {waiting.then(|| view! { <p class="muted small">{t(K::studio_orders_waiting_address)}</p> })}
            {order.shipping.map(|sh| view! { <p class="muted small">{format!("{} · {}", sh.carrier, sh.tracking_no)}</p> })}
            {can_ship.then(|| view! {
                <form class="ship-form" on:submit=ship>
                    <input type="text" aria-label=tf(K::studio_orders_carrier_for, &[("id", &id.to_string())]) placeholder=t(K::studio_orders_carrier) maxlength="40" required
                        prop:value=move || carrier.get() on:input=move |ev| carrier.set(event_target_value(&ev))/>
                    <input type="text" aria-label=tf(K::studio_orders_tracking_for, &[("id", &id.to_string())]) placeholder=t(K::studio_orders_tracking) maxlength="40" required
                        prop:value=move || number.get() on:input=move |ev| number.set(event_target_value(&ev))/>
                    <button type="submit" class="btn btn-small">{t(K::studio_orders_ship)}</button>
                </form>
            })}
            {can_refund.then(|| view! {
                <button type="button" class="btn btn-small btn-danger" on:click=refund aria-label=tf(K::studio_orders_refund_for, &[("id", &id.to_string())])>{t(K::studio_orders_refund)}</button>
            })}
        </li>
    }
}
