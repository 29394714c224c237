//! The cover printed on a poster: SVG, PNG or JPEG (type and size read with imagesize),
//! embedded as a `data:` URI; anything else, or anything too large, gets the placeholder.

use base64::Engine as _;

/// Covers larger than this are ignored (the gradient placeholder is drawn instead).
const MAX_COVER_BYTES: usize = 12 * 1024 * 1024;
/// Raster covers with more pixels than this are ignored (decoding them would cost too much).
const MAX_COVER_PIXELS: u64 = 40_000_000;

/// The cover as a `data:` URI, or `None` (with a log line) when it is not a usable SVG, PNG or
/// JPEG image.
pub(crate) fn cover_data_uri(bytes: &[u8]) -> Option<String> {
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
pub(crate) fn sniff_image(bytes: &[u8]) -> Option<&'static str> {
    match imagesize::image_type(bytes) {
        Ok(imagesize::ImageType::Png) => return Some("image/png"),
        Ok(imagesize::ImageType::Jpeg) => return Some("image/jpeg"),
        _ => {}
    }
    // imagesize wants a dozen bytes; a JPEG is recognised by its first three.
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
pub(crate) fn raster_size(bytes: &[u8]) -> Option<(u32, u32)> {
    match imagesize::image_type(bytes).ok()? {
        imagesize::ImageType::Png | imagesize::ImageType::Jpeg => {}
        _ => return None,
    }
    let size = imagesize::blob_size(bytes).ok()?;
    Some((
        u32::try_from(size.width).ok()?,
        u32::try_from(size.height).ok()?,
    ))
}
