//! After the sale: refunds and shipping, and the studio's list of a session's orders.

use super::*;
use crate::error::{OptionExt, Result};
use shop_core::ids::{OrderId, SessionId};

/// What a refund needs to know about an order.
#[derive(Debug, Clone)]
pub struct RefundFacts {
    pub order_id: OrderId,
    pub session_id: SessionId,
    pub status: OrderStatus,
    pub paid: Fen,
    /// The refund already asked for, if any: (out_refund_no, status).
    pub refund: Option<(String, String)>,
}

pub async fn refund_facts(db: &Db, order_id: OrderId) -> Result<Option<RefundFacts>> {
    // (session, status, paid, out_refund_no, refund status)
    type Row = (i64, String, i64, Option<String>, Option<String>);
    let row: Option<Row> = sqlx::query_as(
        "SELECT o.session_id, o.status, o.paid_amount_fen, r.out_refund_no, r.status
           FROM orders o LEFT JOIN refunds r ON r.order_id = o.id
          WHERE o.id = $1",
    )
    .bind(order_id)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.and_then(|(session_id, status, paid, no, rstatus)| {
        Some(RefundFacts {
            order_id,
            session_id: SessionId(session_id),
            status: OrderStatus::parse(&status)?,
            paid: Fen(paid),
            refund: no.zip(rstatus),
        })
    }))
}

/// Records that a refund is asked for (at most one per order: a second is a conflict).
pub async fn start_refund(
    db: &Db,
    order_id: OrderId,
    out_refund_no: &str,
    amount: Fen,
    reason: &str,
    now_ms: i64,
) -> Result<bool> {
    let res = sqlx::query(
        "INSERT INTO refunds (order_id, out_refund_no, amount_fen, status, reason, created_at_ms)
         VALUES ($1, $2, $3, 'pending', $4, $5) ON CONFLICT (order_id) DO NOTHING",
    )
    .bind(order_id)
    .bind(out_refund_no)
    .bind(amount.0)
    .bind(reason)
    .bind(now_ms)
    .execute(db.pool())
    .await?;
    Ok(res.rows_affected() == 1)
}

