//! Placing orders: server-side pricing, atomic stock, per-shopper limits, the discount ledger
//! and idempotency. Nothing the client sends is trusted but the product, quantity and key.

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
    pub session_id: i64,
    pub product_id: i64,
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
) -> Result<Option<&V>, AppError> {
    match wanted {
        None if variants.is_empty() => Ok(None),
        None => Err(AppError::bad_request(
            "Choose a variant (shade or size) of this product.",
        )),
        Some(id) => variants
            .iter()
            .find(|v| id_of(v) == id)
            .map(Some)
            .ok_or_else(|| AppError::not_found("This variant is not part of the product.")),
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
        order_id: i64,
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
    shopper_id: i64,
    req: &PlaceOrder,
) -> Result<Reservation, AppError> {
    let replay = |order| Reservation::Existing(Box::new(order));
    match existing_order(db, shopper_id, req).await? {
        Some(Existing::Same(id)) => return load_order(db, shopper_id, id).await.map(replay),
        Some(Existing::Different) => return Err(key_reused()),
        None => {}
    }
    shopping::require(db, req.session_id, crate::domain::session::Activity::Buy).await?;
    let policy = shopping::policy(db, req.session_id).await?;
    let qty = req.quantity.get();
    if qty > policy.purchase_limit {
        return Err(over_purchase_limit(policy.purchase_limit));
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
        return Err(not_enough_stock(stock));
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
            return Err(not_enough_stock(stock));
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
        return Err(purchase_limit_reached(policy.purchase_limit));
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
        order_id,
        amount: quote.paid,
        stock_after,
    })
}

/// A payment confirmed: the order is paid. False when it was no longer awaiting payment.
pub async fn mark_paid(db: &Db, order_id: i64, reference: &str) -> Result<bool, AppError> {
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
    pub session_id: i64,
    pub shopper_id: i64,
    /// (product id, units, discounted units, variant id) per line.
    pub lines: Vec<(i64, i64, i64, Option<i64>)>,
}

/// What an order's lines took: (product id, units, discounted units, variant id) each.
async fn taken_by(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    order_id: i64,
) -> Result<Vec<(i64, i64, i64, Option<i64>)>, sqlx::Error> {
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
    shopper_id: i64,
    lines: &[(i64, i64, i64, Option<i64>)],
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
pub async fn release_order(db: &Db, order_id: i64) -> Result<Option<Released>, AppError> {
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
    give_back(&mut w.tx, shopper_id, &lines, true).await?;
    w.commit().await?;
    Ok(Some(Released {
        session_id,
        shopper_id,
        lines,
    }))
}

/// An order the flash-sale gate admitted and priced, for the batch writer.
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub shopper_id: i64,
    pub session_id: i64,
    pub product_id: i64,
    /// The variant bought and its name, for a product with variants.
    pub variant: Option<(i64, String)>,
    pub key: String,
    pub request_hash: String,
    pub quote: LineQuote,
    pub rule: &'static str,
    pub percent_off: u8,
    pub invite_id: Option<i64>,
    pub provider: &'static str,
    pub created_at_ms: i64,
    /// The policy's limits at admission: the batch refuses to write past them (a guard
    /// behind the gate, for gates that can lag the database: Redis reloaded, several nodes).
    pub purchase_limit: i64,
    pub discount_allowance: i64,
}

/// Why a batch was not written.
#[derive(Debug)]
pub enum BatchError {
    /// Writing it would sell more than the stock or past a shopper's limits (the database
    /// disagrees with the gate): nothing of the batch was written.
    Refused(AppError),
    Db(AppError),
}

impl From<sqlx::Error> for BatchError {
    fn from(e: sqlx::Error) -> Self {
        BatchError::Db(e.into())
    }
}

