//! The host studio: sign-in/sign-up, the host's sessions, creating a session. Designed for a
//! 768 px tablet and a desktop.

pub mod broadcast;
pub mod embed;
pub mod session;
pub mod summary;
pub mod team;

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

use crate::{
    api::studio::{
        current_host, host_sign_in, host_sign_out, host_sign_up, studio_create_session,
        studio_sessions,
    },
    components::{
        browser::now_ms,
        status::StatusBadge,
        time::{ms_to_zoned_input, zoned_input_to_ms, SessionTime},
        ErrorNotice, Loading,
    },
    domain::team::{allows, Permission},
    i18n::{t, tp, K},
    model::{HostMe, PolicyForm, SessionForm, DEFAULT_TIME_ZONE},
};

/// The studio's top bar.
#[component]
pub fn StudioBar(
    #[prop(into)] host: Option<HostMe>,
    #[prop(into, optional)] on_signed_out: Option<Callback<()>>,
) -> impl IntoView {
    let sign_out = Action::new_local(move |_: &()| {
        let signed_out = host_sign_out();
        async move {
            let _ = signed_out.await;
            if let Some(cb) = on_signed_out {
                cb.try_run(());
            }
        }
    });
    view! {
        <header class="top-bar studio-bar">
            <a href="/studio" class="brand-link">{t(K::studio_bar_studio)}</a>
            {host.map(|h| view! {
                <span class="studio-host">{h.display_name}
                    {(h.role != crate::domain::team::Role::Owner).then(|| view! { " · "{team::role_name(h.role)} })}
                </span>
                <button type="button" class="btn btn-small" on:click=move |_| { sign_out.dispatch(()); }>{t(K::studio_bar_sign_out)}</button>
            })}
        </header>
    }
}

#[component]
pub fn StudioHome() -> impl IntoView {
    let me = LocalResource::new(current_host);
    let reload = Callback::new(move |_| me.refetch());
    // A transition, not a suspense: the embed panel's list is a resource read again after each
    // change, and the page stays up while it loads.
    view! {
        <div class="studio">
            <Transition fallback=|| view! { <Loading label=t(K::studio_home_loading)/> }>
                {move || Suspend::new(async move {
                    match me.await {
                        Ok(Some(host)) => {
                            let role = host.role;
                            view! {
                                <StudioBar host=Some(host.clone()) on_signed_out=reload/>
                                <div class="studio-main">
                                    {allows(role, Permission::ManageShop).then(|| view! {
                                        <p><a class="btn btn-small" href="/studio/team">{t(K::studio_team_link)}</a></p>
                                    })}
                                    {allows(role, Permission::EditShow).then(|| view! { <NewSessionForm/> })}
                                    <HostSessions/>
                                    {allows(role, Permission::ManageShop).then(|| view! { <embed::EmbedSettings/> })}
                                </div>
                            }.into_any()
                        }
                        Ok(None) => view! {
                            <StudioBar host={None::<HostMe>}/>
                            <div class="studio-main"><AuthForms on_done=reload/></div>
                        }.into_any(),
                        Err(e) => view! { <ErrorNotice error=e on_retry=reload/> }.into_any(),
                    }
                })}
            </Transition>
        </div>
    }
}

#[component]
fn AuthForms(#[prop(into)] on_done: Callback<()>) -> impl IntoView {
    let signing_up = RwSignal::new(false);
    let (name, email, password) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
    );
    let error = RwSignal::new(None::<String>);
    // Signing up or in, with (name, email, password); one form for both, so not an ActionForm.
    let enter = Action::new_local(move |(up, n, e, p): &(bool, String, String, String)| {
        let (up, n, e, p) = (*up, n.clone(), e.clone(), p.clone());
        async move {
            let entered = if up {
                host_sign_up(n, e, p).await
            } else {
                host_sign_in(e, p).await
            };
            match entered {
                Ok(_) => {
                    on_done.try_run(());
                }
                Err(err) => error.set(Some(err.to_string())),
            }
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        error.set(None);
        enter.dispatch((
            signing_up.get_untracked(),
            name.get_untracked(),
            email.get_untracked(),
            password.get_untracked(),
        ));
    };
    view! {
        <section class="auth card" aria-labelledby="auth-title">
            <h1 id="auth-title">{move || if signing_up.get() { t(K::studio_auth_create_title) } else { t(K::studio_auth_sign_in_title) }}</h1>
            <form on:submit=submit class="stack">
                <Show when=move || signing_up.get()>
                    <label class="field"><span>{t(K::studio_auth_display_name)}</span>
                        <input type="text" name="display_name" required maxlength="40" autocomplete="nickname"
                            prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
                    </label>
                </Show>
                <label class="field"><span>{t(K::studio_auth_email)}</span>
                    <input type="email" name="email" required autocomplete="email"
                        prop:value=move || email.get() on:input=move |ev| email.set(event_target_value(&ev))/>
                </label>
                <label class="field"><span>{t(K::studio_auth_password)}</span>
                    <input type="password" name="password" required minlength="1"
                        autocomplete=move || if signing_up.get() { "new-password" } else { "current-password" }
                        prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev))/>
                </label>
                {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                <button type="submit" class="btn btn-primary" disabled=move || enter.pending().get()>
                    {move || if signing_up.get() { t(K::studio_auth_create_account) } else { t(K::studio_auth_sign_in) }}
                </button>
            </form>
            <button type="button" class="btn btn-link" on:click=move |_| { signing_up.update(|s| *s = !*s); error.set(None); }>
                {move || if signing_up.get() { t(K::studio_auth_have_account) } else { t(K::studio_auth_new_host) }}
            </button>
        </section>
    }
}

