//! The live room's fan-out hub: one [`Room`] per live session, shared by every viewer's event
//! stream (Server-Sent Events, served by `server/src/live_sse.rs`).
//!
//! Built for tens of thousands of viewers on one node:
//! - every event is serialised once into an SSE frame ([`Frame`]) whose bytes all connections
//!   share (`Bytes` is reference-counted);
//! - one `broadcast` ring per room is the only queue: a viewer that falls behind by more than
//!   its capacity gets `Lagged` and is resynced with a fresh snapshot (or dropped if it keeps
//!   lagging), so a slow client can never grow the server's memory;
//! - high-rate counters (viewers, likes, stock) are coalesced by a ticker into at most
//!   [`TICKS_PER_SEC`] `counters` events per second; chat is sampled when it outruns reading;
//! - each event carries a sequence number; a reconnecting viewer resumes from the last one it
//!   saw when it is still in the room's history, or gets a snapshot when too far behind.

pub mod backplane;
mod frame;
mod hub;
pub mod rules;
mod shared;

pub use frame::*;
pub use hub::*;
use shared::*;
use shop_core::ids::{ProductId, SessionId, ShopperId};

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{
        atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex, Weak,
    },
    time::{Duration, Instant},
};

use axum::body::Bytes;
use serde::Serialize;
use tokio::sync::{broadcast, watch};

use crate::{
    changes::{Change, Followed, Follower, SessionChange},
    db::Db,
    domain::{discount::LivePrice, money::Fen},
    error::AppError,
    live::backplane::RedisBackplane,
    metrics::Metrics,
    model::SessionStatus,
    model::{LiveEvent, PinnedNote},
    now_ms, repo,
};

/// Frames kept for resuming after a reconnect.
pub const HISTORY: usize = 1024;
/// The broadcast ring: how far a viewer may fall behind before it is resynced.
pub const CHANNEL_CAPACITY: usize = 256;
/// Counter updates per second, at most.
pub const TICKS_PER_SEC: u64 = 4;
/// Chat messages per second a room broadcasts; beyond that, a sample (senders still see theirs).
pub const CHAT_BROADCAST_PER_SEC: f64 = 8.0;
/// Chat messages kept for the snapshot a new viewer receives.
pub const CHAT_KEPT: usize = 50;
/// Longest chat message, in characters.
pub const MAX_CHAT_CHARS: usize = 200;
/// An ended session's room is dropped once nobody has watched it for this long.
pub const ENDED_LINGER: Duration = Duration::from_secs(5);
/// A room that is not live is dropped once nobody has watched it for this long (a scheduled
/// session's room opened by a visit before the start).
pub const IDLE_LINGER: Duration = Duration::from_secs(300);

struct RoomState {
    seq: u64,
    /// Resuming needs a `Last-Event-ID` of at least this: the room was reset at this number
    /// (Redis came back) and what happened before it may not be in its history.
    base: u64,
    history: VecDeque<Arc<Frame>>,
    status: SessionStatus,
    presenting: Option<Presenting>,
    stock: HashMap<ProductId, i64>,
    dirty_stock: HashSet<ProductId>,
    chat: VecDeque<ChatMessage>,
    chat_tokens: f64,
    chat_refill: Instant,
    muted: HashSet<ShopperId>,
    pinned: Option<PinnedNote>,
    sent_viewers: i64,
    sent_likes: u64,
    /// "Someone just bought": the latest buyer and how many more since the last tick.
    pending_purchase: Option<(String, String, u64)>,
    /// Since when nobody has been watching (the ticker drops rooms nobody needs).
    unwatched_since: Option<Instant>,
    /// The session's latest lucky draw.
    draw: Option<crate::model::DrawCard>,
}

