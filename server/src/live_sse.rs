//! `GET /live/{session_id}/events`: a viewer's Server-Sent Events stream.
//!
//! SSE rather than WebSocket: the stream is one-way (viewers act through server functions),
//! it is plain HTTP that WeChat's webview, proxies and CDNs handle, browsers reconnect on their
//! own and send `Last-Event-ID`, and a connection costs less memory than a WebSocket's buffers.
//!
//! Each connection holds a broadcast receiver of the room's shared frames; it writes the same
//! `Bytes` every other viewer writes. See `app/src/backend/live.rs` for the fan-out design.

use std::{
    collections::VecDeque,
    convert::Infallible,
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    body::{Body, Bytes},
    extract::{Path, Query, State},
    http::{header, HeaderMap, HeaderValue},
    response::Response,
};
use serde::Deserialize;
use tokio::sync::{broadcast::error::RecvError, watch};

use app::{
    backend::{
        identity::{verify_cookie, SHOPPER_COOKIE},
        live::{heartbeat, me_frame, Frame, Room, ViewerGuard},
    },
    error::AppError,
};

use crate::{export::request_cookie, security::error_response, ServerState};

/// A dead connection is noticed (write fails) within this, and clients expect a frame at
/// least this often.
pub const HEARTBEAT: Duration = Duration::from_secs(15);
/// A viewer that lags this many times within [`LAG_WINDOW`] is dropped (it reconnects and
/// starts from a snapshot) instead of being resynced again and again.
const MAX_LAGS: u32 = 3;
const LAG_WINDOW: Duration = Duration::from_secs(30);

#[derive(Deserialize)]
pub struct EventsQuery {
    /// The last sequence number the client saw (when it reconnects by itself).
    last: Option<u64>,
}

struct Conn {
    guard: ViewerGuard,
    pending: VecDeque<Bytes>,
    rx: tokio::sync::broadcast::Receiver<Arc<Frame>>,
    last_seq: u64,
    personal: Option<watch::Receiver<u64>>,
    heartbeat: tokio::time::Interval,
    lags: u32,
    last_lag: Option<Instant>,
}

impl Conn {
    fn room(&self) -> &Arc<Room> {
        self.guard.room()
    }

    /// The next frame for this viewer, or `None` to close the connection.
    async fn next(mut self) -> Option<(Result<Bytes, Infallible>, Conn)> {
        loop {
            if let Some(b) = self.pending.pop_front() {
                return Some((Ok(b), self));
            }
            let personal = async {
                match self.personal.as_mut() {
                    Some(rx) => rx.changed().await.is_ok(),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                r = self.rx.recv() => match r {
                    Ok(frame) => {
                        if frame.seq > self.last_seq {
                            self.last_seq = frame.seq;
                            return Some((Ok(frame.bytes.clone()), self));
                        }
                    }
                    Err(RecvError::Lagged(_)) => {
                        let now = Instant::now();
                        self.lags = match self.last_lag {
                            Some(t) if now.duration_since(t) < LAG_WINDOW => self.lags + 1,
                            _ => 1,
                        };
                        self.last_lag = Some(now);
                        if self.lags > MAX_LAGS {
                            tracing::debug!(session = self.room().session_id, "dropping a viewer that keeps lagging");
                            return None;
                        }
                        let start = self.room().resync();
                        self.rx = start.rx;
                        self.last_seq = start.seq;
                        self.pending.extend(start.frames);
                    }
                    Err(RecvError::Closed) => return None,
                },
                changed = personal => {
                    if changed {
                        return Some((Ok(me_frame()), self));
                    }
                    self.personal = None;
                }
                _ = self.heartbeat.tick() => return Some((Ok(heartbeat()), self)),
            }
        }
    }
}

/// `GET /live/{session_id}/events[?last=N]` (also honours `Last-Event-ID`).
pub async fn events(
    State(state): State<ServerState>,
    Path(id): Path<String>,
    Query(q): Query<EventsQuery>,
    headers: HeaderMap,
) -> Response {
    let Ok(session_id) = id.parse::<i64>() else {
        return error_response(&AppError::not_found("This live session does not exist."));
    };
    let room = match state.app.live.room(&state.app.db, session_id).await {
        Ok(r) => r,
        Err(e) => return error_response(&e),
    };
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .or(q.last);
    // The signature is enough to know who is watching; no database round trip per viewer.
    let shopper = request_cookie(&headers, SHOPPER_COOKIE)
        .and_then(|v| verify_cookie(&state.app.cookie_key, &v));
    let guard = room.viewer_joined();
    let start = room.start(last);
    let mut heartbeat =
        tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT, HEARTBEAT);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let conn = Conn {
        personal: shopper.map(|s| room.personal(s)),
        guard,
        pending: start.frames.into(),
        rx: start.rx,
        last_seq: start.seq,
        heartbeat,
        lags: 0,
        last_lag: None,
    };
    let stream = futures::stream::unfold(conn, Conn::next);
    let mut res = Response::new(Body::from_stream(stream));
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-transform"),
    );
    // Tell nginx-style proxies not to buffer the stream.
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    res
}
