//! Image uploads cannot exhaust the server's memory: an image whose decoded size is over the
//! pixel budget is refused from its header, and parallel uploads decode a bounded number at a
//! time. Its own test binary, so the process's peak memory is this test's alone.

mod common;

use common::{demo_host, demo_session, spawn, Backend};

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
