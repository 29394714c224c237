//! The origin shield (distributed mode): a node that does not ingest a session serves its HLS
//! by fetching each playlist and segment from the ingest node once and keeping it, however
//! many of its viewers ask at the same moment. The ingest node is found through Redis
//! (`media:origin:{session}`, set by the ingest when a broadcast's first playlist is out).
//!
//! Concurrent requests for the same file wait on the one fetch in flight (a `OnceCell` per
//! file); a playlist is kept for half a segment, a segment for good (bounded in bytes, oldest
//! out first), a failure not at all (the requests that waited for it share it). Object storage would replace this later: the ingest
//! would upload segments and recordings and every node (or a CDN) would read them there.

use shop_core::ids::SessionId;
use std::{
    collections::{HashMap, VecDeque},
    sync::{atomic::Ordering, Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use shop_backend::live::backplane::RedisBackplane;
use tokio::sync::OnceCell;

use super::{
    serve::{Kind, HOP_HEADER},
    stream::HlsMetrics,
};

/// How long a fetched playlist is served before the next request fetches it again: half the
/// 1 s segment duration.
const PLAYLIST_FRESH: Duration = Duration::from_millis(500);
/// How long the ingest node's address is remembered.
const ORIGIN_FRESH: Duration = Duration::from_secs(2);
/// Sessions whose origin is remembered at most (then the stale ones go).
const MAX_ORIGINS: usize = 10_000;
/// How long an origin request may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Segments kept, in bytes (about 3 minutes of a 4-rendition ladder at 3.5 Mbit/s in all).
const SEGMENT_BUDGET: usize = 256 << 20;
/// How long the origin key lives after its last renewal (a recording stays replayable from
/// every node for this long after the broadcast).
pub const ORIGIN_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

pub fn origin_key(session_id: SessionId) -> String {
    format!("media:origin:{session_id}")
}

/// One fetched answer.
#[derive(Clone)]
struct Fetched {
    status: StatusCode,
    body: Bytes,
    etag: Option<HeaderValue>,
    last_modified: Option<HeaderValue>,
    at: Instant,
}

struct Slot {
    cell: OnceCell<Fetched>,
}

type Key = (SessionId, Box<str>);

pub struct Shield {
    http: reqwest::Client,
    backplane: Arc<RedisBackplane>,
    /// This node's own URL (never its own origin).
    me: String,
    origins: Mutex<HashMap<SessionId, (Option<String>, Instant)>>,
    slots: Mutex<HashMap<Key, Arc<Slot>>>,
    /// Segments kept, oldest first, with their sizes.
    kept: Mutex<(VecDeque<(Key, usize)>, usize)>,
    metrics: Arc<HlsMetrics>,
}

impl Shield {
    pub fn new(backplane: Arc<RedisBackplane>, me: String, metrics: Arc<HlsMetrics>) -> Shield {
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .pool_max_idle_per_host(32)
            .build()
            .unwrap_or_default();
        Shield {
            http,
            backplane,
            me,
            origins: Mutex::new(HashMap::new()),
            slots: Mutex::new(HashMap::new()),
            kept: Mutex::new((VecDeque::new(), 0)),
            metrics,
        }
    }

    /// Tells the other nodes that this one ingests `session_id`.
    pub async fn announce(&self, session_id: SessionId) {
        if let Err(e) = self
            .backplane
            .set_with_ttl(&origin_key(session_id), &self.me, ORIGIN_TTL)
            .await
        {
            tracing::warn!(%session_id, error = ?e, "could not announce this node as the video origin");
        }
        self.origins
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(session_id, (Some(self.me.clone()), Instant::now()));
    }

    /// The ingest node of `session_id` if it is another node.
    pub(crate) async fn origin(&self, session_id: SessionId) -> Option<String> {
        if let Some((url, at)) = self
            .origins
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&session_id)
            .cloned()
        {
            if at.elapsed() < ORIGIN_FRESH {
                return url.filter(|u| *u != self.me);
            }
        }
        let url = match self.backplane.get_with_ttl(&origin_key(session_id)).await {
            Ok(v) => v.map(|(url, _)| url),
            Err(_) => None, // Redis down: serve what this node has
        };
        let mut origins = self.origins.lock().unwrap_or_else(|p| p.into_inner());
        if origins.len() >= MAX_ORIGINS {
            // Made-up session ids must not grow this without bound.
            origins.retain(|_, (_, at)| at.elapsed() < ORIGIN_FRESH);
        }
        origins.insert(session_id, (url.clone(), Instant::now()));
        drop(origins);
        url.filter(|u| *u != self.me)
    }

    /// Answers from the ingest node (fetched once for everyone), or `None` when this node is
    /// the origin or there is none.
    pub async fn serve(
        &self,
        session_id: SessionId,
        file: &str,
        kind: Kind,
        headers: &HeaderMap,
    ) -> Option<Response> {
        let origin = self.origin(session_id).await?;
        let key: Key = (session_id, file.into());
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            let slot = slots.entry(key.clone()).or_insert_with(new_slot);
            if slot.cell.get().is_some_and(|f| stale(f, kind)) {
                *slot = new_slot();
            }
            slot.clone()
        };
        let mut fetched_here = false;
        let f = slot
            .cell
            .get_or_init(|| {
                fetched_here = true;
                self.fetch(&origin, session_id, file)
            })
            .await
            .clone();
        if fetched_here {
            if f.status != StatusCode::OK {
                // Requests waiting now share the failure; later ones ask again (a flood of
                // made-up names keeps nothing here).
                self.forget(&key, &slot);
            } else if !kind.is_playlist() {
                self.keep(key, f.body.len());
            }
        } else {
            self.metrics.shield_hits.fetch_add(1, Ordering::Relaxed);
        }
        Some(respond(&f, kind, headers))
    }

    async fn fetch(&self, origin: &str, session_id: SessionId, file: &str) -> Fetched {
        self.metrics.origin_fetches.fetch_add(1, Ordering::Relaxed);
        let url = format!("{origin}/hls/{session_id}/{file}");
        let res = self.http.get(&url).header(HOP_HEADER, "1").send().await;
        let failed = |status| Fetched {
            status,
            body: Bytes::new(),
            etag: None,
            last_modified: None,
            at: Instant::now(),
        };
        match res {
            Ok(r) => {
                let status =
                    StatusCode::from_u16(r.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
                let etag = r
                    .headers()
                    .get(header::ETAG.as_str())
                    .and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok());
                let last_modified = r
                    .headers()
                    .get(header::LAST_MODIFIED.as_str())
                    .and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok());
                match r.bytes().await {
                    Ok(body) => Fetched {
                        status,
                        body,
                        etag,
                        last_modified,
                        at: Instant::now(),
                    },
                    Err(e) => {
                        self.metrics.origin_failures.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(%url, error = %e, "origin fetch failed");
                        failed(StatusCode::BAD_GATEWAY)
                    }
                }
            }
            Err(e) => {
                self.metrics.origin_failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%url, error = %e, "origin fetch failed");
                failed(StatusCode::BAD_GATEWAY)
            }
        }
    }

    fn forget(&self, key: &Key, slot: &Arc<Slot>) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if slots.get(key).is_some_and(|s| Arc::ptr_eq(s, slot)) {
            slots.remove(key);
        }
    }

    /// Keeps a fetched segment, dropping the oldest ones beyond the budget.
    fn keep(&self, key: Key, size: usize) {
        let mut dropped = Vec::new();
        {
            let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
            kept.0.push_back((key, size));
            kept.1 += size;
            while kept.1 > SEGMENT_BUDGET {
                let Some((old, n)) = kept.0.pop_front() else {
                    break;
                };
                kept.1 -= n;
                dropped.push(old);
            }
        }
        if !dropped.is_empty() {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            for k in dropped {
                slots.remove(&k);
            }
        }
    }
}

fn new_slot() -> Arc<Slot> {
    Arc::new(Slot {
        cell: OnceCell::new(),
    })
}

fn stale(f: &Fetched, kind: Kind) -> bool {
    f.status != StatusCode::OK || (kind.is_playlist() && f.at.elapsed() >= PLAYLIST_FRESH)
}

fn respond(f: &Fetched, kind: Kind, headers: &HeaderMap) -> Response {
    if f.status != StatusCode::OK {
        if f.status == StatusCode::NOT_FOUND {
            return super::serve::not_found();
        }
        return (
            StatusCode::BAD_GATEWAY,
            [(header::RETRY_AFTER, "1")],
            "The video is not reachable right now.",
        )
            .into_response();
    }
    match (&f.etag, &f.last_modified, kind.is_playlist()) {
        (Some(etag), Some(lm), true) => super::serve::playlist_response(
            &super::stream::Built {
                body: f.body.clone(),
                etag: etag.clone(),
                last_modified: lm.clone(),
            },
            headers,
        ),
        _ => super::serve::bytes_response(f.body.clone(), kind),
    }
}
