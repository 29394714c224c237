//! The `viewers` scenario: many SSE viewers, a publisher at a fixed rate, latency and memory.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::{
        atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use serde_json::{json, Value};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpSocket,
    sync::Semaphore,
};

struct Opts {
    url: String,
    target: String,
    session: Option<i64>,
    connections: usize,
    rate: f64,
    duration: u64,
    pids: Vec<u32>,
    source_ips: u8,
    ramp: usize,
}

fn parse(args: Vec<String>) -> Result<Opts, String> {
    let mut o = Opts {
        url: "http://127.0.0.1:3000".into(),
        target: "ours".into(),
        session: None,
        connections: 1000,
        rate: 2.0,
        duration: 30,
        pids: Vec::new(),
        source_ips: 4,
        ramp: 256,
    };
    let mut it = args.into_iter();
    while let Some(flag) = it.next() {
        let v = it.next().ok_or(format!("{flag} needs a value"))?;
        let bad = |_: std::num::ParseIntError| format!("{flag}: bad value {v}");
        match flag.as_str() {
            "--url" => o.url = v.trim_end_matches('/').to_string(),
            "--target" => o.target = v,
            "--session" => o.session = Some(v.parse().map_err(bad)?),
            "--connections" => o.connections = v.parse().map_err(bad)?,
            "--rate" => o.rate = v.parse().map_err(|_| format!("--rate: bad value {v}"))?,
            "--duration" => o.duration = v.parse().map_err(bad)?,
            "--pids" => {
                o.pids = v
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(|s| s.parse().map_err(bad))
                    .collect::<Result<_, _>>()?
            }
            "--source-ips" => o.source_ips = v.parse().map_err(bad)?,
            "--ramp" => o.ramp = v.parse().map_err(bad)?,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if o.target != "ours" && o.target != "nchan" {
        return Err("--target is ours or nchan".into());
    }
    Ok(o)
}

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// Memory of the given processes, in KiB: the proportional set size (PSS), so pages shared
/// between processes (nginx workers and their shared-memory zone) are counted once in total.
fn rss_kib(pids: &[u32]) -> u64 {
    let field = |text: &str, name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    };
    pids.iter()
        .filter_map(|p| {
            std::fs::read_to_string(format!("/proc/{p}/smaps_rollup"))
                .ok()
                .and_then(|s| field(&s, "Pss:"))
                .or_else(|| {
                    std::fs::read_to_string(format!("/proc/{p}/status"))
                        .ok()
                        .and_then(|s| field(&s, "VmRSS:"))
                })
        })
        .sum()
}

/// Latencies in milliseconds, bucketed (0..=60,000 ms).
struct Histogram {
    buckets: Vec<AtomicU64>,
}

impl Histogram {
    fn new() -> Histogram {
        Histogram {
            buckets: (0..=60_000).map(|_| AtomicU64::new(0)).collect(),
        }
    }
    fn record(&self, us: i64) {
        let ms = (us.max(0) / 1000).min(60_000) as usize;
        self.buckets[ms].fetch_add(1, Ordering::Relaxed);
    }
    fn percentile(&self, p: f64) -> Option<u64> {
        let total: u64 = self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).sum();
        if total == 0 {
            return None;
        }
        let rank = ((total as f64) * p).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (ms, b) in self.buckets.iter().enumerate() {
            seen += b.load(Ordering::Relaxed);
            if seen >= rank {
                return Some(ms as u64);
            }
        }
        None
    }
}

struct Shared {
    /// When each product (by slot) was last published, µs since the epoch.
    published: Vec<AtomicI64>,
    hist: Histogram,
    events: AtomicU64,
    connected: AtomicUsize,
    open: AtomicUsize,
    errors: AtomicUsize,
    measuring: std::sync::atomic::AtomicBool,
}

const SLOTS: usize = 64;

fn host_port(url: &str) -> Result<(String, SocketAddr), String> {
    let hp = url
        .split("://")
        .nth(1)
        .ok_or("url needs a scheme")?
        .split('/')
        .next()
        .unwrap_or("");
    let addr: SocketAddr = hp
        .parse()
        .map_err(|_| format!("url must be http://IP:PORT, got {hp}"))?;
    Ok((hp.to_string(), addr))
}

