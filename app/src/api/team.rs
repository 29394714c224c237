//! A shop's team (issue 30): the owner's team page (members, one-time invite links, roles,
//! the audit log) and the join page a co-worker opens from an invite link. Everything but
//! the join page needs `ManageShop`, which only the owner has.

use leptos::prelude::*;
use server_fn::codec::GetUrl;

use crate::{
    error::AppError,
    model::{AuditEntry, HostMe, InviteInfo, NewInvite, TeamView},
};

/// The team: members (the owner first) and open invites.
#[server(endpoint = "studio/team", input = GetUrl)]
pub async fn studio_team() -> Result<TeamView, AppError> {
    let (st, host) = ssr::owner().await?;
    Ok(shop_backend::identity::team::view(&st, &host).await?)
}

/// A one-time invite link for a role (producer, moderator, analyst), valid for a week.
#[server(endpoint = "studio/team/invite")]
pub async fn studio_invite(role: String, note: String) -> Result<NewInvite, AppError> {
    let (st, host) = ssr::owner().await?;
    Ok(shop_backend::identity::team::invite(&st, &host, &role, &note).await?)
}

#[server(endpoint = "studio/team/revoke")]
pub async fn studio_revoke_invite(id: String) -> Result<(), AppError> {
    let (st, host) = ssr::owner().await?;
    Ok(shop_backend::identity::team::revoke(&st, &host, &id).await?)
}

#[server(endpoint = "studio/team/role")]
pub async fn studio_set_role(account_id: i64, role: String) -> Result<(), AppError> {
    let (st, host) = ssr::owner().await?;
    Ok(shop_backend::identity::team::set_role(&st, &host, account_id, &role).await?)
}

/// Removes a member; their sign-ins end at once.
#[server(endpoint = "studio/team/remove")]
pub async fn studio_remove_member(account_id: i64) -> Result<(), AppError> {
    let (st, host) = ssr::owner().await?;
    Ok(shop_backend::identity::team::remove(&st, &host, account_id).await?)
}

/// The audit log, newest first, a page before the line `before`.
#[server(endpoint = "studio/team/audit", input = GetUrl)]
pub async fn studio_audit_log(before: Option<i64>) -> Result<Vec<AuditEntry>, AppError> {
    let (st, host) = ssr::owner().await?;
    Ok(shop_backend::identity::team::audit_log(&st, &host, before).await?)
}

/// What an invite link offers (404 when it cannot be used).
#[server(endpoint = "team/invite", input = GetUrl)]
pub async fn team_invite_info(token: String) -> Result<InviteInfo, AppError> {
    let st = crate::api::state()?;
    Ok(shop_backend::identity::team::invite_info(&st, &token).await?)
}

/// Accepts an invite with a new studio account and signs it in.
#[server(endpoint = "team/join")]
pub async fn team_join(
    token: String,
    display_name: String,
    email: String,
    password: String,
) -> Result<HostMe, AppError> {
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let host = shop_backend::identity::team::accept(
        &st,
        &browser,
        &token,
        &display_name,
        &email,
        &password,
    )
    .await?;
    crate::api::studio::ssr::host_me(&st, &host).await
}

#[cfg(feature = "ssr")]
mod ssr {
    use crate::error::AppError;
    use shop_backend::{identity::host_auth::Host, AppState};
    use shop_core::domain::team::Permission;

    /// The shop's owner (or a role with `ManageShop`) behind this call.
    pub async fn owner() -> Result<(AppState, Host), AppError> {
        let st = crate::api::state()?;
        let host = shop_backend::identity::host_auth::require(
            &st,
            &crate::api::browser(),
            Permission::ManageShop,
        )
        .await?;
        Ok((st, host))
    }
}
