//! Restreaming (docs/ARCHITECTURE.md, "Restream"): while a broadcast is live, its ingest node
//! pushes it to every enabled destination of the session's host (YouTube, Bilibili, any
//! RTMP(S) ingest), one supervised ffmpeg per destination fed from the session's [`Feed`]
//! (the host's RTP as it arrives): H.264 copied (VP8 encoded by x264), Opus to AAC, FLV over
//! RTMP or RTMPS.
//!
//! [`start`] is called by the ingest when the broadcast is announced live. It re-reads the
//! enabled destinations every 2 s (one added or enabled in the studio starts without touching
//! the broadcast; one disabled or deleted stops) and ends with the feed. Each push writes its
//! state to the database on every change (connecting, live, failing with ffmpeg's last error),
//! and again every 10 s while it lasts, so the studio on any node sees it; a state nobody
//! refreshed for 30 s reads as "waiting" (`domain::restream::shown_state`). A failed push is
//! retried after 1 s, doubling to 30 s, for as long as the broadcast lasts; it stays "failing"
//! until a retry goes live. The stream key is opened only here, is never logged, and is
//! blanked out of everything ffmpeg says before it is logged or stored.
//!
//! Without `APP_RESTREAM_ALLOW_PRIVATE` a destination's name is resolved before each start and
//! refused when any of its addresses is not public; a plain RTMP push then connects to the
//! address that was checked (the name still goes in the RTMP `tcUrl`), so a name that changes
//! its answer between the check and ffmpeg's own lookup cannot reach inside. RTMPS needs the
//! name (TLS), so ffmpeg resolves it again.

use shop_core::ids::SessionId;
use std::{
    collections::HashMap,
    net::{IpAddr, Ipv4Addr},
    path::PathBuf,
    process::Stdio,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Weak,
    },
    time::{Duration, Instant},
};

use shop_backend::{
    media::restream::open_key,
    repo::restream::{self as repo, PushTarget},
};
use shop_core::domain::{
    net::url_host,
    restream::{
        is_public_ip, IngestUrl, StreamKey, FFMPEG_FAILED, KEY_UNREADABLE, MASK, NOT_RESOLVED,
        NOT_TAKEN, PRIVATE_ADDRESS, STATE_REFRESH_MS,
    },
};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    net::UdpSocket,
    process::Child,
    sync::{broadcast::error::RecvError, watch},
    task::JoinHandle,
};

use super::{
    fanout::{Feed, MediaCodec, MediaPacket},
    hls::{self, RtpPorts, VideoCodec},
};
use crate::ServerState;

/// How often the enabled destinations are read again.
const RESCAN: Duration = Duration::from_secs(2);
/// A push is live once ffmpeg has been sending frames for this long.
const LIVE_AFTER: Duration = Duration::from_secs(2);
const FIRST_RETRY: Duration = Duration::from_secs(1);
const LAST_RETRY: Duration = Duration::from_secs(30);
/// A push whose ffmpeg sends no frame for this long while video arrives is restarted (the
/// server stopped reading, or a connection hangs).
const STALL: Duration = Duration::from_secs(20);
const TICK: Duration = Duration::from_millis(500);
/// How long to wait for an audio packet once video arrives before pushing video alone.
const AUDIO_WAIT: Duration = Duration::from_secs(1);
/// Payload types of `hls::sdp`.
const VIDEO_PT: u8 = 96;
const AUDIO_PT: u8 = 111;
const VIDEO_SSRC: u32 = 0x5245_5631;
const AUDIO_SSRC: u32 = 0x5245_5632;

/// Starts pushing `session_id`'s broadcast to its host's enabled destinations; ends by itself
/// with the broadcast (its feed on this node).
pub fn start(state: &ServerState, session_id: SessionId) {
    let Some(feed) = state.media.fanout.get(session_id) else {
        return;
    };
    // Held weakly: the feed's end is its last holder letting go.
    let feed = Arc::downgrade(&feed);
    tokio::spawn(follow(state.clone(), session_id, feed));
}

