//! The flash-sale gate with several nodes: one Redis Lua script admits an order atomically
//! (stock, the shopper's purchase limit, their discounted units, the idempotency key), so
//! every node sees the same stock; the node's batch writer then persists admitted orders in
//! PostgreSQL (`buying::sale`). The database stays the truth: a session's state is loaded into
//! Redis from it when missing (after a Redis restart, when the studio changed the session),
//! under a short lock so one node loads it; the batch writer refuses to write past the stock
//! or a shopper's limits whatever Redis said (a state loaded while orders were still on their
//! way to the database could be behind).
//!
//! Keys, all tagged `{s:SESSION}` so one script may touch them (Redis Cluster slots):
//! `loaded` (marker: a random token new with each load), `stock` and `pdisc` (hashes by product: units left, discounted units
//! sold), `units` and `sdisc` (hashes by `product:shopper`), `keys` (hash by `shopper:key`:
//! `requesthash|orderid`, or `requesthash|~admitted_at_ms` while its batch is on its way).
//!
//! A node that dies between admission and commit leaves such a pending key (and its units
//! taken) behind: a retry that finds one older than [`PENDING_LOST_MS`] forgets the session's
//! state, which is then loaded again from the database (where that order is not). Every node
//! forgets all loaded states when it starts, so a cluster restarted on a Redis that kept its
//! data reconciles from the database.

use crate::error::{Error, Result};
use shop_core::ids::{OrderId, ProductId, SessionId, ShopperId};
use std::sync::Arc;

use redis::{AsyncCommands, Script, Value};

use crate::{
    db::Db,
    live::backplane::RedisBackplane,
    redis_batch::ScriptBatcher,
    repo::orders::{self as repo, NewOrder},
};

/// A key pending longer than this lost its order (the node that admitted it died).
pub const PENDING_LOST_MS: i64 = 30_000;

/// How long a loaded session's keys live without a reload (a day after the last load, twice).
const TTL_SECS: i64 = 2 * 86_400;

/// The first look: an order with this key already, or the stock and the state's load token
/// (no change made to the sale). First, unless ARGV[3] is 0, it takes a token from the
/// shopper's order rate-limit bucket KEYS[4] (as `backplane`'s limit script does: ARGV[3]
/// tokens per ARGV[4] ms, ARGV[5] now), so an order costs one round trip less.
const PEEK: &str = concat!(
    "local burst = tonumber(ARGV[3])
if burst > 0 then
local bucket = KEYS[4]
local period = tonumber(ARGV[4])
local now = tonumber(ARGV[5])
",
    crate::live::backplane::token_bucket_lua!(),
    "if not ok then return {4} end
end
local token = redis.call('GET', KEYS[1])
if not token then return {1} end
local prior = redis.call('HGET', KEYS[3], ARGV[2])
if prior then return {2, prior} end
local stock = redis.call('HGET', KEYS[2], ARGV[1])
if not stock then return {3, -1, token} end
return {3, tonumber(stock), token}
"
);

/// Admission: KEYS loaded, stock, pdisc, units, sdisc, keys; ARGV product, shopper key
/// field, counter field, request hash, quantity, purchase limit, discounted units this shopper
/// may have (0: not eligible), cap on discounted units of the product (-1: none), the time
/// (ms, kept with the key while its batch is on its way), the variant's stock field ('' for a
/// product without variants: its units come out of the product's and the variant's stock).
/// The discounted units are worked out as `domain::discount::quote_line` does.
const ADMIT: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return {1} end
local prior = redis.call('HGET', KEYS[6], ARGV[2])
if prior then return {2, prior} end
local stock = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '-1')
local qty = tonumber(ARGV[5])
if stock < qty then return {3, stock} end
if ARGV[10] ~= '' then
  local vstock = tonumber(redis.call('HGET', KEYS[2], ARGV[10]) or '-1')
  if vstock < qty then return {3, vstock} end
end
local units = tonumber(redis.call('HGET', KEYS[4], ARGV[3]) or '0')
if units + qty > tonumber(ARGV[6]) then return {4} end
local sdisc = tonumber(redis.call('HGET', KEYS[5], ARGV[3]) or '0')
local pdisc = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0')
local d = 0
local allow = tonumber(ARGV[7])
if allow > 0 then
  d = math.min(qty, math.max(allow - sdisc, 0))
  local cap = tonumber(ARGV[8])
  if cap >= 0 then d = math.min(d, math.max(cap - pdisc, 0)) end
