//! Invite posters: the 750 x 1334 PNG a shopper saves and shares to WeChat Moments.
//!
//! The poster is composed as an SVG document (cover image, title, host, start time, inviter,
//! QR code of the invite URL, call to action), then rasterised with resvg. Text is set in a
//! subset of Noto Sans CJK SC (Regular and Bold, GB2312 hanzi plus Latin and punctuation; see
//! `server/assets/fonts/README.md`) that is compiled into the binary, so a poster looks the same
//! on every machine: system fonts are never loaded.
//!
//! Rendering is CPU-bound (tens of milliseconds); call [`PosterRenderer::render_png`] from
//! `tokio::task::spawn_blocking` in request handlers. Build one [`PosterRenderer`] at start-up
//! and share it (`Arc<PosterRenderer>`): it is `Send + Sync`.

use std::{collections::HashMap, fmt::Write as _, sync::Arc};

use base64::Engine as _;
use qrcode::{Color as QrColor, EcLevel, QrCode};
use resvg::{tiny_skia, usvg};

/// Poster size in pixels (portrait, the usual 750-wide Moments poster).
pub const POSTER_WIDTH: u32 = 750;
pub const POSTER_HEIGHT: u32 = 1334;

/// The family name inside the shipped font files.
pub const FONT_FAMILY: &str = "Noto Sans CJK SC";

static FONT_REGULAR: &[u8] = include_bytes!("../assets/fonts/NotoSansSC-Subset-Regular.otf");
static FONT_BOLD: &[u8] = include_bytes!("../assets/fonts/NotoSansSC-Subset-Bold.otf");

/// Covers larger than this are ignored (the gradient placeholder is drawn instead).
const MAX_COVER_BYTES: usize = 12 * 1024 * 1024;
/// Raster covers with more pixels than this are ignored (decoding them would cost too much).
const MAX_COVER_PIXELS: u64 = 40_000_000;

const BRAND: &str = "#ff3d6e";
const BRAND_DARK: &str = "#d81b50";
const BRAND_TINT: &str = "#fff0f4";
const INK: &str = "#1d1d1f";
const MUTED: &str = "#6b6b75";
const LINE: &str = "#ececf1";

/// The white box around the QR code (its quiet zone included): left, top, side.
const QR_BOX_X: u32 = 402;
const QR_BOX_Y: u32 = 884;
const QR_BOX: u32 = 292;

/// Everything printed on a poster.
#[derive(Debug, Clone)]
pub struct PosterData {
    pub title: String,
    pub host_name: String,
    /// Unix epoch milliseconds; printed in China Standard Time (UTC+8).
    pub starts_at_ms: i64,
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

/// Where the QR code landed on the poster, in pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
struct QrPlacement {
    /// Top-left corner of the first module (inside the quiet zone).
    x: u32,
    y: u32,
    module_px: u32,
    /// Modules per side.
    modules: u32,
}

/// The SVG source of a poster and where its QR code is.
struct ComposedPoster {
    svg: String,
    /// Read by the tests, which check the code's pixels.
    #[cfg_attr(not(test), allow(dead_code))]
    qr: QrPlacement,
    /// The invite URL as printed under the code.
    #[cfg_attr(not(test), allow(dead_code))]
    url_lines: Vec<String>,
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
        let pixmap = self.render_pixmap(&self.compose(data)?.svg)?;
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

