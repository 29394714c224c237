//! One session's live HLS on its ingest node, in memory: every rendition's history
//! ([`Track`]), the playlists built from it, and the recent segments' bytes.
//!
//! Playlists are built when a segment lands (by the broadcast's watcher, `hls::watch`), never
//! on a request: a request reads the last build (`Built`: body, `ETag`, `Last-Modified`), so a
//! thousand players asking at once cost a thousand map lookups and one build. The same
//! playlists are written beside the segments on disk (`live.m3u8`, `live_{name}.m3u8`), which
//! is what a plain static server or a restarted node serves. The full history of each
//! rendition goes to `rec_{name}.m3u8`, and `index.m3u8` lists the recording's renditions.

use shop_core::ids::SessionId;
use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    io::Write as _,
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex, RwLock,
    },
    time::{Duration, Instant, SystemTime},
};

use axum::http::HeaderValue;
use bytes::Bytes;

use super::{
    ladder::{Rendition, AUDIO_CODEC},
    playlist::{self, Listed, Track, Variant},
};

/// The audio rendition's name (shared by every video rendition).
pub const AUDIO: &str = "audio";
/// A stream whose broadcast ended this long ago is dropped from memory (its files stay).
const KEEP_ENDED: Duration = Duration::from_secs(3600);

/// This node's HLS counters (`GET /metrics`).
#[derive(Default)]
pub struct HlsMetrics {
    pub playlist_requests: AtomicU64,
    pub segment_requests: AtomicU64,
    pub not_modified: AtomicU64,
    pub builds: AtomicU64,
    pub segments_landed: AtomicU64,
    /// Requests this node sent to an ingest node (origin shield), and those that failed.
    pub origin_fetches: AtomicU64,
    pub origin_failures: AtomicU64,
    /// Requests answered from what another request fetched (or was fetching) from the origin.
    pub shield_hits: AtomicU64,
}

impl HlsMetrics {
    pub fn render(&self, out: &mut String) {
        use std::fmt::Write as _;
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let _ = write!(
            out,
            "# HELP live_hls_requests_total HLS requests answered by this node, by kind.\n# TYPE live_hls_requests_total counter\nlive_hls_requests_total{{kind=\"playlist\"}} {}\nlive_hls_requests_total{{kind=\"segment\"}} {}\n\
# HELP live_hls_not_modified_total HLS requests answered 304.\n# TYPE live_hls_not_modified_total counter\nlive_hls_not_modified_total {}\n\
# HELP live_hls_playlist_builds_total Live playlists built (one per rendition per landed segment).\n# TYPE live_hls_playlist_builds_total counter\nlive_hls_playlist_builds_total {}\n\
# HELP live_hls_segments_total Segments that landed on this node (all renditions).\n# TYPE live_hls_segments_total counter\nlive_hls_segments_total {}\n\
# HELP live_hls_origin_fetches_total Requests this node made to an ingest node.\n# TYPE live_hls_origin_fetches_total counter\nlive_hls_origin_fetches_total {}\n\
# HELP live_hls_origin_failures_total Origin requests that failed.\n# TYPE live_hls_origin_failures_total counter\nlive_hls_origin_failures_total {}\n\
# HELP live_hls_shield_hits_total Requests answered from another request's origin fetch.\n# TYPE live_hls_shield_hits_total counter\nlive_hls_shield_hits_total {}\n",
            get(&self.playlist_requests),
            get(&self.segment_requests),
            get(&self.not_modified),
            get(&self.builds),
            get(&self.segments_landed),
            get(&self.origin_fetches),
            get(&self.origin_failures),
            get(&self.shield_hits),
        );
    }
}

/// A built playlist, ready to send.
#[derive(Clone)]
pub struct Built {
    pub body: Bytes,
    pub etag: HeaderValue,
    pub last_modified: HeaderValue,
}

impl Built {
    fn new(body: String) -> Built {
        let etag = format!("\"{:016x}\"", fnv1a(body.as_bytes()));
        Built {
            etag: HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"0\"")),
            last_modified: HeaderValue::from_str(&httpdate::fmt_http_date(SystemTime::now()))
                .unwrap_or(HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT")),
            body: Bytes::from(body),
        }
    }
}

fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The live streams this node ingests, by session.
pub struct Streams {
    map: RwLock<HashMap<SessionId, Arc<Stream>>>,
    media_dir: PathBuf,
    window: usize,
    pub metrics: Arc<HlsMetrics>,
}

impl Streams {
    pub fn new(media_dir: PathBuf, window: usize) -> Streams {
        Streams {
            map: RwLock::new(HashMap::new()),
            media_dir,
            window,
            metrics: Arc::new(HlsMetrics::default()),
        }
    }

