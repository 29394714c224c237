//! WebRTC playback (WHEP) through the real server: a synthetic publisher (str0m) broadcasts
//! over WHIP and str0m viewers play it over WHEP, on the ingest node and through another
//! node's relay; the per-node limit answers 503; bad offers get clear 4xx.

use std::time::Duration;

use crate::common::{
    demo_host, demo_session, spawn, spawn_with, whep_viewer, whip_publisher, Backend, Options, Sse,
    TestApp,
};
use serde_json::Value;

// One broadcast at a time in this binary (each runs ffmpeg and a publisher on 2 cores).
use crate::common::BROADCASTS as SERIAL;

/// Starts a broadcast of `secs` on `app` (demo session, demo host) and waits until the room
/// says it is on. Returns the session, the publisher task, and the room stream.
async fn broadcasting(
    app: &TestApp,
    viewer_node: &TestApp,
    secs: u64,
) -> (
    i64,
    tokio::task::JoinHandle<Result<whip_publisher::PublishReport, String>>,
) {
    let (sid, _) = demo_session(app).await;
    let host = demo_host(app).await;
    host.call("studio/go_live", &[("session_id", sid.to_string())])
        .await;
    let (s, info): (u16, Value) = host
        .call("studio/broadcast", &[("session_id", sid.to_string())])
        .await;
    assert_eq!(s, 200, "{info}");
    let viewer = crate::common::Client::new(viewer_node);
    let mut sse = Sse::open(&viewer, sid, None).await;
    let mut opts =
        whip_publisher::PublishOptions::new(info["whip_url"].as_str().expect("url").to_string());
    opts.bearer_token = info["token"].as_str().map(String::from);
    opts.duration = Duration::from_secs(secs);
    opts.audio = true;
    let publisher = tokio::spawn(whip_publisher::publish(opts));
    let live = sse
        .next_of("video", Duration::from_secs(20))
        .await
        .expect("video event");
    assert_eq!(live.data["live"], true);
    (sid, publisher)
}

fn whep_url(app: &TestApp, sid: i64) -> String {
    format!("http://{}/whep/{sid}", app.addr)
}

