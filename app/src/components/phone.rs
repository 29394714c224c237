//! Verifying a mobile number: the number, "Send code", the 6-digit code, "Verify". Used where
//! a session's discount needs a verified number, and on "My orders" to sign back in on
//! another phone. Every rule (format, attempts, expiry, limits) is the server's.

use std::time::Duration;

use leptos::prelude::*;

use crate::{
    api::phone::{send_phone_code, verify_phone},
    components::scoped::{every, spawn_owned},
    i18n::{t, tf, K},
    model::{CodeSent, PhoneVerified},
};

/// Seconds before "Send code" may be tapped again.
const RESEND_AFTER_S: i64 = 60;

/// The SMS language: the page's.
fn sms_locale() -> String {
    crate::i18n::current().tag().to_string()
}

#[component]
pub fn PhoneVerify(
    #[prop(into)] heading: String,
    #[prop(into)] intro: String,
    #[prop(into)] on_verified: Callback<PhoneVerified>,
) -> impl IntoView {
    let phone = RwSignal::new(String::new());
    let code = RwSignal::new(String::new());
    let sent = RwSignal::new(None::<CodeSent>);
    let wait = RwSignal::new(0i64);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    every(Duration::from_secs(1), move || {
        if wait.get_untracked() > 0 {
            wait.update(|w| *w -= 1);
        }
    });
    let send = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() || wait.get_untracked() > 0 {
            return;
        }
        busy.set(true);
        error.set(None);
        let number = phone.get_untracked();
        spawn_owned(async move {
            match send_phone_code(number, sms_locale()).await {
                Ok(s) => {
                    sent.set(Some(s));
                    code.set(String::new());
                    wait.set(RESEND_AFTER_S);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
            busy.set(false);
        });
    };
    let verify = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        let (number, typed) = (phone.get_untracked(), code.get_untracked());
        spawn_owned(async move {
            match verify_phone(number, typed).await {
                Ok(v) => on_verified.run(v),
                Err(e) => error.set(Some(e.to_string())),
            }
            busy.set(false);
        });
    };
    let label = heading.clone();
    view! {
        <section class="phone-verify" aria-label=label>
            <h2>{heading}</h2>
            <p class="muted small">{intro}</p>
            <form class="phone-row" on:submit=send>
                <label class="field"><span>{t(K::shop_phone_number)}</span>
                    <input type="tel" name="phone" inputmode="tel" autocomplete="tel" required maxlength="24"
                        placeholder="138 1234 5678"
                        prop:value=move || phone.get() on:input=move |ev| phone.set(event_target_value(&ev))/>
                </label>
                <button type="submit" class="btn" disabled=move || { busy.get() || wait.get() > 0 }>
                    {move || match (wait.get(), sent.with(Option::is_some)) {
                        (w, _) if w > 0 => tf(K::shop_phone_resend_in, &[("seconds", &w.to_string())]),
                        (_, true) => t(K::shop_phone_send_new),
                        _ => t(K::shop_phone_send),
                    }}
                </button>
            </form>
            {move || sent.get().map(|s| view! {
                <p class="status" role="status">{tf(K::shop_phone_code_sent, &[("phone", &s.masked), ("minutes", &(s.expires_in_s / 60).to_string())])}</p>
                {s.dev_code.map(|c| view! { <p class="dev-code" role="status">{tf(K::shop_phone_dev_code, &[("code", &c)])}</p> })}
                <form class="phone-row" on:submit=verify>
                    <label class="field"><span>{t(K::shop_phone_code)}</span>
                        <input type="text" name="code" inputmode="numeric" autocomplete="one-time-code" required
                            maxlength="6" pattern="[0-9]{6}"
                            prop:value=move || code.get() on:input=move |ev| code.set(event_target_value(&ev))/>
                    </label>
                    <button type="submit" class="btn btn-primary" disabled=move || busy.get()>{t(K::shop_phone_verify)}</button>
                </form>
            })}
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        </section>
    }
}
