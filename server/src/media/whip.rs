//! WHIP (WebRTC-HTTP Ingestion Protocol, RFC 9725) for the host's broadcaster, and the auth
//! webhook an external media server calls.

use axum::{
    body::Bytes,
    extract::{Path, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::Deserialize;
use shop_core::ids::SessionId;

use shop_backend::{media::verify_publish_token, repo::shopping};
use shop_core::model::SessionStatus;

use super::{ingest, signal};
use crate::ServerState;

use super::signal::refuse;

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// `POST /whip/{session}`: the body is an SDP offer; the answer comes back with 201 Created
/// and the broadcast's resource URL in `Location` (DELETE it to stop).
pub async fn publish(
    State(state): State<ServerState>,
    Path(session): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(session_id) = session.parse::<SessionId>() else {
        return refuse(StatusCode::NOT_FOUND, "No such session.");
    };
    // Authorisation first: a wrong token learns nothing about the session.
    let authorised = bearer(&headers)
        .is_some_and(|t| verify_publish_token(&state.app.cookie_key, session_id, t));
    if !authorised {
        let mut r = refuse(
            StatusCode::UNAUTHORIZED,
            "A valid publish token for this session is required.",
        );
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return r;
    }
    match shopping::session_status(&state.app.db, session_id).await {
        Ok(SessionStatus::Ended) => return refuse(StatusCode::CONFLICT, "The session has ended."),
        Ok(_) => {}
        Err(e) if e.is_not_found() => return refuse(StatusCode::NOT_FOUND, "No such session."),
        Err(_) => {
            return refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong on our side.",
            )
        }
    }
    let (sdp, offer) = match signal::read_offer(&headers, &body) {
        Ok(o) => o,
        Err(refused) => return refused,
    };
    let audio = ingest::offer_has_audio(sdp);
    let (socket, candidate) = match signal::peer_socket(state.media.settings.ip).await {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    // H.264 preferred (copied into HLS as is), VP8 accepted (transcoded); Opus audio.
    let mut rtc = signal::lite_peer(candidate);
    let answer = match rtc.sdp_api().accept_offer(offer) {
        Ok(a) => a,
        Err(e) => {
            tracing::info!(error = %e, "refused a WHIP offer");
            return refuse(
                StatusCode::BAD_REQUEST,
                "The offer has no video we can receive (H.264 or VP8).",
            );
        }
    };
    let resource = match shop_backend::crypto::random_token::<12>() {
        Ok(r) => r,
        Err(_) => {
            return refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong on our side.",
            )
        }
    };
    let stop = state.media.broadcasts.begin(session_id, resource.clone());
    tokio::spawn(ingest::run(
        state.clone(),
        ingest::IngestArgs {
            session_id,
            resource: resource.clone(),
            rtc,
            socket,
            stop,
            audio,
        },
    ));
    tracing::info!(%session_id, audio, "broadcast accepted");
    signal::created(
        answer.to_sdp_string(),
        &format!("/whip/{session_id}/{resource}"),
    )
}

/// `DELETE /whip/{session}/{resource}`: the host stops broadcasting.
pub async fn unpublish(
    State(state): State<ServerState>,
    Path((session, resource)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let Ok(session_id) = session.parse::<SessionId>() else {
        return refuse(StatusCode::NOT_FOUND, "No such broadcast.");
    };
    let authorised = bearer(&headers)
        .is_some_and(|t| verify_publish_token(&state.app.cookie_key, session_id, t));
    if !authorised {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "A valid publish token for this session is required.",
        );
    }
    if state.media.broadcasts.stop(session_id, &resource) {
        StatusCode::OK.into_response()
    } else {
        refuse(StatusCode::NOT_FOUND, "No such broadcast.")
    }
}

/// What mediamtx (`authMethod: http`) and similar servers post to their auth hook.
#[derive(Deserialize)]
pub struct AuthRequest {
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub token: String,
    pub action: String,
    pub path: String,
}

/// `POST /media/auth`: an external media server asks whether a client may publish or read a
/// path `live/{session}`. Publishing needs the session's publish token (as password or
/// token); reading is open (the session page is public).
pub async fn external_auth(
    State(state): State<ServerState>,
    Json(req): Json<AuthRequest>,
) -> StatusCode {
    let Some(session_id) = req
        .path
        .trim_matches('/')
        .strip_prefix("live/")
        .and_then(|s| s.parse::<SessionId>().ok())
    else {
        return StatusCode::UNAUTHORIZED;
    };
    match req.action.as_str() {
        "read" | "playback" => StatusCode::OK,
        "publish" => {
            let token = if req.token.is_empty() {
                &req.password
            } else {
                &req.token
            };
            let ok = verify_publish_token(&state.app.cookie_key, session_id, token)
                && !matches!(
                    shopping::session_status(&state.app.db, session_id).await,
                    Ok(SessionStatus::Ended) | Err(_)
                );
            if ok {
                StatusCode::OK
            } else {
                StatusCode::UNAUTHORIZED
            }
        }
        _ => StatusCode::UNAUTHORIZED,
    }
}
