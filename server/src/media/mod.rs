//! Live video (embedded backend): WHIP ingest over WebRTC (str0m) → RTP to a supervised ffmpeg
//! → an adaptive ladder of fMP4 HLS renditions with 1 s segments (`ladder`, `hls`), whose
//! live playlists are sliding windows built in memory when a segment lands (`stream`) and
//! whose full history is the recording in `APP_MEDIA_DIR/{session}/`; served at
//! `/hls/{session}/...` (`serve`), by any node (`shield`: other nodes fetch from the ingest
//! node once). With `APP_MEDIA_BACKEND=external` an existing media server (mediamtx/SRS style)
//! does all of this; we only hand out its URLs and answer its auth webhook (`POST /media/auth`).
//!
//! In front of `/hls/`, a CDN or nginx collapses requests: playlists may be shared for a
//! second, segments forever (docs/ARCHITECTURE.md, "Live video").

pub mod bitstream;
pub mod fanout;
pub mod hls;
pub mod ingest;
pub mod ladder;
pub mod playlist;
pub mod relay;
pub mod restream;
pub mod serve;
pub mod shield;
pub mod signal;
pub mod stream;
pub mod whep;
pub mod whip;

use shop_core::ids::SessionId;
use std::{
    collections::HashMap,
    net::IpAddr,
    path::PathBuf,
    sync::{Arc, Mutex},
};

use tokio::sync::watch;

/// The largest SDP offer taken (a browser's is 5-10 KB; beyond this, 413).
pub const MAX_SDP_BYTES: usize = 64 * 1024;

/// Embedded pipeline settings.
#[derive(Debug, Clone)]
pub struct MediaSettings {
    pub media_dir: PathBuf,
    /// The address put in our ICE host candidates (reachable by the broadcasting browser).
    pub ip: IpAddr,
    pub ffmpeg: String,
    /// The renditions a broadcast is packaged into (`APP_MEDIA_LADDER`).
    pub ladder: ladder::Ladder,
    /// WebRTC viewers this node takes at most (`APP_WHEP_MAX_VIEWERS`).
    pub whep_max_viewers: usize,
}

/// Broadcasts running on this node, one per session.
#[derive(Default)]
pub struct Broadcasts {
    active: Mutex<HashMap<SessionId, Running>>,
}

struct Running {
    resource: String,
    stop: watch::Sender<bool>,
}

impl Broadcasts {
    /// Registers a new broadcast for the session, stopping the one it replaces (a host who
    /// reconnects takes over their own stream).
    pub fn begin(&self, session_id: SessionId, resource: String) -> watch::Receiver<bool> {
        let (tx, rx) = watch::channel(false);
        let old = self
            .active
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(session_id, Running { resource, stop: tx });
        if let Some(old) = old {
            let _ = old.stop.send(true);
        }
        rx
    }

    /// Stops the session's broadcast if `resource` is the current one. Returns whether it was.
    pub fn stop(&self, session_id: SessionId, resource: &str) -> bool {
        let mut map = self.active.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(&session_id) {
            Some(r) if r.resource == resource => {
                let _ = r.stop.send(true);
                map.remove(&session_id);
                true
            }
            _ => false,
        }
    }

    /// Stops whatever broadcast the session has (the session ended).
    pub fn stop_session(&self, session_id: SessionId) {
        if let Some(r) = self
            .active
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&session_id)
        {
            let _ = r.stop.send(true);
        }
    }

    /// Forgets a broadcast that ended by itself (publisher gone), if it is still the current one.
    pub fn finished(&self, session_id: SessionId, resource: &str) {
        let mut map = self.active.lock().unwrap_or_else(|p| p.into_inner());
        if map.get(&session_id).is_some_and(|r| r.resource == resource) {
            map.remove(&session_id);
        }
    }

    pub fn is_active(&self, session_id: SessionId) -> bool {
        self.active
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(&session_id)
    }
}

/// The media layer follows session changes: a session that ended ends its broadcast (and its
/// recording). A change missed (another node ended it) is caught when the publisher
/// reconnects: whip.rs checks the status.
impl shop_backend::changes::Follower for Broadcasts {
    fn follow<'a>(
        &'a self,
        c: &'a shop_backend::changes::SessionChange,
    ) -> shop_backend::changes::Followed<'a> {
        use shop_backend::changes::Change;
        if c.change == Change::Lifecycle(shop_core::model::SessionStatus::Ended) {
            tracing::info!(
                session_id = %c.session_id,
                "session ended; stopping its broadcast"
            );
            self.stop_session(c.session_id);
        }
        Box::pin(std::future::ready(()))
    }
}

/// The media part of the server's state.
#[derive(Clone)]
pub struct Media {
    pub settings: Arc<MediaSettings>,
    pub broadcasts: Arc<Broadcasts>,
    /// The live HLS this node packages.
    pub streams: Arc<stream::Streams>,
    /// With several nodes: fetches other nodes' streams once for this node's viewers.
    pub shield: Option<Arc<shield::Shield>>,
    /// The host's RTP as it arrives, for WebRTC viewers and restreams on this node.
    pub fanout: Arc<fanout::Fanout>,
    /// This node's WebRTC viewers (for their DELETE).
    pub whep_viewers: Arc<whep::Viewers>,
    /// Relays of other nodes' feeds being started (one per session).
    pub relays: Arc<relay::Relays>,
}
