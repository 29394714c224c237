//! `/studio/s/{id}/summary`: the figures after the session, and the CSV export of orders.

use crate::model::SessionId;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::{
    api::studio::{current_host, get_studio_session, studio_dashboard},
    components::{ErrorNotice, Loading},
    i18n::{t, tf, tp, K},
    model::HostMe,
    pages::studio::{session::DashboardFigures, StudioBar},
};

#[component]
pub fn StudioSummaryPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || {
        params
            .read()
            .get("id")
            .and_then(|s| s.parse::<SessionId>().ok())
            .unwrap_or(SessionId(0))
    };
    let data = LocalResource::new(move || {
        let id = id();
        async move {
            let host = current_host().await?;
            let session = get_studio_session(id).await?;
            let dash = studio_dashboard(id).await?;
            Ok::<_, crate::error::AppError>((host, session, dash))
        }
    });
    let retry = Callback::new(move |_| data.refetch());
    view! {
        <div class="studio">
            <Suspense fallback=|| view! { <Loading label=t(K::studio_summary_loading)/> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok((host, s, d)) => view! {
                            <StudioBar host=host/>
                            <div class="studio-main">
                                <header class="studio-head">
                                    <div>
                                        <h1>{tf(K::studio_summary_title, &[("title", &s.title)])}</h1>
                                        <p class="muted">{tf(K::studio_summary_line, &[
                                                ("orders", &tp(K::studio_summary_orders, d.orders, &[])),
                                                ("units", &tp(K::studio_summary_units, d.units_sold, &[])),
                                                ("gmv", &d.gmv.to_string()),
                                                ("discount", &d.discount_given.to_string()),
                                            ])}
                                            {(d.refunds > 0).then(|| format!(" · {}", tp(K::studio_summary_refunds, d.refunds, &[("amount", &d.refunded.to_string())])))}</p>
                                    </div>
                                    <nav class="studio-links" aria-label=t(K::studio_summary_links)>
                                        <a class="btn btn-primary" href=format!("/studio/s/{}/orders.csv", s.id) download="">{t(K::studio_summary_export)}</a>
                                        <a class="btn" href=format!("/studio/s/{}", s.id)>{t(K::studio_summary_back)}</a>
                                    </nav>
                                </header>
                                <section class="card"><DashboardFigures dashboard=d/></section>
                            </div>
                        }.into_any(),
                        Err(e) => view! { <StudioBar host={None::<HostMe>}/><ErrorNotice error=e on_retry=retry/> }.into_any(),
                    }
                })}
            </Suspense>
        </div>
    }
}
