//! One broadcast: the WebRTC session with the host's browser (str0m, RTP mode) and the
//! forwarding of its RTP to the HLS packager. Packaging starts at the first key frame (its
//! size decides which rungs of the ladder are made); key frames are requested every second so
//! every rendition's 1 s segments start cleanly.

use shop_core::ids::SessionId;
use std::time::{Duration, Instant};

use str0m::{
    format::Codec,
    media::KeyframeRequestKind,
    net::{Protocol, Receive},
    rtp::RtpPacket,
    Event, IceConnectionState, Input, Output, Rtc,
};
use tokio::{net::UdpSocket, sync::watch};

use super::{
    bitstream,
    fanout::{self, MediaCodec, MediaPacket},
    hls::{Packager, VideoCodec},
    ladder::{Source, SourceCodec},
};
use crate::ServerState;

/// A plain RTP packet (12-byte header, no extensions) for ffmpeg, with a normalised payload type.
pub fn plain_rtp(p: &RtpPacket, payload_type: u8) -> Vec<u8> {
    let h = &p.header;
    let mut out = Vec::with_capacity(12 + p.payload.len());
    out.push(0x80);
    out.push(if h.marker {
        0x80 | payload_type
    } else {
        payload_type
    });
    out.extend_from_slice(&h.sequence_number.to_be_bytes());
    out.extend_from_slice(&h.timestamp.to_be_bytes());
    out.extend_from_slice(&(*h.ssrc).to_be_bytes());
    out.extend_from_slice(&p.payload);
    out
}

pub struct IngestArgs {
    pub session_id: SessionId,
    pub resource: String,
    pub rtc: Rtc,
    pub socket: UdpSocket,
    pub stop: watch::Receiver<bool>,
    pub audio: bool,
}

