//! Placing orders: server-side pricing, atomic stock, per-shopper limits, the discount ledger
//! and idempotency. Nothing the client sends is trusted but the product, quantity and key.

use sqlx::Row;

use crate::{
    backend::{crypto, db::Db, now_ms, repo::shopping},
    domain::{
        discount::{eligibility, line_rule, quote_line, rule_text, ProductFacts},
        money::Fen,
        order::{IdempotencyKey, Quantity},
    },
    error::AppError,
    model::{OrderLineView, OrderStatus, OrderView},
};

#[derive(Debug, Clone)]
pub struct PlaceOrder {
    pub session_id: i64,
    pub product_id: i64,
    pub quantity: Quantity,
    pub key: IdempotencyKey,
    /// The total the shopper saw and agreed to pay, when the client sent one: an order whose
    /// server-side total differs is refused (409 with the current total), never charged.
    pub expected_total: Option<Fen>,
}

impl PlaceOrder {
    /// Same key + same hash = a retry of the same order.
    fn request_hash(&self) -> String {
        crypto::sha256_hex(&format!(
            "v1:{}:{}:{}",
            self.session_id,
            self.product_id,
            self.quantity.get()
        ))
    }
}

enum Existing {
    Same(i64),
    Different,
}

async fn existing_order(
    db: &Db,
    shopper_id: i64,
    req: &PlaceOrder,
) -> Result<Option<Existing>, AppError> {
    let row: Option<(i64, String)> = sqlx::query_as(
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

fn key_reused() -> AppError {
    AppError::Conflict(
        "This order was already placed with different details. Please try again.".into(),
    )
}

/// What `reserve_order` did.
pub enum Reservation {
    /// The same idempotency key was used before: that order, unchanged.
    Existing(OrderView),
    /// A new order awaiting payment: its units are held and its ledger line written.
    New {
        order_id: i64,
        amount: Fen,
        /// The product's stock right after it.
        stock_after: i64,
    },
}

/// Places (or, for a retried key, returns) an order. Exactly once per idempotency key; stock
/// never below zero; limits enforced inside the transaction; every line in the ledger. The
/// order is left awaiting payment (`backend::orders` charges it, then `mark_paid` or
/// `release_order`).
pub async fn reserve_order(
    db: &Db,
    provider: &str,
    shopper_id: i64,
    req: &PlaceOrder,
) -> Result<Reservation, AppError> {
    let replay = Reservation::Existing;
    match existing_order(db, shopper_id, req).await? {
        Some(Existing::Same(id)) => return load_order(db, shopper_id, id).await.map(replay),
        Some(Existing::Different) => return Err(key_reused()),
        None => {}
    }
    shopping::require(db, req.session_id, crate::domain::session::Activity::Buy).await?;
    let policy = shopping::policy(db, req.session_id).await?;
    let qty = req.quantity.get();
    if qty > policy.purchase_limit {
        return Err(AppError::Conflict(format!(
            "You can buy at most {} of this product.",
            policy.purchase_limit
        )));
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
        return Err(match stock {
            None => AppError::not_found("This product is not part of the session."),
            Some(0) => AppError::Conflict("Sold out.".into()),
            Some(n) => AppError::Conflict(format!("Only {n} left.")),
        });
    };
    let price = Fen(product.try_get("price_fen")?);
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
        return Err(AppError::Conflict(format!(
            "You can buy at most {} of this product and have reached that limit.",
            policy.purchase_limit
        )));
    };
    let shopper_discounted: i64 = counter.try_get("discounted_units")?;

    // 3. Price it (pure rule), then record the discounted units it used.
    let to_u32 = |v: i64| u32::try_from(v.max(0)).unwrap_or(u32::MAX);
    let quote = quote_line(
        &policy,
        &elig,
        &ProductFacts {
            price,
            presented,
            discounted_so_far: to_u32(discounted_so_far),
        },
        to_u32(shopper_discounted),
        qty,
    )
    .ok_or_else(|| AppError::bad_request("That order is too large."))?;
    if req.expected_total.is_some_and(|seen| seen != quote.paid) {
        // Dropping the transaction rolls back the stock and counter updates above.
        return Err(AppError::PriceChanged { total: quote.paid });
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
                _ => Err(key_reused()),
            };
        }
        Err(e) => return Err(e.into()),
    };
    let rule = line_rule(&elig, presented, &quote);
    sqlx::query(
        "INSERT INTO order_lines (order_id, product_id, quantity, unit_price_fen, discounted_units, discount_per_unit_fen,
                                  full_amount_fen, discount_fen, paid_amount_fen, rule, percent_off, invite_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
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
    .execute(&mut *w.tx)
    .await?;
    w.commit().await?;
    Ok(Reservation::New {
        order_id,
        amount: quote.paid,
        stock_after,
    })
}

