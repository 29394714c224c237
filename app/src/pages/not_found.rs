use leptos::prelude::*;

use crate::i18n::{t, K};

#[component]
pub fn NotFoundPage() -> impl IntoView {
    view! { <NotFound message=t(K::common_page_not_found)/> }
}

/// Shown for unknown routes and for ids the server does not know.
#[component]
pub fn NotFound(#[prop(into)] message: String) -> impl IntoView {
    view! {
        <section class="not-found" aria-labelledby="nf-title">
            <h1 id="nf-title">{t(K::common_not_found)}</h1>
            <p>{message}</p>
            <a class="btn btn-primary" href="/" rel="external">{t(K::common_see_sessions)}</a>
        </section>
    }
}
