//! Image uploads from the studio: checked by content (not by name or declared type), size- and
//! dimension-limited before decoding, cropped and resized to web sizes, re-encoded as JPEG (which
//! also strips metadata), stored under a content-hash name and served with immutable caching.

use crate::error::{Error, Result, ResultExt};
use std::{io::Cursor, path::Path};

use image::{imageops::FilterType, DynamicImage, ImageFormat, ImageReader, Limits};

use crate::{crypto, error::AppError};

/// Largest accepted upload.
pub const MAX_UPLOAD_BYTES: usize = 8 * 1024 * 1024;
const MAX_DIMENSION: u32 = 8000;
const MIN_DIMENSION: u32 = 200;
/// Largest image in pixels: a few compressed bytes can describe a huge image (an 8000x8000 PNG
/// of one colour is 250 KB), so the size that matters for memory is the decoded one. 32
/// megapixels is 128 MB as RGBA, the most one decode may allocate.
pub const MAX_PIXELS: u64 = 32_000_000;
/// Decodes running at once (`AppState::decodes`). A 32-megapixel image peaks at about 200 MB
/// while it is decoded and shrunk (measured: `server/tests/upload_memory.rs`); one at a time
/// keeps uploads under about 300 MB however many arrive together. Uploads are a studio action
/// taking a second or two each: the others wait their turn.
pub const CONCURRENT_DECODES: usize = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    /// Session covers: 16:9, 1280x720.
    Cover,
    /// Product images: square, 800x800.
    Product,
}

impl ImageKind {
    pub fn parse(s: &str) -> Result<ImageKind> {
        match s {
            "cover" => Ok(ImageKind::Cover),
            "product" => Ok(ImageKind::Product),
            _ => Err(AppError::bad_request("Unknown upload kind.").into()),
        }
    }
    fn size(self) -> (u32, u32) {
        match self {
            ImageKind::Cover => (1280, 720),
            ImageKind::Product => (800, 800),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            ImageKind::Cover => "cover",
            ImageKind::Product => "product",
        }
    }
}

#[derive(Debug)]
pub struct Processed {
    pub jpeg: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

/// Validates and converts an uploaded image. Every refusal says why.
pub fn process(bytes: &[u8], kind: ImageKind) -> Result<Processed> {
    if bytes.is_empty() {
        return Err(AppError::bad_request("The file is empty.").into());
    }
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err(AppError::bad_request(
            "The image is larger than 8 MB. Please choose a smaller one.",
        )
        .into());
    }
    let format = image::guess_format(bytes).ok().filter(|f| {
        matches!(
            f,
            ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP | ImageFormat::Gif
        )
    });
    let Some(format) = format else {
        return Err(
            AppError::bad_request("That file is not a JPEG, PNG, WebP or GIF image.").into(),
        );
    };
    let too_large = || {
        AppError::bad_request(format!(
            "The image is too large: at most {MAX_DIMENSION} pixels on a side and {} megapixels.",
            MAX_PIXELS / 1_000_000
        ))
    };
    let damaged = || AppError::bad_request("The image could not be read: the file may be damaged.");
    // The header first: refuse what is too large before allocating anything for its pixels.
    let (width, height) = ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|_| damaged())?;
    if width > MAX_DIMENSION
        || height > MAX_DIMENSION
        || u64::from(width) * u64::from(height) > MAX_PIXELS
    {
        return Err(too_large().into());
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DIMENSION);
    limits.max_image_height = Some(MAX_DIMENSION);
    limits.max_alloc = Some(MAX_PIXELS * 4 + 16 * 1024 * 1024);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => too_large(),
        _ => damaged(),
    })?;
    if img.width() < MIN_DIMENSION || img.height() < MIN_DIMENSION {
        return Err(AppError::bad_request(format!(
            "The image is too small ({}x{}): at least {MIN_DIMENSION}x{MIN_DIMENSION} pixels.",
            img.width(),
            img.height()
        ))
        .into());
    }
    let (w, h) = kind.size();
    // A large image is first shrunk cheaply (a box filter straight into a small buffer) to
    // twice the final size: the quality filter then works on a small image, instead of
    // allocating float buffers as tall as the original.
    let scale = (f64::from(w) / f64::from(img.width())).max(f64::from(h) / f64::from(img.height()));
    let img = if scale < 0.5 {
        let tw = (f64::from(img.width()) * scale * 2.0).ceil() as u32;
        let th = (f64::from(img.height()) * scale * 2.0).ceil() as u32;
        img.thumbnail(tw.max(w), th.max(h))
    } else {
        img
    };
    let resized = img.resize_to_fill(w, h, FilterType::CatmullRom);
    let rgb = flatten_on_white(resized);
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 82)
        .encode_image(&rgb)
        .fault("encoding an upload as JPEG")?;
    Ok(Processed {
        jpeg,
        width: w,
        height: h,
    })
}

