//! Live coupons and their claims (SQL only; the terms are `domain::coupon`, the claim gate
//! `buying::coupons`).

use shop_core::ids::{OrderId, SessionId, ShopperId};

use crate::{
    db::Db,
    domain::{
        coupon::{CouponDrop, CouponTerms, CouponValue},
        money::Fen,
    },
    error::{OptionExt, Result},
    model::{CouponView, LiveCoupon, MyCoupon},
};

/// A coupon as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CouponRow {
    pub id: i64,
    pub session_id: SessionId,
    pub terms: CouponTerms,
    pub quota: i64,
    pub claimed: i64,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    pub withdrawn_at_ms: Option<i64>,
}

impl CouponRow {
    /// Claimable and usable at `now`: not withdrawn, not expired.
    pub fn open_at(&self, now: i64) -> bool {
        self.withdrawn_at_ms.is_none() && now < self.expires_at_ms
    }

    pub fn to_live(&self, mine: Option<MyCoupon>) -> LiveCoupon {
        LiveCoupon {
            id: self.id,
            value: self.terms.value(),
            min_spend: self.terms.min_spend(),
            quota: self.quota,
            expires_at_ms: self.expires_at_ms,
            withdrawn: self.withdrawn_at_ms.is_some(),
            mine,
        }
    }
}

type Row = (i64, i64, String, i64, i64, i64, i64, i64, i64, Option<i64>);

const SELECT: &str =
    "SELECT id, session_id, kind, value, min_spend_fen, quota, claimed, created_at_ms,
        expires_at_ms, withdrawn_at_ms FROM coupons";

fn row(r: Row) -> Result<CouponRow> {
    let (id, session_id, kind, value, min_spend, quota, claimed, created, expires, withdrawn) = r;
    let value = match kind.as_str() {
        "percent" => CouponValue::PercentOff(u8::try_from(value).unwrap_or(0)),
        _ => CouponValue::AmountOff(Fen(value)),
    };
    let terms = CouponTerms::new(value, Fen(min_spend))
        .ok()
        .or_fault("a coupon with invalid terms stored")?;
    Ok(CouponRow {
        id,
        session_id: SessionId(session_id),
        terms,
        quota,
        claimed,
        created_at_ms: created,
        expires_at_ms: expires,
        withdrawn_at_ms: withdrawn,
    })
}

/// Stores a dropped coupon.
pub async fn insert(
    db: &Db,
    session_id: SessionId,
    drop: &CouponDrop,
    by_account: i64,
    now: i64,
) -> Result<CouponRow> {
    let (kind, value) = match drop.terms.value() {
        CouponValue::AmountOff(f) => ("amount", f.0),
        CouponValue::PercentOff(p) => ("percent", i64::from(p)),
    };
    let expires = now + drop.minutes * 60_000;
    let mut w = db.begin_write().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO coupons (session_id, kind, value, min_spend_fen, quota, created_by, created_at_ms, expires_at_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(session_id)
    .bind(kind)
    .bind(value)
    .bind(drop.terms.min_spend().0)
    .bind(drop.quota)
    .bind(by_account)
    .bind(now)
    .bind(expires)
    .fetch_one(&mut *w.tx)
    .await?;
    w.commit().await?;
    Ok(CouponRow {
        id,
        session_id,
        terms: drop.terms,
        quota: drop.quota,
        claimed: 0,
        created_at_ms: now,
        expires_at_ms: expires,
        withdrawn_at_ms: None,
    })
}

/// Withdraws a coupon of the session: `None` when there is no such coupon, the coupon with
/// `withdrawn_at_ms` unchanged when it was already withdrawn.
pub async fn withdraw(
    db: &Db,
    session_id: SessionId,
    coupon_id: i64,
    now: i64,
) -> Result<Option<(CouponRow, bool)>> {
    let mut w = db.begin_write().await?;
    let res = sqlx::query(
        "UPDATE coupons SET withdrawn_at_ms = $1 WHERE id = $2 AND session_id = $3 AND withdrawn_at_ms IS NULL",
    )
    .bind(now)
    .bind(coupon_id)
    .bind(session_id)
    .execute(&mut *w.tx)
    .await?;
    let found: Option<Row> = sqlx::query_as(&format!("{SELECT} WHERE id = $1 AND session_id = $2"))
        .bind(coupon_id)
        .bind(session_id)
        .fetch_optional(&mut *w.tx)
        .await?;
    w.commit().await?;
    found
        .map(|r| Ok((row(r)?, res.rows_affected() == 1)))
        .transpose()
}

/// The session's coupons, oldest first (withdrawn and expired ones included).
pub async fn of_session(db: &Db, session_id: SessionId) -> Result<Vec<CouponRow>> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "{SELECT} WHERE session_id = $1 ORDER BY created_at_ms, id"
    ))
    .bind(session_id)
    .fetch_all(db.pool())
    .await?;
    rows.into_iter().map(row).collect()
}

