//! The HTTP request behind the current server-function call: cookies, client address, and
//! headers to add to the response.

use std::net::SocketAddr;

use axum::{
    extract::ConnectInfo,
    http::{header, request::Parts, HeaderValue},
};
use leptos::prelude::use_context;
use leptos_axum::ResponseOptions;

fn parts() -> Option<Parts> {
    use_context::<Parts>()
}

/// The value of cookie `name`, if the request carries it.
pub fn cookie(name: &str) -> Option<String> {
    cookie_in(&parts()?.headers, name)
}

/// The app state a plain route's request carries (the router adds it as an extension; the
/// identity extractors read it).
pub fn app_state(parts: &Parts) -> Result<crate::backend::AppState, crate::error::AppError> {
    parts
        .extensions
        .get::<crate::backend::AppState>()
        .cloned()
        .ok_or_else(|| {
            tracing::error!("AppState missing from the request's extensions");
            crate::error::AppError::Internal
        })
}

/// The current server-function call's request headers (empty outside a request).
pub fn headers() -> axum::http::HeaderMap {
    parts().map(|p| p.headers).unwrap_or_default()
}

/// The language the current request asks for: the shopper's choice (`ls_locale` cookie),
/// else `Accept-Language` (`i18n`).
pub fn locale() -> crate::i18n::Locale {
    locale_of(&headers())
}

/// [`locale`] for a request's headers (also used by plain axum handlers).
pub fn locale_of(headers: &axum::http::HeaderMap) -> crate::i18n::Locale {
    use crate::i18n::Locale;
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

/// The value of cookie `name` in a request's headers (also used by plain axum handlers).
pub fn cookie_in(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
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

/// The client's address for per-IP limits: the one recorded for the request, else the peer
/// (`unknown` in unit contexts).
pub fn client_ip() -> String {
    parts()
        .and_then(|p| {
            p.extensions
                .get::<ClientAddr>()
                .map(|c| c.0.to_string())
                .or_else(|| {
                    p.extensions
                        .get::<ConnectInfo<SocketAddr>>()
                        .map(|c| c.0.ip().to_string())
                })
        })
        .unwrap_or_else(|| "unknown".to_string())
}

/// Cookie attributes for our session cookies: HttpOnly (no script access), SameSite=Lax (not
/// sent on cross-site subrequests), Secure when the app is served over HTTPS.
pub fn set_cookie(name: &str, value: &str, max_age_secs: i64, secure: bool) {
    let secure = if secure { "; Secure" } else { "" };
    let cookie =
        format!("{name}={value}; Path=/; Max-Age={max_age_secs}; HttpOnly; SameSite=Lax{secure}");
    if let (Some(res), Ok(v)) = (
        use_context::<ResponseOptions>(),
        HeaderValue::from_str(&cookie),
    ) {
        res.append_header(header::SET_COOKIE, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_from_headers() {
        let mut h = axum::http::HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; ls_host=tok; b=2"),
        );
        h.append(header::COOKIE, HeaderValue::from_static("c=3"));
        assert_eq!(cookie_in(&h, "ls_host").as_deref(), Some("tok"));
        assert_eq!(cookie_in(&h, "c").as_deref(), Some("3"));
        assert_eq!(cookie_in(&h, "nope"), None);
    }
}
