//! Chat moderation during the session: every message, delete, mute, and the host's own
//! messages.

use leptos::{prelude::*, task::spawn_local};

use super::{report, StatusLine};
use crate::i18n::{t, tf, K};

/// The live chat as the host sees it: every message, with Delete and Mute, and a box to
/// speak as the host (always broadcast, marked as the host's).
#[component]
pub(super) fn ChatModeration(session_id: i64, msg: StatusLine) -> impl IntoView {
    use crate::{
        api::live::{delete_chat, mute_shopper, post_chat},
        components::live_stream::use_live_stream,
        model::{ChatLine, LiveEvent},
    };
    let lines = RwSignal::new(Vec::<ChatLine>::new());
    let connected = RwSignal::new(false);
    let on_event = Callback::new(move |(ev, _): (LiveEvent, Option<i64>)| match ev {
        LiveEvent::Snapshot { chat, .. } => lines.set(chat),
        LiveEvent::Chat { message, .. } => lines.update(|l| {
            if !l.iter().any(|m| m.id == message.id) {
                l.push(message);
                let excess = l.len().saturating_sub(50);
                l.drain(..excess);
            }
        }),
        LiveEvent::ChatDeleted { id, .. } => lines.update(|l| l.retain(|m| m.id != id)),
        _ => {}
    });
    use_live_stream(session_id, on_event, connected);
    let text = RwSignal::new(String::new());
    let send = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let t = text.get_untracked();
        spawn_local(async move {
            match post_chat(session_id, t).await {
                Ok(_) => text.set(String::new()),
                Err(e) => msg.set(Some(Err(e.to_string()))),
            }
        });
    };
    view! {
        <section class="card moderation" aria-labelledby="mod-title">
            <h2 id="mod-title">{t(K::studio_chat_title)}</h2>
            <Show when=move || !connected.get()><p class="muted small" role="status">{t(K::studio_chat_connecting)}</p></Show>
            <ul class="mod-lines">
                {move || lines.get().into_iter().rev().map(|m| {
                    let (id, shopper, name) = (m.id, m.shopper_id, m.nickname.clone());
                    view! {
                        <li class="mod-line" data-chat-id=id>
                            <span><strong>{m.nickname.clone()}</strong>" "{m.text.clone()}</span>
                            {(!m.host).then(|| view! {
                                <span class="row">
                                    <button type="button" class="btn btn-small" aria-label=tf(K::studio_chat_delete_from, &[("name", &name)])
                                        on:click=move |_| spawn_local(async move {
                                            report(msg, delete_chat(session_id, id).await.map(|_| t(K::studio_chat_deleted)));
                                        })>{t(K::studio_chat_delete)}</button>
                                    <button type="button" class="btn btn-small btn-danger" aria-label=tf(K::studio_chat_mute_name, &[("name", &m.nickname)])
                                        on:click=move |_| spawn_local(async move {
                                            report(msg, mute_shopper(session_id, shopper).await.map(|_| t(K::studio_chat_muted)));
                                        })>{t(K::studio_chat_mute)}</button>
                                </span>
                            })}
                        </li>
                    }
                }).collect_view()}
            </ul>
            <form class="row" on:submit=send>
                <label class="field"><span>{t(K::studio_chat_say)}</span>
                    <input type="text" maxlength="200" required prop:value=move || text.get() on:input=move |ev| text.set(event_target_value(&ev))/>
                </label>
                <button type="submit" class="btn btn-primary">{t(K::studio_chat_send)}</button>
            </form>
        </section>
    }
}
