//! Lucky draws (SQL only; the service is `crate::draws`, the rule `domain::draw`).

use sqlx::Row;

use crate::{
    db::Db,
    error::{AppError, Result},
    model::{DrawCard, DrawProof, DrawRules},
};
use shop_core::ids::{OrderId, ProductId, SessionId, ShopperId};

/// A draw as stored.
#[derive(Debug, Clone)]
pub struct DrawRow {
    pub id: i64,
    pub session_id: SessionId,
    pub prize: String,
    pub product_id: ProductId,
    pub winners: u32,
    pub rules: DrawRules,
    pub seed_hex: String,
    pub commitment: String,
    pub open: bool,
    pub opened_at_ms: i64,
    pub closes_at_ms: i64,
    pub closed_at_ms: Option<i64>,
}

impl DrawRow {
    /// The live room's card (winners filled in by the caller once closed).
    pub fn card(&self, entrants: u64, winner_names: Vec<String>) -> DrawCard {
        DrawCard {
            id: self.id,
            prize: self.prize.clone(),
            winners: self.winners,
            closes_at_ms: self.closes_at_ms,
            rules: self.rules.clone(),
            commitment: self.commitment.clone(),
            open: self.open,
            entrants,
            winner_names,
        }
    }
}

/// What a new draw is.
pub struct NewDraw<'a> {
    pub session_id: SessionId,
    pub prize: &'a str,
    pub product_id: ProductId,
    pub winners: u32,
    pub rules: &'a DrawRules,
    pub seed_hex: &'a str,
    pub commitment: &'a str,
    pub opened_by: i64,
    pub opened_at_ms: i64,
    pub closes_at_ms: i64,
}

pub fn another_open() -> AppError {
    AppError::Conflict("Another draw is already open in this session.".into())
}

const SELECT: &str = "SELECT id, session_id, prize, product_id, winners, need_reserved,
    need_phone, need_in_room, need_invited, keyword, seed_hex, commitment, state,
    opened_at_ms, closes_at_ms, closed_at_ms FROM draws";

fn row_to_draw(r: &sqlx::any::AnyRow) -> Result<DrawRow> {
    let flag = |c: &str| -> Result<bool> { Ok(r.try_get::<i64, _>(c)? != 0) };
    let state: String = r.try_get("state")?;
    Ok(DrawRow {
        id: r.try_get("id")?,
        session_id: r.try_get("session_id")?,
        prize: r.try_get("prize")?,
        product_id: r.try_get("product_id")?,
        winners: u32::try_from(r.try_get::<i64, _>("winners")?).unwrap_or(1),
        rules: DrawRules {
            reserved: flag("need_reserved")?,
            verified_phone: flag("need_phone")?,
            in_room: flag("need_in_room")?,
            invited: flag("need_invited")?,
            keyword: r.try_get("keyword")?,
        },
        seed_hex: r.try_get("seed_hex")?,
        commitment: r.try_get("commitment")?,
        open: state == "open",
        opened_at_ms: r.try_get("opened_at_ms")?,
        closes_at_ms: r.try_get("closes_at_ms")?,
        closed_at_ms: r.try_get("closed_at_ms")?,
    })
}

/// Opens a draw; 409 when the session has one open already (a unique index decides, so two
/// producers on two nodes cannot both open one).
pub async fn open(db: &Db, d: &NewDraw<'_>) -> Result<i64> {
    let mut w = db.begin_write().await?;
    let res = sqlx::query_scalar::<_, i64>(
        "INSERT INTO draws (session_id, prize, product_id, winners, need_reserved, need_phone,
            need_in_room, need_invited, keyword, seed_hex, commitment, state, opened_by,
            opened_at_ms, closes_at_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'open', $12, $13, $14)
         RETURNING id",
    )
    .bind(d.session_id)
    .bind(d.prize)
    .bind(d.product_id)
    .bind(i64::from(d.winners))
    .bind(i64::from(d.rules.reserved))
    .bind(i64::from(d.rules.verified_phone))
    .bind(i64::from(d.rules.in_room))
    .bind(i64::from(d.rules.invited))
    .bind(&d.rules.keyword)
    .bind(d.seed_hex)
    .bind(d.commitment)
    .bind(d.opened_by)
    .bind(d.opened_at_ms)
    .bind(d.closes_at_ms)
    .fetch_one(&mut *w.tx)
    .await;
    match res {
        Ok(id) => {
            w.commit().await?;
            Ok(id)
        }
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(another_open().into()),
        Err(e) => Err(e.into()),
    }
}

