//! HLS packaging by Debian's ffmpeg, supervised: the ladder's renditions from one ffmpeg,
//! and the watcher that hands their segments to the session's [`Stream`].

use std::{
    collections::HashMap,
    net::SocketAddr,
    path::Path,
    process::Stdio,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use bytes::Bytes;
use tokio::{io::AsyncWriteExt, process::Child};

use super::{
    ladder::{x264_level, Make, Rendition},
    stream::{Stream, AUDIO},
};

/// The video codec the publisher sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoCodec {
    /// Copied into the segments as is.
    H264,
    /// Transcoded to H.264 (Safari and most phones play H.264 HLS).
    Vp8,
}

impl VideoCodec {
    pub fn as_str(self) -> &'static str {
        match self {
            VideoCodec::H264 => "h264",
            VideoCodec::Vp8 => "vp8",
        }
    }
}

/// The media time (s) of the first RTP packet of each stream in ffmpeg's output (`ffmpeg_args`).
pub const MEDIA_ORIGIN_S: f64 = 10.0;

/// Where ffmpeg listens for our forwarded RTP.
#[derive(Debug, Clone, Copy)]
pub struct RtpPorts {
    pub video: u16,
    pub audio: Option<u16>,
}

/// The SDP that tells ffmpeg what arrives on which port. Payload types are normalised by the
/// forwarder: video 96, audio 111.
pub fn sdp(codec: VideoCodec, ports: RtpPorts) -> String {
    let mut s = String::from(
        "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=live\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n",
    );
    match codec {
        VideoCodec::H264 => s.push_str(&format!(
            "m=video {} RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1\r\n",
            ports.video
        )),
        VideoCodec::Vp8 => s.push_str(&format!(
            "m=video {} RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n",
            ports.video
        )),
    }
    if let Some(a) = ports.audio {
        s.push_str(&format!(
            "m=audio {a} RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\n"
        ));
    }
    s
}