/// What an event changes in a room's state (snapshots are built from it). The same on every
/// node: events arrive in the same order everywhere.
fn apply(st: &mut RoomState, event: &LiveEvent) {
    match event {
        LiveEvent::Status { status, .. } => {
            if st.status == SessionStatus::Rehearsal && *status != SessionStatus::Rehearsal {
                // The rehearsal's chat and cards are discarded with it.
                st.chat.clear();
                st.presenting = None;
            }
            st.status = *status;
            if *status != SessionStatus::Live {
                st.presenting = None;
            }
        }
        LiveEvent::Presenting { product, .. } => st.presenting = Some(product.clone()),
        LiveEvent::Product {
            product_id,
            pricing,
            ..
        } => {
            if let Some(p) = st
                .presenting
                .as_mut()
                .filter(|p| p.product_id == *product_id)
            {
                p.pricing = *pricing;
            }
        }
        LiveEvent::Chat { message, .. } => {
            if st.chat.len() == CHAT_KEPT {
                st.chat.pop_front();
            }
            st.chat.push_back(message.clone());
        }
        LiveEvent::ChatDeleted { id, .. } => st.chat.retain(|m| m.id != *id),
        LiveEvent::Pinned { note, .. } => st.pinned = note.clone(),
        LiveEvent::Draw { draw, .. } => st.draw = Some(draw.clone()),
        LiveEvent::Counters {
            stock,
            viewers,
            likes,
            ..
        } => {
            for [id, s] in stock {
                st.stock.insert(ProductId(*id), *s);
            }
            st.sent_viewers = *viewers;
            st.sent_likes = *likes;
        }
        LiveEvent::Snapshot { .. }
        | LiveEvent::Purchase { .. }
        | LiveEvent::Video { .. }
        | LiveEvent::Coupon { .. }
        | LiveEvent::Hb
        | LiveEvent::Me => {}
    }
}

/// A live session's room.
pub struct Room {
    pub session_id: SessionId,
    tx: broadcast::Sender<Arc<Frame>>,
    state: Mutex<RoomState>,
    viewers: AtomicI64,
    likes: AtomicU64,
    chat_ids: AtomicU64,
    personal: Mutex<HashMap<ShopperId, watch::Sender<u64>>>,
    /// Set when the room is being dropped: a viewer that joins it then goes to a new room.
    closed: AtomicBool,
    /// Distributed mode: the room only delivers what the node's stream reader brings
    /// (everything is published to Redis by the hub); its counters come from Redis too.
    distributed: bool,
    /// Bumped to end every open stream of the room (Redis lost: browsers reconnect later).
    kick: watch::Sender<u64>,
    metrics: Arc<Metrics>,
}

/// What a new (or resynced) viewer receives first.
pub struct Start {
    pub frames: Vec<Bytes>,
    pub rx: broadcast::Receiver<Arc<Frame>>,
    /// The sequence number the viewer is at after `frames`.
    pub seq: u64,
    /// Distributed mode: the events `from..=to` the viewer missed are older than this node's
    /// history but may still be in the room's Redis stream (`Hub::start` fetches them).
    fetch: Option<(u64, u64)>,
}

/// What a room starts from: the database's facts about the session.
pub struct RoomFacts {
    pub status: SessionStatus,
    pub presenting: Option<Presenting>,
    pub stock: HashMap<ProductId, i64>,
    pub pinned: Option<PinnedNote>,
    pub draw: Option<crate::model::DrawCard>,
}

