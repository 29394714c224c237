//! SSE frames: an event serialised once, its bytes shared by every connection.

use super::*;

/// One serialised SSE event: `id: <seq>\ndata: <json>\n\n`.
#[derive(Debug)]
pub struct Frame {
    pub seq: u64,
    pub bytes: Bytes,
    /// A snapshot sent to everyone after the room was reset: taken even by a stream that
    /// has seen higher numbers (the numbering may have started again).
    pub snapshot: bool,
    /// Published during a rehearsal: only the team's streams carry it.
    pub private: bool,
}

/// A numbered event as it goes on the wire: the typed event plus its publish time `ts` (µs),
/// which viewers and the load generator use to measure delivery latency.
#[derive(Serialize)]
pub(super) struct Stamped<'a> {
    #[serde(flatten)]
    event: &'a LiveEvent,
    ts: i64,
}

pub(super) fn frame_bytes(seq: u64, event: &LiveEvent, ts: i64) -> Bytes {
    let data = serde_json::to_string(&Stamped { event, ts }).unwrap_or_default();
    let mut s = String::with_capacity(data.len() + 32);
    s.push_str("id: ");
    s.push_str(&seq.to_string());
    s.push('\n');
    s.push_str("data: ");
    s.push_str(&data);
    s.push_str("\n\n");
    Bytes::from(s)
}

/// The heartbeat frame (no id: it does not move the resume point). Shared by every stream.
pub fn heartbeat() -> Bytes {
    Bytes::from_static(b"data: {\"type\":\"hb\"}\n\n")
}

/// The "your state changed" hint sent only to one viewer (no id, not replayed).
pub fn me_frame() -> Bytes {
    Bytes::from_static(b"data: {\"type\":\"me\"}\n\n")
}

pub use crate::model::ChatLine as ChatMessage;

pub use crate::model::PresentingView as Presenting;
