//! A reminder's link (`/r/{token}`, issue 31): counts the open and opens the session page,
//! which offers to stop reminders with one tap (`reminders/stop` with the same token).

use axum::{
    extract::{Path, State},
    response::{IntoResponse, Redirect, Response},
};

use crate::{security::error_response, ServerState};

/// `GET /r/{token}`
pub async fn open(State(state): State<ServerState>, Path(token): Path<String>) -> Response {
    match shop_backend::reminders::open(&state.app, &token).await {
        Ok(session_id) => {
            Redirect::to(&format!("/s/{session_id}?reminder={token}")).into_response()
        }
        Err(e) => error_response(e),
    }
}
