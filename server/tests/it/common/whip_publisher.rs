//! A synthetic WHIP publisher for tests, built on `str0m` (sans-IO WebRTC).
//!
//! [`publish`] generates an H.264 test pattern (and optionally Opus audio) with Debian's
//! `ffmpeg`, POSTs an SDP offer to a WHIP endpoint, runs ICE/DTLS over UDP on loopback,
//! sends the media in real time (one access unit per `1/fps` s, one 20 ms Opus packet per
//! 20 ms), then DELETEs the WHIP resource and closes the peer connection.
//!
//! Needs `/usr/bin/ffmpeg` with libx264 (and libopus for audio).
//!
//! [`publish_with`] takes [`MediaOptions`] besides: picture size, video bitrate, x264 preset,
//! a short clip looped for long runs (RTP timestamps keep counting, str0m numbers the packets)
//! and a stop flag. `loadgen publish` uses it as a synthetic broadcaster for benchmarks.
//! Keyframe requests (PLI/FIR) are counted; the clip has an IDR every `fps` frames (one per
//! second), so the next keyframe is never more than a second away.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, MediaTime, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcConfig};
use tokio::net::UdpSocket;

/// How long to wait for ICE + DTLS after the answer before giving up (connected = false).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to keep driving the connection after `Rtc::close()` to flush BYE/close_notify.
const CLOSE_DRAIN: Duration = Duration::from_millis(200);
/// How long to keep servicing the connection after the last media write, before the DELETE.
const LINGER: Duration = Duration::from_millis(150);
/// One Opus packet per 20 ms (960 samples at 48 kHz).
const OPUS_FRAME: Duration = Duration::from_millis(20);
const OPUS_FRAME_SAMPLES: u64 = 960;

pub struct PublishOptions {
    /// e.g. `http://127.0.0.1:PORT/whip/7`
    pub whip_url: String,
    /// Sent as `Authorization: Bearer <token>` (on the POST and the DELETE).
    pub bearer_token: Option<String>,
    /// How long to send media (after the connection is up).
    pub duration: Duration,
    /// Video frame rate, e.g. 30.
    pub fps: u32,
    /// Also send Opus audio.
    pub audio: bool,
}

impl PublishOptions {
    /// Defaults: no token, 2 s of video at 30 fps, no audio.
    pub fn new(whip_url: impl Into<String>) -> Self {
        PublishOptions {
            whip_url: whip_url.into(),
            bearer_token: None,
            duration: Duration::from_secs(2),
            fps: 30,
            audio: false,
        }
    }
}

/// Encoding and run options beyond [`PublishOptions`] (for [`publish_with`]). The defaults
/// are what [`publish`] does: 320x240, x264's default rate control and preset, the whole
/// duration generated up front, no stop flag.
#[derive(Debug, Clone)]
pub struct MediaOptions {
    /// Picture width and height (even numbers).
    pub width: u32,
    pub height: u32,
    /// Target video bitrate in kbit/s (`-b:v`, with `-maxrate` and a one-second `-bufsize`);
    /// None: x264's default (CRF 23).
    pub video_kbps: Option<u32>,
    /// x264 preset (e.g. `veryfast`: a 720p clip encodes in a few seconds); None: x264's default.
    pub preset: Option<String>,
    /// Encode only this much (rounded up to whole seconds) and loop it for the whole duration,
    /// RTP timestamps continuing; None, or a clip at least as long as the duration: the whole
    /// duration is encoded up front.
    pub clip: Option<Duration>,
    /// Set to stop sending early (the DELETE and close follow as after a full run).
    pub stop: Option<Arc<AtomicBool>>,
}

