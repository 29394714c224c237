//! What chat apps and WeChat see when a link is shared: the HTML shell with Open Graph tags
//! for `/i/{code}` and `/s/{id}`, and the invite poster PNG.

use crate::html::escape_html;
use shop_core::ids::SessionId;
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use axum::{
    body::Body,
    extract::{Path, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};

use shop_backend::repo::{catalog, shopping};
use shop_core::{
    error::AppError,
    i18n::{self, Locale, K},
    model::SessionStatus,
};

use crate::{
    assets::{self, Bundle},
    poster::{PosterData, PosterRenderer},
    security::error_response,
    ServerState,
};

/// Open Graph / Twitter card fields for a page.
pub struct Meta {
    pub title: String,
    pub description: String,
    /// Absolute URL.
    pub image: String,
    /// Absolute URL.
    pub url: String,
}

/// The built `index.html` with the page's title and meta tags in place of the default title.
pub fn with_meta(index_html: &str, meta: &Meta) -> String {
    let t = escape_html(&meta.title);
    let d = escape_html(&meta.description);
    let i = escape_html(&meta.image);
    let u = escape_html(&meta.url);
    let tags = format!(
        "<title>{t}</title>\n  <meta property=\"og:type\" content=\"website\">\n  \
         <meta property=\"og:title\" content=\"{t}\">\n  <meta property=\"og:description\" content=\"{d}\">\n  \
         <meta property=\"og:image\" content=\"{i}\">\n  <meta property=\"og:url\" content=\"{u}\">\n  \
         <meta name=\"twitter:card\" content=\"summary_large_image\">\n  <meta name=\"description\" content=\"{d}\">"
    );
    match (index_html.find("<title>"), index_html.find("</title>")) {
        (Some(a), Some(b)) if b > a => format!(
            "{}{}{}",
            &index_html[..a],
            tags,
            &index_html[b + "</title>".len()..]
        ),
        _ => index_html.replacen("</head>", &format!("{tags}\n</head>"), 1),
    }
}

/// A bundle's page (the app shell), optionally with meta tags, with the given status.
pub fn shell(
    state: &ServerState,
    bundle: Bundle,
    meta: Option<&Meta>,
    status: StatusCode,
    head_only: bool,
    locale: Locale,
) -> Response {
    page(
        state.assets.page(bundle),
        meta,
        None,
        status,
        head_only,
        locale,
    )
}

/// The shoppers' shell without a first paint: the app explains (an unknown page, an error).
fn shop_shell(state: &ServerState, status: StatusCode, locale: Locale) -> Response {
    shell(state, Bundle::Shop, None, status, false, locale)
}

/// [`shell`] with the page's first paint (`first_paint`) in place of the loading notice.
pub fn painted_shell(
    state: &ServerState,
    bundle: Bundle,
    meta: Option<&Meta>,
    paint: &str,
    locale: Locale,
) -> Response {
    page(
        state.assets.page(bundle),
        meta,
        Some(paint),
        StatusCode::OK,
        false,
        locale,
    )
}

fn page(
    html: Option<&str>,
    meta: Option<&Meta>,
    paint: Option<&str>,
    status: StatusCode,
    head_only: bool,
    locale: Locale,
) -> Response {
    let Some(html) = html else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "The web client has not been built. Run ./scripts/run.sh to build and start the app.",
        )
            .into_response();
    };
    let body = match meta {
        Some(m) => with_meta(html, m),
        None => html.to_owned(),
    };
    let mut body = localized(&body, locale);
    if let Some(paint) = paint {
        body = crate::first_paint::into_shell(&body, paint);
    }
    let mut res = if head_only {
        Response::new(Body::empty())
    } else {
        Response::new(Body::from(body))
    };
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(assets::REVALIDATE),
    );
    h.insert(
        header::VARY,
        HeaderValue::from_static("Cookie, Accept-Language"),
    );
    res
}

