//! Reminders (SQL only; the rules are `domain::reminder`, the sending `reminders`).
//!
//! Fan-outs are claimed by one node with a guarded update of the session row in the
//! transaction that writes the reminders, and the reminders' unique key makes a repeat
//! harmless. Due reminders are claimed in batches: `FOR UPDATE SKIP LOCKED` on PostgreSQL
//! (nodes take disjoint batches), the process's writer lock on SQLite (one process).

use shop_core::ids::{SessionId, ShopperId};

use crate::{
    db::{Db, DbKind},
    domain::reminder::{Channel, Channels, ReminderKind, ReminderState},
    error::Result,
};

/// The shopper's channels and the language they chose them in (none chosen: `None`).
pub async fn channels(db: &Db, shopper_id: ShopperId) -> Result<Option<(Channels, String)>> {
    let row: Option<(i64, i64, i64, String)> = sqlx::query_as(
        "SELECT web_push, wechat, sms, locale FROM reminder_channels WHERE shopper_id = $1",
    )
    .bind(shopper_id)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.map(|(w, c, s, locale)| {
        (
            Channels {
                web_push: w == 1,
                wechat: c == 1,
                sms: s == 1,
            },
            locale,
        )
    }))
}

pub async fn set_channels(
    db: &Db,
    shopper_id: ShopperId,
    ch: Channels,
    locale: &str,
    now_ms: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO reminder_channels (shopper_id, web_push, wechat, sms, locale, updated_at_ms)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (shopper_id) DO UPDATE SET web_push = excluded.web_push,
             wechat = excluded.wechat, sms = excluded.sms, locale = excluded.locale,
             updated_at_ms = excluded.updated_at_ms",
    )
    .bind(shopper_id)
    .bind(i64::from(ch.web_push))
    .bind(i64::from(ch.wechat))
    .bind(i64::from(ch.sms))
    .bind(locale)
    .bind(now_ms)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Stops every reminder of the shopper that has not gone yet, and every channel.
pub async fn unsubscribe(db: &Db, shopper_id: ShopperId, now_ms: i64) -> Result<()> {
    let mut w = db.begin_write().await?;
    sqlx::query(
        "UPDATE reminder_channels SET web_push = 0, wechat = 0, sms = 0, updated_at_ms = $2
          WHERE shopper_id = $1",
    )
    .bind(shopper_id)
    .bind(now_ms)
    .execute(&mut *w.tx)
    .await?;
    sqlx::query(
        "UPDATE reminders SET state = 'cancelled', lease_until_ms = NULL
          WHERE shopper_id = $1 AND state = 'due'",
    )
    .bind(shopper_id)
    .execute(&mut *w.tx)
    .await?;
    w.commit().await?;
    Ok(())
}

/// Who a channel reaches among a session's reservers: chose it, and has the means.
fn reach(channel: Channel) -> &'static str {
    match channel {
        Channel::WebPush => {
            "c.web_push = 1 AND EXISTS (SELECT 1 FROM push_subscriptions p WHERE p.shopper_id = r.shopper_id)"
        }
        // A one-time grant per message (`wx-open-subscribe`); none are recorded yet, so none.
        Channel::Wechat => "c.wechat = 1 AND 1 = 0",
        Channel::Sms => {
            "c.sms = 1 AND EXISTS (SELECT 1 FROM shopper_phones p WHERE p.shopper_id = r.shopper_id)"
        }
    }
}

/// Writes one reminder per reserver and channel they can be reached on (a repeat is
/// ignored). Returns how many were written.
async fn fan_out(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    session_id: SessionId,
    kind: ReminderKind,
    occasion_ms: i64,
    due_at_ms: i64,
) -> Result<u64> {
    let mut n = 0;
    for channel in Channel::ALL {
        let sql = format!(
            "INSERT INTO reminders (session_id, shopper_id, kind, channel, occasion_ms, due_at_ms, state, created_at_ms)
             SELECT r.session_id, r.shopper_id, $2, $3, $4, $5, 'due', $5
               FROM reservations r JOIN reminder_channels c ON c.shopper_id = r.shopper_id
              WHERE r.session_id = $1 AND {}
             ON CONFLICT (session_id, shopper_id, kind, channel, occasion_ms) DO NOTHING",
            reach(channel)
        );
        n += sqlx::query(&sql)
            .bind(session_id)
            .bind(kind.as_str())
            .bind(channel.as_str())
            .bind(occasion_ms)
            .bind(due_at_ms)
            .execute(&mut **tx)
            .await?
            .rows_affected();
    }
    Ok(n)
}

