//! Host accounts: email + password (argon2id), server-side sessions in the database, and the
//! ownership check every studio server function runs.

use crate::error::{Result, ResultExt};
use argon2::{
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};
use shop_core::{
    domain::team::{allows, Permission, Role},
    ids::{HostId, SessionId},
};

use crate::{
    crypto,
    db::Db,
    error::AppError,
    identity, now_ms,
    ratelimit::Action,
    repo::hosts,
    request::{cookie_in, Browser},
    AppState,
};

use axum::{
    extract::FromRequestParts,
    http::{request::Parts, HeaderMap},
};

pub const HOST_COOKIE: &str = "ls_host";
const SESSION_SECS: i64 = 7 * 24 * 3600;

#[derive(Debug, Clone)]
pub struct Host {
    pub account_id: i64,
    /// The shop this account acts for: its own, or the one whose team it joined.
    pub host_id: HostId,
    pub email: String,
    pub role: Role,
}

impl Host {
    /// Whether this account's role covers `permission`.
    pub fn can(&self, permission: Permission) -> bool {
        allows(self.role, permission)
    }

    /// 403 unless this account's role covers `permission`.
    pub fn require(&self, permission: Permission) -> Result<()> {
        if self.can(permission) {
            Ok(())
        } else {
            Err(role_refusal(self.role).into())
        }
    }
}

/// What a team member hears when their role does not cover a studio action.
pub fn role_refusal(role: Role) -> AppError {
    AppError::Forbidden(match role {
        Role::Owner => "Only the shop's owner can do that.".into(),
        Role::Producer => "A producer cannot do that: ask the shop's owner.".into(),
        Role::Moderator => "A moderator cannot do that: ask the shop's owner.".into(),
        Role::Analyst => "An analyst can only read figures: ask the shop's owner.".into(),
    })
}

pub fn hash_password(password: &str) -> Result<String> {
    let salt_bytes = crypto::random_bytes::<16>()?;
    let salt = SaltString::encode_b64(&salt_bytes).fault("encoding a password salt")?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .fault("hashing a password")?)
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

/// Creates a host account (sign-up, demo data, tests). `Conflict` when the email is taken.
pub async fn create_account(db: &Db, host_id: HostId, email: &str, password: &str) -> Result<i64> {
    let email = email.trim().to_ascii_lowercase();
    let password = password.to_string();
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .fault("hashing a password")??;
    Ok(hosts::create_account(db, host_id, &email, &hash, now_ms())
        .await?
        .ok_or_else(email_taken)?)
}

fn email_taken() -> AppError {
    AppError::Conflict("An account with this email already exists. Sign in instead.".into())
}

/// Failed sign-ins allowed before the account is locked for [`LOCKOUT_MS`].
pub const MAX_FAILED_SIGN_INS: i64 = 5;
pub const LOCKOUT_MS: i64 = 15 * 60 * 1000;

/// Checks the password and starts a session (sets the host cookie). Five wrong passwords in a
/// row lock the account for 15 minutes; attempts are also rate-limited per IP and per email.
pub async fn sign_in(
    st: &AppState,
    browser: &Browser,
    email: &str,
    password: &str,
) -> Result<Host> {
    let email = email.trim().to_ascii_lowercase();
    st.limits
        .check(Action::SignIn, &format!("ip:{}", browser.ip()))
        .await?;
    st.limits
        .check(Action::SignIn, &format!("email:{email}"))
        .await?;
    let row = hosts::account_by_email(&st.db, &email).await?;
    let wrong = || AppError::Forbidden("Wrong email or password.".into());
    let Some(hosts::AccountRow {
        id: account_id,
        host_id,
        password_hash: stored,
        locked_until_ms: locked_until,
    }) = row
    else {
        return Err(wrong().into());
    };
    let now = now_ms();
    if let Some(until) = locked_until.filter(|u| *u > now) {
        let minutes = (until - now + 59_999) / 60_000;
        // Two whole sentences (not "minute{s}"): each has its translation (`i18n`).
        return Err(AppError::Forbidden(if minutes == 1 {
            "Too many failed sign-ins: this account is locked. Try again in 1 minute.".into()
        } else {
            format!(
                "Too many failed sign-ins: this account is locked. Try again in {minutes} minutes."
            )
        })
        .into());
    }
    let password = password.to_string();
    let ok = tokio::task::spawn_blocking(move || password_matches(&password, &stored))
        .await
        .fault("checking a password")?;
    if !ok {
        let failures = hosts::record_failed_sign_in(&st.db, account_id).await?;
        if failures >= MAX_FAILED_SIGN_INS {
            hosts::lock_account(&st.db, account_id, now + LOCKOUT_MS).await?;
            return Err(AppError::Forbidden(
                "Too many failed sign-ins: this account is locked for 15 minutes.".into(),
            )
            .into());
        }
        return Err(wrong().into());
    }
    hosts::clear_failures(&st.db, account_id).await?;
    start_session(st, browser, account_id).await?;
    let (host_id, role) = hosts::acting_for(&st.db, account_id, host_id).await?;
    Ok(Host {
        account_id,
        host_id,
        email,
        role,
    })
}