/// A payment confirmed: the order is paid.
pub async fn mark_paid(db: &Db, order_id: i64, reference: &str) -> Result<(), AppError> {
    sqlx::query("UPDATE orders SET status = 'paid', payment_ref = $1 WHERE id = $2")
        .bind(reference)
        .bind(order_id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Marks an unpaid order failed and gives its units (and discount allowance) back.
pub async fn release_order(db: &Db, order_id: i64) -> Result<(), AppError> {
    let mut w = db.begin_write().await?;
    let res = sqlx::query(
        "UPDATE orders SET status = 'payment_failed' WHERE id = $1 AND status = 'pending_payment'",
    )
    .bind(order_id)
    .execute(&mut *w.tx)
    .await?;
    if res.rows_affected() == 1 {
        let lines: Vec<(i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT l.product_id, l.quantity, l.discounted_units, o.shopper_id
               FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE l.order_id = $1",
        )
        .bind(order_id)
        .fetch_all(&mut *w.tx)
        .await?;
        for (product_id, qty, discounted, shopper_id) in lines {
            sqlx::query("UPDATE products SET stock = stock + $1, discounted_units = discounted_units - $2 WHERE id = $3")
                .bind(qty)
                .bind(discounted)
                .bind(product_id)
                .execute(&mut *w.tx)
                .await?;
            sqlx::query(
                "UPDATE purchase_counters SET units = units - $1, discounted_units = discounted_units - $2
                  WHERE product_id = $3 AND shopper_id = $4",
            )
            .bind(qty)
            .bind(discounted)
            .bind(product_id)
            .bind(shopper_id)
            .execute(&mut *w.tx)
            .await?;
        }
    }
    w.commit().await?;
    Ok(())
}

const ORDER_SELECT: &str = "SELECT o.id, o.session_id, s.title, o.status, o.created_at_ms, o.payment_provider,
        o.full_amount_fen, o.discount_fen, o.paid_amount_fen,
        l.product_id, p.name, p.image_url, l.quantity, l.unit_price_fen, l.discounted_units,
        l.full_amount_fen AS l_full, l.discount_fen AS l_discount, l.paid_amount_fen AS l_paid, l.rule, l.percent_off
   FROM orders o
   JOIN live_sessions s ON s.id = o.session_id
   JOIN order_lines l ON l.order_id = o.id
   JOIN products p ON p.id = l.product_id";

fn rows_to_orders(rows: Vec<sqlx::any::AnyRow>) -> Result<Vec<OrderView>, AppError> {
    let mut out: Vec<OrderView> = Vec::new();
    for r in rows {
        let id: i64 = r.try_get("id")?;
        let line = OrderLineView {
            product_id: r.try_get("product_id")?,
            product_name: r.try_get("name")?,
            image_url: r.try_get("image_url")?,
            quantity: r.try_get("quantity")?,
            unit_price: Fen(r.try_get("unit_price_fen")?),
            discounted_units: r.try_get("discounted_units")?,
            full_amount: Fen(r.try_get("l_full")?),
            discount: Fen(r.try_get("l_discount")?),
            paid: Fen(r.try_get("l_paid")?),
            rule: rule_text(&r.try_get::<String, _>("rule")?, r.try_get("percent_off")?),
        };
        if let Some(last) = out.last_mut().filter(|o| o.id == id) {
            last.lines.push(line);
            continue;
        }
        let status: String = r.try_get("status")?;
        out.push(OrderView {
            id,
            session_id: r.try_get("session_id")?,
            session_title: r.try_get("title")?,
            status: OrderStatus::parse(&status).ok_or(AppError::Internal)?,
            created_at_ms: r.try_get("created_at_ms")?,
            payment_provider: r.try_get("payment_provider")?,
            lines: vec![line],
            full_amount: Fen(r.try_get("full_amount_fen")?),
            discount: Fen(r.try_get("discount_fen")?),
            paid: Fen(r.try_get("paid_amount_fen")?),
        });
    }
    Ok(out)
}

/// One of the shopper's orders (another shopper's order is "not found").
pub async fn load_order(db: &Db, shopper_id: i64, order_id: i64) -> Result<OrderView, AppError> {
    let rows = sqlx::query(&format!(
        "{ORDER_SELECT} WHERE o.id = $1 AND o.shopper_id = $2 ORDER BY l.id"
    ))
    .bind(order_id)
    .bind(shopper_id)
    .fetch_all(db.pool())
    .await?;
    rows_to_orders(rows)?
        .pop()
        .ok_or_else(|| AppError::not_found("This order does not exist."))
}

/// The shopper's orders, newest first.
pub async fn list_orders(db: &Db, shopper_id: i64) -> Result<Vec<OrderView>, AppError> {
    let rows = sqlx::query(&format!(
        "{ORDER_SELECT} WHERE o.shopper_id = $1 ORDER BY o.id DESC, l.id LIMIT 500"
    ))
    .bind(shopper_id)
    .fetch_all(db.pool())
    .await?;
    rows_to_orders(rows)
}
