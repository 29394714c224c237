//! The flash-sale order path on one node: admission in memory, durability in batches.
//!
//! A rush on one product used to queue on the product's row, one transaction per order. Here
//! each session's sale state (status, policy, stock, per-shopper counters, the orders'
//! idempotency keys, cached eligibility facts) lives in memory behind one short lock: an order
//! is admitted (stock and limits taken, priced by the pure rules of `domain::discount`) or
//! refused ("sold out") in microseconds, and admitted orders go to one writer task that
//! commits them in batches: one transaction for all that arrived while the previous batch
//! committed. A shopper hears "confirmed" only after their batch committed.
//!
//! The database stays the truth. The state is loaded by the writer itself, so it includes
//! every batch before it; a change made elsewhere (the studio: going live, presenting, stock,
//! the policy) first pauses the session's sale (`pause`: the state is retired and the queue
//! flushed), and the next order loads it again; a batch that fails retires it too. Facts
//! about shoppers (reserved, invited, friends) are cached per session and forgotten when a
//! reservation, a join or a verified number changes them.
//!
//! With `REDIS_URL` (several nodes) the gate is a Redis Lua script instead
//! (`sale::redis_gate`): every node admits against the same stock, counters and keys, and
//! each node's writer batches into PostgreSQL the same way. The batch writer refuses to write
//! past the stock or a shopper's limits whatever the gate said, and one order it refuses (or
//! a fault) is retried alone so that it does not fail the rest of its batch.

mod admit_redis;
mod memory;
pub mod redis_gate;
mod writer;

use crate::error::{Result, ResultExt};
use memory::*;
use shop_core::ids::{OrderId, ProductId, SessionId, ShopperId};
use writer::*;

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, MutexGuard,
    },
};

use tokio::sync::{mpsc, oneshot};

use crate::{
    buying::sale::redis_gate::{self as sale_redis, Admit, Peek, RedisGate},
    db::Db,
    domain::{
        coupon::CouponTerms,
        discount::{
            count, eligibility, line_rule, quote_line, DiscountPolicy, Eligibility, ProductFacts,
            ShopperFacts,
        },
        money::Fen,
        session::{allows, Activity},
        variant::unit_price,
    },
    error::AppError,
    live::backplane::RedisBackplane,
    model::{OrderView, SessionStatus},
    next_batch, now_ms,
    repo::{
        orders::{self as repo, key_reused, BatchError, NewOrder, PlaceOrder},
        shopping,
    },
    spawn_batch_worker,
};

/// Orders admitted and waiting for the writer, at most; past that a buyer is told to retry
/// (503 `Busy`) at once rather than wait without bound.
pub const QUEUE: usize = 20_000;
/// Orders (and payments) per transaction, at most.
const MAX_BATCH: usize = 512;

/// What an admission decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Admitted {
    /// The shopper already placed this order (same idempotency key and details).
    Existing(OrderId),
    /// A new order, committed and awaiting payment.
    New {
        /// The order as the shopper sees it (built from what was written, not read back).
        order: Box<OrderView>,
        /// The product's stock right after it.
        stock_after: i64,
    },
}

pub struct Sale {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    provider: &'static str,
    slots: Mutex<HashMap<SessionId, Slot>>,
    jobs: mpsc::Sender<Job>,
    /// Bumped by every change to shoppers' facts: a load that overlapped one does not trust
    /// the facts it read in bulk.
    facts_epoch: AtomicU64,
    /// Several nodes: the gate is in Redis.
    redis: Option<Arc<RedisGate>>,
    /// Several nodes: the session, policy and product facts an order needs, per (session,
    /// product), with the token of the Redis state they were read under (`Peek::Stock`):
    /// read from the database once per load of the state, not once per order.
    sale_facts: Mutex<HashMap<(SessionId, ProductId), (String, repo::SaleFacts)>>,
    /// Several nodes: shoppers' eligibility facts are read in batches (`read_facts`).
    facts_reader: Option<mpsc::Sender<FactsRead>>,
}

