//! Buying: the orders service between the `orders/place` server function and the repository.
//!
//! An order is first committed awaiting payment, its units and discount held (on one node
//! through the flash-sale gate and its batch writer, `buying::sale`; on several nodes in one
//! database transaction, `repo::orders::reserve_order`). The payment runs after that, through
//! the `PaymentProvider`: confirmed marks the order paid, declined gives the units and the
//! discount back. An order left awaiting payment (a crash between the two, a provider that
//! settles later) is settled by a retry with the same idempotency key, or by
//! `resolve_pending`, which asks the provider and releases what was never paid in time.

use crate::error::Result;
use shop_core::ids::{OrderId, SessionId};
use std::time::Duration;

use crate::{
    buying::payment::{merchant_ref, Charge, Payer, PaymentOutcome, RefundOutcome, RefundRequest},
    buying::sale::Admitted,
    changes::Change,
    domain::money::Fen,
    error::AppError,
    identity::Shopper,
    model::{OrderStatus, OrderView, RefundState},
    now_ms,
    ratelimit::Action,
    repo::orders::{self, PlaceOrder, Reservation},
    AppState,
};

/// How long an order may wait for its payment before its units go back, by default.
pub const DEFAULT_PAYMENT_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// Places (or, for a retried idempotency key, returns) an order and pays for it. A retry of
/// an order still awaiting payment completes it.
pub async fn place(
    st: &AppState,
    shopper: &Shopper,
    req: &PlaceOrder,
    payer: &Payer,
) -> Result<OrderView> {
    // Distributed mode: no order while the live room's news cannot be shared (503).
    st.live.ensure_up()?;
    // The shopper's order rate limit: with several nodes the gate's first Redis look takes
    // the token (one round trip less per order); otherwise here.
    let limit = match &st.sale {
        Some(sale) if sale.limits_orders() => st.limits.shared_bucket(Action::Order),
        _ => None,
    };
    if limit.is_none() {
        st.limits
            .check(Action::Order, &shopper.id.to_string())
            .await?;
    }
    // The shopper's live coupons for the session (none, without a read, for most orders).
    let coupons = st
        .coupons
        .usable_for_order(req.session_id, shopper.id)
        .await?;
    let (mut order, stock_after) = match &st.sale {
        Some(sale) => match sale.admit(shopper.id, req, limit, &coupons).await? {
            Admitted::Existing(id) => (orders::load_order(&st.db, shopper.id, id).await?, None),
            Admitted::New { order, stock_after } => (*order, Some(stock_after)),
        },
        None => match orders::reserve_order(&st.db, st.payments.name(), shopper.id, req).await? {
            Reservation::Existing(order) => (*order, None),
            Reservation::New {
                order_id,
                stock_after,
                ..
            } => (
                orders::load_order(&st.db, shopper.id, order_id).await?,
                Some(stock_after),
            ),
        },
    };
    if order.status == OrderStatus::PendingPayment {
        let charge = Charge {
            order_id: order.id,
            shopper_id: shopper.id,
            amount: order.paid,
            description: description(&order),
            payer: payer.clone(),
        };
        let outcome = st.payments.charge(&charge).await;
        let next = match &outcome {
            PaymentOutcome::Confirmed { .. } => Some(OrderStatus::Paid),
            PaymentOutcome::Declined { .. } => Some(OrderStatus::PaymentFailed),
            PaymentOutcome::Pending => None,
            PaymentOutcome::Awaiting(action) => {
                order.pay = Some(action.clone());
                None
            }
        };
        if let Some(next) = next {
            if settle(st, order.id, outcome).await? {
                order.status = next;
            } else {
                // Settled meanwhile by a twin request with the same key: read it again.
                order = orders::load_order(&st.db, shopper.id, order.id).await?;
            }
        }
    }
    let Some(mut stock_after) = stock_after else {
        return Ok(order);
    };
    crate::metrics::Metrics::count(&st.metrics.orders);
    // The live room shows stock and a "someone just bought" ticker.
    if order.status == OrderStatus::PaymentFailed {
        stock_after += order.lines.iter().map(|l| l.quantity).sum::<i64>();
    }
    if let Some(line) = order.lines.first() {
        let stock = Change::Stock {
            product_id: line.product_id,
            stock: stock_after,
        };
        st.changes.emit(req.session_id, stock).await;
        if order.status == OrderStatus::Paid {
            let purchase = Change::Purchase {
                buyer: shopper.nickname.clone(),
                product: line.product_name.clone(),
            };
            st.changes.emit(req.session_id, purchase).await;
        }
    }
    Ok(order)
}