/// ffmpeg's arguments for run number `run` of a broadcast: one HLS output per rendition
/// (`ff_{run}_{name}.m3u8`, ffmpeg's own short playlist, which the watcher reads) and one for
/// the shared audio. The source is copied when it is H.264; every other rendition is scaled
/// and encoded with x264, with a key frame wherever the source has one
/// (`-force_key_frames source`), so every rendition cuts its 1 s segments at the same instants
/// and a player can switch between them at any segment. `tag` keeps file names unique across
/// broadcasts (segments are cached for good).
///
/// Timestamps are kept (`-copyts`, `frag_discont`): every segment's `tfdt` is
/// `MEDIA_ORIGIN_S` plus the time since the first RTP packet of its stream that ffmpeg
/// received, which is the first one the ingest forwarded (it waits for ffmpeg's ports). That is
/// what dates the segments (`Stream::forwarded`), and it keeps audio and video on one clock.
/// (Left to itself, ffmpeg's MP4 muxer starts each rendition at 0 at the first frame it
/// writes: after the probe, whose packets `nobuffer` drops, at the next key frame, about a
/// second later than the first packet, and not the same instant for audio and video.)
pub fn ffmpeg_args(plan: &[Rendition], audio: bool, run: u32, tag: &str) -> Vec<String> {
    let mut a: Vec<String> = [
        "-hide_banner",
        "-loglevel",
        "warning",
        "-nostats",
        "-copyts",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.extend(rtp_input_args("stream.sdp"));
    let encoded: Vec<(usize, &Rendition)> = plan
        .iter()
        .enumerate()
        .filter(|(_, r)| matches!(r.make, Make::Encode { .. }))
        .collect();
    if !encoded.is_empty() {
        let scale = |(i, r): &(usize, &Rendition), input: &str| {
            format!("{input}scale={}:{}:flags=bilinear[v{i}]", r.width, r.height)
        };
        let graph = if encoded.len() == 1 {
            scale(&encoded[0], "[0:v:0]")
        } else {
            let taps: String = (0..encoded.len()).map(|k| format!("[t{k}]")).collect();
            let mut g = format!("[0:v:0]split={}{taps}", encoded.len());
            for (k, e) in encoded.iter().enumerate() {
                g.push(';');
                g.push_str(&scale(e, &format!("[t{k}]")));
            }
            g
        };
        a.extend(["-filter_complex".into(), graph]);
    }
    for (i, r) in plan.iter().enumerate() {
        match r.make {
            Make::Copy => a.extend(["-map", "0:v:0", "-c:v", "copy"].map(String::from)),
            Make::Encode { kbps } => {
                let level = x264_level(r.width, r.height);
                a.extend([
                    "-map".into(),
                    format!("[v{i}]"),
                    // Frames keep the source's times: no frames made up to fill a constant
                    // rate (which would start this rendition before the source's first key
                    // frame and shift every cut).
                    "-fps_mode".into(),
                    "passthrough".into(),
                    "-c:v".into(),
                    "libx264".into(),
                    "-preset".into(),
                    "veryfast".into(),
                    "-tune".into(),
                    "zerolatency".into(),
                    "-profile:v".into(),
                    "main".into(),
                    "-level:v".into(),
                    format!("{}.{}", level / 10, level % 10),
                    "-pix_fmt".into(),
                    "yuv420p".into(),
                    "-b:v".into(),
                    format!("{kbps}k"),
                    "-maxrate".into(),
                    format!("{kbps}k"),
                    "-bufsize".into(),
                    format!("{kbps}k"),
                    "-force_key_frames".into(),
                    "source".into(),
                    "-g".into(),
                    "300".into(),
                    "-sc_threshold".into(),
                    "0".into(),
                ]);
            }
        }
        a.extend(hls_output(&r.name, run, tag));
    }
    if audio {
        a.extend(
            [
                "-map", "0:a:0", "-c:a", "aac", "-b:a", "64k", "-ar", "48000", "-ac", "2",
            ]
            .map(String::from),
        );
        a.extend(hls_output(AUDIO, run, tag));
    }
    a
}

/// ffmpeg's input options for the RTP we forward to it, described by the SDP file at `sdp`
/// (`sdp()`): timestamps made up where missing, as little buffering as it allows, a reorder
/// queue for what UDP shuffles.
pub(crate) fn rtp_input_args(sdp: &str) -> Vec<String> {
    [
        "-protocol_whitelist",
        "file,udp,rtp",
        "-fflags",
        "+genpts+nobuffer",
        "-flags",
        "low_delay",
        "-analyzeduration",
        "1500000",
        "-probesize",
        "1000000",
        "-reorder_queue_size",
        "256",
        "-max_delay",
        "500000",
        "-i",
        sdp,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The HLS muxer's options for one rendition's output.
fn hls_output(name: &str, run: u32, tag: &str) -> Vec<String> {
    vec![
        // Media time MEDIA_ORIGIN_S is the stream's first packet: never negative (the AAC
        // encoder's priming starts a little before it), and never shifted back to 0.
        "-output_ts_offset".into(),
        MEDIA_ORIGIN_S.to_string(),
        "-hls_segment_options".into(),
        "movflags=+frag_discont".into(),
        "-f".into(),
        "hls".into(),
        // Cut at every key frame (about one a second, asked for by the ingest): a target a
        // little under the interval, so the copied source's timestamps, which jitter by
        // tens of microseconds, are cut where the encoded renditions' exact ones are.
        "-hls_time".into(),
        "0.9".into(),
        // ffmpeg's own list only has to outlast the watcher's 100 ms look.
        "-hls_list_size".into(),
        "10".into(),
        "-hls_segment_type".into(),
        "fmp4".into(),
        "-hls_fmp4_init_filename".into(),
        format!("{name}_{run}_{tag}_init.mp4"),
        "-hls_segment_filename".into(),
        format!("{name}_{run}_{tag}_%05d.m4s"),
        // temp_file: a segment appears under its name only once complete.
        "-hls_flags".into(),
        "independent_segments+program_date_time+temp_file".into(),
        format!("ff_{run}_{name}.m3u8"),
    ]
}

/// A short tag so file names never repeat across broadcasts (segments are cached forever).
fn stamp() -> String {
    format!("{:x}", shop_backend::now_ms() / 1000)
}

/// Whether some process has a UDP socket bound to `port` (`/proc/net/udp`): asked without
/// binding it ourselves, which could make ffmpeg's own bind fail.
pub(crate) fn udp_port_bound(port: u16) -> bool {
    let hex = format!(":{port:04X} ");
    ["/proc/net/udp", "/proc/net/udp6"].iter().any(|f| {
        std::fs::read_to_string(f).is_ok_and(|t| {
            t.lines().skip(1).any(|l| {
                l.split_whitespace()
                    .nth(1)
                    .is_some_and(|a| format!("{a} ").ends_with(&hex))
            })
        })
    })
}

/// A free UDP port on loopback for ffmpeg to listen on.
pub fn free_udp_port() -> std::io::Result<u16> {
    let s = std::net::UdpSocket::bind("127.0.0.1:0")?;
    Ok(s.local_addr()?.port())
}

/// What the watcher is asked to do next.
#[derive(Default)]
struct WatchOrders {
    /// A new run began (ffmpeg started or restarted): finish reading the old one, then follow it.
    next: Option<(u32, Vec<Rendition>, bool)>,
    /// ffmpeg has stopped for good: read what is left, then end the run.
    stop: bool,
}

/// A supervised ffmpeg packaging one broadcast: restarted when it fails, stopped cleanly
/// (so every playlist gets its end marker) when the broadcast ends. Its watcher thread reads
/// ffmpeg's playlists every 100 ms and hands each new segment to the session's [`Stream`].
pub struct Packager {
    stream: Arc<Stream>,
    ffmpeg: String,
    codec: VideoCodec,
    plan: Vec<Rendition>,
    audio: bool,
    pub ports: RtpPorts,
    child: Option<Child>,
    run: u32,
    tag: String,
    restarts: Vec<Instant>,
    /// The first video and audio packet of this run went to ffmpeg.
    first_sent: [bool; 2],
    orders: Arc<Mutex<WatchOrders>>,
    watcher: Option<tokio::sync::oneshot::Receiver<()>>,
    /// One packager per session at a time: a host who reconnects waits for the old one to
    /// finish its recording before the new one starts numbering.
    _turn: tokio::sync::OwnedMutexGuard<()>,
}

impl Packager {
    pub async fn start(
        stream: Arc<Stream>,
        ffmpeg: &str,
        codec: VideoCodec,
        plan: Vec<Rendition>,
        audio: bool,
    ) -> std::io::Result<Packager> {
        let turn = stream.packaging().lock_owned().await;
        let dir = stream.dir().to_path_buf();
        tokio::fs::create_dir_all(&dir).await?;
        let ports = RtpPorts {
            video: free_udp_port()?,
            audio: if audio { Some(free_udp_port()?) } else { None },
        };
        tokio::fs::write(dir.join("stream.sdp"), sdp(codec, ports)).await?;
        // Continue numbering runs after an earlier broadcast of the same session.
        let run = next_run(&dir).await;
        let orders = Arc::new(Mutex::new(WatchOrders::default()));
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        {
            let (stream, orders) = (stream.clone(), orders.clone());
            std::thread::Builder::new()
                .name(format!("hls-watch-{}", stream.session_id))
                .spawn(move || {
                    watch(&stream, &orders);
                    let _ = done_tx.send(());
                })?;
        }
        let mut p = Packager {
            stream,
            ffmpeg: ffmpeg.to_string(),
            codec,
            plan,
            audio,
            ports,
            child: None,
            run,
            tag: stamp(),
            restarts: Vec::new(),
            first_sent: [false; 2],
            orders,
            watcher: Some(done_rx),
            _turn: turn,
        };
        p.spawn()?;
        p.listening().await;
        Ok(p)
    }

    /// RTP sent before ffmpeg listens is lost (the key frame that starts its output among it):
    /// waits until its ports are open, up to 3 s. (The first packet of each stream ffmpeg
    /// takes starts that stream's timeline, which dates the segments.)
    async fn listening(&self) {
        for _ in 0..150 {
            if udp_port_bound(self.ports.video) && self.ports.audio.is_none_or(udp_port_bound) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn spawn(&mut self) -> std::io::Result<()> {
        self.first_sent = [false; 2];
        let dir = self.stream.dir().to_path_buf();
        let mut child = tokio::process::Command::new(&self.ffmpeg)
            .args(ffmpeg_args(&self.plan, self.audio, self.run, &self.tag))
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        // ffmpeg's warnings go to our log.
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(async move {
                use tokio::io::AsyncBufReadExt;
                let mut lines = tokio::io::BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    // Live RTP input makes ffmpeg chatty (timestamp notes before the first
                    // keyframe); only its errors deserve a warning.
                    if line.to_ascii_lowercase().contains("error") {
                        tracing::warn!(target: "ffmpeg", "{line}");
                    } else {
                        tracing::debug!(target: "ffmpeg", "{line}");
                    }
                }
            });
        }
        let renditions: Vec<&str> = self.plan.iter().map(|r| r.name.as_str()).collect();
        tracing::info!(dir = %dir.display(), run = self.run, ?renditions, audio = self.audio, "HLS packager started");
        self.orders.lock().unwrap_or_else(|p| p.into_inner()).next =
            Some((self.run, self.plan.clone(), self.audio));
        self.child = Some(child);
        Ok(())
    }

    /// Checks on ffmpeg; restarts it if it died (at most 5 times a minute).
    pub fn supervise(&mut self) {
        let exited = match self.child.as_mut().map(|c| c.try_wait()) {
            Some(Ok(Some(status))) => Some(status),
            _ => None,
        };
        let Some(status) = exited else { return };
        tracing::warn!(%status, session_id = %self.stream.session_id, "ffmpeg exited during a broadcast");
        let now = Instant::now();
        self.restarts
            .retain(|t| now.duration_since(*t) < Duration::from_secs(60));
        if self.restarts.len() >= 5 {
            tracing::error!(
                session_id = %self.stream.session_id,
                "ffmpeg keeps failing; giving up on this broadcast's recording"
            );
            self.child = None;
            return;
        }
        self.restarts.push(now);
        self.run += 1;
        if let Err(e) = self.spawn() {
            tracing::error!(error = %e, "could not restart ffmpeg");
            self.child = None;
        }
    }

    /// A packet goes to ffmpeg now; the ingest received it at `received_us`. The first of
    /// each stream in a run is where ffmpeg's timeline of it starts (`Stream::forwarded`).
    pub fn forwarded(&mut self, audio: bool, received_us: i64) {
        let first = &mut self.first_sent[usize::from(audio)];
        if !*first {
            *first = true;
            self.stream.forwarded(self.run, audio, received_us);
        }
    }

    /// The renditions being made.
    pub fn plan(&self) -> &[Rendition] {
        &self.plan
    }

    /// The source changed size (a camera switched, a browser scaled its picture): ffmpeg is
    /// stopped cleanly and started again with the ladder for the new size, as a new run.
    pub async fn replan(&mut self, plan: Vec<Rendition>) {
        if let Some(child) = self.child.take() {
            finish(child, Duration::from_secs(2)).await;
        }
        self.plan = plan;
        self.run += 1;
        match self.spawn() {
            Ok(()) => self.listening().await,
            Err(e) => {
                tracing::error!(error = %e, "could not restart ffmpeg for the new source size")
            }
        }
    }

    pub fn video_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.ports.video))
    }

    pub fn audio_addr(&self) -> Option<SocketAddr> {
        self.ports
            .audio
            .map(|p| SocketAddr::from(([127, 0, 0, 1], p)))
    }

    pub fn stream(&self) -> &Arc<Stream> {
        &self.stream
    }

    pub fn codec(&self) -> VideoCodec {
        self.codec
    }

    /// Asks ffmpeg to finish (writing its playlists' ends), waits up to 5 s, then kills it;
    /// then the watcher reads the last segments and ends the live playlists and the recording.
    pub async fn stop(mut self) {
        if let Some(child) = self.child.take() {
            finish(child, Duration::from_secs(5)).await;
        }
        self.orders.lock().unwrap_or_else(|p| p.into_inner()).stop = true;
        if let Some(done) = self.watcher.take() {
            let _ = done.await;
        }
        tracing::info!(session_id = %self.stream.session_id, "HLS packager stopped");
    }
}