/// Writes a batch in one transaction: each admitted order with its ledger line, the shoppers'
/// counters and the products' stock (added up per row), and the payments confirmed since the
/// last batch. Returns each order's id (`None` when the shopper had already used its key for
/// another order: nothing of it is written) and, per payment, whether the order was still
/// awaiting payment.
pub async fn write_batch(
    db: &Db,
    orders: &[NewOrder],
    paid: &[(i64, String)],
) -> Result<(Vec<Option<i64>>, Vec<bool>), BatchError> {
    use std::collections::BTreeMap;
    let mut w = db.begin_write().await?;
    let mut ids = Vec::with_capacity(orders.len());
    // BTreeMaps: rows are updated in a fixed order, so two writers cannot deadlock.
    let mut stock: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
    let mut variant_stock: BTreeMap<i64, i64> = BTreeMap::new();
    let mut counters: BTreeMap<(i64, i64), (i64, i64, i64, i64)> = BTreeMap::new();
    // Multi-row statements, a few hundred rows each: a batch costs a handful of round trips.
    let per_statement = rows_per_statement(db);
    for chunk in orders.chunks(per_statement) {
        let mut sql = String::from(
            "INSERT INTO orders (shopper_id, session_id, idempotency_key, request_hash, status, full_amount_fen,
                                 discount_fen, paid_amount_fen, payment_provider, created_at_ms) VALUES ",
        );
        push_rows(&mut sql, chunk.len(), 9, Some((4, "'pending_payment'")));
        sql.push_str(
            " ON CONFLICT (shopper_id, idempotency_key) DO NOTHING RETURNING id, shopper_id, idempotency_key",
        );
        let mut query = sqlx::query_as::<_, (i64, i64, String)>(&sql);
        for o in chunk {
            let q = &o.quote;
            query = query
                .bind(o.shopper_id)
                .bind(o.session_id)
                .bind(&o.key)
                .bind(&o.request_hash)
                .bind(q.full_amount.0)
                .bind(q.discount.0)
                .bind(q.paid.0)
                .bind(o.provider)
                .bind(o.created_at_ms);
        }
        let written: std::collections::HashMap<(i64, String), i64> = query
            .fetch_all(&mut *w.tx)
            .await?
            .into_iter()
            .map(|(id, shopper, key)| ((shopper, key), id))
            .collect();
        let start = ids.len();
        for o in chunk {
            ids.push(written.get(&(o.shopper_id, o.key.clone())).copied());
        }
        let lines: Vec<(&NewOrder, i64)> = chunk
            .iter()
            .zip(&ids[start..])
            .filter_map(|(o, id)| id.map(|id| (o, id)))
            .collect();
        if lines.is_empty() {
            continue;
        }
        let mut sql = String::from(
            "INSERT INTO order_lines (order_id, product_id, quantity, unit_price_fen, discounted_units, discount_per_unit_fen,
                                      full_amount_fen, discount_fen, paid_amount_fen, rule, percent_off, invite_id,
                                      variant_id, variant_name) VALUES ",
        );
        push_rows(&mut sql, lines.len(), 14, None);
        let mut query = sqlx::query(&sql);
        for (o, order_id) in &lines {
            let q = &o.quote;
            query = query
                .bind(*order_id)
                .bind(o.product_id)
                .bind(i64::from(q.quantity))
                .bind(q.unit_price.0)
                .bind(i64::from(q.discounted_units))
                .bind(q.discount_per_unit.0)
                .bind(q.full_amount.0)
                .bind(q.discount.0)
                .bind(q.paid.0)
                .bind(o.rule)
                .bind(i64::from(o.percent_off))
                .bind(o.invite_id)
                .bind(o.variant.as_ref().map(|v| v.0))
                .bind(o.variant.as_ref().map_or("", |v| v.1.as_str()));
            let (units, discounted) = (i64::from(q.quantity), i64::from(q.discounted_units));
            if let Some((variant_id, _)) = &o.variant {
                *variant_stock.entry(*variant_id).or_default() += units;
            }
            let s = stock.entry(o.product_id).or_default();
            s.0 += units;
            s.1 += discounted;
            let c = counters.entry((o.product_id, o.shopper_id)).or_default();
            c.0 += units;
            c.1 += discounted;
            c.2 = c.2.max(o.purchase_limit);
            c.3 = c.3.max(o.discount_allowance);
        }
        query.execute(&mut *w.tx).await?;
    }
    // Counters, grouped by the limits they are checked against (one policy per session).
    // (product, shopper, units, discounted units) by (purchase limit, discount allowance).
    type Counter = (i64, i64, i64, i64);
    let mut by_limits: BTreeMap<(i64, i64), Vec<Counter>> = BTreeMap::new();
    for ((product_id, shopper_id), (units, discounted, limit, allowance)) in counters {
        if units > limit || discounted > allowance {
            return Err(limit_refused());
        }
        by_limits
            .entry((limit, allowance))
            .or_default()
            .push((product_id, shopper_id, units, discounted));
    }
    for ((limit, allowance), rows) in by_limits {
        for chunk in rows.chunks(per_statement) {
            let mut sql = String::from(
                "INSERT INTO purchase_counters (product_id, shopper_id, units, discounted_units) VALUES ",
            );
            push_rows(&mut sql, chunk.len(), 4, None);
            let n = chunk.len() * 4;
            sql.push_str(&format!(
                " ON CONFLICT (product_id, shopper_id) DO UPDATE
                    SET units = purchase_counters.units + excluded.units,
                        discounted_units = purchase_counters.discounted_units + excluded.discounted_units
                  WHERE purchase_counters.units + excluded.units <= ${}
                    AND (excluded.discounted_units = 0
                         OR purchase_counters.discounted_units + excluded.discounted_units <= ${})",
                n + 1,
                n + 2
            ));
            let mut query = sqlx::query(&sql);
            for (product_id, shopper_id, units, discounted) in chunk {
                query = query
                    .bind(*product_id)
                    .bind(*shopper_id)
                    .bind(*units)
                    .bind(*discounted);
            }
            let res = query
                .bind(limit)
                .bind(allowance)
                .execute(&mut *w.tx)
                .await?;
            if res.rows_affected() != chunk.len() as u64 {
                return Err(limit_refused());
            }
        }
    }
    for (product_id, (units, discounted)) in stock {
        let res = sqlx::query(
            "UPDATE products SET stock = stock - $1, discounted_units = discounted_units + $2
              WHERE id = $3 AND stock >= $1",
        )
        .bind(units)
        .bind(discounted)
        .bind(product_id)
        .execute(&mut *w.tx)
        .await?;
        if res.rows_affected() != 1 {
            return Err(BatchError::Refused(AppError::Conflict("Sold out.".into())));
        }
    }
    for (variant_id, units) in variant_stock {
        let res = sqlx::query(
            "UPDATE product_variants SET stock = stock - $1 WHERE id = $2 AND stock >= $1",
        )
        .bind(units)
        .bind(variant_id)
        .execute(&mut *w.tx)
        .await?;
        if res.rows_affected() != 1 {
            return Err(BatchError::Refused(AppError::Conflict("Sold out.".into())));
        }
    }
    let mut marked = Vec::with_capacity(paid.len());
    for chunk in paid.chunks(per_statement) {
        // One UPDATE per chunk, joined to the (order, reference) pairs: a CASE with a branch
        // per order made each row walk the branches (quadratic in the chunk).
        let mut sql = String::from("WITH v (id, reference) AS (VALUES ");
        push_rows(&mut sql, chunk.len(), 2, None);
        sql.push_str(
            ") UPDATE orders SET status = 'paid', payment_ref = v.reference FROM v
              WHERE orders.id = v.id AND orders.status = 'pending_payment' RETURNING orders.id",
        );
        let mut query = sqlx::query_scalar::<_, i64>(&sql);
        for (order_id, reference) in chunk {
            query = query.bind(*order_id).bind(reference);
        }
        let done: std::collections::HashSet<i64> =
            query.fetch_all(&mut *w.tx).await?.into_iter().collect();
        marked.extend(chunk.iter().map(|(id, _)| done.contains(id)));
    }
    w.commit().await?;
    Ok((ids, marked))
}

