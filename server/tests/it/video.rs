//! Live video through the real server: a synthetic WebRTC publisher (str0m) goes through the
//! WHIP endpoint, ffmpeg packages HLS, the segments decode (ffprobe); refusals; the external
//! media-server backend's URLs and auth webhook.

use shop_core::ids::SessionId;
use std::time::Duration;

use crate::common::{
    demo_host, demo_session, spawn, spawn_with, whip_publisher, Backend, Client, Options, Sse,
};
use serde_json::{json, Value};

both_databases!(a_broadcast_becomes_decodable_hls_with_replay_markers);

// The broadcasts run ffmpeg and a WebRTC publisher each: one at a time, so two of them on the
// 2-core test machine never starve each other's first segment.
use crate::common::BROADCASTS as SERIAL;

fn ffprobe_streams(playlist: &std::path::Path) -> Vec<String> {
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name",
            "-of",
            "csv=p=0",
        ])
        .arg(playlist)
        .output()
        .expect("ffprobe runs (Debian package ffmpeg)");
    assert!(
        out.status.success(),
        "ffprobe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().trim_end_matches(',').to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// The test publisher (320x240 with audio) broadcasting for `secs` with the host's
/// credentials (`studio/broadcast`'s answer).
fn broadcast(
    info: &Value,
    secs: u64,
) -> tokio::task::JoinHandle<Result<whip_publisher::PublishReport, String>> {
    let mut opts =
        whip_publisher::PublishOptions::new(info["whip_url"].as_str().expect("url").to_string());
    opts.bearer_token = info["token"].as_str().map(String::from);
    opts.duration = Duration::from_secs(secs);
    opts.audio = true;
    tokio::spawn(whip_publisher::publish(opts))
}

/// Waits for the room's `video` event saying the broadcast is on; then `sessions/video` names
/// the live playlist. Returns what it answered.
async fn video_goes_live(sse: &mut Sse, viewer: &Client, sid: i64) -> Value {
    let live = sse
        .next_of("video", Duration::from_secs(20))
        .await
        .expect("video event");
    assert_eq!(live.data["live"], true);
    let (_, video) = viewer
        .get(&format!("/api/sessions/video?session_id={sid}"))
        .await;
    assert_eq!(video["hls_url"], format!("/hls/{sid}/live.m3u8"), "{video}");
    video
}

/// GET with headers; (status, headers, body).
async fn fetch(
    http: &reqwest::Client,
    url: &str,
    headers: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut req = http.get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    let h = res.headers().clone();
    (status, h, res.text().await.unwrap_or_default())
}

/// The URIs a playlist lists (variants or segments).
fn uris(playlist: &str) -> Vec<String> {
    playlist
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(String::from)
        .collect()
}

fn durations(playlist: &str) -> Vec<f64> {
    playlist
        .lines()
        .filter_map(|l| l.strip_prefix("#EXTINF:"))
        .filter_map(|d| d.trim_end_matches(',').parse().ok())
        .collect()
}

async fn a_broadcast_becomes_decodable_hls_with_replay_markers(b: Backend) {
    let _serial = SERIAL.lock().await;
    let Some(app) = spawn(b).await else { return };
    let (sid, products) = demo_session(&app).await;
    let host = demo_host(&app).await;
    host.call("studio/go_live", &[("session_id", sid.to_string())])
        .await;
    let (s, info) = host
        .call("studio/broadcast", &[("session_id", sid.to_string())])
        .await;
    assert_eq!(s, 200, "{info}");
    let whip_url = info["whip_url"].as_str().expect("whip url").to_string();
    assert_eq!(whip_url, format!("http://{}/whip/{sid}", app.addr));
    assert_eq!(info["hls_url"], format!("/hls/{sid}/live.m3u8"));
    let viewer = Client::new(&app);
    let mut sse = Sse::open(&viewer, sid, None).await;
    let (_, before) = viewer
        .get(&format!("/api/sessions/video?session_id={sid}"))
        .await;
    assert!(
        before["hls_url"].is_null(),
        "no video before the broadcast: {before}"
    );

    // The host presents a product a little into the broadcast (a replay marker).
    let presenter = {
        let host = demo_host(&app).await;
        let product = products[2];
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            host.call("studio/present", &[("product_id", product.to_string())])
                .await
        })
    };
    let publisher = broadcast(&info, 9);
    // While live: the multivariant playlist of the ladder, from memory. The test publisher
    // sends 320x240, so of the default ladder (source, 480p, 240p) 480p is left out.
    let during = video_goes_live(&mut sse, &viewer, sid).await;
    assert_eq!(during["live"], true);
    let base = format!("{}/hls/{sid}", viewer.base);
    let (status, h, master) = fetch(&viewer.http, &format!("{base}/live.m3u8"), &[]).await;
    assert_eq!(status, 200, "{master}");
    assert_eq!(h["cache-control"], "public, max-age=0, s-maxage=1");
    assert_eq!(h["content-type"], "application/vnd.apple.mpegurl");
    assert!(h.contains_key("last-modified"));
    let etag = h["etag"].to_str().expect("etag").to_string();
    let mut variants = uris(&master);
    variants.sort();
    assert_eq!(variants, ["live_240p.m3u8", "live_source.m3u8"], "{master}");
    assert!(
        master.contains("#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\""),
        "{master}"
    );
    assert!(master.contains("URI=\"live_audio.m3u8\""), "{master}");
    for attr in [
        "BANDWIDTH=",
        "AVERAGE-BANDWIDTH=",
        "RESOLUTION=320x240",
        "RESOLUTION=320x240,CODECS=\"avc1.42c0",
        "mp4a.40.2\"",
        "FRAME-RATE=30.000",
        "AUDIO=\"aud\"",
    ] {
        assert!(master.contains(attr), "{attr} missing: {master}");
    }
    let (status, _, _) = fetch(
        &viewer.http,
        &format!("{base}/live.m3u8"),
        &[("if-none-match", &etag)],
    )
    .await;
    assert_eq!(status, 304, "revalidation costs no body");
    let (_, h, media) = fetch(&viewer.http, &format!("{base}/live_240p.m3u8"), &[]).await;
    assert_eq!(h["cache-control"], "public, max-age=0, s-maxage=1");
    assert!(media.contains("#EXT-X-MEDIA-SEQUENCE:"), "{media}");
    assert!(media.contains("#EXT-X-DISCONTINUITY-SEQUENCE:0"), "{media}");
    assert!(media.contains("#EXT-X-PROGRAM-DATE-TIME:"), "{media}");
    assert!(!media.contains("#EXT-X-ENDLIST"));
    let first = uris(&media)[0].clone();
    let (status, h, _) = fetch(&viewer.http, &format!("{base}/{first}"), &[]).await;
    assert_eq!(status, 200);
    assert!(h["cache-control"]
        .to_str()
        .expect("cc")
        .contains("immutable"));

    let report = publisher.await.expect("publisher").expect("publisher runs");
    assert_eq!(report.status, 201);
    assert!(report.connected, "{report:?}");
    assert!(
        report.keyframe_requests >= 3,
        "keyframes requested about every second: {report:?}"
    );
    assert_eq!(report.delete_status, Some(200));
    assert_eq!(presenter.await.expect("presenter").0, 200);
    let ended = sse
        .next_of("video", Duration::from_secs(15))
        .await
        .expect("video stopped event");
    assert_eq!(ended.data["live"], false);

    // The live playlists end; the recording is complete, with every rendition.
    let (_, _, media) = fetch(&viewer.http, &format!("{base}/live_source.m3u8"), &[]).await;
    assert!(media.ends_with("#EXT-X-ENDLIST\n"), "{media}");
    let (status, h, index) = fetch(&viewer.http, &format!("{base}/index.m3u8"), &[]).await;
    assert_eq!(status, 200, "{index}");
    assert_eq!(h["content-type"], "application/vnd.apple.mpegurl");
    let mut variants = uris(&index);
    variants.sort();
    assert_eq!(variants, ["rec_240p.m3u8", "rec_source.m3u8"], "{index}");
    assert!(index.contains("URI=\"rec_audio.m3u8\""), "{index}");
    let (_, _, rec_source) = fetch(&viewer.http, &format!("{base}/rec_source.m3u8"), &[]).await;
    let (_, _, rec_240) = fetch(&viewer.http, &format!("{base}/rec_240p.m3u8"), &[]).await;
    assert!(
        rec_source.contains("#EXT-X-MAP:URI=\"source_"),
        "{rec_source}"
    );
    assert!(rec_source.ends_with("#EXT-X-ENDLIST\n"), "{rec_source}");
    let (src_d, low_d) = (durations(&rec_source), durations(&rec_240));
    assert!(src_d.len() >= 4, "{rec_source}");
    assert!(
        src_d.iter().all(|d| *d <= 2.1),
        "segments about 1 s: {src_d:?}"
    );
    // Key frames aligned: the encoded rendition is cut where the copied source is.
    assert_eq!(src_d.len(), low_d.len(), "{rec_source}\n{rec_240}");
    for (a, b) in src_d.iter().zip(&low_d) {
        assert!(
            (a - b).abs() < 0.05,
            "{src_d:?} vs {low_d:?}\n{rec_source}\n{rec_240}"
        );
    }
    assert_eq!(
        viewer
            .http
            .get(format!("{base}/stream.sdp"))
            .send()
            .await
            .expect("sdp")
            .status(),
        404
    );
    assert_eq!(
        viewer
            .http
            .get(format!("{base}/ff_0_source.m3u8"))
            .send()
            .await
            .expect("ffmpeg's own")
            .status(),
        404
    );

    // The recordings decode: H.264 video at both sizes, AAC audio.
    let dir = app.dir.path().join("media").join(sid.to_string());
    let streams = ffprobe_streams(&dir.join("rec_source.m3u8"));
    assert!(streams.iter().any(|s| s == "h264"), "{streams:?}");
    let audio = ffprobe_streams(&dir.join("rec_audio.m3u8"));
    assert!(audio.iter().any(|s| s == "aac"), "{audio:?}");
    let low = ffprobe_size(&dir.join("rec_240p.m3u8"));
    assert_eq!(low, "320x240");

    // Viewers get the recording and the replay markers.
    let (_, video) = viewer
        .get(&format!("/api/sessions/video?session_id={sid}"))
        .await;
    assert_eq!(video["hls_url"], format!("/hls/{sid}/index.m3u8"));
    assert_eq!(video["live"], false);
    let markers = video["markers"].as_array().expect("markers");
    assert_eq!(markers.len(), 1, "{video}");
    assert_eq!(markers[0]["product_id"], products[2]);
    let offset = markers[0]["offset_s"].as_f64().expect("offset");
    assert!(
        (0.0..7.0).contains(&offset),
        "presented about 3 s into the broadcast: {offset}"
    );
    app.stop().await;
}

