//! Shopper rows and the server's generated secrets (SQL only; identity rules are in
//! `identity`).

use crate::db::Db;
use crate::error::Result;
use shop_core::ids::ShopperId;

/// (id, nickname) of an existing shopper.
pub async fn find(db: &Db, id: ShopperId) -> Result<Option<(ShopperId, String)>> {
    Ok(
        sqlx::query_as("SELECT id, nickname FROM shoppers WHERE id = $1")
            .bind(id)
            .fetch_optional(db.pool())
            .await?,
    )
}

pub async fn create(db: &Db, nickname: &str, now_ms: i64) -> Result<ShopperId> {
    Ok(sqlx::query_scalar(
        "INSERT INTO shoppers (nickname, created_at_ms) VALUES ($1, $2) RETURNING id",
    )
    .bind(nickname)
    .bind(now_ms)
    .fetch_one(db.pool())
    .await?)
}

pub async fn set_nickname(db: &Db, id: ShopperId, nickname: &str) -> Result<()> {
    sqlx::query("UPDATE shoppers SET nickname = $1 WHERE id = $2")
        .bind(nickname)
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// The secret stored under `name`, created from `fresh` if there is none yet. Concurrent
/// starts agree on one value (whichever was stored first).
pub async fn secret_or_insert(db: &Db, name: &str, fresh: &str) -> Result<String> {
    sqlx::query(
        "INSERT INTO app_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(fresh)
    .execute(db.pool())
    .await?;
    Ok(
        sqlx::query_scalar("SELECT value FROM app_secrets WHERE name = $1")
            .bind(name)
            .fetch_one(db.pool())
            .await?,
    )
}

/// The shopper's openid for the merchant's WeChat app, once WeChat's authorisation gave it.
pub async fn wechat_openid(db: &Db, id: ShopperId) -> Result<Option<String>> {
    let v: Option<Option<String>> =
        sqlx::query_scalar("SELECT wechat_openid FROM shoppers WHERE id = $1")
            .bind(id)
            .fetch_optional(db.pool())
            .await?;
    Ok(v.flatten())
}

pub async fn set_wechat_openid(db: &Db, id: ShopperId, openid: &str) -> Result<()> {
    sqlx::query("UPDATE shoppers SET wechat_openid = $1 WHERE id = $2")
        .bind(openid)
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(())
}