/// Asks ffmpeg to finish (`q`: it writes its segments' and playlists' ends), and kills it if
/// it has not within `grace`.
pub(crate) async fn finish(mut child: Child, grace: Duration) {
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(b"q").await;
    }
    if tokio::time::timeout(grace, child.wait()).await.is_err() {
        let _ = child.kill().await;
    }
}

/// The watcher: every 100 ms, the new segments of the current run's renditions go to the
/// stream, which then builds its playlists. Runs on a thread of its own (file reads).
fn watch(stream: &Stream, orders: &Mutex<WatchOrders>) {
    let mut current: Option<(u32, Vec<String>)> = None;
    let mut seen: HashMap<String, String> = HashMap::new();
    loop {
        let (next, stop) = {
            let mut o = orders.lock().unwrap_or_else(|p| p.into_inner());
            (o.next.take(), o.stop)
        };
        if let Some((run, plan, audio)) = next {
            // A restart: what the old run wrote last, then the new run continues the live
            // playlists (after a discontinuity) without ending them.
            if let Some(cur) = &current {
                if collect(stream, cur, &mut seen) {
                    let _ = stream.publish().map_err(log_io);
                }
            }
            let mut names: Vec<String> = plan.iter().map(|r| r.name.clone()).collect();
            if audio {
                names.push(AUDIO.to_string());
            }
            stream.begin_run(run, plan, audio);
            current = Some((run, names));
            seen.clear();
        }
        if let Some(cur) = &current {
            if collect(stream, cur, &mut seen) {
                let _ = stream.publish().map_err(log_io);
            }
        }
        if stop {
            if let Some(cur) = &current {
                collect(stream, cur, &mut seen);
                let _ = stream.end_run(cur.0).map_err(log_io);
            }
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn log_io(e: std::io::Error) {
    tracing::error!(error = %e, "could not write the HLS playlists");
}

/// Reads ffmpeg's playlists of one run and lands their new segments. Returns whether any came.
fn collect(
    stream: &Stream,
    (run, names): &(u32, Vec<String>),
    seen: &mut HashMap<String, String>,
) -> bool {
    let mut any = false;
    for name in names {
        let Ok(text) = std::fs::read_to_string(stream.dir().join(format!("ff_{run}_{name}.m3u8")))
        else {
            continue;
        };
        let (segments, _) = super::playlist::parse_media(&text);
        // Those after the last one taken (all of them if it has left ffmpeg's short list).
        let from = seen
            .get(name)
            .and_then(|last| segments.iter().position(|s| &s.uri == last).map(|i| i + 1))
            .unwrap_or(0);
        for seg in &segments[from..] {
            let Ok(bytes) = std::fs::read(stream.dir().join(&seg.uri)) else {
                break; // not there yet: next time
            };
            if let Err(e) = stream.land(*run, name, seg, Bytes::from(bytes)) {
                log_io(e);
            }
            seen.insert(name.clone(), seg.uri.clone());
            any = true;
        }
    }
    any
}

/// The number of the next ffmpeg run in a session's directory (runs are never reused).
async fn next_run(dir: &Path) -> u32 {
    let mut next = 0;
    if let Ok(mut rd) = tokio::fs::read_dir(dir).await {
        while let Ok(Some(e)) = rd.next_entry().await {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(run) = name
                .strip_prefix("ff_")
                .and_then(|r| r.split('_').next())
                .and_then(|r| r.parse::<u32>().ok())
            {
                next = next.max(run + 1);
            }
        }
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::ladder::{Ladder, Source, SourceCodec};

    #[test]
    fn sdp_describes_the_forwarded_streams() {
        let s = sdp(
            VideoCodec::H264,
            RtpPorts {
                video: 5000,
                audio: Some(5002),
            },
        );
        assert!(s.contains("m=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000"));
        assert!(s.contains("m=audio 5002 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2"));
        assert!(!sdp(
            VideoCodec::Vp8,
            RtpPorts {
                video: 1,
                audio: None
            }
        )
        .contains("m=audio"));
    }

    #[test]
    fn one_ffmpeg_copies_the_source_and_encodes_the_rungs_on_its_key_frames() {
        let h264 = Source {
            codec: SourceCodec::H264 {
                codecs: [0x42, 0xe0, 0x1f],
            },
            width: 1280,
            height: 720,
        };
        let a = ffmpeg_args(&Ladder::default().plan(h264), true, 3, "t").join(" ");
        assert!(a.contains("-filter_complex [0:v:0]split=2[t0][t1];[t0]scale=854:480:flags=bilinear[v1];[t1]scale=426:240:flags=bilinear[v2]"), "{a}");
        assert!(a.contains("-map 0:v:0 -c:v copy -output_ts_offset 10 -hls_segment_options movflags=+frag_discont -f hls"), "{a}");
        // Timestamps kept: segments are dated from the first packet of their stream.
        assert!(a.contains("-nostats -copyts "), "{a}");
        assert!(
            a.contains("-map [v1] -fps_mode passthrough -c:v libx264"),
            "{a}"
        );
        assert!(a.contains("-b:v 1000k -maxrate 1000k"), "{a}");
        assert_eq!(a.matches("-force_key_frames source").count(), 2);
        assert!(a.contains("-hls_segment_filename 480p_3_t_%05d.m4s"), "{a}");
        assert!(a.contains("-map 0:a:0 -c:a aac"), "{a}");
        assert!(a.ends_with("ff_3_audio.m3u8"), "{a}");
        assert_eq!(a.matches("-hls_segment_type fmp4").count(), 4);
        // VP8: every rendition is encoded; one rung alone needs no split.
        let vp8 = Source {
            codec: SourceCodec::Vp8,
            width: 320,
            height: 240,
        };
        let v = ffmpeg_args(
            &"source".parse::<Ladder>().unwrap().plan(vp8),
            false,
            0,
            "t",
        )
        .join(" ");
        assert!(
            v.contains("-filter_complex [0:v:0]scale=320:240:flags=bilinear[v0]"),
            "{v}"
        );
        assert!(!v.contains("-c:a") && !v.contains("-c:v copy"), "{v}");
    }
}
