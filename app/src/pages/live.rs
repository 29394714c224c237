//! The live room a shopper watches: a full-height stage with the video area, viewer count,
//! overlaid chat, the "someone just bought" ticker, the explaining-now card (with this viewer's
//! price, a 50% badge when eligible and Buy), a heart button with floating hearts, the chat
//! box, the product bag (a drawer with every product and "My orders"), and a visible
//! reconnecting state. Everything arrives over the room's event stream; prices come from the
//! server (`ViewerState`), refetched when the stream says something that affects them changed.
//!
//! Updates arrive several times a second in a busy room, so every part re-renders only what
//! changed: the card is rebuilt only when another product is presented, chat lines are keyed
//! by id, and the pay sheet and order confirmation live on the page (`components::checkout`),
//! untouched by any of it. Timers started by events end with the stage (`Timers`).

use crate::model::{ProductId, SessionId};
use std::time::Duration;

use leptos::prelude::*;

use crate::{
    api::live::{post_chat, send_likes},
    components::{
        browser::jitter_ms,
        card_sync::PictureSync,
        checkout::BuyButton,
        live_stream::{use_live_stream, Received},
        scoped::{every, spawn_owned, Timers},
        video::LiveVideo,
    },
    i18n::{t, tf, tp, K},
    model::{
        ChatLine, LiveEvent, PinnedNote, PresentingView, ProductOffer, ProductView, ReportReason,
        SessionDetail, SessionStatus, ViewerState,
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
    let timers = Timers::new();
    let connected = RwSignal::new(false);
    let presenting = RwSignal::new(None::<PresentingView>);
    let viewers = RwSignal::new(0i64);
    let likes = RwSignal::new(0u64);
    let chat = RwSignal::new(Vec::<ChatLine>::new());
    let pinned = RwSignal::new(None::<PinnedNote>);
    // The message a shopper tapped, to report it.
    let reporting = RwSignal::new(None::<ChatLine>);
    let ticker = RwSignal::new(None::<(u32, String)>);
    let video_version = RwSignal::new(0u32);
    // Bumped by a coupon dropped or withdrawn: the coupon strip refetches.
    let coupons_version = RwSignal::new(0u32);
    let bag_open = RwSignal::new(false);
    let draw = RwSignal::new(None::<crate::model::DrawCard>);
    let entered = RwSignal::new(None::<crate::model::DrawEntered>);
    // What the host shows on camera waits for the picture (card_sync).
    let sync = PictureSync::new();

    // Refetch this viewer's prices after a short random delay (spreads the load).
    let refresh_soon = {
        let timers = timers.clone();
        move |max_ms: u64| {
            timers.after(Duration::from_millis(jitter_ms(max_ms)), move || {
                refresh.try_run(());
            });
        }
    };
    let apply_stock = move |stock: &[[i64; 2]]| {
        if stock.is_empty() {
            return;
        }
        viewer.update(|v| {
            if let Some(v) = v.as_mut() {
                for [id, s] in stock {
                    if let Some(o) = v.offers.iter_mut().find(|o| o.product_id.get() == *id) {
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
    let on_event = Callback::new(move |(ev, ts): Received| match ev {
        LiveEvent::Snapshot {
            status,
            presenting: p,
            stock,
            viewers: n,
            likes: l,
            chat: lines,
            pinned: note,
            draw: d,
            ..
        } => {
            draw.set(d);
            // The state now: nothing held before it still applies.
            sync.clear();
            pinned.set(note);
            // Presented while this viewer was away: its price for it.
            if let Some(p) = &p {
                reprice(viewer, p.product_id, &p.pricing, true);
            }
            presenting.set(p);
            viewers.set(n);
            likes.set(l);
            chat.set(lines);
            apply_stock(&stock);
            if status != SessionStatus::Live {
                refresh_soon(500);
            }
        }
        // Live events carry what every viewer needs; this viewer's own price follows from its
        // eligibility here, so an event never makes 50,000 browsers call the server at once.
        LiveEvent::Status { status, .. } => viewer.update(|v| {
            if let Some(v) = v.as_mut() {
                v.status = status;
            }
        }),
        // The card, its Buy button, prices and "sold out" change when the picture shows the
        // host doing it; counters and chat at once.
        LiveEvent::Presenting { product, .. } => sync.hold(ts, move || {
            reprice(viewer, product.product_id, &product.pricing, true);
            viewer.update(|v| {
                if let Some(v) = v.as_mut() {
                    for o in &mut v.offers {
                        o.explaining_now = o.product_id == product.product_id;
                    }
                }
            });
            presenting.set(Some(product));
        }),
        LiveEvent::Product {
            product_id,
            pricing,
            ..
        } => sync.hold(ts, move || {
            presenting.update(|p| {
                if let Some(p) = p.as_mut().filter(|p| p.product_id == product_id) {
                    p.pricing = pricing;
                }
            });
            reprice(viewer, product_id, &pricing, false);
        }),
        LiveEvent::Counters {
            viewers: n,
            likes: l,
            stock,
            ..
        } => {
            viewers.set(n);
            likes.set(l);
            if !stock.is_empty() {
                sync.hold(ts, move || apply_stock(&stock));
            }
        }
        LiveEvent::Chat { message, .. } => add_chat(message),
        LiveEvent::ChatDeleted { id, .. } => chat.update(|c| c.retain(|m| m.id != id)),
        LiveEvent::Purchase {
            buyer,
            product,
            more,
            ..
        } => {
            let args = [("buyer", buyer.as_str()), ("product", product.as_str())];
            let text = if more > 0 {
                tp(
                    K::live_stage_ticker_more,
                    i64::try_from(more).unwrap_or(i64::MAX),
                    &args,
                )
            } else {
                tf(K::live_stage_ticker, &args)
            };
            let mut gen = 0;
            ticker.update(|t| {
                gen = t.as_ref().map_or(0, |t| t.0.wrapping_add(1));
                *t = Some((gen, text));
            });
            // Hide it after 4 s unless a newer purchase replaced it.
            timers.after(Duration::from_secs(4), move || {
                ticker.update(|t| {
                    if t.as_ref().is_some_and(|t| t.0 == gen) {
                        *t = None;
                    }
                })
            });
        }
        LiveEvent::Draw { draw: d, .. } => draw.set(Some(d)),
        LiveEvent::Me => refresh_soon(300),
        LiveEvent::Video { .. } => video_version.update(|v| *v += 1),
        LiveEvent::Pinned { note, .. } => pinned.set(note),
        LiveEvent::Coupon { .. } => coupons_version.update(|v| *v += 1),
        LiveEvent::Hb => {}
    });
    use_live_stream(session_id, on_event, connected);

    // The card is rebuilt only when another product (or new details) is presented, not on
    // every snapshot that repeats the same one.
    let presented = Memo::new(move |_| presenting.get());
    let ticker_text = Memo::new(move |_| ticker.get().map(|t| t.1));
    let product_count = session.products.len();
    view! {
        <section class="live-stage" aria-label=t(K::live_stage_label)>
            <div class="live-video" style=format!("background-image: url('{}')", session.cover_url)></div>
            <LiveVideo session_id=session_id version=video_version picture=sync.picture/>
            <div class="live-video-placeholder"><span class="badge badge-live">{t(K::live_stage_live_badge)}</span></div>
            <header class="live-top">
                <div class="live-host">
                    <strong>{session.host_name.clone()}</strong>
                    <span class="live-title">{session.title.clone()}</span>
                </div>
                <span class="live-viewers" aria-label=move || tp(K::live_stage_watching, viewers.get(), &[])>
                    {move || tp(K::live_stage_watching, viewers.get(), &[])}
                </span>
                <a class="live-orders" href="/orders" aria-label=t(K::live_stage_my_orders)>
                    <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true"><path fill="currentColor" d="M6 2h12a1 1 0 0 1 1 1v19l-3-2-2 2-2-2-2 2-2-2-3 2V3a1 1 0 0 1 1-1zm2 5v2h8V7H8zm0 4v2h8v-2H8zm0 4v2h5v-2H8z"/></svg>
                </a>
                <a class="live-close" href="/" aria-label=t(K::live_stage_leave)>"×"</a>
            </header>
            <Show when=move || !connected.get()>
                <p class="live-conn" role="status">{t(K::live_stage_reconnecting)}</p>
            </Show>
            <div class="live-overlay">
                {move || pinned.get().map(|n| view! {
                    <div class="live-pin" role="note" aria-label=t(K::live_pin_label)>
                        <span aria-hidden="true">"📌 "</span>{n.text}
                        {n.coupon_id.map(|id| view! { <PinnedCoupon session_id=session_id coupon_id=id claimed=coupons_version/> })}
                    </div>
                })}
                <ul class="live-chat" aria-label=t(K::live_chat_label) aria-live="polite">
                    <For each=move || chat.get() key=|m| m.id let:m>
                        {
                            let line = m.clone();
                            view! {
                                <li class="chat-line" class:chat-host=m.host data-chat-id=m.id>
                                    {if m.host {
                                        view! { <strong>{m.nickname}</strong>" "<span>{m.text}</span> }.into_any()
                                    } else {
                                        let label = tf(K::live_report_open, &[("name", &m.nickname)]);
                                        view! {
                                            <button type="button" class="chat-tap" aria-label=label
                                                on:click=move |_| reporting.set(Some(line.clone()))>
                                                <strong>{m.nickname}</strong>" "<span>{m.text}</span>
                                            </button>
                                        }.into_any()
                                    }}
                                </li>
                            }
                        }
                    </For>
                </ul>
                {move || reporting.get().map(|m| view! { <ReportBar session_id=session_id message=m reporting=reporting/> })}
                {move || ticker_text.get().map(|t| view! { <p class="live-ticker" role="status">{t}</p> })}
                <super::live_draw::DrawBox session_id=session_id draw=draw entered=entered/>
                <CouponStrip session_id=session_id version=coupons_version/>
                {move || presented.get().map(|p| view! { <ExplainingCard product=p viewer=viewer/> })}
            </div>
            <LiveBar session_id=session_id likes=likes product_count=product_count bag_open=bag_open add_chat=Callback::new(add_chat) entered=entered/>
            <Show when=move || bag_open.get()>
                <ProductBag products=session.products.clone() viewer=viewer open=bag_open/>
            </Show>
        </section>
    }
}

/// A coupon pinned with the note: claimed from there with one tap (the coupon strip reads the
/// shopper's coupons again after it).
#[component]
fn PinnedCoupon(session_id: SessionId, coupon_id: i64, claimed: RwSignal<u32>) -> impl IntoView {
    use crate::{api::coupons::claim_coupon, model::ClaimOutcome};
    let answer = RwSignal::new(None::<Result<ClaimOutcome, String>>);
    let claim = Action::new_local(move |_: &()| {
        let call = claim_coupon(session_id, coupon_id);
        async move {
            let res = call.await;
            if matches!(res, Ok(ClaimOutcome::Claimed)) {
                claimed.update(|v| *v += 1);
            }
            answer.set(Some(res.map_err(|e| e.to_string())));
        }
    });
    move || {
        match answer.get() {
        None => view! {
            <button type="button" class="btn btn-small pin-claim" disabled=move || claim.pending().get()
                on:click=move |_| { claim.dispatch(()); }>{t(K::live_coupon_claim)}</button>
        }.into_any(),
        Some(Ok(o)) => view! {
            <span class="small" role="status">{t(match o {
                ClaimOutcome::Claimed => K::live_coupon_claimed,
                ClaimOutcome::AllGone => K::live_coupon_all_gone,
                ClaimOutcome::AlreadyClaimed => K::live_coupon_already,
                ClaimOutcome::Expired => K::live_coupon_expired,
            })}</span>
        }.into_any(),
        Some(Err(e)) => view! { <span class="small error" role="alert">{e}</span> }.into_any(),
    }
    }
}

/// Reporting a tapped chat message: why (spam, abuse, scam, other), or cancel.
#[component]
fn ReportBar(
    session_id: SessionId,
    message: ChatLine,
    reporting: RwSignal<Option<ChatLine>>,
) -> impl IntoView {
    use crate::api::moderation::report_chat;
    let done = RwSignal::new(None::<Result<(), String>>);
    let id = message.id;
    let report = Action::new_local(move |r: &ReportReason| {
        let call = report_chat(session_id, id, r.as_str().to_string());
        async move {
            done.set(Some(call.await.map_err(|e| e.to_string())));
        }
    });
    let reasons = [
        (ReportReason::Spam, K::live_report_spam),
        (ReportReason::Abuse, K::live_report_abuse),
        (ReportReason::Scam, K::live_report_scam),
        (ReportReason::Other, K::live_report_other),
    ];
    let title = tf(K::live_report_title, &[("name", &message.nickname)]);
    let shown = title.clone();
    view! {
        <div class="report-bar" role="group" aria-label=title>
            {move || match done.get() {
                Some(Ok(())) => view! { <p class="small" role="status">{t(K::live_report_thanks)}</p> }.into_any(),
                Some(Err(e)) => view! { <p class="small error" role="alert">{e}</p> }.into_any(),
                None => view! {
                    <p class="small">{shown.clone()}</p>
                    <div class="row">
                        {reasons.into_iter().map(|(r, k)| view! {
                            <button type="button" class="btn btn-small" disabled=move || report.pending().get()
                                on:click=move |_| { report.dispatch(r); }>{t(k)}</button>
                        }).collect_view()}
                    </div>
                }.into_any(),
            }}
            <button type="button" class="btn btn-small" on:click=move |_| reporting.set(None)>{t(K::live_report_close)}</button>
        </div>
    }
}

/// A live event presented or repriced a product: this viewer's offer for it, worked out with
/// the server's arithmetic from its eligibility (`ProductOffer::reprice`).
fn reprice(
    viewer: RwSignal<Option<ViewerState>>,
    product_id: ProductId,
    pricing: &crate::domain::discount::LivePrice,
    presented: bool,
) {
    viewer.update(|v| {
        if let Some(v) = v.as_mut() {
            let (eligible, limit) = (v.eligible, v.purchase_limit);
            if let Some(o) = v.offers.iter_mut().find(|o| o.product_id == product_id) {
                // Presented again at the same price: the server's figures (which also know
                // the total cap) stay.
                if !(presented && o.presented && o.price == pricing.price) {
                    o.reprice(pricing, presented, eligible, limit);
                }
            }
        }
    });
}

/// The viewer's offer for one product as a memo (changes only when that offer does).
fn offer_memo(viewer: RwSignal<Option<ViewerState>>, id: ProductId) -> Memo<Option<ProductOffer>> {
    Memo::new(move |_| {
        viewer.with(|v| {
            v.as_ref()
                .and_then(|v| v.offers.iter().find(|o| o.product_id == id).cloned())
        })
    })
}

/// "¥64.50 ¥129.00 50% off" or "¥129.00": the viewer's price for a product.
#[component]
fn OfferPrice(
    offer: Memo<Option<ProductOffer>>,
    viewer: RwSignal<Option<ViewerState>>,
    fallback: crate::domain::money::Fen,
) -> impl IntoView {
    let percent = Memo::new(move |_| viewer.with(|v| v.as_ref().map_or(0, |v| v.percent_off)));
    move || match offer.get() {
        Some(o) if o.discounted => {
            let was = tf(K::live_offer_was, &[("price", &o.price.to_string())]);
            let off = tf(
                K::live_offer_percent_off,
                &[("percent", &percent.get().to_string())],
            );
            view! {
                <span class="price">{o.your_price.to_string()}</span>
                <s class="price-was" aria-label=was>{o.price.to_string()}</s>
                <span class="badge badge-discount">{off}</span>
            }
            .into_any()
        }
        Some(o) => view! { <span class="price">{o.price.to_string()}</span> }.into_any(),
        None => view! { <span class="price">{fallback.to_string()}</span> }.into_any(),
    }
}

#[component]
fn ExplainingCard(product: PresentingView, viewer: RwSignal<Option<ViewerState>>) -> impl IntoView {
    let id = product.product_id;
    let offer = offer_memo(viewer, id);
    view! {
        <article class="explaining-card" aria-label=t(K::live_stage_explaining_now) data-product-id=id.get()>
            <img src=product.image_url.clone() alt="" width="72" height="72"/>
            <div class="explaining-body">
                <span class="explaining-label">{t(K::live_stage_explaining_now)}</span>
                <h2 class="explaining-name">{product.name.clone()}</h2>
                <p class="explaining-price"><OfferPrice offer=offer viewer=viewer fallback=product.pricing.price/></p>
                {use_context::<crate::components::checkout::Checkout>().and_then(|c| c.variants_hint(id)).map(|hint| view! {
                    <p class="muted small variant-hint">{hint}</p>
                })}
            </div>
            <div class="buy">
                <BuyButton product_id=id name=product.name.clone() image_url=product.image_url.clone()/>
            </div>
        </article>
    }
}

/// The product bag: every product of the session with this viewer's price, stock and Buy, and
/// the way to "My orders". Rows are built once; only their figures update.
#[component]
fn ProductBag(
    products: Vec<ProductView>,
    viewer: RwSignal<Option<ViewerState>>,
    open: RwSignal<bool>,
) -> impl IntoView {
    let count = products.len();
    let panel = NodeRef::<leptos::html::Div>::new();
    Effect::new(move |_| {
        if let Some(el) = panel.get() {
            let _ = el.focus();
        }
    });
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" {
            open.set(false);
        }
    };
    view! {
        <div class="sheet-backdrop bag-backdrop" on:click=move |_| open.set(false)></div>
        <div class="bag" role="dialog" aria-label=t(K::live_bag_label) tabindex="-1" node_ref=panel on:keydown=on_key>
            <header class="bag-head">
                <h2>{tf(K::live_bag_title, &[("count", &count.to_string())])}</h2>
                <a class="btn btn-small" href="/orders">{t(K::live_stage_my_orders)}</a>
                <button type="button" class="sheet-close" aria-label=t(K::live_bag_close) on:click=move |_| open.set(false)>"×"</button>
            </header>
            <ul class="bag-list">
                {products.into_iter().map(|p| view! { <BagRow product=p viewer=viewer/> }).collect_view()}
            </ul>
        </div>
    }
}

#[component]
fn BagRow(product: ProductView, viewer: RwSignal<Option<ViewerState>>) -> impl IntoView {
    let id = product.id;
    let offer = offer_memo(viewer, id);
    let explaining = move || offer.with(|o| o.as_ref().is_some_and(|o| o.explaining_now));
    let stock = move || {
        offer.with(|o| match o.as_ref().map(|o| o.stock) {
            Some(0) => t(K::live_stock_sold_out),
            Some(n) => tp(K::live_stock_left, n, &[]),
            None => String::new(),
        })
    };
    view! {
        <li class="bag-item" class:explaining=explaining data-product-id=id.get()>
            <img src=product.image_url.clone() alt="" width="64" height="64" loading="lazy"/>
            <div class="bag-item-body">
                <Show when=explaining><span class="badge badge-live">{t(K::live_stage_explaining_now)}</span></Show>
                <h3>{product.name.clone()}</h3>
                <p class="product-foot"><span><OfferPrice offer=offer viewer=viewer fallback=product.price/></span><span class="stock">{stock}</span></p>
            </div>
            <BuyButton product_id=id name=product.name.clone() image_url=product.image_url.clone()/>
        </li>
    }
}

#[component]
fn LiveBar(
    session_id: SessionId,
    likes: RwSignal<u64>,
    product_count: usize,
    bag_open: RwSignal<bool>,
    add_chat: Callback<ChatLine>,
    entered: RwSignal<Option<crate::model::DrawEntered>>,
) -> impl IntoView {
    let timers = Timers::new();
    let text = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let held = RwSignal::new(false);
    let hearts = RwSignal::new(Vec::<u32>::new());
    let next_heart = RwSignal::new(0u32);
    let pending_likes = RwSignal::new(0u32);

    // Taps are batched: at most one like call per second.
    every(Duration::from_secs(1), move || {
        let n = pending_likes.get_untracked().min(50);
        if n > 0 {
            pending_likes.set(0);
            spawn_owned(async move {
                if let Ok(total) = send_likes(session_id, n).await {
                    likes.update(|l| *l = (*l).max(total));
                }
            });
        }
    });
    let heart = move |_| {
        pending_likes.update(|n| *n += 1);
        likes.update(|l| *l += 1);
        let id = next_heart.get_untracked();
        next_heart.set(id.wrapping_add(1));
        hearts.update(|h| h.push(id));
        timers.after(Duration::from_millis(1600), move || {
            hearts.update(|h| h.retain(|x| *x != id))
        });
    };
    let send = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let t = text.get_untracked();
        if t.trim().is_empty() {
            return;
        }
        spawn_owned(async move {
            match post_chat(session_id, t).await {
                Ok(posted) => {
                    text.set(String::new());
                    error.set(None);
                    // Held for a moderator: say so, or the sender thinks everyone saw it.
                    held.set(posted.held);
                    // The open draw's keyword: the draw card says they are in.
                    if posted.entered.is_some() {
                        entered.set(posted.entered);
                    }
                    // The sender always sees their own message, sampled out, held or not.
                    add_chat.try_run(posted.message);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    view! {
        <div class="hearts" aria-hidden="true">
            <For each=move || hearts.get() key=|id| *id let:id>
                <span class="heart" style=format!("--drift: {}px", (id % 7) as i32 * 8 - 24)>"♥"</span>
            </For>
        </div>
        {move || error.get().map(|e| view! { <p class="live-error" role="alert">{e}</p> })}
        <Show when=move || held.get()><p class="live-note" role="status">{t(K::live_chat_held)}</p></Show>
        <footer class="live-bar">
            <form class="live-chat-form" on:submit=send>
                <input type="text" maxlength="200" placeholder=t(K::live_chat_placeholder) aria-label=t(K::live_chat_input_label)
                    prop:value=move || text.get() on:input=move |ev| text.set(event_target_value(&ev))/>
                <button type="submit" class="btn btn-small">{t(K::live_chat_send)}</button>
            </form>
            <button type="button" class="live-bag" on:click=move |_| bag_open.set(true)
                aria-label=tf(K::live_bag_title, &[("count", &product_count.to_string())]) aria-haspopup="dialog" aria-expanded=move || bag_open.get().to_string()>
                <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true"><path fill="currentColor" d="M7 7V6a5 5 0 0 1 10 0v1h3l-1 14H5L4 7h3zm2 0h6V6a3 3 0 0 0-6 0v1z"/></svg>
                <span>{product_count}</span>
            </button>
            <button type="button" class="live-heart" on:click=heart aria-label=t(K::live_stage_heart)>
                "♥" <span class="like-count">{move || likes.get()}</span>
            </button>
        </footer>
    }
}

/// The room's live coupons: each open one with Claim (one tap, answered at once), and the
/// viewer's own claimed ones, which the pay sheet applies (the server prices them again).
/// Fetched when the stage opens and when a coupon is dropped or withdrawn.
#[component]
fn CouponStrip(session_id: SessionId, version: RwSignal<u32>) -> impl IntoView {
    use crate::{
        api::coupons::{claim_coupon, live_coupons},
        domain::coupon::{CouponTerms, CouponValue},
        model::{ClaimOutcome, LiveCoupon, MyCoupon},
    };
    let coupons = RwSignal::new(Vec::<LiveCoupon>::new());
    // What the last tap on each coupon answered, when it was not "claimed".
    let answers = RwSignal::new(Vec::<(i64, ClaimOutcome)>::new());
    let checkout = use_context::<crate::components::checkout::Checkout>();
    let publish = move |list: &[LiveCoupon]| {
        if let Some(c) = checkout {
            let held = list
                .iter()
                .filter(|c| c.mine == Some(MyCoupon::Claimed) && !c.withdrawn)
                .filter_map(|c| {
                    CouponTerms::new(c.value, c.min_spend)
                        .ok()
                        .map(|t| (c.id, t))
                })
                .collect();
            c.coupons.set(held);
        }
    };
    let load = move || {
        spawn_owned(async move {
            if let Ok(list) = live_coupons(session_id).await {
                publish(&list);
                coupons.set(list);
            }
        })
    };
    Effect::new(move |_| {
        version.track();
        load();
    });
    // An order placed with a coupon uses it up: read the viewer's coupons again, so the strip
    // says "Used" and the pay sheet stops taking it off (the server would not).
    if let Some(c) = checkout {
        Effect::new(move |seen: Option<Option<crate::model::OrderId>>| {
            let last = c.last_order();
            if seen.is_some_and(|s| s != last) && last.is_some() {
                load();
            }
            last
        });
    }
    let claim = move |id: i64| {
        spawn_owned(async move {
            match claim_coupon(session_id, id).await {
                Ok(ClaimOutcome::Claimed) => load(),
                Ok(other) => answers.update(|a| a.push((id, other))),
                Err(e) => leptos::logging::warn!("claim: {e}"),
            }
        })
    };
    let what = |c: &LiveCoupon| {
        let off = match c.value {
            CouponValue::AmountOff(f) => {
                tf(K::live_coupon_amount_off, &[("amount", &f.to_string())])
            }
            CouponValue::PercentOff(p) => {
                tf(K::live_coupon_percent_off, &[("percent", &p.to_string())])
            }
        };
        let min = if c.min_spend.0 > 0 {
            tf(
                K::live_coupon_min_spend,
                &[("amount", &c.min_spend.to_string())],
            )
        } else {
            t(K::live_coupon_no_min)
        };
        format!("{off}, {min}")
    };
    view! {
        <Show when=move || coupons.with(|c| c.iter().any(|c| !c.withdrawn))>
            <ul class="coupon-strip" aria-label=t(K::live_coupon_strip)>
                <For each=move || coupons.get().into_iter().filter(|c| !c.withdrawn) key=|c| (c.id, c.mine) let:c>
                    {
                        let id = c.id;
                        let text = what(&c);
                        let label = tf(K::live_coupon_claim_label, &[("what", &text)]);
                        let mine = c.mine;
                        let answer = move || answers.with(|a| a.iter().rev().find(|(i, _)| *i == id).map(|x| x.1));
                        view! {
                            <li class="coupon-card" data-coupon-id=id>
                                <span class="coupon-what">{text}</span>
                                {move || match (mine, answer()) {
                                    (Some(MyCoupon::Claimed), _) => view! { <span class="coupon-state" role="status">{t(K::live_coupon_claimed)}</span> }.into_any(),
                                    (Some(MyCoupon::Used), _) => view! { <span class="coupon-state">{t(K::live_coupon_used)}</span> }.into_any(),
                                    (None, Some(a)) => view! { <span class="coupon-state" role="status">{match a {
                                        ClaimOutcome::AllGone => t(K::live_coupon_all_gone),
                                        ClaimOutcome::AlreadyClaimed => t(K::live_coupon_already),
                                        ClaimOutcome::Expired => t(K::live_coupon_expired),
                                        ClaimOutcome::Claimed => t(K::live_coupon_claimed),
                                    }}</span> }.into_any(),
                                    (None, None) => view! {
                                        <button type="button" class="btn btn-primary coupon-claim" aria-label=label.clone() on:click=move |_| claim(id)>{t(K::live_coupon_claim)}</button>
                                    }.into_any(),
                                }}
                            </li>
                        }
                    }
                </For>
            </ul>
        </Show>
    }
}
