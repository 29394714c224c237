//! `loadgen draw`: a lucky draw over many entrants (issue 30), against the server's floor.
//!
//!   loadgen draw --url http://127.0.0.1:3000 --entrants 50000 --winners 10 --connections 200
//!
//! Set-up: the demo host signs in, goes live and opens a draw (no eligibility rules, 600 s
//! countdown); a watcher opens the room's event stream. Then, timed, closed loop with
//! `--connections` in flight:
//! - **floor**: `--entrants` fresh shoppers (a cookie each from `me`, untimed) call
//!   `orders/ready` once each (same cookie, CSRF and rate-limit checks, nothing else);
//! - **entries**: `--entrants` other fresh shoppers call `draws/enter` once each;
//! then the host closes the draw (`draws/close`: claims it, reads the entrants, draws, writes
//! the winners and their ¥0 prize orders) and the watcher waits for the winners' event.
//! Reports entries and floor calls a second with latency percentiles, the close's round trip
//! (time to draw), close-to-announcement at the watcher (time to announce), the proof's
//! download, and checks the proof: SHA-256(seed) is the commitment and `domain::draw` on the
//! published entrants gives the published winners.
//! The server must run with the demo data and `APP_RATE_LIMIT_SCALE` raised (one IP).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use futures::{stream, StreamExt};
use serde_json::{json, Value};

struct Args {
    url: String,
    entrants: usize,
    winners: u32,
    connections: usize,
}

fn parse(args: Vec<String>) -> Result<Args, String> {
    let mut a = Args {
        url: "http://127.0.0.1:3000".into(),
        entrants: 50_000,
        winners: 10,
        connections: 200,
    };
    let mut it = args.into_iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let num = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("{flag}: expected a number, got {value}"))
        };
        match flag.as_str() {
            "--url" => a.url = value.trim_end_matches('/').to_string(),
            "--entrants" => a.entrants = num()?.max(1) as usize,
            "--winners" => a.winners = num()?.clamp(1, 100) as u32,
            "--connections" => a.connections = num()?.max(1) as usize,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(a)
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    cookie: &str,
    form: &[(&str, String)],
) -> Result<(u16, Value, String), String> {
    let mut req = http.post(url).form(form);
    if !cookie.is_empty() {
        req = req.header(reqwest::header::COOKIE, cookie);
    }
    let res = req.send().await.map_err(|e| e.to_string())?;
    let status = res.status().as_u16();
    let set_cookie = res
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").to_string())
        .collect::<Vec<_>>()
        .join("; ");
    let body = res.json().await.unwrap_or(Value::Null);
    Ok((status, body, set_cookie))
}

/// `n` fresh shoppers' cookies (each from a `me` call).
async fn shoppers(
    http: &reqwest::Client,
    url: &str,
    n: usize,
    conns: usize,
) -> Result<Vec<String>, String> {
    let me = format!("{url}/api/me");
    let got: Vec<Result<String, String>> = stream::iter(0..n)
        .map(|_| {
            let (http, me) = (http.clone(), me.clone());
            async move {
                let (s, _, cookie) = post(&http, &me, "", &[]).await?;
                if s != 200 || cookie.is_empty() {
                    return Err(format!("me: {s}"));
                }
                Ok(cookie)
            }
        })
        .buffer_unordered(conns)
        .collect()
        .await;
    got.into_iter().collect()
}

