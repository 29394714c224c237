//! Run of show: go live, present the next product, end the session.

use leptos::prelude::*;

use super::{studio_action, Edits, StatusLine};
use crate::{
    api::studio::{end_session, go_live, present_next, rehearse},
    components::browser::confirm,
    i18n::{t, K},
    model::{SessionStatus, StudioSession},
};

#[component]
pub(super) fn RunOfShow(session: StudioSession, edits: Edits, msg: StatusLine) -> impl IntoView {
    let id = session.id;
    let current = session
        .current_product_id
        .and_then(|c| session.products.iter().find(|p| p.id == c))
        .map(|p| p.name.clone());
    let live = studio_action(msg, edits, K::studio_run_live_done, go_live);
    let next = studio_action(msg, edits, K::studio_run_next_done, present_next);
    let end_now = studio_action(msg, edits, K::studio_run_ended_done, end_session);
    let rehearsal = studio_action(msg, edits, K::studio_run_rehearsal_done, |(id, on)| {
        rehearse(id, on)
    });
    let end = move |_| {
        if confirm(&t(K::studio_run_end_confirm)) {
            end_now.dispatch(id);
        }
    };
    view! {
        <section class="card run-of-show" aria-labelledby="ros-title">
            <h2 id="ros-title">{t(K::studio_run_title)}</h2>
            {match session.status {
                SessionStatus::Scheduled => view! {
                    <p class="muted">{t(K::studio_run_scheduled_hint)}</p>
                    <div class="ros-actions">
                        <button type="button" class="btn btn-primary btn-big" on:click=move |_| { live.dispatch(id); }>{t(K::studio_run_go_live)}</button>
                        <button type="button" class="btn" on:click=move |_| { rehearsal.dispatch((id, true)); }>{t(K::studio_run_rehearse)}</button>
                    </div>
                }.into_any(),
                SessionStatus::Rehearsal => view! {
                    <p class="notice rehearsal-note" role="status">{t(K::studio_run_rehearsal_hint)}</p>
                    <p class="now-presenting">{t(K::studio_run_explaining)}<strong>{current.clone().unwrap_or_else(|| t(K::studio_run_nothing_yet))}</strong></p>
                    <div class="ros-actions">
                        <button type="button" class="btn btn-primary" on:click=move |_| { next.dispatch(id); }>{t(K::studio_run_next)}</button>
                        <button type="button" class="btn btn-primary btn-big" on:click=move |_| { live.dispatch(id); }>{t(K::studio_run_go_live_for_real)}</button>
                        <button type="button" class="btn" on:click=move |_| { rehearsal.dispatch((id, false)); }>{t(K::studio_run_stop_rehearsal)}</button>
                    </div>
                }.into_any(),
                SessionStatus::Live => view! {
                    <p class="now-presenting">{t(K::studio_run_explaining)}<strong>{current.unwrap_or_else(|| t(K::studio_run_nothing_yet))}</strong></p>
                    <div class="ros-actions">
                        <button type="button" class="btn btn-primary btn-big" on:click=move |_| { next.dispatch(id); }>{t(K::studio_run_next)}</button>
                        <button type="button" class="btn btn-danger" on:click=end>{t(K::studio_run_end)}</button>
                    </div>
                }.into_any(),
                SessionStatus::Ended => view! {
                    <p>{t(K::studio_run_ended)}<a href=format!("/studio/s/{id}/summary")>{t(K::studio_run_see_summary)}</a></p>
                }.into_any(),
            }}
        </section>
    }
}
