//! Distributed mode (`REDIS_URL`): what live rooms, counters and limits share between server
//! nodes, in Redis. Without it the server is one process and none of this runs.
//!
//! - **Events.** A room's events are numbered and appended in one Lua script (`INCR` the
//!   room's counter, `XADD` to the room's stream with that number as the entry id, bounded
//!   length), so every node sees the same event under the same number and in order. Each node
//!   reads the streams of the rooms it has open (one `XREAD` for all of them) and delivers the
//!   entries to its own viewers; a number skipped is fetched with `XRANGE` (or, when trimmed
//!   away, the room resyncs its viewers with a snapshot). A viewer resuming on another node is
//!   served the missed entries from the stream.
//! - **Counters.** Each node reports its viewers per room (with a time, so a dead node drops
//!   out); likes, stock and "just bought" are kept in Redis; one node per room (a lease,
//!   renewed every tick) turns them into the room's `counters` and `purchase` events.
//! - **Chat.** The sampling bucket and message ids are shared (Lua); mutes are a Redis set.
//! - **Personal hints** go over Redis pub/sub to the node that holds the viewer.
//! - **Rate limits** are token buckets in Redis (Lua), failing closed.
//!
//! While Redis is unreachable, `up()` is false: orders, chat and likes answer 503 with
//! `Retry-After`, limits refuse, event streams end (browsers show "Reconnecting…" and come
//! back to a snapshot). The connection manager reconnects by itself.

mod room;

use crate::error::{Error, Result, ResultExt};
use shop_core::ids::{SessionId, ShopperId};
use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use redis::{
    aio::{ConnectionManager, MultiplexedConnection},
    streams::{StreamReadOptions, StreamReadReply},
    AsyncCommands, Script,
};

use crate::{error::AppError, model::LiveEvent};

/// Entries kept per room stream (about `MAXLEN ~`): what a reconnecting viewer can resume.
pub const STREAM_LEN: usize = 10_000;
/// Keys of a room expire this long after its last event (ended sessions clean themselves up).
const ROOM_TTL_SECS: i64 = 24 * 3600;
/// A node's viewer report older than this no longer counts (the node is gone).
pub const NODE_REPORT_TTL_MS: i64 = 5_000;
/// How long one read of the room streams waits for new entries.
pub const READ_BLOCK: Duration = Duration::from_millis(500);
/// How long one command may take before it fails (the crate's default is 500 ms).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(3);
/// A PING not answered within this long is slow...
const PING_TIMEOUT: Duration = Duration::from_secs(2);
/// ...and this many slow ones in a row mean Redis is down (about 30 s). Slow answers usually
/// mean this node's own cores are saturated: ending its streams then would bring every viewer
/// back at once. A refused or broken connection counts at once.
const SLOW_PINGS_DOWN: u32 = 10;
/// Entries one read takes per stream, at most.
const READ_COUNT: usize = 1000;
/// The pub/sub channel of personal hints.
const PERSONAL: &str = "live:me";
/// Pub/sub channel: a shopper's nickname changed (`shopper id`), for every node's cache.
const NICKNAMES: &str = "shoppers:nickname";
/// How long a room's counter lease lasts without renewal.
const LEASE_MS: i64 = 1_500;

const PUBLISH: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SET', KEYS[1], ARGV[3]) end
local seq = redis.call('INCR', KEYS[1])
-- (%d: Lua would write a number this large as 1.79e+15)
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], string.format('%d-0', seq), 'e', ARGV[1], 't', ARGV[5])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return seq
"#;

/// Shared chat sampling: a token bucket of `ARGV[1]` per second (burst the same), hosts
/// always pass; returns {message id, broadcast (1/0)}.
const CHAT: &str = r#"
local id = redis.call('INCR', KEYS[2])
local now = tonumber(ARGV[2])
local rate = tonumber(ARGV[1])
local b = redis.call('HMGET', KEYS[1], 't', 'at')
local tokens = tonumber(b[1]) or rate
local at = tonumber(b[2]) or now
tokens = math.min(rate, tokens + (now - at) / 1000 * rate)
local pass = 0
if ARGV[3] == '1' then pass = 1 elseif tokens >= 1 then tokens = tokens - 1; pass = 1 end
redis.call('HSET', KEYS[1], 't', tokens, 'at', now)
redis.call('PEXPIRE', KEYS[1], 60000)
redis.call('EXPIRE', KEYS[2], ARGV[4])
return {id, pass}
"#;