impl Default for MediaOptions {
    fn default() -> Self {
        MediaOptions {
            width: 320,
            height: 240,
            video_kbps: None,
            preset: None,
            clip: None,
            stop: None,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct PublishReport {
    /// HTTP status of the POST (201 on success).
    pub status: u16,
    /// The Location header of the 201, resolved against `whip_url` (absolute URL).
    pub location: Option<String>,
    /// Video access units handed to str0m's writer after the connection came up.
    pub frames_sent: u64,
    /// ICE + DTLS came up (str0m `Event::Connected`).
    pub connected: bool,
    /// Keyframe requests (RTCP PLI or FIR) received from the server for our send streams.
    pub keyframe_requests: u64,
    /// Opus packets written (0 unless `audio`).
    pub audio_packets_sent: u64,
    /// HTTP status of the DELETE to `location` (None if none was sent or it failed).
    pub delete_status: Option<u16>,
    /// The connection dropped (ICE Disconnected or DTLS closed by the server) while sending.
    pub disconnected_early: bool,
}

/// Performs the WHIP exchange (POST offer as application/sdp; expects 201 Created with an SDP
/// answer body and a Location header), runs ICE/DTLS with the server over UDP on loopback,
/// sends media for `duration`, then sends DELETE to the Location URL.
/// On a non-201 answer it returns Ok(report) with that status and connected=false.
/// If ICE/DTLS does not come up within 10 s it returns Ok(report) with connected=false
/// (after the DELETE). Errors are for local failures (ffmpeg, sockets, unparsable answer).
pub async fn publish(opts: PublishOptions) -> Result<PublishReport, String> {
    publish_with(opts, MediaOptions::default()).await
}

/// [`publish`] with the encoding and run options of `m` (size, bitrate, preset, a looped
/// clip, a stop flag).
pub async fn publish_with(opts: PublishOptions, m: MediaOptions) -> Result<PublishReport, String> {
    if opts.fps == 0 {
        return Err("fps must be > 0".into());
    }
    if m.width == 0 || m.height == 0 || m.width % 2 == 1 || m.height % 2 == 1 {
        return Err(format!("bad picture size {}x{}", m.width, m.height));
    }
    let mut report = PublishReport::default();
    let total_frames = ((opts.duration.as_secs_f64() * opts.fps as f64).ceil() as u64).max(1);
    // A looped clip: whole seconds, so that it starts and ends on an IDR boundary.
    let clip_secs = m
        .clip
        .map(|c| c.as_secs() + u64::from(c.subsec_nanos() > 0))
        .map(|s| s.max(1))
        .filter(|s| s * u64::from(opts.fps) < total_frames);
    let stopped = || m.stop.as_ref().is_some_and(|s| s.load(Ordering::Relaxed));

    // --- Media, generated up front so encoding time does not eat into the send schedule.
    let generate_for = clip_secs.map_or(opts.duration, Duration::from_secs);
    let media = generate_media_with(generate_for, opts.fps, opts.audio, &m).await?;

    // --- Local peer: H.264 (+ Opus) send-only, one host candidate on loopback.
    let mut config = RtcConfig::new().clear_codecs().enable_h264(true);
    if opts.audio {
        config = config.enable_opus(true, false);
    }
    let mut rtc = config.build(Instant::now());

    let socket = UdpSocket::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("bind UDP: {e}"))?;
    let local_addr = socket.local_addr().map_err(|e| e.to_string())?;
    let candidate = Candidate::host(local_addr, "udp").map_err(|e| e.to_string())?;
    rtc.add_local_candidate(candidate);

    let mut api = rtc.sdp_api();
    let video_mid = api.add_media(
        MediaKind::Video,
        Direction::SendOnly,
        Some("whip-test".into()),
        Some("whip-test-video".into()),
        None,
    );
    let audio_mid = opts.audio.then(|| {
        api.add_media(
            MediaKind::Audio,
            Direction::SendOnly,
            Some("whip-test".into()),
            Some("whip-test-audio".into()),
            None,
        )
    });
    let (offer, pending): (_, SdpPendingOffer) = api.apply().ok_or("str0m produced no offer")?;

    // --- WHIP POST.
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(15))
        .build()
        .map_err(|e| e.to_string())?;
    let mut req = client
        .post(&opts.whip_url)
        .header("Content-Type", "application/sdp")
        .body(offer.to_sdp_string());
    if let Some(token) = &opts.bearer_token {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.map_err(|e| format!("WHIP POST: {e}"))?;
    report.status = resp.status().as_u16();
    if report.status != 201 {
        return Ok(report);
    }
    let location = resp
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.to_string());
    report.location = match location {
        Some(loc) => Some(
            reqwest::Url::parse(&opts.whip_url)
                .and_then(|base| base.join(&loc))
                .map_err(|e| format!("bad Location {loc:?}: {e}"))?
                .to_string(),
        ),
        None => None,
    };
    let answer_text = resp
        .text()
        .await
        .map_err(|e| format!("WHIP answer body: {e}"))?;
    let answer = SdpAnswer::from_sdp_string(&answer_text)
        .map_err(|e| format!("unparsable SDP answer: {e}\n{answer_text}"))?;
    rtc.sdp_api()
        .accept_answer(pending, answer)
        .map_err(|e| format!("accept_answer: {e}"))?;

    // --- Payload types the answer accepted.
    let video_pt = pick_pt(&mut rtc, video_mid, Codec::H264)
        .ok_or("answer accepted no H.264 payload type for the video m-line")?;
    let audio_pt = match audio_mid {
        Some(mid) => Some(pick_pt(&mut rtc, mid, Codec::Opus).ok_or("answer accepted no Opus")?),
        None => None,
    };

    let mut peer = Peer {
        rtc,
        socket,
        local_addr,
        buf: vec![0; 2000],
        connected: false,
        dead: false,
        keyframe_requests: 0,
    };

    // --- Connect.
    let connect_deadline = Instant::now() + CONNECT_TIMEOUT;
    let mut next_timeout = peer.drain().await?;
    while !peer.connected && !peer.dead && Instant::now() < connect_deadline {
        next_timeout = peer.step(next_timeout.min(connect_deadline)).await?;
    }
    report.connected = peer.connected;

    // --- Send media in real time.
    if peer.connected {
        let start = Instant::now();
        let frame_interval = Duration::from_secs(1) / opts.fps;
        // Looping: the clip's frames and 20 ms packets over and over (the clip is whole
        // seconds; the encoder's padded audio tail is left out).
        let clip_video = media.video.len();
        let clip_audio = match clip_secs {
            Some(s) => media.audio.len().min((s * 1000 / 20) as usize),
            None => media.audio.len(),
        };
        let n_frames = if clip_secs.is_some() {
            total_frames as usize
        } else {
            clip_video
        };
        // Audio is capped at `duration` (the encoder pads the tail a little).
        let audio_cap = opts.duration.as_millis().div_ceil(OPUS_FRAME.as_millis()) as usize;
        let n_audio = if !opts.audio || clip_audio == 0 {
            0
        } else if clip_secs.is_some() {
            audio_cap
        } else {
            media.audio.len().min(audio_cap)
        };
        let end = start + opts.duration;
        let mut vi = 0usize;
        let mut ai = 0usize;
        loop {
            let now = Instant::now();
            while vi < n_frames && start + frame_interval * vi as u32 <= now {
                let rtp_time = MediaTime::from_90khz(vi as u64 * 90_000 / opts.fps as u64);
                let au = media.video[vi % clip_video].clone();
                if let Some(w) = peer.rtc.writer(video_mid) {
                    w.write(video_pt, now, rtp_time, au)
                        .map_err(|e| format!("write video: {e}"))?;
                    report.frames_sent += 1;
                }
                vi += 1;
                next_timeout = peer.drain().await?;
            }
            if let (Some(mid), Some(pt)) = (audio_mid, audio_pt) {
                while ai < n_audio && start + OPUS_FRAME * ai as u32 <= now {
                    let rtp_time = MediaTime::new(
                        ai as u64 * OPUS_FRAME_SAMPLES,
                        str0m::media::Frequency::FORTY_EIGHT_KHZ,
                    );
                    let pkt = media.audio[ai % clip_audio].clone();
                    if let Some(w) = peer.rtc.writer(mid) {
                        w.write(pt, now, rtp_time, pkt)
                            .map_err(|e| format!("write audio: {e}"))?;
                        report.audio_packets_sent += 1;
                    }
                    ai += 1;
                    next_timeout = peer.drain().await?;
                }
            }
            if peer.dead {
                report.disconnected_early = true;
                break;
            }
            if stopped() {
                break;
            }
            let video_done = vi >= n_frames;
            let audio_done = ai >= n_audio;
            if (video_done && audio_done) || now >= end + frame_interval {
                break;
            }
            let mut wake = next_timeout;
            if !video_done {
                wake = wake.min(start + frame_interval * vi as u32);
            }
            if !audio_done {
                wake = wake.min(start + OPUS_FRAME * ai as u32);
            }
            next_timeout = peer.step(wake).await?;
        }
    }

    // --- Keep the connection serviced briefly so the last frame (and any NACKed resends)
    // reach the server before the DELETE.
    if peer.connected && !peer.dead {
        let linger_until = Instant::now() + LINGER;
        while !peer.dead && Instant::now() < linger_until {
            next_timeout = peer.step(next_timeout.min(linger_until)).await?;
        }
    }

    // --- WHIP teardown: DELETE the resource, then close our side.
    if let Some(url) = &report.location {
        let mut req = client.delete(url);
        if let Some(token) = &opts.bearer_token {
            req = req.bearer_auth(token);
        }
        report.delete_status = req.send().await.ok().map(|r| r.status().as_u16());
    }
    report.keyframe_requests = peer.keyframe_requests;
    if peer.rtc.is_alive() {
        let _ = peer.rtc.close();
        let drain_until = Instant::now() + CLOSE_DRAIN;
        if let Ok(mut t) = peer.drain().await {
            while peer.rtc.is_alive() && Instant::now() < drain_until {
                match peer.step(t.min(drain_until)).await {
                    Ok(n) => t = n,
                    Err(_) => break,
                }
            }
        }
    }
    report.keyframe_requests = peer.keyframe_requests;
    Ok(report)
}

/// The negotiated PT for `codec` on `mid`; for H.264 prefers packetization-mode=1.
fn pick_pt(rtc: &mut Rtc, mid: Mid, codec: Codec) -> Option<Pt> {
    let writer = rtc.writer(mid)?;
    let params: Vec<_> = writer
        .payload_params()
        .filter(|p| p.spec().codec == codec)
        .cloned()
        .collect();
    params
        .iter()
        .find(|p| codec != Codec::H264 || p.spec().format.packetization_mode == Some(1))
        .or(params.first())
        .map(|p| p.pt())
}

struct Peer {
    rtc: Rtc,
    socket: UdpSocket,
    local_addr: SocketAddr,
    buf: Vec<u8>,
    connected: bool,
    /// ICE disconnected, or the remote closed DTLS.
    dead: bool,
    keyframe_requests: u64,
}

impl Peer {
    /// Polls str0m until it returns its next timeout: sends what it transmits, notes events.
    async fn drain(&mut self) -> Result<Instant, String> {
        loop {
            if !self.rtc.is_alive() {
                // Inert once closed; nothing more will come out.
                return Ok(Instant::now() + Duration::from_millis(50));
            }
            match self
                .rtc
                .poll_output()
                .map_err(|e| format!("poll_output: {e}"))?
            {
                Output::Timeout(t) => return Ok(t),
                Output::Transmit(t) => {
                    // Loss of a datagram is not fatal (UDP); ignore send errors.
                    let _ = self.socket.send_to(&t.contents, t.destination).await;
                }
                Output::Event(e) => match e {
                    Event::Connected => self.connected = true,
                    Event::IceConnectionStateChange(IceConnectionState::Disconnected)
                    | Event::Closed => self.dead = true,
                    Event::KeyframeRequest(_) => self.keyframe_requests += 1,
                    _ => {}
                },
            }
        }
    }

