//! The gate every server-function request passes before anything decodes it. One mechanism
//! for every endpoint, driven by the app's endpoint table (`app::api::endpoints`):
//!
//! - an unknown endpoint is a 404, a wrong method a 405;
//! - a POST body whose media type is not the endpoint's is a 415 (a form body sent to a JSON
//!   endpoint, a missing content type); a multipart body without a usable boundary is a 400;
//! - a body over the endpoint's limit is a 413 (a small limit for server functions, the
//!   upload limit for uploads), by declared length first and while reading otherwise;
//! - a body, query string or percent-encoded form value that is not valid UTF-8 is a 400;
//! - studio endpoints check the caller and their team role (the permission the table names)
//!   before the body is read: 401 anonymous, 403 a shopper or a role without it.
//!
//! Requests that pass continue with their body buffered. What still fails to decode is turned
//! into a 400 by `AppError::from_server_fn_error`, and a panic anywhere below is answered by
//! the catch-panic layer in `lib.rs` with a 500.

use axum::{
    body::{Body, Bytes},
    extract::{Request, State},
    http::{header, request::Parts, HeaderMap, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::Response,
};

use app::api::endpoints::{self, Caller, Endpoint};
use shop_backend::identity::host_auth;
use shop_core::error::AppError;

use crate::{security::error_response, ServerState};

pub async fn guard(State(state): State<ServerState>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    match check(&state, &parts).await {
        // Refused before the body was looked at: read (and drop) what the client is sending,
        // within a bound, so it gets this answer on a connection that stays usable.
        Err(res) => {
            let cap = endpoints::find(parts.uri.path()).map_or(UNKNOWN_DRAIN, drain_cap);
            // A client waiting for `100 Continue` has sent no body yet, and one that declared
            // more than we would read would be cut off anyway: both get the answer at once.
            let declared = declared_length(&parts.headers);
            if expects_continue(&parts.headers) || declared.is_some_and(|n| n > cap as u64) {
                return closing(res);
            }
            if drain(body, cap).await {
                res
            } else {
                closing(res)
            }
        }
        Ok((ep, host)) => match buffer(ep, parts, body).await {
            Ok(req) => {
                let ids = host.as_ref().and_then(|_| audited_ids(ep, &req));
                let res = next.run(req).await;
                if let (Some(host), Some(ids)) = (host, ids) {
                    if res.status().is_success() {
                        let action = ep.path.trim_start_matches("/api/");
                        if let Err(e) =
                            shop_backend::identity::team::record(&state.app, &host, action, &ids)
                                .await
                        {
                            // The change is made and answered; a lost audit line is logged.
                            tracing::error!(error = %shop_backend::error::Chain(&e), action, "audit line lost");
                        }
                    }
                }
                res
            }
            Err(res) => res,
        },
    }
}

/// Studio changes whose function writes its own, richer audit line (a reason, the old and
/// new values): the gate does not add a second one.
const SELF_AUDITED: &[&str] = &[
    "/api/live/rules/save",
    "/api/live/held/decide",
    "/api/live/mute",
    "/api/live/pin",
    "/api/live/unpin",
    "/api/live/reports/decide",
    "/api/draws/open",
    "/api/draws/close",
    "/api/studio/coupons/drop",
    "/api/studio/coupons/withdraw",
    "/api/studio/orders/refund",
    "/api/studio/orders/ship",
    "/api/studio/orders/import_tracking",
    "/api/studio/sold_out",
    "/api/studio/team/invite",
    "/api/studio/team/revoke",
    "/api/studio/team/role",
    "/api/studio/team/remove",
];

/// What the audit log says a studio change was about: the ids among its arguments
/// (`session_id=3 product_id=12`). `None` for reads and self-audited changes.
fn audited_ids(ep: &Endpoint, req: &Request) -> Option<String> {
    if ep.method == Method::GET || SELF_AUDITED.contains(&ep.path) {
        return None;
    }
    const KEYS: &[&str] = &[
        "session_id",
        "product_id",
        "order_id",
        "shopper_id",
        "message_id",
        "account_id",
        "id",
    ];
    let body = req
        .extensions()
        .get::<BufferedBody>()
        .map(|b| &b.0[..])
        .unwrap_or(&[]);
    let mut found: Vec<(String, String)> = Vec::new();
    if ep.content_type == "application/json" {
        if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(body) {
            for (k, v) in map {
                if KEYS.contains(&k.as_str()) && (v.is_number() || v.is_string()) {
                    found.push((k, v.to_string().trim_matches('"').to_string()));
                }
            }
        }
    } else if ep.content_type == "application/x-www-form-urlencoded" {
        for (k, v) in form_urlencoded::parse(body) {
            if KEYS.contains(&k.as_ref()) {
                found.push((k.into_owned(), v.into_owned()));
            }
        }
    }
    let mut out = String::new();
    for (k, v) in found.iter().take(6) {
        let v: String = v.chars().take(40).collect();
        out.push_str(&format!("{}{k}={v}", if out.is_empty() { "" } else { " " }));
    }
    Some(out)
}

/// The request body as the gate buffered it, for the audit line.
#[derive(Clone)]
struct BufferedBody(Bytes);

/// How much of a body sent to an unknown endpoint is read past.
const UNKNOWN_DRAIN: usize = 1024 * 1024;

/// Everything that can be decided from the request head.
async fn check(
    state: &ServerState,
    parts: &Parts,
) -> Result<(&'static Endpoint, Option<host_auth::Host>), Response> {
    let Some(ep) = endpoints::find(parts.uri.path()) else {
        return Err(error_response(AppError::not_found("No such API endpoint.")));
    };
    if parts.method != ep.method {
        let mut res = with_status(
            StatusCode::METHOD_NOT_ALLOWED,
            AppError::bad_request(format!("Use {} for this endpoint.", ep.method)),
        );
        if let Ok(v) = HeaderValue::from_str(ep.method.as_str()) {
            res.headers_mut().insert(header::ALLOW, v);
        }
        return Err(res);
    }
    if let Some(query) = parts.uri.query() {
        if !form_is_utf8(query.as_bytes()) {
            return Err(bad("The query string is not valid UTF-8."));
        }
    }
    let mut caller = None;
    if let Caller::Host(permission) = ep.caller {
        let host = host_auth::host_in(&state.app, &parts.headers)
            .await
            .map_err(|e| error_response(AppError::from(e)))?;
        host.require(permission)
            .map_err(|e| error_response(AppError::from(e)))?;
        caller = Some(host);
    }
    let declared = declared_length(&parts.headers);
    // No content type is fine for an empty body (a call without arguments); `buffer` refuses
    // one that turns out not to be empty.
    let untyped_empty = media_type(&parts.headers).is_none() && declared.unwrap_or(0) == 0;
    if ep.method != Method::GET && !untyped_empty {
        if let Some(refusal) = content_type_refusal(ep, &parts.headers) {
            return Err(refusal);
        }
    }
    if declared.is_some_and(|n| n > ep.max_body as u64) {
        return Err(too_large(ep));
    }
    Ok((ep, caller))
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
}

fn expects_continue(headers: &HeaderMap) -> bool {
    headers
        .get(header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"))
}

/// Reads the body within the endpoint's limit and checks its encoding; the request goes on
/// with the body buffered.
async fn buffer(ep: &Endpoint, parts: Parts, body: Body) -> Result<Request, Response> {
    if ep.method == Method::GET {
        // Arguments travel in the query: any body is read and dropped.
        return if drain(body, drain_cap(ep)).await {
            Ok(Request::from_parts(parts, Body::empty()))
        } else {
            Err(closing(too_large(ep)))
        };
    }
    let bytes = match read_body(body, ep.max_body, drain_cap(ep)).await {
        Ok(b) => b,
        Err(BodyFailure::TooLarge) => return Err(closing(too_large(ep))),
        Err(BodyFailure::Unreadable) => {
            return Err(closing(bad("The request body could not be read.")))
        }
    };
    match media_type(&parts.headers).as_deref() {
        None if !bytes.is_empty() => return Err(unsupported(ep)),
        Some("application/json") if std::str::from_utf8(&bytes).is_err() => {
            return Err(bad("The request body is not valid UTF-8."));
        }
        Some("application/x-www-form-urlencoded") if !form_is_utf8(&bytes) => {
            return Err(bad("The form is not valid UTF-8."));
        }
        _ => {}
    }
    let mut req = Request::from_parts(parts, Body::from(bytes.clone()));
    if matches!(ep.caller, Caller::Host(_)) {
        req.extensions_mut().insert(BufferedBody(bytes));
    }
    Ok(req)
}

enum BodyFailure {
    TooLarge,
    Unreadable,
}

/// How much of an oversized body is read (and dropped) before answering 413, so that a
/// client still sending it gets the answer instead of a reset connection.
fn drain_cap(ep: &Endpoint) -> usize {
    ep.max_body.saturating_mul(4).saturating_add(1024 * 1024)
}

/// Reads the body up to `max` bytes; past that, reads and drops up to `cap` and reports it
/// too large.
async fn read_body(mut body: Body, max: usize, cap: usize) -> Result<Bytes, BodyFailure> {
    use http_body_util::BodyExt;
    let mut buf = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Err(if total > max {
                BodyFailure::TooLarge
            } else {
                BodyFailure::Unreadable
            });
        };
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        total = total.saturating_add(data.len());
        if total > cap {
            return Err(BodyFailure::TooLarge);
        }
        if total <= max {
            buf.extend_from_slice(&data);
        } else if !buf.is_empty() {
            buf = Vec::new();
        }
    }
    if total > max {
        Err(BodyFailure::TooLarge)
    } else {
        Ok(Bytes::from(buf))
    }
}