fn ffprobe_size(playlist: &std::path::Path) -> String {
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=width,height",
            "-of",
            "csv=s=x:p=0",
        ])
        .arg(playlist)
        .output()
        .expect("ffprobe runs");
    // One line per segment file read; the first is enough.
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_session_host_may_publish() {
    let _serial = SERIAL.lock().await;
    let app = spawn(Backend::Sqlite).await.expect("sqlite");
    let (sid, _) = demo_session(&app).await;
    let url = format!("http://{}/whip/{sid}", app.addr);
    let key = &app.state.app.cookie_key;
    let try_publish = |token: Option<String>| {
        let mut o = whip_publisher::PublishOptions::new(url.clone());
        o.bearer_token = token;
        o.duration = Duration::from_millis(300);
        whip_publisher::publish(o)
    };
    assert_eq!(try_publish(None).await.expect("runs").status, 401);
    assert_eq!(
        try_publish(Some("not-a-token".into()))
            .await
            .expect("runs")
            .status,
        401
    );
    let other_session = shop_backend::media::publish_token(key, SessionId(sid + 1));
    assert_eq!(
        try_publish(Some(other_session)).await.expect("runs").status,
        401
    );

    // Shoppers and other hosts cannot get the credentials either.
    let shopper = Client::new(&app);
    shopper.me().await;
    assert_eq!(
        shopper
            .call("studio/broadcast", &[("session_id", sid.to_string())])
            .await
            .0,
        403
    );
    assert_eq!(
        Client::new(&app)
            .call("studio/broadcast", &[("session_id", sid.to_string())])
            .await
            .0,
        401
    );

    // Malformed requests with a valid token get clear refusals.
    let token = shop_backend::media::publish_token(key, SessionId(sid));
    let http = reqwest::Client::new();
    let post = |ctype: &'static str, body: &'static str| {
        http.post(&url)
            .bearer_auth(&token)
            .header("content-type", ctype)
            .body(body)
            .send()
    };
    assert_eq!(
        post("application/json", "{}").await.expect("req").status(),
        415
    );
    assert_eq!(
        post("application/sdp", "this is not sdp")
            .await
            .expect("req")
            .status(),
        400
    );
    // An ended session takes no broadcast.
    let host = demo_host(&app).await;
    host.call("studio/go_live", &[("session_id", sid.to_string())])
        .await;
    host.call("studio/end", &[("session_id", sid.to_string())])
        .await;
    let mut o = whip_publisher::PublishOptions::new(url.clone());
    o.bearer_token = Some(token.clone());
    o.duration = Duration::from_millis(300);
    assert_eq!(whip_publisher::publish(o).await.expect("runs").status, 409);
    app.stop().await;
}

