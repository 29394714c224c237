//! Load generators. Each scenario drives a running server over HTTP exactly as browsers do
//! (cookies, form-encoded server-function calls) and prints one JSON line of results.
//!
//!   loadgen checkout --url http://127.0.0.1:3000 --buyers 1000 --concurrency 200
//!
//! `checkout`: the demo host goes live and presents a product; `--buyers` shoppers join
//! through one invite (set-up, not timed), then all try to buy one unit of that product at
//! once, `--concurrency` requests in flight. Reports throughput, latency percentiles, how many
//! orders succeeded and were refused as sold out, and checks that exactly the stock was sold.
//! The server must run with the demo data and `APP_RATE_LIMIT_SCALE` raised (one IP).
//!
//!   loadgen rush --url http://127.0.0.1:3000 --buyers 50000 --stock 10000 --release-ms 2000
//!                [--target orders|floor|redis-lua]
//!
//! `rush`: a flash sale on an open-loop schedule, latency from each buyer's due time; the
//! server's own floor and a bare Redis Lua decrement as references (see `rush.rs`).
//!
//!   loadgen coupons --url http://127.0.0.1:3000 --claims 50000 --quota 1000 --release-ms 2000
//!                   [--target claims|floor]
//!
//! `coupons`: a rush of claims on one live coupon on the flash sale's open-loop schedule,
//! latency from each claim's due time; the server's floor at the same schedule as reference;
//! checks that exactly the quota was granted, in the answers and in the database (see
//! `coupons.rs`).
//!
//!   loadgen draw --url http://127.0.0.1:3000 --entrants 50000 --winners 10 --connections 200
//!
//! `draw`: a lucky draw over `--entrants` entrants entered over HTTP, against the floor
//! (`orders/ready`) in the same run; time to draw (the close's round trip) and to announce
//! (the winners' event at a watcher), the proof checked by re-running it (see `draw.rs`).
//!
//!   loadgen static --url http://127.0.0.1:3200 --path /app-….wasm --connections 16
//!   loadgen serve-dir --dir dist --bind 127.0.0.1:3201 [--compress]
//!
//! `static`: one static file over and over on N keep-alive connections, with the
//! `Accept-Encoding` a browser sends; `serve-dir` serves a folder with tower-http's ServeDir
//! (the reference the in-memory client serving is compared with, docs/BENCHMARKS.md).
//!
//!   loadgen viewers --urls http://127.0.0.1:3000[,http://127.0.0.1:3001,...]
//!                   --connections 10000 --rate 2 --duration 30 [--processes 3]
//!                   [--target ours|nchan] [--pids 123,456] [--source-ips 4]
//!                   [--client-requests true|false]
//!
//! `viewers`: opens N live-room event streams (SSE), round-robin over the given nodes, and,
//! once they are all connected, has the host present products at a fixed rate (through the
//! first node) for a fixed time; reports connections held, server memory per connection (PSS
//! delta of `--pids` / N, summed over all the pids given), publish-to-receipt latency
//! percentiles, events delivered per second and errors. Each simulated viewer does what the
//! real page does: it fetches its prices once on opening (and keeps the cookie it gets) and
//! again on every event after which the real client refetches (`client_requests`: counts and
//! latency). `--processes P` spreads the viewers over P worker processes (`viewers-worker`,
//! fed the publish times over stdin), each from its own 127.0.P.x source addresses: one
//! process may hold at most 20,000 open files. `--target nchan` runs the same workload
//! against nginx + nchan (subscribe `/sub?id=..`, publish `/pub?id=..`) as a reference.
//!
//!   loadgen hls --url http://127.0.0.1:3000/hls/SID/live.m3u8[,URL2,...] --players 2000
//!               --duration 60 [--ramp 5] [--bandwidth-kbps 0|K|K1,K2,...] [--abr true]
//!               [--live-sync 3] [--pids 123] [--proxy-pids 456,457]
//!               [--metrics http://127.0.0.1:3000/metrics[,...]] [--processes P] [--source-ips 4]
//!
//! `hls`: simulated hls.js players of a live HLS ladder, round-robin over the URLs (nodes or
//! caches), their starts spread over `--ramp` s, then measured for `--duration` s: start level
//! by the download cap (caps assigned round-robin, 0 = none), audio rendition followed, live
//! edge minus 3 segments, playlist reloads every target duration, bodies paced to the cap, a
//! playback model counting stalls, simple ABR (see `hls.rs`). Reports requests (playlist /
//! segment) and bytes per second, time-to-last-byte percentiles, stalls per player-minute,
//! errors by kind, variants chosen; the `--pids` (and `--proxy-pids`) CPU and memory over the
//! window; with `--metrics`, the nodes' own HLS request and landed-segment rates over it. At
//! most 9,000 players per process (open files): `--processes P` runs P worker processes.
//!
//!   loadgen hls-setup --url http://127.0.0.1:3000 [--session ID]
//!
//! `hls-setup`: the demo host signs in, goes live and asks for the broadcast credentials;
//! prints `{"session_id", "whip_url", "token", "hls_url", "live_url"}`.
//!
//!   loadgen publish --whip URL --token T --seconds 120 [--size 1280x720] [--fps 30]
//!                   [--kbps 2000] [--audio true] [--clip 10] [--preset veryfast]
//!
//! `publish`: a synthetic WHIP broadcaster (the tests' str0m publisher): a testsrc2 clip of
//! `--clip` s encoded once with ffmpeg (x264 baseline at `--kbps`, an IDR every second) and
//! looped in real time with a 440 Hz Opus tone for `--seconds` (SIGTERM ends it early, with the
//! WHIP DELETE); prints the publisher's report (frames, audio packets, keyframe requests).
//!
//!   loadgen whep --url http://127.0.0.1:3000/whep/SID --steps 50,100,200,400 --duration 20
//!                [--join-rate 100] [--settle 2] [--pause 3] [--max-loss 0.01] [--min-fps 0]
//!                [--keep-going false] [--pids 123] [--source-ips 4] [--baseline 3]
//!
//! `whep`: WebRTC viewers of one live session (the tests' str0m WHEP viewer: ICE, DTLS, SRTP),
//! in steps of fresh viewers joining at `--join-rate` a second and watching `--duration` s
//! after the last joined; one JSON line per step (viewers connected, refused with 503, packets,
//! frames, loss over all viewers and the worst one's, first-key-frame latency, the `--pids`
//! CPU and memory, per viewer too, UDP drops), then a summary with the largest step held
//! within `--max-loss` (and `--min-fps`). Stops after the first step beyond it (see `whep.rs`).