    /// Waits for one datagram or until `wake`, feeds it to str0m, drains. Returns next timeout.
    async fn step(&mut self, wake: Instant) -> Result<Instant, String> {
        self.buf.resize(2000, 0);
        let sleep = tokio::time::sleep_until(tokio::time::Instant::from_std(wake));
        let received = tokio::select! {
            r = self.socket.recv_from(&mut self.buf) => Some(r),
            _ = sleep => None,
        };
        let now = Instant::now();
        match received {
            Some(Ok((n, source))) => {
                // A datagram str0m cannot classify is dropped, not fatal.
                if let Ok(contents) = self.buf[..n].try_into() {
                    let input = Input::Receive(
                        now,
                        Receive {
                            proto: Protocol::Udp,
                            source,
                            destination: self.local_addr,
                            contents,
                        },
                    );
                    if self.rtc.accepts(&input) {
                        self.rtc
                            .handle_input(input)
                            .map_err(|e| format!("handle_input: {e}"))?;
                    }
                }
            }
            // e.g. ICMP port unreachable surfaced on the socket; keep going.
            Some(Err(_)) => {}
            None => {
                self.rtc
                    .handle_input(Input::Timeout(now))
                    .map_err(|e| format!("handle_input(timeout): {e}"))?;
            }
        }
        self.drain().await
    }
}

/// Encoded test media.
pub struct TestMedia {
    /// H.264 Annex-B access units (4-byte start codes), one per frame; SPS/PPS/SEI travel
    /// with the frame that follows them. IDR every `fps` frames.
    pub video: Vec<Vec<u8>>,
    /// Raw Opus packets, 20 ms each (empty unless audio was asked for).
    pub audio: Vec<Vec<u8>>,
}

/// Encodes `duration` of testsrc2 (320x240, baseline, IDR every `fps` frames, SPS/PPS repeated)
/// and, if `audio`, a 440 Hz sine as 20 ms Opus packets, with `/usr/bin/ffmpeg` into a temp dir.
pub async fn generate_media(
    duration: Duration,
    fps: u32,
    audio: bool,
) -> Result<TestMedia, String> {
    generate_media_with(duration, fps, audio, &MediaOptions::default()).await
}

/// [`generate_media`] at the size, bitrate and preset of `m` (its `clip` and `stop` are for
/// [`publish_with`] and not used here).
pub async fn generate_media_with(
    duration: Duration,
    fps: u32,
    audio: bool,
    m: &MediaOptions,
) -> Result<TestMedia, String> {
    let m = m.clone();
    tokio::task::spawn_blocking(move || generate_media_blocking(duration, fps, audio, &m))
        .await
        .map_err(|e| e.to_string())?
}

/// The lowest H.264 level (from 3.1 up) whose frame size and macroblock rate fit.
fn h264_level(width: u32, height: u32, fps: u32) -> &'static str {
    let frame = u64::from(width.div_ceil(16)) * u64::from(height.div_ceil(16));
    let rate = frame * u64::from(fps);
    [
        ("3.1", 3_600, 108_000),
        ("3.2", 5_120, 216_000),
        ("4.0", 8_192, 245_760),
        ("4.2", 8_704, 522_240),
        ("5.0", 22_080, 589_824),
        ("5.1", 36_864, 983_040),
        ("5.2", 36_864, 2_073_600),
    ]
    .iter()
    .find(|(_, f, r)| frame <= *f && rate <= *r)
    .map_or("6.2", |(l, ..)| l)
}

