//! Run of show: go live, present the next product, end the session.

use leptos::prelude::*;

use super::{studio_action, StatusLine};
use crate::{
    api::studio::{end_session, go_live, present_next},
    components::browser::confirm,
    model::{SessionStatus, StudioSession},
};

#[component]
pub(super) fn RunOfShow(
    session: StudioSession,
    reload: Callback<()>,
    msg: StatusLine,
) -> impl IntoView {
    let id = session.id;
    let current = session
        .current_product_id
        .and_then(|c| session.products.iter().find(|p| p.id == c))
        .map(|p| p.name.clone());
    let live = studio_action(
        msg,
        reload,
        "You're live! Reservers' pages switched to the live room.",
        go_live,
    );
    let next = studio_action(msg, reload, "Presenting the next product.", present_next);
    let end_now = studio_action(msg, reload, "The session has ended.", end_session);
    let end = move |_| {
        if confirm("End the session? Buying stops and invites expire.") {
            end_now.dispatch(id);
        }
    };
    view! {
        <section class="card run-of-show" aria-labelledby="ros-title">
            <h2 id="ros-title">"Run of show"</h2>
            {match session.status {
                SessionStatus::Scheduled => view! {
                    <p class="muted">"When you start, reservers' pages switch to the live room and buying opens."</p>
                    <button type="button" class="btn btn-primary btn-big" on:click=move |_| { live.dispatch(id); }>"Go live"</button>
                }.into_any(),
                SessionStatus::Live => view! {
                    <p class="now-presenting">"Explaining now: " <strong>{current.unwrap_or_else(|| "nothing yet".into())}</strong></p>
                    <div class="ros-actions">
                        <button type="button" class="btn btn-primary btn-big" on:click=move |_| { next.dispatch(id); }>"Next product"</button>
                        <button type="button" class="btn btn-danger" on:click=end>"End session"</button>
                    </div>
                }.into_any(),
                SessionStatus::Ended => view! {
                    <p>"This session has ended. " <a href=format!("/studio/s/{id}/summary")>"See the summary and export orders"</a></p>
                }.into_any(),
            }}
        </section>
    }
}