/// Reads and drops a body up to `cap` bytes; true when it ended within that.
async fn drain(body: Body, cap: usize) -> bool {
    read_body(body, cap, cap).await.is_ok()
}

/// Marks a response as the last on its connection (the body was not read to its end).
fn closing(mut res: Response) -> Response {
    res.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    res
}

/// 415 unless the body's media type is the endpoint's; 400 for multipart without a boundary;
/// `None` when the body may be read.
fn content_type_refusal(ep: &Endpoint, headers: &HeaderMap) -> Option<Response> {
    let Some(media) = media_type(headers) else {
        return Some(unsupported(ep));
    };
    if media != ep.content_type {
        return Some(unsupported(ep));
    }
    if media == "multipart/form-data" && !has_valid_boundary(headers) {
        return Some(bad(
            "A multipart body needs a boundary (RFC 2046) in its content type.",
        ));
    }
    None
}

/// The `type/subtype` of the Content-Type header, lower case, without parameters.
fn media_type(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let media = v.split(';').next()?.trim().to_ascii_lowercase();
    (!media.is_empty()).then_some(media)
}

/// RFC 2046: 1 to 70 characters from a restricted set, optionally quoted.
fn has_valid_boundary(headers: &HeaderMap) -> bool {
    let Some(v) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    v.split(';').skip(1).any(|param| {
        let Some((k, val)) = param.split_once('=') else {
            return false;
        };
        if !k.trim().eq_ignore_ascii_case("boundary") {
            return false;
        }
        let val = val.trim().trim_matches('"');
        (1..=70).contains(&val.len())
            && val
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(&b))
            && !val.ends_with(' ')
    })
}

