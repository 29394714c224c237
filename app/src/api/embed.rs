//! Embedding live rooms in other sites: the host's list of allowed sites (studio) and, for the
//! embedded room itself, the list that its session's host keeps.

use crate::model::SessionId;
use leptos::prelude::*;
use server_fn::codec::GetUrl;

use crate::error::AppError;

/// The sites allowed to embed this session's room. Public: the room checks the page around it
/// against the list (and so does the `frame-ancestors` of `/embed/{session}`).
#[server(endpoint = "embed/origins", input = GetUrl)]
pub async fn embed_origins(session_id: SessionId) -> Result<Vec<String>, AppError> {
    let st = crate::api::state()?;
    shop_backend::repo::embed::session_origins(&st.db, session_id)
        .await?
        .map(|list| list.into_iter().map(|o| o.to_string()).collect())
        .ok_or_else(|| AppError::not_found("This live session does not exist."))
}

/// The signed-in host's allowed sites.
#[server(endpoint = "studio/embed/origins", input = GetUrl)]
pub async fn studio_embed_origins() -> Result<Vec<String>, AppError> {
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let host = shop_backend::identity::host_auth::require(
        &st,
        &browser,
        shop_core::domain::team::Permission::ManageShop,
    )
    .await?;
    Ok(shop_backend::repo::embed::host_origins(&st.db, host.host_id).await?)
}

/// Adds a site (`https://shop.example.com`) to the host's list; answers the new list.
#[server(endpoint = "studio/embed/add")]
pub async fn studio_add_embed_origin(origin: String) -> Result<Vec<String>, AppError> {
    use crate::domain::embed::EmbedOrigin;
    use shop_backend::repo::embed;
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let host = shop_backend::identity::host_auth::require(
        &st,
        &browser,
        shop_core::domain::team::Permission::ManageShop,
    )
    .await?;
    let origin = EmbedOrigin::parse(&origin).map_err(AppError::BadRequest)?;
    embed::add_origin(&st.db, host.host_id, &origin, shop_backend::now_ms()).await?;
    Ok(embed::host_origins(&st.db, host.host_id).await?)
}

/// Removes a site from the host's list; answers the new list.
#[server(endpoint = "studio/embed/remove")]
pub async fn studio_remove_embed_origin(origin: String) -> Result<Vec<String>, AppError> {
    use crate::domain::embed::EmbedOrigin;
    use shop_backend::repo::embed;
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let host = shop_backend::identity::host_auth::require(
        &st,
        &browser,
        shop_core::domain::team::Permission::ManageShop,
    )
    .await?;
    let origin = EmbedOrigin::parse(&origin).map_err(AppError::BadRequest)?;
    embed::remove_origin(&st.db, host.host_id, &origin).await?;
    Ok(embed::host_origins(&st.db, host.host_id).await?)
}
