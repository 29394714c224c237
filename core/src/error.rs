//! The one error type shared by server functions and the UI.
//!
//! Every failure a shopper or host can meet is a variant here. The server maps each variant to
//! an HTTP status in one place (`AppError::status`, applied by the server's `/api` middleware),
//! and the UI shows `Display` text, which is written for people, not developers: in the page's
//! language (`i18n`) for the fixed messages; the server writes the others in English and its
//! `/api` middleware translates them into the request's language (`i18n::translate_message`).

use serde::{Deserialize, Serialize};
#[cfg(feature = "server-fn")]
use server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum AppError {
    /// The thing asked for does not exist (unknown session, product, invite).
    #[error("{0}")]
    NotFound(String),
    /// The request itself is malformed or out of range.
    #[error("{0}")]
    BadRequest(String),
    /// Sign-in is required.
    #[error("{}", crate::i18n::t(crate::i18n::K::errors_unauthorized))]
    Unauthorized,
    /// Signed in, but not allowed to do this.
    #[error("{0}")]
    Forbidden(String),
    /// The request is valid but conflicts with the current state (sold out, session ended...).
    #[error("{0}")]
    Conflict(String),
    /// The order's total differs from the one the shopper saw (a price or discount changed
    /// meanwhile). Carries the current total for the same quantity; nothing was charged.
    #[error("{}", crate::i18n::tf(crate::i18n::K::errors_price_changed, &[("total", &total.to_string())]))]
    PriceChanged { total: crate::money::Fen },
    /// Too many requests from this client.
    #[error("{}", crate::i18n::t(crate::i18n::K::errors_rate_limited))]
    RateLimited,
    /// Slow mode is on in this chat: the shopper may post again in `wait_secs` seconds.
    #[error("{}", crate::i18n::tf(crate::i18n::K::errors_slow_mode, &[("every", &every_secs.to_string()), ("wait", &wait_secs.to_string())]))]
    SlowMode { every_secs: u32, wait_secs: u32 },
    /// A shared service this server depends on (Redis in distributed mode) is unreachable for
    /// now: try again shortly (503 with `Retry-After`).
    #[error("{}", crate::i18n::t(crate::i18n::K::errors_unavailable))]
    Unavailable,
    /// Too many orders at once for this server right now (a flash sale's rush): the shopper
    /// is in the queue and the client retries with the same idempotency key (503 with
    /// `Retry-After`).
    #[error("{}", crate::i18n::t(crate::i18n::K::errors_busy))]
    Busy,
    /// A fault on the server; details are logged, never shown.
    #[error("{}", crate::i18n::t(crate::i18n::K::errors_internal))]
    Internal,
    /// Client side only: the server could not be reached.
    #[error("{}", crate::i18n::t(crate::i18n::K::errors_network))]
    Network(String),
}

impl AppError {
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound(what.into())
    }
    pub fn bad_request(why: impl Into<String>) -> Self {
        Self::BadRequest(why.into())
    }

    /// The HTTP status the server answers with for this error.
    pub fn status(&self) -> u16 {
        match self {
            AppError::NotFound(_) => 404,
            AppError::BadRequest(_) => 400,
            AppError::Unauthorized => 401,
            AppError::Forbidden(_) => 403,
            AppError::Conflict(_) | AppError::PriceChanged { .. } => 409,
            AppError::RateLimited | AppError::SlowMode { .. } => 429,
            AppError::Unavailable | AppError::Busy => 503,
            AppError::Internal => 500,
            AppError::Network(_) => 502,
        }
    }

    /// `Retry-After` seconds for the errors that ask the client to come back.
    pub fn retry_after(&self) -> Option<&'static str> {
        match self {
            AppError::Unavailable => Some("2"),
            AppError::Busy => Some("1"),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, AppError::NotFound(_))
    }

    /// The message in `locale` (the server writes it in English; see `i18n::translate_message`).
    #[cfg(feature = "ssr")]
    pub fn translated(self, locale: crate::i18n::Locale) -> AppError {
        use crate::i18n::{translate_message, Locale};
        if locale == Locale::En {
            return self;
        }
        let tr = |m: String| translate_message(locale, &m).unwrap_or(m);
        match self {
            AppError::NotFound(m) => AppError::NotFound(tr(m)),
            AppError::BadRequest(m) => AppError::BadRequest(tr(m)),
            AppError::Forbidden(m) => AppError::Forbidden(tr(m)),
            AppError::Conflict(m) => AppError::Conflict(tr(m)),
            other => other,
        }
    }
}

