//! The flash-sale batch writer's SQL: many admitted orders written in one transaction with
//! multi-row statements, and the facts and snapshot a sale's gate loads.

use super::*;
use crate::error::{OptionExt, Result};
use shop_core::ids::{OrderId, ProductId, SessionId, ShopperId};

/// An order the flash-sale gate admitted and priced, for the batch writer.
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub shopper_id: ShopperId,
    pub session_id: SessionId,
    pub product_id: ProductId,
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
    /// The live coupon it uses and what that takes off the quote's total (`domain::coupon`).
    pub coupon: Option<(i64, Fen)>,
}

impl NewOrder {
    /// What the shopper pays: the quote's total less the coupon.
    pub fn total(&self) -> Fen {
        Fen(self.quote.paid.0 - self.coupon.map_or(0, |c| c.1 .0))
    }
}

/// Why a batch was not written.
#[derive(Debug)]
pub enum BatchError {
    /// Writing it would sell more than the stock or past a shopper's limits (the database
    /// disagrees with the gate): nothing of the batch was written.
    Refused(AppError),
    Db(sqlx::Error),
}

impl From<sqlx::Error> for BatchError {
    fn from(e: sqlx::Error) -> Self {
        BatchError::Db(e)
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
    paid: &[(OrderId, String)],
) -> Result<(Vec<Option<OrderId>>, Vec<bool>), BatchError> {
    use std::collections::BTreeMap;
    let mut w = db.begin_write().await?;
    let mut ids = Vec::with_capacity(orders.len());
    // BTreeMaps: rows are updated in a fixed order, so two writers cannot deadlock.
    let mut stock: BTreeMap<ProductId, (i64, i64)> = BTreeMap::new();
    let mut variant_stock: BTreeMap<i64, i64> = BTreeMap::new();
    let mut counters: BTreeMap<(ProductId, ShopperId), (i64, i64, i64, i64)> = BTreeMap::new();
    // Multi-row statements, a few hundred rows each: a batch costs a handful of round trips.
    let per_statement = rows_per_statement(db);
    for chunk in orders.chunks(per_statement) {
        let mut sql = String::from(
            "INSERT INTO orders (shopper_id, session_id, idempotency_key, request_hash, status, full_amount_fen,
                                 discount_fen, paid_amount_fen, payment_provider, created_at_ms, coupon_id,
                                 coupon_fen) VALUES ",
        );
        push_rows(&mut sql, chunk.len(), 11, Some((4, "'pending_payment'")));
        sql.push_str(
            " ON CONFLICT (shopper_id, idempotency_key) DO NOTHING RETURNING id, shopper_id, idempotency_key",
        );
        let mut query = sqlx::query_as::<_, (OrderId, ShopperId, String)>(&sql);
        for o in chunk {
            let q = &o.quote;
            query = query
                .bind(o.shopper_id)
                .bind(o.session_id)
                .bind(&o.key)
                .bind(&o.request_hash)
                .bind(q.full_amount.0)
                .bind(q.discount.0)
                .bind(o.total().0)
                .bind(o.provider)
                .bind(o.created_at_ms)
                .bind(o.coupon.map(|c| c.0))
                .bind(o.coupon.map_or(0, |c| c.1 .0));
        }
        let written: std::collections::HashMap<(ShopperId, String), OrderId> = query
            .fetch_all(&mut *w.tx)
            .await?
            .into_iter()
            .map(|(id, shopper, key)| ((shopper, key), id))
            .collect();
        let start = ids.len();
        for o in chunk {
            ids.push(written.get(&(o.shopper_id, o.key.clone())).copied());
        }
        let lines: Vec<(&NewOrder, OrderId)> = chunk
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
    type Counter = (ProductId, ShopperId, i64, i64);
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
    // Coupons: each used once (a claim already used on another order refuses the batch, and
    // the writer then retries its orders alone), and only while open.
    for (o, id) in orders.iter().zip(&ids) {
        let (Some((coupon_id, _)), Some(order_id)) = (o.coupon, id) else {
            continue;
        };
        let res = sqlx::query(
            "UPDATE coupon_claims SET order_id = $1
              WHERE coupon_id = $2 AND shopper_id = $3 AND order_id IS NULL
                AND EXISTS (SELECT 1 FROM coupons c WHERE c.id = $2 AND c.withdrawn_at_ms IS NULL
                                                      AND c.expires_at_ms > $4)",
        )
        .bind(*order_id)
        .bind(coupon_id)
        .bind(o.shopper_id)
        .bind(o.created_at_ms)
        .execute(&mut *w.tx)
        .await?;
        if res.rows_affected() != 1 {
            return Err(BatchError::Refused(coupon_gone()));
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
        let mut query = sqlx::query_scalar::<_, OrderId>(&sql);
        for (order_id, reference) in chunk {
            query = query.bind(*order_id).bind(reference);
        }
        let done: std::collections::HashSet<OrderId> =
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
pub async fn sale_facts(
    db: &Db,
    session_id: SessionId,
    product_id: ProductId,
) -> Result<SaleFacts> {
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
        return Err(AppError::not_found("This product is not part of the session.").into());
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
        status: SessionStatus::parse(&status)
            .or_fault("an unknown session status in the database")?,
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
pub(super) fn push_rows(
    sql: &mut String,
    rows: usize,
    cols: usize,
    literal: Option<(usize, &str)>,
) {
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

/// The answer to an order whose coupon was used meanwhile (another order), withdrawn or expired.
pub fn coupon_gone() -> AppError {
    AppError::Conflict(
        "Your coupon was used on another order or is no longer valid. Check the price and pay again.".into(),
    )
}

pub(super) fn limit_refused() -> BatchError {
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
    pub products: Vec<(ProductId, Fen, i64, bool, i64, String, String)>,
    /// (variant id, product id, name, own price, stock).
    pub variants: Vec<(i64, ProductId, String, Option<Fen>, i64)>,
    /// (product id, shopper id, units, discounted units).
    pub counters: Vec<(ProductId, ShopperId, i64, i64)>,
    /// The session's orders: (shopper id, idempotency key, request hash, order id).
    pub keys: Vec<(ShopperId, String, String, OrderId)>,
}

pub async fn sale_snapshot(db: &Db, session_id: SessionId) -> Result<SaleSnapshot> {
    let status = shopping::session_status(db, session_id).await?;
    let title: String = sqlx::query_scalar("SELECT title FROM live_sessions WHERE id = $1")
        .bind(session_id)
        .fetch_one(db.pool())
        .await?;
    let policy = shopping::policy(db, session_id).await?;
    type Row = (ProductId, i64, i64, Option<i64>, i64, String, String);
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
    let variants: Vec<(i64, ProductId, String, Option<i64>, i64)> = sqlx::query_as(
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
    pub id: OrderId,
    pub shopper_id: ShopperId,
    pub amount: Fen,
    pub created_at_ms: i64,
}

/// Orders awaiting payment since before `created_before_ms`, oldest first.
pub async fn pending_orders(
    db: &Db,
    created_before_ms: i64,
    limit: i64,
) -> Result<Vec<PendingOrder>> {
    let rows: Vec<(OrderId, ShopperId, i64, i64)> = sqlx::query_as(
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
