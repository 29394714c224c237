//! `GET /live/{session_id}/events`: a viewer's Server-Sent Events stream.
//!
//! SSE rather than WebSocket: the stream is one-way (viewers act through server functions),
//! it is plain HTTP that WeChat's webview, proxies and CDNs handle, browsers reconnect on their
//! own and send `Last-Event-ID`, and a connection costs less memory than a WebSocket's buffers.
//!
//! Each connection holds a broadcast receiver of the room's shared frames; it writes the same
//! `Bytes` every other viewer writes. See `backend/src/live/mod.rs` for the fan-out design.

use shop_core::ids::{SessionId, ShopperId};
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

use shop_backend::{
    identity,
    live::{heartbeat, me_frame, Frame, Room, ViewerGuard},
    metrics::Metrics,
};
use shop_core::error::AppError;

use crate::{security::error_response, ServerState};

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
    /// The server is shutting down: end the stream (the browser reconnects elsewhere/later).
    stop: watch::Receiver<bool>,
    /// The room ends its streams (distributed mode, Redis lost).
    kick: watch::Receiver<u64>,
    /// The session's team (signed in with a role in its shop): sees a rehearsal. Everyone
    /// else skips what a rehearsal publishes.
    team: bool,
    /// Distributed mode, a shopper's stream: renews their presence mark at each heartbeat
    /// (the draws' "in the room now" rule asks any node).
    presence: Option<(Arc<shop_backend::live::Hub>, ShopperId)>,
}

impl Conn {
    fn mark_present(&self) {
        if let Some((hub, shopper)) = self.presence.clone() {
            let session_id = self.room().session_id;
            tokio::spawn(async move {
                shop_backend::live::told(hub.mark_present(session_id, shopper).await);
            });
        }
    }
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
            let stopping = async {
                if self.stop.wait_for(|stopping| *stopping).await.is_err() {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                biased;
                r = self.rx.recv() => match r {
                    Ok(frame) => {
                        if frame.private && !self.team {
                            continue;
                        }
                        if frame.seq > self.last_seq || frame.snapshot {
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
                            Metrics::count(&self.room().metrics().live_dropped);
                            tracing::debug!(session = %self.room().session_id, "dropping a viewer that keeps lagging");
                            return None;
                        }
                        Metrics::count(&self.room().metrics().live_resyncs);
                        let start = self.room().resync(self.team);
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
                _ = self.heartbeat.tick() => {
                    self.mark_present();
                    return Some((Ok(heartbeat()), self));
                }
                () = stopping => return None,
                _ = self.kick.changed() => return None,
            }
        }
    }
}

/// Whether the stream's caller is on the session's team (a rehearsal is theirs). Only a
/// request with a host cookie costs a lookup; shoppers' streams cost nothing.
async fn is_team(state: &ServerState, session_id: SessionId, cookies: &HeaderMap) -> bool {
    use shop_backend::identity::host_auth;
    if shop_backend::request::cookie_in(cookies, host_auth::HOST_COOKIE).is_none() {
        return false;
    }
    match host_auth::host_in(&state.app, cookies).await {
        Ok(host) => host_auth::check_owner(&state.app, &host, session_id)
            .await
            .is_ok(),
        Err(_) => false,
    }
}

/// Opens a viewer's stream: the room, where to resume, who is watching.
async fn open(
    state: &ServerState,
    session_id: SessionId,
    last: Option<u64>,
    cookies: &HeaderMap,
) -> Result<Conn, AppError> {
    let guard = state.app.live.watch(&state.app.db, session_id).await?;
    let room = guard.room().clone();
    // The signature is enough to know who is watching; no database round trip per viewer.
    let shopper = identity::shopper_id(&state.app.cookie_key, cookies);
    let team = is_team(state, session_id, cookies).await;
    let start = if !team && room.rehearsing() {
        room.start_public(last)
    } else {
        state.app.live.start(&room, last).await
    };
    let mut heartbeat =
        tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT, HEARTBEAT);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let presence = shopper
        .filter(|_| state.app.live.backplane().is_some())
        .map(|s| (state.app.live.clone(), s));
    let conn = Conn {
        team,
        presence,
        personal: shopper.map(|s| room.personal(s)),
        guard,
        pending: start.frames.into(),
        rx: start.rx,
        last_seq: start.seq,
        heartbeat,
        lags: 0,
        last_lag: None,
        stop: state.shutdown.subscribe(),
        kick: room.kicked(),
    };
    conn.mark_present();
    Ok(conn)
}

