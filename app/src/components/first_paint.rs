//! Taking over from the server's first paint (`server/src/first_paint.rs`): on `/`, `/s/{id}`
//! and `/i/{code}` the server writes the page's content into the shell, and the app renders
//! off the document. When the page has rendered its data, [`FirstPaintDone`] swaps the two in
//! one frame: nothing moves on screen, and the largest paint stays the server's.

use leptos::prelude::*;

/// Placed in a page's view once its data is there (or its error is shown).
#[component]
pub fn FirstPaintDone() -> impl IntoView {
    // Effects run after the view is in the document.
    Effect::new(move |_| ready());
}

/// Whether the app is still rendering off the document, under the server's first paint.
pub fn pending() -> bool {
    #[cfg(feature = "csr")]
    return csr::PENDING.with(|p| p.borrow().is_some());
    #[cfg(not(feature = "csr"))]
    false
}

/// Shows the app in place of the server's first paint (nothing when there is none).
pub fn ready() {
    #[cfg(feature = "csr")]
    csr::ready();
}

#[cfg(feature = "csr")]
pub(crate) mod csr {
    use std::cell::{Cell, RefCell};

    use wasm_bindgen::{prelude::Closure, JsCast};

    /// How long the app may take to show a painted page's data before it is shown anyway
    /// (its loading or error state is better than a page whose buttons never work).
    const FALLBACK_MS: i32 = 8_000;
    /// How long the swap waits, at most, for a press to end.
    const MAX_DEFER_MS: i32 = 3_000;

    thread_local! {
        /// The app's root while it renders off the document, until the swap.
        pub(super) static PENDING: RefCell<Option<web_sys::HtmlElement>> = const { RefCell::new(None) };
        /// The swap waits for the press to end.
        static DEFERRED: Cell<bool> = const { Cell::new(false) };
        /// The swap waited [`MAX_DEFER_MS`] already: it waits no more.
        static FORCED: Cell<bool> = const { Cell::new(false) };
    }

    /// A press that spans the swap would lose its tap: its `pointerdown` lands on the first
    /// paint's link, its `pointerup` on the app's, and the browser sends no click when the two
    /// differ. So the swap waits while something is pressed (`window.pressing`, tracked by
    /// `public/boot-check.js` from before the app loads), and runs after the press's click.
    fn pressing() -> bool {
        js_sys::Reflect::get(&leptos::prelude::window(), &"pressing".into())
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(false)
    }

    /// Runs a deferred swap once the press ends.
    fn watch_releases() {
        let up = Closure::<dyn FnMut()>::new(|| {
            if DEFERRED.with(|d| d.replace(false)) {
                // A task later: the click this release makes is dispatched first.
                let later = Closure::once_into_js(swap_now);
                let _ = leptos::prelude::window()
                    .set_timeout_with_callback_and_timeout_and_arguments_0(
                        later.unchecked_ref(),
                        0,
                    );
            }
        });
        let document = leptos::prelude::document();
        for release in ["pointerup", "pointercancel"] {
            let _ = document.add_event_listener_with_callback_and_bool(
                release,
                up.as_ref().unchecked_ref(),
                true,
            );
        }
        // For the page's life: one small closure, once per page load.
        up.forget();
    }

    /// Where the app mounts when the server painted this page first: an element outside the
    /// document (the page holds one copy of everything until the swap), which takes the
    /// place of the hidden `#app` at the swap, at the latest after [`FALLBACK_MS`].
    pub fn detached_root() -> Option<web_sys::HtmlElement> {
        let document = leptos::prelude::document();
        document.get_element_by_id("first-paint")?;
        let root: web_sys::HtmlElement = document.create_element("div").ok()?.dyn_into().ok()?;
        root.set_id("app");
        PENDING.with(|p| *p.borrow_mut() = Some(root.clone()));
        watch_releases();
        let later = Closure::once_into_js(swap_now);
        let _ = leptos::prelude::window().set_timeout_with_callback_and_timeout_and_arguments_0(
            later.unchecked_ref(),
            FALLBACK_MS,
        );
        Some(root)
    }

    pub fn ready() {
        if PENDING.with(|p| p.borrow().is_none()) {
            return;
        }
        let swap = Closure::once_into_js(swap_now);
        if leptos::prelude::window()
            .request_animation_frame(swap.unchecked_ref())
            .is_err()
        {
            swap_now();
        }
    }

    fn swap_now() {
        if pressing() && !FORCED.with(Cell::get) {
            // At most [`MAX_DEFER_MS`]: a release we never hear of (outside the window) must
            // not keep the app off the page.
            if !DEFERRED.with(|d| d.replace(true)) {
                let force = Closure::once_into_js(|| {
                    FORCED.with(|f| f.set(true));
                    swap_now();
                });
                let _ = leptos::prelude::window()
                    .set_timeout_with_callback_and_timeout_and_arguments_0(
                        force.unchecked_ref(),
                        MAX_DEFER_MS,
                    );
            }
            return;
        }
        let Some(root) = PENDING.with(|p| p.borrow_mut().take()) else {
            return;
        };
        let document = leptos::prelude::document();
        match document.get_element_by_id("app") {
            Some(placeholder) => {
                let _ = placeholder.replace_with_with_node_1(&root);
            }
            None => {
                if let Some(body) = document.body() {
                    let _ = body.append_child(&root);
                }
            }
        }
        for id in ["first-paint", "boot"] {
            if let Some(el) = document.get_element_by_id(id) {
                el.remove();
            }
        }
    }
}
