//! Reading for the studio: the host's sessions, one session as its host edits it, the live
//! dashboard and the orders export.

use super::*;
use crate::error::{Error, OptionExt, Result};
use shop_core::ids::{HostId, OrderId, ProductId, SessionId, ShopperId};

// ---- Reading for the studio ----

pub async fn host_sessions(db: &Db, host_id: HostId) -> Result<Vec<crate::model::SessionSummary>> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM live_sessions WHERE host_id = $1
          ORDER BY CASE status WHEN 'live' THEN 0 WHEN 'scheduled' THEN 1 ELSE 2 END, scheduled_start_ms DESC",
    )
    .bind(host_id)
    .fetch_all(db.pool())
    .await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.push(super::super::catalog::session_summary(db, SessionId(id)).await?);
    }
    Ok(out)
}

pub async fn studio_session(db: &Db, session_id: SessionId) -> Result<StudioSession> {
    type Row = (
        SessionId,
        String,
        String,
        String,
        String,
        i64,
        Option<ProductId>,
        String,
    );
    let row: Option<Row> = sqlx::query_as(
        "SELECT id, title, description, cover_url, status, scheduled_start_ms, current_product_id, time_zone
           FROM live_sessions WHERE id = $1",
    )
    .bind(session_id)
    .fetch_optional(db.pool())
    .await?;
    let (id, title, description, cover_url, status, start, current, time_zone) =
        row.ok_or_else(|| AppError::not_found("This live session does not exist."))?;
    let policy: DiscountPolicy = super::super::shopping::policy(db, session_id).await?;
    type P = (
        ProductId,
        i64,
        String,
        String,
        String,
        i64,
        i64,
        String,
        Option<i64>,
    );
    let products: Vec<P> = sqlx::query_as(
        "SELECT id, position, name, description, category, price_fen, stock, image_url, presented_at_ms
           FROM products WHERE session_id = $1 ORDER BY position, id",
    )
    .bind(session_id)
    .fetch_all(db.pool())
    .await?;
    let mut variants = super::super::variants::of_session(db, session_id).await?;
    Ok(StudioSession {
        id,
        title,
        description,
        cover_url,
        // The team sees its rehearsal.
        status: match SessionStatus::parse(&status)
            .or_fault("an unknown session status in the database")?
        {
            SessionStatus::Scheduled => {
                super::super::shopping::session_status(db, session_id).await?
            }
            s => s,
        },
        scheduled_start_ms: start,
        start_offset_minutes: crate::zones::offset_at(start, &time_zone),
        time_zone,
        current_product_id: current,
        policy: PolicyForm {
            percent_off: i64::from(policy.percent_off),
            friends_needed: i64::from(policy.friends_needed),
            units_per_shopper: i64::from(policy.units_per_shopper),
            units_cap: policy.units_cap.map(i64::from),
            purchase_limit: i64::from(policy.purchase_limit),
            verified_phone_required: policy.verified_phone_required,
        },
        products: products
            .into_iter()
            .map(
                |(
                    id,
                    position,
                    name,
                    description,
                    category,
                    price,
                    stock,
                    image_url,
                    presented,
                )| StudioProduct {
                    id,
                    position,
                    name,
                    description,
                    category,
                    price: Fen(price),
                    stock,
                    image_url,
                    presented: presented.is_some(),
                    variants: variants.remove(&id).unwrap_or_default(),
                },
            )
            .collect(),
    })
}

pub async fn dashboard(db: &Db, session_id: SessionId, viewers: Option<i64>) -> Result<Dashboard> {
    let status = session_status(db, session_id).await?;
    let one = |sql: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sql)
            .bind(session_id)
            .fetch_one(db.pool())
            .await
            .map_err(Error::from)
    };
    let reservations = one("SELECT COUNT(*) FROM reservations WHERE session_id = $1").await?;
    // Invites of shoppers who hold a reservation: one a browser made before it verified the
    // number of a shopper with an invite of their own (`repo::phones::merge_shopper`) is not one
    // more invite.
    let invites_created = one(
        "SELECT COUNT(*) FROM invites i WHERE i.session_id = $1 AND EXISTS
            (SELECT 1 FROM reservations r WHERE r.session_id = i.session_id AND r.shopper_id = i.inviter_id)",
    )
    .await?;
    let friends_joined =
        one("SELECT COUNT(*) FROM reservations WHERE session_id = $1 AND invite_id IS NOT NULL")
            .await?;
    // Paid and not refunded; refunds apart.
    let orders = one(
        "SELECT COUNT(*) FROM orders o WHERE o.session_id = $1 AND o.status = 'paid'
            AND NOT EXISTS (SELECT 1 FROM refunds r WHERE r.order_id = o.id AND r.status = 'succeeded')",
    )
    .await?;
    let refunds = one(
        "SELECT COUNT(*) FROM refunds r JOIN orders o ON o.id = r.order_id
          WHERE o.session_id = $1 AND r.status = 'succeeded'",
    )
    .await?;
    let refunded = one(
        "SELECT CAST(COALESCE(SUM(r.amount_fen), 0) AS BIGINT) FROM refunds r JOIN orders o ON o.id = r.order_id
          WHERE o.session_id = $1 AND r.status = 'succeeded'",
    )
    .await?;
    type Row = (i64, String, Option<i64>, i64, i64, i64, i64);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT p.id, p.name, p.presented_at_ms, p.stock,
                CAST(COALESCE(SUM(l.quantity), 0) AS BIGINT),
                CAST(COALESCE(SUM(l.paid_amount_fen), 0) AS BIGINT),
                CAST(COALESCE(SUM(l.discount_fen), 0) AS BIGINT)
           FROM products p
           LEFT JOIN order_lines l ON l.product_id = p.id
                AND l.order_id IN (SELECT o.id FROM orders o WHERE o.session_id = $1 AND o.status = 'paid'
                    AND NOT EXISTS (SELECT 1 FROM refunds r WHERE r.order_id = o.id AND r.status = 'succeeded'))
          WHERE p.session_id = $1
          GROUP BY p.id, p.name, p.presented_at_ms, p.stock, p.position
          ORDER BY p.position, p.id",
    )
    .bind(session_id)
    .fetch_all(db.pool())
    .await?;
    let per_product: Vec<ProductSales> = rows
        .into_iter()
        .map(
            |(product_id, name, presented, stock, units, revenue, discount)| ProductSales {
                product_id: ProductId(product_id),
                name,
                presented: presented.is_some(),
                stock,
                units_sold: units,
                revenue: Fen(revenue),
                discount: Fen(discount),
            },
        )
        .collect();
    Ok(Dashboard {
        session_id,
        status,
        reservations,
        invites_created,
        friends_joined,
        // Only meaningful while live: viewers still connected after the end are leaving.
        viewers: viewers.filter(|_| status == SessionStatus::Live),
        orders,
        units_sold: per_product.iter().map(|p| p.units_sold).sum(),
        gmv: Fen(per_product.iter().map(|p| p.revenue.0).sum()),
        refunds,
        refunded: Fen(refunded),
        discount_given: Fen(per_product.iter().map(|p| p.discount.0).sum()),
        per_product,
    })
}