/// Sessions whose "live now" has not been fanned out.
pub async fn live_to_fan_out(db: &Db) -> Result<Vec<SessionId>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM live_sessions WHERE status = 'live' AND reminders_live_at_ms IS NULL",
    )
    .fetch_all(db.pool())
    .await?)
}

/// Fans "live now" out for a session, unless another node did: `None` then.
pub async fn fan_out_live(db: &Db, session_id: SessionId, now_ms: i64) -> Result<Option<u64>> {
    let mut w = db.begin_write().await?;
    let claimed = sqlx::query(
        "UPDATE live_sessions SET reminders_live_at_ms = $2
          WHERE id = $1 AND status = 'live' AND reminders_live_at_ms IS NULL",
    )
    .bind(session_id)
    .bind(now_ms)
    .execute(&mut *w.tx)
    .await?
    .rows_affected();
    if claimed == 0 {
        return Ok(None);
    }
    // Nothing about the start is worth sending once the session is live.
    sqlx::query(
        "UPDATE reminders SET state = 'cancelled' WHERE session_id = $1 AND state = 'due'
            AND kind IN ('soon', 'moved')",
    )
    .bind(session_id)
    .execute(&mut *w.tx)
    .await?;
    let n = fan_out(&mut w.tx, session_id, ReminderKind::Live, 0, now_ms).await?;
    w.commit().await?;
    Ok(Some(n))
}

/// Scheduled sessions whose "starts soon" time has come and that were not fanned out for
/// their current start: (session, start, lead minutes).
pub async fn soon_to_fan_out(db: &Db, now_ms: i64) -> Result<Vec<(SessionId, i64, i64)>> {
    Ok(sqlx::query_as(
        "SELECT id, scheduled_start_ms, reminder_lead_minutes FROM live_sessions
          WHERE status = 'scheduled' AND reminder_lead_minutes > 0
            AND scheduled_start_ms > $1 AND scheduled_start_ms - reminder_lead_minutes * 60000 <= $1
            AND (reminders_soon_for_ms IS NULL OR reminders_soon_for_ms <> scheduled_start_ms)",
    )
    .bind(now_ms)
    .fetch_all(db.pool())
    .await?)
}

/// Fans "starts soon" out for a session starting at `start_ms`, unless another node did or
/// the start moved meanwhile: `None` then.
pub async fn fan_out_soon(
    db: &Db,
    session_id: SessionId,
    start_ms: i64,
    now_ms: i64,
) -> Result<Option<u64>> {
    let mut w = db.begin_write().await?;
    let claimed = sqlx::query(
        "UPDATE live_sessions SET reminders_soon_for_ms = $2
          WHERE id = $1 AND status = 'scheduled' AND scheduled_start_ms = $2
            AND (reminders_soon_for_ms IS NULL OR reminders_soon_for_ms <> $2)",
    )
    .bind(session_id)
    .bind(start_ms)
    .execute(&mut *w.tx)
    .await?
    .rows_affected();
    if claimed == 0 {
        return Ok(None);
    }
    let n = fan_out(&mut w.tx, session_id, ReminderKind::Soon, start_ms, now_ms).await?;
    w.commit().await?;
    Ok(Some(n))
}

/// Scheduled sessions whose start moved and whose reservers were not told: (session, start).
pub async fn moved_to_fan_out(db: &Db) -> Result<Vec<(SessionId, i64)>> {
    Ok(sqlx::query_as(
        "SELECT id, reminders_moved_to_ms FROM live_sessions
          WHERE status = 'scheduled' AND reminders_moved_to_ms IS NOT NULL",
    )
    .fetch_all(db.pool())
    .await?)
}