impl Room {
    /// A room numbering from `seq`. One process numbers from the current time in
    /// microseconds: a room opened again (after it was dropped, or after a restart) numbers
    /// above anything an earlier room sent, so an old Last-Event-ID gets a snapshot, never
    /// someone else's events (2^53, where JavaScript numbers stop being exact, is in 2255).
    /// In distributed mode Redis numbers the same way (`backplane::PUBLISH`).
    fn new(
        session_id: SessionId,
        facts: RoomFacts,
        muted: HashSet<ShopperId>,
        seq: u64,
        distributed: bool,
        metrics: Arc<Metrics>,
    ) -> Room {
        let (tx, _) = broadcast::channel(CHANNEL_CAPACITY);
        Room {
            session_id,
            tx,
            state: Mutex::new(RoomState {
                seq,
                base: 0,
                history: VecDeque::with_capacity(64),
                status: facts.status,
                presenting: facts.presenting,
                stock: facts.stock,
                dirty_stock: HashSet::new(),
                chat: VecDeque::new(),
                chat_tokens: CHAT_BROADCAST_PER_SEC,
                chat_refill: Instant::now(),
                muted,
                pinned: facts.pinned,
                sent_viewers: 0,
                sent_likes: 0,
                pending_purchase: None,
                unwatched_since: None,
                draw: facts.draw,
            }),
            viewers: AtomicI64::new(0),
            likes: AtomicU64::new(0),
            chat_ids: AtomicU64::new(0),
            personal: Mutex::new(HashMap::new()),
            closed: AtomicBool::new(false),
            distributed,
            kick: watch::channel(0).0,
            metrics,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RoomState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One process: numbers an event, serialises it once, keeps it for resuming and sends it
    /// to every viewer. (Its `seq` field is set here; callers pass 0.) In distributed mode the
    /// hub publishes to Redis instead (`Hub::publish`).
    pub fn publish(&self, event: LiveEvent) -> u64 {
        let mut st = self.lock();
        self.publish_locked(&mut st, event)
    }

    /// One process: numbers an event and delivers it.
    fn publish_locked(&self, st: &mut RoomState, event: LiveEvent) -> u64 {
        let seq = st.seq + 1;
        self.deliver_locked(st, seq, event);
        seq
    }

    /// Distributed mode: an event numbered by Redis (published at `ts`), from the node's
    /// stream reader. One seen already is ignored; a gap is the reader's to fill before.
    pub fn deliver(&self, seq: u64, ts: i64, event: LiveEvent) {
        let mut st = self.lock();
        if seq > st.seq {
            self.deliver_at(&mut st, seq, ts, event);
        }
    }

    /// The number of the last event this room delivered.
    pub fn last_seq(&self) -> u64 {
        self.lock().seq
    }

    /// Applies a numbered event to the room's state, serialises it once, keeps it for resuming
    /// and sends it to every viewer.
    fn deliver_locked(&self, st: &mut RoomState, seq: u64, event: LiveEvent) {
        self.deliver_at(st, seq, now_us(), event);
    }

    fn deliver_at(&self, st: &mut RoomState, seq: u64, ts: i64, event: LiveEvent) {
        Metrics::count(&self.metrics.live_events);
        st.seq = seq;
        let was = st.status;
        apply(st, &event);
        // What happened during a rehearsal is the team's: a stream resuming later must not
        // replay it, so the history starts again when the rehearsal ends.
        if was == SessionStatus::Rehearsal && st.status != SessionStatus::Rehearsal {
            st.history.clear();
            st.base = seq;
        }
        let frame = Arc::new(Frame {
            seq,
            bytes: frame_bytes(seq, &event.numbered(seq), ts),
            snapshot: false,
            private: st.status == SessionStatus::Rehearsal,
        });
        if st.history.len() == HISTORY {
            st.history.pop_front();
        }
        st.history.push_back(frame.clone());
        // No receivers is fine: nobody is watching right now.
        let _ = self.tx.send(frame);
    }

    fn snapshot_locked(&self, st: &RoomState) -> Bytes {
        // Distributed: the counters every node last delivered (sums over all nodes).
        let (viewers, likes) = if self.distributed {
            (st.sent_viewers, st.sent_likes)
        } else {
            (
                self.viewers.load(Ordering::Relaxed),
                self.likes.load(Ordering::Relaxed),
            )
        };
        let event = LiveEvent::Snapshot {
            seq: st.seq,
            status: st.status,
            presenting: st.presenting.clone(),
            stock: st.stock.iter().map(|(k, v)| [k.get(), *v]).collect(),
            viewers,
            likes,
            chat: st.chat.iter().cloned().collect(),
            pinned: st.pinned.clone(),
            draw: st.draw.clone(),
        };
        frame_bytes(st.seq, &event, now_us())
    }

    /// Distributed mode, a room being opened: the recent events of its Redis stream become
    /// its history (a viewer can resume from them) and its chat; status, the product
    /// presented and stock come from the database.
    fn preload(&self, entries: Vec<(u64, i64, LiveEvent)>, viewers: i64, likes: u64) {
        let mut st = self.lock();
        for (seq, ts, event) in entries {
            if matches!(
                event,
                LiveEvent::Chat { .. } | LiveEvent::ChatDeleted { .. } | LiveEvent::Draw { .. }
            ) {
                apply(&mut st, &event);
            }
            if st.history.len() == HISTORY {
                st.history.pop_front();
            }
            let private = st.status == SessionStatus::Rehearsal;
            st.history.push_back(Arc::new(Frame {
                seq,
                bytes: frame_bytes(seq, &event.numbered(seq), ts),
                snapshot: false,
                private,
            }));
        }
        st.sent_viewers = viewers;
        st.sent_likes = likes;
    }

    /// Distributed mode, after Redis came back or lost events this room had not delivered:
    /// the room starts again at Redis's number `seq` from the database's facts, forgets its
    /// history (nobody resumes across the reset) and everyone still watching gets a snapshot.
    fn reset(&self, seq: u64, facts: RoomFacts) {
        let mut st = self.lock();
        st.seq = seq;
        st.base = seq;
        st.history.clear();
        st.status = facts.status;
        st.presenting = facts.presenting;
        st.stock = facts.stock;
        st.pinned = facts.pinned;
        st.draw = facts.draw;
        st.dirty_stock.clear();
        let bytes = self.snapshot_locked(&st);
        let _ = self.tx.send(Arc::new(Frame {
            seq,
            bytes,
            snapshot: true,
            private: st.status == SessionStatus::Rehearsal,
        }));
    }

    /// The node's counters (streams count resyncs and drops).
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Ends every open stream of the room (their browsers reconnect and get a snapshot).
    pub fn kick_all(&self) {
        self.kick.send_modify(|k| *k += 1);
    }

    /// Changes when the room's streams must end.
    pub fn kicked(&self) -> watch::Receiver<u64> {
        self.kick.subscribe()
    }

    /// Subscribes a viewer outside the team: during a rehearsal, a snapshot of the scheduled
    /// session (no card, no chat) and nothing of the rehearsal; otherwise [`Room::start`].
    pub fn start_public(&self, last_seq: Option<u64>) -> Start {
        {
            let st = self.lock();
            if st.status == SessionStatus::Rehearsal {
                let rx = self.tx.subscribe();
                let event = LiveEvent::Snapshot {
                    seq: st.seq,
                    status: SessionStatus::Scheduled,
                    presenting: None,
                    stock: st.stock.iter().map(|(k, v)| [k.get(), *v]).collect(),
                    viewers: 0,
                    likes: 0,
                    chat: Vec::new(),
                    pinned: st.pinned.clone(),
                    draw: None,
                };
                return Start {
                    frames: vec![frame_bytes(st.seq, &event, now_us())],
                    rx,
                    seq: st.seq,
                    fetch: None,
                };
            }
        }
        self.start(last_seq)
    }

    /// Whether the room is in a private rehearsal.
    pub fn rehearsing(&self) -> bool {
        self.lock().status == SessionStatus::Rehearsal
    }

    /// Subscribes a viewer. With `last_seq` still in history, replays what it missed;
    /// otherwise starts with a snapshot. The subscription is taken under the same lock as the
    /// history read, so no event falls between the two.
    pub fn start(&self, last_seq: Option<u64>) -> Start {
        let st = self.lock();
        let rx = self.tx.subscribe();
        let oldest = st.history.front().map_or(st.seq + 1, |f| f.seq);
        let mut fetch = None;
        let frames = match last_seq {
            Some(last) if last < st.base => vec![self.snapshot_locked(&st)],
            Some(last) if last == st.seq => Vec::new(),
            Some(last) if last < st.seq && last + 1 >= oldest => st
                .history
                .iter()
                .filter(|f| f.seq > last)
                .map(|f| f.bytes.clone())
                .collect(),
            // Older than this node's history: the room's Redis stream may still have it.
            Some(last)
                if self.distributed
                    && last < st.seq
                    && st.seq - last <= crate::live::backplane::STREAM_LEN as u64 =>
            {
                fetch = Some((last + 1, st.seq));
                Vec::new()
            }
            _ => vec![self.snapshot_locked(&st)],
        };
        Start {
            frames,
            rx,
            seq: st.seq,
            fetch,
        }
    }

    /// A fresh snapshot for a viewer that fell too far behind, with a new subscription.
    pub fn resync(&self, team: bool) -> Start {
        if team {
            self.start(None)
        } else {
            self.start_public(None)
        }
    }

    pub fn viewer_joined(self: &Arc<Self>) -> ViewerGuard {
        self.viewers.fetch_add(1, Ordering::SeqCst);
        ViewerGuard { room: self.clone() }
    }

    pub fn viewers(&self) -> i64 {
        self.viewers.load(Ordering::Relaxed)
    }

    /// A watch that changes whenever something about this shopper changes (discount unlocked,
    /// friend joined); their stream turns it into a `me` hint and the client refetches.
    pub fn personal(&self, shopper_id: ShopperId) -> watch::Receiver<u64> {
        let mut map = self.personal.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, tx| tx.receiver_count() > 0);
        map.entry(shopper_id)
            .or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }

    /// Whether this shopper has a stream of this room open on this node.
    pub fn watching(&self, shopper_id: ShopperId) -> bool {
        let map = self.personal.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&shopper_id)
            .is_some_and(|tx| tx.receiver_count() > 0)
    }

