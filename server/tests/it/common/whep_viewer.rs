//! A WHEP viewer built on `str0m`, for tests and `loadgen whep`: it POSTs a receive-only
//! offer (H.264/VP8 video, Opus audio), completes ICE, DTLS and SRTP with the server over UDP,
//! and counts what arrives: RTP packets per kind, video frames (marker bits), key frames, and
//! the packets lost (sequence numbers missing from the range received, after str0m's NACKs).
//! Then it DELETEs its resource.

#![allow(dead_code)]

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::change::SdpAnswer;
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, RtcConfig};
use tokio::net::UdpSocket;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct ViewOptions {
    /// e.g. `http://127.0.0.1:PORT/whep/7`
    pub whep_url: String,
    /// How long to watch once connected.
    pub duration: Duration,
    /// Set to stop watching early.
    pub stop: Option<Arc<AtomicBool>>,
    /// Local address to bind (its IP is the candidate the server sees).
    pub bind: std::net::IpAddr,
    /// The HTTP client for the POST and the DELETE; `None`: one of its own. Many viewers in
    /// one process (`loadgen whep`) share one, so that they hold no TCP connection each.
    pub http: Option<reqwest::Client>,
}

impl ViewOptions {
    pub fn new(whep_url: impl Into<String>, duration: Duration) -> ViewOptions {
        ViewOptions {
            whep_url: whep_url.into(),
            duration,
            stop: None,
            bind: std::net::Ipv4Addr::LOCALHOST.into(),
            http: None,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ViewReport {
    /// HTTP status of the POST (201 when taken; 503 at the node's limit).
    pub status: u16,
    /// The answer's body when it was not 201 (the server's reason).
    pub refusal: String,
    pub location: Option<String>,
    pub connected: bool,
    pub video_packets: u64,
    pub audio_packets: u64,
    pub video_bytes: u64,
    /// Video frames completed (packets with the marker bit).
    pub frames: u64,
    /// Frames that started with a key frame (H.264 IDR/SPS, VP8 key frame).
    pub keyframes: u64,
    /// The codec of the video received.
    pub video_codec: Option<String>,
    /// Packets expected from the sequence numbers' range, and those that never came.
    pub expected: u64,
    pub lost: u64,
    /// From the POST to the first key frame.
    pub first_keyframe_after: Option<Duration>,
    pub delete_status: Option<u16>,
    /// The server ended the connection before we did.
    pub ended_by_server: bool,
}

impl ViewReport {
    pub fn loss(&self) -> f64 {
        if self.expected == 0 {
            0.0
        } else {
            self.lost as f64 / self.expected as f64
        }
    }
}

/// Sequence numbers seen on one stream, extended past 16 bits.
#[derive(Default)]
struct SeqTrack {
    seen: HashSet<u64>,
    last: Option<u64>,
    min: u64,
    max: u64,
}

impl SeqTrack {
    fn add(&mut self, seq: u16) {
        let ext = match self.last {
            None => u64::from(seq) + (1 << 20),
            Some(last) => {
                let diff = i64::from(seq.wrapping_sub(last as u16) as i16);
                last.saturating_add_signed(diff)
            }
        };
        if self.last.is_none() {
            self.min = ext;
            self.max = ext;
        }
        self.last = Some(ext.max(self.last.unwrap_or(0)));
        self.min = self.min.min(ext);
        self.max = self.max.max(ext);
        self.seen.insert(ext);
    }

    fn expected(&self) -> u64 {
        if self.seen.is_empty() {
            0
        } else {
            self.max - self.min + 1
        }
    }
}

fn is_keyframe_start(codec: Option<Codec>, payload: &[u8]) -> bool {
    match codec {
        Some(Codec::H264) => match payload.first().map(|b| b & 0x1f) {
            Some(5 | 7) => true,
            Some(24) => payload.get(3).is_some_and(|b| matches!(b & 0x1f, 5 | 7)),
            Some(28) => payload
                .get(1)
                .is_some_and(|h| h & 0x80 != 0 && h & 0x1f == 5),
            _ => false,
        },
        Some(Codec::Vp8) => {
            // Payload descriptor, then the frame tag's inverse key-frame bit.
            let Some(&d) = payload.first() else {
                return false;
            };
            let mut i = 1;
            if d & 0x80 != 0 {
                let Some(&x) = payload.get(1) else {
                    return false;
                };
                i += 1;
                if x & 0x80 != 0 {
                    i += if payload.get(i).is_some_and(|b| b & 0x80 != 0) {
                        2
                    } else {
                        1
                    };
                }
                if x & 0x40 != 0 {
                    i += 1;
                }
                if x & 0x30 != 0 {
                    i += 1;
                }
            }
            d & 0x10 != 0 && payload.get(i).is_some_and(|b| b & 1 == 0)
        }
        _ => false,
    }
}

/// Watches `opts.whep_url` for `opts.duration` (or until stopped or the server ends it).
pub async fn view(opts: ViewOptions) -> Result<ViewReport, String> {
    let mut report = ViewReport::default();
    let mut rtc = RtcConfig::new()
        .clear_codecs()
        .enable_h264(true)
        .enable_vp8(true)
        .enable_opus(true, false)
        .set_rtp_mode(true)
        .build(Instant::now());
    let socket = UdpSocket::bind((opts.bind, 0))
        .await
        .map_err(|e| format!("bind UDP: {e}"))?;
    let local = socket.local_addr().map_err(|e| e.to_string())?;
    rtc.add_local_candidate(Candidate::host(local, "udp").map_err(|e| e.to_string())?);
    let mut api = rtc.sdp_api();
    api.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
    api.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None);
    let (offer, pending) = api.apply().ok_or("str0m produced no offer")?;

    let client = match &opts.http {
        Some(c) => c.clone(),
        None => reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| e.to_string())?,
    };
    let posted = Instant::now();
    let resp = client
        .post(&opts.whep_url)
        .header("Content-Type", "application/sdp")
        .body(offer.to_sdp_string())
        .send()
        .await
        .map_err(|e| format!("WHEP POST: {e}"))?;
    report.status = resp.status().as_u16();
    if report.status != 201 {
        report.refusal = resp.text().await.unwrap_or_default();
        return Ok(report);
    }
    report.location = resp
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|loc| {
            reqwest::Url::parse(&opts.whep_url)
                .and_then(|b| b.join(loc))
                .ok()
        })
        .map(|u| u.to_string());
    let answer = resp.text().await.map_err(|e| format!("WHEP answer: {e}"))?;
    let answer = SdpAnswer::from_sdp_string(&answer)
        .map_err(|e| format!("unparsable SDP answer: {e}\n{answer}"))?;
    rtc.sdp_api()
        .accept_answer(pending, answer)
        .map_err(|e| format!("accept_answer: {e}"))?;

