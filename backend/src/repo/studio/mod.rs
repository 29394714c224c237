//! The host's run-of-show transitions: go live, present a product, end the session.
//! Callers check the team role and the shop first (`host_auth::require_session`).

mod read;

use crate::error::Result;
pub use read::*;
use shop_core::ids::{HostId, ProductId, SessionId};

use crate::{db::Db, error::AppError, model::SessionStatus, now_ms};

use super::shopping::{require, session_status};
use crate::domain::session::Activity;

/// Scheduled (or in rehearsal) to live. What a rehearsal presented is forgotten: no product
/// counts as presented (their discounts open when the real show presents them).
pub async fn go_live(db: &Db, session_id: SessionId) -> Result<()> {
    let mut w = db.begin_write().await?;
    let res = sqlx::query(
        "UPDATE live_sessions SET status = 'live', started_at_ms = $1, rehearsal = 0, current_product_id = NULL
          WHERE id = $2 AND status = 'scheduled'",
    )
    .bind(now_ms())
    .bind(session_id)
    .execute(&mut *w.tx)
    .await?;
    if res.rows_affected() == 1 {
        forget_rehearsal(&mut w, session_id).await?;
        w.commit().await?;
        return Ok(());
    }
    drop(w);
    require(db, session_id, Activity::GoLive).await?;
    Err(AppError::Conflict("The session changed meanwhile: reload it.".into()).into())
}

/// A scheduled session starts (`true`) or stops (`false`) its private rehearsal; stopping
/// forgets what it presented.
pub async fn set_rehearsal(db: &Db, session_id: SessionId, on: bool) -> Result<()> {
    let mut w = db.begin_write().await?;
    let res = sqlx::query(
        "UPDATE live_sessions SET rehearsal = $1, current_product_id = NULL
          WHERE id = $2 AND status = 'scheduled' AND rehearsal = $3",
    )
    .bind(i64::from(on))
    .bind(session_id)
    .bind(i64::from(!on))
    .execute(&mut *w.tx)
    .await?;
    if res.rows_affected() == 1 {
        forget_rehearsal(&mut w, session_id).await?;
        w.commit().await?;
        return Ok(());
    }
    drop(w);
    let activity = if on {
        Activity::Rehearse
    } else {
        Activity::StopRehearsal
    };
    require(db, session_id, activity).await?;
    Err(AppError::Conflict("The session changed meanwhile: reload it.".into()).into())
}

/// Before the show nothing is presented for real: what a rehearsal presented is discarded.
async fn forget_rehearsal(w: &mut crate::db::WriteTx, session_id: SessionId) -> Result<()> {
    sqlx::query("UPDATE products SET presented_at_ms = NULL WHERE session_id = $1")
        .bind(session_id)
        .execute(&mut *w.tx)
        .await?;
    Ok(())
}

/// The product presented, as the write left it: what its card and stock show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presented {
    pub product_id: ProductId,
    pub name: String,
    pub price: Fen,
    pub image_url: String,
    pub stock: i64,
}

/// Makes `product_id` the product being explained now and records that it was presented
/// (which opens its discount). Answers the product as written.
pub async fn present_product(
    db: &Db,
    session_id: SessionId,
    product_id: ProductId,
) -> Result<Presented> {
    require(db, session_id, Activity::Present).await?;
    let mut w = db.begin_write().await?;
    let row: Option<(String, i64, String, i64)> = sqlx::query_as(
        "UPDATE products SET presented_at_ms = COALESCE(presented_at_ms, $1) WHERE id = $2 AND session_id = $3
         RETURNING name, price_fen, image_url, stock",
    )
    .bind(now_ms())
    .bind(product_id)
    .bind(session_id)
    .fetch_optional(&mut *w.tx)
    .await?;
    let (name, price_fen, image_url, stock) = row.ok_or_else(not_in_session)?;
    sqlx::query("UPDATE live_sessions SET current_product_id = $1 WHERE id = $2")
        .bind(product_id)
        .bind(session_id)
        .execute(&mut *w.tx)
        .await?;
    w.commit().await?;
    Ok(Presented {
        product_id,
        name,
        price: Fen(price_fen),
        image_url,
        stock,
    })
}

pub async fn end_session(db: &Db, session_id: SessionId) -> Result<()> {
    let res = sqlx::query(
        "UPDATE live_sessions SET status = 'ended', ended_at_ms = $1, current_product_id = NULL WHERE id = $2 AND status = 'live'",
    )
    .bind(now_ms())
    .bind(session_id)
    .execute(db.pool())
    .await?;
    if res.rows_affected() == 1 {
        return Ok(());
    }
    require(db, session_id, Activity::End).await?;
    Err(AppError::Conflict("The session changed meanwhile: reload it.".into()).into())
}

