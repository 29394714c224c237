//! The live room's actions: chat (rate- and length-limited, sampled when too fast), host
//! moderation (delete a message, mute a shopper) and likes. Events reach viewers through the
//! room's stream (`GET /live/{id}/events`).

use crate::model::{SessionId, ShopperId};
use leptos::prelude::*;

use crate::{error::AppError, model::ChatPosted};

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
    let owner = host_auth::require_session_owner(&st, &browser, session_id).await;
    let host = match owner.map_err(AppError::from) {
        Ok(h) => Some(h),
        // Not signed in as a host, or not this session's host: speaks as a shopper. Any other
        // failure (the database, a missing session) is answered as what it is.
        Err(AppError::Unauthorized | AppError::Forbidden(_)) => None,
        Err(e) => return Err(e),
    };
    let (speaker_id, nickname) = match &host {
        // The host speaks as shopper 0 (no shopper has that id).
        Some(h) => (ShopperId(0), host_auth::display_name(&st, h).await?),
        None => {
            let s = identity::require_shopper(&st, &browser).await?;
            (s.id, s.nickname)
        }
    };
    st.limits
        .check(
            Action::Chat,
            &format!("{session_id}:{speaker_id}:{}", host.is_some()),
        )
        .await?;
    let text = ssr::parse_chat_text(&text)?;
    shopping::require(&st.db, session_id, crate::domain::session::Activity::Chat).await?;
    st.live.ensure_up()?;
    if host.is_none() && st.live.is_muted(&st.db, session_id, speaker_id).await? {
        return Err(AppError::Forbidden(
            "The host has muted you in this chat.".into(),
        ));
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
    Ok(ChatPosted { message, broadcast })
}

/// Host only: removes a message from everyone's chat.
#[server(endpoint = "live/chat/delete")]
pub async fn delete_chat(session_id: SessionId, message_id: u64) -> Result<(), AppError> {
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    shop_backend::identity::host_auth::require_session_owner(&st, &browser, session_id).await?;
    Ok(st.live.delete_chat(&st.db, session_id, message_id).await?)
}

/// Host only: the shopper can no longer post in this session's chat.
#[server(endpoint = "live/mute")]
pub async fn mute_shopper(session_id: SessionId, shopper_id: ShopperId) -> Result<(), AppError> {
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let host =
        shop_backend::identity::host_auth::require_session_owner(&st, &browser, session_id).await?;
    shop_backend::repo::live::mute(&st.db, session_id, shopper_id, shop_backend::now_ms()).await?;
    st.live.mute(&st.db, session_id, shopper_id).await?;
    Ok(shop_backend::repo::studio::audit(
        &st.db,
        Some(session_id),
        host.host_id,
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
