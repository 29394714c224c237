//! Response hardening and request guards that apply to every route.

use axum::{
    body::{to_bytes, Body},
    extract::{Request, State},
    http::{header, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use base64::Engine;
use sha2::{Digest, Sha256};
use tower_http::set_header::SetResponseHeaderLayer;

use shop_core::{error::AppError, i18n::Locale};

use crate::ServerState;

/// The Content-Security-Policy for every response. Trunk's loader is an inline module script,
/// so its exact text is allowed by hash (computed from `shells`, the built pages: the
/// shoppers' and the studio's), not by `'unsafe-inline'`. `'wasm-unsafe-eval'` lets the page
/// compile WebAssembly.
pub fn content_security_policy(shells: &[&str], frame_ancestors: &str) -> String {
    let hashes: String = shells
        .iter()
        .flat_map(|html| inline_script_hashes(html))
        .map(|h| format!(" 'sha256-{h}'"))
        .collect();
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{hashes}; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; media-src 'self' blob:; \
         connect-src 'self'; font-src 'self'; worker-src 'self' blob:; manifest-src 'self'; \
         object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors {frame_ancestors}"
    )
}

/// `csp` with its `frame-ancestors` directive replaced by `ancestors` (already validated
/// sources: `domain::embed::frame_ancestors`). The embeddable room's policy is the site's own
/// with another list of who may frame it.
pub fn with_frame_ancestors(csp: &str, ancestors: &str) -> String {
    let kept: Vec<&str> = csp
        .split(';')
        .map(str::trim)
        .filter(|d| !d.is_empty() && !d.starts_with("frame-ancestors"))
        .collect();
    format!("{}; frame-ancestors {ancestors}", kept.join("; "))
}

/// Base64 SHA-256 of the body of each inline `<script>` (one without `src`).
pub fn inline_script_hashes(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<script") {
        rest = &rest[start..];
        let Some(tag_end) = rest.find('>') else { break };
        let tag = &rest[..tag_end];
        let body_start = tag_end + 1;
        let Some(close) = rest[body_start..].find("</script>") else {
            break;
        };
        if !tag.contains(" src=") {
            let body = &rest[body_start..body_start + close];
            out.push(
                base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body.as_bytes())),
            );
        }
        rest = &rest[body_start + close..];
    }
    out
}

/// Adds the security headers to every response of `router` (tower-http layers; `csp` is
/// computed once from the built client). A handler that sets its own policy keeps it (the
/// embeddable room: `embed::room`).
pub fn with_security_headers<S: Clone + Send + Sync + 'static>(
    router: axum::Router<S>,
    csp: &str,
) -> axum::Router<S> {
    let csp = HeaderValue::from_str(csp)
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"));
    let set = |name: header::HeaderName, value: HeaderValue| {
        SetResponseHeaderLayer::overriding(name, value)
    };
    router
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            csp,
        ))
        .layer(set(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(set(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ))
        .layer(set(
            header::HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static(
                "camera=(self), microphone=(self), geolocation=(), payment=()",
            ),
        ))
        .layer(set(
            header::HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ))
}

/// CSRF protection for state-changing API calls: browsers label cross-site requests with
/// `Sec-Fetch-Site` (and `Origin`); we refuse any that did not come from our own pages.
/// Requests without those headers are not from a browser page, so they cannot ride on a
/// victim's cookies.
pub async fn same_origin_writes(
    State(state): State<ServerState>,
    req: Request,
    next: Next,
) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let headers = req.headers();
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    let allowed = match fetch_site {
        Some(site) => site == "same-origin" || site == "none",
        None => match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
            None => true,
            Some(origin) => {
                let host = headers
                    .get(header::HOST)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                origin_host(origin) == Some(host) || origin == &*state.public_origin
            }
        },
    };
    if allowed {
        next.run(req).await
    } else {
        tracing::warn!(?fetch_site, "refused cross-site API write");
        error_response(AppError::Forbidden(
            "Cross-site requests are not allowed.".into(),
        ))
    }
}

fn origin_host(origin: &str) -> Option<&str> {
    origin
        .split_once("://")
        .map(|(_, rest)| rest.trim_end_matches('/'))
}

/// Server functions answer every error with status 500 and the encoded `AppError` in the
/// body. This restores the status each error deserves (404, 400, 409...), in one place, for
/// errors raised in a function body and for arguments that failed to decode alike.
/// The message is also put in the caller's language (`ls_locale` cookie, else
/// `Accept-Language`).
pub async fn api_error_status(req: Request, next: Next) -> Response {
    let locale = shop_backend::request::locale_of(req.headers());
    let res = next.run(req).await;
    if res.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !res.headers().contains_key("serverfnerror")
    {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = to_bytes(body, 64 * 1024).await else {
        return error_response(AppError::Internal);
    };
    let mut body = bytes.to_vec();
    if let Ok(err) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status =
            StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if let Some(secs) = err.retry_after() {
            parts
                .headers
                .insert(header::RETRY_AFTER, HeaderValue::from_static(secs));
        }
        if locale != Locale::En {
            if let Ok(translated) = serde_json::to_vec(&err.translated(locale)) {
                body = translated;
                parts.headers.remove(header::CONTENT_LENGTH);
            }
        }
    }
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(body))
}

/// What a panicking handler answers (tower-http's catch-panic layer): logged with its message,
/// answered as an internal error in the API's JSON shape.
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let msg = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    tracing::error!(panic = msg, "a request handler panicked");
    error_response(AppError::Internal)
}

/// An error as an HTTP response (`AppError`'s `IntoResponse`); a service's fault is logged
/// on the way (`From<shop_backend::error::Error> for AppError`).
pub fn error_response(err: impl Into<AppError>) -> Response {
    err.into().into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_only_inline_scripts() {
        let html = r#"<html><head><script src="/x.js"></script><script type="module">import init from '/app.js';</script></head></html>"#;
        let hashes = inline_script_hashes(html);
        assert_eq!(hashes.len(), 1);
        let expected = base64::engine::general_purpose::STANDARD
            .encode(Sha256::digest(b"import init from '/app.js';"));
        assert_eq!(hashes[0], expected);
    }

    #[test]
    fn frame_ancestors_replaced_and_nothing_else() {
        let csp = content_security_policy(&[], "'self' https://wx.example.com");
        let embed = with_frame_ancestors(&csp, "'self' http://localhost:3107");
        assert!(embed.ends_with("; frame-ancestors 'self' http://localhost:3107"));
        assert_eq!(embed.matches("frame-ancestors").count(), 1);
        assert!(!embed.contains("wx.example.com"));
        let others = |p: &str| -> Vec<String> {
            p.split(';')
                .map(|d| d.trim().to_string())
                .filter(|d| !d.starts_with("frame-ancestors"))
                .collect()
        };
        assert_eq!(others(&csp), others(&embed));
    }

    #[test]
    fn csp_names_frame_ancestors_and_script_hashes() {
        let csp = content_security_policy(
            &["<script>a()</script>", "<script>b()</script>"],
            "'self' https://wx.example.com",
        );
        assert!(csp.contains("frame-ancestors 'self' https://wx.example.com"));
        assert_eq!(csp.matches("'sha256-").count(), 2, "both shells' scripts");
        assert!(!csp.contains("script-src 'self' 'unsafe-inline'"));
    }
}
