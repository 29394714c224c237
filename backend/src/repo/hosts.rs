//! Host accounts, their sign-in sessions and lockouts (SQL only; the rules are in
//! `identity::host_auth`).

use crate::db::Db;
use crate::error::Result;
use shop_core::{
    domain::team::Role,
    ids::{HostId, SessionId},
};

/// What sign-in needs of an account.
pub struct AccountRow {
    pub id: i64,
    pub host_id: HostId,
    pub password_hash: String,
    pub locked_until_ms: Option<i64>,
}

pub async fn email_taken(db: &Db, email: &str) -> Result<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM host_accounts WHERE email = $1")
        .bind(email)
        .fetch_one(db.pool())
        .await?;
    Ok(n > 0)
}

/// The new account's id, or `None` when the email is already taken (a unique violation;
/// any other failure is an error).
pub async fn create_account(
    db: &Db,
    host_id: HostId,
    email: &str,
    password_hash: &str,
    now_ms: i64,
) -> Result<Option<i64>> {
    let inserted = sqlx::query_scalar::<_, i64>(
        "INSERT INTO host_accounts (host_id, email, password_hash, created_at_ms) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(host_id)
    .bind(email)
    .bind(password_hash)
    .bind(now_ms)
    .fetch_one(db.pool())
    .await;
    match inserted {
        Ok(id) => Ok(Some(id)),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Removes a host that never got an account (a sign-up that failed half-way).
pub async fn delete_host(db: &Db, host_id: HostId) -> Result<()> {
    sqlx::query("DELETE FROM hosts WHERE id = $1")
        .bind(host_id)
        .execute(db.pool())
        .await?;
    Ok(())
}

pub async fn account_by_email(db: &Db, email: &str) -> Result<Option<AccountRow>> {
    let row: Option<(i64, i64, String, Option<i64>)> = sqlx::query_as(
        "SELECT id, host_id, password_hash, locked_until_ms FROM host_accounts WHERE email = $1",
    )
    .bind(email)
    .fetch_optional(db.pool())
    .await?;
    Ok(
        row.map(|(id, host_id, password_hash, locked_until_ms)| AccountRow {
            id,
            host_id: HostId(host_id),
            password_hash,
            locked_until_ms,
        }),
    )
}

/// Counts a wrong password; returns the failures in a row.
pub async fn record_failed_sign_in(db: &Db, account_id: i64) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "UPDATE host_accounts SET failed_logins = failed_logins + 1 WHERE id = $1 RETURNING failed_logins",
    )
    .bind(account_id)
    .fetch_one(db.pool())
    .await?)
}

pub async fn lock_account(db: &Db, account_id: i64, until_ms: i64) -> Result<()> {
    sqlx::query("UPDATE host_accounts SET locked_until_ms = $1, failed_logins = 0 WHERE id = $2")
        .bind(until_ms)
        .bind(account_id)
        .execute(db.pool())
        .await?;
    Ok(())
}

pub async fn clear_failures(db: &Db, account_id: i64) -> Result<()> {
    sqlx::query("UPDATE host_accounts SET failed_logins = 0, locked_until_ms = NULL WHERE id = $1")
        .bind(account_id)
        .execute(db.pool())
        .await?;
    Ok(())
}

pub async fn create_session(
    db: &Db,
    token_hash: &str,
    account_id: i64,
    now_ms: i64,
    expires_at_ms: i64,
) -> Result<()> {
    sqlx::query("INSERT INTO host_sessions (token_hash, account_id, created_at_ms, expires_at_ms) VALUES ($1, $2, $3, $4)")
        .bind(token_hash)
        .bind(account_id)
        .bind(now_ms)
        .bind(expires_at_ms)
        .execute(db.pool())
        .await?;
    Ok(())
}

pub async fn delete_session(db: &Db, token_hash: &str) -> Result<()> {
    sqlx::query("DELETE FROM host_sessions WHERE token_hash = $1")
        .bind(token_hash)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// (account id, host id, email) of an unexpired sign-in session.
/// The account behind a sign-in: its id, the shop it acts for (the one whose team it joined,
/// else its own), its email and its role there (`owner` for its own shop).
pub async fn by_session(
    db: &Db,
    token_hash: &str,
    now_ms: i64,
) -> Result<Option<(i64, HostId, String, String)>> {
    Ok(sqlx::query_as(
        "SELECT a.id, COALESCE(m.host_id, a.host_id), a.email, COALESCE(m.role, 'owner')
           FROM host_sessions s JOIN host_accounts a ON a.id = s.account_id
           LEFT JOIN team_members m ON m.account_id = a.id
          WHERE s.token_hash = $1 AND s.expires_at_ms > $2",
    )
    .bind(token_hash)
    .bind(now_ms)
    .fetch_optional(db.pool())
    .await?)
}

/// The shop an account acts for and its role there: the shop whose team it joined, else its
/// own (`own`) as its owner.
pub async fn acting_for(db: &Db, account_id: i64, own: HostId) -> Result<(HostId, Role)> {
    let row: Option<(HostId, String)> =
        sqlx::query_as("SELECT host_id, role FROM team_members WHERE account_id = $1")
            .bind(account_id)
            .fetch_optional(db.pool())
            .await?;
    match row {
        None => Ok((own, Role::Owner)),
        Some((host_id, role)) => Role::parse(&role)
            .map(|r| (host_id, r))
            .ok_or_else(|| crate::error::Error::fault(format!("an unknown team role {role:?}"))),
    }
}

/// The host who owns a session (`None`: no such session).
pub async fn session_owner(db: &Db, session_id: SessionId) -> Result<Option<HostId>> {
    Ok(
        sqlx::query_scalar("SELECT host_id FROM live_sessions WHERE id = $1")
            .bind(session_id)
            .fetch_optional(db.pool())
            .await?,
    )
}

pub async fn display_name(db: &Db, host_id: HostId) -> Result<String> {
    Ok(
        sqlx::query_scalar("SELECT display_name FROM hosts WHERE id = $1")
            .bind(host_id)
            .fetch_one(db.pool())
            .await?,
    )
}
