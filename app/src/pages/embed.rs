//! `/embed/{session}`: the live room without the site around it, for an iframe on another
//! site (`public/embed.js` creates it). Video, host, viewers and the product being presented
//! with its public price; the host page's own cart through `addToCart`; buying or reserving
//! with us opens the room as a top-level page (an iframe on another site gets no cookie of
//! ours in most browsers, and none is needed to watch).
//!
//! The page around it talks to the room through `postMessage` with a versioned envelope
//! (`domain::embed`): `{ls: 1, kind: "event" | "command" | "reply", name, id?, to?, data}`.
//! The room posts only to the page that frames it, only when that page's origin is on the
//! host's list (`embed/origins`, the same list as the `frame-ancestors` of this page), never
//! to `*`; it acts only on messages from that window and origin.

use crate::model::{ProductId, SessionId};
use std::collections::HashMap;

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde_json::{json, Value};

use crate::{
    api::{catalog::get_session, embed::embed_origins},
    components::{
        browser::origin,
        card_sync::PictureSync,
        live_stream::{use_live_stream, Received},
        scoped::every,
        time::SessionTime,
        video::LiveVideo,
        Loading,
    },
    domain::embed::{COMMANDS, ENVELOPE_VERSION, EVENTS},
    error::AppError,
    i18n::{t, tf, tp, K},
    model::{LiveEvent, PresentingView, SessionDetail, SessionStatus},
    pages::not_found::NotFound,
};

/// Answers awaited from the page around the room, by request id (and the last id given).
type Pending = (u32, HashMap<u32, Callback<Option<Value>>>);

/// How long the room waits for the host page to answer `addToCart`.
const REPLY_WAIT_MS: u64 = 10_000;

