//! Reading orders back: a shopper's orders with their lines, shipping and payment facts.

use super::*;
use crate::error::{OptionExt, Result};
use shop_core::ids::{OrderId, ShopperId};

/// The order just written, as the shopper sees it, without reading it back.
pub fn order_view(
    order_id: OrderId,
    o: &NewOrder,
    session_title: &str,
    product_name: &str,
    image_url: &str,
) -> OrderView {
    let q = &o.quote;
    OrderView {
        id: order_id,
        session_id: o.session_id,
        session_title: session_title.to_string(),
        status: OrderStatus::PendingPayment,
        created_at_ms: o.created_at_ms,
        payment_provider: o.provider.to_string(),
        lines: vec![OrderLineView {
            product_id: o.product_id,
            product_name: product_name.to_string(),
            variant: o.variant.as_ref().map(|v| v.1.clone()).unwrap_or_default(),
            image_url: image_url.to_string(),
            quantity: i64::from(q.quantity),
            unit_price: q.unit_price,
            discounted_units: i64::from(q.discounted_units),
            full_amount: q.full_amount,
            discount: q.discount,
            paid: q.paid,
            rule: rule_text(o.rule, i64::from(o.percent_off)),
        }],
        full_amount: q.full_amount,
        discount: q.discount,
        paid: o.total(),
        coupon: o.coupon.map(|c| c.1),
        pay: None,
        shipping: None,
        ship_to: None,
    }
}

pub(super) const ORDER_SELECT: &str = concat!(
    "SELECT o.id, o.session_id, s.title, ",
    status_seen!(),
    " AS status,
        o.created_at_ms, o.payment_provider,
        o.full_amount_fen, o.discount_fen, o.paid_amount_fen, o.coupon_fen,
        l.product_id, COALESCE(l.prize, p.name) AS name, l.variant_name, p.image_url, l.quantity, l.unit_price_fen, l.discounted_units,
        l.full_amount_fen AS l_full, l.discount_fen AS l_discount, l.paid_amount_fen AS l_paid, l.rule, l.percent_off,
        sh.carrier, sh.tracking_no, sh.shipped_at_ms,
        oa.recipient, oa.phone AS oa_phone, oa.province, oa.city, oa.district, oa.street
   FROM orders o
   JOIN live_sessions s ON s.id = o.session_id
   JOIN order_lines l ON l.order_id = o.id
   JOIN products p ON p.id = l.product_id
   LEFT JOIN shipments sh ON sh.order_id = o.id
   LEFT JOIN order_addresses oa ON oa.order_id = o.id"
);

/// An order's address on one line: "recipient · phone · province city district street" (the
/// phone masked for the shopper's own view), from a row's `LEFT JOIN order_addresses`.
pub fn ship_to(
    recipient: Option<String>,
    phone: Option<String>,
    parts: [Option<String>; 4],
    mask: bool,
) -> Option<String> {
    let phone = phone?;
    let phone = if mask {
        crate::domain::phone::mask(&phone)
    } else {
        phone
    };
    let place: Option<Vec<String>> = parts.into_iter().collect();
    Some(format!("{} · {} · {}", recipient?, phone, place?.concat()))
}

/// The parcel of a row's `LEFT JOIN shipments` (all three columns or none).
pub fn shipping_of(
    carrier: Option<String>,
    tracking_no: Option<String>,
    shipped_at_ms: Option<i64>,
) -> Option<crate::model::Shipping> {
    Some(crate::model::Shipping {
        carrier: carrier?,
        tracking_no: tracking_no?,
        shipped_at_ms: shipped_at_ms?,
    })
}

