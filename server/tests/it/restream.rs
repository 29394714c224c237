//! Restreaming through the real server: a host adds a destination while broadcasting (the key
//! stored sealed, only ever answered masked); the broadcast arrives at a local RTMP server
//! (nginx with Debian's libnginx-mod-rtmp, started here) where ffprobe decodes H.264 and AAC;
//! the server goes away (the destination fails with a reason) and comes back on the same port
//! (live again, decodable again); disabling the destination stops the push, enabling it again
//! starts it, and the broadcast's end stops it. Then the studio functions' validation,
//! ownership and private-address rule.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{atomic::AtomicBool, Arc},
    time::{Duration, Instant},
};

use crate::common::{
    db, demo_host, demo_session, spawn, spawn_with, whip_publisher, Backend, Client, Options, Sse,
};
use serde_json::Value;

both_databases!(
    a_broadcast_is_pushed_to_rtmp_and_survives_the_server_going_away,
    destinations_are_validated_and_private_to_their_host,
);

// One broadcast (a WebRTC publisher, ffmpeg for HLS and one for the push) at a time on the
// 2-core test machine.
use crate::common::BROADCASTS as SERIAL;

const NGINX: &str = "/usr/sbin/nginx";
const RTMP_MODULE: &str = "/usr/lib/nginx/modules/ngx_rtmp_module.so";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A local RTMP server: nginx with the RTMP module (application `live`) and its statistics
/// (`/stat`, XML) over HTTP, in the foreground, with everything under a temp folder.
struct RtmpServer {
    child: Option<Child>,
    dir: tempfile::TempDir,
    rtmp_port: u16,
    http_port: u16,
}

impl RtmpServer {
    fn start() -> RtmpServer {
        for (path, package) in [(NGINX, "nginx-light"), (RTMP_MODULE, "libnginx-mod-rtmp")] {
            assert!(
                Path::new(path).exists(),
                "{path} is missing: install Debian's {package} (scripts/setup.sh test does)"
            );
        }
        let mut server = RtmpServer {
            child: None,
            dir: tempfile::tempdir().expect("tempdir"),
            rtmp_port: free_port(),
            http_port: free_port(),
        };
        server.run();
        server
    }

    fn conf(&self) -> PathBuf {
        let d = self.dir.path().display();
        let conf = format!(
            "load_module {RTMP_MODULE};
daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
rtmp {{
    server {{
        listen 127.0.0.1:{rtmp};
        application live {{ live on; record off; }}
    }}
}}
http {{
    access_log off;
    client_body_temp_path {d}/client-body;
    proxy_temp_path {d}/proxy-temp;
    fastcgi_temp_path {d}/fastcgi-temp;
    uwsgi_temp_path {d}/uwsgi-temp;
    scgi_temp_path {d}/scgi-temp;
    server {{
        listen 127.0.0.1:{http};
        location /stat {{ rtmp_stat all; }}
    }}
}}
",
            rtmp = self.rtmp_port,
            http = self.http_port,
        );
        let path = self.dir.path().join("nginx.conf");
        std::fs::write(&path, conf).expect("nginx.conf");
        path
    }