#[cfg(feature = "server-fn")]
impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // Arguments the server could not decode: the client sent something malformed.
            ServerFnErrorErr::Args(msg) | ServerFnErrorErr::MissingArg(msg) => malformed(&msg),
            // On the server, a request it could not read or decode is the client's fault (400);
            // in the browser the same errors mean the server could not be reached or answered
            // with something that is not our API.
            ServerFnErrorErr::Request(msg) | ServerFnErrorErr::Deserialization(msg) => {
                if cfg!(feature = "ssr") {
                    malformed(&msg)
                } else {
                    AppError::Network(msg)
                }
            }
            _ => AppError::Internal,
        }
    }
}

/// Longest part of a decoder's message repeated in an error body: decoders quote the input,
/// and an error must not echo a large request back.
#[cfg(feature = "server-fn")]
const QUOTED_CHARS: usize = 160;

/// "Malformed request: ..." with the decoder's explanation cut to a short prefix.
#[cfg(feature = "server-fn")]
fn malformed(msg: &str) -> AppError {
    let mut short: String = msg.chars().take(QUOTED_CHARS).collect();
    if msg.chars().count() > QUOTED_CHARS {
        short.push('…');
    }
    AppError::BadRequest(format!("Malformed request: {short}"))
}

/// An `AppError` as an HTTP response: its status, and the same JSON body server functions
/// use, so the client decodes it like any other error. Plain routes, the request gate and
/// the identity extractors answer with it.
#[cfg(feature = "ssr")]
impl axum::response::IntoResponse for AppError {
    fn into_response(self) -> axum::response::Response {
        use axum::http::{header, HeaderValue, StatusCode};
        let status =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut res = (status, body).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        res.headers_mut()
            .insert("serverfnerror", HeaderValue::from_static("guard"));
        if let Some(secs) = self.retry_after() {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static(secs));
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_distinct_per_kind() {
        assert_eq!(AppError::not_found("x").status(), 404);
        assert_eq!(AppError::bad_request("x").status(), 400);
        assert_eq!(AppError::Unauthorized.status(), 401);
        assert_eq!(AppError::RateLimited.status(), 429);
        assert_eq!(AppError::Internal.status(), 500);
    }

    #[cfg(feature = "server-fn")]
    #[test]
    fn undecodable_arguments_are_a_bad_request_not_a_server_fault() {
        let e = AppError::from_server_fn_error(ServerFnErrorErr::Args("bad id".into()));
        assert_eq!(e.status(), 400);
    }

    #[cfg(feature = "server-fn")]
    #[test]
    fn decode_errors_quote_only_a_short_prefix_of_the_input() {
        let long = format!("invalid type: string \"{}\"", "x".repeat(70_000));
        let e = AppError::from_server_fn_error(ServerFnErrorErr::Args(long));
        assert_eq!(e.status(), 400);
        assert!(e.to_string().chars().count() < 200, "{e}");
    }

    #[cfg(feature = "server-fn")]
    #[test]
    fn round_trips_through_the_wire_encoding() {
        let e = AppError::not_found("No such session");
        let back = AppError::de(e.ser());
        assert_eq!(back, e);
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn a_busy_server_asks_to_retry_soon() {
        use axum::response::IntoResponse;
        let res = AppError::Busy.into_response();
        assert_eq!(res.status(), 503);
        assert_eq!(res.headers()["retry-after"], "1");
        let res = AppError::Unavailable.into_response();
        assert_eq!(res.headers()["retry-after"], "2");
        assert!(AppError::Conflict("x".into()).retry_after().is_none());
    }
}