pub(crate) async fn start_session(st: &AppState, browser: &Browser, account_id: i64) -> Result<()> {
    let token = crypto::random_token::<32>()?;
    let now = now_ms();
    hosts::create_session(
        &st.db,
        &crypto::sha256_hex(&token),
        account_id,
        now,
        now + SESSION_SECS * 1000,
    )
    .await?;
    browser.set_cookie(
        HOST_COOKIE,
        &token,
        SESSION_SECS,
        st.settings.secure_cookies,
    );
    Ok(())
}

/// Checks a sign-up form: display name 1-40 characters, a plausible email, a password of at
/// least 10 characters.
pub fn parse_sign_up(display_name: &str, email: &str, password: &str) -> Result<(String, String)> {
    let name = crate::domain::text::clean_line(display_name, 40)
        .map_err(|_| AppError::bad_request("Enter a display name of 1 to 40 characters."))?;
    let email = email.trim().to_ascii_lowercase();
    let valid_email = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !email.contains(char::is_whitespace);
    if !valid_email {
        return Err(AppError::bad_request("Enter a valid email address.").into());
    }
    if password.chars().count() < 10 {
        return Err(AppError::bad_request("Choose a password of at least 10 characters.").into());
    }
    if password.len() > 1024 {
        return Err(AppError::bad_request("That password is too long.").into());
    }
    Ok((name, email))
}

/// Creates a host and their account, and signs them in.
pub async fn sign_up(
    st: &AppState,
    browser: &Browser,
    display_name: &str,
    email: &str,
    password: &str,
) -> Result<Host> {
    st.limits
        .check(Action::SignIn, &format!("ip:{}", browser.ip()))
        .await?;
    let (name, email) = parse_sign_up(display_name, email, password)?;
    if hosts::email_taken(&st.db, &email).await? {
        return Err(email_taken().into());
    }
    let host_id = crate::repo::catalog::create_host(&st.db, &name).await?;
    let account_id = match create_account(&st.db, host_id, &email, password).await {
        Ok(id) => id,
        Err(e) => {
            // Lost a race for the same email (409) or failed (500): no orphan host either way.
            let _ = hosts::delete_host(&st.db, host_id).await;
            return Err(e);
        }
    };
    start_session(st, browser, account_id).await?;
    Ok(Host {
        account_id,
        host_id,
        email,
        role: Role::Owner,
    })
}

pub async fn sign_out(st: &AppState, browser: &Browser) -> Result<()> {
    if let Some(token) = browser.cookie(HOST_COOKIE) {
        hosts::delete_session(&st.db, &crypto::sha256_hex(&token)).await?;
    }
    browser.set_cookie(HOST_COOKIE, "", 0, st.settings.secure_cookies);
    Ok(())
}

/// The signed-in host, or `Unauthorized` (anonymous) / `Forbidden` (a shopper).
pub async fn require_host(st: &AppState, browser: &Browser) -> Result<Host> {
    host_in(st, browser.headers()).await
}