    /// Builds the poster's SVG source.
    fn compose(&self, data: &PosterData) -> Result<ComposedPoster, PosterError> {
        let reg = |size: f32| move |c: char| self.regular.advance_em(c) * size;
        let bold = |size: f32| move |c: char| self.bold.advance_em(c) * size;

        let title = self.sanitize(&data.title, "Live session");
        let host = self.sanitize(&data.host_name, "Host");
        let nickname = self.sanitize(&data.inviter_nickname, "A friend");
        let url = self.sanitize(&data.invite_url, "");
        let when = format_beijing_time(data.starts_at_ms);

        let mut s = String::with_capacity(64 * 1024);
        let (w, h) = (POSTER_WIDTH, POSTER_HEIGHT);
        // Writing into a String cannot fail; the results of write! are ignored below.
        let _ = write!(
            s,
            r##"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="{FONT_FAMILY}">"##
        );
        s.push_str(&format!(
            r##"<defs>
<linearGradient id="bg" gradientUnits="userSpaceOnUse" x1="0" y1="0" x2="750" y2="1334"><stop offset="0" stop-color="{BRAND}"/><stop offset=".55" stop-color="#ff5f62"/><stop offset="1" stop-color="#ff9a5c"/></linearGradient>
<linearGradient id="ph" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#ff6f91"/><stop offset=".55" stop-color="#ff9671"/><stop offset="1" stop-color="#ffc75f"/></linearGradient>
<clipPath id="coverclip"><rect x="56" y="128" width="638" height="359" rx="22"/></clipPath>
</defs>
<rect width="750" height="1334" fill="url(#bg)"/>
<circle cx="690" cy="70" r="190" fill="#fff" opacity=".10"/>
<circle cx="-20" cy="1200" r="230" fill="#fff" opacity=".08"/>
<circle cx="600" cy="1330" r="120" fill="#fff" opacity=".07"/>
"##
        ));

        // Header: logo mark and brand name.
        s.push_str(&format!(
            r##"<rect x="40" y="32" width="48" height="48" rx="14" fill="#fff"/>
<path d="M58 45 L75 56 L58 67 Z" fill="{BRAND}" stroke="{BRAND}" stroke-width="3" stroke-linejoin="round"/>
<text x="102" y="67" font-size="30" font-weight="700" fill="#fff">Live Shopping</text>
<rect x="470" y="38" width="240" height="36" rx="18" fill="#fff" fill-opacity=".2" stroke="#fff" stroke-opacity=".55"/>
<text x="590" y="63" font-size="19" fill="#fff" text-anchor="middle">Shop live with friends</text>
"##
        ));

        // The card, with coupon notches at the divider.
        let divider_y = 868;
        // A soft shadow from stacked translucent outlines (a blur filter would cost ~10x the
        // whole rest of the rendering).
        for i in 1..=6 {
            let _ = write!(
                s,
                r##"<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="{r}" fill="#7a0a2a" fill-opacity=".035"/>"##,
                x = 32 - 2 * i,
                y = 104 - 2 * i + 10,
                w = 686 + 4 * i,
                h = 1136 + 4 * i,
                r = 32 + 2 * i,
            );
        }
        s.push_str(&format!(
            r##"<rect x="32" y="104" width="686" height="1136" rx="32" fill="#fff"/>
<circle cx="32" cy="{divider_y}" r="18" fill="url(#bg)"/>
<circle cx="718" cy="{divider_y}" r="18" fill="url(#bg)"/>
<line x1="66" y1="{divider_y}" x2="684" y2="{divider_y}" stroke="{LINE}" stroke-width="3" stroke-dasharray="10 9" stroke-linecap="round"/>
"##
        ));

        // Cover: the placeholder gradient, then the image (if any) over it.
        s.push_str(
            r##"<g clip-path="url(#coverclip)"><rect x="56" y="128" width="638" height="359" fill="url(#ph)"/>
<circle cx="560" cy="200" r="150" fill="#fff" opacity=".15"/><circle cx="120" cy="470" r="170" fill="#fff" opacity=".12"/>
"##,
        );
        match data.cover.as_deref().and_then(cover_data_uri) {
            Some(uri) => {
                let _ = write!(
                    s,
                    r##"<image x="56" y="128" width="638" height="359" preserveAspectRatio="xMidYMid slice" xlink:href="{uri}"/>"##
                );
            }
            None => {
                s.push_str(
                    r##"<circle cx="375" cy="307" r="58" fill="#fff" opacity=".9"/><path d="M357 277 L402 307 L357 337 Z" fill="#ff6f91" stroke="#ff6f91" stroke-width="8" stroke-linejoin="round"/>"##,
                );
            }
        }
        s.push_str("</g>\n");

        // Title, host and start time, centred in the space between cover and divider.
        const TITLE_SIZE: f32 = 44.0;
        const TITLE_LEADING: f32 = 60.0;
        const TEXT_X: f32 = 60.0;
        const TEXT_W: f32 = 630.0;
        let title_lines = wrap_lines(&title, TEXT_W, 3, &bold(TITLE_SIZE));
        let n = title_lines.len().max(1) as f32;
        // Block: title (cap height ~0.72 em above the first baseline), gap, two meta rows.
        let block_h = 0.72 * TITLE_SIZE + (n - 1.0) * TITLE_LEADING + 34.0 + 46.0 + 50.0;
        let top = 487.0 + 30.0;
        let bottom = divider_y as f32 - 30.0;
        let start = (top + ((bottom - top) - block_h) / 2.0).max(top);
        let mut y = start + 0.72 * TITLE_SIZE;
        for line in &title_lines {
            // Full-width opening brackets carry their space on the left: hang it in the margin.
            let hang = match line.chars().next() {
                Some('【' | '「' | '『' | '（' | '《' | '〈' | '“' | '‘') => {
                    0.42 * TITLE_SIZE
                }
                _ => 0.0,
            };
            let _ = write!(
                s,
                r##"<text x="{:.1}" y="{y:.1}" font-size="{TITLE_SIZE}" font-weight="700" fill="{INK}">{}</text>"##,
                TEXT_X - hang,
                xml_escape(line)
            );
            s.push('\n');
            y += TITLE_LEADING;
        }
        y += 34.0 + 46.0 - TITLE_LEADING;
        const META_SIZE: f32 = 27.0;
        let meta_x = TEXT_X + 50.0;
        let meta_w = TEXT_W - 50.0;
        let host_label = "Host  ";
        let label_w = text_width(host_label, &reg(META_SIZE));
        let host_line = truncate_to_width(&host, meta_w - label_w, &bold(META_SIZE));
        // Person icon.
        let _ = write!(
            s,
            r##"<circle cx="{cx}" cy="{cy:.1}" r="17" fill="{BRAND_TINT}"/><circle cx="{cx}" cy="{hy:.1}" r="5.5" fill="{BRAND}"/><path d="M{lx} {by:.1} a9 8 0 0 1 18 0 z" fill="{BRAND}"/>
<text x="{meta_x}" y="{y:.1}" font-size="{META_SIZE}" fill="{MUTED}">{host_label}<tspan font-weight="700" fill="{INK}">{}</tspan></text>
"##,
            xml_escape(&host_line),
            cx = TEXT_X + 17.0,
            cy = y - 9.0,
            hy = y - 14.0,
            lx = TEXT_X + 8.0,
            by = y - 0.5,
        );
        y += 50.0;
        let when_line = truncate_to_width(&when, meta_w, &reg(META_SIZE));
        // Clock icon.
        let _ = write!(
            s,
            r##"<circle cx="{cx}" cy="{cy:.1}" r="17" fill="{BRAND_TINT}"/><circle cx="{cx}" cy="{cy:.1}" r="9.5" fill="none" stroke="{BRAND}" stroke-width="2.6"/><path d="M{cx} {t:.1} V{cy:.1} H{r}" fill="none" stroke="{BRAND}" stroke-width="2.6" stroke-linecap="round" stroke-linejoin="round"/>
<text x="{meta_x}" y="{y:.1}" font-size="{META_SIZE}" fill="{INK}">{}</text>
"##,
            xml_escape(&when_line),
            cx = TEXT_X + 17.0,
            cy = y - 9.0,
            t = y - 15.0,
            r = TEXT_X + 21.5,
        );

        // Inviter and call to action (left), QR code (right).
        let avatar = nickname.chars().next().unwrap_or('?');
        let avatar_size = if is_wide(avatar) { 30.0 } else { 34.0 };
        let nick_line = truncate_to_width(&nickname, 380.0 - 144.0, &bold(29.0));
        let _ = write!(
            s,
            r##"<circle cx="94" cy="942" r="36" fill="{BRAND_TINT}" stroke="{BRAND}" stroke-width="2.5"/>
<text x="94" y="{ay:.1}" font-size="{avatar_size}" font-weight="700" fill="{BRAND}" text-anchor="middle">{}</text>
<text x="144" y="935" font-size="29" font-weight="700" fill="{INK}">{}</text>
<text x="144" y="971" font-size="24" fill="{MUTED}">invites you</text>
<text x="60" y="1070" font-size="38" font-weight="700" fill="{BRAND}">Scan to join:</text>
<text x="60" y="1120" font-size="38" font-weight="700" fill="{BRAND_DARK}">50% off together</text>
<rect x="60" y="1156" width="300" height="44" rx="22" fill="{BRAND_TINT}"/>
<text x="210" y="1185" font-size="20" fill="{BRAND}" text-anchor="middle">Long-press or scan the code ›</text>
"##,
            xml_escape(&avatar.to_string()),
            xml_escape(&nick_line),
            ay = 942.0 + 0.36 * avatar_size,
        );

        let qr = qr_svg(&mut s, &data.invite_url, QR_BOX_X, QR_BOX_Y, QR_BOX)?;
        // The URL in small print under the code, without the usual scheme, on up to 2 lines.
        let shown = url.strip_prefix("https://").unwrap_or(&url);
        let url_lines = wrap_lines(shown, QR_BOX as f32 + 4.0, 2, &reg(15.0));
        let mut url_y = (QR_BOX_Y + QR_BOX) as f32 + 24.0;
        for line in &url_lines {
            let _ = write!(
                s,
                r##"<text x="{:.1}" y="{url_y:.1}" font-size="15" fill="{MUTED}" text-anchor="middle">{}</text>"##,
                f64::from(QR_BOX_X) + f64::from(QR_BOX) / 2.0,
                xml_escape(line)
            );
            s.push('\n');
            url_y += 20.0;
        }
        s.push_str(
            r##"<text x="375" y="1293" font-size="22" fill="#fff" fill-opacity=".92" text-anchor="middle">Watch live, chat and buy together</text>
</svg>
"##,
        );
        Ok(ComposedPoster {
            svg: s,
            qr,
            url_lines,
        })
    }

