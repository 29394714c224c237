//! Reservations, invites and the facts the discount rule reads.

use crate::error::{OptionExt, Result};
use crate::{
    crypto,
    db::Db,
    domain::{
        discount::{count, DiscountPolicy, ShopperFacts},
        session::{allows, Activity},
    },
    error::AppError,
    model::SessionStatus,
    now_ms,
};
use shop_core::ids::{ProductId, SessionId, ShopperId};

/// A session's status (a scheduled session in rehearsal is `Rehearsal`), or `NotFound`. What
/// shoppers are shown goes through `SessionStatus::public`, or reads the column itself.
pub async fn session_status(db: &Db, session_id: SessionId) -> Result<SessionStatus> {
    let row: Option<(String, i64)> =
        sqlx::query_as("SELECT status, rehearsal FROM live_sessions WHERE id = $1")
            .bind(session_id)
            .fetch_optional(db.pool())
            .await?;
    let (s, rehearsal) =
        row.ok_or_else(|| AppError::not_found("This live session does not exist."))?;
    let status = SessionStatus::parse(&s).or_fault("an unknown session status in the database")?;
    Ok(if status == SessionStatus::Scheduled && rehearsal != 0 {
        SessionStatus::Rehearsal
    } else {
        status
    })
}

/// The session's status when it allows `activity` (`domain::session`), else the 409 that
/// explains why not; `NotFound` for an unknown session.
pub async fn require(db: &Db, session_id: SessionId, activity: Activity) -> Result<SessionStatus> {
    let status = session_status(db, session_id).await?;
    allows(status, activity)?;
    Ok(status)
}

pub async fn policy(db: &Db, session_id: SessionId) -> Result<DiscountPolicy> {
    let row: Option<PolicyRow> = sqlx::query_as(
        "SELECT percent_off, friends_needed, units_per_shopper, units_cap, purchase_limit,
                verified_phone_required
           FROM discount_policies WHERE session_id = $1",
    )
    .bind(session_id)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.map(to_policy).unwrap_or_default())
}

/// A `discount_policies` row: percent, friends needed, units per shopper, cap, purchase
/// limit, verified phone required.
pub type PolicyRow = (i64, i64, i64, Option<i64>, i64, i64);

pub fn to_policy((pct, friends, per_shopper, cap, limit, phone): PolicyRow) -> DiscountPolicy {
    DiscountPolicy {
        percent_off: u8::try_from(pct.clamp(1, 100)).unwrap_or(50),
        friends_needed: count(friends),
        units_per_shopper: count(per_shopper),
        units_cap: cap.map(count),
        purchase_limit: count(limit),
        verified_phone_required: phone != 0,
    }
}

/// Reserves a seat. Reserving twice is harmless (returns `false` the second time); an ended
/// session refuses.
pub async fn reserve(db: &Db, session_id: SessionId, shopper_id: ShopperId) -> Result<bool> {
    require(db, session_id, Activity::Reserve).await?;
    let res = sqlx::query(
        "INSERT INTO reservations (session_id, shopper_id, created_at_ms) VALUES ($1, $2, $3)
         ON CONFLICT (session_id, shopper_id) DO NOTHING",
    )
    .bind(session_id)
    .bind(shopper_id)
    .bind(now_ms())
    .execute(db.pool())
    .await?;
    Ok(res.rows_affected() == 1)
}

pub async fn reservation_count(db: &Db, session_id: SessionId) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM reservations WHERE session_id = $1")
            .bind(session_id)
            .fetch_one(db.pool())
            .await?,
    )
}

pub async fn has_reserved(db: &Db, session_id: SessionId, shopper_id: ShopperId) -> Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM reservations WHERE session_id = $1 AND shopper_id = $2",
    )
    .bind(session_id)
    .bind(shopper_id)
    .fetch_one(db.pool())
    .await?;
    Ok(n > 0)
}

#[derive(Debug, Clone)]
pub struct Invite {
    pub id: i64,
    pub code: String,
    pub session_id: SessionId,
    pub inviter_id: ShopperId,
    pub inviter_nickname: String,
}

