//! Hosts, live sessions and their products: reads for shoppers, inserts for the demo data
//! and (later) the studio.

use crate::error::{Error, Result};
use shop_core::ids::{HostId, ProductId, SessionId};
use sqlx::FromRow;

use crate::{
    db::Db,
    domain::money::Fen,
    error::AppError,
    model::{ProductView, SessionDetail, SessionStatus, SessionSummary},
    now_ms,
};

#[derive(Debug, Clone)]
pub struct NewSession {
    pub host_id: HostId,
    pub title: String,
    pub description: String,
    pub cover_url: String,
    pub scheduled_start_ms: i64,
    /// IANA name, already checked (`zones::canonical`).
    pub time_zone: String,
}

#[derive(Debug, Clone)]
pub struct NewProduct {
    pub name: String,
    pub description: String,
    pub category: String,
    pub price: Fen,
    pub stock: i64,
    pub image_url: String,
}

#[derive(FromRow)]
struct SummaryRow {
    id: i64,
    title: String,
    host_name: String,
    cover_url: String,
    status: String,
    scheduled_start_ms: i64,
    product_count: i64,
    time_zone: String,
}

const SUMMARY_SELECT: &str = "SELECT s.id, s.title, h.display_name AS host_name, s.cover_url, s.status,
        s.scheduled_start_ms, (SELECT COUNT(*) FROM products p WHERE p.session_id = s.id) AS product_count,
        s.time_zone
   FROM live_sessions s JOIN hosts h ON h.id = s.host_id";

impl SummaryRow {
    fn into_summary(self) -> Result<SessionSummary> {
        Ok(SessionSummary {
            id: SessionId(self.id),
            title: self.title,
            host_name: self.host_name,
            cover_url: self.cover_url,
            status: parse_status(&self.status)?,
            scheduled_start_ms: self.scheduled_start_ms,
            product_count: self.product_count,
            start_offset_minutes: crate::zones::offset_at(self.scheduled_start_ms, &self.time_zone),
            time_zone: self.time_zone,
        })
    }
}

#[derive(FromRow)]
struct SessionRow {
    id: i64,
    title: String,
    description: String,
    host_name: String,
    cover_url: String,
    status: String,
    scheduled_start_ms: i64,
    currency: String,
    time_zone: String,
}

#[derive(FromRow)]
struct ProductRow {
    id: ProductId,
    position: i64,
    name: String,
    description: String,
    category: String,
    price_fen: i64,
    stock: i64,
    image_url: String,
}

impl From<ProductRow> for ProductView {
    fn from(r: ProductRow) -> Self {
        ProductView {
            id: r.id,
            position: r.position,
            name: r.name,
            description: r.description,
            category: r.category,
            price: Fen(r.price_fen),
            stock: r.stock,
            image_url: r.image_url,
            variants: Vec::new(),
        }
    }
}

fn parse_status(s: &str) -> Result<SessionStatus> {
    SessionStatus::parse(s)
        .ok_or_else(|| Error::fault(format!("unknown session status {s:?} in the database")))
}

/// Live sessions first, then upcoming ones by start time. Ended sessions are not listed.
pub async fn list_current_sessions(db: &Db) -> Result<Vec<SessionSummary>> {
    let rows: Vec<SummaryRow> = sqlx::query_as(&format!(
        "{SUMMARY_SELECT}
          WHERE s.status IN ('live', 'scheduled')
          ORDER BY CASE s.status WHEN 'live' THEN 0 ELSE 1 END, s.scheduled_start_ms, s.id
          LIMIT 100"
    ))
    .fetch_all(db.pool())
    .await?;
    rows.into_iter().map(SummaryRow::into_summary).collect()
}