/// The editable part of a session: title, description, start, discount policy.
#[component]
pub fn SessionFields(
    form: RwSignal<SessionForm>,
    #[prop(into)] start_text: RwSignal<String>,
) -> impl IntoView {
    let num = move |f: fn(&mut PolicyForm, i64)| {
        move |ev: leptos::ev::Event| {
            if let Ok(v) = event_target_value(&ev).parse::<i64>() {
                form.update(|s| f(&mut s.policy, v));
            }
        }
    };
    view! {
        <label class="field"><span>{t(K::studio_form_title)}</span>
            <input type="text" name="title" required maxlength="80"
                prop:value=move || form.with(|f| f.title.clone())
                on:input=move |ev| form.update(|f| f.title = event_target_value(&ev))/>
        </label>
        <label class="field"><span>{t(K::studio_form_description)}</span>
            <textarea name="description" rows="3" maxlength="2000"
                prop:value=move || form.with(|f| f.description.clone())
                on:input=move |ev| form.update(|f| f.description = event_target_value(&ev))></textarea>
        </label>
        <label class="field"><span>{t(K::studio_form_start)}</span>
            <input type="datetime-local" name="start" required
                prop:value=move || start_text.get() on:input=move |ev| start_text.set(event_target_value(&ev))/>
        </label>
        <label class="field"><span>{t(K::studio_form_time_zone)}</span>
            <select name="time_zone" on:change=move |ev| form.update(|f| f.time_zone = event_target_value(&ev))>
                {move || zone_choices(&form.with(|f| f.time_zone.clone())).into_iter().map(|z| {
                    let selected = form.with(|f| f.time_zone == z);
                    view! { <option value=z.clone() selected=selected>{z.replace('_', " ")}</option> }
                }).collect_view()}
            </select>
        </label>
        <fieldset class="policy">
            <legend>{t(K::studio_form_invite_discount)}</legend>
            <label class="field"><span>{t(K::studio_form_percent_off)}</span>
                <input type="number" name="percent_off" min="1" max="100" required
                    prop:value=move || form.with(|f| f.policy.percent_off.to_string()) on:input=num(|p, v| p.percent_off = v)/>
            </label>
            <label class="field"><span>{t(K::studio_form_friends_needed)}</span>
                <input type="number" name="friends_needed" min="1" max="100" required
                    prop:value=move || form.with(|f| f.policy.friends_needed.to_string()) on:input=num(|p, v| p.friends_needed = v)/>
            </label>
            <label class="field"><span>{t(K::studio_form_units_per_shopper)}</span>
                <input type="number" name="units_per_shopper" min="0" max="100" required
                    prop:value=move || form.with(|f| f.policy.units_per_shopper.to_string()) on:input=num(|p, v| p.units_per_shopper = v)/>
            </label>
            <label class="field"><span>{t(K::studio_form_units_cap)}</span>
                <input type="number" name="units_cap" min="0"
                    prop:value=move || form.with(|f| f.policy.units_cap.map(|c| c.to_string()).unwrap_or_default())
                    on:input=move |ev| { let v = event_target_value(&ev); form.update(|f| f.policy.units_cap = v.parse().ok()); }/>
            </label>
            <label class="field"><span>{t(K::studio_form_purchase_limit)}</span>
                <input type="number" name="purchase_limit" min="1" max="99" required
                    prop:value=move || form.with(|f| f.policy.purchase_limit.to_string()) on:input=num(|p, v| p.purchase_limit = v)/>
            </label>
            <label class="check">
                <input type="checkbox" name="verified_phone_required"
                    prop:checked=move || form.with(|f| f.policy.verified_phone_required)
                    on:change=move |ev| form.update(|f| f.policy.verified_phone_required = event_target_checked(&ev))/>
                <span>{t(K::studio_form_verified_phone)}</span>
            </label>
        </fieldset>
    }
}