/// `GET /live/{session_id}/events[?last=N]` (also honours `Last-Event-ID`), through axum:
/// used when the stream is requested on a connection that already carried other requests.
pub async fn events(
    State(state): State<ServerState>,
    Path(id): Path<String>,
    Query(q): Query<EventsQuery>,
    headers: HeaderMap,
) -> Response {
    let Ok(session_id) = id.parse::<SessionId>() else {
        return error_response(AppError::not_found("This live session does not exist."));
    };
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .or(q.last);
    let conn = match open(&state, session_id, last, &headers).await {
        Ok(c) => c,
        Err(e) => return error_response(e),
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

// ---- The lean path: a connection whose first request is the event stream ----

const STREAM_PREFIX: &[u8] = b"GET /live/";
/// Longest request head the lean path accepts (cookies included).
const MAX_HEAD: usize = 16 * 1024;

/// Whether a new connection's first request is `GET /live/...` (looked at without consuming
/// it, so any other request goes to hyper untouched).
pub async fn is_fresh_stream_request(tcp: &tokio::net::TcpStream) -> bool {
    let mut buf = [0u8; 10];
    for _ in 0..50 {
        match tokio::time::timeout(Duration::from_secs(10), tcp.peek(&mut buf)).await {
            Ok(Ok(n)) if n >= STREAM_PREFIX.len() => {
                return &buf[..STREAM_PREFIX.len()] == STREAM_PREFIX
            }
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return false,
            Ok(Ok(n)) if buf[..n] != STREAM_PREFIX[..n] => return false,
            // A prefix of the stream request so far: wait for the rest of the line.
            Ok(Ok(_)) => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
    false
}

/// The request head of a lean stream request.
#[derive(Debug)]
pub struct StreamRequest {
    pub session_id: Option<SessionId>,
    pub last: Option<u64>,
    /// Only the request's `Cookie` headers (identity is read from them the usual way).
    pub cookies: HeaderMap,
}

/// Parses `GET /live/{id}/events[?last=N] HTTP/1.x` and the headers we use.
pub fn parse_stream_request(head: &str) -> StreamRequest {
    let mut lines = head.split("\r\n");
    let target = lines.next().and_then(|l| l.split(' ').nth(1)).unwrap_or("");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let session_id = path
        .strip_prefix("/live/")
        .and_then(|rest| rest.strip_suffix("/events"))
        .and_then(|id| id.parse::<SessionId>().ok());
    let mut last = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("last="))
        .and_then(|v| v.parse().ok());
    let mut cookies = HeaderMap::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("last-event-id") {
            last = value.parse().ok().or(last);
        } else if name.eq_ignore_ascii_case("cookie") {
            if let Ok(v) = HeaderValue::from_str(value) {
                cookies.append(header::COOKIE, v);
            }
        }
    }
    StreamRequest {
        session_id,
        last,
        cookies,
    }
}

/// Serves one event stream on a connection of its own: reads the request head into a
/// temporary buffer (freed before streaming), writes a close-delimited `text/event-stream`
/// response, then the room's shared frames. Ends on client disconnect (EOF, noticed at once),
/// on server shutdown, or when the viewer keeps lagging.
pub async fn serve_lean(mut tcp: tokio::net::TcpStream, state: ServerState) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let head = {
        let mut buf = Vec::with_capacity(1024);
        let mut chunk = [0u8; 1024];
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                buf.truncate(end);
                break String::from_utf8_lossy(&buf).into_owned();
            }
            if buf.len() > MAX_HEAD {
                let _ = tcp.write_all(b"HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").await;
                return;
            }
            match tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                _ => return,
            }
        }
    };
    let req = parse_stream_request(&head);
    drop(head);
    let conn = match req.session_id {
        Some(id) => open(&state, id, req.last, &req.cookies).await,
        None => Err(AppError::not_found("This live session does not exist.")),
    };
    let mut conn = match conn {
        Ok(c) => c,
        Err(e) => {
            let body = serde_json::to_string(&e).unwrap_or_default();
            let status = axum::http::StatusCode::from_u16(e.status())
                .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
            let retry = if e == AppError::Unavailable {
                "Retry-After: 2\r\n"
            } else {
                ""
            };
            let reply = format!(
                "HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{retry}Connection: close\r\n\r\n{body}",
                status.as_u16(),
                status.canonical_reason().unwrap_or(""),
                body.len()
            );
            state.app.metrics.response(status.as_u16());
            let _ = tcp.write_all(reply.as_bytes()).await;
            return;
        }
    };
    const HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache, no-transform\r\nX-Accel-Buffering: no\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n";
    state.app.metrics.response(200);
    if tcp.write_all(HEAD).await.is_err() {
        return;
    }
    loop {
        // Nothing more is expected from the client: whatever it sends next is the end of the
        // connection (EOF), noticed at once rather than at the next write, so a viewer who
        // leaves stops counting (and lets an ended room go) right away.
        let next = tokio::select! {
            next = conn.next() => next,
            () = client_gone(&tcp) => None,
        };
        let Some((Ok(bytes), c)) = next else {
            break;
        };
        conn = c;
        // A client that stops reading blocks this write; meanwhile the room moves on and the
        // viewer is resynced (or dropped) when it catches up. Never a queue of our own.
        match tokio::time::timeout(WRITE_STALL, tcp.write_all(&bytes)).await {
            Ok(Ok(())) => {}
            _ => break,
        }
    }
    let _ = tcp.shutdown().await;
}

