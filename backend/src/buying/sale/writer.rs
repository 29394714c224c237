//! The batch writer: admitted orders, payments and releases written many per transaction, on a
//! thread of its own.

use super::*;
use crate::error::{Chain, Error, Result};
use shop_core::ids::{OrderId, SessionId};

/// Several nodes: reads the facts of every shopper waiting (up to [`FACTS_BATCH`]) in two
/// queries per session, instead of one round trip per winner of a rush.
pub(super) async fn read_facts(db: Db, mut rx: mpsc::Receiver<FactsRead>) {
    while let Some(batch) = next_batch(&mut rx, FACTS_BATCH).await {
        let mut by_session: HashMap<SessionId, Vec<FactsRead>> = HashMap::new();
        for r in batch {
            by_session.entry(r.session_id).or_default().push(r);
        }
        for (session_id, reads) in by_session {
            let mut ids: Vec<ShopperId> = reads.iter().map(|r| r.shopper_id).collect();
            ids.sort_unstable();
            ids.dedup();
            let started = std::time::Instant::now();
            let found = shopping::shoppers_facts(&db, session_id, &ids)
                .await
                .map_err(AppError::from);
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
pub(super) async fn write(inner: Arc<Inner>, db: Db, mut rx: mpsc::Receiver<Job>) {
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
                    let _ = done.send(release(&inner, &db, order_id).await.map_err(AppError::from));
                }
                Job::Load { session_id, done } => {
                    let _ = done.send(load(&inner, &db, session_id).await.map_err(AppError::from));
                }
                Job::Flush { done } => {
                    let _ = done.send(());
                }
                Job::Place { .. } | Job::Paid { .. } => {}
            }
        }
    }
}

pub(super) type PlaceJob = (
    Target,
    Box<NewOrder>,
    oneshot::Sender<Result<OrderId, AppError>>,
);
pub(super) type PaidJob = (OrderId, String, oneshot::Sender<Result<bool, AppError>>);

pub(super) async fn commit(inner: &Inner, db: &Db, places: Vec<PlaceJob>, paid: Vec<PaidJob>) {
    let orders: Vec<NewOrder> = places.iter().map(|(_, o, _)| (**o).clone()).collect();
    let payments: Vec<(OrderId, String)> = paid.iter().map(|(id, r, _)| (*id, r.clone())).collect();
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
                    let _ = done.send(Err(batch_error(e).into()));
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

pub(super) fn batch_error(e: BatchError) -> AppError {
    match e {
        BatchError::Refused(e) => e,
        // Logged here with its cause: many buyers share this answer.
        BatchError::Db(e) => Error::caused("writing an order batch", e).into(),
    }
}

/// Tells each admitted order's gate and buyer what became of it.
pub(super) async fn settle(
    inner: &Inner,
    outcomes: Vec<(PlaceJob, Result<Option<OrderId>, BatchError>)>,
) {
    let mut written: Vec<(&NewOrder, OrderId)> = Vec::new();
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
                    BatchError::Db(e) => {
                        tracing::error!(error = %Chain(e), "writing an order");
                        AppError::Internal
                    }
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

pub(super) async fn undo(target: &Target, order: &NewOrder) {
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
pub(super) fn retire(inner: &Inner, sale: &SessionSale) {
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

pub(super) async fn release(inner: &Inner, db: &Db, order_id: OrderId) -> Result<bool> {
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

pub(super) async fn load(inner: &Inner, db: &Db, session_id: SessionId) -> Result<()> {
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
