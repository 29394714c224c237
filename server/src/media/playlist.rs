//! HLS playlists as data (no I/O): what ffmpeg lists, one rendition's history as a sliding
//! live window plus the lines of its recording, and the multivariant playlists.
//!
//! Numbering rule: a segment's media sequence number is its index in the rendition's whole
//! recording (every broadcast and every ffmpeg run of the session, in order), and a segment
//! that starts a run carries `EXT-X-DISCONTINUITY` (except the very first). The live playlist
//! is the last N entries of that history, so `EXT-X-MEDIA-SEQUENCE` is the first entry's index
//! and `EXT-X-DISCONTINUITY-SEQUENCE` the number of discontinuities before it: both stay right
//! across ffmpeg restarts, new broadcasts and server restarts (the recording on disk is where
//! a new process picks the numbering up).

use std::{collections::VecDeque, fmt::Write as _, sync::Arc};

/// One segment as ffmpeg's own (short) playlist lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    pub uri: String,
    pub duration: f64,
    pub pdt: Option<String>,
    /// The `EXT-X-MAP` URI in force for it.
    pub map: Option<String>,
}

/// The segments of a media playlist, and whether it has ended.
pub fn parse_media(text: &str) -> (Vec<Listed>, bool) {
    let mut out = Vec::new();
    let (mut map, mut duration, mut pdt) = (None::<String>, None::<f64>, None::<String>);
    let mut ended = false;
    for line in text.lines().map(str::trim) {
        if let Some(attrs) = line.strip_prefix("#EXT-X-MAP:") {
            map = attr(attrs, "URI");
        } else if let Some(d) = line.strip_prefix("#EXTINF:") {
            duration = d.split(',').next().and_then(|d| d.trim().parse().ok());
        } else if let Some(t) = line.strip_prefix("#EXT-X-PROGRAM-DATE-TIME:") {
            pdt = Some(t.to_string());
        } else if line == "#EXT-X-ENDLIST" {
            ended = true;
        } else if !line.is_empty() && !line.starts_with('#') {
            if let Some(d) = duration.take() {
                out.push(Listed {
                    uri: line.to_string(),
                    duration: d,
                    pdt: pdt.take(),
                    map: map.clone(),
                });
            }
        }
    }
    (out, ended)
}

/// A quoted attribute's value in an attribute list (`URI="init.mp4"`).
fn attr(attrs: &str, name: &str) -> Option<String> {
    let at = attrs.find(&format!("{name}=\""))? + name.len() + 2;
    let end = attrs[at..].find('"')?;
    Some(attrs[at..at + end].to_string())
}

/// One segment of a rendition's history.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Media sequence number: the index in the recording.
    pub seq: u64,
    pub uri: Arc<str>,
    pub duration: f64,
    pub pdt: Option<Arc<str>>,
    pub map: Arc<str>,
    /// It starts a run after earlier segments.
    pub discontinuity: bool,
    /// Its size (0 when unknown, e.g. restored from the recording).
    pub bytes: u64,
}

/// One rendition's history: the live window in memory, the counters that number it, and its
/// bitrate figures. The full history is the recording on disk (lines from [`Track::push`]).
#[derive(Debug, Clone)]
pub struct Track {
    window: VecDeque<Entry>,
    capacity: usize,
    next_seq: u64,
    /// Discontinuity tags on the entries that left the window.
    disc_before: u64,
    /// The next entry starts a run.
    new_run: bool,
    /// The map of the last entry (the recording repeats `EXT-X-MAP` only when it changes).
    last_map: Option<Arc<str>>,
    target: u32,
    ended: bool,
    /// Whole-session figures for the recording's multivariant playlist.
    peak_bps: u64,
    total_bits: f64,
    total_secs: f64,
}

impl Track {
    /// An empty history with a live window of `capacity` segments.
    pub fn new(capacity: usize) -> Track {
        Track {
            window: VecDeque::with_capacity(capacity + 1),
            capacity: capacity.max(1),
            next_seq: 0,
            disc_before: 0,
            new_run: false,
            last_map: None,
            target: 1,
            ended: false,
            peak_bps: 0,
            total_bits: 0.0,
            total_secs: 0.0,
        }
    }