/// The session a product belongs to.
pub async fn product_session(db: &Db, product_id: ProductId) -> Result<SessionId> {
    sqlx::query_scalar("SELECT session_id FROM products WHERE id = $1")
        .bind(product_id)
        .fetch_optional(db.pool())
        .await?
        .ok_or_else(|| AppError::not_found("This product does not exist.").into())
}

// ---- Catalog editing (before and during the session) ----

use crate::{
    domain::{
        discount::DiscountPolicy,
        forms::{ProductInput, SessionInput},
        money::Fen,
    },
    model::{
        Dashboard, PolicyForm, ProductForm, ProductSales, SessionForm, StudioProduct, StudioSession,
    },
};

/// Checks a session form. Start times may be in the past only by a minute (clock skew).
pub async fn create_session(db: &Db, host_id: HostId, form: &SessionForm) -> Result<SessionId> {
    let v = SessionInput::parse(form, now_ms())?;
    let time_zone = crate::zones::canonical(&form.time_zone)?;
    let session = super::catalog::NewSession {
        host_id,
        title: v.title,
        description: v.description,
        cover_url: DEFAULT_COVER.to_string(),
        scheduled_start_ms: v.scheduled_start_ms,
        time_zone,
    };
    let id = super::catalog::create_session(db, &session, &[]).await?;
    save_policy(db, id, &form.policy).await?;
    Ok(id)
}

/// Shown until the host uploads a cover.
pub const DEFAULT_COVER: &str = "/public/covers/default.svg";
/// Shown until the host uploads a product image.
pub const DEFAULT_PRODUCT_IMAGE: &str = "/public/products/default.svg";