/// A token bucket in Lua, shared by the rate-limit script and the flash-sale gate's first
/// look: with the locals `bucket` (its key), `burst`, `period` (ms) and `now` (ms) set, it
/// refills, takes one token if it can and sets `ok`.
macro_rules! token_bucket_lua {
    () => {
        r"local b = redis.call('HMGET', bucket, 't', 'at')
local tokens = tonumber(b[1]) or burst
local at = tonumber(b[2]) or now
tokens = math.min(burst, tokens + (now - at) * burst / period)
local ok = tokens >= 1
if ok then tokens = tokens - 1 end
redis.call('HSET', bucket, 't', tokens, 'at', now)
redis.call('PEXPIRE', bucket, period)
"
    };
}
pub(crate) use token_bucket_lua;

/// A token bucket per key: burst ARGV[1], refilled over ARGV[2] ms; 1 when a token was taken.
const LIMIT: &str = concat!(
    "local bucket = KEYS[1]
local burst = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
",
    token_bucket_lua!(),
    "if ok then return 1 end
return 0
"
);

/// The counter lease, then what the lease holder publishes: {held, viewers, likes, dirty
/// stock as flat pairs, purchase buyer, product, more}.
/// A product's stock; marked for the next `counters` only when it changed (presenting a
/// product re-states its stock, which must not cost every viewer a second event).
const STOCK: &str = r#"
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old == ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 1
"#;

const TICK: &str = r#"
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return {0} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local now = tonumber(ARGV[3])
local stale = tonumber(ARGV[4])
local viewers = 0
local reports = redis.call('HGETALL', KEYS[2])
for i = 1, #reports, 2 do
  local count, at = string.match(reports[i + 1], '(%d+):(%d+)')
  if at and now - tonumber(at) <= stale then viewers = viewers + tonumber(count)
  else redis.call('HDEL', KEYS[2], reports[i]) end
end
local likes = tonumber(redis.call('GET', KEYS[3]) or '0')
local dirty = redis.call('SMEMBERS', KEYS[4])
redis.call('DEL', KEYS[4])
local stock = {}
for _, pid in ipairs(dirty) do
  local s = redis.call('HGET', KEYS[5], pid)
  if s then table.insert(stock, pid); table.insert(stock, s) end
end
local p = redis.call('HMGET', KEYS[6], 'buyer', 'product', 'more')
redis.call('DEL', KEYS[6])
return {1, viewers, likes, stock, p[1] or '', p[2] or '', tonumber(p[3] or '0')}
"#;

/// What the lease holder gathered for a tick.
pub struct Tick {
    pub viewers: i64,
    pub likes: u64,
    pub stock: Vec<[i64; 2]>,
    pub purchase: Option<(String, String, u64)>,
}

/// The Redis side of distributed mode. Cheap to share (`Arc`).
pub struct RedisBackplane {
    client: redis::Client,
    conn: ConnectionManager,
    /// This node's name in reports and leases.
    pub node: String,
    up: AtomicBool,
    /// The last PING's round trip, in microseconds (`/metrics`).
    rtt_us: AtomicU64,
    publish: Script,
    chat: Script,
    limit: Script,
    tick: Script,
    stock: Script,
}

fn unavailable(e: redis::RedisError) -> Error {
    Error::unavailable("redis (live room)", e)
}

fn room_key(session_id: SessionId, what: &str) -> String {
    format!("live:{session_id}:{what}")
}

/// The room stream's key.
pub fn stream_key(session_id: SessionId) -> String {
    room_key(session_id, "events")
}