/// Applies a payment outcome to an order awaiting payment: paid, or released. True when the
/// order changed.
async fn settle(st: &AppState, order_id: OrderId, outcome: PaymentOutcome) -> Result<bool> {
    match outcome {
        PaymentOutcome::Confirmed { reference } => match &st.sale {
            Some(sale) => sale.paid(order_id, reference).await,
            None => orders::mark_paid(&st.db, order_id, &reference).await,
        },
        PaymentOutcome::Declined { reason } => {
            tracing::info!(%order_id, %reason, "payment declined; releasing the units");
            release(st, order_id).await
        }
        PaymentOutcome::Pending | PaymentOutcome::Awaiting(_) => Ok(false),
    }
}

/// What the shopper's payment app shows for the order.
fn description(order: &OrderView) -> String {
    match order.lines.first() {
        Some(line) if line.quantity > 1 => format!("{} x{}", line.product_name, line.quantity),
        Some(line) => line.product_name.clone(),
        None => format!("Order {}", order.id),
    }
}

/// Refunds a paid order, whole, through its provider (the caller checked that the host owns
/// its session). When the money went back, the order gives back what it took: its units to
/// stock (unless it was shipped) and its discounted unit to the shopper's allowance and to
/// the product's discount count, so the shopper may buy that product at the discount again
/// while the session offers it. One refund per order; asking again for a pending one asks
/// the provider again (the same refund number: never a second refund).
pub async fn refund(st: &AppState, order_id: OrderId, reason: &str) -> Result<RefundState> {
    let facts = orders::refund_facts(&st.db, order_id)
        .await?
        .ok_or_else(|| AppError::NotFound("no such order".into()))?;
    if facts.status != OrderStatus::Paid {
        return Err(AppError::Conflict("Only a paid order can be refunded.".into()).into());
    }
    let out_refund_no = refund_no(order_id);
    match facts.refund.as_ref().map(|(_, s)| s.as_str()) {
        Some("succeeded") => {
            return Err(AppError::Conflict("This order is already refunded.".into()).into())
        }
        Some(_) => {}
        None => {
            if !orders::start_refund(
                &st.db,
                order_id,
                &out_refund_no,
                facts.paid,
                reason,
                now_ms(),
            )
            .await?
            {
                return Err(AppError::Conflict(
                    "A refund of this order is already under way.".into(),
                )
                .into());
            }
        }
    }
    match ask_refund(st, &facts, reason).await? {
        RefundOutcome::Succeeded { .. } => Ok(RefundState::Refunded),
        RefundOutcome::Pending => Ok(RefundState::Pending),
        RefundOutcome::Refused { reason } => Err(AppError::Conflict(format!(
            "The payment provider refused the refund ({reason})."
        ))
        .into()),
    }
}

/// The order's one refund number (a second request for it is never a second refund).
fn refund_no(order_id: OrderId) -> String {
    format!("refund-{order_id}")
}

/// Asks the provider to refund the whole order (its refund recorded as asked for) and
/// applies what it answers at once: done, or refused (the refund marked failed).
async fn ask_refund(
    st: &AppState,
    facts: &orders::RefundFacts,
    reason: &str,
) -> Result<RefundOutcome> {
    let out_refund_no = refund_no(facts.order_id);
    let request = RefundRequest {
        merchant_ref: merchant_ref(facts.order_id),
        out_refund_no: out_refund_no.clone(),
        amount: facts.paid,
        total: facts.paid,
        reason: reason.to_string(),
    };
    let outcome = st.payments.refund(&request).await;
    match &outcome {
        RefundOutcome::Succeeded { reference } => {
            refund_done(st, facts.session_id, &out_refund_no, reference).await?;
        }
        RefundOutcome::Refused { .. } => orders::fail_refund(&st.db, &out_refund_no).await?,
        RefundOutcome::Pending => {}
    }
    Ok(outcome)
}

