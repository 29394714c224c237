//! Placing orders: server-side pricing, atomic stock, per-shopper limits, the discount ledger
//! and idempotency. Nothing the client sends is trusted but the product, quantity and key.

mod after_sale;
mod batch;
mod read;

use crate::error::Result;
pub use after_sale::*;
pub use batch::*;
pub use read::*;
use shop_core::ids::{OrderId, ProductId, SessionId, ShopperId};

use sqlx::Row;

use crate::{
    crypto,
    db::Db,
    domain::{
        discount::{
            count, eligibility, line_rule, quote_line, rule_text, DiscountPolicy, LineQuote,
            ProductFacts,
        },
        money::Fen,
        order::{IdempotencyKey, Quantity},
    },
    error::AppError,
    model::{OrderLineView, OrderStatus, OrderView, SessionStatus},
    now_ms,
    repo::shopping,
};

#[derive(Debug, Clone)]
pub struct PlaceOrder {
    pub session_id: SessionId,
    pub product_id: ProductId,
    /// The shade or size, for a product with variants (required then, refused otherwise).
    pub variant_id: Option<i64>,
    pub quantity: Quantity,
    pub key: IdempotencyKey,
    /// The total the shopper saw and agreed to pay, when the client sent one: an order whose
    /// server-side total differs is refused (409 with the current total), never charged.
    pub expected_total: Option<Fen>,
}

impl PlaceOrder {
    /// Same key + same hash = a retry of the same order.
    pub fn request_hash(&self) -> String {
        match self.variant_id {
            None => crypto::sha256_hex(&format!(
                "v1:{}:{}:{}",
                self.session_id,
                self.product_id,
                self.quantity.get()
            )),
            Some(v) => crypto::sha256_hex(&format!(
                "v2:{}:{}:{v}:{}",
                self.session_id,
                self.product_id,
                self.quantity.get()
            )),
        }
    }
}

enum Existing {
    Same(OrderId),
    Different,
}

async fn existing_order(
    db: &Db,
    shopper_id: ShopperId,
    req: &PlaceOrder,
) -> Result<Option<Existing>> {
    let row: Option<(OrderId, String)> = sqlx::query_as(
        "SELECT id, request_hash FROM orders WHERE shopper_id = $1 AND idempotency_key = $2",
    )
    .bind(shopper_id)
    .bind(req.key.as_str())
    .fetch_optional(db.pool())
    .await?;
    Ok(row.map(|(id, hash)| {
        if hash == req.request_hash() {
            Existing::Same(id)
        } else {
            Existing::Different
        }
    }))
}

/// The answer to an idempotency key reused for a different order.
pub fn key_reused() -> AppError {
    AppError::Conflict(
        "This order was already placed with different details. Please try again.".into(),
    )
}

/// The answer to a quantity over the product's purchase limit.
pub fn over_purchase_limit(limit: u32) -> AppError {
    AppError::Conflict(format!("You can buy at most {limit} of this product."))
}

/// The answer to a shopper who already bought up to the purchase limit.
pub fn purchase_limit_reached(limit: u32) -> AppError {
    AppError::Conflict(format!(
        "You can buy at most {limit} of this product and have reached that limit."
    ))
}

/// The variant an order names, checked against the product's (`id_of` gives each one's id):
/// a product with variants needs one of them, a product without takes none.
pub fn pick_variant<V>(
    variants: &[V],
    id_of: impl Fn(&V) -> i64,
    wanted: Option<i64>,
) -> Result<Option<&V>> {
    match wanted {
        None if variants.is_empty() => Ok(None),
        None => {
            Err(AppError::bad_request("Choose a variant (shade or size) of this product.").into())
        }
        Some(id) => Ok(variants
            .iter()
            .find(|v| id_of(v) == id)
            .map(Some)
            .ok_or_else(|| AppError::not_found("This variant is not part of the product."))?),
    }
}

