//! The host's RTP as it arrives, for whatever on this node plays the broadcast live without
//! packaging it: WebRTC viewers (`whep`) and pushes to other platforms (`restream`). No
//! transcoding: the packets are the publisher's, stamped with when the ingest node received
//! them (the wall clock that WebRTC sender reports and the card sync use).
//!
//! One feed per session on a node. The ingest node fills it from the WebRTC session with the
//! host; with several nodes, another node fills its own feed from the ingest node over one
//! HTTP stream (`relay`), however many of its viewers watch. A subscriber that falls behind
//! skips ahead (and asks for a key frame); the publisher is never held back.

use shop_core::ids::SessionId;
use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex,
    },
};

use bytes::{Buf, BufMut, BytesMut};
use tokio::sync::{broadcast, Notify};

/// Packets a subscriber may fall behind before it skips ahead: about 2 s of a 2.5 Mbit/s
/// broadcast.
const FEED_CAPACITY: usize = 2048;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaCodec {
    H264,
    Vp8,
    Opus,
}

impl MediaCodec {
    pub fn is_video(self) -> bool {
        !matches!(self, MediaCodec::Opus)
    }

    fn code(self) -> u8 {
        match self {
            MediaCodec::H264 => 1,
            MediaCodec::Vp8 => 2,
            MediaCodec::Opus => 3,
        }
    }

    fn from_code(c: u8) -> Option<MediaCodec> {
        match c {
            1 => Some(MediaCodec::H264),
            2 => Some(MediaCodec::Vp8),
            3 => Some(MediaCodec::Opus),
            _ => None,
        }
    }
}

/// A relay stream that does not decode as packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotAFeed;

/// One RTP packet of the broadcast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaPacket {
    pub codec: MediaCodec,
    /// The simulcast layer (`rid`) it belongs to, when the publisher sends layers; 0 for the
    /// only (or the highest) one.
    pub layer: u8,
    pub seq: u16,
    pub timestamp: u32,
    pub marker: bool,
    /// The first packet of a key frame (H.264 IDR or its SPS, VP8 key frame).
    pub keyframe: bool,
    /// When the ingest node received it, µs since the Unix epoch.
    pub received_us: i64,
    /// Shared by every viewer that forwards it.
    pub payload: Arc<[u8]>,
}

impl MediaPacket {
    /// The relay's wire form: a 20-byte header, then the payload.
    pub fn encode(&self, out: &mut BytesMut) {
        out.reserve(20 + self.payload.len());
        out.put_u8(self.codec.code());
        out.put_u8(u8::from(self.marker) | (u8::from(self.keyframe) << 1));
        out.put_u8(self.layer);
        out.put_u8(0);
        out.put_u16(self.seq);
        out.put_u16(u16::try_from(self.payload.len()).unwrap_or(u16::MAX));
        out.put_u32(self.timestamp);
        out.put_i64(self.received_us);
        let len = self.payload.len().min(usize::from(u16::MAX));
        out.put_slice(&self.payload[..len]);
    }

    /// Takes one packet off the front of `buf` when it holds a whole one. `Err` when the
    /// stream is not ours (the relay then gives up on it).
    pub fn decode(buf: &mut BytesMut) -> Result<Option<MediaPacket>, NotAFeed> {
        if buf.len() < 20 {
            return Ok(None);
        }
        let codec = MediaCodec::from_code(buf[0]).ok_or(NotAFeed)?;
        let len = usize::from(u16::from_be_bytes([buf[6], buf[7]]));
        if buf.len() < 20 + len {
            return Ok(None);
        }
        let flags = buf[1];
        let layer = buf[2];
        buf.advance(4);
        let seq = buf.get_u16();
        buf.advance(2);
        let timestamp = buf.get_u32();
        let received_us = buf.get_i64();
        let payload: Arc<[u8]> = buf.split_to(len).as_ref().into();
        Ok(Some(MediaPacket {
            codec,
            layer,
            seq,
            timestamp,
            marker: flags & 1 != 0,
            keyframe: flags & 2 != 0,
            received_us,
            payload,
        }))
    }
}

/// Whether an RTP payload starts a key frame.
pub fn starts_keyframe(codec: MediaCodec, payload: &[u8]) -> bool {
    match codec {
        MediaCodec::H264 => {
            let Some(&first) = payload.first() else {
                return false;
            };
            match first & 0x1f {
                5 | 7 => true,
                // STAP-A: any aggregated unit an SPS or IDR slice.
                24 => {
                    let mut rest = &payload[1..];
                    while rest.len() > 2 {
                        let size = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
                        if rest.get(2).is_some_and(|b| matches!(b & 0x1f, 5 | 7)) {
                            return true;
                        }
                        rest = rest.get(2 + size..).unwrap_or_default();
                    }
                    false
                }
                // FU-A: the start fragment of an IDR slice.
                28 => payload
                    .get(1)
                    .is_some_and(|h| h & 0x80 != 0 && h & 0x1f == 5),
                _ => false,
            }
        }
        MediaCodec::Vp8 => super::bitstream::vp8_keyframe_size(payload).is_some(),
        MediaCodec::Opus => false,
    }
}