    /// The history a recording holds (what [`Track::push`] appended, any header): the
    /// numbering continues after it, and the window starts with its last entries. Ended.
    pub fn restore(capacity: usize, recording: &str) -> Track {
        let mut t = Track::new(capacity);
        let mut map: Option<Arc<str>> = None;
        let (mut disc, mut duration, mut pdt) = (false, None::<f64>, None::<Arc<str>>);
        for line in recording.lines().map(str::trim) {
            if let Some(attrs) = line.strip_prefix("#EXT-X-MAP:") {
                map = attr(attrs, "URI").map(Arc::from);
            } else if line == "#EXT-X-DISCONTINUITY" {
                disc = true;
            } else if let Some(d) = line.strip_prefix("#EXTINF:") {
                duration = d.split(',').next().and_then(|d| d.trim().parse().ok());
            } else if let Some(p) = line.strip_prefix("#EXT-X-PROGRAM-DATE-TIME:") {
                pdt = Some(Arc::from(p));
            } else if !line.is_empty() && !line.starts_with('#') {
                let (Some(d), Some(m)) = (duration.take(), map.clone()) else {
                    continue;
                };
                t.target = t.target.max(rounded(d));
                t.admit(Entry {
                    seq: t.next_seq,
                    uri: Arc::from(line),
                    duration: d,
                    pdt: pdt.take(),
                    map: m.clone(),
                    discontinuity: std::mem::take(&mut disc) && t.next_seq > 0,
                    bytes: 0,
                });
                t.last_map = Some(m);
            }
        }
        t.ended = true;
        t
    }

    /// The next segment starts a new ffmpeg run (a restart or another broadcast).
    pub fn start_run(&mut self) {
        self.new_run = true;
        self.ended = false;
    }

    /// Adds a segment; returns the recording's lines for it and the entry that left the window.
    pub fn push(&mut self, seg: &Listed, map: &str, bytes: u64) -> (String, Option<Entry>) {
        let discontinuity = std::mem::take(&mut self.new_run) && self.next_seq > 0;
        let map: Arc<str> = match &self.last_map {
            Some(m) if &**m == map => m.clone(),
            _ => Arc::from(map),
        };
        let mut lines = String::new();
        if discontinuity {
            lines.push_str("#EXT-X-DISCONTINUITY\n");
        }
        if self.last_map.as_deref() != Some(&*map) || discontinuity {
            let _ = writeln!(lines, "#EXT-X-MAP:URI=\"{map}\"");
        }
        entry_lines(&mut lines, seg.duration, seg.pdt.as_deref(), &seg.uri);
        self.target = self.target.max(rounded(seg.duration));
        if seg.duration > 0.0 {
            let bps = (bytes as f64 * 8.0 / seg.duration) as u64;
            self.peak_bps = self.peak_bps.max(bps);
            self.total_bits += bytes as f64 * 8.0;
            self.total_secs += seg.duration;
        }
        let left = self.admit(Entry {
            seq: self.next_seq,
            uri: Arc::from(seg.uri.as_str()),
            duration: seg.duration,
            pdt: seg.pdt.as_deref().map(Arc::from),
            map: map.clone(),
            discontinuity,
            bytes,
        });
        self.last_map = Some(map);
        (lines, left)
    }

    fn admit(&mut self, e: Entry) -> Option<Entry> {
        self.next_seq = e.seq + 1;
        self.window.push_back(e);
        if self.window.len() > self.capacity {
            let left = self.window.pop_front()?;
            self.disc_before += u64::from(left.discontinuity);
            return Some(left);
        }
        None
    }

    /// The broadcast ended: the live playlist gets `EXT-X-ENDLIST`.
    pub fn end(&mut self) {
        self.ended = true;
    }

    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// Segments in the whole history.
    pub fn len(&self) -> u64 {
        self.next_seq
    }

    pub fn is_empty(&self) -> bool {
        self.next_seq == 0
    }

    pub fn window(&self) -> impl Iterator<Item = &Entry> {
        self.window.iter()
    }

    pub fn target_duration(&self) -> u32 {
        self.target
    }

    /// (peak, average) bits per second over the live window, from the segments' sizes.
    pub fn live_bitrate(&self) -> (u64, u64) {
        let (mut peak, mut bits, mut secs) = (0u64, 0f64, 0f64);
        for e in self
            .window
            .iter()
            .filter(|e| e.bytes > 0 && e.duration > 0.0)
        {
            peak = peak.max((e.bytes as f64 * 8.0 / e.duration) as u64);
            bits += e.bytes as f64 * 8.0;
            secs += e.duration;
        }
        let avg = if secs > 0.0 { (bits / secs) as u64 } else { 0 };
        (peak, avg)
    }

