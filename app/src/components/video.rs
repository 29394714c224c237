//! The session's video: live HLS in the live stage, the recording (with jumps to each
//! presented product) after the session. Playback itself is `public/player.js`.

use crate::model::SessionId;
use leptos::{html, prelude::*, task::spawn_local};

use crate::{
    api::video::get_video,
    i18n::{t, K},
    model::VideoInfo,
};

/// Playback state reported by the player (only the browser build constructs most of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(feature = "csr"), allow(dead_code))]
enum Playback {
    Waiting,
    Loading,
    Playing,
    Stalled,
    /// Autoplay with sound refused (WeChat, iOS): a tap starts it.
    Blocked,
    Error,
}

#[cfg_attr(not(feature = "csr"), allow(dead_code))]
impl Playback {
    fn parse(s: &str) -> Playback {
        match s {
            "loading" => Playback::Loading,
            "playing" => Playback::Playing,
            "stalled" => Playback::Stalled,
            "blocked" => Playback::Blocked,
            "error" => Playback::Error,
            _ => Playback::Waiting,
        }
    }
}

/// The video element with WeChat/iOS inline-playback attributes, attached to `url`.
#[component]
fn Player(
    #[prop(into)] url: String,
    /// Live over WebRTC first (the player falls back to `url`, HLS, by itself).
    #[prop(default = None)]
    whep: Option<String>,
    live: bool,
    node: NodeRef<html::Video>,
    state: RwSignal<Playback>,
    /// Gets the wall clock (server ms) of the frame on screen, `None` when unknown.
    #[prop(default = None)]
    picture: Option<RwSignal<Option<f64>>>,
) -> impl IntoView {
    #[cfg(feature = "csr")]
    {
        use wasm_bindgen::JsValue;
        let url_for_attach = url.clone();
        Effect::new(move |_| {
            let Some(video) = node.get() else { return };
            let cb =
                crate::components::js::string_callback(move |s| state.set(Playback::parse(&s)));
            let handle = crate::components::js::call(
                "LivePlayer",
                "attach",
                &[
                    video.into(),
                    JsValue::from_str(&url_for_attach),
                    JsValue::from_bool(live),
                    cb.as_ref().clone(),
                    whep.as_deref().map_or(JsValue::NULL, JsValue::from_str),
                ],
            );
            if let (Some(picture), Some(h)) = (picture, handle.clone()) {
                let h = send_wrapper::SendWrapper::new(h);
                crate::components::scoped::every(
                    std::time::Duration::from_millis(100),
                    move || {
                        let ms =
                            crate::components::js::call("LivePlayer", "clock", &[(*h).clone()])
                                .and_then(|v| v.as_f64())
                                .filter(|v| v.is_finite());
                        picture.set(ms);
                    },
                );
            }
            let keep = send_wrapper::SendWrapper::new((cb, handle));
            on_cleanup(move || {
                if let Some(picture) = picture {
                    picture.set(None);
                }
                let (_cb, handle) = keep.take();
                if let Some(h) = handle {
                    crate::components::js::call("LivePlayer", "detach", &[h]);
                }
            });
        });
    }
    #[cfg(not(feature = "csr"))]
    let _ = (url, whep, live, state, picture);
    view! {
        <video node_ref=node class="live-player" muted=true autoplay=true playsinline=true
            attr:webkit-playsinline="true" attr:x5-playsinline="true" attr:x5-video-player-type="h5"
            aria-label=t(K::live_video_label)></video>
    }
}

fn tap_to_play(node: NodeRef<html::Video>) {
    #[cfg(feature = "csr")]
    if let Some(v) = node.get_untracked() {
        crate::components::js::call("LivePlayer", "tapToPlay", &[v.into()]);
    }
    #[cfg(not(feature = "csr"))]
    let _ = node;
}

