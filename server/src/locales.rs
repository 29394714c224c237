//! `GET /i18n/{locale}.json`: a locale's UI texts for the browser (`shop_core::i18n`), as a JSON
//! array in the order of the key enum. Asked for with `?v=` the catalogue's version, which
//! changes with any text, it is cached for good; otherwise revalidated.

use axum::{
    extract::{Path, Query},
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};

use shop_core::i18n::{self, Locale};

#[derive(serde::Deserialize)]
pub struct Version {
    v: Option<String>,
}

pub async fn catalogue(Path(file): Path<String>, Query(q): Query<Version>) -> Response {
    let Some(locale) = file.strip_suffix(".json").and_then(Locale::parse) else {
        return (StatusCode::NOT_FOUND, "No such language.").into_response();
    };
    let texts: Vec<&str> = (0..i18n::COUNT).map(|i| i18n::raw(locale, i)).collect();
    let body = serde_json::to_string(&texts).unwrap_or_else(|_| "[]".into());
    let cache = if q.v.as_deref() == Some(i18n::VERSION) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    res
}
