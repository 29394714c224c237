//! The `viewers` scenario: many SSE viewers, a publisher at a fixed rate, latency and memory.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::{
        atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use serde_json::{json, Value};

use crate::histogram::Histogram;
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::{TcpSocket, TcpStream},
    sync::Semaphore,
};

struct Opts {
    urls: Vec<String>,
    target: String,
    session: Option<i64>,
    connections: usize,
    rate: f64,
    duration: u64,
    pids: Vec<u32>,
    source_ips: u8,
    ramp: usize,
    /// Seconds the opening of all viewers may take before the run goes on with those held.
    ramp_timeout: u64,
    processes: usize,
    /// Do what the real page does: fetch this viewer's prices before opening the stream (with
    /// the cookie it gets), and again whenever an event makes the real client refetch.
    client_requests: bool,
    /// Worker process `index` of `processes` (set by the parent, not by hand).
    worker: Option<usize>,
    path: Option<String>,
}

fn parse(args: Vec<String>) -> Result<Opts, String> {
    let mut o = Opts {
        urls: vec!["http://127.0.0.1:3000".into()],
        target: "ours".into(),
        session: None,
        connections: 1000,
        rate: 2.0,
        duration: 30,
        pids: Vec::new(),
        source_ips: 4,
        ramp: 256,
        ramp_timeout: 1200,
        processes: 1,
        client_requests: true,
        worker: None,
        path: None,
    };
    let mut it = args.into_iter();
    while let Some(flag) = it.next() {
        let v = it.next().ok_or(format!("{flag} needs a value"))?;
        let bad = |_: std::num::ParseIntError| format!("{flag}: bad value {v}");
        match flag.as_str() {
            "--url" | "--urls" => {
                o.urls = v
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(|u| u.trim_end_matches('/').to_string())
                    .collect()
            }
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
            "--ramp-timeout" => o.ramp_timeout = v.parse().map_err(bad)?,
            "--processes" => o.processes = v.parse::<usize>().map_err(bad)?.max(1),
            "--client-requests" => o.client_requests = v == "true",
            "--worker" => o.worker = Some(v.parse().map_err(bad)?),
            "--path" => o.path = Some(v),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if o.target != "ours" && o.target != "nchan" {
        return Err("--target is ours or nchan".into());
    }
    if o.urls.is_empty() {
        return Err("--urls needs at least one URL".into());
    }
    if o.target == "nchan" {
        o.client_requests = false; // nchan has no application behind it
    }
    Ok(o)
}

/// How long ago `since` (µs since the epoch) was.
fn since_us(since: i64) -> Duration {
    Duration::from_micros((now_us() - since).max(0) as u64)
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

#[derive(Default)]
struct Counters {
    events: AtomicU64,
    connected: AtomicUsize,
    open: AtomicUsize,
    errors: AtomicUsize,
    /// Requests a viewer made because the real page makes them: on opening, and per event.
    page_requests: AtomicU64,
    event_requests: AtomicU64,
    request_errors: AtomicU64,
}

struct Shared {
    /// When each product (by slot) was last published, µs since the epoch.
    published: Vec<AtomicI64>,
    /// Publish-to-receipt latency of `presenting` events.
    hist: Histogram,
    /// The same, per node (`--urls` order): where a tail comes from.
    per_node: Vec<Histogram>,
    /// Latency of the viewers' own requests (page open and per event).
    requests: Histogram,
    n: Counters,
    measuring: AtomicBool,
    session_id: i64,
    client_requests: bool,
}

impl Shared {
    fn new(session_id: i64, client_requests: bool, nodes: usize) -> Shared {
        Shared {
            published: (0..SLOTS).map(|_| AtomicI64::new(0)).collect(),
            hist: Histogram::new(),
            per_node: (0..nodes).map(|_| Histogram::new()).collect(),
            requests: Histogram::new(),
            n: Counters::default(),
            measuring: AtomicBool::new(false),
            session_id,
            client_requests,
        }
    }
    /// What this process saw, in the form the parent merges.
    fn report(&self) -> Value {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        json!({
            "connected": self.n.connected.load(Ordering::Relaxed),
            "open": self.n.open.load(Ordering::Relaxed),
            "errors": self.n.errors.load(Ordering::Relaxed),
            "events": l(&self.n.events),
            "page_requests": l(&self.n.page_requests),
            "event_requests": l(&self.n.event_requests),
            "request_errors": l(&self.n.request_errors),
            "latency": self.hist.sparse(),
            "latency_by_node": self.per_node.iter().map(Histogram::sparse).collect::<Vec<_>>(),
            "request_latency": self.requests.sparse(),
        })
    }
    fn absorb(&self, r: &Value) {
        let add =
            |a: &AtomicU64, k: &str| a.fetch_add(r[k].as_u64().unwrap_or(0), Ordering::Relaxed);
        let addu = |a: &AtomicUsize, k: &str| {
            a.fetch_add(r[k].as_u64().unwrap_or(0) as usize, Ordering::Relaxed)
        };
        addu(&self.n.connected, "connected");
        addu(&self.n.open, "open");
        addu(&self.n.errors, "errors");
        add(&self.n.events, "events");
        add(&self.n.page_requests, "page_requests");
        add(&self.n.event_requests, "event_requests");
        add(&self.n.request_errors, "request_errors");
        self.hist.merge(&r["latency"]);
        for (h, sparse) in self
            .per_node
            .iter()
            .zip(r["latency_by_node"].as_array().into_iter().flatten())
        {
            h.merge(sparse);
        }
        self.requests.merge(&r["request_latency"]);
    }
}

const SLOTS: usize = 64;

#[derive(Clone)]
struct Target {
    host: String,
    addr: SocketAddr,
}

fn target(url: &str) -> Result<Target, String> {
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
    Ok(Target {
        host: hp.to_string(),
        addr,
    })
}

/// Source address of viewer `i` in worker process `worker`: several loopback addresses, so
/// the (source, destination) pairs have ports enough and per-IP limits see many clients.
fn source_ip(worker: usize, i: usize, source_ips: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(
        127,
        0,
        1 + (worker % 250) as u8,
        1 + (i % usize::from(source_ips.max(1))) as u8,
    ))
}

async fn connect(src: IpAddr, to: SocketAddr) -> Result<TcpStream, String> {
    let sock = TcpSocket::new_v4().map_err(|e| e.to_string())?;
    sock.bind(SocketAddr::new(src, 0))
        .map_err(|e| e.to_string())?;
    sock.connect(to).await.map_err(|e| e.to_string())
}

/// Connects from `src` and sends one raw HTTP/1.1 GET (with the viewer's cookie, if any).
async fn send_get(
    src: IpAddr,
    t: &Target,
    path: &str,
    accept: &str,
    cookie: Option<&str>,
    close: bool,
) -> Result<TcpStream, String> {
    let mut s = connect(src, t.addr).await?;
    let cookie = cookie
        .map(|c| format!("Cookie: {c}\r\n"))
        .unwrap_or_default();
    let close = if close { "Connection: close\r\n" } else { "" };
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nAccept: {accept}\r\n{cookie}{close}User-Agent: loadgen\r\n\r\n",
        t.host
    );
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    Ok(s)
}

/// One plain GET on its own connection, as a browser's fetch of the viewer's prices: returns
/// the cookie the server set, if any. Timed into `requests`.
async fn get(
    src: IpAddr,
    t: &Target,
    path: &str,
    cookie: Option<&str>,
    shared: &Shared,
) -> Option<String> {
    let started = Instant::now();
    let fetch = async {
        let mut s = send_get(src, t, path, "application/json", cookie, true).await?;
        let mut body = Vec::new();
        s.read_to_end(&mut body).await.map_err(|e| e.to_string())?;
        Ok::<_, String>(body)
    };
    let res = tokio::time::timeout(Duration::from_secs(30), fetch).await;
    shared.requests.record(started.elapsed());
    match res {
        Ok(Ok(body)) if body.starts_with(b"HTTP/1.1 200") => {
            let head = &body[..find(&body, b"\r\n\r\n").unwrap_or(body.len())];
            String::from_utf8_lossy(head)
                .lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(name, _)| name.eq_ignore_ascii_case("set-cookie"))
                .and_then(|(_, value)| value.trim().split(';').next().map(str::to_string))
                .or_else(|| cookie.map(str::to_string))
        }
        _ => {
            shared.n.request_errors.fetch_add(1, Ordering::Relaxed);
            cookie.map(str::to_string)
        }
    }
}

