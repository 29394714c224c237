//! Moderating a live room beyond the chat rules (issue 30): the note pinned above the chat,
//! and shoppers' reports of messages, queued for the session's moderators.

use leptos::prelude::*;
use server_fn::codec::GetUrl;

use crate::{
    error::AppError,
    model::{ReportedMessage, SessionId},
};

/// Longest pinned note, in characters.
pub const MAX_PIN_CHARS: usize = 120;

/// Pins a short note above the chat for everyone (replacing the one pinned), optionally with
/// a coupon of the session that shoppers claim from it; it survives reconnects, node changes
/// and restarts.
#[server(endpoint = "live/pin")]
pub async fn studio_pin(
    session_id: SessionId,
    text: String,
    coupon_id: Option<i64>,
) -> Result<(), AppError> {
    use crate::{
        domain::text::{clean_line, TextError},
        model::{PinnedNote, SessionStatus},
    };
    use shop_backend::repo;
    let (st, host) = ssr::moderator(session_id).await?;
    let text = clean_line(&text, MAX_PIN_CHARS).map_err(|e| match e {
        TextError::Empty => AppError::bad_request("Write the note to pin first."),
        TextError::TooLong { max } => {
            AppError::bad_request(format!("A pinned note can be at most {max} characters."))
        }
    })?;
    if repo::shopping::session_status(&st.db, session_id).await? == SessionStatus::Ended {
        return Err(AppError::Conflict(
            "This session has ended: nothing can be pinned any more.".into(),
        ));
    }
    if let Some(c) = coupon_id {
        if !repo::live::open_coupon_of(&st.db, session_id, c).await? {
            return Err(AppError::not_found(
                "This coupon is not open in this session.",
            ));
        }
    }
    let note = PinnedNote {
        text,
        at_ms: shop_backend::now_ms(),
        coupon_id,
    };
    repo::live::set_pin(&st.db, session_id, Some(&note), host.account_id).await?;
    st.live.ensure_up()?;
    st.live.pin(session_id, Some(note.clone())).await?;
    Ok(repo::studio::audit(&st.db, Some(session_id), &host, "pin", &note.text).await?)
}

#[server(endpoint = "live/unpin")]
pub async fn studio_unpin(session_id: SessionId) -> Result<(), AppError> {
    use shop_backend::repo;
    let (st, host) = ssr::moderator(session_id).await?;
    repo::live::set_pin(&st.db, session_id, None, host.account_id).await?;
    st.live.ensure_up()?;
    st.live.pin(session_id, None).await?;
    Ok(repo::studio::audit(&st.db, Some(session_id), &host, "unpin", "").await?)
}

/// A shopper reports a message still in the chat (spam, abuse, scam, other). Once per shopper
/// and message; a shopper cannot report themselves or the host.
#[server(endpoint = "live/report")]
pub async fn report_chat(
    session_id: SessionId,
    message_id: u64,
    reason: String,
) -> Result<(), AppError> {
    use crate::model::ReportReason;
    use shop_backend::{identity, ratelimit::Action, repo};
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let reason = ReportReason::parse(reason.trim())
        .ok_or_else(|| AppError::bad_request("Choose why you report this message."))?;
    let shopper = identity::require_shopper(&st, &browser).await?;
    st.limits
        .check(Action::Report, &shopper.id.to_string())
        .await?;
    st.live.ensure_up()?;
    let message = st
        .live
        .find_chat(&st.db, session_id, message_id)
        .await?
        .ok_or_else(|| AppError::not_found("This message is no longer in the chat."))?;
    if message.host {
        return Err(AppError::bad_request(
            "The host's messages cannot be reported.",
        ));
    }
    if message.shopper_id == shopper.id {
        return Err(AppError::bad_request("You cannot report your own message."));
    }
    repo::live::report(
        &st.db,
        session_id,
        &message,
        shopper.id,
        reason,
        shop_backend::now_ms(),
    )
    .await?;
    Ok(())
}

/// The session's reported messages waiting for a moderator.
#[server(endpoint = "live/reports", input = GetUrl)]
pub async fn studio_reports(session_id: SessionId) -> Result<Vec<ReportedMessage>, AppError> {
    let (st, _) = ssr::moderator(session_id).await?;
    Ok(shop_backend::repo::live::open_reports(&st.db, session_id).await?)
}

/// Decides a reported message once: removed from everyone's chat (and its author muted when
/// `mute`), or dismissed. 404 when no report of it is open (another moderator decided it).
#[server(endpoint = "live/reports/decide")]
pub async fn studio_decide_report(
    session_id: SessionId,
    message_id: u64,
    remove: bool,
    mute: bool,
) -> Result<(), AppError> {
    use shop_backend::repo;
    let (st, host) = ssr::moderator(session_id).await?;
    let author = repo::live::open_reports(&st.db, session_id)
        .await?
        .into_iter()
        .find(|m| m.message_id == message_id)
        .map(|m| m.author_id)
        .ok_or_else(|| AppError::not_found("No open report of this message."))?;
    let now = shop_backend::now_ms();
    if !repo::live::decide_reports(&st.db, session_id, message_id, remove, now).await? {
        return Err(AppError::not_found("No open report of this message."));
    }
    if remove {
        st.live.ensure_up()?;
        st.live.delete_chat(&st.db, session_id, message_id).await?;
        if mute {
            repo::live::mute(&st.db, session_id, author, now).await?;
            st.live.mute(&st.db, session_id, author).await?;
        }
    }
    let what = match (remove, mute) {
        (false, _) => format!("dismissed reports of message {message_id}"),
        (true, false) => format!("removed reported message {message_id}"),
        (true, true) => format!("removed reported message {message_id}, muted shopper {author}"),
    };
    Ok(repo::studio::audit(&st.db, Some(session_id), &host, "reports", &what).await?)
}

#[cfg(feature = "ssr")]
mod ssr {
    use crate::{error::AppError, model::SessionId};
    use shop_backend::{identity::host_auth::Host, AppState};
    use shop_core::domain::team::Permission;

    /// A team member who may moderate this session's room.
    pub async fn moderator(session_id: SessionId) -> Result<(AppState, Host), AppError> {
        let st = crate::api::state()?;
        let host = shop_backend::identity::host_auth::require_session(
            &st,
            &crate::api::browser(),
            session_id,
            Permission::Moderate,
        )
        .await?;
        Ok((st, host))
    }
}
