//! The live room's actions: chat (rate- and length-limited, sampled when too fast, screened by
//! the host's chat rules), host moderation (delete a message, mute a shopper, the chat rules,
//! the messages held for review) and likes. Events reach viewers through the
//! room's stream (`GET /live/{id}/events`).

use leptos::prelude::*;
use server_fn::codec::{GetUrl, Json};

#[cfg(feature = "ssr")]
use crate::model::ChatLine;
use crate::{
    error::AppError,
    model::{ChatPosted, ChatRulesForm, HeldMessage, SessionId, ShopperId},
};

#[cfg(feature = "ssr")]
mod ssr {
    use crate::error::AppError;

    /// Cleans a chat message (`domain::text::clean_line`: one line, no control or bidi
    /// characters) and checks its length; a message with nothing left is refused.
    pub fn parse_chat_text(raw: &str) -> Result<String, AppError> {
        use crate::domain::text::{clean_line, TextError};
        clean_line(raw, shop_backend::live::MAX_CHAT_CHARS).map_err(|e| match e {
            TextError::Empty => AppError::bad_request("Type a message first."),
            TextError::TooLong { max } => {
                AppError::bad_request(format!("Messages can be at most {max} characters."))
            }
        })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn chat_text_is_trimmed_bounded_and_single_line() {
            assert_eq!(parse_chat_text("  hi  ").expect("ok"), "hi");
            assert_eq!(parse_chat_text("a\nb").expect("ok"), "a b");
            assert!(parse_chat_text("   ").is_err());
            assert!(parse_chat_text(&"好".repeat(201)).is_err());
            assert_eq!(
                parse_chat_text(&"好".repeat(200))
                    .expect("ok")
                    .chars()
                    .count(),
                200
            );
        }
    }
}

/// Posts a chat message to a live session (as its host when the host is signed in).
#[server(endpoint = "live/chat")]
pub async fn post_chat(session_id: SessionId, text: String) -> Result<ChatPosted, AppError> {
    use shop_backend::{identity, identity::host_auth, ratelimit::Action, repo::shopping};
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    // The host speaks as the host; everyone else as a shopper.
    let owner = host_auth::require_session(
        &st,
        &browser,
        session_id,
        shop_core::domain::team::Permission::Moderate,
    )
    .await;
    let host = match owner.map_err(AppError::from) {
        Ok(h) => Some(h),
        // Not signed in as a host, or not this session's host: speaks as a shopper. Any other
        // failure (the database, a missing session) is answered as what it is.
        Err(AppError::Unauthorized | AppError::Forbidden(_)) => None,
        Err(e) => return Err(e),
    };
    let shopper = match &host {
        Some(_) => None,
        None => Some(identity::require_shopper(&st, &browser).await?),
    };
    let (speaker_id, nickname) = match (&host, &shopper) {
        // The host speaks as shopper 0 (no shopper has that id).
        (Some(h), _) => (ShopperId(0), host_auth::display_name(&st, h).await?),
        (None, Some(s)) => (s.id, s.nickname.clone()),
        (None, None) => return Err(AppError::Unauthorized),
    };
    st.limits
        .check(
            Action::Chat,
            &format!("{session_id}:{speaker_id}:{}", host.is_some()),
        )
        .await?;
    let text = ssr::parse_chat_text(&text)?;
    let status =
        shopping::require(&st.db, session_id, crate::domain::session::Activity::Chat).await?;
    // A rehearsal's room is the team's: to shoppers the session has not started.
    if host.is_none() && status == crate::model::SessionStatus::Rehearsal {
        return Err(AppError::Conflict(
            "Chat opens when the session is live.".into(),
        ));
    }
    st.live.ensure_up()?;
    if host.is_none() && st.live.is_muted(&st.db, session_id, speaker_id).await? {
        return Err(AppError::Forbidden(
            "The host has muted you in this chat.".into(),
        ));
    }
    // The host's chat rules (verified phones only, slow mode, blocked terms) for shoppers.
    if let Some(s) = &shopper {
        use shop_backend::live::rules::{admit, Admission};
        if let Admission::Held(_) = admit(&st, session_id, s, &text).await? {
            let message = ChatLine {
                id: 0,
                shopper_id: s.id,
                nickname,
                text,
                at_ms: shop_backend::now_ms(),
                host: false,
            };
            return Ok(ChatPosted {
                message,
                broadcast: false,
                held: true,
                entered: None,
            });
        }
    }
    let (message, broadcast) = st
        .live
        .chat(
            &st.db,
            session_id,
            speaker_id,
            &nickname,
            &text,
            host.is_some(),
        )
        .await?;
    // The open draw's keyword enters its sender (the message is posted either way).
    let entered = match &shopper {
        Some(s) => shop_backend::draws::enter_by_keyword(&st, s, session_id, &text).await,
        None => None,
    };
    Ok(ChatPosted {
        message,
        broadcast,
        held: false,
        entered,
    })
}