/// One viewer: the page's own request for its prices (if asked), then a raw HTTP/1.1 event
/// stream read in small reads; an event the real client answers with a request gets one.
async fn viewer(
    src: IpAddr,
    (node, t): (usize, Target),
    path: String,
    shared: Arc<Shared>,
    gate: Arc<Semaphore>,
) {
    // Released once the stream is open: it limits handshakes in flight, not open streams.
    let mut permit = Some(gate.acquire_owned().await);
    let state_path = format!("/api/sessions/viewer?session_id={}", shared.session_id);
    let mut cookie = None;
    if shared.client_requests {
        shared.n.page_requests.fetch_add(1, Ordering::Relaxed);
        cookie = get(src, &t, &state_path, None, &shared).await;
    }
    let open = send_get(
        src,
        &t,
        &path,
        "text/event-stream",
        cookie.as_deref(),
        false,
    );
    let mut stream = match tokio::time::timeout(Duration::from_secs(30), open).await {
        Ok(Ok(s)) => s,
        _ => {
            shared.n.errors.fetch_add(1, Ordering::Relaxed);
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
                shared.n.errors.fetch_add(1, Ordering::Relaxed);
                return;
            }
            headers_done = true;
            shared.n.connected.fetch_add(1, Ordering::Relaxed);
            shared.n.open.fetch_add(1, Ordering::Relaxed);
            permit.take();
            pending.drain(..end + 4);
        }
        let mut refetch = false;
        while let Some(end) = find(&pending, b"\n\n") {
            refetch |= handle_event(&pending[..end], &shared, node);
            pending.drain(..end + 2);
        }
        if refetch && shared.client_requests {
            // The real client refetches after a random delay (jitter); the request is what
            // counts here, so it is sent at once and timed.
            shared.n.event_requests.fetch_add(1, Ordering::Relaxed);
            let (sh, tt, sp, c) = (
                shared.clone(),
                t.clone(),
                state_path.clone(),
                cookie.clone(),
            );
            tokio::spawn(async move {
                get(src, &tt, &sp, c.as_deref(), &sh).await;
            });
        }
        if pending.len() > 64 * 1024 {
            pending.clear();
        }
        if pending.capacity() > 16 * 1024 && pending.is_empty() {
            pending.shrink_to(1024);
        }
    }
    if headers_done {
        shared.n.open.fetch_sub(1, Ordering::Relaxed);
    } else {
        // Closed before it answered (a server out of connection slots does that).
        shared.n.errors.fetch_add(1, Ordering::Relaxed);
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Counts and times one event; true when the real client (`pages/live.rs`) answers it with a
/// request for this viewer's prices: a personal `me` hint, or a snapshot of a room that is
/// not live.
fn handle_event(event: &[u8], shared: &Shared, node: usize) -> bool {
    let Some(data_at) = find(event, b"data: ") else {
        return false;
    };
    let data = &event[data_at + 6..];
    if find(data, b"\"type\":\"hb\"").is_some() {
        return false;
    }
    let refetch = find(data, b"\"type\":\"me\"").is_some()
        || (find(data, b"\"type\":\"snapshot\"").is_some()
            && find(data, b"\"status\":\"live\"").is_none());
    if !shared.measuring.load(Ordering::Relaxed) {
        return refetch;
    }
    shared.n.events.fetch_add(1, Ordering::Relaxed);
    if find(data, b"\"presenting\"").is_none() {
        return refetch;
    }
    let Some(at) = find(data, b"\"product_id\":") else {
        return refetch;
    };
    let digits: String = data[at + 13..]
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .map(|c| *c as char)
        .collect();
    if let Ok(pid) = digits.parse::<usize>() {
        let sent = shared.published[pid % SLOTS].load(Ordering::Relaxed);
        if sent > 0 {
            shared.hist.record(since_us(sent));
            if let Some(h) = shared.per_node.get(node) {
                h.record(since_us(sent));
            }
        }
    }
    refetch
}

/// Opens this process's share of the viewers and waits until each is connected or failed.
async fn open_viewers(
    o: &Opts,
    worker: usize,
    path: &str,
    shared: &Arc<Shared>,
) -> Result<(Vec<tokio::task::JoinHandle<()>>, f64), String> {
    let targets = o
        .urls
        .iter()
        .map(|u| target(u))
        .collect::<Result<Vec<_>, _>>()?;
    let gate = Arc::new(Semaphore::new(o.ramp));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(o.connections);
    for i in 0..o.connections {
        tasks.push(tokio::spawn(viewer(
            source_ip(worker, i, o.source_ips),
            (i % targets.len(), targets[i % targets.len()].clone()),
            path.to_string(),
            shared.clone(),
            gate.clone(),
        )));
    }
    loop {
        let done =
            shared.n.connected.load(Ordering::Relaxed) + shared.n.errors.load(Ordering::Relaxed);
        if done >= o.connections || started.elapsed() > Duration::from_secs(o.ramp_timeout) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok((tasks, started.elapsed().as_secs_f64()))
}

/// A worker process: opens its viewers, says `ready`, then follows the parent's lines on
/// stdin (`p SLOT MICROS` a publish, `m 0|1` measuring, `end`) and prints its report.
pub async fn worker(args: Vec<String>) -> Result<Value, String> {
    let o = parse(args)?;
    let index = o.worker.unwrap_or(0);
    let path = o.path.clone().ok_or("a worker needs --path")?;
    let shared = Arc::new(Shared::new(
        o.session.unwrap_or(0),
        o.client_requests,
        o.urls.len(),
    ));
    let (tasks, ramp_s) = open_viewers(&o, index, &path, &shared).await?;
    let mut out = tokio::io::stdout();
    let ready = json!({ "ready": true, "connect_s": ramp_s, "report": shared.report() });
    out.write_all(format!("{ready}\n").as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    out.flush().await.map_err(|e| e.to_string())?;
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let mut parts = line.split_whitespace();
        match (parts.next(), parts.next(), parts.next()) {
            (Some("p"), Some(slot), Some(ts)) => {
                if let (Ok(slot), Ok(ts)) = (slot.parse::<usize>(), ts.parse::<i64>()) {
                    shared.published[slot % SLOTS].store(ts, Ordering::Relaxed);
                }
            }
            (Some("m"), Some(on), _) => shared.measuring.store(on == "1", Ordering::Relaxed),
            (Some("end"), ..) => break,
            _ => {}
        }
    }
    let report = shared.report();
    for t in tasks {
        t.abort();
    }
    Ok(report)
}

/// The viewers, in this process or spread over worker processes (one process may hold at
/// most 20,000 open files here).
enum Fleet {
    Local(Vec<tokio::task::JoinHandle<()>>),
    Workers(
        Vec<(
            tokio::process::Child,
            tokio::process::ChildStdin,
            tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
        )>,
    ),
}

impl Fleet {
    async fn say(&mut self, line: &str) {
        if let Fleet::Workers(ws) = self {
            for (_, stdin, _) in ws.iter_mut() {
                let _ = stdin.write_all(format!("{line}\n").as_bytes()).await;
                let _ = stdin.flush().await;
            }
        }
    }
    /// Ends the viewers and folds the workers' reports into `shared`.
    async fn finish(self, shared: &Shared) {
        match self {
            Fleet::Local(tasks) => tasks.into_iter().for_each(|t| t.abort()),
            Fleet::Workers(ws) => {
                for (mut child, mut stdin, mut lines) in ws {
                    let _ = stdin.write_all(b"end\n").await;
                    let _ = stdin.flush().await;
                    drop(stdin);
                    while let Ok(Some(line)) = lines.next_line().await {
                        if let Ok(v) = serde_json::from_str::<Value>(&line) {
                            if v.get("ready").is_none() {
                                shared.absorb(&v);
                                break;
                            }
                        }
                    }
                    let _ = child.kill().await;
                }
            }
        }
    }
}

async fn start_workers(
    o: &Opts,
    path: &str,
    session_id: i64,
    shared: &Shared,
) -> Result<(Fleet, f64), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut ws = Vec::new();
    for k in 0..o.processes {
        let share = o.connections / o.processes + usize::from(k < o.connections % o.processes);
        let mut child = tokio::process::Command::new(&exe)
            .arg("viewers-worker")
            .args(["--urls", &o.urls.join(",")])
            .args(["--target", &o.target])
            .args(["--connections", &share.to_string()])
            .args(["--source-ips", &o.source_ips.to_string()])
            .args(["--ramp", &(o.ramp / o.processes).max(16).to_string()])
            .args(["--ramp-timeout", &o.ramp_timeout.to_string()])
            .args(["--client-requests", &o.client_requests.to_string()])
            .args(["--session", &session_id.to_string()])
            .args(["--worker", &k.to_string()])
            .args(["--path", path])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("could not start a worker: {e}"))?;
        let stdin = child.stdin.take().ok_or("worker stdin")?;
        let lines = BufReader::new(child.stdout.take().ok_or("worker stdout")?).lines();
        ws.push((child, stdin, lines));
    }
    // Each says `ready` once its viewers are connected (or failed).
    let mut slowest = 0f64;
    for (_, _, lines) in ws.iter_mut() {
        let line = lines
            .next_line()
            .await
            .map_err(|e| e.to_string())?
            .ok_or("a worker ended before it was ready")?;
        let v: Value =
            serde_json::from_str(&line).map_err(|e| format!("worker said {line}: {e}"))?;
        slowest = slowest.max(v["connect_s"].as_f64().unwrap_or(0.0));
        let r = &v["report"];
        // Counted now for the ramp figures; the final reports replace them.
        shared.n.connected.fetch_add(
            r["connected"].as_u64().unwrap_or(0) as usize,
            Ordering::Relaxed,
        );
        shared.n.errors.fetch_add(
            r["errors"].as_u64().unwrap_or(0) as usize,
            Ordering::Relaxed,
        );
    }
    Ok((Fleet::Workers(ws), slowest))
}

