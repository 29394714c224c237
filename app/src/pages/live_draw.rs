//! The lucky draw's card in the live room (issue 30): the prize, the countdown and how to
//! enter (the Enter button, or commenting the keyword), then the winners. Only the live
//! room's bundle has it.

use std::time::Duration;

use leptos::prelude::*;

use crate::{
    api::draws::enter_draw,
    components::{browser::now_ms, scoped::spawn_owned},
    i18n::{t, tf, tp, K},
    model::{DrawCard, DrawEntered, SessionId},
};

/// "0:45": what is left of a draw's countdown.
pub fn format_left(ms: i64) -> String {
    let s = (ms.max(0) + 999) / 1000;
    format!("{}:{:02}", s / 60, s % 60)
}

#[component]
pub fn DrawBox(
    session_id: SessionId,
    draw: RwSignal<Option<DrawCard>>,
    entered: RwSignal<Option<DrawEntered>>,
) -> impl IntoView {
    let now = RwSignal::new(now_ms());
    if let Ok(h) = set_interval_with_handle(move || now.set(now_ms()), Duration::from_secs(1)) {
        on_cleanup(move || h.clear());
    }
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let enter = move |id: i64| {
        busy.set(true);
        spawn_owned(async move {
            match enter_draw(session_id, id).await {
                Ok(e) => {
                    entered.set(Some(e));
                    error.set(None);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
            busy.set(false);
        });
    };
    move || {
        draw.get().map(|d| {
            let id = d.id;
            let mine = move || entered.with(|e| e.as_ref().is_some_and(|e| e.draw_id == id));
            let winners = tp(K::live_draw_winners_count, i64::from(d.winners), &[]);
            let body = if d.open {
                let closes = d.closes_at_ms;
                let keyword = d.rules.keyword.clone();
                let how = move || {
                    if keyword.is_empty() {
                        view! {
                            <button type="button" class="btn btn-small" disabled=move || busy.get()
                                on:click=move |_| enter(id)>{t(K::live_draw_enter)}</button>
                        }
                        .into_any()
                    } else {
                        view! { <p class="draw-how">{tf(K::live_draw_keyword, &[("keyword", &keyword)])}</p> }
                            .into_any()
                    }
                };
                view! {
                    <p class="draw-left" role="timer">
                        {move || {
                            let left = closes - now.get();
                            if left > 0 {
                                tf(K::live_draw_closes_in, &[("time", &format_left(left))])
                            } else {
                                t(K::live_draw_drawing)
                            }
                        }}
                    </p>
                    {move || if mine() {
                        view! { <p class="draw-in" role="status">{t(K::live_draw_entered)}</p> }.into_any()
                    } else {
                        how()
                    }}
                    {move || error.get().map(|e| view! { <p class="draw-error" role="alert">{e}</p> })}
                }
                .into_any()
            } else {
                let names = if d.winner_names.is_empty() {
                    t(K::live_draw_no_entries)
                } else {
                    tf(K::live_draw_won_by, &[("names", &d.winner_names.join(", "))])
                };
                view! {
                    <p class="draw-winners" role="status">{names}</p>
                    <a class="small" href=format!("/api/draws/proof?id={id}") target="_blank" rel="external noopener">{t(K::live_draw_proof)}</a>
                    <button type="button" class="sheet-close" aria-label=t(K::live_draw_dismiss) on:click=move |_| draw.set(None)>"×"</button>
                }
                .into_any()
            };
            view! {
                <aside class="draw-card" aria-label=t(K::live_draw_label) data-draw-id=id>
                    <strong class="draw-title">{t(K::live_draw_label)}</strong>
                    <p class="draw-prize">{d.prize.clone()}" · "{winners}</p>
                    {body}
                </aside>
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countdowns_round_up_to_the_second() {
        assert_eq!(format_left(45_000), "0:45");
        assert_eq!(format_left(44_001), "0:45");
        assert_eq!(format_left(600_000), "10:00");
        assert_eq!(format_left(-5), "0:00");
    }
}