/// A shopper's eligibility facts, wanted by an order on several nodes.
struct FactsRead {
    session_id: SessionId,
    shopper_id: ShopperId,
    done: oneshot::Sender<Result<ShopperFacts, AppError>>,
}

/// Shoppers whose facts are read in one batch, at most.
const FACTS_BATCH: usize = 500;

/// Cached sale facts at most; past it the cache starts over.
const SALE_FACTS_MAX: usize = 10_000;

#[derive(Default)]
struct Slot {
    current: Option<Arc<SessionSale>>,
    /// Held while the state is loaded, and by `pause` while the studio changes the session.
    loading: Arc<tokio::sync::Mutex<()>>,
}

struct SessionSale {
    session_id: SessionId,
    state: Mutex<SaleState>,
}

#[derive(Debug, Clone, Copy)]
struct ProductStock {
    price: Fen,
    presented: bool,
    stock: i64,
    discounted: i64,
}

/// A variant's own stock (and price, name) in the gate; the product's stock is their sum.
#[derive(Debug, Clone)]
struct VariantStock {
    name: String,
    price: Option<Fen>,
    stock: i64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Counter {
    units: i64,
    discounted: i64,
}

struct KeyEntry {
    hash: String,
    /// `None` while the order waits for its batch.
    order: Option<OrderId>,
}

struct SaleState {
    retired: bool,
    status: SessionStatus,
    title: String,
    policy: DiscountPolicy,
    /// Product names and images, for the order the buyer sees.
    names: HashMap<ProductId, (String, String)>,
    products: HashMap<ProductId, ProductStock>,
    variants: HashMap<i64, VariantStock>,
    /// Each product's variant ids (none: the product has no variants).
    variants_of: HashMap<ProductId, Vec<i64>>,
    counters: HashMap<(ProductId, ShopperId), Counter>,
    keys: HashMap<(ShopperId, String), KeyEntry>,
    /// Eligibility facts: `Some` known, `None` forgotten (read again when needed).
    facts: HashMap<ShopperId, Option<ShopperFacts>>,
    /// Every reserved shopper was loaded: a shopper missing from `facts` had not reserved.
    facts_complete: bool,
    /// Bumped whenever facts are forgotten, so that a lookup that started before does not
    /// store what it read.
    facts_gen: u64,
}

enum Decision {
    /// The shopper's facts are needed and not known: read them, then try again.
    NeedFacts,
    Existing(Option<OrderId>),
    New(Box<NewOrder>, i64, Box<OrderView>),
}

/// Where an admitted order was admitted (what to tell when it is written, or not).
enum Target {
    Memory(Arc<SessionSale>),
    Redis(Arc<RedisGate>),
}

enum Job {
    Place {
        sale: Target,
        order: Box<NewOrder>,
        done: oneshot::Sender<Result<OrderId, AppError>>,
    },
    Paid {
        order_id: OrderId,
        reference: String,
        done: oneshot::Sender<Result<bool, AppError>>,
    },
    Release {
        order_id: OrderId,
        done: oneshot::Sender<Result<bool, AppError>>,
    },
    Load {
        session_id: SessionId,
        done: oneshot::Sender<Result<(), AppError>>,
    },
    Flush {
        done: oneshot::Sender<()>,
    },
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The gate follows session changes: an ended session's sale leaves memory.
impl crate::changes::Follower for Sale {
    fn follow<'a>(&'a self, c: &'a crate::changes::SessionChange) -> crate::changes::Followed<'a> {
        if c.change == crate::changes::Change::Lifecycle(SessionStatus::Ended) {
            self.session_ended(c.session_id);
        }
        Box::pin(std::future::ready(()))
    }
}

/// Held by the studio while it changes a session: no order of that session is admitted, and
/// the next one loads the session again.
pub struct Pause {
    _guard: tokio::sync::OwnedMutexGuard<()>,
    /// Several nodes: the session's state in Redis is forgotten again once the change is
    /// written.
    redis: Option<(Arc<RedisGate>, SessionId)>,
}

impl Drop for Pause {
    fn drop(&mut self) {
        if let Some((gate, session_id)) = self.redis.take() {
            tokio::spawn(async move {
                if let Err(e) = gate.forget(session_id).await {
                    tracing::warn!(%session_id, error = %e, "could not reset the sale in Redis");
                }
            });
        }
    }
}

impl Sale {
    /// Starts the writer (needs a Tokio runtime). `provider` is recorded on each order; with
    /// `redis` (several nodes) the gate is a Redis script.
    pub fn start(db: Db, provider: &'static str, redis: Option<Arc<RedisBackplane>>) -> Sale {
        let (jobs, rx) = mpsc::channel(QUEUE);
        let facts_reader = redis.is_some().then(|| {
            let (tx, reads) = mpsc::channel(QUEUE);
            spawn_batch_worker("facts-reader", &db, move |db| read_facts(db, reads));
            tx
        });
        let inner = Arc::new(Inner {
            db,
            provider,
            slots: Mutex::new(HashMap::new()),
            jobs,
            facts_epoch: AtomicU64::new(0),
            redis: redis.map(|bp| Arc::new(RedisGate::new(bp))),
            sale_facts: Mutex::new(HashMap::new()),
            facts_reader,
        });

        let writer = inner.clone();
        spawn_batch_worker("order-writer", &inner.db, move |db| write(writer, db, rx));
        Sale { inner }
    }

