//! Invites: minting a personal link (reservers only), opening it, joining through it.

use crate::model::SessionId;
use leptos::prelude::*;

use crate::{
    error::AppError,
    model::{InviteLink, InviteView, JoinOutcome},
};

/// The caller's invite link for the session (created once). Refused unless they reserved.
#[server(endpoint = "invites/create")]
pub async fn create_invite(session_id: SessionId) -> Result<InviteLink, AppError> {
    use shop_backend::{identity, ratelimit::Action, repo::shopping};
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let shopper = identity::require_shopper(&st, &browser).await?;
    st.limits
        .check(Action::Invite, &shopper.id.to_string())
        .await?;
    let invite = shopping::create_or_get_invite(&st.db, session_id, shopper.id).await?;
    shop_backend::buying::sale::forget_shoppers(&st, &[shopper.id]);
    Ok(super::shopper::ssr::invite_link(
        &st.settings.public_url,
        &invite.code,
    ))
}

/// What a friend sees on `/i/{code}`.
#[server(endpoint = "invites/get", input = server_fn::codec::GetUrl)]
pub async fn get_invite(code: String) -> Result<InviteView, AppError> {
    use shop_backend::{
        identity,
        repo::{catalog, shopping},
    };
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let invite = shopping::invite_by_code(&st.db, &code).await?;
    let session = catalog::session_summary(&st.db, invite.session_id).await?;
    let me = identity::shopper_or_create(&st, &browser).await?;
    let joined = shopping::shopper_facts(&st.db, invite.session_id, me.id)
        .await?
        .joined_via
        .is_some_and(|(id, _)| id == invite.id);
    let policy = shopping::policy(&st.db, invite.session_id).await?;
    Ok(InviteView {
        code: invite.code,
        inviter_nickname: invite.inviter_nickname,
        session,
        percent_off: i64::from(policy.percent_off),
        is_own: invite.inviter_id == me.id,
        joined,
    })
}

/// Joins (reserves) the session through the invite; credited to the first inviter only.
#[server(endpoint = "invites/join")]
pub async fn join_invite(code: String) -> Result<JoinOutcome, AppError> {
    use shop_backend::{identity, ratelimit::Action, repo::shopping};
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let shopper = identity::shopper_or_create(&st, &browser).await?;
    st.limits
        .check(Action::Reserve, &shopper.id.to_string())
        .await?;
    let invite = shopping::invite_by_code(&st.db, &code).await?;
    let was_participant = shopping::has_reserved(&st.db, invite.session_id, shopper.id).await?;
    let attributed = shopping::join_via_invite(&st.db, &invite, shopper.id).await?;
    shop_backend::buying::sale::forget_shoppers(&st, &[shopper.id, invite.inviter_id]);
    if attributed == Some(invite.id) {
        // The inviter's friend count (and maybe their discount) just changed.
        shop_backend::live::told(
            st.live
                .shopper_changed(invite.session_id, invite.inviter_id)
                .await,
        );
    }
    let facts = shopping::shopper_facts(&st.db, invite.session_id, shopper.id).await?;
    let attributed_to = facts.joined_via.map(|(_, name)| name);
    use crate::i18n::{text, text_f, K};
    let locale = browser.locale();
    let message = match (attributed, &attributed_to) {
        (Some(id), Some(_)) if id == invite.id => text_f(
            locale,
            K::server_join_through,
            &[("name", &invite.inviter_nickname)],
        ),
        (_, Some(first)) => text_f(locale, K::server_join_already_through, &[("name", first)]),
        // Only shoppers new to the session count as a friend who joined.
        _ if was_participant => text(locale, K::server_join_already_reserved).to_string(),
        _ => text(locale, K::server_join_in).to_string(),
    };
    Ok(JoinOutcome {
        session_id: invite.session_id,
        attributed_to,
        message,
    })
}