    /// Collapses whitespace, drops characters the font cannot draw (emoji, symbols) and shows
    /// letters it lacks (rare hanzi, other scripts) as a white square, so nothing renders as an
    /// invisible gap. Returns `fallback` when nothing printable is left.
    fn sanitize(&self, text: &str, fallback: &str) -> String {
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

/// Draws the QR code of `url` in a white rounded box of `box_px` at (`bx`, `by`), with a quiet zone
/// of at least four modules, modules on whole pixels so the code stays crisp.
fn qr_svg(
    s: &mut String,
    url: &str,
    bx: u32,
    by: u32,
    box_px: u32,
) -> Result<QrPlacement, PosterError> {
    let code = QrCode::with_error_correction_level(url.as_bytes(), EcLevel::M)?;
    let modules = code.width();
    let colors = code.to_colors();
    let modules_u32 =
        u32::try_from(modules).map_err(|_| PosterError::Render("QR too big".into()))?;
    let module_px = (box_px.saturating_sub(4) / (modules_u32 + 8)).max(1);
    let size = module_px * modules_u32;
    let qx = bx + (box_px.saturating_sub(size)) / 2;
    let qy = by + (box_px.saturating_sub(size)) / 2;

    let _ = write!(
        s,
        r##"<rect x="{bx}" y="{by}" width="{box_px}" height="{box_px}" rx="18" fill="#fff" stroke="{LINE}" stroke-width="2"/>
<path transform="translate({qx} {qy}) scale({module_px})" fill="#000" shape-rendering="crispEdges" d=""##
    );
    for row in 0..modules {
        let mut col = 0;
        while col < modules {
            if colors.get(row * modules + col) == Some(&QrColor::Dark) {
                let start = col;
                while col < modules && colors.get(row * modules + col) == Some(&QrColor::Dark) {
                    col += 1;
                }
                let _ = write!(s, "M{start} {row}h{}v1h-{}z", col - start, col - start);
            } else {
                col += 1;
            }
        }
    }
    s.push_str("\"/>\n");
    Ok(QrPlacement {
        x: qx,
        y: qy,
        module_px,
        modules: modules_u32,
    })
}

/// The cover as a `data:` URI, or `None` (with a log line) when it is not a usable SVG, PNG or
/// JPEG image.
fn cover_data_uri(bytes: &[u8]) -> Option<String> {
    if bytes.len() > MAX_COVER_BYTES {
        tracing::warn!(
            len = bytes.len(),
            "poster cover too large; using the placeholder"
        );
        return None;
    }
    let Some(mime) = sniff_image(bytes) else {
        tracing::warn!("poster cover is not SVG, PNG or JPEG; using the placeholder");
        return None;
    };
    if let Some((w, h)) = raster_size(bytes) {
        if u64::from(w) * u64::from(h) > MAX_COVER_PIXELS || w == 0 || h == 0 {
            tracing::warn!(
                w,
                h,
                "poster cover has too many pixels; using the placeholder"
            );
            return None;
        }
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    Some(format!("data:{mime};base64,{b64}"))
}

/// The MIME type of an image, from its first bytes.
fn sniff_image(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some("image/png");
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some("image/jpeg");
    }
    if bytes.starts_with(&[0x1F, 0x8B]) {
        return Some("image/svg+xml"); // SVGZ
    }
    let head = bytes.get(..bytes.len().min(4096)).unwrap_or(bytes);
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let text = String::from_utf8_lossy(head);
    let trimmed = text.trim_start();
    if trimmed.starts_with('<') && text.contains("<svg") {
        return Some("image/svg+xml");
    }
    None
}

/// Width and height of a PNG or JPEG, read from its header.
fn raster_size(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some((be_u32(bytes, 16)?, be_u32(bytes, 20)?));
    }
    if bytes.starts_with(&[0xFF, 0xD8]) {
        let mut i = 2;
        while i + 4 <= bytes.len() {
            if *bytes.get(i)? != 0xFF {
                i += 1;
                continue;
            }
            let marker = *bytes.get(i + 1)?;
            match marker {
                0xFF => i += 1,
                0x01 | 0xD0..=0xD9 => i += 2,
                0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                    let h = u32::from(be_u16(bytes, i + 5)?);
                    let w = u32::from(be_u16(bytes, i + 7)?);
                    return Some((w, h));
                }
                _ => i += 2 + usize::from(be_u16(bytes, i + 2)?),
            }
        }
    }
    None
}

/// `Sat 28 Nov 2026, 20:00 (Beijing time)`: the instant in China Standard Time (UTC+8).
pub fn format_beijing_time(epoch_ms: i64) -> String {
    const DAY_MS: i64 = 86_400_000;
    const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let local = epoch_ms.saturating_add(8 * 3_600_000);
    let days = local.div_euclid(DAY_MS);
    let ms_of_day = local.rem_euclid(DAY_MS);
    let (year, month, day) = civil_from_days(days);
    // 1970-01-01 was a Thursday.
    let weekday = WEEKDAYS
        .get((days + 4).rem_euclid(7) as usize)
        .copied()
        .unwrap_or("");
    let month = MONTHS
        .get(month.saturating_sub(1) as usize)
        .copied()
        .unwrap_or("");
    format!(
        "{weekday} {day} {month} {year}, {:02}:{:02} (Beijing time)",
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60
    )
}

/// Days since 1970-01-01 to (year, month 1-12, day 1-31) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March-based
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month as u32, day as u32)
}