    /// At start-up with several nodes: reconciles Redis with the database. Whatever Redis
    /// kept from before this node started (admissions whose batches died with a node) is
    /// forgotten, and the next order loads each session's state from the database.
    pub async fn reconcile(&self) -> Result<()> {
        if let Some(gate) = &self.inner.redis {
            let n = gate.forget_all().await?;
            tracing::info!(
                sessions = n,
                "flash-sale states in Redis reset from the database"
            );
        }
        Ok(())
    }

    /// Whether the gate takes the shopper's order rate-limit token itself (several nodes:
    /// in its first Redis look, `admit`'s `limit`).
    pub fn limits_orders(&self) -> bool {
        self.inner.redis.is_some()
    }

    /// Admits (or refuses) an order and waits until it is committed. With several nodes,
    /// `limit` (the shared order bucket's size and period) is checked in the first look.
    /// `coupons`: the shopper's usable live coupons (`Coupons::usable_for_order`); the best
    /// one prices the order.
    pub async fn admit(
        &self,
        shopper_id: ShopperId,
        req: &PlaceOrder,
        limit: Option<(u32, std::time::Duration)>,
        coupons: &[(i64, CouponTerms)],
    ) -> Result<Admitted> {
        if let Some(gate) = &self.inner.redis {
            return self
                .admit_redis(gate, shopper_id, req, limit, coupons)
                .await;
        }
        // Facts read for this shopper, when the gate did not know them (only for an order
        // that gets past the stock check: "sold out" costs no database read).
        let mut fetched: Option<ShopperFacts> = None;
        // A state retired between the lookup and the admission is loaded again.
        for _ in 0..6 {
            let sale = self.session(req.session_id).await?;
            let step = {
                let mut s = lock(&sale.state);
                if s.retired {
                    continue;
                }
                match s.admit(
                    shopper_id,
                    req,
                    fetched.as_ref(),
                    self.inner.provider,
                    coupons,
                )? {
                    Decision::Existing(Some(id)) => return Ok(Admitted::Existing(id)),
                    // The first request with this key is still waiting for its batch.
                    Decision::Existing(None) => return Err(AppError::Busy.into()),
                    Decision::NeedFacts => Err(s.facts_gen),
                    Decision::New(order, stock_after, view) => {
                        let (tx, rx) = oneshot::channel();
                        let job = Job::Place {
                            sale: Target::Memory(sale.clone()),
                            order,
                            done: tx,
                        };
                        if let Err(e) = self.inner.jobs.try_send(job) {
                            if let Job::Place { order, .. } = e.into_inner() {
                                s.undo(&order);
                            }
                            return Err(AppError::Busy.into());
                        }
                        Ok((rx, view, stock_after))
                    }
                }
            };
            let (done, mut view, stock_after) = match step {
                Ok(queued) => queued,
                Err(gen) => {
                    let facts =
                        shopping::shopper_facts(&self.inner.db, sale.session_id, shopper_id)
                            .await?;
                    let mut s = lock(&sale.state);
                    if s.facts_gen == gen {
                        s.facts.insert(shopper_id, Some(facts.clone()));
                    }
                    drop(s);
                    fetched = Some(facts);
                    continue;
                }
            };
            view.id = done.await.fault("the order writer stopped")??;
            return Ok(Admitted::New {
                order: view,
                stock_after,
            });
        }
        Err(AppError::Busy.into())
    }

