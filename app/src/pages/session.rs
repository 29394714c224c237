//! `/s/{id}`: a session's page. Before the session: countdown, Reserve, reservations, Add to
//! calendar, and (for reservers) the share panel. Live: the explaining-now product, prices for
//! this viewer and Buy. Everything a viewer can do is decided by the server (`ViewerState`).

use crate::model::SessionId;
use std::time::Duration;

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::{
    api::{
        catalog::get_session,
        shopper::{get_viewer_state, reserve},
    },
    components::video::Replay,
    components::{
        browser::sleep_ms,
        countdown::Countdown,
        first_paint::{self, FirstPaintDone},
        phone::PhoneVerify,
        scoped::{every, spawn_owned},
        share::SharePanel,
        status::StatusBadge,
        time::SessionTime,
        ErrorNotice, Loading,
    },
    error::AppError,
    i18n::{around, t, tf, tp, K},
    model::{PhoneVerified, ProductView, SessionDetail, SessionStatus, ViewerState},
    pages::{
        live_room::{EnterLiveRoom, LiveRoom},
        not_found::NotFound,
    },
};

/// How often the page refreshes the viewer's state (friends joined, going live, presenting).
/// The live room's event stream replaces this polling for the live phase.
const REFRESH: Duration = Duration::from_secs(4);

/// Product rows built with the page (about a phone's screenful below the reservation box);
/// the rest follow this many at a time, each batch in a task of its own.
const FIRST_ROWS: usize = 4;
const ROWS_PER_TASK: usize = 4;

