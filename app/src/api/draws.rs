//! Lucky draws (issue 30): the producer opens and closes them from the studio, shoppers enter
//! from the live room (or by commenting the keyword: `live::post_chat`), and anyone can read a
//! closed draw's proof. The rules and the closing are `shop_backend::draws`.

use leptos::prelude::*;
use server_fn::codec::{GetUrl, Json};

use crate::{
    error::AppError,
    model::{DrawCard, DrawEntered, DrawForm, DrawProof, SessionId},
};

/// Producer or owner: opens a draw in the live session and shows it in the room.
#[server(endpoint = "draws/open", input = Json)]
pub async fn studio_open_draw(session_id: SessionId, form: DrawForm) -> Result<DrawCard, AppError> {
    use shop_backend::identity::host_auth;
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let host = host_auth::require_session(
        &st,
        &browser,
        session_id,
        shop_core::domain::team::Permission::RunDraws,
    )
    .await?;
    Ok(shop_backend::draws::open(&st, &host, session_id, &form).await?)
}

/// Producer or owner: closes a draw before its countdown ends (draws now).
#[server(endpoint = "draws/close")]
pub async fn studio_close_draw(session_id: SessionId, draw_id: i64) -> Result<DrawCard, AppError> {
    use shop_backend::identity::host_auth;
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let host = host_auth::require_session(
        &st,
        &browser,
        session_id,
        shop_core::domain::team::Permission::RunDraws,
    )
    .await?;
    Ok(shop_backend::draws::close_early(&st, &host, session_id, draw_id).await?)
}

/// Producer or owner: the session's draws with their proofs, newest first.
#[server(endpoint = "draws/list", input = GetUrl)]
pub async fn studio_draws(session_id: SessionId) -> Result<Vec<DrawProof>, AppError> {
    use shop_backend::identity::host_auth;
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    host_auth::require_session(
        &st,
        &browser,
        session_id,
        shop_core::domain::team::Permission::RunDraws,
    )
    .await?;
    Ok(shop_backend::draws::of_session(&st, session_id).await?)
}

/// A shopper enters the session's open draw `draw_id` (the one their room shows).
#[server(endpoint = "draws/enter")]
pub async fn enter_draw(session_id: SessionId, draw_id: i64) -> Result<DrawEntered, AppError> {
    use shop_backend::{draws, identity};
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let shopper = identity::require_shopper(&st, &browser).await?;
    Ok(draws::enter(&st, &shopper, session_id, Some(draw_id), draws::Via::Button).await?)
}

/// Anyone: a draw's proof (commitment; once closed, the seed, the entrants' keys and the
/// winners), to re-run it with `domain::draw::draw`.
#[server(endpoint = "draws/proof", input = GetUrl)]
pub async fn get_draw_proof(id: i64) -> Result<DrawProof, AppError> {
    let st = crate::api::state()?;
    Ok(shop_backend::draws::proof(&st, id).await?)
}
