//! Verified mobile numbers and one-time codes (SQL only; the rules are in `phone`).

use crate::error::Result;
use crate::{db::Db, domain::phone::Phone};
use shop_core::ids::ShopperId;

/// This shopper's verified number.
pub async fn verified_phone(db: &Db, shopper_id: ShopperId) -> Result<Option<Phone>> {
    let phone: Option<String> =
        sqlx::query_scalar("SELECT phone FROM shopper_phones WHERE shopper_id = $1")
            .bind(shopper_id)
            .fetch_optional(db.pool())
            .await?;
    Ok(phone.map(Phone::from_stored))
}

/// Keeps `code_hash` as the number's current code (replacing an earlier one, attempts reset).
pub async fn store_code(
    db: &Db,
    phone: &Phone,
    code_hash: &str,
    expires_at_ms: i64,
    now_ms: i64,
) -> Result<()> {
    let mut w = db.begin_write().await?;
    sqlx::query(
        "INSERT INTO phone_codes (phone, code_hash, expires_at_ms, attempts, created_at_ms)
         VALUES ($1, $2, $3, 0, $4)
         ON CONFLICT (phone) DO UPDATE SET code_hash = excluded.code_hash,
             expires_at_ms = excluded.expires_at_ms, attempts = 0, created_at_ms = excluded.created_at_ms",
    )
    .bind(phone.as_str())
    .bind(code_hash)
    .bind(expires_at_ms)
    .bind(now_ms)
    .execute(&mut *w.tx)
    .await?;
    w.commit().await?;
    Ok(())
}

/// The outcome of trying a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    Matched,
    Wrong {
        attempts_left: i64,
    },
    /// No code was sent to this number, it was used, or it expired.
    NoValidCode,
    /// Too many wrong attempts: a new code is needed.
    Locked,
}

/// Tries a code for a number: counts the attempt, and uses the code up when it matches. One
/// transaction, so parallel guesses cannot get more than `max_attempts` tries.
pub async fn check_code(
    db: &Db,
    phone: &Phone,
    matches: impl Fn(&str) -> bool,
    max_attempts: i64,
    now_ms: i64,
) -> Result<CodeCheck> {
    let mut w = db.begin_write().await?;
    // Counting the attempt first (and locking the row on PostgreSQL) serialises guesses.
    let row: Option<(String, i64, i64)> = sqlx::query_as(
        "UPDATE phone_codes SET attempts = attempts + 1 WHERE phone = $1
         RETURNING code_hash, expires_at_ms, attempts",
    )
    .bind(phone.as_str())
    .fetch_optional(&mut *w.tx)
    .await?;
    let Some((hash, expires_at_ms, attempts)) = row else {
        return Ok(CodeCheck::NoValidCode);
    };
    let outcome = if expires_at_ms <= now_ms {
        CodeCheck::NoValidCode
    } else if attempts > max_attempts {
        CodeCheck::Locked
    } else if matches(&hash) {
        CodeCheck::Matched
    } else {
        CodeCheck::Wrong {
            attempts_left: max_attempts - attempts,
        }
    };
    if matches!(outcome, CodeCheck::Matched | CodeCheck::NoValidCode) {
        // Used or expired: gone.
        sqlx::query("DELETE FROM phone_codes WHERE phone = $1")
            .bind(phone.as_str())
            .execute(&mut *w.tx)
            .await?;
    }
    w.commit().await?;
    Ok(outcome)
}