async fn save_policy(db: &Db, session_id: SessionId, p: &PolicyForm) -> Result<()> {
    sqlx::query(
        "UPDATE discount_policies SET percent_off = $1, friends_needed = $2, units_per_shopper = $3,
                units_cap = $4, purchase_limit = $5, verified_phone_required = $6
          WHERE session_id = $7",
    )
    .bind(p.percent_off)
    .bind(p.friends_needed)
    .bind(p.units_per_shopper)
    .bind(p.units_cap)
    .bind(p.purchase_limit)
    .bind(i64::from(p.verified_phone_required))
    .bind(session_id)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Saves a scheduled session's details; returns the new start when it moved (reservers are
/// told: `reminders`).
pub async fn update_session(
    db: &Db,
    session_id: SessionId,
    form: &SessionForm,
) -> Result<Option<i64>> {
    let v = SessionInput::parse(form, now_ms())?;
    let time_zone = crate::zones::canonical(&form.time_zone)?;
    require(db, session_id, Activity::EditDetails).await?;
    let old_start: Option<i64> =
        sqlx::query_scalar("SELECT scheduled_start_ms FROM live_sessions WHERE id = $1")
            .bind(session_id)
            .fetch_optional(db.pool())
            .await?;
    // A changed start is also marked for the reminders' loop ("moved to …"), in the same
    // statement: no move goes untold if this node dies next. (SET reads the old row.)
    let changed = sqlx::query("UPDATE live_sessions SET title = $1, description = $2, scheduled_start_ms = $3, time_zone = $4,
            reminders_moved_to_ms = CASE WHEN scheduled_start_ms <> $3 THEN $3 ELSE reminders_moved_to_ms END
         WHERE id = $5 AND status = 'scheduled'")
        .bind(&v.title)
        .bind(&v.description)
        .bind(v.scheduled_start_ms)
        .bind(&time_zone)
        .bind(session_id)
        .execute(db.pool())
        .await?
        .rows_affected();
    save_policy(db, session_id, &form.policy).await?;
    Ok(
        (changed == 1 && old_start.is_some_and(|s| s != v.scheduled_start_ms))
            .then_some(v.scheduled_start_ms),
    )
}

pub async fn delete_session(db: &Db, session_id: SessionId) -> Result<()> {
    require(db, session_id, Activity::DeleteSession).await?;
    let mut w = db.begin_write().await?;
    // Reservations and invites go with the session (ON DELETE CASCADE); nothing was sold.
    sqlx::query("DELETE FROM reservations WHERE session_id = $1")
        .bind(session_id)
        .execute(&mut *w.tx)
        .await?;
    sqlx::query("DELETE FROM invites WHERE session_id = $1")
        .bind(session_id)
        .execute(&mut *w.tx)
        .await?;
    sqlx::query("DELETE FROM live_sessions WHERE id = $1 AND status = 'scheduled'")
        .bind(session_id)
        .execute(&mut *w.tx)
        .await?;
    w.commit().await?;
    Ok(())
}

pub async fn set_cover(db: &Db, session_id: SessionId, url: &str) -> Result<()> {
    sqlx::query("UPDATE live_sessions SET cover_url = $1 WHERE id = $2")
        .bind(url)
        .bind(session_id)
        .execute(db.pool())
        .await?;
    Ok(())
}

pub async fn add_product(db: &Db, session_id: SessionId, form: &ProductForm) -> Result<i64> {
    let p = ProductInput::parse(form)?;
    require(db, session_id, Activity::AddProduct).await?;
    let mut w = db.begin_write().await?;
    let next: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(MAX(position), 0) + 1 AS BIGINT) FROM products WHERE session_id = $1",
    )
    .bind(session_id)
    .fetch_one(&mut *w.tx)
    .await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO products (session_id, position, name, description, category, price_fen, stock, image_url, created_at_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(session_id)
    .bind(next)
    .bind(&p.name)
    .bind(&p.description)
    .bind(&p.category)
    .bind(p.price.0)
    .bind(p.stock)
    .bind(DEFAULT_PRODUCT_IMAGE)
    .bind(now_ms())
    .fetch_one(&mut *w.tx)
    .await?;
    w.commit().await?;
    Ok(id)
}

/// What an edit changed that viewers of a live session must learn.
pub struct ProductEdited {
    pub price: Fen,
    pub price_changed: bool,
    pub stock: i64,
}

/// Edits a product. Changing the price of a product already presented needs a reason, which is
/// written to the audit log with the old and new price. With `stock_was` the stock changes by
/// the difference the host typed (sales meanwhile are kept), never below zero.
pub async fn update_product(
    db: &Db,
    host: &crate::identity::host_auth::Host,
    session_id: SessionId,
    product_id: ProductId,
    form: &ProductForm,
) -> Result<ProductEdited> {
    let p = ProductInput::parse(form)?;
    require(db, session_id, Activity::EditProduct).await?;
    let row: Option<(i64, Option<i64>)> = sqlx::query_as(
        "SELECT price_fen, presented_at_ms FROM products WHERE id = $1 AND session_id = $2",
    )
    .bind(product_id)
    .bind(session_id)
    .fetch_optional(db.pool())
    .await?;
    let (old_price, presented) = row.ok_or_else(not_in_session)?;
    let reason = form
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    let price_changed = old_price != p.price.0;
    if price_changed && presented.is_some() && reason.is_none() {
        return Err(AppError::Conflict(
            "This product was already presented: give a reason to change its price (it is recorded in the audit log).".into(),
        ).into());
    }
    // Absolute stock for older clients; otherwise the typed difference, applied atomically.
    let (delta, absolute) = match form.stock_was {
        Some(was) if (0..=1_000_000).contains(&was) => (p.stock - was, None),
        Some(_) => return Err(AppError::bad_request("stock_was is out of range.").into()),
        None => (0, Some(p.stock)),
    };
    let mut w = db.begin_write().await?;
    let _typed: i64 = sqlx::query_scalar(
        "UPDATE products SET name = $1, description = $2, category = $3, price_fen = $4,
                stock = CASE WHEN $5 >= 0 THEN $5
                             WHEN stock + $6 < 0 THEN 0
                             WHEN stock + $6 > 1000000 THEN 1000000
                             ELSE stock + $6 END
          WHERE id = $7 RETURNING stock",
    )
    .bind(&p.name)
    .bind(&p.description)
    .bind(&p.category)
    .bind(p.price.0)
    .bind(absolute.unwrap_or(-1))
    .bind(delta)
    .bind(product_id)
    .fetch_one(&mut *w.tx)
    .await?;
    // A product with variants: its stock is theirs (edited with them), whatever was typed.
    let stock = super::variants::resync_stock(&mut w.tx, product_id).await?;
    if price_changed && presented.is_some() {
        sqlx::query(
            "INSERT INTO audit_log (session_id, host_id, account_id, actor, action, detail, reason, created_at_ms) VALUES ($1, $2, $3, $4, 'price_change', $5, $6, $7)",
        )
        .bind(session_id)
        .bind(host.host_id)
        .bind(host.account_id)
        .bind(&host.email)
        .bind(format!("product {product_id}: {} -> {}", Fen(old_price), p.price))
        .bind(reason.unwrap_or_default())
        .bind(now_ms())
        .execute(&mut *w.tx)
        .await?;
    }
    w.commit().await?;
    Ok(ProductEdited {
        price: p.price,
        price_changed,
        stock,
    })
}

/// A product id that does not belong to the session.
fn not_in_session() -> AppError {
    AppError::not_found("This product is not part of the session.")
}

/// `Ok` when the statement touched a row of the session's products.
fn touched_a_product(res: sqlx::any::AnyQueryResult) -> Result<()> {
    if res.rows_affected() == 0 {
        Err(not_in_session().into())
    } else {
        Ok(())
    }
}

pub async fn delete_product(db: &Db, session_id: SessionId, product_id: ProductId) -> Result<()> {
    require(db, session_id, Activity::RemoveProduct).await?;
    let res = sqlx::query("DELETE FROM products WHERE id = $1 AND session_id = $2")
        .bind(product_id)
        .bind(session_id)
        .execute(db.pool())
        .await?;
    touched_a_product(res)
}

pub async fn set_product_image(db: &Db, product_id: ProductId, url: &str) -> Result<()> {
    sqlx::query("UPDATE products SET image_url = $1 WHERE id = $2")
        .bind(url)
        .bind(product_id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Moves a product one place up (`-1`) or down (`+1`) in the presentation order.
pub async fn move_product(
    db: &Db,
    session_id: SessionId,
    product_id: ProductId,
    delta: i64,
) -> Result<()> {
    if delta != -1 && delta != 1 {
        return Err(AppError::bad_request("Move a product one place up or down.").into());
    }
    let mut w = db.begin_write().await?;
    let ids: Vec<ProductId> =
        sqlx::query_scalar("SELECT id FROM products WHERE session_id = $1 ORDER BY position, id")
            .bind(session_id)
            .fetch_all(&mut *w.tx)
            .await?;
    let Some(i) = ids.iter().position(|id| *id == product_id) else {
        return Err(not_in_session().into());
    };
    let j = i as i64 + delta;
    if j < 0 || j >= ids.len() as i64 {
        return Ok(()); // already first/last
    }
    let mut order = ids.clone();
    order.swap(i, j as usize);
    // Renumber densely: positions stay 1..n whatever happened before.
    for (pos, id) in order.iter().enumerate() {
        sqlx::query("UPDATE products SET position = $1 WHERE id = $2")
            .bind(pos as i64 + 1)
            .bind(id)
            .execute(&mut *w.tx)
            .await?;
    }
    w.commit().await?;
    Ok(())
}

/// Presents the product after the current one (or the first, if none is current).
pub async fn present_next(db: &Db, session_id: SessionId) -> Result<Presented> {
    let ids: Vec<ProductId> =
        sqlx::query_scalar("SELECT id FROM products WHERE session_id = $1 ORDER BY position, id")
            .bind(session_id)
            .fetch_all(db.pool())
            .await?;
    let current = super::shopping::current_product(db, session_id).await?;
    let next = match current.and_then(|c| ids.iter().position(|id| *id == c)) {
        Some(i) if i + 1 < ids.len() => ids[i + 1],
        Some(_) => return Err(AppError::Conflict("This is the last product.".into()).into()),
        None => *ids
            .first()
            .ok_or_else(|| AppError::Conflict("Add products before presenting.".into()))?,
    };
    present_product(db, session_id, next).await
}

pub async fn mark_sold_out(db: &Db, session_id: SessionId, product_id: ProductId) -> Result<()> {
    require(db, session_id, Activity::MarkSoldOut).await?;
    let res = sqlx::query("UPDATE products SET stock = 0 WHERE id = $1 AND session_id = $2")
        .bind(product_id)
        .bind(session_id)
        .execute(db.pool())
        .await?;
    touched_a_product(res)
}

/// Remembers an uploaded image (who, what, how big); the same content uploaded again is one row.
pub async fn record_upload(
    db: &Db,
    name: &str,
    host_id: HostId,
    kind: &str,
    (width, height): (u32, u32),
    bytes: usize,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO uploads (name, host_id, kind, width, height, bytes, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(host_id)
    .bind(kind)
    .bind(i64::from(width))
    .bind(i64::from(height))
    .bind(i64::try_from(bytes).unwrap_or(i64::MAX))
    .bind(now_ms())
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Records who did what in the audit log (`repo::team::audit`).
pub async fn audit(
    db: &Db,
    session_id: Option<SessionId>,
    host: &crate::identity::host_auth::Host,
    action: &str,
    detail: &str,
) -> Result<()> {
    super::team::audit(db, host, session_id, action, detail, now_ms()).await
}
