//! The sites each host allows to embed its live rooms (`domain::embed`).

use crate::error::Result;
use crate::{
    db::Db,
    domain::embed::{EmbedOrigin, MAX_ORIGINS},
    error::AppError,
};
use shop_core::ids::{HostId, SessionId};

/// The host's allowed sites, in order.
pub async fn host_origins(db: &Db, host_id: HostId) -> Result<Vec<String>> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT origin FROM embed_origins WHERE host_id = $1 ORDER BY origin")
            .bind(host_id)
            .fetch_all(db.pool())
            .await?;
    Ok(rows.into_iter().map(|(o,)| o).collect())
}

/// The sites allowed to embed this session's room (its host's list), or `None` when there is
/// no such session. Stored origins are parsed again: only their one spelling leaves here.
pub async fn session_origins(db: &Db, session_id: SessionId) -> Result<Option<Vec<EmbedOrigin>>> {
    let host: Option<(HostId,)> = sqlx::query_as("SELECT host_id FROM live_sessions WHERE id = $1")
        .bind(session_id)
        .fetch_optional(db.pool())
        .await?;
    let Some((host_id,)) = host else {
        return Ok(None);
    };
    Ok(Some(
        host_origins(db, host_id)
            .await?
            .iter()
            .filter_map(|o| EmbedOrigin::parse(o).ok())
            .collect(),
    ))
}

/// Adds a site to the host's list (adding one already there changes nothing); 409 when the
/// list is full.
pub async fn add_origin(db: &Db, host_id: HostId, origin: &EmbedOrigin, now_ms: i64) -> Result<()> {
    let listed = host_origins(db, host_id).await?;
    if listed.iter().any(|o| o == origin.as_str()) {
        return Ok(());
    }
    if listed.len() >= MAX_ORIGINS {
        return Err(AppError::Conflict(format!(
            "At most {MAX_ORIGINS} sites may embed your rooms: remove one first."
        ))
        .into());
    }
    sqlx::query(
        "INSERT INTO embed_origins (host_id, origin, created_at_ms) VALUES ($1, $2, $3)
         ON CONFLICT (host_id, origin) DO NOTHING",
    )
    .bind(host_id)
    .bind(origin.as_str())
    .bind(now_ms)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Removes a site from the host's list; 404 when it was not on it.
pub async fn remove_origin(db: &Db, host_id: HostId, origin: &EmbedOrigin) -> Result<()> {
    let done = sqlx::query("DELETE FROM embed_origins WHERE host_id = $1 AND origin = $2")
        .bind(host_id)
        .bind(origin.as_str())
        .execute(db.pool())
        .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::not_found("That site is not on your list.").into());
    }
    Ok(())
}
