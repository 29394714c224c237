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
        model::{ChatLine, LiveEvent, PinnedNote},
    };
    let lines = RwSignal::new(Vec::<ChatLine>::new());
    let pinned = RwSignal::new(None::<PinnedNote>);
    let connected = RwSignal::new(false);
    let on_event = Callback::new(move |(ev, _): (LiveEvent, Option<i64>)| match ev {
        LiveEvent::Snapshot {
            chat, pinned: p, ..
        } => {
            lines.set(chat);
            pinned.set(p);
        }
        LiveEvent::Pinned { note, .. } => pinned.set(note),
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
            <PinEditor session_id=session_id pinned=pinned msg=msg/>
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

/// The host's chat rules (for all their sessions, changeable while live): blocked words that
/// are refused, words held for review, slow mode, chat only for verified phones.
#[component]
pub(super) fn ChatRulesPanel(session_id: SessionId, msg: StatusLine) -> impl IntoView {
    use crate::{
        api::live::{studio_chat_rules, studio_save_chat_rules},
        model::ChatRulesForm,
    };
    let save = reporting_action(
        msg,
        K::studio_chat_rules_saved,
        move |rules: ChatRulesForm| studio_save_chat_rules(session_id, rules),
        |_| (),
    );
    let current = LocalResource::new(move || {
        save.version().get();
        studio_chat_rules(session_id)
    });
    let (refuse, hold, slow, verified) = (
        NodeRef::<html::Textarea>::new(),
        NodeRef::<html::Textarea>::new(),
        NodeRef::<html::Input>::new(),
        NodeRef::<html::Input>::new(),
    );
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (Some(refuse), Some(hold), Some(slow), Some(verified)) =
            (refuse.get(), hold.get(), slow.get(), verified.get())
        else {
            return;
        };
        save.dispatch(ChatRulesForm {
            refuse: refuse.value(),
            hold: hold.value(),
            slow_mode_secs: slow.value().trim().parse().unwrap_or(0),
            verified_only: verified.checked(),
        });
    };
    view! {
        <section class="card chat-rules" aria-labelledby="rules-title">
            <h2 id="rules-title">{t(K::studio_chat_rules_title)}</h2>
            <Transition fallback=|| ()>
                {move || current.get().map(|r| {
                    let r = r.unwrap_or_default();
                    view! {
                        <form class="stack" on:submit=submit>
                            <label class="field"><span>{t(K::studio_chat_rules_refuse)}</span>
                                <textarea name="refuse" rows="3" node_ref=refuse prop:value=r.refuse.clone()></textarea>
                            </label>
                            <label class="field"><span>{t(K::studio_chat_rules_hold)}</span>
                                <textarea name="hold" rows="3" node_ref=hold prop:value=r.hold.clone()></textarea>
                            </label>
                            <label class="field"><span>{t(K::studio_chat_rules_slow)}</span>
                                <input type="number" name="slow_mode_secs" min="0" max="300" inputmode="numeric" node_ref=slow prop:value=r.slow_mode_secs.to_string()/>
                            </label>
                            <label class="check">
                                <input type="checkbox" name="verified_only" node_ref=verified prop:checked=r.verified_only/>
                                <span>{t(K::studio_chat_rules_verified)}</span>
                            </label>
                            <button type="submit" class="btn btn-primary" disabled=move || save.pending().get()>{t(K::studio_chat_rules_save)}</button>
                        </form>
                    }
                })}
            </Transition>
        </section>
    }
}

/// Messages a "hold" word kept back: a moderator lets each through to the room or drops it.
#[component]
pub(super) fn HeldQueue(session_id: SessionId, msg: StatusLine) -> impl IntoView {
    use crate::{
        api::live::{studio_decide_held, studio_held_messages},
        components::scoped::every,
    };
    let allow = reporting_action(
        msg,
        K::studio_chat_held_allowed,
        move |id: i64| studio_decide_held(session_id, id, true),
        |_| (),
    );
    let drop = reporting_action(
        msg,
        K::studio_chat_held_dropped,
        move |id: i64| studio_decide_held(session_id, id, false),
        |_| (),
    );
    let waiting = LocalResource::new(move || {
        allow.version().get();
        drop.version().get();
        studio_held_messages(session_id)
    });
    every(std::time::Duration::from_secs(3), move || waiting.refetch());
    view! {
        <section class="card held" aria-labelledby="held-title">
            <h2 id="held-title">{t(K::studio_chat_held_title)}</h2>
            <Transition fallback=|| ()>
                {move || waiting.get().map(|w| match w {
                    Ok(list) if list.is_empty() => view! { <p class="muted small">{t(K::studio_chat_held_none)}</p> }.into_any(),
                    Ok(list) => view! {
                        <ul class="mod-lines">
                            {list.into_iter().map(|m| {
                                let id = m.id;
                                view! {
                                    <li class="mod-line held-line" data-held-id=id>
                                        <span>
                                            <span class="muted small">{tf(K::studio_chat_held_by, &[("name", &m.nickname), ("term", &m.term)])}</span>
                                            <br/>{m.text.clone()}
                                        </span>
                                        <span class="row">
                                            <button type="button" class="btn btn-small" on:click=move |_| { allow.dispatch(id); }>{t(K::studio_chat_held_allow)}</button>
                                            <button type="button" class="btn btn-small btn-danger" on:click=move |_| { drop.dispatch(id); }>{t(K::studio_chat_held_drop)}</button>
                                        </span>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(e) => view! { <p class="error small">{e.to_string()}</p> }.into_any(),
                })}
            </Transition>
        </section>
    }
}

/// The note pinned above the shoppers' chat: what is pinned now (from the room's stream), a
/// box to pin another and Unpin.
#[component]
fn PinEditor(
    session_id: SessionId,
    pinned: RwSignal<Option<crate::model::PinnedNote>>,
    msg: StatusLine,
) -> impl IntoView {
    use crate::api::{
        coupons::live_coupons,
        moderation::{studio_pin, studio_unpin, MAX_PIN_CHARS},
    };
    let input = NodeRef::<html::Input>::new();
    let coupon = NodeRef::<html::Select>::new();
    // The session's open coupons, to pin one (read when the editor opens).
    let coupons = LocalResource::new(move || live_coupons(session_id));
    let pin = reporting_action(
        msg,
        K::studio_pin_done,
        move |(text, coupon_id): (String, Option<i64>)| studio_pin(session_id, text, coupon_id),
        move |ok| {
            if ok {
                if let Some(i) = input.get_untracked() {
                    i.set_value("");
                }
            }
        },
    );
    let unpin = reporting_action(
        msg,
        K::studio_pin_removed,
        move |_: ()| studio_unpin(session_id),
        |_| (),
    );
    view! {
        <div class="pin-editor">
            {move || pinned.get().map(|n| view! {
                <p class="pinned-now" data-pinned="">
                    <span class="muted small">{t(K::studio_pin_now)}</span>" "<strong>{n.text}</strong>
                    <button type="button" class="btn btn-small" on:click=move |_| { unpin.dispatch(()); }>{t(K::studio_pin_unpin)}</button>
                </p>
            })}
            <form class="row" on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                let coupon_id = coupon.get_untracked().and_then(|c| c.value().parse::<i64>().ok());
                if let Some(i) = input.get_untracked() { pin.dispatch((i.value(), coupon_id)); }
            }>
                <label class="field"><span>{t(K::studio_pin_label)}</span>
                    <input type="text" name="pin" maxlength=MAX_PIN_CHARS.to_string() required node_ref=input/>
                </label>
                <label class="field"><span>{t(K::studio_pin_coupon)}</span>
                    <select name="coupon" node_ref=coupon>
                        <option value="">{t(K::studio_pin_no_coupon)}</option>
                        {move || coupons.get().and_then(|r| r.ok()).unwrap_or_default().into_iter().filter(|c| !c.withdrawn).map(|c| {
                            let what = match c.value {
                                crate::domain::coupon::CouponValue::AmountOff(f) => tf(K::live_coupon_amount_off, &[("amount", &f.to_string())]),
                                crate::domain::coupon::CouponValue::PercentOff(p) => tf(K::live_coupon_percent_off, &[("percent", &p.to_string())]),
                            };
                            view! { <option value=c.id.to_string()>{what}</option> }
                        }).collect_view()}
                    </select>
                </label>
                <button type="submit" class="btn btn-primary">{t(K::studio_pin_pin)}</button>
            </form>
        </div>
    }
}

/// Shoppers' reports of messages, waiting for a moderator: remove the message (and mute its
/// author), or dismiss the reports.
#[component]
pub(super) fn ReportsQueue(session_id: SessionId, msg: StatusLine) -> impl IntoView {
    use crate::{
        api::moderation::{studio_decide_report, studio_reports},
        components::scoped::every,
        model::ReportReason,
    };
    let decide = reporting_action(
        msg,
        K::studio_reports_decided,
        move |(id, remove, mute): (u64, bool, bool)| {
            studio_decide_report(session_id, id, remove, mute)
        },
        |_| (),
    );
    let open = LocalResource::new(move || {
        decide.version().get();
        studio_reports(session_id)
    });
    every(std::time::Duration::from_secs(3), move || open.refetch());
    let reason = |r: ReportReason| {
        t(match r {
            ReportReason::Spam => K::live_report_spam,
            ReportReason::Abuse => K::live_report_abuse,
            ReportReason::Scam => K::live_report_scam,
            ReportReason::Other => K::live_report_other,
        })
    };
    view! {
        <section class="card reports" aria-labelledby="reports-title">
            <h2 id="reports-title">{t(K::studio_reports_title)}</h2>
            <Transition fallback=|| ()>
                {move || open.get().map(|w| match w {
                    Ok(list) if list.is_empty() => view! { <p class="muted small">{t(K::studio_reports_none)}</p> }.into_any(),
                    Ok(list) => view! {
                        <ul class="mod-lines">
                            {list.into_iter().map(|m| {
                                let id = m.message_id;
                                let why = m.reasons.iter().map(|r| reason(*r)).collect::<Vec<_>>().join(", ");
                                view! {
                                    <li class="mod-line report-line" data-report-id=id>
                                        <span>
                                            <span class="muted small">{tf(K::studio_reports_by, &[("name", &m.nickname), ("n", &m.reports.to_string()), ("reasons", &why)])}</span>
                                            <br/>{m.text.clone()}
                                        </span>
                                        <span class="row">
                                            <button type="button" class="btn btn-small btn-danger" on:click=move |_| { decide.dispatch((id, true, false)); }>{t(K::studio_reports_remove)}</button>
                                            <button type="button" class="btn btn-small btn-danger" on:click=move |_| { decide.dispatch((id, true, true)); }>{t(K::studio_reports_remove_mute)}</button>
                                            <button type="button" class="btn btn-small" on:click=move |_| { decide.dispatch((id, false, false)); }>{t(K::studio_reports_dismiss)}</button>
                                        </span>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(e) => view! { <p class="error small">{e.to_string()}</p> }.into_any(),
                })}
            </Transition>
        </section>
    }
}