#[tokio::test]
async fn the_external_backend_hands_out_its_urls_and_checks_publishers() {
    let opts = Options {
        extra: vec![
            ("APP_MEDIA_BACKEND", "external".into()),
            (
                "APP_MEDIA_WHIP_URL",
                "https://media.example.com/live/{session}/whip".into(),
            ),
            (
                "APP_MEDIA_HLS_URL",
                "https://cdn.example.com/live/{session}/index.m3u8".into(),
            ),
        ],
        ..Options::default()
    };
    let app = spawn_with(Backend::Sqlite, opts).await.expect("sqlite");
    let (sid, _) = demo_session(&app).await;
    let host = demo_host(&app).await;
    let (_, info) = host
        .call("studio/broadcast", &[("session_id", sid.to_string())])
        .await;
    assert_eq!(
        info["whip_url"],
        format!("https://media.example.com/live/{sid}/whip")
    );
    assert_eq!(
        info["hls_url"],
        format!("https://cdn.example.com/live/{sid}/index.m3u8")
    );
    let token = info["token"].as_str().expect("token").to_string();
    let hook = |body: Value| {
        let c = reqwest::Client::new();
        let url = format!("http://{}/media/auth", app.addr);
        async move {
            c.post(url)
                .json(&body)
                .send()
                .await
                .expect("hook")
                .status()
                .as_u16()
        }
    };
    let path = format!("live/{sid}");
    assert_eq!(
        hook(json!({ "action": "publish", "path": path, "password": token })).await,
        200
    );
    assert_eq!(
        hook(json!({ "action": "publish", "path": path, "password": "wrong" })).await,
        401
    );
    assert_eq!(
        hook(
            json!({ "action": "publish", "path": format!("live/{}", sid + 1), "password": token })
        )
        .await,
        401
    );
    assert_eq!(hook(json!({ "action": "read", "path": path })).await, 200);
    assert_eq!(
        hook(json!({ "action": "publish", "path": "elsewhere", "password": token })).await,
        401
    );
    app.stop().await;
}

