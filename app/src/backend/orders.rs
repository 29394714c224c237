//! Buying: the orders service between the `orders/place` server function and the repository.
//! The repository holds the units and writes the order and its ledger line in one transaction
//! (SQL only); the payment runs after that transaction, through the `PaymentProvider`; a
//! declined payment gives the units and the discount back; the live room hears about the sale.

use crate::{
    backend::{
        identity::Shopper,
        live,
        payment::{Charge, PaymentOutcome},
        repo::orders::{self, PlaceOrder, Reservation},
        AppState,
    },
    error::AppError,
    model::OrderView,
};

/// Places (or, for a retried idempotency key, returns) an order and pays for it.
pub async fn place(
    st: &AppState,
    shopper: &Shopper,
    req: &PlaceOrder,
) -> Result<OrderView, AppError> {
    // Distributed mode: no order while the live room's news cannot be shared (503).
    st.live.ensure_up()?;
    let (order_id, amount, mut stock_after) =
        match orders::reserve_order(&st.db, st.payments.name(), shopper.id, req).await? {
            Reservation::Existing(order) => return Ok(order),
            Reservation::New {
                order_id,
                amount,
                stock_after,
            } => (order_id, amount, stock_after),
        };
    let charge = Charge {
        order_id,
        shopper_id: shopper.id,
        amount,
        description: format!("Order {order_id}"),
    };
    match st.payments.charge(&charge).await {
        PaymentOutcome::Confirmed { reference } => {
            orders::mark_paid(&st.db, order_id, &reference).await?;
        }
        PaymentOutcome::Declined { reason } => {
            tracing::info!(order_id, %reason, "payment declined; releasing the units");
            orders::release_order(&st.db, order_id).await?;
            stock_after += i64::from(req.quantity.get());
        }
    }
    crate::backend::metrics::Metrics::count(&st.metrics.orders);
    let order = orders::load_order(&st.db, shopper.id, order_id).await?;
    // The live room shows stock and a "someone just bought" ticker.
    let live = &st.live;
    live::told(
        live.stock_changed(req.session_id, req.product_id, stock_after)
            .await,
    );
    if let Some(line) = order.lines.first() {
        live::told(
            live.purchased(req.session_id, &shopper.nickname, &line.product_name)
                .await,
        );
    }
    Ok(order)
}
