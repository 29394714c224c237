//! Distributed mode (a Redis backplane): opening a room from what Redis holds, reading the
//! rooms' streams back, personal notices, and this node's order news and viewer counts sent
//! once a tick.

use super::*;
use crate::error::Result;
use shop_core::ids::SessionId;

/// A distributed room: numbered from its Redis stream, whose recent events become its
/// history, with the database's facts and the shared counters.
pub(super) async fn open_shared(
    bp: &RedisBackplane,
    db: &Db,
    session_id: SessionId,
    metrics: Arc<Metrics>,
) -> Result<Room> {
    // The number first: whatever is published after it reaches the room through the reader
    // and applies on top of the facts read below.
    let last = bp.last_seq(session_id).await?;
    let recent = if last > 0 {
        bp.range(session_id, last.saturating_sub(HISTORY as u64 - 1), last)
            .await?
    } else {
        Vec::new()
    };
    let facts = load_room_facts(db, session_id).await?;
    let muted = repo::live::muted(db, session_id).await?;
    bp.seed_mutes(session_id, &muted).await?;
    let viewers = bp.viewers(session_id).await?;
    let likes = bp.likes(session_id).await?;
    let room = Room::new(session_id, facts, muted, last, true, metrics);
    room.preload(recent, viewers, likes);
    Ok(room)
}

/// Distributed mode: starts a room again from Redis's current number and the database.
pub(super) async fn reset_shared(bp: &RedisBackplane, db: &Db, room: &Room) -> Result<()> {
    let seq = bp.last_seq(room.session_id).await?;
    let facts = load_room_facts(db, room.session_id).await?;
    let muted = repo::live::muted(db, room.session_id).await?;
    bp.seed_mutes(room.session_id, &muted).await?;
    room.reset(seq, facts);
    Ok(())
}

