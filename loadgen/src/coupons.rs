//! `loadgen coupons`: a rush of claims on one live coupon (issue 30), on an open loop like the
//! flash sale's (`rush.rs`).
//!
//!   loadgen coupons --url http://127.0.0.1:3000 --claims 50000 --quota 1000 --release-ms 2000
//!                   [--target claims|floor] [--connections 2000] [--minutes 30]
//!
//! Set-up (not timed): the demo host signs in and goes live; with `--target claims` it drops a
//! coupon (¥5 off, no minimum, quota `--quota`, valid `--minutes`); `--claims` fresh shoppers
//! get a cookie each from `me`. Then claim `i` is due at `i * release-ms / claims` after the
//! start, whatever happened to the others (open loop), and its latency counts from that due
//! time. At most `--connections` requests are in flight. A 503 `Busy` is retried after a
//! second, inside the same latency.
//!
//! `--target claims` taps Claim once per shopper (`live/coupons/claim`); `floor` calls
//! `orders/ready` at the same schedule (same cookie, CSRF and rate-limit checks, nothing
//! else): the server's own floor. Run each target on a fresh server.
//!
//! Prints one JSON line: answers per second, the outcomes (claimed, all gone, already claimed,
//! expired, errors), latency percentiles from the due time (all, claimed and "all gone"
//! apart), 503s retried, and (claims) the claimed count the studio's list reads from the
//! database; `consistent` when exactly min(quota, claims) were claimed, the database holds as
//! many, every other answer was "all gone" and none was an error.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use futures::{stream, StreamExt};
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use crate::rush::{client, ms, post};

struct Args {
    url: String,
    claims: usize,
    quota: i64,
    release_ms: u64,
    connections: usize,
    minutes: i64,
    target: String,
}