/// Resolves when the client closes its side (or the socket fails); bytes it sends meanwhile
/// are read and dropped.
async fn client_gone(tcp: &tokio::net::TcpStream) {
    let mut sink = [0u8; 64];
    loop {
        if tcp.readable().await.is_err() {
            return;
        }
        match tcp.try_read(&mut sink) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return,
        }
    }
}

/// A write that makes no progress for this long means the viewer is gone.
const WRITE_STALL: Duration = Duration::from_secs(60);

#[cfg(test)]
mod tests {
    use super::*;
    use shop_backend::{identity::SHOPPER_COOKIE, request::cookie_in};

    #[test]
    fn stream_requests_are_parsed() {
        let r = parse_stream_request("GET /live/12/events?last=40 HTTP/1.1\r\nHost: x\r\nCookie: a=b; ls_shopper=v1.7.sig\r\nLast-Event-ID: 41");
        assert_eq!((r.session_id, r.last), (Some(SessionId(12)), Some(41)));
        assert_eq!(
            cookie_in(&r.cookies, SHOPPER_COOKIE).as_deref(),
            Some("v1.7.sig")
        );
        let r = parse_stream_request("GET /live/12/events HTTP/1.1\r\nHost: x");
        assert_eq!((r.session_id, r.last), (Some(SessionId(12)), None));
        assert!(r.cookies.is_empty());
        assert_eq!(
            parse_stream_request("GET /live/abc/events HTTP/1.1").session_id,
            None
        );
        assert_eq!(
            parse_stream_request("GET /live/12/other HTTP/1.1").session_id,
            None
        );
        assert_eq!(parse_stream_request("garbage").session_id, None);
    }
}