/// Transparent pixels become white (JPEG has no alpha).
fn flatten_on_white(img: DynamicImage) -> image::RgbImage {
    if !img.color().has_alpha() {
        return img.to_rgb8();
    }
    let rgba = img.to_rgba8();
    image::RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let p = rgba.get_pixel(x, y).0;
        let a = u16::from(p[3]);
        let mix = |c: u8| ((u16::from(c) * a + 255 * (255 - a)) / 255) as u8;
        image::Rgb([mix(p[0]), mix(p[1]), mix(p[2])])
    })
}

/// A stored upload's file name: content hash, so identical images share one file and names
/// can be cached forever.
pub fn file_name(jpeg: &[u8]) -> String {
    format!("{}.jpg", &crypto::sha256_hex_bytes(jpeg)[..24])
}

/// Names we serve: 24 hex digits + `.jpg`, nothing else (no paths).
pub fn is_valid_name(name: &str) -> bool {
    name.len() == 28 && name.ends_with(".jpg") && name[..24].bytes().all(|b| b.is_ascii_hexdigit())
}

/// Writes the file atomically (temp file + rename) and returns its URL path.
pub async fn store(dir: &Path, jpeg: &[u8]) -> Result<String> {
    let name = file_name(jpeg);
    let io_err =
        |e: std::io::Error| Error::caused(format!("storing an upload in {}", dir.display()), e);
    tokio::fs::create_dir_all(dir).await.map_err(io_err)?;
    let path = dir.join(&name);
    if tokio::fs::metadata(&path).await.is_err() {
        let tmp = dir.join(format!(".{name}.{}", crypto::random_token::<6>()?));
        tokio::fs::write(&tmp, jpeg).await.map_err(io_err)?;
        tokio::fs::rename(&tmp, &path).await.map_err(io_err)?;
    }
    Ok(format!("/media/{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32, alpha: bool) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        let img = if alpha {
            DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(
                w,
                h,
                image::Rgba([255, 0, 0, 0]),
            ))
        } else {
            DynamicImage::ImageRgb8(image::RgbImage::from_pixel(w, h, image::Rgb([10, 200, 30])))
        };
        img.write_to(&mut out, ImageFormat::Png)
            .expect("encode test png");
        out.into_inner()
    }

    #[test]
    fn resizes_to_web_sizes_as_jpeg() {
        let p = process(&png(1600, 1200, false), ImageKind::Cover).expect("valid cover");
        assert_eq!((p.width, p.height), (1280, 720));
        assert_eq!(
            image::guess_format(&p.jpeg).expect("format"),
            ImageFormat::Jpeg
        );
        let p = process(&png(300, 900, false), ImageKind::Product).expect("valid product image");
        let back = image::load_from_memory(&p.jpeg).expect("decodes");
        assert_eq!((back.width(), back.height()), (800, 800));
    }

    #[test]
    fn transparency_becomes_white() {
        let p = process(&png(400, 400, true), ImageKind::Product).expect("valid");
        let back = image::load_from_memory(&p.jpeg).expect("decodes").to_rgb8();
        let px = back.get_pixel(400, 400).0;
        assert!(px.iter().all(|c| *c > 245), "{px:?}");
    }

    #[test]
    fn refusals_say_why() {
        let whole = png(400, 400, false);
        let damaged = process(&whole[..whole.len() / 2], ImageKind::Cover).expect_err("damaged");
        assert!(
            damaged.to_string().contains("could not be read"),
            "{damaged}"
        );
        let html = process(b"<html>hello</html>", ImageKind::Cover).expect_err("not an image");
        assert!(html.to_string().contains("not a JPEG, PNG, WebP or GIF"));
        let small = process(&png(100, 100, false), ImageKind::Cover).expect_err("too small");
        assert!(small.to_string().contains("too small (100x100)"));
        let huge = vec![0u8; MAX_UPLOAD_BYTES + 1];
        assert!(process(&huge, ImageKind::Cover)
            .expect_err("big")
            .to_string()
            .contains("8 MB"));
        assert!(process(&[], ImageKind::Cover)
            .expect_err("empty")
            .to_string()
            .contains("empty"));
    }

    #[test]
    fn names_are_content_hashes() {
        let a = file_name(b"abc");
        assert!(is_valid_name(&a), "{a}");
        assert_eq!(a, file_name(b"abc"));
        assert_ne!(a, file_name(b"abd"));
        assert!(!is_valid_name("../../etc/passwd"));
        assert!(!is_valid_name("0123456789abcdef01234567.png"));
    }
}
