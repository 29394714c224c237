//! Browsing: the list of sessions and a session's page.

use leptos::prelude::*;
use server_fn::codec::GetUrl;

use crate::{
    error::AppError,
    model::{SessionDetail, SessionId, SessionSummary},
};

/// Live and upcoming sessions for the home page.
#[server(endpoint = "sessions/list", input = GetUrl)]
pub async fn list_sessions() -> Result<Vec<SessionSummary>, AppError> {
    let st = crate::api::state()?;
    Ok(shop_backend::repo::catalog::list_current_sessions(&st.db).await?)
}

/// One session with its products; `NotFound` for an unknown id.
#[server(endpoint = "sessions/get", input = GetUrl)]
pub async fn get_session(id: SessionId) -> Result<SessionDetail, AppError> {
    let st = crate::api::state()?;
    Ok(shop_backend::repo::catalog::session_detail(&st.db, id).await?)
}