/// Escapes text for XML character data and attribute values.
fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(c),
        }
    }
    out
}

/// Full-width characters: CJK ideographs, kana, hangul, CJK and full-width punctuation.
fn is_wide(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3040..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x20000..=0x3FFFD)
        || c == '\u{25A1}'
}

/// A rough advance width in em, for text measured without a font.
pub(crate) fn estimate_em(c: char) -> f32 {
    if is_wide(c) {
        1.0
    } else {
        0.55
    }
}

/// Characters that must not start a line (closing punctuation).
fn no_break_before(c: char) -> bool {
    matches!(
        c,
        '，' | '。'
            | '、'
            | '！'
            | '？'
            | '；'
            | '：'
            | '）'
            | '」'
            | '』'
            | '】'
            | '》'
            | '〉'
            | '”'
            | '’'
            | '…'
            | '·'
            | '～'
            | '%'
            | '％'
            | ','
            | '.'
            | '!'
            | '?'
            | ';'
            | ':'
            | ')'
            | ']'
            | '}'
    )
}

/// Characters that must not end a line (opening punctuation).
fn no_break_after(c: char) -> bool {
    matches!(
        c,
        '（' | '「' | '『' | '【' | '《' | '〈' | '“' | '‘' | '(' | '[' | '{'
    )
}

