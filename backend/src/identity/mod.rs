//! Shoppers: an account on first visit, no form. The shopper id travels in a signed cookie
//! (`ls_shopper=v1.<id>.<hmac>`), so it cannot be forged or guessed; the database holds the
//! nickname. A WeChat-style OAuth login later maps an external id to the same shopper row.

pub mod host_auth;
pub mod team;

use crate::error::Result;
use crate::{
    crypto,
    error::AppError,
    model::Me,
    now_ms,
    ratelimit::Action,
    repo::shoppers,
    request::{cookie_in, Browser},
    AppState,
};
use shop_core::ids::ShopperId;

use axum::{
    extract::FromRequestParts,
    http::{request::Parts, HeaderMap},
};

pub const SHOPPER_COOKIE: &str = "ls_shopper";
const ONE_YEAR_SECS: i64 = 365 * 24 * 3600;
pub const MAX_NICKNAME_CHARS: usize = 24;

#[derive(Debug, Clone)]
pub struct Shopper {
    pub id: ShopperId,
    pub nickname: String,
}

impl Shopper {
    pub fn me(&self) -> Me {
        Me {
            id: self.id,
            nickname: self.nickname.clone(),
            wechat_auth_needed: false,
            wechat_jssdk: false,
        }
    }
}

fn cookie_value(key: &[u8], id: ShopperId) -> String {
    format!("v1.{id}.{}", crypto::sign(key, &format!("shopper:{id}")))
}

/// The shopper id in a cookie value, if its signature is valid.
pub fn verify_cookie(key: &[u8], value: &str) -> Option<ShopperId> {
    let mut it = value.splitn(3, '.');
    let (Some("v1"), Some(id), Some(sig)) = (it.next(), it.next(), it.next()) else {
        return None;
    };
    let id: ShopperId = id.parse().ok()?;
    crypto::verify(key, &format!("shopper:{id}"), sig).then_some(id)
}

/// The shopper a request's cookie names, when its signature is valid (no database).
pub fn shopper_id(key: &[u8], headers: &HeaderMap) -> Option<ShopperId> {
    cookie_in(headers, SHOPPER_COOKIE).and_then(|v| verify_cookie(key, &v))
}

/// The shopper a request's cookie names, if they exist. The one way a shopper is recognised:
/// server functions (through [`current_shopper`]) and plain routes (the [`Shopper`]
/// extractor) alike.
pub async fn shopper_in(st: &AppState, headers: &HeaderMap) -> Result<Option<Shopper>> {
    let Some(id) = shopper_id(&st.cookie_key, headers) else {
        return Ok(None);
    };
    if let Some(nickname) = st.shoppers.get(id) {
        return Ok(Some(Shopper { id, nickname }));
    }
    let epoch = st.shoppers.epoch();
    let row = shoppers::find(&st.db, id).await?;
    if let Some((id, nickname)) = &row {
        st.shoppers.put_if_unchanged(epoch, *id, nickname);
    }
    Ok(row.map(|(id, nickname)| Shopper { id, nickname }))
}

/// Shoppers recognised recently (id to nickname), for a while. Every request with a shopper
/// cookie used to read its shopper from the database, and in a rush that read was the largest
/// part of a request's cost (SQLite's worker-thread hand-off, a PostgreSQL round trip):
/// measured, the floor of a server function went from about 6,500 to 20,000 answers a second.
/// Shopper rows are never deleted (a merge keeps both), so a cached shopper exists; this node's
/// nickname changes update it at once. With several nodes, a change is announced through
/// Redis and every node forgets that shopper (`follow_nickname_changes`); a node that lost
/// its subscription forgets everyone, as it may have missed some.
pub struct ShopperCache {
    map: std::sync::Mutex<ShopperMap>,
    ttl: std::time::Duration,
    /// Bumped by every forget: a row read before one is not cached (it may be the old name).
    epoch: std::sync::atomic::AtomicU64,
}