/// Gives `shopper_id` the verified number. Returns the shopper the number belongs to: this
/// one, or another shopper who verified it first (the caller then signs in as them).
pub async fn bind(db: &Db, phone: &Phone, shopper_id: ShopperId, now_ms: i64) -> Result<ShopperId> {
    let mut w = db.begin_write().await?;
    let owner: Option<ShopperId> =
        sqlx::query_scalar("SELECT shopper_id FROM shopper_phones WHERE phone = $1")
            .bind(phone.as_str())
            .fetch_optional(&mut *w.tx)
            .await?;
    if let Some(owner) = owner {
        return Ok(owner);
    }
    // A shopper has one number: verifying a new one replaces the old.
    sqlx::query("DELETE FROM shopper_phones WHERE shopper_id = $1")
        .bind(shopper_id)
        .execute(&mut *w.tx)
        .await?;
    let inserted = sqlx::query(
        "INSERT INTO shopper_phones (phone, shopper_id, verified_at_ms) VALUES ($1, $2, $3)",
    )
    .bind(phone.as_str())
    .bind(shopper_id)
    .bind(now_ms)
    .execute(&mut *w.tx)
    .await;
    match inserted {
        Ok(_) => {
            w.commit().await?;
            Ok(shopper_id)
        }
        // Someone verified the same number at the same moment: theirs it is.
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            drop(w);
            let owner: ShopperId =
                sqlx::query_scalar("SELECT shopper_id FROM shopper_phones WHERE phone = $1")
                    .bind(phone.as_str())
                    .fetch_one(db.pool())
                    .await?;
            Ok(owner)
        }
        Err(e) => Err(e.into()),
    }
}

/// Moves what an anonymous shopper did on this browser (`from`) to the shopper a verified
/// number signed them in as (`into`): reservations and invites for sessions `into` has none
/// for, friends who joined through `from`'s other invites, orders, purchase counters (added
/// up) and chat mutes. One transaction. `from`'s invites that `into` could not take stay (old
/// links keep working, and order lines may name them) but hold no reservation.
pub async fn merge_shopper(db: &Db, from: ShopperId, into: ShopperId) -> Result<()> {
    if from == into {
        return Ok(());
    }
    let mut w = db.begin_write().await?;
    // (statement, whether it names `into` as $2)
    let statements = [
        (
            "UPDATE reservations SET shopper_id = $2 WHERE shopper_id = $1
            AND session_id NOT IN (SELECT session_id FROM reservations WHERE shopper_id = $2)",
            true,
        ),
        ("DELETE FROM reservations WHERE shopper_id = $1", false),
        (
            "UPDATE invites SET inviter_id = $2 WHERE inviter_id = $1
            AND session_id NOT IN (SELECT session_id FROM invites WHERE inviter_id = $2)",
            true,
        ),
        // Where both had an invite, friends who joined through `from`'s now count for `into`'s
        // (`into` itself, had it joined through `from`'s, joined through nobody's).
        (
            "UPDATE reservations SET invite_id = NULL WHERE shopper_id = $2
            AND invite_id IN (SELECT id FROM invites WHERE inviter_id = $1)",
            true,
        ),
        (
            "UPDATE reservations SET invite_id = (SELECT m.id FROM invites m JOIN invites o
                ON o.session_id = m.session_id WHERE o.id = reservations.invite_id AND m.inviter_id = $2)
            WHERE invite_id IN (SELECT id FROM invites WHERE inviter_id = $1)",
            true,
        ),
        (
            "UPDATE orders SET shopper_id = $2 WHERE shopper_id = $1
            AND idempotency_key NOT IN (SELECT idempotency_key FROM orders WHERE shopper_id = $2)",
            true,
        ),
        (
            "INSERT INTO purchase_counters (product_id, shopper_id, units, discounted_units)
         SELECT product_id, $2, units, discounted_units FROM purchase_counters WHERE shopper_id = $1
         ON CONFLICT (product_id, shopper_id) DO UPDATE
            SET units = purchase_counters.units + excluded.units,
                discounted_units = purchase_counters.discounted_units + excluded.discounted_units",
            true,
        ),
        ("DELETE FROM purchase_counters WHERE shopper_id = $1", false),
        (
            "INSERT INTO chat_mutes (session_id, shopper_id, created_at_ms)
         SELECT session_id, $2, created_at_ms FROM chat_mutes WHERE shopper_id = $1
         ON CONFLICT (session_id, shopper_id) DO NOTHING",
            true,
        ),
    ];
    for (sql, names_into) in statements {
        let q = sqlx::query(sql).bind(from);
        let q = if names_into { q.bind(into) } else { q };
        q.execute(&mut *w.tx).await?;
    }
    w.commit().await?;
    Ok(())
}