    /// Starts nginx (again, on the same ports) and waits until it takes connections.
    fn run(&mut self) {
        let child = Command::new(NGINX)
            .arg("-p")
            .arg(self.dir.path())
            .arg("-e")
            .arg(self.dir.path().join("error.log"))
            .arg("-c")
            .arg(self.conf())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("nginx starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.rtmp_port)).is_err() {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                let log =
                    std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default();
                panic!("nginx exited ({status}): {log}");
            }
            assert!(Instant::now() < deadline, "nginx did not listen in 10 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The server goes away at once (SIGKILL): its connections are reset.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// `rtmp://127.0.0.1:PORT/live/{key}`
    fn url(&self, key: &str) -> String {
        format!("rtmp://127.0.0.1:{}/live/{key}", self.rtmp_port)
    }

    /// How many clients publish to stream `key` now (nginx's statistics).
    async fn publishers(&self, key: &str) -> usize {
        let stat = reqwest::get(format!("http://127.0.0.1:{}/stat", self.http_port))
            .await
            .expect("stat")
            .text()
            .await
            .expect("stat body");
        stat.split("<stream>")
            .skip(1)
            .filter(|s| s.contains(&format!("<name>{key}</name>")))
            .flat_map(|s| s.split("<client>").skip(1))
            .filter(|c| {
                c.split("</client>")
                    .next()
                    .unwrap_or("")
                    .contains("<publishing/>")
            })
            .count()
    }
}

impl Drop for RtmpServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What ffprobe finds in `url`'s first 3 s: the streams' codec names, and the frames it
/// decoded of each.
async fn probe(url: &str) -> Vec<(String, u64)> {
    let run = tokio::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-rw_timeout",
            "15000000",
            "-read_intervals",
            "%+3",
            "-count_frames",
            "-show_entries",
            "stream=codec_name,nb_read_frames",
            "-of",
            "csv=p=0",
            url,
        ])
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("ffprobe finishes within 30 s")
        .expect("ffprobe runs (Debian package ffmpeg)");
    assert!(
        out.status.success(),
        "ffprobe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (codec, frames) = l.trim().trim_end_matches(',').split_once(',')?;
            Some((codec.to_string(), frames.parse().unwrap_or(0)))
        })
        .collect()
}

async fn assert_decodes(url: &str) {
    let streams = probe(url).await;
    for codec in ["h264", "aac"] {
        assert!(
            streams.iter().any(|(c, n)| c == codec && *n > 0),
            "{codec} frames decode from {url}: {streams:?}"
        );
    }
}

/// The host's destinations (`studio/restream/list`).
async fn destinations(host: &Client) -> Vec<Value> {
    let (s, v) = host.get("/api/studio/restream/list").await;
    assert_eq!(s, 200, "{v}");
    v.as_array().expect("a list").clone()
}