/// How long a shopper stays cached (a bound on memory's staleness should an announcement of
/// a change be lost without the subscription noticing).
pub const SHOPPER_TTL: std::time::Duration = std::time::Duration::from_secs(600);
/// Entries at most (a few tens of MB); past it the cache starts over.
const SHOPPER_CACHE_MAX: usize = 300_000;

impl ShopperCache {
    pub fn new(ttl: std::time::Duration) -> ShopperCache {
        ShopperCache {
            map: std::sync::Mutex::default(),
            ttl,
            epoch: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ShopperMap> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, id: ShopperId) -> Option<String> {
        let map = self.lock();
        map.get(&id)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(n, _)| n.clone())
    }

    pub fn forget(&self, id: ShopperId) {
        let mut map = self.lock();
        self.epoch.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        map.remove(&id);
    }

    pub fn clear(&self) {
        let mut map = self.lock();
        self.epoch.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        map.clear();
    }

    /// For `put_if_unchanged`: read before reading the database.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Caches a row read from the database unless something was forgotten since `epoch`.
    pub fn put_if_unchanged(&self, epoch: u64, id: ShopperId, nickname: &str) {
        let mut map = self.lock();
        if self.epoch() == epoch {
            insert(&mut map, id, nickname);
        }
    }

    pub fn put(&self, id: ShopperId, nickname: &str) {
        insert(&mut self.lock(), id, nickname);
    }
}

type ShopperMap = std::collections::HashMap<ShopperId, (String, std::time::Instant)>;

fn insert(map: &mut ShopperMap, id: ShopperId, nickname: &str) {
    if map.len() >= SHOPPER_CACHE_MAX {
        map.clear();
    }
    map.insert(id, (nickname.to_string(), std::time::Instant::now()));
}

/// The calling shopper, if the browser sent a valid cookie for an existing shopper.
pub async fn current_shopper(st: &AppState, browser: &Browser) -> Result<Option<Shopper>> {
    shopper_in(st, browser.headers()).await
}

/// The shopper behind a plain route's request; 401 without a valid cookie. Reads `AppState`
/// from the request's extensions (the router adds it).
impl<S: Send + Sync> FromRequestParts<S> for Shopper {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        let st = crate::request::app_state(parts)?;
        shopper_in(&st, &parts.headers)
            .await?
            .ok_or(AppError::Unauthorized.into())
    }
}

/// The calling shopper, created (with a cookie) on first visit.
pub async fn shopper_or_create(st: &AppState, browser: &Browser) -> Result<Shopper> {
    if let Some(s) = current_shopper(st, browser).await? {
        return Ok(s);
    }
    st.limits.check(Action::NewShopper, browser.ip()).await?;
    let suffix = u16::from_le_bytes(crypto::random_bytes::<2>()?) % 10_000;
    let nickname = format!("Shopper {suffix:04}");
    let id = shoppers::create(&st.db, &nickname, now_ms()).await?;
    Ok(remember(st, browser, Shopper { id, nickname }))
}

/// Sets this browser's shopper cookie (signed, HttpOnly, a year).
fn remember(st: &AppState, browser: &Browser, shopper: Shopper) -> Shopper {
    st.shoppers.put(shopper.id, &shopper.nickname);
    browser.set_cookie(
        SHOPPER_COOKIE,
        &cookie_value(&st.cookie_key, shopper.id),
        ONE_YEAR_SECS,
        st.settings.secure_cookies,
    );
    shopper
}

/// Makes this browser shopper `id` (a verified number signed them back in): sets the cookie.
pub async fn sign_in_as(st: &AppState, browser: &Browser, id: ShopperId) -> Result<Shopper> {
    let (id, nickname) = shoppers::find(&st.db, id)
        .await?
        .ok_or_else(|| AppError::not_found("No such shopper."))?;
    Ok(remember(st, browser, Shopper { id, nickname }))
}

