//! The share panel: shown only to shoppers who reserved. Personal invite link, Share/Copy,
//! a poster for WeChat Moments, the friends-joined count and the nickname on invites.

use crate::model::SessionId;
use leptos::{prelude::*, task::spawn_local};

use crate::{
    api::{invites::create_invite, shopper::SetNickname},
    components::{
        browser::{share_or_copy, Shared},
        on_outcome,
    },
    i18n::{t, tf, tp, K},
    model::ViewerState,
};

#[component]
pub fn SharePanel(
    viewer: RwSignal<Option<ViewerState>>,
    #[prop(into)] title: String,
    #[prop(into)] refresh: Callback<()>,
) -> impl IntoView {
    let status = RwSignal::new(String::new());
    let show_poster = RwSignal::new(false);
    let session_id = move || viewer.with(|v| v.as_ref().map(|v| v.session_id));
    let invite = Memo::new(move |_| viewer.with(|v| v.as_ref().and_then(|v| v.invite.clone())));

    // Mint the personal link the first time the panel shows (the server refuses non-reservers).
    let mint = Action::new_local(move |id: &SessionId| {
        let minted = create_invite(*id);
        async move {
            match minted.await {
                Ok(_) => {
                    refresh.try_run(());
                }
                Err(e) => status.set(e.to_string()),
            }
        }
    });
    Effect::new(move |_| {
        if invite.with(Option::is_none) && !mint.pending().get_untracked() {
            if let Some(id) = session_id() {
                mint.dispatch(id);
            }
        }
    });

    // Inside WeChat with the JS-SDK: sharing from WeChat's menu sends the invite as a card
    // with the poster, not the bare page.
    let card_title = title.clone();
    Effect::new(move |_| {
        let (Some(link), Some(sdk)) = (invite.get(), crate::components::wechat::sdk()) else {
            return;
        };
        let origin = crate::components::browser::origin();
        sdk.share(
            card_title.clone(),
            t(K::shop_share_card_desc),
            link.url.clone(),
            format!("{origin}{}", link.poster_path),
        );
    });

    // Inside WeChat a page cannot open WeChat's share sheet: the way is the ··· menu at the
    // top right, which shares the address shown, so the invite's address is shown meanwhile.
    let wechat_hint = RwSignal::new(None::<String>);
    let dismiss_hint = move || {
        if let Some(back) = wechat_hint.get_untracked() {
            crate::components::browser::show_address(&back);
        }
        wechat_hint.set(None);
    };
    let share = move |_| {
        let Some(link) = invite.get() else { return };
        if crate::components::browser::in_wechat() {
            let here = crate::components::browser::path_and_query();
            let path = link
                .url
                .find("/i/")
                .map_or(link.url.as_str(), |at| &link.url[at..]);
            crate::components::browser::show_address(path);
            wechat_hint.set(Some(here));
            return;
        }
        let title = title.clone();
        // The browser's share sheet or clipboard, not the server: a plain browser task.
        spawn_local(async move {
            let text = tf(K::shop_share_text, &[("title", &title)]);
            let msg = match share_or_copy(&title, &text, &link.url).await {
                Shared::ShareSheet => K::shop_share_shared,
                Shared::Copied => K::shop_share_copied,
                Shared::Manual => K::shop_share_manual,
            };
            status.set(t(msg));
        });
    };

    let friends = move || {
        viewer.with(|v| {
            v.as_ref().map(|v| {
                (
                    v.friends_joined,
                    v.eligible,
                    v.discount_text.clone(),
                    v.friends_waiting,
                )
            })
        })
    };
    let nickname = RwSignal::new(viewer.with_untracked(|v| {
        v.as_ref()
            .map(|v| v.me.nickname.clone())
            .unwrap_or_default()
    }));
    // The form's one field is the server function's argument (the nickname).
    let save_nickname = ServerAction::<SetNickname>::new();
    on_outcome(save_nickname, move |res| match res {
        Ok(me) => {
            status.set(tf(K::shop_share_saved, &[("name", &me.nickname)]));
            refresh.try_run(());
        }
        Err(e) => status.set(e.to_string()),
    });

    view! {
        <section class="share-panel" aria-labelledby="share-title">
            <h2 id="share-title">{t(K::shop_share_title)}</h2>
            <p class="friends" aria-live="polite">
                {move || friends().map(|(n, eligible, text, _)| {
                    if eligible && n > 0 {
                        tp(K::shop_share_friends_unlocked, n, &[])
                    } else if n > 0 {
                        tp(K::shop_share_friends_joined, n, &[("text", &text)])
                    } else {
                        tf(K::shop_share_no_friends, &[("text", &text)])
                    }
                })}
            </p>
            {move || friends()
                .filter(|f| f.3 > 0)
                .map(|f| view! { <p class="friends-waiting muted">{tp(K::shop_share_friends_waiting, f.3, &[])}</p> })}
            {move || match invite.get() {
                None => view! { <p class="muted">{t(K::shop_share_creating)}</p> }.into_any(),
                Some(link) => {
                    let poster = link.poster_path.clone();
                    let poster_dl = link.poster_path.clone();
                    view! {
                        <label class="field">
                            <span>{t(K::shop_share_link)}</span>
                            <input class="invite-url" type="text" readonly value=link.url.clone() aria-label=t(K::shop_share_link)
                                on:focus=|ev| { event_target::<leptos::web_sys::HtmlInputElement>(&ev).select() }/>
                        </label>
                        <div class="share-actions">
                            <button type="button" class="btn btn-primary" on:click=share.clone()>{t(K::shop_share_share)}</button>
                            <button type="button" class="btn" on:click=move |_| show_poster.set(true)>{t(K::shop_share_create_poster)}</button>
                        </div>
                        {move || wechat_hint.get().map(|_| {
                            let card = crate::components::wechat::sdk().is_some_and(|s| s.ready.get());
                            view! {
                                <div class="wechat-share-hint" role="dialog" aria-modal="true" aria-label=t(K::shop_share_wechat_dialog)
                                    on:click=move |_| dismiss_hint()>
                                    <span class="wechat-share-arrow" aria-hidden="true">"↗"</span>
                                    <p>{if card {
                                        t(K::shop_share_wechat_hint_card)
                                    } else {
                                        t(K::shop_share_wechat_hint_link)
                                    }}</p>
                                    <button type="button" class="btn">{t(K::shop_share_got_it)}</button>
                                </div>
                            }
                        })}
                        <Show when=move || show_poster.get()>
                            <figure class="poster">
                                <img src=poster.clone() alt=t(K::shop_share_poster_alt) width="375" height="667"/>
                                <figcaption>{t(K::shop_share_poster_caption)}</figcaption>
                                <a class="btn" href=poster_dl.clone() download="invite-poster.png">{t(K::shop_share_download_poster)}</a>
                            </figure>
                        </Show>
                    }.into_any()
                }
            }}
            <ActionForm action=save_nickname attr:class="nickname-form">
                <label class="field">
                    <span>{t(K::shop_share_name_label)}</span>
                    <input type="text" name="nickname" maxlength="24" required
                        prop:value=move || nickname.get()
                        on:input=move |ev| nickname.set(event_target_value(&ev))/>
                </label>
                <button type="submit" class="btn">{t(K::shop_share_save_name)}</button>
            </ActionForm>
            <p class="status" role="status" aria-live="polite">{move || status.get()}</p>
        </section>
    }
}
