//! WebRTC playback (WHEP, the WebRTC-HTTP Egress Protocol): a viewer POSTs an SDP offer to
//! `/whep/{session}` and gets the answer with 201 Created and its resource in `Location`
//! (DELETE it to leave). ICE-lite with one host candidate, like the WHIP ingest.
//!
//! Each viewer gets the host's RTP from the session's feed (`fanout`) as it arrives: no
//! transcoding, sequence numbers rebased per viewer (a fresh receiver expects SRTP's rollover
//! counter at 0), timestamps untouched, and the wall clock each packet reached the ingest node
//! given to str0m, whose RTCP sender reports then map the picture's RTP time to the server's
//! clock. That is what the player compares with the time of live events (`player.js`).
//!
//! A viewer starts at a key frame (asked for when it joins) and, having fallen behind, skips
//! to the next one. Each node takes at most `APP_WHEP_MAX_VIEWERS`: beyond, 503 and the
//! player falls back to HLS.

use shop_core::ids::SessionId;
use std::{
    collections::HashMap,
    sync::{atomic::Ordering, Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    body::Bytes,
    extract::{Path, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use str0m::{
    format::Codec,
    media::{MediaKind, Mid, Pt},
    net::{Protocol, Receive},
    rtp::{RtpWrite, SeqNo},
    Event, IceConnectionState, Input, Output, Rtc,
};
use tokio::{
    net::UdpSocket,
    sync::{broadcast::error::RecvError, watch},
};

use super::{
    fanout::{self, Feed, MediaCodec, MediaPacket},
    relay,
    signal::{self, refuse},
};
use crate::ServerState;

/// A viewer whose ICE and DTLS are not up within this long is dropped.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a viewer that ended still answers its DELETE with 200 (the player's DELETE often
/// crosses the server ending it: the broadcast stopped).
const ENDED_KEPT: Duration = Duration::from_secs(60);

/// The WebRTC viewers of this node, by resource id: the running ones with their stop switch,
/// and those that ended in the last minute.
#[derive(Default)]
pub struct Viewers {
    stops: Mutex<HashMap<String, (SessionId, ViewerState)>>,
}

/// A running viewer's stop switch, or when it ended.
type ViewerState = Result<watch::Sender<bool>, Instant>;

impl Viewers {
    fn add(&self, resource: String, session_id: SessionId) -> watch::Receiver<bool> {
        let (tx, rx) = watch::channel(false);
        let mut stops = self.stops.lock().unwrap_or_else(|p| p.into_inner());
        stops.retain(|_, (_, v)| v.as_ref().err().is_none_or(|at| at.elapsed() < ENDED_KEPT));
        stops.insert(resource, (session_id, Ok(tx)));
        rx
    }

    /// Stops the viewer; whether there was one (running, or ended a moment ago).
    fn stop(&self, session_id: SessionId, resource: &str) -> bool {
        let mut stops = self.stops.lock().unwrap_or_else(|p| p.into_inner());
        match stops.get(resource) {
            Some((s, v)) if *s == session_id => {
                if let Ok(tx) = v {
                    let _ = tx.send(true);
                }
                stops.remove(resource);
                true
            }
            _ => false,
        }
    }

    fn finished(&self, resource: &str) {
        if let Some(entry) = self
            .stops
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(resource)
        {
            entry.1 = Err(Instant::now());
        }
    }
}

/// Counts a viewer on this node for as long as it lives.
struct Seat(Arc<fanout::Fanout>);

impl Drop for Seat {
    fn drop(&mut self) {
        self.0.viewers.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Takes a seat if the node has one left.
fn take_seat(fanout: &Arc<fanout::Fanout>, max: usize) -> Option<Seat> {
    fanout
        .viewers
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < max).then_some(n + 1)
        })
        .ok()
        .map(|_| Seat(fanout.clone()))
}

/// `POST /whep/{session}`: the body is the viewer's SDP offer (receive only).
pub async fn play(
    State(state): State<ServerState>,
    Path(session): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(session_id) = session.parse::<SessionId>() else {
        return refuse(StatusCode::NOT_FOUND, "No such session.");
    };
    let (sdp, offer) = match signal::read_offer(&headers, &body) {
        Ok(o) => o,
        Err(refused) => return refused,
    };
    let media = &state.media;
    // The limit first: a full node answers at once, whatever is asked.
    let Some(seat) = take_seat(&media.fanout, media.settings.whep_max_viewers) else {
        media.fanout.refused.fetch_add(1, Ordering::Relaxed);
        return busy();
    };
    let Some(feed) = relay::feed_for(&state, session_id).await else {
        return refuse(
            StatusCode::NOT_FOUND,
            "This session is not broadcasting now.",
        );
    };
    let (socket, candidate) = match signal::peer_socket(media.settings.ip).await {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    let mut rtc = signal::lite_peer(candidate);
    let answer = match rtc.sdp_api().accept_offer(offer) {
        Ok(a) => a,
        Err(e) => {
            tracing::info!(error = %e, "refused a WHEP offer");
            return refuse(
                StatusCode::BAD_REQUEST,
                "The offer receives no video we can send (H.264 or VP8).",
            );
        }
    };
    let Some(tracks) = Tracks::negotiated(&rtc, sdp) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "The offer receives no video we can send (H.264 or VP8).",
        );
    };
    let Ok(resource) = shop_backend::crypto::random_token::<12>() else {
        return refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong on our side.",
        );
    };
    let stop = media.whep_viewers.add(resource.clone(), session_id);
    // The viewer starts at a key frame: ask for one now rather than wait for the next.
    feed.ask_keyframe();
    let clock = feed.clock();
    let viewers = media.whep_viewers.clone();
    let res_id = resource.clone();
    media.fanout.started.fetch_add(1, Ordering::Relaxed);
    tokio::spawn(async move {
        let outcome = run_viewer(rtc, socket, feed, tracks, stop).await;
        viewers.finished(&res_id);
        drop(seat);
        tracing::debug!(%session_id, ?outcome, "WebRTC viewer left");
    });
    let mut res = signal::created(
        answer.to_sdp_string(),
        &format!("/whep/{session_id}/{resource}"),
    );
    // How the player reads the server's clock of the frame on screen: the RTP time of a recent
    // frame and when it reached the ingest (ms), 90 kHz from there.
    if let Some(v) = clock
        .and_then(|(ts, us)| HeaderValue::from_str(&format!("{ts} {:.1}", us as f64 / 1000.0)).ok())
    {
        res.headers_mut().insert(RTP_CLOCK_HEADER, v);
    }
    res
}

