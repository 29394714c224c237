//! `loadgen rush`: a flash sale on an open-loop schedule.
//!
//!   loadgen rush --url http://127.0.0.1:3000 --buyers 50000 --stock 10000 --release-ms 2000
//!                [--target orders|floor|redis-lua] [--connections 2000] [--product 1]
//!                [--redis-url redis://127.0.0.1:6379] [--setup true|false]
//!
//! Set-up (not timed): the demo host goes live, presents the product and sets its stock;
//! `--buyers` shoppers join through one invite (each keeps its own cookie). Then buyer `i` is
//! due at `i * release-ms / buyers` after the start, whatever happened to the others (open
//! loop), and its latency counts from that due time, so time spent queueing, for a connection
//! or in the server, is never hidden. At most `--connections` requests are in flight (a load
//! balancer's connections to the node).
//!
//! `--target orders` buys one unit each (`orders/place`); `floor` calls `orders/ready`, a
//! server function with the same cookie, CSRF and rate-limit checks and nothing else, at the
//! same schedule (the server's own floor); `redis-lua` runs a bare Redis Lua decrement of a
//! stock key per buyer (no HTTP), the floor of a Redis-gated sale. Each HTTP run sets up its
//! own buyers: run each target on a fresh server.
//!
//! Prints one JSON line: answers per second, orders per second, sold-out answers per second,
//! latency percentiles from the due time (all answers, and orders and "sold out" apart),
//! errors, and (orders) whether exactly the stock sold.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use futures::{stream, StreamExt};
use serde_json::Value;
use tokio::sync::Semaphore;

struct Args {
    url: String,
    buyers: usize,
    stock: i64,
    release_ms: u64,
    connections: usize,
    product_index: usize,
    target: String,
    redis_url: String,
}

fn parse(args: Vec<String>) -> Result<Args, String> {
    let mut a = Args {
        url: "http://127.0.0.1:3000".into(),
        buyers: 50_000,
        stock: 10_000,
        release_ms: 2_000,
        connections: 2_000,
        product_index: 1,
        target: "orders".into(),
        redis_url: "redis://127.0.0.1:6379".into(),
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
            "--buyers" => a.buyers = num()?.max(1) as usize,
            "--stock" => a.stock = num()? as i64,
            "--release-ms" => a.release_ms = num()?,
            "--connections" => a.connections = num()?.max(1) as usize,
            "--product" => a.product_index = num()? as usize,
            "--target" => {
                if !matches!(value.as_str(), "orders" | "floor" | "redis-lua") {
                    return Err(format!("--target: orders, floor or redis-lua, not {value}"));
                }
                a.target = value;
            }
            "--redis-url" => a.redis_url = value,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(a)
}

/// One HTTP client for everyone (its pool holds the connections); each buyer sends its own
/// cookie.
pub(crate) fn client(connections: usize) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .timeout(Duration::from_secs(120))
        .build()
        .map_err(|e| e.to_string())
}

pub(crate) async fn post(
    http: &reqwest::Client,
    url: &str,
    cookie: &str,
    form: &[(&str, String)],
) -> Result<(u16, Value, Option<String>), String> {
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
    Ok((status, body, (!set_cookie.is_empty()).then_some(set_cookie)))
}

struct Sale {
    sid: i64,
    pid: i64,
    cookies: Vec<String>,
}