/// The ffmpeg whose working directory is `dir` (the packager of one session).
fn ffmpeg_in(dir: &std::path::Path) -> Option<i32> {
    let want = std::fs::canonicalize(dir).ok()?;
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: i32 = e.file_name().to_string_lossy().parse().ok()?;
        let cwd = std::fs::read_link(e.path().join("cwd")).ok()?;
        let exe = std::fs::read_link(e.path().join("exe")).ok()?;
        (cwd == want && exe.to_string_lossy().contains("ffmpeg")).then_some(pid)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_packager_is_restarted_and_the_recording_continues() {
    let _serial = SERIAL.lock().await;
    let app = spawn(Backend::Sqlite).await.expect("sqlite");
    let (sid, _) = demo_session(&app).await;
    let host = demo_host(&app).await;
    host.call("studio/go_live", &[("session_id", sid.to_string())])
        .await;
    let (_, info) = host
        .call("studio/broadcast", &[("session_id", sid.to_string())])
        .await;
    let dir = app.dir.path().join("media").join(sid.to_string());
    let killer = {
        let dir = dir.clone();
        tokio::spawn(async move {
            for _ in 0..150 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if dir.join("live.m3u8").exists() {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            let pid = ffmpeg_in(&dir).expect("ffmpeg runs in the session's media dir");
            // SAFETY: killing a child process of the server under test.
            unsafe { libc_kill(pid) };
            pid
        })
    };
    let mut opts =
        whip_publisher::PublishOptions::new(info["whip_url"].as_str().expect("url").to_string());
    opts.bearer_token = info["token"].as_str().map(String::from);
    opts.duration = Duration::from_secs(12);
    let report = whip_publisher::publish(opts).await.expect("publisher runs");
    assert!(report.connected);
    let killed = killer.await.expect("killer");
    // Wait for the broadcast to wind down.
    for _ in 0..100 {
        if std::fs::read_to_string(dir.join("rec_source.m3u8"))
            .unwrap_or_default()
            .contains("#EXT-X-ENDLIST")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rec = std::fs::read_to_string(dir.join("rec_source.m3u8")).expect("recording");
    let files: Vec<String> = std::fs::read_dir(&dir)
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        rec.matches("#EXT-X-MAP:URI=\"source_").count() >= 2,
        "a second ffmpeg run continued the recording: {rec}\nfiles: {files:?}"
    );
    assert_eq!(rec.matches("#EXT-X-DISCONTINUITY").count(), 1, "{rec}");
    assert!(rec.ends_with("#EXT-X-ENDLIST\n"), "{rec}");
    // The live playlist numbers its window as the recording does, discontinuity included.
    let live = std::fs::read_to_string(dir.join("live_source.m3u8")).expect("live playlist");
    let seq: usize = live
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:"))
        .and_then(|v| v.parse().ok())
        .expect("media sequence");
    let window = uris(&live);
    let all = uris(&rec);
    assert!(window.len() <= 6, "{live}");
    assert_eq!(&all[seq..], &window[..], "{live}\n{rec}");
    assert!(live.contains("#EXT-X-DISCONTINUITY-SEQUENCE:"), "{live}");
    assert_ne!(ffmpeg_in(&dir), Some(killed));
    app.stop().await;
}

/// Live playlists are built when a segment lands, never on a request: a thousand viewers
/// asking at once read one build. Driven through the session's stream directly (segments
/// written as ffmpeg would), served by the real server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_playlist_requests_cost_no_build() {
    use bytes::Bytes;
    use server::media::{
        ladder::{Ladder, Source, SourceCodec},
        playlist::Listed,
    };
    let app = spawn(Backend::Sqlite).await.expect("sqlite");
    let (sid, _) = demo_session(&app).await;
    let streams = app.state.media.streams.clone();
    let stream = tokio::task::spawn_blocking(move || streams.open(SessionId(sid)))
        .await
        .expect("open");
    std::fs::create_dir_all(stream.dir()).expect("dir");
    let plan = Ladder::default().plan(Source {
        codec: SourceCodec::H264 {
            codecs: [0x42, 0xe0, 0x1f],
        },
        width: 1280,
        height: 720,
    });
    let names: Vec<String> = plan
        .iter()
        .map(|r| r.name.clone())
        .chain(["audio".to_string()])
        .collect();
    stream.begin_run(0, plan, true);
    let land = |n: u32| {
        for name in &names {
            let seg = Listed {
                uri: format!("{name}_0_t_{n:05}.m4s"),
                duration: 1.0,
                pdt: None,
                map: Some(format!("{name}_0_t_init.mp4")),
            };
            let body = vec![7u8; 1000 + n as usize];
            std::fs::write(stream.dir().join(&seg.uri), &body).expect("segment");
            stream
                .land(0, name, &seg, Bytes::from(body))
                .expect("landed");
        }
        stream.publish().expect("published");
    };
    for n in 0..3 {
        land(n);
    }
    let metrics = &app.state.media.streams.metrics;
    let builds = || metrics.builds.load(std::sync::atomic::Ordering::Relaxed);
    let before = builds();
    let url = format!("http://{}/hls/{sid}/live_480p.m3u8", app.addr);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(200)
        .build()
        .expect("client");
    let answers = futures::future::join_all((0..1000).map(|_| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let r = http.get(url).send().await.expect("request");
            let etag = r.headers()["etag"].to_str().expect("etag").to_string();
            (r.status().as_u16(), etag, r.text().await.expect("body"))
        }
    }))
    .await;
    assert!(answers.iter().all(|(s, ..)| *s == 200));
    assert!(answers
        .iter()
        .all(|a| a.1 == answers[0].1 && a.2 == answers[0].2));
    assert!(answers[0].2.contains("480p_0_t_00002.m4s"));
    assert_eq!(builds(), before, "requests build nothing");
    // One more segment of every rendition: each playlist and the master are built once.
    land(3);
    assert_eq!(builds(), before + names.len() as u64 + 1);
    let (_, h, text) = fetch(&http, &url, &[]).await;
    assert!(text.contains("480p_0_t_00003.m4s"));
    assert_ne!(h["etag"].to_str().expect("etag"), answers[0].1);
    // Recent segments come from memory, older ones from disk, all immutable.
    let (status, h, _) = fetch(
        &http,
        &format!("http://{}/hls/{sid}/source_0_t_00003.m4s", app.addr),
        &[],
    )
    .await;
    assert_eq!(status, 200);
    assert!(h["cache-control"]
        .to_str()
        .expect("cc")
        .contains("immutable"));
    app.stop().await;
}

