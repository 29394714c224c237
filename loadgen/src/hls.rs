//! The `hls` scenario: simulated hls.js players against a live HLS ladder (fMP4 or TS, any
//! segment length), and `hls-setup`: the demo host goes live and asks for its WHIP credentials.
//!
//! Each player is one tokio task with its own HTTP client (keep-alive, at most two connections:
//! video and audio, as one browser tab holds), and does what hls.js does:
//! 1. loads the multivariant playlist once and picks its start level: the highest variant whose
//!    `BANDWIDTH` is at most 0.8 x its download cap (the lowest if none fits; the highest when
//!    uncapped); when that variant names an `AUDIO` group with a `URI`, it follows that audio
//!    media playlist too (the group's `DEFAULT=YES` rendition, else its first). A URL that is a
//!    media playlist itself is played as a single variant.
//! 2. loads the media playlist(s), starts `--live-sync` (3) segments from the live edge, fetches
//!    each distinct `EXT-X-MAP` init segment once, then every new segment in order;
//! 3. reloads each media playlist one target duration after its previous load (half a target
//!    duration when that reload brought nothing new), and stops at `#EXT-X-ENDLIST`. A
//!    segment that failed is retried once after 0.5 s, then skipped (the error is counted); a
//!    player that fell behind the playlist window jumps to its first segment (`skipped_segments`).
//! 4. paces its reads of every body to its cap (`--bandwidth-kbps`; a virtual-clock token
//!    bucket over the bytes received, 100 ms of burst, shared by its video and audio fetches),
//!    so a capped player really downloads slowly (the kernel's socket buffers still take what
//!    the server sends at once: the server sees a fast client, the player a slow link);
//! 5. models playback: a buffer in seconds (the `EXTINF`s of fully downloaded segments, video
//!    and audio apart, playable = the smaller); it starts playing once each track has two
//!    segments and drains in real time; running dry while playing is a stall (counted, and its
//!    time until the next segment arrives; running dry after `ENDLIST` is the end, no stall).
//!    ABR (`--abr true`, the default), on the video track: a segment that took longer to
//!    download than it plays switches one variant down at once; three segments in a row that
//!    came at >= 1.5 x the next variant's `BANDWIDTH` switch one up. The audio rendition stays.
//!
//! Requests, bytes and latencies (time to last byte) count what completed inside the measured
//! window (`--duration` seconds, starting once every player has started, `--ramp` s after the
//! first); stalls are those that began in the window (stalled time: its overlap with the
//! window); errors, `players_with_segments` and `segments_fetched` cover the whole run.
//! `--metrics URL` (each node's `/metrics`) and `--pids` are read at the window's start and
//! end. One player holds up to two sockets and a process may hold 20,000 open files: at most
//! 9,000 players per process; `--processes P` re-executes itself P times, the players split
//! between them on one shared schedule, and merges their figures.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    net::{IpAddr, Ipv4Addr},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, MutexGuard,
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use futures::StreamExt;
use reqwest::Url;
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::histogram::Histogram;

/// Players one process may run: each holds up to two sockets, under 20,000 open files.
const MAX_PLAYERS_PER_PROCESS: usize = 9000;
const PLAYLIST_TIMEOUT: Duration = Duration::from_secs(10);
const SEGMENT_TIMEOUT: Duration = Duration::from_secs(20);
/// How much unused download allowance a capped player may spend at once.
const BURST: Duration = Duration::from_millis(100);

struct Opts {
    urls: Vec<String>,
    players: usize,
    duration: f64,
    ramp: f64,
    caps_kbps: Vec<u64>,
    pids: Vec<u32>,
    proxy_pids: Vec<u32>,
    metrics: Vec<String>,
    processes: usize,
    abr: bool,
    live_sync: usize,
    source_ips: u8,
    /// Set by the parent for its worker processes.
    worker: Option<usize>,
    offset: usize,
    total: Option<usize>,
    start_at_ms: Option<u64>,
}

fn list<T: std::str::FromStr>(flag: &str, v: &str) -> Result<Vec<T>, String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|_| format!("{flag}: bad value {s}")))
        .collect()
}

