//! Buying during the live session, and "My orders".

use crate::model::{ProductId, SessionId};
use leptos::prelude::*;

use crate::{domain::money::Fen, error::AppError, model::OrderView};

/// Buys `quantity` of a product (of one of its variants, `variant_id`, when it has any). The price is computed by the server; `expected_total` is the
/// total the shopper saw (optional for older clients): when the server's total differs the
/// order is refused with 409 and the current total, and nothing is charged. The same
/// `idempotency_key` always yields the same order.
#[server(endpoint = "orders/place")]
pub async fn place_order(
    session_id: SessionId,
    product_id: ProductId,
    quantity: i64,
    idempotency_key: String,
    #[server(default)] expected_total: Option<Fen>,
    #[server(default)] address_id: Option<i64>,
    #[server(default)] variant_id: Option<i64>,
) -> Result<OrderView, AppError> {
    use crate::domain::order::{IdempotencyKey, Quantity};
    use shop_backend::{identity, repo::orders};
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let req = orders::PlaceOrder {
        session_id,
        product_id,
        variant_id,
        quantity: Quantity::parse(quantity)?,
        key: IdempotencyKey::parse(&idempotency_key)?,
        expected_total,
    };
    let shopper = identity::require_shopper(&st, &browser).await?;
    // The order rate limit is checked by `place` (with several nodes, inside the sale gate).
    let user_agent = browser
        .headers()
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let mut payer = shop_backend::buying::payment::Payer::from_user_agent(
        &user_agent,
        browser.ip().to_string(),
    );
    // Inside WeChat, WeChat Pay opens in WeChat itself for a shopper whose openid we have.
    if payer.in_wechat && st.wechat_auth.is_some() {
        payer.wechat_openid =
            shop_backend::repo::shoppers::wechat_openid(&st.db, shopper.id).await?;
    }
    let mut order = shop_backend::buying::orders::place(&st, &shopper, &req, &payer).await?;
    // Where it ships: a copy of the chosen address (the order is placed either way; without
    // one, the shopper adds it in "My orders" before the host can ship).
    if let Some(address_id) = address_id {
        use shop_backend::repo::addresses;
        let now = shop_backend::now_ms();
        match addresses::attach(&st.db, shopper.id, order.id, address_id, now).await {
            Ok(ship_to) => order.ship_to = Some(ship_to),
            Err(e) => {
                tracing::info!(order_id = %order.id, error = %e, "order placed without its address")
            }
        }
    }
    Ok(shop_backend::texts::order(order, browser.locale()))
}

#[server(endpoint = "orders/mine", input = server_fn::codec::GetUrl)]
pub async fn my_orders() -> Result<Vec<OrderView>, AppError> {
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    match shop_backend::identity::current_shopper(&st, &browser).await? {
        Some(s) => {
            let locale = browser.locale();
            let orders = shop_backend::repo::orders::list_orders(&st.db, s.id).await?;
            Ok(orders
                .into_iter()
                .map(|o| shop_backend::texts::order(o, locale))
                .collect())
        }
        None => Ok(Vec::new()),
    }
}

/// Whether the caller may place an order right now: the shopper cookie and the order rate
/// limit, the checks every order passes before the sale, and nothing else. It answers 401 or
/// 429 as `orders/place` would; load tests use it as the server's own floor for the order
/// path (docs/BENCHMARKS.md).
#[server(endpoint = "orders/ready")]
pub async fn orders_ready() -> Result<(), AppError> {
    use shop_backend::{identity, ratelimit::Action};
    let st = crate::api::state()?;
    let browser = crate::api::browser();
    let shopper = identity::require_shopper(&st, &browser).await?;
    Ok(st
        .limits
        .check(Action::Order, &shopper.id.to_string())
        .await?)
}
