//! The host's chat rules applied to a shopper's message: chat only for verified phones, slow
//! mode, blocked terms that refuse or hold (`domain::chat_rules`).
//!
//! Rules are read per session with a cache of [`RULES_TTL`]: a change the host makes reaches
//! every node within that, without a message between nodes, and a busy chat reads them from
//! the database about once a second per session and node, not once per message.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use shop_core::ids::SessionId;

use crate::{
    domain::chat_rules::{ChatRules, Screened},
    error::{AppError, Result},
    identity::Shopper,
    repo, AppState,
};

/// How long a node keeps a session's rules before reading them again.
pub const RULES_TTL: Duration = Duration::from_secs(1);

/// This node's copy of each session's rules, at most [`RULES_TTL`] old.
#[derive(Default)]
pub struct RulesCache {
    map: Mutex<HashMap<SessionId, (Instant, Arc<ChatRules>)>>,
}

impl RulesCache {
    pub async fn get(&self, db: &crate::Db, session_id: SessionId) -> Result<Arc<ChatRules>> {
        let now = Instant::now();
        if let Some((at, rules)) = self.lock().get(&session_id) {
            if now.duration_since(*at) < RULES_TTL {
                return Ok(rules.clone());
            }
        }
        let rules = Arc::new(repo::chat_rules::for_session(db, session_id).await?);
        let mut map = self.lock();
        if map.len() > 10_000 {
            map.retain(|_, (at, _)| now.duration_since(*at) < RULES_TTL);
        }
        map.insert(session_id, (now, rules.clone()));
        Ok(rules)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, (Instant, Arc<ChatRules>)>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What the rules make of a shopper's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// It goes to the room.
    Post,
    /// Kept back for a moderator (its id in the queue).
    Held(i64),
}

/// Applies the session's rules to `text` from `shopper` (the host's own messages are not
/// screened). Refusals are errors the shopper can read: 403 without a verified phone where
/// one is needed, 429 in slow mode, 400 for a refused term.
pub async fn admit(
    st: &AppState,
    session_id: SessionId,
    shopper: &Shopper,
    text: &str,
) -> Result<Admission> {
    let rules = st.live.rules.get(&st.db, session_id).await?;
    if rules.verified_only
        && repo::phones::verified_phone(&st.db, shopper.id)
            .await?
            .is_none()
    {
        return Err(AppError::Forbidden(
            "Only shoppers with a verified phone number can chat here. Verify your number first."
                .into(),
        )
        .into());
    }
    let screened = rules.screen(text);
    if let Screened::Refused { .. } = screened {
        return Err(AppError::bad_request(
            "This message contains a word the host does not allow in this chat.",
        )
        .into());
    }
    if rules.slow_mode_secs > 0 {
        let every = Duration::from_secs(u64::from(rules.slow_mode_secs));
        let subject = format!("{session_id}:{}", shopper.id);
        if let Some(wait) = st.limits.once_per(&subject, every).await? {
            return Err(AppError::SlowMode {
                every_secs: rules.slow_mode_secs,
                wait_secs: u32::try_from(wait.as_secs().max(1)).unwrap_or(u32::MAX),
            }
            .into());
        }
    }
    match screened {
        Screened::Held { term } => {
            let id = repo::chat_rules::hold(
                &st.db,
                session_id,
                shopper.id,
                &shopper.nickname,
                text,
                &term,
                crate::now_ms(),
            )
            .await?;
            Ok(Admission::Held(id))
        }
        _ => Ok(Admission::Post),
    }
}