mod coupons;
mod draw;
mod histogram;
mod hls;
mod publish;
mod rush;
mod statics;
mod viewers;
mod whep;

use std::time::{Duration, Instant};

use futures::{stream, StreamExt};
use serde_json::Value;

struct Args {
    url: String,
    buyers: usize,
    concurrency: usize,
    product_index: usize,
}

fn parse_args() -> Result<(String, Args), String> {
    let mut it = std::env::args().skip(1);
    let scenario = it.next().ok_or(
        "usage: loadgen checkout|rush|coupons|draw|viewers|static|serve-dir|hls|hls-setup|publish|whep [options] (see the header of loadgen/src/main.rs)",
    )?;
    let mut args = Args {
        url: "http://127.0.0.1:3000".into(),
        buyers: 1000,
        concurrency: 200,
        product_index: 10,
    };
    if matches!(
        scenario.as_str(),
        "viewers"
            | "viewers-worker"
            | "static"
            | "serve-dir"
            | "rush"
            | "coupons"
            | "draw"
            | "hls"
            | "hls-setup"
            | "publish"
            | "whep"
    ) {
        return Ok((scenario, args)); // parses its own flags
    }
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let num = || {
            value
                .parse::<usize>()
                .map_err(|_| format!("{flag}: expected a number, got {value}"))
        };
        match flag.as_str() {
            "--url" => args.url = value.trim_end_matches('/').to_string(),
            "--buyers" => args.buyers = num()?,
            "--concurrency" => args.concurrency = num()?.max(1),
            "--product" => args.product_index = num()?,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok((scenario, args))
}

struct Session {
    http: reqwest::Client,
    base: String,
}

impl Session {
    fn new(base: &str) -> Result<Session, String> {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .pool_max_idle_per_host(4)
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Session {
            http,
            base: base.to_string(),
        })
    }

    async fn call(&self, endpoint: &str, form: &[(&str, String)]) -> Result<(u16, Value), String> {
        let res = self
            .http
            .post(format!("{}/api/{endpoint}", self.base))
            .form(form)
            .send()
            .await
            .map_err(|e| format!("{endpoint}: {e}"))?;
        let status = res.status().as_u16();
        Ok((status, res.json().await.unwrap_or(Value::Null)))
    }

    async fn get(&self, path: &str) -> Result<Value, String> {
        get_json(&self.http, &format!("{}{path}", self.base)).await
    }
}

/// GET `url` with a cookie (a signed-in host) and decode its JSON body; an error unless 200.
async fn get_json_with_cookie(
    http: &reqwest::Client,
    url: &str,
    cookie: &str,
) -> Result<Value, String> {
    let res = http
        .get(url)
        .header(reqwest::header::COOKIE, cookie)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = res.status();
    let body: Value = res.json().await.map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!("GET {url}: {status} {body}"));
    }
    Ok(body)
}

