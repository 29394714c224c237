//! Restream: the other platforms the host's broadcast is pushed to while live (an RTMP(S)
//! server URL and a stream key each, the host's own, for every session). Each destination
//! shows its state, refreshed every few seconds (connecting, live, failing with the reason),
//! an on/off switch and Delete; the form below adds one. The stream key is sent once, when
//! added: the list only ever has it masked.

use std::time::Duration;

use leptos::{prelude::*, task::spawn_local};

use super::{report, studio_action, StatusLine};
use crate::{
    api::restream::{
        studio_add_restream, studio_delete_restream, studio_enable_restream, studio_restreams,
    },
    components::browser::confirm,
    error::AppError,
    i18n::{t, tf, K},
    model::{RestreamDestination, RestreamState},
};

/// The states are written by the pushing node; the panel looks again this often.
const REFRESH: Duration = Duration::from_secs(3);

fn state_text(d: &RestreamDestination) -> String {
    match d.state {
        RestreamState::Off => t(K::studio_restream_state_off),
        RestreamState::Waiting => t(K::studio_restream_state_waiting),
        RestreamState::Connecting => t(K::studio_restream_state_connecting),
        RestreamState::Live => t(K::studio_restream_state_live),
        RestreamState::Failing => tf(
            K::studio_restream_state_failing,
            &[("reason", d.reason.as_deref().unwrap_or("?"))],
        ),
    }
}

fn state_class(s: RestreamState) -> &'static str {
    match s {
        RestreamState::Off => "off",
        RestreamState::Waiting => "waiting",
        RestreamState::Connecting => "connecting",
        RestreamState::Live => "live",
        RestreamState::Failing => "failing",
    }
}

#[component]
pub(super) fn RestreamPanel(msg: StatusLine) -> impl IntoView {
    let list = RwSignal::new(None::<Result<Vec<RestreamDestination>, AppError>>);
    let reload = Callback::new(move |_| {
        spawn_local(async move { list.set(Some(studio_restreams().await)) });
    });
    reload.run(());
    if let Ok(handle) = set_interval_with_handle(move || reload.run(()), REFRESH) {
        on_cleanup(move || handle.clear());
    }
    let name = RwSignal::new(String::new());
    let url = RwSignal::new(String::new());
    let key = RwSignal::new(String::new());
    let add = Action::new_local(move |form: &(String, String, String)| {
        let (n, u, k) = form.clone();
        async move {
            match studio_add_restream(n, u, k).await {
                Ok(now) => {
                    list.set(Some(Ok(now)));
                    name.set(String::new());
                    url.set(String::new());
                    key.set(String::new());
                    report(msg, Ok(t(K::studio_restream_added)));
                }
                Err(e) => report(msg, Err(e)),
            }
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        add.dispatch((
            name.get_untracked(),
            url.get_untracked(),
            key.get_untracked(),
        ));
    };
    let switch_on = studio_action(msg, reload, K::studio_restream_switched_on, |id| {
        studio_enable_restream(id, true)
    });
    let switch_off = studio_action(msg, reload, K::studio_restream_switched_off, |id| {
        studio_enable_restream(id, false)
    });
    let delete = studio_action(
        msg,
        reload,
        K::studio_restream_deleted,
        studio_delete_restream,
    );
    // Rows keyed by all they show: a refresh rebuilds only a row whose state changed.
    let rows = move || {
        list.with(|l| match l {
            Some(Ok(l)) => l.clone(),
            _ => Vec::new(),
        })
    };
    view! {
        <section class="card restream" aria-labelledby="restream-title">
            <h2 id="restream-title">{t(K::studio_restream_title)}</h2>
            <p class="muted small">{t(K::studio_restream_hint)}</p>
            {move || list.with(|l| match l {
                Some(Err(e)) => Some(view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any()),
                Some(Ok(l)) if l.is_empty() => Some(view! { <p class="muted">{t(K::studio_restream_none)}</p> }.into_any()),
                _ => None,
            })}
            <ul class="restream-list" aria-label=t(K::studio_restream_list)>
                <For each=rows key=|d| format!("{d:?}") let:d>
                    {
                        let id = d.id;
                        let enabled = d.enabled;
                        let name = d.name.clone();
                        view! {
                            <li class="restream-row" data-restream-id=id data-state=state_class(d.state)>
                                <div class="restream-body">
                                    <strong>{d.name.clone()}</strong>
                                    <span class=format!("restream-state restream-{}", state_class(d.state)) role="status">{state_text(&d)}</span>
                                    <span class="muted small"><code>{d.url.clone()}</code>" "<code>{d.key_masked.clone()}</code></span>
                                </div>
                                <div class="row">
                                    <label class="switch">
                                        <input type="checkbox" prop:checked=enabled aria-label=tf(K::studio_restream_toggle_name, &[("name", &name)])
                                            on:change=move |_| { if enabled { switch_off.dispatch(id); } else { switch_on.dispatch(id); } }/>
                                        {t(K::studio_restream_on)}
                                    </label>
                                    <button type="button" class="btn btn-small btn-danger" aria-label=tf(K::studio_restream_delete_name, &[("name", &name)])
                                        on:click=move |_| { if confirm(&t(K::studio_restream_delete_confirm)) { delete.dispatch(id); } }>
                                        {t(K::studio_restream_delete)}
                                    </button>
                                </div>
                            </li>
                        }
                    }
                </For>
            </ul>
            <form class="stack" on:submit=submit>
                <label class="field"><span>{t(K::studio_restream_name)}</span>
                    <input type="text" name="name" required maxlength="40" placeholder="YouTube"
                        prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
                </label>
                <label class="field"><span>{t(K::studio_restream_url)}</span>
                    <input type="url" name="url" required maxlength="300" placeholder="rtmp://a.rtmp.youtube.com/live2" autocomplete="off"
                        prop:value=move || url.get() on:input=move |ev| url.set(event_target_value(&ev))/>
                </label>
                <label class="field"><span>{t(K::studio_restream_key)}</span>
                    <input type="password" name="key" required maxlength="300" autocomplete="off" spellcheck="false"
                        prop:value=move || key.get() on:input=move |ev| key.set(event_target_value(&ev))/>
                </label>
                <button type="submit" class="btn btn-primary" disabled=move || add.pending().get()>{t(K::studio_restream_add)}</button>
            </form>
        </section>
    }
}
