//! WeChat's silent web authorisation for shoppers inside WeChat (`snsapi_base`), so that
//! WeChat Pay's JSAPI payment can open in WeChat itself:
//!   GET /wechat/auth?next=/s/12       → 302 to WeChat's authorize URL (a signed, 10-minute
//!                                        state cookie binds the round trip to this shopper)
//!   GET /wechat/auth/callback?code&state → the code exchanged for the openid, kept on the
//!                                        shopper → 302 back to `next` with `wxauth=ok|failed`
//! `next` is only ever a path on this site.

use axum::{
    extract::{Query, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use shop_core::ids::ShopperId;
use std::collections::HashMap;

use shop_backend::{
    crypto, identity::Shopper, now_ms, repo::shoppers, request, wechat::auth as wechat_auth,
};

use crate::ServerState;

const COOKIE: &str = "wx_auth";
const STATE_TTL_MS: i64 = 10 * 60 * 1000;

fn redirect(to: &str, cookie: Option<String>) -> Response {
    let mut res = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(c) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        res.headers_mut().insert(header::SET_COOKIE, c);
    }
    res
}

fn state_cookie(value: &str, max_age: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{COOKIE}={value}; Path=/wechat/auth; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"
    )
}

/// What the state signs: the round trip belongs to this shopper, this time, this path.
fn signed_text(shopper_id: ShopperId, ts: i64, next: &str) -> String {
    format!("wx_auth|{shopper_id}|{ts}|{next}")
}

/// `next` with `wxauth=RESULT` added (the page then does not ask again).
fn not_set_up() -> Response {
    (
        StatusCode::NOT_FOUND,
        "WeChat authorisation is not set up here",
    )
        .into_response()
}

fn back_to(next: &str, result: &str) -> String {
    let sep = if next.contains('?') { '&' } else { '?' };
    format!("{next}{sep}wxauth={result}")
}

pub async fn start(
    State(st): State<ServerState>,
    shopper: Shopper,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(oauth) = st.app.wechat_auth.as_ref() else {
        return not_set_up();
    };
    let next = wechat_auth::local_path(q.get("next").map(String::as_str).unwrap_or("/"));
    let ts = now_ms();
    let sig = crypto::sign(&st.app.cookie_key, &signed_text(shopper.id, ts, next));
    let value = format!("{ts}.{}.{sig}", URL_SAFE_NO_PAD.encode(next.as_bytes()));
    let callback = format!(
        "{}/wechat/auth/callback",
        st.app.settings.public_url.trim_end_matches('/')
    );
    redirect(
        &oauth.authorize_url(&callback, &sig),
        Some(state_cookie(
            &value,
            STATE_TTL_MS / 1000,
            st.app.settings.secure_cookies,
        )),
    )
}

pub async fn callback(
    State(st): State<ServerState>,
    shopper: Shopper,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(oauth) = st.app.wechat_auth.as_ref() else {
        return not_set_up();
    };
    let clear = Some(state_cookie("", 0, st.app.settings.secure_cookies));
    // The round trip this browser started: signed for this shopper, recent, same state.
    let started = request::cookie_in(&headers, COOKIE).and_then(|v| {
        let mut parts = v.splitn(3, '.');
        let ts: i64 = parts.next()?.parse().ok()?;
        let next = String::from_utf8(URL_SAFE_NO_PAD.decode(parts.next()?).ok()?).ok()?;
        let sig = parts.next()?;
        let fresh = now_ms().saturating_sub(ts) < STATE_TTL_MS;
        let text = signed_text(shopper.id, ts, &next);
        (fresh && crypto::verify(&st.app.cookie_key, &text, sig)).then_some((next, text))
    });
    let Some((next, text)) = started else {
        return redirect("/", clear);
    };
    let next = wechat_auth::local_path(&next).to_string();
    // WeChat hands the state back as it was given: the same signature.
    let state_ok = q
        .get("state")
        .is_some_and(|s| crypto::verify(&st.app.cookie_key, &text, s));
    let code = q.get("code").map(String::as_str).unwrap_or("");
    if !state_ok || code.is_empty() || code.len() > 256 {
        return redirect(&back_to(&next, "failed"), clear);
    }
    let kept = match oauth.openid(code).await {
        Ok(openid) => shoppers::set_wechat_openid(&st.app.db, shopper.id, &openid)
            .await
            .is_ok(),
        Err(_) => false,
    };
    redirect(&back_to(&next, if kept { "ok" } else { "failed" }), clear)
}