fn feed_open(feed: &Weak<Feed>) -> bool {
    feed.upgrade().is_some_and(|f| !f.is_closed())
}

/// Keeps one push per enabled destination while the feed lasts.
async fn follow(state: ServerState, session_id: SessionId, feed: Weak<Feed>) {
    let mut pushes: HashMap<i64, Running> = HashMap::new();
    while feed_open(&feed) {
        match repo::enabled_for_session(&state.app.db, session_id).await {
            Ok(targets) => {
                let gone: Vec<i64> = pushes
                    .keys()
                    .filter(|id| !targets.iter().any(|t| t.id == **id))
                    .copied()
                    .collect();
                for id in gone {
                    if let Some(p) = pushes.remove(&id) {
                        p.stop().await;
                    }
                }
                for t in targets {
                    if let (false, Some(f)) = (pushes.contains_key(&t.id), feed.upgrade()) {
                        pushes.insert(t.id, Running::spawn(&state, session_id, &f, t));
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, %session_id, "could not read the restream destinations")
            }
        }
        tokio::time::sleep(RESCAN).await;
    }
    for p in pushes.into_values() {
        p.stop().await;
    }
}

/// A push's task.
struct Running {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Running {
    fn spawn(
        state: &ServerState,
        session_id: SessionId,
        feed: &Arc<Feed>,
        target: PushTarget,
    ) -> Running {
        let (stop, stopped) = watch::channel(false);
        let packets = feed.subscribe();
        let push = Push {
            state: state.clone(),
            session_id,
            target,
            feed: Arc::downgrade(feed),
            reported: None,
            reported_at: Instant::now(),
        };
        Running {
            stop,
            task: tokio::spawn(push.run(packets, stopped)),
        }
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// What the broadcast carries, learnt from its first packets.
#[derive(Default)]
struct Source {
    video: Option<MediaCodec>,
    first_video: Option<Instant>,
    audio: bool,
}

impl Source {
    fn saw(&mut self, p: &MediaPacket) {
        if p.codec.is_video() {
            self.video.get_or_insert(p.codec);
            self.first_video.get_or_insert_with(Instant::now);
        } else {
            self.audio = true;
        }
    }

    /// Known well enough to describe to ffmpeg: the video codec, and audio or none after a
    /// second of video.
    fn ready(&self) -> bool {
        self.video.is_some()
            && (self.audio || self.first_video.is_some_and(|t| t.elapsed() >= AUDIO_WAIT))
    }
}

/// A push's state as written to the database: `connecting`, `live` or `failing`.
type Reported = (&'static str, Option<String>);

/// One destination's push.
struct Push {
    state: ServerState,
    session_id: SessionId,
    target: PushTarget,
    feed: Weak<Feed>,
    reported: Option<Reported>,
    reported_at: Instant,
}

impl Push {
    async fn run(
        mut self,
        mut packets: tokio::sync::broadcast::Receiver<Arc<MediaPacket>>,
        mut stop: watch::Receiver<bool>,
    ) {
        let socket = match UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "could not open a restream forwarding socket");
                return;
            }
        };
        tracing::info!(session_id = %self.session_id, destination = self.target.id, url = %self.target.url, "restream started");
        let mut source = Source::default();
        let mut ffmpeg: Option<Ffmpeg> = None;
        let mut retry_at = Some(Instant::now());
        let mut backoff = FIRST_RETRY;
        self.report(("connecting", None)).await;
        let mut tick = tokio::time::interval(TICK);
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                r = packets.recv() => match r {
                    Ok(p) => {
                        source.saw(&p);
                        if let Some(f) = ffmpeg.as_mut() {
                            f.forward(&socket, &p).await;
                        }
                    }
                    Err(RecvError::Lagged(_)) => {
                        // Skipped packets: start again at the next key frame.
                        if let Some(f) = ffmpeg.as_mut() {
                            f.waiting_key = true;
                        }
                        self.ask_keyframe();
                    }
                    Err(RecvError::Closed) => break,
                },
                _ = tick.tick() => {
                    if !feed_open(&self.feed) {
                        break;
                    }
                    if let Some(f) = ffmpeg.as_mut() {
                        match f.check().await {
                            Ok(true) => {
                                backoff = FIRST_RETRY;
                                self.report(("live", None)).await;
                            }
                            Ok(false) => {}
                            Err(reason) => {
                                if let Some(f) = ffmpeg.take() {
                                    f.stop().await;
                                }
                                tracing::warn!(session_id = %self.session_id, destination = self.target.id, %reason, retry_in = ?backoff, "restream failed");
                                self.report(("failing", Some(reason))).await;
                                retry_at = Some(Instant::now() + backoff);
                                backoff = (backoff * 2).min(LAST_RETRY);
                            }
                        }
                    } else if retry_at.is_some_and(|t| Instant::now() >= t) && source.ready() {
                        match self.launch(&source).await {
                            Ok(f) => {
                                ffmpeg = Some(f);
                                retry_at = None;
                                self.ask_keyframe();
                            }
                            Err(reason) => {
                                tracing::warn!(session_id = %self.session_id, destination = self.target.id, %reason, retry_in = ?backoff, "restream could not start");
                                self.report(("failing", Some(reason))).await;
                                retry_at = Some(Instant::now() + backoff);
                                backoff = (backoff * 2).min(LAST_RETRY);
                            }
                        }
                    }
                    // While it lasts, the state is refreshed (a state nobody refreshes goes stale).
                    if self.reported_at.elapsed() >= Duration::from_millis(STATE_REFRESH_MS as u64) {
                        if let Some(r) = self.reported.take() {
                            self.report(r).await;
                        }
                    }
                }
            }
        }
        if let Some(f) = ffmpeg {
            f.stop().await;
        }
        let _ = tokio::fs::remove_file(self.sdp_path()).await;
        let written = repo::set_state(
            &self.state.app.db,
            self.target.id,
            self.session_id,
            None,
            shop_backend::now_ms(),
        )
        .await;
        if let Err(e) = written {
            tracing::warn!(error = %e, destination = self.target.id, "could not record the restream's end");
        }
        tracing::info!(
            session_id = %self.session_id,
            destination = self.target.id,
            "restream stopped"
        );
    }

    fn ask_keyframe(&self) {
        if let Some(f) = self.feed.upgrade() {
            f.ask_keyframe();
        }
    }

    /// Writes the state when it changed, or to refresh it.
    async fn report(&mut self, state: Reported) {
        if self.reported.as_ref() == Some(&state) {
            return;
        }
        let (name, reason) = (state.0, state.1.as_deref());
        let written = repo::set_state(
            &self.state.app.db,
            self.target.id,
            self.session_id,
            Some((name, reason)),
            shop_backend::now_ms(),
        )
        .await;
        match written {
            Ok(()) => {
                self.reported = Some(state);
                self.reported_at = Instant::now();
            }
            Err(e) => {
                tracing::warn!(error = %e, destination = self.target.id, "could not record the restream's state")
            }
        }
    }

    fn sdp_path(&self) -> PathBuf {
        self.state
            .media
            .settings
            .media_dir
            .join("restream")
            .join(format!("{}_{}.sdp", self.session_id, self.target.id))
    }

    /// Starts ffmpeg for this destination, or says why it cannot.
    async fn launch(&self, source: &Source) -> Result<Ffmpeg, String> {
        let host_id = self.target.host_id;
        let key = open_key(&self.state.app.cookie_key, host_id, &self.target.key_sealed)
            .ok_or_else(|| KEY_UNREADABLE.to_string())?;
        let url = IngestUrl::parse(&self.target.url)?;
        let output = self.output(&url, &key).await?;
        let codec = match source.video {
            Some(MediaCodec::Vp8) => VideoCodec::Vp8,
            _ => VideoCodec::H264,
        };
        let failed = |e: std::io::Error| {
            tracing::error!(error = %e, "could not prepare a restream");
            FFMPEG_FAILED.to_string()
        };
        let ports = RtpPorts {
            video: hls::free_udp_port().map_err(failed)?,
            audio: if source.audio {
                Some(hls::free_udp_port().map_err(failed)?)
            } else {
                None
            },
        };
        let sdp = self.sdp_path();
        if let Some(dir) = sdp.parent() {
            tokio::fs::create_dir_all(dir).await.map_err(failed)?;
        }
        tokio::fs::write(&sdp, hls::sdp(codec, ports))
            .await
            .map_err(failed)?;
        let mut child = tokio::process::Command::new(&self.state.media.settings.ffmpeg)
            .args(ffmpeg_args(
                &sdp.display().to_string(),
                codec,
                source.audio,
                &output,
            ))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                tracing::error!(error = %e, ffmpeg = %self.state.media.settings.ffmpeg, "could not start ffmpeg for a restream");
                FFMPEG_FAILED.to_string()
            })?;
        let frames = Arc::new(AtomicU64::new(0));
        if let Some(stdout) = child.stdout.take() {
            let frames = frames.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stdout).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(n) = line
                        .strip_prefix("frame=")
                        .and_then(|n| n.trim().parse().ok())
                    {
                        frames.store(n, Ordering::Relaxed);
                    }
                }
            });
        }
        let redactor = Redactor::new(&url, &key, &output);
        let destination = self.target.id;
        let errors = child.stderr.take().map(|stderr| {
            tokio::spawn(async move {
                let mut last = None;
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let line = redactor.redact(&line);
                    tracing::warn!(target: "ffmpeg", destination, "{line}");
                    if let Some(reason) = redactor.reason(&line) {
                        last = Some(reason);
                    }
                }
                last
            })
        });
        // RTP sent before ffmpeg listens is lost: wait until its port is open, up to 3 s.
        for _ in 0..150 {
            if hls::udp_port_bound(ports.video) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let now = Instant::now();
        Ok(Ffmpeg {
            child,
            ports,
            frames,
            errors,
            last_frames: 0,
            last_advance: now,
            advancing_since: None,
            live: false,
            waiting_key: true,
            last_video: None,
        })
    }

    /// Where ffmpeg sends the stream, after the private-address rule.
    async fn output(&self, url: &IngestUrl, key: &StreamKey) -> Result<Output, String> {
        let app = url.path().trim_start_matches('/').to_string();
        let direct = Output {
            url: url.with_key(key),
            app: app.clone(),
            playpath: key.expose().to_string(),
            tcurl: None,
        };
        if self.state.app.settings.restream_allow_private {
            return Ok(direct);
        }
        let first = public_address(url.host(), url.port()).await?;
        if url.is_tls() {
            // TLS needs the name (SNI and the certificate).
            return Ok(direct);
        }
        let host = url_host(&first.to_string());
        Ok(Output {
            url: format!(
                "rtmp://{host}:{}{}/{}",
                url.port(),
                url.path(),
                key.expose()
            ),
            app,
            playpath: key.expose().to_string(),
            tcurl: Some(format!(
                "rtmp://{}:{}{}",
                url_host(url.host()),
                url.port(),
                url.path()
            )),
        })
    }
}