/// Waits until the host's only destination shows `state`; returns it.
async fn wait_for_state(host: &Client, state: &str, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let list = destinations(host).await;
        if list[0]["state"] == state {
            return list[0].clone();
        }
        assert!(
            Instant::now() < deadline,
            "not {state} within {within:?}: {}",
            list[0]
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn wait_for_publishers(rtmp: &RtmpServer, key: &str, n: usize, within: Duration) {
    let deadline = Instant::now() + within;
    while rtmp.publishers(key).await != n {
        assert!(
            Instant::now() < deadline,
            "not {n} publishers within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn a_broadcast_is_pushed_to_rtmp_and_survives_the_server_going_away(b: Backend) {
    let _serial = SERIAL.lock().await;
    let opts = Options {
        extra: vec![("APP_RESTREAM_ALLOW_PRIVATE", "true".into())],
        ..Options::default()
    };
    let Some(app) = spawn_with(b, opts).await else {
        return;
    };
    let mut rtmp = RtmpServer::start();
    let (sid, _) = demo_session(&app).await;
    let host = demo_host(&app).await;
    let (s, v) = host
        .call("studio/go_live", &[("session_id", sid.to_string())])
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, info) = host
        .call("studio/broadcast", &[("session_id", sid.to_string())])
        .await;
    assert_eq!(s, 200, "{info}");

    // The host broadcasts (a 5 s clip looped until told to stop).
    let viewer = Client::new(&app);
    let mut sse = Sse::open(&viewer, sid, None).await;
    let stop = Arc::new(AtomicBool::new(false));
    let mut opts =
        whip_publisher::PublishOptions::new(info["whip_url"].as_str().expect("url").to_string());
    opts.bearer_token = info["token"].as_str().map(String::from);
    opts.duration = Duration::from_secs(120);
    opts.audio = true;
    let media = whip_publisher::MediaOptions {
        clip: Some(Duration::from_secs(5)),
        stop: Some(stop.clone()),
        ..Default::default()
    };
    let publisher = tokio::spawn(whip_publisher::publish_with(opts, media));
    let live = sse
        .next_of("video", Duration::from_secs(30))
        .await
        .expect("the broadcast goes live");
    assert_eq!(live.data["live"], true);

    // A destination added while live starts without touching the broadcast.
    let key = "sk_test_4b1d7e0c9a35f2";
    let (s, list) = host
        .call(
            "studio/restream/add",
            &[
                ("name", "Local RTMP".into()),
                ("url", format!("rtmp://127.0.0.1:{}/live", rtmp.rtmp_port)),
                ("key", key.into()),
            ],
        )
        .await;
    assert_eq!(s, 200, "{list}");
    assert!(
        !list.to_string().contains(key),
        "the key never comes back: {list}"
    );
    assert_eq!(list[0]["key_masked"], "••••35f2");
    assert_eq!(list[0]["enabled"], true);
    let id = list[0]["id"].as_i64().expect("id");
    // At rest the key is sealed: no column of the row holds it.
    let row: (String, String, String, String) = sqlx::query_as(
        "SELECT name, url, key_sealed, key_hint FROM restream_destinations WHERE id = $1",
    )
    .bind(id)
    .fetch_one(db(&app).await.pool())
    .await
    .expect("row");
    assert!(!format!("{row:?}").contains(key), "{row:?}");
    assert!(!row.2.contains("4b1d7e0c"), "{row:?}");

    let live = wait_for_state(&host, "live", Duration::from_secs(30)).await;
    assert!(live["reason"].is_null(), "{live}");
    wait_for_publishers(&rtmp, key, 1, Duration::from_secs(5)).await;
    assert_decodes(&rtmp.url(key)).await;

    // The server goes away: failing, with ffmpeg's reason, and retried.
    rtmp.kill();
    let failing = wait_for_state(&host, "failing", Duration::from_secs(30)).await;
    let reason = failing["reason"].as_str().expect("a reason").to_string();
    assert!(
        [
            "Broken pipe",
            "Connection reset",
            "Connection refused",
            "Input/output error"
        ]
        .iter()
        .any(|r| reason.contains(r)),
        "{failing}"
    );
    // It stays failing, retried in the background, saying why, while the server is away.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let still = destinations(&host).await;
    assert_eq!(still[0]["state"], "failing", "{}", still[0]);
    let reason = still[0]["reason"].as_str().expect("a reason");
    assert!(reason.contains("Connection refused"), "{}", still[0]);
    assert!(!still[0].to_string().contains(key), "{}", still[0]);
    // ... and is live again once the server is back on the same port.
    rtmp.run();
    wait_for_state(&host, "live", Duration::from_secs(45)).await;
    wait_for_publishers(&rtmp, key, 1, Duration::from_secs(5)).await;
    assert_decodes(&rtmp.url(key)).await;

    // Disabling stops the push; enabling starts it again.
    let (s, list) = host
        .call(
            "studio/restream/enable",
            &[("id", id.to_string()), ("enabled", "false".into())],
        )
        .await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(list[0]["state"], "off", "{list}");
    wait_for_publishers(&rtmp, key, 0, Duration::from_secs(10)).await;
    let (s, list) = host
        .call(
            "studio/restream/enable",
            &[("id", id.to_string()), ("enabled", "true".into())],
        )
        .await;
    assert_eq!(s, 200, "{list}");
    wait_for_state(&host, "live", Duration::from_secs(30)).await;
    wait_for_publishers(&rtmp, key, 1, Duration::from_secs(5)).await;

    // The broadcast ends: so does the push, and the destination waits for the next one.
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let report = publisher.await.expect("publisher").expect("publisher runs");
    assert!(report.connected, "{report:?}");
    wait_for_publishers(&rtmp, key, 0, Duration::from_secs(15)).await;
    wait_for_state(&host, "waiting", Duration::from_secs(15)).await;
    app.stop().await;
}

async fn destinations_are_validated_and_private_to_their_host(b: Backend) {
    // No APP_RESTREAM_ALLOW_PRIVATE: private addresses are refused.
    let Some(app) = spawn(b).await else { return };
    let add = |name: &str, url: &str, key: &str| {
        [
            ("name", name.to_string()),
            ("url", url.to_string()),
            ("key", key.to_string()),
        ]
    };
    let good = add(
        "YouTube",
        "rtmp://203.0.114.10/live2",
        "abcd-efgh-ijkl-mnop",
    );

    // Anonymous: 401; a shopper: 403.
    let anonymous = Client::new(&app);
    assert_eq!(anonymous.get("/api/studio/restream/list").await.0, 401);
    assert_eq!(anonymous.call("studio/restream/add", &good).await.0, 401);
    let shopper = Client::new(&app);
    shopper.me().await;
    assert_eq!(shopper.call("studio/restream/add", &good).await.0, 403);

    let host = demo_host(&app).await;
    let (s, list) = host.call("studio/restream/add", &good).await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(list[0]["url"], "rtmp://203.0.114.10/live2");
    assert_eq!(list[0]["key_masked"], "••••mnop");
    assert_eq!(list[0]["state"], "waiting");
    assert!(!list.to_string().contains("abcd-efgh"), "{list}");
    let id = list[0]["id"].as_i64().expect("id");

    // Bad input: 400 with a message that says what is wrong.
    for (form, says) in [
        (add("", "rtmp://example.com/live", "k"), "name"),
        (add("X", "http://example.com/live", "k"), "rtmp://"),
        (
            add("X", "rtmp://example.com", "k"),
            "not an RTMP server URL",
        ),
        (
            add("X", "rtmp://user:pw@example.com/live", "k"),
            "not an RTMP server URL",
        ),
        (
            add("X", "rtmp://example.com/live\n-f", "k"),
            "not an RTMP server URL",
        ),
        (
            add("X", &format!("rtmp://example.com/{}", "a".repeat(400)), "k"),
            "at most",
        ),
        (add("X", "rtmp://example.com/live", ""), "stream key"),
        (
            add("X", "rtmp://example.com/live", "two words"),
            "no spaces",
        ),
        (
            add("X", "rtmp://127.0.0.1:1935/live", "k"),
            "private network",
        ),
        (add("X", "rtmp://localhost/live", "k"), "private network"),
        (add("X", "rtmp://[::1]/live", "k"), "private network"),
        (
            add("X", "rtmps://192.168.1.20/live", "k"),
            "private network",
        ),
        (
            add("X", "rtmp://169.254.169.254/live", "k"),
            "private network",
        ),
    ] {
        let (s, v) = host.call("studio/restream/add", &form).await;
        assert_eq!(s, 400, "{form:?}: {v}");
        assert!(v.to_string().contains(says), "{form:?}: {v}");
    }

    // Another host sees none of them and cannot touch them: 404, as if there were none.
    let other = Client::new(&app);
    other.sign_up_host("Other host", "other@example.com").await;
    assert!(destinations(&other).await.is_empty());
    for (endpoint, form) in [
        (
            "studio/restream/enable",
            vec![("id", id.to_string()), ("enabled", "false".into())],
        ),
        ("studio/restream/delete", vec![("id", id.to_string())]),
    ] {
        let (s, v) = other.call(endpoint, &form).await;
        assert_eq!(s, 404, "{endpoint}: {v}");
    }
    let mine = destinations(&host).await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["enabled"], true);

    // At most 5 per host.
    for i in 2..=5 {
        let form = add(
            &format!("Platform {i}"),
            "rtmps://live.example.com:443/app",
            "key-12345678",
        );
        assert_eq!(host.call("studio/restream/add", &form).await.0, 200);
    }
    let (s, v) = host.call("studio/restream/add", &good).await;
    assert_eq!(s, 409, "{v}");

    // The owner switches it off and deletes it.
    let (s, list) = host
        .call(
            "studio/restream/enable",
            &[("id", id.to_string()), ("enabled", "false".into())],
        )
        .await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(list[0]["state"], "off");
    let (s, list) = host
        .call("studio/restream/delete", &[("id", id.to_string())])
        .await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(list.as_array().map(Vec::len), Some(4));
    assert_eq!(
        host.call("studio/restream/delete", &[("id", id.to_string())])
            .await
            .0,
        404
    );
    app.stop().await;
}
