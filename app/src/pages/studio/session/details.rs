//! Session details: cover, title, description, start and discount policy (editable until the
//! session goes live), and deleting the session.

use leptos::{prelude::*, task::spawn_local};

use super::{report, upload::ImageUpload, StatusLine};
use crate::{
    api::studio::{studio_delete_session, studio_update_session},
    components::{
        browser::confirm,
        time::{ms_to_zoned_input, zoned_input_to_ms},
    },
    model::{SessionForm, SessionStatus, StudioSession},
    pages::studio::SessionFields,
};

#[component]
pub(super) fn DetailsEditor(
    session: StudioSession,
    reload: Callback<()>,
    msg: StatusLine,
) -> impl IntoView {
    let id = session.id;
    let editable = session.status == SessionStatus::Scheduled;
    let form = RwSignal::new(SessionForm {
        title: session.title.clone(),
        description: session.description.clone(),
        scheduled_start_ms: session.scheduled_start_ms,
        policy: session.policy.clone(),
        time_zone: session.time_zone.clone(),
    });
    let start_text = RwSignal::new(ms_to_zoned_input(
        session.scheduled_start_ms,
        &session.time_zone,
    ));
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let mut f = form.get_untracked();
        match zoned_input_to_ms(&start_text.get_untracked(), &f.time_zone) {
            Some(ms) => f.scheduled_start_ms = ms,
            None => return msg.set(Some(Err("Choose when the session starts.".into()))),
        }
        spawn_local(async move {
            report(
                msg,
                studio_update_session(id, f)
                    .await
                    .map(|_| "Session saved.".into()),
            );
            reload.try_run(());
        });
    };
    let delete = move |_| {
        if !confirm("Delete this session and its products? This cannot be undone.") {
            return;
        }
        spawn_local(async move {
            match studio_delete_session(id).await {
                Ok(()) => {
                    if let Some(w) = leptos::web_sys::window() {
                        let _ = w.location().set_href("/studio");
                    }
                }
                Err(e) => msg.set(Some(Err(e.to_string()))),
            }
        });
    };
    view! {
        <section class="card" aria-labelledby="details-title">
            <h2 id="details-title">"Session details"</h2>
            <img class="studio-cover" src=session.cover_url.clone() alt="Session cover" width="320" height="180"/>
            <ImageUpload kind="cover" target_id=id label="Upload cover" reload=reload msg=msg/>
            {if editable {
                view! {
                    <form class="stack" on:submit=save>
                        <SessionFields form=form start_text=start_text/>
                        <div class="row">
                            <button type="submit" class="btn btn-primary">"Save details"</button>
                            <button type="button" class="btn btn-danger" on:click=delete>"Delete session"</button>
                        </div>
                    </form>
                }.into_any()
            } else {
                let p = session.policy.clone();
                view! {
                    <p class="muted">"Details are locked once the session has gone live."</p>
                    <p>{format!("{}% off · {} friend(s) to unlock · {} discounted unit(s) per shopper per product{} · limit {} per shopper{}",
                        p.percent_off, p.friends_needed, p.units_per_shopper,
                        p.units_cap.map(|c| format!(" · cap {c} per product")).unwrap_or_default(), p.purchase_limit,
                        if p.verified_phone_required { " · verified phone required" } else { "" })}</p>
                }.into_any()
            }}
        </section>
    }
}
