//! Broadcasts (WHIP ingest runs) and replay markers.

use crate::error::Result;
use crate::{db::Db, model::ReplayMarker, now_ms};
use shop_core::ids::ProductId;
use shop_core::ids::SessionId;

/// A broadcast of the session starts (its first playlist is out). One is on at a time: a row
/// still open is one whose node died mid-broadcast, so it ends now.
pub async fn start_broadcast(db: &Db, session_id: SessionId, codec: &str) -> Result<i64> {
    sqlx::query(
        "UPDATE broadcasts SET ended_at_ms = $1 WHERE session_id = $2 AND ended_at_ms IS NULL",
    )
    .bind(now_ms())
    .bind(session_id)
    .execute(db.pool())
    .await?;
    Ok(sqlx::query_scalar("INSERT INTO broadcasts (session_id, codec, started_at_ms) VALUES ($1, $2, $3) RETURNING id")
        .bind(session_id)
        .bind(codec)
        .bind(now_ms())
        .fetch_one(db.pool())
        .await?)
}

pub async fn end_broadcast(db: &Db, broadcast_id: i64) -> Result<()> {
    sqlx::query("UPDATE broadcasts SET ended_at_ms = $1 WHERE id = $2 AND ended_at_ms IS NULL")
        .bind(now_ms())
        .bind(broadcast_id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// (recording start, whether a broadcast is on now)
pub async fn broadcast_state(db: &Db, session_id: SessionId) -> Result<(Option<i64>, bool)> {
    let first: Option<i64> =
        sqlx::query_scalar("SELECT MIN(started_at_ms) FROM broadcasts WHERE session_id = $1")
            .bind(session_id)
            .fetch_one(db.pool())
            .await?;
    let on: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM broadcasts WHERE session_id = $1 AND ended_at_ms IS NULL",
    )
    .bind(session_id)
    .fetch_one(db.pool())
    .await?;
    Ok((first, on > 0))
}

/// Where each presented product starts in the recording (products presented before the
/// recording began start at 0).
pub async fn markers(
    db: &Db,
    session_id: SessionId,
    recording_start_ms: i64,
) -> Result<Vec<ReplayMarker>> {
    let rows: Vec<(ProductId, String, i64)> = sqlx::query_as(
        "SELECT id, name, presented_at_ms FROM products
          WHERE session_id = $1 AND presented_at_ms IS NOT NULL ORDER BY presented_at_ms, id",
    )
    .bind(session_id)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(product_id, name, at)| ReplayMarker {
            product_id,
            name,
            offset_s: ((at - recording_start_ms).max(0) as f64) / 1000.0,
        })
        .collect())
}
