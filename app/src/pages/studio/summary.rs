//! `/studio/s/{id}/summary`: the figures after the session, and the CSV export of orders.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::{
    api::studio::{current_host, get_studio_session, studio_dashboard},
    components::{ErrorNotice, Loading},
    model::HostMe,
    pages::studio::{session::DashboardFigures, StudioBar},
};

fn plural(n: i64, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

#[component]
pub fn StudioSummaryPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || {
        params
            .read()
            .get("id")
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(0)
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
            <Suspense fallback=|| view! { <Loading label="Loading the summary…"/> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok((host, s, d)) => view! {
                            <StudioBar host=host/>
                            <div class="studio-main">
                                <header class="studio-head">
                                    <div>
                                        <h1>{format!("Summary: {}", s.title)}</h1>
                                        <p class="muted">{format!("{} · {} · GMV {} · discount given {}", plural(d.orders, "order"), plural(d.units_sold, "unit"), d.gmv, d.discount_given)}
                                            {(d.refunds > 0).then(|| format!(" · {} ({})", plural(d.refunds, "refund"), d.refunded))}</p>
                                    </div>
                                    <nav class="studio-links" aria-label="Summary links">
                                        <a class="btn btn-primary" href=format!("/studio/s/{}/orders.csv", s.id) download="">"Export orders (CSV)"</a>
                                        <a class="btn" href=format!("/studio/s/{}", s.id)>"Back to the session"</a>
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
