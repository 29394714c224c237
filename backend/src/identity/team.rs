//! A shop's team (issue 30): the owner invites co-workers by one-time links, each with a role
//! (`domain::team`); a member's account acts for the shop within its role. The owner reads
//! the audit log of who did what.

use shop_core::{
    domain::team::Role,
    model::{AuditEntry, InviteInfo, NewInvite, TeamInvite, TeamView},
};

use crate::{
    crypto,
    error::{AppError, Result, ResultExt},
    identity::host_auth::{hash_password, parse_sign_up, start_session, Host},
    now_ms,
    ratelimit::Action,
    repo::{hosts, team},
    request::Browser,
    AppState,
};

/// How long an invite link can be used.
pub const INVITE_TTL_MS: i64 = 7 * 24 * 3600 * 1000;
/// Open invites a shop may have at once.
pub const MAX_OPEN_INVITES: usize = 50;
/// Members besides the owner.
pub const MAX_MEMBERS: usize = 100;
/// A note on an invite (who it is for).
pub const MAX_NOTE_CHARS: usize = 60;
/// Audit lines per page.
pub const AUDIT_PAGE: i64 = 100;

/// The team page (callers check `ManageShop`).
pub async fn view(st: &AppState, host: &Host) -> Result<TeamView> {
    Ok(TeamView {
        members: team::members(&st.db, host.host_id).await?,
        invites: team::open_invites(&st.db, host.host_id, now_ms()).await?,
    })
}

/// A role an invite or a change may give: not the owner's.
fn invitable(role: &str) -> Result<Role> {
    match Role::parse(role) {
        Some(r) if r.invitable() => Ok(r),
        Some(_) => Err(AppError::bad_request(
            "A shop has one owner: invite a producer, a moderator or an analyst.",
        )
        .into()),
        None => Err(AppError::bad_request("Choose a role: producer, moderator or analyst.").into()),
    }
}

/// Makes a one-time invite link for `role`; the token is shown once, only its hash is kept.
pub async fn invite(st: &AppState, host: &Host, role: &str, note: &str) -> Result<NewInvite> {
    let role = invitable(role)?;
    let note = match crate::domain::text::clean_line(note, MAX_NOTE_CHARS) {
        Ok(n) => n,
        Err(crate::domain::text::TextError::Empty) => String::new(),
        Err(_) => {
            return Err(AppError::bad_request(format!(
                "A note can be at most {MAX_NOTE_CHARS} characters."
            ))
            .into())
        }
    };
    let now = now_ms();
    if team::open_invites(&st.db, host.host_id, now).await?.len() >= MAX_OPEN_INVITES {
        return Err(AppError::Conflict(format!(
            "This shop already has {MAX_OPEN_INVITES} open invites: revoke some first."
        ))
        .into());
    }
    if team::members(&st.db, host.host_id).await?.len() > MAX_MEMBERS {
        return Err(
            AppError::Conflict(format!("A team has at most {MAX_MEMBERS} members.")).into(),
        );
    }
    let token = crypto::random_token::<32>()?;
    let id = crypto::sha256_hex(&token);
    let expires = now + INVITE_TTL_MS;
    team::insert_invite(
        &st.db,
        host.host_id,
        &id,
        role,
        &note,
        host.account_id,
        now,
        expires,
    )
    .await?;
    team::audit(
        &st.db,
        host,
        None,
        "team invite",
        &format!("{} invite {}", role.as_str(), short(&id)),
        now,
    )
    .await?;
    Ok(NewInvite {
        invite: TeamInvite {
            id,
            role,
            note,
            created_at_ms: now,
            expires_at_ms: expires,
        },
        path: format!("/studio/join/{token}"),
    })
}

/// The first characters of an invite's id, for the audit log.
fn short(id: &str) -> &str {
    &id[..id.len().min(8)]
}