/// One address of `host`, when every address it has is public (`domain::restream::is_public_ip`).
async fn public_address(host: &str, port: u16) -> Result<IpAddr, String> {
    let lookup = tokio::net::lookup_host((host, port));
    let addrs: Vec<IpAddr> = match tokio::time::timeout(Duration::from_secs(5), lookup).await {
        Ok(Ok(found)) => found.map(|a| a.ip()).collect(),
        _ => Vec::new(),
    };
    let Some(&first) = addrs.first() else {
        return Err(NOT_RESOLVED.to_string());
    };
    if addrs.iter().any(|ip| !is_public_ip(*ip)) {
        return Err(PRIVATE_ADDRESS.to_string());
    }
    Ok(first)
}

/// What ffmpeg pushes to. The application and the stream key are given apart from the URL, so
/// ffmpeg's own splitting of the path (which guesses) never decides them.
struct Output {
    url: String,
    app: String,
    playpath: String,
    /// The RTMP `tcUrl` when the URL names an address instead of the host's name.
    tcurl: Option<String>,
}

/// ffmpeg's arguments for one push: our forwarded RTP in (`hls::rtp_input_args`), FLV out.
fn ffmpeg_args(sdp: &str, codec: VideoCodec, audio: bool, out: &Output) -> Vec<String> {
    let mut a: Vec<String> = [
        "-hide_banner",
        "-loglevel",
        "error",
        "-nostats",
        "-progress",
        "pipe:1",
        "-stats_period",
        "0.5",
    ]
    .map(String::from)
    .to_vec();
    a.extend(hls::rtp_input_args(sdp));
    a.extend(["-map", "0:v:0"].map(String::from));
    match codec {
        VideoCodec::H264 => a.extend(["-c:v", "copy"].map(String::from)),
        VideoCodec::Vp8 => a.extend(
            [
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-tune",
                "zerolatency",
                "-profile:v",
                "main",
                "-pix_fmt",
                "yuv420p",
                "-b:v",
                "2500k",
                "-maxrate",
                "2500k",
                "-bufsize",
                "5000k",
                // A key frame every 2 s, as the platforms ask.
                "-force_key_frames",
                "expr:gte(t,n_forced*2)",
            ]
            .map(String::from),
        ),
    }
    if audio {
        a.extend(
            [
                "-map", "0:a:0", "-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2",
            ]
            .map(String::from),
        );
    }
    a.extend(
        [
            "-f",
            "flv",
            "-flvflags",
            "no_duration_filesize",
            // A connection that stops moving for 15 s fails (instead of hanging).
            "-rw_timeout",
            "15000000",
            "-rtmp_app",
            &out.app,
            "-rtmp_playpath",
            &out.playpath,
        ]
        .map(String::from),
    );
    if let Some(tcurl) = &out.tcurl {
        a.extend(["-rtmp_tcurl".to_string(), tcurl.clone()]);
    }
    a.push(out.url.clone());
    a
}

