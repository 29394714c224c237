//! Lucky draws (issue 30): the producer starts one while the session is live (prize, winners,
//! countdown, who may enter), can close it early, and sees every draw of the session with its
//! proof: commitment, seed once closed, entrants, winners, and how anyone can re-run it.

use leptos::{html, prelude::*};

use super::{reporting_action, StatusLine};
use crate::{
    api::draws::{studio_close_draw, studio_draws, studio_open_draw},
    components::scoped::every,
    i18n::{t, tf, K},
    model::{DrawForm, DrawProof, DrawRules, ProductId, SessionId},
};

#[component]
pub(super) fn DrawsPanel(
    session_id: SessionId,
    live: bool,
    products: Vec<(ProductId, String)>,
    msg: StatusLine,
) -> impl IntoView {
    let start = reporting_action(
        msg,
        K::studio_draws_started,
        move |form: DrawForm| studio_open_draw(session_id, form),
        |_| (),
    );
    let close = reporting_action(
        msg,
        K::studio_draws_closed,
        move |id: i64| studio_close_draw(session_id, id),
        |_| (),
    );
    let list = LocalResource::new(move || {
        start.version().get();
        close.version().get();
        studio_draws(session_id)
    });
    // An open draw closes by itself when its countdown ends.
    every(std::time::Duration::from_secs(3), move || {
        let open = list.with(|l| {
            l.as_ref()
                .and_then(|l| l.as_ref().ok())
                .is_some_and(|l| l.iter().any(|d| d.open))
        });
        if open {
            list.refetch();
        }
    });
    let (prize, product, winners, countdown, keyword) = (
        NodeRef::<html::Input>::new(),
        NodeRef::<html::Select>::new(),
        NodeRef::<html::Input>::new(),
        NodeRef::<html::Input>::new(),
        NodeRef::<html::Input>::new(),
    );
    let (reserved, phone, in_room, invited) = (
        NodeRef::<html::Input>::new(),
        NodeRef::<html::Input>::new(),
        NodeRef::<html::Input>::new(),
        NodeRef::<html::Input>::new(),
    );
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let checked = |r: NodeRef<html::Input>| r.get().is_some_and(|i| i.checked());
        let value = |r: NodeRef<html::Input>| r.get().map(|i| i.value()).unwrap_or_default();
        let Some(product_id) = product
            .get()
            .and_then(|s| s.value().parse::<i64>().ok())
            .map(ProductId)
        else {
            return;
        };
        start.dispatch(DrawForm {
            prize: value(prize),
            product_id,
            winners: value(winners).trim().parse().unwrap_or(0),
            countdown_secs: value(countdown).trim().parse().unwrap_or(0),
            rules: DrawRules {
                reserved: checked(reserved),
                verified_phone: checked(phone),
                in_room: checked(in_room),
                invited: checked(invited),
                keyword: value(keyword),
            },
        });
    };
    let form = live.then(|| {
        view! {
            <form class="stack draw-form" on:submit=submit>
                <label class="field"><span>{t(K::studio_draws_prize)}</span>
                    <input type="text" name="prize" maxlength="60" required node_ref=prize/>
                </label>
                <label class="field"><span>{t(K::studio_draws_product)}</span>
                    <select name="product_id" node_ref=product>
                        {products.into_iter().map(|(id, name)| view! { <option value=id.get()>{name}</option> }).collect_view()}
                    </select>
                </label>
                <div class="row">
                    <label class="field"><span>{t(K::studio_draws_winners)}</span>
                        <input type="number" name="winners" min="1" max="100" value="1" inputmode="numeric" node_ref=winners/>
                    </label>
                    <label class="field"><span>{t(K::studio_draws_countdown)}</span>
                        <input type="number" name="countdown_secs" min="10" max="600" value="60" inputmode="numeric" node_ref=countdown/>
                    </label>
                </div>
                <fieldset class="stack">
                    <legend>{t(K::studio_draws_who)}</legend>
                    <label class="check"><input type="checkbox" name="reserved" node_ref=reserved/><span>{t(K::studio_draws_rule_reserved)}</span></label>
                    <label class="check"><input type="checkbox" name="verified_phone" node_ref=phone/><span>{t(K::studio_draws_rule_phone)}</span></label>
                    <label class="check"><input type="checkbox" name="in_room" node_ref=in_room/><span>{t(K::studio_draws_rule_in_room)}</span></label>
                    <label class="check"><input type="checkbox" name="invited" node_ref=invited/><span>{t(K::studio_draws_rule_invited)}</span></label>
                    <label class="field"><span>{t(K::studio_draws_keyword)}</span>
                        <input type="text" name="keyword" maxlength="20" node_ref=keyword/>
                    </label>
                </fieldset>
                <button type="submit" class="btn btn-primary" disabled=move || start.pending().get()>{t(K::studio_draws_start)}</button>
            </form>
        }
    });
    view! {
        <section class="card draws" aria-labelledby="draws-title">
            <h2 id="draws-title">{t(K::studio_draws_title)}</h2>
            {form}
            <Transition fallback=|| ()>
                {move || list.get().map(|l| match l {
                    Ok(l) if l.is_empty() => view! { <p class="muted small">{t(K::studio_draws_none)}</p> }.into_any(),
                    Ok(l) => view! {
                        <ul class="mod-lines draw-list">
                            {l.into_iter().map(|d| view! { <DrawRow draw=d close=close/> }).collect_view()}
                        </ul>
                        <p class="muted small">{t(K::studio_draws_rerun)}</p>
                    }.into_any(),
                    Err(e) => view! { <p class="error small">{e.to_string()}</p> }.into_any(),
                })}
            </Transition>
        </section>
    }
}

#[component]
fn DrawRow(draw: DrawProof, close: Action<i64, ()>) -> impl IntoView {
    let id = draw.id;
    let count = draw.entrant_count.to_string();
    let state = if draw.open {
        tf(K::studio_draws_open, &[("count", &count)])
    } else {
        tf(K::studio_draws_done, &[("count", &count)])
    };
    let winners = (!draw.open).then(|| {
        let names: Vec<String> = draw
            .winner_names
            .iter()
            .zip(&draw.winners)
            .map(|(n, k)| format!("{n} ({k})"))
            .collect();
        view! { <p class="small">{tf(K::studio_draws_won_by, &[("names", &names.join(", "))])}</p> }
    });
    view! {
        <li class="mod-line draw-row" data-draw-id=id>
            <div class="stack">
                <strong>{draw.prize.clone()}" × "{draw.winners_wanted}</strong>
                <span class="small">{state}</span>
                <span class="draw-proof">{tf(K::studio_draws_commitment, &[("hex", &draw.commitment)])}</span>
                {draw.seed.clone().map(|s| view! { <span class="draw-proof">{tf(K::studio_draws_seed, &[("hex", &s)])}</span> })}
                {winners}
                {(!draw.open).then(|| view! {
                    <a class="small" href=format!("/api/draws/proof?id={id}") target="_blank" rel="external noopener">{t(K::studio_draws_entrants)}</a>
                })}
            </div>
            {draw.open.then(|| view! {
                <button type="button" class="btn btn-small" on:click=move |_| { close.dispatch(id); }>{t(K::studio_draws_close)}</button>
            })}
        </li>
    }
}