fn parse(args: Vec<String>) -> Result<Opts, String> {
    let mut o = Opts {
        urls: Vec::new(),
        players: 100,
        duration: 30.0,
        ramp: 5.0,
        caps_kbps: vec![0],
        pids: Vec::new(),
        proxy_pids: Vec::new(),
        metrics: Vec::new(),
        processes: 1,
        abr: true,
        live_sync: 3,
        source_ips: 4,
        worker: None,
        offset: 0,
        total: None,
        start_at_ms: None,
    };
    let mut it = args.into_iter();
    while let Some(flag) = it.next() {
        let v = it.next().ok_or(format!("{flag} needs a value"))?;
        let bad = || format!("{flag}: bad value {v}");
        match flag.as_str() {
            "--url" | "--urls" => o.urls.extend(list::<String>(&flag, &v)?),
            "--players" => o.players = v.parse().map_err(|_| bad())?,
            "--duration" => o.duration = v.parse().map_err(|_| bad())?,
            "--ramp" => o.ramp = v.parse().map_err(|_| bad())?,
            "--bandwidth-kbps" => o.caps_kbps = list(&flag, &v)?,
            "--pids" => o.pids = list(&flag, &v)?,
            "--proxy-pids" => o.proxy_pids = list(&flag, &v)?,
            "--metrics" => o.metrics.extend(list::<String>(&flag, &v)?),
            "--processes" => o.processes = v.parse::<usize>().map_err(|_| bad())?.max(1),
            "--abr" => o.abr = v.parse().map_err(|_| bad())?,
            "--live-sync" => o.live_sync = v.parse::<usize>().map_err(|_| bad())?.max(1),
            "--source-ips" => o.source_ips = v.parse().map_err(|_| bad())?,
            "--worker" => o.worker = Some(v.parse().map_err(|_| bad())?),
            "--player-offset" => o.offset = v.parse().map_err(|_| bad())?,
            "--players-total" => o.total = Some(v.parse().map_err(|_| bad())?),
            "--start-at-ms" => o.start_at_ms = Some(v.parse().map_err(|_| bad())?),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if o.urls.is_empty() {
        return Err("--url http://HOST:PORT/hls/SID/live.m3u8 is needed".into());
    }
    for u in &o.urls {
        Url::parse(u).map_err(|e| format!("--url {u}: {e}"))?;
    }
    if o.caps_kbps.is_empty() {
        o.caps_kbps = vec![0];
    }
    if o.players == 0 || o.duration <= 0.0 || o.ramp < 0.0 {
        return Err("--players and --duration must be > 0, --ramp >= 0".into());
    }
    Ok(o)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The `Instant` of a wall-clock time (ms since the epoch), how processes share a schedule.
fn instant_at(ms: u64) -> Instant {
    let now = epoch_ms();
    Instant::now() + Duration::from_millis(ms.saturating_sub(now))
}

pub(crate) fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

// ---------------------------------------------------------------------------------------------
// Figures

/// Counters, by name (what worker processes report and the parent adds up).
const COUNTERS: [&str; 16] = [
    "playlist_requests",
    "segment_requests",
    "init_requests",
    "bytes",
    "segments_fetched",
    "players_started",
    "players_playing",
    "players_with_segments",
    "skipped_segments",
    "switches_up",
    "switches_down",
    "stalls",
    "stalled_ms",
    "players_stalled",
    "errors",
    "players",
];
const PLAYLISTS: usize = 0;
const SEGMENTS: usize = 1;
const INITS: usize = 2;
const BYTES: usize = 3;
const FETCHED: usize = 4;
const STARTED: usize = 5;
const PLAYING: usize = 6;
const WITH_SEGMENTS: usize = 7;
const SKIPPED: usize = 8;
const UP: usize = 9;
const DOWN: usize = 10;
const STALLS: usize = 11;
const STALLED_MS: usize = 12;
const PLAYERS_STALLED: usize = 13;
const ERRORS: usize = 14;
const PLAYERS: usize = 15;

struct Agg {
    c: [AtomicU64; COUNTERS.len()],
    errors: Mutex<BTreeMap<String, u64>>,
    variants_start: Mutex<BTreeMap<String, u64>>,
    variants_end: Mutex<BTreeMap<String, u64>>,
    ladder: Mutex<Option<Value>>,
    segment_latency: Histogram,
    playlist_latency: Histogram,
}

fn bump(map: &Mutex<BTreeMap<String, u64>>, key: &str, n: u64) {
    *lock(map).entry(key.to_string()).or_default() += n;
}

impl Agg {
    fn new() -> Agg {
        Agg {
            c: std::array::from_fn(|_| AtomicU64::new(0)),
            errors: Mutex::default(),
            variants_start: Mutex::default(),
            variants_end: Mutex::default(),
            ladder: Mutex::default(),
            segment_latency: Histogram::new(),
            playlist_latency: Histogram::new(),
        }
    }
    fn add(&self, i: usize, n: u64) {
        self.c[i].fetch_add(n, Ordering::Relaxed);
    }
    fn get(&self, i: usize) -> u64 {
        self.c[i].load(Ordering::Relaxed)
    }
    fn error(&self, kind: &str) {
        self.add(ERRORS, 1);
        bump(&self.errors, kind, 1);
    }
    /// Everything, in the form a worker reports and [`Agg::absorb`] adds up.
    fn raw(&self) -> Value {
        let counters: serde_json::Map<String, Value> = COUNTERS
            .iter()
            .enumerate()
            .map(|(i, name)| (name.to_string(), json!(self.get(i))))
            .collect();
        json!({
            "counters": counters,
            "errors": *lock(&self.errors),
            "variants_start": *lock(&self.variants_start),
            "variants_end": *lock(&self.variants_end),
            "ladder": *lock(&self.ladder),
            "segment_latency": self.segment_latency.sparse(),
            "playlist_latency": self.playlist_latency.sparse(),
        })
    }
    fn absorb(&self, r: &Value) {
        for (i, name) in COUNTERS.iter().enumerate() {
            self.add(i, r["counters"][name].as_u64().unwrap_or(0));
        }
        for (key, map) in [
            ("errors", &self.errors),
            ("variants_start", &self.variants_start),
            ("variants_end", &self.variants_end),
        ] {
            for (k, v) in r[key].as_object().into_iter().flatten() {
                bump(map, k, v.as_u64().unwrap_or(0));
            }
        }
        if !r["ladder"].is_null() {
            lock(&self.ladder).get_or_insert_with(|| r["ladder"].clone());
        }
        self.segment_latency.merge(&r["segment_latency"]);
        self.playlist_latency.merge(&r["playlist_latency"]);
    }
}

#[derive(Clone, Copy)]
struct Window {
    start: Instant,
    end: Instant,
}

impl Window {
    fn contains(&self, t: Instant) -> bool {
        t >= self.start && t <= self.end
    }
    /// Seconds of [a, b] inside the window.
    fn overlap(&self, a: Instant, b: Instant) -> f64 {
        let (a, b) = (a.max(self.start), b.min(self.end));
        if b > a {
            (b - a).as_secs_f64()
        } else {
            0.0
        }
    }
}

struct Shared {
    agg: Agg,
    window: Window,
    abr: bool,
    live_sync: usize,
}

// ---------------------------------------------------------------------------------------------
// Playlists

#[derive(Clone, Debug)]
struct Variant {
    uri: Url,
    bandwidth: u64,
    resolution: Option<String>,
    audio_group: Option<String>,
}

impl Variant {
    fn label(&self) -> String {
        let name = self
            .uri
            .path_segments()
            .and_then(|mut s| s.next_back())
            .unwrap_or("");
        format!("{name}@{}", self.bandwidth)
    }
}

#[derive(Debug)]
struct Multivariant {
    /// By `BANDWIDTH`, lowest first.
    variants: Vec<Variant>,
    /// Audio media playlists by group id: the group's `DEFAULT=YES` rendition, else its first.
    audio: HashMap<String, Url>,
}

#[derive(Debug)]
struct Segment {
    msn: u64,
    uri: Url,
    duration: f64,
    map: Option<Url>,
}

#[derive(Debug)]
struct MediaPlaylist {
    target: f64,
    media_sequence: u64,
    segments: Vec<Segment>,
    ended: bool,
}

/// An attribute list (`KEY=VALUE,KEY="quoted, with commas"`).
fn attributes(s: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let (value, next) = if let Some(q) = after.strip_prefix('"') {
            match q.split_once('"') {
                Some((v, n)) => (v, n),
                None => (q, ""),
            }
        } else {
            match after.split_once(',') {
                Some((v, n)) => (v, n),
                None => (after, ""),
            }
        };
        out.insert(key.trim().to_ascii_uppercase(), value.to_string());
        rest = next.trim_start_matches(',').trim_start();
    }
    out
}

fn lines(text: &str) -> Result<impl Iterator<Item = &str>, String> {
    let text = text.trim_start_matches('\u{feff}');
    if !text.trim_start().starts_with("#EXTM3U") {
        return Err("no #EXTM3U".into());
    }
    Ok(text.lines().map(str::trim).filter(|l| !l.is_empty()))
}

fn join(base: &Url, uri: &str) -> Result<Url, String> {
    base.join(uri).map_err(|e| format!("bad URI {uri}: {e}"))
}

fn parse_multivariant(text: &str, base: &Url) -> Result<Multivariant, String> {
    let mut variants = Vec::new();
    let mut audio: Vec<(String, bool, Url)> = Vec::new();
    let mut pending: Option<HashMap<String, String>> = None;
    let mut media_tags = false;
    for line in lines(text)? {
        if let Some(a) = line.strip_prefix("#EXT-X-STREAM-INF:") {
            pending = Some(attributes(a));
        } else if let Some(a) = line.strip_prefix("#EXT-X-MEDIA:") {
            let a = attributes(a);
            if a.get("TYPE").map(String::as_str) == Some("AUDIO") {
                if let (Some(group), Some(uri)) = (a.get("GROUP-ID"), a.get("URI")) {
                    let default = a.get("DEFAULT").map(String::as_str) == Some("YES");
                    audio.push((group.clone(), default, join(base, uri)?));
                }
            }
        } else if line.starts_with("#EXTINF:") || line.starts_with("#EXT-X-TARGETDURATION:") {
            media_tags = true;
        } else if !line.starts_with('#') {
            if let Some(a) = pending.take() {
                let bandwidth = a
                    .get("BANDWIDTH")
                    .and_then(|b| b.parse().ok())
                    .ok_or("a variant without BANDWIDTH")?;
                variants.push(Variant {
                    uri: join(base, line)?,
                    bandwidth,
                    resolution: a.get("RESOLUTION").cloned(),
                    audio_group: a.get("AUDIO").cloned(),
                });
            }
        }
    }
    if variants.is_empty() {
        if media_tags {
            // A media playlist: one variant, itself.
            variants.push(Variant {
                uri: base.clone(),
                bandwidth: 0,
                resolution: None,
                audio_group: None,
            });
        } else {
            return Err("no variants".into());
        }
    }
    variants.sort_by_key(|v| v.bandwidth);
    let mut groups: HashMap<String, Url> = HashMap::new();
    // Each group's first DEFAULT=YES rendition, else its first.
    for (group, _, uri) in audio.iter().filter(|a| a.1).chain(&audio) {
        groups.entry(group.clone()).or_insert_with(|| uri.clone());
    }
    Ok(Multivariant {
        variants,
        audio: groups,
    })
}

fn parse_media(text: &str, base: &Url) -> Result<MediaPlaylist, String> {
    let mut target = None;
    let mut media_sequence = 0u64;
    let mut segments: Vec<Segment> = Vec::new();
    let mut map: Option<Url> = None;
    let mut duration: Option<f64> = None;
    let mut ended = false;
    for line in lines(text)? {
        if let Some(v) = line.strip_prefix("#EXT-X-TARGETDURATION:") {
            target = Some(v.parse::<f64>().map_err(|_| "bad TARGETDURATION")?);
        } else if let Some(v) = line.strip_prefix("#EXT-X-MEDIA-SEQUENCE:") {
            media_sequence = v.parse().map_err(|_| "bad MEDIA-SEQUENCE")?;
        } else if let Some(a) = line.strip_prefix("#EXT-X-MAP:") {
            let uri = attributes(a).remove("URI").ok_or("EXT-X-MAP without URI")?;
            map = Some(join(base, &uri)?);
        } else if let Some(v) = line.strip_prefix("#EXTINF:") {
            let d = v.split(',').next().unwrap_or("").trim();
            duration = Some(d.parse().map_err(|_| format!("bad EXTINF {v}"))?);
        } else if line == "#EXT-X-ENDLIST" {
            ended = true;
        } else if line.starts_with("#EXT-X-STREAM-INF:") {
            return Err("a multivariant playlist where a media playlist was expected".into());
        } else if !line.starts_with('#') {
            let d = duration.take().ok_or("a segment URI without EXTINF")?;
            segments.push(Segment {
                msn: media_sequence + segments.len() as u64,
                uri: join(base, line)?,
                duration: d,
                map: map.clone(),
            });
        }
    }
    Ok(MediaPlaylist {
        target: target.ok_or("no TARGETDURATION")?,
        media_sequence,
        segments,
        ended,
    })
}

// ---------------------------------------------------------------------------------------------
// One player

/// A capped download: a virtual clock over the bytes received.
struct Pacer {
    bytes_per_s: f64,
    next: Instant,
}

impl Pacer {
    /// When the reader may go on after `n` more bytes (None: at once).
    fn take(&mut self, n: usize, now: Instant) -> Option<Instant> {
        if self.bytes_per_s <= 0.0 {
            return None;
        }
        let floor = now.checked_sub(BURST).unwrap_or(now);
        self.next = self.next.max(floor) + Duration::from_secs_f64(n as f64 / self.bytes_per_s);
        (self.next > now).then_some(self.next)
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Track {
    Video = 0,
    Audio = 1,
}

#[derive(PartialEq)]
enum Play {
    Waiting,
    Playing,
    Stalled,
    Ended,
}

/// The playback model: seconds buffered per track, a play head moving in real time.
struct Model {
    state: Play,
    has_audio: bool,
    buffered: [f64; 2],
    segments: [u32; 2],
    ended: [bool; 2],
    position: f64,
    last: Instant,
    /// Stalls: when each began and, once over, ended.
    stalls: Vec<(Instant, Option<Instant>)>,
    started: bool,
}

impl Model {
    fn new(now: Instant) -> Model {
        Model {
            state: Play::Waiting,
            has_audio: false,
            buffered: [0.0; 2],
            segments: [0; 2],
            ended: [false, false],
            position: 0.0,
            last: now,
            stalls: Vec::new(),
            started: false,
        }
    }
    fn playable(&self) -> f64 {
        if self.has_audio {
            self.buffered[0].min(self.buffered[1])
        } else {
            self.buffered[0]
        }
    }
    fn all_ended(&self) -> bool {
        self.ended[0] && (!self.has_audio || self.ended[1])
    }
    /// Moves the play head to `now`; notes when the buffer ran dry on the way.
    fn advance(&mut self, now: Instant) {
        if self.state == Play::Playing && now > self.last {
            let dt = (now - self.last).as_secs_f64();
            let left = self.playable() - self.position;
            if dt >= left {
                self.position = self.playable();
                if self.all_ended() {
                    self.state = Play::Ended;
                } else {
                    let dry = self.last + Duration::from_secs_f64(left.max(0.0));
                    self.stalls.push((dry, None));
                    self.state = Play::Stalled;
                }
            } else {
                self.position += dt;
            }
        }
        self.last = self.last.max(now);
    }
    fn add(&mut self, track: Track, seconds: f64, now: Instant) {
        self.advance(now);
        self.buffered[track as usize] += seconds;
        self.segments[track as usize] += 1;
        let ready = self.segments[0] >= 2 && (!self.has_audio || self.segments[1] >= 2);
        match self.state {
            Play::Waiting if ready => {
                self.state = Play::Playing;
                self.started = true;
            }
            Play::Stalled if self.playable() > self.position + 1e-6 => {
                if let Some(stall) = self.stalls.last_mut() {
                    stall.1 = Some(now);
                }
                self.state = Play::Playing;
            }
            _ => {}
        }
    }
}

/// hls.js's start level: the highest variant whose `BANDWIDTH` is at most 0.8 x the cap (the
/// lowest when none is; the highest when uncapped). `variants` is sorted, lowest first.
fn start_level(variants: &[Variant], cap_kbps: u64) -> usize {
    if cap_kbps == 0 {
        return variants.len().saturating_sub(1);
    }
    let budget = cap_kbps as f64 * 1000.0 * 0.8;
    variants
        .iter()
        .rposition(|v| v.bandwidth as f64 <= budget)
        .unwrap_or(0)
}

struct Player {
    http: reqwest::Client,
    shared: Arc<Shared>,
    pacer: Mutex<Pacer>,
    model: Mutex<Model>,
    variant: Mutex<Option<String>>,
    fetched: AtomicU64,
}

fn classify(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection"
    } else if e.is_body() || e.is_decode() {
        "body"
    } else {
        "request"
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Playlist,
    Segment,
    Init,
}

impl Player {
    /// GET `url`, paced to the cap; keeps the body of playlists. Counts and times it when it
    /// completes inside the window; counts errors always.
    async fn fetch(&self, url: &Url, kind: Kind) -> Option<(Vec<u8>, u64, Duration)> {
        let started = Instant::now();
        let limit = if kind == Kind::Playlist {
            PLAYLIST_TIMEOUT
        } else {
            SEGMENT_TIMEOUT
        };
        let res = tokio::time::timeout(limit, self.get(url, kind == Kind::Playlist)).await;
        let agg = &self.shared.agg;
        match res {
            Ok(Ok((body, n))) => {
                let now = Instant::now();
                let took = now - started;
                if self.shared.window.contains(now) {
                    agg.add(BYTES, n);
                    match kind {
                        Kind::Playlist => {
                            agg.add(PLAYLISTS, 1);
                            agg.playlist_latency.record(took);
                        }
                        Kind::Segment | Kind::Init => {
                            agg.add(SEGMENTS, 1);
                            agg.add(INITS, u64::from(kind == Kind::Init));
                            agg.segment_latency.record(took);
                        }
                    }
                }
                Some((body, n, took))
            }
            Ok(Err(kind)) => {
                agg.error(&kind);
                None
            }
            Err(_) => {
                agg.error("timeout");
                None
            }
        }
    }

    async fn get(&self, url: &Url, keep: bool) -> Result<(Vec<u8>, u64), String> {
        let res = self
            .http
            .get(url.clone())
            .send()
            .await
            .map_err(|e| classify(&e).to_string())?;
        let status = res.status();
        if !status.is_success() {
            return Err(format!("http_{}", status.as_u16()));
        }
        let mut body = Vec::new();
        let mut n = 0u64;
        let mut stream = res.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| classify(&e).to_string())?;
            n += chunk.len() as u64;
            if keep {
                body.extend_from_slice(&chunk);
            }
            let wait = lock(&self.pacer).take(chunk.len(), Instant::now());
            if let Some(until) = wait {
                tokio::time::sleep_until(until.into()).await;
            }
        }
        Ok((body, n))
    }

    async fn playlist<T>(
        &self,
        url: &Url,
        parse: impl Fn(&str, &Url) -> Result<T, String>,
    ) -> Option<T> {
        let (body, ..) = self.fetch(url, Kind::Playlist).await?;
        match parse(&String::from_utf8_lossy(&body), url) {
            Ok(p) => Some(p),
            Err(_) => {
                self.shared.agg.error("bad_playlist");
                None
            }
        }
    }

    async fn play(&self, url: &Url, cap_kbps: u64) {
        let sh = &self.shared;
        let master = loop {
            if let Some(m) = self.playlist(url, parse_multivariant).await {
                break m;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        };
        sh.agg.add(STARTED, 1);
        lock(&sh.agg.ladder).get_or_insert_with(|| {
            json!({
                "variants": master.variants.iter().map(|v| json!({
                    "uri": v.uri.as_str(), "bandwidth": v.bandwidth, "resolution": v.resolution,
                })).collect::<Vec<_>>(),
                "audio": master.audio.values().map(Url::as_str).collect::<Vec<_>>(),
            })
        });
        let level = start_level(&master.variants, cap_kbps);
        let chosen = &master.variants[level];
        let audio = chosen
            .audio_group
            .as_ref()
            .and_then(|g| master.audio.get(g))
            .cloned();
        lock(&self.model).has_audio = audio.is_some();
        bump(&sh.agg.variants_start, &chosen.label(), 1);
        *lock(&self.variant) = Some(chosen.label());
        let video = self.track(Track::Video, &master.variants, level, chosen.uri.clone());
        let audio = async {
            if let Some(uri) = audio {
                self.track(Track::Audio, &[], 0, uri).await;
            }
        };
        futures::join!(video, audio);
    }

    /// One media playlist's loop: reload, fetch what is new, in order, until `ENDLIST`.
    async fn track(&self, track: Track, ladder: &[Variant], mut level: usize, mut uri: Url) {
        let sh = &self.shared;
        let mut next: Option<u64> = None;
        let mut inits: HashSet<Url> = HashSet::new();
        let mut newest: Option<u64> = None;
        let mut up_streak = 0;
        loop {
            let loaded_at = Instant::now();
            let Some(media) = self.playlist(&uri, parse_media).await else {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            };
            let target = Duration::from_secs_f64(media.target.clamp(0.1, 60.0));
            let last = media.segments.last().map(|s| s.msn);
            let brought_new = match (last, newest) {
                (Some(l), Some(n)) => l > n,
                (Some(_), None) => true,
                _ => false,
            };
            newest = newest.max(last);
            let live_edge_start =
                media.media_sequence + media.segments.len().saturating_sub(sh.live_sync) as u64;
            let mut want = next.unwrap_or(live_edge_start);
            if want < media.media_sequence && !media.segments.is_empty() {
                sh.agg.add(SKIPPED, media.media_sequence - want);
                want = media.media_sequence;
            }
            next = Some(want);
            let mut switched = false;
            for seg in media.segments.iter().filter(|s| s.msn >= want) {
                if let Some(map) = &seg.map {
                    if !inits.contains(map) {
                        if self.fetch(map, Kind::Init).await.is_none() {
                            break; // again after the next reload
                        }
                        inits.insert(map.clone());
                    }
                }
                let mut got = self.fetch(&seg.uri, Kind::Segment).await;
                if got.is_none() {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    got = self.fetch(&seg.uri, Kind::Segment).await;
                }
                next = Some(seg.msn + 1);
                let Some((_, bytes, took)) = got else {
                    continue; // skipped; the errors are counted
                };
                sh.agg.add(FETCHED, 1);
                self.fetched.fetch_add(1, Ordering::Relaxed);
                lock(&self.model).add(track, seg.duration, Instant::now());
                if sh.abr && ladder.len() > 1 {
                    let secs = took.as_secs_f64().max(1e-4);
                    if secs > seg.duration && level > 0 {
                        level -= 1;
                        sh.agg.add(DOWN, 1);
                        switched = true;
                    } else if level + 1 < ladder.len()
                        && bytes as f64 * 8.0 / secs >= 1.5 * ladder[level + 1].bandwidth as f64
                    {
                        up_streak += 1;
                        if up_streak >= 3 {
                            level += 1;
                            sh.agg.add(UP, 1);
                            switched = true;
                        }
                    } else {
                        up_streak = 0;
                    }
                    if switched {
                        up_streak = 0;
                        uri = ladder[level].uri.clone();
                        *lock(&self.variant) = Some(ladder[level].label());
                        break;
                    }
                }
            }
            if switched {
                continue; // the new variant's playlist at once, from the next sequence number
            }
            if media.ended && last.is_none_or(|l| next.unwrap_or(0) > l) {
                let mut m = lock(&self.model);
                m.advance(Instant::now());
                m.ended[track as usize] = true;
                return;
            }
            let wait = if brought_new { target } else { target / 2 };
            tokio::time::sleep_until((loaded_at + wait).into()).await;
        }
    }

    /// Adds this player's stalls, variant and counts to the figures.
    fn finish(&self, now: Instant) {
        let sh = &self.shared;
        let mut m = lock(&self.model);
        m.advance(now);
        let w = sh.window;
        let mut stalls = 0;
        let mut stalled = 0.0;
        for (a, b) in &m.stalls {
            if w.contains(*a) {
                stalls += 1;
            }
            stalled += w.overlap(*a, b.unwrap_or(now));
        }
        sh.agg.add(STALLS, stalls);
        sh.agg.add(STALLED_MS, (stalled * 1000.0).round() as u64);
        sh.agg.add(PLAYERS_STALLED, u64::from(stalls > 0));
        sh.agg.add(PLAYING, u64::from(m.started));
        sh.agg.add(
            WITH_SEGMENTS,
            u64::from(self.fetched.load(Ordering::Relaxed) > 0),
        );
        sh.agg.add(PLAYERS, 1);
        if let Some(v) = lock(&self.variant).as_ref() {
            bump(&sh.agg.variants_end, v, 1);
        }
    }
}

/// Player `g` (of all processes): waits for its start, plays until the stop.
async fn player(
    shared: Arc<Shared>,
    url: Url,
    cap_kbps: u64,
    start: Instant,
    source: Option<IpAddr>,
    mut stop: watch::Receiver<bool>,
) {
    let mut builder = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(2)
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(10));
    if let Some(ip) = source {
        builder = builder.local_address(ip);
    }
    let http = match builder.build() {
        Ok(h) => h,
        Err(_) => {
            shared.agg.error("client");
            return;
        }
    };
    let p = Player {
        http,
        pacer: Mutex::new(Pacer {
            bytes_per_s: cap_kbps as f64 * 1000.0 / 8.0,
            next: start,
        }),
        model: Mutex::new(Model::new(start)),
        variant: Mutex::new(None),
        fetched: AtomicU64::new(0),
        shared,
    };
    tokio::select! {
        _ = async {
            tokio::time::sleep_until(start.into()).await;
            lock(&p.model).last = Instant::now();
            p.play(&url, cap_kbps).await;
        } => {}
        _ = stop.wait_for(|s| *s) => {}
    }
    p.finish(Instant::now());
}

/// The source address of player `g` in process `worker`, when the target is on loopback:
/// several addresses, so the (source, destination) pairs have ports enough.
pub(crate) fn source_ip(url: &Url, worker: usize, g: usize, n: u8) -> Option<IpAddr> {
    let host: Ipv4Addr = url.host_str()?.parse().ok()?;
    (host.is_loopback() && n > 0).then(|| {
        IpAddr::V4(Ipv4Addr::new(
            127,
            0,
            1 + (worker % 250) as u8,
            1 + (g % usize::from(n)) as u8,
        ))
    })
}

/// Refuses a share of players this process cannot hold open files for.
fn check_files(players: usize) -> Result<(), String> {
    if players > MAX_PLAYERS_PER_PROCESS {
        return Err(format!(
            "{players} players in one process: each holds up to two sockets and a process may \
             hold 20,000 open files here; use --processes P (at most {MAX_PLAYERS_PER_PROCESS} \
             players each)"
        ));
    }
    let soft = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| {
            l.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3)?.parse::<usize>().ok())
        });
    if let Some(soft) = soft {
        if players * 2 + 100 > soft {
            return Err(format!(
                "{players} players need about {} open files, the limit is {soft}: raise it \
                 (ulimit -n \"$(ulimit -Hn)\") or use --processes",
                players * 2 + 100
            ));
        }
    }
    Ok(())
}

