//! A host's chat rules and the messages they hold back (SQL only; the rules themselves are
//! `domain::chat_rules`).

use shop_core::ids::{HostId, SessionId, ShopperId};

use crate::{
    db::Db,
    domain::chat_rules::{BlockAction, BlockedTerm, ChatRules},
    error::{AppError, OptionExt, Result},
    model::HeldMessage,
};

/// The rules of the host of `session_id` (none set: no rules). `NotFound` for an unknown
/// session.
pub async fn for_session(db: &Db, session_id: SessionId) -> Result<ChatRules> {
    let host: Option<HostId> =
        sqlx::query_scalar("SELECT host_id FROM live_sessions WHERE id = $1")
            .bind(session_id)
            .fetch_optional(db.pool())
            .await?;
    let host = host.ok_or_else(|| AppError::not_found("This live session does not exist."))?;
    for_host(db, host).await
}

pub async fn for_host(db: &Db, host_id: HostId) -> Result<ChatRules> {
    let row: Option<(i64, i64)> =
        sqlx::query_as("SELECT slow_mode_secs, verified_only FROM chat_rules WHERE host_id = $1")
            .bind(host_id)
            .fetch_optional(db.pool())
            .await?;
    let (slow, verified) = row.unwrap_or((0, 0));
    let terms: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT term, matched, action FROM chat_blocked_terms WHERE host_id = $1 ORDER BY term",
    )
    .bind(host_id)
    .fetch_all(db.pool())
    .await?;
    let blocked = terms
        .into_iter()
        .map(|(term, matched, action)| {
            Ok(BlockedTerm {
                term,
                matched,
                action: BlockAction::parse(&action).or_fault("an unknown block action stored")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(ChatRules {
        blocked,
        slow_mode_secs: u32::try_from(slow).unwrap_or(0),
        verified_only: verified == 1,
    })
}

/// Replaces the host's rules, all at once.
pub async fn save(db: &Db, host_id: HostId, rules: &ChatRules, now_ms: i64) -> Result<()> {
    let mut w = db.begin_write().await?;
    sqlx::query(
        "INSERT INTO chat_rules (host_id, slow_mode_secs, verified_only, updated_at_ms)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (host_id) DO UPDATE SET slow_mode_secs = excluded.slow_mode_secs,
             verified_only = excluded.verified_only, updated_at_ms = excluded.updated_at_ms",
    )
    .bind(host_id)
    .bind(i64::from(rules.slow_mode_secs))
    .bind(i64::from(rules.verified_only))
    .bind(now_ms)
    .execute(&mut *w.tx)
    .await?;
    sqlx::query("DELETE FROM chat_blocked_terms WHERE host_id = $1")
        .bind(host_id)
        .execute(&mut *w.tx)
        .await?;
    for t in &rules.blocked {
        sqlx::query(
            "INSERT INTO chat_blocked_terms (host_id, matched, term, action) VALUES ($1, $2, $3, $4)",
        )
        .bind(host_id)
        .bind(&t.matched)
        .bind(&t.term)
        .bind(t.action.as_str())
        .execute(&mut *w.tx)
        .await?;
    }
    w.commit().await?;
    Ok(())
}

/// Keeps a message back for a moderator; answers its id.
pub async fn hold(
    db: &Db,
    session_id: SessionId,
    shopper_id: ShopperId,
    nickname: &str,
    text: &str,
    term: &str,
    now_ms: i64,
) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO chat_held (session_id, shopper_id, nickname, text, term, created_at_ms)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(session_id)
    .bind(shopper_id)
    .bind(nickname)
    .bind(text)
    .bind(term)
    .bind(now_ms)
    .fetch_one(db.pool())
    .await?)
}

type HeldRow = (i64, ShopperId, String, String, String, i64);

fn held_message((id, shopper_id, nickname, text, term, at_ms): HeldRow) -> HeldMessage {
    HeldMessage {
        id,
        shopper_id,
        nickname,
        text,
        term,
        at_ms,
    }
}

/// The session's messages waiting for a moderator, oldest first.
pub async fn waiting(db: &Db, session_id: SessionId) -> Result<Vec<HeldMessage>> {
    let rows: Vec<HeldRow> = sqlx::query_as(
        "SELECT id, shopper_id, nickname, text, term, created_at_ms FROM chat_held
          WHERE session_id = $1 AND state = 'held' ORDER BY id LIMIT 200",
    )
    .bind(session_id)
    .fetch_all(db.pool())
    .await?;
    Ok(rows.into_iter().map(held_message).collect())
}

/// Decides a held message once: `allow` lets it through, otherwise it is dropped. `None` when
/// it is not waiting (decided already, by this moderator or another, or not this session's).
pub async fn decide(
    db: &Db,
    session_id: SessionId,
    id: i64,
    allow: bool,
    now_ms: i64,
) -> Result<Option<HeldMessage>> {
    let row: Option<HeldRow> = sqlx::query_as(
        "UPDATE chat_held SET state = $1, decided_at_ms = $2
          WHERE id = $3 AND session_id = $4 AND state = 'held'
          RETURNING id, shopper_id, nickname, text, term, created_at_ms",
    )
    .bind(if allow { "allowed" } else { "dropped" })
    .bind(now_ms)
    .bind(id)
    .bind(session_id)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.map(held_message))
}