    pub fn get(&self, session_id: SessionId) -> Option<Arc<Stream>> {
        self.map
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&session_id)
            .cloned()
    }

    /// The session's stream, created (and its numbering restored from the recording on disk)
    /// if this node has none. Reads files: call it off the async runtime's threads.
    pub fn open(&self, session_id: SessionId) -> Arc<Stream> {
        if let Some(s) = self.get(session_id) {
            return s;
        }
        let stream = Arc::new(Stream::restore(
            session_id,
            self.media_dir.join(session_id.to_string()),
            self.window,
            self.metrics.clone(),
        ));
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, s| !s.ended_long_ago());
        map.entry(session_id).or_insert(stream).clone()
    }
}

/// Just enough of fragmented MP4 to date a segment.
mod fmp4 {
    /// The body of the first box of type `kind` found in `data` (a plain scan: the boxes we
    /// look for are unique in ffmpeg's segments).
    fn find<'a>(data: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
        let at = data.windows(4).position(|w| w == kind)?;
        let size = u32::from_be_bytes(data.get(at.checked_sub(4)?..at)?.try_into().ok()?) as usize;
        data.get(at + 4..(at - 4).checked_add(size)?)
    }

    fn u32_at(b: &[u8], at: usize) -> Option<u64> {
        Some(u64::from(u32::from_be_bytes(
            b.get(at..at + 4)?.try_into().ok()?,
        )))
    }

    fn u64_at(b: &[u8], at: usize) -> Option<u64> {
        Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
    }

    /// The segment's first decode time in seconds: its `tfdt` over the track's `mdhd` time
    /// scale (from the init segment).
    pub fn start_seconds(init: &[u8], segment: &[u8]) -> Option<f64> {
        let mdhd = find(init, b"mdhd")?;
        let timescale = if *mdhd.first()? == 1 {
            u32_at(mdhd, 20)?
        } else {
            u32_at(mdhd, 12)?
        };
        let tfdt = find(segment, b"tfdt")?;
        let time = if *tfdt.first()? == 1 {
            u64_at(tfdt, 4)?
        } else {
            u32_at(tfdt, 4)?
        };
        (timescale > 0).then(|| time as f64 / timescale as f64)
    }

    #[cfg(test)]
    mod tests {
        fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
            let mut b = ((body.len() + 8) as u32).to_be_bytes().to_vec();
            b.extend_from_slice(kind);
            b.extend_from_slice(body);
            b
        }

        #[test]
        fn a_segment_start_is_its_tfdt_over_the_time_scale() {
            // mdhd v0: version+flags, creation, modification, time scale 90,000, duration.
            let mut mdhd = vec![0u8; 4 + 8];
            mdhd.extend_from_slice(&90_000u32.to_be_bytes());
            mdhd.extend_from_slice(&[0; 8]);
            let init = [
                boxed(b"ftyp", b"iso5"),
                boxed(b"moov", &boxed(b"mdhd", &mdhd)),
            ]
            .concat();
            // tfdt v1: 64-bit base media decode time, 185,400 = 2.06 s.
            let mut tfdt = vec![1u8, 0, 0, 0];
            tfdt.extend_from_slice(&185_400u64.to_be_bytes());
            let seg = [
                boxed(b"styp", b"msdh"),
                boxed(b"moof", &boxed(b"tfdt", &tfdt)),
            ]
            .concat();
            assert_eq!(super::start_seconds(&init, &seg), Some(2.06));
            // v0 tfdt; and what is not MP4 reads as nothing.
            let seg0 = boxed(b"tfdt", &[0, 0, 0, 0, 0, 1, 0x5f, 0x90]);
            assert_eq!(super::start_seconds(&init, &seg0), Some(1.0));
            assert_eq!(super::start_seconds(b"junk", &seg), None);
            assert_eq!(super::start_seconds(&init, b"tfdt"), None);
        }
    }
}

/// One session's live HLS.
pub struct Stream {
    pub session_id: SessionId,
    dir: PathBuf,
    window: usize,
    state: Mutex<State>,
    built: RwLock<HashMap<Box<str>, Built>>,
    segments: RwLock<HashMap<Box<str>, Bytes>>,
    /// Every rendition of the current run has a segment: the multivariant playlist is out.
    ready: AtomicBool,
    /// A run is being packaged (what `State::run` says, readable without the lock).
    live: AtomicBool,
    metrics: Arc<HlsMetrics>,
    /// Held by the session's packager (`hls::Packager`) while it runs.
    packaging: Arc<tokio::sync::Mutex<()>>,
}

