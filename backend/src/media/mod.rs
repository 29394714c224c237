//! Live video, as the rest of the backend sees it: where the host publishes (WHIP), where
//! viewers play (HLS), and the per-session publish token. The embedded pipeline itself (WebRTC
//! ingest, ffmpeg packaging) lives in the server crate (`server/src/media/`).

pub mod restream;

use crate::crypto;
use shop_core::ids::SessionId;

/// Which media backend serves video (configuration `APP_MEDIA_BACKEND`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaBackend {
    /// WHIP ingest and HLS packaging inside this server.
    Embedded { media_dir: std::path::PathBuf },
    /// An external media server (mediamtx/SRS style). `{session}` in the templates is replaced
    /// by the session id. The media server asks our `/media/auth` webhook before accepting a
    /// publisher.
    External {
        whip_template: String,
        hls_template: String,
        whep_template: Option<String>,
    },
}

impl MediaBackend {
    pub fn whip_url(&self, public_url: &str, session_id: SessionId) -> String {
        match self {
            MediaBackend::Embedded { .. } => format!("{public_url}/whip/{session_id}"),
            MediaBackend::External { whip_template, .. } => {
                whip_template.replace("{session}", &session_id.to_string())
            }
        }
    }

    /// The recording's HLS playlist URL (relative for the embedded backend, so it is
    /// same-origin).
    pub fn hls_url(&self, session_id: SessionId) -> String {
        match self {
            MediaBackend::Embedded { .. } => format!("/hls/{session_id}/index.m3u8"),
            MediaBackend::External { hls_template, .. } => {
                hls_template.replace("{session}", &session_id.to_string())
            }
        }
    }

    /// The live HLS playlist URL: the embedded backend's live ladder (sliding windows, served
    /// from memory) is apart from its recording; an external server has one URL for both.
    /// Where a viewer plays the live broadcast over WebRTC (WHEP), if the backend offers it.
    pub fn whep_url(&self, session_id: SessionId) -> Option<String> {
        match self {
            MediaBackend::Embedded { .. } => Some(format!("/whep/{session_id}")),
            MediaBackend::External { whep_template, .. } => whep_template
                .as_ref()
                .map(|t| t.replace("{session}", &session_id.to_string())),
        }
    }

    pub fn live_hls_url(&self, session_id: SessionId) -> String {
        match self {
            MediaBackend::Embedded { .. } => format!("/hls/{session_id}/live.m3u8"),
            MediaBackend::External { .. } => self.hls_url(session_id),
        }
    }
}

/// The token a host's broadcaster presents to publish session `session_id` (WHIP bearer token,
/// or the password an external media server forwards to our auth webhook). Derived, not stored:
/// HMAC of the session id under the server key.
pub fn publish_token(key: &[u8], session_id: SessionId) -> String {
    crypto::sign(key, &format!("publish:{session_id}"))
}

pub fn verify_publish_token(key: &[u8], session_id: SessionId, token: &str) -> bool {
    crypto::verify(key, &format!("publish:{session_id}"), token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_per_session() {
        let t = publish_token(b"k", SessionId(7));
        assert!(verify_publish_token(b"k", SessionId(7), &t));
        assert!(!verify_publish_token(b"k", SessionId(8), &t));
        assert!(!verify_publish_token(b"other", SessionId(7), &t));
    }

    #[test]
    fn urls_follow_the_backend() {
        let e = MediaBackend::Embedded {
            media_dir: "data/media".into(),
        };
        assert_eq!(
            e.whip_url("https://live.example.com", SessionId(3)),
            "https://live.example.com/whip/3"
        );
        assert_eq!(e.hls_url(SessionId(3)), "/hls/3/index.m3u8");
        assert_eq!(e.live_hls_url(SessionId(3)), "/hls/3/live.m3u8");
        let x = MediaBackend::External {
            whip_template: "https://media.example.com/live/{session}/whip".into(),
            hls_template: "https://cdn.example.com/live/{session}/index.m3u8".into(),
            whep_template: None,
        };
        assert_eq!(
            x.whip_url("ignored", SessionId(3)),
            "https://media.example.com/live/3/whip"
        );
        assert_eq!(
            x.hls_url(SessionId(3)),
            "https://cdn.example.com/live/3/index.m3u8"
        );
        assert_eq!(x.live_hls_url(SessionId(3)), x.hls_url(SessionId(3)));
    }
}