    /// A payment confirmed: marks the order paid, in the next batch. False when the order was
    /// no longer awaiting payment.
    pub async fn paid(&self, order_id: OrderId, reference: String) -> Result<bool> {
        let (done, rx) = oneshot::channel();
        self.send(Job::Paid {
            order_id,
            reference,
            done,
        })
        .await?;
        Ok(rx.await.fault("the order writer stopped")??)
    }

    /// Releases an unpaid order: its units and discount go back to the sale. False when it
    /// was no longer awaiting payment.
    pub async fn release(&self, order_id: OrderId) -> Result<bool> {
        let (done, rx) = oneshot::channel();
        self.send(Job::Release { order_id, done }).await?;
        Ok(rx.await.fault("the order writer stopped")??)
    }

    /// Stops admitting orders for the session until the guard is dropped, and waits until
    /// every admitted order is committed, so a change the caller writes next is the truth
    /// the next order loads.
    pub async fn pause(&self, session_id: SessionId) -> Pause {
        let loading = lock(&self.inner.slots)
            .entry(session_id)
            .or_default()
            .loading
            .clone();
        let guard = loading.lock_owned().await;
        if let Some(gate) = &self.inner.redis {
            if let Err(e) = gate.forget(session_id).await {
                tracing::warn!(%session_id, error = %e, "could not reset the sale in Redis");
            }
        }
        if let Some(slot) = lock(&self.inner.slots).get_mut(&session_id) {
            if let Some(cur) = slot.current.take() {
                lock(&cur.state).retired = true;
            }
        }
        let (done, rx) = oneshot::channel();
        if self.inner.jobs.send(Job::Flush { done }).await.is_ok() {
            let _ = rx.await;
        }
        Pause {
            _guard: guard,
            redis: self.inner.redis.clone().map(|g| (g, session_id)),
        }
    }

    /// A shopper's eligibility facts, through the batching reader when there is one.
    async fn shopper_facts(
        &self,
        session_id: SessionId,
        shopper_id: ShopperId,
    ) -> Result<ShopperFacts> {
        let Some(reader) = &self.inner.facts_reader else {
            return shopping::shopper_facts(&self.inner.db, session_id, shopper_id).await;
        };
        let (done, rx) = oneshot::channel();
        let read = FactsRead {
            session_id,
            shopper_id,
            done,
        };
        if reader.send(read).await.is_err() {
            return shopping::shopper_facts(&self.inner.db, session_id, shopper_id).await;
        }
        Ok(rx.await.fault("the order writer stopped")??)
    }

    fn cached_sale_facts(
        &self,
        sid: SessionId,
        pid: ProductId,
        token: &str,
    ) -> Option<repo::SaleFacts> {
        lock(&self.inner.sale_facts)
            .get(&(sid, pid))
            .filter(|(t, _)| !token.is_empty() && t == token)
            .map(|(_, f)| f.clone())
    }

    fn cache_sale_facts(
        &self,
        sid: SessionId,
        pid: ProductId,
        token: &str,
        facts: &repo::SaleFacts,
    ) {
        if token.is_empty() {
            return;
        }
        let mut cache = lock(&self.inner.sale_facts);
        if cache.len() >= SALE_FACTS_MAX {
            cache.clear();
        }
        cache.insert((sid, pid), (token.to_string(), facts.clone()));
    }

    /// The shoppers' eligibility facts changed (a reservation, a join, an invite).
    pub fn forget_shoppers(&self, shopper_ids: &[ShopperId]) {
        self.each_current(|s| {
            for id in shopper_ids {
                s.facts.insert(*id, None);
            }
            s.facts_gen += 1;
        });
    }