/// Starts this process's players (`o.offset..o.offset + o.players` of `total`).
fn start_players(
    o: &Opts,
    total: usize,
    shared: &Arc<Shared>,
    t0: Instant,
    stop: &watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let worker = o.worker.unwrap_or(0);
    (0..o.players)
        .map(|i| {
            let g = o.offset + i;
            let url = Url::parse(&o.urls[g % o.urls.len()]).expect("checked in parse");
            let cap = o.caps_kbps[g % o.caps_kbps.len()];
            let at = t0 + Duration::from_secs_f64(o.ramp * g as f64 / total.max(1) as f64);
            let src = source_ip(&url, worker, g, o.source_ips);
            tokio::spawn(player(shared.clone(), url, cap, at, src, stop.clone()))
        })
        .collect()
}

/// Stops the players at the window's end and waits for their figures.
async fn stop_players(stop: watch::Sender<bool>, tasks: Vec<tokio::task::JoinHandle<()>>) {
    let _ = stop.send(true);
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
    }
}

fn window_of(o: &Opts, start_at_ms: u64) -> (Instant, Window) {
    let t0 = instant_at(start_at_ms);
    let start = t0 + Duration::from_secs_f64(o.ramp);
    let end = start + Duration::from_secs_f64(o.duration);
    (t0, Window { start, end })
}

