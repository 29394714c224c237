//! A shopper's delivery addresses, and which one an order ships to.

use leptos::prelude::*;
use server_fn::codec::{GetUrl, Json};

use crate::{domain::address::AddressForm, error::AppError, model::SavedAddress};

/// The calling shopper's addresses, the one used last first.
#[server(endpoint = "addresses", input = GetUrl)]
pub async fn my_addresses() -> Result<Vec<SavedAddress>, AppError> {
    let st = crate::backend::state()?;
    match crate::backend::identity::current_shopper(&st).await? {
        Some(s) => crate::backend::repo::addresses::list(&st.db, s.id).await,
        None => Ok(Vec::new()),
    }
}

/// Adds an address, or edits one (`id`); checked by `domain::address`.
#[server(endpoint = "addresses/save", input = Json)]
pub async fn save_address(
    #[server(default)] id: Option<i64>,
    form: AddressForm,
) -> Result<SavedAddress, AppError> {
    use crate::{
        backend::{identity, ratelimit::Action},
        domain::address::Address,
    };
    let st = crate::backend::state()?;
    let shopper = identity::require_shopper(&st).await?;
    st.limits
        .check(Action::Address, &shopper.id.to_string())
        .await?;
    let address = Address::parse(&form).map_err(|e| AppError::BadRequest(e.to_string()))?;
    let now = crate::backend::now_ms();
    crate::backend::repo::addresses::save(&st.db, shopper.id, id, &address, now).await
}

#[server(endpoint = "addresses/delete")]
pub async fn delete_address(id: i64) -> Result<(), AppError> {
    let st = crate::backend::state()?;
    let shopper = crate::backend::identity::require_shopper(&st).await?;
    crate::backend::repo::addresses::delete(&st.db, shopper.id, id).await
}

/// Ships one of the shopper's orders to one of their addresses (until it has shipped).
#[server(endpoint = "orders/address")]
pub async fn ship_to(order_id: i64, address_id: i64) -> Result<(), AppError> {
    let st = crate::backend::state()?;
    let shopper = crate::backend::identity::require_shopper(&st).await?;
    let now = crate::backend::now_ms();
    crate::backend::repo::addresses::attach(&st.db, shopper.id, order_id, address_id, now).await?;
    Ok(())
}
