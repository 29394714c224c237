use super::*;
use crate::poster::{
    cover::{raster_size, sniff_image},
    layout::{compose, QR_BOX, QR_BOX_X, QR_BOX_Y},
    text::{estimate_em, text_width, truncate_to_width, wrap_lines, xml_escape},
};
use qrcode::{Color as QrColor, EcLevel, QrCode};
use std::sync::OnceLock;

fn be_u32(data: &[u8], at: usize) -> Option<u32> {
    let b: [u8; 4] = data.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_be_bytes(b))
}

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
        time_zone: "Asia/Shanghai".into(),
        locale: shop_core::i18n::Locale::En,
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
    let composed = compose(r, &data).expect("test fixture");
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
    let composed = compose(r, &data).expect("test fixture");
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
    let composed = compose(r, &data).expect("test fixture");
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
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00, 0xFF, 0xC0, 0x00, 0x11, 0x08, 0x01, 0x2C,
        0x01, 0x90, 0x03,
    ];
    assert_eq!(raster_size(&jpeg), Some((400, 300)));
    assert_eq!(raster_size(&[0xFF, 0xD8, 0xFF]), None);
}

#[test]
fn start_time_printed_in_the_session_zone_and_named() {
    let r = renderer();
    for (zone, when, label) in [
        (
            "Asia/Shanghai",
            "Sat 28 Nov 2026, 20:00",
            "UTC+08:00 Asia/Shanghai",
        ),
        (
            "Europe/Rome",
            "Sat 28 Nov 2026, 13:00",
            "UTC+01:00 Europe/Rome",
        ),
        // A long name: its last part.
        (
            "America/Argentina/Buenos_Aires",
            "Sat 28 Nov 2026, 09:00",
            "UTC-03:00 Buenos Aires",
        ),
        ("UTC", "Sat 28 Nov 2026, 12:00", "UTC<"),
    ] {
        let data = PosterData {
            time_zone: zone.into(),
            ..sample(None)
        };
        let composed = compose(r, &data).expect("test fixture");
        assert!(composed.svg.contains(when), "{zone}: {when}");
        assert!(
            composed.svg.contains(&format!(">{label}")),
            "{zone}: {label}"
        );
    }
}

#[test]
fn the_posters_words_in_the_callers_language() {
    let r = renderer();
    for (locale, words) in [
        (
            shop_core::i18n::Locale::ZhCn,
            ["扫码加入", "长按或扫描二维码", "主播"],
        ),
        (
            shop_core::i18n::Locale::En,
            ["Scan to join:", "Long-press or scan the code", "Host"],
        ),
        (
            shop_core::i18n::Locale::It,
            ["Inquadra e unisciti:", "ti invita", "Guarda in diretta"],
        ),
    ] {
        let data = PosterData {
            locale,
            ..sample(None)
        };
        let composed = compose(r, &data).expect("test fixture");
        for w in words {
            assert!(composed.svg.contains(w), "{locale:?}: {w}");
        }
    }
}