fn text_width(text: &str, width: &dyn Fn(char) -> f32) -> f32 {
    text.chars().map(width).sum()
}

/// Shortens `text` with a trailing `…` so that it fits `max_width`.
fn truncate_to_width(text: &str, max_width: f32, width: &dyn Fn(char) -> f32) -> String {
    if text_width(text, width) <= max_width {
        return text.to_owned();
    }
    let mut out: String = text.to_owned();
    let budget = max_width - width('…');
    while !out.is_empty() && text_width(&out, width) > budget {
        out.pop();
    }
    let mut out = out.trim_end().to_owned();
    out.push('…');
    out
}

/// Splits `text` into at most `max_lines` lines no wider than `max_width` (as measured by
/// `width`, per char): breaks between CJK characters and at spaces between Latin words, keeps
/// closing punctuation with the text before it, breaks over-long words anywhere, and ends the
/// last line with `…` when text is left over.
pub(crate) fn wrap_lines(
    text: &str,
    max_width: f32,
    max_lines: usize,
    width: &dyn Fn(char) -> f32,
) -> Vec<String> {
    if max_lines == 0 {
        return Vec::new();
    }
    // Units that are never split across lines (unless longer than a line); None is a space.
    let mut units: Vec<Option<String>> = Vec::new();
    for c in text.chars() {
        if c.is_whitespace() {
            if matches!(units.last(), Some(Some(_))) {
                units.push(None);
            }
            continue;
        }
        match units.last_mut() {
            Some(Some(prev)) => {
                let last = prev.chars().last().unwrap_or(' ');
                let joins =
                    no_break_before(c) || no_break_after(last) || (!is_wide(c) && !is_wide(last));
                if joins {
                    prev.push(c);
                } else {
                    units.push(Some(c.to_string()));
                }
            }
            _ => units.push(Some(c.to_string())),
        }
    }

    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut space_pending = false;
    for unit in units {
        let Some(unit) = unit else {
            space_pending = !cur.is_empty();
            continue;
        };
        let gap = if space_pending { width(' ') } else { 0.0 };
        let unit_w = text_width(&unit, width);
        if text_width(&cur, width) + gap + unit_w <= max_width {
            if space_pending {
                cur.push(' ');
            }
            cur.push_str(&unit);
        } else {
            if !cur.is_empty() {
                lines.push(std::mem::take(&mut cur));
            }
            // A unit wider than a line is broken anywhere, preferably after a URL separator or
            // hyphen in the second half of the line.
            for c in unit.chars() {
                if !cur.is_empty() && text_width(&cur, width) + width(c) > max_width {
                    let soft = cur
                        .char_indices()
                        .filter(|&(_, ch)| matches!(ch, '/' | '?' | '&' | '-' | '_' | '#'))
                        .map(|(i, ch)| i + ch.len_utf8())
                        .rfind(|&end| {
                            end < cur.len() && text_width(&cur[..end], width) >= max_width / 2.0
                        });
                    match soft {
                        Some(end) => {
                            let rest = cur.split_off(end);
                            lines.push(std::mem::replace(&mut cur, rest));
                        }
                        None => lines.push(std::mem::take(&mut cur)),
                    }
                }
                cur.push(c);
            }
        }
        space_pending = false;
        if lines.len() > max_lines {
            break;
        }
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        if let Some(last) = lines.last_mut() {
            let budget = max_width - width('…');
            while !last.is_empty() && text_width(last, width) > budget {
                last.pop();
            }
            let trimmed_len = last.trim_end().len();
            last.truncate(trimmed_len);
            last.push('…');
        }
    }
    lines
}

/// Advance widths (in em) of every character a font maps, read from its `cmap`, `head`,
/// `hhea` and `hmtx` tables.
struct FontMetrics {
    advances: HashMap<char, f32>,
}