/// What an order reads about its session and product.
#[derive(Debug, Clone)]
pub struct SaleFacts {
    pub status: SessionStatus,
    pub title: String,
    pub policy: DiscountPolicy,
    pub price: Fen,
    /// The product's variants: (id, name, own price).
    pub variants: Vec<(i64, String, Option<Fen>)>,
    pub presented: bool,
    pub name: String,
    pub image_url: String,
}

/// The session's status, title and policy and the product's price, presentation and name,
/// in one query; `NotFound` for a product that is not part of the session.
pub async fn sale_facts(db: &Db, session_id: i64, product_id: i64) -> Result<SaleFacts, AppError> {
    type Row = (
        String,
        String,
        i64,
        Option<i64>,
        String,
        String,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
    );
    let row: Option<Row> = sqlx::query_as(
        "SELECT s.status, s.title, p.price_fen, p.presented_at_ms, p.name, p.image_url,
                d.percent_off, d.friends_needed, d.units_per_shopper, d.units_cap,
                d.purchase_limit, d.verified_phone_required
           FROM products p
           JOIN live_sessions s ON s.id = p.session_id
           LEFT JOIN discount_policies d ON d.session_id = s.id
          WHERE p.id = $1 AND p.session_id = $2",
    )
    .bind(product_id)
    .bind(session_id)
    .fetch_optional(db.pool())
    .await?;
    let Some((
        status,
        title,
        price,
        presented,
        name,
        image_url,
        pct,
        friends,
        per,
        cap,
        limit,
        phone,
    )) = row
    else {
        // An unknown session is "this session does not exist"; a known one, the product.
        shopping::session_status(db, session_id).await?;
        return Err(AppError::not_found(
            "This product is not part of the session.",
        ));
    };
    let policy = match (pct, friends, per, limit, phone) {
        (Some(pct), Some(friends), Some(per), Some(limit), Some(phone)) => {
            shopping::to_policy((pct, friends, per, cap, limit, phone))
        }
        _ => DiscountPolicy::default(),
    };
    let variants: Vec<(i64, String, Option<i64>)> =
        sqlx::query_as("SELECT id, name, price_fen FROM product_variants WHERE product_id = $1")
            .bind(product_id)
            .fetch_all(db.pool())
            .await?;
    Ok(SaleFacts {
        status: SessionStatus::parse(&status).ok_or(AppError::Internal)?,
        title,
        policy,
        price: Fen(price),
        variants: variants
            .into_iter()
            .map(|(id, name, price)| (id, name, price.map(Fen)))
            .collect(),
        presented: presented.is_some(),
        name,
        image_url,
    })
}