/// The session page: the session, its host and its products in presentation order.
pub async fn session_detail(db: &Db, session_id: SessionId) -> Result<SessionDetail> {
    let row: Option<SessionRow> = sqlx::query_as(
        "SELECT s.id, s.title, s.description, h.display_name AS host_name, s.cover_url,
                s.status, s.scheduled_start_ms, s.currency, s.time_zone
           FROM live_sessions s JOIN hosts h ON h.id = s.host_id
          WHERE s.id = $1",
    )
    .bind(session_id)
    .fetch_optional(db.pool())
    .await?;
    let Some(s) = row else {
        return Err(AppError::not_found("This live session does not exist.").into());
    };
    let products: Vec<ProductRow> = sqlx::query_as(
        "SELECT id, position, name, description, category, price_fen, stock, image_url
           FROM products WHERE session_id = $1 ORDER BY position, id",
    )
    .bind(session_id)
    .fetch_all(db.pool())
    .await?;
    let mut variants = super::variants::of_session(db, session_id).await?;
    let products = products
        .into_iter()
        .map(|r| {
            let mut p = ProductView::from(r);
            p.variants = variants.remove(&p.id).unwrap_or_default();
            p
        })
        .collect();
    Ok(SessionDetail {
        id: SessionId(s.id),
        title: s.title,
        description: s.description,
        host_name: s.host_name,
        cover_url: s.cover_url,
        status: parse_status(&s.status)?,
        scheduled_start_ms: s.scheduled_start_ms,
        currency: s.currency,
        products,
        start_offset_minutes: crate::zones::offset_at(s.scheduled_start_ms, &s.time_zone),
        time_zone: s.time_zone,
    })
}

pub async fn create_host(db: &Db, display_name: &str) -> Result<HostId> {
    let id: HostId = sqlx::query_scalar(
        "INSERT INTO hosts (display_name, created_at_ms) VALUES ($1, $2) RETURNING id",
    )
    .bind(display_name)
    .bind(now_ms())
    .fetch_one(db.pool())
    .await?;
    Ok(id)
}

/// Creates a scheduled session with its products, all or nothing.
pub async fn create_session(
    db: &Db,
    session: &NewSession,
    products: &[NewProduct],
) -> Result<SessionId> {
    let now = now_ms();
    let mut w = db.begin_write().await?;
    let id: SessionId = sqlx::query_scalar(
        "INSERT INTO live_sessions (host_id, title, description, cover_url, scheduled_start_ms, created_at_ms, time_zone)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(session.host_id)
    .bind(&session.title)
    .bind(&session.description)
    .bind(&session.cover_url)
    .bind(session.scheduled_start_ms)
    .bind(now)
    .bind(&session.time_zone)
    .fetch_one(&mut *w.tx)
    .await?;
    // Every session starts with the default discount policy (50% off, 1 friend, 1 unit).
    sqlx::query("INSERT INTO discount_policies (session_id) VALUES ($1)")
        .bind(id)
        .execute(&mut *w.tx)
        .await?;
    for (i, p) in products.iter().enumerate() {
        let position =
            i64::try_from(i).map_err(|_| AppError::bad_request("too many products"))? + 1;
        sqlx::query(
            "INSERT INTO products (session_id, position, name, description, category, price_fen, stock, image_url, created_at_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(id)
        .bind(position)
        .bind(&p.name)
        .bind(&p.description)
        .bind(&p.category)
        .bind(p.price.0)
        .bind(p.stock)
        .bind(&p.image_url)
        .bind(now)
        .execute(&mut *w.tx)
        .await?;
    }
    w.commit().await?;
    Ok(id)
}

/// Finds a session by title (used to keep demo seeding idempotent).
pub async fn find_session_by_title(db: &Db, title: &str) -> Result<Option<SessionId>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM live_sessions WHERE title = $1 ORDER BY id LIMIT 1")
            .bind(title)
            .fetch_optional(db.pool())
            .await?,
    )
}

/// Moves a still-scheduled session's start to `start_ms` if its start has already passed
/// (keeps the demo session "starting soon" across restarts).
pub async fn keep_scheduled_start_ahead(
    db: &Db,
    session_id: SessionId,
    start_ms: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE live_sessions SET scheduled_start_ms = $1
          WHERE id = $2 AND status = 'scheduled' AND scheduled_start_ms < $3",
    )
    .bind(start_ms)
    .bind(session_id)
    .bind(now_ms())
    .execute(db.pool())
    .await?;
    Ok(())
}

/// One session's card (used by invite pages and previews).
pub async fn session_summary(db: &Db, session_id: SessionId) -> Result<SessionSummary> {
    let r: Option<SummaryRow> = sqlx::query_as(&format!("{SUMMARY_SELECT} WHERE s.id = $1"))
        .bind(session_id)
        .fetch_optional(db.pool())
        .await?;
    r.ok_or_else(|| AppError::not_found("This live session does not exist."))?
        .into_summary()
}
