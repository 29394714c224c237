//! Invite posters: the 750 x 1334 PNG a shopper saves and shares to WeChat Moments.
//!
//! The poster is composed as an SVG document (cover image, title, host, start time, inviter,
//! QR code of the invite URL, call to action), then rasterised with resvg. Text is set in a
//! subset of Noto Sans CJK SC (Regular and Bold, GB2312 hanzi plus Latin and punctuation; see
//! `server/assets/fonts/README.md`) that is compiled into the binary, so a poster looks the same
//! on every machine: system fonts are never loaded.
//!
//! One concern per file: `layout.rs` the SVG template and the QR code, `text.rs` line breaking
//! (UAX #14 plus the Chinese line-start rules), `fonts.rs` glyph coverage and advance widths
//! (read with skrifa), `cover.rs` the cover image (type and size from imagesize). Dates come
//! from `shop_core::domain::time`.
//!
//! Rendering is CPU-bound (tens of milliseconds); call [`PosterRenderer::render_png`] from
//! `tokio::task::spawn_blocking` in request handlers. Build one [`PosterRenderer`] at start-up
//! and share it (`Arc<PosterRenderer>`): it is `Send + Sync`.

mod cover;
mod fonts;
mod layout;
mod text;

use std::sync::Arc;

use resvg::{tiny_skia, usvg};

use fonts::FontMetrics;

/// Poster size in pixels (portrait, the usual 750-wide Moments poster).
pub const POSTER_WIDTH: u32 = 750;
pub const POSTER_HEIGHT: u32 = 1334;

/// The family name inside the shipped font files.
pub const FONT_FAMILY: &str = "Noto Sans CJK SC";

static FONT_REGULAR: &[u8] = include_bytes!("../../assets/fonts/NotoSansSC-Subset-Regular.otf");
static FONT_BOLD: &[u8] = include_bytes!("../../assets/fonts/NotoSansSC-Subset-Bold.otf");

/// Everything printed on a poster.
#[derive(Debug, Clone)]
pub struct PosterData {
    pub title: String,
    pub host_name: String,
    /// Unix epoch milliseconds; printed in `time_zone`, named.
    pub starts_at_ms: i64,
    /// The session's IANA time zone.
    pub time_zone: String,
    /// The language of the poster's own words (the caller's).
    pub locale: shop_core::i18n::Locale,
    pub inviter_nickname: String,
    /// Encoded in the QR code, also printed small under it.
    pub invite_url: String,
    /// The cover image file bytes (SVG, PNG or JPEG); `None` draws a plain gradient block.
    pub cover: Option<Vec<u8>>,
}

#[derive(Debug, thiserror::Error)]
pub enum PosterError {
    #[error("the poster font could not be loaded: {0}")]
    Font(String),
    #[error("the invite URL cannot be encoded as a QR code: {0}")]
    Qr(#[from] qrcode::types::QrError),
    #[error("the poster SVG could not be parsed: {0}")]
    Svg(#[from] usvg::Error),
    #[error("the poster could not be rendered: {0}")]
    Render(String),
    #[error("the poster could not be encoded as PNG: {0}")]
    Encode(String),
}

/// Renders posters. Loads the fonts once; cheap to share between threads.
pub struct PosterRenderer {
    fontdb: Arc<usvg::fontdb::Database>,
    regular: FontMetrics,
    bold: FontMetrics,
}

impl std::fmt::Debug for PosterRenderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PosterRenderer")
            .field("faces", &self.fontdb.len())
            .field("chars", &self.regular.advances.len())
            .finish()
    }
}