#[component]
pub fn SessionPage() -> impl IntoView {
    let params = use_params_map();
    // An id that is not a number cannot exist: treat it like an unknown id.
    let id = move || {
        params
            .read()
            .get("id")
            .and_then(|s| s.parse::<SessionId>().ok())
    };
    let session = LocalResource::new(move || {
        let id = id();
        async move {
            match id {
                Some(id) => get_session(id).await,
                None => Err(AppError::not_found(t(K::shop_session_not_found))),
            }
        }
    });
    let retry = Callback::new(move |_| session.refetch());
    view! {
        <Suspense fallback=|| view! { <Loading label=t(K::shop_session_loading)/> }>
            {move || Suspend::new(async move {
                // The session's view takes over from the first paint once it knows the viewer
                // (its reservation box is then final: nothing below it moves after the swap).
                match session.await {
                    Ok(s) => view! { <SessionView session=s/> }.into_any(),
                    Err(e) if e.is_not_found() => view! { <NotFound message=e.to_string()/> <FirstPaintDone/> }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e on_retry=retry/> <FirstPaintDone/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn SessionView(session: SessionDetail) -> impl IntoView {
    let session_id = session.id;
    let viewer = RwSignal::new(None::<ViewerState>);
    let viewer_error = RwSignal::new(None::<AppError>);
    let refresh = Callback::new(move |_| {
        spawn_owned(async move {
            match get_viewer_state(session_id).await {
                Ok(v) => {
                    viewer.set(Some(v));
                    viewer_error.set(None);
                }
                Err(e) => viewer_error.set(Some(e)),
            }
        });
    });
    refresh.run(());
    // The live room's parts (stage, pay sheet, Buy): only in the live room's bundle.
    let room = LiveRoom::here();
    if let Some(room) = room {
        let variants = session
            .products
            .iter()
            .filter(|p| !p.variants.is_empty())
            .map(|p| (p.id, p.variants.clone()))
            .collect();
        (room.checkout)(session_id, viewer, refresh, variants);
    }

    // Memos: each poll sets `viewer`, but only a change of these may rebuild what depends on
    // them (rebuilding the share panel would drop its local state: poster, status, name input).
    let initial_status = session.status;
    let status = Memo::new(move |_| {
        viewer
            .with(|v| v.as_ref().map(|v| v.status))
            .unwrap_or(initial_status)
    });
    // Before and after the session the page polls; while live, the room's event stream tells
    // it when to refetch (50,000 viewers polling every few seconds would be a self-inflicted load).
    every(REFRESH, move || {
        if status.get_untracked() != SessionStatus::Live {
            refresh.run(())
        }
    });
    // Going live turns the page into the live stage: bring it into view, wherever the shopper
    // had scrolled to while waiting.
    Effect::new(move |was: Option<SessionStatus>| {
        let now = status.get();
        if now == SessionStatus::Live && was.is_some_and(|w| w != SessionStatus::Live) {
            window().scroll_to_with_x_and_y(0.0, 0.0);
        }
        now
    });
    let stage_session = session.clone();
    let reserved = Memo::new(move |_| viewer.with(|v| v.as_ref().is_some_and(|v| v.reserved)));
    let count = session.products.len();
    // Sixteen rows built in one go were one long task on a slow phone (total blocking time):
    // the first few come with the page, the others in later tasks, after the page took the
    // server's first paint's place (its swap lays out the whole page at once: the fewer rows
    // then, the shorter), below the screenful the shopper sees.
    let products = StoredValue::new(session.products.clone());
    let shown = RwSignal::new(count.min(FIRST_ROWS));
    spawn_owned(async move {
        while first_paint::pending() {
            sleep_ms(20).await;
        }
        while shown.get_untracked() < count {
            sleep_ms(0).await;
            shown.update(|n| *n = (*n + ROWS_PER_TASK).min(count));
        }
    });
    let title = session.title.clone();
    let start = session.scheduled_start_ms;
    // "Starts {time}": the words around the start time, which is a component of its own.
    let start_text = Memo::new(move |_| t(status.get().start_key()));
    let (host_before, host_after) = around(&t(K::shop_session_host), "name");
    let viewer_known =
        Memo::new(move |_| viewer.with(Option::is_some) || viewer_error.with(Option::is_some));

    view! {
        <article class="session" class:is-live=move || status.get() == SessionStatus::Live aria-labelledby="session-title">
            <header class="top-bar">
                <a href="/" class="back" aria-label=t(K::shop_session_back)>"‹"</a>
                <span class="top-bar-title">{t(K::shop_session_top_title)}</span>
                <a href="/orders" class="top-bar-link">{t(K::shop_orders_title)}</a>
            </header>
            {move || if status.get() == SessionStatus::Live {
                match room {
                    Some(room) => (room.stage)(stage_session.clone(), viewer, refresh),
                    None => view! { <EnterLiveRoom/> }.into_any(),
                }
            } else {
                view! { <img class="session-cover" src=stage_session.cover_url.clone() alt="" width="800" height="450"/> }.into_any()
            }}
            <div class="session-head">
                {move || view! { <StatusBadge status=status.get()/> }}
                <h1 id="session-title">{session.title.clone()}</h1>
                <p class="session-host">{host_before} <strong>{session.host_name.clone()}</strong> {host_after}</p>
                <p class="session-start">
                    {move || start_text.with(|s| around(s, "time").0)}
                    <SessionTime ms=start zone=session.time_zone.clone() offset=session.start_offset_minutes/>
                    {move || start_text.with(|s| around(s, "time").1)}
                </p>
                {(!session.description.is_empty()).then(|| view! { <p class="session-desc">{session.description.clone()}</p> })}
            </div>

            <ReservationBox viewer=viewer session_id=session_id start_ms=start/>
            {move || viewer_error.get().map(|e| view! { <p class="notice notice-error" role="alert">{e.to_string()}</p> })}
            <PhoneStatus viewer=viewer refresh=refresh/>

            {move || {
                let ended = status.get() == SessionStatus::Ended;
                match (reserved.get(), ended) {
                    (true, false) => view! { <SharePanel viewer=viewer title=title.clone() refresh=refresh/> }.into_any(),
                    (false, false) => view! {
                        <p class="share-locked">{t(K::shop_session_share_locked)}</p>
                    }.into_any(),
                    _ => ().into_any(),
                }
            }}

            {move || (status.get() == SessionStatus::Ended).then(|| view! { <Replay session_id=session_id/> })}
            <section class="products" id="bag" aria-labelledby="products-title">
                <h2 id="products-title">{tf(K::shop_session_products, &[("count", &count.to_string())])}</h2>
                <ul class="product-list">
                    <For each=move || 0..shown.get() key=|i| *i
                        children=move |i| view! { <ProductRow product=products.with_value(|p| p[i].clone()) viewer=viewer room=room/> }/>
                </ul>
            </section>
            {room.map(|room| (room.sheets)())}
            {move || viewer_known.get().then(|| view! { <FirstPaintDone/> })}
        </article>
    }
}

/// Where the session's discount needs a verified mobile number: the verification form for a
/// reserver without one, the masked number for one who has it.
#[component]
fn PhoneStatus(viewer: RwSignal<Option<ViewerState>>, refresh: Callback<()>) -> impl IntoView {
    let state = Memo::new(move |_| {
        viewer.with(|v| {
            v.as_ref()
                .filter(|v| v.phone_required && v.reserved && v.status != SessionStatus::Ended)
                .map(|v| (v.phone.clone(), v.percent_off))
        })
    });
    let welcome = RwSignal::new(None::<String>);
    let verified = Callback::new(move |v: PhoneVerified| {
        // A plain verification shows the number once, in the line below the form's place;
        // signing in as an earlier shopper is news worth a line of its own.
        welcome.set(
            v.signed_in
                .then(|| tf(K::shop_session_welcome_back, &[("name", &v.me.nickname)])),
        );
        refresh.run(());
    });
    view! {
        {move || state.get().map(|(phone, percent)| match phone {
            None => view! {
                <div class="panel">
                    <PhoneVerify heading=t(K::shop_session_verify_heading)
                        intro=tf(K::shop_session_verify_intro, &[("percent", &percent.to_string())])
                        on_verified=verified/>
                </div>
            }.into_any(),
            Some(masked) => view! { <p class="phone-ok" role="status">{tf(K::shop_session_phone_verified, &[("phone", &masked)])}</p> }.into_any(),
        })}
        {move || welcome.get().map(|w| view! { <p class="notice" role="status">{w}</p> })}
    }
}

/// Countdown, Reserve, reservation count and Add to calendar (or the live/ended banner).
#[component]
fn ReservationBox(
    viewer: RwSignal<Option<ViewerState>>,
    session_id: SessionId,
    start_ms: i64,
) -> impl IntoView {
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let do_reserve = move |_| {
        busy.set(true);
        error.set(None);
        spawn_owned(async move {
            match reserve(session_id).await {
                Ok(v) => viewer.set(Some(v)),
                Err(e) => error.set(Some(e.to_string())),
            }
            busy.set(false);
        });
    };
    // Only what this box shows: other updates of the viewer state leave it alone.
    let facts = Memo::new(move |_| {
        viewer.with(|v| {
            v.as_ref().map(|v| {
                (
                    v.status,
                    v.reserved,
                    v.reservation_count,
                    v.discount_text.clone(),
                )
            })
        })
    });
    view! {
        <section class="reserve-box" aria-label=t(K::shop_session_reservation)>
            {move || facts.get().map(|(status, reserved, reservation_count, discount_text)| match status {
                SessionStatus::Scheduled | SessionStatus::Rehearsal => view! {
                    <Countdown start_ms=start_ms/>
                    <p class="reservations" aria-live="polite">
                        {tp(K::shop_session_reservations, reservation_count, &[])}
                    </p>
                    <div class="reserve-actions">
                        {if reserved {
                            view! { <span class="reserved-ok" role="status">{t(K::shop_session_reserved)}</span> }.into_any()
                        } else {
                            view! {
                                <button type="button" class="btn btn-primary" on:click=do_reserve disabled=move || busy.get()>
                                    {t(K::shop_session_reserve)}
                                </button>
                            }.into_any()
                        }}
                        <a class="btn" href=format!("/s/{session_id}/calendar.ics") download="live-session.ics">{t(K::shop_session_add_calendar)}</a>
                    </div>
                }.into_any(),
                SessionStatus::Live => view! {
                    <p class="live-banner" role="status"><span class="badge badge-live">{t(K::shop_status_live)}</span> " " {t(K::shop_session_happening_now)}</p>
                    {(!reserved).then(|| view! {
                        <button type="button" class="btn btn-primary" on:click=do_reserve disabled=move || busy.get()>{t(K::shop_session_join)}</button>
                    })}
                    <p class="discount-status">{discount_text}</p>
                }.into_any(),
                SessionStatus::Ended => view! {
                    <p class="ended-banner" role="status">{t(K::shop_session_ended)}</p>
                }.into_any(),
            })}
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        </section>
    }
}

#[component]
fn ProductRow(
    product: ProductView,
    viewer: RwSignal<Option<ViewerState>>,
    room: Option<LiveRoom>,
) -> impl IntoView {
    let id = product.id;
    // Memos: the row's parts change only when this product's offer (or the session's state)
    // does, not on every update of the viewer state.
    let offer = Memo::new(move |_| {
        viewer.with(|v| {
            v.as_ref()
                .and_then(|v| v.offers.iter().find(|o| o.product_id == id).cloned())
        })
    });
    let percent = Memo::new(move |_| viewer.with(|v| v.as_ref().map_or(0, |v| v.percent_off)));
    let live = Memo::new(move |_| {
        viewer.with(|v| v.as_ref().is_some_and(|v| v.status == SessionStatus::Live))
    });
    let explaining = move || offer.with(|o| o.as_ref().is_some_and(|o| o.explaining_now));
    let can_buy = Memo::new(move |_| live.get() && offer.with(Option::is_some));
    let (list_price, list_stock) = (product.price, product.stock);
    let name = product.name.clone();
    let image = product.image_url.clone();
    view! {
        <li class="product" class:explaining=explaining data-product-id=id.get()>
            <img class="product-img" src=product.image_url.clone() alt="" loading="lazy" width="96" height="96"/>
            <div class="product-body">
                <span class="product-cat">{product.category.clone()}</span>
                <Show when=explaining><span class="badge badge-live">{t(K::shop_session_explaining_now)}</span></Show>
                <h3 class="product-name">{product.name.clone()}</h3>
                <p class="product-desc">{product.description.clone()}</p>
                {crate::components::checkout::variants_hint(&product.variants).map(|hint| view! {
                    <p class="muted small variant-hint">{hint}</p>
                })}
                <p class="product-foot">
                    {move || match offer.get() {
                        Some(o) if o.discounted => view! {
                            <span class="price">{o.your_price.to_string()}</span>
                            <s class="price-was" aria-label=tf(K::shop_session_was_price, &[("price", &o.price.to_string())])>{o.price.to_string()}</s>
                            <span class="badge badge-discount">{tf(K::shop_session_percent_off, &[("percent", &percent.get().to_string())])}</span>
                        }.into_any(),
                        Some(o) => view! { <span class="price">{o.price.to_string()}</span> }.into_any(),
                        None => view! { <span class="price">{list_price.to_string()}</span> }.into_any(),
                    }}
                    <span class="stock">{move || {
                        let stock = offer.with(|o| o.as_ref().map(|o| o.stock)).unwrap_or(list_stock);
                        if stock == 0 { t(K::shop_session_sold_out) } else { tp(K::shop_session_left, stock, &[]) }
                    }}</span>
                </p>
                {move || offer.with(|o| o.as_ref().map(|o| o.bought_units).filter(|n| *n > 0))
                    .map(|n| view! { <p class="muted small">{tp(K::shop_session_you_bought, n, &[])}</p> })}
                {room.map(|room| view! {
                    <Show when=move || can_buy.get()>
                        <div class="buy">{(room.buy)(id, name.clone(), image.clone())}</div>
                    </Show>
                })}
            </div>
        </li>
    }
}