/// The order just written, as the shopper sees it, without reading it back.
pub fn order_view(
    order_id: i64,
    o: &NewOrder,
    session_title: &str,
    product_name: &str,
    image_url: &str,
) -> OrderView {
    let q = &o.quote;
    OrderView {
        id: order_id,
        session_id: o.session_id,
        session_title: session_title.to_string(),
        status: OrderStatus::PendingPayment,
        created_at_ms: o.created_at_ms,
        payment_provider: o.provider.to_string(),
        lines: vec![OrderLineView {
            product_id: o.product_id,
            product_name: product_name.to_string(),
            variant: o.variant.as_ref().map(|v| v.1.clone()).unwrap_or_default(),
            image_url: image_url.to_string(),
            quantity: i64::from(q.quantity),
            unit_price: q.unit_price,
            discounted_units: i64::from(q.discounted_units),
            full_amount: q.full_amount,
            discount: q.discount,
            paid: q.paid,
            rule: rule_text(o.rule, i64::from(o.percent_off)),
        }],
        full_amount: q.full_amount,
        discount: q.discount,
        paid: q.paid,
        pay: None,
        shipping: None,
        ship_to: None,
    }
}

/// Rows per multi-row statement. PostgreSQL takes hundreds at once; SQLite looks each
/// numbered parameter up by name when binding (time grows with the square of the parameter
/// count), so its statements stay small.
pub fn rows_per_statement(db: &Db) -> usize {
    match db.kind() {
        crate::DbKind::Sqlite => 16,
        crate::DbKind::Postgres => 200,
    }
}

/// Appends `rows` groups of `cols` numbered placeholders, continuing the numbering, with an
/// optional literal inserted at a column position (`(position, sql)`).
fn push_rows(sql: &mut String, rows: usize, cols: usize, literal: Option<(usize, &str)>) {
    let mut n = 0;
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..cols {
            if let Some((_, lit)) = literal.filter(|(at, _)| *at == c) {
                sql.push_str(lit);
                sql.push_str(", ");
            }
            n += 1;
            sql.push_str(&format!("${n}"));
            if c + 1 < cols {
                sql.push_str(", ");
            }
        }
        sql.push(')');
    }
}

fn limit_refused() -> BatchError {
    BatchError::Refused(AppError::Conflict(
        "You can buy at most this many of this product and have reached that limit.".into(),
    ))
}