    /// The session's lucky draw while it is open.
    pub fn open_draw(&self) -> Option<crate::model::DrawCard> {
        self.lock().draw.clone().filter(|d| d.open)
    }

    pub fn notify_shopper(&self, shopper_id: ShopperId) {
        let map = self.personal.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = map.get(&shopper_id) {
            tx.send_modify(|v| *v += 1);
        }
    }

    pub fn set_status(&self, status: SessionStatus) {
        self.publish(LiveEvent::Status { seq: 0, status });
    }

    pub fn present(&self, p: Presenting) {
        self.publish(LiveEvent::Presenting { seq: 0, product: p });
    }

    /// Stock changed (an order, sold out, an edit): coalesced into the next `counters` event.
    pub fn set_stock(&self, product_id: ProductId, stock: i64) {
        let mut st = self.lock();
        if st.stock.insert(product_id, stock) != Some(stock) {
            st.dirty_stock.insert(product_id);
        }
    }

    pub fn purchased(&self, buyer: &str, product: &str) {
        let mut st = self.lock();
        let more = st.pending_purchase.as_ref().map_or(0, |p| p.2 + 1);
        st.pending_purchase = Some((mask_name(buyer), product.to_string(), more));
    }

    /// Counts `n` hearts; returns the total.
    pub fn like(&self, n: u64) -> u64 {
        self.likes.fetch_add(n, Ordering::Relaxed) + n
    }