/// After a reschedule to `start_ms`: "moved to …" for every reachable reserver, and the
/// reminders about the old start that have not gone are cancelled; `None` when another node
/// did it (or the start moved again meanwhile: that move is told instead).
pub async fn fan_out_moved(
    db: &Db,
    session_id: SessionId,
    start_ms: i64,
    now_ms: i64,
) -> Result<Option<u64>> {
    let mut w = db.begin_write().await?;
    let claimed = sqlx::query(
        "UPDATE live_sessions SET reminders_moved_to_ms = NULL
          WHERE id = $1 AND reminders_moved_to_ms = $2 AND scheduled_start_ms = $2",
    )
    .bind(session_id)
    .bind(start_ms)
    .execute(&mut *w.tx)
    .await?
    .rows_affected();
    if claimed == 0 {
        return Ok(None);
    }
    sqlx::query(
        "UPDATE reminders SET state = 'cancelled' WHERE session_id = $1 AND state = 'due'
            AND kind IN ('soon', 'moved') AND occasion_ms <> $2",
    )
    .bind(session_id)
    .bind(start_ms)
    .execute(&mut *w.tx)
    .await?;
    let n = fan_out(&mut w.tx, session_id, ReminderKind::Moved, start_ms, now_ms).await?;
    w.commit().await?;
    Ok(Some(n))
}

/// A claimed reminder with what sending it needs.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: i64,
    pub session_id: SessionId,
    pub shopper_id: ShopperId,
    pub kind: ReminderKind,
    pub channel: Channel,
    pub occasion_ms: i64,
    pub due_at_ms: i64,
    /// Tries so far, this one included.
    pub attempts: u32,
}

type ClaimRow = (i64, SessionId, ShopperId, String, String, i64, i64, i64);

/// Claims up to `max` reminders due at `now_ms` (or whose claim's lease ran out: their node
/// died mid-send) for `node`, for `lease_ms`.
pub async fn claim_due(
    db: &Db,
    node: &str,
    now_ms: i64,
    lease_ms: i64,
    max: i64,
) -> Result<Vec<Claimed>> {
    let lock = match db.kind() {
        DbKind::Postgres => "FOR UPDATE SKIP LOCKED",
        DbKind::Sqlite => "",
    };
    let sql = format!(
        "UPDATE reminders SET state = 'sending', attempts = attempts + 1, lease_until_ms = $2, claimed_by = $3
          WHERE id IN (SELECT id FROM reminders
                        WHERE (state = 'due' AND due_at_ms <= $1) OR (state = 'sending' AND lease_until_ms < $1)
                        ORDER BY due_at_ms LIMIT $4 {lock})
         RETURNING id, session_id, shopper_id, kind, channel, occasion_ms, due_at_ms, attempts"
    );
    let mut w = db.begin_write().await?;
    let rows: Vec<ClaimRow> = sqlx::query_as(&sql)
        .bind(now_ms)
        .bind(now_ms + lease_ms)
        .bind(node)
        .bind(max)
        .fetch_all(&mut *w.tx)
        .await?;
    w.commit().await?;
    Ok(rows
        .into_iter()
        .filter_map(
            |(id, session_id, shopper_id, kind, channel, occasion_ms, due_at_ms, attempts)| {
                Some(Claimed {
                    id,
                    session_id,
                    shopper_id,
                    kind: ReminderKind::parse(&kind)?,
                    channel: Channel::parse(&channel)?,
                    occasion_ms,
                    due_at_ms,
                    attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                })
            },
        )
        .collect())
}

/// What a reminder's text needs about its session and shopper.
#[derive(Debug, Clone)]
pub struct SendFacts {
    pub title: String,
    pub status: String,
    pub scheduled_start_ms: i64,
    pub time_zone: String,
    pub locale: String,
    pub phone: Option<String>,
}

pub async fn send_facts(db: &Db, r: &Claimed) -> Result<Option<SendFacts>> {
    let row: Option<(String, String, i64, String, Option<String>, Option<String>)> =
        sqlx::query_as(
            "SELECT s.title, s.status, s.scheduled_start_ms, s.time_zone,
                (SELECT c.locale FROM reminder_channels c WHERE c.shopper_id = $2),
                (SELECT p.phone FROM shopper_phones p WHERE p.shopper_id = $2)
           FROM live_sessions s WHERE s.id = $1",
        )
        .bind(r.session_id)
        .bind(r.shopper_id)
        .fetch_optional(db.pool())
        .await?;
    Ok(row.map(
        |(title, status, scheduled_start_ms, time_zone, locale, phone)| SendFacts {
            title,
            status,
            scheduled_start_ms,
            time_zone,
            locale: locale.unwrap_or_else(|| "zh-CN".into()),
            phone,
        },
    ))
}