/// The answer to an order for more than `stock` units left; `None`: not in the session.
pub fn not_enough_stock(stock: Option<i64>) -> AppError {
    match stock {
        None => AppError::not_found("This product is not part of the session."),
        Some(n) if n <= 0 => AppError::Conflict("Sold out.".into()),
        Some(n) => AppError::Conflict(format!("Only {n} left.")),
    }
}

/// What `reserve_order` did.
pub enum Reservation {
    /// The same idempotency key was used before: that order, unchanged.
    Existing(Box<OrderView>),
    /// A new order awaiting payment: its units are held and its ledger line written.
    New {
        order_id: OrderId,
        amount: Fen,
        /// The product's stock right after it.
        stock_after: i64,
    },
}

/// Places (or, for a retried key, returns) an order. Exactly once per idempotency key; stock
/// never below zero; limits enforced inside the transaction; every line in the ledger. The
/// order is left awaiting payment (`buying::orders` charges it, then `mark_paid` or
/// `release_order`).
pub async fn reserve_order(
    db: &Db,
    provider: &str,
    shopper_id: ShopperId,
    req: &PlaceOrder,
) -> Result<Reservation> {
    let replay = |order| Reservation::Existing(Box::new(order));
    match existing_order(db, shopper_id, req).await? {
        Some(Existing::Same(id)) => return load_order(db, shopper_id, id).await.map(replay),
        Some(Existing::Different) => return Err(key_reused().into()),
        None => {}
    }
    shopping::require(db, req.session_id, crate::domain::session::Activity::Buy).await?;
    let policy = shopping::policy(db, req.session_id).await?;
    let qty = req.quantity.get();
    if qty > policy.purchase_limit {
        return Err(over_purchase_limit(policy.purchase_limit).into());
    }
    let facts = shopping::shopper_facts(db, req.session_id, shopper_id).await?;
    let elig = eligibility(&policy, &facts);
    let qty_i = i64::from(qty);

    let mut w = db.begin_write().await?;
    // 1. Stock: decrement only if enough is left (atomic; locks the product row on PostgreSQL).
    let product = sqlx::query(
        "UPDATE products SET stock = stock - $1 WHERE id = $2 AND session_id = $3 AND stock >= $1
         RETURNING price_fen, presented_at_ms, discounted_units, stock",
    )
    .bind(qty_i)
    .bind(req.product_id)
    .bind(req.session_id)
    .fetch_optional(&mut *w.tx)
    .await?;
    let Some(product) = product else {
        let stock: Option<i64> =
            sqlx::query_scalar("SELECT stock FROM products WHERE id = $1 AND session_id = $2")
                .bind(req.product_id)
                .bind(req.session_id)
                .fetch_optional(&mut *w.tx)
                .await?;
        return Err(not_enough_stock(stock).into());
    };
    // The variant: its own stock (and price) too.
    let variants: Vec<(i64, String, Option<i64>)> =
        sqlx::query_as("SELECT id, name, price_fen FROM product_variants WHERE product_id = $1")
            .bind(req.product_id)
            .fetch_all(&mut *w.tx)
            .await?;
    let variant = pick_variant(&variants, |v| v.0, req.variant_id)?.cloned();
    if let Some((variant_id, ..)) = &variant {
        let left: Option<i64> = sqlx::query_scalar(
            "UPDATE product_variants SET stock = stock - $1 WHERE id = $2 AND stock >= $1 RETURNING stock",
        )
        .bind(qty_i)
        .bind(variant_id)
        .fetch_optional(&mut *w.tx)
        .await?;
        if left.is_none() {
            let stock: Option<i64> =
                sqlx::query_scalar("SELECT stock FROM product_variants WHERE id = $1")
                    .bind(variant_id)
                    .fetch_optional(&mut *w.tx)
                    .await?;
            return Err(not_enough_stock(stock).into());
        }
    }
    let price = crate::domain::variant::unit_price(
        Fen(product.try_get("price_fen")?),
        variant.as_ref().and_then(|v| v.2).map(Fen),
    );
    let presented = product
        .try_get::<Option<i64>, _>("presented_at_ms")?
        .is_some();
    let discounted_so_far: i64 = product.try_get("discounted_units")?;
    let stock_after: i64 = product.try_get("stock")?;

    // 2. The shopper's purchase limit for this product (atomic upsert; locks the counter row).
    let counter = sqlx::query(
        "INSERT INTO purchase_counters (product_id, shopper_id, units, discounted_units) VALUES ($1, $2, $3, 0)
         ON CONFLICT (product_id, shopper_id) DO UPDATE SET units = purchase_counters.units + excluded.units
          WHERE purchase_counters.units + excluded.units <= $4
         RETURNING units, discounted_units",
    )
    .bind(req.product_id)
    .bind(shopper_id)
    .bind(qty_i)
    .bind(i64::from(policy.purchase_limit))
    .fetch_optional(&mut *w.tx)
    .await?;
    let Some(counter) = counter else {
        return Err(purchase_limit_reached(policy.purchase_limit).into());
    };
    let shopper_discounted: i64 = counter.try_get("discounted_units")?;

    // 3. Price it (pure rule), then record the discounted units it used.
    let quote = quote_line(
        &policy,
        &elig,
        &ProductFacts {
            price,
            presented,
            discounted_so_far: count(discounted_so_far),
        },
        count(shopper_discounted),
        qty,
    )
    .ok_or_else(|| AppError::bad_request("That order is too large."))?;
    if req.expected_total.is_some_and(|seen| seen != quote.paid) {
        // Dropping the transaction rolls back the stock and counter updates above.
        return Err(AppError::PriceChanged { total: quote.paid }.into());
    }
    if quote.discounted_units > 0 {
        let d = i64::from(quote.discounted_units);
        sqlx::query("UPDATE purchase_counters SET discounted_units = discounted_units + $1 WHERE product_id = $2 AND shopper_id = $3")
            .bind(d)
            .bind(req.product_id)
            .bind(shopper_id)
            .execute(&mut *w.tx)
            .await?;
        sqlx::query("UPDATE products SET discounted_units = discounted_units + $1 WHERE id = $2")
            .bind(d)
            .bind(req.product_id)
            .execute(&mut *w.tx)
            .await?;
    }

    // 4. The order and its ledger line.
    let inserted = sqlx::query_scalar::<_, i64>(
        "INSERT INTO orders (shopper_id, session_id, idempotency_key, request_hash, status, full_amount_fen,
                             discount_fen, paid_amount_fen, payment_provider, created_at_ms)
         VALUES ($1, $2, $3, $4, 'pending_payment', $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(shopper_id)
    .bind(req.session_id)
    .bind(req.key.as_str())
    .bind(req.request_hash())
    .bind(quote.full_amount.0)
    .bind(quote.discount.0)
    .bind(quote.paid.0)
    .bind(provider)
    .bind(now_ms())
    .fetch_one(&mut *w.tx)
    .await;
    let order_id = match inserted {
        Ok(id) => id,
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            // The same key raced us and won: answer like a retry.
            drop(w);
            return match existing_order(db, shopper_id, req).await? {
                Some(Existing::Same(id)) => load_order(db, shopper_id, id).await.map(replay),
                _ => Err(key_reused().into()),
            };
        }
        Err(e) => return Err(e.into()),
    };
    let rule = line_rule(&elig, presented, &quote);
    sqlx::query(
        "INSERT INTO order_lines (order_id, product_id, quantity, unit_price_fen, discounted_units, discount_per_unit_fen,
                                  full_amount_fen, discount_fen, paid_amount_fen, rule, percent_off, invite_id,
                                  variant_id, variant_name)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(order_id)
    .bind(req.product_id)
    .bind(qty_i)
    .bind(price.0)
    .bind(i64::from(quote.discounted_units))
    .bind(quote.discount_per_unit.0)
    .bind(quote.full_amount.0)
    .bind(quote.discount.0)
    .bind(quote.paid.0)
    .bind(rule)
    .bind(i64::from(policy.percent_off))
    .bind(if elig.is_eligible() { elig.invite_id() } else { None })
    .bind(variant.as_ref().map(|v| v.0))
    .bind(variant.as_ref().map_or(String::new(), |v| v.1.clone()))
    .execute(&mut *w.tx)
    .await?;
    w.commit().await?;
    Ok(Reservation::New {
        order_id: OrderId(order_id),
        amount: quote.paid,
        stock_after,
    })
}

