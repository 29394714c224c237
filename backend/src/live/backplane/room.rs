//! A room's shared counters in Redis: viewers per node, likes, stock and "just bought", the
//! counter lease's tick, chat admission and mutes, personal notices.

use super::*;
use crate::error::Result;
use shop_core::ids::{ProductId, SessionId, ShopperId};

impl RedisBackplane {
    /// Reports this node's viewers of a room.
    pub async fn report_viewers(&self, session_id: SessionId, viewers: i64) -> Result<()> {
        let value = format!("{}:{}", viewers.max(0), crate::now_ms());
        let _: () = self
            .conn()
            .hset(room_key(session_id, "viewers"), &self.node, value)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Viewers of a room on every live node.
    pub async fn viewers(&self, session_id: SessionId) -> Result<i64> {
        let all: std::collections::HashMap<String, String> = self
            .conn()
            .hgetall(room_key(session_id, "viewers"))
            .await
            .map_err(unavailable)?;
        let now = crate::now_ms();
        Ok(all
            .values()
            .filter_map(|v| {
                let (count, at) = v.split_once(':')?;
                let at: i64 = at.parse().ok()?;
                (now - at <= NODE_REPORT_TTL_MS).then(|| count.parse::<i64>().ok())?
            })
            .sum())
    }

    pub async fn like(&self, session_id: SessionId, n: u64) -> Result<u64> {
        self.conn()
            .incr(room_key(session_id, "likes"), n)
            .await
            .map_err(unavailable)
    }

    pub async fn set_stock(
        &self,
        session_id: SessionId,
        product_id: ProductId,
        stock: i64,
    ) -> Result<()> {
        let _: () = self
            .stock
            .key(room_key(session_id, "stock"))
            .key(room_key(session_id, "dirty"))
            .arg(product_id.get())
            .arg(stock)
            .arg(ROOM_TTL_SECS)
            .invoke_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// `count` purchases, the latest by `buyer` (masked) of `product`.
    pub async fn purchased(
        &self,
        session_id: SessionId,
        buyer: &str,
        product: &str,
        count: u64,
    ) -> Result<()> {
        let key = room_key(session_id, "purchase");
        let mut c = self.conn();
        let _: () = redis::pipe()
            .hset(&key, "buyer", buyer)
            .hset(&key, "product", product)
            .hincr(&key, "more", count)
            .query_async(&mut c)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Holds (or takes) the room's counter lease and collects what changed; `None` when
    /// another node holds it.
    pub async fn tick(&self, session_id: SessionId) -> Result<Option<Tick>> {
        let reply: Vec<redis::Value> = self
            .tick
            .key(room_key(session_id, "lease"))
            .key(room_key(session_id, "viewers"))
            .key(room_key(session_id, "likes"))
            .key(room_key(session_id, "dirty"))
            .key(room_key(session_id, "stock"))
            .key(room_key(session_id, "purchase"))
            .arg(&self.node)
            .arg(LEASE_MS)
            .arg(crate::now_ms())
            .arg(NODE_REPORT_TTL_MS)
            .invoke_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        let int = |v: Option<&redis::Value>| -> i64 {
            v.and_then(|v| redis::from_redis_value::<i64>(v.clone()).ok())
                .unwrap_or(0)
        };
        if int(reply.first()) != 1 {
            return Ok(None);
        }
        let stock: Vec<String> = reply
            .get(3)
            .and_then(|v| redis::from_redis_value(v.clone()).ok())
            .unwrap_or_default();
        let stock = stock
            .chunks(2)
            .filter_map(|p| Some([p.first()?.parse().ok()?, p.get(1)?.parse().ok()?]))
            .collect();
        let text = |i: usize| -> String {
            reply
                .get(i)
                .and_then(|v| redis::from_redis_value::<String>(v.clone()).ok())
                .unwrap_or_default()
        };
        let (buyer, product) = (text(4), text(5));
        let more = u64::try_from(int(reply.get(6))).unwrap_or(0);
        Ok(Some(Tick {
            viewers: int(reply.get(1)),
            likes: u64::try_from(int(reply.get(2))).unwrap_or(0),
            stock,
            purchase: (!buyer.is_empty()).then(|| (buyer, product, more.saturating_sub(1))),
        }))
    }

    /// A chat message's id and whether the room's shared sample lets it through.
    pub async fn admit_chat(
        &self,
        session_id: SessionId,
        per_sec: f64,
        host: bool,
    ) -> Result<(u64, bool)> {
        let (id, pass): (u64, i64) = self
            .chat
            .key(room_key(session_id, "chatbucket"))
            .key(room_key(session_id, "chatid"))
            .arg(per_sec)
            .arg(crate::now_ms())
            .arg(if host { "1" } else { "0" })
            .arg(ROOM_TTL_SECS)
            .invoke_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        Ok((id, pass == 1))
    }

    pub async fn mute(&self, session_id: SessionId, shopper_id: ShopperId) -> Result<()> {
        let _: () = self
            .conn()
            .sadd(room_key(session_id, "muted"), shopper_id.get())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    pub async fn is_muted(&self, session_id: SessionId, shopper_id: ShopperId) -> Result<bool> {
        self.conn()
            .sismember(room_key(session_id, "muted"), shopper_id.get())
            .await
            .map_err(unavailable)
    }

    /// Tells the node holding this shopper's stream that their state changed.
    pub async fn notify_shopper(&self, session_id: SessionId, shopper_id: ShopperId) -> Result<()> {
        let _: () = self
            .conn()
            .publish(PERSONAL, format!("{session_id}:{shopper_id}"))
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