/// Distributed mode without a shared filesystem: a viewer on node 2 plays a broadcast that
/// node 1 ingests (node 2 finds it through Redis) and node 2 fetches each file from node 1
/// once, however many of its viewers ask at the same moment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_on_another_node_plays_what_node_one_ingests() {
    let _serial = SERIAL.lock().await;
    let Some(c) = crate::common::cluster::Cluster::start(2).await else {
        return;
    };
    let (n1, n2) = (&c.nodes[0], &c.nodes[1]);
    let (sid, _) = demo_session(n1).await;
    let host = demo_host(n1).await;
    host.call("studio/go_live", &[("session_id", sid.to_string())])
        .await;
    let (_, info) = host
        .call("studio/broadcast", &[("session_id", sid.to_string())])
        .await;
    let viewer = c.client(1);
    let mut sse = Sse::open(&viewer, sid, None).await;
    let publisher = broadcast(&info, 10);
    video_goes_live(&mut sse, &viewer, sid).await;

    let on = |node: &crate::common::TestApp, file: &str| {
        format!("http://{}/hls/{sid}/{file}", node.addr)
    };
    let (status, _, master) = fetch(&viewer.http, &on(n2, "live.m3u8"), &[]).await;
    assert_eq!(status, 200, "{master}");
    assert!(master.contains("live_source.m3u8"), "{master}");
    let (status, _, media) = fetch(&viewer.http, &on(n2, "live_source.m3u8"), &[]).await;
    assert_eq!(status, 200, "{media}");
    let segment = uris(&media).last().expect("a segment").clone();
    let bytes = |url: String| {
        let http = viewer.http.clone();
        async move {
            let res = http.get(url).send().await.expect("segment");
            res.bytes().await.expect("bytes")
        }
    };
    let from_2 = bytes(on(n2, &segment)).await;
    let from_1 = bytes(on(n1, &segment)).await;
    assert!(!from_2.is_empty());
    assert_eq!(from_2, from_1, "the same bytes through node 2");
    assert!(
        !n2.dir.path().join("media").join(sid.to_string()).exists(),
        "node 2 keeps nothing on disk"
    );

    // A thousand requests at once on node 2: one origin fetch for the playlist (perhaps two,
    // if it went stale during the burst), one for a segment.
    let metrics = &n2.state.media.streams.metrics;
    let fetches = || {
        metrics
            .origin_fetches
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(200)
        .build()
        .expect("client");
    let burst = |url: String| {
        let http = http.clone();
        async move {
            futures::future::join_all((0..1000).map(|_| {
                let (http, url) = (http.clone(), url.clone());
                async move { http.get(url).send().await.map(|r| r.status().as_u16()) }
            }))
            .await
        }
    };
    // A segment node 2 has not fetched yet.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, _, media) = fetch(&http, &on(n1, "live_240p.m3u8"), &[]).await;
    let fresh = uris(&media).last().expect("a segment").clone();
    let before = fetches();
    let answers = burst(on(n2, &fresh)).await;
    assert!(
        answers.iter().all(|a| a.as_ref().ok() == Some(&200)),
        "{answers:?}"
    );
    assert_eq!(
        fetches() - before,
        1,
        "one origin fetch for 1,000 segment requests"
    );
    let before = fetches();
    let answers = burst(on(n2, "live_240p.m3u8")).await;
    assert!(answers.iter().all(|a| a.as_ref().ok() == Some(&200)));
    assert!(
        fetches() - before <= 3,
        "{} origin fetches",
        fetches() - before
    );

    let report = publisher.await.expect("publisher").expect("runs");
    assert!(report.connected);
    let ended = sse
        .next_of("video", Duration::from_secs(20))
        .await
        .expect("video stopped");
    assert_eq!(ended.data["live"], false);
    // The recording replays through node 2 too.
    let (status, _, index) = fetch(&viewer.http, &on(n2, "index.m3u8"), &[]).await;
    assert_eq!(status, 200, "{index}");
    assert!(index.contains("rec_source.m3u8"), "{index}");
    let mut done = false;
    for _ in 0..20 {
        let (_, _, rec) = fetch(&viewer.http, &on(n2, "rec_source.m3u8"), &[]).await;
        if rec.ends_with("#EXT-X-ENDLIST\n") {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(done, "the recording through node 2 is complete");
}

/// SIGKILL (the crash the supervisor must survive).
unsafe fn libc_kill(pid: i32) {
    extern "C" {
        fn kill(pid: i32, sig: i32) -> i32;
    }
    kill(pid, 9);
}

/// Whatever is asked under `/hls/`: a clear 404 (or the file), never a 5xx, nothing served
/// outside a session's directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_hls_paths_get_404_never_5xx() {
    let app = spawn(Backend::Sqlite).await.expect("sqlite");
    let (sid, _) = demo_session(&app).await;
    let dir = app.dir.path().join("media").join(sid.to_string());
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("stream.sdp"), "v=0").expect("sdp");
    std::fs::write(app.dir.path().join("media").join("secret.m4s"), "no").expect("secret");
    let http = reqwest::Client::new();
    let pieces = [
        "live.m3u8",
        "live_source.m3u8",
        "index.m3u8",
        "rec_240p.m3u8",
        "stream.sdp",
        "..%2Fsecret.m4s",
        "%2e%2e%2fsecret.m4s",
        "..",
        "ff_0_source.m3u8",
        "a.m4s",
        "x_init.mp4",
        "%00.m4s",
        "%C3%A9.m3u8",
        "live.m3u8%3F",
        "",
    ];
    let sessions = [
        sid.to_string(),
        "0".into(),
        "-1".into(),
        "99999999999999999999".into(),
        "abc".into(),
        "..".into(),
    ];
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..600 {
        let s = &sessions[(next() % sessions.len() as u64) as usize];
        let mut file = pieces[(next() % pieces.len() as u64) as usize].to_string();
        if next() % 3 == 0 {
            let len = (next() % 200) as usize;
            file = (0..len)
                .map(|_| char::from(b"abc_.%2F09zZ"[(next() % 12) as usize]))
                .collect();
        }
        let url = format!("http://{}/hls/{s}/{file}", app.addr);
        let res = http.get(&url).send().await.expect("answered");
        let status = res.status().as_u16();
        assert!(status < 500, "{url}: {status}");
        if status == 200 {
            let body = res.text().await.unwrap_or_default();
            assert!(
                !body.contains("no") && !body.contains("v=0"),
                "{url} served {body}"
            );
        }
    }
    app.stop().await;
}