/// One viewer: a raw HTTP/1.1 request, then the stream read in small reads.
async fn viewer(
    i: usize,
    addr: SocketAddr,
    host: String,
    path: String,
    source_ips: u8,
    shared: Arc<Shared>,
    gate: Arc<Semaphore>,
) {
    // Released once the stream is open: it limits handshakes in flight, not open streams.
    let mut permit = Some(gate.acquire_owned().await);
    let src = IpAddr::V4(Ipv4Addr::new(
        127,
        0,
        0,
        1 + (i % usize::from(source_ips.max(1))) as u8,
    ));
    let connect = async {
        let sock = TcpSocket::new_v4().map_err(|e| e.to_string())?;
        sock.bind(SocketAddr::new(src, 0))
            .map_err(|e| e.to_string())?;
        let mut s = sock.connect(addr).await.map_err(|e| e.to_string())?;
        let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\nUser-Agent: loadgen\r\n\r\n");
        s.write_all(req.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(s)
    };
    let mut stream = match tokio::time::timeout(Duration::from_secs(30), connect).await {
        Ok(Ok(s)) => s,
        _ => {
            shared.errors.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    let mut buf = vec![0u8; 2048];
    let mut pending: Vec<u8> = Vec::new();
    let mut headers_done = false;
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        pending.extend_from_slice(&buf[..n]);
        if !headers_done {
            let Some(end) = find(&pending, b"\r\n\r\n") else {
                continue;
            };
            if !pending.starts_with(b"HTTP/1.1 200") {
                shared.errors.fetch_add(1, Ordering::Relaxed);
                return;
            }
            headers_done = true;
            shared.connected.fetch_add(1, Ordering::Relaxed);
            shared.open.fetch_add(1, Ordering::Relaxed);
            permit.take();
            pending.drain(..end + 4);
        }
        while let Some(end) = find(&pending, b"\n\n") {
            let event = &pending[..end];
            handle_event(event, &shared);
            pending.drain(..end + 2);
        }
        if pending.len() > 64 * 1024 {
            pending.clear();
        }
        if pending.capacity() > 16 * 1024 && pending.is_empty() {
            pending.shrink_to(1024);
        }
    }
    if headers_done {
        shared.open.fetch_sub(1, Ordering::Relaxed);
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn handle_event(event: &[u8], shared: &Shared) {
    let Some(data_at) = find(event, b"data: ") else {
        return;
    };
    let data = &event[data_at + 6..];
    if find(data, b"\"type\":\"hb\"").is_some() {
        return;
    }
    if !shared.measuring.load(Ordering::Relaxed) {
        return;
    }
    shared.events.fetch_add(1, Ordering::Relaxed);
    if find(data, b"\"presenting\"").is_none() {
        return;
    }
    let Some(at) = find(data, b"\"product_id\":") else {
        return;
    };
    let digits: String = data[at + 13..]
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .map(|c| *c as char)
        .collect();
    if let Ok(pid) = digits.parse::<usize>() {
        let sent = shared.published[pid % SLOTS].load(Ordering::Relaxed);
        if sent > 0 {
            shared.hist.record(now_us() - sent);
        }
    }
}

pub async fn run(args: Vec<String>) -> Result<Value, String> {
    let o = parse(args)?;
    let (host, addr) = host_port(&o.url)?;
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .map_err(|e| e.to_string())?;

    // The channel, and the products the publisher cycles through.
    let (path, products, session_id) = if o.target == "ours" {
        let list: Value = http
            .get(format!("{}/api/sessions/list", o.url))
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        let sid = o
            .session
            .or_else(|| list[0]["id"].as_i64())
            .ok_or("no session: start the server with APP_DEMO_DATA=true")?;
        let detail: Value = http
            .get(format!("{}/api/sessions/get?id={sid}", o.url))
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        let ids: Vec<i64> = detail["products"]
            .as_array()
            .ok_or("no products")?
            .iter()
            .filter_map(|p| p["id"].as_i64())
            .collect();
        let res = http
            .post(format!("{}/api/host/sign_in", o.url))
            .form(&[
                ("email", "sunjing@demo.live"),
                ("password", "xiaoxiaobao-demo"),
            ])
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !res.status().is_success() {
            return Err(format!("host sign-in failed: {}", res.status()));
        }
        http.post(format!("{}/api/studio/go_live", o.url))
            .form(&[("session_id", sid.to_string())])
            .send()
            .await
            .map_err(|e| e.to_string())?;
        (format!("/live/{sid}/events"), ids, sid)
    } else {
        ("/sub?id=bench".to_string(), (1..=16).collect(), 0)
    };

    let shared = Arc::new(Shared {
        published: (0..SLOTS).map(|_| AtomicI64::new(0)).collect(),
        hist: Histogram::new(),
        events: AtomicU64::new(0),
        connected: AtomicUsize::new(0),
        open: AtomicUsize::new(0),
        errors: AtomicUsize::new(0),
        measuring: std::sync::atomic::AtomicBool::new(false),
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = rss_kib(&o.pids);

    // Connect everyone (at most `ramp` handshakes in flight).
    let gate = Arc::new(Semaphore::new(o.ramp));
    let ramp_started = Instant::now();
    let mut tasks = Vec::with_capacity(o.connections);
    for i in 0..o.connections {
        tasks.push(tokio::spawn(viewer(
            i,
            addr,
            host.clone(),
            path.clone(),
            o.source_ips,
            shared.clone(),
            gate.clone(),
        )));
    }
    loop {
        let done = shared.connected.load(Ordering::Relaxed) + shared.errors.load(Ordering::Relaxed);
        if done >= o.connections || ramp_started.elapsed() > Duration::from_secs(300) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ramp_s = ramp_started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_connected = rss_kib(&o.pids);
    let connected = shared.connected.load(Ordering::Relaxed);

    // Publish at a fixed rate and measure.
    shared.measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    let period = Duration::from_secs_f64(1.0 / o.rate.max(0.01));
    let mut tick = tokio::time::interval(period);
    let mut published = 0u64;
    let mut publish_errors = 0u64;
    let mut peak_rss = rss_connected;
    while started.elapsed() < Duration::from_secs(o.duration) {
        tick.tick().await;
        let pid = products[published as usize % products.len()];
        shared.published[pid as usize % SLOTS].store(now_us(), Ordering::Relaxed);
        let res = if o.target == "ours" {
            http.post(format!("{}/api/studio/present", o.url))
                .form(&[("product_id", pid.to_string())])
                .send()
                .await
        } else {
            let body = json!({ "type": "presenting", "product": { "product_id": pid, "name": format!("Product {pid}"), "price": 12900 } });
            http.post(format!("{}/pub?id=bench", o.url))
                .body(body.to_string())
                .send()
                .await
        };
        match res {
            Ok(r) if r.status().is_success() => published += 1,
            _ => publish_errors += 1,
        }
        peak_rss = peak_rss.max(rss_kib(&o.pids));
    }
    // Let the last events arrive.
    tokio::time::sleep(Duration::from_secs(2)).await;
    shared.measuring.store(false, Ordering::Relaxed);
    let wall = started.elapsed().as_secs_f64();
    let events = shared.events.load(Ordering::Relaxed);
    let held = shared.open.load(Ordering::Relaxed);
    let errors = shared.errors.load(Ordering::Relaxed) + (connected - held.min(connected));
    for t in tasks {
        t.abort();
    }
    let per_conn = |rss: u64| {
        if connected > 0 {
            (rss.saturating_sub(rss_before) as f64 * 1024.0 / connected as f64).round()
        } else {
            0.0
        }
    };
    Ok(json!({
        "scenario": "viewers",
        "target": o.target,
        "session_id": session_id,
        "connections_requested": o.connections,
        "connections_held": held,
        "connect_s": (ramp_s * 10.0).round() / 10.0,
        "errors": errors,
        "rss_before_kib": rss_before,
        "rss_connected_kib": rss_connected,
        "rss_peak_kib": peak_rss,
        "bytes_per_connection": per_conn(rss_connected),
        "bytes_per_connection_peak": per_conn(peak_rss),
        "published": published,
        "publish_errors": publish_errors,
        "events_delivered": events,
        "events_per_s": (events as f64 / wall).round(),
        "latency_ms": {
            "p50": shared.hist.percentile(0.50),
            "p99": shared.hist.percentile(0.99),
            "max": shared.hist.percentile(1.0),
        }
    }))
}
