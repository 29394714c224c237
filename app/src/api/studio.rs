//! Host actions. Every function checks that the caller is signed in as the host who owns the
//! session: anonymous callers get 401, shoppers and other hosts 403. (The studio UI arrives
//! with the studio issue; these are its server side.)

use leptos::prelude::*;

use crate::error::AppError;

#[server(endpoint = "host/sign_in")]
pub async fn host_sign_in(email: String, password: String) -> Result<String, AppError> {
    let st = crate::backend::state()?;
    let host = crate::backend::host_auth::sign_in(&st, &email, &password).await?;
    Ok(host.email)
}

#[server(endpoint = "host/sign_out")]
pub async fn host_sign_out() -> Result<(), AppError> {
    let st = crate::backend::state()?;
    crate::backend::host_auth::sign_out(&st).await
}

/// Scheduled to live: reservers' pages switch to the live room and buying opens.
#[server(endpoint = "studio/go_live")]
pub async fn go_live(session_id: i64) -> Result<(), AppError> {
    let st = crate::backend::state()?;
    crate::backend::host_auth::require_session_owner(&st, session_id).await?;
    crate::backend::repo::studio::go_live(&st.db, session_id).await
}

/// The product being explained now; records it as presented, which opens its discount.
#[server(endpoint = "studio/present")]
pub async fn present_product(product_id: i64) -> Result<(), AppError> {
    use crate::backend::{host_auth, repo::studio};
    let st = crate::backend::state()?;
    // Authorise before revealing whether the product exists.
    host_auth::require_host(&st).await?;
    let session_id = studio::product_session(&st.db, product_id).await?;
    host_auth::require_session_owner(&st, session_id).await?;
    studio::present_product(&st.db, session_id, product_id).await
}

/// Live to ended: buying stops, invites expire.
#[server(endpoint = "studio/end")]
pub async fn end_session(session_id: i64) -> Result<(), AppError> {
    let st = crate::backend::state()?;
    crate::backend::host_auth::require_session_owner(&st, session_id).await?;
    crate::backend::repo::studio::end_session(&st.db, session_id).await
}
