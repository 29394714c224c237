//! A shopper's delivery addresses, and which one an order ships to.

use crate::model::OrderId;
use leptos::prelude::*;
use server_fn::codec::{GetUrl, Json};

use crate::{domain::address::AddressForm, error::AppError, model::SavedAddress};

/// The calling shopper's addresses, the one used last first.
#[server(endpoint = "addresses", input = GetUrl)]
pub async fn my_addresses() -> Result<Vec<SavedAddress>, AppError> {
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    match shop_backend::identity::current_shopper(&st, &browser).await? {
        Some(s) => Ok(shop_backend::repo::addresses::list(&st.db, s.id).await?),
        None => Ok(Vec::new()),
    }
}

/// Adds an address, or edits one (`id`); checked by `domain::address`.
#[server(endpoint = "addresses/save", input = Json)]
pub async fn save_address(
    #[server(default)] id: Option<i64>,
    form: AddressForm,
) -> Result<SavedAddress, AppError> {
    use crate::domain::address::Address;
    use shop_backend::{identity, ratelimit::Action};
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let shopper = identity::require_shopper(&st, &browser).await?;
    st.limits
        .check(Action::Address, &shopper.id.to_string())
        .await?;
    let address = Address::parse(&form).map_err(|e| AppError::BadRequest(e.to_string()))?;
    let now = shop_backend::now_ms();
    Ok(shop_backend::repo::addresses::save(&st.db, shopper.id, id, &address, now).await?)
}

#[server(endpoint = "addresses/delete")]
pub async fn delete_address(id: i64) -> Result<(), AppError> {
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let shopper = shop_backend::identity::require_shopper(&st, &browser).await?;
    Ok(shop_backend::repo::addresses::delete(&st.db, shopper.id, id).await?)
}

/// Ships one of the shopper's orders to one of their addresses (until it has shipped).
#[server(endpoint = "orders/address")]
pub async fn ship_to(order_id: OrderId, address_id: i64) -> Result<(), AppError> {
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let shopper = shop_backend::identity::require_shopper(&st, &browser).await?;
    let now = shop_backend::now_ms();
    shop_backend::repo::addresses::attach(&st.db, shopper.id, order_id, address_id, now).await?;
    Ok(())
}