/// GET `url` and decode its JSON body.
async fn get_json(http: &reqwest::Client, url: &str) -> Result<Value, String> {
    let res = http.get(url).send().await.map_err(|e| e.to_string())?;
    res.json().await.map_err(|e| e.to_string())
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

async fn checkout(args: Args) -> Result<Value, String> {
    let host = Session::new(&args.url)?;
    let list = host.get("/api/sessions/list").await?;
    let sid = list[0]["id"]
        .as_i64()
        .ok_or("no session: start the server with APP_DEMO_DATA=true")?;
    let detail = host.get(&format!("/api/sessions/get?id={sid}")).await?;
    let product = &detail["products"][args.product_index];
    let pid = product["id"].as_i64().ok_or("no such product index")?;
    let stock = product["stock"].as_i64().ok_or("no stock")?;
    let (s, v) = host
        .call(
            "host/sign_in",
            &[
                ("email", "sunjing@demo.live".into()),
                ("password", "xiaoxiaobao-demo".into()),
            ],
        )
        .await?;
    if s != 200 {
        return Err(format!("host sign-in failed: {s} {v}"));
    }
    host.call("studio/go_live", &[("session_id", sid.to_string())])
        .await?;
    let (s, v) = host
        .call("studio/present", &[("product_id", pid.to_string())])
        .await?;
    if s != 200 {
        return Err(format!("present failed: {s} {v}"));
    }

    // Set-up (not timed): an inviter, and buyers who joined through the invite.
    let inviter = Session::new(&args.url)?;
    inviter
        .call("sessions/reserve", &[("session_id", sid.to_string())])
        .await?;
    let (_, inv) = inviter
        .call("invites/create", &[("session_id", sid.to_string())])
        .await?;
    let code = inv["code"]
        .as_str()
        .ok_or(format!("no invite: {inv}"))?
        .to_string();
    let buyers: Vec<Session> = stream::iter(0..args.buyers)
        .map(|_| {
            let code = code.clone();
            let url = args.url.clone();
            async move {
                let b = Session::new(&url)?;
                let (s, v) = b.call("invites/join", &[("code", code)]).await?;
                if s == 200 {
                    Ok(b)
                } else {
                    Err(format!("join failed: {s} {v}"))
                }
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<Result<Session, String>>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;

    // The timed part: everyone buys at once.
    let started = Instant::now();
    let results: Vec<(u16, Duration, bool)> = stream::iter(buyers.iter().enumerate())
        .map(|(i, b)| {
            let form = [
                ("session_id", sid.to_string()),
                ("product_id", pid.to_string()),
                ("quantity", "1".to_string()),
                ("idempotency_key", format!("bench-{i:08}")),
            ];
            async move {
                let t = Instant::now();
                match b.call("orders/place", &form).await {
                    Ok((s, v)) => (
                        s,
                        t.elapsed(),
                        s == 200 && v["discount"].as_i64().unwrap_or(0) > 0,
                    ),
                    Err(_) => (0, t.elapsed(), false),
                }
            }
        })
        .buffer_unordered(args.concurrency)
        .collect()
        .await;
    let wall = started.elapsed();

    let mut latencies: Vec<Duration> = results.iter().map(|r| r.1).collect();
    latencies.sort();
    let ok = results.iter().filter(|r| r.0 == 200).count();
    let discounted = results.iter().filter(|r| r.2).count();
    let sold_out = results.iter().filter(|r| r.0 == 409).count();
    let errors = results.len() - ok - sold_out;
    let after = host.get(&format!("/api/sessions/get?id={sid}")).await?;
    let stock_after = after["products"][args.product_index]["stock"]
        .as_i64()
        .unwrap_or(-1);
    let expected_ok = (args.buyers as i64).min(stock) as usize;
    Ok(serde_json::json!({
        "scenario": "checkout",
        "buyers": args.buyers,
        "concurrency": args.concurrency,
        "stock_before": stock,
        "stock_after": stock_after,
        "orders_ok": ok,
        "orders_discounted": discounted,
        "sold_out": sold_out,
        "errors": errors,
        "consistent": ok == expected_ok && stock_after == stock - ok as i64 && discounted == ok,
        "wall_s": (wall.as_secs_f64() * 1000.0).round() / 1000.0,
        "requests_per_s": (results.len() as f64 / wall.as_secs_f64()).round(),
        "latency_ms": {
            "p50": (percentile(&latencies, 0.50) * 10.0).round() / 10.0,
            "p99": (percentile(&latencies, 0.99) * 10.0).round() / 10.0,
            "max": (percentile(&latencies, 1.0) * 10.0).round() / 10.0,
        }
    }))
}

#[tokio::main]
async fn main() {
    let (scenario, args) = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let result = match scenario.as_str() {
        "checkout" => checkout(args).await,
        "rush" => rush::run(std::env::args().skip(2).collect()).await,
        "coupons" => coupons::run(std::env::args().skip(2).collect()).await,
        "draw" => draw::run(std::env::args().skip(2).collect()).await,
        "viewers" => viewers::run(std::env::args().skip(2).collect()).await,
        "viewers-worker" => viewers::worker(std::env::args().skip(2).collect()).await,
        "static" => statics::run(std::env::args().skip(2).collect()).await,
        "serve-dir" => statics::serve_dir(std::env::args().skip(2).collect()).await,
        "hls" => hls::run(std::env::args().skip(2).collect()).await,
        "hls-setup" => hls::setup(std::env::args().skip(2).collect()).await,
        "publish" => publish::run(std::env::args().skip(2).collect()).await,
        "whep" => whep::run(std::env::args().skip(2).collect()).await,
        other => Err(format!(
            "unknown scenario {other}; known: checkout, rush, coupons, draw, viewers, static, serve-dir, hls, \
             hls-setup, publish, whep"
        )),
    };
    match result {
        Ok(v) => println!("{v}"),
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::exit(1);
        }
    }
}