/// The shopper's invite for the session, minted on first request. Only shoppers who reserved
/// may invite; ended sessions mint nothing.
pub async fn create_or_get_invite(
    db: &Db,
    session_id: SessionId,
    shopper_id: ShopperId,
) -> Result<Invite> {
    require(db, session_id, Activity::CreateInvite).await?;
    if !has_reserved(db, session_id, shopper_id).await? {
        return Err(AppError::Forbidden(
            "Reserve a seat first: only shoppers who reserved can invite friends.".into(),
        )
        .into());
    }
    if let Some(inv) = own_invite(db, session_id, shopper_id).await? {
        return Ok(inv);
    }
    // 96 random bits: unguessable, and short enough for a QR code.
    let code = crypto::random_token::<12>()?;
    sqlx::query(
        "INSERT INTO invites (code, session_id, inviter_id, created_at_ms) VALUES ($1, $2, $3, $4)
         ON CONFLICT (session_id, inviter_id) DO NOTHING",
    )
    .bind(&code)
    .bind(session_id)
    .bind(shopper_id)
    .bind(now_ms())
    .execute(db.pool())
    .await?;
    // A concurrent request may have created it first; either way there is exactly one.
    own_invite(db, session_id, shopper_id)
        .await?
        .or_fault("the invite just written is missing")
}

type InviteRow = (i64, String, SessionId, ShopperId, String);

fn to_invite((id, code, session_id, inviter_id, inviter_nickname): InviteRow) -> Invite {
    Invite {
        id,
        code,
        session_id,
        inviter_id,
        inviter_nickname,
    }
}

const INVITE_SELECT: &str = "SELECT i.id, i.code, i.session_id, i.inviter_id, s.nickname
                               FROM invites i JOIN shoppers s ON s.id = i.inviter_id";

pub async fn own_invite(
    db: &Db,
    session_id: SessionId,
    shopper_id: ShopperId,
) -> Result<Option<Invite>> {
    let row: Option<InviteRow> = sqlx::query_as(&format!(
        "{INVITE_SELECT} WHERE i.session_id = $1 AND i.inviter_id = $2"
    ))
    .bind(session_id)
    .bind(shopper_id)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.map(to_invite))
}

/// An invite by code; `NotFound` for codes we never issued.
pub async fn invite_by_code(db: &Db, code: &str) -> Result<Invite> {
    let not_found = || AppError::not_found("This invite link is not valid.");
    if code.is_empty() || code.len() > 64 {
        return Err(not_found().into());
    }
    let row: Option<InviteRow> = sqlx::query_as(&format!("{INVITE_SELECT} WHERE i.code = $1"))
        .bind(code)
        .fetch_optional(db.pool())
        .await?;
    Ok(row.map(to_invite).ok_or_else(not_found)?)
}

/// Joins (reserves) the session through an invite. The rules, each enforced here:
/// no self-invite; invites stop working when the session ends; only a shopper new to the
/// session is credited to the invite (one who had already reserved, or joined through another
/// invite, keeps what they had: two shoppers who both reserved cannot make each other
/// "friends" by joining each other's invites); joining twice is harmless.
/// Returns the invite the reservation is attributed to (`None`, or an earlier invite, when
/// this join did not count).
pub async fn join_via_invite(
    db: &Db,
    invite: &Invite,
    shopper_id: ShopperId,
) -> Result<Option<i64>> {
    if invite.inviter_id == shopper_id {
        return Err(AppError::bad_request(
            "This is your own invite: share it with friends instead.",
        )
        .into());
    }
    require(db, invite.session_id, Activity::JoinInvite).await?;
    let now = now_ms();
    sqlx::query(
        "INSERT INTO reservations (session_id, shopper_id, invite_id, created_at_ms, joined_at_ms)
         VALUES ($1, $2, $3, $4, $4)
         ON CONFLICT (session_id, shopper_id) DO NOTHING",
    )
    .bind(invite.session_id)
    .bind(shopper_id)
    .bind(invite.id)
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(sqlx::query_scalar(
        "SELECT invite_id FROM reservations WHERE session_id = $1 AND shopper_id = $2",
    )
    .bind(invite.session_id)
    .bind(shopper_id)
    .fetch_one(db.pool())
    .await?)
}

