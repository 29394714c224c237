//! Memory bounds, measured on this test process (which runs the server): a live viewer that
//! stops reading, and image uploads (an image over the pixel budget is refused from its
//! header; parallel uploads decode one at a time). Their own test binary, and one test at a
//! time (`SERIAL`), so what each measures is its own.

#[path = "it/common/mod.rs"]
mod common;

use shop_core::ids::{SessionId, ShopperId};
use std::time::Duration;

use common::{demo_host, demo_session, spawn, spawn_with, Backend, Options};

/// Held by each test for its whole run.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A PNG of one colour: a few hundred KB that decode to `w * h * 4` bytes.
fn flat_png(w: u32, h: u32) -> Vec<u8> {
    let mut pixmap = resvg::tiny_skia::Pixmap::new(w, h).expect("pixmap");
    pixmap.fill(resvg::tiny_skia::Color::from_rgba8(200, 80, 120, 255));
    pixmap.encode_png().expect("png")
}

fn proc_status_kb(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn uploads_decode_within_a_bounded_memory_budget() {
    let _serial = SERIAL.lock().await;
    let Some(app) = spawn(Backend::Sqlite).await else {
        return;
    };
    let (sid, _) = demo_session(&app).await;
    let host = demo_host(&app).await;

    // 8000 x 8000 (64 megapixels, about 250 KB as PNG): refused from its header.
    let huge = flat_png(8000, 8000);
    assert!(huge.len() < 2 * 1024 * 1024, "{} bytes", huge.len());
    let before = proc_status_kb("VmRSS:").unwrap_or(0);
    let (s, v) = host.upload("cover", sid, huge, "huge.png").await;
    assert_eq!(s, 400, "{v}");
    assert!(
        v["BadRequest"]
            .as_str()
            .expect("message")
            .contains("megapixels"),
        "{v}"
    );
    drop(v);

    // Six uploads at once of a 31-megapixel image (125 MB decoded as RGBA each): they are
    // decoded one at a time (CONCURRENT_DECODES).
    let big = flat_png(5600, 5600);
    // Peak memory from here on (Linux: writing 5 to clear_refs resets VmHWM).
    let measured = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let base = proc_status_kb("VmRSS:").unwrap_or(before);
    let uploads = (0..6).map(|_| host.upload("cover", sid, big.clone(), "big.png"));
    for (s, v) in futures::future::join_all(uploads).await {
        assert_eq!(s, 200, "{v}");
    }
    if measured {
        let peak = proc_status_kb("VmHWM:").expect("VmHWM");
        let grew_mb = peak.saturating_sub(base) / 1024;
        // One decode peaks at about 200 MB; six at once would need well over 1 GB.
        assert!(
            grew_mb < 350,
            "peak memory grew by {grew_mb} MB while decoding six 31-megapixel uploads"
        );
        eprintln!("peak memory growth during six parallel 31-megapixel uploads: {grew_mb} MB");
    }
    app.stop().await;
}

/// Resident memory of this process (which runs the server), in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_keeps_server_memory_bounded() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _serial = SERIAL.lock().await;
    let app = spawn_with(Backend::Sqlite, Options::default())
        .await
        .expect("sqlite");
    let (sid, _) = demo_session(&app).await;
    let host = demo_host(&app).await;
    assert_eq!(
        host.call("studio/go_live", &[("session_id", sid.to_string())])
            .await
            .0,
        200
    );
    // A client that sends its request and then never reads.
    let mut slow = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    slow.write_all(format!("GET /live/{sid}/events HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .expect("write");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let room = app.state.app.live.get(SessionId(sid)).expect("room open");
    let before = rss_kib();
    // 40,000 events of ~2 KB: 80 MB that a queue per connection would have to hold.
    let filler = "x".repeat(2_000);
    for i in 0..40_000 {
        room.publish(shop_core::model::LiveEvent::Chat {
            seq: 0,
            message: shop_core::model::ChatLine {
                id: i,
                shopper_id: ShopperId(1),
                nickname: "filler".into(),
                text: filler.clone(),
                at_ms: 0,
                host: false,
            },
        });
        if i % 2_000 == 0 {
            tokio::task::yield_now().await;
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let grown_mib = rss_kib().saturating_sub(before) / 1024;
    assert!(
        grown_mib < 24,
        "server memory grew by {grown_mib} MiB for a client that does not read"
    );
    // The slow client gets far less than was published: it was resynced or dropped.
    let mut got = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(Ok(n)) =
        tokio::time::timeout(Duration::from_millis(500), slow.read(&mut buf)).await
    {
        if n == 0 {
            break;
        }
        got += n;
    }
    assert!(
        got < 40 * 1024 * 1024,
        "read {got} bytes of ~80 MB published"
    );
    app.stop().await;
}