/// The shell in `locale`: its `lang`, the texts shown before the app starts (or without
/// JavaScript), and where the locale's texts are, so they download beside the Wasm.
pub fn localized(html: &str, locale: Locale) -> String {
    // Where the page's texts are: the loader (Trunk.toml) preloads them when it starts the
    // Wasm download, after the first paint (a preload in the HTML would compete with it).
    let preload = format!(
        "<meta name=\"texts\" content=\"/i18n/{}.json?v={}\">\n</head>",
        locale.tag(),
        i18n::VERSION
    );
    if locale == Locale::En {
        return html.replacen("</head>", &preload, 1);
    }
    html
        .replacen("<html lang=\"en\">", &format!("<html lang=\"{}\">", locale.tag()), 1)
        .replacen(
            ">Loading…</p>",
            &format!(">{}</p>", escape_html(i18n::text(locale, K::server_boot_loading))),
            1,
        )
        .replacen(
            "<noscript><p>This page needs JavaScript. Please enable it, or open the link in your phone's browser.</p></noscript>",
            &format!(
                "<noscript><p>{}</p></noscript>",
                escape_html(i18n::text(locale, K::server_noscript))
            ),
            1,
        )
        .replacen("</head>", &preload, 1)
}

/// `GET /i/{code}`: the invite page, with a preview card naming the inviter and session.
/// Unknown codes still get the app (which explains), with status 404.
pub async fn invite_page(
    State(state): State<ServerState>,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> Response {
    let locale = shop_backend::request::locale_of(&headers);
    let db = &state.app.db;
    let base = &state.app.settings.public_url;
    let found = match shopping::invite_by_code(db, &code).await {
        Ok(inv) => catalog::session_summary(db, inv.session_id)
            .await
            .map(|s| (inv, s)),
        Err(e) => Err(e),
    };
    match found {
        Ok((inv, session)) => {
            let percent = shopping::policy(db, session.id)
                .await
                .map(|p| p.percent_off)
                .unwrap_or(50);
            let meta = Meta {
                title: i18n::text_f(
                    locale,
                    K::server_og_invite_title,
                    &[
                        ("inviter", &inv.inviter_nickname),
                        ("title", &session.title),
                    ],
                ),
                description: i18n::text_f(
                    locale,
                    K::server_og_invite_description,
                    &[
                        ("host", &session.host_name),
                        ("inviter", &inv.inviter_nickname),
                        ("percent", &percent.to_string()),
                    ],
                ),
                image: format!("{base}/i/{}/poster.png", inv.code),
                url: format!("{base}/i/{}", inv.code),
            };
            let paint =
                crate::first_paint::invite(locale, &inv.inviter_nickname, &session, percent);
            painted_shell(&state, Bundle::Shop, Some(&meta), &paint, locale)
        }
        Err(e) if e.is_not_found() => shop_shell(&state, StatusCode::NOT_FOUND, locale),
        Err(_) => shop_shell(&state, StatusCode::OK, locale),
    }
}

/// `GET /s/{id}`: the session page, with its cover as the preview image.
pub async fn session_page(
    State(state): State<ServerState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let locale = shop_backend::request::locale_of(&headers);
    let base = &state.app.settings.public_url;
    let Ok(id) = id.parse::<SessionId>() else {
        return shop_shell(&state, StatusCode::NOT_FOUND, locale);
    };
    match catalog::session_summary(&state.app.db, id).await {
        Ok(s) => {
            let meta = Meta {
                title: s.title.clone(),
                description: i18n::text_p(
                    locale,
                    K::server_og_session_description,
                    s.product_count,
                    &[
                        ("host", &s.host_name),
                        (
                            "time",
                            &shop_backend::zones::describe_in(
                                s.scheduled_start_ms,
                                &s.time_zone,
                                locale,
                            ),
                        ),
                    ],
                ),
                image: format!("{base}{}", s.cover_url),
                url: format!("{base}/s/{}", s.id),
            };
            // While the session is live the page is the live room, a bundle of its own.
            let bundle = if s.status == SessionStatus::Live {
                Bundle::Live
            } else {
                Bundle::Shop
            };
            painted_shell(
                &state,
                bundle,
                Some(&meta),
                &crate::first_paint::session(locale, &s),
                locale,
            )
        }
        Err(e) if e.is_not_found() => shop_shell(&state, StatusCode::NOT_FOUND, locale),
        Err(_) => shop_shell(&state, StatusCode::OK, locale),
    }
}

/// `GET /`: the live and upcoming sessions, painted by the server (the app takes over).
pub async fn home_page(State(state): State<ServerState>, headers: HeaderMap) -> Response {
    let locale = shop_backend::request::locale_of(&headers);
    match catalog::list_current_sessions(&state.app.db).await {
        Ok(list) => painted_shell(
            &state,
            Bundle::Shop,
            None,
            &crate::first_paint::home(locale, &list),
            locale,
        ),
        // The app shows the error and offers to try again.
        Err(_) => shop_shell(&state, StatusCode::OK, locale),
    }
}

/// Rendered posters, keyed by a hash of everything drawn on them (so a nickname change makes
/// a new poster). Bounded: cleared when full.
#[derive(Default)]
pub struct PosterCache {
    entries: Mutex<HashMap<String, Arc<[u8]>>>,
}

const POSTER_CACHE_MAX: usize = 512;

impl PosterCache {
    fn get(&self, key: &str) -> Option<Arc<[u8]>> {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned()
    }
    fn put(&self, key: String, png: Arc<[u8]>) {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= POSTER_CACHE_MAX {
            map.clear();
        }
        map.insert(key, png);
    }
}

/// The cover image's bytes: a shipped file from `dist/`, or an upload from the upload dir.
async fn cover_bytes(state: &ServerState, url: &str) -> Option<Vec<u8>> {
    match url.strip_prefix("/media/") {
        Some(name) if shop_backend::uploads::is_valid_name(name) => {
            tokio::fs::read(state.app.settings.upload_dir.join(name))
                .await
                .ok()
        }
        Some(_) => None,
        None => state.assets.get(url).map(|a| a.bytes().to_vec()),
    }
}

/// `GET /i/{code}/poster.png`: the shareable poster for an invite.
pub async fn poster_png(
    State(state): State<ServerState>,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> Response {
    let locale = shop_backend::request::locale_of(&headers);
    match render_poster(&state, &code, locale).await {
        Ok((png, etag)) => {
            if headers
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                == Some(etag.as_str())
            {
                return StatusCode::NOT_MODIFIED.into_response();
            }
            let mut res = Response::new(Body::from(png.to_vec()));
            let h = res.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
            // Revalidate: the inviter may rename themselves; the ETag makes that cheap.
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            );
            if let Ok(v) = HeaderValue::from_str(&etag) {
                h.insert(header::ETAG, v);
            }
            // Its words follow the caller's language.
            h.insert(
                header::VARY,
                HeaderValue::from_static("Cookie, Accept-Language"),
            );
            res
        }
        Err(e) => error_response(e),
    }
}

async fn render_poster(
    state: &ServerState,
    code: &str,
    locale: Locale,
) -> Result<(Arc<[u8]>, String), AppError> {
    let db = &state.app.db;
    let invite = shopping::invite_by_code(db, code).await?;
    let session = catalog::session_summary(db, invite.session_id).await?;
    let data = PosterData {
        title: session.title,
        host_name: session.host_name,
        starts_at_ms: session.scheduled_start_ms,
        time_zone: session.time_zone.clone(),
        locale,
        inviter_nickname: invite.inviter_nickname,
        invite_url: format!("{}/i/{}", state.app.settings.public_url, invite.code),
        cover: cover_bytes(state, &session.cover_url).await,
    };
    let key = shop_backend::crypto::sha256_hex(&format!(
        "{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}",
        data.title,
        data.host_name,
        data.starts_at_ms,
        data.time_zone,
        data.locale.tag(),
        data.inviter_nickname,
        data.invite_url,
        session.cover_url
    ));
    let etag = format!("\"{}\"", &key[..24]);
    if let Some(png) = state.posters.get(&key) {
        return Ok((png, etag));
    }
    let renderer: Arc<PosterRenderer> = state.poster_renderer.clone();
    let png = tokio::task::spawn_blocking(move || renderer.render_png(&data))
        .await
        .map_err(|_| AppError::Internal)?
        .map_err(|e| {
            tracing::error!(error = %e, "poster rendering failed");
            AppError::Internal
        })?;
    let png: Arc<[u8]> = png.into();
    state.posters.put(key, png.clone());
    Ok((png, etag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_tags_replace_the_title_and_are_escaped() {
        let html = "<html><head><title>Live Shopping</title></head><body></body></html>";
        let meta = Meta {
            title: "Lin <script>alert(1)</script> invites you".into(),
            description: "\"quoted\" & more".into(),
            image: "https://x/i/abc/poster.png".into(),
            url: "https://x/i/abc".into(),
        };
        let out = with_meta(html, &meta);
        assert!(
            out.contains("<title>Lin &lt;script&gt;alert(1)&lt;/script&gt; invites you</title>")
        );
        assert!(out.contains(
            "<meta property=\"og:description\" content=\"&quot;quoted&quot; &amp; more\">"
        ));
        assert!(out.contains("og:image\" content=\"https://x/i/abc/poster.png\""));
        assert!(!out.contains("<script>"));
        assert_eq!(out.matches("<title>").count(), 1);
    }
}
