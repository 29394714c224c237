//! The studio's camera: preview with device pickers, Start/Stop broadcasting (WHIP, through
//! `public/broadcaster.js`) and broadcast health (state, bitrate, frame rate, codec).

use crate::model::SessionId;
use std::time::Duration;

#[cfg(feature = "csr")]
use leptos::task::spawn_local;
use leptos::{html, prelude::*};

use crate::{
    api::video::get_broadcast_info,
    i18n::{t, tf, K},
};

#[derive(Debug, Clone, PartialEq, Default)]
struct Health {
    state: String,
    kbps: i64,
    fps: i64,
    codec: String,
}

#[derive(Debug, Clone, PartialEq)]
struct Device {
    id: String,
    kind: String,
    label: String,
}

/// The broadcaster's state (`public/broadcaster.js`) in words.
fn state_text(state: &str) -> String {
    match state {
        "live" => t(K::studio_broadcast_state_live),
        "connecting" => t(K::studio_broadcast_state_connecting),
        "failed" => t(K::studio_broadcast_state_failed),
        "stopped" => t(K::studio_broadcast_state_stopped),
        other => other.to_string(),
    }
}

#[component]
#[cfg_attr(not(feature = "csr"), allow(unused_variables))] // the browser build drives the camera
pub fn BroadcastPanel(
    session_id: SessionId,
    msg: RwSignal<Option<Result<String, String>>>,
) -> impl IntoView {
    let preview = NodeRef::<html::Video>::new();
    let devices = RwSignal::new(Vec::<Device>::new());
    let camera = RwSignal::new(String::new());
    let mic = RwSignal::new(String::new());
    let previewing = RwSignal::new(false);
    let state = RwSignal::new("idle".to_string());
    let health = RwSignal::new(Health::default());

    let start_preview = move || {
        #[cfg(feature = "csr")]
        {
            use crate::components::js;
            use wasm_bindgen::JsValue;
            let Some(video) = preview.get_untracked() else {
                return;
            };
            let (cam, m) = (camera.get_untracked(), mic.get_untracked());
            spawn_local(async move {
                let arg = |s: String| {
                    if s.is_empty() {
                        JsValue::UNDEFINED
                    } else {
                        JsValue::from_str(&s)
                    }
                };
                match js::call_async(
                    "LiveBroadcaster",
                    "preview",
                    &[video.into(), arg(cam), arg(m)],
                )
                .await
                {
                    Ok(_) => {
                        previewing.set(true);
                        if let Ok(list) = js::call_async("LiveBroadcaster", "devices", &[]).await {
                            let arr = js_sys::Array::from(&list);
                            devices.set(
                                arr.iter()
                                    .map(|d| Device {
                                        id: js::get(&d, "id").as_string().unwrap_or_default(),
                                        kind: js::get(&d, "kind").as_string().unwrap_or_default(),
                                        label: js::get(&d, "label").as_string().unwrap_or_default(),
                                    })
                                    .collect(),
                            );
                        }
                    }
                    Err(e) => msg.set(Some(Err(tf(
                        K::studio_broadcast_camera_error,
                        &[("error", &e.to_string())],
                    )))),
                }
            });
        }
    };
    // Starting asks the server for the WHIP address and token, then hands them to the page's
    // broadcaster: an action, though what it starts is the camera's stream.
    let start = Action::new_local(move |_: &()| async move {
        #[cfg(feature = "csr")]
        {
            use crate::components::js;
            use wasm_bindgen::JsValue;
            let info = match get_broadcast_info(session_id).await {
                Ok(i) => i,
                Err(e) => return msg.set(Some(Err(e.to_string()))),
            };
            let cb = js::string_callback(move |s| state.set(s));
            let res = js::call_async(
                "LiveBroadcaster",
                "start",
                &[
                    JsValue::from_str(&info.whip_url),
                    JsValue::from_str(&info.token),
                    cb.as_ref().clone(),
                ],
            )
            .await;
            // The state callback lives as long as the page.
            cb.forget();
            match res {
                Ok(_) => msg.set(Some(Ok(t(K::studio_broadcast_started)))),
                Err(e) => msg.set(Some(Err(tf(
                    K::studio_broadcast_error,
                    &[("error", &e.to_string())],
                )))),
            }
        }
        #[cfg(not(feature = "csr"))]
        let _ = (session_id, get_broadcast_info);
    });
    // The camera, the broadcaster's stop and its health are the page's JavaScript
    // (`public/broadcaster.js`), not the server's: plain browser tasks.
    let stop = move |_| {
        #[cfg(feature = "csr")]
        spawn_local(async move {
            let _ = crate::components::js::call_async("LiveBroadcaster", "stop", &[]).await;
            state.set("stopped".into());
            msg.set(Some(Ok(t(K::studio_broadcast_stopped))));
        });
    };
    // Health every second while broadcasting.
    if let Ok(h) = set_interval_with_handle(
        move || {
            #[cfg(feature = "csr")]
            spawn_local(async move {
                use crate::components::js;
                if let Ok(v) = js::call_async("LiveBroadcaster", "health", &[]).await {
                    health.set(Health {
                        state: js::get(&v, "state").as_string().unwrap_or_default(),
                        kbps: js::get(&v, "kbps").as_f64().unwrap_or(0.0) as i64,
                        fps: js::get(&v, "fps").as_f64().unwrap_or(0.0) as i64,
                        codec: js::get(&v, "codec").as_string().unwrap_or_default(),
                    });
                }
            });
        },
        Duration::from_secs(1),
    ) {
        on_cleanup(move || h.clear());
    }
    let options = move |kind: &'static str| {
        devices.with(|d| {
            d.iter()
                .filter(|x| x.kind == kind)
                .map(|x| (x.id.clone(), x.label.clone()))
                .collect::<Vec<_>>()
        })
    };
    view! {
        <section class="card broadcast" aria-labelledby="bc-title">
            <h2 id="bc-title">{t(K::studio_broadcast_title)}</h2>
            <video node_ref=preview class="broadcast-preview" muted=true autoplay=true playsinline=true aria-label=t(K::studio_broadcast_preview)></video>
            <div class="row">
                <label class="field"><span>{t(K::studio_broadcast_camera)}</span>
                    <select on:change=move |ev| { camera.set(event_target_value(&ev)); if previewing.get_untracked() { start_preview() } }>
                        <option value="">{t(K::studio_broadcast_default_camera)}</option>
                        {move || options("videoinput").into_iter().map(|(id, label)| view! { <option value=id>{label}</option> }).collect_view()}
                    </select>
                </label>
                <label class="field"><span>{t(K::studio_broadcast_microphone)}</span>
                    <select on:change=move |ev| { mic.set(event_target_value(&ev)); if previewing.get_untracked() { start_preview() } }>
                        <option value="">{t(K::studio_broadcast_default_microphone)}</option>
                        {move || options("audioinput").into_iter().map(|(id, label)| view! { <option value=id>{label}</option> }).collect_view()}
                    </select>
                </label>
            </div>
            <div class="row">
                <button type="button" class="btn" on:click=move |_| start_preview()>{t(K::studio_broadcast_start_camera)}</button>
                <button type="button" class="btn btn-primary" on:click=move |_| { start.dispatch(()); } disabled=move || !previewing.get() || state.get() == "live">{t(K::studio_broadcast_start)}</button>
                <button type="button" class="btn btn-danger" on:click=stop disabled=move || state.get() != "live" && state.get() != "connecting">{t(K::studio_broadcast_stop)}</button>
            </div>
            <p class="broadcast-health" role="status" aria-live="polite">
                {move || {
                    let h = health.get();
                    let s = state.get();
                    if s == "idle" { t(K::studio_broadcast_idle) }
                    else {
                        let codec = if h.codec.is_empty() { String::new() } else { format!(" · {}", h.codec) };
                        tf(K::studio_broadcast_health, &[("state", &state_text(&s)), ("kbps", &h.kbps.to_string()), ("fps", &h.fps.to_string()), ("codec", &codec)])
                    }
                }}
            </p>
        </section>
    }
}