/// Everything the flash-sale gate holds for a session, read in one go.
#[derive(Debug, Clone)]
pub struct SaleSnapshot {
    pub status: SessionStatus,
    pub title: String,
    pub policy: DiscountPolicy,
    /// (product id, price, stock, presented, discounted units sold, name, image URL).
    pub products: Vec<(i64, Fen, i64, bool, i64, String, String)>,
    /// (variant id, product id, name, own price, stock).
    pub variants: Vec<(i64, i64, String, Option<Fen>, i64)>,
    /// (product id, shopper id, units, discounted units).
    pub counters: Vec<(i64, i64, i64, i64)>,
    /// The session's orders: (shopper id, idempotency key, request hash, order id).
    pub keys: Vec<(i64, String, String, i64)>,
}

pub async fn sale_snapshot(db: &Db, session_id: i64) -> Result<SaleSnapshot, AppError> {
    let status = shopping::session_status(db, session_id).await?;
    let title: String = sqlx::query_scalar("SELECT title FROM live_sessions WHERE id = $1")
        .bind(session_id)
        .fetch_one(db.pool())
        .await?;
    let policy = shopping::policy(db, session_id).await?;
    type Row = (i64, i64, i64, Option<i64>, i64, String, String);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, price_fen, stock, presented_at_ms, discounted_units, name, image_url
           FROM products WHERE session_id = $1",
    )
    .bind(session_id)
    .fetch_all(db.pool())
    .await?;
    let products = rows
        .into_iter()
        .map(|(id, price, stock, presented, d, name, image)| {
            (id, Fen(price), stock, presented.is_some(), d, name, image)
        })
        .collect();
    let counters = sqlx::query_as(
        "SELECT c.product_id, c.shopper_id, c.units, c.discounted_units
           FROM purchase_counters c JOIN products p ON p.id = c.product_id WHERE p.session_id = $1",
    )
    .bind(session_id)
    .fetch_all(db.pool())
    .await?;
    let keys = sqlx::query_as(
        "SELECT shopper_id, idempotency_key, request_hash, id FROM orders WHERE session_id = $1",
    )
    .bind(session_id)
    .fetch_all(db.pool())
    .await?;
    let variants: Vec<(i64, i64, String, Option<i64>, i64)> = sqlx::query_as(
        "SELECT v.id, v.product_id, v.name, v.price_fen, v.stock
           FROM product_variants v JOIN products p ON p.id = v.product_id WHERE p.session_id = $1",
    )
    .bind(session_id)
    .fetch_all(db.pool())
    .await?;
    Ok(SaleSnapshot {
        status,
        title,
        policy,
        products,
        variants: variants
            .into_iter()
            .map(|(id, product, name, price, stock)| (id, product, name, price.map(Fen), stock))
            .collect(),
        counters,
        keys,
    })
}

/// An order still awaiting payment.
#[derive(Debug, Clone)]
pub struct PendingOrder {
    pub id: i64,
    pub shopper_id: i64,
    pub amount: Fen,
    pub created_at_ms: i64,
}

/// Orders awaiting payment since before `created_before_ms`, oldest first.
pub async fn pending_orders(
    db: &Db,
    created_before_ms: i64,
    limit: i64,
) -> Result<Vec<PendingOrder>, AppError> {
    let rows: Vec<(i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT id, shopper_id, paid_amount_fen, created_at_ms FROM orders
          WHERE status = 'pending_payment' AND created_at_ms < $1 ORDER BY created_at_ms LIMIT $2",
    )
    .bind(created_before_ms)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, shopper_id, amount, created_at_ms)| PendingOrder {
            id,
            shopper_id,
            amount: Fen(amount),
            created_at_ms,
        })
        .collect())
}

/// An order's status as shoppers and hosts see it (SQL over `orders o`): a paid order whose
/// refund went through is "refunded", one with a parcel "shipped".
macro_rules! status_seen {
    () => {
        "CASE WHEN EXISTS (SELECT 1 FROM refunds r WHERE r.order_id = o.id AND r.status = 'succeeded')
             THEN 'refunded'
             WHEN EXISTS (SELECT 1 FROM shipments x WHERE x.order_id = o.id) THEN 'shipped'
             ELSE o.status END"
    };
}
pub(crate) use status_seen;