fn generate_media_blocking(
    duration: Duration,
    fps: u32,
    audio: bool,
    m: &MediaOptions,
) -> Result<TestMedia, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let frames = ((duration.as_secs_f64() * fps as f64).ceil() as u64).max(1);
    let secs = format!("{:.3}", frames as f64 / fps as f64 + 0.1);

    let h264 = dir.path().join("out.h264");
    let source = format!("testsrc2=size={}x{}:rate={fps}", m.width, m.height);
    let frames_arg = frames.to_string();
    let gop = fps.to_string();
    let mut args: Vec<&str> = vec![
        "-f",
        "lavfi",
        "-i",
        &source,
        "-frames:v",
        &frames_arg,
        "-c:v",
        "libx264",
        "-profile:v",
        "baseline",
        "-level",
        h264_level(m.width, m.height, fps),
        "-pix_fmt",
        "yuv420p",
        "-g",
        &gop,
        "-bf",
        "0",
    ];
    // A one-second VBV buffer: the rate holds over every segment, not just on average.
    let rate = m.video_kbps.map(|k| format!("{k}k"));
    if let Some(rate) = &rate {
        args.extend(["-b:v", rate, "-maxrate", rate, "-bufsize", rate]);
    }
    if let Some(preset) = &m.preset {
        args.extend(["-preset", preset]);
    }
    args.extend([
        "-x264-params",
        "repeat-headers=1",
        "-f",
        "h264",
        path_str(&h264)?,
    ]);
    run_ffmpeg(&args)?;
    let video = h264_access_units(&std::fs::read(&h264).map_err(|e| e.to_string())?);
    if video.is_empty() {
        return Err("ffmpeg produced no H.264 access units".into());
    }

    let mut audio_pkts = Vec::new();
    if audio {
        let ogg = dir.path().join("out.ogg");
        run_ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000",
            "-t",
            &secs,
            "-ac",
            "2",
            "-c:a",
            "libopus",
            "-b:a",
            "48k",
            "-frame_duration",
            "20",
            "-application",
            "audio",
            "-f",
            "ogg",
            path_str(&ogg)?,
        ])?;
        audio_pkts = ogg_opus_packets(&std::fs::read(&ogg).map_err(|e| e.to_string())?)?;
        if audio_pkts.is_empty() {
            return Err("ffmpeg produced no Opus packets".into());
        }
    }
    Ok(TestMedia {
        video,
        audio: audio_pkts,
    })
}