/// The host a request's cookies name. The one way a host is recognised: server functions
/// (through [`require_host`]), the request gate and plain routes (the [`Host`] extractor).
pub async fn host_in(st: &AppState, headers: &HeaderMap) -> Result<Host> {
    authorize_host(
        st,
        cookie_in(headers, HOST_COOKIE).as_deref(),
        cookie_in(headers, identity::SHOPPER_COOKIE).as_deref(),
    )
    .await
}

/// The host behind a plain route's request (401 anonymous, 403 shopper). Reads `AppState`
/// from the request's extensions (the router adds it).
impl<S: Send + Sync> FromRequestParts<S> for Host {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        Ok(host_in(&crate::request::app_state(parts)?, &parts.headers).await?)
    }
}

/// The host behind a host-cookie token. Plain axum handlers (CSV export) call this with the
/// cookies from their request; server functions go through [`require_host`].
pub async fn authorize_host(
    st: &AppState,
    host_token: Option<&str>,
    shopper_cookie: Option<&str>,
) -> Result<Host> {
    if let Some(token) = host_token.filter(|t| !t.is_empty()) {
        let row = hosts::by_session(&st.db, &crypto::sha256_hex(token), now_ms()).await?;
        if let Some((account_id, host_id, email, role)) = row {
            let Some(role) = Role::parse(&role) else {
                return Err(crate::error::Error::fault(format!(
                    "an unknown team role {role:?} in the database"
                )));
            };
            return Ok(Host {
                account_id,
                host_id,
                email,
                role,
            });
        }
    }
    // A valid shopper signature means a signed-in shopper in the wrong role.
    let is_shopper = shopper_cookie
        .and_then(|v| identity::verify_cookie(&st.cookie_key, v))
        .is_some();
    Err(if is_shopper {
        AppError::Forbidden("Only hosts can do that.".into()).into()
    } else {
        AppError::Unauthorized.into()
    })
}

/// A host's display name (chat, the studio bar).
pub async fn display_name(st: &AppState, host: &Host) -> Result<String> {
    hosts::display_name(&st.db, host.host_id).await
}

/// Ownership check for a session: 404 unknown, 403 another host's.
pub async fn check_owner(st: &AppState, host: &Host, session_id: SessionId) -> Result<()> {
    match hosts::session_owner(&st.db, session_id).await? {
        None => Err(AppError::not_found("This live session does not exist.").into()),
        Some(h) if h == host.host_id => Ok(()),
        Some(_) => Err(AppError::Forbidden("Only the session's host can do that.".into()).into()),
    }
}

/// The signed-in team member of `session_id`'s shop whose role covers `permission`: 401 when
/// not signed in as a host, 403 for a shopper, another shop or a role without it, 404 for an
/// unknown session. Every studio server function about one session starts here.
pub async fn require_session(
    st: &AppState,
    browser: &Browser,
    session_id: SessionId,
    permission: Permission,
) -> Result<Host> {
    let host = require(st, browser, permission).await?;
    check_owner(st, &host, session_id).await?;
    Ok(host)
}

/// The signed-in team member whose role covers `permission` (401 anonymous, 403 a shopper or
/// a role without it). For studio functions about the shop rather than one session.
pub async fn require(st: &AppState, browser: &Browser, permission: Permission) -> Result<Host> {
    let host = require_host(st, browser).await?;
    host.require(permission)?;
    Ok(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_up_forms_are_checked() {
        assert_eq!(
            parse_sign_up(" Sun Jing ", "SunJing@Example.com", "long enough pw").expect("valid"),
            ("Sun Jing".to_string(), "sunjing@example.com".to_string())
        );
        assert!(parse_sign_up("", "a@b.co", "long enough pw").is_err());
        assert!(parse_sign_up("x", "not-an-email", "long enough pw").is_err());
        assert!(parse_sign_up("x", "a@b.co", "short").is_err());
    }

    #[test]
    fn argon2id_hashes_verify() {
        let h = hash_password("correct horse").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(password_matches("correct horse", &h));
        assert!(!password_matches("wrong", &h));
        assert!(!password_matches("x", "not a hash"));
    }
}