/// A refund went through: recorded, and the order's units and discount given back (the
/// session's sale gate reloads from the database).
async fn refund_done(
    st: &AppState,
    session_id: SessionId,
    out_refund_no: &str,
    reference: &str,
) -> Result<bool> {
    let _sale = crate::buying::sale::pause(st, session_id).await;
    orders::complete_refund(&st.db, out_refund_no, reference, now_ms()).await
}

/// A provider told us (a signed notification) what became of a refund.
pub async fn refund_notified(
    st: &AppState,
    out_refund_no: &str,
    outcome: RefundOutcome,
) -> Result<()> {
    let order_id = out_refund_no
        .strip_prefix("refund-")
        .and_then(|n| n.parse::<OrderId>().ok())
        .ok_or_else(|| AppError::NotFound("no such refund".into()))?;
    let facts = orders::refund_facts(&st.db, order_id)
        .await?
        .ok_or_else(|| AppError::NotFound("no such refund".into()))?;
    match outcome {
        RefundOutcome::Succeeded { reference } => {
            refund_done(st, facts.session_id, out_refund_no, &reference).await?;
        }
        RefundOutcome::Refused { reason } => {
            tracing::warn!(out_refund_no, %reason, "refund refused by the provider");
            orders::fail_refund(&st.db, out_refund_no).await?;
        }
        RefundOutcome::Pending => {}
    }
    Ok(())
}

/// What a payment notification did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notified {
    /// The order is paid now (or was already: a repeated notification).
    Paid,
    /// The order was released before the payment came: the payment is refunded.
    PaidTooLate,
    /// The payment failed or was closed: the order's units went back.
    Released,
    /// Nothing to do yet (still pending).
    Unchanged,
}

/// A provider told us (a signed notification) what became of the charge for `merchant_ref`:
/// the order is settled by the same path as an answer to `charge`. The amount must be the
/// order's own.
pub async fn payment_notified(
    st: &AppState,
    merchant_ref: &str,
    amount: Fen,
    outcome: PaymentOutcome,
) -> Result<Notified> {
    let order_id = crate::buying::payment::order_id(merchant_ref)
        .ok_or_else(|| AppError::NotFound("no such order".into()))?;
    let (status, paid) = orders::payment_facts(&st.db, order_id)
        .await?
        .ok_or_else(|| AppError::NotFound("no such order".into()))?;
    let confirmed = matches!(outcome, PaymentOutcome::Confirmed { .. });
    if confirmed && amount != paid {
        tracing::error!(
            %order_id,
            ?amount,
            ?paid,
            "a payment notification's amount is not the order's"
        );
        return Err(AppError::BadRequest("the amount is not the order's".into()).into());
    }
    match (status, confirmed) {
        (OrderStatus::Paid | OrderStatus::Refunded | OrderStatus::Shipped, true) => {
            Ok(Notified::Paid)
        }
        (OrderStatus::PaymentFailed, true) => {
            // The units went back on sale when the order was released: the money goes back.
            tracing::warn!(%order_id, "paid after the order was released: refunding");
            refund_late_payment(st, order_id).await?;
            Ok(Notified::PaidTooLate)
        }
        (OrderStatus::PendingPayment, _) => {
            let changed = settle(st, order_id, outcome).await?;
            Ok(match orders::order_status(&st.db, order_id).await? {
                Some(OrderStatus::Paid) => Notified::Paid,
                Some(OrderStatus::PaymentFailed) if changed => Notified::Released,
                _ => Notified::Unchanged,
            })
        }
        (_, false) => Ok(Notified::Unchanged),
    }
}