pub async fn run(args: Vec<String>) -> Result<Value, String> {
    let o = parse(args)?;
    let url = o.urls[0].clone();
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .map_err(|e| e.to_string())?;

    // The channel, and the products the publisher cycles through.
    let (path, products, session_id) = if o.target == "ours" {
        let list = crate::get_json(&http, &format!("{url}/api/sessions/list")).await?;
        let sid = o
            .session
            .or_else(|| list[0]["id"].as_i64())
            .ok_or("no session: start the server with APP_DEMO_DATA=true")?;
        let detail = crate::get_json(&http, &format!("{url}/api/sessions/get?id={sid}")).await?;
        let ids: Vec<i64> = detail["products"]
            .as_array()
            .ok_or("no products")?
            .iter()
            .filter_map(|p| p["id"].as_i64())
            .collect();
        let res = http
            .post(format!("{url}/api/host/sign_in"))
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
        http.post(format!("{url}/api/studio/go_live"))
            .form(&[("session_id", sid.to_string())])
            .send()
            .await
            .map_err(|e| e.to_string())?;
        (format!("/live/{sid}/events"), ids, sid)
    } else {
        ("/sub?id=bench".to_string(), (1..=16).collect(), 0)
    };

    let shared = Arc::new(Shared::new(session_id, o.client_requests, o.urls.len()));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = rss_kib(&o.pids);

    // Connect everyone (at most `ramp` handshakes in flight).
    let (mut fleet, ramp_s) = if o.processes > 1 {
        start_workers(&o, &path, session_id, &shared).await?
    } else {
        let (tasks, s) = open_viewers(&o, 0, &path, &shared).await?;
        (Fleet::Local(tasks), s)
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_connected = rss_kib(&o.pids);
    let connected = shared.n.connected.load(Ordering::Relaxed);

    // Publish at a fixed rate, through the first node, and measure.
    shared.measuring.store(true, Ordering::Relaxed);
    fleet.say("m 1").await;
    let started = Instant::now();
    let period = Duration::from_secs_f64(1.0 / o.rate.max(0.01));
    let mut tick = tokio::time::interval(period);
    let mut published = 0u64;
    let mut publish_errors = 0u64;
    let mut peak_rss = rss_connected;
    while started.elapsed() < Duration::from_secs(o.duration) {
        tick.tick().await;
        let pid = products[published as usize % products.len()];
        let at = now_us();
        shared.published[pid as usize % SLOTS].store(at, Ordering::Relaxed);
        fleet.say(&format!("p {} {at}", pid as usize % SLOTS)).await;
        let res = if o.target == "ours" {
            http.post(format!("{url}/api/studio/present"))
                .form(&[("product_id", pid.to_string())])
                .send()
                .await
        } else {
            let body = json!({ "type": "presenting", "product": { "product_id": pid, "name": format!("Product {pid}"), "price": 12900 } });
            http.post(format!("{url}/pub?id=bench"))
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
    fleet.say("m 0").await;
    let wall = started.elapsed().as_secs_f64();
    if o.processes > 1 {
        // The workers' final reports are the figures.
        shared.n.connected.store(0, Ordering::Relaxed);
        shared.n.errors.store(0, Ordering::Relaxed);
    }
    fleet.finish(&shared).await;
    let events = shared.n.events.load(Ordering::Relaxed);
    let held = shared.n.open.load(Ordering::Relaxed);
    let errors = shared.n.errors.load(Ordering::Relaxed) + (connected - held.min(connected));
    let per_conn = |rss: u64| {
        if connected > 0 {
            (rss.saturating_sub(rss_before) as f64 * 1024.0 / connected as f64).round()
        } else {
            0.0
        }
    };
    let event_requests = shared.n.event_requests.load(Ordering::Relaxed);
    Ok(json!({
        "scenario": "viewers",
        "target": o.target,
        "nodes": o.urls.len(),
        "processes": o.processes,
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
        "latency_ms": shared.hist.summary(),
        "latency_ms_by_node": shared.per_node.iter().map(Histogram::summary).collect::<Vec<_>>(),
        "client_requests": {
            "on_open": shared.n.page_requests.load(Ordering::Relaxed),
            "per_event": event_requests,
            "per_event_per_s": (event_requests as f64 / wall * 10.0).round() / 10.0,
            "errors": shared.n.request_errors.load(Ordering::Relaxed),
            "latency_ms": shared.requests.summary(),
        }
    }))
}