/// One row per order line, for the CSV export.
pub struct ExportLine {
    pub order_id: OrderId,
    pub created_at_ms: i64,
    pub status: String,
    pub shopper_id: ShopperId,
    pub shopper_nickname: String,
    /// The shopper's verified number, masked (`+86 138****5678`).
    pub shopper_phone: Option<String>,
    pub product_id: ProductId,
    pub product_name: String,
    /// The shade or size bought; empty for a product without variants.
    pub variant: String,
    pub quantity: i64,
    pub unit_price: Fen,
    pub full_amount: Fen,
    pub discount: Fen,
    pub paid: Fen,
    pub rule: String,
    /// Paid orders: shipped or to ship; refunded wins over both.
    pub fulfilment: String,
    pub carrier: Option<String>,
    pub tracking_no: Option<String>,
    /// Where it ships, in full (recipient, phone, province/city/district/street).
    pub ship_to: Option<[String; 6]>,
    pub invite_code: Option<String>,
}

pub async fn export_lines(db: &Db, session_id: SessionId) -> Result<Vec<ExportLine>> {
    type Row = (
        i64,
        i64,
        String,
        i64,
        String,
        i64,
        String,
        i64,
        i64,
        i64,
        i64,
        i64,
        String,
        Option<String>,
        Option<String>,
        String,
    );
    type Extra = (
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let extra: std::collections::HashMap<i64, Extra> = sqlx::query_as::<_, (i64, String, Option<String>, Option<String>, Option<String>, Option<String>, Option<String>, Option<String>, Option<String>, Option<String>)>(
        concat!(
            "SELECT o.id, ",
            crate::repo::orders::status_seen!(),
            ", sh.carrier, sh.tracking_no, oa.recipient, oa.phone, oa.province, oa.city, oa.district, oa.street
               FROM orders o
               LEFT JOIN shipments sh ON sh.order_id = o.id
               LEFT JOIN order_addresses oa ON oa.order_id = o.id
              WHERE o.session_id = $1"
        ),
    )
    .bind(session_id)
    .fetch_all(db.pool())
    .await?
    .into_iter()
    .map(|r| (r.0, (r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8, r.9)))
    .collect();
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT o.id, o.created_at_ms, o.status, o.shopper_id, s.nickname, l.product_id, p.name, l.quantity,
                l.unit_price_fen, l.full_amount_fen, l.discount_fen, l.paid_amount_fen, l.rule, i.code,
                ph.phone, l.variant_name
           FROM orders o
           JOIN order_lines l ON l.order_id = o.id
           JOIN products p ON p.id = l.product_id
           JOIN shoppers s ON s.id = o.shopper_id
           LEFT JOIN invites i ON i.id = l.invite_id
           LEFT JOIN shopper_phones ph ON ph.shopper_id = o.shopper_id
          WHERE o.session_id = $1
          ORDER BY o.id, l.id",
    )
    .bind(session_id)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| ExportLine {
            order_id: OrderId(r.0),
            created_at_ms: r.1,
            status: r.2,
            shopper_id: ShopperId(r.3),
            shopper_nickname: r.4,
            product_id: ProductId(r.5),
            product_name: r.6,
            variant: r.15,
            quantity: r.7,
            unit_price: Fen(r.8),
            full_amount: Fen(r.9),
            discount: Fen(r.10),
            paid: Fen(r.11),
            rule: r.12,
            fulfilment: extra
                .get(&r.0)
                .map_or_else(|| String::from("unknown"), |e| e.0.clone()),
            carrier: extra.get(&r.0).and_then(|e| e.1.clone()),
            tracking_no: extra.get(&r.0).and_then(|e| e.2.clone()),
            ship_to: extra.get(&r.0).and_then(|e| {
                Some([
                    e.3.clone()?,
                    e.4.clone()?,
                    e.5.clone()?,
                    e.6.clone()?,
                    e.7.clone()?,
                    e.8.clone()?,
                ])
            }),
            invite_code: r.13,
            // Never the full number outside the database.
            shopper_phone: r.14.as_deref().map(crate::domain::phone::mask),
        })
        .collect())
}