/// A draw by id.
pub async fn get(db: &Db, draw_id: i64) -> Result<Option<DrawRow>> {
    let row = sqlx::query(&format!("{SELECT} WHERE id = $1"))
        .bind(draw_id)
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(row_to_draw).transpose()
}

/// The session's open draw, if any.
pub async fn open_in(db: &Db, session_id: SessionId) -> Result<Option<DrawRow>> {
    let row = sqlx::query(&format!(
        "{SELECT} WHERE session_id = $1 AND state = 'open'"
    ))
    .bind(session_id)
    .fetch_optional(db.pool())
    .await?;
    row.as_ref().map(row_to_draw).transpose()
}

/// The session's draws, newest first.
pub async fn of_session(db: &Db, session_id: SessionId) -> Result<Vec<DrawRow>> {
    let rows = sqlx::query(&format!(
        "{SELECT} WHERE session_id = $1 ORDER BY id DESC LIMIT 200"
    ))
    .bind(session_id)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(row_to_draw).collect()
}

/// The session's latest draw (the live room's card).
pub async fn latest(db: &Db, session_id: SessionId) -> Result<Option<DrawRow>> {
    let row = sqlx::query(&format!(
        "{SELECT} WHERE session_id = $1 ORDER BY id DESC LIMIT 1"
    ))
    .bind(session_id)
    .fetch_optional(db.pool())
    .await?;
    row.as_ref().map(row_to_draw).transpose()
}

/// Open draws whose countdown has ended (any session): the closer's work.
pub async fn due(db: &Db, now_ms: i64) -> Result<Vec<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM draws WHERE state = 'open' AND closes_at_ms <= $1 ORDER BY id LIMIT 100",
    )
    .bind(now_ms)
    .fetch_all(db.pool())
    .await?)
}

/// What the eligibility rules look at for one shopper in one session.
pub struct EntrantFacts {
    pub reserved: bool,
    pub friends_joined: i64,
}

pub async fn entrant_facts(
    db: &Db,
    session_id: SessionId,
    shopper_id: ShopperId,
) -> Result<EntrantFacts> {
    let (reserved, friends): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM reservations WHERE session_id = $1 AND shopper_id = $2),
                (SELECT COUNT(*) FROM reservations f JOIN invites i ON i.id = f.invite_id
                  WHERE i.session_id = $1 AND i.inviter_id = $2 AND f.shopper_id <> $2)",
    )
    .bind(session_id)
    .bind(shopper_id)
    .fetch_one(db.pool())
    .await?;
    Ok(EntrantFacts {
        reserved: reserved > 0,
        friends_joined: friends,
    })
}

