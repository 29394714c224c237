//! `static`: how fast a server hands out one static file (the client bundle), with the
//! compression a browser asks for; and `serve-dir`: the reference it is compared with, the
//! same folder served by tower-http's `ServeDir` (optionally compressing on the fly).
//!
//!   loadgen static --url http://127.0.0.1:3200 --path /app-….wasm --connections 16 --duration 10
//!   loadgen serve-dir --dir dist --bind 127.0.0.1:3201 [--compress]

use std::time::{Duration, Instant};

use serde_json::{json, Value};

fn flags(args: &[String]) -> Result<std::collections::HashMap<String, String>, String> {
    let mut out = std::collections::HashMap::new();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let name = flag.trim_start_matches("--").to_string();
        if name == "compress" {
            out.insert(name, "true".into());
            continue;
        }
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        out.insert(name, value.clone());
    }
    Ok(out)
}

pub async fn run(args: Vec<String>) -> Result<Value, String> {
    let f = flags(&args)?;
    let url = f
        .get("url")
        .cloned()
        .unwrap_or_else(|| "http://127.0.0.1:3000".into());
    let path = f.get("path").cloned().ok_or("--path is required")?;
    let connections: usize = f
        .get("connections")
        .and_then(|v| v.parse().ok())
        .unwrap_or(16);
    let secs: u64 = f.get("duration").and_then(|v| v.parse().ok()).unwrap_or(10);
    let encoding = f
        .get("encoding")
        .cloned()
        .unwrap_or_else(|| "br, gzip".into());
    let target = format!("{}{path}", url.trim_end_matches('/'));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let workers = (0..connections).map(|_| {
        let (target, encoding) = (target.clone(), encoding.clone());
        tokio::spawn(async move {
            // One keep-alive connection per worker, no automatic decompression: the bytes
            // counted are the bytes on the wire.
            let http = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .map_err(|e| e.to_string())?;
            let mut latencies = Vec::new();
            let (mut bytes, mut errors) = (0u64, 0u64);
            let mut content_encoding = String::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                match http
                    .get(&target)
                    .header("accept-encoding", &encoding)
                    .send()
                    .await
                {
                    Ok(res) if res.status().is_success() => {
                        content_encoding = res
                            .headers()
                            .get("content-encoding")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("identity")
                            .to_string();
                        match res.bytes().await {
                            Ok(b) => {
                                bytes += b.len() as u64;
                                latencies.push(t.elapsed().as_micros() as u64);
                            }
                            Err(_) => errors += 1,
                        }
                    }
                    _ => errors += 1,
                }
            }
            Ok::<_, String>((latencies, bytes, errors, content_encoding))
        })
    });
    let mut latencies = Vec::new();
    let (mut bytes, mut errors) = (0u64, 0u64);
    let mut content_encoding = String::new();
    for w in futures::future::join_all(workers).await {
        let (l, b, e, ce) = w.map_err(|e| e.to_string())??;
        latencies.extend(l);
        bytes += b;
        errors += e;
        if !ce.is_empty() {
            content_encoding = ce;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map(|us| *us as f64 / 1000.0)
            .unwrap_or(0.0)
    };
    let n = latencies.len();
    Ok(json!({
        "scenario": "static",
        "url": target,
        "connections": connections,
        "responses": n,
        "errors": errors,
        "requests_per_s": (n as f64 / elapsed).round(),
        "mb_per_s": ((bytes as f64 / elapsed / 1e6) * 10.0).round() / 10.0,
        "bytes_per_response": if n > 0 { bytes / n as u64 } else { 0 },
        "content_encoding": content_encoding,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
    }))
}

/// The reference server: `ServeDir` over the same folder, compressing per request when asked.
pub async fn serve_dir(args: Vec<String>) -> Result<Value, String> {
    let f = flags(&args)?;
    let dir = f.get("dir").cloned().unwrap_or_else(|| "dist".into());
    let bind = f
        .get("bind")
        .cloned()
        .unwrap_or_else(|| "127.0.0.1:3201".into());
    let compress = f.contains_key("compress");
    let mut router =
        axum::Router::new().fallback_service(tower_http::services::ServeDir::new(&dir));
    if compress {
        router = router.layer(tower_http::compression::CompressionLayer::new());
    }
    let listener = tokio::net::TcpListener::bind(&bind)
        .await
        .map_err(|e| format!("bind {bind}: {e}"))?;
    eprintln!("serving {dir} on http://{bind} (compress: {compress})");
    axum::serve(listener, router)
        .await
        .map_err(|e| e.to_string())?;
    Ok(json!({ "scenario": "serve-dir", "stopped": true }))
}
