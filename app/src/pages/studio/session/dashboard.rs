//! Live figures: reservations, invites, viewers, orders, GMV and sales per product, refreshed
//! every few seconds (the product list takes its live stock from here).

use crate::model::{ProductId, SessionId};
use std::{collections::HashMap, time::Duration};

use leptos::prelude::*;

use crate::{
    api::studio::studio_dashboard,
    components::{scoped::every, Loading},
    i18n::{t, K},
    model::Dashboard,
};

const DASHBOARD_REFRESH: Duration = Duration::from_secs(3);

#[component]
pub fn DashboardPanel(
    session_id: SessionId,
    /// Receives each product's stock from every refresh (the product list shows it).
    #[prop(optional)]
    stock: Option<RwSignal<HashMap<ProductId, i64>>>,
) -> impl IntoView {
    let data = LocalResource::new(move || studio_dashboard(session_id));
    every(DASHBOARD_REFRESH, move || data.refetch());
    if let Some(stock) = stock {
        Effect::new(move |_| {
            data.with(|d| {
                if let Some(Ok(d)) = d {
                    stock.update(|m| {
                        m.extend(d.per_product.iter().map(|p| (p.product_id, p.stock)))
                    });
                }
            })
        });
    }
    view! {
        <section class="card dashboard" aria-labelledby="dash-title">
            <h2 id="dash-title">{t(K::studio_dashboard_title)}</h2>
            {move || match data.get() {
                None => view! { <Loading label=t(K::studio_dashboard_loading)/> }.into_any(),
                Some(Err(e)) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                Some(Ok(d)) => view! { <DashboardFigures dashboard=d/> }.into_any(),
            }}
        </section>
    }
}

#[component]
pub fn DashboardFigures(dashboard: Dashboard) -> impl IntoView {
    let d = dashboard;
    let figure = |label: K, value: String, key: &'static str| {
        view! {
            <div class="figure" data-figure=key><dt>{t(label)}</dt><dd>{value}</dd></div>
        }
    };
    view! {
        <dl class="figures">
            {figure(K::studio_dashboard_reservations, d.reservations.to_string(), "reservations")}
            {figure(K::studio_dashboard_invites, d.invites_created.to_string(), "invites")}
            {figure(K::studio_dashboard_friends, d.friends_joined.to_string(), "friends")}
            {figure(K::studio_dashboard_viewers, d.viewers.map(|v| v.to_string()).unwrap_or_else(|| "—".into()), "viewers")}
            {figure(K::studio_dashboard_orders, d.orders.to_string(), "orders")}
            {figure(K::studio_dashboard_units, d.units_sold.to_string(), "units")}
            {figure(K::studio_dashboard_gmv, d.gmv.to_string(), "gmv")}
            {figure(K::studio_dashboard_discount, d.discount_given.to_string(), "discount")}
            {figure(K::studio_dashboard_refunds, format!("{} · {}", d.refunds, d.refunded), "refunds")}
        </dl>
        <table class="sales">
            <caption class="sr-only">{t(K::studio_dashboard_sales)}</caption>
            <thead><tr><th scope="col">{t(K::studio_dashboard_product)}</th><th scope="col">{t(K::studio_dashboard_sold)}</th><th scope="col">{t(K::studio_dashboard_revenue)}</th><th scope="col">{t(K::studio_dashboard_stock)}</th></tr></thead>
            <tbody>
                {d.per_product.into_iter().map(|p| view! {
                    <tr data-product-id=p.product_id.get()>
                        <th scope="row">{p.name}{p.presented.then(|| view! { <span class="badge badge-presented">{t(K::studio_dashboard_presented)}</span> })}</th>
                        <td>{p.units_sold}</td>
                        <td>{p.revenue.to_string()}</td>
                        <td>{p.stock}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}
