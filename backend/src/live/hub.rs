//! The hub: this node's open rooms, how they open and close, and what the rest of the backend
//! tells them (it follows the session changes, `changes::Follower`).

use super::*;
use crate::error::Result;
use shop_core::ids::{ProductId, SessionId, ShopperId};

pub(super) type Rooms = Mutex<HashMap<SessionId, Arc<Room>>>;

/// All open rooms of this node. A room opens on first use and is dropped by its own ticker
/// when nobody needs it any more (ended and unwatched, or not live and long unwatched), so a
/// node that runs for months holds only the rooms in use.
///
/// With a Redis backplane (distributed mode) everything a room broadcasts is published to
/// Redis, numbered there, and comes back to every node's rooms through one stream reader per
/// node ([`Hub::distributed`]); counters, chat sampling and mutes are shared the same way.
#[derive(Default)]
pub struct Hub {
    rooms: Arc<Rooms>,
    /// Running room tickers (one per open room): for tests and diagnostics.
    tickers: Arc<AtomicUsize>,
    backplane: Option<Arc<RedisBackplane>>,
    metrics: Arc<Metrics>,
    /// Distributed mode: stock and "just bought" news of this node's orders, sent to Redis
    /// once a tick (`flush_news`) rather than once per order.
    news: Arc<Mutex<News>>,
    /// Distributed mode: set from the moment Redis is seen down until every open room has been
    /// reset from it again (`read_streams`). Viewers are not let in meanwhile: a room not yet
    /// reset would resume them from a history Redis no longer has.
    pub(super) out_of_step: Arc<AtomicBool>,
    /// Each session's chat rules, read again at most a second after a change.
    pub rules: Arc<rules::RulesCache>,
}

/// What this node's orders changed since the last flush.
#[derive(Default)]
pub(super) struct News {
    /// Latest stock per (session, product).
    pub(super) stock: HashMap<(SessionId, ProductId), i64>,
    /// Per session: the latest buyer (masked) and product, and how many purchases.
    pub(super) purchases: HashMap<SessionId, (String, String, u64)>,
}

impl Hub {
    /// One process: rooms live in this process's memory.
    pub fn new(metrics: Arc<Metrics>) -> Hub {
        Hub {
            metrics,
            ..Hub::default()
        }
    }

    /// Distributed mode: rooms follow their Redis streams. Starts the node's stream reader
    /// and its listener for personal hints; both end when the hub is dropped.
    pub fn distributed(backplane: Arc<RedisBackplane>, db: Db, metrics: Arc<Metrics>) -> Arc<Hub> {
        let hub = Arc::new(Hub {
            backplane: Some(backplane.clone()),
            metrics,
            ..Hub::default()
        });
        tokio::spawn(read_streams(Arc::downgrade(&hub), backplane.clone(), db));
        tokio::spawn(listen_personal(Arc::downgrade(&hub), backplane.clone()));
        tokio::spawn(flush_news(Arc::downgrade(&hub.news), backplane));
        hub
    }

    pub fn backplane(&self) -> Option<&Arc<RedisBackplane>> {
        self.backplane.as_ref()
    }

    /// `Unavailable` (503) while the shared live state cannot be reached (distributed mode).
    pub fn ensure_up(&self) -> Result<()> {
        self.backplane.as_ref().map_or(Ok(()), |bp| bp.ensure_up())
    }

