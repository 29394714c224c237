//! The adaptive bitrate ladder (`APP_MEDIA_LADDER`): which renditions a broadcast is packaged
//! into, and, for one source, which of them are made and how.
//!
//! `source,480p:1000k,240p:300k` means: the host's own video as it arrives (copied when it is
//! H.264, so it costs no CPU), plus two renditions that ffmpeg scales and encodes with x264.
//! A rung taller than the source is left out (it would only add bits, not detail).

use std::fmt;

/// One lower rendition: a height and a video bitrate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rung {
    pub height: u32,
    pub kbps: u32,
}

/// The configured ladder, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ladder {
    /// Whether the source itself is offered as a rendition.
    pub source: bool,
    /// Lower renditions, tallest first, heights unique.
    pub rungs: Vec<Rung>,
}

/// Audio bitrate of the shared audio rendition (AAC-LC, stereo, 48 kHz).
pub const AUDIO_KBPS: u32 = 64;
/// The HLS codec string of that audio.
pub const AUDIO_CODEC: &str = "mp4a.40.2";
/// The video bitrate a VP8 source is re-encoded at when the source rendition is offered (it
/// must become H.264 for phones; there is nothing to copy).
pub const VP8_SOURCE_KBPS: u32 = 2500;

/// Why a ladder setting was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LadderError(pub String);

impl fmt::Display for LadderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Default for Ladder {
    /// The source plus 480p and 240p: about 0.4 of a core for both encodes with a 720p source
    /// (docs/BENCHMARKS.md, "What each rendition costs"), so it fits a 2-core machine.
    fn default() -> Ladder {
        Ladder {
            source: true,
            rungs: vec![
                Rung {
                    height: 480,
                    kbps: 1000,
                },
                Rung {
                    height: 240,
                    kbps: 300,
                },
            ],
        }
    }
}

impl std::str::FromStr for Ladder {
    type Err = LadderError;

    /// `source,720p:2500k,480p:1000k,240p:400k`: items separated by commas, in any order;
    /// `source` at most once; each rung `{height}p:{kbps}k` with an even height from 144 to
    /// 2160 and 100 to 20,000 kbit/s; at most 6 rungs, heights unique.
    fn from_str(s: &str) -> Result<Ladder, LadderError> {
        let mut ladder = Ladder {
            source: false,
            rungs: Vec::new(),
        };
        for item in s.split(',').map(str::trim) {
            if item.is_empty() {
                return Err(LadderError("an empty item".into()));
            }
            if item.eq_ignore_ascii_case("source") {
                if ladder.source {
                    return Err(LadderError("source is named twice".into()));
                }
                ladder.source = true;
                continue;
            }
            let (h, rate) = item.split_once(':').ok_or_else(|| {
                LadderError(format!("{item:?}: expected source or HEIGHTp:KBPSk"))
            })?;
            let height: u32 = h
                .strip_suffix('p')
                .and_then(|h| h.parse().ok())
                .filter(|h| (144..=2160).contains(h) && h % 2 == 0)
                .ok_or_else(|| {
                    LadderError(format!("{item:?}: the height must be even, 144p to 2160p"))
                })?;
            let kbps: u32 = rate
                .strip_suffix('k')
                .or_else(|| rate.strip_suffix('K'))
                .and_then(|k| k.parse().ok())
                .filter(|k| (100..=20_000).contains(k))
                .ok_or_else(|| {
                    LadderError(format!(
                        "{item:?}: the bitrate must be 100k to 20000k (kbit/s)"
                    ))
                })?;
            if ladder.rungs.iter().any(|r| r.height == height) {
                return Err(LadderError(format!("{height}p is named twice")));
            }
            ladder.rungs.push(Rung { height, kbps });
        }
        if ladder.rungs.len() > 6 {
            return Err(LadderError("at most 6 rungs".into()));
        }
        if !ladder.source && ladder.rungs.is_empty() {
            return Err(LadderError("no rendition".into()));
        }
        ladder.rungs.sort_by_key(|r| std::cmp::Reverse(r.height));
        Ok(ladder)
    }
}

impl fmt::Display for Ladder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut items: Vec<String> = Vec::new();
        if self.source {
            items.push("source".into());
        }
        items.extend(
            self.rungs
                .iter()
                .map(|r| format!("{}p:{}k", r.height, r.kbps)),
        );
        f.write_str(&items.join(","))
    }
}

/// What the host sends, as far as packaging cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source {
    pub codec: SourceCodec,
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceCodec {
    /// H.264 with its `avc1.PPCCLL` codec string (from the SPS).
    H264 {
        codecs: [u8; 3],
    },
    Vp8,
}

/// How one rendition is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Make {
    /// The source's H.264 copied as it is.
    Copy,
    /// Scaled to `width`x`height` and encoded with x264 at `kbps`.
    Encode { kbps: u32 },
}

/// One video rendition of a broadcast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendition {
    /// `source` or `{height}p`: in file names and URLs.
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub make: Make,
    /// The `CODECS` entry of its video (`avc1.PPCCLL`).
    pub codec: String,
}

