//! The Leptos application: routes, pages and components (client-rendered in Wasm), the server
//! functions they call, and the types shared by both sides.
//!
//! Features: `csr` builds the browser client (Trunk: `--no-default-features --features csr`);
//! `ssr` builds the server side of the server functions, whose bodies call the server-only
//! services of the `shop-backend` crate.

// The server-side build types whole pages' views (`LiveRoom`'s parts turn them into `AnyView`):
// deeper than the compiler's default of 128.
#![recursion_limit = "256"]

pub mod api;
pub mod components;
pub mod pages;

// Shared with the server-only backend crate (`shop-core`): named here as the app's own.
pub use shop_core::{domain, error, i18n, model};

use leptos::prelude::*;
use leptos_router::{
    components::{Route, Router, Routes},
    path,
};

use crate::pages::{
    home::HomePage,
    invite::InvitePage,
    live_room::{EmbedRoute, LiveRoom, OrdersRoute},
    not_found::NotFoundPage,
    session::SessionPage,
    studio::{
        session::{ModerationPage, StudioSessionPage},
        summary::StudioSummaryPage,
        team::{JoinTeamPage, StudioTeamPage},
        StudioHome,
    },
};

/// The shoppers' app (`src/main.rs`): home, session (before and after it is live) and invite
/// pages. Neither the live room nor the studio is in it: each is a bundle of its own
/// ([`LiveApp`], [`StudioApp`]), so a shopper waiting for a session downloads neither; links
/// between bundles are page loads.
#[component]
pub fn ShopApp() -> impl IntoView {
    shopper_routes()
}

/// The live room's app (`src/bin/live.rs`): the shoppers' pages with the live room's parts
/// (stage, chat, pay sheet, "My orders") and the embedded room. The server sends it for a
/// session page while its session is live, for `/orders` and for `/embed/{id}`.
#[component]
pub fn LiveApp() -> impl IntoView {
    provide_context(LiveRoom::parts());
    shopper_routes()
}

/// The routes both shoppers' bundles answer; what the live room adds comes from the context.
fn shopper_routes() -> impl IntoView {
    // Inside WeChat: its JS-SDK, configured for this site (sharing cards, address picker).
    components::wechat::WechatSdk::provide();
    view! {
        <Router>
            <main class="app">
                <Routes fallback=|| view! { <NotFoundPage/> }>
                    <Route path=path!("/") view=HomePage/>
                    <Route path=path!("/s/:id") view=SessionPage/>
                    <Route path=path!("/i/:code") view=InvitePage/>
                    <Route path=path!("/orders") view=OrdersRoute/>
                    <Route path=path!("/embed/:id") view=EmbedRoute/>
                </Routes>
                <Footer/>
            </main>
        </Router>
    }
}

/// The hosts' studio (`src/bin/studio.rs`), served for `/studio` and below.
#[component]
pub fn StudioApp() -> impl IntoView {
    view! {
        <Router>
            <main class="app">
                <Routes fallback=|| view! { <NotFoundPage/> }>
                    <Route path=path!("/studio") view=StudioHome/>
                    <Route path=path!("/studio/s/:id") view=StudioSessionPage/>
                    <Route path=path!("/studio/s/:id/summary") view=StudioSummaryPage/>
                    <Route path=path!("/studio/s/:id/moderate") view=ModerationPage/>
                    <Route path=path!("/studio/team") view=StudioTeamPage/>
                    <Route path=path!("/studio/join/:token") view=JoinTeamPage/>
                </Routes>
                <Footer/>
            </main>
        </Router>
    }
}

#[component]
fn Footer() -> impl IntoView {
    view! {
        <footer class="app-footer">
            <components::language::LanguageSwitcher/>
        </footer>
    }
}

/// Browser entry (both bundles): chooses the page's language and fetches its texts (`i18n`),
/// then mounts `app` into `#app`, replacing the boot notice, or off the document until it takes
/// the place of the server's first paint.
#[cfg(feature = "csr")]
pub fn start<F, V>(app: F)
where
    F: FnOnce() -> V + 'static,
    V: IntoView + 'static,
{
    use wasm_bindgen::JsCast;
    console_error_panic_hook::set_once();
    wasm_bindgen_futures::spawn_local(async move {
        // Instantiating the module, choosing the language and building the page are three
        // tasks, not one: on a slow phone one long task blocks taps (total blocking time).
        next_task().await;
        if !i18n::load(i18n::choose()).await {
            // No texts could be fetched: the boot notice says the page could not load.
            start_failed();
            return;
        }
        next_task().await;
        let document = document();
        // Under the server's first paint the app renders off the document and takes its
        // place when its page is ready (`components::first_paint`); otherwise it replaces the
        // loading notice.
        let root = match components::first_paint::csr::detached_root() {
            Some(root) => root,
            None => {
                if let Some(boot) = document.get_element_by_id("boot") {
                    boot.remove();
                }
                document
                    .get_element_by_id("app")
                    .and_then(|el| el.dyn_into::<web_sys::HtmlElement>().ok())
                    .unwrap_or_else(|| document.body().expect("document has a body"))
            }
        };
        leptos::mount::mount_to(root, app).forget();
    });
}

/// Resolves in a later task of the event loop (`setTimeout(0)`), so the browser may handle
/// input and paint in between.
#[cfg(feature = "csr")]
async fn next_task() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            if window.set_timeout_with_callback(&resolve).is_ok() {
                return;
            }
        }
        let _ = resolve.call0(&wasm_bindgen::JsValue::NULL);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// Tells the page the app cannot start (`public/boot-check.js` shows why, in the page's
/// language, in place of the loading notice).
#[cfg(feature = "csr")]
fn start_failed() {
    use wasm_bindgen::JsCast;
    let failed = web_sys::window()
        .and_then(|w| js_sys::Reflect::get(&w, &"bootFailed".into()).ok())
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
    if let Some(f) = failed {
        let _ = f.call0(&wasm_bindgen::JsValue::NULL);
    }
}