/// `{rtp time} {unix ms}` of a recent video frame (see `Feed::clock`).
pub const RTP_CLOCK_HEADER: &str = "x-rtp-clock";

/// 503: the player falls back to HLS (and need not come back soon).
fn busy() -> Response {
    let mut r = refuse(
        StatusCode::SERVICE_UNAVAILABLE,
        "WebRTC playback is full on this server; play the HLS stream.",
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
    r
}

/// `DELETE /whep/{session}/{resource}`: the viewer leaves (the resource id is its capability).
pub async fn leave(
    State(state): State<ServerState>,
    Path((session, resource)): Path<(String, String)>,
) -> Response {
    let Ok(session_id) = session.parse::<SessionId>() else {
        return refuse(StatusCode::NOT_FOUND, "No such viewer.");
    };
    if state.media.whep_viewers.stop(session_id, &resource) {
        StatusCode::OK.into_response()
    } else {
        refuse(StatusCode::NOT_FOUND, "No such viewer.")
    }
}

/// Where each kind of packet goes in this viewer's session: the m-line and the payload type
/// the viewer's offer gave each codec.
#[derive(Debug, Clone, Default)]
struct Tracks {
    video: Option<Mid>,
    audio: Option<Mid>,
    h264: Option<Pt>,
    vp8: Option<Pt>,
    opus: Option<Pt>,
}

impl Tracks {
    fn negotiated(rtc: &Rtc, offer: &str) -> Option<Tracks> {
        let mut t = Tracks::default();
        let mids = offer
            .lines()
            .filter_map(|l| l.trim().strip_prefix("a=mid:"))
            .map(Mid::from);
        for mid in mids {
            let Some(m) = rtc.media(mid) else { continue };
            if !m.direction().is_sending() {
                continue;
            }
            let remote = m.remote_pts();
            let params = rtc
                .codec_config()
                .params()
                .iter()
                .filter(|p| remote.contains(&p.pt()));
            match m.kind() {
                MediaKind::Video if t.video.is_none() => {
                    t.video = Some(mid);
                    for p in params {
                        let spec = p.spec();
                        match spec.codec {
                            // Packetisation mode 1 (FU-A/STAP-A: what browsers send); the
                            // decoder reads the profile from the stream itself.
                            Codec::H264 if spec.format.packetization_mode == Some(1) => {
                                t.h264.get_or_insert(p.pt());
                            }
                            Codec::Vp8 => {
                                t.vp8.get_or_insert(p.pt());
                            }
                            _ => {}
                        }
                    }
                }
                MediaKind::Audio if t.audio.is_none() => {
                    t.audio = Some(mid);
                    t.opus = params
                        .filter(|p| p.spec().codec == Codec::Opus)
                        .map(|p| p.pt())
                        .next();
                }
                _ => {}
            }
        }
        (t.h264.is_some() || t.vp8.is_some()).then_some(t)
    }

    fn route(&self, codec: MediaCodec) -> Option<(Mid, Pt)> {
        match codec {
            MediaCodec::H264 => Some((self.video?, self.h264?)),
            MediaCodec::Vp8 => Some((self.video?, self.vp8?)),
            MediaCodec::Opus => Some((self.audio?, self.opus?)),
        }
    }
}

/// One viewer's outgoing sequence numbers: the publisher's, extended past 16 bits and rebased
/// to start at 1 (gaps kept, so the viewer sees what the host's uplink lost).
#[derive(Debug, Default)]
struct Renumber {
    base: Option<u64>,
    last: u64,
}

impl Renumber {
    fn next(&mut self, seq: u16) -> SeqNo {
        match self.base {
            None => {
                self.base = Some(u64::from(seq));
                self.last = u64::from(seq) + (1 << 16);
            }
            Some(_) => {
                let diff = i64::from(seq.wrapping_sub(self.last as u16) as i16);
                self.last = self.last.saturating_add_signed(diff);
            }
        }
        let base = self.base.unwrap_or_default() + (1 << 16);
        SeqNo::from(self.last.saturating_sub(base) + 1)
    }
}

#[derive(Debug)]
enum Outcome {
    Left,
    NeverConnected,
    BroadcastEnded,
    Failed,
}

async fn run_viewer(
    mut rtc: Rtc,
    socket: UdpSocket,
    feed: Arc<Feed>,
    tracks: Tracks,
    mut stop: watch::Receiver<bool>,
) -> Outcome {
    let Ok(local) = socket.local_addr() else {
        return Outcome::Failed;
    };
    let mut packets = feed.subscribe();
    let started = Instant::now();
    let mut connected = false;
    // Video waits for a key frame (at the start and after skipping ahead).
    let mut video_gated = true;
    let mut video_seq = Renumber::default();
    let mut audio_seq = Renumber::default();
    let mut buf = vec![0u8; 2048];
    let outcome = 'run: loop {
        let deadline = loop {
            match rtc.poll_output() {
                Ok(Output::Timeout(t)) => break t,
                Ok(Output::Transmit(t)) => {
                    let _ = socket.send_to(&t.contents, t.destination).await;
                }
                Ok(Output::Event(e)) => match e {
                    Event::Connected => connected = true,
                    Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                        break 'run Outcome::Left;
                    }
                    Event::KeyframeRequest(_) => feed.ask_keyframe(),
                    _ => {}
                },
                Err(e) => {
                    tracing::debug!(error = %e, "WebRTC viewer failed");
                    break 'run Outcome::Failed;
                }
            }
        };
        if !connected && started.elapsed() > CONNECT_TIMEOUT {
            break Outcome::NeverConnected;
        }
        if feed.is_closed() {
            break Outcome::BroadcastEnded;
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
            p = packets.recv() => {
                match p {
                    Ok(p) if connected => {
                        if p.codec.is_video() && video_gated {
                            if !p.keyframe {
                                continue;
                            }
                            video_gated = false;
                        }
                        let renumber = if p.codec.is_video() { &mut video_seq } else { &mut audio_seq };
                        forward(&mut rtc, &tracks, &p, renumber);
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => {
                        // Fell behind: the picture resumes at the next key frame.
                        video_gated = true;
                        feed.ask_keyframe();
                    }
                    Err(RecvError::Closed) => break Outcome::BroadcastEnded,
                }
                Input::Timeout(Instant::now())
            }
            () = tokio::time::sleep(wait.min(Duration::from_millis(250))) => Input::Timeout(Instant::now()),
            _ = stop.changed() => break Outcome::Left,
        };
        if let Err(e) = rtc.handle_input(input) {
            tracing::debug!(error = %e, "WebRTC viewer input failed");
            break Outcome::Failed;
        }
    };
    rtc.disconnect();
    outcome
}