pub async fn revoke(st: &AppState, host: &Host, id: &str) -> Result<()> {
    if !team::revoke_invite(&st.db, host.host_id, id, now_ms()).await? {
        return Err(AppError::not_found("No such open invite.").into());
    }
    team::audit(
        &st.db,
        host,
        None,
        "team revoke",
        &format!("invite {}", short(id)),
        now_ms(),
    )
    .await
}

/// What the join page shows: 404 for a link that is unknown, used, revoked or expired (all
/// alike, so a guess learns nothing).
pub async fn invite_info(st: &AppState, token: &str) -> Result<InviteInfo> {
    let (_, shop_name, role) = team::usable_invite(&st.db, &crypto::sha256_hex(token), now_ms())
        .await?
        .ok_or_else(gone)?;
    Ok(InviteInfo { shop_name, role })
}

fn gone() -> AppError {
    AppError::not_found(
        "This invite link is not valid any more: ask the shop's owner for a new one.",
    )
}

/// Accepts an invite with a new account (name, email, password) and signs it in. Rate-limited
/// like sign-in; the invite is used once, whatever happens concurrently.
pub async fn accept(
    st: &AppState,
    browser: &Browser,
    token: &str,
    display_name: &str,
    email: &str,
    password: &str,
) -> Result<Host> {
    st.limits
        .check(Action::SignIn, &format!("ip:{}", browser.ip()))
        .await?;
    let (name, email) = parse_sign_up(display_name, email, password)?;
    let token_hash = crypto::sha256_hex(token);
    team::usable_invite(&st.db, &token_hash, now_ms())
        .await?
        .ok_or_else(gone)?;
    if hosts::email_taken(&st.db, &email).await? {
        return Err(AppError::Conflict(
            "An account with this email already exists. Use another email for this team.".into(),
        )
        .into());
    }
    let password = password.to_string();
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .fault("hashing a password")??;
    let (account_id, host_id, role) =
        team::accept_invite(&st.db, &token_hash, &name, &email, &hash, now_ms())
            .await?
            .ok_or_else(gone)?;
    start_session(st, browser, account_id).await?;
    let host = Host {
        account_id,
        host_id,
        email,
        role,
    };
    team::audit(
        &st.db,
        &host,
        None,
        "team join",
        &format!("{} {name}", role.as_str()),
        now_ms(),
    )
    .await?;
    Ok(host)
}

/// Gives a member another role (not owner; the owner's own role does not change).
pub async fn set_role(st: &AppState, host: &Host, account_id: i64, role: &str) -> Result<()> {
    let role = invitable(role)?;
    if !team::set_role(&st.db, host.host_id, account_id, role).await? {
        return Err(AppError::not_found("No such team member.").into());
    }
    team::audit(
        &st.db,
        host,
        None,
        "team role",
        &format!("account {account_id} is now {}", role.as_str()),
        now_ms(),
    )
    .await
}

/// Removes a member: their account and sign-ins end at once.
pub async fn remove(st: &AppState, host: &Host, account_id: i64) -> Result<()> {
    if account_id == host.account_id {
        return Err(AppError::Conflict("The owner cannot leave their own shop.".into()).into());
    }
    if !team::remove_member(&st.db, host.host_id, account_id).await? {
        return Err(AppError::not_found("No such team member.").into());
    }
    team::audit(
        &st.db,
        host,
        None,
        "team remove",
        &format!("account {account_id}"),
        now_ms(),
    )
    .await
}

/// A page of the audit log, newest first (callers check `ManageShop`).
pub async fn audit_log(st: &AppState, host: &Host, before: Option<i64>) -> Result<Vec<AuditEntry>> {
    team::audit_log(&st.db, host.host_id, before, AUDIT_PAGE).await
}

/// Used by the request gate: records a studio change that succeeded.
pub async fn record(st: &AppState, host: &Host, action: &str, detail: &str) -> Result<()> {
    team::audit(&st.db, host, None, action, detail, now_ms()).await
}