/// A payment confirmed: the order is paid. False when it was no longer awaiting payment.
pub async fn mark_paid(db: &Db, order_id: OrderId, reference: &str) -> Result<bool> {
    let res = sqlx::query(
        "UPDATE orders SET status = 'paid', payment_ref = $1 WHERE id = $2 AND status = 'pending_payment'",
    )
    .bind(reference)
    .bind(order_id)
    .execute(db.pool())
    .await?;
    Ok(res.rows_affected() == 1)
}

/// What releasing an unpaid order gave back.
#[derive(Debug, Clone)]
pub struct Released {
    pub session_id: SessionId,
    pub shopper_id: ShopperId,
    /// (product id, units, discounted units, variant id) per line.
    pub lines: Vec<(ProductId, i64, i64, Option<i64>)>,
}

/// What an order's lines took: (product id, units, discounted units, variant id) each.
async fn taken_by(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    order_id: OrderId,
) -> Result<Vec<(ProductId, i64, i64, Option<i64>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT product_id, quantity, discounted_units, variant_id FROM order_lines WHERE order_id = $1",
    )
    .bind(order_id)
    .fetch_all(&mut **tx)
    .await
}

/// Gives an order's lines back: their units to stock (`restock`), their discounted units to
/// the product's count and, with the units, to the shopper's counters.
async fn give_back(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    shopper_id: ShopperId,
    lines: &[(ProductId, i64, i64, Option<i64>)],
    restock: bool,
) -> Result<(), sqlx::Error> {
    for &(product_id, qty, discounted, variant_id) in lines {
        if let (true, Some(variant_id)) = (restock, variant_id) {
            sqlx::query("UPDATE product_variants SET stock = stock + $1 WHERE id = $2")
                .bind(qty)
                .bind(variant_id)
                .execute(&mut **tx)
                .await?;
        }
        sqlx::query(
            "UPDATE products SET stock = stock + $1, discounted_units = discounted_units - $2 WHERE id = $3",
        )
        .bind(if restock { qty } else { 0 })
        .bind(discounted)
        .bind(product_id)
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "UPDATE purchase_counters SET units = units - $1, discounted_units = discounted_units - $2
              WHERE product_id = $3 AND shopper_id = $4",
        )
        .bind(qty)
        .bind(discounted)
        .bind(product_id)
        .bind(shopper_id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Marks an unpaid order failed and gives its units (and discount allowance) back. `None`
/// when the order was not awaiting payment (already paid, or already released).
pub async fn release_order(db: &Db, order_id: OrderId) -> Result<Option<Released>> {
    let mut w = db.begin_write().await?;
    let res = sqlx::query(
        "UPDATE orders SET status = 'payment_failed' WHERE id = $1 AND status = 'pending_payment'",
    )
    .bind(order_id)
    .execute(&mut *w.tx)
    .await?;
    if res.rows_affected() != 1 {
        return Ok(None);
    }
    let (session_id, shopper_id): (i64, i64) =
        sqlx::query_as("SELECT session_id, shopper_id FROM orders WHERE id = $1")
            .bind(order_id)
            .fetch_one(&mut *w.tx)
            .await?;
    let lines = taken_by(&mut w.tx, order_id).await?;
    give_back(&mut w.tx, ShopperId(shopper_id), &lines, true).await?;
    // An unpaid order gives its coupon back (a refunded one does not: `refund` keeps it used).
    sqlx::query("UPDATE coupon_claims SET order_id = NULL WHERE order_id = $1")
        .bind(order_id)
        .execute(&mut *w.tx)
        .await?;
    w.commit().await?;
    Ok(Some(Released {
        session_id: SessionId(session_id),
        shopper_id: ShopperId(shopper_id),
        lines,
    }))
}
