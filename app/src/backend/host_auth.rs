//! Host accounts: email + password (argon2id), server-side sessions in the database, and the
//! ownership check every studio server function runs.

use argon2::{
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};

use crate::{
    backend::{
        crypto,
        db::Db,
        now_ms,
        ratelimit::Action,
        request::{client_ip, cookie, set_cookie},
        AppState,
    },
    error::AppError,
};

pub const HOST_COOKIE: &str = "ls_host";
const SESSION_SECS: i64 = 7 * 24 * 3600;

#[derive(Debug, Clone)]
pub struct Host {
    pub account_id: i64,
    pub host_id: i64,
    pub email: String,
}

pub fn hash_password(password: &str) -> Result<String, AppError> {
    let salt_bytes = crypto::random_bytes::<16>()?;
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|_| AppError::Internal)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| {
            tracing::error!(error = %e, "password hashing failed");
            AppError::Internal
        })
}

fn password_matches(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Creates a host account (demo data, tests; the studio issue adds sign-up).
pub async fn create_account(
    db: &Db,
    host_id: i64,
    email: &str,
    password: &str,
) -> Result<i64, AppError> {
    let email = email.trim().to_ascii_lowercase();
    let password = password.to_string();
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|_| AppError::Internal)??;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO host_accounts (host_id, email, password_hash, created_at_ms) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(host_id)
    .bind(&email)
    .bind(&hash)
    .bind(now_ms())
    .fetch_one(db.pool())
    .await?;
    Ok(id)
}

/// Checks the password and starts a session (sets the host cookie).
pub async fn sign_in(st: &AppState, email: &str, password: &str) -> Result<Host, AppError> {
    let email = email.trim().to_ascii_lowercase();
    st.limits
        .check(Action::SignIn, &format!("ip:{}", client_ip()))?;
    st.limits.check(Action::SignIn, &format!("email:{email}"))?;
    let row: Option<(i64, i64, String)> =
        sqlx::query_as("SELECT id, host_id, password_hash FROM host_accounts WHERE email = $1")
            .bind(&email)
            .fetch_optional(st.db.pool())
            .await?;
    let wrong = || AppError::Forbidden("Wrong email or password.".into());
    let Some((account_id, host_id, stored)) = row else {
        return Err(wrong());
    };
    let password = password.to_string();
    let ok = tokio::task::spawn_blocking(move || password_matches(&password, &stored))
        .await
        .map_err(|_| AppError::Internal)?;
    if !ok {
        return Err(wrong());
    }
    let token = crypto::random_token::<32>()?;
    let now = now_ms();
    sqlx::query("INSERT INTO host_sessions (token_hash, account_id, created_at_ms, expires_at_ms) VALUES ($1, $2, $3, $4)")
        .bind(crypto::sha256_hex(&token))
        .bind(account_id)
        .bind(now)
        .bind(now + SESSION_SECS * 1000)
        .execute(st.db.pool())
        .await?;
    set_cookie(
        HOST_COOKIE,
        &token,
        SESSION_SECS,
        st.settings.secure_cookies,
    );
    Ok(Host {
        account_id,
        host_id,
        email,
    })
}

pub async fn sign_out(st: &AppState) -> Result<(), AppError> {
    if let Some(token) = cookie(HOST_COOKIE) {
        sqlx::query("DELETE FROM host_sessions WHERE token_hash = $1")
            .bind(crypto::sha256_hex(&token))
            .execute(st.db.pool())
            .await?;
    }
    set_cookie(HOST_COOKIE, "", 0, st.settings.secure_cookies);
    Ok(())
}

/// The signed-in host, or `Unauthorized`.
pub async fn require_host(st: &AppState) -> Result<Host, AppError> {
    let Some(token) = cookie(HOST_COOKIE).filter(|t| !t.is_empty()) else {
        return Err(not_a_host(st).await?);
    };
    let row: Option<(i64, i64, String)> = sqlx::query_as(
        "SELECT a.id, a.host_id, a.email FROM host_sessions s JOIN host_accounts a ON a.id = s.account_id
          WHERE s.token_hash = $1 AND s.expires_at_ms > $2",
    )
    .bind(crypto::sha256_hex(&token))
    .bind(now_ms())
    .fetch_optional(st.db.pool())
    .await?;
    match row {
        Some((account_id, host_id, email)) => Ok(Host {
            account_id,
            host_id,
            email,
        }),
        None => Err(not_a_host(st).await?),
    }
}

/// 403 for a shopper (signed in, wrong role), 401 for an anonymous caller.
async fn not_a_host(st: &AppState) -> Result<AppError, AppError> {
    Ok(match crate::backend::identity::current_shopper(st).await? {
        Some(_) => AppError::Forbidden("Only hosts can do that.".into()),
        None => AppError::Unauthorized,
    })
}

/// The signed-in host who owns `session_id`: 401 when not signed in as a host, 403 for
/// another host, 404 for an unknown session.
pub async fn require_session_owner(st: &AppState, session_id: i64) -> Result<Host, AppError> {
    let host = require_host(st).await?;
    let owner: Option<i64> = sqlx::query_scalar("SELECT host_id FROM live_sessions WHERE id = $1")
        .bind(session_id)
        .fetch_optional(st.db.pool())
        .await?;
    match owner {
        None => Err(AppError::not_found("This live session does not exist.")),
        Some(h) if h == host.host_id => Ok(host),
        Some(_) => Err(AppError::Forbidden(
            "Only the session's host can do that.".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_hashes_verify() {
        let h = hash_password("correct horse").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(password_matches("correct horse", &h));
        assert!(!password_matches("wrong", &h));
        assert!(!password_matches("x", "not a hash"));
    }
}
