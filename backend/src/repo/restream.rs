//! Restream destinations (`domain::restream`): the host's list, and the state the pushing node
//! writes. Every statement that names a destination also names its host, so one host's id
//! never reaches another's row.

use crate::error::Result;
use crate::{
    db::Db,
    domain::restream::{self, MAX_DESTINATIONS},
    error::AppError,
    model::RestreamDestination,
};
use shop_core::ids::{HostId, SessionId};

type ListRow = (
    i64,
    String,
    String,
    String,
    i64,
    Option<String>,
    Option<String>,
    Option<i64>,
);

/// The host's destinations, oldest first, with the state they show at `now_ms`.
pub async fn list(db: &Db, host_id: HostId, now_ms: i64) -> Result<Vec<RestreamDestination>> {
    let rows: Vec<ListRow> = sqlx::query_as(
        "SELECT id, name, url, key_hint, enabled, state, state_reason, state_at_ms
           FROM restream_destinations WHERE host_id = $1 ORDER BY id",
    )
    .bind(host_id)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name, url, hint, enabled, state, reason, at)| {
            let enabled = enabled != 0;
            let shown = restream::shown_state(enabled, state.as_deref().zip(at), now_ms);
            RestreamDestination {
                id,
                name,
                url,
                key_masked: restream::masked(&hint),
                enabled,
                state: shown,
                reason: reason.filter(|_| shown == crate::model::RestreamState::Failing),
                state_at_ms: at,
            }
        })
        .collect())
}

/// A destination as it is being added (the key already sealed).
pub struct NewDestination<'a> {
    pub name: &'a str,
    pub url: &'a str,
    pub key_sealed: &'a str,
    pub key_hint: &'a str,
}

/// Adds a destination, enabled; 409 when the host has [`MAX_DESTINATIONS`].
pub async fn add(db: &Db, host_id: HostId, d: &NewDestination<'_>, now_ms: i64) -> Result<i64> {
    let count: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM restream_destinations WHERE host_id = $1")
            .bind(host_id)
            .fetch_one(db.pool())
            .await?;
    if count >= MAX_DESTINATIONS as i64 {
        return Err(AppError::Conflict(format!(
            "At most {MAX_DESTINATIONS} restream destinations: delete one first."
        ))
        .into());
    }
    Ok(sqlx::query_scalar(
        "INSERT INTO restream_destinations (host_id, name, url, key_sealed, key_hint, enabled, created_at_ms)
         VALUES ($1, $2, $3, $4, $5, 1, $6) RETURNING id",
    )
    .bind(host_id)
    .bind(d.name)
    .bind(d.url)
    .bind(d.key_sealed)
    .bind(d.key_hint)
    .bind(now_ms)
    .fetch_one(db.pool())
    .await?)
}

/// `Ok` when a statement touched the host's destination; 404 when it has none of that id.
fn touched(done: sqlx::any::AnyQueryResult) -> Result<()> {
    if done.rows_affected() == 0 {
        return Err(AppError::not_found("This restream destination does not exist.").into());
    }
    Ok(())
}

/// Turns a destination of the host's on or off (a live broadcast picks it up or lets it go
/// within seconds); 404 when the host has no such destination.
pub async fn set_enabled(db: &Db, host_id: HostId, id: i64, enabled: bool) -> Result<()> {
    let done =
        sqlx::query("UPDATE restream_destinations SET enabled = $1 WHERE id = $2 AND host_id = $3")
            .bind(i64::from(enabled))
            .bind(id)
            .bind(host_id)
            .execute(db.pool())
            .await?;
    touched(done)
}

/// Deletes a destination of the host's (its sealed key with it); 404 when there is none.
pub async fn delete(db: &Db, host_id: HostId, id: i64) -> Result<()> {
    let done = sqlx::query("DELETE FROM restream_destinations WHERE id = $1 AND host_id = $2")
        .bind(id)
        .bind(host_id)
        .execute(db.pool())
        .await?;
    touched(done)
}

/// An enabled destination, as the pushing node needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushTarget {
    pub id: i64,
    /// Its owner (the sealed key is bound to it).
    pub host_id: HostId,
    pub url: String,
    pub key_sealed: String,
}

/// The enabled destinations of the host of `session_id` (none when there is no such session).
pub async fn enabled_for_session(db: &Db, session_id: SessionId) -> Result<Vec<PushTarget>> {
    let rows: Vec<(i64, HostId, String, String)> = sqlx::query_as(
        "SELECT d.id, d.host_id, d.url, d.key_sealed FROM restream_destinations d
           JOIN live_sessions s ON s.host_id = d.host_id
          WHERE s.id = $1 AND d.enabled = 1 ORDER BY d.id",
    )
    .bind(session_id)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, host_id, url, key_sealed)| PushTarget {
            id,
            host_id,
            url,
            key_sealed,
        })
        .collect())
}

/// Records a push's state (`connecting`, `live`, `failing` with its reason), or with `None`
/// that it stopped. Only the session that pushes writes; a stopped push clears only its own
/// state.
pub async fn set_state(
    db: &Db,
    id: i64,
    session_id: SessionId,
    state: Option<(&str, Option<&str>)>,
    now_ms: i64,
) -> Result<()> {
    match state {
        Some((state, reason)) => {
            sqlx::query(
                "UPDATE restream_destinations
                    SET state = $1, state_reason = $2, state_session_id = $3, state_at_ms = $4
                  WHERE id = $5",
            )
            .bind(state)
            .bind(reason)
            .bind(session_id)
            .bind(now_ms)
            .bind(id)
            .execute(db.pool())
            .await?;
        }
        None => {
            sqlx::query(
                "UPDATE restream_destinations
                    SET state = NULL, state_reason = NULL, state_session_id = NULL, state_at_ms = $1
                  WHERE id = $2 AND state_session_id = $3",
            )
            .bind(now_ms)
            .bind(id)
            .bind(session_id)
            .execute(db.pool())
            .await?;
        }
    }
    Ok(())
}