/// One session's feed on this node.
pub struct Feed {
    pub session_id: SessionId,
    packets: broadcast::Sender<Arc<MediaPacket>>,
    /// A subscriber asked for a key frame (the ingest sends a PLI to the host; a relay asks
    /// the ingest node).
    keyframe_wanted: AtomicBool,
    keyframe_notify: Notify,
    /// Ended: the broadcast stopped, or the relay lost the ingest node.
    closed: AtomicBool,
    /// Who fills it: `true` for the ingest of this node, `false` for a relay.
    pub local: bool,
    /// The RTP time of the newest video frame and when its first packet reached the ingest
    /// (µs): how a player maps the RTP time of the frame on screen to the server's clock.
    clock: Mutex<Option<(u32, i64)>>,
}

impl Feed {
    pub fn send(&self, packet: MediaPacket) {
        if packet.codec.is_video() {
            let mut clock = self.clock.lock().unwrap_or_else(|p| p.into_inner());
            if clock.is_none_or(|(ts, _)| ts != packet.timestamp) {
                *clock = Some((packet.timestamp, packet.received_us));
            }
        }
        // No subscriber is fine: nobody is watching over WebRTC right now.
        let _ = self.packets.send(Arc::new(packet));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<MediaPacket>> {
        self.packets.subscribe()
    }

    pub fn subscribers(&self) -> usize {
        self.packets.receiver_count()
    }

    pub fn ask_keyframe(&self) {
        self.keyframe_wanted.store(true, Ordering::Relaxed);
        self.keyframe_notify.notify_one();
    }

    /// Whether a key frame was asked for since the last call.
    pub fn take_keyframe_request(&self) -> bool {
        self.keyframe_wanted.swap(false, Ordering::Relaxed)
    }

    pub fn keyframe_pending(&self) -> bool {
        self.keyframe_wanted.load(Ordering::Relaxed)
    }

    /// Wakes when a key frame is asked for (once per request, however many came at once).
    pub async fn keyframe_requested(&self) {
        self.keyframe_notify.notified().await;
    }

    /// The newest video frame's RTP time and arrival at the ingest (µs since the epoch).
    pub fn clock(&self) -> Option<(u32, i64)> {
        *self.clock.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }
}

/// The feeds of this node.
#[derive(Default)]
pub struct Fanout {
    feeds: Mutex<HashMap<SessionId, Arc<Feed>>>,
    /// WebRTC viewers on this node now (every session).
    pub viewers: AtomicUsize,
    /// WebRTC viewers taken since start, and refused for want of a seat.
    pub started: AtomicU64,
    pub refused: AtomicU64,
    /// Feeds this node relayed from an ingest node.
    pub relays: AtomicU64,
}

impl Fanout {
    /// Prometheus text for `/metrics`.
    pub fn render(&self, out: &mut String) {
        use std::fmt::Write as _;
        let _ = write!(
            out,
            "# HELP live_whep_viewers WebRTC viewers on this node now.\n# TYPE live_whep_viewers gauge\nlive_whep_viewers {}\n\
# HELP live_whep_viewers_total WebRTC viewers taken.\n# TYPE live_whep_viewers_total counter\nlive_whep_viewers_total {}\n\
# HELP live_whep_refused_total WebRTC viewers refused at the limit (they play HLS).\n# TYPE live_whep_refused_total counter\nlive_whep_refused_total {}\n\
# HELP live_whep_relays_total Feeds relayed from another node.\n# TYPE live_whep_relays_total counter\nlive_whep_relays_total {}\n",
            self.viewers.load(Ordering::Relaxed),
            self.started.load(Ordering::Relaxed),
            self.refused.load(Ordering::Relaxed),
            self.relays.load(Ordering::Relaxed),
        );
    }

    /// A new feed for `session_id`, replacing (and closing) the one before: the ingest of a new
    /// broadcast, or a relay.
    pub fn open(&self, session_id: SessionId, local: bool) -> Arc<Feed> {
        let (packets, _) = broadcast::channel(FEED_CAPACITY);
        let feed = Arc::new(Feed {
            session_id,
            packets,
            keyframe_wanted: AtomicBool::new(false),
            keyframe_notify: Notify::new(),
            closed: AtomicBool::new(false),
            local,
            clock: Mutex::new(None),
        });
        let old = self
            .feeds
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(session_id, feed.clone());
        if let Some(old) = old {
            old.closed.store(true, Ordering::Relaxed);
        }
        feed
    }