/// A worker process: its share of the players on the parent's schedule; prints raw figures.
async fn worker(o: Opts) -> Result<Value, String> {
    check_files(o.players)?;
    let total = o.total.unwrap_or(o.players);
    let (t0, window) = window_of(&o, o.start_at_ms.ok_or("a worker needs --start-at-ms")?);
    let shared = Arc::new(Shared {
        agg: Agg::new(),
        window,
        abr: o.abr,
        live_sync: o.live_sync,
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let tasks = start_players(&o, total, &shared, t0, &stop_rx);
    tokio::time::sleep_until(window.end.into()).await;
    stop_players(stop_tx, tasks).await;
    Ok(shared.agg.raw())
}

// ---------------------------------------------------------------------------------------------
// Server figures

/// CPU ticks (utime + stime) of a process.
pub(crate) fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = after.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// The live descendants of `pids` (their ffmpeg children, say).
fn descendants(pids: &[u32]) -> Vec<u32> {
    let mut parent: Vec<(u32, u32)> = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let ppid = stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().nth(1)?.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            parent.push((pid, ppid));
        }
    }
    let mut out: Vec<u32> = Vec::new();
    let mut frontier: Vec<u32> = pids.to_vec();
    while let Some(p) = frontier.pop() {
        for (c, pp) in &parent {
            if *pp == p && !out.contains(c) && !pids.contains(c) {
                out.push(*c);
                frontier.push(*c);
            }
        }
    }
    out
}