fn path_str(p: &Path) -> Result<&str, String> {
    p.to_str()
        .ok_or_else(|| format!("non-UTF-8 temp path {p:?}"))
}

fn run_ffmpeg(args: &[&str]) -> Result<(), String> {
    let out = std::process::Command::new("/usr/bin/ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(args)
        .output()
        .map_err(|e| format!("running /usr/bin/ffmpeg: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ffmpeg {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

/// NAL units of an Annex-B stream (without start codes).
pub fn annexb_nals(data: &[u8]) -> Vec<&[u8]> {
    // Positions just after each 00 00 01 start code (a 4-byte 00 00 00 01 ends in the same).
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut nals = Vec::with_capacity(starts.len());
    for (k, &s) in starts.iter().enumerate() {
        let mut e = match starts.get(k + 1) {
            Some(&next) => next - 3,
            None => data.len(),
        };
        // Trailing zero bytes belong to the next (4-byte) start code / trailing_zero_8bits.
        while e > s && data[e - 1] == 0 {
            e -= 1;
        }
        if e > s {
            nals.push(&data[s..e]);
        }
    }
    nals
}

/// Splits an H.264 Annex-B stream into access units, each re-emitted with 4-byte start codes.
/// Non-VCL NALs (SPS 7, PPS 8, SEI 6, AUD 9) go with the frame that follows; a VCL slice
/// (type 1 or 5) whose first_mb_in_slice is 0 starts a new frame (so multi-slice frames stay
/// together).
pub fn h264_access_units(data: &[u8]) -> Vec<Vec<u8>> {
    let mut aus: Vec<Vec<u8>> = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    let mut current_has_vcl = false;
    for nal in annexb_nals(data) {
        let ty = nal[0] & 0x1f;
        let is_vcl = ty == 1 || ty == 5;
        // first_mb_in_slice is ue(v) right after the NAL header: its first bit is 1 iff it is 0.
        let first_slice = is_vcl && nal.get(1).is_some_and(|b| b & 0x80 != 0);
        let starts_new = (is_vcl && first_slice) || (!is_vcl && matches!(ty, 6..=9));
        if starts_new && current_has_vcl {
            aus.push(std::mem::take(&mut current));
            current_has_vcl = false;
        }
        current.extend_from_slice(&[0, 0, 0, 1]);
        current.extend_from_slice(nal);
        current_has_vcl |= is_vcl;
    }
    if current_has_vcl {
        aus.push(current);
    }
    aus
}

/// Opus packets from an Ogg Opus file, without the OpusHead and OpusTags header packets.
pub fn ogg_opus_packets(data: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut packets = Vec::new();
    let mut partial: Vec<u8> = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let header = data
            .get(pos..pos + 27)
            .ok_or_else(|| format!("truncated Ogg page header at {pos}"))?;
        if &header[0..4] != b"OggS" {
            return Err(format!("no Ogg capture pattern at {pos}"));
        }
        let n_segs = header[26] as usize;
        let table = data
            .get(pos + 27..pos + 27 + n_segs)
            .ok_or("truncated Ogg segment table")?;
        let mut body = pos + 27 + n_segs;
        for &len in table {
            let seg = data
                .get(body..body + len as usize)
                .ok_or("truncated Ogg segment")?;
            partial.extend_from_slice(seg);
            body += len as usize;
            // A segment shorter than 255 ends the packet; 255 means it continues.
            if len < 255 {
                packets.push(std::mem::take(&mut partial));
            }
        }
        pos = body;
    }
    let mut it = packets.into_iter();
    let head = it.next().ok_or("Ogg stream has no packets")?;
    if !head.starts_with(b"OpusHead") {
        return Err("first Ogg packet is not OpusHead".into());
    }
    let tags = it.next().ok_or("Ogg stream has no OpusTags")?;
    if !tags.starts_with(b"OpusTags") {
        return Err("second Ogg packet is not OpusTags".into());
    }
    Ok(it.filter(|p| !p.is_empty()).collect())
}
