//! Live coupons (issue 30): dropped into a live session by the studio, claimed by shoppers
//! with one tap, used once at checkout after the invite discount (`domain::coupon`).
//!
//! Claims go through a gate built like the flash sale's (`buying::sale`): on one node each
//! coupon's claimers live in memory behind one short lock (the quota and "one per shopper"
//! decided in microseconds); with `REDIS_URL` a Lua script decides them atomically for every
//! node (a set of claimers per coupon). Granted claims go to one writer task that commits
//! everything queued in one transaction; a shopper hears "claimed" only once it is committed.
//!
//! The database is the truth and the last guard: a claim is one row per (coupon, shopper) and
//! the coupon's `claimed` count is raised by a guarded update that never passes the quota,
//! whatever a gate said. So gates may be rebuilt from it at any time: the in-memory one on its
//! first use after a start, the Redis one when its marker is missing (a Redis restart, and
//! every node start forgets them all, as the sale does) under a short `SET NX` lock. A gate
//! rebuilt while claims were on their way to the database can only under-count them; the
//! writer then refuses the extra ones ("all gone", "already claimed"). A node that dies between
//! the gate and the commit leaves a claimer in the gate that the database lacks: that
//! shopper hears "already claimed" until the gate is rebuilt, and the quota loses a unit;
//! never a unit too many.
//!
//! At checkout `usable_for_order` gives the shopper's claimed, unused, open coupons (none,
//! without a database read, for a session without open coupons or, on one node, a shopper who
//! claimed none); the gate prices the order with the best of them (`domain::coupon::best`)
//! and the order batch marks the claim used (`repo::orders::write_batch`, refusing a claim
//! already used). A released unpaid order gives its coupon back; a refunded one does not.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use redis::AsyncCommands;
use shop_core::ids::{SessionId, ShopperId};
use tokio::sync::{mpsc, oneshot};

use crate::{
    db::Db,
    domain::coupon::{CouponDrop, CouponTerms},
    error::{AppError, Error, Result, ResultExt},
    live::backplane::RedisBackplane,
    model::{ClaimOutcome, LiveCoupon, LiveEvent, MyCoupon, SessionStatus},
    next_batch, now_ms,
    redis_batch::ScriptBatcher,
    repo::{
        coupons::{self as repo, CouponRow, NewClaim, Written},
        shopping,
    },
    spawn_batch_worker,
};

/// Claims waiting for the writer, at most; past that a claim is answered 503 `Busy` at once.
pub const QUEUE: usize = 20_000;
/// Claims per transaction, at most.
const MAX_BATCH: usize = 1_000;
/// With several nodes, how long a node trusts its copy of a session's coupons and status
/// (another node dropped or withdrew one). On one node drops and withdrawals update it at once;
/// the session's status is read again after it too.
const FRESH: Duration = Duration::from_secs(1);
/// Locks under which sessions' copies are read again (a session's is `id % READ_STRIPES`).
const READ_STRIPES: usize = 64;

/// The claim script: KEYS the coupon's marker and its set of claimers; ARGV the shopper and the
/// quota. 1: not loaded, 2: already claimed, 3: all gone, 0: claimed.
const CLAIM: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 1 end
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return 2 end
if redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[2]) then return 3 end
redis.call('SADD', KEYS[2], ARGV[1])
return 0
";

/// How long a coupon's Redis state lives without a reload (its validity is at most a day).
const TTL_SECS: i64 = 2 * 86_400;

pub struct Coupons {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    redis: Option<RedisCoupons>,
    /// One node: each coupon's claimers, loaded from the database on first use.
    gates: Mutex<HashMap<i64, Arc<Gate>>>,
    /// Each session's coupons and status, as last read.
    sessions: Mutex<HashMap<SessionId, Arc<SessionCoupons>>>,
    /// Held while a session's copy is read again (by session id, striped).
    reading: Vec<tokio::sync::Mutex<()>>,
    writes: mpsc::Sender<ClaimJob>,
}