impl FontMetrics {
    fn parse(font: &[u8]) -> Option<FontMetrics> {
        let table = |tag: &[u8; 4]| -> Option<&[u8]> {
            let count = usize::from(be_u16(font, 4)?);
            (0..count).find_map(|i| {
                let rec = 12 + 16 * i;
                if font.get(rec..rec + 4)? != tag {
                    return None;
                }
                let off = be_u32(font, rec + 8)? as usize;
                let len = be_u32(font, rec + 12)? as usize;
                font.get(off..off.checked_add(len)?)
            })
        };
        let head = table(b"head")?;
        let hhea = table(b"hhea")?;
        let hmtx = table(b"hmtx")?;
        let cmap = table(b"cmap")?;
        let units_per_em = f32::from(be_u16(head, 18)?.max(1));
        let n_metrics = usize::from(be_u16(hhea, 34)?);
        if n_metrics == 0 {
            return None;
        }
        let advance = |gid: u32| -> Option<f32> {
            let i = (gid as usize).min(n_metrics - 1);
            Some(f32::from(be_u16(hmtx, 4 * i)?) / units_per_em)
        };

        let mut glyphs: Vec<(u32, u32)> = Vec::new();
        let subtables = usize::from(be_u16(cmap, 2)?);
        let mut best: Option<(u16, usize)> = None; // (format, offset)
        for i in 0..subtables {
            let rec = 4 + 8 * i;
            let platform = be_u16(cmap, rec)?;
            let encoding = be_u16(cmap, rec + 2)?;
            let off = be_u32(cmap, rec + 4)? as usize;
            let format = be_u16(cmap, off)?;
            let unicode = platform == 0 || (platform == 3 && (encoding == 1 || encoding == 10));
            if unicode && (format == 12 || (format == 4 && best.is_none())) {
                best = Some((format, off));
            }
        }
        let (format, off) = best?;
        let sub = cmap.get(off..)?;
        if format == 12 {
            let groups = be_u32(sub, 12)? as usize;
            for g in 0..groups.min(0x11_0000) {
                let rec = 16 + 12 * g;
                let (start, end, gid) = (
                    be_u32(sub, rec)?,
                    be_u32(sub, rec + 4)?,
                    be_u32(sub, rec + 8)?,
                );
                if end < start || end > 0x10_FFFF {
                    continue;
                }
                for cp in start..=end {
                    glyphs.push((cp, gid + (cp - start)));
                }
            }
        } else {
            let seg_x2 = usize::from(be_u16(sub, 6)?);
            let ends = 14;
            let starts = ends + seg_x2 + 2;
            let deltas = starts + seg_x2;
            let ranges = deltas + seg_x2;
            for seg in 0..seg_x2 / 2 {
                let end = u32::from(be_u16(sub, ends + 2 * seg)?);
                let start = u32::from(be_u16(sub, starts + 2 * seg)?);
                let delta = u32::from(be_u16(sub, deltas + 2 * seg)?);
                let range = usize::from(be_u16(sub, ranges + 2 * seg)?);
                if end < start {
                    continue;
                }
                for cp in start..=end.min(0xFFFE) {
                    let gid = if range == 0 {
                        (cp + delta) & 0xFFFF
                    } else {
                        let at = ranges + 2 * seg + range + 2 * (cp - start) as usize;
                        match be_u16(sub, at) {
                            Some(0) | None => 0,
                            Some(g) => (u32::from(g) + delta) & 0xFFFF,
                        }
                    };
                    glyphs.push((cp, gid));
                }
            }
        }
        let mut advances = HashMap::with_capacity(glyphs.len());
        for (cp, gid) in glyphs {
            if gid == 0 {
                continue;
            }
            if let (Some(c), Some(adv)) = (char::from_u32(cp), advance(gid)) {
                advances.insert(c, adv);
            }
        }
        if advances.is_empty() {
            None
        } else {
            Some(FontMetrics { advances })
        }
    }

    fn has(&self, c: char) -> bool {
        self.advances.contains_key(&c)
    }

    /// The advance of `c` in em, estimated when the font lacks it.
    fn advance_em(&self, c: char) -> f32 {
        self.advances
            .get(&c)
            .copied()
            .unwrap_or_else(|| estimate_em(c))
    }
}

fn be_u16(data: &[u8], at: usize) -> Option<u16> {
    let b: [u8; 2] = data.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(u16::from_be_bytes(b))
}