/// Runs until the publisher leaves, the broadcast is replaced or stopped, or the server stops.
pub async fn run(state: ServerState, args: IngestArgs) {
    let IngestArgs {
        session_id,
        resource,
        mut rtc,
        socket,
        mut stop,
        audio,
    } = args;
    let media = state.media.clone();
    let local = match socket.local_addr() {
        Ok(a) => a,
        Err(_) => return,
    };
    let forward = match UdpSocket::bind("127.0.0.1:0").await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "could not open the forwarding socket");
            return;
        }
    };
    let mut packager: Option<Packager> = None;
    let mut broadcast_id: Option<i64> = None;
    let mut video_ssrc = None;
    let mut last_keyframe_request = Instant::now();
    let mut last_supervise = Instant::now();
    let mut announced = false;
    let mut frames = FrameRate::default();
    // What the packager was planned for, and when it was last re-planned.
    let mut source = Source {
        codec: SourceCodec::Vp8,
        width: 0,
        height: 0,
    };
    let mut source_size = (0, 0);
    let mut last_replan = Instant::now();
    // Payload type -> codec, learnt on the first packet of each type.
    let mut codecs: std::collections::HashMap<str0m::media::Pt, Option<Codec>> = Default::default();
    let mut buf = vec![0u8; 2048];
    let started = Instant::now();
    // WebRTC viewers and restreams of this node take the packets from here as they arrive.
    let feed = media.fanout.open(session_id, true);
    'run: loop {
        // Drain everything str0m wants to do now.
        let deadline = loop {
            match rtc.poll_output() {
                Ok(Output::Timeout(t)) => break t,
                Ok(Output::Transmit(t)) => {
                    let _ = socket.send_to(&t.contents, t.destination).await;
                }
                Ok(Output::Event(e)) => match e {
                    Event::IceConnectionStateChange(IceConnectionState::Disconnected) => break 'run,
                    Event::RtpPacket(p) => {
                        let pt = p.header.payload_type;
                        let codec = *codecs.entry(pt).or_insert_with(|| {
                            rtc.codec_config()
                                .params()
                                .iter()
                                .find(|c| c.pt() == pt)
                                .map(|c| c.spec().codec)
                        });
                        let is_video = matches!(codec, Some(Codec::H264 | Codec::Vp8));
                        if is_video {
                            frames.packet(p.header.timestamp);
                        }
                        let media_codec = match codec {
                            Some(Codec::H264) => Some(MediaCodec::H264),
                            Some(Codec::Vp8) => Some(MediaCodec::Vp8),
                            Some(Codec::Opus) => Some(MediaCodec::Opus),
                            _ => None,
                        };
                        let received_us = fanout::unix_us_now();
                        let keyframe =
                            media_codec.is_some_and(|mc| fanout::starts_keyframe(mc, &p.payload));
                        if let Some(mc) = media_codec {
                            feed.send(MediaPacket {
                                codec: mc,
                                layer: 0,
                                seq: p.header.sequence_number,
                                timestamp: p.header.timestamp,
                                marker: p.header.marker,
                                keyframe,
                                received_us,
                                payload: p.payload[..].into(),
                            });
                        }
                        if let (true, Some(pk)) = (is_video, packager.as_mut()) {
                            // A new source size gets the ladder planned for it (at most every
                            // 10 s: a browser settling on a size may step through a few).
                            let size = match codec {
                                Some(Codec::Vp8) => bitstream::vp8_keyframe_size(&p.payload),
                                _ => bitstream::h264_sps_in_rtp(&p.payload)
                                    .map(|s| (s.width, s.height)),
                            };
                            if let Some((width, height)) = size.filter(|s| *s != source_size) {
                                let plan = media.settings.ladder.plan(Source {
                                    width,
                                    height,
                                    ..source
                                });
                                if plan.as_slice() == pk.plan() {
                                    source_size = (width, height);
                                } else if last_replan.elapsed() >= Duration::from_secs(10) {
                                    tracing::info!(
                                        %session_id,
                                        width,
                                        height,
                                        "broadcast source changed size; new ladder"
                                    );
                                    source_size = (width, height);
                                    last_replan = Instant::now();
                                    pk.replan(plan).await;
                                }
                            }
                        }
                        if is_video && packager.is_none() {
                            if video_ssrc.is_none() {
                                // Packaging starts at a key frame (its size picks the ladder):
                                // ask for one now rather than at the next second.
                                video_ssrc = Some(p.header.ssrc);
                                if let Some(rx) = rtc.direct_api().stream_rx(&p.header.ssrc) {
                                    rx.request_keyframe(KeyframeRequestKind::Pli);
                                }
                                last_keyframe_request = Instant::now();
                            }
                            let source_found = match codec {
                                Some(Codec::Vp8) => bitstream::vp8_keyframe_size(&p.payload).map(
                                    |(width, height)| Source {
                                        codec: SourceCodec::Vp8,
                                        width,
                                        height,
                                    },
                                ),
                                _ => bitstream::h264_sps_in_rtp(&p.payload).map(|sps| Source {
                                    codec: SourceCodec::H264 {
                                        codecs: [sps.profile_idc, sps.constraints, sps.level_idc],
                                    },
                                    width: sps.width,
                                    height: sps.height,
                                }),
                            };
                            let Some(found) = source_found else { continue };
                            source = found;
                            source_size = (found.width, found.height);
                            last_replan = Instant::now();
                            let plan = media.settings.ladder.plan(found);
                            let vc = if codec == Some(Codec::Vp8) {
                                VideoCodec::Vp8
                            } else {
                                VideoCodec::H264
                            };
                            let streams = media.streams.clone();
                            let stream =
                                match tokio::task::spawn_blocking(move || streams.open(session_id))
                                    .await
                                {
                                    Ok(s) => s,
                                    Err(_) => break 'run,
                                };
                            tracing::info!(
                                %session_id,
                                width = found.width,
                                height = found.height,
                                codec = vc.as_str(),
                                "broadcast source"
                            );
                            match Packager::start(stream, &media.settings.ffmpeg, vc, plan, audio)
                                .await
                            {
                                Ok(pk) => {
                                    packager = Some(pk);
                                    // A key frame now that ffmpeg listens.
                                    if let Some(rx) = rtc.direct_api().stream_rx(&p.header.ssrc) {
                                        rx.request_keyframe(KeyframeRequestKind::Pli);
                                    }
                                    last_keyframe_request = Instant::now();
                                }
                                Err(e) => {
                                    tracing::error!(error = %e, ffmpeg = %media.settings.ffmpeg, "could not start ffmpeg");
                                    break 'run;
                                }
                            }
                        }
                        if let Some(pk) = packager.as_mut() {
                            let target = match codec {
                                Some(Codec::H264 | Codec::Vp8) => Some((pk.video_addr(), 96)),
                                Some(Codec::Opus) => pk.audio_addr().map(|a| (a, 111)),
                                _ => None,
                            };
                            if let Some((addr, pt)) = target {
                                pk.forwarded(!is_video, received_us);
                                let _ = forward.send_to(&plain_rtp(&p, pt), addr).await;
                            }
                        }
                    }
                    _ => {}
                },
                Err(e) => {
                    tracing::warn!(error = %e, %session_id, "WebRTC session failed");
                    break 'run;
                }
            }
        };
        // Keyframes every second (every rendition's segments start at one), and at once for a
        // WebRTC viewer who just joined.
        if let Some(ssrc) = video_ssrc {
            let since = last_keyframe_request.elapsed();
            // (Viewers joining together get one key frame: at most one every 250 ms.)
            if since >= Duration::from_secs(1)
                || (feed.keyframe_pending() && since >= Duration::from_millis(250))
            {
                feed.take_keyframe_request();
                if let Some(rx) = rtc.direct_api().stream_rx(&ssrc) {
                    rx.request_keyframe(KeyframeRequestKind::Pli);
                }
                last_keyframe_request = Instant::now();
            }
        }
        if last_supervise.elapsed() >= Duration::from_millis(500) {
            last_supervise = Instant::now();
            // (A session that ends stops this broadcast through `stop`: media::follow.)
            if let Some(p) = packager.as_mut() {
                p.supervise();
                if let Some(fps) = frames.per_second() {
                    p.stream().set_frame_rate(fps);
                }
                if !announced && p.stream().is_ready() {
                    announced = true;
                    broadcast_id = shop_backend::repo::video::start_broadcast(
                        &state.app.db,
                        session_id,
                        p.codec().as_str(),
                    )
                    .await
                    .ok();
                    if let Some(shield) = &media.shield {
                        shield.announce(session_id).await;
                    }
                    video_event(&state, session_id, true).await;
                    super::restream::start(&state, session_id);
                }
            }
        }
        // A publisher that never connects is given up after 30 s.
        if packager.is_none() && started.elapsed() > Duration::from_secs(30) {
            tracing::info!(
                %session_id,
                "publisher never sent a key frame; ending the broadcast"
            );
            break;
        }
        let wait = deadline.saturating_duration_since(Instant::now());
        let input = tokio::select! {
            r = socket.recv_from(&mut buf) => match r {
                Ok((n, source)) => match (&buf[..n]).try_into() {
                    Ok(contents) => Input::Receive(Instant::now(), Receive { proto: Protocol::Udp, source, destination: local, contents }),
                    Err(_) => continue,
                },
                Err(_) => continue,
            },
            () = tokio::time::sleep(wait.min(Duration::from_millis(250))) => Input::Timeout(Instant::now()),
            // Back to the top, where the request is sent.
            () = feed.keyframe_requested() => Input::Timeout(Instant::now()),
            _ = stop.changed() => break,
        };
        if let Err(e) = rtc.handle_input(input) {
            tracing::warn!(error = %e, %session_id, "WebRTC input failed");
            break;
        }
    }
    rtc.disconnect();
    media.fanout.close(&feed);
    if let Some(p) = packager {
        p.stop().await;
    }
    if let Some(id) = broadcast_id {
        let _ = shop_backend::repo::video::end_broadcast(&state.app.db, id).await;
    }
    media.broadcasts.finished(session_id, &resource);
    video_event(&state, session_id, false).await;
    tracing::info!(%session_id, "broadcast ended");
}