fn status_kib(pid: u32, field: &str, file: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/{file}"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// (RSS, PSS) in KiB, summed over `pids`.
fn memory_kib(pids: &[u32]) -> (u64, u64) {
    pids.iter().fold((0, 0), |(r, p), pid| {
        (
            r + status_kib(*pid, "VmRSS:", "status").unwrap_or(0),
            p + status_kib(*pid, "Pss:", "smaps_rollup").unwrap_or(0),
        )
    })
}

/// CPU, memory of a group of processes over the window.
pub(crate) struct Usage {
    pids: Vec<u32>,
    idle: (u64, u64),
    peak: (u64, u64),
    ticks: HashMap<u32, u64>,
    child_ticks: HashMap<u32, u64>,
}

impl Usage {
    pub(crate) fn new(pids: &[u32]) -> Usage {
        Usage {
            pids: pids.to_vec(),
            idle: memory_kib(pids),
            peak: (0, 0),
            ticks: HashMap::new(),
            child_ticks: HashMap::new(),
        }
    }
    fn ticks_now(&self) -> (HashMap<u32, u64>, HashMap<u32, u64>) {
        let own = self
            .pids
            .iter()
            .filter_map(|p| Some((*p, cpu_ticks(*p)?)))
            .collect();
        let kids = descendants(&self.pids)
            .into_iter()
            .filter_map(|p| Some((p, cpu_ticks(p)?)))
            .collect();
        (own, kids)
    }
    pub(crate) fn begin(&mut self) {
        (self.ticks, self.child_ticks) = self.ticks_now();
        self.sample();
    }
    pub(crate) fn sample(&mut self) {
        let (r, p) = memory_kib(&self.pids);
        self.peak = (self.peak.0.max(r), self.peak.1.max(p));
    }
    pub(crate) fn report(&self, wall: f64) -> Value {
        if self.pids.is_empty() {
            return Value::Null;
        }
        let (own, kids) = self.ticks_now();
        let delta = |now: &HashMap<u32, u64>, then: &HashMap<u32, u64>| -> f64 {
            now.iter()
                .map(|(p, t)| t.saturating_sub(then.get(p).copied().unwrap_or(0)))
                .sum::<u64>() as f64
                / 100.0 // USER_HZ
        };
        let cpu = delta(&own, &self.ticks);
        // Children that started inside the window count from zero.
        let kids_cpu = delta(&kids, &self.child_ticks);
        json!({
            "pids": self.pids,
            "cpu_s": round(cpu, 2),
            "cores": round(cpu / wall.max(1e-3), 2),
            "children_cpu_s": round(kids_cpu, 2),
            "children_cores": round(kids_cpu / wall.max(1e-3), 2),
            "rss_kib_idle": self.idle.0,
            "rss_kib_peak": self.peak.0,
            "pss_kib_idle": self.idle.1,
            "pss_kib_peak": self.peak.1,
        })
    }
}

/// The HLS counters of one `/metrics` text: (playlist requests, segment requests, segments
/// landed); None when it has no `live_hls_*` series.
fn hls_counters(text: &str) -> Option<[f64; 3]> {
    let mut sum = [0.0; 3];
    let mut found = false;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.trim().parse::<f64>() else {
            continue;
        };
        let name = series.split('{').next().unwrap_or("").trim();
        match name {
            "live_hls_requests_total" if series.contains("kind=\"playlist\"") => sum[0] += value,
            "live_hls_requests_total" if series.contains("kind=\"segment\"") => sum[1] += value,
            "live_hls_segments_total" => sum[2] += value,
            _ => continue,
        }
        found = true;
    }
    found.then_some(sum)
}

