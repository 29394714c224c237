//! Products' variants (shade, size): read with a session's products, replaced by the studio,
//! looked up by an order. The product's stock is kept the sum of its variants' in the same
//! transaction as every change to theirs (`resync_stock`).

use crate::error::Result;
use shop_core::ids::{ProductId, SessionId};
use std::collections::HashMap;

use crate::{
    db::Db,
    domain::{money::Fen, variant::VariantInput},
    error::AppError,
    model::{VariantView, VariantsByProduct},
};

type Row = (i64, ProductId, String, Option<i64>, i64);

fn view((id, _, name, price, stock): Row) -> VariantView {
    VariantView {
        id,
        name,
        price: price.map(Fen),
        stock,
    }
}

/// Every variant of the session's products, by product id, in their order.
pub async fn of_session(db: &Db, session_id: SessionId) -> Result<VariantsByProduct> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT v.id, v.product_id, v.name, v.price_fen, v.stock
           FROM product_variants v JOIN products p ON p.id = v.product_id
          WHERE p.session_id = $1 ORDER BY v.product_id, v.position, v.id",
    )
    .bind(session_id)
    .fetch_all(db.pool())
    .await?;
    let mut out: VariantsByProduct = HashMap::new();
    for row in rows {
        out.entry(row.1).or_default().push(view(row));
    }
    Ok(out)
}

/// One product's variants.
pub async fn of_product(db: &Db, product_id: ProductId) -> Result<Vec<VariantView>> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, product_id, name, price_fen, stock FROM product_variants
          WHERE product_id = $1 ORDER BY position, id",
    )
    .bind(product_id)
    .fetch_all(db.pool())
    .await?;
    Ok(rows.into_iter().map(view).collect())
}

/// Replaces a product's variants with `list` (in its order): existing ones (by id) are
/// renamed, repriced and restocked (by the difference the host typed when `stock_was` is
/// given), new ones added, missing ones removed unless an order bought them (409: set its
/// stock to 0 instead). Once the product was presented an existing variant's price stands
/// (409), as shoppers were shown it. The product's stock becomes the sum of theirs. Returns it.
pub async fn replace(db: &Db, product_id: ProductId, list: &[VariantInput]) -> Result<i64> {
    let mut w = db.begin_write().await?;
    let prices: Vec<(i64, Option<i64>)> =
        sqlx::query_as("SELECT id, price_fen FROM product_variants WHERE product_id = $1")
            .bind(product_id)
            .fetch_all(&mut *w.tx)
            .await?;
    let existing: Vec<i64> = prices.iter().map(|(id, _)| *id).collect();
    let presented: Option<i64> =
        sqlx::query_scalar("SELECT presented_at_ms FROM products WHERE id = $1")
            .bind(product_id)
            .fetch_one(&mut *w.tx)
            .await?;
    for v in list {
        let Some(id) = v.id else { continue };
        let Some((_, was)) = prices.iter().find(|(p, _)| *p == id) else {
            return Err(AppError::not_found("This variant is not part of the product.").into());
        };
        if presented.is_some() && *was != v.price.map(|p| p.0) {
            return Err(AppError::Conflict(
                "This product was already presented: its variants' prices stand (add a new variant instead).".into(),
            ).into());
        }
    }
    // Removed ones first (their names may be reused), then temporary names for the kept ones
    // (two variants may swap names), then the list in its order.
    for id in existing
        .iter()
        .filter(|id| !list.iter().any(|v| v.id == Some(**id)))
    {
        let bought: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM order_lines WHERE variant_id = $1")
                .bind(id)
                .fetch_one(&mut *w.tx)
                .await?;
        if bought > 0 {
            return Err(AppError::Conflict(
                "A variant that was ordered cannot be removed: set its stock to 0 instead.".into(),
            )
            .into());
        }
        sqlx::query("DELETE FROM product_variants WHERE id = $1")
            .bind(id)
            .execute(&mut *w.tx)
            .await?;
    }
    for v in list {
        if let Some(id) = v.id {
            sqlx::query("UPDATE product_variants SET name = $1 WHERE id = $2")
                .bind(format!("\u{1}{id}"))
                .bind(id)
                .execute(&mut *w.tx)
                .await?;
        }
    }
    for (i, v) in list.iter().enumerate() {
        let position = i as i64 + 1;
        let price = v.price.map(|p| p.0);
        match v.id {
            Some(id) => {
                let (delta, absolute) = match v.stock_was {
                    Some(was) => (v.stock - was, -1),
                    None => (0, v.stock),
                };
                sqlx::query(
                    "UPDATE product_variants SET name = $1, price_fen = $2, position = $3,
                            stock = CASE WHEN $4 >= 0 THEN $4
                                         WHEN stock + $5 < 0 THEN 0
                                         WHEN stock + $5 > 1000000 THEN 1000000
                                         ELSE stock + $5 END
                      WHERE id = $6",
                )
                .bind(&v.name)
                .bind(price)
                .bind(position)
                .bind(absolute)
                .bind(delta)
                .bind(id)
                .execute(&mut *w.tx)
                .await?;
            }
            None => {
                sqlx::query(
                    "INSERT INTO product_variants (product_id, position, name, stock, price_fen)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(product_id)
                .bind(position)
                .bind(&v.name)
                .bind(v.stock)
                .bind(price)
                .execute(&mut *w.tx)
                .await?;
            }
        }
    }
    let stock = resync_stock(&mut w.tx, product_id).await?;
    w.commit().await?;
    Ok(stock)
}

/// A product with variants: its stock becomes the sum of theirs (a product without keeps its
/// own). Returns the product's stock.
pub async fn resync_stock(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    product_id: ProductId,
) -> Result<i64, sqlx::Error> {
    sqlx::query(
        "UPDATE products SET stock = (SELECT SUM(stock) FROM product_variants WHERE product_id = $1)
          WHERE id = $1 AND EXISTS (SELECT 1 FROM product_variants WHERE product_id = $1)",
    )
    .bind(product_id)
    .execute(&mut **tx)
    .await?;
    sqlx::query_scalar("SELECT stock FROM products WHERE id = $1")
        .bind(product_id)
        .fetch_one(&mut **tx)
        .await
}
