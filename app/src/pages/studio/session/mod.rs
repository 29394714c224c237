//! `/studio/s/{id}`: one session in the studio. Run of show (go live, present, next, sold out,
//! end), live dashboard, session details, cover, and the product list (add, edit, reorder,
//! images). Every action is checked again by the server.

//!
//! One file per panel: `run_of_show.rs`, `dashboard.rs`, `details.rs`, `products.rs`,
//! `chat.rs`, `upload.rs`, `restream.rs` (and `../broadcast.rs`). Mutations go through Leptos
//! actions; each reports in the page's status line, and the session (the restream and order
//! panels: their lists) is a resource read again when one lands.

mod chat;
mod coupons;
mod dashboard;
mod details;
mod draws;
mod orders;
mod products;
mod restream;
mod run_of_show;
mod upload;

use crate::model::{ProductId, SessionId};
use std::collections::HashMap;

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

pub use dashboard::{DashboardFigures, DashboardPanel};

use crate::{
    api::studio::{current_host, get_studio_session},
    components::{status::StatusBadge, time::SessionTime, ErrorNotice, Loading},
    domain::team::{allows, Permission},
    error::AppError,
    i18n::{around, t, K},
    model::{HostMe, SessionStatus, StudioSession},
    pages::studio::{broadcast::BroadcastPanel, StudioBar},
};

use self::{
    chat::{ChatModeration, ChatRulesPanel, HeldQueue, ReportsQueue},
    details::DetailsEditor,
    draws::DrawsPanel,
    orders::OrdersPanel,
    products::ProductsEditor,
    restream::RestreamPanel,
    run_of_show::RunOfShow,
};

/// The page's status line: the outcome of the last action.
pub(crate) type StatusLine = RwSignal<Option<Result<String, String>>>;

#[component]
pub fn StudioSessionPage() -> impl IntoView {
    signed_in_page(|id, h| view! { <SessionStudio session_id=id host=h/> }.into_any())
}

/// `/studio/s/{id}/moderate`: the chat's tools in one column for a moderator's phone.
#[component]
pub fn ModerationPage() -> impl IntoView {
    signed_in_page(|id, _| view! { <Moderation session_id=id/> }.into_any())
}

/// A studio page about one session: the session id from the URL and the signed-in account,
/// or what to do instead.
fn signed_in_page(
    page: impl Fn(SessionId, HostMe) -> AnyView + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let params = use_params_map();
    let id = move || {
        params
            .read()
            .get("id")
            .and_then(|s| s.parse::<SessionId>().ok())
    };
    let host = LocalResource::new(current_host);
    // A transition, not a suspense: the session and its panels are resources read again after
    // every action (and some every few seconds); the page stays up while they load.
    view! {
        <div class="studio">
            <Transition fallback=|| view! { <Loading label=t(K::studio_home_loading)/> }>
                {move || Suspend::new(async move {
                    match (host.await, id()) {
                        (Ok(Some(h)), Some(id)) => view! { <StudioBar host=Some(h.clone())/>{page(id, h)} }.into_any(),
                        (Ok(Some(h)), None) => view! { <StudioBar host=Some(h)/><p class="notice">{t(K::studio_session_not_found)}</p> }.into_any(),
                        (Ok(None), _) => {
                            let (before, after) = around(&t(K::studio_session_sign_in_first), "link");
                            view! {
                                <StudioBar host={None::<HostMe>}/>
                                <p class="notice">{before}<a href="/studio">{t(K::studio_session_sign_in_link)}</a>{after}</p>
                            }.into_any()
                        }
                        (Err(e), _) => view! { <ErrorNotice error=e on_retry=Callback::new(move |_| host.refetch())/> }.into_any(),
                    }
                })}
            </Transition>
        </div>
    }
}

/// The moderation page's panels: the chat (remove, mute), held messages and the chat rules.
#[component]
fn Moderation(session_id: SessionId) -> impl IntoView {
    let msg = RwSignal::new(None::<Result<String, String>>);
    let session = LocalResource::new(move || get_studio_session(session_id));
    view! {
        <div class="studio-main studio-moderate">
            {move || session.get().map(|r| match r {
                Err(e) => view! { <ErrorNotice error=e on_retry=Callback::new(move |_| session.refetch())/> }.into_any(),
                Ok(s) => {
                    let live = matches!(s.status, SessionStatus::Live | SessionStatus::Rehearsal);
                    view! {
                        <header class="studio-head">
                            <StatusBadge status=s.status/>
                            <h1>{t(K::studio_moderate_title)}": "{s.title.clone()}</h1>
                        </header>
                        <p class="studio-msg" role="status" aria-live="polite">
                            {move || msg.get().map(|m| match m {
                                Ok(t) => view! { <span class="ok">{t}</span> }.into_any(),
                                Err(t) => view! { <span class="error">{t}</span> }.into_any(),
                            })}
                        </p>
                        {live.then(|| view! { <ChatModeration session_id=session_id msg=msg/> })}
                        {live.then(|| view! { <ReportsQueue session_id=session_id msg=msg/> })}
                        {live.then(|| view! { <HeldQueue session_id=session_id msg=msg/> })}
                        {(s.status != SessionStatus::Ended).then(|| view! { <ChatRulesPanel session_id=session_id msg=msg/> })}
                    }.into_any()
                }
            })}
        </div>
    }
}