    pub fn is_muted(&self, shopper_id: ShopperId) -> bool {
        self.lock().muted.contains(&shopper_id)
    }

    pub fn mute(&self, shopper_id: ShopperId) {
        self.lock().muted.insert(shopper_id);
    }

    /// Posts a chat message. Returns the message and whether it was broadcast (false when the
    /// room's chat runs faster than people can read and this one was left out of the sample).
    pub fn chat(
        &self,
        shopper_id: ShopperId,
        nickname: &str,
        text: &str,
        host: bool,
    ) -> (ChatMessage, bool) {
        let msg = ChatMessage {
            id: self.chat_ids.fetch_add(1, Ordering::Relaxed) + 1,
            shopper_id,
            nickname: nickname.to_string(),
            text: text.to_string(),
            at_ms: now_ms(),
            host,
        };
        let mut st = self.lock();
        let now = Instant::now();
        let elapsed = now.duration_since(st.chat_refill).as_secs_f64();
        st.chat_refill = now;
        st.chat_tokens =
            (st.chat_tokens + elapsed * CHAT_BROADCAST_PER_SEC).min(CHAT_BROADCAST_PER_SEC);
        // The host's messages are always broadcast.
        let broadcast = host || st.chat_tokens >= 1.0;
        if broadcast {
            if !host {
                st.chat_tokens -= 1.0;
            }
            self.publish_locked(
                &mut st,
                LiveEvent::Chat {
                    seq: 0,
                    message: msg.clone(),
                },
            );
        }
        (msg, broadcast)
    }

    /// A message still in the room's recent chat.
    pub fn find_chat(&self, id: u64) -> Option<ChatMessage> {
        self.lock().chat.iter().find(|m| m.id == id).cloned()
    }

    pub fn delete_chat(&self, id: u64) -> bool {
        let mut st = self.lock();
        let found = st.chat.iter().any(|m| m.id == id);
        self.publish_locked(&mut st, LiveEvent::ChatDeleted { seq: 0, id });
        found
    }