const ORDER_SELECT: &str = concat!(
    "SELECT o.id, o.session_id, s.title, ",
    status_seen!(),
    " AS status,
        o.created_at_ms, o.payment_provider,
        o.full_amount_fen, o.discount_fen, o.paid_amount_fen,
        l.product_id, p.name, l.variant_name, p.image_url, l.quantity, l.unit_price_fen, l.discounted_units,
        l.full_amount_fen AS l_full, l.discount_fen AS l_discount, l.paid_amount_fen AS l_paid, l.rule, l.percent_off,
        sh.carrier, sh.tracking_no, sh.shipped_at_ms,
        oa.recipient, oa.phone AS oa_phone, oa.province, oa.city, oa.district, oa.street
   FROM orders o
   JOIN live_sessions s ON s.id = o.session_id
   JOIN order_lines l ON l.order_id = o.id
   JOIN products p ON p.id = l.product_id
   LEFT JOIN shipments sh ON sh.order_id = o.id
   LEFT JOIN order_addresses oa ON oa.order_id = o.id"
);

/// An order's address on one line: "recipient · phone · province city district street" (the
/// phone masked for the shopper's own view), from a row's `LEFT JOIN order_addresses`.
pub fn ship_to(
    recipient: Option<String>,
    phone: Option<String>,
    parts: [Option<String>; 4],
    mask: bool,
) -> Option<String> {
    let phone = phone?;
    let phone = if mask {
        crate::domain::phone::mask(&phone)
    } else {
        phone
    };
    let place: Option<Vec<String>> = parts.into_iter().collect();
    Some(format!("{} · {} · {}", recipient?, phone, place?.concat()))
}

/// The parcel of a row's `LEFT JOIN shipments` (all three columns or none).
pub fn shipping_of(
    carrier: Option<String>,
    tracking_no: Option<String>,
    shipped_at_ms: Option<i64>,
) -> Option<crate::model::Shipping> {
    Some(crate::model::Shipping {
        carrier: carrier?,
        tracking_no: tracking_no?,
        shipped_at_ms: shipped_at_ms?,
    })
}

