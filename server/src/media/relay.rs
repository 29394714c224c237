//! WebRTC viewers on a node that does not ingest the session: the node pulls the ingest node's
//! feed once, over one streaming HTTP response (`GET /media/relay/{session}`, framed packets),
//! and its own viewers take it from there. One stream per node, not per viewer. A key frame
//! asked for by a viewer here goes to the ingest node (`POST .../keyframe`).
//!
//! Nodes authenticate each other with an HMAC of the session under the shared cookie secret
//! (every node of a cluster has the same one). The relay ends when the ingest node's stream
//! ends or when nobody here has watched for a while.

use shop_core::ids::SessionId;
use std::{
    collections::HashMap,
    sync::{atomic::Ordering, Arc},
    time::{Duration, Instant},
};

use axum::{
    body::Body,
    extract::{Path, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use bytes::BytesMut;
use futures::StreamExt;
use tokio::sync::{broadcast::error::RecvError, Mutex};

use super::fanout::{Feed, MediaPacket};
use crate::ServerState;

/// The header that carries a node's credential.
const RELAY_HEADER: &str = "x-media-relay";
/// A relay nobody here watches is closed after this long.
const IDLE: Duration = Duration::from_secs(10);
/// How long to wait for the ingest node to answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

fn credential(key: &[u8], session_id: SessionId) -> String {
    shop_backend::crypto::sign(key, &format!("media-relay:{session_id}"))
}

fn authorised(state: &ServerState, headers: &HeaderMap, session_id: SessionId) -> bool {
    headers
        .get(RELAY_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            shop_backend::crypto::verify(
                &state.app.cookie_key,
                &format!("media-relay:{session_id}"),
                v,
            )
        })
}

/// Relays being started on this node: one at a time per session.
#[derive(Default)]
pub struct Relays {
    starting: Mutex<HashMap<SessionId, Arc<Mutex<()>>>>,
}

/// The session's feed on this node: the ingest's own, a relay already running, or a new relay
/// from the ingest node. `None` when nobody broadcasts the session.
pub async fn feed_for(state: &ServerState, session_id: SessionId) -> Option<Arc<Feed>> {
    let media = &state.media;
    if let Some(feed) = media.fanout.get(session_id) {
        return Some(feed);
    }
    let shield = media.shield.as_ref()?;
    let origin = shield.origin(session_id).await?;
    // One relay per session: who comes second waits for the first and takes its feed.
    let lock = media
        .relays
        .starting
        .lock()
        .await
        .entry(session_id)
        .or_default()
        .clone();
    let _guard = lock.lock().await;
    if let Some(feed) = media.fanout.get(session_id) {
        return Some(feed);
    }
    let url = format!("{origin}/media/relay/{session_id}");
    let token = credential(&state.app.cookie_key, session_id);
    let http = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
        .ok()?;
    let response = tokio::time::timeout(
        CONNECT_TIMEOUT,
        http.get(&url).header(RELAY_HEADER, &token).send(),
    )
    .await
    .ok()?
    .ok()?;
    if !response.status().is_success() {
        tracing::debug!(%session_id, status = %response.status(), "the ingest node has no feed to relay");
        return None;
    }
    let feed = media.fanout.open(session_id, false);
    media.fanout.relays.fetch_add(1, Ordering::Relaxed);
    tracing::info!(%session_id, %origin, "relaying a WebRTC feed from the ingest node");
    let fanout = media.fanout.clone();
    let relayed = feed.clone();
    tokio::spawn(async move {
        pull(&relayed, response, &http, &url, &token).await;
        fanout.close(&relayed);
        tracing::info!(%session_id, "relay ended");
    });
    Some(feed)
}

/// Copies the ingest node's packets into `feed` until its stream ends or nobody watches here.
async fn pull(
    feed: &Arc<Feed>,
    response: reqwest::Response,
    http: &reqwest::Client,
    url: &str,
    token: &str,
) {
    let mut body = response.bytes_stream();
    let mut buf = BytesMut::new();
    let mut idle_since: Option<Instant> = None;
    let mut check = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            chunk = body.next() => {
                let Some(Ok(chunk)) = chunk else { return };
                buf.extend_from_slice(&chunk);
                loop {
                    match MediaPacket::decode(&mut buf) {
                        Ok(Some(p)) => feed.send(p),
                        Ok(None) => break,
                        Err(_) => {
                            tracing::warn!(url, "the ingest node sent something that is not a feed");
                            return;
                        }
                    }
                }
            }
            () = feed.keyframe_requested() => {
                feed.take_keyframe_request();
                let _ = http
                    .post(format!("{url}/keyframe"))
                    .header(RELAY_HEADER, token)
                    .timeout(CONNECT_TIMEOUT)
                    .send()
                    .await;
            }
            _ = check.tick() => {
                if feed.is_closed() {
                    return;
                }
                if feed.subscribers() == 0 {
                    let since = *idle_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= IDLE {
                        return;
                    }
                } else {
                    idle_since = None;
                }
            }
        }
    }
}

/// `GET /media/relay/{session}` (between nodes): this node's ingest feed, packet by packet.
pub async fn serve(
    State(state): State<ServerState>,
    Path(session): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Ok(session_id) = session.parse::<SessionId>() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !authorised(&state, &headers, session_id) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    // Only a feed this node ingests (a relay is never relayed on).
    let Some(feed) = state.media.fanout.get(session_id).filter(|f| f.local) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    feed.ask_keyframe();
    let rx = feed.subscribe();
    // Weak: the stream must not keep an ended broadcast's feed open.
    let feed = Arc::downgrade(&feed);
    let stream = futures::stream::unfold((rx, feed), |(mut rx, feed)| async move {
        loop {
            match rx.recv().await {
                Ok(p) => {
                    let mut out = BytesMut::new();
                    p.encode(&mut out);
                    return Some((Ok::<_, std::io::Error>(out.freeze()), (rx, feed)));
                }
                // The other node fell behind: its viewers pick up at the next key frame.
                Err(RecvError::Lagged(_)) => {
                    if let Some(f) = feed.upgrade() {
                        f.ask_keyframe();
                    }
                }
                Err(RecvError::Closed) => return None,
            }
        }
    });
    (
        [(header::CONTENT_TYPE, "application/octet-stream")],
        Body::from_stream(stream),
    )
        .into_response()
}

/// `POST /media/relay/{session}/keyframe` (between nodes): a viewer elsewhere needs one.
pub async fn keyframe(
    State(state): State<ServerState>,
    Path(session): Path<String>,
    headers: HeaderMap,
) -> StatusCode {
    let Ok(session_id) = session.parse::<SessionId>() else {
        return StatusCode::NOT_FOUND;
    };
    if !authorised(&state, &headers, session_id) {
        return StatusCode::UNAUTHORIZED;
    }
    match state.media.fanout.get(session_id).filter(|f| f.local) {
        Some(feed) => {
            feed.ask_keyframe();
            StatusCode::NO_CONTENT
        }
        None => StatusCode::NOT_FOUND,
    }
}
