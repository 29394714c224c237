//! The live room a shopper watches: a full-height stage with the video area, viewer count,
//! overlaid chat, the "someone just bought" ticker, the explaining-now card (with this viewer's
//! price, a 50% badge when eligible and Buy), a heart button with floating hearts, the chat
//! box, a button to the product bag, and a visible reconnecting state. Everything arrives over
//! the room's event stream; prices come from the server (`ViewerState`), refetched when the
//! stream says something that affects them changed.

use std::time::Duration;

use leptos::{prelude::*, task::spawn_local};

use crate::{
    api::live::{post_chat, send_likes},
    components::{
        browser::jitter_ms, buy::BuyPanel, live_stream::use_live_stream, video::LiveVideo,
    },
    model::{
        ChatLine, LiveEvent, PresentingView, ProductOffer, SessionDetail, SessionStatus,
        ViewerState,
    },
};

/// Chat lines kept on screen.
const CHAT_SHOWN: usize = 40;

#[component]
pub fn LiveStage(
    session: SessionDetail,
    viewer: RwSignal<Option<ViewerState>>,
    refresh: Callback<()>,
) -> impl IntoView {
    let session_id = session.id;
    let connected = RwSignal::new(false);
    let presenting = RwSignal::new(None::<PresentingView>);
    let viewers = RwSignal::new(0i64);
    let likes = RwSignal::new(0u64);
    let chat = RwSignal::new(Vec::<ChatLine>::new());
    let ticker = RwSignal::new(None::<String>);
    let ticker_gen = RwSignal::new(0u32);
    let video_version = RwSignal::new(0u32);

    // Refetch this viewer's prices after a short random delay (spreads the load).
    let refresh_soon = move |max_ms: u64| {
        set_timeout(
            move || refresh.run(()),
            Duration::from_millis(jitter_ms(max_ms)),
        );
    };
    let apply_stock = move |stock: &[[i64; 2]]| {
        if stock.is_empty() {
            return;
        }
        viewer.update(|v| {
            if let Some(v) = v.as_mut() {
                for [id, s] in stock {
                    if let Some(o) = v.offers.iter_mut().find(|o| o.product_id == *id) {
                        o.stock = *s;
                    }
                }
            }
        });
    };
    let add_chat = move |line: ChatLine| {
        chat.update(|c| {
            if !c.iter().any(|m| m.id == line.id) {
                c.push(line);
                let excess = c.len().saturating_sub(CHAT_SHOWN);
                c.drain(..excess);
            }
        });
    };
    let on_event = Callback::new(move |ev: LiveEvent| match ev {
        LiveEvent::Snapshot {
            status,
            presenting: p,
            stock,
            viewers: n,
            likes: l,
            chat: lines,
            ..
        } => {
            presenting.set(p);
            viewers.set(n);
            likes.set(l);
            chat.set(lines);
            apply_stock(&stock);
            if status != SessionStatus::Live {
                refresh_soon(500);
            }
        }
        LiveEvent::Status { .. } => refresh_soon(2000),
        LiveEvent::Presenting { product, .. } => {
            presenting.set(Some(product));
            // Its discount just opened: this viewer's price may have changed.
            refresh_soon(2000);
        }
        LiveEvent::Counters {
            viewers: n,
            likes: l,
            stock,
            ..
        } => {
            viewers.set(n);
            likes.set(l);
            apply_stock(&stock);
        }
        LiveEvent::Chat { message, .. } => add_chat(message),
        LiveEvent::ChatDeleted { id, .. } => chat.update(|c| c.retain(|m| m.id != id)),
        LiveEvent::Purchase {
            buyer,
            product,
            more,
            ..
        } => {
            let text = if more > 0 {
                format!("{buyer} and {more} more just bought {product}")
            } else {
                format!("{buyer} just bought {product}")
            };
            ticker.set(Some(text));
            ticker_gen.update(|g| *g += 1);
            let gen = ticker_gen.get_untracked();
            set_timeout(
                move || {
                    if ticker_gen.get_untracked() == gen {
                        ticker.set(None)
                    }
                },
                Duration::from_secs(4),
            );
        }
        LiveEvent::Me => refresh_soon(300),
        LiveEvent::Video { .. } => video_version.update(|v| *v += 1),
        LiveEvent::Hb => {}
    });
    use_live_stream(session_id, on_event, connected);

    view! {
        <section class="live-stage" aria-label="Live room">
            <div class="live-video" style=format!("background-image: url('{}')", session.cover_url)></div>
            <LiveVideo session_id=session_id version=video_version/>
            <div class="live-video-placeholder"><span class="badge badge-live">"LIVE"</span></div>
            <header class="live-top">
                <div class="live-host">
                    <strong>{session.host_name.clone()}</strong>
                    <span class="live-title">{session.title.clone()}</span>
                </div>
                <span class="live-viewers" aria-label=move || format!("{} watching", viewers.get())>
                    {move || format!("{} watching", viewers.get())}
                </span>
                <a class="live-close" href="/" aria-label="Leave the live room">"×"</a>
            </header>
            <Show when=move || !connected.get()>
                <p class="live-conn" role="status">"Reconnecting…"</p>
            </Show>
            <div class="live-overlay">
                <ul class="live-chat" aria-label="Chat" aria-live="polite">
                    {move || chat.get().into_iter().map(|m| view! {
                        <li class="chat-line" class:chat-host=m.host data-chat-id=m.id>
                            <strong>{m.nickname}</strong>" "<span>{m.text}</span>
                        </li>
                    }).collect_view()}
                </ul>
                {move || ticker.get().map(|t| view! { <p class="live-ticker" role="status">{t}</p> })}
                {move || presenting.get().map(|p| view! { <ExplainingCard product=p viewer=viewer refresh=refresh/> })}
            </div>
            <LiveBar session_id=session_id likes=likes product_count=session.products.len() add_chat=Callback::new(add_chat)/>
        </section>
    }
}