/// Live, product presented with `stock` units, `buyers` friends of one inviter.
async fn set_up(a: &Args, http: &reqwest::Client) -> Result<Sale, String> {
    let api = |e: &str| format!("{}/api/{e}", a.url);
    let list = crate::get_json(http, &api("sessions/list")).await?;
    let sid = list[0]["id"]
        .as_i64()
        .ok_or("no session: start the server with APP_DEMO_DATA=true")?;
    let detail = crate::get_json(http, &format!("{}?id={sid}", api("sessions/get"))).await?;
    let p = &detail["products"][a.product_index];
    let pid = p["id"].as_i64().ok_or("no such product index")?;
    let (s, v, host) = post(
        http,
        &api("host/sign_in"),
        "",
        &[
            ("email", "sunjing@demo.live".into()),
            ("password", "xiaoxiaobao-demo".into()),
        ],
    )
    .await?;
    let host = host
        .filter(|_| s == 200)
        .ok_or(format!("host sign-in: {s} {v}"))?;
    post(
        http,
        &api("studio/go_live"),
        &host,
        &[("session_id", sid.to_string())],
    )
    .await?;
    let (s, v, _) = post(
        http,
        &api("studio/present"),
        &host,
        &[("product_id", pid.to_string())],
    )
    .await?;
    if s != 200 {
        return Err(format!("present: {s} {v}"));
    }
    let price = p["price"].as_i64().ok_or("no price")?;
    let edit = serde_json::json!({"product_id": pid, "form": {
        "name": p["name"], "description": p["description"], "category": p["category"],
        "price": format!("{}.{:02}", price / 100, price % 100), "stock": a.stock}});
    let res = http
        .post(api("studio/product/update"))
        .header(reqwest::header::COOKIE, &host)
        .json(&edit)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if res.status() != 200 {
        return Err(format!("set stock: {}", res.status()));
    }
    let (_, _, inviter) = post(
        http,
        &api("sessions/reserve"),
        "",
        &[("session_id", sid.to_string())],
    )
    .await?;
    let inviter = inviter.ok_or("no shopper cookie")?;
    let (_, inv, _) = post(
        http,
        &api("invites/create"),
        &inviter,
        &[("session_id", sid.to_string())],
    )
    .await?;
    let code = inv["code"]
        .as_str()
        .ok_or(format!("no invite: {inv}"))?
        .to_string();
    let join = api("invites/join");
    let cookies: Vec<String> = stream::iter(0..a.buyers)
        .map(|_| {
            let (http, join, code) = (http.clone(), join.clone(), code.clone());
            async move {
                let (s, v, c) = post(&http, &join, "", &[("code", code)]).await?;
                c.filter(|_| s == 200).ok_or(format!("join: {s} {v}"))
            }
        })
        .buffer_unordered(64)
        .collect::<Vec<Result<String, String>>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    Ok(Sale { sid, pid, cookies })
}

/// What one buyer's request got: status (0: no answer), latency from its due time, and
/// whether an order was discounted.
type Answer = (u16, Duration, bool);

fn due(i: usize, a: &Args) -> Duration {
    Duration::from_micros(a.release_ms * 1000 * i as u64 / a.buyers as u64)
}

async fn rush_http(a: &Args, http: &reqwest::Client, sale: &Sale) -> (Vec<Answer>, Duration) {
    let gate = Arc::new(Semaphore::new(a.connections));
    let endpoint = if a.target == "floor" {
        "orders/ready"
    } else {
        "orders/place"
    };
    let url = Arc::new(format!("{}/api/{endpoint}", a.url));
    let start = tokio::time::Instant::now() + Duration::from_millis(200);
    let tasks: Vec<_> = sale
        .cookies
        .iter()
        .enumerate()
        .map(|(i, cookie)| {
            let (http, gate, url, cookie) =
                (http.clone(), gate.clone(), url.clone(), cookie.clone());
            let at = start + due(i, a);
            let form = [
                ("session_id", sale.sid.to_string()),
                ("product_id", sale.pid.to_string()),
                ("quantity", "1".to_string()),
                ("idempotency_key", format!("rush-{i:08}")),
            ];
            tokio::spawn(async move {
                tokio::time::sleep_until(at).await;
                // A 503 Busy is retried with the same key after its Retry-After, as the Pay
                // button does; the latency covers the whole wait.
                loop {
                    let permit = gate.acquire().await;
                    let answer = post(&http, &url, &cookie, &form).await;
                    drop(permit);
                    match answer {
                        Ok((503, _, _)) => tokio::time::sleep(Duration::from_millis(1000)).await,
                        Ok((s, v, _)) => {
                            return (s, at.elapsed(), v["discount"].as_i64().unwrap_or(0) > 0)
                        }
                        Err(_) => return (0, at.elapsed(), false),
                    }
                }
            })
        })
        .collect();
    let mut answers = Vec::with_capacity(tasks.len());
    for t in tasks {
        answers.push(t.await.unwrap_or((0, Duration::ZERO, false)));
    }
    (answers, start.elapsed())
}

const LUA_DECR: &str = "local s = tonumber(redis.call('GET', KEYS[1]) or '0')
if s > 0 then redis.call('DECR', KEYS[1]) return 1 end
return 0";