/// Each cookie calls `endpoint` once, `conns` in flight: (statuses, latencies, elapsed).
async fn closed_loop(
    http: &reqwest::Client,
    url: String,
    cookies: &[String],
    form: Vec<(&'static str, String)>,
    conns: usize,
) -> (Vec<u16>, Vec<Duration>, Duration) {
    let url = Arc::new(url);
    let form = Arc::new(form);
    let start = Instant::now();
    let answers: Vec<(u16, Duration)> = stream::iter(cookies.iter().cloned())
        .map(|cookie| {
            let (http, url, form) = (http.clone(), url.clone(), form.clone());
            async move {
                let t = Instant::now();
                let s = post(&http, &url, &cookie, &form)
                    .await
                    .map_or(0, |(s, _, _)| s);
                (s, t.elapsed())
            }
        })
        .buffer_unordered(conns)
        .collect()
        .await;
    let elapsed = start.elapsed();
    let mut lat: Vec<Duration> = answers.iter().map(|a| a.1).collect();
    lat.sort();
    (answers.into_iter().map(|a| a.0).collect(), lat, elapsed)
}

fn summary(statuses: &[u16], lat: &[Duration], elapsed: Duration) -> Value {
    let ok = statuses.iter().filter(|s| **s == 200).count();
    json!({
        "calls": statuses.len(),
        "ok": ok,
        "errors": statuses.len() - ok,
        "per_sec": (statuses.len() as f64 / elapsed.as_secs_f64()).round(),
        "p50_ms": crate::percentile(lat, 0.50),
        "p99_ms": crate::percentile(lat, 0.99),
        "max_ms": crate::percentile(lat, 1.0),
    })
}

fn seed_of(hex: &str) -> Option<[u8; 32]> {
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect();
    bytes?.try_into().ok()
}

pub async fn run(args: Vec<String>) -> Result<Value, String> {
    let a = parse(args)?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(a.connections)
        .timeout(Duration::from_secs(300))
        .build()
        .map_err(|e| e.to_string())?;
    let api = |e: &str| format!("{}/api/{e}", a.url);
    let list = crate::get_json(&http, &api("sessions/list")).await?;
    let sid = list[0]["id"]
        .as_i64()
        .ok_or("no session: start the server with APP_DEMO_DATA=true")?;
    let detail = crate::get_json(&http, &format!("{}?id={sid}", api("sessions/get"))).await?;
    let product = detail["products"][0]["id"].as_i64().ok_or("no product")?;
    let (s, v, host) = post(
        &http,
        &api("host/sign_in"),
        "",
        &[
            ("email", "sunjing@demo.live".into()),
            ("password", "xiaoxiaobao-demo".into()),
        ],
    )
    .await?;
    if s != 200 {
        return Err(format!("host sign-in: {s} {v}"));
    }
    // Already live is fine (a second run on the same server).
    post(
        &http,
        &api("studio/go_live"),
        &host,
        &[("session_id", sid.to_string())],
    )
    .await?;
    let res = http
        .post(api("draws/open"))
        .header(reqwest::header::COOKIE, &host)
        .json(&json!({ "session_id": sid, "form": {
            "prize": "Serum 30 ml", "product_id": product, "winners": a.winners,
            "countdown_secs": 600, "rules": {},
        }}))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = res.status().as_u16();
    let card: Value = res.json().await.unwrap_or(Value::Null);
    if status != 200 {
        return Err(format!("draws/open: {status} {card}"));
    }
    let draw_id = card["id"].as_i64().ok_or("no draw id")?;

    // The room's stream, read in the background: when the winners' event arrives.
    let events = http
        .get(format!("{}/live/{sid}/events", a.url))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let (announced_tx, announced_rx) = tokio::sync::oneshot::channel::<Instant>();
    tokio::spawn(async move {
        let mut body = events.bytes_stream();
        let mut buf = String::new();
        let mut tx = Some(announced_tx);
        while let Some(Ok(chunk)) = body.next().await {
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buf.find("\n\n") {
                let frame: String = buf.drain(..end + 2).collect();
                if frame.contains("\"type\":\"draw\"") && frame.contains("\"open\":false") {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(Instant::now());
                    }
                }
            }
        }
    });

    let floor_cookies = shoppers(&http, &a.url, a.entrants, a.connections).await?;
    let (fs, fl, fe) = closed_loop(
        &http,
        api("orders/ready"),
        &floor_cookies,
        Vec::new(),
        a.connections,
    )
    .await;
    drop(floor_cookies);
    let cookies = shoppers(&http, &a.url, a.entrants, a.connections).await?;
    let (es, el, ee) = closed_loop(
        &http,
        api("draws/enter"),
        &cookies,
        vec![
            ("session_id", sid.to_string()),
            ("draw_id", draw_id.to_string()),
        ],
        a.connections,
    )
    .await;

    let t = Instant::now();
    let (s, closed, _) = post(
        &http,
        &api("draws/close"),
        &host,
        &[
            ("session_id", sid.to_string()),
            ("draw_id", draw_id.to_string()),
        ],
    )
    .await?;
    let close_ms = t.elapsed().as_secs_f64() * 1000.0;
    if s != 200 {
        return Err(format!("draws/close: {s} {closed}"));
    }
    let announce_ms = tokio::time::timeout(Duration::from_secs(30), announced_rx)
        .await
        .ok()
        .and_then(Result::ok)
        .map(|at| at.duration_since(t).as_secs_f64() * 1000.0);

    let t = Instant::now();
    let proof = crate::get_json(&http, &format!("{}?id={draw_id}", api("draws/proof"))).await?;
    let proof_ms = t.elapsed().as_secs_f64() * 1000.0;
    let keys: Vec<String> = proof["entrants"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|k| k.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let winners: Vec<String> = proof["winners"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|k| k.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let seed = proof["seed"].as_str().and_then(seed_of);
    let t = Instant::now();
    let verified = seed.is_some_and(|seed| {
        shop_core::domain::draw::matches_commitment(
            &seed,
            proof["commitment"].as_str().unwrap_or(""),
        ) && shop_core::domain::draw::draw(&seed, &keys, a.winners as usize) == winners
    });
    let rerun_ms = t.elapsed().as_secs_f64() * 1000.0;

    Ok(json!({
        "scenario": "draw",
        "entrants": a.entrants,
        "connections": a.connections,
        "floor": summary(&fs, &fl, fe),
        "entries": summary(&es, &el, ee),
        "entries_vs_floor": ((es.len() as f64 / ee.as_secs_f64()) / (fs.len() as f64 / fe.as_secs_f64()) * 100.0).round() / 100.0,
        "close_ms": close_ms.round(),
        "announced_ms": announce_ms.map(f64::round),
        "entrants_drawn": closed["entrants"],
        "winners": winners.len(),
        "proof_ms": proof_ms.round(),
        "proof_entrants": keys.len(),
        "rerun_ms": (rerun_ms * 10.0).round() / 10.0,
        "verified": verified,
    }))
}
