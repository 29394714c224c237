//! The live room's parts of the shoppers' pages, and how a page gets them.
//!
//! The live stage, its chat, the pay sheet, the embedded room and "My orders" (with its
//! delivery addresses) are most of the shoppers' code, and a page before or after its session
//! needs none of it: nothing can be bought then. So they ship in a bundle of their own
//! ([`crate::LiveApp`]), which the server sends for a session page while its session is live,
//! for `/orders` and for `/embed/{id}`. Pages reach these parts only through [`LiveRoom`] in
//! the context: the shoppers' bundle ([`crate::ShopApp`]) provides none, so its Wasm leaves
//! their code out. A page of that bundle that needs them (its session went live, a link to
//! `/orders`) loads again ([`EnterLiveRoom`]) and gets the live room's bundle.

use crate::model::{ProductId, SessionId};
use leptos::prelude::*;

use crate::{
    components::checkout::{BuyButton, Checkout, OrderConfirmation, PaySheet},
    i18n::{t, K},
    model::{SessionDetail, VariantsByProduct, ViewerState},
    pages::{embed::EmbedPage, live::LiveStage, orders::OrdersPage},
};

/// The live room's parts, as plain functions so that only the bundle that provides them links
/// their code.
#[derive(Clone, Copy)]
pub struct LiveRoom {
    /// Provides the pay sheet's state for a session (`Checkout`).
    pub checkout: fn(SessionId, RwSignal<Option<ViewerState>>, Callback<()>, VariantsByProduct),
    /// The stage: video, chat, the explaining-now card.
    pub stage: fn(SessionDetail, RwSignal<Option<ViewerState>>, Callback<()>) -> AnyView,
    /// A product's Buy button: (product id, name, image URL).
    pub buy: fn(ProductId, String, String) -> AnyView,
    /// The pay sheet and the order confirmation.
    pub sheets: fn() -> AnyView,
    /// The embedded room (`/embed/{id}`).
    pub embed: fn() -> AnyView,
    /// "My orders" (`/orders`).
    pub orders: fn() -> AnyView,
}

impl LiveRoom {
    /// Every part (the live room's bundle).
    pub fn parts() -> LiveRoom {
        LiveRoom {
            checkout: |session_id, viewer, refresh, variants| {
                Checkout::provide(session_id, viewer, refresh, variants);
            },
            stage: |session, viewer, refresh| {
                view! { <LiveStage session=session viewer=viewer refresh=refresh/> }.into_any()
            },
            buy: |product_id, name, image_url| {
                view! { <BuyButton product_id=product_id name=name image_url=image_url/> }
                    .into_any()
            },
            sheets: || view! { <PaySheet/> <OrderConfirmation/> }.into_any(),
            embed: || view! { <EmbedPage/> }.into_any(),
            orders: || view! { <OrdersPage/> }.into_any(),
        }
    }

    /// The parts, where this bundle has them.
    pub fn here() -> Option<LiveRoom> {
        use_context::<LiveRoom>()
    }
}

/// `/embed/{id}`: the embedded room, or (in the shoppers' bundle) the way to it.
#[component]
pub fn EmbedRoute() -> impl IntoView {
    match LiveRoom::here() {
        Some(room) => (room.embed)(),
        None => view! { <EnterLiveRoom/> }.into_any(),
    }
}

/// `/orders`: "My orders", or (in the shoppers' bundle) the way to it.
#[component]
pub fn OrdersRoute() -> impl IntoView {
    match LiveRoom::here() {
        Some(room) => (room.orders)(),
        None => view! { <EnterLiveRoom/> }.into_any(),
    }
}

/// Where the live room goes in a bundle without it: loads the page again, which the server now
/// answers with the live room's bundle. Once: should the same page come back without it (a
/// server without that build), it says so and offers to try again instead of loading forever.
#[component]
pub fn EnterLiveRoom() -> impl IntoView {
    let failed = RwSignal::new(false);
    // The page the router is showing (after a link, its address may not be in the location
    // bar yet: the router pushes it after rendering).
    let location = leptos_router::hooks::use_location();
    let page = format!(
        "{}{}",
        location.pathname.get_untracked(),
        location.search.get_untracked()
    );
    Effect::new(move |_| {
        if !reload::once(&page) {
            failed.set(true);
        }
    });
    view! {
        <section class="live-enter" aria-live="polite">
            {move || if failed.get() {
                view! {
                    <p class="notice notice-error" role="alert">{t(K::live_room_failed)}</p>
                    <button type="button" class="btn btn-primary" on:click=move |_| reload::again()>
                        {t(K::live_room_retry)}
                    </button>
                }.into_any()
            } else {
                view! { <p class="notice" role="status">{t(K::live_room_entering)}</p> }.into_any()
            }}
        </section>
    }
}

/// A path on this site: one leading slash, not two (nor a slash and a backslash, which
/// browsers read as two): `//host/...` is another site.
#[cfg_attr(not(feature = "csr"), allow(dead_code))]
fn same_site_path(p: &str) -> bool {
    p.starts_with('/') && !p.starts_with("//") && !p.starts_with("/\\")
}

#[cfg(feature = "csr")]
mod reload {
    /// The page and time of the last load this tab asked for (session storage).
    const KEY: &str = "live-room-reload";
    /// A page that came back without the live room this soon after asking is not asked again.
    const WINDOW_MS: i64 = 20_000;

    /// Loads `page` (this site's path and query) from the server, unless this tab just did so
    /// for it; `false` then.
    pub fn once(page: &str) -> bool {
        use wasm_bindgen::{closure::Closure, JsCast};
        let Some(window) = web_sys::window() else {
            return false;
        };
        // Whole milliseconds: formatting or parsing a float would pull that code into the Wasm.
        let now = js_sys::Date::now() as i64;
        let storage = window.session_storage().ok().flatten();
        let last = storage
            .as_ref()
            .and_then(|s| s.get_item(KEY).ok().flatten())
            .and_then(|v| {
                let (page, at) = v.rsplit_once('|')?;
                Some((page.to_string(), at.parse::<i64>().ok()?))
            });
        if last.is_some_and(|(last, at)| last == page && now - at < WINDOW_MS) {
            return false;
        }
        if let Some(s) = &storage {
            let _ = s.set_item(KEY, &format!("{page}|{now}"));
        }
        // In the next task, once the router has put the page in the history. Only a path of
        // this site: `//host/...` would leave it (the page reloads instead).
        let target = page.to_string();
        let go = Closure::once_into_js(move || {
            if let Some(window) = web_sys::window() {
                let location = window.location();
                let _ = if super::same_site_path(&target) {
                    location.replace(&target)
                } else {
                    location.reload()
                };
            }
        });
        window.set_timeout_with_callback(go.unchecked_ref()).is_ok()
    }

    /// Forgets the last try and loads the page again (the shopper asked).
    pub fn again() {
        if let Some(window) = web_sys::window() {
            if let Ok(Some(s)) = window.session_storage() {
                let _ = s.remove_item(KEY);
            }
            let _ = window.location().reload();
        }
    }
}

#[cfg(not(feature = "csr"))]
mod reload {
    pub fn once(_page: &str) -> bool {
        false
    }
    pub fn again() {}
}

#[cfg(test)]
mod tests {
    use super::same_site_path;

    #[test]
    fn only_paths_of_this_site_are_loaded() {
        assert!(same_site_path("/s/12"));
        assert!(same_site_path("/orders?x=1"));
        for other in [
            "//evil.example/s/1",
            "/\\evil.example",
            "https://evil.example/",
            "s/1",
            "",
        ] {
            assert!(!same_site_path(other), "{other}");
        }
    }
}