/// A running ffmpeg of a push.
struct Ffmpeg {
    child: Child,
    ports: RtpPorts,
    /// Frames written so far (`-progress`).
    frames: Arc<AtomicU64>,
    /// The stderr reader: its last error line, redacted, once ffmpeg has exited.
    errors: Option<JoinHandle<Option<String>>>,
    last_frames: u64,
    last_advance: Instant,
    advancing_since: Option<Instant>,
    live: bool,
    /// Nothing is forwarded until a key frame: ffmpeg starts (again) at one.
    waiting_key: bool,
    last_video: Option<Instant>,
}

impl Ffmpeg {
    async fn forward(&mut self, socket: &UdpSocket, p: &MediaPacket) {
        // The highest simulcast layer (or the only one).
        if p.layer != 0 {
            return;
        }
        if self.waiting_key {
            if !(p.codec.is_video() && p.keyframe) {
                return;
            }
            self.waiting_key = false;
        }
        let (port, pt, ssrc) = if p.codec.is_video() {
            self.last_video = Some(Instant::now());
            (self.ports.video, VIDEO_PT, VIDEO_SSRC)
        } else {
            match self.ports.audio {
                Some(port) => (port, AUDIO_PT, AUDIO_SSRC),
                None => return,
            }
        };
        let _ = socket
            .send_to(&rtp(p, pt, ssrc), (Ipv4Addr::LOCALHOST, port))
            .await;
    }

