//! Chat moderation during the session: every message, delete, mute, and the host's own
//! messages.

use crate::model::SessionId;
use leptos::{html, prelude::*};

use super::{reporting_action, StatusLine};
use crate::i18n::{t, tf, K};

/// The live chat as the host sees it: every message, with Delete and Mute, and a box to
/// speak as the host (always broadcast, marked as the host's).
#[component]
pub(super) fn ChatModeration(session_id: SessionId, msg: StatusLine) -> impl IntoView {
    use crate::{
        api::live::{delete_chat, mute_shopper, PostChat},
        components::{live_stream::use_live_stream, on_outcome},
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
    // The form's fields are the server function's arguments (the session, the text).
    let send = ServerAction::<PostChat>::new();
    let form = NodeRef::<html::Form>::new();
    on_outcome(send, move |res| match res {
        Ok(_) => {
            if let Some(form) = form.get_untracked() {
                form.reset();
            }
        }
        Err(e) => msg.set(Some(Err(e.to_string()))),
    });
    let delete = reporting_action(
        msg,
        K::studio_chat_deleted,
        move |id| delete_chat(session_id, id),
        |_| (),
    );
    let mute = reporting_action(
        msg,
        K::studio_chat_muted,
        move |shopper| mute_shopper(session_id, shopper),
        |_| (),
    );
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
                                        on:click=move |_| { delete.dispatch(id); }>{t(K::studio_chat_delete)}</button>
                                    <button type="button" class="btn btn-small btn-danger" aria-label=tf(K::studio_chat_mute_name, &[("name", &m.nickname)])
                                        on:click=move |_| { mute.dispatch(shopper); }>{t(K::studio_chat_mute)}</button>
                                </span>
                            })}
                        </li>
                    }
                }).collect_view()}
            </ul>
            <ActionForm action=send node_ref=form attr:class="row">
                <input type="hidden" name="session_id" value=session_id.to_string()/>
                <label class="field"><span>{t(K::studio_chat_say)}</span>
                    <input type="text" name="text" maxlength="200" required/>
                </label>
                <button type="submit" class="btn btn-primary">{t(K::studio_chat_send)}</button>
            </ActionForm>
        </section>
    }
}
