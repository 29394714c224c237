//! What a service needs of the HTTP request behind a call, as one explicit input: the
//! [`Browser`] (its cookies, address and language, and where the cookies it should keep go).
//! Server functions build it at the edge (`app::api`), plain routes from their request's parts;
//! tests build one by hand.

use std::{net::SocketAddr, sync::Arc};

use axum::{
    extract::ConnectInfo,
    http::{header, request::Parts, HeaderMap, HeaderValue},
};

use crate::i18n::Locale;

/// The browser on the other end of a call.
#[derive(Clone)]
pub struct Browser {
    headers: HeaderMap,
    ip: String,
    cookie_out: Arc<dyn Fn(HeaderValue) + Send + Sync>,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser")
            .field("ip", &self.ip)
            .finish_non_exhaustive()
    }
}

impl Browser {
    /// A browser that sent `headers` from `ip`; each `Set-Cookie` value meant for it is handed
    /// to `cookie_out` (the edge appends it to the response).
    pub fn new(
        headers: HeaderMap,
        ip: String,
        cookie_out: impl Fn(HeaderValue) + Send + Sync + 'static,
    ) -> Browser {
        Browser {
            headers,
            ip,
            cookie_out: Arc::new(cookie_out),
        }
    }

    /// The browser behind a request's parts (its recorded client address, else the peer).
    pub fn from_parts(
        parts: Parts,
        cookie_out: impl Fn(HeaderValue) + Send + Sync + 'static,
    ) -> Browser {
        let ip = client_ip_of(&parts);
        Browser::new(parts.headers, ip, cookie_out)
    }

    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The value of cookie `name`, if the request carries it.
    pub fn cookie(&self, name: &str) -> Option<String> {
        cookie_in(&self.headers, name)
    }

    /// The client's address for per-IP limits.
    pub fn ip(&self) -> &str {
        &self.ip
    }

    /// The language it asks for: the shopper's choice (`ls_locale` cookie), else
    /// `Accept-Language` (`i18n`).
    pub fn locale(&self) -> Locale {
        locale_of(&self.headers)
    }

    /// Sets one of our session cookies: HttpOnly (no script access), SameSite=Lax (not sent on
    /// cross-site subrequests), Secure when the app is served over HTTPS.
    pub fn set_cookie(&self, name: &str, value: &str, max_age_secs: i64, secure: bool) {
        let secure = if secure { "; Secure" } else { "" };
        let cookie = format!(
            "{name}={value}; Path=/; Max-Age={max_age_secs}; HttpOnly; SameSite=Lax{secure}"
        );
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            (self.cookie_out)(v);
        }
    }
}

/// The app state a plain route's request carries (the router adds it as an extension; the
/// identity extractors read it).
pub fn app_state(parts: &Parts) -> Result<crate::AppState, crate::error::AppError> {
    parts
        .extensions
        .get::<crate::AppState>()
        .cloned()
        .ok_or_else(|| {
            tracing::error!("AppState missing from the request's extensions");
            crate::error::AppError::Internal
        })
}

/// The language a request's headers ask for: the `ls_locale` cookie, else `Accept-Language`.
pub fn locale_of(headers: &HeaderMap) -> Locale {
    cookie_in(headers, crate::i18n::COOKIE)
        .as_deref()
        .and_then(Locale::parse)
        .unwrap_or_else(|| {
            Locale::from_accept_language(
                headers
                    .get(header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or(""),
            )
        })
}

/// The value of cookie `name` in a request's headers.
pub fn cookie_in(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The client's address as the server decided it (the peer, or the address a trusted proxy
/// forwarded: `server/src/client_addr.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub std::net::IpAddr);

/// The client's address for per-IP limits: the one recorded for the request, else the peer,
/// else `unknown`.
fn client_ip_of(parts: &Parts) -> String {
    parts
        .extensions
        .get::<ClientAddr>()
        .map(|c| c.0.to_string())
        .or_else(|| {
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_from_headers() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; ls_host=tok; b=2"),
        );
        h.append(header::COOKIE, HeaderValue::from_static("c=3"));
        assert_eq!(cookie_in(&h, "ls_host").as_deref(), Some("tok"));
        assert_eq!(cookie_in(&h, "c").as_deref(), Some("3"));
        assert_eq!(cookie_in(&h, "nope"), None);
    }

    #[test]
    fn cookies_to_set_go_to_the_edge() {
        let set = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = set.clone();
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("ls_locale=it"));
        let b = Browser::new(h, "192.0.2.1".into(), move |v| {
            sink.lock().expect("lock").push(v)
        });
        assert_eq!(b.locale(), Locale::It);
        b.set_cookie("ls_shopper", "v1.1.x", 60, true);
        let got = set.lock().expect("lock");
        assert_eq!(
            got[0].to_str().expect("ascii"),
            "ls_shopper=v1.1.x; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure"
        );
    }
}