    /// `Ok(true)` once live (frames flowing for 2 s), `Err(reason)` when it failed.
    async fn check(&mut self) -> Result<bool, String> {
        if let Ok(Some(status)) = self.child.try_wait() {
            // Its last words: the reader ends with its stderr.
            let said = match self.errors.take() {
                Some(reader) => tokio::time::timeout(Duration::from_secs(1), reader)
                    .await
                    .ok()
                    .and_then(|r| r.ok())
                    .flatten(),
                None => None,
            };
            return Err(said.unwrap_or_else(|| format!("ffmpeg exited ({status})")));
        }
        let now = Instant::now();
        let frames = self.frames.load(Ordering::Relaxed);
        if frames > self.last_frames {
            self.last_frames = frames;
            self.last_advance = now;
            self.advancing_since.get_or_insert(now);
        }
        let flowing = now.duration_since(self.last_advance) < LIVE_AFTER;
        if self
            .advancing_since
            .is_some_and(|t| now.duration_since(t) >= LIVE_AFTER)
            && flowing
        {
            self.live = true;
        }
        let video_arrives = self
            .last_video
            .is_some_and(|t| now.duration_since(t) < Duration::from_secs(5));
        if now.duration_since(self.last_advance) >= STALL && video_arrives {
            return Err(NOT_TAKEN.to_string());
        }
        Ok(self.live)
    }