    /// (peak, average) bits per second over every segment this process saw.
    pub fn session_bitrate(&self) -> (u64, u64) {
        let avg = if self.total_secs > 0.0 {
            (self.total_bits / self.total_secs) as u64
        } else {
            0
        };
        (self.peak_bps, avg)
    }

    /// The live media playlist: the window, numbered as in the recording.
    pub fn render_live(&self) -> String {
        let first = self.window.front().map_or(self.next_seq, |e| e.seq);
        let mut s = format!(
            "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:{}\n#EXT-X-MEDIA-SEQUENCE:{first}\n#EXT-X-DISCONTINUITY-SEQUENCE:{}\n#EXT-X-INDEPENDENT-SEGMENTS\n",
            self.target, self.disc_before
        );
        let mut map: Option<&str> = None;
        for e in &self.window {
            if e.discontinuity {
                s.push_str("#EXT-X-DISCONTINUITY\n");
            }
            if map != Some(&*e.map) || e.discontinuity {
                let _ = writeln!(s, "#EXT-X-MAP:URI=\"{}\"", e.map);
                map = Some(&e.map);
            }
            entry_lines(&mut s, e.duration, e.pdt.as_deref(), &e.uri);
        }
        if self.ended {
            s.push_str("#EXT-X-ENDLIST\n");
        }
        s
    }
}

fn entry_lines(s: &mut String, duration: f64, pdt: Option<&str>, uri: &str) {
    if let Some(p) = pdt {
        let _ = writeln!(s, "#EXT-X-PROGRAM-DATE-TIME:{p}");
    }
    let _ = writeln!(s, "#EXTINF:{duration:.6},\n{uri}");
}

/// A duration as `EXT-X-TARGETDURATION` counts it (rounded to the nearest second, at least 1).
fn rounded(d: f64) -> u32 {
    (d.round() as u32).max(1)
}

/// The header of a recording's media playlist (an event playlist: `EXT-X-ENDLIST` after the
/// entries makes it complete).
pub fn recording_header(target: u32) -> String {
    format!(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:{target}\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-INDEPENDENT-SEGMENTS\n"
    )
}

/// A recording's entries without its header and end marker (to rewrite the header or append).
pub fn recording_body(text: &str) -> &str {
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        let l = line.trim();
        let header = l == "#EXTM3U"
            || l == "#EXT-X-INDEPENDENT-SEGMENTS"
            || [
                "#EXT-X-VERSION:",
                "#EXT-X-TARGETDURATION:",
                "#EXT-X-MEDIA-SEQUENCE:",
                "#EXT-X-PLAYLIST-TYPE:",
            ]
            .iter()
            .any(|p| l.starts_with(p));
        if !header {
            break;
        }
        start += line.len();
    }
    let body = &text[start..];
    body.strip_suffix("#EXT-X-ENDLIST\n").unwrap_or(body)
}

/// One video variant of a multivariant playlist.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    pub uri: String,
    /// Peak and average bits per second of the video and the audio played with it.
    pub bandwidth: u64,
    pub average_bandwidth: u64,
    pub width: u32,
    pub height: u32,
    pub codecs: String,
    pub frame_rate: f64,
}