    let mut video = SeqTrack::default();
    let mut audio = SeqTrack::default();
    let mut codecs: std::collections::HashMap<str0m::media::Pt, Option<Codec>> = Default::default();
    let mut frame_start = true;
    let mut buf = vec![0u8; 2048];
    let mut until: Option<Instant> = None;
    let stopped = || {
        opts.stop
            .as_ref()
            .is_some_and(|s| s.load(Ordering::Relaxed))
    };
    'run: loop {
        let deadline = loop {
            match rtc.poll_output() {
                Ok(Output::Timeout(t)) => break t,
                Ok(Output::Transmit(t)) => {
                    let _ = socket.send_to(&t.contents, t.destination).await;
                }
                Ok(Output::Event(e)) => match e {
                    Event::Connected => {
                        report.connected = true;
                        until = Some(Instant::now() + opts.duration);
                    }
                    Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                        report.ended_by_server = true;
                        break 'run;
                    }
                    Event::RtpPacket(p) => {
                        let pt = p.header.payload_type;
                        let codec = *codecs.entry(pt).or_insert_with(|| {
                            rtc.codec_config()
                                .params()
                                .iter()
                                .find(|c| c.pt() == pt)
                                .map(|c| c.spec().codec)
                        });
                        if matches!(codec, Some(Codec::Opus)) {
                            report.audio_packets += 1;
                            audio.add(p.header.sequence_number);
                            continue;
                        }
                        report.video_packets += 1;
                        report.video_bytes += p.payload.len() as u64;
                        report
                            .video_codec
                            .get_or_insert_with(|| codec.map_or("?".into(), |c| format!("{c:?}")));
                        video.add(p.header.sequence_number);
                        if frame_start && is_keyframe_start(codec, &p.payload) {
                            report.keyframes += 1;
                            report.first_keyframe_after.get_or_insert(posted.elapsed());
                        }
                        frame_start = p.header.marker;
                        if p.header.marker {
                            report.frames += 1;
                        }
                    }
                    _ => {}
                },
                Err(e) => return Err(format!("WebRTC: {e}")),
            }
        };
        let now = Instant::now();
        if !report.connected && now.duration_since(posted) > CONNECT_TIMEOUT {
            break;
        }
        if until.is_some_and(|u| now >= u) || stopped() {
            break;
        }
        let wait = deadline
            .saturating_duration_since(now)
            .min(Duration::from_millis(100));
        let input = tokio::select! {
            r = socket.recv_from(&mut buf) => match r {
                Ok((n, source)) => match (&buf[..n]).try_into() {
                    Ok(contents) => Input::Receive(Instant::now(), Receive { proto: Protocol::Udp, source, destination: local, contents }),
                    Err(_) => continue,
                },
                Err(_) => continue,
            },
            () = tokio::time::sleep(wait) => Input::Timeout(Instant::now()),
        };
        if rtc.handle_input(input).is_err() {
            break;
        }
    }
    report.expected = video.expected() + audio.expected();
    report.lost =
        report.expected - (video.seen.len() as u64 + audio.seen.len() as u64).min(report.expected);
    if let Some(loc) = &report.location {
        report.delete_status = client
            .delete(loc)
            .send()
            .await
            .ok()
            .map(|r| r.status().as_u16());
    }
    rtc.disconnect();
    Ok(report)
}