#[component]
fn ExplainingCard(
    product: PresentingView,
    viewer: RwSignal<Option<ViewerState>>,
    refresh: Callback<()>,
) -> impl IntoView {
    let id = product.product_id;
    let offer = Memo::new(move |_| {
        viewer.with(|v| {
            v.as_ref()
                .and_then(|v| v.offers.iter().find(|o| o.product_id == id).cloned())
        })
    });
    let fallback = ProductOffer {
        product_id: id,
        presented: true,
        explaining_now: true,
        stock: 0,
        price: product.price,
        your_price: product.price,
        discounted: false,
        bought_units: 0,
    };
    let name = product.name.clone();
    view! {
        <article class="explaining-card" aria-label="Explaining now">
            <img src=product.image_url.clone() alt="" width="72" height="72"/>
            <div class="explaining-body">
                <span class="explaining-label">"Explaining now"</span>
                <h2 class="explaining-name">{product.name.clone()}</h2>
                <p class="explaining-price">
                    {move || match offer.get() {
                        Some(o) if o.discounted => view! {
                            <span class="price">{o.your_price.to_string()}</span>
                            <s class="price-was">{o.price.to_string()}</s>
                            <span class="badge badge-discount">{viewer.with(|v| v.as_ref().map(|v| format!("{}% off", v.percent_off)).unwrap_or_default())}</span>
                        }.into_any(),
                        Some(o) => view! { <span class="price">{o.price.to_string()}</span> }.into_any(),
                        None => view! { <span class="price">{product.price.to_string()}</span> }.into_any(),
                    }}
                </p>
            </div>
            {move || viewer.with(|v| v.as_ref().map(|v| (v.session_id, v.purchase_limit, v.payment_label.clone()))).map(|(sid, limit, label)| {
                let fb = fallback.clone();
                let sig = Signal::derive(move || offer.get().unwrap_or_else(|| fb.clone()));
                view! { <BuyPanel session_id=sid offer=sig product_name=name.clone() purchase_limit=limit payment_label=label on_done=refresh/> }
            })}
        </article>
    }
}

#[component]
fn LiveBar(
    session_id: i64,
    likes: RwSignal<u64>,
    product_count: usize,
    add_chat: Callback<ChatLine>,
) -> impl IntoView {
    let text = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let hearts = RwSignal::new(Vec::<u32>::new());
    let next_heart = RwSignal::new(0u32);
    let pending_likes = RwSignal::new(0u32);

    // Taps are batched: at most one like call per second.
    if let Ok(h) = set_interval_with_handle(
        move || {
            let n = pending_likes.get_untracked().min(50);
            if n > 0 {
                pending_likes.set(0);
                spawn_local(async move {
                    if let Ok(total) = send_likes(session_id, n).await {
                        likes.update(|l| *l = (*l).max(total));
                    }
                });
            }
        },
        Duration::from_secs(1),
    ) {
        on_cleanup(move || h.clear());
    }
    let heart = move |_| {
        pending_likes.update(|n| *n += 1);
        likes.update(|l| *l += 1);
        let id = next_heart.get_untracked();
        next_heart.set(id.wrapping_add(1));
        hearts.update(|h| h.push(id));
        set_timeout(
            move || hearts.update(|h| h.retain(|x| *x != id)),
            Duration::from_millis(1600),
        );
    };
    let send = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let t = text.get_untracked();
        if t.trim().is_empty() {
            return;
        }
        spawn_local(async move {
            match post_chat(session_id, t).await {
                Ok(posted) => {
                    text.set(String::new());
                    error.set(None);
                    // The sender always sees their own message, sampled out or not.
                    add_chat.run(posted.message);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    let to_bag = move |_| {
        if let Some(el) = document().get_element_by_id("bag") {
            el.scroll_into_view();
        }
    };
    view! {
        <div class="hearts" aria-hidden="true">
            {move || hearts.get().into_iter().map(|id| view! { <span class="heart" style=format!("--drift: {}px", (id % 7) as i32 * 8 - 24)>"♥"</span> }).collect_view()}
        </div>
        {move || error.get().map(|e| view! { <p class="live-error" role="alert">{e}</p> })}
        <footer class="live-bar">
            <form class="live-chat-form" on:submit=send>
                <input type="text" maxlength="200" placeholder="Say something…" aria-label="Say something"
                    prop:value=move || text.get() on:input=move |ev| text.set(event_target_value(&ev))/>
                <button type="submit" class="btn btn-small">"Send"</button>
            </form>
            <button type="button" class="live-bag" on:click=to_bag aria-label=format!("Products ({product_count})")>
                <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true"><path fill="currentColor" d="M7 7V6a5 5 0 0 1 10 0v1h3l-1 14H5L4 7h3zm2 0h6V6a3 3 0 0 0-6 0v1z"/></svg>
                <span>{product_count}</span>
            </button>
            <button type="button" class="live-heart" on:click=heart aria-label="Send a heart">
                "♥" <span class="like-count">{move || likes.get()}</span>
            </button>
        </footer>
    }
}
