//! The language switcher: 中文 / English / Italiano. The choice is kept in a cookie and the
//! page reloads in that language (`i18n`).

use leptos::prelude::*;

use crate::i18n::{current, t, Locale, K, LOCALES};

#[component]
pub fn LanguageSwitcher() -> impl IntoView {
    let here = current();
    let change = move |ev: leptos::ev::Event| {
        if let Some(l) = Locale::parse(&event_target_value(&ev)).filter(|l| *l != here) {
            #[cfg(feature = "csr")]
            crate::i18n::switch_to(l);
            #[cfg(not(feature = "csr"))]
            let _ = l;
        }
    };
    view! {
        <select class="lang-switch" aria-label=t(K::common_language) on:change=change>
            {LOCALES.map(|l| view! {
                <option value=l.tag() selected=l == here lang=l.tag()>{l.native_name()}</option>
            }).collect_view()}
        </select>
    }
}