    /// Publishes the coalesced counters if anything changed since the last tick.
    fn tick(&self) {
        let mut st = self.lock();
        let viewers = self.viewers.load(Ordering::Relaxed);
        let likes = self.likes.load(Ordering::Relaxed);
        if let Some((buyer, product, more)) = st.pending_purchase.take() {
            self.publish_locked(
                &mut st,
                LiveEvent::Purchase {
                    seq: 0,
                    buyer,
                    product,
                    more,
                },
            );
        }
        if viewers == st.sent_viewers && likes == st.sent_likes && st.dirty_stock.is_empty() {
            return;
        }
        let dirty: Vec<ProductId> = st.dirty_stock.drain().collect();
        let stock: Vec<[i64; 2]> = dirty
            .into_iter()
            .filter_map(|id| st.stock.get(&id).map(|s| [id.get(), *s]))
            .collect();
        st.sent_viewers = viewers;
        st.sent_likes = likes;
        self.publish_locked(
            &mut st,
            LiveEvent::Counters {
                seq: 0,
                viewers,
                likes,
                stock,
            },
        );
    }

    pub fn seq(&self) -> u64 {
        self.lock().seq
    }

    /// True when the room may go: ended and unwatched for [`ENDED_LINGER`], or not live and
    /// unwatched for [`IDLE_LINGER`]. Called by the ticker.
    fn unneeded(&self) -> bool {
        let watched = self.viewers.load(Ordering::SeqCst) > 0;
        let mut st = self.lock();
        if watched {
            st.unwatched_since = None;
            return false;
        }
        let since = *st.unwatched_since.get_or_insert_with(Instant::now);
        let linger = match st.status {
            SessionStatus::Ended => ENDED_LINGER,
            SessionStatus::Scheduled => IDLE_LINGER,
            SessionStatus::Live | SessionStatus::Rehearsal => return false,
        };
        since.elapsed() >= linger
    }

    /// Takes the room out of the hub unless a viewer joined meanwhile. A viewer joining at the
    /// same moment either is seen here (the room stays) or sees `closed` and goes to a new
    /// room (`Hub::watch`).
    fn close(&self, rooms: &Rooms) -> bool {
        let mut map = rooms.lock().unwrap_or_else(|p| p.into_inner());
        self.closed.store(true, Ordering::SeqCst);
        if self.viewers.load(Ordering::SeqCst) > 0 {
            self.closed.store(false, Ordering::SeqCst);
            return false;
        }
        if map
            .get(&self.session_id)
            .is_some_and(|r| std::ptr::eq(Arc::as_ptr(r), self))
        {
            map.remove(&self.session_id);
        }
        true
    }
}

/// Counts a connected viewer for as long as it lives.
pub struct ViewerGuard {
    room: Arc<Room>,
}

impl ViewerGuard {
    pub fn room(&self) -> &Arc<Room> {
        &self.room
    }
}

impl Drop for ViewerGuard {
    fn drop(&mut self) {
        self.room.viewers.fetch_sub(1, Ordering::SeqCst);
    }
}

/// "Lin Xiaomei" → "L***": buyers are not named in full to everyone watching.
pub fn mask_name(name: &str) -> String {
    let first: String = name.chars().take(1).collect();
    format!("{first}***")
}

