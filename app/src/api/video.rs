//! Live video: the host's publishing credentials and what a viewer can play.

use crate::model::SessionId;
use leptos::prelude::*;
use server_fn::codec::GetUrl;

use crate::{
    error::AppError,
    model::{BroadcastInfo, VideoInfo},
};

/// Owner only: where and with which token the studio's broadcaster publishes (WHIP).
#[server(endpoint = "studio/broadcast")]
pub async fn get_broadcast_info(session_id: SessionId) -> Result<BroadcastInfo, AppError> {
    use shop_backend::{identity::host_auth, media};
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    host_auth::require_session(
        &st,
        &browser,
        session_id,
        shop_core::domain::team::Permission::EditShow,
    )
    .await?;
    Ok(BroadcastInfo {
        whip_url: st
            .settings
            .media
            .whip_url(&st.settings.public_url, session_id),
        token: media::publish_token(&st.cookie_key, session_id),
        hls_url: st.settings.media.live_hls_url(session_id),
    })
}

/// The session's video: while a broadcast is on, its live playlist; after, the recording;
/// whether it is on now, and replay markers for the products presented. A broadcast counts
/// from when its first playlist is out (the ingest records it then), on whichever node
/// ingests it: every node serves it.
#[server(endpoint = "sessions/video", input = GetUrl)]
pub async fn get_video(session_id: SessionId) -> Result<VideoInfo, AppError> {
    use shop_backend::repo::{shopping, video};
    let st = crate::api::state()?;
    shopping::session_status(&st.db, session_id).await?;
    let (start, live) = video::broadcast_state(&st.db, session_id).await?;
    let markers = match start {
        Some(s) => video::markers(&st.db, session_id, s).await?,
        None => Vec::new(),
    };
    let media = &st.settings.media;
    Ok(VideoInfo {
        hls_url: start.map(|_| {
            if live {
                media.live_hls_url(session_id)
            } else {
                media.hls_url(session_id)
            }
        }),
        whep_url: live.then(|| media.whep_url(session_id)).flatten(),
        live,
        markers,
    })
}