/// Time zones a host picks from (China first), with the session's own and the device's.
const ZONES: &[&str] = &[
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Taipei",
    "Asia/Singapore",
    "Asia/Kuala_Lumpur",
    "Asia/Bangkok",
    "Asia/Jakarta",
    "Asia/Tokyo",
    "Asia/Seoul",
    "Asia/Kolkata",
    "Asia/Dubai",
    "Australia/Sydney",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Rome",
    "Europe/Madrid",
    "Europe/Moscow",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "UTC",
];

fn zone_choices(current: &str) -> Vec<String> {
    let mut out: Vec<String> = ZONES.iter().map(|z| z.to_string()).collect();
    for extra in [current.to_string(), device_zone()] {
        if !extra.is_empty() && !out.contains(&extra) {
            out.push(extra);
        }
    }
    out
}

/// The device's IANA zone (`Intl.DateTimeFormat().resolvedOptions().timeZone`).
fn device_zone() -> String {
    #[cfg(feature = "csr")]
    {
        let f = js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new());
        js_sys::Reflect::get(&f.resolved_options(), &"timeZone".into())
            .ok()
            .and_then(|z| z.as_string())
            .unwrap_or_default()
    }
    #[cfg(not(feature = "csr"))]
    {
        String::new()
    }
}

#[component]
fn NewSessionForm() -> impl IntoView {
    let navigate = use_navigate();
    let form = RwSignal::new(SessionForm {
        title: String::new(),
        description: String::new(),
        scheduled_start_ms: 0,
        policy: PolicyForm::default(),
        time_zone: DEFAULT_TIME_ZONE.to_string(),
    });
    // Default: one day from now, on the hour.
    let start_text = RwSignal::new(ms_to_zoned_input(
        (now_ms() / 3_600_000 + 25) * 3_600_000,
        DEFAULT_TIME_ZONE,
    ));
    let error = RwSignal::new(None::<String>);
    let open = RwSignal::new(false);
    // Created: on to its page; otherwise the error under the form.
    let create = Action::new_local(move |f: &SessionForm| {
        let created = studio_create_session(f.clone());
        let navigate = navigate.clone();
        async move {
            match created.await {
                Ok(id) => navigate(&format!("/studio/s/{id}"), Default::default()),
                Err(e) => error.set(Some(e.to_string())),
            }
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let mut f = form.get_untracked();
        let Some(start) = zoned_input_to_ms(&start_text.get_untracked(), &f.time_zone) else {
            error.set(Some(t(K::studio_form_choose_start)));
            return;
        };
        f.scheduled_start_ms = start;
        create.dispatch(f);
    };
    view! {
        <section class="card" aria-labelledby="new-title">
            <div class="card-head">
                <h2 id="new-title">{t(K::studio_new_title)}</h2>
                <button type="button" class="btn btn-primary" on:click=move |_| open.update(|o| *o = !*o)
                    aria-expanded=move || open.get().to_string()>{t(K::studio_new_open)}</button>
            </div>
            <Show when=move || open.get()>
                <form class="stack" on:submit=submit>
                    <SessionFields form=form start_text=start_text/>
                    {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                    <button type="submit" class="btn btn-primary">{t(K::studio_new_create)}</button>
                </form>
            </Show>
        </section>
    }
}

#[component]
fn HostSessions() -> impl IntoView {
    let sessions = LocalResource::new(studio_sessions);
    let retry = Callback::new(move |_| sessions.refetch());
    view! {
        <section class="card" aria-labelledby="mine-title">
            <h2 id="mine-title">{t(K::studio_mine_title)}</h2>
            <Suspense fallback=|| view! { <Loading label=t(K::studio_mine_loading)/> }>
                {move || Suspend::new(async move {
                    match sessions.await {
                        Ok(list) if list.is_empty() => view! { <p class="muted">{t(K::studio_mine_empty)}</p> }.into_any(),
                        Ok(list) => view! {
                            <ul class="studio-sessions">
                                {list.into_iter().map(|s| view! {
                                    <li>
                                        <a href=format!("/studio/s/{}", s.id) class="studio-session-link">
                                            <img src=s.cover_url alt="" width="160" height="90"/>
                                            <span>
                                                <StatusBadge status=s.status/>
                                                <strong>{s.title}</strong>
                                                <span class="muted small"><SessionTime ms=s.scheduled_start_ms zone=s.time_zone offset=s.start_offset_minutes/>{format!(" · {}", tp(K::common_products, s.product_count, &[]))}</span>
                                            </span>
                                        </a>
                                    </li>
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(e) => view! { <ErrorNotice error=e on_retry=retry/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}
