//! Session details: cover, title, description, start and discount policy (editable until the
//! session goes live), and deleting the session.

use leptos::prelude::*;

use super::{studio_action, upload::ImageUpload, Edits, StatusLine};
use crate::{
    api::studio::{studio_delete_session, studio_update_session},
    components::{
        browser::confirm,
        time::{ms_to_zoned_input, zoned_input_to_ms},
    },
    i18n::{t, tf, K},
    model::{SessionForm, SessionStatus, StudioSession},
    pages::studio::SessionFields,
};

#[component]
pub(super) fn DetailsEditor(
    session: StudioSession,
    edits: Edits,
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
    let update = studio_action(msg, edits, K::studio_details_saved, move |f| {
        studio_update_session(id, f)
    });
    // Deleted: on to the studio's list (a full load); otherwise the error in the status line.
    let remove = Action::new_local(move |_: &()| {
        let deleted = studio_delete_session(id);
        async move {
            match deleted.await {
                Ok(()) => {
                    if let Some(w) = leptos::web_sys::window() {
                        let _ = w.location().set_href("/studio");
                    }
                }
                Err(e) => msg.set(Some(Err(e.to_string()))),
            }
        }
    });
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let mut f = form.get_untracked();
        match zoned_input_to_ms(&start_text.get_untracked(), &f.time_zone) {
            Some(ms) => f.scheduled_start_ms = ms,
            None => return msg.set(Some(Err(t(K::studio_form_choose_start)))),
        }
        update.dispatch(f);
    };
    let delete = move |_| {
        if confirm(&t(K::studio_details_delete_confirm)) {
            remove.dispatch(());
        }
    };
    view! {
        <section class="card" aria-labelledby="details-title">
            <h2 id="details-title">{t(K::studio_details_title)}</h2>
            <img class="studio-cover" src=session.cover_url.clone() alt=t(K::studio_details_cover) width="320" height="180"/>
            <ImageUpload kind="cover" target_id=id.get() label=t(K::studio_details_upload_cover) edits=edits msg=msg/>
            {if editable {
                view! {
                    <form class="stack" on:submit=save>
                        <SessionFields form=form start_text=start_text/>
                        <div class="row">
                            <button type="submit" class="btn btn-primary">{t(K::studio_details_save)}</button>
                            <button type="button" class="btn btn-danger" on:click=delete>{t(K::studio_details_delete)}</button>
                        </div>
                    </form>
                }.into_any()
            } else {
                let p = session.policy.clone();
                let cap = p.units_cap
                    .map(|c| tf(K::studio_details_policy_cap, &[("cap", &c.to_string())]))
                    .unwrap_or_default();
                let verified = if p.verified_phone_required { t(K::studio_details_policy_verified) } else { String::new() };
                let policy = tf(K::studio_details_policy, &[
                    ("percent", &p.percent_off.to_string()),
                    ("friends", &p.friends_needed.to_string()),
                    ("units", &p.units_per_shopper.to_string()),
                    ("cap", &cap),
                    ("limit", &p.purchase_limit.to_string()),
                    ("verified", &verified),
                ]);
                view! {
                    <p class="muted">{t(K::studio_details_locked)}</p>
                    <p>{policy}</p>
                }.into_any()
            }}
        </section>
    }
}