/// The nodes' HLS counters, summed over the given `/metrics` URLs.
async fn node_counters(http: &reqwest::Client, urls: &[String]) -> Result<[f64; 3], String> {
    let mut sum = [0.0; 3];
    for url in urls {
        let res = http
            .get(url)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if !res.status().is_success() {
            return Err(format!("{url}: HTTP {}", res.status().as_u16()));
        }
        let text = res.text().await.map_err(|e| format!("{url}: {e}"))?;
        let node = hls_counters(&text).ok_or(format!("{url}: no live_hls_* series"))?;
        for (s, n) in sum.iter_mut().zip(node) {
            *s += n;
        }
    }
    Ok(sum)
}

fn node_report(
    before: &Result<[f64; 3], String>,
    after: Result<[f64; 3], String>,
    wall: f64,
) -> Value {
    match (before, after) {
        (Ok(a), Ok(b)) => {
            let d = |i: usize| b[i] - a[i];
            json!({
                "playlist_requests": d(0),
                "playlist_per_s": round(d(0) / wall, 2),
                "segment_requests": d(1),
                "segment_per_s": round(d(1) / wall, 2),
                "segments_landed": d(2),
                "landed_per_s": round(d(2) / wall, 2),
            })
        }
        (Err(e), _) => json!({ "error": e }),
        (_, Err(e)) => json!({ "error": e }),
    }
}

// ---------------------------------------------------------------------------------------------
// The run