struct State {
    tracks: BTreeMap<String, Track>,
    run: Option<u32>,
    plan: Vec<Rendition>,
    audio: bool,
    fps: f64,
    /// Tracks with a segment since the run began; tracks whose recording file is open for
    /// appending in this run.
    landed: BTreeSet<String>,
    recording_open: BTreeSet<String>,
    dirty: BTreeSet<String>,
    ended_at: Option<Instant>,
    /// Each segment's `EXT-X-PROGRAM-DATE-TIME`: when the ingest received the first video
    /// (audio) packet it forwarded to run `anchor_run` of ffmpeg (µs), where that stream's
    /// media time is `hls::MEDIA_ORIGIN_S`, plus the segment's media time since.
    anchor_run: Option<u32>,
    anchors: [Option<i64>; 2],
    elapsed: HashMap<String, (u32, f64)>,
}

impl Stream {
    fn restore(
        session_id: SessionId,
        dir: PathBuf,
        window: usize,
        metrics: Arc<HlsMetrics>,
    ) -> Stream {
        let mut tracks = BTreeMap::new();
        if let Ok(rd) = std::fs::read_dir(&dir) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let Some(track) = name
                    .strip_prefix("rec_")
                    .and_then(|n| n.strip_suffix(".m3u8"))
                else {
                    continue;
                };
                if let Ok(text) = std::fs::read_to_string(e.path()) {
                    tracks.insert(track.to_string(), Track::restore(window, &text));
                }
            }
        }
        Stream {
            session_id,
            dir,
            window,
            state: Mutex::new(State {
                tracks,
                run: None,
                plan: Vec::new(),
                audio: false,
                fps: 30.0,
                landed: BTreeSet::new(),
                recording_open: BTreeSet::new(),
                dirty: BTreeSet::new(),
                ended_at: None,
                anchor_run: None,
                anchors: [None; 2],
                elapsed: HashMap::new(),
            }),
            built: RwLock::new(HashMap::new()),
            segments: RwLock::new(HashMap::new()),
            ready: AtomicBool::new(false),
            live: AtomicBool::new(false),
            metrics,
            packaging: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// The turn of packagers: one at a time per session.
    pub fn packaging(&self) -> Arc<tokio::sync::Mutex<()>> {
        self.packaging.clone()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The run ffmpeg is writing now, with the renditions it makes (the next segment of every
    /// rendition, made in it or not, starts after a discontinuity).
    pub fn begin_run(&self, run: u32, plan: Vec<Rendition>, audio: bool) {
        let mut st = self.state();
        let window = self.window;
        for r in &plan {
            st.tracks
                .entry(r.name.clone())
                .or_insert_with(|| Track::new(window));
        }
        if audio {
            st.tracks
                .entry(AUDIO.to_string())
                .or_insert_with(|| Track::new(window));
        }
        let names: BTreeSet<String> = plan
            .iter()
            .map(|r| r.name.clone())
            .chain(audio.then(|| AUDIO.to_string()))
            .collect();
        let mut ended = Vec::new();
        for (name, t) in st.tracks.iter_mut() {
            t.start_run();
            // A rendition this run does not make (the source changed size) ends, so players
            // on it stop rather than wait for segments that will not come.
            if !names.contains(name) && !t.is_ended() && !t.is_empty() {
                t.end();
                ended.push(name.clone());
            }
        }
        st.dirty.extend(ended);
        st.run = Some(run);
        st.plan = plan;
        st.audio = audio;
        st.landed.clear();
        st.recording_open.clear();
        st.ended_at = None;
        self.ready.store(false, Ordering::Release);
        self.live.store(true, Ordering::Release);
    }

    /// The run being written and the names of its renditions (audio last).
    pub fn current(&self) -> Option<(u32, Vec<String>)> {
        let st = self.state();
        let run = st.run?;
        let mut names: Vec<String> = st.plan.iter().map(|r| r.name.clone()).collect();
        if st.audio {
            names.push(AUDIO.into());
        }
        Some((run, names))
    }

    /// The frame rate the ingest measured (for `FRAME-RATE`).
    pub fn set_frame_rate(&self, fps: f64) {
        if fps.is_finite() && fps > 0.0 {
            self.state().fps = fps;
        }
    }

    /// The ingest forwarded the first video (`audio` false) or audio packet of run `run` to
    /// ffmpeg, having received it at `received_us`: ffmpeg's timeline of that stream starts
    /// there (its RTP input counts each stream's time from its first packet).
    pub fn forwarded(&self, run: u32, audio: bool, received_us: i64) {
        let mut st = self.state();
        if st.anchor_run != Some(run) {
            st.anchor_run = Some(run);
            st.anchors = [None; 2];
        }
        st.anchors[usize::from(audio)].get_or_insert(received_us);
    }

    /// The wall clock of the start of the next segment of `name` in `run`, whose first frame
    /// is at `media_start` s on ffmpeg's timeline (its `tfdt`): the arrival of the stream's
    /// first packet at the ingest plus that. Counts `duration` into the track's media time
    /// (for a segment whose `tfdt` does not read: the previous start plus the durations).
    fn program_date_time(
        st: &mut State,
        run: u32,
        name: &str,
        duration: f64,
        media_start: Option<f64>,
    ) -> Option<String> {
        let elapsed = st
            .elapsed
            .entry(name.to_string())
            .or_insert((run, f64::NAN));
        if elapsed.0 != run {
            *elapsed = (run, f64::NAN);
        }
        let start = media_start.unwrap_or(elapsed.1);
        elapsed.1 = start + duration;
        if st.anchor_run != Some(run) || !start.is_finite() {
            return None;
        }
        let first = st.anchors[usize::from(name == AUDIO)]?;
        let us = first + ((start - super::hls::MEDIA_ORIGIN_S) * 1e6).round() as i64;
        let ts = jiff::Timestamp::from_microsecond(us).ok()?;
        Some(ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
    }

    /// A segment of rendition `name` of run `run` landed (its file is complete): it joins the
    /// window and the recording. `bytes` is its content (kept while in the window). A segment
    /// of a run that is no longer the current one is ignored.
    pub fn land(&self, run: u32, name: &str, seg: &Listed, bytes: Bytes) -> std::io::Result<()> {
        let Some(map) = seg.map.clone() else {
            return Ok(());
        };
        // Where the segment starts on ffmpeg's timeline (its init segment has the time scale).
        let init = self
            .segments
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(map.as_str())
            .cloned()
            .or_else(|| std::fs::read(self.dir.join(&map)).ok().map(Bytes::from));
        let media_start = init
            .as_ref()
            .and_then(|init| fmp4::start_seconds(init, &bytes));
        let mut st = self.state();
        if st.run != Some(run) {
            return Ok(());
        }
        let open = st.recording_open.contains(name);
        if !st.tracks.contains_key(name) {
            return Ok(());
        }
        // The ingest's clock (ffmpeg's counts from when its muxer began, not from the frames).
        let mut seg = seg.clone();
        if let Some(pdt) = Self::program_date_time(&mut st, run, name, seg.duration, media_start) {
            seg.pdt = Some(pdt);
        }
        let seg = &seg;
        let Some(track) = st.tracks.get_mut(name) else {
            return Ok(());
        };
        let (lines, left) = track.push(seg, &map, bytes.len() as u64);
        let target = track.target_duration();
        let rec = self.dir.join(format!("rec_{name}.m3u8"));
        if !open {
            reopen_recording(&rec, target)?;
            st.recording_open.insert(name.to_string());
        }
        std::fs::OpenOptions::new()
            .append(true)
            .open(&rec)?
            .write_all(lines.as_bytes())?;
        st.landed.insert(name.to_string());
        st.dirty.insert(name.to_string());
        drop(st);
        self.metrics.segments_landed.fetch_add(1, Ordering::Relaxed);
        let mut cache = self.segments.write().unwrap_or_else(|p| p.into_inner());
        if let Some(left) = left {
            cache.remove(&*left.uri);
        }
        cache.insert(seg.uri.as_str().into(), bytes);
        if let Some(init) = init {
            cache.entry(map.as_str().into()).or_insert(init);
        }
        Ok(())
    }

    /// Builds the playlists of the renditions that changed (and the multivariant playlist once
    /// every rendition of the run has a segment), keeps them for requests and writes them to
    /// disk. Returns whether the multivariant playlist came out for this run just now.
    pub fn publish(&self) -> std::io::Result<bool> {
        let mut st = self.state();
        let dirty = std::mem::take(&mut st.dirty);
        let mut out: Vec<(String, Built)> = Vec::new();
        for name in &dirty {
            if let Some(t) = st.tracks.get(name) {
                out.push((format!("live_{name}.m3u8"), Built::new(t.render_live())));
            }
        }
        let names: Vec<String> = st
            .plan
            .iter()
            .map(|r| r.name.clone())
            .chain(st.audio.then(|| AUDIO.to_string()))
            .collect();
        let complete = !names.is_empty() && names.iter().all(|n| st.landed.contains(n));
        let first = complete && !self.ready.load(Ordering::Acquire);
        if complete && !dirty.is_empty() {
            out.push(("live.m3u8".into(), Built::new(live_master(&st))));
        }
        drop(st);
        if out.is_empty() {
            return Ok(false);
        }
        self.metrics
            .builds
            .fetch_add(out.len() as u64, Ordering::Relaxed);
        // Memory first (requests see them at once), then disk.
        {
            let mut built = self.built.write().unwrap_or_else(|p| p.into_inner());
            for (file, b) in &out {
                built.insert(file.as_str().into(), b.clone());
            }
        }
        for (file, b) in &out {
            write_atomic(&self.dir.join(file), &b.body)?;
        }
        if first {
            self.ready.store(true, Ordering::Release);
            self.write_recording_master(false)?;
        }
        Ok(first)
    }

    /// Whether a broadcast is being packaged here now.
    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    /// Whether the current run's multivariant playlist is out.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// The broadcast's run `run` ended: if it is still the current one, every live playlist
    /// ends, the recordings are closed (`EXT-X-ENDLIST`) and their multivariant playlist
    /// written; the recent segments leave memory (replays read the files).
    pub fn end_run(&self, run: u32) -> std::io::Result<()> {
        {
            let mut st = self.state();
            if st.run != Some(run) {
                return Ok(());
            }
            st.run = None;
            st.ended_at = Some(Instant::now());
            self.live.store(false, Ordering::Release);
            let names: Vec<String> = st.tracks.keys().cloned().collect();
            for t in st.tracks.values_mut() {
                t.end();
            }
            st.dirty.extend(names);
            // The master is rebuilt with the ended playlists' figures.
            st.landed = st
                .plan
                .iter()
                .map(|r| r.name.clone())
                .chain(st.audio.then(|| AUDIO.to_string()))
                .filter(|n| st.tracks.get(n).is_some_and(|t| !t.is_empty()))
                .collect();
        }
        self.ready.store(false, Ordering::Release);
        self.publish()?;
        self.write_recording_master(true)?;
        self.segments
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        Ok(())
    }

    fn ended_long_ago(&self) -> bool {
        self.state()
            .ended_at
            .is_some_and(|t| t.elapsed() > KEEP_ENDED)
    }

    /// A live playlist as last built.
    pub fn playlist(&self, file: &str) -> Option<Built> {
        self.built
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(file)
            .cloned()
    }

    /// A recent segment's or an init segment's bytes.
    pub fn segment(&self, file: &str) -> Option<Bytes> {
        self.segments
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(file)
            .cloned()
    }

    /// `index.m3u8`: the recording's renditions. `finished` closes every recording first
    /// (rewrites its header with the right target duration, adds `EXT-X-ENDLIST`).
    fn write_recording_master(&self, finished: bool) -> std::io::Result<()> {
        let (plan, audio, fps) = {
            let st = self.state();
            (st.plan.clone(), st.audio, st.fps)
        };
        if plan.is_empty() {
            return Ok(());
        }
        let mut figures: BTreeMap<String, RecordingFigures> = BTreeMap::new();
        let names = plan
            .iter()
            .map(|r| r.name.as_str())
            .chain(audio.then_some(AUDIO));
        for name in names {
            let path = self.dir.join(format!("rec_{name}.m3u8"));
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let f = RecordingFigures::read(&self.dir, &text);
            if finished {
                let body = playlist::recording_body(&text);
                let closed = format!(
                    "{}{body}#EXT-X-ENDLIST\n",
                    playlist::recording_header(f.target)
                );
                write_atomic(&path, closed.as_bytes())?;
            }
            figures.insert(name.to_string(), f);
        }
        let all_runs: BTreeSet<String> = figures.values().flat_map(|f| f.runs.clone()).collect();
        let complete = |name: &str| figures.get(name).is_some_and(|f| f.runs == all_runs);
        let audio_figures = figures.get(AUDIO).filter(|_| complete(AUDIO));
        let mut chosen: Vec<&Rendition> = plan.iter().filter(|r| complete(&r.name)).collect();
        if chosen.is_empty() {
            // No rendition has every broadcast (the ladder changed between them): offer what
            // there is rather than nothing.
            chosen = plan
                .iter()
                .filter(|r| figures.contains_key(&r.name))
                .collect();
        }
        let (a_peak, a_avg) = audio_figures.map_or((0, 0), |f| (f.peak_bps, f.avg_bps));
        let variants: Vec<Variant> = chosen
            .iter()
            .filter_map(|r| {
                let f = figures.get(&r.name)?;
                Some(Variant {
                    uri: format!("rec_{}.m3u8", r.name),
                    bandwidth: f.peak_bps + a_peak,
                    average_bandwidth: f.avg_bps + a_avg,
                    width: r.width,
                    height: r.height,
                    codecs: codecs(r, audio_figures.is_some()),
                    frame_rate: fps,
                })
            })
            .collect();
        if variants.is_empty() {
            return Ok(());
        }
        let master = playlist::render_master(
            &variants,
            audio_figures
                .map(|_| format!("rec_{AUDIO}.m3u8"))
                .as_deref(),
        );
        write_atomic(&self.dir.join("index.m3u8"), master.as_bytes())
    }
}

/// The live multivariant playlist of the current plan, bitrates from the live windows.
fn live_master(st: &State) -> String {
    let audio = st
        .audio
        .then(|| st.tracks.get(AUDIO))
        .flatten()
        .filter(|t| !t.is_empty());
    let (a_peak, a_avg) = audio.map_or((0, 0), Track::live_bitrate);
    let variants: Vec<Variant> = st
        .plan
        .iter()
        .filter_map(|r| {
            let (peak, avg) = st.tracks.get(&r.name)?.live_bitrate();
            Some(Variant {
                uri: format!("live_{}.m3u8", r.name),
                bandwidth: peak + a_peak,
                average_bandwidth: avg + a_avg,
                width: r.width,
                height: r.height,
                codecs: codecs(r, audio.is_some()),
                frame_rate: st.fps,
            })
        })
        .collect();
    playlist::render_master(
        &variants,
        audio.map(|_| format!("live_{AUDIO}.m3u8")).as_deref(),
    )
}

fn codecs(r: &Rendition, audio: bool) -> String {
    if audio {
        format!("{},{AUDIO_CODEC}", r.codec)
    } else {
        r.codec.clone()
    }
}

/// What the recording's multivariant playlist needs of one rendition's recording.
struct RecordingFigures {
    target: u32,
    peak_bps: u64,
    avg_bps: u64,
    /// The runs it has segments of (from its init segments' names, `{name}_{run}_…`).
    runs: BTreeSet<String>,
}

impl RecordingFigures {
    fn read(dir: &Path, text: &str) -> RecordingFigures {
        let (segments, _) = playlist::parse_media(text);
        let (mut target, mut peak, mut bits, mut secs) = (1u32, 0u64, 0f64, 0f64);
        let mut runs = BTreeSet::new();
        for s in &segments {
            target = target.max((s.duration.round() as u32).max(1));
            if let Some(run) = s.map.as_deref().and_then(|m| m.split('_').nth(1)) {
                runs.insert(run.to_string());
            }
            let size = std::fs::metadata(dir.join(&s.uri)).map_or(0, |m| m.len());
            if s.duration > 0.0 && size > 0 {
                peak = peak.max((size as f64 * 8.0 / s.duration) as u64);
                bits += size as f64 * 8.0;
                secs += s.duration;
            }
        }
        RecordingFigures {
            target,
            peak_bps: peak,
            avg_bps: if secs > 0.0 { (bits / secs) as u64 } else { 0 },
            runs,
        }
    }
}

/// Makes a recording ready for this run's segments: created with its header, or with its end
/// marker taken off (an earlier broadcast closed it).
fn reopen_recording(path: &Path, target: u32) -> std::io::Result<()> {
    match std::fs::read_to_string(path) {
        Ok(text) if text.ends_with("#EXT-X-ENDLIST\n") => {
            let open = text.trim_end_matches("#EXT-X-ENDLIST\n");
            write_atomic(path, open.as_bytes())
        }
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            write_atomic(path, playlist::recording_header(target).as_bytes())
        }
        Err(e) => Err(e),
    }
}

/// Writes a file so that readers see the old or the new content, never a part.
pub fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, data)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::ladder::{Ladder, Source, SourceCodec};

    fn plan() -> Vec<Rendition> {
        Ladder::default().plan(Source {
            codec: SourceCodec::H264 {
                codecs: [0x42, 0xe0, 0x1f],
            },
            width: 1280,
            height: 720,
        })
    }

    fn seg(name: &str, run: u32, n: u32) -> Listed {
        Listed {
            uri: format!("{name}_{run}_t_{n:05}.m4s"),
            duration: 1.0,
            pdt: Some("2026-12-07T05:34:18.559+0000".into()),
            map: Some(format!("{name}_{run}_t_init.mp4")),
        }
    }

    fn land_all(s: &Stream, run: u32, n: u32, audio: bool) {
        let mut names: Vec<String> = plan().into_iter().map(|r| r.name).collect();
        if audio {
            names.push(AUDIO.into());
        }
        for name in names {
            let size = if name == "source" { 250_000 } else { 50_000 };
            let sg = seg(&name, run, n);
            std::fs::write(s.dir.join(&sg.uri), vec![0u8; size]).unwrap();
            s.land(run, &name, &sg, Bytes::from(vec![0u8; size]))
                .unwrap();
        }
    }

    #[test]
    fn a_segment_is_dated_from_the_arrival_of_its_streams_first_packet_plus_its_media_time() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("4")).unwrap();
        let s = Streams::new(tmp.path().to_path_buf(), 6).open(SessionId(4));
        let origin = crate::media::hls::MEDIA_ORIGIN_S;
        // 2026-12-07T05:34:18.500Z: video's first packet; audio's 20 ms later.
        let video_at = 1_796_621_658_500_000;
        s.forwarded(1, false, video_at);
        s.forwarded(1, true, video_at + 20_000);
        s.forwarded(1, false, video_at + 900_000); // only the first counts
        let mut st = s.state();
        let date =
            |st: &mut State, run, name, start| Stream::program_date_time(st, run, name, 1.0, start);
        assert_eq!(
            date(&mut st, 1, "source", Some(origin + 2.25)).as_deref(),
            Some("2026-12-07T05:34:20.750Z")
        );
        assert_eq!(
            date(&mut st, 1, AUDIO, Some(origin + 2.25)).as_deref(),
            Some("2026-12-07T05:34:20.770Z")
        );
        // A segment whose tfdt does not read follows the previous one.
        assert_eq!(
            date(&mut st, 1, "source", None).as_deref(),
            Some("2026-12-07T05:34:21.750Z")
        );
        // Another run's segments are not dated from this run's packets.
        assert_eq!(date(&mut st, 2, "source", Some(origin)), None);
    }

    #[test]
    fn the_master_comes_out_once_every_rendition_has_a_segment() {
        let tmp = tempfile::tempdir().unwrap();
        let streams = Streams::new(tmp.path().to_path_buf(), 6);
        std::fs::create_dir_all(tmp.path().join("7")).unwrap();
        let s = streams.open(SessionId(7));
        s.begin_run(0, plan(), true);
        let sg = seg("source", 0, 0);
        std::fs::write(s.dir.join(&sg.uri), b"x").unwrap();
        s.land(0, "source", &sg, Bytes::from_static(b"x")).unwrap();
        assert!(!s.publish().unwrap(), "480p, 240p and audio are missing");
        assert!(s.playlist("live.m3u8").is_none());
        assert!(s.playlist("live_source.m3u8").is_some());
        land_all(&s, 0, 1, true);
        assert!(s.publish().unwrap(), "now it is out");
        assert!(!s.publish().unwrap(), "only once");
        let master = String::from_utf8(s.playlist("live.m3u8").unwrap().body.to_vec()).unwrap();
        assert!(master.contains("URI=\"live_audio.m3u8\""), "{master}");
        assert!(master.contains("RESOLUTION=854x480"), "{master}");
        assert!(
            master.contains("CODECS=\"avc1.42e01f,mp4a.40.2\""),
            "{master}"
        );
        // On disk too, for static servers.
        assert_eq!(
            std::fs::read(s.dir.join("live.m3u8")).unwrap(),
            s.playlist("live.m3u8").unwrap().body
        );
        assert!(s.segment("source_0_t_00001.m4s").is_some());
    }

    #[test]
    fn a_new_process_continues_numbering_and_closes_recordings() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("3")).unwrap();
        {
            let streams = Streams::new(tmp.path().to_path_buf(), 4);
            let s = streams.open(SessionId(3));
            s.begin_run(0, plan(), true);
            for n in 0..10 {
                land_all(&s, 0, n, true);
                s.publish().unwrap();
            }
            s.end_run(0).unwrap();
            let live = s.playlist("live_240p.m3u8").unwrap().body;
            assert!(live.ends_with(b"#EXT-X-ENDLIST\n"));
            assert!(s.segment("source_0_t_00009.m4s").is_none(), "memory freed");
        }
        let rec = std::fs::read_to_string(tmp.path().join("3/rec_source.m3u8")).unwrap();
        assert_eq!(rec.matches(".m4s").count(), 10);
        assert!(rec.ends_with("#EXT-X-ENDLIST\n"));
        let index = std::fs::read_to_string(tmp.path().join("3/index.m3u8")).unwrap();
        assert!(index.contains("rec_240p.m3u8") && index.contains("rec_audio.m3u8"));
        assert!(
            index.contains("BANDWIDTH=2400000,AVERAGE-BANDWIDTH=2400000,RESOLUTION=1280x720"),
            "250 KB a second of video and 50 KB of audio: {index}"
        );

        // A restarted server: the next broadcast continues the numbers.
        let streams = Streams::new(tmp.path().to_path_buf(), 4);
        let s = streams.open(SessionId(3));
        s.begin_run(1, plan(), true);
        land_all(&s, 1, 0, true);
        assert!(s.publish().unwrap());
        let live =
            String::from_utf8(s.playlist("live_source.m3u8").unwrap().body.to_vec()).unwrap();
        assert!(live.contains("#EXT-X-MEDIA-SEQUENCE:7\n"), "{live}");
        assert!(live.contains("#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"source_1_t_init.mp4\""));
        assert!(!live.contains("ENDLIST"));
        let rec = std::fs::read_to_string(tmp.path().join("3/rec_source.m3u8")).unwrap();
        assert!(!rec.contains("ENDLIST"), "reopened");
        assert_eq!(rec.matches(".m4s").count(), 11);
        assert_eq!(rec.matches("#EXT-X-DISCONTINUITY").count(), 1);
    }

    /// A simulated 3-hour session, through the stream and its files: an ffmpeg restart every
    /// 20 minutes, a new broadcast every hour. The live playlist on disk and in memory keeps
    /// its size; the recording holds every segment, numbered as the live playlists were.
    #[test]
    fn three_hours_live_playlists_stay_small_recording_holds_everything() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("9")).unwrap();
        let streams = Streams::new(tmp.path().to_path_buf(), 6);
        let s = streams.open(SessionId(9));
        let source_only: Vec<Rendition> = plan().into_iter().take(1).collect();
        let mut sizes = Vec::new();
        for second in 0..3 * 3600u32 {
            let run = second / 1200;
            if second % 1200 == 0 {
                if run > 0 && run % 3 == 0 {
                    s.end_run(run - 1).unwrap(); // the host stopped; a new broadcast
                }
                s.begin_run(run, source_only.clone(), true);
            }
            for name in ["source", AUDIO] {
                let mut sg = seg(name, run, second % 1200);
                sg.pdt = Some(format!(
                    "2026-12-07T{:02}:{:02}:{:02}.000+0000",
                    second / 3600,
                    second / 60 % 60,
                    second % 60
                ));
                s.land(run, name, &sg, Bytes::from_static(&[0u8; 64]))
                    .unwrap();
            }
            s.publish().unwrap();
            if second % 3600 == 3599 {
                sizes.push(
                    std::fs::metadata(s.dir.join("live_source.m3u8"))
                        .unwrap()
                        .len(),
                );
            }
        }
        s.end_run(8).unwrap();
        let live = std::fs::read_to_string(s.dir.join("live_source.m3u8")).unwrap();
        assert!(sizes.iter().all(|n| *n <= 2048), "{sizes:?}");
        assert!(
            sizes.windows(2).all(|w| w[0].abs_diff(w[1]) <= 8),
            "{sizes:?}"
        );
        assert!(live.contains("#EXT-X-MEDIA-SEQUENCE:10794\n"), "{live}");
        assert!(live.contains("#EXT-X-DISCONTINUITY-SEQUENCE:8\n"), "{live}");
        let rec = std::fs::read_to_string(s.dir.join("rec_source.m3u8")).unwrap();
        assert_eq!(rec.matches(".m4s").count(), 3 * 3600);
        assert_eq!(rec.matches("#EXT-X-DISCONTINUITY\n").count(), 8);
        assert_eq!(rec.matches("#EXT-X-ENDLIST").count(), 1);
        let audio = std::fs::read_to_string(s.dir.join("rec_audio.m3u8")).unwrap();
        assert_eq!(audio.matches(".m4s").count(), 3 * 3600);
        // The last six of the recording are the live window.
        let tail: Vec<&str> = rec
            .lines()
            .filter(|l| l.ends_with(".m4s"))
            .skip(3 * 3600 - 6)
            .collect();
        let window: Vec<&str> = live.lines().filter(|l| l.ends_with(".m4s")).collect();
        assert_eq!(tail, window);
    }

    #[test]
    fn a_rendition_the_next_run_does_not_make_ends() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("6")).unwrap();
        let streams = Streams::new(tmp.path().to_path_buf(), 4);
        let s = streams.open(SessionId(6));
        s.begin_run(0, plan(), false);
        land_all(&s, 0, 0, false);
        s.publish().unwrap();
        // The source shrank to 360p: no 480p rung in the next run.
        let smaller: Vec<Rendition> = plan().into_iter().filter(|r| r.name != "480p").collect();
        s.begin_run(1, smaller, false);
        s.publish().unwrap();
        let gone = s.playlist("live_480p.m3u8").unwrap().body;
        assert!(gone.ends_with(b"#EXT-X-ENDLIST\n"));
        let kept = s.playlist("live_240p.m3u8").unwrap().body;
        assert!(!kept.ends_with(b"#EXT-X-ENDLIST\n"));
    }

    #[test]
    fn a_stale_run_ending_leaves_the_new_run_alone() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("5")).unwrap();
        let streams = Streams::new(tmp.path().to_path_buf(), 4);
        let s = streams.open(SessionId(5));
        s.begin_run(0, plan(), false);
        land_all(&s, 0, 0, false);
        s.publish().unwrap();
        // The host reconnects: the new broadcast's run begins before the old one finishes.
        s.begin_run(1, plan(), false);
        s.end_run(0).unwrap();
        land_all(&s, 1, 0, false);
        s.publish().unwrap();
        let live = s.playlist("live_source.m3u8").unwrap().body;
        assert!(!live.ends_with(b"#EXT-X-ENDLIST\n"));
        assert!(s.is_ready());
    }
}