/// The live stage's video area. `version` changes when the room says the broadcast started or
/// stopped, which refetches where to play from.
/// `picture` gets the wall clock of the frame on screen (for `card_sync`).
#[component]
pub fn LiveVideo(
    session_id: SessionId,
    #[prop(into)] version: Signal<u32>,
    #[prop(optional)] picture: Option<RwSignal<Option<f64>>>,
) -> impl IntoView {
    let info = RwSignal::new(None::<VideoInfo>);
    // A read, again when the room's version moves, that keeps the last answer on an error. A
    // task rather than a resource: a resource read here would put the live room's <Suspense>
    // back on its fallback (and take the player down) at every refetch.
    Effect::new(move |_| {
        version.track();
        spawn_local(async move {
            if let Ok(v) = get_video(session_id).await {
                info.set(Some(v));
            }
        });
    });
    // Only a broadcast that is on: between broadcasts the URL is the recording's.
    let url = Memo::new(move |_| {
        info.with(|i| {
            i.as_ref()
                .filter(|i| i.live)
                .and_then(|i| i.hls_url.clone().map(|u| (u, i.whep_url.clone())))
        })
    });
    let state = RwSignal::new(Playback::Waiting);
    let node = NodeRef::<html::Video>::new();
    let unmuted = RwSignal::new(false);
    view! {
        <div class="video-area">
            {move || url.get().map(|(u, whep)| view! { <Player url=u whep=whep live=true node=node state=state picture=picture/> })}
            {move || match (url.get().is_some(), state.get()) {
                (false, _) => Some(view! { <p class="video-note" role="status">{t(K::live_video_waiting)}</p> }.into_any()),
                (true, Playback::Stalled | Playback::Loading) => Some(view! { <p class="video-note" role="status">{t(K::live_video_loading)}</p> }.into_any()),
                (true, Playback::Error) => Some(view! { <p class="video-note" role="status">{t(K::live_video_reconnecting)}</p> }.into_any()),
                _ => None,
            }}
            <Show when=move || url.get().is_some() && !unmuted.get()>
                <button type="button" class="video-unmute" on:click=move |_| { tap_to_play(node); unmuted.set(true); }
                    aria-label=t(K::live_video_tap_label)>
                    {move || if state.get() == Playback::Blocked { t(K::live_video_tap_to_play) } else { t(K::live_video_tap_for_sound) }}
                </button>
            </Show>
        </div>
    }
}

/// After the session: the recording, and a list of the presented products that jump to where
/// each was presented.
#[component]
pub fn Replay(session_id: SessionId) -> impl IntoView {
    let info = LocalResource::new(move || get_video(session_id));
    let node = NodeRef::<html::Video>::new();
    let state = RwSignal::new(Playback::Waiting);
    let jump = move |offset: f64| {
        if let Some(v) = node.get_untracked() {
            v.set_current_time(offset);
            let _ = v.play();
        }
    };
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match info.await {
                    Ok(VideoInfo { hls_url: Some(url), markers, .. }) => view! {
                        <section class="replay" aria-labelledby="replay-title">
                            <h2 id="replay-title">{t(K::live_video_replay)}</h2>
                            <div class="video-area replay-video"><Player url=url live=false node=node state=state/></div>
                            {(!markers.is_empty()).then(|| view! {
                                <ol class="replay-markers" aria-label=t(K::live_video_jump)>
                                    {markers.into_iter().map(|m| {
                                        let offset = m.offset_s;
                                        let label = format!("{} ({})", m.name, clock(offset));
                                        view! { <li><button type="button" class="btn btn-small" on:click=move |_| jump(offset)>{label}</button></li> }
                                    }).collect_view()}
                                </ol>
                            })}
                        </section>
                    }.into_any(),
                    _ => ().into_any(),
                }
            })}
        </Suspense>
    }
}

/// 75.2 → "1:15"
pub fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0) as u64;
    format!("{}:{:02}", s / 60, s % 60)
}

#[cfg(test)]
mod tests {
    #[test]
    fn clock_formats_minutes_and_seconds() {
        assert_eq!(super::clock(0.0), "0:00");
        assert_eq!(super::clock(75.2), "1:15");
        assert_eq!(super::clock(3601.0), "60:01");
    }
}