struct SessionCoupons {
    read_at: Instant,
    status: SessionStatus,
    coupons: Vec<CouponRow>,
}

#[derive(Default)]
struct Gate {
    /// `None` until loaded.
    claimers: Mutex<Option<HashSet<ShopperId>>>,
    loading: tokio::sync::Mutex<()>,
}

struct RedisCoupons {
    bp: Arc<RedisBackplane>,
    claim: ScriptBatcher,
}

struct ClaimJob {
    claim: NewClaim,
    done: oneshot::Sender<Result<Written, AppError>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn unavailable(e: redis::RedisError) -> Error {
    Error::unavailable("redis (coupons)", e)
}

/// A coupon's Redis keys: its marker (present while its state is loaded), its claimers, and
/// the lock one node loads it under; tagged so one script touches them.
fn keys(coupon_id: i64) -> [String; 3] {
    let k = |what: &str| format!("{{c:{coupon_id}}}:{what}");
    [k("loaded"), k("who"), k("lock")]
}

impl Coupons {
    /// Starts the claim writer (needs a Tokio runtime); with `redis` the gate is a script.
    pub fn start(db: Db, redis: Option<Arc<RedisBackplane>>) -> Coupons {
        let (writes, rx) = mpsc::channel(QUEUE);
        spawn_batch_worker("coupon-writer", &db, move |db| write(db, rx));
        Coupons {
            inner: Arc::new(Inner {
                db,
                redis: redis.map(|bp| RedisCoupons {
                    claim: ScriptBatcher::new(bp.sale_conn(), CLAIM),
                    bp,
                }),
                gates: Mutex::new(HashMap::new()),
                sessions: Mutex::new(HashMap::new()),
                reading: (0..READ_STRIPES)
                    .map(|_| tokio::sync::Mutex::new(()))
                    .collect(),
                writes,
            }),
        }
    }

