//! What a live room loads from the database and the chat mutes it keeps (SQL only; the room
//! itself is `live`).

use crate::error::{Error, Result};
use shop_core::ids::{ProductId, SessionId, ShopperId};
use std::collections::{HashMap, HashSet};

use crate::{
    db::Db,
    error::AppError,
    model::{PinnedNote, ReportReason, ReportedMessage},
};

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

/// The note pinned above a session's chat.
pub async fn pinned(db: &Db, session_id: SessionId) -> Result<Option<PinnedNote>> {
    let row: Option<(String, i64, Option<i64>)> =
        sqlx::query_as("SELECT text, pinned_at_ms, coupon_id FROM live_pins WHERE session_id = $1")
            .bind(session_id)
            .fetch_optional(db.pool())
            .await?;
    Ok(row.map(|(text, at_ms, coupon_id)| PinnedNote {
        text,
        at_ms,
        coupon_id,
    }))
}

/// Pins `text` (replacing any note) or, with `None`, unpins.
pub async fn set_pin(
    db: &Db,
    session_id: SessionId,
    note: Option<&PinnedNote>,
    account_id: i64,
) -> Result<()> {
    match note {
        Some(n) => {
            sqlx::query(
                "INSERT INTO live_pins (session_id, text, coupon_id, pinned_by, pinned_at_ms) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (session_id) DO UPDATE SET text = excluded.text, coupon_id = excluded.coupon_id,
                     pinned_by = excluded.pinned_by, pinned_at_ms = excluded.pinned_at_ms",
            )
            .bind(session_id)
            .bind(&n.text)
            .bind(n.coupon_id)
            .bind(account_id)
            .bind(n.at_ms)
            .execute(db.pool())
            .await?;
        }
        None => {
            sqlx::query("DELETE FROM live_pins WHERE session_id = $1")
                .bind(session_id)
                .execute(db.pool())
                .await?;
        }
    }
    Ok(())
}

/// Records a shopper's report of a message (once per shopper and message: a second report
/// changes nothing). Returns whether it was new.
pub async fn report(
    db: &Db,
    session_id: SessionId,
    message: &crate::model::ChatLine,
    reporter: ShopperId,
    reason: ReportReason,
    now_ms: i64,
) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO chat_reports (session_id, message_id, reporter_id, author_id, nickname, text, reason, created_at_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (session_id, message_id, reporter_id) DO NOTHING",
    )
    .bind(session_id)
    .bind(i64::try_from(message.id).unwrap_or(i64::MAX))
    .bind(reporter)
    .bind(message.shopper_id)
    .bind(&message.nickname)
    .bind(&message.text)
    .bind(reason.as_str())
    .bind(now_ms)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The session's reported messages still open, the oldest first report first.
pub async fn open_reports(db: &Db, session_id: SessionId) -> Result<Vec<ReportedMessage>> {
    let rows: Vec<(i64, ShopperId, String, String, String, i64)> = sqlx::query_as(
        "SELECT message_id, author_id, nickname, text, reason, created_at_ms FROM chat_reports
          WHERE session_id = $1 AND state = 'open' ORDER BY created_at_ms, message_id",
    )
    .bind(session_id)
    .fetch_all(db.pool())
    .await?;
    let mut out: Vec<ReportedMessage> = Vec::new();
    let mut counts: Vec<HashMap<ReportReason, i64>> = Vec::new();
    for (id, author_id, nickname, text, reason, at) in rows {
        let message_id = u64::try_from(id).unwrap_or(0);
        let reason = ReportReason::parse(&reason).unwrap_or(ReportReason::Other);
        let i = match out.iter().position(|m| m.message_id == message_id) {
            Some(i) => i,
            None => {
                out.push(ReportedMessage {
                    message_id,
                    author_id,
                    nickname,
                    text,
                    reports: 0,
                    reasons: Vec::new(),
                    first_at_ms: at,
                });
                counts.push(HashMap::new());
                out.len() - 1
            }
        };
        out[i].reports += 1;
        *counts[i].entry(reason).or_default() += 1;
    }
    for (m, c) in out.iter_mut().zip(counts) {
        let mut reasons: Vec<(ReportReason, i64)> = c.into_iter().collect();
        reasons.sort_by_key(|(r, n)| (-n, r.as_str()));
        m.reasons = reasons.into_iter().map(|(r, _)| r).collect();
    }
    Ok(out)
}

/// Decides a reported message's open reports once; false when none was open (another
/// moderator decided it first, or nobody reported it).
pub async fn decide_reports(
    db: &Db,
    session_id: SessionId,
    message_id: u64,
    removed: bool,
    now_ms: i64,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE chat_reports SET state = $3, decided_at_ms = $4
          WHERE session_id = $1 AND message_id = $2 AND state = 'open'",
    )
    .bind(session_id)
    .bind(i64::try_from(message_id).unwrap_or(i64::MAX))
    .bind(if removed { "removed" } else { "dismissed" })
    .bind(now_ms)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Whether `coupon_id` is a coupon of the session that can still be claimed (not withdrawn).
pub async fn open_coupon_of(db: &Db, session_id: SessionId, coupon_id: i64) -> Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM coupons WHERE id = $1 AND session_id = $2 AND withdrawn_at_ms IS NULL",
    )
    .bind(coupon_id)
    .bind(session_id)
    .fetch_one(db.pool())
    .await?;
    Ok(n > 0)
}