fn parse(args: Vec<String>) -> Result<Args, String> {
    let mut a = Args {
        url: "http://127.0.0.1:3000".into(),
        claims: 50_000,
        quota: 1_000,
        release_ms: 2_000,
        connections: 2_000,
        minutes: 30,
        target: "claims".into(),
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
            "--claims" => a.claims = num()?.max(1) as usize,
            "--quota" => a.quota = num()?.max(1) as i64,
            "--release-ms" => a.release_ms = num()?,
            "--connections" => a.connections = num()?.max(1) as usize,
            "--minutes" => a.minutes = num()?.max(1) as i64,
            "--target" => {
                if !matches!(value.as_str(), "claims" | "floor") {
                    return Err(format!("--target: claims or floor, not {value}"));
                }
                a.target = value;
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(a)
}

struct Rush {
    sid: i64,
    host: String,
    coupon_id: Option<i64>,
    cookies: Vec<String>,
}

async fn set_up(a: &Args, http: &reqwest::Client) -> Result<Rush, String> {
    let api = |e: &str| format!("{}/api/{e}", a.url);
    let list = crate::get_json(http, &api("sessions/list")).await?;
    let sid = list[0]["id"]
        .as_i64()
        .ok_or("no session: start the server with APP_DEMO_DATA=true")?;
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
    let coupon_id = if a.target == "claims" {
        let drop = json!({"session_id": sid, "form": {
            "percent": false, "value": 500, "min_spend_fen": 0,
            "quota": a.quota, "minutes": a.minutes}});
        let res = http
            .post(api("studio/coupons/drop"))
            .header(reqwest::header::COOKIE, &host)
            .json(&drop)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        if status != 200 {
            return Err(format!("drop: {status} {body}"));
        }
        Some(
            body["id"]
                .as_i64()
                .ok_or(format!("drop: no id in {body}"))?,
        )
    } else {
        None
    };
    let me = api("me");
    let cookies: Vec<String> = stream::iter(0..a.claims)
        .map(|_| {
            let (http, me) = (http.clone(), me.clone());
            async move {
                let (s, v, c) = post(&http, &me, "", &[]).await?;
                c.filter(|_| s == 200).ok_or(format!("me: {s} {v}"))
            }
        })
        .buffer_unordered(64)
        .collect::<Vec<Result<String, String>>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    Ok(Rush {
        sid,
        host,
        coupon_id,
        cookies,
    })
}

/// What one claim got: HTTP status (0: no answer), the outcome (`claimed`, `all_gone`, ...;
/// `ok` for the floor), latency from its due time, and how many 503s it retried.
struct Answer {
    status: u16,
    outcome: String,
    latency: Duration,
    busy: u32,
}

async fn rush(a: &Args, http: &reqwest::Client, r: &Rush) -> (Vec<Answer>, Duration) {
    let gate = Arc::new(Semaphore::new(a.connections));
    let (endpoint, form) = match r.coupon_id {
        Some(c) => (
            "live/coupons/claim",
            vec![
                ("session_id", r.sid.to_string()),
                ("coupon_id", c.to_string()),
            ],
        ),
        None => ("orders/ready", vec![]),
    };
    let url = Arc::new(format!("{}/api/{endpoint}", a.url));
    let form = Arc::new(form);
    let start = tokio::time::Instant::now() + Duration::from_millis(200);
    let tasks: Vec<_> = r
        .cookies
        .iter()
        .enumerate()
        .map(|(i, cookie)| {
            let (http, gate, url, form, cookie) = (
                http.clone(),
                gate.clone(),
                url.clone(),
                form.clone(),
                cookie.clone(),
            );
            let at =
                start + Duration::from_micros(a.release_ms * 1000 * i as u64 / a.claims as u64);
            tokio::spawn(async move {
                tokio::time::sleep_until(at).await;
                let mut busy = 0;
                loop {
                    let permit = gate.acquire().await;
                    let answer = post(&http, &url, &cookie, &form).await;
                    drop(permit);
                    let (status, outcome) = match answer {
                        Ok((503, _, _)) => {
                            busy += 1;
                            tokio::time::sleep(Duration::from_millis(1000)).await;
                            continue;
                        }
                        Ok((200, Value::String(o), _)) => (200, o),
                        Ok((200, Value::Null, _)) => (200, "ok".to_string()),
                        Ok((s, v, _)) => (s, format!("unexpected: {v}")),
                        Err(e) => (0, e),
                    };
                    return Answer {
                        status,
                        outcome,
                        latency: at.elapsed(),
                        busy,
                    };
                }
            })
        })
        .collect();
    let mut answers = Vec::with_capacity(tasks.len());
    for t in tasks {
        answers.push(t.await.unwrap_or(Answer {
            status: 0,
            outcome: "task failed".into(),
            latency: Duration::ZERO,
            busy: 0,
        }));
    }
    (answers, start.elapsed())
}

pub async fn run(raw: Vec<String>) -> Result<Value, String> {
    let a = parse(raw)?;
    let http = client(a.connections)?;
    let setup_started = Instant::now();
    let r = set_up(&a, &http).await?;
    eprintln!(
        "coupons: set-up done in {:.1} s ({} shoppers); releasing over {} ms",
        setup_started.elapsed().as_secs_f64(),
        a.claims,
        a.release_ms
    );
    let (answers, wall) = rush(&a, &http, &r).await;
    let count = |o: &str| answers.iter().filter(|x| x.outcome == o).count();
    let percentiles = |keep: &dyn Fn(&Answer) -> bool| {
        let mut lat: Vec<Duration> = answers
            .iter()
            .filter(|x| keep(x))
            .map(|x| x.latency)
            .collect();
        lat.sort();
        json!({
            "p50": ms_at(&lat, 0.5), "p99": ms_at(&lat, 0.99), "max": ms_at(&lat, 1.0)
        })
    };
    let expected_outcomes: &[&str] = if r.coupon_id.is_some() {
        &["claimed", "all_gone", "already_claimed", "expired"]
    } else {
        &["ok"]
    };
    let errors: Vec<&Answer> = answers
        .iter()
        .filter(|x| x.status != 200 || !expected_outcomes.contains(&x.outcome.as_str()))
        .collect();
    if let Some(e) = errors.first() {
        eprintln!(
            "coupons: {} errors, the first: {} {}",
            errors.len(),
            e.status,
            e.outcome
        );
    }
    let within_2s = answers
        .iter()
        .filter(|x| x.status == 200 && x.latency <= Duration::from_secs(2))
        .count();
    let secs = wall.as_secs_f64();
    let mut out = json!({
        "scenario": "coupons",
        "target": a.target,
        "claims": a.claims,
        "release_ms": a.release_ms,
        "connections": a.connections,
        "wall_s": (secs * 1000.0).round() / 1000.0,
        "answers_per_s": (answers.len() as f64 / secs).round(),
        "errors": errors.len(),
        "busy_retried": answers.iter().map(|x| x.busy as u64).sum::<u64>(),
        "answered_within_2s": within_2s,
        "latency_from_due_ms": percentiles(&|_| true),
    });
    if let Some(coupon_id) = r.coupon_id {
        let claimed = count("claimed");
        let all_gone = count("all_gone");
        let list = crate::get_json_with_cookie(
            &http,
            &format!("{}/api/studio/coupons?session_id={}", a.url, r.sid),
            &r.host,
        )
        .await?;
        let db_claimed = list
            .as_array()
            .and_then(|l| l.iter().find(|c| c["coupon"]["id"] == coupon_id))
            .and_then(|c| c["claimed"].as_i64())
            .unwrap_or(-1);
        let expected = a.quota.min(a.claims as i64);
        out["quota"] = a.quota.into();
        out["claimed"] = claimed.into();
        out["all_gone"] = all_gone.into();
        out["already_claimed"] = count("already_claimed").into();
        out["expired"] = count("expired").into();
        out["db_claimed"] = db_claimed.into();
        out["claimed_latency_ms"] = percentiles(&|x| x.outcome == "claimed");
        out["all_gone_latency_ms"] = percentiles(&|x| x.outcome == "all_gone");
        out["consistent"] = (claimed as i64 == expected
            && db_claimed == expected
            && all_gone == a.claims - claimed
            && errors.is_empty())
        .into();
    }
    Ok(out)
}

fn ms_at(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    ms(sorted[((sorted.len() as f64 - 1.0) * p).round() as usize])
}