/// Host only: the chat rules of the session's host (they apply to all the host's sessions).
#[server(endpoint = "live/rules", input = GetUrl)]
pub async fn studio_chat_rules(session_id: SessionId) -> Result<ChatRulesForm, AppError> {
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let host = shop_backend::identity::host_auth::require_session(
        &st,
        &browser,
        session_id,
        shop_core::domain::team::Permission::Moderate,
    )
    .await?;
    let rules = shop_backend::repo::chat_rules::for_host(&st.db, host.host_id).await?;
    Ok(rules.to_form())
}

/// Host only: replaces the chat rules; every node applies them within a second.
#[server(endpoint = "live/rules/save", input = Json)]
pub async fn studio_save_chat_rules(
    session_id: SessionId,
    rules: ChatRulesForm,
) -> Result<(), AppError> {
    use crate::domain::chat_rules::ChatRules;
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let host = shop_backend::identity::host_auth::require_session(
        &st,
        &browser,
        session_id,
        shop_core::domain::team::Permission::Moderate,
    )
    .await?;
    let parsed = ChatRules::from_form(&rules).map_err(|e| AppError::bad_request(e.to_string()))?;
    let now = shop_backend::now_ms();
    shop_backend::repo::chat_rules::save(&st.db, host.host_id, &parsed, now).await?;
    let what = format!(
        "{} terms, slow mode {} s, verified only {}",
        parsed.blocked.len(),
        parsed.slow_mode_secs,
        parsed.verified_only
    );
    Ok(
        shop_backend::repo::studio::audit(&st.db, Some(session_id), &host, "chat rules", &what)
            .await?,
    )
}

/// Host only: the session's messages held for review, oldest first.
#[server(endpoint = "live/held", input = GetUrl)]
pub async fn studio_held_messages(session_id: SessionId) -> Result<Vec<HeldMessage>, AppError> {
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    shop_backend::identity::host_auth::require_session(
        &st,
        &browser,
        session_id,
        shop_core::domain::team::Permission::Moderate,
    )
    .await?;
    Ok(shop_backend::repo::chat_rules::waiting(&st.db, session_id).await?)
}

/// Host only: lets a held message through to the room (`allow`) or drops it. 404 when it is
/// not waiting any more (another moderator decided it).
#[server(endpoint = "live/held/decide")]
pub async fn studio_decide_held(
    session_id: SessionId,
    id: i64,
    allow: bool,
) -> Result<(), AppError> {
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let host = shop_backend::identity::host_auth::require_session(
        &st,
        &browser,
        session_id,
        shop_core::domain::team::Permission::Moderate,
    )
    .await?;
    let now = shop_backend::now_ms();
    let Some(m) =
        shop_backend::repo::chat_rules::decide(&st.db, session_id, id, allow, now).await?
    else {
        return Err(AppError::not_found("No such held message."));
    };
    if allow {
        st.live.ensure_up()?;
        st.live
            .chat(
                &st.db,
                session_id,
                m.shopper_id,
                &m.nickname,
                &m.text,
                false,
            )
            .await?;
    }
    let what = format!("{} message {id}", if allow { "allowed" } else { "dropped" });
    Ok(shop_backend::repo::studio::audit(&st.db, Some(session_id), &host, "held", &what).await?)
}

/// Host only: removes a message from everyone's chat.
#[server(endpoint = "live/chat/delete")]
pub async fn delete_chat(session_id: SessionId, message_id: u64) -> Result<(), AppError> {
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    shop_backend::identity::host_auth::require_session(
        &st,
        &browser,
        session_id,
        shop_core::domain::team::Permission::Moderate,
    )
    .await?;
    Ok(st.live.delete_chat(&st.db, session_id, message_id).await?)
}

/// Host only: the shopper can no longer post in this session's chat.
#[server(endpoint = "live/mute")]
pub async fn mute_shopper(session_id: SessionId, shopper_id: ShopperId) -> Result<(), AppError> {
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let host = shop_backend::identity::host_auth::require_session(
        &st,
        &browser,
        session_id,
        shop_core::domain::team::Permission::Moderate,
    )
    .await?;
    shop_backend::repo::live::mute(&st.db, session_id, shopper_id, shop_backend::now_ms()).await?;
    st.live.mute(&st.db, session_id, shopper_id).await?;
    Ok(shop_backend::repo::studio::audit(
        &st.db,
        Some(session_id),
        &host,
        "mute",
        &format!("shopper {shopper_id}"),
    )
    .await?)
}

/// Hearts: the client batches taps (at most 50 per call); the room aggregates them and
/// broadcasts the total a few times a second.
#[server(endpoint = "live/like")]
pub async fn send_likes(session_id: SessionId, count: u32) -> Result<u64, AppError> {
    use shop_backend::{identity, ratelimit::Action};
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    if !(1..=50).contains(&count) {
        return Err(AppError::bad_request(
            "Send between 1 and 50 likes at a time.",
        ));
    }
    let shopper = identity::shopper_or_create(&st, &browser).await?;
    st.limits
        .check(Action::Like, &shopper.id.to_string())
        .await?;
    st.live.ensure_up()?;
    Ok(st.live.like(&st.db, session_id, u64::from(count)).await?)
}
