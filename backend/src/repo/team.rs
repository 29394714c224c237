//! A shop's team: members, one-time invites and the audit log (SQL only; the rules are in
//! `identity::team`).

use crate::{
    db::Db,
    error::{AppError, Result},
    identity::host_auth::Host,
};
use shop_core::{
    domain::team::Role,
    ids::{HostId, SessionId},
    model::{AuditEntry, TeamInvite, TeamMember},
};

/// The shop's owner account and every member, the owner first.
pub async fn members(db: &Db, host_id: HostId) -> Result<Vec<TeamMember>> {
    let owner: Vec<(i64, String, String, i64)> = sqlx::query_as(
        "SELECT a.id, h.display_name, a.email, a.created_at_ms
           FROM host_accounts a JOIN hosts h ON h.id = a.host_id
          WHERE a.host_id = $1 AND NOT EXISTS (SELECT 1 FROM team_members m WHERE m.account_id = a.id)",
    )
    .bind(host_id)
    .fetch_all(db.pool())
    .await?;
    let rest: Vec<(i64, String, String, String, i64)> = sqlx::query_as(
        "SELECT a.id, h.display_name, a.email, m.role, m.joined_at_ms
           FROM team_members m JOIN host_accounts a ON a.id = m.account_id
           JOIN hosts h ON h.id = a.host_id
          WHERE m.host_id = $1 ORDER BY m.joined_at_ms, a.id",
    )
    .bind(host_id)
    .fetch_all(db.pool())
    .await?;
    let mut out: Vec<TeamMember> = owner
        .into_iter()
        .map(
            |(account_id, display_name, email, joined_at_ms)| TeamMember {
                account_id,
                display_name,
                email,
                role: Role::Owner,
                joined_at_ms,
            },
        )
        .collect();
    for (account_id, display_name, email, role, joined_at_ms) in rest {
        let role = Role::parse(&role)
            .ok_or_else(|| crate::error::Error::fault(format!("an unknown team role {role:?}")))?;
        out.push(TeamMember {
            account_id,
            display_name,
            email,
            role,
            joined_at_ms,
        });
    }
    Ok(out)
}

/// Invites not used, revoked or expired, newest first.
pub async fn open_invites(db: &Db, host_id: HostId, now_ms: i64) -> Result<Vec<TeamInvite>> {
    let rows: Vec<(String, String, String, i64, i64)> = sqlx::query_as(
        "SELECT token_hash, role, note, created_at_ms, expires_at_ms FROM team_invites
          WHERE host_id = $1 AND used_at_ms IS NULL AND revoked_at_ms IS NULL AND expires_at_ms > $2
          ORDER BY created_at_ms DESC",
    )
    .bind(host_id)
    .bind(now_ms)
    .fetch_all(db.pool())
    .await?;
    rows.into_iter()
        .map(|(id, role, note, created_at_ms, expires_at_ms)| {
            Ok(TeamInvite {
                id,
                role: Role::parse(&role).ok_or_else(|| {
                    crate::error::Error::fault(format!("an unknown team role {role:?}"))
                })?,
                note,
                created_at_ms,
                expires_at_ms,
            })
        })
        .collect()
}

pub async fn insert_invite(
    db: &Db,
    host_id: HostId,
    token_hash: &str,
    role: Role,
    note: &str,
    created_by: i64,
    now_ms: i64,
    expires_at_ms: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO team_invites (token_hash, host_id, role, note, created_by, created_at_ms, expires_at_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(token_hash)
    .bind(host_id)
    .bind(role.as_str())
    .bind(note)
    .bind(created_by)
    .bind(now_ms)
    .bind(expires_at_ms)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Revokes an open invite of the shop; false when there is none by that id.
pub async fn revoke_invite(db: &Db, host_id: HostId, id: &str, now_ms: i64) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE team_invites SET revoked_at_ms = $3
          WHERE token_hash = $1 AND host_id = $2 AND used_at_ms IS NULL AND revoked_at_ms IS NULL",
    )
    .bind(id)
    .bind(host_id)
    .bind(now_ms)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// An invite that can still be accepted: its shop, the shop's name and the role.
pub async fn usable_invite(
    db: &Db,
    token_hash: &str,
    now_ms: i64,
) -> Result<Option<(HostId, String, Role)>> {
    let row: Option<(HostId, String, String)> = sqlx::query_as(
        "SELECT i.host_id, h.display_name, i.role FROM team_invites i JOIN hosts h ON h.id = i.host_id
          WHERE i.token_hash = $1 AND i.used_at_ms IS NULL AND i.revoked_at_ms IS NULL
            AND i.expires_at_ms > $2",
    )
    .bind(token_hash)
    .bind(now_ms)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.and_then(|(h, name, role)| Role::parse(&role).map(|r| (h, name, r))))
}