fn forward(rtc: &mut Rtc, tracks: &Tracks, p: &MediaPacket, renumber: &mut Renumber) {
    let Some((mid, pt)) = tracks.route(p.codec) else {
        return;
    };
    let mut api = rtc.direct_api();
    let Some(tx) = api.stream_tx_by_mid(mid, None) else {
        return;
    };
    // The wall clock the packet reached the ingest node, as an Instant here (str0m maps it
    // back to the system clock in its sender reports).
    let age = Duration::from_micros(
        u64::try_from(fanout::unix_us_now().saturating_sub(p.received_us)).unwrap_or(0),
    );
    let now = Instant::now();
    let wallclock = now.checked_sub(age).unwrap_or(now);
    tx.write_rtp(
        RtpWrite::new(
            pt,
            renumber.next(p.seq),
            p.timestamp,
            wallclock,
            p.payload.clone(),
        )
        .marker(p.marker)
        .nackable(p.codec.is_video()),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_start_at_one_and_cross_the_16_bit_wrap() {
        let mut r = Renumber::default();
        assert_eq!(*r.next(65534), 1);
        assert_eq!(*r.next(65535), 2);
        assert_eq!(*r.next(0), 3);
        // A lost packet stays a gap; a late one goes back.
        assert_eq!(*r.next(2), 5);
        assert_eq!(*r.next(1), 4);
        let mut r = Renumber::default();
        assert_eq!(*r.next(10), 1);
        assert_eq!(*r.next(11), 2);
        // Late from before the first: never below zero.
        assert_eq!(*r.next(5), 1);
    }

    #[test]
    fn seats_are_limited_and_given_back() {
        let fanout = Arc::new(fanout::Fanout::default());
        let a = take_seat(&fanout, 2);
        let b = take_seat(&fanout, 2);
        assert!(a.is_some() && b.is_some());
        assert!(take_seat(&fanout, 2).is_none());
        drop(a);
        assert!(take_seat(&fanout, 2).is_some());
        assert!(take_seat(&fanout::Fanout::default().into(), 0).is_none());
    }
}