/// True when a form body or query string is valid UTF-8 both as sent and after
/// percent-decoding every key and value (`%FF` would otherwise become U+FFFD).
pub fn form_is_utf8(raw: &[u8]) -> bool {
    if std::str::from_utf8(raw).is_err() {
        return false;
    }
    raw.split(|b| *b == b'&').all(|pair| {
        pair.split(|b| *b == b'=').all(|part| {
            let plus_as_space: Vec<u8> = part
                .iter()
                .map(|b| if *b == b'+' { b' ' } else { *b })
                .collect();
            percent_encoding::percent_decode(&plus_as_space)
                .decode_utf8()
                .is_ok()
        })
    })
}

fn with_status(status: StatusCode, err: AppError) -> Response {
    let mut res = error_response(err);
    *res.status_mut() = status;
    res
}

fn bad(why: &str) -> Response {
    error_response(AppError::bad_request(why))
}

fn unsupported(ep: &Endpoint) -> Response {
    with_status(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        AppError::bad_request(format!("This endpoint takes {}.", ep.content_type)),
    )
}

fn too_large(ep: &Endpoint) -> Response {
    with_status(
        StatusCode::PAYLOAD_TOO_LARGE,
        AppError::bad_request(format!(
            "The request is too large (at most {} KB).",
            ep.max_body / 1024
        )),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoded_invalid_utf8_is_refused() {
        assert!(form_is_utf8(b"nickname=Mei&x=%E7%BE%8E"));
        assert!(form_is_utf8(b"a=b+c&empty=&flag"));
        assert!(!form_is_utf8(b"nickname=%FF%FE"));
        assert!(!form_is_utf8(b"%C3=1"));
        assert!(!form_is_utf8(&[b'a', b'=', 0xFF]));
    }

    #[test]
    fn multipart_boundaries_follow_rfc_2046() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_str(v).expect("header"),
            );
            m
        };
        assert!(has_valid_boundary(&h(
            "multipart/form-data; boundary=----abc123"
        )));
        assert!(has_valid_boundary(&h(
            "multipart/form-data; boundary=\"a b\""
        )));
        assert!(!has_valid_boundary(&h("multipart/form-data")));
        assert!(!has_valid_boundary(&h("multipart/form-data; boundary=")));
        assert!(!has_valid_boundary(&h(&format!(
            "multipart/form-data; boundary={}",
            "x".repeat(71)
        ))));
    }
}