end
redis.call('HINCRBY', KEYS[2], ARGV[1], -qty)
if ARGV[10] ~= '' then redis.call('HINCRBY', KEYS[2], ARGV[10], -qty) end
redis.call('HINCRBY', KEYS[4], ARGV[3], qty)
if d > 0 then
  redis.call('HINCRBY', KEYS[5], ARGV[3], d)
  redis.call('HINCRBY', KEYS[3], ARGV[1], d)
end
redis.call('HSET', KEYS[6], ARGV[2], ARGV[4] .. '|~' .. ARGV[9])
return {0, stock - qty, sdisc, pdisc, d}
";

/// Gives units and discounted units back (an admitted order not written, a released order):
/// KEYS loaded, stock, pdisc, units, sdisc, keys; ARGV product, counter field, units,
/// discounted, key field to forget ('' keeps the key), variant stock field (''). Nothing
/// when the state is not loaded (the next load reads the database).
const GIVE_BACK: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local qty = tonumber(ARGV[3])
local d = tonumber(ARGV[4])
redis.call('HINCRBY', KEYS[2], ARGV[1], qty)
if ARGV[6] ~= '' then redis.call('HINCRBY', KEYS[2], ARGV[6], qty) end
redis.call('HINCRBY', KEYS[4], ARGV[2], -qty)
if d > 0 then
  redis.call('HINCRBY', KEYS[5], ARGV[2], -d)
  redis.call('HINCRBY', KEYS[3], ARGV[1], -d)
end
if ARGV[5] ~= '' then redis.call('HDEL', KEYS[6], ARGV[5]) end
return 1
";

/// What the first look found.
pub enum Peek {
    /// The session's state is not in Redis: load it.
    Unloaded,
    /// An order with this key: `requesthash|orderid`.
    Existing(String),
    /// The shopper's order rate limit refused it.
    Limited,
    /// Units left (-1: no such product in the session), and the token of the load the state
    /// came from: new with every load, and the state is forgotten (then loaded again) after
    /// every change the studio makes, so facts read while it stays the same are current.
    Stock(i64, String),
}

/// What admission decided.
pub enum Admit {
    Unloaded,
    Existing(String),
    Stock(i64),
    Limit,
    Admitted {
        stock_after: i64,
        shopper_discounted: i64,
        product_discounted: i64,
        discounted: i64,
    },
}

pub struct RedisGate {
    bp: Arc<RedisBackplane>,
    /// The first look and admission go in batches (one round trip for all the requests
    /// waiting): in a rush they are most of what a node asks Redis.
    peek: ScriptBatcher,
    admit: ScriptBatcher,
    give_back: Script,
}

struct Keys {
    /// The hash tag they share (a batch of script calls stays in one slot).
    group: String,
    loaded: String,
    stock: String,
    pdisc: String,
    units: String,
    sdisc: String,
    keys: String,
    lock: String,
}

fn keys(session_id: SessionId) -> Keys {
    let k = |what: &str| format!("{{s:{session_id}}}:{what}");
    Keys {
        group: format!("s:{session_id}"),
        loaded: k("loaded"),
        stock: k("stock"),
        pdisc: k("pdisc"),
        units: k("units"),
        sdisc: k("sdisc"),
        keys: k("keys"),
        lock: k("lock"),
    }
}

/// A script invocation with the session's six state keys, in the order the scripts name them.
fn with_state_keys<'a>(script: &'a Script, k: &Keys) -> redis::ScriptInvocation<'a> {
    let mut call = script.key(&k.loaded);
    for key in [&k.stock, &k.pdisc, &k.units, &k.sdisc, &k.keys] {
        call.key(key);
    }
    call
}

/// A variant's field in the `stock` hash (beside the products', which are plain ids).
fn variant_field(variant_id: Option<i64>) -> String {
    variant_id.map_or(String::new(), |v| format!("v{v}"))
}

pub fn key_field(shopper_id: ShopperId, key: &str) -> String {
    format!("{shopper_id}:{key}")
}

fn counter_field(product_id: ProductId, shopper_id: ShopperId) -> String {
    format!("{product_id}:{shopper_id}")
}

fn unavailable(e: redis::RedisError) -> Error {
    Error::unavailable("redis (sale)", e)
}

fn int(v: Option<&Value>) -> i64 {
    match v {
        Some(Value::Int(n)) => *n,
        Some(Value::BulkString(b)) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
        _ => 0,
    }
}

