//! Self-test of tests/it/common/whip_publisher.rs against a minimal in-test WHIP answerer
//! (axum + str0m), independent of the server's own WHIP endpoint.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::whip_publisher::{self, publish, PublishOptions};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use axum::Router;
use str0m::change::SdpOffer;
use str0m::format::Codec;
use str0m::media::{KeyframeRequestKind, MediaKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcConfig};
use tokio::net::UdpSocket;
use tokio::sync::Notify;

#[derive(Default)]
struct Counters {
    video_frames: AtomicU64,
    audio_frames: AtomicU64,
    plis_sent: AtomicU64,
    connected: AtomicBool,
    deleted: AtomicBool,
    loop_ended: AtomicBool,
}

struct Answerer {
    token: Option<String>,
    /// ICE-lite answerer, like the server's WHIP endpoint.
    ice_lite: bool,
    counters: Arc<Counters>,
    stop: Arc<Notify>,
}

async fn start_answerer(token: Option<&str>, ice_lite: bool) -> (SocketAddr, Arc<Answerer>) {
    let state = Arc::new(Answerer {
        token: token.map(str::to_string),
        ice_lite,
        counters: Arc::new(Counters::default()),
        stop: Arc::new(Notify::new()),
    });
    let app = Router::new()
        .route("/whip/{id}", post(whip_post))
        .route("/whip/resource/{id}", delete(whip_delete))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the answerer's HTTP listener");
    let addr = listener.local_addr().expect("listener address");
    tokio::spawn(async move {
        axum::serve(listener, app)
            .await
            .expect("answerer HTTP server");
    });
    (addr, state)
}

