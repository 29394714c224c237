//! Restreaming from the studio: the signed-in host's destinations (an RTMP(S) URL and a stream
//! key each; `domain::restream`). Anonymous callers get 401, shoppers 403, and a destination
//! of another host is answered like one that does not exist (404). Every function answers
//! the host's list as it is now, with each destination's state; stream keys only masked.

use leptos::prelude::*;
use server_fn::codec::GetUrl;

use crate::{error::AppError, model::RestreamDestination};

#[cfg(feature = "ssr")]
mod ssr {
    use crate::{error::AppError, model::RestreamDestination};
    use shop_backend::{identity::host_auth::Host, repo::restream, AppState};

    /// The host's list, failure reasons in the caller's language where they are ours.
    pub async fn list(
        st: &AppState,
        host: &Host,
        locale: crate::i18n::Locale,
    ) -> Result<Vec<RestreamDestination>, AppError> {
        let mut list = restream::list(&st.db, host.host_id, shop_backend::now_ms()).await?;
        for d in &mut list {
            if let Some(reason) = d.reason.take() {
                d.reason = Some(crate::i18n::translate_message(locale, &reason).unwrap_or(reason));
            }
        }
        Ok(list)
    }
}

/// The signed-in host's destinations.
#[server(endpoint = "studio/restream/list", input = GetUrl)]
pub async fn studio_restreams() -> Result<Vec<RestreamDestination>, AppError> {
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let host = shop_backend::identity::host_auth::require(
        &st,
        &browser,
        shop_core::domain::team::Permission::EditShow,
    )
    .await?;
    ssr::list(&st, &host, browser.locale()).await
}

/// Adds a destination (enabled): a broadcast that is on starts pushing to it within seconds.
#[server(endpoint = "studio/restream/add")]
pub async fn studio_add_restream(
    name: String,
    url: String,
    key: String,
) -> Result<Vec<RestreamDestination>, AppError> {
    use crate::domain::restream::{
        is_public_ip, parse_name, IngestUrl, StreamKey, PRIVATE_ADDRESS,
    };
    use shop_backend::{media::restream::seal_key, repo::restream};
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let host = shop_backend::identity::host_auth::require(
        &st,
        &browser,
        shop_core::domain::team::Permission::EditShow,
    )
    .await?;
    let name = parse_name(&name).map_err(AppError::BadRequest)?;
    let url = IngestUrl::parse(&url).map_err(AppError::BadRequest)?;
    let key = StreamKey::parse(&key).map_err(AppError::BadRequest)?;
    // An address in the URL is checked now; a name is resolved and checked before each push.
    if !st.settings.restream_allow_private && url.literal_ip().is_some_and(|ip| !is_public_ip(ip)) {
        return Err(AppError::BadRequest(PRIVATE_ADDRESS.into()));
    }
    let sealed = seal_key(&st.cookie_key, host.host_id, &key)?;
    restream::add(
        &st.db,
        host.host_id,
        &restream::NewDestination {
            name: &name,
            url: &url.to_string(),
            key_sealed: &sealed,
            key_hint: &key.hint(),
        },
        shop_backend::now_ms(),
    )
    .await?;
    ssr::list(&st, &host, browser.locale()).await
}

/// Turns a destination on or off; a broadcast that is on follows within seconds.
#[server(endpoint = "studio/restream/enable")]
pub async fn studio_enable_restream(
    id: i64,
    enabled: bool,
) -> Result<Vec<RestreamDestination>, AppError> {
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let host = shop_backend::identity::host_auth::require(
        &st,
        &browser,
        shop_core::domain::team::Permission::EditShow,
    )
    .await?;
    shop_backend::repo::restream::set_enabled(&st.db, host.host_id, id, enabled).await?;
    ssr::list(&st, &host, browser.locale()).await
}

/// Deletes a destination (a push to it stops within seconds).
#[server(endpoint = "studio/restream/delete")]
pub async fn studio_delete_restream(id: i64) -> Result<Vec<RestreamDestination>, AppError> {
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let host = shop_backend::identity::host_auth::require(
        &st,
        &browser,
        shop_core::domain::team::Permission::EditShow,
    )
    .await?;
    shop_backend::repo::restream::delete(&st.db, host.host_id, id).await?;
    ssr::list(&st, &host, browser.locale()).await
}