impl PosterRenderer {
    /// Loads the shipped fonts (embedded in the binary) into a font database of their own.
    pub fn new() -> Result<PosterRenderer, PosterError> {
        let regular = FontMetrics::parse(FONT_REGULAR)
            .ok_or_else(|| PosterError::Font("cannot read the Regular font's tables".into()))?;
        let bold = FontMetrics::parse(FONT_BOLD)
            .ok_or_else(|| PosterError::Font("cannot read the Bold font's tables".into()))?;

        let mut db = usvg::fontdb::Database::new();
        for data in [FONT_REGULAR, FONT_BOLD] {
            let ids = db.load_font_source(usvg::fontdb::Source::Binary(Arc::new(data)));
            if ids.is_empty() {
                return Err(PosterError::Font("fontdb rejected a shipped font".into()));
            }
        }
        // Generic families (used by cover SVGs, and as the fallback for unknown names) all map
        // to the one shipped family.
        db.set_serif_family(FONT_FAMILY);
        db.set_sans_serif_family(FONT_FAMILY);
        db.set_monospace_family(FONT_FAMILY);
        db.set_cursive_family(FONT_FAMILY);
        db.set_fantasy_family(FONT_FAMILY);
        for weight in [usvg::fontdb::Weight::NORMAL, usvg::fontdb::Weight::BOLD] {
            let query = usvg::fontdb::Query {
                families: &[usvg::fontdb::Family::Name(FONT_FAMILY)],
                weight,
                ..Default::default()
            };
            if db.query(&query).is_none() {
                return Err(PosterError::Font(format!(
                    "the shipped fonts do not provide {FONT_FAMILY:?} weight {}",
                    weight.0
                )));
            }
        }
        Ok(PosterRenderer {
            fontdb: Arc::new(db),
            regular,
            bold,
        })
    }

    /// Renders the poster as a PNG file (750 x 1334, RGBA).
    pub fn render_png(&self, data: &PosterData) -> Result<Vec<u8>, PosterError> {
        let pixmap = self.render_pixmap(&layout::compose(self, data)?.svg)?;
        pixmap
            .encode_png()
            .map_err(|e| PosterError::Encode(e.to_string()))
    }

    fn render_pixmap(&self, svg: &str) -> Result<tiny_skia::Pixmap, PosterError> {
        let options = usvg::Options {
            font_family: FONT_FAMILY.to_owned(),
            font_size: 24.0,
            languages: vec!["zh-Hans".to_owned(), "en".to_owned()],
            fontdb: Arc::clone(&self.fontdb),
            // Only the data: URIs this module writes; never files on disk.
            image_href_resolver: usvg::ImageHrefResolver {
                resolve_data: usvg::ImageHrefResolver::default_data_resolver(),
                resolve_string: Box::new(|_, _| None),
            },
            ..usvg::Options::default()
        };
        let tree = usvg::Tree::from_str(svg, &options)?;
        let mut pixmap = tiny_skia::Pixmap::new(POSTER_WIDTH, POSTER_HEIGHT)
            .ok_or_else(|| PosterError::Render("could not allocate the poster bitmap".into()))?;
        let size = tree.size();
        let transform = tiny_skia::Transform::from_scale(
            POSTER_WIDTH as f32 / size.width(),
            POSTER_HEIGHT as f32 / size.height(),
        );
        resvg::render(&tree, transform, &mut pixmap.as_mut());
        Ok(pixmap)
    }

    /// Collapses whitespace, drops characters the font cannot draw (emoji, symbols) and shows
    /// letters it lacks (rare hanzi, other scripts) as a white square, so nothing renders as an
    /// invisible gap. Returns `fallback` when nothing printable is left.
    pub(crate) fn sanitize(&self, text: &str, fallback: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut pending_space = false;
        for c in text.chars() {
            if c.is_whitespace() || c.is_control() {
                pending_space = !out.is_empty();
                continue;
            }
            let c = if self.regular.has(c) {
                c
            } else if c.is_alphanumeric() {
                '\u{25A1}'
            } else {
                continue;
            };
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
        }
        if out.is_empty() {
            fallback.to_owned()
        } else {
            out
        }
    }
}

#[cfg(test)]
mod tests;
