//! The host's run-of-show transitions: go live, present a product, end the session.
//! Callers check ownership first (`host_auth::require_session_owner`).

use crate::{
    backend::{db::Db, now_ms},
    error::AppError,
    model::SessionStatus,
};

use super::shopping::session_status;

pub async fn go_live(db: &Db, session_id: i64) -> Result<(), AppError> {
    let res = sqlx::query("UPDATE live_sessions SET status = 'live', started_at_ms = $1 WHERE id = $2 AND status = 'scheduled'")
        .bind(now_ms())
        .bind(session_id)
        .execute(db.pool())
        .await?;
    if res.rows_affected() == 1 {
        return Ok(());
    }
    Err(match session_status(db, session_id).await? {
        SessionStatus::Live => AppError::Conflict("The session is already live.".into()),
        _ => AppError::Conflict("This session has ended and can't go live again.".into()),
    })
}

/// Makes `product_id` the product being explained now and records that it was presented
/// (which opens its discount). Returns the session id.
pub async fn present_product(db: &Db, session_id: i64, product_id: i64) -> Result<(), AppError> {
    match session_status(db, session_id).await? {
        SessionStatus::Live => {}
        SessionStatus::Scheduled => {
            return Err(AppError::Conflict(
                "Go live before presenting products.".into(),
            ))
        }
        SessionStatus::Ended => return Err(AppError::Conflict("The session has ended.".into())),
    }
    let mut w = db.begin_write().await?;
    let res = sqlx::query(
        "UPDATE products SET presented_at_ms = COALESCE(presented_at_ms, $1) WHERE id = $2 AND session_id = $3",
    )
    .bind(now_ms())
    .bind(product_id)
    .bind(session_id)
    .execute(&mut *w.tx)
    .await?;
    if res.rows_affected() == 0 {
        return Err(AppError::not_found(
            "This product is not part of the session.",
        ));
    }
    sqlx::query("UPDATE live_sessions SET current_product_id = $1 WHERE id = $2")
        .bind(product_id)
        .bind(session_id)
        .execute(&mut *w.tx)
        .await?;
    w.commit().await?;
    Ok(())
}

pub async fn end_session(db: &Db, session_id: i64) -> Result<(), AppError> {
    let res = sqlx::query(
        "UPDATE live_sessions SET status = 'ended', ended_at_ms = $1, current_product_id = NULL WHERE id = $2 AND status = 'live'",
    )
    .bind(now_ms())
    .bind(session_id)
    .execute(db.pool())
    .await?;
    if res.rows_affected() == 1 {
        return Ok(());
    }
    Err(match session_status(db, session_id).await? {
        SessionStatus::Scheduled => AppError::Conflict("The session hasn't gone live yet.".into()),
        _ => AppError::Conflict("The session has already ended.".into()),
    })
}

/// The session a product belongs to.
pub async fn product_session(db: &Db, product_id: i64) -> Result<i64, AppError> {
    sqlx::query_scalar("SELECT session_id FROM products WHERE id = $1")
        .bind(product_id)
        .fetch_optional(db.pool())
        .await?
        .ok_or_else(|| AppError::not_found("This product does not exist."))
}
