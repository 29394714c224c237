//! The `whep` scenario: many WebRTC viewers of one live session, to find how many one node
//! holds (scripts/bench-whep.sh).
//!
//! Each viewer is the tests' WHEP viewer (server/tests/it/common/whep_viewer.rs): str0m, one UDP
//! socket, a receive-only offer POSTed to the node, ICE, DTLS and SRTP completed, then RTP
//! packets, video frames and key frames counted and the packets lost read from the sequence
//! numbers (after str0m's NACKs), and a DELETE at the end. All viewers of a process share one
//! HTTP client, so a viewer holds one open file (its UDP socket) here and one on the node.
//!
//! The viewers come in steps (`--steps 50,100,200`), each step a fresh set: its viewers join
//! at `--join-rate` a second, all watch until `--duration` seconds after the last one joined,
//! then leave (DELETE) and the next step begins after `--pause` s. The node's CPU and memory
//! (`--pids`, from /proc) are measured over the window in which every viewer of the step has
//! joined (from `--settle` s after the last join to the end), this process's own CPU and the
//! whole machine's too, and the UDP datagrams the kernel dropped on the node's sockets and on
//! the viewers'. One JSON line per step, then a summary: the largest step whose loss stayed
//! within `--max-loss` (0.01) with every viewer connected and, with `--min-fps`, at least
//! that many frames a second per viewer. The run stops after the first step beyond that
//! unless `--keep-going true`.
//!
//! Loss: packets lost / packets expected, over all viewers (`loss`) and for the worst one
//! (`worst_viewer_loss`); a viewer the node skipped ahead (it fell behind the session's feed)
//! sees the packets skipped as lost.

#[path = "../../server/tests/it/common/whep_viewer.rs"]
mod whep_viewer;

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv4Addr},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use reqwest::Url;
use serde_json::{json, Value};
use whep_viewer::{view, ViewOptions, ViewReport};

use crate::{
    histogram::Histogram,
    hls::{cpu_ticks, round, source_ip, Usage},
};

/// Viewers one process may hold: one UDP socket each, under 20,000 open files.
const MAX_VIEWERS_PER_PROCESS: usize = 19_000;

struct Opts {
    url: String,
    steps: Vec<usize>,
    duration: f64,
    join_rate: f64,
    settle: f64,
    pause: f64,
    max_loss: f64,
    min_fps: f64,
    keep_going: bool,
    pids: Vec<u32>,
    source_ips: u8,
    baseline: f64,
}

