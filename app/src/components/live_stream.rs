//! The browser side of a live room's event stream: an `EventSource` on
//! `/live/{id}/events`, with a watchdog. The browser reconnects by itself after an error
//! (sending `Last-Event-ID`, so the server resumes or sends a snapshot); if nothing at all
//! arrives for [`SILENCE`] (heartbeats come every 15 s) the connection is presumed dead and
//! reopened with `?last=<seq>`. A stream the server refused (503 while the live room is
//! reconnecting to Redis) is not retried by the browser: it is reopened after a random 1-4 s,
//! so thousands of viewers do not come back in the same instant.

use std::time::Duration;

use leptos::prelude::*;

use crate::model::{LiveEvent, SessionId};

/// No frame for this long means the connection is dead.
pub const SILENCE: Duration = Duration::from_secs(35);

/// One event as received, with the server's publish time (µs; absent on heartbeats).
pub type Received = (LiveEvent, Option<i64>);

/// Opens the room's stream for as long as the calling component lives. `on_event` receives
/// each decoded event with its publish time; `connected` tracks whether the stream is open.
pub fn use_live_stream(
    session_id: SessionId,
    on_event: Callback<Received>,
    connected: RwSignal<bool>,
) {
    #[cfg(feature = "csr")]
    {
        csr::open(session_id, on_event, connected);
    }
    #[cfg(not(feature = "csr"))]
    {
        let _ = (session_id, on_event, connected);
    }
}

#[cfg(feature = "csr")]
mod csr {
    use std::{cell::RefCell, rc::Rc};

    use leptos::prelude::*;
    use wasm_bindgen::{closure::Closure, JsCast};
    use web_sys::{EventSource, MessageEvent};

    use super::{Received, SessionId, SILENCE};
    use crate::{
        components::browser::{jitter_ms, now_ms},
        model::LiveEvent,
    };

    struct Conn {
        source: Option<EventSource>,
        last_seq: Option<u64>,
        last_frame_ms: i64,
        /// When to reopen a stream the browser gave up on.
        retry_at: Option<i64>,
        // Kept alive as long as the EventSource uses them.
        _closures: Vec<Closure<dyn FnMut(web_sys::Event)>>,
    }

    /// The publish time every numbered event carries beside its fields.
    #[derive(serde::Deserialize)]
    struct Stamp {
        ts: Option<i64>,
    }

    pub fn open(session_id: SessionId, on_event: Callback<Received>, connected: RwSignal<bool>) {
        let conn = Rc::new(RefCell::new(Conn {
            source: None,
            last_seq: None,
            last_frame_ms: now_ms(),
            retry_at: None,
            _closures: Vec::new(),
        }));
        connect(session_id, &conn, on_event, connected);
        let watchdog = {
            let conn = conn.clone();
            move || {
                let now = now_ms();
                let (silent, retry) = {
                    let c = conn.borrow();
                    (
                        now - c.last_frame_ms > SILENCE.as_millis() as i64,
                        c.retry_at.is_some_and(|at| now >= at),
                    )
                };
                if silent || retry {
                    connected.set(false);
                    connect(session_id, &conn, on_event, connected);
                }
            }
        };
        let handle = set_interval_with_handle(watchdog, std::time::Duration::from_secs(1)).ok();
        let conn_cleanup = send_wrapper::SendWrapper::new(conn);
        on_cleanup(move || {
            if let Some(h) = handle {
                h.clear();
            }
            if let Some(s) = conn_cleanup.borrow_mut().source.take() {
                s.close();
            }
        });
    }

    fn connect(
        session_id: SessionId,
        conn: &Rc<RefCell<Conn>>,
        on_event: Callback<Received>,
        connected: RwSignal<bool>,
    ) {
        let mut c = conn.borrow_mut();
        if let Some(old) = c.source.take() {
            old.close();
        }
        let url = match c.last_seq {
            Some(seq) => format!("/live/{session_id}/events?last={seq}"),
            None => format!("/live/{session_id}/events"),
        };
        let Ok(source) = EventSource::new(&url) else {
            connected.set(false);
            return;
        };
        c.last_frame_ms = now_ms();
        c.retry_at = None;
        let on_message = {
            let conn = conn.clone();
            Closure::<dyn FnMut(web_sys::Event)>::new(move |ev: web_sys::Event| {
                let Some(msg) = ev.dyn_ref::<MessageEvent>() else {
                    return;
                };
                let Some(data) = msg.data().as_string() else {
                    return;
                };
                {
                    let mut c = conn.borrow_mut();
                    c.last_frame_ms = now_ms();
                }
                connected.set(true);
                if let Ok(event) = serde_json::from_str::<LiveEvent>(&data) {
                    if let Some(seq) = event.seq() {
                        conn.borrow_mut().last_seq = Some(seq);
                    }
                    let ts = serde_json::from_str::<Stamp>(&data).ok().and_then(|s| s.ts);
                    // An event that races the stage's disposal finds the callback gone: ignore it.
                    on_event.try_run((event, ts));
                }
            })
        };
        let on_open = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| connected.set(true));
        let on_error = {
            let conn = conn.clone();
            Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
                connected.set(false);
                let mut c = conn.borrow_mut();
                let closed = c
                    .source
                    .as_ref()
                    .is_some_and(|s| s.ready_state() == EventSource::CLOSED);
                if closed && c.retry_at.is_none() {
                    c.retry_at = Some(now_ms() + 1000 + jitter_ms(3000) as i64);
                }
            })
        };
        source.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        c._closures = vec![on_message, on_open, on_error];
        c.source = Some(source);
    }
}