pub async fn run(args: Vec<String>) -> Result<Value, String> {
    let o = parse(args)?;
    if o.worker.is_some() {
        return worker(o).await;
    }
    let total = o.players;
    let per_process = total.div_ceil(o.processes);
    check_files(if o.processes > 1 { per_process } else { total })?;
    // Worker processes need a moment to start: the schedule begins a little later.
    let start_at_ms = epoch_ms() + if o.processes > 1 { 2000 } else { 300 };
    let (t0, window) = window_of(&o, start_at_ms);
    let shared = Arc::new(Shared {
        agg: Agg::new(),
        window,
        abr: o.abr,
        live_sync: o.live_sync,
    });
    let mut server = Usage::new(&o.pids);
    let mut proxy = Usage::new(&o.proxy_pids);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    let mut children = Vec::new();
    if o.processes > 1 {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let caps: Vec<String> = o.caps_kbps.iter().map(u64::to_string).collect();
        let mut offset = 0;
        for k in 0..o.processes {
            let share = total / o.processes + usize::from(k < total % o.processes);
            if share == 0 {
                continue;
            }
            let child = tokio::process::Command::new(&exe)
                .arg("hls")
                .args(["--url", &o.urls.join(",")])
                .args(["--players", &share.to_string()])
                .args(["--players-total", &total.to_string()])
                .args(["--player-offset", &offset.to_string()])
                .args(["--worker", &k.to_string()])
                .args(["--start-at-ms", &start_at_ms.to_string()])
                .args(["--duration", &o.duration.to_string()])
                .args(["--ramp", &o.ramp.to_string()])
                .args(["--bandwidth-kbps", &caps.join(",")])
                .args(["--abr", &o.abr.to_string()])
                .args(["--live-sync", &o.live_sync.to_string()])
                .args(["--source-ips", &o.source_ips.to_string()])
                .stdout(std::process::Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| format!("could not start a worker: {e}"))?;
            children.push(child);
            offset += share;
        }
    } else {
        tasks = start_players(&o, total, &shared, t0, &stop_rx);
    }

    // The measured window.
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    tokio::time::sleep_until(window.start.into()).await;
    let measured_from = Instant::now();
    server.begin();
    proxy.begin();
    let node_before = if o.metrics.is_empty() {
        Err(String::new())
    } else {
        node_counters(&http, &o.metrics).await
    };
    while Instant::now() + Duration::from_secs(1) < window.end {
        tokio::time::sleep(Duration::from_secs(1)).await;
        server.sample();
        proxy.sample();
    }
    tokio::time::sleep_until(window.end.into()).await;
    let node_after = if o.metrics.is_empty() {
        Err(String::new())
    } else {
        node_counters(&http, &o.metrics).await
    };
    let wall = measured_from.elapsed().as_secs_f64();
    let server_report = server.report(wall);
    let proxy_report = proxy.report(wall);
    stop_players(stop_tx, tasks).await;
    for child in children {
        let out = child
            .wait_with_output()
            .await
            .map_err(|e| format!("worker: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text.lines().last().unwrap_or("");
        let v: Value = serde_json::from_str(line)
            .map_err(|_| format!("a worker failed ({}): {line}", out.status))?;
        shared.agg.absorb(&v);
    }

    let agg = &shared.agg;
    let d = o.duration;
    let per_s = |n: u64| round(n as f64 / d, 1);
    let playlists = agg.get(PLAYLISTS);
    let segments = agg.get(SEGMENTS);
    let bytes = agg.get(BYTES);
    let with_segments = agg.get(WITH_SEGMENTS);
    let node = if o.metrics.is_empty() {
        Value::Null
    } else {
        node_report(&node_before, node_after, wall)
    };
    Ok(json!({
        "scenario": "hls",
        "urls": o.urls,
        "players": total,
        "processes": o.processes,
        "duration_s": d,
        "ramp_s": o.ramp,
        "bandwidth_kbps": o.caps_kbps,
        "abr": o.abr,
        "ladder": *lock(&agg.ladder),
        "players_started": agg.get(STARTED),
        "players_playing": agg.get(PLAYING),
        "players_with_segments": with_segments,
        "players_without_segments": (total as u64).saturating_sub(with_segments),
        "requests": {
            "total": playlists + segments,
            "per_s": per_s(playlists + segments),
            "playlist": playlists,
            "playlist_per_s": per_s(playlists),
            "segment": segments,
            "segment_per_s": per_s(segments),
            "init": agg.get(INITS),
        },
        "bytes": bytes,
        "bytes_per_s": per_s(bytes),
        "mbit_per_s": round(bytes as f64 * 8.0 / d / 1e6, 1),
        "segment_latency_ms": agg.segment_latency.summary(),
        "playlist_latency_ms": agg.playlist_latency.summary(),
        "segments_fetched": agg.get(FETCHED),
        "skipped_segments": agg.get(SKIPPED),
        "stalls": agg.get(STALLS),
        "stalls_per_player_minute": round(agg.get(STALLS) as f64 / (total as f64 * d / 60.0), 4),
        "stalled_s": round(agg.get(STALLED_MS) as f64 / 1000.0, 1),
        "players_stalled": agg.get(PLAYERS_STALLED),
        "errors": { "total": agg.get(ERRORS), "by_kind": *lock(&agg.errors) },
        "variants": {
            "start": *lock(&agg.variants_start),
            "end": *lock(&agg.variants_end),
            "switches_up": agg.get(UP),
            "switches_down": agg.get(DOWN),
        },
        "server": server_report,
        "proxy": proxy_report,
        "node": node,
    }))
}

// ---------------------------------------------------------------------------------------------
// hls-setup

/// `hls-setup --url BASE [--session ID]`: the demo host signs in, goes live on the demo
/// session (or `--session`) and asks for its broadcast credentials; prints
/// `{"session_id", "whip_url", "token", "hls_url", "live_url"}`.
pub async fn setup(args: Vec<String>) -> Result<Value, String> {
    let mut base = "http://127.0.0.1:3000".to_string();
    let mut session: Option<i64> = None;
    let mut it = args.into_iter();
    while let Some(flag) = it.next() {
        let v = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--url" => base = v.trim_end_matches('/').to_string(),
            "--session" => session = Some(v.parse().map_err(|_| format!("--session: {v}"))?),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;
    let sid = match session {
        Some(s) => s,
        None => crate::get_json(&http, &format!("{base}/api/sessions/list")).await?[0]["id"]
            .as_i64()
            .ok_or("no session: start the server with APP_DEMO_DATA=true")?,
    };
    let post = |endpoint: &str, form: Vec<(&'static str, String)>| {
        let req = http.post(format!("{base}/api/{endpoint}")).form(&form);
        let endpoint = endpoint.to_string();
        async move {
            let res = req.send().await.map_err(|e| format!("{endpoint}: {e}"))?;
            let status = res.status().as_u16();
            let body = res.text().await.unwrap_or_default();
            Ok::<_, String>((status, body))
        }
    };
    let (s, body) = post(
        "host/sign_in",
        vec![
            ("email", "sunjing@demo.live".into()),
            ("password", "xiaoxiaobao-demo".into()),
        ],
    )
    .await?;
    if s != 200 {
        return Err(format!("host sign-in failed: {s} {body}"));
    }
    let (live_status, live_body) =
        post("studio/go_live", vec![("session_id", sid.to_string())]).await?;
    if live_status != 200 {
        eprintln!("hls-setup: go_live answered {live_status} {live_body} (going on)");
    }
    let (s, body) = post("studio/broadcast", vec![("session_id", sid.to_string())]).await?;
    let info: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let (Some(whip), Some(token)) = (info["whip_url"].as_str(), info["token"].as_str()) else {
        return Err(format!("studio/broadcast failed: {s} {body}"));
    };
    Ok(json!({
        "session_id": sid,
        "whip_url": whip,
        "token": token,
        "hls_url": info["hls_url"],
        "live_url": format!("{base}/hls/{sid}/live.m3u8"),
        "go_live_status": live_status,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MULTIVARIANT: &str = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n\
        #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"audio\",DEFAULT=YES,AUTOSELECT=YES,URI=\"live_audio.m3u8\"\n\
        #EXT-X-STREAM-INF:BANDWIDTH=2500000,AVERAGE-BANDWIDTH=2200000,RESOLUTION=1280x720,CODECS=\"avc1.42c01f,mp4a.40.2\",FRAME-RATE=30.000,AUDIO=\"aud\"\n\
        live_source.m3u8\n\
        #EXT-X-STREAM-INF:BANDWIDTH=400000,AVERAGE-BANDWIDTH=350000,RESOLUTION=426x240,CODECS=\"avc1.42c015,mp4a.40.2\",FRAME-RATE=30.000,AUDIO=\"aud\"\n\
        live_240p.m3u8\n\
        #EXT-X-STREAM-INF:BANDWIDTH=1200000,RESOLUTION=854x480,CODECS=\"avc1.42c01e,mp4a.40.2\",AUDIO=\"aud\"\n\
        live_480p.m3u8\n";

    const MEDIA: &str = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:1\n\
        #EXT-X-MEDIA-SEQUENCE:41\n#EXT-X-DISCONTINUITY-SEQUENCE:1\n#EXT-X-INDEPENDENT-SEGMENTS\n\
        #EXT-X-MAP:URI=\"source_1_init.mp4\"\n\
        #EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:00.000Z\n#EXTINF:1.000000,\nsource_1_a_41.m4s\n\
        #EXTINF:1.000000,\nsource_1_a_42.m4s\n#EXT-X-DISCONTINUITY\n\
        #EXT-X-MAP:URI=\"source_2_init.mp4\"\n#EXTINF:0.966667,\nsource_2_b_43.m4s\n";

    fn base() -> Url {
        Url::parse("http://127.0.0.1:3000/hls/7/live.m3u8").unwrap()
    }

    #[test]
    fn attribute_lists_keep_quoted_commas() {
        let a = attributes("BANDWIDTH=1,CODECS=\"avc1.42c01f,mp4a.40.2\",AUDIO=\"aud\"");
        assert_eq!(a["CODECS"], "avc1.42c01f,mp4a.40.2");
        assert_eq!(a["BANDWIDTH"], "1");
        assert_eq!(a["AUDIO"], "aud");
    }

    #[test]
    fn multivariant_sorted_with_its_audio_group() {
        let m = parse_multivariant(MULTIVARIANT, &base()).unwrap();
        let names: Vec<String> = m.variants.iter().map(Variant::label).collect();
        assert_eq!(
            names,
            [
                "live_240p.m3u8@400000",
                "live_480p.m3u8@1200000",
                "live_source.m3u8@2500000"
            ]
        );
        assert_eq!(m.variants[2].resolution.as_deref(), Some("1280x720"));
        assert_eq!(
            m.audio["aud"].as_str(),
            "http://127.0.0.1:3000/hls/7/live_audio.m3u8"
        );
        // A media playlist given as the URL plays as one variant.
        let single = parse_multivariant(MEDIA, &base()).unwrap();
        assert_eq!(single.variants.len(), 1);
        assert!(parse_multivariant("<html>", &base()).is_err());
    }

    #[test]
    fn media_playlist_segments_and_maps() {
        let p = parse_media(MEDIA, &base()).unwrap();
        assert_eq!(p.target, 1.0);
        assert_eq!(p.media_sequence, 41);
        assert!(!p.ended);
        let msns: Vec<u64> = p.segments.iter().map(|s| s.msn).collect();
        assert_eq!(msns, [41, 42, 43]);
        assert!(p.segments[1]
            .map
            .as_ref()
            .unwrap()
            .as_str()
            .ends_with("/source_1_init.mp4"));
        assert!(p.segments[2]
            .map
            .as_ref()
            .unwrap()
            .as_str()
            .ends_with("/source_2_init.mp4"));
        assert!((p.segments[2].duration - 0.966667).abs() < 1e-9);
        let ended = parse_media(&format!("{MEDIA}#EXT-X-ENDLIST\n"), &base()).unwrap();
        assert!(ended.ended);
        assert!(parse_media(MULTIVARIANT, &base()).is_err());
        assert!(parse_media("#EXTM3U\n#EXTINF:x,\na.m4s\n", &base()).is_err());
        assert!(parse_media("#EXTM3U\na.m4s\n", &base()).is_err());
    }

    #[test]
    fn start_level_by_cap() {
        let m = parse_multivariant(MULTIVARIANT, &base()).unwrap();
        let pick = |cap| start_level(&m.variants, cap);
        assert_eq!(pick(0), 2);
        assert_eq!(pick(300), 0); // nothing fits: the lowest
        assert_eq!(pick(600), 0);
        assert_eq!(pick(1500), 1);
        assert_eq!(pick(5000), 2);
    }

    #[test]
    fn playback_model_counts_stalls() {
        let t0 = Instant::now();
        let s = |x: f64| t0 + Duration::from_secs_f64(x);
        let mut m = Model::new(t0);
        m.add(Track::Video, 1.0, s(0.1));
        assert!(m.state == Play::Waiting);
        m.add(Track::Video, 1.0, s(0.2)); // two segments: playing from 0.2 s
        assert!(m.state == Play::Playing);
        m.add(Track::Video, 1.0, s(1.0));
        m.advance(s(3.0)); // 2.8 s played of 3
        assert!(m.state == Play::Playing);
        m.advance(s(4.0)); // dry at 3.2 s
        assert!(m.state == Play::Stalled);
        m.add(Track::Video, 1.0, s(4.5)); // resumes
        assert!(m.state == Play::Playing);
        assert_eq!(m.stalls.len(), 1);
        let (a, b) = m.stalls[0];
        assert!(((a - t0).as_secs_f64() - 3.2).abs() < 1e-6);
        assert_eq!(b, Some(s(4.5)));
        let w = Window {
            start: s(4.0),
            end: s(10.0),
        };
        assert!((w.overlap(a, b.unwrap()) - 0.5).abs() < 1e-6);
        // Running dry after the end of the broadcast is not a stall.
        m.ended = [true, true];
        m.advance(s(20.0));
        assert!(m.state == Play::Ended);
        assert_eq!(m.stalls.len(), 1);
    }

    #[test]
    fn separate_audio_limits_what_plays() {
        let t0 = Instant::now();
        let mut m = Model::new(t0);
        m.has_audio = true;
        m.add(Track::Video, 1.0, t0);
        m.add(Track::Video, 1.0, t0);
        assert!(m.state == Play::Waiting, "no audio yet");
        m.add(Track::Audio, 1.0, t0);
        m.add(Track::Audio, 1.0, t0);
        assert!(m.state == Play::Playing);
        m.add(Track::Video, 5.0, t0);
        m.advance(t0 + Duration::from_millis(2500));
        assert!(m.state == Play::Stalled, "audio ran out at 2 s");
    }

    #[test]
    fn pacer_holds_the_rate() {
        let t0 = Instant::now();
        let mut p = Pacer {
            bytes_per_s: 1000.0,
            next: t0,
        };
        // 100 ms of burst, then one second per 1000 bytes.
        let until = p.take(2000, t0).unwrap();
        assert!((until - t0).as_secs_f64() > 1.8 && (until - t0).as_secs_f64() <= 2.0);
        let mut free = Pacer {
            bytes_per_s: 0.0,
            next: t0,
        };
        assert!(free.take(1 << 20, t0).is_none());
    }

    #[test]
    fn node_metrics_lines() {
        let text = "# HELP x\nlive_hls_requests_total{kind=\"playlist\"} 10\n\
            live_hls_requests_total{kind=\"segment\"} 25\nlive_hls_segments_total 7\n\
            live_hls_origin_fetches_total 3\nother_total{kind=\"playlist\"} 99\n";
        assert_eq!(hls_counters(text), Some([10.0, 25.0, 7.0]));
        assert_eq!(hls_counters("http_requests_total 5\n"), None);
    }
}