/// Everything the eligibility rule needs about a shopper in a session, in one query.
pub async fn shopper_facts(
    db: &Db,
    session_id: SessionId,
    shopper_id: ShopperId,
) -> Result<ShopperFacts> {
    // (invite joined through, its inviter's nickname, own invite, friends joined, friends
    // verified, phones)
    type Row = (Option<i64>, Option<String>, Option<i64>, i64, i64, i64);
    let row: Option<Row> = sqlx::query_as(
        "SELECT r.invite_id, s.nickname,
                (SELECT o.id FROM invites o WHERE o.session_id = $1 AND o.inviter_id = $2),
                (SELECT COUNT(*) FROM reservations f JOIN invites o ON o.id = f.invite_id
                  WHERE o.session_id = $1 AND o.inviter_id = $2),
                (SELECT COUNT(p.phone) FROM reservations f JOIN invites o ON o.id = f.invite_id
                   JOIN shopper_phones p ON p.shopper_id = f.shopper_id
                  WHERE o.session_id = $1 AND o.inviter_id = $2),
                (SELECT COUNT(*) FROM shopper_phones p WHERE p.shopper_id = $2)
           FROM reservations r
           LEFT JOIN invites i ON i.id = r.invite_id
           LEFT JOIN shoppers s ON s.id = i.inviter_id
          WHERE r.session_id = $1 AND r.shopper_id = $2",
    )
    .bind(session_id)
    .bind(shopper_id)
    .fetch_optional(db.pool())
    .await?;
    let Some((joined_invite, inviter, own_invite, friends, verified, phones)) = row else {
        return Ok(ShopperFacts::default());
    };
    Ok(ShopperFacts {
        reserved: true,
        joined_via: joined_invite.zip(inviter),
        own_invite,
        friends_joined: count(friends),
        verified_friends: count(verified),
        phone_verified: phones > 0,
    })
}

/// Per product of a session: (product id, price, stock, presented, discounted units so far,
/// units this shopper bought, discounted units this shopper got).
pub type OfferRow = (
    ProductId,
    i64,
    i64,
    Option<i64>,
    i64,
    Option<i64>,
    Option<i64>,
);

pub async fn offer_rows(
    db: &Db,
    session_id: SessionId,
    shopper_id: ShopperId,
) -> Result<Vec<OfferRow>> {
    Ok(sqlx::query_as(
        "SELECT p.id, p.price_fen, p.stock, p.presented_at_ms, p.discounted_units, c.units, c.discounted_units
           FROM products p
           LEFT JOIN purchase_counters c ON c.product_id = p.id AND c.shopper_id = $2
          WHERE p.session_id = $1
          ORDER BY p.position, p.id",
    )
    .bind(session_id)
    .bind(shopper_id)
    .fetch_all(db.pool())
    .await?)
}

pub async fn current_product(db: &Db, session_id: SessionId) -> Result<Option<ProductId>> {
    Ok(
        sqlx::query_scalar("SELECT current_product_id FROM live_sessions WHERE id = $1")
            .bind(session_id)
            .fetch_optional(db.pool())
            .await?
            .flatten(),
    )
}