async fn rush_redis(a: &Args) -> Result<(Vec<Answer>, Duration, i64), String> {
    let client = redis::Client::open(a.redis_url.as_str()).map_err(|e| e.to_string())?;
    let conn = client
        .get_multiplexed_async_connection()
        .await
        .map_err(|e| e.to_string())?;
    let key = format!("loadgen:rush:{}", std::process::id());
    let mut c = conn.clone();
    redis::cmd("SET")
        .arg(&key)
        .arg(a.stock)
        .query_async::<()>(&mut c)
        .await
        .map_err(|e| e.to_string())?;
    let script = Arc::new(redis::Script::new(LUA_DECR));
    let gate = Arc::new(Semaphore::new(a.connections));
    let start = tokio::time::Instant::now() + Duration::from_millis(200);
    let tasks: Vec<_> = (0..a.buyers)
        .map(|i| {
            let (mut conn, script, key, gate) =
                (conn.clone(), script.clone(), key.clone(), gate.clone());
            let at = start + due(i, a);
            tokio::spawn(async move {
                tokio::time::sleep_until(at).await;
                let _permit = gate.acquire().await;
                match script.key(&key).invoke_async::<i64>(&mut conn).await {
                    Ok(1) => (200, at.elapsed(), false),
                    Ok(_) => (409, at.elapsed(), false),
                    Err(_) => (0, at.elapsed(), false),
                }
            })
        })
        .collect();
    let mut answers = Vec::with_capacity(tasks.len());
    for t in tasks {
        answers.push(t.await.unwrap_or((0, Duration::ZERO, false)));
    }
    let wall = start.elapsed();
    let left: i64 = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut c)
        .await
        .map_err(|e| e.to_string())?;
    let _: Result<(), _> = redis::cmd("DEL").arg(&key).query_async(&mut c).await;
    Ok((answers, wall, left))
}

pub(crate) fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

pub async fn run(raw: Vec<String>) -> Result<Value, String> {
    let a = parse(raw)?;
    let setup_started = Instant::now();
    let (answers, wall, stock_after, sale) = if a.target == "redis-lua" {
        let (answers, wall, left) = rush_redis(&a).await?;
        (answers, wall, left, None)
    } else {
        let http = client(a.connections)?;
        let sale = set_up(&a, &http).await?;
        eprintln!(
            "rush: set-up done in {:.1} s ({} buyers); releasing over {} ms",
            setup_started.elapsed().as_secs_f64(),
            a.buyers,
            a.release_ms
        );
        let (answers, wall) = rush_http(&a, &http, &sale).await;
        let detail = crate::get_json(
            &http,
            &format!("{}/api/sessions/get?id={}", a.url, sale.sid),
        )
        .await?;
        let left = detail["products"][a.product_index]["stock"]
            .as_i64()
            .unwrap_or(-1);
        (answers, wall, left, Some(sale))
    };
    let percentiles = |keep: &dyn Fn(&Answer) -> bool| {
        let mut lat: Vec<Duration> = answers.iter().filter(|r| keep(r)).map(|r| r.1).collect();
        lat.sort();
        let pct = |p: f64| {
            if lat.is_empty() {
                return 0.0;
            }
            ms(lat[((lat.len() as f64 - 1.0) * p).round() as usize])
        };
        serde_json::json!({"p50": pct(0.5), "p99": pct(0.99), "max": pct(1.0)})
    };
    let ok = answers.iter().filter(|r| r.0 == 200).count();
    let sold_out = answers.iter().filter(|r| r.0 == 409).count();
    let errors = answers.len() - ok - sold_out;
    let discounted = answers.iter().filter(|r| r.2).count();
    let within_2s = answers
        .iter()
        .filter(|r| r.0 != 0 && r.1 <= Duration::from_secs(2))
        .count();
    let secs = wall.as_secs_f64();
    let mut out = serde_json::json!({
        "scenario": "rush",
        "target": a.target,
        "buyers": a.buyers,
        "release_ms": a.release_ms,
        "connections": a.connections,
        "wall_s": (secs * 1000.0).round() / 1000.0,
        "answers_per_s": (answers.len() as f64 / secs).round(),
        "ok": ok,
        "ok_per_s": (ok as f64 / secs).round(),
        "sold_out": sold_out,
        "sold_out_per_s": (sold_out as f64 / secs).round(),
        "errors": errors,
        "answered_within_2s": within_2s,
        "latency_from_due_ms": percentiles(&|_| true),
        // Winners and losers apart: where the tail comes from.
        "ok_latency_ms": percentiles(&|r| r.0 == 200),
        "sold_out_latency_ms": percentiles(&|r| r.0 == 409),
    });
    if a.target != "floor" {
        let expected = (a.buyers as i64).min(a.stock);
        out["stock"] = a.stock.into();
        out["stock_after"] = stock_after.into();
        out["consistent"] = (ok as i64 == expected
            && stock_after == a.stock - ok as i64
            && (sale.is_none() || discounted == ok))
            .into();
    }
    Ok(out)
}
