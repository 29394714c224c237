//! Image uploads (covers and product images), validated and resized by the server.

use leptos::{prelude::*, task::spawn_local};

use super::{report, StatusLine};
use crate::{
    api::studio::studio_upload_image,
    i18n::{t, tf, K},
};

/// Uploads an image file (validated and resized by the server).
#[component]
pub(super) fn ImageUpload(
    kind: &'static str,
    target_id: i64,
    #[prop(into)] label: String,
    reload: Callback<()>,
    msg: StatusLine,
) -> impl IntoView {
    let busy = RwSignal::new(false);
    let input_label = label.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(form) = event_target::<leptos::web_sys::HtmlFormElement>(&ev).into() else {
            return;
        };
        let Ok(data) = leptos::web_sys::FormData::new_with_form(&form) else {
            return;
        };
        busy.set(true);
        spawn_local(async move {
            report(
                msg,
                studio_upload_image(data.into())
                    .await
                    .map(|_| t(K::studio_upload_done)),
            );
            busy.set(false);
            reload.try_run(());
        });
    };
    view! {
        <form class="upload" on:submit=submit>
            <input type="hidden" name="kind" value=kind/>
            <input type="hidden" name="id" value=target_id.to_string()/>
            <input type="file" name="file" accept="image/jpeg,image/png,image/webp,image/gif" required aria-label=tf(K::studio_upload_choose, &[("label", &input_label)])/>
            <button type="submit" class="btn btn-small" disabled=move || busy.get()>{label}</button>
        </form>
    }
}
