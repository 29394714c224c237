//! Verified mobile numbers: a one-time code by SMS, then the number is the shopper's (and
//! signs them back in on another device). The rules live in `backend::phone`.

use leptos::prelude::*;

use crate::{
    error::AppError,
    model::{CodeSent, PhoneVerified},
};

/// Sends a 6-digit code to `phone` (mainland numbers without +86; others with their country
/// code). `locale` picks the SMS language (`zh-CN`, `en`, `it`).
#[server(endpoint = "phone/send_code")]
pub async fn send_phone_code(phone: String, locale: String) -> Result<CodeSent, AppError> {
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    // Codes are for shoppers: make sure this browser is one (and rate-limited as one).
    shop_backend::identity::shopper_or_create(&st, &browser).await?;
    Ok(shop_backend::phone::send_code(&st, &browser, &phone, &locale).await?)
}

/// Checks the code. The number becomes this shopper's, or (when another shopper verified it
/// before) this browser is signed in as that shopper.
#[server(endpoint = "phone/verify")]
pub async fn verify_phone(phone: String, code: String) -> Result<PhoneVerified, AppError> {
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let shopper = shop_backend::identity::shopper_or_create(&st, &browser).await?;
    Ok(shop_backend::phone::verify_code(&st, &browser, &shopper, &phone, &code).await?)
}
