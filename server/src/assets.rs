//! The Trunk-built client in `dist/`, served from memory.
//!
//! Files are read once at start. Compressed variants (brotli, gzip) are made on first request
//! and kept, so start-up stays fast and each file is compressed once per process. Trunk puts a
//! content hash in the names of the JS, Wasm and CSS files: those are cached for a year as
//! immutable; `index.html` is always revalidated, so a deploy takes effect on the next load.

use std::{
    collections::HashMap,
    io::Write,
    path::{Path, PathBuf},
    sync::{Arc, OnceLock},
};

use axum::{
    body::Body,
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};

pub struct Asset {
    bytes: Arc<[u8]>,
    content_type: &'static str,
    cache_control: &'static str,
    etag: String,
    brotli: OnceLock<Option<Arc<[u8]>>>,
    gzip: OnceLock<Option<Arc<[u8]>>>,
}

#[derive(Default)]
pub struct Assets {
    files: HashMap<String, Asset>,
    /// Each bundle's page as built (by [`Bundle`]); `None` when it has not been built.
    pages: [Option<String>; 3],
}

/// The client's bundles, each a Trunk build with its own page: a shopper waiting for a session
/// downloads neither the live room nor the studio.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bundle {
    /// Home, session (before and after it is live) and invite pages (`app/index.html`).
    Shop = 0,
    /// The live room: the shoppers' pages with the stage, the pay sheet and "My orders", and
    /// the embedded room (`app/live.html`).
    Live = 1,
    /// The hosts' studio (`app/studio.html`).
    Studio = 2,
}

impl Bundle {
    const ALL: [Bundle; 3] = [Bundle::Shop, Bundle::Live, Bundle::Studio];

    /// Where its page lies under `dist/` (Trunk's `--public-url` for its build).
    pub const fn page(self) -> &'static str {
        match self {
            Bundle::Shop => "/index.html",
            Bundle::Live => "/live-app/index.html",
            Bundle::Studio => "/studio-app/index.html",
        }
    }
}

pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
pub const REVALIDATE: &str = "no-cache";
const SHORT: &str = "public, max-age=3600";

impl Assets {
    /// Loads every file under `dir`. A missing directory gives an empty set (the API still
    /// works; pages answer that the client is not built).
    pub fn load(dir: &Path) -> std::io::Result<Assets> {
        let mut assets = Assets::default();
        if !dir.is_dir() {
            tracing::warn!(dir = %dir.display(), "client build not found; run scripts/run.sh to build it");
            return Ok(assets);
        }
        let mut stack: Vec<PathBuf> = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d)? {
                let entry = entry?;
                let path = entry.path();
                if entry.file_type()?.is_dir() {
                    stack.push(path);
                    continue;
                }
                let Ok(rel) = path.strip_prefix(dir) else {
                    continue;
                };
                let url = format!("/{}", rel.to_string_lossy().replace('\\', "/"));
                let bytes = std::fs::read(&path)?;
                if let Some(b) = Bundle::ALL.into_iter().find(|b| b.page() == url) {
                    assets.pages[b as usize] = Some(String::from_utf8_lossy(&bytes).into_owned());
                }
                assets
                    .files
                    .insert(url.clone(), Asset::new(&url, bytes.into()));
            }
        }
        tracing::info!(files = assets.files.len(), dir = %dir.display(), "client assets loaded");
        Ok(assets)
    }

    /// A bundle's page as built.
    pub fn page(&self, bundle: Bundle) -> Option<&str> {
        self.pages[bundle as usize].as_deref()
    }

    /// Every built page (for the inline-script hashes of the content security policy).
    pub fn shells(&self) -> Vec<&str> {
        self.pages.iter().flatten().map(String::as_str).collect()
    }

    pub fn get(&self, path: &str) -> Option<&Asset> {
        if Bundle::ALL.iter().any(|b| b.page() == path) {
            return None; // always served through the page routes, with the page's headers
        }
        self.files.get(path)
    }
}

impl Asset {
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn new(url: &str, bytes: Arc<[u8]>) -> Asset {
        let digest = Sha256::digest(&bytes);
        let etag = format!("\"{}\"", hex(&digest[..12]));
        Asset {
            content_type: content_type(url),
            cache_control: cache_control(url),
            etag,
            bytes,
            brotli: OnceLock::new(),
            gzip: OnceLock::new(),
        }
    }

    /// Answers a GET/HEAD, honouring `If-None-Match` and `Accept-Encoding`.
    pub fn respond(&self, req_headers: &HeaderMap, head_only: bool) -> Response {
        let mut res = if etag_matches(req_headers, &self.etag) {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            let (body, encoding) = self.pick_encoding(req_headers);
            let mut res = if head_only {
                Response::new(Body::empty())
            } else {
                Response::new(Body::from(body.to_vec()))
            };
            let h = res.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(self.content_type),
            );
            if let Ok(len) = HeaderValue::from_str(&body.len().to_string()) {
                h.insert(header::CONTENT_LENGTH, len);
            }
            if let Some(enc) = encoding {
                h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(enc));
            }
            res
        };
        let h = res.headers_mut();
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(self.cache_control),
        );
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        if let Ok(etag) = HeaderValue::from_str(&self.etag) {
            h.insert(header::ETAG, etag);
        }
        res
    }

    fn pick_encoding(&self, req_headers: &HeaderMap) -> (Arc<[u8]>, Option<&'static str>) {
        if !compressible(self.content_type) || self.bytes.len() < 512 {
            return (self.bytes.clone(), None);
        }
        let accept = req_headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if accepts(accept, "br") {
            if let Some(b) = self.brotli.get_or_init(|| brotli_compress(&self.bytes)) {
                return (b.clone(), Some("br"));
            }
        }
        if accepts(accept, "gzip") {
            if let Some(g) = self.gzip.get_or_init(|| gzip_compress(&self.bytes)) {
                return (g.clone(), Some("gzip"));
            }
        }
        (self.bytes.clone(), None)
    }
}