fn assert_plays(r: &whep_viewer::ViewReport) {
    eprintln!("{r:?}");
    assert_eq!(r.status, 201, "{}", r.refusal);
    assert!(r.connected, "ICE + DTLS came up: {r:?}");
    assert!(r.keyframes >= 1, "started at a key frame: {r:?}");
    assert!(r.frames >= 30, "frames flowed: {r:?}");
    assert!(r.audio_packets >= 50, "audio flowed: {r:?}");
    assert!(r.loss() < 0.01, "loss {:.3}: {r:?}", r.loss());
    assert_eq!(r.video_codec.as_deref(), Some("H264"));
    assert_eq!(r.delete_status, Some(200), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whep_viewer_plays_the_broadcast_from_a_key_frame() {
    let _serial = SERIAL.lock().await;
    let app = spawn(Backend::Sqlite).await.expect("sqlite");
    let (sid, publisher) = broadcasting(&app, &app, 10).await;
    let report = whep_viewer::view(whep_viewer::ViewOptions::new(
        whep_url(&app, sid),
        Duration::from_secs(3),
    ))
    .await
    .expect("viewer runs");
    assert_plays(&report);
    // The join asked the publisher for a key frame: the first came well before the 1 s
    // schedule would have sent one, counting ICE and DTLS.
    assert!(
        report.first_keyframe_after < Some(Duration::from_secs(3)),
        "{report:?}"
    );
    // The HLS segments carry the wall clock at which the ingest received their first frame
    // (what the card sync compares with the events' time): the newest ends about now.
    let playlist = app
        .get(&format!("/hls/{sid}/live_source.m3u8"))
        .await
        .text()
        .await
        .expect("playlist");
    let (pdt, duration) = last_segment_clock(&playlist).expect("a PROGRAM-DATE-TIME");
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as f64;
    let end = pdt + duration * 1000.0;
    assert!(
        end <= now_ms + 100.0 && end > now_ms - 3000.0,
        "segment ends {} ms before now: {playlist}",
        now_ms - end
    );
    let metrics = app.get("/metrics").await.text().await.expect("metrics");
    assert!(metrics.contains("live_whep_viewers_total 1"), "{metrics}");
    // The viewer left: its seat is free again.
    assert!(metrics.contains("live_whep_viewers 0"), "{metrics}");
    let report = publisher.await.expect("publisher").expect("runs");
    assert!(report.keyframe_requests >= 1);
    // After the broadcast: nothing to play over WebRTC (the player goes to the recording).
    let res = reqwest::Client::new()
        .post(whep_url(&app, sid))
        .header("content-type", "application/sdp")
        .body(offer())
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 404);
}

/// The newest segment's `EXT-X-PROGRAM-DATE-TIME` (ms since the epoch) and duration (s).
fn last_segment_clock(playlist: &str) -> Option<(f64, f64)> {
    let mut last = None;
    let mut pdt = None;
    for line in playlist.lines() {
        if let Some(t) = line.strip_prefix("#EXT-X-PROGRAM-DATE-TIME:") {
            pdt = t.parse::<jiff::Timestamp>().ok();
        } else if let Some(d) = line.strip_prefix("#EXTINF:") {
            let d: f64 = d.trim_end_matches(',').parse().ok()?;
            last = pdt.map(|p| (p.as_millisecond() as f64, d));
        }
    }
    last
}

/// A receive-only offer as a browser would send it.
fn offer() -> String {
    use str0m::media::{Direction, MediaKind};
    let mut rtc = str0m::RtcConfig::new().build(std::time::Instant::now());
    let addr = "127.0.0.1:9".parse().expect("addr");
    rtc.add_local_candidate(str0m::Candidate::host(addr, "udp").expect("candidate"));
    let mut api = rtc.sdp_api();
    api.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
    api.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None);
    api.apply().expect("offer").0.to_sdp_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_limit_answers_503_and_bad_offers_get_clear_errors() {
    let _serial = SERIAL.lock().await;
    let app = spawn_with(
        Backend::Sqlite,
        Options {
            extra: vec![("APP_WHEP_MAX_VIEWERS", "1".into())],
            ..Options::default()
        },
    )
    .await
    .expect("sqlite");
    let http = reqwest::Client::new();
    let post = |url: String, ct: &'static str, body: Vec<u8>| {
        let http = http.clone();
        async move {
            let r = http
                .post(url)
                .header("content-type", ct)
                .body(body)
                .send()
                .await
                .expect("post");
            let status = r.status().as_u16();
            let retry = r
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap_or_default().to_string());
            (status, retry, r.text().await.unwrap_or_default())
        }
    };
    // Before any broadcast: not broadcasting (404), whatever the id.
    let (s, _, why) = post(whep_url(&app, 1), "application/sdp", offer().into()).await;
    assert_eq!(s, 404, "{why}");
    assert!(why.contains("not broadcasting"), "{why}");
    let (s, _, _) = post(
        format!("http://{}/whep/nope", app.addr),
        "application/sdp",
        offer().into(),
    )
    .await;
    assert_eq!(s, 404);
    let (s, _, _) = post(whep_url(&app, 1), "text/plain", offer().into()).await;
    assert_eq!(s, 415);
    let (s, _, _) = post(whep_url(&app, 1), "application/sdp", b"v=0 junk".to_vec()).await;
    assert_eq!(s, 400);
    let (s, _, _) = post(whep_url(&app, 1), "application/sdp", vec![0xff, 0xfe, 0x00]).await;
    assert_eq!(s, 400);
    let (s, _, _) = post(whep_url(&app, 1), "application/sdp", vec![b'a'; 200_000]).await;
    assert_eq!(s, 413);
    let gone = http
        .delete(format!("http://{}/whep/1/nosuchviewer", app.addr))
        .send()
        .await
        .expect("delete");
    assert_eq!(gone.status(), 404);

    let (sid, publisher) = broadcasting(&app, &app, 10).await;
    // One seat: the first viewer takes it, the second is told to play HLS.
    let first = tokio::spawn(whep_viewer::view(whep_viewer::ViewOptions::new(
        whep_url(&app, sid),
        Duration::from_secs(3),
    )));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (s, retry, why) = post(whep_url(&app, sid), "application/sdp", offer().into()).await;
    assert_eq!(s, 503, "{why}");
    assert!(retry.is_some(), "Retry-After");
    assert!(why.contains("HLS"), "{why}");
    assert_plays(&first.await.expect("task").expect("viewer"));
    // The seat is given back when the first viewer leaves.
    let again = whep_viewer::view(whep_viewer::ViewOptions::new(
        whep_url(&app, sid),
        Duration::from_secs(1),
    ))
    .await
    .expect("viewer");
    assert_eq!(again.status, 201, "{}", again.refusal);
    let metrics = app.get("/metrics").await.text().await.expect("metrics");
    assert!(metrics.contains("live_whep_refused_total 1"), "{metrics}");
    publisher.await.expect("publisher").expect("runs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_on_another_node_share_one_relayed_stream() {
    let _serial = SERIAL.lock().await;
    let Some(c) = crate::common::cluster::Cluster::start(2).await else {
        return;
    };
    let (n1, n2) = (&c.nodes[0], &c.nodes[1]);
    let (sid, publisher) = broadcasting(n1, n2, 10).await;
    // Two viewers on node 2 at once.
    let watch = || {
        whep_viewer::view(whep_viewer::ViewOptions::new(
            whep_url(n2, sid),
            Duration::from_secs(3),
        ))
    };
    let (a, b) = tokio::join!(watch(), watch());
    assert_plays(&a.expect("viewer a"));
    assert_plays(&b.expect("viewer b"));
    let relays = |n: &TestApp| {
        n.state
            .media
            .fanout
            .relays
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    assert_eq!(relays(n2), 1, "one stream from node 1 for both viewers");
    assert_eq!(relays(n1), 0, "node 1 ingests");
    // Only nodes may pull a feed.
    let res = reqwest::get(format!("http://{}/media/relay/{sid}", n1.addr))
        .await
        .expect("get");
    assert_eq!(res.status(), 401);
    let res = reqwest::Client::new()
        .get(format!("http://{}/media/relay/{sid}", n1.addr))
        .header("x-media-relay", "forged")
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 401);
    publisher.await.expect("publisher").expect("runs");
}