fn be_u32(data: &[u8], at: usize) -> Option<u32> {
    let b: [u8; 4] = data.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_be_bytes(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    fn renderer() -> &'static PosterRenderer {
        static R: OnceLock<PosterRenderer> = OnceLock::new();
        R.get_or_init(|| PosterRenderer::new().expect("fonts load"))
    }

    fn sample(cover: Option<Vec<u8>>) -> PosterData {
        PosterData {
            title: "小小包妈妈直播间 Xiaoxiaobao Mama live".into(),
            host_name: "孙静 Sun Jing".into(),
            // 2026-11-28 12:00 UTC = 20:00 in Beijing.
            starts_at_ms: 1_795_867_200_000,
            inviter_nickname: "小美 Mei".into(),
            invite_url: "https://live.example.com/s/xiaoxiaobao-mama?invite=AbC123xyz".into(),
            cover,
        }
    }

    fn demo_cover() -> Vec<u8> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../public/covers/xiaoxiaobao-mama.svg"
        );
        std::fs::read(path).expect("demo cover")
    }

    fn png_size(png: &[u8]) -> (u32, u32) {
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
        assert_eq!(&png[12..16], b"IHDR");
        (
            be_u32(png, 16).expect("test fixture"),
            be_u32(png, 20).expect("test fixture"),
        )
    }

    #[test]
    fn renderer_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<PosterRenderer>();
    }

    #[test]
    fn renders_png_with_chinese_title() {
        let png = renderer()
            .render_png(&sample(Some(demo_cover())))
            .expect("test fixture");
        assert_eq!(png_size(&png), (750, 1334));
        if let Ok(path) = std::env::var("POSTER_SAMPLE_OUT") {
            std::fs::write(path, &png).expect("test fixture");
        }
    }

    #[test]
    fn font_covers_the_title_and_measures_it() {
        let r = renderer();
        for c in "小小包妈妈直播间 Xiaoxiaobao Mama live，。！？“”…%".chars() {
            assert!(
                r.regular.has(c) && r.bold.has(c),
                "{c:?} missing from the font"
            );
        }
        assert_eq!(r.regular.advance_em('中'), 1.0);
        assert!((r.regular.advance_em('i') - 0.275).abs() < 0.01);
        assert!(r.bold.advance_em('W') > r.regular.advance_em('i'));
        // Emoji are dropped, unknown letters become a square, whitespace collapses.
        assert_eq!(r.sanitize(" 小美\u{1F338}  Mei\n", "x"), "小美 Mei");
        assert_eq!(r.sanitize("王\u{5586}", "x"), "王\u{25A1}"); // 喆 is not in GB2312
        assert_eq!(r.sanitize("\u{1F600}", "A friend"), "A friend");
    }

    #[test]
    fn qr_code_in_png_matches_the_invite_url() {
        let r = renderer();
        let data = sample(None);
        let composed = r.compose(&data).expect("test fixture");
        let code = QrCode::with_error_correction_level(data.invite_url.as_bytes(), EcLevel::M)
            .expect("test fixture");
        let qr = composed.qr;
        assert_eq!(qr.modules as usize, code.width());
        assert_eq!(code.width(), 33, "a 60-byte URL at level M is version 4");
        assert!(
            qr.module_px >= 5,
            "modules of {} px are too small",
            qr.module_px
        );
        // The quiet zone (4 modules) lies within the white box.
        assert!(qr.x >= QR_BOX_X + 4 * qr.module_px);
        assert!(qr.y >= QR_BOX_Y + 4 * qr.module_px);
        assert!(qr.x + (qr.modules + 4) * qr.module_px <= QR_BOX_X + QR_BOX);

        let png = r.render_png(&data).expect("test fixture");
        let pixmap = tiny_skia::Pixmap::decode_png(&png).expect("test fixture");
        let colors = code.to_colors();
        let n = qr.modules as i64;
        // Every module (and the quiet zone around the code) has the right colour at its centre.
        for row in -4..n + 4 {
            for col in -4..n + 4 {
                let dark = row >= 0
                    && col >= 0
                    && row < n
                    && col < n
                    && colors[(row * n + col) as usize] == QrColor::Dark;
                let px = (qr.x as i64 + col * qr.module_px as i64 + qr.module_px as i64 / 2) as u32;
                let py = (qr.y as i64 + row * qr.module_px as i64 + qr.module_px as i64 / 2) as u32;
                let p = pixmap.pixel(px, py).expect("test fixture");
                let luma = (u32::from(p.red()) + u32::from(p.green()) + u32::from(p.blue())) / 3;
                if dark {
                    assert!(
                        luma < 40,
                        "module ({row},{col}) should be dark, luma {luma}"
                    );
                } else {
                    assert!(
                        luma > 215,
                        "module ({row},{col}) should be light, luma {luma}"
                    );
                }
            }
        }
        // The URL is printed under the code (without "https://"), on two lines here.
        assert_eq!(composed.url_lines.len(), 2);
        assert_eq!(
            composed.url_lines.concat(),
            "live.example.com/s/xiaoxiaobao-mama?invite=AbC123xyz"
        );
        for line in &composed.url_lines {
            assert!(composed.svg.contains(&xml_escape(line)));
        }
    }

    #[test]
    fn escapes_user_text() {
        let r = renderer();
        let mut data = sample(None);
        data.title = "<script>&\"' alert(1)</script>".into();
        data.inviter_nickname = "a&b <i>".into();
        data.host_name = "\"quoted\" 'host'".into();
        data.invite_url = "https://x.example/?a=1&b=<2>".into();
        let composed = r.compose(&data).expect("test fixture");
        assert!(composed.svg.contains("&lt;script&gt;&amp;&quot;&apos;"));
        assert!(!composed.svg.contains("<script>"));
        let png = r.render_png(&data).expect("test fixture");
        assert_eq!(png_size(&png), (750, 1334));
    }

    #[test]
    fn wraps_and_ellipsises_long_titles() {
        let w = |c: char| estimate_em(c) * 10.0;
        // Fits: one line.
        assert_eq!(wrap_lines("短标题", 100.0, 2, &w), vec!["短标题"]);
        // CJK breaks anywhere; closing punctuation stays with the text before it.
        let lines = wrap_lines("一二三四五，六七八九十", 60.0, 3, &w);
        assert_eq!(lines, vec!["一二三四五，", "六七八九十"]);
        // ...moving the character before it to the next line when the comma does not fit.
        let lines = wrap_lines("一二三四五，六七八九十", 50.0, 3, &w);
        assert_eq!(lines, vec!["一二三四", "五，六七八", "九十"]);
        // Latin breaks at spaces.
        let lines = wrap_lines("Xiaoxiaobao Mama live tonight", 100.0, 3, &w);
        assert_eq!(lines, vec!["Xiaoxiaobao Mama", "live tonight"]);
        // Mixed text.
        let lines = wrap_lines("小小包妈妈直播间 Xiaoxiaobao Mama live", 100.0, 3, &w);
        assert_eq!(lines, vec!["小小包妈妈直播间", "Xiaoxiaobao Mama", "live"]);
        let lines = wrap_lines("直播间Live开播啦", 60.0, 3, &w);
        assert_eq!(lines, vec!["直播间Live", "开播啦"]);
        // Too long: at most max_lines lines, the last one ends with an ellipsis and fits.
        let long = "超长标题".repeat(20);
        let lines = wrap_lines(&long, 100.0, 2, &w);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].chars().count(), 10);
        assert!(lines[1].ends_with('…'));
        assert!(text_width(&lines[1], &w) <= 100.0);
        let lines = wrap_lines("word ".repeat(40).trim(), 100.0, 3, &w);
        assert_eq!(lines.len(), 3);
        assert!(lines[2].ends_with('…') && !lines[2].ends_with(" …"));
        // A word longer than a line is broken anywhere, URLs preferably after a separator.
        let lines = wrap_lines(&"x".repeat(30), 55.0, 3, &w);
        assert_eq!(lines, vec!["x".repeat(10), "x".repeat(10), "x".repeat(10)]);
        let lines = wrap_lines("live.example.com/s/abc?invite=xyz", 110.0, 2, &w);
        assert_eq!(lines, vec!["live.example.com/s/", "abc?invite=xyz"]);
        assert!(wrap_lines("", 100.0, 2, &w).is_empty());
        assert!(wrap_lines("abc", 100.0, 0, &w).is_empty());
        // Single lines.
        assert_eq!(truncate_to_width("abc", 100.0, &w), "abc");
        let t = truncate_to_width(&"长".repeat(20), 100.0, &w);
        assert_eq!(t, format!("{}…", "长".repeat(9)));
    }

    #[test]
    fn long_title_renders_within_three_lines() {
        let r = renderer();
        let mut data = sample(None);
        data.title = "【年货节】小小包妈妈直播间：宝宝辅食、玩具、童装全场五折起，邀请好友一起拼团再减，限时限量，先到先得！".into();
        let composed = r.compose(&data).expect("test fixture");
        let title_lines = composed
            .svg
            .matches(r#"font-size="44" font-weight="700""#)
            .count();
        assert_eq!(title_lines, 3);
        assert!(composed.svg.contains('…'));
        r.render_png(&data).expect("test fixture");
    }

    #[test]
    fn renders_without_cover_and_with_svg_png_covers() {
        let r = renderer();
        for cover in [None, Some(demo_cover())] {
            let png = r.render_png(&sample(cover)).expect("test fixture");
            assert_eq!(png_size(&png), (750, 1334));
        }
        // A PNG cover (a poster, re-used) and junk bytes (placeholder) both work.
        let png_cover = r.render_png(&sample(None)).expect("test fixture");
        assert_eq!(sniff_image(&png_cover), Some("image/png"));
        assert_eq!(raster_size(&png_cover), Some((750, 1334)));
        let png = r
            .render_png(&sample(Some(png_cover)))
            .expect("test fixture");
        assert_eq!(png_size(&png), (750, 1334));
        let png = r
            .render_png(&sample(Some(b"not an image".to_vec())))
            .expect("test fixture");
        assert_eq!(png_size(&png), (750, 1334));
        assert_eq!(sniff_image(&demo_cover()), Some("image/svg+xml"));
        assert_eq!(sniff_image(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
    }

    #[test]
    fn jpeg_size_is_read_from_the_frame_header() {
        // SOI, APP0 (length 4), SOF0 with height 300, width 400.
        let jpeg = [
            0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00, 0xFF, 0xC0, 0x00, 0x11, 0x08, 0x01,
            0x2C, 0x01, 0x90, 0x03,
        ];
        assert_eq!(raster_size(&jpeg), Some((400, 300)));
        assert_eq!(raster_size(&[0xFF, 0xD8, 0xFF]), None);
    }

    #[test]
    fn formats_start_time_in_beijing() {
        assert_eq!(
            format_beijing_time(1_795_867_200_000),
            "Sat 28 Nov 2026, 20:00 (Beijing time)"
        );
        assert_eq!(
            format_beijing_time(0),
            "Thu 1 Jan 1970, 08:00 (Beijing time)"
        );
        // 2024-02-29 23:30 in Beijing (15:30 UTC), a leap day.
        assert_eq!(
            format_beijing_time(1_709_220_600_000),
            "Thu 29 Feb 2024, 23:30 (Beijing time)"
        );
        // Crossing midnight: 2025-12-31 16:05 UTC is 1 Jan 2026 in Beijing.
        assert_eq!(
            format_beijing_time(1_767_197_100_000),
            "Thu 1 Jan 2026, 00:05 (Beijing time)"
        );
        assert_eq!(
            format_beijing_time(-1),
            "Thu 1 Jan 1970, 07:59 (Beijing time)"
        );
        // Extremes do not panic.
        let _ = format_beijing_time(i64::MAX);
        let _ = format_beijing_time(i64::MIN);
    }
}