/// Records an entry while the draw is open. 409 when this shopper, or this phone under
/// another account, has entered already (the primary key and the unique index decide), or
/// when the draw closed meanwhile.
pub async fn enter(
    db: &Db,
    draw_id: i64,
    entrant_key: &str,
    shopper_id: ShopperId,
    nickname: &str,
    now_ms: i64,
) -> Result<()> {
    let mut w = db.begin_write().await?;
    // Closing updates the draw's row, so an entry either lands before the close (and is
    // drawn) or sees it closed: PostgreSQL's share lock waits for a close in progress;
    // SQLite's writers take turns anyway.
    let lock = match db.kind() {
        crate::DbKind::Postgres => " FOR SHARE",
        crate::DbKind::Sqlite => "",
    };
    let res = sqlx::query(&format!(
        "INSERT INTO draw_entries (draw_id, entrant_key, shopper_id, nickname, entered_at_ms)
         SELECT $1, $2, $3, $4, $5 FROM draws
          WHERE id = $1 AND state = 'open' AND closes_at_ms > $5{lock}"
    ))
    .bind(draw_id)
    .bind(entrant_key)
    .bind(shopper_id)
    .bind(nickname)
    .bind(now_ms)
    .execute(&mut *w.tx)
    .await;
    match res {
        Ok(r) if r.rows_affected() == 1 => {
            w.commit().await?;
            Ok(())
        }
        Ok(_) => Err(closed().into()),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            Err(AppError::Conflict("You have already entered this draw.".into()).into())
        }
        Err(e) => Err(e.into()),
    }
}

pub fn closed() -> AppError {
    AppError::Conflict("This draw has closed.".into())
}

/// A winner as stored by [`close`].
#[derive(Debug, Clone)]
pub struct Winner {
    pub entrant_key: String,
    pub shopper_id: ShopperId,
    pub nickname: String,
    pub order_id: OrderId,
}

/// Closes the draw once: the conditional UPDATE claims it (a second closer, on this node or
/// another, changes nothing and gets `None`); in the same transaction the entrants are read,
/// `pick` chooses the winners' keys, and each winner gets a ¥0 prize order shipping to the
/// address they used last (none saved: the order asks for one, like any order).
pub async fn close(
    db: &Db,
    draw: &DrawRow,
    now_ms: i64,
    pick: impl FnOnce(&[String]) -> Vec<String>,
) -> Result<Option<(u64, Vec<Winner>)>> {
    let mut w = db.begin_write().await?;
    let claimed = sqlx::query(
        "UPDATE draws SET state = 'closed', closed_at_ms = $1 WHERE id = $2 AND state = 'open'",
    )
    .bind(now_ms)
    .bind(draw.id)
    .execute(&mut *w.tx)
    .await?;
    if claimed.rows_affected() != 1 {
        return Ok(None);
    }
    let rows: Vec<(String, ShopperId, String)> = sqlx::query_as(
        "SELECT entrant_key, shopper_id, nickname FROM draw_entries WHERE draw_id = $1",
    )
    .bind(draw.id)
    .fetch_all(&mut *w.tx)
    .await?;
    let keys: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
    let chosen = pick(&keys);
    let by_key: std::collections::HashMap<&str, &(String, ShopperId, String)> =
        rows.iter().map(|r| (r.0.as_str(), r)).collect();
    let mut winners = Vec::with_capacity(chosen.len());
    for (position, key) in chosen.iter().enumerate() {
        let Some((_, shopper_id, nickname)) = by_key.get(key.as_str()).copied() else {
            continue;
        };
        let order_id: OrderId = sqlx::query_scalar(
            "INSERT INTO orders (shopper_id, session_id, idempotency_key, request_hash, status,
                full_amount_fen, discount_fen, paid_amount_fen, payment_provider, payment_ref,
                created_at_ms)
             VALUES ($1, $2, $3, 'prize', 'paid', 0, 0, 0, 'prize', $4, $5)
             RETURNING id",
        )
        .bind(*shopper_id)
        .bind(draw.session_id)
        .bind(format!("draw:{}", draw.id))
        .bind(format!("draw {}", draw.id))
        .bind(now_ms)
        .fetch_one(&mut *w.tx)
        .await?;
        sqlx::query(
            "INSERT INTO order_lines (order_id, product_id, quantity, unit_price_fen,
                discounted_units, discount_per_unit_fen, full_amount_fen, discount_fen,
                paid_amount_fen, rule, percent_off, prize)
             VALUES ($1, $2, 1, 0, 0, 0, 0, 0, 0, 'prize', 0, $3)",
        )
        .bind(order_id)
        .bind(draw.product_id)
        .bind(&draw.prize)
        .execute(&mut *w.tx)
        .await?;
        // The address used last, copied (editing the address book changes no order).
        sqlx::query(
            "INSERT INTO order_addresses (order_id, recipient, phone, province, city, district, street)
             SELECT $1, recipient, phone, province, city, district, street FROM addresses
              WHERE id = (SELECT id FROM addresses WHERE shopper_id = $2
                           ORDER BY last_used_ms DESC, id DESC LIMIT 1)",
        )
        .bind(order_id)
        .bind(*shopper_id)
        .execute(&mut *w.tx)
        .await?;
        sqlx::query(
            "INSERT INTO draw_winners (draw_id, position, entrant_key, shopper_id, order_id)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(draw.id)
        .bind(position as i64)
        .bind(key)
        .bind(*shopper_id)
        .bind(order_id)
        .execute(&mut *w.tx)
        .await?;
        winners.push(Winner {
            entrant_key: key.clone(),
            shopper_id: *shopper_id,
            nickname: nickname.clone(),
            order_id,
        });
    }
    w.commit().await?;
    Ok(Some((rows.len() as u64, winners)))
}