    /// Facts of unknown reach changed (a verified number counts for whoever invited its
    /// owner): every cached fact is forgotten.
    pub fn forget_all_facts(&self) {
        self.each_current(|s| {
            s.facts.clear();
            s.facts_complete = false;
            s.facts_gen += 1;
        });
    }

    /// A session ended: its sale leaves memory (the slot, and on several nodes the facts read
    /// for it). A slot being loaded or paused right now stays; it is small, and its next load
    /// sees the session ended.
    pub fn session_ended(&self, session_id: SessionId) {
        let retired = {
            let mut slots = lock(&self.inner.slots);
            let free = slots
                .get(&session_id)
                .is_some_and(|s| s.loading.try_lock().is_ok());
            if free {
                slots.remove(&session_id).and_then(|s| s.current)
            } else {
                None
            }
        };
        if let Some(sale) = retired {
            lock(&sale.state).retired = true;
        }
        lock(&self.inner.sale_facts).retain(|(s, _), _| *s != session_id);
    }

    /// Orders and counters moved between shoppers (a merge): every session loads again.
    pub async fn reload_all(&self) {
        let ids: Vec<SessionId> = lock(&self.inner.slots).keys().copied().collect();
        for id in ids {
            drop(self.pause(id).await);
        }
    }

    /// Changes facts in every loaded sale. The epoch moves under the same lock a load installs
    /// its state under: a load either sees the change coming or is changed by it.
    fn each_current(&self, mut f: impl FnMut(&mut SaleState)) {
        let sales: Vec<Arc<SessionSale>> = {
            let slots = lock(&self.inner.slots);
            self.inner.facts_epoch.fetch_add(1, Ordering::SeqCst);
            slots.values().filter_map(|s| s.current.clone()).collect()
        };
        for sale in sales {
            f(&mut lock(&sale.state));
        }
    }

    async fn send(&self, job: Job) -> Result<()> {
        Ok(self
            .inner
            .jobs
            .send(job)
            .await
            .fault("the order writer stopped")?)
    }

    fn current(&self, session_id: SessionId) -> Option<Arc<SessionSale>> {
        lock(&self.inner.slots)
            .get(&session_id)
            .and_then(|s| s.current.clone())
            .filter(|s| !lock(&s.state).retired)
    }

    /// The session's sale state, loaded (once, by the writer) when missing.
    async fn session(&self, session_id: SessionId) -> Result<Arc<SessionSale>> {
        if let Some(s) = self.current(session_id) {
            return Ok(s);
        }
        let loading = lock(&self.inner.slots)
            .entry(session_id)
            .or_default()
            .loading
            .clone();
        let _loading = loading.lock().await;
        if let Some(s) = self.current(session_id) {
            return Ok(s);
        }
        let (done, rx) = oneshot::channel();
        self.inner
            .jobs
            .try_send(Job::Load { session_id, done })
            .map_err(|_| AppError::Busy)?;
        let loaded = rx.await.fault("the order writer stopped")?;
        if let Err(e) = loaded {
            // No state for sessions that do not exist: nothing grows with made-up ids.
            let mut slots = lock(&self.inner.slots);
            if slots.get(&session_id).is_some_and(|s| s.current.is_none()) {
                slots.remove(&session_id);
            }
            return Err(e.into());
        }
        self.current(session_id).ok_or(AppError::Busy.into())
    }
}

/// Pauses the session's sale while the studio changes the session (`Sale::pause`); nothing
/// with several nodes, where orders read the database each time.
pub async fn pause(st: &crate::AppState, session_id: SessionId) -> Option<Pause> {
    match &st.sale {
        Some(sale) => Some(sale.pause(session_id).await),
        None => None,
    }
}

/// These shoppers' eligibility facts changed (`Sale::forget_shoppers`).
pub fn forget_shoppers(st: &crate::AppState, shopper_ids: &[ShopperId]) {
    if let Some(sale) = &st.sale {
        sale.forget_shoppers(shopper_ids);
    }
}
