//! `GET /embed/{session}`: the live room for an iframe on another site. The app shell, with a
//! Content-Security-Policy whose `frame-ancestors` is this site plus the sites the session's
//! host allows (kept in the studio), so no other site can frame it. The room itself
//! (`pages::embed`) checks the page around it against the same list before it posts a
//! message, and ignores messages from anywhere else.

use axum::{
    extract::{Path, State},
    http::{header, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
};
use shop_core::ids::SessionId;

use shop_backend::repo::embed;
use shop_core::domain::embed::{frame_ancestors, EmbedOrigin};

use crate::{assets::Bundle, security, share, ServerState};

pub async fn room(
    State(state): State<ServerState>,
    method: Method,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
) -> Response {
    let locale = shop_backend::request::locale_of(&headers);
    let head_only = method == Method::HEAD;
    // An id that is not a number, or no such session: the app explains, with 404, and only
    // this site may frame that page.
    let origins: Option<Vec<EmbedOrigin>> = match id.parse::<SessionId>() {
        Ok(id) => match embed::session_origins(&state.app.db, id).await {
            Ok(found) => found,
            Err(e) => return security::error_response(e),
        },
        Err(_) => None,
    };
    let status = if origins.is_some() {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    let ancestors = frame_ancestors(origins.as_deref().unwrap_or_default());
    let mut res = share::shell(&state, Bundle::Live, None, status, head_only, locale);
    let csp = security::with_frame_ancestors(&state.csp, &ancestors);
    match HeaderValue::from_str(&csp) {
        Ok(v) => {
            res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
        }
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
    res
}

/// The demo of embedding (`public/embed-demo.html`): a shop page that frames a room, which
/// may be on another site (`?room=`), so it alone may frame any http(s) page.
pub const DEMO_PAGE: &str = "/public/embed-demo.html";

pub fn allow_framing_rooms(state: &ServerState, res: &mut Response) {
    let csp = format!("{}; frame-src 'self' http: https:", state.csp);
    if let Ok(v) = HeaderValue::from_str(&csp) {
        res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
}
