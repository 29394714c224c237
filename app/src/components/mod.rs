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