    /// Ends `feed` (if it is still the session's): its subscribers see the stream end.
    pub fn close(&self, feed: &Arc<Feed>) {
        feed.closed.store(true, Ordering::Relaxed);
        let mut feeds = self.feeds.lock().unwrap_or_else(|p| p.into_inner());
        if feeds
            .get(&feed.session_id)
            .is_some_and(|f| Arc::ptr_eq(f, feed))
        {
            // Dropping the last sender ends every receiver's stream.
            feeds.remove(&feed.session_id);
        }
    }

    /// The session's feed on this node, if there is one.
    pub fn get(&self, session_id: SessionId) -> Option<Arc<Feed>> {
        self.feeds
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&session_id)
            .filter(|f| !f.is_closed())
            .cloned()
    }
}

/// Microseconds since the Unix epoch now.
pub fn unix_us_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(seq: u16, payload: &[u8]) -> MediaPacket {
        MediaPacket {
            codec: MediaCodec::H264,
            layer: 1,
            seq,
            timestamp: 0xdead_beef,
            marker: true,
            keyframe: true,
            received_us: 1_765_000_000_000_000,
            payload: payload.into(),
        }
    }

    #[test]
    fn relay_frames_round_trip_and_wait_for_whole_packets() {
        let a = packet(65535, &[0x65, 1, 2, 3]);
        let b = MediaPacket {
            codec: MediaCodec::Opus,
            marker: false,
            keyframe: false,
            layer: 0,
            ..packet(7, &[9; 1200])
        };
        let mut wire = BytesMut::new();
        a.encode(&mut wire);
        b.encode(&mut wire);
        // Arrives in pieces: nothing until a whole packet is in.
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&wire[..10]);
        assert_eq!(MediaPacket::decode(&mut buf), Ok(None));
        buf.extend_from_slice(&wire[10..30]);
        assert_eq!(MediaPacket::decode(&mut buf), Ok(Some(a)));
        assert_eq!(MediaPacket::decode(&mut buf), Ok(None));
        buf.extend_from_slice(&wire[30..]);
        assert_eq!(MediaPacket::decode(&mut buf), Ok(Some(b)));
        assert!(buf.is_empty());
        // Not our stream.
        let mut junk = BytesMut::from(&[0xffu8; 40][..]);
        assert_eq!(MediaPacket::decode(&mut junk), Err(NotAFeed));
    }

    #[test]
    fn keyframes_are_recognised_in_every_packetisation() {
        // Single NAL: IDR slice, SPS; a P slice is not.
        assert!(starts_keyframe(MediaCodec::H264, &[0x65, 0x88]));
        assert!(starts_keyframe(MediaCodec::H264, &[0x67, 0x42]));
        assert!(!starts_keyframe(MediaCodec::H264, &[0x41, 0x9a]));
        // STAP-A with SPS + PPS.
        assert!(starts_keyframe(
            MediaCodec::H264,
            &[0x78, 0, 2, 0x67, 0x42, 0, 2, 0x68, 0xce]
        ));
        assert!(!starts_keyframe(
            MediaCodec::H264,
            &[0x78, 0, 2, 0x68, 0xce]
        ));
        // FU-A: start of an IDR; a middle fragment is not.
        assert!(starts_keyframe(MediaCodec::H264, &[0x7c, 0x85, 1]));
        assert!(!starts_keyframe(MediaCodec::H264, &[0x7c, 0x05, 1]));
        assert!(!starts_keyframe(MediaCodec::H264, &[]));
        assert!(!starts_keyframe(MediaCodec::Opus, &[0x65]));
    }

    #[tokio::test]
    async fn a_new_feed_closes_the_old_one_and_close_ends_subscribers() {
        let fanout = Fanout::default();
        let first = fanout.open(SessionId(5), true);
        let second = fanout.open(SessionId(5), true);
        assert!(first.is_closed());
        assert!(fanout
            .get(SessionId(5))
            .is_some_and(|f| Arc::ptr_eq(&f, &second)));
        // Closing the replaced feed leaves the current one.
        fanout.close(&first);
        assert!(fanout.get(SessionId(5)).is_some());
        let mut rx = second.subscribe();
        second.send(packet(1, &[0x65]));
        assert_eq!(rx.recv().await.map(|p| p.seq).ok(), Some(1));
        fanout.close(&second);
        drop(second);
        assert!(fanout.get(SessionId(5)).is_none());
        assert!(matches!(
            rx.recv().await,
            Err(broadcast::error::RecvError::Closed)
        ));
    }
}
