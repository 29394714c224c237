//! The Leptos application: routes, pages and components (client-rendered in Wasm), the server
//! functions they call, and the types shared by both sides.
//!
//! Features: `csr` builds the browser client (Trunk: `--no-default-features --features csr`);
//! `ssr` builds the server side of the server functions plus the server-only `backend`.

pub mod api;
pub mod components;
pub mod domain;
pub mod error;
pub mod i18n;
pub mod model;
pub mod pages;

#[cfg(feature = "ssr")]
pub mod backend;

use leptos::prelude::*;
use leptos_router::{
    components::{Route, Router, Routes},
    path,
};

use crate::pages::{
    embed::EmbedPage,
    home::HomePage,
    invite::InvitePage,
    not_found::NotFoundPage,
    orders::OrdersPage,
    session::SessionPage,
    studio::{session::StudioSessionPage, summary::StudioSummaryPage, StudioHome},
};

#[component]
pub fn App() -> impl IntoView {
    // Inside WeChat: its JS-SDK, configured for this site (sharing cards, address picker).
    components::wechat::WechatSdk::provide();
    view! {
        <Router>
            <main class="app">
                <Routes fallback=|| view! { <NotFoundPage/> }>
                    <Route path=path!("/") view=HomePage/>
                    <Route path=path!("/s/:id") view=SessionPage/>
                    <Route path=path!("/i/:code") view=InvitePage/>
                    <Route path=path!("/orders") view=OrdersPage/>
                    <Route path=path!("/embed/:id") view=EmbedPage/>
                    <Route path=path!("/studio") view=StudioHome/>
                    <Route path=path!("/studio/s/:id") view=StudioSessionPage/>
                    <Route path=path!("/studio/s/:id/summary") view=StudioSummaryPage/>
                </Routes>
                <footer class="app-footer">
                    <components::language::LanguageSwitcher/>
                </footer>
            </main>
        </Router>
    }
}