/// A refund the provider refused: the order stays paid (a new refund may be asked for).
pub async fn fail_refund(db: &Db, out_refund_no: &str) -> Result<()> {
    sqlx::query("DELETE FROM refunds WHERE out_refund_no = $1 AND status = 'pending'")
        .bind(out_refund_no)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// A refund went through: in one transaction it is marked done and the order gives back
/// what it took: its units to stock (unless they were shipped), its discounted
/// units to the shopper's allowance and to the product's discount count. False when it was
/// already done (a repeated notification).
pub async fn complete_refund(
    db: &Db,
    out_refund_no: &str,
    provider_ref: &str,
    now_ms: i64,
) -> Result<bool> {
    let mut w = db.begin_write().await?;
    let done = sqlx::query(
        "UPDATE refunds SET status = 'succeeded', provider_ref = $1, settled_at_ms = $2
          WHERE out_refund_no = $3 AND status = 'pending'",
    )
    .bind(provider_ref)
    .bind(now_ms)
    .bind(out_refund_no)
    .execute(&mut *w.tx)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    let (order_id, shopper_id, status): (i64, i64, String) = sqlx::query_as(
        "SELECT o.id, o.shopper_id, o.status FROM refunds r JOIN orders o ON o.id = r.order_id
          WHERE r.out_refund_no = $1",
    )
    .bind(out_refund_no)
    .fetch_one(&mut *w.tx)
    .await?;
    // A released order paid too late: its units and discount went back when it was released.
    if status == "payment_failed" {
        w.commit().await?;
        return Ok(true);
    }
    // A shipped unit is with the shopper (or on its way back): it is not stock again.
    let shipped: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM shipments WHERE order_id = $1")
        .bind(order_id)
        .fetch_one(&mut *w.tx)
        .await?;
    let lines = taken_by(&mut w.tx, OrderId(order_id)).await?;
    give_back(&mut w.tx, ShopperId(shopper_id), &lines, shipped == 0).await?;
    w.commit().await?;
    Ok(true)
}

/// Ships a paid order of `session_id` (or corrects its tracking number).
pub async fn ship(
    db: &Db,
    session_id: SessionId,
    order_id: OrderId,
    tracking: &crate::domain::shipping::Tracking,
    now_ms: i64,
) -> Result<()> {
    let facts: Option<(SessionId, String, Option<String>, i64)> = sqlx::query_as(
        "SELECT o.session_id, o.status, r.status,
                (SELECT COUNT(*) FROM order_addresses a WHERE a.order_id = o.id)
           FROM orders o LEFT JOIN refunds r ON r.order_id = o.id
          WHERE o.id = $1",
    )
    .bind(order_id)
    .fetch_optional(db.pool())
    .await?;
    match facts {
        Some((sid, _, _, _)) if sid != session_id => {
            Err(AppError::not_found("no such order in this session").into())
        }
        None => Err(AppError::not_found("no such order in this session").into()),
        Some((_, _, Some(_), _)) => {
            Err(AppError::Conflict("This order is refunded.".into()).into())
        }
        Some((_, status, None, _)) if status != "paid" => {
            Err(AppError::Conflict("Only a paid order can be shipped.".into()).into())
        }
        Some((_, _, None, 0)) => Err(AppError::Conflict(
            "The shopper has not given a delivery address yet.".into(),
        )
        .into()),
        Some(_) => {
            sqlx::query(
                "INSERT INTO shipments (order_id, carrier, tracking_no, shipped_at_ms) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (order_id) DO UPDATE SET carrier = excluded.carrier, tracking_no = excluded.tracking_no",
            )
            .bind(order_id)
            .bind(&tracking.carrier)
            .bind(&tracking.number)
            .bind(now_ms)
            .execute(db.pool())
            .await?;
            Ok(())
        }
    }
}

/// The studio's orders of a session, newest first (at most 500), by `filter`: `all`,
/// `awaiting_payment`, `paid` (paid or shipped), `to_ship`, `shipped`, `refunded`.
pub async fn studio_orders(
    db: &Db,
    session_id: SessionId,
    filter: &str,
) -> Result<Vec<crate::model::StudioOrder>> {
    let wanted: &[&str] = match filter {
        "all" => &[
            "pending_payment",
            "paid",
            "payment_failed",
            "refunded",
            "shipped",
        ],
        "awaiting_payment" => &["pending_payment"],
        "paid" => &["paid", "shipped"],
        "to_ship" => &["paid"],
        "shipped" => &["shipped"],
        "refunded" => &["refunded"],
        _ => return Err(AppError::bad_request("unknown filter").into()),
    };
    type Row = (
        (i64, i64, String, String, String, i64, i64),
        (Option<String>, Option<String>, Option<i64>),
        (
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        ),
    );
    type Flat = (
        i64,
        i64,
        String,
        String,
        String,
        i64,
        i64,
        Option<String>,
        Option<String>,
        Option<i64>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Flat> = sqlx::query_as(concat!(
        "SELECT * FROM (SELECT o.id, o.created_at_ms, ",
        status_seen!(),
        " AS seen, s.nickname,
                CASE WHEN l.prize IS NOT NULL THEN l.prize WHEN l.variant_name = '' THEN p.name ELSE p.name || ' (' || l.variant_name || ')' END,
                l.quantity, o.paid_amount_fen, sh.carrier, sh.tracking_no, sh.shipped_at_ms,
                oa.recipient, oa.phone, oa.province, oa.city, oa.district, oa.street
           FROM orders o
           JOIN order_lines l ON l.order_id = o.id
           JOIN products p ON p.id = l.product_id
           JOIN shoppers s ON s.id = o.shopper_id
           LEFT JOIN shipments sh ON sh.order_id = o.id
           LEFT JOIN order_addresses oa ON oa.order_id = o.id
          WHERE o.session_id = $1) v
          WHERE v.seen IN ($2, $3, $4, $5, $6)
          ORDER BY v.id DESC LIMIT 500"
    ))
    .bind(session_id)
    .bind(wanted[0])
    .bind(wanted.get(1).unwrap_or(&wanted[0]))
    .bind(wanted.get(2).unwrap_or(&wanted[0]))
    .bind(wanted.get(3).unwrap_or(&wanted[0]))
    .bind(wanted.get(4).unwrap_or(&wanted[0]))
    .fetch_all(db.pool())
    .await?;
    rows.into_iter()
        .map(|f| -> Row {
            (
                (f.0, f.1, f.2, f.3, f.4, f.5, f.6),
                (f.7, f.8, f.9),
                (f.10, f.11, f.12, f.13, f.14, f.15),
            )
        })
        .map(|(o, sh, a)| {
            Ok(crate::model::StudioOrder {
                id: OrderId(o.0),
                created_at_ms: o.1,
                status: OrderStatus::parse(&o.2)
                    .or_fault("an unknown order status in the database")?,
                shopper_nickname: o.3,
                product_name: o.4,
                quantity: o.5,
                paid: Fen(o.6),
                shipping: shipping_of(sh.0, sh.1, sh.2),
                ship_to: ship_to(a.0, a.1, [a.2, a.3, a.4, a.5], false),
            })
        })
        .collect()
}
