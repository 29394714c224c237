//! `/`: live and upcoming sessions.

use leptos::prelude::*;

use crate::{
    api::catalog::list_sessions,
    components::{
        first_paint::FirstPaintDone, status::StatusBadge, time::SessionTime, ErrorNotice, Loading,
    },
    i18n::{t, tp, K},
    model::{SessionStatus, SessionSummary},
    pages::live_room::LiveRoom,
};

#[component]
pub fn HomePage() -> impl IntoView {
    let sessions = LocalResource::new(list_sessions);
    let retry = Callback::new(move |_| sessions.refetch());
    view! {
        <header class="top-bar">
            <h1 class="brand">{t(K::common_brand)}</h1>
        </header>
        <section class="home" aria-labelledby="home-title">
            <h2 id="home-title">{t(K::shop_home_title)}</h2>
            <Suspense fallback=|| view! { <Loading label=t(K::shop_home_loading)/> }>
                {move || Suspend::new(async move {
                    let page = match sessions.await {
                        Ok(list) if list.is_empty() => view! {
                            <p class="empty">{t(K::shop_home_empty)}</p>
                        }.into_any(),
                        Ok(list) => view! {
                            <ul class="session-list">
                                {list.into_iter().map(|s| view! { <SessionCard session=s/> }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(e) => view! { <ErrorNotice error=e on_retry=retry/> }.into_any(),
                    };
                    view! { {page} <FirstPaintDone/> }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn SessionCard(session: SessionSummary) -> impl IntoView {
    let href = format!("/s/{}", session.id);
    let products = tp(K::common_products, session.product_count, &[]);
    // A live session's page is the live room's bundle: without it here, the browser loads
    // the page (the server sends that bundle) instead of the router rendering it and reloading.
    let rel =
        (session.status == SessionStatus::Live && LiveRoom::here().is_none()).then_some("external");
    view! {
        <li class="session-card">
            <a href=href rel=rel class="session-card-link">
                <img class="session-card-cover" src=session.cover_url alt="" loading="lazy" width="400" height="225"/>
                <div class="session-card-body">
                    <StatusBadge status=session.status/>
                    <h3 class="session-card-title">{session.title}</h3>
                    <p class="session-card-meta">
                        <span class="host">{session.host_name}</span>
                        " · "
                        <SessionTime ms=session.scheduled_start_ms zone=session.time_zone offset=session.start_offset_minutes/>
                        " · "
                        <span>{products}</span>
                    </p>
                </div>
            </a>
        </li>
    }
}