/// How many studio actions on this page have landed. The session resource is keyed on this
/// count the way a resource is keyed on an action's version: the actions live in the panels and
/// their rows, which the reloads rebuild, so each one counts here when it lands.
#[derive(Clone, Copy)]
pub(crate) struct Edits(RwSignal<usize>);

impl Edits {
    fn new() -> Self {
        Self(RwSignal::new(0))
    }

    /// An action landed: the session is read again.
    pub(crate) fn landed(self) {
        self.0.try_update(|n| *n += 1);
    }
}

/// A studio mutation as a Leptos action: runs `run(input)`, reports `done` (or the error) in
/// the status line, and counts as an edit, so the session is read again.
pub(crate) fn studio_action<I, O, Fu>(
    msg: StatusLine,
    edits: Edits,
    done: K,
    run: impl Fn(I) -> Fu + 'static,
) -> Action<I, ()>
where
    I: Clone + Send + Sync + 'static,
    Fu: std::future::Future<Output = Result<O, AppError>> + 'static,
{
    studio_action_then(msg, edits, done, run, || ())
}

/// [`studio_action`], running `on_done` first when the mutation succeeded (closing the form).
pub(crate) fn studio_action_then<I, O, Fu>(
    msg: StatusLine,
    edits: Edits,
    done: K,
    run: impl Fn(I) -> Fu + 'static,
    on_done: impl Fn() + 'static,
) -> Action<I, ()>
where
    I: Clone + Send + Sync + 'static,
    Fu: std::future::Future<Output = Result<O, AppError>> + 'static,
{
    reporting_action(msg, done, run, move |ok| {
        if ok {
            on_done();
        }
        edits.landed();
    })
}

/// A mutation as a Leptos action that reports `done` (or the error) in the status line, then
/// runs `then(succeeded)`.
pub(crate) fn reporting_action<I, O, Fu>(
    msg: StatusLine,
    done: K,
    run: impl Fn(I) -> Fu + 'static,
    then: impl Fn(bool) + 'static,
) -> Action<I, ()>
where
    I: Clone + Send + Sync + 'static,
    Fu: std::future::Future<Output = Result<O, AppError>> + 'static,
{
    let then = std::rc::Rc::new(then);
    Action::new_local(move |input: &I| {
        let outcome = run(input.clone());
        let then = then.clone();
        async move {
            let res = outcome.await;
            let ok = res.is_ok();
            report(msg, res.map(|_| t(done)));
            then(ok);
        }
    })
}

pub(crate) fn report(msg: StatusLine, res: Result<String, AppError>) {
    msg.set(Some(res.map_err(|e| e.to_string())));
}