/// The calling shopper; `Unauthorized` when the browser has no valid shopper cookie.
pub async fn require_shopper(st: &AppState, browser: &Browser) -> Result<Shopper> {
    current_shopper(st, browser)
        .await?
        .ok_or(AppError::Unauthorized.into())
}

/// Cleans and checks a nickname (`domain::text::clean_line`): 1 to 24 characters.
pub fn parse_nickname(raw: &str) -> Result<String> {
    use crate::domain::text::{clean_line, TextError};
    Ok(clean_line(raw, MAX_NICKNAME_CHARS).map_err(|e| match e {
        TextError::Empty => AppError::bad_request("Please enter a nickname."),
        TextError::TooLong { max } => {
            AppError::bad_request(format!("Nicknames can be at most {max} characters."))
        }
    })?)
}

pub async fn set_nickname(st: &AppState, shopper: &Shopper, raw: &str) -> Result<Shopper> {
    let nickname = parse_nickname(raw)?;
    shoppers::set_nickname(&st.db, shopper.id, &nickname).await?;
    st.shoppers.put(shopper.id, &nickname);
    if let Some(bp) = st.live.backplane() {
        if let Err(e) = bp.nickname_changed(shopper.id).await {
            tracing::warn!(error = %e, "other nodes could not be told of a nickname change");
        }
    }
    Ok(Shopper {
        id: shopper.id,
        nickname,
    })
}

/// The cookie-signing key: `APP_COOKIE_SECRET` when configured, otherwise a random key made on
/// first start and kept in the database (so cookies survive restarts).
pub async fn load_or_create_cookie_key(db: &crate::Db) -> Result<Vec<u8>> {
    // A fresh key is offered every start; the first one ever stored is the one used.
    let fresh = crypto::random_token::<32>()?;
    Ok(shoppers::secret_or_insert(db, "cookie_key", &fresh)
        .await?
        .into_bytes())
}

/// Several nodes: forgets the shoppers whose nickname another node changed, for as long as
/// the cache lives. Whenever the subscription is (re)made, everyone is forgotten: changes made
/// while it was down were missed.
pub fn follow_nickname_changes(
    cache: &std::sync::Arc<ShopperCache>,
    bp: std::sync::Arc<crate::live::backplane::RedisBackplane>,
) {
    use futures_util::StreamExt;
    let cache = std::sync::Arc::downgrade(cache);
    tokio::spawn(async move {
        while cache.strong_count() > 0 {
            let mut changes = match bp.nickname_hints().await {
                Ok(m) => m,
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                    continue;
                }
            };
            if let Some(c) = cache.upgrade() {
                c.clear();
            }
            while let Some(msg) = changes.next().await {
                let Some(c) = cache.upgrade() else { return };
                if let Ok(id) = msg.get_payload::<i64>() {
                    c.forget(ShopperId(id));
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_round_trip_and_reject_tampering() {
        let key = b"test-key";
        let v = cookie_value(key, ShopperId(42));
        assert_eq!(verify_cookie(key, &v), Some(ShopperId(42)));
        assert_eq!(verify_cookie(key, &v.replace(".42.", ".43.")), None);
        assert_eq!(verify_cookie(b"other", &v), None);
        assert_eq!(verify_cookie(key, "v1.42"), None);
        assert_eq!(verify_cookie(key, "garbage"), None);
    }

    #[test]
    fn nicknames_are_trimmed_and_bounded() {
        assert_eq!(parse_nickname("  Lin  ").expect("ok"), "Lin");
        assert_eq!(parse_nickname("小小包妈妈").expect("cjk ok"), "小小包妈妈");
        assert!(parse_nickname("   ").is_err());
        assert!(parse_nickname(&"x".repeat(25)).is_err());
        // Control characters are removed (domain::text); nothing left is refused.
        assert_eq!(parse_nickname("a\u{0007}b").expect("cleaned"), "ab");
        assert!(parse_nickname("\u{0007}\u{202E}").is_err());
    }
}