    /// The room if it is open (someone watched or something was published).
    pub fn get(&self, session_id: SessionId) -> Option<Arc<Room>> {
        self.rooms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&session_id)
            .cloned()
    }

    pub(super) fn open_rooms(&self) -> Vec<Arc<Room>> {
        self.rooms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Viewers connected to this node, over all rooms.
    pub fn local_viewers(&self) -> i64 {
        self.open_rooms().iter().map(|r| r.viewers()).sum()
    }

    /// Open rooms.
    pub fn room_count(&self) -> usize {
        self.rooms.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Running room tickers.
    pub fn ticker_count(&self) -> usize {
        self.tickers.load(Ordering::SeqCst)
    }

    /// Joins the session's room as a viewer. Never a room that is being dropped: joining one
    /// retries with a fresh room. `Unavailable` while Redis is down (distributed mode).
    pub async fn watch(&self, db: &Db, session_id: SessionId) -> Result<ViewerGuard> {
        if let Some(bp) = &self.backplane {
            bp.ensure_up()?;
            if self.out_of_step.load(Ordering::SeqCst) {
                return Err(AppError::Unavailable.into());
            }
        }
        loop {
            let room = self.room(db, session_id).await?;
            let guard = room.viewer_joined();
            if !room.closed.load(Ordering::SeqCst) {
                return Ok(guard);
            }
            drop(guard);
            // The ticker removes it from the map; make sure before asking again.
            let mut rooms = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
            if rooms
                .get(&session_id)
                .is_some_and(|r| Arc::ptr_eq(r, &room))
            {
                rooms.remove(&session_id);
            }
        }
    }

    /// Where a viewer starts: [`Room::start`], plus, in distributed mode, the missed events
    /// that only the room's Redis stream still has (a viewer resuming on another node).
    pub async fn start(&self, room: &Arc<Room>, last_seq: Option<u64>) -> Start {
        let start = room.start(last_seq);
        let (Some(bp), Some((from, to))) = (&self.backplane, start.fetch) else {
            return start;
        };
        match bp.range(room.session_id, from, to).await {
            Ok(entries)
                if entries.len() as u64 == to - from + 1
                    && entries.first().is_some_and(|e| e.0 == from) =>
            {
                Start {
                    frames: entries
                        .iter()
                        .map(|(seq, ts, event)| frame_bytes(*seq, event, *ts))
                        .collect(),
                    rx: start.rx,
                    seq: to,
                    fetch: None,
                }
            }
            // Trimmed away or Redis unreachable: a snapshot.
            _ => room.start(None),
        }
    }

    /// The session's room, created from the database on first use. `NotFound` for unknown ids.
    pub async fn room(&self, db: &Db, session_id: SessionId) -> Result<Arc<Room>> {
        if let Some(r) = self.get(session_id) {
            return Ok(r);
        }
        let room = match &self.backplane {
            None => {
                let facts = load_room_facts(db, session_id).await?;
                let muted = repo::live::muted(db, session_id).await?;
                let seq = u64::try_from(now_us()).unwrap_or(0);
                Room::new(session_id, facts, muted, seq, false, self.metrics.clone())
            }
            Some(bp) => open_shared(bp, db, session_id, self.metrics.clone()).await?,
        };
        let room = Arc::new(room);
        {
            let mut rooms = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
            // Another request may have opened it while we were loading: keep the first.
            if let Some(r) = rooms.get(&session_id) {
                return Ok(r.clone());
            }
            rooms.insert(session_id, room.clone());
        }
        spawn_ticker(
            Arc::downgrade(&room),
            Arc::downgrade(&self.rooms),
            self.tickers.clone(),
            self.backplane.clone(),
        );
        Ok(room)
    }

    /// Runs `f` on the room if it is open (publishing to a room nobody opened is pointless:
    /// a first viewer loads the current facts from the database anyway).
    pub fn with_room(&self, session_id: SessionId, f: impl FnOnce(&Room)) {
        if let Some(r) = self.get(session_id) {
            f(&r);
        }
    }
}

// ---- What the rest of the backend calls when something happens ----

/// The live rooms follow session changes: what the host did, stock and purchases, the video.
/// Told before the change's author answers, so what the host does next (a chat line right
/// after presenting) reaches viewers after it, never before.
impl Follower for Hub {
    fn follow<'a>(&'a self, c: &'a SessionChange) -> Followed<'a> {
        Box::pin(async move { told(self.show(c).await) })
    }
}

impl Hub {
    async fn show(&self, c: &SessionChange) -> Result<()> {
        let session_id = c.session_id;
        match &c.change {
            Change::Lifecycle(status) => self.status_changed(session_id, *status).await,
            Change::Presented { card, stock } => {
                self.presented(session_id, card.clone(), *stock).await
            }
            Change::Stock { product_id, stock } => {
                self.stock_changed(session_id, *product_id, *stock).await
            }
            Change::Price {
                product_id,
                pricing,
            } => {
                let event = LiveEvent::Product {
                    seq: 0,
                    product_id: *product_id,
                    pricing: *pricing,
                };
                self.publish(session_id, event).await
            }
            Change::Purchase { buyer, product } => self.purchased(session_id, buyer, product).await,
            Change::Video { live } => {
                let event = LiveEvent::Video {
                    seq: 0,
                    live: *live,
                };
                self.publish(session_id, event).await
            }
        }
    }

    /// Broadcasts an event to the session's room on every node (one process: to its room,
    /// if open).
    pub async fn publish(&self, session_id: SessionId, event: LiveEvent) -> Result<()> {
        match &self.backplane {
            Some(bp) => bp.publish(session_id, &event, now_us()).await.map(|_| ()),
            None => {
                self.with_room(session_id, |r| {
                    r.publish(event);
                });
                Ok(())
            }
        }
    }

    async fn status_changed(&self, session_id: SessionId, status: SessionStatus) -> Result<()> {
        self.publish(session_id, LiveEvent::Status { seq: 0, status })
            .await
    }

    /// The host presented a product: everyone's explaining-now card changes.
    async fn presented(&self, session_id: SessionId, card: Presenting, stock: i64) -> Result<()> {
        if self.backplane.is_none() && self.get(session_id).is_none() {
            return Ok(());
        }
        self.stock_changed(session_id, card.product_id, stock)
            .await?;
        self.publish(
            session_id,
            LiveEvent::Presenting {
                seq: 0,
                product: card,
            },
        )
        .await
    }

    /// Stock changed (an order, sold out, an edit): coalesced into the next `counters`.
    async fn stock_changed(
        &self,
        session_id: SessionId,
        product_id: ProductId,
        stock: i64,
    ) -> Result<()> {
        match &self.backplane {
            Some(_) => {
                lock_news(&self.news)
                    .stock
                    .insert((session_id, product_id), stock);
                Ok(())
            }
            None => {
                self.with_room(session_id, |r| r.set_stock(product_id, stock));
                Ok(())
            }
        }
    }

    /// "Someone just bought": coalesced into the next tick's `purchase` event.
    async fn purchased(&self, session_id: SessionId, buyer: &str, product: &str) -> Result<()> {
        match &self.backplane {
            Some(_) => {
                let mut news = lock_news(&self.news);
                let entry = news.purchases.entry(session_id).or_default();
                *entry = (mask_name(buyer), product.to_string(), entry.2 + 1);
                Ok(())
            }
            None => {
                self.with_room(session_id, |r| r.purchased(buyer, product));
                Ok(())
            }
        }
    }

    /// Something about this shopper's own state changed (a friend joined through their invite).
    pub async fn shopper_changed(
        &self,
        session_id: SessionId,
        shopper_id: ShopperId,
    ) -> Result<()> {
        match &self.backplane {
            Some(bp) => bp.notify_shopper(session_id, shopper_id).await,
            None => {
                self.with_room(session_id, |r| r.notify_shopper(shopper_id));
                Ok(())
            }
        }
    }

    /// Posts a chat message: the message and whether it was broadcast ([`Room::chat`]).
    pub async fn chat(
        &self,
        db: &Db,
        session_id: SessionId,
        speaker_id: ShopperId,
        nickname: &str,
        text: &str,
        host: bool,
    ) -> Result<(ChatMessage, bool)> {
        let Some(bp) = &self.backplane else {
            let room = self.room(db, session_id).await?;
            return Ok(room.chat(speaker_id, nickname, text, host));
        };
        let (id, broadcast) = bp
            .admit_chat(session_id, CHAT_BROADCAST_PER_SEC, host)
            .await?;
        let message = ChatMessage {
            id,
            shopper_id: speaker_id,
            nickname: nickname.to_string(),
            text: text.to_string(),
            at_ms: now_ms(),
            host,
        };
        if broadcast {
            let event = LiveEvent::Chat {
                seq: 0,
                message: message.clone(),
            };
            bp.publish(session_id, &event, now_us()).await?;
        }
        Ok((message, broadcast))
    }

    pub async fn delete_chat(&self, db: &Db, session_id: SessionId, id: u64) -> Result<()> {
        match &self.backplane {
            Some(bp) => bp
                .publish(session_id, &LiveEvent::ChatDeleted { seq: 0, id }, now_us())
                .await
                .map(|_| ()),
            None => {
                self.room(db, session_id).await?.delete_chat(id);
                Ok(())
            }
        }
    }

    /// Counts `n` hearts; returns the room's total.
    pub async fn like(&self, db: &Db, session_id: SessionId, n: u64) -> Result<u64> {
        // A rehearsal's figures are discarded: its hearts are not counted at all.
        let room = self.room(db, session_id).await?;
        if room.rehearsing() {
            return Err(crate::error::AppError::Conflict(
                "Hearts open when the session is live.".into(),
            )
            .into());
        }
        match &self.backplane {
            // An unknown session was a 404 above, never a new Redis key.
            Some(bp) => bp.like(session_id, n).await,
            None => Ok(room.like(n)),
        }
    }

    /// The note pinned above the chat changed (already recorded in the database): every
    /// node's room shows it, and a room opened later loads it.
    pub async fn pin(&self, session_id: SessionId, note: Option<PinnedNote>) -> Result<()> {
        self.publish(session_id, LiveEvent::Pinned { seq: 0, note })
            .await
    }

    /// A message still in the room's recent chat (what a shopper may report).
    pub async fn find_chat(
        &self,
        db: &Db,
        session_id: SessionId,
        id: u64,
    ) -> Result<Option<crate::model::ChatLine>> {
        Ok(self.room(db, session_id).await?.find_chat(id))
    }

    /// The host muted a shopper (already recorded in the database).
    pub async fn mute(&self, db: &Db, session_id: SessionId, shopper_id: ShopperId) -> Result<()> {
        match &self.backplane {
            Some(bp) => bp.mute(session_id, shopper_id).await,
            None => {
                self.room(db, session_id).await?.mute(shopper_id);
                Ok(())
            }
        }
    }

    pub async fn is_muted(
        &self,
        db: &Db,
        session_id: SessionId,
        shopper_id: ShopperId,
    ) -> Result<bool> {
        match &self.backplane {
            Some(bp) => {
                // Make sure the shared set was seeded from the database on this node or another.
                self.room(db, session_id).await?;
                bp.is_muted(session_id, shopper_id).await
            }
            None => Ok(self.room(db, session_id).await?.is_muted(shopper_id)),
        }
    }

    /// A viewer's stream is open (distributed mode): other nodes can tell it is in the room
    /// ([`Hub::in_room`]) for [`PRESENCE_TTL`]; the stream renews this at each heartbeat.
    pub async fn mark_present(&self, session_id: SessionId, shopper_id: ShopperId) -> Result<()> {
        match &self.backplane {
            Some(bp) => {
                bp.set_with_ttl(&presence_key(session_id, shopper_id), "1", PRESENCE_TTL)
                    .await
            }
            None => Ok(()),
        }
    }

    /// Whether the shopper is watching the session's room now (on any node).
    pub async fn in_room(
        &self,
        db: &Db,
        session_id: SessionId,
        shopper_id: ShopperId,
    ) -> Result<bool> {
        if self.room(db, session_id).await?.watching(shopper_id) {
            return Ok(true);
        }
        match &self.backplane {
            Some(bp) => Ok(bp
                .get_with_ttl(&presence_key(session_id, shopper_id))
                .await?
                .is_some()),
            None => Ok(false),
        }
    }

    /// The session's open lucky draw, as this node's room knows it (its events reach every
    /// node's room; a room opened later reads it from the database).
    pub async fn open_draw(
        &self,
        db: &Db,
        session_id: SessionId,
    ) -> Result<Option<crate::model::DrawCard>> {
        Ok(self.room(db, session_id).await?.open_draw())
    }

    /// Viewers watching now (every node's, in distributed mode); `None` when nobody opened
    /// the room.
    pub async fn viewers(&self, session_id: SessionId) -> Result<Option<i64>> {
        match &self.backplane {
            Some(bp) => bp.viewers(session_id).await.map(Some),
            None => Ok(self.get(session_id).map(|r| r.viewers())),
        }
    }
}

/// How long a stream's presence mark lasts without renewal (heartbeats come every 15 s).
pub const PRESENCE_TTL: Duration = Duration::from_secs(40);

fn presence_key(session_id: SessionId, shopper_id: ShopperId) -> String {
    format!("here:{session_id}:{shopper_id}")
}

/// For news sent after a change was committed (stock after an order, a friend joined): the
/// change stands even when the live rooms cannot be told (Redis down); the failure is logged.
pub fn told(result: Result<()>) {
    if let Err(e) = result {
        tracing::warn!(error = %e, "live rooms could not be told");
    }
}

/// Counts a running ticker for as long as it runs.
pub(super) struct TickerCount(Arc<AtomicUsize>);

impl Drop for TickerCount {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Publishes coalesced counters, and drops the room from the hub when nobody needs it.
pub(super) fn spawn_ticker(
    room: Weak<Room>,
    rooms: Weak<Rooms>,
    tickers: Arc<AtomicUsize>,
    backplane: Option<Arc<RedisBackplane>>,
) {
    tickers.fetch_add(1, Ordering::SeqCst);
    let count = TickerCount(tickers);
    tokio::spawn(async move {
        let _count = count;
        let mut every = tokio::time::interval(Duration::from_millis(1000 / TICKS_PER_SEC));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            every.tick().await;
            let Some(room) = room.upgrade() else { break };
            match &backplane {
                None => room.tick(),
                Some(bp) if bp.up() => {
                    if let Err(e) = room.tick_shared(bp).await {
                        tracing::debug!(session = %room.session_id, error = %e, "shared tick failed");
                    }
                }
                Some(_) => {}
            }
            if room.unneeded() {
                let Some(rooms) = rooms.upgrade() else { break };
                if room.close(&rooms) {
                    break;
                }
            }
        }
    });
}

pub(super) async fn load_room_facts(db: &Db, session_id: SessionId) -> Result<RoomFacts> {
    let status = repo::shopping::session_status(db, session_id).await?;
    let current = repo::shopping::current_product(db, session_id).await?;
    let products = repo::live::room_products(db, session_id).await?;
    let policy = repo::shopping::policy(db, session_id).await?;
    let presenting = current.and_then(|c| {
        products.iter().find(|p| p.id == c).map(|p| Presenting {
            product_id: p.id,
            name: p.name.clone(),
            image_url: p.image_url.clone(),
            pricing: LivePrice::new(Fen(p.price_fen), &policy),
        })
    });
    Ok(RoomFacts {
        status,
        presenting,
        stock: repo::live::stock_of(&products),
        pinned: repo::live::pinned(db, session_id).await?,
        draw: crate::draws::latest_card(db, session_id).await?,
    })
}