/// A payment that came after its order was released (the shopper paid past the timeout, or
/// a notification arrived after the resolver closed the order) is refunded in full at once,
/// through the provider, as one refund of the order (the same refund number however often the
/// notification comes). The order took nothing back on sale, so its refund gives nothing
/// back either (`repo::orders::complete_refund`).
async fn refund_late_payment(st: &AppState, order_id: OrderId) -> Result<()> {
    const REASON: &str = "Paid after the order was released";
    let facts = orders::refund_facts(&st.db, order_id)
        .await?
        .ok_or_else(|| AppError::NotFound("no such order".into()))?;
    match facts.refund.as_ref().map(|(_, s)| s.as_str()) {
        Some("succeeded") => return Ok(()),
        Some("failed") => {
            tracing::error!(
                %order_id,
                "a late payment's refund was refused: refund it by hand"
            );
            return Ok(());
        }
        Some(_) => {}
        None => {
            let no = refund_no(order_id);
            orders::start_refund(&st.db, order_id, &no, facts.paid, REASON, now_ms()).await?;
        }
    }
    if let RefundOutcome::Refused { reason } = ask_refund(st, &facts, REASON).await? {
        tracing::error!(%order_id, %reason, "a late payment's refund was refused: refund it by hand");
    }
    Ok(())
}

async fn release(st: &AppState, order_id: OrderId) -> Result<bool> {
    match &st.sale {
        Some(sale) => sale.release(order_id).await,
        None => Ok(orders::release_order(&st.db, order_id).await?.is_some()),
    }
}

/// What one pass of `resolve_pending` did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    pub paid: usize,
    pub released: usize,
    pub waiting: usize,
}

/// Settles orders left awaiting payment: asks the provider for each one's charge (by its
/// merchant order number); a confirmed charge marks it paid, a declined one releases it, and
/// one never charged (or still unsettled) is released once `timeout` has passed since the
/// order was placed. Run at start-up (after a crash) and periodically.
pub async fn resolve_pending(st: &AppState, timeout: Duration) -> Result<Resolved> {
    let mut done = Resolved::default();
    let now = now_ms();
    let timeout_ms = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
    let mut before = now;
    loop {
        let batch = orders::pending_orders(&st.db, before, 500).await?;
        let Some(last) = batch.last() else { break };
        let next_before = last.created_at_ms;
        for p in &batch {
            let outcome = st.payments.query(&merchant_ref(p.id)).await;
            let expired = now.saturating_sub(p.created_at_ms) >= timeout_ms;
            let changed = match outcome {
                Some(PaymentOutcome::Confirmed { reference }) => {
                    settle(st, p.id, PaymentOutcome::Confirmed { reference }).await?
                }
                Some(declined @ PaymentOutcome::Declined { .. }) => {
                    settle(st, p.id, declined).await?
                }
                Some(PaymentOutcome::Pending | PaymentOutcome::Awaiting(_)) | None if expired => {
                    tracing::info!(order_id = %p.id, "payment time ran out; releasing the units");
                    let released = release(st, p.id).await?;
                    // The shopper can no longer pay for it at the provider either.
                    st.payments.cancel(&merchant_ref(p.id)).await;
                    released
                }
                _ => {
                    done.waiting += 1;
                    continue;
                }
            };
            if changed {
                match orders::order_status(&st.db, p.id).await? {
                    Some(OrderStatus::Paid) => done.paid += 1,
                    _ => done.released += 1,
                }
            }
        }
        if batch.len() < 500 || next_before >= before {
            break;
        }
        before = next_before;
    }
    if done != Resolved::default() {
        tracing::info!(?done, "orders awaiting payment resolved");
    }
    Ok(done)
}

/// Resolves pending orders now and then every `every`, for as long as the process runs.
pub fn spawn_resolver(st: AppState, timeout: Duration, every: Duration) {
    tokio::spawn(async move {
        loop {
            if let Err(e) = resolve_pending(&st, timeout).await {
                tracing::warn!(error = %e, "resolving orders awaiting payment failed");
            }
            tokio::time::sleep(every).await;
        }
    });
}
