//! `/i/{code}`: a friend opens an invite link, sees who invited them, and joins with one tap.

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};

use crate::{
    api::invites::{get_invite, join_invite},
    components::{first_paint::FirstPaintDone, time::SessionTime, ErrorNotice, Loading},
    i18n::{around, t, tf, K},
    model::InviteView,
    pages::not_found::NotFound,
};

#[component]
pub fn InvitePage() -> impl IntoView {
    let params = use_params_map();
    let code = move || params.read().get("code").unwrap_or_default();
    let invite = LocalResource::new(move || get_invite(code()));
    let retry = Callback::new(move |_| invite.refetch());
    view! {
        <header class="top-bar">
            <a href="/" class="brand-link">{t(K::common_brand)}</a>
        </header>
        <Suspense fallback=|| view! { <Loading label=t(K::shop_invite_loading)/> }>
            {move || Suspend::new(async move {
                let page = match invite.await {
                    Ok(inv) => view! { <InviteCard invite=inv/> }.into_any(),
                    Err(e) if e.is_not_found() => view! { <NotFound message=e.to_string()/> }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e on_retry=retry/> }.into_any(),
                };
                view! { {page} <FirstPaintDone/> }
            })}
        </Suspense>
    }
}

#[component]
fn InviteCard(invite: InviteView) -> impl IntoView {
    let navigate = use_navigate();
    let message = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<String>);
    let session_href = format!("/s/{}", invite.session.id);
    // Joined: on to the session; otherwise the error under the button.
    let joining = {
        let href = session_href.clone();
        Action::new_local(move |code: &String| {
            let joined = join_invite(code.clone());
            let navigate = navigate.clone();
            let href = href.clone();
            async move {
                match joined.await {
                    Ok(outcome) => {
                        message.set(Some(outcome.message));
                        navigate(&href, Default::default());
                    }
                    Err(e) => error.set(Some(e.to_string())),
                }
            }
        })
    };
    let code = invite.code.clone();
    let join = move |_| {
        error.set(None);
        joining.dispatch(code.clone());
    };
    let s = invite.session.clone();
    let (host_before, host_after) = around(&t(K::shop_session_host), "name");
    let (starts_before, starts_after) = around(&t(K::shop_session_starts), "time");
    view! {
        <section class="invite" aria-labelledby="invite-title">
            <p class="invite-from">{tf(K::shop_invite_from, &[("name", &invite.inviter_nickname)])}</p>
            <img class="session-cover" src=s.cover_url.clone() alt="" width="800" height="450"/>
            <div class="session-head">
                <h1 id="invite-title">{s.title.clone()}</h1>
                <p class="session-host">{host_before} <strong>{s.host_name.clone()}</strong> {host_after}</p>
                <p class="session-start">{starts_before} <SessionTime ms=s.scheduled_start_ms zone=s.time_zone.clone() offset=s.start_offset_minutes/> {starts_after}</p>
                <p class="invite-offer">{tf(K::shop_invite_offer, &[("percent", &invite.percent_off.to_string())])}</p>
                {if invite.is_own {
                    view! {
                        <p class="notice">{t(K::shop_invite_own)}</p>
                        <a class="btn" href=session_href.clone()>{t(K::shop_invite_back)}</a>
                    }.into_any()
                } else if invite.joined {
                    view! {
                        <p class="reserved-ok" role="status">{t(K::shop_invite_joined)}</p>
                        <a class="btn btn-primary" href=session_href.clone()>{t(K::shop_invite_go)}</a>
                    }.into_any()
                } else {
                    view! {
                        <button type="button" class="btn btn-primary btn-block" on:click=join disabled=move || joining.pending().get()>
                            {tf(K::shop_invite_join, &[("name", &invite.inviter_nickname)])}
                        </button>
                    }.into_any()
                }}
                {move || message.get().map(|m| view! { <p role="status">{m}</p> })}
                {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            </div>
        </section>
    }
}