pub(super) fn rows_to_orders(rows: Vec<sqlx::any::AnyRow>) -> Result<Vec<OrderView>> {
    let mut out: Vec<OrderView> = Vec::new();
    for r in rows {
        let id: OrderId = r.try_get("id")?;
        let line = OrderLineView {
            product_id: r.try_get("product_id")?,
            product_name: r.try_get("name")?,
            variant: r.try_get("variant_name")?,
            image_url: r.try_get("image_url")?,
            quantity: r.try_get("quantity")?,
            unit_price: Fen(r.try_get("unit_price_fen")?),
            discounted_units: r.try_get("discounted_units")?,
            full_amount: Fen(r.try_get("l_full")?),
            discount: Fen(r.try_get("l_discount")?),
            paid: Fen(r.try_get("l_paid")?),
            rule: rule_text(&r.try_get::<String, _>("rule")?, r.try_get("percent_off")?),
        };
        if let Some(last) = out.last_mut().filter(|o| o.id == id) {
            last.lines.push(line);
            continue;
        }
        let status: String = r.try_get("status")?;
        out.push(OrderView {
            id,
            session_id: r.try_get("session_id")?,
            session_title: r.try_get("title")?,
            status: OrderStatus::parse(&status)
                .or_fault("an unknown order status in the database")?,
            created_at_ms: r.try_get("created_at_ms")?,
            payment_provider: r.try_get("payment_provider")?,
            lines: vec![line],
            full_amount: Fen(r.try_get("full_amount_fen")?),
            discount: Fen(r.try_get("discount_fen")?),
            paid: Fen(r.try_get("paid_amount_fen")?),
            coupon: Some(Fen(r.try_get("coupon_fen")?)).filter(|f| f.0 > 0),
            pay: None,
            shipping: shipping_of(
                r.try_get("carrier")?,
                r.try_get("tracking_no")?,
                r.try_get("shipped_at_ms")?,
            ),
            ship_to: ship_to(
                r.try_get("recipient")?,
                r.try_get("oa_phone")?,
                [
                    r.try_get("province")?,
                    r.try_get("city")?,
                    r.try_get("district")?,
                    r.try_get("street")?,
                ],
                true,
            ),
        });
    }
    Ok(out)
}

/// One of the shopper's orders (another shopper's order is "not found").
pub async fn load_order(db: &Db, shopper_id: ShopperId, order_id: OrderId) -> Result<OrderView> {
    let rows = sqlx::query(&format!(
        "{ORDER_SELECT} WHERE o.id = $1 AND o.shopper_id = $2 ORDER BY l.id"
    ))
    .bind(order_id)
    .bind(shopper_id)
    .fetch_all(db.pool())
    .await?;
    Ok(rows_to_orders(rows)?
        .pop()
        .ok_or_else(|| AppError::not_found("This order does not exist."))?)
}

/// The shopper's orders, newest first.
pub async fn list_orders(db: &Db, shopper_id: ShopperId) -> Result<Vec<OrderView>> {
    let rows = sqlx::query(&format!(
        "{ORDER_SELECT} WHERE o.shopper_id = $1 ORDER BY o.id DESC, l.id LIMIT 500"
    ))
    .bind(shopper_id)
    .fetch_all(db.pool())
    .await?;
    rows_to_orders(rows)
}

/// An order's status, if the order exists.
/// An order's status and the amount it charges (for a provider's payment notification).
pub async fn payment_facts(db: &Db, order_id: OrderId) -> Result<Option<(OrderStatus, Fen)>> {
    let row: Option<(String, i64)> =
        sqlx::query_as("SELECT status, paid_amount_fen FROM orders WHERE id = $1")
            .bind(order_id)
            .fetch_optional(db.pool())
            .await?;
    Ok(row.and_then(|(s, paid)| Some((OrderStatus::parse(&s)?, Fen(paid)))))
}

pub async fn order_status(db: &Db, order_id: OrderId) -> Result<Option<OrderStatus>> {
    let s: Option<String> = sqlx::query_scalar("SELECT status FROM orders WHERE id = $1")
        .bind(order_id)
        .fetch_optional(db.pool())
        .await?;
    Ok(s.and_then(|s| OrderStatus::parse(&s)))
}