    /// At start-up with several nodes: forgets every coupon state in Redis, so each is
    /// rebuilt from the database on its next claim.
    pub async fn reconcile(&self) -> Result<()> {
        let Some(r) = &self.inner.redis else {
            return Ok(());
        };
        let mut conn = r.bp.sale_conn();
        let mut cursor: u64 = 0;
        loop {
            let (next, found): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg("{c:*}:loaded")
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await
                .map_err(unavailable)?;
            if !found.is_empty() {
                conn.del::<_, ()>(&found).await.map_err(unavailable)?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }

    /// The session's coupons and status: the copy when fresh, else read again. One read at a
    /// time per session (striped locks): in a rush every claim in flight found the copy stale
    /// at the same moment and each read it again, thousands of reads a second behind one
    /// another; now the others wait for that one read and take its copy.
    async fn session(&self, session_id: SessionId) -> Result<Arc<SessionCoupons>> {
        self.session_read_after(session_id, None).await
    }

    /// The session's copy, read again unless fresh and (with `after`) read after that instant.
    async fn session_read_after(
        &self,
        session_id: SessionId,
        after: Option<Instant>,
    ) -> Result<Arc<SessionCoupons>> {
        if let Some(s) = self.fresh_session(session_id, after) {
            return Ok(s);
        }
        let stripe = session_id.get().unsigned_abs() as usize % READ_STRIPES;
        let _reading = self.inner.reading[stripe].lock().await;
        if let Some(s) = self.fresh_session(session_id, after) {
            return Ok(s);
        }
        // Stamped when the read starts: the copy holds every change committed before it.
        let read_at = Instant::now();
        let status = shopping::session_status(&self.inner.db, session_id).await?;
        let coupons = repo::of_session(&self.inner.db, session_id).await?;
        let fresh = Arc::new(SessionCoupons {
            read_at,
            status,
            coupons,
        });
        let mut sessions = lock(&self.inner.sessions);
        if sessions.len() >= 10_000 {
            sessions.clear();
        }
        sessions.insert(session_id, fresh.clone());
        Ok(fresh)
    }

    fn fresh_session(
        &self,
        session_id: SessionId,
        after: Option<Instant>,
    ) -> Option<Arc<SessionCoupons>> {
        lock(&self.inner.sessions)
            .get(&session_id)
            .filter(|s| s.read_at.elapsed() < FRESH && after.is_none_or(|t| s.read_at >= t))
            .cloned()
    }

    /// After a drop or withdrawal here: the next use reads the session again. (A read that
    /// started before the change and ends after it may still leave the old copy for up to
    /// `FRESH`: the writer's guarded update refuses claims of a withdrawn coupon, and a claim
    /// of a coupon the copy lacks reads again.)
    fn forget_session(&self, session_id: SessionId) {
        lock(&self.inner.sessions).remove(&session_id);
    }

    /// Drops a coupon into a live session (the caller checked the role) and tells the room.
    pub async fn drop_coupon(
        &self,
        live: &crate::live::Hub,
        session_id: SessionId,
        drop: &CouponDrop,
        by_account: i64,
    ) -> Result<LiveCoupon> {
        let status = shopping::session_status(&self.inner.db, session_id).await?;
        if status != SessionStatus::Live {
            return Err(AppError::Conflict(
                "Coupons can be dropped only while the session is live.".into(),
            )
            .into());
        }
        let row = repo::insert(&self.inner.db, session_id, drop, by_account, now_ms()).await?;
        self.forget_session(session_id);
        let coupon = row.to_live(None);
        live.publish(
            session_id,
            LiveEvent::Coupon {
                seq: 0,
                coupon: coupon.clone(),
            },
        )
        .await?;
        Ok(coupon)
    }

    /// Withdraws a coupon: no more claims, and claimed ones no longer apply. 404 unknown,
    /// 409 already withdrawn.
    pub async fn withdraw(
        &self,
        live: &crate::live::Hub,
        session_id: SessionId,
        coupon_id: i64,
    ) -> Result<()> {
        let found = repo::withdraw(&self.inner.db, session_id, coupon_id, now_ms()).await?;
        let Some((row, changed)) = found else {
            return Err(AppError::not_found("No such coupon in this session.").into());
        };
        if !changed {
            return Err(AppError::Conflict("This coupon was already withdrawn.".into()).into());
        }
        self.forget_session(session_id);
        live.publish(
            session_id,
            LiveEvent::Coupon {
                seq: 0,
                coupon: row.to_live(None),
            },
        )
        .await?;
        Ok(())
    }

    /// The session's coupons as the viewer sees them: open ones and the viewer's own.
    pub async fn for_viewer(
        &self,
        session_id: SessionId,
        shopper_id: Option<ShopperId>,
    ) -> Result<Vec<LiveCoupon>> {
        let s = self.session(session_id).await?;
        let now = now_ms();
        let mine: HashMap<i64, MyCoupon> = match shopper_id {
            Some(id) if !s.coupons.is_empty() => repo::mine(&self.inner.db, session_id, id)
                .await?
                .into_iter()
                .map(|(c, order)| {
                    let m = if order.is_some() {
                        MyCoupon::Used
                    } else {
                        MyCoupon::Claimed
                    };
                    (c, m)
                })
                .collect(),
            _ => HashMap::new(),
        };
        Ok(s.coupons
            .iter()
            .filter(|c| c.open_at(now) || mine.contains_key(&c.id))
            .map(|c| c.to_live(mine.get(&c.id).copied()))
            .collect())
    }

    /// One tap on Claim: answered once the claim is committed (or refused at the gate).
    pub async fn claim(
        &self,
        session_id: SessionId,
        coupon_id: i64,
        shopper_id: ShopperId,
    ) -> Result<ClaimOutcome> {
        let s = self.session(session_id).await?;
        let Some(coupon) = s.coupons.iter().find(|c| c.id == coupon_id).cloned() else {
            // Dropped on another node in the last second, or unknown: a copy read from now on.
            let s = self
                .session_read_after(session_id, Some(Instant::now()))
                .await?;
            if !s.coupons.iter().any(|c| c.id == coupon_id) {
                return Err(AppError::not_found("No such coupon in this session.").into());
            }
            return Box::pin(self.claim(session_id, coupon_id, shopper_id)).await;
        };
        if s.status != SessionStatus::Live || !coupon.open_at(now_ms()) {
            return Ok(ClaimOutcome::Expired);
        }
        match &self.inner.redis {
            Some(r) => self.claim_redis(r, &coupon, shopper_id).await,
            None => self.claim_memory(&coupon, shopper_id).await,
        }
    }

    /// One node: the coupon's gate, its claimers loaded from the database on first use.
    async fn memory_gate(&self, coupon_id: i64) -> Result<Arc<Gate>> {
        let gate = lock(&self.inner.gates)
            .entry(coupon_id)
            .or_default()
            .clone();
        if lock(&gate.claimers).is_none() {
            let _loading = gate.loading.lock().await;
            if lock(&gate.claimers).is_none() {
                let who = repo::claimers(&self.inner.db, coupon_id).await?;
                *lock(&gate.claimers) = Some(who.into_iter().collect());
            }
        }
        Ok(gate)
    }

    async fn claim_memory(
        &self,
        coupon: &CouponRow,
        shopper_id: ShopperId,
    ) -> Result<ClaimOutcome> {
        let gate = self.memory_gate(coupon.id).await?;
        {
            let mut g = lock(&gate.claimers);
            let set = g.get_or_insert_with(HashSet::new);
            if set.contains(&shopper_id) {
                return Ok(ClaimOutcome::AlreadyClaimed);
            }
            if set.len() as i64 >= coupon.quota {
                return Ok(ClaimOutcome::AllGone);
            }
            set.insert(shopper_id);
        }
        let written = self.write(coupon, shopper_id).await;
        if !matches!(written, Ok(Written::Claimed | Written::Duplicate)) {
            if let Some(set) = lock(&gate.claimers).as_mut() {
                set.remove(&shopper_id);
            }
        }
        self.answer(coupon, written?)
    }

    async fn claim_redis(
        &self,
        r: &RedisCoupons,
        coupon: &CouponRow,
        shopper_id: ShopperId,
    ) -> Result<ClaimOutcome> {
        let [loaded, who, lock_key] = keys(coupon.id);
        for _ in 0..250 {
            let v: i64 = r
                .claim
                .call(
                    format!("c:{}", coupon.id),
                    vec![loaded.clone(), who.clone()],
                    vec![shopper_id.to_string(), coupon.quota.to_string()],
                )
                .await
                .map_err(unavailable)?;
            match v {
                1 => {
                    if !self
                        .load_redis(r, coupon.id, [&loaded, &who, &lock_key])
                        .await?
                    {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    continue;
                }
                2 => return Ok(ClaimOutcome::AlreadyClaimed),
                3 => return Ok(ClaimOutcome::AllGone),
                _ => {}
            }
            let written = self.write(coupon, shopper_id).await;
            if !matches!(written, Ok(Written::Claimed | Written::Duplicate)) {
                let mut conn = r.bp.sale_conn();
                if let Err(e) = conn.srem::<_, _, ()>(&who, shopper_id.get()).await {
                    tracing::warn!(error = %e, "could not give an unwritten coupon claim back in Redis");
                }
            }
            return self.answer(coupon, written?);
        }
        Err(AppError::Busy.into())
    }

    /// Loads a coupon's claimers into Redis from the database unless another node is loading
    /// them (then `false`: look again shortly).
    async fn load_redis(&self, r: &RedisCoupons, coupon_id: i64, k: [&String; 3]) -> Result<bool> {
        let [loaded, who, lock_key] = k;
        let mut conn = r.bp.sale_conn();
        let got: Option<String> = redis::cmd("SET")
            .arg(lock_key)
            .arg(&r.bp.node)
            .arg("NX")
            .arg("PX")
            .arg(10_000)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        if got.is_none() {
            return Ok(false);
        }
        let claimers = match repo::claimers(&self.inner.db, coupon_id).await {
            Ok(c) => c,
            Err(e) => {
                let _: std::result::Result<(), _> = conn.del(lock_key).await;
                return Err(e);
            }
        };
        let mut pipe = redis::pipe();
        pipe.atomic();
        pipe.del(who).ignore();
        let ids: Vec<i64> = claimers.iter().map(|s| s.get()).collect();
        for chunk in ids.chunks(1000) {
            pipe.sadd(who, chunk).ignore();
        }
        pipe.expire(who, TTL_SECS).ignore();
        pipe.set_ex(loaded, "1", TTL_SECS as u64).ignore();
        pipe.del(lock_key).ignore();
        pipe.query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(true)
    }

    async fn write(&self, coupon: &CouponRow, shopper_id: ShopperId) -> Result<Written> {
        let (done, rx) = oneshot::channel();
        let job = ClaimJob {
            claim: NewClaim {
                coupon_id: coupon.id,
                session_id: coupon.session_id,
                shopper_id,
                at_ms: now_ms(),
            },
            done,
        };
        self.inner
            .writes
            .try_send(job)
            .map_err(|_| AppError::Busy)?;
        Ok(rx.await.fault("the coupon writer stopped")??)
    }

    fn answer(&self, coupon: &CouponRow, written: Written) -> Result<ClaimOutcome> {
        Ok(match written {
            Written::Claimed => ClaimOutcome::Claimed,
            Written::Duplicate => ClaimOutcome::AlreadyClaimed,
            // The quota is reached, or the coupon closed meanwhile.
            Written::Refused if coupon.open_at(now_ms()) => ClaimOutcome::AllGone,
            Written::Refused => ClaimOutcome::Expired,
        })
    }

    /// The shopper's coupons an order in the session may use now (claimed, unused, open).
    /// No database read for a session without open coupons, nor, on one node, for a shopper
    /// who claimed none of them: the flash sale's path stays as it was.
    pub async fn usable_for_order(
        &self,
        session_id: SessionId,
        shopper_id: ShopperId,
    ) -> Result<Vec<(i64, CouponTerms)>> {
        let s = self.session(session_id).await?;
        let now = now_ms();
        let open: Vec<i64> = s
            .coupons
            .iter()
            .filter(|c| c.open_at(now))
            .map(|c| c.id)
            .collect();
        if open.is_empty() {
            return Ok(Vec::new());
        }
        if self.inner.redis.is_none() {
            let mut might = false;
            for id in &open {
                let gate = self.memory_gate(*id).await?;
                might |= lock(&gate.claimers)
                    .as_ref()
                    .is_none_or(|set| set.contains(&shopper_id));
            }
            if !might {
                return Ok(Vec::new());
            }
        }
        repo::usable(&self.inner.db, session_id, shopper_id, now).await
    }
}

/// The writer: commits every claim queued in one transaction.
async fn write(db: Db, mut rx: mpsc::Receiver<ClaimJob>) {
    while let Some(batch) = next_batch(&mut rx, MAX_BATCH).await {
        let claims: Vec<NewClaim> = batch.iter().map(|j| j.claim).collect();
        let started = Instant::now();
        match repo::write_claims(&db, &claims).await {
            Ok(written) => {
                for (job, w) in batch.into_iter().zip(written) {
                    let _ = job.done.send(Ok(w));
                }
            }
            Err(e) => {
                // Logged here with its cause: many shoppers share this answer.
                let wire: AppError = Error::caused("writing coupon claims", e).into();
                for job in batch {
                    let _ = job.done.send(Err(wire.clone()));
                }
            }
        }
        tracing::debug!(
            claims = claims.len(),
            ms = started.elapsed().as_millis() as u64,
            "coupon claims committed"
        );
    }
}
