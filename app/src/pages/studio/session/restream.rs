//! Restream: the other platforms the host's broadcast is pushed to while live (an RTMP(S)
//! server URL and a stream key each, the host's own, for every session). Each destination
//! shows its state, refreshed every few seconds (connecting, live, failing with the reason),
//! an on/off switch and Delete; the form below adds one. The stream key is sent once, when
//! added: the list only ever has it masked.

use std::time::Duration;

use leptos::{html, prelude::*};

use super::{report, reporting_action, StatusLine};
use crate::{
    api::restream::{
        studio_delete_restream, studio_enable_restream, studio_restreams, StudioAddRestream,
    },
    components::{browser::confirm, on_outcome, scoped::every},
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
    // The form's fields are the server function's arguments (name, url, key).
    let add = ServerAction::<StudioAddRestream>::new();
    let form = NodeRef::<html::Form>::new();
    on_outcome(add, move |res| {
        if res.is_ok() {
            if let Some(form) = form.get_untracked() {
                form.reset();
            }
        }
        report(msg, res.map(|_| t(K::studio_restream_added)));
    });
    let switch_on = reporting_action(
        msg,
        K::studio_restream_switched_on,
        |id| studio_enable_restream(id, true),
        |_| (),
    );
    let switch_off = reporting_action(
        msg,
        K::studio_restream_switched_off,
        |id| studio_enable_restream(id, false),
        |_| (),
    );
    let delete = reporting_action(
        msg,
        K::studio_restream_deleted,
        studio_delete_restream,
        |_| (),
    );
    let list = LocalResource::new(move || {
        add.version().track();
        switch_on.version().track();
        switch_off.version().track();
        delete.version().track();
        studio_restreams()
    });
    every(REFRESH, move || list.refetch());
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
            <ActionForm action=add node_ref=form attr:class="stack">
                <label class="field"><span>{t(K::studio_restream_name)}</span>
                    <input type="text" name="name" required maxlength="40" placeholder="YouTube"/>
                </label>
                <label class="field"><span>{t(K::studio_restream_url)}</span>
                    <input type="url" name="url" required maxlength="300" placeholder="rtmp://a.rtmp.youtube.com/live2" autocomplete="off"/>
                </label>
                <label class="field"><span>{t(K::studio_restream_key)}</span>
                    <input type="password" name="key" required maxlength="300" autocomplete="off" spellcheck="false"/>
                </label>
                <button type="submit" class="btn btn-primary" disabled=move || add.pending().get()>{t(K::studio_restream_add)}</button>
            </ActionForm>
        </section>
    }
}
