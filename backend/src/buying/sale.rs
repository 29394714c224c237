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
//! (`buying::sale_redis`): every node admits against the same stock, counters and keys, and
//! each node's writer batches into PostgreSQL the same way. The batch writer refuses to write
//! past the stock or a shopper's limits whatever the gate said, and one order it refuses (or
//! a fault) is retried alone so that it does not fail the rest of its batch.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, MutexGuard,
    },
};

use tokio::sync::{mpsc, oneshot};

use crate::{
    buying::sale_redis::{self, Admit, Peek, RedisGate},
    db::Db,
    domain::{
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
    Existing(i64),
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
    slots: Mutex<HashMap<i64, Slot>>,
    jobs: mpsc::Sender<Job>,
    /// Bumped by every change to shoppers' facts: a load that overlapped one does not trust
    /// the facts it read in bulk.
    facts_epoch: AtomicU64,
    /// Several nodes: the gate is in Redis.
    redis: Option<Arc<RedisGate>>,
    /// Several nodes: the session, policy and product facts an order needs, per (session,
    /// product), with the token of the Redis state they were read under (`Peek::Stock`):
    /// read from the database once per load of the state, not once per order.
    sale_facts: Mutex<HashMap<(i64, i64), (String, repo::SaleFacts)>>,
    /// Several nodes: shoppers' eligibility facts are read in batches (`read_facts`).
    facts_reader: Option<mpsc::Sender<FactsRead>>,
}

/// A shopper's eligibility facts, wanted by an order on several nodes.
struct FactsRead {
    session_id: i64,
    shopper_id: i64,
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
    session_id: i64,
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
    order: Option<i64>,
}

struct SaleState {
    retired: bool,
    status: SessionStatus,
    title: String,
    policy: DiscountPolicy,
    /// Product names and images, for the order the buyer sees.
    names: HashMap<i64, (String, String)>,
    products: HashMap<i64, ProductStock>,
    variants: HashMap<i64, VariantStock>,
    /// Each product's variant ids (none: the product has no variants).
    variants_of: HashMap<i64, Vec<i64>>,
    counters: HashMap<(i64, i64), Counter>,
    keys: HashMap<(i64, String), KeyEntry>,
    /// Eligibility facts: `Some` known, `None` forgotten (read again when needed).
    facts: HashMap<i64, Option<ShopperFacts>>,
    /// Every reserved shopper was loaded: a shopper missing from `facts` had not reserved.
    facts_complete: bool,
    /// Bumped whenever facts are forgotten, so that a lookup that started before does not
    /// store what it read.
    facts_gen: u64,
}

enum Decision {
    /// The shopper's facts are needed and not known: read them, then try again.
    NeedFacts,
    Existing(Option<i64>),
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
        done: oneshot::Sender<Result<i64, AppError>>,
    },
    Paid {
        order_id: i64,
        reference: String,
        done: oneshot::Sender<Result<bool, AppError>>,
    },
    Release {
        order_id: i64,
        done: oneshot::Sender<Result<bool, AppError>>,
    },
    Load {
        session_id: i64,
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
    redis: Option<(Arc<RedisGate>, i64)>,
}

impl Drop for Pause {
    fn drop(&mut self) {
        if let Some((gate, session_id)) = self.redis.take() {
            tokio::spawn(async move {
                if let Err(e) = gate.forget(session_id).await {
                    tracing::warn!(session_id, error = %e, "could not reset the sale in Redis");
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
    pub async fn reconcile(&self) -> Result<(), AppError> {
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
    pub async fn admit(
        &self,
        shopper_id: i64,
        req: &PlaceOrder,
        limit: Option<(u32, std::time::Duration)>,
    ) -> Result<Admitted, AppError> {
        if let Some(gate) = &self.inner.redis {
            return self.admit_redis(gate, shopper_id, req, limit).await;
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
                match s.admit(shopper_id, req, fetched.as_ref(), self.inner.provider)? {
                    Decision::Existing(Some(id)) => return Ok(Admitted::Existing(id)),
                    // The first request with this key is still waiting for its batch.
                    Decision::Existing(None) => return Err(AppError::Busy),
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
                            return Err(AppError::Busy);
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
            view.id = done.await.map_err(|_| AppError::Internal)??;
            return Ok(Admitted::New {
                order: view,
                stock_after,
            });
        }
        Err(AppError::Busy)
    }

    /// A payment confirmed: marks the order paid, in the next batch. False when the order was
    /// no longer awaiting payment.
    pub async fn paid(&self, order_id: i64, reference: String) -> Result<bool, AppError> {
        let (done, rx) = oneshot::channel();
        self.send(Job::Paid {
            order_id,
            reference,
            done,
        })
        .await?;
        rx.await.map_err(|_| AppError::Internal)?
    }

    /// Releases an unpaid order: its units and discount go back to the sale. False when it
    /// was no longer awaiting payment.
    pub async fn release(&self, order_id: i64) -> Result<bool, AppError> {
        let (done, rx) = oneshot::channel();
        self.send(Job::Release { order_id, done }).await?;
        rx.await.map_err(|_| AppError::Internal)?
    }

    /// Stops admitting orders for the session until the guard is dropped, and waits until
    /// every admitted order is committed, so a change the caller writes next is the truth
    /// the next order loads.
    pub async fn pause(&self, session_id: i64) -> Pause {
        let loading = lock(&self.inner.slots)
            .entry(session_id)
            .or_default()
            .loading
            .clone();
        let guard = loading.lock_owned().await;
        if let Some(gate) = &self.inner.redis {
            if let Err(e) = gate.forget(session_id).await {
                tracing::warn!(session_id, error = %e, "could not reset the sale in Redis");
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
        session_id: i64,
        shopper_id: i64,
    ) -> Result<ShopperFacts, AppError> {
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
        rx.await.map_err(|_| AppError::Internal)?
    }

    fn cached_sale_facts(&self, sid: i64, pid: i64, token: &str) -> Option<repo::SaleFacts> {
        lock(&self.inner.sale_facts)
            .get(&(sid, pid))
            .filter(|(t, _)| !token.is_empty() && t == token)
            .map(|(_, f)| f.clone())
    }

    fn cache_sale_facts(&self, sid: i64, pid: i64, token: &str, facts: &repo::SaleFacts) {
        if token.is_empty() {
            return;
        }
        let mut cache = lock(&self.inner.sale_facts);
        if cache.len() >= SALE_FACTS_MAX {
            cache.clear();
        }
        cache.insert((sid, pid), (token.to_string(), facts.clone()));
    }

    /// Admission with several nodes: a first look in Redis (a retried key, or sold out: no
    /// database read), then the session's status, policy, product and the shopper's facts
    /// from the database, then the atomic admission script.
    async fn admit_redis(
        &self,
        gate: &Arc<RedisGate>,
        shopper_id: i64,
        req: &PlaceOrder,
        mut limit: Option<(u32, std::time::Duration)>,
    ) -> Result<Admitted, AppError> {
        let db = &self.inner.db;
        let (sid, pid) = (req.session_id, req.product_id);
        let field = sale_redis::key_field(shopper_id, req.key.as_str());
        let hash = req.request_hash();
        let qty = i64::from(req.quantity.get());
        // A retried key: its order, or `None` when its batch was lost with the node that
        // admitted it (the session's state is then loaded again from the database).
        let existing = |prior: &str| -> Result<Option<Admitted>, AppError> {
            let (h, id) = prior.split_once('|').unwrap_or((prior, ""));
            if h != hash {
                return Err(key_reused());
            }
            if let Ok(id) = id.parse() {
                return Ok(Some(Admitted::Existing(id)));
            }
            let since: i64 = id.trim_start_matches('~').parse().unwrap_or(0);
            if now_ms().saturating_sub(since) > sale_redis::PENDING_LOST_MS {
                Ok(None)
            } else {
                Err(AppError::Busy)
            }
        };
        // -1: no such product in the session.
        let short = |stock: i64| repo::not_enough_stock((stock >= 0).then_some(stock));
        let mut facts: Option<(repo::SaleFacts, ShopperFacts)> = None;
        for _ in 0..250 {
            // The rate-limit token is taken once per request, by its first look.
            let token = match gate
                .peek(sid, pid, shopper_id, &field, limit.take())
                .await?
            {
                Peek::Limited => return Err(AppError::RateLimited),
                Peek::Unloaded => {
                    if !gate.load(db, sid).await? {
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    }
                    continue;
                }
                Peek::Existing(prior) => match existing(&prior)? {
                    Some(found) => return Ok(found),
                    None => {
                        gate.forget(sid).await?;
                        continue;
                    }
                },
                Peek::Stock(n, _) if n < qty => return Err(short(n)),
                Peek::Stock(_, token) => token,
            };
            let (sale, shopper) = match &facts {
                Some(f) => f.clone(),
                None => {
                    let sale = match self.cached_sale_facts(sid, pid, &token) {
                        Some(sale) => sale,
                        None => {
                            let sale = repo::sale_facts(db, sid, pid).await?;
                            self.cache_sale_facts(sid, pid, &token, &sale);
                            sale
                        }
                    };
                    allows(sale.status, Activity::Buy)?;
                    let shopper = self.shopper_facts(sid, shopper_id).await?;
                    facts.insert((sale, shopper)).clone()
                }
            };
            let (policy, presented) = (sale.policy, sale.presented);
            let (price, variant) =
                match repo::pick_variant(&sale.variants, |v| v.0, req.variant_id)? {
                    None => (sale.price, None),
                    Some((id, name, own)) => {
                        (unit_price(sale.price, *own), Some((*id, name.clone())))
                    }
                };
            let variant_id = variant.as_ref().map(|v| v.0);
            if req.quantity.get() > policy.purchase_limit {
                return Err(repo::over_purchase_limit(policy.purchase_limit));
            }
            let elig = eligibility(&policy, &shopper);
            let allowance = discount_allowance(&policy, &elig, presented);
            let cap = policy.units_cap.map_or(-1, i64::from);
            let limit = i64::from(policy.purchase_limit);
            let admitted = gate
                .admit(
                    sid,
                    (pid, variant_id),
                    shopper_id,
                    &field,
                    &hash,
                    qty,
                    limit,
                    allowance,
                    cap,
                )
                .await?;
            let (stock_after, shopper_disc, product_disc, discounted) = match admitted {
                Admit::Unloaded => continue,
                Admit::Existing(prior) => match existing(&prior)? {
                    Some(found) => return Ok(found),
                    None => {
                        gate.forget(sid).await?;
                        continue;
                    }
                },
                Admit::Stock(n) => return Err(short(n)),
                Admit::Limit => return Err(repo::purchase_limit_reached(policy.purchase_limit)),
                Admit::Admitted {
                    stock_after,
                    shopper_discounted,
                    product_discounted,
                    discounted,
                } => (
                    stock_after,
                    shopper_discounted,
                    product_discounted,
                    discounted,
                ),
            };
            let give_back = || {
                gate.give_back(
                    sid,
                    (pid, variant_id),
                    shopper_id,
                    qty,
                    discounted,
                    Some(&field),
                )
            };
            let priced = new_order(
                shopper_id,
                req,
                hash.clone(),
                self.inner.provider,
                &policy,
                &elig,
                (price, presented),
                (product_disc, shopper_disc),
                variant,
            );
            let Some(order) = priced.filter(|o| i64::from(o.quote.discounted_units) == discounted)
            else {
                give_back().await?;
                tracing::error!(sid, pid, "the Redis gate and quote_line disagree");
                return Err(AppError::Internal);
            };
            if req
                .expected_total
                .is_some_and(|seen| seen != order.quote.paid)
            {
                give_back().await?;
                return Err(AppError::PriceChanged {
                    total: order.quote.paid,
                });
            }
            let mut view = Box::new(repo::order_view(
                0,
                &order,
                &sale.title,
                &sale.name,
                &sale.image_url,
            ));
            let (tx, rx) = oneshot::channel();
            let job = Job::Place {
                sale: Target::Redis(gate.clone()),
                order: Box::new(order),
                done: tx,
            };
            if self.inner.jobs.try_send(job).is_err() {
                give_back().await?;
                return Err(AppError::Busy);
            }
            view.id = rx.await.map_err(|_| AppError::Internal)??;
            return Ok(Admitted::New {
                order: view,
                stock_after,
            });
        }
        Err(AppError::Busy)
    }

    /// The shoppers' eligibility facts changed (a reservation, a join, an invite).
    pub fn forget_shoppers(&self, shopper_ids: &[i64]) {
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
    pub fn session_ended(&self, session_id: i64) {
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
        let ids: Vec<i64> = lock(&self.inner.slots).keys().copied().collect();
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

    async fn send(&self, job: Job) -> Result<(), AppError> {
        self.inner
            .jobs
            .send(job)
            .await
            .map_err(|_| AppError::Internal)
    }

    fn current(&self, session_id: i64) -> Option<Arc<SessionSale>> {
        lock(&self.inner.slots)
            .get(&session_id)
            .and_then(|s| s.current.clone())
            .filter(|s| !lock(&s.state).retired)
    }

    /// The session's sale state, loaded (once, by the writer) when missing.
    async fn session(&self, session_id: i64) -> Result<Arc<SessionSale>, AppError> {
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
        let loaded = rx.await.map_err(|_| AppError::Internal)?;
        if let Err(e) = loaded {
            // No state for sessions that do not exist: nothing grows with made-up ids.
            let mut slots = lock(&self.inner.slots);
            if slots.get(&session_id).is_some_and(|s| s.current.is_none()) {
                slots.remove(&session_id);
            }
            return Err(e);
        }
        self.current(session_id).ok_or(AppError::Busy)
    }
}

impl SaleState {
    fn from_snapshot(
        snap: repo::SaleSnapshot,
        facts: Option<HashMap<i64, ShopperFacts>>,
    ) -> SaleState {
        let facts_complete = facts.is_some();
        let mut variants_of: HashMap<i64, Vec<i64>> = HashMap::new();
        for (id, product_id, ..) in &snap.variants {
            variants_of.entry(*product_id).or_default().push(*id);
        }
        SaleState {
            variants: snap
                .variants
                .into_iter()
                .map(|(id, _, name, price, stock)| {
                    let v = VariantStock { name, price, stock };
                    (id, v)
                })
                .collect(),
            variants_of,
            retired: false,
            status: snap.status,
            policy: snap.policy,
            names: snap
                .products
                .iter()
                .map(|(id, .., name, image)| (*id, (name.clone(), image.clone())))
                .collect(),
            title: snap.title,
            products: snap
                .products
                .into_iter()
                .map(|(id, price, stock, presented, discounted, ..)| {
                    (
                        id,
                        ProductStock {
                            price,
                            presented,
                            stock,
                            discounted,
                        },
                    )
                })
                .collect(),
            counters: snap
                .counters
                .into_iter()
                .map(|(p, s, units, discounted)| ((p, s), Counter { units, discounted }))
                .collect(),
            keys: snap
                .keys
                .into_iter()
                .map(|(shopper, key, hash, id)| {
                    (
                        (shopper, key),
                        KeyEntry {
                            hash,
                            order: Some(id),
                        },
                    )
                })
                .collect(),
            facts: facts
                .unwrap_or_default()
                .into_iter()
                .map(|(id, f)| (id, Some(f)))
                .collect(),
            facts_complete,
            facts_gen: 0,
        }
    }

    /// The gate: the same checks, in the same order and with the same answers, as the
    /// one-transaction path (`repo::orders::reserve_order`).
    fn admit(
        &mut self,
        shopper_id: i64,
        req: &PlaceOrder,
        fetched: Option<&ShopperFacts>,
        provider: &'static str,
    ) -> Result<Decision, AppError> {
        let hash = req.request_hash();
        if let Some(e) = self.keys.get(&(shopper_id, req.key.as_str().to_string())) {
            return if e.hash == hash {
                Ok(Decision::Existing(e.order))
            } else {
                Err(key_reused())
            };
        }
        allows(self.status, Activity::Buy)?;
        let policy = self.policy;
        let qty = req.quantity.get();
        if qty > policy.purchase_limit {
            return Err(repo::over_purchase_limit(policy.purchase_limit));
        }
        let qty_i = i64::from(qty);
        let product = *self
            .products
            .get(&req.product_id)
            .ok_or_else(|| repo::not_enough_stock(None))?;
        if product.stock < qty_i {
            return Err(repo::not_enough_stock(Some(product.stock)));
        }
        let ids = self
            .variants_of
            .get(&req.product_id)
            .map_or(&[][..], Vec::as_slice);
        let (price, variant) = match repo::pick_variant(ids, |id| *id, req.variant_id)? {
            None => (product.price, None),
            Some(id) => {
                let v = self.variants.get(id).ok_or(AppError::Internal)?;
                if v.stock < qty_i {
                    return Err(repo::not_enough_stock(Some(v.stock)));
                }
                (
                    unit_price(product.price, v.price),
                    Some((*id, v.name.clone())),
                )
            }
        };
        let counter = self
            .counters
            .get(&(req.product_id, shopper_id))
            .copied()
            .unwrap_or_default();
        if counter.units + qty_i > i64::from(policy.purchase_limit) {
            return Err(repo::purchase_limit_reached(policy.purchase_limit));
        }
        let facts = match (self.facts.get(&shopper_id), fetched) {
            (Some(Some(f)), _) => f.clone(),
            (None, _) if self.facts_complete => ShopperFacts::default(),
            (_, Some(f)) => f.clone(),
            _ => return Ok(Decision::NeedFacts),
        };
        let elig = eligibility(&policy, &facts);
        let order = new_order(
            shopper_id,
            req,
            hash,
            provider,
            &policy,
            &elig,
            (price, product.presented),
            (product.discounted, counter.discounted),
            variant,
        )
        .ok_or_else(|| AppError::bad_request("That order is too large."))?;
        if req
            .expected_total
            .is_some_and(|seen| seen != order.quote.paid)
        {
            return Err(AppError::PriceChanged {
                total: order.quote.paid,
            });
        }
        let stock_after = self.apply(&order, 1);
        let (name, image) = self
            .names
            .get(&order.product_id)
            .cloned()
            .unwrap_or_default();
        let view = repo::order_view(0, &order, &self.title, &name, &image);
        self.keys.insert(
            (shopper_id, order.key.clone()),
            KeyEntry {
                hash: order.request_hash.clone(),
                order: None,
            },
        );
        Ok(Decision::New(Box::new(order), stock_after, Box::new(view)))
    }

    /// Takes (`sign` 1) or gives back (-1) an order's units and discount; the stock after.
    fn apply(&mut self, o: &NewOrder, sign: i64) -> i64 {
        let units = i64::from(o.quote.quantity) * sign;
        let discounted = i64::from(o.quote.discounted_units) * sign;
        let variant = o.variant.as_ref().map(|v| v.0);
        self.apply_line(o.product_id, variant, o.shopper_id, units, discounted)
    }

    fn apply_line(
        &mut self,
        product_id: i64,
        variant_id: Option<i64>,
        shopper_id: i64,
        units: i64,
        discounted: i64,
    ) -> i64 {
        if let Some(v) = variant_id.and_then(|id| self.variants.get_mut(&id)) {
            v.stock -= units;
        }
        let c = self.counters.entry((product_id, shopper_id)).or_default();
        c.units += units;
        c.discounted += discounted;
        match self.products.get_mut(&product_id) {
            Some(p) => {
                p.stock -= units;
                p.discounted += discounted;
                p.stock
            }
            None => 0,
        }
    }

    /// An admitted order that will not be written after all.
    fn undo(&mut self, o: &NewOrder) {
        self.apply(o, -1);
        self.keys.remove(&(o.shopper_id, o.key.clone()));
    }
}

/// Discounted units this shopper may have of a product: the policy's, when eligible and the
/// product was presented.
fn discount_allowance(policy: &DiscountPolicy, elig: &Eligibility, presented: bool) -> i64 {
    if elig.is_eligible() && presented {
        i64::from(policy.units_per_shopper)
    } else {
        0
    }
}

/// Prices an order by the pure rules (`quote_line`) from the product's (price, presented)
/// and the discounted units sold so far (of the product, to this shopper), and builds what
/// the writer persists: the one place both gates do it. `None` when the total overflows.
#[allow(clippy::too_many_arguments)]
fn new_order(
    shopper_id: i64,
    req: &PlaceOrder,
    request_hash: String,
    provider: &'static str,
    policy: &DiscountPolicy,
    elig: &Eligibility,
    (price, presented): (Fen, bool),
    (product_discounted, shopper_discounted): (i64, i64),
    variant: Option<(i64, String)>,
) -> Option<NewOrder> {
    let quote = quote_line(
        policy,
        elig,
        &ProductFacts {
            price,
            presented,
            discounted_so_far: count(product_discounted),
        },
        count(shopper_discounted),
        req.quantity.get(),
    )?;
    Some(NewOrder {
        shopper_id,
        session_id: req.session_id,
        product_id: req.product_id,
        variant,
        key: req.key.as_str().to_string(),
        request_hash,
        rule: line_rule(elig, presented, &quote),
        percent_off: policy.percent_off,
        invite_id: if elig.is_eligible() {
            elig.invite_id()
        } else {
            None
        },
        provider,
        created_at_ms: now_ms(),
        purchase_limit: i64::from(policy.purchase_limit),
        discount_allowance: discount_allowance(policy, elig, presented),
        quote,
    })
}

/// Several nodes: reads the facts of every shopper waiting (up to [`FACTS_BATCH`]) in two
/// queries per session, instead of one round trip per winner of a rush.
async fn read_facts(db: Db, mut rx: mpsc::Receiver<FactsRead>) {
    while let Some(batch) = next_batch(&mut rx, FACTS_BATCH).await {
        let mut by_session: HashMap<i64, Vec<FactsRead>> = HashMap::new();
        for r in batch {
            by_session.entry(r.session_id).or_default().push(r);
        }
        for (session_id, reads) in by_session {
            let mut ids: Vec<i64> = reads.iter().map(|r| r.shopper_id).collect();
            ids.sort_unstable();
            ids.dedup();
            let started = std::time::Instant::now();
            let found = shopping::shoppers_facts(&db, session_id, &ids).await;
            tracing::debug!(
                shoppers = ids.len(),
                ms = started.elapsed().as_millis() as u64,
                "shoppers' facts read"
            );
            for r in reads {
                let answer = match &found {
                    Ok(facts) => Ok(facts.get(&r.shopper_id).cloned().unwrap_or_default()),
                    Err(e) => Err(e.clone()),
                };
                let _ = r.done.send(answer);
            }
        }
    }
}

/// The writer: takes everything queued, commits orders and payments in one transaction,
/// then releases and loads in order.
async fn write(inner: Arc<Inner>, db: Db, mut rx: mpsc::Receiver<Job>) {
    while let Some(batch) = next_batch(&mut rx, MAX_BATCH).await {
        let mut places = Vec::new();
        let mut paid = Vec::new();
        let mut rest = Vec::new();
        for job in batch {
            match job {
                Job::Place { sale, order, done } => places.push((sale, order, done)),
                Job::Paid {
                    order_id,
                    reference,
                    done,
                } => paid.push((order_id, reference, done)),
                other => rest.push(other),
            }
        }
        if !places.is_empty() || !paid.is_empty() {
            let (n_places, n_paid, started) = (places.len(), paid.len(), std::time::Instant::now());
            commit(&inner, &db, places, paid).await;
            tracing::debug!(
                places = n_places,
                paid = n_paid,
                ms = started.elapsed().as_millis() as u64,
                "order batch committed"
            );
        }
        for job in rest {
            match job {
                Job::Release { order_id, done } => {
                    let _ = done.send(release(&inner, &db, order_id).await);
                }
                Job::Load { session_id, done } => {
                    let _ = done.send(load(&inner, &db, session_id).await);
                }
                Job::Flush { done } => {
                    let _ = done.send(());
                }
                Job::Place { .. } | Job::Paid { .. } => {}
            }
        }
    }
}

type PlaceJob = (
    Target,
    Box<NewOrder>,
    oneshot::Sender<Result<i64, AppError>>,
);
type PaidJob = (i64, String, oneshot::Sender<Result<bool, AppError>>);

async fn commit(inner: &Inner, db: &Db, places: Vec<PlaceJob>, paid: Vec<PaidJob>) {
    let orders: Vec<NewOrder> = places.iter().map(|(_, o, _)| (**o).clone()).collect();
    let payments: Vec<(i64, String)> = paid.iter().map(|(id, r, _)| (*id, r.clone())).collect();
    match repo::write_batch(db, &orders, &payments).await {
        Ok((ids, marked)) => {
            settle(
                inner,
                places.into_iter().zip(ids.into_iter().map(Ok)).collect(),
            )
            .await;
            for ((_, _, done), m) in paid.into_iter().zip(marked) {
                let _ = done.send(Ok(m));
            }
        }
        Err(e) if places.len() + paid.len() == 1 => {
            match (places.into_iter().next(), paid.into_iter().next()) {
                (Some(p), _) => settle(inner, vec![(p, Err(e))]).await,
                (None, Some((_, _, done))) => {
                    let _ = done.send(Err(batch_error(e)));
                }
                (None, None) => {}
            }
        }
        // One order the database refuses (or a fault) must not fail the others: each alone.
        Err(_) => {
            let mut outcomes = Vec::with_capacity(places.len());
            for p in places {
                let alone = repo::write_batch(db, std::slice::from_ref(&*p.1), &[]).await;
                outcomes.push((p, alone.map(|(ids, _)| ids.into_iter().next().flatten())));
            }
            settle(inner, outcomes).await;
            for (id, reference, done) in paid {
                let alone = repo::write_batch(db, &[], &[(id, reference)]).await;
                let _ = done.send(
                    alone
                        .map(|(_, m)| m.first().copied().unwrap_or(false))
                        .map_err(batch_error),
                );
            }
        }
    }
}

fn batch_error(e: BatchError) -> AppError {
    match e {
        BatchError::Refused(e) => e,
        BatchError::Db(e) => {
            tracing::error!(error = %e, "order batch failed");
            AppError::Internal
        }
    }
}

/// Tells each admitted order's gate and buyer what became of it.
async fn settle(inner: &Inner, outcomes: Vec<(PlaceJob, Result<Option<i64>, BatchError>)>) {
    let mut written: Vec<(&NewOrder, i64)> = Vec::new();
    let mut redis: Option<Arc<RedisGate>> = None;
    let mut answers = Vec::with_capacity(outcomes.len());
    for ((target, order, _), outcome) in &outcomes {
        let answer = match (target, outcome) {
            (Target::Memory(sale), Ok(Some(id))) => {
                let mut s = lock(&sale.state);
                if let Some(e) = s.keys.get_mut(&(order.shopper_id, order.key.clone())) {
                    e.order = Some(*id);
                }
                Ok(*id)
            }
            (Target::Redis(gate), Ok(Some(id))) => {
                redis = Some(gate.clone());
                written.push((&**order, *id));
                Ok(*id)
            }
            // The shopper used this key for an order in another session.
            (target, Ok(None)) => {
                undo(target, order).await;
                Err(key_reused())
            }
            (target, Err(e)) => {
                undo(target, order).await;
                if let Target::Memory(sale) = target {
                    // The memory and the database disagree, or the database failed: load
                    // the truth again.
                    retire(inner, sale);
                }
                Err(match e {
                    BatchError::Refused(e) => e.clone(),
                    BatchError::Db(_) => AppError::Internal,
                })
            }
        };
        answers.push(answer);
    }
    if let Some(gate) = redis {
        if let Err(e) = gate.committed(&written).await {
            tracing::warn!(error = %e, "could not record written orders' keys in Redis");
        }
    }
    for (((_, _, done), _), answer) in outcomes.into_iter().zip(answers) {
        let _ = done.send(answer);
    }
}

async fn undo(target: &Target, order: &NewOrder) {
    match target {
        Target::Memory(sale) => {
            let mut s = lock(&sale.state);
            if !s.retired {
                s.undo(order);
            }
        }
        Target::Redis(gate) => {
            if let Err(e) = gate.undo(order).await {
                tracing::warn!(error = %e, "could not give an unwritten order's units back in Redis");
            }
        }
    }
}

/// Retires a sale state if it is still the session's current one.
fn retire(inner: &Inner, sale: &SessionSale) {
    lock(&sale.state).retired = true;
    let mut slots = lock(&inner.slots);
    if let Some(slot) = slots.get_mut(&sale.session_id) {
        if slot
            .current
            .as_ref()
            .is_some_and(|c| std::ptr::eq(Arc::as_ptr(c), sale))
        {
            slot.current = None;
        }
    }
}

async fn release(inner: &Inner, db: &Db, order_id: i64) -> Result<bool, AppError> {
    let Some(released) = repo::release_order(db, order_id).await? else {
        return Ok(false);
    };
    if let Some(gate) = &inner.redis {
        for &(product_id, units, discounted, variant_id) in &released.lines {
            gate.give_back(
                released.session_id,
                (product_id, variant_id),
                released.shopper_id,
                units,
                discounted,
                None,
            )
            .await?;
        }
        return Ok(true);
    }
    let current = lock(&inner.slots)
        .get(&released.session_id)
        .and_then(|s| s.current.clone());
    if let Some(sale) = current {
        let mut s = lock(&sale.state);
        if !s.retired {
            for &(product_id, units, discounted, variant_id) in &released.lines {
                s.apply_line(
                    product_id,
                    variant_id,
                    released.shopper_id,
                    -units,
                    -discounted,
                );
            }
        }
    }
    Ok(true)
}

async fn load(inner: &Inner, db: &Db, session_id: i64) -> Result<(), AppError> {
    let epoch = inner.facts_epoch.load(Ordering::SeqCst);
    let snap = repo::sale_snapshot(db, session_id).await?;
    let facts = shopping::session_facts(db, session_id).await?;
    let mut slots = lock(&inner.slots);
    // A reservation or join that happened meanwhile may be missing: read facts one by one.
    let facts = (inner.facts_epoch.load(Ordering::SeqCst) == epoch).then_some(facts);
    let sale = Arc::new(SessionSale {
        session_id,
        state: Mutex::new(SaleState::from_snapshot(snap, facts)),
    });
    slots.entry(session_id).or_default().current = Some(sale);
    Ok(())
}

/// Pauses the session's sale while the studio changes the session (`Sale::pause`); nothing
/// with several nodes, where orders read the database each time.
pub async fn pause(st: &crate::AppState, session_id: i64) -> Option<Pause> {
    match &st.sale {
        Some(sale) => Some(sale.pause(session_id).await),
        None => None,
    }
}

/// These shoppers' eligibility facts changed (`Sale::forget_shoppers`).
pub fn forget_shoppers(st: &crate::AppState, shopper_ids: &[i64]) {
    if let Some(sale) = &st.sale {
        sale.forget_shoppers(shopper_ids);
    }
}
