//! `GET /hls/{session}/{file}`: live playlists and recent segments from memory on the ingest
//! node, from the ingest node through this node's origin shield elsewhere (distributed mode),
//! and from disk for everything else (recordings, older segments, a restarted node).
//!
//! Cache headers are what a CDN or nginx in front needs to collapse requests: playlists
//! `public, max-age=0, s-maxage=1` with `ETag` and `Last-Modified` (a shared cache answers
//! everyone from one fetch a second; a browser revalidates, usually for a 304), segments
//! `immutable` (their names never repeat).

use axum::{
    body::Body,
    extract::{Path as UrlPath, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use shop_core::ids::SessionId;

use super::stream::Built;
use crate::ServerState;

/// Cache-Control of playlists: shared caches keep them a second (one live segment), browsers
/// revalidate every time.
pub const PLAYLIST_CACHE: &str = "public, max-age=0, s-maxage=1";
/// Sent on requests a node makes to the ingest node: answer from this node only.
pub const HOP_HEADER: &str = "x-live-hls-hop";

/// What a file name is (anything else is not served).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `live.m3u8`, `live_{name}.m3u8`: built in memory while live.
    LivePlaylist,
    /// `index.m3u8`, `rec_{name}.m3u8`: the recording, on disk.
    Recording,
    /// `*.m4s`.
    Segment,
    /// `*_init.mp4` (and `init_*.mp4` of recordings made before the ladder).
    Init,
}

impl Kind {
    pub fn of(name: &str) -> Option<Kind> {
        let (stem, ext) = name.split_once('.')?;
        let plain = !stem.is_empty()
            && stem.len() <= 96
            && stem.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !plain {
            return None;
        }
        match ext {
            "m3u8" if stem == "live" || stem.starts_with("live_") => Some(Kind::LivePlaylist),
            "m3u8" if stem == "index" || stem.starts_with("rec_") => Some(Kind::Recording),
            "m4s" => Some(Kind::Segment),
            "mp4" if stem.ends_with("_init") || stem.starts_with("init_") => Some(Kind::Init),
            _ => None,
        }
    }

    pub fn is_playlist(self) -> bool {
        matches!(self, Kind::LivePlaylist | Kind::Recording)
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Kind::LivePlaylist | Kind::Recording => "application/vnd.apple.mpegurl",
            Kind::Segment => "video/iso.segment",
            Kind::Init => "video/mp4",
        }
    }

    pub fn cache_control(self) -> &'static str {
        if self.is_playlist() {
            PLAYLIST_CACHE
        } else {
            crate::assets::IMMUTABLE
        }
    }
}

pub async fn serve(
    State(state): State<ServerState>,
    UrlPath((session, file)): UrlPath<(String, String)>,
    req: axum::extract::Request,
) -> Response {
    let (Ok(session_id), Some(kind)) = (session.parse::<SessionId>(), Kind::of(&file)) else {
        return not_found();
    };
    let media = &state.media;
    let counter = if kind.is_playlist() {
        &media.streams.metrics.playlist_requests
    } else {
        &media.streams.metrics.segment_requests
    };
    counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let local = media.streams.get(session_id);
    // This node ingests it now: memory.
    if let Some(stream) = local.as_ref().filter(|s| s.is_live()) {
        if let Some(res) = from_memory(stream, &file, kind, req.headers()) {
            return res;
        }
    }
    // Another node ingests (or recorded) it: through the shield, unless this request is
    // itself another node's fetch.
    if !req.headers().contains_key(HOP_HEADER) {
        if let Some(shield) = &media.shield {
            if let Some(res) = shield.serve(session_id, &file, kind, req.headers()).await {
                return res;
            }
        }
    }
    // This node ingested it earlier, or has it on disk.
    if let Some(stream) = &local {
        if let Some(res) = from_memory(stream, &file, kind, req.headers()) {
            return res;
        }
    }
    let path = media
        .settings
        .media_dir
        .join(session_id.to_string())
        .join(&file);
    let mut res =
        crate::assets::serve_file(&path, req, kind.content_type(), kind.cache_control()).await;
    res.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    if res.status() == StatusCode::NOT_MODIFIED {
        media
            .streams
            .metrics
            .not_modified
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    res
}

fn from_memory(
    stream: &super::stream::Stream,
    file: &str,
    kind: Kind,
    headers: &HeaderMap,
) -> Option<Response> {
    match kind {
        Kind::LivePlaylist => stream
            .playlist(file)
            .map(|b| playlist_response(&b, headers)),
        Kind::Segment | Kind::Init => stream.segment(file).map(|b| bytes_response(b, kind)),
        Kind::Recording => None,
    }
}

/// A built playlist, or 304 when the client has it.
pub fn playlist_response(b: &Built, headers: &HeaderMap) -> Response {
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == b.etag));
    let mut res = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        Response::new(Body::from(b.body.clone()))
    };
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(Kind::LivePlaylist.content_type()),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(PLAYLIST_CACHE),
    );
    h.insert(header::ETAG, b.etag.clone());
    h.insert(header::LAST_MODIFIED, b.last_modified.clone());
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    res
}

/// A segment's bytes.
pub fn bytes_response(body: Bytes, kind: Kind) -> Response {
    let mut res = Response::new(Body::from(body));
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(kind.content_type()),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(kind.cache_control()),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    res
}

pub fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CACHE_CONTROL, "public, max-age=1")],
        "Not found",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_playlists_and_segments_are_served() {
        assert_eq!(Kind::of("live.m3u8"), Some(Kind::LivePlaylist));
        assert_eq!(Kind::of("live_480p.m3u8"), Some(Kind::LivePlaylist));
        assert_eq!(Kind::of("index.m3u8"), Some(Kind::Recording));
        assert_eq!(Kind::of("rec_audio.m3u8"), Some(Kind::Recording));
        assert_eq!(Kind::of("source_3_6750a1b2_00012.m4s"), Some(Kind::Segment));
        assert_eq!(Kind::of("seg_0_18c_00012.m4s"), Some(Kind::Segment));
        assert_eq!(Kind::of("240p_0_6750a1b2_init.mp4"), Some(Kind::Init));
        assert_eq!(Kind::of("init_0_18c.mp4"), Some(Kind::Init));
        for refused in [
            "stream.sdp",
            "ff_0_source.m3u8",
            "../index.m3u8",
            "seg_0/../../x.m4s",
            "live.m3u8.tmp",
            "video.mp4",
            ".m4s",
            "a b.m4s",
            "",
        ] {
            assert_eq!(Kind::of(refused), None, "{refused}");
        }
    }
}