    /// Asks ffmpeg to finish (the FLV's end, the RTMP stream closed), killed after 2 s.
    async fn stop(mut self) {
        if let Some(reader) = self.errors.take() {
            reader.abort();
        }
        hls::finish(self.child, Duration::from_secs(2)).await;
    }
}

/// A plain RTP packet (12-byte header) of a feed's packet, for ffmpeg (`hls::sdp`'s types).
fn rtp(p: &MediaPacket, payload_type: u8, ssrc: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + p.payload.len());
    out.push(0x80);
    out.push(u8::from(p.marker) << 7 | payload_type);
    out.extend_from_slice(&p.seq.to_be_bytes());
    out.extend_from_slice(&p.timestamp.to_be_bytes());
    out.extend_from_slice(&ssrc.to_be_bytes());
    out.extend_from_slice(&p.payload);
    out
}

/// Blanks a push's stream key out of what ffmpeg says (it names the URL it writes to).
struct Redactor {
    /// (what ffmpeg may print, what is shown instead)
    replace: Vec<(String, String)>,
    /// The shown form of the destination: its URL and the mask.
    shown: String,
}

impl Redactor {
    fn new(url: &IngestUrl, key: &StreamKey, out: &Output) -> Redactor {
        let shown = format!("{url}/{MASK}");
        let mut replace = vec![
            (out.url.clone(), shown.clone()),
            (url.with_key(key), shown.clone()),
        ];
        // The key alone too, where it cannot be mistaken for other words.
        if key.expose().len() >= 6 {
            replace.push((key.expose().to_string(), MASK.to_string()));
        }
        Redactor { replace, shown }
    }

    fn redact(&self, line: &str) -> String {
        let mut out = line.to_string();
        for (secret, shown) in &self.replace {
            out = out.replace(secret.as_str(), shown);
        }
        out
    }