/// Accepts an invite, all or nothing: claims it (once), creates the member's account (with a
/// host row of its own for their name) and adds them to the team. `None` when the invite was
/// used, revoked or expired meanwhile; a taken email is a 409.
pub async fn accept_invite(
    db: &Db,
    token_hash: &str,
    display_name: &str,
    email: &str,
    password_hash: &str,
    now_ms: i64,
) -> Result<Option<(i64, HostId, Role)>> {
    let mut w = db.begin_write().await?;
    let claimed: Option<(HostId, String, i64)> = sqlx::query_as(
        "UPDATE team_invites SET used_at_ms = $2
          WHERE token_hash = $1 AND used_at_ms IS NULL AND revoked_at_ms IS NULL AND expires_at_ms > $2
          RETURNING host_id, role, created_by",
    )
    .bind(token_hash)
    .bind(now_ms)
    .fetch_optional(&mut *w.tx)
    .await?;
    let Some((host_id, role, invited_by)) = claimed else {
        return Ok(None);
    };
    let role = Role::parse(&role)
        .ok_or_else(|| crate::error::Error::fault(format!("an unknown team role {role:?}")))?;
    let own: HostId = sqlx::query_scalar(
        "INSERT INTO hosts (display_name, created_at_ms) VALUES ($1, $2) RETURNING id",
    )
    .bind(display_name)
    .bind(now_ms)
    .fetch_one(&mut *w.tx)
    .await?;
    let account = sqlx::query_scalar::<_, i64>(
        "INSERT INTO host_accounts (host_id, email, password_hash, created_at_ms) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(own)
    .bind(email)
    .bind(password_hash)
    .bind(now_ms)
    .fetch_one(&mut *w.tx)
    .await;
    let account_id = match account {
        Ok(id) => id,
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            // Dropping the transaction rolls the claim back: the invite stays usable.
            return Err(AppError::Conflict(
                "An account with this email already exists. Use another email for this team."
                    .into(),
            )
            .into());
        }
        Err(e) => return Err(e.into()),
    };
    sqlx::query("UPDATE team_invites SET used_by = $2 WHERE token_hash = $1")
        .bind(token_hash)
        .bind(account_id)
        .execute(&mut *w.tx)
        .await?;
    sqlx::query(
        "INSERT INTO team_members (account_id, host_id, role, invited_by, joined_at_ms) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(account_id)
    .bind(host_id)
    .bind(role.as_str())
    .bind(invited_by)
    .bind(now_ms)
    .execute(&mut *w.tx)
    .await?;
    w.commit().await?;
    Ok(Some((account_id, host_id, role)))
}

/// Changes a member's role; false when the account is not a member of the shop.
pub async fn set_role(db: &Db, host_id: HostId, account_id: i64, role: Role) -> Result<bool> {
    let done =
        sqlx::query("UPDATE team_members SET role = $3 WHERE account_id = $1 AND host_id = $2")
            .bind(account_id)
            .bind(host_id)
            .bind(role.as_str())
            .execute(db.pool())
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes a member from the shop: their account, its sign-ins and its own (empty) host row go,
/// so a removed member cannot act for anything. False when not a member of the shop.
pub async fn remove_member(db: &Db, host_id: HostId, account_id: i64) -> Result<bool> {
    let mut w = db.begin_write().await?;
    let own: Option<HostId> = sqlx::query_scalar(
        "SELECT a.host_id FROM team_members m JOIN host_accounts a ON a.id = m.account_id
          WHERE m.account_id = $1 AND m.host_id = $2",
    )
    .bind(account_id)
    .bind(host_id)
    .fetch_optional(&mut *w.tx)
    .await?;
    let Some(own) = own else {
        return Ok(false);
    };
    for sql in [
        "DELETE FROM host_sessions WHERE account_id = $1",
        "DELETE FROM team_members WHERE account_id = $1",
        "DELETE FROM host_accounts WHERE id = $1",
    ] {
        sqlx::query(sql)
            .bind(account_id)
            .execute(&mut *w.tx)
            .await?;
    }
    // Their own host row, unless something of theirs refers to it (it never has sessions).
    let _ = sqlx::query(
        "DELETE FROM hosts WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM live_sessions WHERE host_id = $1)
            AND NOT EXISTS (SELECT 1 FROM audit_log WHERE host_id = $1)
            AND NOT EXISTS (SELECT 1 FROM uploads WHERE host_id = $1)",
    )
    .bind(own)
    .execute(&mut *w.tx)
    .await?;
    w.commit().await?;
    Ok(true)
}

/// Records who did what (every studio change goes through here or the request gate).
pub async fn audit(
    db: &Db,
    host: &Host,
    session_id: Option<SessionId>,
    action: &str,
    detail: &str,
    now_ms: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (session_id, host_id, account_id, actor, action, detail, created_at_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(session_id)
    .bind(host.host_id)
    .bind(host.account_id)
    .bind(&host.email)
    .bind(action)
    .bind(detail)
    .bind(now_ms)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// The shop's audit log, newest first, `limit` lines before the line `before` (an id).
pub async fn audit_log(
    db: &Db,
    host_id: HostId,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<AuditEntry>> {
    let rows: Vec<(i64, i64, String, String, String, String, Option<SessionId>)> = sqlx::query_as(
        "SELECT id, created_at_ms, actor, action, detail, reason, session_id FROM audit_log
          WHERE host_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
    )
    .bind(host_id)
    .bind(before.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, at_ms, actor, action, detail, reason, session_id)| AuditEntry {
                id,
                at_ms,
                actor,
                action,
                detail,
                reason,
                session_id,
            },
        )
        .collect())
}