/// The studio's list: each coupon with its claims and the orders it was used on, newest first.
pub async fn studio_list(db: &Db, session_id: SessionId) -> Result<Vec<CouponView>> {
    let used: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT coupon_id, COUNT(*) FROM coupon_claims WHERE session_id = $1 AND order_id IS NOT NULL
          GROUP BY coupon_id",
    )
    .bind(session_id)
    .fetch_all(db.pool())
    .await?;
    let used: std::collections::HashMap<i64, i64> = used.into_iter().collect();
    let mut out: Vec<CouponView> = of_session(db, session_id)
        .await?
        .into_iter()
        .map(|c| CouponView {
            coupon: c.to_live(None),
            claimed: c.claimed,
            used: used.get(&c.id).copied().unwrap_or(0),
            created_at_ms: c.created_at_ms,
        })
        .collect();
    out.reverse();
    Ok(out)
}

/// Who claimed the coupon (to rebuild a gate).
pub async fn claimers(db: &Db, coupon_id: i64) -> Result<Vec<ShopperId>> {
    Ok(
        sqlx::query_scalar("SELECT shopper_id FROM coupon_claims WHERE coupon_id = $1")
            .bind(coupon_id)
            .fetch_all(db.pool())
            .await?,
    )
}

/// The shopper's claims in the session: (coupon, the order it was used on).
pub async fn mine(
    db: &Db,
    session_id: SessionId,
    shopper_id: ShopperId,
) -> Result<Vec<(i64, Option<OrderId>)>> {
    Ok(sqlx::query_as(
        "SELECT coupon_id, order_id FROM coupon_claims WHERE shopper_id = $1 AND session_id = $2",
    )
    .bind(shopper_id)
    .bind(session_id)
    .fetch_all(db.pool())
    .await?)
}

/// A claim the gate granted, for the writer.
#[derive(Debug, Clone, Copy)]
pub struct NewClaim {
    pub coupon_id: i64,
    pub session_id: SessionId,
    pub shopper_id: ShopperId,
    pub at_ms: i64,
}

/// What the database said about a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Claimed,
    /// The shopper already holds one (another node granted it, or a gate rebuilt too early).
    Duplicate,
    /// The quota is reached, or the coupon was withdrawn or expired meanwhile.
    Refused,
}

/// Writes claims in one transaction: each is inserted (one per shopper and coupon) and
/// counted against the coupon's quota with a guarded update, so the database never holds
/// more claims than the quota whatever a gate decided.
pub async fn write_claims(
    db: &Db,
    claims: &[NewClaim],
) -> std::result::Result<Vec<Written>, sqlx::Error> {
    let mut w = db.begin_write().await?;
    let mut out = Vec::with_capacity(claims.len());
    for c in claims {
        let inserted = sqlx::query(
            "INSERT INTO coupon_claims (coupon_id, shopper_id, session_id, claimed_at_ms) VALUES ($1, $2, $3, $4)
             ON CONFLICT (coupon_id, shopper_id) DO NOTHING",
        )
        .bind(c.coupon_id)
        .bind(c.shopper_id)
        .bind(c.session_id)
        .bind(c.at_ms)
        .execute(&mut *w.tx)
        .await?;
        if inserted.rows_affected() != 1 {
            out.push(Written::Duplicate);
            continue;
        }
        let counted = sqlx::query(
            "UPDATE coupons SET claimed = claimed + 1
              WHERE id = $1 AND claimed < quota AND withdrawn_at_ms IS NULL AND expires_at_ms > $2",
        )
        .bind(c.coupon_id)
        .bind(c.at_ms)
        .execute(&mut *w.tx)
        .await?;
        if counted.rows_affected() == 1 {
            out.push(Written::Claimed);
        } else {
            sqlx::query("DELETE FROM coupon_claims WHERE coupon_id = $1 AND shopper_id = $2")
                .bind(c.coupon_id)
                .bind(c.shopper_id)
                .execute(&mut *w.tx)
                .await?;
            out.push(Written::Refused);
        }
    }
    w.commit().await?;
    Ok(out)
}

/// The shopper's coupons in the session that an order may use now: claimed, unused, open.
pub async fn usable(
    db: &Db,
    session_id: SessionId,
    shopper_id: ShopperId,
    now: i64,
) -> Result<Vec<(i64, CouponTerms)>> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT c.id, c.session_id, c.kind, c.value, c.min_spend_fen, c.quota, c.claimed, c.created_at_ms,
                c.expires_at_ms, c.withdrawn_at_ms
           FROM coupon_claims k JOIN coupons c ON c.id = k.coupon_id
          WHERE k.shopper_id = $1 AND k.session_id = $2 AND k.order_id IS NULL
            AND c.withdrawn_at_ms IS NULL AND c.expires_at_ms > $3
          ORDER BY c.id",
    )
    .bind(shopper_id)
    .bind(session_id)
    .bind(now)
    .fetch_all(db.pool())
    .await?;
    rows.into_iter()
        .map(|r| row(r).map(|c| (c.id, c.terms)))
        .collect()
}
