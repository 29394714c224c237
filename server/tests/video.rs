//! Live video through the real server: a synthetic WebRTC publisher (str0m) goes through the
//! WHIP endpoint, ffmpeg packages HLS, the segments decode (ffprobe); refusals; the external
//! media-server backend's URLs and auth webhook.

mod common;

use std::time::Duration;

use common::{
    demo_host, demo_session, spawn, spawn_with, whip_publisher, Backend, Client, Options, Sse,
};
use serde_json::{json, Value};

both_databases!(a_broadcast_becomes_decodable_hls_with_replay_markers);

/// The broadcasts run ffmpeg and a WebRTC publisher each: one at a time, so two of them on the
/// 2-core test machine never starve each other's first segment.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

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
    assert_eq!(info["hls_url"], format!("/hls/{sid}/index.m3u8"));
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
    let mut opts = whip_publisher::PublishOptions::new(whip_url);
    opts.bearer_token = info["token"].as_str().map(String::from);
    opts.duration = Duration::from_secs(7);
    opts.audio = true;
    let report = whip_publisher::publish(opts).await.expect("publisher runs");
    assert_eq!(report.status, 201);
    assert!(report.connected, "{report:?}");
    assert!(
        report.keyframe_requests >= 3,
        "keyframes requested about every second: {report:?}"
    );
    assert_eq!(report.delete_status, Some(200));
    assert_eq!(presenter.await.expect("presenter").0, 200);

    let live = sse
        .next_of("video", Duration::from_secs(10))
        .await
        .expect("video event");
    assert_eq!(live.data["live"], true);
    let ended = sse
        .next_of("video", Duration::from_secs(15))
        .await
        .expect("video stopped event");
    assert_eq!(ended.data["live"], false);

    // The playlist: served uncached, complete (the broadcast ended), fMP4 segments of ~1 s.
    let res = viewer
        .http
        .get(format!("{}/hls/{sid}/index.m3u8", viewer.base))
        .send()
        .await
        .expect("playlist");
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-cache");
    assert_eq!(
        res.headers()["content-type"],
        "application/vnd.apple.mpegurl"
    );
    let playlist = res.text().await.expect("text");
    assert!(playlist.contains("#EXT-X-MAP:URI=\"init_"), "{playlist}");
    assert!(
        playlist.contains("#EXT-X-ENDLIST"),
        "a finished broadcast is a complete recording: {playlist}"
    );
    let segments: Vec<&str> = playlist.lines().filter(|l| l.ends_with(".m4s")).collect();
    assert!(segments.len() >= 3, "{playlist}");
    let durations: Vec<f64> = playlist
        .lines()
        .filter_map(|l| l.strip_prefix("#EXTINF:"))
        .filter_map(|d| d.trim_end_matches(',').parse().ok())
        .collect();
    assert!(
        durations.iter().all(|d| *d <= 2.1),
        "segments about 1 s: {durations:?}"
    );
    let seg = viewer
        .http
        .get(format!("{}/hls/{sid}/{}", viewer.base, segments[0]))
        .send()
        .await
        .expect("segment");
    assert_eq!(seg.status(), 200);
    assert!(seg.headers()["cache-control"]
        .to_str()
        .expect("cc")
        .contains("immutable"));
    assert_eq!(
        viewer
            .http
            .get(format!("{}/hls/{sid}/stream.sdp", viewer.base))
            .send()
            .await
            .expect("sdp")
            .status(),
        404
    );

    // The segments decode: H.264 video and AAC audio.
    let path = app
        .dir
        .path()
        .join("media")
        .join(sid.to_string())
        .join("index.m3u8");
    let streams = ffprobe_streams(&path);
    assert!(streams.iter().any(|s| s == "h264"), "{streams:?}");
    assert!(streams.iter().any(|s| s == "aac"), "{streams:?}");

    // Viewers get the playlist and the replay markers.
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
        (1.0..7.0).contains(&offset),
        "presented about 3 s into the recording: {offset}"
    );
    app.stop().await;
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
    let other_session = app::backend::media::publish_token(key, sid + 1);
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
    let token = app::backend::media::publish_token(key, sid);
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
            ("media_backend", "external".into()),
            (
                "media_whip_url",
                "https://media.example.com/live/{session}/whip".into(),
            ),
            (
                "media_hls_url",
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
            for _ in 0..100 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if dir.join("index.m3u8").exists() {
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
        if std::fs::read_to_string(dir.join("index.m3u8"))
            .unwrap_or_default()
            .contains("#EXT-X-ENDLIST")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let playlist = std::fs::read_to_string(dir.join("index.m3u8")).expect("playlist");
    let files: Vec<String> = std::fs::read_dir(&dir)
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let run1 = std::fs::read_to_string(dir.join("run_1.m3u8")).unwrap_or_default();
    assert!(
        playlist.matches("#EXT-X-MAP:URI=\"init_").count() >= 2,
        "a second ffmpeg run continued the playlist: {playlist}\nfiles: {files:?}\nrun_1: {run1}"
    );
    assert!(playlist.contains("#EXT-X-DISCONTINUITY"), "{playlist}");
    assert!(playlist.contains("#EXT-X-ENDLIST"), "{playlist}");
    assert_ne!(ffmpeg_in(&dir), Some(killed));
    app.stop().await;
}

/// SIGKILL (the crash the supervisor must survive).
unsafe fn libc_kill(pid: i32) {
    extern "C" {
        fn kill(pid: i32, sig: i32) -> i32;
    }
    kill(pid, 9);
}
