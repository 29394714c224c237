//! The real binary as an operator runs it: configuration errors and signals.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

fn server_cmd() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_server"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    cmd
}

/// Starts the binary on a free port with a fresh SQLite database; returns it and its address
/// (read from the start-up line it prints).
fn start(dir: &tempfile::TempDir, extra: &[(&str, &str)]) -> (std::process::Child, String) {
    let mut cmd = server_cmd();
    cmd.env("APP_BIND", "127.0.0.1:0")
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/app.db", dir.path().display()),
        )
        .env("APP_DIST_DIR", dir.path().join("no-dist"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read");
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .expect("address in start-up line")
        .to_string();
    (child, addr)
}

/// Sends SIGTERM and waits for the exit, failing after `limit`.
fn terminate(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let started = Instant::now();
    loop {
        if let Some(s) = child.try_wait().expect("wait") {
            return s;
        }
        assert!(
            started.elapsed() < limit,
            "server did not stop within {limit:?} after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_bad_setting_stops_start_up_naming_it() {
    for (var, value) in [
        ("APP_BIND", "not-an-address"),
        ("APP_DEMO_DATA", "perhaps"),
        ("DATABASE_URL", "mysql://x/y"),
    ] {
        let out = server_cmd().env(var, value).output().expect("run server");
        assert_eq!(out.status.code(), Some(2), "{var}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(var), "{var}: {stderr}");
    }
}

/// One-time codes must reach real people on a real (https) deployment: without a configured
/// sender the server refuses to start, naming the setting.
#[test]
fn https_without_a_code_sender_refuses_to_start() {
    let out = server_cmd()
        .env("APP_PUBLIC_URL", "https://live.example.com")
        .env_remove("APP_SMS_SENDER")
        .output()
        .expect("run server");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("APP_SMS_SENDER"), "{stderr}");
}

#[test]
fn sigterm_shuts_down_gracefully() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut child, addr) = start(&dir, &[("APP_LOG", "info")]);
    let health = std::net::TcpStream::connect(&addr);
    assert!(health.is_ok(), "server accepts connections on {addr}");
    drop(health);

    let exit = terminate(&mut child, Duration::from_secs(15));
    assert!(exit.success(), "clean exit after SIGTERM: {exit:?}");
    let mut logs = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut logs).ok();
    assert!(logs.contains("shutting down"), "logs the shutdown: {logs}");
    assert!(
        std::net::TcpStream::connect(&addr).is_err(),
        "port closed after shutdown"
    );
}

#[test]
fn open_event_streams_do_not_hold_up_shutdown() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut child, addr) = start(
        &dir,
        &[("APP_DEMO_DATA", "true"), ("APP_SHUTDOWN_GRACE_SECS", "60")],
    );
    // Two viewers: one on a fresh connection (the lean path), one after another request on
    // the same connection (through hyper and axum).
    let mut lean = std::net::TcpStream::connect(&addr).expect("connect");
    lean.write_all(b"GET /live/1/events HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let mut reused = std::net::TcpStream::connect(&addr).expect("connect");
    reused.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /live/1/events HTTP/1.1\r\nHost: x\r\n\r\n").expect("write");
    let mut buf = [0u8; 4096];
    for s in [&mut lean, &mut reused] {
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let n = s.read(&mut buf).expect("a response starts");
        assert!(n > 0);
    }
    std::thread::sleep(Duration::from_millis(300));
    // Well inside the 60 s grace period: the open streams end at once.
    let exit = terminate(&mut child, Duration::from_secs(10));
    assert!(exit.success(), "{exit:?}");
}

/// Distributed mode refuses SQLite at start-up, naming both settings.
#[test]
fn redis_with_sqlite_is_refused_at_start_up() {
    let out = server_cmd()
        .env("REDIS_URL", "redis://127.0.0.1:1/")
        .env("DATABASE_URL", "sqlite://data/x.db")
        .output()
        .expect("run server");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("REDIS_URL") && stderr.contains("DATABASE_URL"),
        "{stderr}"
    );
}