    /// The reason an error line (redacted) gives: without ffmpeg's `[tcp @ 0x…]` prefix and
    /// the output it names; `None` for ffmpeg's closing remarks, which say nothing.
    fn reason(&self, line: &str) -> Option<String> {
        let mut s = line.trim();
        if let Some(rest) = s.strip_prefix('[').and_then(|r| r.split_once("] ")) {
            s = rest.1.trim();
        }
        if let Some(rest) = s.split_once(&format!("{}: ", self.shown)) {
            s = rest.1.trim();
        }
        let generic = s.is_empty()
            || s == "Conversion failed!"
            || s.starts_with("Last message repeated")
            || s.starts_with("Exiting normally");
        (!generic).then(|| s.chars().take(200).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output() -> (IngestUrl, StreamKey, Output) {
        let url = IngestUrl::parse("rtmp://live.example.com/app").unwrap();
        let key = StreamKey::parse("sk_live_0123456789").unwrap();
        let out = Output {
            url: format!("rtmp://93.184.216.34:1935/app/{}", key.expose()),
            app: "app".into(),
            playpath: key.expose().into(),
            tcurl: Some("rtmp://live.example.com:1935/app".into()),
        };
        (url, key, out)
    }

    #[test]
    fn the_key_never_shows_in_what_ffmpeg_says() {
        let (url, key, out) = output();
        let r = Redactor::new(&url, &key, &out);
        let said = r.redact("rtmp://93.184.216.34:1935/app/sk_live_0123456789: Connection refused");
        assert_eq!(said, "rtmp://live.example.com/app/••••: Connection refused");
        assert_eq!(r.reason(&said).as_deref(), Some("Connection refused"));
        let said = r.redact(
            "Error closing file rtmp://live.example.com/app/sk_live_0123456789: Broken pipe",
        );
        assert!(!said.contains("0123456789"), "{said}");
        let said = r.redact("[rtmp @ 0x55d0] Server error: bad key sk_live_0123456789");
        assert_eq!(
            r.reason(&said).as_deref(),
            Some("Server error: bad key ••••")
        );
        assert_eq!(
            r.reason("[tcp @ 0x55ebe4f11d40] Connection to tcp://1.2.3.4:1935?tcp_nodelay=0 failed: Connection refused")
                .as_deref(),
            Some("Connection to tcp://1.2.3.4:1935?tcp_nodelay=0 failed: Connection refused")
        );
        assert_eq!(r.reason("Conversion failed!"), None);
    }

    #[test]
    fn h264_is_copied_vp8_encoded_audio_made_aac_flv_out() {
        let (_, _, out) = output();
        let a = ffmpeg_args("/m/restream/1_2.sdp", VideoCodec::H264, true, &out).join(" ");
        assert!(a.contains("-protocol_whitelist file,udp,rtp"), "{a}");
        assert!(
            a.contains("-i /m/restream/1_2.sdp -map 0:v:0 -c:v copy -map 0:a:0 -c:a aac"),
            "{a}"
        );
        assert!(a.contains("-f flv"), "{a}");
        assert!(a.contains("-rtmp_app app -rtmp_playpath sk_live_0123456789 -rtmp_tcurl rtmp://live.example.com:1935/app rtmp://93.184.216.34:1935/app/sk_live_0123456789"), "{a}");
        assert!(a.ends_with(&out.url));
        let v = ffmpeg_args("x.sdp", VideoCodec::Vp8, false, &out).join(" ");
        assert!(
            v.contains("-c:v libx264 -preset veryfast -tune zerolatency"),
            "{v}"
        );
        assert!(!v.contains("-c:a"), "{v}");
    }

    #[tokio::test]
    async fn names_that_lead_inside_are_refused_before_each_push() {
        assert_eq!(
            public_address("localhost", 1935).await,
            Err(PRIVATE_ADDRESS.to_string())
        );
        assert_eq!(
            public_address("127.0.0.1", 1935).await,
            Err(PRIVATE_ADDRESS.to_string())
        );
        assert_eq!(
            public_address("::ffff:10.0.0.1", 1935).await,
            Err(PRIVATE_ADDRESS.to_string())
        );
        assert_eq!(
            public_address("203.0.114.10", 1935).await,
            Ok("203.0.114.10".parse().unwrap())
        );
    }

    #[test]
    fn rtp_header_carries_the_packet() {
        let p = MediaPacket {
            codec: MediaCodec::H264,
            layer: 0,
            seq: 0x1234,
            timestamp: 0xdead_beef,
            marker: true,
            keyframe: true,
            received_us: 0,
            payload: Arc::from(&[0x65u8, 1][..]),
        };
        assert_eq!(
            rtp(&p, VIDEO_PT, 7),
            [
                0x80,
                0x80 | 96,
                0x12,
                0x34,
                0xde,
                0xad,
                0xbe,
                0xef,
                0,
                0,
                0,
                7,
                0x65,
                1
            ]
        );
    }
}