/// `shopper_facts` for several shoppers of one session at once (two queries): a flash sale's
/// winners on several nodes are read in batches rather than one round trip each. Shoppers who
/// did not reserve get the default (not reserved). At most a few hundred ids per call.
pub async fn shoppers_facts(
    db: &Db,
    session_id: SessionId,
    shopper_ids: &[ShopperId],
) -> Result<std::collections::HashMap<ShopperId, ShopperFacts>> {
    use std::collections::HashMap;
    if shopper_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let list: Vec<String> = (0..shopper_ids.len())
        .map(|i| format!("${}", i + 2))
        .collect();
    let list = list.join(", ");
    let sql = format!(
        "SELECT r.shopper_id, r.invite_id, s.nickname,
                (SELECT COUNT(*) FROM shopper_phones p WHERE p.shopper_id = r.shopper_id)
           FROM reservations r
           LEFT JOIN invites i ON i.id = r.invite_id
           LEFT JOIN shoppers s ON s.id = i.inviter_id
          WHERE r.session_id = $1 AND r.shopper_id IN ({list})"
    );
    let mut q = sqlx::query_as::<_, ReservationRow>(&sql).bind(session_id);
    for id in shopper_ids {
        q = q.bind(*id);
    }
    let reservations = q.fetch_all(db.pool()).await?;
    let sql = format!(
        "SELECT i.inviter_id, i.id, COUNT(r.shopper_id), COUNT(p.phone)
           FROM invites i
           LEFT JOIN reservations r ON r.invite_id = i.id
           LEFT JOIN shopper_phones p ON p.shopper_id = r.shopper_id
          WHERE i.session_id = $1 AND i.inviter_id IN ({list})
          GROUP BY i.inviter_id, i.id"
    );
    let mut q = sqlx::query_as::<_, OwnInviteRow>(&sql).bind(session_id);
    for id in shopper_ids {
        q = q.bind(*id);
    }
    let invites = q.fetch_all(db.pool()).await?;
    let mut facts: HashMap<ShopperId, ShopperFacts> = shopper_ids
        .iter()
        .map(|id| (*id, ShopperFacts::default()))
        .collect();
    facts.extend(assemble_facts(reservations, invites));
    Ok(facts)
}

/// Reservations: (shopper, invite joined through, its inviter's nickname, phones);
/// invites: (inviter, invite, friends joined, friends verified).
type ReservationRow = (ShopperId, Option<i64>, Option<String>, i64);
type OwnInviteRow = (ShopperId, i64, i64, i64);

/// Facts of the reserved shoppers from their reservations and the invites they own.
fn assemble_facts(
    reservations: Vec<ReservationRow>,
    invites: Vec<OwnInviteRow>,
) -> impl Iterator<Item = (ShopperId, ShopperFacts)> {
    let own: std::collections::HashMap<ShopperId, (i64, i64, i64)> = invites
        .into_iter()
        .map(|(inviter, id, friends, verified)| (inviter, (id, friends, verified)))
        .collect();
    reservations
        .into_iter()
        .map(move |(shopper, invite, inviter_name, phones)| {
            let own = own.get(&shopper).copied();
            let facts = ShopperFacts {
                reserved: true,
                joined_via: invite.zip(inviter_name),
                own_invite: own.map(|o| o.0),
                friends_joined: own.map_or(0, |o| count(o.1)),
                verified_friends: own.map_or(0, |o| count(o.2)),
                phone_verified: phones > 0,
            };
            (shopper, facts)
        })
}

pub async fn session_facts(
    db: &Db,
    session_id: SessionId,
) -> Result<std::collections::HashMap<ShopperId, ShopperFacts>> {
    let reservations: Vec<ReservationRow> = sqlx::query_as(
        "SELECT r.shopper_id, r.invite_id, s.nickname,
                (SELECT COUNT(*) FROM shopper_phones p WHERE p.shopper_id = r.shopper_id)
           FROM reservations r
           LEFT JOIN invites i ON i.id = r.invite_id
           LEFT JOIN shoppers s ON s.id = i.inviter_id
          WHERE r.session_id = $1",
    )
    .bind(session_id)
    .fetch_all(db.pool())
    .await?;
    let invites: Vec<OwnInviteRow> = sqlx::query_as(
        "SELECT i.inviter_id, i.id, COUNT(r.shopper_id), COUNT(p.phone)
           FROM invites i
           LEFT JOIN reservations r ON r.invite_id = i.id
           LEFT JOIN shopper_phones p ON p.shopper_id = r.shopper_id
          WHERE i.session_id = $1
          GROUP BY i.inviter_id, i.id",
    )
    .bind(session_id)
    .fetch_all(db.pool())
    .await?;
    Ok(assemble_facts(reservations, invites).collect())
}