/// Keeps a browser's push subscription for the shopper (the endpoint is the browser's: a
/// subscription that moves to another shopper, after a sign-in by number, moves with it).
pub async fn save_push_subscription(
    db: &Db,
    shopper_id: ShopperId,
    endpoint: &str,
    p256dh: &str,
    auth: &str,
    now_ms: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO push_subscriptions (shopper_id, endpoint, p256dh, auth, created_at_ms)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (endpoint) DO UPDATE SET shopper_id = excluded.shopper_id,
             p256dh = excluded.p256dh, auth = excluded.auth",
    )
    .bind(shopper_id)
    .bind(endpoint)
    .bind(p256dh)
    .bind(auth)
    .bind(now_ms)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Forgets a push subscription (the push service said it is gone, or its browser
/// unsubscribed); `shopper_id` limits it to that shopper's.
pub async fn delete_push_subscription(
    db: &Db,
    endpoint: &str,
    shopper_id: Option<ShopperId>,
) -> Result<bool> {
    let n = sqlx::query(
        "DELETE FROM push_subscriptions WHERE endpoint = $1 AND ($2 IS NULL OR shopper_id = $2)",
    )
    .bind(endpoint)
    .bind(shopper_id)
    .execute(db.pool())
    .await?
    .rows_affected();
    Ok(n > 0)
}

/// The shopper's push subscriptions: (endpoint, p256dh, auth).
pub async fn push_subscriptions(
    db: &Db,
    shopper_id: ShopperId,
) -> Result<Vec<(String, String, String)>> {
    Ok(sqlx::query_as(
        "SELECT endpoint, p256dh, auth FROM push_subscriptions WHERE shopper_id = $1 ORDER BY id",
    )
    .bind(shopper_id)
    .fetch_all(db.pool())
    .await?)
}

/// Records a try's end, if this node still holds the claim (`false`: its lease ran out and
/// another node took the reminder).
pub async fn finish(
    db: &Db,
    id: i64,
    node: &str,
    state: ReminderState,
    next_try_ms: Option<i64>,
    error: Option<&str>,
    now_ms: i64,
) -> Result<bool> {
    let mut w = db.begin_write().await?;
    let done = sqlx::query(
        "UPDATE reminders SET state = $3, due_at_ms = COALESCE($4, due_at_ms), lease_until_ms = NULL,
                last_error = $5, sent_at_ms = CASE WHEN $3 = 'sent' THEN $6 ELSE sent_at_ms END
          WHERE id = $1 AND claimed_by = $2 AND state = 'sending'",
    )
    .bind(id)
    .bind(node)
    .bind(state.as_str())
    .bind(next_try_ms)
    .bind(error)
    .bind(now_ms)
    .execute(&mut *w.tx)
    .await?
    .rows_affected();
    w.commit().await?;
    Ok(done == 1)
}

/// The reminder a link names: (session, shopper).
pub async fn of_link(db: &Db, id: i64) -> Result<Option<(SessionId, ShopperId)>> {
    Ok(
        sqlx::query_as("SELECT session_id, shopper_id FROM reminders WHERE id = $1")
            .bind(id)
            .fetch_optional(db.pool())
            .await?,
    )
}

/// The first open of a reminder's link.
pub async fn opened(db: &Db, id: i64, now_ms: i64) -> Result<()> {
    sqlx::query("UPDATE reminders SET opened_at_ms = $2 WHERE id = $1 AND opened_at_ms IS NULL")
        .bind(id)
        .bind(now_ms)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Per channel and state: (channel, state, count), and opened per channel.
pub async fn session_counts(
    db: &Db,
    session_id: SessionId,
) -> Result<(Vec<(String, String, i64)>, Vec<(String, i64)>)> {
    let by_state = sqlx::query_as(
        "SELECT channel, state, COUNT(*) FROM reminders WHERE session_id = $1 GROUP BY channel, state",
    )
    .bind(session_id)
    .fetch_all(db.pool())
    .await?;
    let opened = sqlx::query_as(
        "SELECT channel, COUNT(*) FROM reminders WHERE session_id = $1 AND opened_at_ms IS NOT NULL
          GROUP BY channel",
    )
    .bind(session_id)
    .fetch_all(db.pool())
    .await?;
    Ok((by_state, opened))
}
