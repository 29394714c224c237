//! Small reusable pieces of UI.

pub mod address;
pub mod browser;
pub mod card_sync;
pub mod checkout;
pub mod countdown;
pub mod first_paint;
#[cfg(feature = "csr")]
pub mod js;
pub mod language;
pub mod live_stream;
pub mod phone;
pub mod scoped;
pub mod share;
pub mod status;
pub mod time;
pub mod video;

use leptos::prelude::*;

use crate::{
    error::AppError,
    i18n::{t, K},
};

/// A loading placeholder that screen readers announce.
#[component]
pub fn Loading(#[prop(into)] label: String) -> impl IntoView {
    view! {
        <div class="loading" role="status" aria-live="polite">
            <span class="spinner" aria-hidden="true"></span>
            <span>{label}</span>
        </div>
    }
}

/// Runs `f` with each outcome of `action` as it lands: what an `ActionForm`'s server action
/// does after the call (its function is the server function itself).
pub fn on_outcome<I, O>(action: impl Into<Action<I, O>>, f: impl Fn(O) + 'static)
where
    I: 'static,
    O: Clone + 'static,
{
    let action = action.into();
    Effect::watch(
        move || action.version().get(),
        move |_, _, _| {
            if let Some(outcome) = action.value().get_untracked() {
                f(outcome);
            }
        },
        false,
    );
}

/// An error a person can act on: the message and a retry button.
#[component]
pub fn ErrorNotice(error: AppError, #[prop(into)] on_retry: Callback<()>) -> impl IntoView {
    view! {
        <div class="notice notice-error" role="alert">
            <p>{error.to_string()}</p>
            <button type="button" class="btn" on:click=move |_| on_retry.run(())>{t(K::common_try_again)}</button>
        </div>
    }
}
pub mod wechat;