fn etag_matches(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
}

/// `Accept-Encoding` contains `coding` with a non-zero q-value.
fn accepts(accept_encoding: &str, coding: &str) -> bool {
    accept_encoding.split(',').any(|part| {
        let mut it = part.split(';');
        let name = it.next().unwrap_or("").trim();
        let q_zero = it.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
        name.eq_ignore_ascii_case(coding) && !q_zero
    })
}

fn brotli_compress(data: &[u8]) -> Option<Arc<[u8]>> {
    let mut out = Vec::with_capacity(data.len() / 3);
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 64 * 1024, 11, 22);
        w.write_all(data).ok()?;
    }
    (out.len() < data.len()).then(|| out.into())
}

fn gzip_compress(data: &[u8]) -> Option<Arc<[u8]>> {
    let mut w = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 3),
        flate2::Compression::best(),
    );
    w.write_all(data).ok()?;
    let out = w.finish().ok()?;
    (out.len() < data.len()).then(|| out.into())
}

fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "json" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn compressible(content_type: &str) -> bool {
    content_type.starts_with("text/")
        || matches!(
            content_type,
            "application/wasm" | "application/json" | "application/manifest+json" | "image/svg+xml"
        )
}

/// Trunk's hashed names look like `app-3f2a1b9c8d7e6f5a_bg.wasm` or `main-3f2a1b9c8d7e6f5a.css`:
/// a 64-bit hash in hex without leading zeros, so usually 16 digits and sometimes fewer.
fn is_content_hashed(path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or(path);
    let stem = file.split('.').next().unwrap_or(file);
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    stem.rsplit_once('-').is_some_and(|(_, h)| {
        (12..=16).contains(&h.len()) && h.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

fn cache_control(path: &str) -> &'static str {
    if is_content_hashed(path) {
        IMMUTABLE
    } else if path.ends_with(".html") {
        REVALIDATE
    } else {
        SHORT
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Serves one file from disk with tower-http's `ServeFile` (Range and conditional requests,
/// Last-Modified, streamed rather than read whole), with our content type and caching.
pub async fn serve_file(
    path: &std::path::Path,
    req: axum::extract::Request,
    content_type: &'static str,
    cache_control: &'static str,
) -> axum::response::Response {
    use axum::{
        http::{header, HeaderValue, StatusCode},
        response::IntoResponse,
    };
    use tower::ServiceExt;
    match tower_http::services::ServeFile::new(path)
        .oneshot(req)
        .await
    {
        Ok(res) if res.status() == StatusCode::NOT_FOUND => {
            (StatusCode::NOT_FOUND, "Not found").into_response()
        }
        Ok(res) => {
            let mut res = res.map(axum::body::Body::new);
            let h = res.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static(cache_control),
            );
            res
        }
        Err(never) => match never {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_trunk_outputs_are_immutable_others_are_not() {
        assert_eq!(cache_control("/app-3f2a1b9c8d7e6f5a_bg.wasm"), IMMUTABLE);
        assert_eq!(cache_control("/app-3f2a1b9c8d7e6f5a.js"), IMMUTABLE);
        assert_eq!(cache_control("/main-0123456789abcdef.css"), IMMUTABLE);
        assert_eq!(
            cache_control("/app-a5358c3155005aa_bg.wasm"),
            IMMUTABLE,
            "15 digits: leading zero dropped"
        );
        assert_eq!(cache_control("/public/icons/icon-192.png"), SHORT);
        assert_eq!(cache_control("/public/products/lipstick.svg"), SHORT);
        assert_eq!(cache_control("/public/baby-care-wipes.svg"), SHORT);
        assert_eq!(cache_control("/index.html"), REVALIDATE);
    }

    #[test]
    fn accept_encoding_respects_q_zero() {
        assert!(accepts("gzip, deflate, br", "br"));
        assert!(accepts("br;q=0.5", "br"));
        assert!(!accepts("gzip, br;q=0", "br"));
        assert!(!accepts("gzip", "br"));
    }

    #[test]
    fn serves_brotli_when_accepted_and_304_on_matching_etag() {
        let body: Vec<u8> = "console.log('hello');\n".repeat(200).into_bytes();
        let asset = Asset::new("/app-0123456789abcdef.js", body.clone().into());
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip, br"),
        );
        let res = asset.respond(&h, false);
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()[header::CONTENT_ENCODING], "br");
        assert_eq!(res.headers()[header::CACHE_CONTROL], IMMUTABLE);

        let mut h2 = HeaderMap::new();
        h2.insert(header::IF_NONE_MATCH, res.headers()[header::ETAG].clone());
        assert_eq!(asset.respond(&h2, false).status(), StatusCode::NOT_MODIFIED);

        let plain = asset.respond(&HeaderMap::new(), false);
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
        assert_eq!(
            plain.headers()[header::CONTENT_LENGTH],
            body.len().to_string().as_str()
        );
    }
}