fn now_us() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_micros()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room() -> Room {
        Room::new(
            SessionId(1),
            facts(),
            HashSet::new(),
            0,
            false,
            Arc::default(),
        )
    }

    fn facts() -> RoomFacts {
        RoomFacts {
            status: SessionStatus::Live,
            presenting: None,
            stock: HashMap::new(),
            pinned: None,
            draw: None,
        }
    }

    fn chat_event(id: u64) -> LiveEvent {
        LiveEvent::Chat {
            seq: 0,
            message: ChatMessage {
                id,
                shopper_id: ShopperId(1),
                nickname: "Mei".into(),
                text: format!("hello {id}"),
                at_ms: 0,
                host: false,
            },
        }
    }

    /// A distributed room opened from its Redis stream: the recent entries are its history
    /// and its chat; resuming from them replays, older goes to the stream, and after a reset
    /// nobody resumes from before it.
    #[test]
    fn distributed_rooms_resume_from_preloaded_history_and_reset_to_snapshots() {
        let r = Room::new(
            SessionId(1),
            facts(),
            HashSet::new(),
            1_000,
            true,
            Arc::default(),
        );
        let entries = (990..=1_000).map(|seq| (seq, 5, chat_event(seq))).collect();
        r.preload(entries, 7, 9);
        assert_eq!(r.lock().chat.len(), 11);
        let resumed = r.start(Some(995));
        assert_eq!(resumed.frames.len(), 5);
        assert!(text(&resumed.frames[0]).starts_with("id: 996\n"));
        assert!(resumed.fetch.is_none());
        // Older than the history: fetched from the stream by the hub.
        let older = r.start(Some(900));
        assert!(older.frames.is_empty());
        assert_eq!(older.fetch, Some((901, 1_000)));
        // The snapshot carries the counters summed over nodes.
        let snap = text(&r.start(None).frames[0]);
        assert!(
            snap.contains("\"viewers\":7") && snap.contains("\"likes\":9"),
            "{snap}"
        );
        // Delivered in order; one seen already is ignored.
        r.deliver(1_001, 6, chat_event(1_001));
        r.deliver(1_001, 6, chat_event(77));
        assert_eq!(r.last_seq(), 1_001);
        assert_eq!(r.lock().chat.back().map(|m| m.id), Some(1_001));
        // A reset (Redis came back): everyone watching gets a snapshot frame, and a resume
        // from before the reset gets a snapshot too.
        let mut watching = r.start(None).rx;
        r.reset(5, facts());
        let frame = watching.try_recv().expect("snapshot broadcast");
        assert!(frame.snapshot && text(&frame.bytes).contains("snapshot"));
        assert!(text(&r.start(Some(1_001)).frames[0]).contains("snapshot"));
        assert!(text(&r.start(Some(4)).frames[0]).contains("snapshot"));
        r.deliver(6, 7, chat_event(6));
        assert!(text(&r.start(Some(5)).frames[0]).starts_with("id: 6\n"));
    }

    fn text(b: &Bytes) -> String {
        String::from_utf8_lossy(b).into_owned()
    }

    /// Every frame is a typed `LiveEvent` (what the client decodes) with its number and time.
    #[test]
    fn frames_decode_as_the_events_published() {
        let r = room();
        let events = vec![
            LiveEvent::Status {
                seq: 0,
                status: SessionStatus::Ended,
            },
            LiveEvent::Product {
                seq: 0,
                product_id: ProductId(3),
                pricing: LivePrice::new(Fen(1_990), &Default::default()),
            },
            LiveEvent::Purchase {
                seq: 0,
                buyer: "L***".into(),
                product: "Serum".into(),
                more: 2,
            },
            LiveEvent::Video { seq: 0, live: true },
        ];
        let mut start = r.start(None);
        start.frames.clear();
        for e in events {
            let seq = r.publish(e.clone());
            let frame = start.rx.try_recv().expect("frame");
            let text = text(&frame.bytes);
            let data = text
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .expect("data line");
            let decoded: LiveEvent = serde_json::from_str(data).expect("typed");
            assert_eq!(decoded, e.numbered(seq));
            let raw: serde_json::Value = serde_json::from_str(data).expect("json");
            assert!(raw["ts"].as_i64().is_some_and(|t| t > 0));
        }
    }

    #[test]
    fn frames_are_numbered_sse_events() {
        let r = room();
        r.publish(LiveEvent::Status {
            seq: 0,
            status: SessionStatus::Live,
        });
        let s = r.start(Some(0));
        assert_eq!(s.frames.len(), 1);
        let f = text(&s.frames[0]);
        assert!(f.starts_with("id: 1\ndata: {"), "{f}");
        assert!(f.ends_with("}\n\n"));
        assert!(f.contains("\"seq\":1"));
    }

    #[test]
    fn resume_replays_exactly_what_was_missed_or_snapshots() {
        let r = room();
        for i in 0..10 {
            r.publish(LiveEvent::ChatDeleted { seq: 0, id: i });
        }
        let s = r.start(Some(7));
        assert_eq!(s.frames.len(), 3);
        assert!(text(&s.frames[0]).starts_with("id: 8\n"));
        assert!(
            r.start(Some(10)).frames.is_empty(),
            "up to date: nothing to replay"
        );
        let fresh = r.start(None);
        assert!(text(&fresh.frames[0]).contains("\"type\":\"snapshot\""));
        // Too far behind (older than the history): a snapshot.
        for i in 0..HISTORY {
            r.publish(LiveEvent::ChatDeleted {
                seq: 0,
                id: i as u64,
            });
        }
        let behind = r.start(Some(3));
        assert_eq!(behind.frames.len(), 1);
        assert!(text(&behind.frames[0]).contains("\"type\":\"snapshot\""));
        // A sequence from the future (another server run) also gets a snapshot.
        assert!(text(&r.start(Some(u64::MAX / 2)).frames[0]).contains("snapshot"));
    }

    #[test]
    fn slow_receivers_lag_instead_of_queueing_without_bound() {
        let r = room();
        let mut s = r.start(None);
        for i in 0..(CHANNEL_CAPACITY * 4) {
            r.publish(LiveEvent::ChatDeleted {
                seq: 0,
                id: i as u64,
            });
        }
        match s.rx.try_recv() {
            Err(broadcast::error::TryRecvError::Lagged(n)) => {
                assert!(n as usize >= CHANNEL_CAPACITY * 3)
            }
            other => panic!("expected lag, got {other:?}"),
        }
    }

    #[test]
    fn counters_are_coalesced_per_tick() {
        let r = room();
        r.like(5);
        r.like(7);
        r.set_stock(ProductId(3), 10);
        r.set_stock(ProductId(3), 9);
        let before = r.seq();
        r.tick();
        assert_eq!(r.seq(), before + 1, "one counters event for many changes");
        let s = r.start(Some(before));
        let f = text(&s.frames[0]);
        assert!(f.contains("\"likes\":12") && f.contains("[3,9]"), "{f}");
        r.tick();
        assert_eq!(r.seq(), before + 1, "nothing changed: nothing sent");
    }

    #[test]
    fn chat_is_sampled_when_it_outruns_reading() {
        let r = room();
        let sent = (0..100)
            .filter(|i| r.chat(ShopperId(1), "a", &format!("m{i}"), false).1)
            .count();
        assert!(
            sent <= CHAT_BROADCAST_PER_SEC as usize + 1,
            "{sent} broadcast"
        );
        assert!(
            r.chat(ShopperId(2), "host", "welcome", true).1,
            "the host is always heard"
        );
    }

    #[test]
    fn every_frame_decodes_as_a_client_live_event() {
        use crate::model::LiveEvent;
        let r = room();
        r.present(Presenting {
            product_id: ProductId(3),
            name: "Serum".into(),
            image_url: "/x.jpg".into(),
            pricing: LivePrice::new(Fen(25_900), &Default::default()),
        });
        r.set_status(SessionStatus::Ended);
        r.chat(ShopperId(1), "Lin", "<b>hi</b>", false);
        r.delete_chat(1);
        r.purchased("Lin", "Serum");
        r.like(3);
        r.set_stock(ProductId(3), 7);
        r.tick();
        let mut frames = r.start(Some(0)).frames;
        frames.push(r.start(None).frames.remove(0));
        frames.push(heartbeat());
        frames.push(me_frame());
        let mut kinds = Vec::new();
        for f in frames {
            let t = text(&f);
            let data = t
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .expect("data line");
            let ev: LiveEvent =
                serde_json::from_str(data).unwrap_or_else(|e| panic!("{data}: {e}"));
            kinds.push(
                format!("{ev:?}")
                    .split([' ', '{'])
                    .next()
                    .unwrap_or_default()
                    .to_string(),
            );
            if let LiveEvent::Chat { message, .. } = ev {
                assert_eq!(
                    message.text, "<b>hi</b>",
                    "text travels as data, escaped by the client"
                );
            }
        }
        for k in [
            "Presenting",
            "Status",
            "Chat",
            "ChatDeleted",
            "Purchase",
            "Counters",
            "Snapshot",
            "Hb",
            "Me",
        ] {
            assert!(kinds.iter().any(|x| x == k), "{k} missing from {kinds:?}");
        }
    }

    #[test]
    fn buyers_are_masked() {
        assert_eq!(mask_name("Lin Xiaomei"), "L***");
        assert_eq!(mask_name("小林"), "小***");
    }
}