fn parse(args: Vec<String>) -> Result<Opts, String> {
    let mut o = Opts {
        url: String::new(),
        steps: vec![50, 100, 200, 400, 800],
        duration: 20.0,
        join_rate: 100.0,
        settle: 2.0,
        pause: 3.0,
        max_loss: 0.01,
        min_fps: 0.0,
        keep_going: false,
        pids: Vec::new(),
        source_ips: 0,
        baseline: 3.0,
    };
    let mut it = args.into_iter();
    while let Some(flag) = it.next() {
        let v = it.next().ok_or(format!("{flag} needs a value"))?;
        let bad = || format!("{flag}: bad value {v}");
        let list = |v: &str| -> Result<Vec<usize>, String> {
            v.split(',')
                .filter(|s| !s.is_empty())
                .map(|s| s.trim().parse().map_err(|_| bad()))
                .collect()
        };
        match flag.as_str() {
            "--url" => o.url = v.clone(),
            "--steps" | "--viewers" => o.steps = list(&v)?,
            "--duration" => o.duration = v.parse().map_err(|_| bad())?,
            "--join-rate" => o.join_rate = v.parse().map_err(|_| bad())?,
            "--settle" => o.settle = v.parse().map_err(|_| bad())?,
            "--pause" => o.pause = v.parse().map_err(|_| bad())?,
            "--max-loss" => o.max_loss = v.parse().map_err(|_| bad())?,
            "--min-fps" => o.min_fps = v.parse().map_err(|_| bad())?,
            "--keep-going" => o.keep_going = v.parse().map_err(|_| bad())?,
            "--pids" => {
                o.pids = v
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(|s| s.trim().parse().map_err(|_| bad()))
                    .collect::<Result<_, _>>()?
            }
            "--source-ips" => o.source_ips = v.parse().map_err(|_| bad())?,
            "--baseline" => o.baseline = v.parse().map_err(|_| bad())?,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Url::parse(&o.url).map_err(|_| "--url http://HOST:PORT/whep/SESSION is needed".to_string())?;
    if o.steps.is_empty() || o.steps.contains(&0) {
        return Err("--steps: viewer counts > 0, e.g. 50,100,200".into());
    }
    if o.duration <= 0.0 || o.join_rate <= 0.0 || o.settle < 0.0 || o.pause < 0.0 {
        return Err("--duration and --join-rate must be > 0, --settle and --pause >= 0".into());
    }
    let most = o.steps.iter().copied().max().unwrap_or(0);
    if most > MAX_VIEWERS_PER_PROCESS {
        return Err(format!(
            "{most} viewers in one process: each holds a UDP socket and a process may hold \
             20,000 open files here (at most {MAX_VIEWERS_PER_PROCESS}); run several loadgen \
             processes"
        ));
    }
    if let Some(soft) = soft_open_files() {
        if most + 200 > soft {
            return Err(format!(
                "{most} viewers need about {} open files, the limit is {soft}: raise it \
                 (ulimit -n \"$(ulimit -Hn)\")",
                most + 200
            ));
        }
    }
    Ok(o)
}

/// This process's soft limit on open files.
fn soft_open_files() -> Option<usize> {
    std::fs::read_to_string("/proc/self/limits")
        .ok()?
        .lines()
        .find(|l| l.starts_with("Max open files"))?
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()
}

/// The whole machine's busy and softirq time (USER_HZ ticks, all cores), from /proc/stat:
/// what the processes' own counters leave out (the kernel's loopback delivery in softirqs)
/// and what else ran (other users of a shared machine).
fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let f: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal ...
    let total: u64 = f.iter().take(8).sum();
    Some((total - f.get(3)? - f.get(4)?, *f.get(6)?))
}

/// Datagrams the kernel dropped on arrival (receive buffer full), per UDP socket of `pids`,
/// from /proc/net/udp: where packets were lost, the node's sockets (its ingest, when the
/// process is too busy to read it) or the viewers'.
fn udp_drops(pids: &[u32]) -> HashMap<String, u64> {
    let mut inodes = std::collections::HashSet::new();
    for pid in pids {
        for e in std::fs::read_dir(format!("/proc/{pid}/fd"))
            .into_iter()
            .flatten()
            .flatten()
        {
            if let Ok(link) = std::fs::read_link(e.path()) {
                let link = link.to_string_lossy();
                if let Some(ino) = link
                    .strip_prefix("socket:[")
                    .and_then(|l| l.strip_suffix(']'))
                {
                    inodes.insert(ino.to_string());
                }
            }
        }
    }
    ["/proc/net/udp", "/proc/net/udp6"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|t| {
            t.lines()
                .skip(1)
                .filter_map(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    let ino = f.get(9)?.to_string();
                    let drops = f.last()?.parse::<u64>().ok()?;
                    inodes.contains(&ino).then_some((ino, drops))
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Drops over a step: on all of `pids`' sockets, and the most on one socket.
fn drops_since(before: &HashMap<String, u64>, after: &HashMap<String, u64>) -> Value {
    let delta: Vec<u64> = after
        .iter()
        .map(|(ino, n)| n.saturating_sub(before.get(ino).copied().unwrap_or(0)))
        .collect();
    json!({
        "total": delta.iter().sum::<u64>(),
        "most_on_one_socket": delta.iter().max().copied().unwrap_or(0),
    })
}

/// One viewer's outcome, with how long it ran.
struct Watched {
    report: Result<ViewReport, String>,
    ran: Duration,
}

/// What one step's viewers got, added up.
#[derive(Default)]
struct Totals {
    connected: usize,
    refused: usize,
    not_connected: usize,
    errors: usize,
    first_error: Option<String>,
    ended_by_server: usize,
    video_packets: u64,
    audio_packets: u64,
    video_bytes: u64,
    frames: u64,
    keyframes: u64,
    expected: u64,
    lost: u64,
    worst_loss: f64,
    over_max_loss: usize,
    deleted: usize,
    fps_sum: f64,
    kbps_sum: f64,
}

impl Totals {
    fn of(watched: &[Watched], max_loss: f64, first_keyframe: &Histogram) -> Totals {
        let mut t = Totals::default();
        for w in watched {
            let r = match &w.report {
                Ok(r) => r,
                Err(e) => {
                    t.errors += 1;
                    t.first_error.get_or_insert_with(|| e.clone());
                    continue;
                }
            };
            match (r.status, r.connected) {
                (201, true) => t.connected += 1,
                (503, _) => {
                    t.refused += 1;
                    continue;
                }
                (201, false) => {
                    t.not_connected += 1;
                    continue;
                }
                (s, _) => {
                    t.errors += 1;
                    t.first_error
                        .get_or_insert_with(|| format!("{s}: {}", r.refusal.trim()));
                    continue;
                }
            }
            t.ended_by_server += usize::from(r.ended_by_server);
            t.deleted += usize::from(r.delete_status == Some(200));
            t.video_packets += r.video_packets;
            t.audio_packets += r.audio_packets;
            t.video_bytes += r.video_bytes;
            t.frames += r.frames;
            t.keyframes += r.keyframes;
            t.expected += r.expected;
            t.lost += r.lost;
            t.worst_loss = t.worst_loss.max(r.loss());
            t.over_max_loss += usize::from(r.loss() > max_loss);
            if let Some(k) = r.first_keyframe_after {
                first_keyframe.record(k);
                let watching = w.ran.saturating_sub(k).as_secs_f64();
                if watching > 0.5 {
                    t.fps_sum += r.frames as f64 / watching;
                    t.kbps_sum += r.video_bytes as f64 * 8.0 / 1000.0 / watching;
                }
            }
        }
        t
    }

    fn loss(&self) -> f64 {
        if self.expected == 0 {
            0.0
        } else {
            self.lost as f64 / self.expected as f64
        }
    }
}

/// The node with the broadcast and no viewer: what each viewer adds is measured from here.
struct Idle {
    cores: f64,
    rss_kib: u64,
}

/// Runs one step: `n` viewers join at the join rate, all watch until `duration` after the
/// last joined; the node's and this process's CPU over the window when all have joined.
async fn step(o: &Opts, http: &reqwest::Client, n: usize, idle: &Idle) -> Value {
    let url = Url::parse(&o.url).expect("checked in parse");
    let stop = Arc::new(AtomicBool::new(false));
    let me = std::process::id();
    let drops_before = (udp_drops(&o.pids), udp_drops(&[me]));
    let t0 = Instant::now();
    let ramp = Duration::from_secs_f64(n.saturating_sub(1) as f64 / o.join_rate);
    let end = t0 + ramp + Duration::from_secs_f64(o.duration);
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let at = t0 + Duration::from_secs_f64(i as f64 / o.join_rate);
            let mut v = ViewOptions::new(o.url.clone(), Duration::from_secs(24 * 3600));
            v.stop = Some(stop.clone());
            v.http = Some(http.clone());
            v.bind = source_ip(&url, 0, i, o.source_ips).unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
            tokio::spawn(async move {
                tokio::time::sleep_until(at.into()).await;
                let started = Instant::now();
                let report = view(v).await;
                Watched {
                    report,
                    ran: started.elapsed(),
                }
            })
        })
        .collect();

    // The measured window: every viewer has joined (and had time to connect).
    let from = (t0 + ramp + Duration::from_secs_f64(o.settle)).min(end);
    tokio::time::sleep_until(from.into()).await;
    let mut server = Usage::new(&o.pids);
    server.begin();
    let my_ticks = cpu_ticks(me);
    let machine_before = machine_ticks();
    let measured = Instant::now();
    while Instant::now() + Duration::from_secs(1) < end {
        tokio::time::sleep(Duration::from_secs(1)).await;
        server.sample();
    }
    tokio::time::sleep_until(end.into()).await;
    let wall = measured.elapsed().as_secs_f64().max(1e-3);
    let server_report = server.report(wall);
    let my_cores = match (my_ticks, cpu_ticks(me)) {
        (Some(a), Some(b)) => round(b.saturating_sub(a) as f64 / 100.0 / wall, 2),
        _ => 0.0,
    };
    let machine = match (machine_before, machine_ticks()) {
        (Some(a), Some(b)) => {
            let busy = b.0.saturating_sub(a.0) as f64 / 100.0 / wall;
            let ours = server_report["cores"].as_f64().unwrap_or(0.0)
                + server_report["children_cores"].as_f64().unwrap_or(0.0)
                + my_cores;
            json!({
                "busy_cores": round(busy, 2),
                "softirq_cores": round(b.1.saturating_sub(a.1) as f64 / 100.0 / wall, 2),
                // Everything else: the publisher (a few hundredths of a core), and whatever
                // else runs on a shared machine (then the step's figures are not the node's).
                "other_cores": round((busy - ours).max(0.0), 2),
            })
        }
        _ => Value::Null,
    };
    let drops = json!({
        "server": drops_since(&drops_before.0, &udp_drops(&o.pids)),
        "loadgen": drops_since(&drops_before.1, &udp_drops(&[me])),
    });
    stop.store(true, Ordering::Relaxed);
    let mut watched = Vec::with_capacity(n);
    for t in tasks {
        watched.push(t.await.unwrap_or_else(|e| Watched {
            report: Err(format!("viewer task: {e}")),
            ran: Duration::ZERO,
        }));
    }

    let first_keyframe = Histogram::new();
    let t = Totals::of(&watched, o.max_loss, &first_keyframe);
    let cores = server_report["cores"].as_f64().unwrap_or(0.0);
    let rss_peak = server_report["rss_kib_peak"].as_u64().unwrap_or(0);
    let per_viewer = |x: f64, digits| {
        if t.connected == 0 {
            Value::Null
        } else {
            json!(round(x / t.connected as f64, digits))
        }
    };
    json!({
        "scenario": "whep",
        "viewers": n,
        "connected": t.connected,
        "refused_503": t.refused,
        "not_connected": t.not_connected,
        "errors": t.errors,
        "first_error": t.first_error,
        "ended_by_server": t.ended_by_server,
        "deleted": t.deleted,
        "join_s": round(ramp.as_secs_f64(), 1),
        "window_s": round(wall, 1),
        "packets": t.video_packets + t.audio_packets,
        "video_packets": t.video_packets,
        "audio_packets": t.audio_packets,
        "frames": t.frames,
        "keyframes": t.keyframes,
        "fps_per_viewer": per_viewer(t.fps_sum, 1),
        "video_kbps_per_viewer": per_viewer(t.kbps_sum, 0),
        "expected": t.expected,
        "lost": t.lost,
        "loss": round(t.loss(), 5),
        "worst_viewer_loss": round(t.worst_loss, 5),
        "viewers_over_max_loss": t.over_max_loss,
        "first_keyframe_ms": {
            "p50": first_keyframe.percentile(0.50),
            "p95": first_keyframe.percentile(0.95),
            "max": first_keyframe.percentile(1.0),
        },
        "server": server_report,
        "loadgen_cores": my_cores,
        "machine": machine,
        "udp_drops": drops,
        // Over the node with the broadcast alone (the `viewers: 0` line).
        "per_viewer": {
            "server_millicores": per_viewer((cores - idle.cores).max(0.0) * 1000.0, 2),
            "server_rss_kib": per_viewer(rss_peak.saturating_sub(idle.rss_kib) as f64, 1),
        },
    })
}

/// Whether a step kept every viewer connected, within the loss bound and (with `--min-fps`)
/// in real time: a node short of CPU reads its ingest late, and the kernel's buffer then turns
/// what would be loss into delay (fewer frames a second reach the viewers, none missing).
fn held(step: &Value, o: &Opts) -> bool {
    let n = step["viewers"].as_u64().unwrap_or(0);
    step["connected"].as_u64() == Some(n)
        && step["loss"].as_f64().unwrap_or(1.0) <= o.max_loss
        && step["fps_per_viewer"].as_f64().unwrap_or(0.0) >= o.min_fps
}

pub async fn run(args: Vec<String>) -> Result<Value, String> {
    let o = parse(args)?;
    // One client for every viewer's POST and DELETE: a few pooled connections, not one each.
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(15))
        .pool_max_idle_per_host(64)
        .build()
        .map_err(|e| e.to_string())?;

    let mut usage = Usage::new(&o.pids);
    usage.begin();
    let t = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(o.baseline)).await;
    usage.sample();
    let idle_report = usage.report(t.elapsed().as_secs_f64());
    let idle = Idle {
        cores: idle_report["cores"].as_f64().unwrap_or(0.0),
        rss_kib: idle_report["rss_kib_peak"].as_u64().unwrap_or(0),
    };
    println!(
        "{}",
        json!({ "scenario": "whep", "viewers": 0, "server": idle_report })
    );

    let mut steps = Vec::new();
    let mut holds = 0;
    let mut stopped = None;
    for (i, &n) in o.steps.iter().enumerate() {
        if i > 0 {
            tokio::time::sleep(Duration::from_secs_f64(o.pause)).await;
        }
        let s = step(&o, &http, n, &idle).await;
        println!("{s}");
        let ok = held(&s, &o);
        if ok {
            holds = holds.max(n);
        }
        steps.push(s);
        if !ok && !o.keep_going {
            stopped = Some(format!(
                "{n} viewers: loss above {}, fewer than {} frames/s or not every viewer \
                 connected",
                o.max_loss, o.min_fps
            ));
            break;
        }
    }
    let best = steps
        .iter()
        .rfind(|s| held(s, &o) && s["viewers"].as_u64() == Some(holds as u64));
    Ok(json!({
        "scenario": "whep",
        "summary": true,
        "url": o.url,
        "max_loss": o.max_loss,
        "min_fps": o.min_fps,
        "holds": holds,
        "stopped": stopped,
        "idle_server": idle_report,
        "at_holds": best.map(|s| json!({
            "loss": s["loss"],
            "worst_viewer_loss": s["worst_viewer_loss"],
            "server_cores": s["server"]["cores"],
            "server_rss_kib": s["server"]["rss_kib_peak"],
            "per_viewer": s["per_viewer"],
            "loadgen_cores": s["loadgen_cores"],
        })),
        "steps": steps.iter().map(|s| json!({
            "viewers": s["viewers"], "connected": s["connected"], "loss": s["loss"],
            "worst_viewer_loss": s["worst_viewer_loss"], "server_cores": s["server"]["cores"],
        })).collect::<Vec<_>>(),
    }))
}
