//! The shipped fonts' coverage and advance widths, read once with skrifa: which characters
//! the poster can draw, and how wide each is (in em) for line breaking.

use std::collections::HashMap;

use skrifa::{instance::Size, prelude::LocationRef, FontRef, MetadataProvider};

use super::text::estimate_em;

/// Advance widths (in em) of every character a font maps.
pub(crate) struct FontMetrics {
    pub(crate) advances: HashMap<char, f32>,
}

impl FontMetrics {
    pub(crate) fn parse(font: &[u8]) -> Option<FontMetrics> {
        let font = FontRef::new(font).ok()?;
        let units_per_em = f32::from(
            font.metrics(Size::unscaled(), LocationRef::default())
                .units_per_em
                .max(1),
        );
        let glyphs = font.glyph_metrics(Size::unscaled(), LocationRef::default());
        let advances: HashMap<char, f32> = font
            .charmap()
            .mappings()
            .filter(|(_, gid)| gid.to_u32() != 0)
            .filter_map(|(cp, gid)| {
                let c = char::from_u32(cp)?;
                Some((c, glyphs.advance_width(gid)? / units_per_em))
            })
            .collect();
        (!advances.is_empty()).then_some(FontMetrics { advances })
    }

    pub(crate) fn has(&self, c: char) -> bool {
        self.advances.contains_key(&c)
    }

    /// The advance of `c` in em, estimated when the font lacks it.
    pub(crate) fn advance_em(&self, c: char) -> f32 {
        self.advances
            .get(&c)
            .copied()
            .unwrap_or_else(|| estimate_em(c))
    }
}