impl Ladder {
    /// The video renditions for `source`, tallest first. Rungs taller than the source are
    /// left out; a rung as tall as the source is kept (it caps a source's bitrate, which is
    /// not known before packaging starts).
    pub fn plan(&self, source: Source) -> Vec<Rendition> {
        let mut out = Vec::new();
        if self.source {
            let (make, codec) = match source.codec {
                SourceCodec::H264 { codecs } => (Make::Copy, avc1(codecs)),
                SourceCodec::Vp8 => (
                    Make::Encode {
                        kbps: VP8_SOURCE_KBPS,
                    },
                    x264_codec(source.width, source.height),
                ),
            };
            out.push(Rendition {
                name: "source".into(),
                width: source.width,
                height: source.height,
                make,
                codec,
            });
        }
        for rung in &self.rungs {
            if rung.height > source.height {
                continue;
            }
            let width = scaled_width(source.width, source.height, rung.height);
            out.push(Rendition {
                name: format!("{}p", rung.height),
                width,
                height: rung.height,
                make: Make::Encode { kbps: rung.kbps },
                codec: x264_codec(width, rung.height),
            });
        }
        if out.is_empty() {
            // Every rung is taller than a small source and the source is not offered: the
            // smallest rung at the source's own size, so there is always something to play.
            if let Some(rung) = self.rungs.last() {
                out.push(Rendition {
                    name: format!("{}p", rung.height),
                    width: even(source.width),
                    height: even(source.height),
                    make: Make::Encode { kbps: rung.kbps },
                    codec: x264_codec(source.width, source.height),
                });
            }
        }
        out
    }
}

/// The width that keeps the source's aspect at `height`, rounded to an even number as
/// ffmpeg's `scale=-2:height` does (x264 needs even sizes): 1280x720 gives 854x480, 426x240.
pub fn scaled_width(src_w: u32, src_h: u32, height: u32) -> u32 {
    let (w, h) = if src_h == 0 { (16, 9) } else { (src_w, src_h) };
    let half = (u64::from(w) * u64::from(height) + u64::from(h)) / (2 * u64::from(h));
    (half as u32 * 2).max(2)
}

fn even(v: u32) -> u32 {
    (v + 1) & !1
}

/// `avc1.PPCCLL` from the SPS's profile, constraint flags and level.
pub fn avc1(c: [u8; 3]) -> String {
    format!("avc1.{:02x}{:02x}{:02x}", c[0], c[1], c[2])
}

/// The H.264 level x264 is told to use for a size (30 fps): Main profile, level 3.0 up to
/// 480p, 3.1 up to 720p, 4.0 up to 1080p, else 5.1.
pub fn x264_level(width: u32, height: u32) -> u8 {
    let macroblocks = width.div_ceil(16) * height.div_ceil(16);
    match macroblocks {
        0..=1620 => 30,
        1621..=3600 => 31,
        3601..=8192 => 40,
        _ => 51,
    }
}

/// The codec string of what x264 writes for `width`x`height` (Main profile, no constraint
/// flags beyond what Main implies).
pub fn x264_codec(width: u32, height: u32) -> String {
    avc1([0x4d, 0x40, x264_level(width, height)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_parses_tallest_first() {
        let l: Ladder = "source,240p:400k,720p:2500k,480p:1000k".parse().unwrap();
        assert!(l.source);
        assert_eq!(
            l.rungs.iter().map(|r| r.height).collect::<Vec<_>>(),
            [720, 480, 240]
        );
        assert_eq!(l.to_string(), "source,720p:2500k,480p:1000k,240p:400k");
        assert_eq!(Ladder::default().to_string(), "source,480p:1000k,240p:300k");
        assert_eq!(
            Ladder::default().to_string().parse::<Ladder>().unwrap(),
            Ladder::default()
        );
    }

    #[test]
    fn bad_ladders_are_refused_with_the_reason() {
        for bad in [
            "",
            "source,source",
            "480p",
            "480p:1000",
            "481p:1000k",
            "4000p:1000k",
            "480p:50k",
            "480p:1000k,480p:900k",
            "source,,240p:300k",
            "1080p:1k",
            "source,144p:100k,240p:200k,360p:300k,480p:400k,720p:500k,1080p:600k,1440p:700k",
        ] {
            assert!(bad.parse::<Ladder>().is_err(), "{bad:?} accepted");
        }
        assert!(
            "240p:300k".parse::<Ladder>().is_ok(),
            "no source is allowed"
        );
    }

    #[test]
    fn rungs_taller_than_the_source_are_left_out() {
        let l: Ladder = "source,720p:2500k,480p:1000k,240p:400k".parse().unwrap();
        let src = Source {
            codec: SourceCodec::H264 {
                codecs: [0x42, 0xe0, 0x1f],
            },
            width: 640,
            height: 480,
        };
        let plan = l.plan(src);
        let names: Vec<&str> = plan.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["source", "480p", "240p"]);
        assert_eq!(plan[0].make, Make::Copy);
        assert_eq!(plan[0].codec, "avc1.42e01f");
        assert_eq!((plan[2].width, plan[2].height), (320, 240));
        assert_eq!(plan[2].make, Make::Encode { kbps: 400 });
        assert_eq!(plan[2].codec, "avc1.4d401e");
    }

    #[test]
    fn a_vp8_source_is_encoded_and_widths_keep_the_aspect() {
        let plan = Ladder::default().plan(Source {
            codec: SourceCodec::Vp8,
            width: 1280,
            height: 720,
        });
        assert_eq!(
            plan[0].make,
            Make::Encode {
                kbps: VP8_SOURCE_KBPS
            }
        );
        assert_eq!(plan[0].codec, "avc1.4d401f");
        assert_eq!((plan[1].width, plan[1].height), (854, 480));
        assert_eq!((plan[2].width, plan[2].height), (426, 240));
        // A portrait phone camera.
        assert_eq!(scaled_width(720, 1280, 480), 270);
        assert_eq!(scaled_width(0, 0, 240), 426);
    }

    #[test]
    fn a_tiny_source_without_the_source_rendition_still_gets_one() {
        let l: Ladder = "720p:2500k,480p:1000k".parse().unwrap();
        let plan = l.plan(Source {
            codec: SourceCodec::Vp8,
            width: 320,
            height: 240,
        });
        assert_eq!(plan.len(), 1);
        assert_eq!((plan[0].width, plan[0].height), (320, 240));
    }
}
