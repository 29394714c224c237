//! The poster's layout: an SVG document (background, card, cover, title, host, start time,
//! inviter, call to action, QR code), 750 x 1334, in the shipped font.

use std::fmt::Write as _;

use qrcode::{Color as QrColor, EcLevel, QrCode};
use shop_core::i18n::K;

use super::{
    cover::cover_data_uri,
    text::{is_wide, text_width, truncate_to_width, wrap_lines, xml_escape},
    PosterData, PosterError, PosterRenderer, FONT_FAMILY, POSTER_HEIGHT, POSTER_WIDTH,
};

const BRAND: &str = "#ff3d6e";
const BRAND_DARK: &str = "#d81b50";
const BRAND_TINT: &str = "#fff0f4";
const INK: &str = "#1d1d1f";
const MUTED: &str = "#6b6b75";
const LINE: &str = "#ececf1";

/// The white box around the QR code (its quiet zone included): left, top, side.
pub(crate) const QR_BOX_X: u32 = 402;
pub(crate) const QR_BOX_Y: u32 = 884;
pub(crate) const QR_BOX: u32 = 292;

/// Where the QR code landed on the poster, in pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct QrPlacement {
    /// Top-left corner of the first module (inside the quiet zone).
    pub x: u32,
    pub y: u32,
    pub module_px: u32,
    /// Modules per side.
    pub modules: u32,
}

/// The SVG source of a poster and where its QR code is.
pub(crate) struct ComposedPoster {
    pub svg: String,
    /// Read by the tests, which check the code's pixels.
    #[cfg_attr(not(test), allow(dead_code))]
    pub qr: QrPlacement,
    /// The invite URL as printed under the code.
    #[cfg_attr(not(test), allow(dead_code))]
    pub url_lines: Vec<String>,
}

/// Builds the poster's SVG source.
pub(crate) fn compose(
    r: &PosterRenderer,
    data: &PosterData,
) -> Result<ComposedPoster, PosterError> {
    let reg = |size: f32| move |c: char| r.regular.advance_em(c) * size;
    let bold = |size: f32| move |c: char| r.bold.advance_em(c) * size;

    let title = r.sanitize(&data.title, "Live session");
    let host = r.sanitize(&data.host_name, "Host");
    let nickname = r.sanitize(&data.inviter_nickname, "A friend");
    let url = r.sanitize(&data.invite_url, "");
    let (when, offset, zone_name) =
        shop_backend::zones::describe_parts_in(data.starts_at_ms, &data.time_zone, data.locale);

    // The poster's own words, in the language of whoever asked for it, each cut to its space.
    let words = |key: K, max_w: f32, size: f32, heavy: bool| -> String {
        let text = shop_core::i18n::text(data.locale, key);
        let line = if heavy {
            truncate_to_width(text, max_w, &bold(size))
        } else {
            truncate_to_width(text, max_w, &reg(size))
        };
        xml_escape(&line)
    };
    let tagline = words(K::server_poster_tagline, 220.0, 19.0, false);
    let host_label = format!(
        "{}  ",
        shop_core::i18n::text(data.locale, K::server_poster_host)
    );
    let invites_you = words(K::server_poster_invites_you, 380.0 - 144.0, 24.0, false);
    // The call to action is set smaller rather than cut when a language needs more room.
    let fitted = |key: K| -> (String, f32) {
        let text = shop_core::i18n::text(data.locale, key);
        let natural = text_width(text, &bold(38.0));
        let size = if natural > 300.0 {
            (38.0 * 300.0 / natural).max(22.0)
        } else {
            38.0
        };
        (
            xml_escape(&truncate_to_width(text, 300.0, &bold(size))),
            size,
        )
    };
    let (scan, scan_size) = fitted(K::server_poster_scan);
    let (together, together_size) = fitted(K::server_poster_together);
    let press = words(K::server_poster_press, 280.0, 20.0, false);
    let footer = words(K::server_poster_footer, 680.0, 22.0, false);

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
<text x="590" y="63" font-size="19" fill="#fff" text-anchor="middle">{tagline}</text>
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
    let label_w = text_width(&host_label, &reg(META_SIZE));
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
    // The time, then its zone in smaller type: the offset always, the IANA name (or its last
    // part, "Shanghai") when it fits.
    const ZONE_SIZE: f32 = 20.0;
    let when_line = truncate_to_width(&when, meta_w, &reg(META_SIZE));
    let zone_w = meta_w - text_width(&when_line, &reg(META_SIZE)) - 8.0;
    let short_name = zone_name
        .as_deref()
        .map(|n| n.rsplit('/').next().unwrap_or(n).replace('_', " "));
    let zone_label = [
        zone_name.as_ref().map(|n| format!("{offset} {n}")),
        short_name.map(|n| format!("{offset} {n}")),
        Some(offset.clone()),
    ]
    .into_iter()
    .flatten()
    .find(|l| text_width(l, &reg(ZONE_SIZE)) <= zone_w)
    .unwrap_or_default();
    // Clock icon.
    let _ = write!(
        s,
        r##"<circle cx="{cx}" cy="{cy:.1}" r="17" fill="{BRAND_TINT}"/><circle cx="{cx}" cy="{cy:.1}" r="9.5" fill="none" stroke="{BRAND}" stroke-width="2.6"/><path d="M{cx} {t:.1} V{cy:.1} H{r}" fill="none" stroke="{BRAND}" stroke-width="2.6" stroke-linecap="round" stroke-linejoin="round"/>
<text x="{meta_x}" y="{y:.1}" font-size="{META_SIZE}" fill="{INK}">{} <tspan font-size="{ZONE_SIZE}" fill="{MUTED}">{}</tspan></text>
"##,
        xml_escape(&when_line),
        xml_escape(&zone_label),
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
<text x="144" y="971" font-size="24" fill="{MUTED}">{invites_you}</text>
<text x="60" y="1070" font-size="{scan_size:.1}" font-weight="700" fill="{BRAND}">{scan}</text>
<text x="60" y="1120" font-size="{together_size:.1}" font-weight="700" fill="{BRAND_DARK}">{together}</text>
<rect x="60" y="1156" width="300" height="44" rx="22" fill="{BRAND_TINT}"/>
<text x="210" y="1185" font-size="20" fill="{BRAND}" text-anchor="middle">{press}</text>
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
    let _ = write!(
        s,
        r##"<text x="375" y="1293" font-size="22" fill="#fff" fill-opacity=".92" text-anchor="middle">{footer}</text>
</svg>
"##,
    );
    Ok(ComposedPoster {
        svg: s,
        qr,
        url_lines,
    })
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