impl RedisBackplane {
    /// Connects (and checks the connection with a PING).
    pub async fn connect(url: &str) -> Result<Arc<RedisBackplane>, String> {
        let client = redis::Client::open(url).map_err(|e| format!("REDIS_URL: {e}"))?;
        // The crate's default is 500 ms per command: a node under load (or Redis busy for a
        // moment) would see every command fail and call Redis down.
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_connection_timeout(Some(Duration::from_secs(2)));
        let conn = client
            .get_connection_manager_with_config(config)
            .await
            .map_err(|e| format!("cannot reach Redis at {}: {e}", redact(url)))?;
        let node = format!(
            "{}-{}",
            std::process::id(),
            u32::from_le_bytes(crate::crypto::random_bytes::<4>().unwrap_or([0; 4]))
        );
        let bp = Arc::new(RedisBackplane {
            client,
            conn,
            node,
            up: AtomicBool::new(true),
            rtt_us: AtomicU64::new(0),
            publish: Script::new(PUBLISH),
            chat: Script::new(CHAT),
            limit: Script::new(LIMIT),
            tick: Script::new(TICK),
            stock: Script::new(STOCK),
        });
        let watcher = Arc::downgrade(&bp);
        tokio::spawn(async move {
            // One PING a second decides `up()`. A refused or broken connection counts at once;
            // a slow answer only when it stays slow (a node whose cores are saturated answers
            // late, and ending 20,000 streams for that would make things worse).
            let mut slow = 0u32;
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let Some(bp) = watcher.upgrade() else { break };
                let mut c = bp.conn.clone();
                let sent = std::time::Instant::now();
                let answer = tokio::time::timeout(
                    PING_TIMEOUT,
                    redis::cmd("PING").query_async::<String>(&mut c),
                )
                .await;
                let ok = match answer {
                    Ok(Ok(_)) => {
                        slow = 0;
                        let rtt = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
                        bp.rtt_us.store(rtt, Ordering::Relaxed);
                        true
                    }
                    Ok(Err(e)) if !e.is_timeout() => false,
                    // No answer in time: the connection manager may be retrying a connection
                    // Redis refuses (down), or this node is just slow. A fresh connection tells.
                    _ => {
                        let probe = tokio::time::timeout(
                            Duration::from_secs(1),
                            bp.client.get_multiplexed_async_connection(),
                        )
                        .await;
                        if matches!(probe, Ok(Err(ref e)) if !e.is_timeout()) {
                            false
                        } else {
                            slow += 1;
                            slow < SLOW_PINGS_DOWN
                        }
                    }
                };
                if ok != bp.up.swap(ok, Ordering::SeqCst) {
                    if ok {
                        tracing::info!("redis reachable again");
                    } else {
                        tracing::warn!("redis unreachable");
                    }
                }
            }
        });
        Ok(bp)
    }

    /// Whether Redis answered its last PING.
    pub fn up(&self) -> bool {
        self.up.load(Ordering::SeqCst)
    }

    /// The last PING's round trip.
    pub fn rtt(&self) -> Duration {
        Duration::from_micros(self.rtt_us.load(Ordering::Relaxed))
    }

    /// `Unavailable` (503) while Redis is down.
    pub fn ensure_up(&self) -> Result<()> {
        if self.up() {
            Ok(())
        } else {
            Err(AppError::Unavailable.into())
        }
    }

    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// The shared connection, for the flash-sale gate (`buying::sale::redis_gate`).
    pub fn sale_conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// The stream reader's own connection (its reads block for up to [`READ_BLOCK`]).
    pub async fn reader(&self) -> Result<MultiplexedConnection> {
        let config = redis::AsyncConnectionConfig::new()
            .set_response_timeout(Some(READ_BLOCK + Duration::from_secs(5)));
        Ok(self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(unavailable)?)
    }

    /// New entries of the given rooms' streams, each after its cursor (the last number its
    /// room delivered); waits up to [`READ_BLOCK`] for any.
    pub async fn read(
        &self,
        mut conn: MultiplexedConnection,
        cursors: &[(SessionId, u64)],
    ) -> Result<Vec<(SessionId, Vec<(u64, i64, LiveEvent)>)>, redis::RedisError> {
        let keys: Vec<String> = cursors.iter().map(|(s, _)| stream_key(*s)).collect();
        let ids: Vec<String> = cursors.iter().map(|(_, seq)| format!("{seq}-0")).collect();
        let options = StreamReadOptions::default()
            .block(READ_BLOCK.as_millis() as usize)
            .count(READ_COUNT);
        let reply: Option<StreamReadReply> = conn.xread_options(&keys, &ids, &options).await?;
        Ok(reply
            .map(|r| r.keys)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|k| {
                let (session, _) = cursors.iter().zip(&keys).find(|(_, key)| **key == k.key)?.0;
                Some((*session, k.ids.iter().filter_map(decode_entry).collect()))
            })
            .collect())
    }

    /// Personal hints from every node ([`RedisBackplane::notify_shopper`]), until the
    /// subscription's connection drops.
    pub async fn personal_hints(&self) -> Result<redis::aio::PubSubStream> {
        self.subscribe(PERSONAL).await
    }

    /// Messages published on `channel`, on a connection of their own.
    async fn subscribe(&self, channel: &str) -> Result<redis::aio::PubSubStream> {
        let mut pubsub = self.client.get_async_pubsub().await.map_err(unavailable)?;
        pubsub.subscribe(channel).await.map_err(unavailable)?;
        Ok(pubsub.into_on_message())
    }

    /// Nickname changes made on any node (`identity::follow_nickname_changes`).
    pub async fn nickname_hints(&self) -> Result<redis::aio::PubSubStream> {
        self.subscribe(NICKNAMES).await
    }

    /// Tells every node that this shopper's nickname changed.
    pub async fn nickname_changed(&self, shopper_id: ShopperId) -> Result<()> {
        let _: () = self
            .conn()
            .publish(NICKNAMES, shopper_id.get())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Total likes of a room.
    pub async fn likes(&self, session_id: SessionId) -> Result<u64> {
        let v: Option<u64> = self
            .conn()
            .get(room_key(session_id, "likes"))
            .await
            .map_err(unavailable)?;
        Ok(v.unwrap_or(0))
    }

    /// Puts the room's mutes from the database into the shared set (a room opened, or Redis
    /// came back without its data).
    pub async fn seed_mutes(
        &self,
        session_id: SessionId,
        muted: &std::collections::HashSet<ShopperId>,
    ) -> Result<()> {
        if muted.is_empty() {
            return Ok(());
        }
        let key = room_key(session_id, "muted");
        let mut c = self.conn();
        let _: () = redis::pipe()
            .sadd(&key, muted.iter().map(|s| s.get()).collect::<Vec<i64>>())
            .expire(&key, ROOM_TTL_SECS)
            .query_async(&mut c)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Numbers and appends an event (published at `ts`, µs) to the room's stream; returns
    /// its number.
    pub async fn publish(&self, session_id: SessionId, event: &LiveEvent, ts: i64) -> Result<u64> {
        let json = serde_json::to_string(event).fault("encoding a live event")?;
        let initial = crate::now_ms().saturating_mul(1000);
        Ok(self
            .publish
            .key(room_key(session_id, "seq"))
            .key(stream_key(session_id))
            .arg(json)
            .arg(STREAM_LEN)
            .arg(initial)
            .arg(ROOM_TTL_SECS)
            .arg(ts)
            .invoke_async::<u64>(&mut self.conn())
            .await
            .map_err(unavailable)?)
    }

    /// The room's last number (0 when it has none yet).
    pub async fn last_seq(&self, session_id: SessionId) -> Result<u64> {
        let v: Option<u64> = self
            .conn()
            .get(room_key(session_id, "seq"))
            .await
            .map_err(unavailable)?;
        Ok(v.unwrap_or(0))
    }

    /// The events numbered `from..=to` still in the stream.
    pub async fn range(
        &self,
        session_id: SessionId,
        from: u64,
        to: u64,
    ) -> Result<Vec<(u64, i64, LiveEvent)>> {
        let reply: redis::streams::StreamRangeReply = self
            .conn()
            .xrange(
                stream_key(session_id),
                format!("{from}-0"),
                format!("{to}-0"),
            )
            .await
            .map_err(unavailable)?;
        Ok(reply.ids.iter().filter_map(decode_entry).collect())
    }

    /// A shared value and how long it still lives (`None`: missing or without expiry).
    pub async fn get_with_ttl(&self, key: &str) -> Result<Option<(String, Duration)>> {
        let (value, ttl_ms): (Option<String>, i64) = redis::pipe()
            .get(key)
            .pttl(key)
            .query_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        Ok(value
            .filter(|_| ttl_ms > 0)
            .map(|v| (v, Duration::from_millis(ttl_ms as u64))))
    }

    pub async fn set_with_ttl(&self, key: &str, value: &str, ttl: Duration) -> Result<()> {
        let _: () = self
            .conn()
            .pset_ex(key, value, ttl.as_millis().max(1) as u64)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Takes `key` as a lock for `hold` unless another node holds it.
    pub async fn try_lock(&self, key: &str, hold: Duration) -> Result<bool> {
        let got: Option<String> = redis::cmd("SET")
            .arg(key)
            .arg(&self.node)
            .arg("NX")
            .arg("PX")
            .arg(hold.as_millis().max(1) as u64)
            .query_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        Ok(got.is_some())
    }

    pub async fn unlock(&self, key: &str) -> Result<()> {
        let _: () = self.conn().del(key).await.map_err(unavailable)?;
        Ok(())
    }

    /// Takes a token from the shared bucket `key` (`burst` tokens per `period`). Refuses when
    /// Redis cannot be asked (fail closed).
    pub async fn take(&self, key: &str, burst: u32, period: Duration) -> Result<bool> {
        let ok: i64 = self
            .limit
            .key(format!("rl:{key}"))
            .arg(burst)
            .arg(period.as_millis() as u64)
            .arg(crate::now_ms())
            .invoke_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        Ok(ok == 1)
    }
}

/// An entry of a room stream: its number (the id's first part), publish time and event.
pub fn decode_entry(entry: &redis::streams::StreamId) -> Option<(u64, i64, LiveEvent)> {
    let seq: u64 = entry.id.split('-').next()?.parse().ok()?;
    let json: String = entry.get("e")?;
    let ts: i64 = entry.get("t").unwrap_or(0);
    let event: LiveEvent = serde_json::from_str(&json).ok()?;
    Some((seq, ts, event.numbered(seq)))
}

/// A Redis URL with its password hidden.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***@{}", &url[..s], &url[at + 1..]),
        _ => url.to_string(),
    }
}