#[component]
pub fn EmbedPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let id = move || {
        params
            .read()
            .get("id")
            .and_then(|s| s.parse::<SessionId>().ok())
    };
    let loaded = LocalResource::new(move || {
        let id = id();
        async move {
            let Some(id) = id else {
                return Err(AppError::not_found(t(K::live_embed_not_found)));
            };
            let session = get_session(id).await?;
            let origins = embed_origins(id).await?;
            Ok::<_, AppError>((session, origins))
        }
    });
    let claimed_parent = query.read_untracked().get("parent").unwrap_or_default();
    view! {
        <Suspense fallback=|| view! { <Loading label=t(K::live_embed_loading)/> }>
            {move || {
                let claimed_parent = claimed_parent.clone();
                Suspend::new(async move {
                    match loaded.await {
                        Ok((session, origins)) => {
                            let bridge = Bridge::connect(&claimed_parent, &origins);
                            view! { <EmbedRoom session=session bridge=bridge/> }.into_any()
                        }
                        Err(e) if e.is_not_found() => view! { <NotFound message=e.to_string()/> }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

/// The host page's answer to `addToCart`.
#[derive(Debug, Clone, PartialEq)]
enum CartAnswer {
    Waiting,
    Added(String),
    Refused(String),
}

#[component]
fn EmbedRoom(session: SessionDetail, bridge: Bridge) -> impl IntoView {
    let session_id = session.id;
    let status = RwSignal::new(session.status);
    let presenting = RwSignal::new(None::<PresentingView>);
    let stock = RwSignal::new(
        session
            .products
            .iter()
            .map(|p| (p.id, p.stock))
            .collect::<HashMap<ProductId, i64>>(),
    );
    let viewers = RwSignal::new(0i64);
    let connected = RwSignal::new(false);
    let video_version = RwSignal::new(0u32);
    let cart = RwSignal::new(None::<CartAnswer>);
    let room_url = format!("{}/s/{session_id}", origin());
    let currency = session.currency.clone();

    bridge.post(
        "ready",
        json!({
            "version": ENVELOPE_VERSION,
            "session": session_id,
            "status": status_name(session.status),
            "events": EVENTS,
            "commands": COMMANDS,
        }),
    );
    // What the room says to the page around it, each when it changes.
    {
        let bridge = bridge.clone();
        Effect::new(move |last: Option<SessionStatus>| {
            let s = status.get();
            if last.is_some_and(|l| l != s) {
                bridge.post("state", json!({ "status": status_name(s) }));
            }
            s
        });
    }
    {
        let bridge = bridge.clone();
        Effect::new(move |last: Option<i64>| {
            let n = viewers.get();
            if last != Some(n) {
                bridge.post("viewers", json!({ "count": n }));
            }
            n
        });
    }
    {
        let bridge = bridge.clone();
        let (room_url, currency) = (room_url.clone(), currency.clone());
        Effect::new(move |last: Option<Option<ProductId>>| {
            let p = presenting.get();
            let id = p.as_ref().map(|p| p.product_id);
            if let Some(p) = p.filter(|_| last != Some(id)) {
                let left = stock.with_untracked(|s| s.get(&p.product_id).copied());
                bridge.post(
                    "productPresented",
                    product_json(&p, left, &currency, &room_url),
                );
            }
            id
        });
    }
    {
        let bridge = bridge.clone();
        let last = StoredValue::new(0i64);
        every(std::time::Duration::from_millis(400), move || {
            let h = content_height();
            if h > 0 && h != last.get_value() {
                last.set_value(h);
                bridge.post("resize", json!({ "height": h }));
            }
        });
    }
    bridge.listen();

    // The card follows the picture (card_sync).
    let sync = PictureSync::new();
    let on_event = Callback::new(move |(ev, ts): Received| match ev {
        LiveEvent::Snapshot {
            status: s,
            presenting: p,
            stock: left,
            viewers: n,
            ..
        } => {
            sync.clear();
            stock.update(|m| m.extend(left.iter().map(|[id, n]| (ProductId(*id), *n))));
            status.set(s);
            viewers.set(n);
            presenting.set(p);
        }
        LiveEvent::Status { status: s, .. } => status.set(s),
        LiveEvent::Presenting { product, .. } => sync.hold(ts, move || {
            cart.set(None);
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
            })
        }),
        LiveEvent::Counters {
            viewers: n,
            stock: left,
            ..
        } => {
            viewers.set(n);
            if !left.is_empty() {
                sync.hold(ts, move || {
                    stock.update(|m| m.extend(left.iter().map(|[id, n]| (ProductId(*id), *n))))
                });
            }
        }
        LiveEvent::Video { .. } => video_version.update(|v| *v += 1),
        _ => {}
    });
    use_live_stream(session_id, on_event, connected);

    let add_to_cart = {
        let bridge = bridge.clone();
        let (room_url, currency) = (room_url.clone(), currency.clone());
        move |_| {
            let Some(p) = presenting.get_untracked() else {
                return;
            };
            let left = stock.with_untracked(|s| s.get(&p.product_id).copied());
            cart.set(Some(CartAnswer::Waiting));
            let name = p.name.clone();
            bridge.request(
                "addToCart",
                product_json(&p, left, &currency, &room_url),
                Callback::new(move |answer: Option<Value>| {
                    cart.set(Some(match answer {
                        Some(a) if a["accepted"] == json!(true) => {
                            CartAnswer::Added(tf(K::live_embed_added, &[("name", &name)]))
                        }
                        Some(a) => {
                            let reason = a["reason"]
                                .as_str()
                                .map_or_else(|| t(K::live_embed_shop_refused), str::to_string);
                            CartAnswer::Refused(tf(K::live_embed_not_added, &[("reason", &reason)]))
                        }
                        None => CartAnswer::Refused(t(K::live_embed_no_answer)),
                    }))
                }),
            );
        }
    };
    let reserve = {
        let (bridge, room_url) = (bridge.clone(), room_url.clone());
        move |_| {
            bridge.post(
                "reserveRequested",
                json!({ "session": session_id, "url": room_url }),
            )
        }
    };
    let can_add = bridge.active();
    let title = session.title.clone();
    let start = session.scheduled_start_ms;
    let zone = session.time_zone.clone();
    let offset = session.start_offset_minutes;
    let cover = session.cover_url.clone();
    view! {
        <section class="embed-room" aria-label=tf(K::live_embed_label, &[("title", &title)])>
            <div class="embed-stage" style=format!("background-image: url('{cover}')")>
                {move || (status.get() == SessionStatus::Live).then(|| view! {
                    <LiveVideo session_id=session_id version=video_version picture=sync.picture/>
                })}
                <div class="embed-top">
                    <span class="badge" class:badge-live=move || status.get() == SessionStatus::Live>
                        {move || match status.get() {
                            SessionStatus::Live => t(K::live_stage_live_badge),
                            SessionStatus::Scheduled | SessionStatus::Rehearsal => t(K::live_embed_soon),
                            SessionStatus::Ended => t(K::live_embed_ended),
                        }}
                    </span>
                    <span class="live-viewers">{move || tp(K::live_stage_watching, viewers.get(), &[])}</span>
                </div>
                <Show when=move || status.get() == SessionStatus::Live && !connected.get()>
                    <p class="live-conn" role="status">{t(K::live_stage_reconnecting)}</p>
                </Show>
            </div>
            <header class="embed-head">
                <strong>{session.host_name.clone()}</strong>
                <span>{title.clone()}</span>
            </header>
            {move || match status.get() {
                SessionStatus::Scheduled | SessionStatus::Rehearsal => view! {
                    <div class="embed-panel">
                        <p>{t(K::live_embed_starts)}<SessionTime ms=start zone=zone.clone() offset=offset/></p>
                        <a class="btn btn-primary" href=room_url.clone() target="_blank" rel="noopener"
                            on:click=reserve.clone()>{t(K::live_embed_reserve)}</a>
                    </div>
                }.into_any(),
                SessionStatus::Ended => view! {
                    <div class="embed-panel">
                        <p>{t(K::live_embed_ended_text)}</p>
                        <a class="btn" href=room_url.clone() target="_blank" rel="noopener">{t(K::live_embed_watch_replay)}</a>
                    </div>
                }.into_any(),
                SessionStatus::Live => view! {
                    <div class="embed-panel">
                        {move || match presenting.get() {
                            None => view! { <p class="muted">{t(K::live_embed_host_will_present)}</p> }.into_any(),
                            Some(p) => {
                                let left = move || stock.with(|s| s.get(&p.product_id).copied());
                                let sold_out = move || left().is_some_and(|n| n <= 0);
                                view! {
                                    <article class="embed-product" aria-label=t(K::live_stage_explaining_now)>
                                        <img src=p.image_url.clone() alt="" width="72" height="72"/>
                                        <div>
                                            <h2>{p.name.clone()}</h2>
                                            <p class="price">{p.pricing.price.to_string()}</p>
                                            {(p.pricing.percent_off > 0).then(|| view! {
                                                <p class="small">{tf(K::live_embed_reservation_discount, &[("price", &p.pricing.discounted_price.to_string()), ("percent", &p.pricing.percent_off.to_string())])}</p>
                                            })}
                                            <Show when=sold_out>
                                                <p class="badge">{t(K::live_stock_sold_out)}</p>
                                            </Show>
                                        </div>
                                    </article>
                                }.into_any()
                            }
                        }}
                        <div class="embed-actions">
                            {can_add.then(|| view! {
                                <button type="button" class="btn btn-primary"
                                    disabled=move || presenting.with(|p| p.is_none()) || cart.get() == Some(CartAnswer::Waiting)
                                    on:click=add_to_cart.clone()>{t(K::live_embed_add_to_cart)}</button>
                            })}
                            <a class="btn" href=room_url.clone() target="_blank" rel="noopener">{t(K::live_embed_buy_in_room)}</a>
                        </div>
                        {move || cart.get().map(|c| match c {
                            CartAnswer::Waiting => view! { <p class="muted" role="status">{t(K::live_embed_adding)}</p> }.into_any(),
                            CartAnswer::Added(t) => view! { <p class="ok" role="status">{t}</p> }.into_any(),
                            CartAnswer::Refused(t) => view! { <p class="error" role="status">{t}</p> }.into_any(),
                        })}
                    </div>
                }.into_any(),
            }}
        </section>
    }
}

fn status_name(s: SessionStatus) -> &'static str {
    match s {
        SessionStatus::Scheduled | SessionStatus::Rehearsal => "scheduled",
        SessionStatus::Live => "live",
        SessionStatus::Ended => "ended",
    }
}

/// What the page around the room learns of a product (amounts in minor units, fen for CNY).
fn product_json(p: &PresentingView, stock: Option<i64>, currency: &str, room_url: &str) -> Value {
    let image = if p.image_url.starts_with('/') {
        format!("{}{}", origin(), p.image_url)
    } else {
        p.image_url.clone()
    };
    json!({
        "productId": p.product_id,
        "name": p.name,
        "imageUrl": image,
        "price": p.pricing.price.0,
        "discountedPrice": p.pricing.discounted_price.0,
        "percentOff": p.pricing.percent_off,
        "currency": currency,
        "stock": stock,
        "url": room_url,
    })
}

fn content_height() -> i64 {
    #[cfg(feature = "csr")]
    {
        web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element())
            .map_or(0, |e| i64::from(e.scroll_height()))
    }
    #[cfg(not(feature = "csr"))]
    {
        0
    }
}

/// The room's side of the `postMessage` API: inert unless the room is framed by a page whose
/// origin the host allows.
#[derive(Clone)]
struct Bridge {
    #[cfg_attr(not(feature = "csr"), allow(dead_code))]
    parent_origin: Option<String>,
    #[cfg_attr(not(feature = "csr"), allow(dead_code))]
    pending: StoredValue<Pending>,
}

impl Bridge {
    /// The page around the room: the browser's own record of it where there is one
    /// (`location.ancestorOrigins`), else what embed.js said (`?parent=`: a false claim only
    /// means the browser drops every message, since each names its target origin). Only an
    /// origin on `allowed` is talked to.
    fn connect(claimed: &str, allowed: &[String]) -> Bridge {
        let parent = framing_origin().unwrap_or_else(|| claimed.to_string());
        Bridge {
            parent_origin: allowed.contains(&parent).then_some(parent),
            pending: StoredValue::new((0, HashMap::new())),
        }
    }

    fn active(&self) -> bool {
        self.parent_origin.is_some()
    }

    fn post(&self, name: &str, data: Value) {
        self.send(json!({ "ls": ENVELOPE_VERSION, "kind": "event", "name": name, "data": data }));
    }

    /// Posts an event that the page answers (`{kind: "reply", to: id, data}`); `done` gets the
    /// answer, or `None` when none came in time.
    fn request(&self, name: &str, data: Value, done: Callback<Option<Value>>) {
        if !self.active() {
            done.run(None);
            return;
        }
        let mut id = 0;
        self.pending.update_value(|(next, waiting)| {
            *next = next.wrapping_add(1);
            id = *next;
            waiting.insert(id, done);
        });
        self.send(json!({ "ls": ENVELOPE_VERSION, "kind": "event", "name": name, "id": id, "data": data }));
        let pending = self.pending;
        crate::components::scoped::spawn_owned(async move {
            crate::components::browser::sleep_ms(REPLY_WAIT_MS).await;
            if let Some(cb) = pending
                .try_update_value(|(_, waiting)| waiting.remove(&id))
                .flatten()
            {
                cb.run(None);
            }
        });
    }

    #[cfg(feature = "csr")]
    fn send(&self, message: Value) {
        let (Some(origin), Some(parent)) = (&self.parent_origin, parent_window()) else {
            return;
        };
        if let Ok(v) = js_sys::JSON::parse(&message.to_string()) {
            let _ = parent.post_message(&v, origin);
        }
    }

    #[cfg(not(feature = "csr"))]
    fn send(&self, message: Value) {
        let _ = message;
    }

    /// Acts on the page's commands and replies, for as long as the room lives.
    #[cfg(feature = "csr")]
    fn listen(&self) {
        use wasm_bindgen::JsValue;
        let Some(origin) = self.parent_origin.clone() else {
            return;
        };
        let this = self.clone();
        let handle = window_event_listener(leptos::ev::message, move |ev| {
            let from_parent = match (ev.source(), parent_window()) {
                (Some(source), Some(parent)) => js_sys::Object::is(&source, &JsValue::from(parent)),
                _ => false,
            };
            if !from_parent || ev.origin() != origin {
                return;
            }
            let Some(msg) = js_sys::JSON::stringify(&ev.data())
                .ok()
                .and_then(|s| s.as_string())
                .and_then(|s| serde_json::from_str::<Value>(&s).ok())
            else {
                return;
            };
            if msg["ls"] != json!(ENVELOPE_VERSION) {
                return;
            }
            match msg["kind"].as_str() {
                Some("reply") => {
                    let Some(to) = msg["to"].as_u64().and_then(|t| u32::try_from(t).ok()) else {
                        return;
                    };
                    if let Some(cb) = this
                        .pending
                        .try_update_value(|(_, waiting)| waiting.remove(&to))
                        .flatten()
                    {
                        cb.run(Some(msg["data"].clone()));
                    }
                }
                Some("command") => {
                    let name = msg["name"].as_str().unwrap_or("");
                    let outcome = run_command(name, &msg["data"]);
                    if let Some(id) = msg["id"].as_u64() {
                        this.send(json!({
                            "ls": ENVELOPE_VERSION, "kind": "reply", "to": id,
                            "data": match outcome {
                                Ok(()) => json!({ "ok": true }),
                                Err(why) => json!({ "ok": false, "reason": why }),
                            },
                        }));
                    }
                }
                _ => {}
            }
        });
        on_cleanup(move || handle.remove());
    }

    #[cfg(not(feature = "csr"))]
    fn listen(&self) {}
}

/// `play`, `pause`, `mute`, `unmute` act on the room's video; `setLocale` sets the room's
/// language (`{locale: "zh-CN" | "en" | "it"}`).
#[cfg(feature = "csr")]
fn run_command(name: &str, data: &Value) -> Result<(), String> {
    use wasm_bindgen::JsCast;
    let video = || {
        web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.query_selector("video.live-player").ok().flatten())
            .and_then(|e| e.dyn_into::<web_sys::HtmlMediaElement>().ok())
            .ok_or_else(|| "no video is playing".to_string())
    };
    match name {
        "play" => {
            let _ = video()?.play();
            Ok(())
        }
        "pause" => video()?.pause().map_err(|_| "could not pause".to_string()),
        "mute" => {
            video()?.set_muted(true);
            Ok(())
        }
        "unmute" => {
            video()?.set_muted(false);
            Ok(())
        }
        "setLocale" => {
            let l = data["locale"].as_str().unwrap_or("");
            let Some(locale) = crate::i18n::Locale::parse(l) else {
                return Err(format!("unknown locale {l:?}"));
            };
            // The room's texts are fetched once per page: it reloads in that language (the
            // page around it hears `ready` again). No cookie: a framed page may have none.
            if crate::i18n::current() != locale {
                if let Some(w) = web_sys::window() {
                    let href = w.location().href().unwrap_or_default();
                    if let Ok(url) = web_sys::Url::new(&href) {
                        url.search_params().set("locale", locale.tag());
                        let _ = w.location().replace(&url.href());
                    }
                }
            }
            Ok(())
        }
        other => Err(format!("unknown command {other:?}")),
    }
}

#[cfg(feature = "csr")]
fn parent_window() -> Option<web_sys::Window> {
    let w = web_sys::window()?;
    let parent = w.parent().ok().flatten()?;
    // Not framed: the window is its own parent.
    (!js_sys::Object::is(&parent, &w)).then_some(parent)
}

/// The framing page's origin as the browser records it (Chromium, Safari), if framed.
fn framing_origin() -> Option<String> {
    #[cfg(feature = "csr")]
    {
        parent_window()?;
        let location = web_sys::window()?.location();
        let list = js_sys::Reflect::get(&location, &"ancestorOrigins".into()).ok()?;
        js_sys::Reflect::get(&list, &0.into()).ok()?.as_string()
    }
    #[cfg(not(feature = "csr"))]
    {
        None
    }
}