fn rows_to_orders(rows: Vec<sqlx::any::AnyRow>) -> Result<Vec<OrderView>, AppError> {
    let mut out: Vec<OrderView> = Vec::new();
    for r in rows {
        let id: i64 = r.try_get("id")?;
        let line = OrderLineView {
            product_id: r.try_get("product_id")?,
            product_name: r.try_get("name")?,
            variant: r.try_get("variant_name")?,
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
            pay: None,
            shipping: shipping_of(
                r.try_get("carrier")?,
                r.try_get("tracking_no")?,
                r.try_get("shipped_at_ms")?,
            ),
            ship_to: ship_to(
                r.try_get("recipient")?,
                r.try_get("oa_phone")?,
                [
                    r.try_get("province")?,
                    r.try_get("city")?,
                    r.try_get("district")?,
                    r.try_get("street")?,
                ],
                true,
            ),
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

/// An order's status, if the order exists.
/// An order's status and the amount it charges (for a provider's payment notification).
pub async fn payment_facts(db: &Db, order_id: i64) -> Result<Option<(OrderStatus, Fen)>, AppError> {
    let row: Option<(String, i64)> =
        sqlx::query_as("SELECT status, paid_amount_fen FROM orders WHERE id = $1")
            .bind(order_id)
            .fetch_optional(db.pool())
            .await?;
    Ok(row.and_then(|(s, paid)| Some((OrderStatus::parse(&s)?, Fen(paid)))))
}

pub async fn order_status(db: &Db, order_id: i64) -> Result<Option<OrderStatus>, AppError> {
    let s: Option<String> = sqlx::query_scalar("SELECT status FROM orders WHERE id = $1")
        .bind(order_id)
        .fetch_optional(db.pool())
        .await?;
    Ok(s.and_then(|s| OrderStatus::parse(&s)))
}

/// What a refund needs to know about an order.
#[derive(Debug, Clone)]
pub struct RefundFacts {
    pub order_id: i64,
    pub session_id: i64,
    pub status: OrderStatus,
    pub paid: Fen,
    /// The refund already asked for, if any: (out_refund_no, status).
    pub refund: Option<(String, String)>,
}

pub async fn refund_facts(db: &Db, order_id: i64) -> Result<Option<RefundFacts>, AppError> {
    // (session, status, paid, out_refund_no, refund status)
    type Row = (i64, String, i64, Option<String>, Option<String>);
    let row: Option<Row> = sqlx::query_as(
        "SELECT o.session_id, o.status, o.paid_amount_fen, r.out_refund_no, r.status
           FROM orders o LEFT JOIN refunds r ON r.order_id = o.id
          WHERE o.id = $1",
    )
    .bind(order_id)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.and_then(|(session_id, status, paid, no, rstatus)| {
        Some(RefundFacts {
            order_id,
            session_id,
            status: OrderStatus::parse(&status)?,
            paid: Fen(paid),
            refund: no.zip(rstatus),
        })
    }))
}

/// Records that a refund is asked for (at most one per order: a second is a conflict).
pub async fn start_refund(
    db: &Db,
    order_id: i64,
    out_refund_no: &str,
    amount: Fen,
    reason: &str,
    now_ms: i64,
) -> Result<bool, AppError> {
    let res = sqlx::query(
        "INSERT INTO refunds (order_id, out_refund_no, amount_fen, status, reason, created_at_ms)
         VALUES ($1, $2, $3, 'pending', $4, $5) ON CONFLICT (order_id) DO NOTHING",
    )
    .bind(order_id)
    .bind(out_refund_no)
    .bind(amount.0)
    .bind(reason)
    .bind(now_ms)
    .execute(db.pool())
    .await?;
    Ok(res.rows_affected() == 1)
}

/// A refund the provider refused: the order stays paid (a new refund may be asked for).
pub async fn fail_refund(db: &Db, out_refund_no: &str) -> Result<(), AppError> {
    sqlx::query("DELETE FROM refunds WHERE out_refund_no = $1 AND status = 'pending'")
        .bind(out_refund_no)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// A refund went through: in one transaction it is marked done and the order gives back
/// what it took: its units to stock (unless they were shipped), its discounted
/// units to the shopper's allowance and to the product's discount count. False when it was
/// already done (a repeated notification).
pub async fn complete_refund(
    db: &Db,
    out_refund_no: &str,
    provider_ref: &str,
    now_ms: i64,
) -> Result<bool, AppError> {
    let mut w = db.begin_write().await?;
    let done = sqlx::query(
        "UPDATE refunds SET status = 'succeeded', provider_ref = $1, settled_at_ms = $2
          WHERE out_refund_no = $3 AND status = 'pending'",
    )
    .bind(provider_ref)
    .bind(now_ms)
    .bind(out_refund_no)
    .execute(&mut *w.tx)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    let (order_id, shopper_id, status): (i64, i64, String) = sqlx::query_as(
        "SELECT o.id, o.shopper_id, o.status FROM refunds r JOIN orders o ON o.id = r.order_id
          WHERE r.out_refund_no = $1",
    )
    .bind(out_refund_no)
    .fetch_one(&mut *w.tx)
    .await?;
    // A released order paid too late: its units and discount went back when it was released.
    if status == "payment_failed" {
        w.commit().await?;
        return Ok(true);
    }
    // A shipped unit is with the shopper (or on its way back): it is not stock again.
    let shipped: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM shipments WHERE order_id = $1")
        .bind(order_id)
        .fetch_one(&mut *w.tx)
        .await?;
    let lines = taken_by(&mut w.tx, order_id).await?;
    give_back(&mut w.tx, shopper_id, &lines, shipped == 0).await?;
    w.commit().await?;
    Ok(true)
}

/// Ships a paid order of `session_id` (or corrects its tracking number).
pub async fn ship(
    db: &Db,
    session_id: i64,
    order_id: i64,
    tracking: &crate::domain::shipping::Tracking,
    now_ms: i64,
) -> Result<(), AppError> {
    let facts: Option<(i64, String, Option<String>, i64)> = sqlx::query_as(
        "SELECT o.session_id, o.status, r.status,
                (SELECT COUNT(*) FROM order_addresses a WHERE a.order_id = o.id)
           FROM orders o LEFT JOIN refunds r ON r.order_id = o.id
          WHERE o.id = $1",
    )
    .bind(order_id)
    .fetch_optional(db.pool())
    .await?;
    match facts {
        Some((sid, _, _, _)) if sid != session_id => {
            Err(AppError::not_found("no such order in this session"))
        }
        None => Err(AppError::not_found("no such order in this session")),
        Some((_, _, Some(_), _)) => Err(AppError::Conflict("This order is refunded.".into())),
        Some((_, status, None, _)) if status != "paid" => Err(AppError::Conflict(
            "Only a paid order can be shipped.".into(),
        )),
        Some((_, _, None, 0)) => Err(AppError::Conflict(
            "The shopper has not given a delivery address yet.".into(),
        )),
        Some(_) => {
            sqlx::query(
                "INSERT INTO shipments (order_id, carrier, tracking_no, shipped_at_ms) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (order_id) DO UPDATE SET carrier = excluded.carrier, tracking_no = excluded.tracking_no",
            )
            .bind(order_id)
            .bind(&tracking.carrier)
            .bind(&tracking.number)
            .bind(now_ms)
            .execute(db.pool())
            .await?;
            Ok(())
        }
    }
}

/// The studio's orders of a session, newest first (at most 500), by `filter`: `all`,
/// `awaiting_payment`, `paid` (paid or shipped), `to_ship`, `shipped`, `refunded`.
pub async fn studio_orders(
    db: &Db,
    session_id: i64,
    filter: &str,
) -> Result<Vec<crate::model::StudioOrder>, AppError> {
    let wanted: &[&str] = match filter {
        "all" => &[
            "pending_payment",
            "paid",
            "payment_failed",
            "refunded",
            "shipped",
        ],
        "awaiting_payment" => &["pending_payment"],
        "paid" => &["paid", "shipped"],
        "to_ship" => &["paid"],
        "shipped" => &["shipped"],
        "refunded" => &["refunded"],
        _ => return Err(AppError::bad_request("unknown filter")),
    };
    type Row = (
        (i64, i64, String, String, String, i64, i64),
        (Option<String>, Option<String>, Option<i64>),
        (
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        ),
    );
    type Flat = (
        i64,
        i64,
        String,
        String,
        String,
        i64,
        i64,
        Option<String>,
        Option<String>,
        Option<i64>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Flat> = sqlx::query_as(concat!(
        "SELECT * FROM (SELECT o.id, o.created_at_ms, ",
        status_seen!(),
        " AS seen, s.nickname,
                CASE WHEN l.variant_name = '' THEN p.name ELSE p.name || ' (' || l.variant_name || ')' END,
                l.quantity, o.paid_amount_fen, sh.carrier, sh.tracking_no, sh.shipped_at_ms,
                oa.recipient, oa.phone, oa.province, oa.city, oa.district, oa.street
           FROM orders o
           JOIN order_lines l ON l.order_id = o.id
           JOIN products p ON p.id = l.product_id
           JOIN shoppers s ON s.id = o.shopper_id
           LEFT JOIN shipments sh ON sh.order_id = o.id
           LEFT JOIN order_addresses oa ON oa.order_id = o.id
          WHERE o.session_id = $1) v
          WHERE v.seen IN ($2, $3, $4, $5, $6)
          ORDER BY v.id DESC LIMIT 500"
    ))
    .bind(session_id)
    .bind(wanted[0])
    .bind(wanted.get(1).unwrap_or(&wanted[0]))
    .bind(wanted.get(2).unwrap_or(&wanted[0]))
    .bind(wanted.get(3).unwrap_or(&wanted[0]))
    .bind(wanted.get(4).unwrap_or(&wanted[0]))
    .fetch_all(db.pool())
    .await?;
    rows.into_iter()
        .map(|f| -> Row {
            (
                (f.0, f.1, f.2, f.3, f.4, f.5, f.6),
                (f.7, f.8, f.9),
                (f.10, f.11, f.12, f.13, f.14, f.15),
            )
        })
        .map(|(o, sh, a)| {
            Ok(crate::model::StudioOrder {
                id: o.0,
                created_at_ms: o.1,
                status: OrderStatus::parse(&o.2).ok_or(AppError::Internal)?,
                shopper_nickname: o.3,
                product_name: o.4,
                quantity: o.5,
                paid: Fen(o.6),
                shipping: shipping_of(sh.0, sh.1, sh.2),
                ship_to: ship_to(a.0, a.1, [a.2, a.3, a.4, a.5], false),
            })
        })
        .collect()
}