/// The node's stream reader: one blocking `XREAD` over the streams of every open room, each
/// from the last number its room delivered. A number skipped is fetched from the stream; if
/// the stream no longer has it, the room is reset. While Redis is down, every open stream is
/// ended (browsers show "Reconnecting…"); when it is back, every room is reset.
pub(super) async fn read_streams(hub: Weak<Hub>, bp: Arc<RedisBackplane>, db: Db) {
    let mut conn = None;
    // Whether the open rooms are known to be in step with Redis (the hub lets viewers in only
    // then).
    let mut in_step = true;
    let out_of_step = match hub.upgrade() {
        Some(h) => h.out_of_step.clone(),
        None => return,
    };
    loop {
        let Some(h) = hub.upgrade() else { break };
        let rooms = h.open_rooms();
        drop(h);
        if !bp.up() {
            if in_step {
                tracing::warn!(rooms = rooms.len(), "redis down: ending live streams");
                for r in &rooms {
                    r.kick_all();
                }
                in_step = false;
                out_of_step.store(!in_step, Ordering::SeqCst);
            }
            conn = None;
            tokio::time::sleep(Duration::from_millis(250)).await;
            continue;
        }
        if !in_step {
            let mut all = true;
            for r in &rooms {
                if let Err(e) = reset_shared(&bp, &db, r).await {
                    tracing::warn!(session = %r.session_id, error = %e, "room reset failed");
                    all = false;
                }
            }
            in_step = all;
            out_of_step.store(!in_step, Ordering::SeqCst);
            if !all {
                tokio::time::sleep(Duration::from_millis(250)).await;
                continue;
            }
            tracing::info!(rooms = rooms.len(), "redis back: live rooms reset");
        }
        if rooms.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        let c = match conn.take() {
            Some(c) => c,
            None => match bp.reader().await {
                Ok(c) => c,
                Err(_) => {
                    in_step = false;
                    out_of_step.store(!in_step, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    continue;
                }
            },
        };
        let cursors: Vec<(SessionId, u64)> =
            rooms.iter().map(|r| (r.session_id, r.last_seq())).collect();
        match bp.read(c.clone(), &cursors).await {
            Ok(batches) => {
                conn = Some(c);
                for (session_id, entries) in batches {
                    let Some(room) = rooms.iter().find(|r| r.session_id == session_id) else {
                        continue;
                    };
                    if let Err(e) = deliver_batch(&bp, &db, room, entries).await {
                        tracing::warn!(%session_id, error = %e, "live room could not catch up");
                        in_step = false;
                        out_of_step.store(!in_step, Ordering::SeqCst);
                    }
                }
            }
            Err(e) => {
                // The connection broke (Redis restarted?): rooms are reset once it answers.
                tracing::warn!(error = %e, "reading live streams failed");
                in_step = false;
                out_of_step.store(!in_step, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    }
}

/// Delivers entries read from a room's stream in order, filling a gap first.
pub(super) async fn deliver_batch(
    bp: &RedisBackplane,
    db: &Db,
    room: &Room,
    entries: Vec<(u64, i64, LiveEvent)>,
) -> Result<()> {
    for (seq, ts, event) in entries {
        let last = room.last_seq();
        if seq <= last {
            continue;
        }
        if seq > last + 1 && last > 0 {
            let missing = bp.range(room.session_id, last + 1, seq - 1).await?;
            let whole = missing.len() as u64 == seq - 1 - last
                && missing.first().is_some_and(|e| e.0 == last + 1);
            if whole {
                for (s, t, e) in missing {
                    room.deliver(s, t, e);
                }
            } else {
                tracing::warn!(
                    session = %room.session_id,
                    last,
                    seq,
                    "events lost; resetting the room"
                );
                let facts = load_room_facts(db, room.session_id).await?;
                room.reset(seq - 1, facts);
            }
        }
        room.deliver(seq, ts, event);
    }
    Ok(())
}

/// Personal hints ("your state changed") published by any node reach the stream of that
/// shopper on this one.
pub(super) async fn listen_personal(hub: Weak<Hub>, bp: Arc<RedisBackplane>) {
    use futures_util::StreamExt;
    while hub.strong_count() > 0 {
        let mut messages = match bp.personal_hints().await {
            Ok(m) => m,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        while let Some(msg) = messages.next().await {
            let Some(h) = hub.upgrade() else { return };
            let Ok(payload) = msg.get_payload::<String>() else {
                continue;
            };
            let Some((session, shopper)) = payload.split_once(':') else {
                continue;
            };
            if let (Ok(session), Ok(shopper)) = (session.parse::<i64>(), shopper.parse::<i64>()) {
                h.with_room(SessionId(session), |r| r.notify_shopper(ShopperId(shopper)));
            }
        }
    }
}

pub(super) fn lock_news(news: &Mutex<News>) -> std::sync::MutexGuard<'_, News> {
    news.lock().unwrap_or_else(|p| p.into_inner())
}

/// Distributed mode: sends this node's stock and purchase news to Redis once a tick, for as
/// long as the hub lives. In a rush that is a few Redis calls a second per node instead of
/// two per order; the room's counter lease holder publishes them with its next tick. News
/// gathered while Redis is down is dropped (the next order's news replaces it).
pub(super) async fn flush_news(news: Weak<Mutex<News>>, bp: Arc<RedisBackplane>) {
    let mut every = tokio::time::interval(Duration::from_millis(1000 / TICKS_PER_SEC));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        every.tick().await;
        let Some(news) = news.upgrade() else { return };
        let taken = std::mem::take(&mut *lock_news(&news));
        drop(news);
        if !bp.up() {
            continue;
        }
        for ((session_id, product_id), stock) in taken.stock {
            told(bp.set_stock(session_id, product_id, stock).await);
        }
        for (session_id, (buyer, product, count)) in taken.purchases {
            told(bp.purchased(session_id, &buyer, &product, count).await);
        }
    }
}

impl Room {
    /// Distributed mode, each tick: reports this node's viewers, and if this node holds the
    /// room's counter lease, publishes the "just bought" line and the counters summed over
    /// every node.
    pub(super) async fn tick_shared(&self, bp: &RedisBackplane) -> Result<()> {
        bp.report_viewers(self.session_id, self.viewers()).await?;
        let Some(tick) = bp.tick(self.session_id).await? else {
            return Ok(());
        };
        if let Some((buyer, product, more)) = tick.purchase {
            let event = LiveEvent::Purchase {
                seq: 0,
                buyer,
                product,
                more,
            };
            bp.publish(self.session_id, &event, now_us()).await?;
        }
        let (viewers, likes) = {
            let st = self.lock();
            (st.sent_viewers, st.sent_likes)
        };
        if tick.viewers != viewers || tick.likes != likes || !tick.stock.is_empty() {
            let event = LiveEvent::Counters {
                seq: 0,
                viewers: tick.viewers,
                likes: tick.likes,
                stock: tick.stock,
            };
            bp.publish(self.session_id, &event, now_us()).await?;
            // Noted now, not when the event comes back from the stream: under load that can
            // take longer than a tick, and every tick would publish the same figures again.
            let mut st = self.lock();
            st.sent_viewers = tick.viewers;
            st.sent_likes = tick.likes;
        }
        Ok(())
    }
}
