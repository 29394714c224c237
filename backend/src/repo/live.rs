//! What a live room loads from the database and the chat mutes it keeps (SQL only; the room
//! itself is `live`).

use crate::error::{Error, Result};
use shop_core::ids::{ProductId, SessionId, ShopperId};
use std::collections::{HashMap, HashSet};

use crate::{db::Db, error::AppError};

/// One product as the room shows it.
pub struct RoomProduct {
    pub id: ProductId,
    pub name: String,
    pub price_fen: i64,
    pub image_url: String,
    pub stock: i64,
}

pub async fn room_product(db: &Db, product_id: ProductId) -> Result<Option<RoomProduct>> {
    let row: Option<(ProductId, String, i64, String, i64)> =
        sqlx::query_as("SELECT id, name, price_fen, image_url, stock FROM products WHERE id = $1")
            .bind(product_id)
            .fetch_optional(db.pool())
            .await?;
    Ok(
        row.map(|(id, name, price_fen, image_url, stock)| RoomProduct {
            id,
            name,
            price_fen,
            image_url,
            stock,
        }),
    )
}

pub async fn room_products(db: &Db, session_id: SessionId) -> Result<Vec<RoomProduct>> {
    let rows: Vec<(ProductId, String, i64, String, i64)> = sqlx::query_as(
        "SELECT id, name, price_fen, image_url, stock FROM products WHERE session_id = $1",
    )
    .bind(session_id)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name, price_fen, image_url, stock)| RoomProduct {
            id,
            name,
            price_fen,
            image_url,
            stock,
        })
        .collect())
}

pub async fn muted(db: &Db, session_id: SessionId) -> Result<HashSet<ShopperId>> {
    Ok(sqlx::query_scalar::<_, ShopperId>(
        "SELECT shopper_id FROM chat_mutes WHERE session_id = $1",
    )
    .bind(session_id)
    .fetch_all(db.pool())
    .await?
    .into_iter()
    .collect())
}

/// Mutes a shopper in a session's chat (kept across restarts). `NotFound` for an unknown
/// shopper.
pub async fn mute(
    db: &Db,
    session_id: SessionId,
    shopper_id: ShopperId,
    now_ms: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO chat_mutes (session_id, shopper_id, created_at_ms) VALUES ($1, $2, $3)
         ON CONFLICT (session_id, shopper_id) DO NOTHING",
    )
    .bind(session_id)
    .bind(shopper_id)
    .bind(now_ms)
    .execute(db.pool())
    .await
    .map_err(|e| match e {
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => {
            AppError::not_found("No such shopper.").into()
        }
        other => Error::from(other),
    })?;
    Ok(())
}

/// Stock by product id, for a room's counters.
pub fn stock_of(products: &[RoomProduct]) -> HashMap<ProductId, i64> {
    products.iter().map(|p| (p.id, p.stock)).collect()
}