#[component]
fn SessionStudio(session_id: SessionId, host: HostMe) -> impl IntoView {
    // The panels a role can use (the server checks every call again).
    let can = move |p: Permission| allows(host.role, p);
    let (edit, figures, orders, moderate, draws, coupons) = (
        can(Permission::EditShow),
        can(Permission::ViewFigures),
        can(Permission::HandleOrders),
        can(Permission::Moderate),
        can(Permission::RunDraws),
        can(Permission::DropCoupons),
    );
    // Owned here, not by the parts that reload: every action reloads the session, and the
    // status line, the live figures and the chat panel must outlive that.
    let msg = RwSignal::new(None::<Result<String, String>>);
    let edits = Edits::new();
    let session = LocalResource::new(move || {
        edits.0.track();
        get_studio_session(session_id)
    });
    let retry = Callback::new(move |_| session.refetch());
    // Stock changes with every sale: the live figures (refreshed every few seconds) and each
    // reload write it here, and the product list shows it from here.
    let stock = RwSignal::new(HashMap::<ProductId, i64>::new());
    Effect::new(move |_| {
        session.with(|s| {
            if let Some(Ok(s)) = s {
                stock.update(|m| m.extend(s.products.iter().map(|p| (p.id, p.stock))));
            }
        })
    });
    let loaded = move || session.with(|s| s.as_ref().and_then(|r| r.as_ref().ok()).cloned());
    let status = Memo::new(move |_| {
        session.with(|s| s.as_ref().and_then(|r| r.as_ref().ok()).map(|s| s.status))
    });
    view! {
        {move || match session.with(|s| s.as_ref().map(|r| r.as_ref().err().cloned())) {
            None => view! { <Loading label=t(K::studio_session_loading)/> }.into_any(),
            Some(Some(e)) => view! { <ErrorNotice error=e on_retry=retry/> }.into_any(),
            Some(None) => view! {
                <div class="studio-main studio-session">
                    {move || loaded().map(|s| view! { <SessionHeader session=s moderate=moderate/> })}
                    <p class="studio-msg" role="status" aria-live="polite">
                        {move || msg.get().map(|m| match m {
                            Ok(t) => view! { <span class="ok">{t}</span> }.into_any(),
                            Err(t) => view! { <span class="error">{t}</span> }.into_any(),
                        })}
                    </p>
                    <div class="studio-grid">
                        <div class="studio-col">
                            {move || edit.then(|| loaded().map(|s| view! { <RunOfShow session=s edits=edits msg=msg/> }))}
                            {edit.then(|| view! { <ProductsEditor session=session stock=stock edits=edits msg=msg/> })}
                        </div>
                        <div class="studio-col">
                            {move || (edit && status.get().is_some_and(|s| s != SessionStatus::Ended)).then(|| view! { <BroadcastPanel session_id=session_id msg=msg/> })}
                            {move || (edit && status.get().is_some_and(|s| s != SessionStatus::Ended)).then(|| view! { <RestreamPanel msg=msg/> })}
                            {figures.then(|| view! { <DashboardPanel session_id=session_id stock=stock/> })}
                            {move || (orders && status.get().is_some_and(|s| !matches!(s, SessionStatus::Scheduled | SessionStatus::Rehearsal))).then(|| view! { <OrdersPanel session_id=session_id msg=msg/> })}
                            {move || (moderate && matches!(status.get(), Some(SessionStatus::Live | SessionStatus::Rehearsal))).then(|| view! { <ChatModeration session_id=session_id msg=msg/> })}
                            {move || (moderate && status.get() == Some(SessionStatus::Live)).then(|| view! { <ReportsQueue session_id=session_id msg=msg/> })}
                            {move || (moderate && status.get() == Some(SessionStatus::Live)).then(|| view! { <HeldQueue session_id=session_id msg=msg/> })}
                            {move || draws.then(|| status.get().filter(|s| !matches!(s, SessionStatus::Scheduled | SessionStatus::Rehearsal)).and_then(|st| loaded().map(|s| (st, s))).map(|(st, s)| {
                                let products = s.products.iter().map(|p| (p.id, p.name.clone())).collect::<Vec<_>>();
                                view! { <DrawsPanel session_id=session_id live={st == SessionStatus::Live} products=products msg=msg/> }
                            })).flatten()}
                            {move || (coupons && status.get() == Some(SessionStatus::Live)).then(|| view! { <coupons::CouponsPanel session_id=session_id msg=msg/> })}
                            {move || (moderate && status.get().is_some_and(|s| s != SessionStatus::Ended)).then(|| view! { <ChatRulesPanel session_id=session_id msg=msg/> })}
                            {move || edit.then(|| status.get().and_then(|_| loaded()).map(|s| view! { <DetailsEditor session=s edits=edits msg=msg/> }))}
                        </div>
                    </div>
                </div>
            }.into_any(),
        }}
    }
}

#[component]
fn SessionHeader(session: StudioSession, moderate: bool) -> impl IntoView {
    let id = session.id;
    let status = session.status;
    let (starts_before, starts_after) = around(&t(K::studio_session_starts), "time");
    view! {
        <header class="studio-head">
            <div>
                <StatusBadge status=status/>
                <h1>{session.title.clone()}</h1>
                <p class="muted small">{starts_before}<SessionTime ms=session.scheduled_start_ms zone=session.time_zone.clone() offset=session.start_offset_minutes/>{starts_after}</p>
            </div>
            <nav class="studio-links" aria-label=t(K::studio_session_links)>
                <a class="btn btn-small" href=format!("/s/{id}") target="_blank" rel="noopener">{t(K::studio_session_shopper_view)}</a>
                {(status == SessionStatus::Ended).then(|| view! { <a class="btn btn-small" href=format!("/studio/s/{id}/summary")>{t(K::studio_session_summary)}</a> })}
                {(moderate && status != SessionStatus::Ended).then(|| view! { <a class="btn btn-small" href=format!("/studio/s/{id}/moderate")>{t(K::studio_moderate_link)}</a> })}
            </nav>
        </header>
    }
}
