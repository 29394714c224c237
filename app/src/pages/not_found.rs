use leptos::prelude::*;

#[component]
pub fn NotFoundPage() -> impl IntoView {
    view! { <NotFound message="This page does not exist."/> }
}

/// Shown for unknown routes and for ids the server does not know.
#[component]
pub fn NotFound(#[prop(into)] message: String) -> impl IntoView {
    view! {
        <section class="not-found" aria-labelledby="nf-title">
            <h1 id="nf-title">"Not found"</h1>
            <p>{message}</p>
            <a class="btn btn-primary" href="/">"See live and upcoming sessions"</a>
        </section>
    }
}