/// The multivariant playlist: the shared audio rendition (if any), then the variants, the
/// one a player should start with first (the highest at most 1.5 Mbit/s: a phone on a
/// middling network starts without stalling, and players move up from there).
pub fn render_master(variants: &[Variant], audio_uri: Option<&str>) -> String {
    let mut s = String::from("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    if let Some(uri) = audio_uri {
        let _ = writeln!(
            s,
            "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"audio\",DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"2\",URI=\"{uri}\""
        );
    }
    let mut order: Vec<&Variant> = variants.iter().collect();
    order.sort_by_key(|v| std::cmp::Reverse(v.bandwidth));
    if let Some(i) = order.iter().position(|v| v.bandwidth <= 1_500_000) {
        let start = order.remove(i);
        order.insert(0, start);
    }
    for v in order {
        let _ = write!(
            s,
            "#EXT-X-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={},RESOLUTION={}x{},CODECS=\"{}\",FRAME-RATE={:.3}",
            v.bandwidth.max(1),
            v.average_bandwidth.max(1),
            v.width,
            v.height,
            v.codecs,
            v.frame_rate
        );
        if audio_uri.is_some() {
            s.push_str(",AUDIO=\"aud\"");
        }
        let _ = writeln!(s, "\n{}", v.uri);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(name: &str, n: u64) -> Listed {
        Listed {
            uri: format!("{name}_{n:05}.m4s"),
            duration: 1.0,
            pdt: Some(format!("2026-12-07T05:00:{:02}.000+0000", n % 60)),
            map: None,
        }
    }

    /// The media sequence and discontinuity sequence numbers of every segment a playlist
    /// lists, computed as a player does (RFC 8216 6.2.1, 6.2.2).
    fn numbered(playlist: &str) -> Vec<(u64, u64, String)> {
        let mut seq: u64 = playlist
            .lines()
            .find_map(|l| l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:"))
            .map_or(0, |v| v.parse().expect("number"));
        let mut dsn: u64 = playlist
            .lines()
            .find_map(|l| l.strip_prefix("#EXT-X-DISCONTINUITY-SEQUENCE:"))
            .map_or(0, |v| v.parse().expect("number"));
        let mut out = Vec::new();
        for l in playlist.lines() {
            if l == "#EXT-X-DISCONTINUITY" {
                dsn += 1;
            } else if !l.starts_with('#') && !l.is_empty() {
                out.push((seq, dsn, l.to_string()));
                seq += 1;
            }
        }
        out
    }

    #[test]
    fn ffmpeg_playlists_parse_with_their_map_and_times() {
        let text = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:14\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI=\"src_init.mp4\"\n#EXTINF:1.066992,\n#EXT-X-PROGRAM-DATE-TIME:2026-12-07T05:34:18.559+0000\nsrc_00014.m4s\n#EXTINF:0.726172,\nsrc_00015.m4s\n#EXT-X-ENDLIST\n";
        let (segs, ended) = parse_media(text);
        assert!(ended);
        assert_eq!(segs.len(), 2);
        assert_eq!(segs[0].uri, "src_00014.m4s");
        assert_eq!(segs[0].map.as_deref(), Some("src_init.mp4"));
        assert_eq!(segs[0].pdt.as_deref(), Some("2026-12-07T05:34:18.559+0000"));
        assert!((segs[1].duration - 0.726172).abs() < 1e-9);
        assert_eq!(segs[1].pdt, None);
        assert_eq!(parse_media("garbage\n#EXTINF:x,\nfoo\n").0, vec![]);
    }

    #[test]
    fn the_live_window_slides_and_keeps_its_numbering() {
        let mut t = Track::new(3);
        t.start_run();
        let mut recording = String::new();
        for n in 0..5 {
            recording.push_str(&t.push(&seg("a", n), "a_init.mp4", 1000).0);
        }
        t.start_run();
        for n in 0..2 {
            recording.push_str(&t.push(&seg("b", n), "b_init.mp4", 1000).0);
        }
        let live = t.render_live();
        let listed = numbered(&live);
        assert_eq!(
            listed,
            vec![
                (4, 0, "a_00004.m4s".into()),
                (5, 1, "b_00000.m4s".into()),
                (6, 1, "b_00001.m4s".into()),
            ]
        );
        assert!(live.contains("#EXT-X-MAP:URI=\"a_init.mp4\""));
        assert!(live.contains("#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"b_init.mp4\""));
        // The recording numbers them the same way.
        let full = format!("{}{recording}", recording_header(1));
        let all = numbered(&full);
        assert_eq!(all.len(), 7);
        assert_eq!(&all[4..], &listed[..]);
        // One more: the discontinuity leaves the window's head but is counted.
        t.push(&seg("b", 2), "b_init.mp4", 1000);
        t.push(&seg("b", 3), "b_init.mp4", 1000);
        let listed = numbered(&t.render_live());
        assert_eq!(listed[0], (6, 1, "b_00001.m4s".into()));
        assert!(!t.render_live().contains("#EXT-X-DISCONTINUITY\n"));
        assert!(t
            .render_live()
            .contains("#EXT-X-DISCONTINUITY-SEQUENCE:1\n"));
        t.end();
        assert!(t.render_live().ends_with("#EXT-X-ENDLIST\n"));
    }

    #[test]
    fn a_restored_track_continues_the_numbering() {
        let mut t = Track::new(4);
        let mut rec = recording_header(1);
        for run in 0..3 {
            t.start_run();
            for n in 0..5 {
                rec.push_str(
                    &t.push(&seg(&format!("r{run}"), n), &format!("r{run}_init.mp4"), 10)
                        .0,
                );
            }
        }
        t.end();
        rec.push_str("#EXT-X-ENDLIST\n");
        let mut r = Track::restore(4, &rec);
        assert!(r.is_ended());
        assert_eq!(r.len(), 15);
        assert_eq!(r.render_live(), t.render_live());
        r.start_run();
        t.start_run();
        let a = r.push(&seg("r3", 0), "r3_init.mp4", 10);
        let b = t.push(&seg("r3", 0), "r3_init.mp4", 10);
        assert_eq!(a.0, b.0);
        assert_eq!(r.render_live(), t.render_live());
        assert_eq!(
            numbered(&r.render_live())[3],
            (15, 3, "r3_00000.m4s".into())
        );
    }

    #[test]
    fn recording_bodies_lose_their_header_and_end() {
        let text = format!(
            "{}#EXT-X-MAP:URI=\"i.mp4\"\n#EXTINF:1.000000,\na.m4s\n#EXT-X-ENDLIST\n",
            recording_header(2)
        );
        assert_eq!(
            recording_body(&text),
            "#EXT-X-MAP:URI=\"i.mp4\"\n#EXTINF:1.000000,\na.m4s\n"
        );
        assert_eq!(recording_body(""), "");
    }

    /// A 3-hour session with an ffmpeg restart every 20 minutes and a new broadcast every
    /// hour: the live playlist stays the same size, the recording holds every segment.
    #[test]
    fn three_hours_live_playlist_is_bounded_recording_is_complete() {
        let mut t = Track::new(6);
        let mut rec = String::new();
        let mut sizes = Vec::new();
        for second in 0..3 * 3600u64 {
            if second % 1200 == 0 {
                t.start_run();
            }
            let run = second / 1200;
            let s = Listed {
                uri: format!("source_{run}_19af3c2b1d2_{:05}.m4s", second % 1200),
                duration: 1.000000,
                pdt: Some("2026-12-07T05:34:18.559+0000".into()),
                map: None,
            };
            rec.push_str(
                &t.push(&s, &format!("source_{run}_19af3c2b1d2_init.mp4"), 250_000)
                    .0,
            );
            if second % 600 == 599 {
                sizes.push(t.render_live().len());
            }
        }
        let live = t.render_live();
        assert!(live.len() <= 2048, "{} bytes:\n{live}", live.len());
        let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
        assert!(max - min <= 64, "sizes {sizes:?}");
        let all = numbered(&format!("{}{rec}", recording_header(1)));
        assert_eq!(all.len(), 3 * 3600);
        assert_eq!(all.last().unwrap().1, 8, "9 runs, 8 discontinuities");
        assert_eq!(numbered(&live).last(), all.last());
        assert_eq!(t.session_bitrate(), (2_000_000, 2_000_000));
    }

    #[test]
    fn the_master_lists_a_middle_variant_first_with_every_attribute() {
        let v = |uri: &str, bw: u64, h: u32| Variant {
            uri: uri.into(),
            bandwidth: bw,
            average_bandwidth: bw * 9 / 10,
            width: h * 16 / 9,
            height: h,
            codecs: "avc1.4d401f,mp4a.40.2".into(),
            frame_rate: 30.0,
        };
        let m = render_master(
            &[
                v("live_source.m3u8", 2_600_000, 720),
                v("live_480p.m3u8", 1_100_000, 480),
                v("live_240p.m3u8", 370_000, 240),
            ],
            Some("live_audio.m3u8"),
        );
        let uris: Vec<&str> = m.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            uris,
            ["live_480p.m3u8", "live_source.m3u8", "live_240p.m3u8"]
        );
        assert!(m.contains("#EXT-X-STREAM-INF:BANDWIDTH=1100000,AVERAGE-BANDWIDTH=990000,RESOLUTION=853x480,CODECS=\"avc1.4d401f,mp4a.40.2\",FRAME-RATE=30.000,AUDIO=\"aud\"\nlive_480p.m3u8\n"));
        assert!(m.contains("TYPE=AUDIO,GROUP-ID=\"aud\""));
        assert!(!render_master(&[v("a.m3u8", 1, 240)], None).contains("AUDIO"));
    }
}