/// The video's frame rate, from the RTP timestamps of its frames (90 kHz clock).
#[derive(Default)]
struct FrameRate {
    last_ts: Option<u32>,
    frames: u32,
    since: Option<Instant>,
    estimate: Option<f64>,
}

impl FrameRate {
    fn packet(&mut self, ts: u32) {
        if self.last_ts != Some(ts) {
            self.last_ts = Some(ts);
            self.frames += 1;
        }
        self.since.get_or_insert_with(Instant::now);
    }

    /// Frames a second over the last 2 s or more, rounded to a whole number.
    fn per_second(&mut self) -> Option<f64> {
        let since = self.since?;
        let secs = since.elapsed().as_secs_f64();
        if secs >= 2.0 {
            self.estimate = Some((f64::from(self.frames) / secs).round().max(1.0));
            self.frames = 0;
            self.since = Some(Instant::now());
        }
        self.estimate
    }
}

/// Tells every viewer (on every node) that the video started or stopped.
async fn video_event(state: &crate::ServerState, session_id: SessionId, live: bool) {
    let change = shop_backend::changes::Change::Video { live };
    state.app.changes.emit(session_id, change).await;
}

/// Whether an SDP offer sends audio (it has an audio section that is not inactive).
pub fn offer_has_audio(sdp: &str) -> bool {
    sdp.split("m=")
        .skip(1)
        .any(|section| section.starts_with("audio") && !section.contains("a=inactive"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_sections_are_detected() {
        assert!(offer_has_audio(
            "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=sendonly\r\nm=video 9 x\r\n"
        ));
        assert!(!offer_has_audio(
            "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
        ));
        assert!(!offer_has_audio("v=0\r\nm=audio 0 x\r\na=inactive\r\n"));
    }
}