async fn whip_post(
    State(st): State<Arc<Answerer>>,
    Path(_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(token) = &st.token {
        let expected = format!("Bearer {token}");
        let got = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if got != Some(expected.as_str()) {
            return StatusCode::UNAUTHORIZED.into_response();
        }
    }
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if ctype != "application/sdp" {
        return StatusCode::UNSUPPORTED_MEDIA_TYPE.into_response();
    }
    let Ok(text) = std::str::from_utf8(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let Ok(offer) = SdpOffer::from_sdp_string(text) else {
        return StatusCode::BAD_REQUEST.into_response();
    };

    let mut rtc = RtcConfig::new()
        .clear_codecs()
        .enable_h264(true)
        .enable_opus(true, false)
        .set_ice_lite(st.ice_lite)
        .build(Instant::now());
    let socket = UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind the answerer's UDP socket");
    let addr = socket.local_addr().expect("UDP local address");
    rtc.add_local_candidate(Candidate::host(addr, "udp").expect("host candidate"));
    let answer = match rtc.sdp_api().accept_offer(offer) {
        Ok(a) => a,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    tokio::spawn(run_answerer(
        rtc,
        socket,
        st.counters.clone(),
        st.stop.clone(),
    ));
    (
        StatusCode::CREATED,
        [
            (header::CONTENT_TYPE, "application/sdp"),
            (header::LOCATION, "/whip/resource/1"),
        ],
        answer.to_sdp_string(),
    )
        .into_response()
}

async fn whip_delete(State(st): State<Arc<Answerer>>, Path(_id): Path<String>) -> StatusCode {
    st.counters.deleted.store(true, Ordering::SeqCst);
    st.stop.notify_one();
    StatusCode::OK
}

/// Drives the answering Rtc: counts received frames, sends a PLI every second on the video mid.
async fn run_answerer(mut rtc: Rtc, socket: UdpSocket, c: Arc<Counters>, stop: Arc<Notify>) {
    let local = socket.local_addr().expect("UDP local address");
    let mut buf = vec![0u8; 2000];
    let mut video_mid: Option<Mid> = None;
    let mut next_pli = Instant::now() + Duration::from_secs(1);
    let give_up = Instant::now() + Duration::from_secs(60);
    loop {
        // Drain.
        let timeout = loop {
            match rtc.poll_output() {
                Ok(Output::Timeout(t)) => break Some(t),
                Ok(Output::Transmit(t)) => {
                    let _ = socket.send_to(&t.contents, t.destination).await;
                }
                Ok(Output::Event(e)) => match e {
                    Event::Connected => c.connected.store(true, Ordering::SeqCst),
                    Event::MediaAdded(m) if m.kind == MediaKind::Video => video_mid = Some(m.mid),
                    Event::MediaData(d) => {
                        if d.params.spec().codec == Codec::H264 {
                            c.video_frames.fetch_add(1, Ordering::SeqCst);
                        } else if d.params.spec().codec == Codec::Opus {
                            c.audio_frames.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    Event::IceConnectionStateChange(IceConnectionState::Disconnected)
                    | Event::Closed => break None,
                    _ => {}
                },
                Err(e) => {
                    eprintln!("answerer poll_output: {e}");
                    break None;
                }
            }
        };
        let Some(timeout) = timeout else { break };
        if !rtc.is_alive() || Instant::now() > give_up {
            break;
        }
        let now = Instant::now();
        if now >= next_pli {
            next_pli = now + Duration::from_secs(1);
            if let (true, Some(mid)) = (c.connected.load(Ordering::SeqCst), video_mid) {
                if let Some(mut w) = rtc.writer(mid) {
                    if w.request_keyframe(None, KeyframeRequestKind::Pli).is_ok() {
                        c.plis_sent.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
            continue; // drain after the mutation
        }
        let wake = timeout.min(next_pli);
        let input = tokio::select! {
            r = socket.recv_from(&mut buf) => match r {
                Ok((n, source)) => match buf[..n].try_into() {
                    Ok(contents) => Input::Receive(Instant::now(), Receive {
                        proto: Protocol::Udp, source, destination: local, contents,
                    }),
                    Err(_) => continue,
                },
                Err(_) => continue,
            },
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => {
                Input::Timeout(Instant::now())
            }
            _ = stop.notified() => break,
        };
        if let Err(e) = rtc.handle_input(input) {
            eprintln!("answerer handle_input: {e}");
            break;
        }
    }
    c.loop_ended.store(true, Ordering::SeqCst);
}

#[test]
fn access_unit_and_ogg_parsing() {
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let media = rt
        .block_on(whip_publisher::generate_media(
            Duration::from_secs(2),
            30,
            true,
        ))
        .expect("generate media with ffmpeg");
    assert_eq!(media.video.len(), 60, "one access unit per frame");
    // IDR (type 5) every 30 frames, with SPS/PPS in front of it.
    for (i, au) in media.video.iter().enumerate() {
        let types: Vec<u8> = whip_publisher::annexb_nals(au)
            .iter()
            .map(|n| n[0] & 0x1f)
            .collect();
        if i % 30 == 0 {
            assert!(
                types.contains(&7) && types.contains(&8) && types.contains(&5),
                "AU {i}: {types:?}"
            );
        } else {
            assert_eq!(types, vec![1], "AU {i}");
        }
    }
    // 2.1 s of 20 ms packets (the encoder pads the tail a little).
    assert!(
        (100..=110).contains(&media.audio.len()),
        "{} Opus packets",
        media.audio.len()
    );
}

/// ICE-lite answerer (as the server's endpoint is), bearer token required.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_video_to_a_str0m_answerer() {
    let started = Instant::now();
    let (addr, st) = start_answerer(Some("secret"), true).await;
    let report = publish(PublishOptions {
        whip_url: format!("http://{addr}/whip/7"),
        bearer_token: Some("secret".into()),
        duration: Duration::from_secs(3),
        fps: 30,
        audio: false,
    })
    .await
    .expect("publish");
    eprintln!("video-only: {report:?} in {:?}", started.elapsed());
    assert_eq!(report.status, 201);
    assert_eq!(
        report.location.as_deref(),
        Some(format!("http://{addr}/whip/resource/1").as_str())
    );
    assert!(report.connected, "ICE/DTLS connected");
    assert!(!report.disconnected_early);
    assert!(
        (88..=91).contains(&report.frames_sent),
        "frames_sent = {}",
        report.frames_sent
    );
    assert_eq!(report.delete_status, Some(200));
    assert!(st.counters.deleted.load(Ordering::SeqCst));
    let received = st.counters.video_frames.load(Ordering::SeqCst);
    eprintln!(
        "answerer: {received} video frames, {} PLIs sent",
        st.counters.plis_sent.load(Ordering::SeqCst)
    );
    assert!(
        received * 10 >= report.frames_sent * 8,
        "answerer got {received} of {}",
        report.frames_sent
    );
    assert!(st.counters.plis_sent.load(Ordering::SeqCst) >= 1);
    assert!(
        report.keyframe_requests >= 1,
        "PLIs counted: {}",
        report.keyframe_requests
    );
}

/// Current-thread runtime on purpose: publisher and answerer share one thread.
#[tokio::test]
async fn publishes_video_and_audio() {
    let started = Instant::now();
    let (addr, st) = start_answerer(None, false).await;
    let report = publish(PublishOptions {
        whip_url: format!("http://{addr}/whip/8"),
        bearer_token: None,
        duration: Duration::from_secs(2),
        fps: 25,
        audio: true,
    })
    .await
    .expect("publish");
    eprintln!("video+audio: {report:?} in {:?}", started.elapsed());
    assert!(report.connected);
    assert!(
        (49..=51).contains(&report.frames_sent),
        "frames_sent = {}",
        report.frames_sent
    );
    assert!(
        report.audio_packets_sent == 100,
        "audio = {}",
        report.audio_packets_sent
    );
    let video = st.counters.video_frames.load(Ordering::SeqCst);
    let audio = st.counters.audio_frames.load(Ordering::SeqCst);
    eprintln!("answerer: {video} video frames, {audio} audio packets");
    assert!(video * 10 >= report.frames_sent * 8, "video {video}");
    assert!(audio * 10 >= report.audio_packets_sent * 8, "audio {audio}");
}

#[tokio::test]
async fn refusal_is_reported_not_an_error() {
    let (addr, st) = start_answerer(Some("secret"), false).await;
    let report = publish(PublishOptions {
        whip_url: format!("http://{addr}/whip/7"),
        bearer_token: Some("wrong".into()),
        ..PublishOptions::new("")
    })
    .await
    .expect("a refusal is Ok(report)");
    assert_eq!(report.status, 401);
    assert!(!report.connected);
    assert_eq!(report.frames_sent, 0);
    assert_eq!(report.location, None);
    assert!(!st.counters.connected.load(Ordering::SeqCst));
}