/// How many entered.
pub async fn entrant_count(db: &Db, draw_id: i64) -> Result<u64> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM draw_entries WHERE draw_id = $1")
        .bind(draw_id)
        .fetch_one(db.pool())
        .await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The entrants' public keys, sorted (the canonical order `domain::draw` uses).
pub async fn entrant_keys(db: &Db, draw_id: i64) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT entrant_key FROM draw_entries WHERE draw_id = $1 ORDER BY entrant_key",
    )
    .bind(draw_id)
    .fetch_all(db.pool())
    .await?)
}

/// The winners in the order drawn: (key, nickname).
pub async fn winners(db: &Db, draw_id: i64) -> Result<Vec<(String, String)>> {
    Ok(sqlx::query_as(
        "SELECT w.entrant_key, e.nickname FROM draw_winners w
           JOIN draw_entries e ON e.draw_id = w.draw_id AND e.entrant_key = w.entrant_key
          WHERE w.draw_id = $1 ORDER BY w.position",
    )
    .bind(draw_id)
    .fetch_all(db.pool())
    .await?)
}

/// The proof of a draw (entrants and seed only once closed).
pub async fn proof(db: &Db, draw: &DrawRow) -> Result<DrawProof> {
    let (entrants, winners) = if draw.open {
        (Vec::new(), Vec::new())
    } else {
        (
            entrant_keys(db, draw.id).await?,
            winners(db, draw.id).await?,
        )
    };
    let entrant_count = if draw.open {
        entrant_count(db, draw.id).await?
    } else {
        entrants.len() as u64
    };
    Ok(DrawProof {
        id: draw.id,
        session_id: draw.session_id,
        prize: draw.prize.clone(),
        winners_wanted: draw.winners,
        rules: draw.rules.clone(),
        commitment: draw.commitment.clone(),
        seed: (!draw.open).then(|| draw.seed_hex.clone()),
        open: draw.open,
        opened_at_ms: draw.opened_at_ms,
        closes_at_ms: draw.closes_at_ms,
        closed_at_ms: draw.closed_at_ms,
        entrant_count,
        entrants,
        winners: winners.iter().map(|w| w.0.clone()).collect(),
        winner_names: winners
            .iter()
            .map(|w| crate::live::mask_name(&w.1))
            .collect(),
    })
}

/// Whether the session has this product (the prize orders' line refers to it).
pub async fn product_in_session(
    db: &Db,
    session_id: SessionId,
    product_id: ProductId,
) -> Result<bool> {
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM products WHERE id = $1 AND session_id = $2")
            .bind(product_id)
            .bind(session_id)
            .fetch_one(db.pool())
            .await?;
    Ok(n > 0)
}