fn text(v: Option<&Value>) -> String {
    match v {
        Some(Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
        Some(Value::SimpleString(s)) => s.clone(),
        _ => String::new(),
    }
}

impl RedisGate {
    pub fn new(bp: Arc<RedisBackplane>) -> RedisGate {
        RedisGate {
            peek: ScriptBatcher::new(bp.sale_conn(), PEEK),
            admit: ScriptBatcher::new(bp.sale_conn(), ADMIT),
            bp,
            give_back: Script::new(GIVE_BACK),
        }
    }

    /// The first look; `limit` takes a token from the shopper's order bucket first (its size
    /// and refill period), as `RateLimiter::check` would.
    pub async fn peek(
        &self,
        session_id: SessionId,
        product_id: ProductId,
        shopper_id: ShopperId,
        key_field: &str,
        limit: Option<(u32, std::time::Duration)>,
    ) -> Result<Peek> {
        let k = keys(session_id);
        let (burst, period) = limit.unwrap_or((0, std::time::Duration::ZERO));
        let v: Vec<Value> = self
            .peek
            .call(
                k.group,
                vec![
                    k.loaded,
                    k.stock,
                    k.keys,
                    format!("{{s:{session_id}}}:rl:Order:{shopper_id}"),
                ],
                vec![
                    product_id.to_string(),
                    key_field.to_string(),
                    burst.to_string(),
                    (period.as_millis().max(1) as u64).to_string(),
                    crate::now_ms().to_string(),
                ],
            )
            .await
            .map_err(unavailable)?;
        Ok(match int(v.first()) {
            1 => Peek::Unloaded,
            2 => Peek::Existing(text(v.get(1))),
            4 => Peek::Limited,
            _ => Peek::Stock(int(v.get(1)), text(v.get(2))),
        })
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn admit(
        &self,
        session_id: SessionId,
        (product_id, variant_id): (ProductId, Option<i64>),
        shopper_id: ShopperId,
        key_field: &str,
        request_hash: &str,
        quantity: i64,
        purchase_limit: i64,
        allowance: i64,
        cap: i64,
    ) -> Result<Admit> {
        let k = keys(session_id);
        let v: Vec<Value> = self
            .admit
            .call(
                k.group,
                vec![k.loaded, k.stock, k.pdisc, k.units, k.sdisc, k.keys],
                vec![
                    product_id.to_string(),
                    key_field.to_string(),
                    counter_field(product_id, shopper_id),
                    request_hash.to_string(),
                    quantity.to_string(),
                    purchase_limit.to_string(),
                    allowance.to_string(),
                    cap.to_string(),
                    crate::now_ms().to_string(),
                    variant_field(variant_id),
                ],
            )
            .await
            .map_err(unavailable)?;
        Ok(match int(v.first()) {
            1 => Admit::Unloaded,
            2 => Admit::Existing(text(v.get(1))),
            3 => Admit::Stock(int(v.get(1))),
            4 => Admit::Limit,
            _ => Admit::Admitted {
                stock_after: int(v.get(1)),
                shopper_discounted: int(v.get(2)),
                product_discounted: int(v.get(3)),
                discounted: int(v.get(4)),
            },
        })
    }

    /// Gives an admitted order's units back; `forget_key` also forgets its key (an order that
    /// was never written).
    pub async fn give_back(
        &self,
        session_id: SessionId,
        (product_id, variant_id): (ProductId, Option<i64>),
        shopper_id: ShopperId,
        units: i64,
        discounted: i64,
        forget_key: Option<&str>,
    ) -> Result<()> {
        let k = keys(session_id);
        let _: i64 = with_state_keys(&self.give_back, &k)
            .arg(product_id.get())
            .arg(counter_field(product_id, shopper_id))
            .arg(units)
            .arg(discounted)
            .arg(forget_key.unwrap_or(""))
            .arg(variant_field(variant_id))
            .invoke_async(&mut self.bp.sale_conn())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// An admitted order that will not be written.
    pub async fn undo(&self, o: &NewOrder) -> Result<()> {
        self.give_back(
            o.session_id,
            (o.product_id, o.variant.as_ref().map(|v| v.0)),
            o.shopper_id,
            i64::from(o.quote.quantity),
            i64::from(o.quote.discounted_units),
            Some(&key_field(o.shopper_id, &o.key)),
        )
        .await
    }

    /// Written orders: their keys now name them (one round trip for the batch).
    pub async fn committed(&self, orders: &[(&NewOrder, OrderId)]) -> Result<()> {
        if orders.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for (o, id) in orders {
            pipe.hset(
                keys(o.session_id).keys,
                key_field(o.shopper_id, &o.key),
                format!("{}|{id}", o.request_hash),
            )
            .ignore();
        }
        Ok(pipe
            .query_async::<()>(&mut self.bp.sale_conn())
            .await
            .map_err(unavailable)?)
    }

    /// Loads the session's state from the database unless another node is loading it (then
    /// `false`: look again shortly).
    pub async fn load(&self, db: &Db, session_id: SessionId) -> Result<bool> {
        let k = keys(session_id);
        let token: String = crate::crypto::random_bytes::<12>()?
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let mut conn = self.bp.sale_conn();
        let got: Option<String> = redis::cmd("SET")
            .arg(&k.lock)
            .arg(&self.bp.node)
            .arg("NX")
            .arg("PX")
            .arg(10_000)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        if got.is_none() {
            return Ok(false);
        }
        let snap = match repo::sale_snapshot(db, session_id).await {
            Ok(s) => s,
            Err(e) => {
                let _: Result<(), _> = conn.del(&k.lock).await;
                return Err(e);
            }
        };
        let mut pipe = redis::pipe();
        pipe.atomic();
        pipe.del(&[&k.loaded, &k.stock, &k.pdisc, &k.units, &k.sdisc, &k.keys])
            .ignore();
        let mut stock = Vec::new();
        let mut pdisc = Vec::new();
        for (id, _, left, _, discounted, ..) in &snap.products {
            stock.push((id.to_string(), *left));
            pdisc.push((id.to_string(), *discounted));
        }
        for (id, _, _, _, left) in &snap.variants {
            stock.push((variant_field(Some(*id)), *left));
        }
        let units: Vec<(String, i64)> = snap
            .counters
            .iter()
            .map(|(p, s, u, _)| (counter_field(*p, *s), *u))
            .collect();
        let sdisc: Vec<(String, i64)> = snap
            .counters
            .iter()
            .map(|(p, s, _, d)| (counter_field(*p, *s), *d))
            .collect();
        let keyed: Vec<(String, String)> = snap
            .keys
            .iter()
            .map(|(shopper, key, hash, id)| (key_field(*shopper, key), format!("{hash}|{id}")))
            .collect();
        for chunk in stock.chunks(1000) {
            pipe.hset_multiple(&k.stock, chunk).ignore();
        }
        for chunk in pdisc.chunks(1000) {
            pipe.hset_multiple(&k.pdisc, chunk).ignore();
        }
        for chunk in units.chunks(1000) {
            pipe.hset_multiple(&k.units, chunk).ignore();
        }
        for chunk in sdisc.chunks(1000) {
            pipe.hset_multiple(&k.sdisc, chunk).ignore();
        }
        for chunk in keyed.chunks(1000) {
            pipe.hset_multiple(&k.keys, chunk).ignore();
        }
        for key in [&k.stock, &k.pdisc, &k.units, &k.sdisc, &k.keys] {
            pipe.expire(key, TTL_SECS).ignore();
        }
        pipe.set_ex(&k.loaded, token, TTL_SECS as u64).ignore();
        pipe.del(&k.lock).ignore();
        pipe.query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(true)
    }

    /// Forgets every loaded session's state (at start-up): orders load it from the database.
    pub async fn forget_all(&self) -> Result<usize> {
        let mut conn = self.bp.sale_conn();
        let mut cursor: u64 = 0;
        let mut forgotten = 0;
        loop {
            let (next, found): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg("{s:*}:loaded")
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await
                .map_err(unavailable)?;
            if !found.is_empty() {
                forgotten += found.len();
                conn.del::<_, ()>(&found).await.map_err(unavailable)?;
            }
            if next == 0 {
                return Ok(forgotten);
            }
            cursor = next;
        }
    }

    /// Forgets the session's state (the studio changed it): the next order loads it again.
    pub async fn forget(&self, session_id: SessionId) -> Result<()> {
        let k = keys(session_id);
        Ok(self
            .bp
            .sale_conn()
            .del::<_, ()>(&[&k.loaded, &k.stock, &k.pdisc, &k.units, &k.sdisc, &k.keys])
            .await
            .map_err(unavailable)?)
    }
}
