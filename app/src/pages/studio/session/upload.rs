//! Image uploads (covers and product images), validated and resized by the server.

use leptos::{prelude::*, web_sys::FormData};

use super::{report, Edits, StatusLine};
use crate::{
    api::studio::studio_upload_image,
    i18n::{t, tf, K},
};

/// Uploads an image file (validated and resized by the server).
#[component]
pub(super) fn ImageUpload(
    kind: &'static str,
    /// The session (a cover) or the product (its image); the server checks which.
    target_id: i64,
    #[prop(into)] label: String,
    edits: Edits,
    msg: StatusLine,
) -> impl IntoView {
    // The form's data is a browser value (not `Send`): a local action, dispatched locally.
    let upload = Action::new_local(move |data: &FormData| {
        let sent = studio_upload_image(data.clone().into());
        async move {
            report(msg, sent.await.map(|_| t(K::studio_upload_done)));
            edits.landed();
        }
    });
    let input_label = label.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(form) = event_target::<leptos::web_sys::HtmlFormElement>(&ev).into() else {
            return;
        };
        let Ok(data) = FormData::new_with_form(&form) else {
            return;
        };
        upload.dispatch_local(data);
    };
    view! {
        <form class="upload" on:submit=submit>
            <input type="hidden" name="kind" value=kind/>
            <input type="hidden" name="id" value=target_id.to_string()/>
            <input type="file" name="file" accept="image/jpeg,image/png,image/webp,image/gif" required aria-label=tf(K::studio_upload_choose, &[("label", &input_label)])/>
            <button type="submit" class="btn btn-small" disabled=move || upload.pending().get()>{label}</button>
        </form>
    }
}
