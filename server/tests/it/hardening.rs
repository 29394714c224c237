//! Bad input, over HTTP against the real server: every class of malformed request gets a clear
//! 4xx (415 wrong body type, 400 undecodable or invalid, 413 too large, 405 wrong method), never
//! a 5xx or a dropped connection, and nothing is stored. Then a fuzzer throws random requests
//! at every server function as an anonymous visitor, a shopper and a host.
//!
//! The fuzzer is seeded: `FUZZ_SEED` picks the seed (default fixed), `FUZZ_REQUESTS` the number
//! of requests (default 3,000; `FUZZ_REQUESTS=100000 cargo test --release -p server --test it
//! fuzz_every_endpoint` for a long run).

use std::time::Duration;

use crate::common::{db, demo_host, demo_session, scalar, spawn, Backend, Client, TestApp};
use reqwest::{header, Method, StatusCode};

both_databases!(
    every_server_function_is_in_the_endpoint_table,
    bodies_of_the_wrong_type_are_415,
    undecodable_bodies_are_400_and_quote_little,
    oversized_bodies_are_413,
    invalid_utf8_is_refused_and_nothing_is_stored,
    uploads_check_the_caller_and_the_boundary_first,
    text_is_cleaned_before_it_is_stored,
    nul_characters_are_a_client_error,
    fuzz_every_endpoint,
);

async fn raw(
    c: &Client,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> (u16, String) {
    let mut req = c.http.request(method, format!("{}{path}", c.base));
    if let Some(ct) = content_type {
        req = req.header(header::CONTENT_TYPE, ct);
    }
    let res = req
        .body(body)
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{path}: the connection failed: {e:?}"));
    let status = res.status().as_u16();
    (status, res.text().await.unwrap_or_default())
}

/// Sends a request head on a raw connection and reads the status of the answer, without
/// sending any body.
async fn head_only_status(app: &TestApp, head: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    conn.write_all(head.as_bytes()).await.expect("write head");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    let read = async {
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("an answer without the body");
    let text = String::from_utf8_lossy(&buf);
    assert!(
        !text.starts_with("HTTP/1.1 100"),
        "asked for the body: {text}"
    );
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text:?}"))
}

const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";

async fn every_server_function_is_in_the_endpoint_table(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let mut registered: Vec<String> = leptos::server_fn::axum::server_fn_paths()
        .map(|(p, _)| p.to_string())
        .collect();
    let mut table: Vec<String> = app::api::endpoints::all()
        .into_iter()
        .map(|e| e.path.to_string())
        .collect();
    registered.sort();
    table.sort();
    assert_eq!(
        registered, table,
        "app/src/api/endpoints.rs lists every server function"
    );
    for e in app::api::endpoints::all() {
        let other = if e.method == Method::GET {
            Method::POST
        } else {
            Method::GET
        };
        let c = Client::new(&app);
        let (s, _) = raw(&c, other, e.path, None, "").await;
        assert_eq!(s, 405, "{} with the wrong method", e.path);
    }
    let c = Client::new(&app);
    assert_eq!(
        raw(&c, Method::POST, "/api/no/such", Some(FORM), "")
            .await
            .0,
        404
    );
    app.stop().await;
}

async fn bodies_of_the_wrong_type_are_415(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let host = demo_host(&app).await;
    // A form body to a JSON endpoint, JSON to a form endpoint, no content type, text/plain.
    let cases = [
        ("/api/studio/session/create", Some(FORM), "form=x"),
        ("/api/studio/product/update", Some("text/plain"), "{}"),
        ("/api/sessions/reserve", Some(JSON), "{\"session_id\":1}"),
        ("/api/me/nickname", None, "nickname=x"),
        (
            "/api/orders/place",
            Some("multipart/form-data; boundary=x"),
            "--x--",
        ),
    ];
    for (path, ct, body) in cases {
        let (s, v) = raw(&host, Method::POST, path, ct, body).await;
        assert_eq!(s, 415, "{path} {ct:?}: {v}");
        let err: shop_core::error::AppError = serde_json::from_str(&v).expect("an AppError body");
        assert!(err.to_string().contains("This endpoint takes"), "{err}");
    }
    app.stop().await;
}

async fn undecodable_bodies_are_400_and_quote_little(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let host = demo_host(&app).await;
    // Under the body limit, but long: the error must not echo it back.
    let long_wrong_type = format!("{{\"form\": \"{}\"}}", "x".repeat(60_000));
    let cases: Vec<(&str, &str, String)> = vec![
        ("/api/studio/session/create", JSON, "{not json".into()),
        ("/api/studio/session/create", JSON, "null".into()),
        ("/api/studio/session/create", JSON, "[1,2,3]".into()),
        ("/api/studio/session/create", JSON, "{}".into()),
        ("/api/studio/session/create", JSON, "{\"form\": 5}".into()),
        ("/api/studio/session/create", JSON, long_wrong_type),
        (
            "/api/studio/product/add",
            JSON,
            "{\"session_id\": \"one\", \"form\": {}}".into(),
        ),
        ("/api/sessions/reserve", FORM, "session_id=abc".into()),
        ("/api/sessions/reserve", FORM, "".into()),
        (
            "/api/orders/place",
            FORM,
            "session_id=1&product_id=1&quantity=1e99&idempotency_key=x".into(),
        ),
        (
            "/api/live/like",
            FORM,
            "session_id=1&count=-99999999999999999999".into(),
        ),
    ];
    for (path, ct, body) in cases {
        let (s, v) = raw(&host, Method::POST, path, Some(ct), body.clone()).await;
        assert_eq!(s, 400, "{path} {}: {v}", &body[..body.len().min(60)]);
        assert!(
            v.len() < 400,
            "the error quotes at most a short prefix: {} bytes",
            v.len()
        );
    }
    // Query strings of GET functions too.
    let (s, v) = raw(&host, Method::GET, "/api/sessions/get?id=NaN", None, "").await;
    assert_eq!(s, 400, "{v}");
    app.stop().await;
}

async fn oversized_bodies_are_413(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let c = Client::new(&app);
    // Declared length over the limit, within what the server reads past: the whole body is
    // sent and the answer arrives on a connection that was not cut.
    let big = format!("nickname={}", "a".repeat(512 * 1024));
    let (s, _) = raw(&c, Method::POST, "/api/me/nickname", Some(FORM), big).await;
    assert_eq!(s, 413);
    // Far over it, the way curl sends a large body (`Expect: 100-continue`, the body only after
    // `100 Continue`): the 413 comes at once and the body is never sent. A client that sends
    // such a body without waiting may see its connection cut, as HTTP/1.1 allows.
    let head = format!(
        "POST /api/me/nickname HTTP/1.1\r\nHost: {}\r\nContent-Type: {FORM}\r\n\
         Content-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        app.addr,
        3 * 1024 * 1024
    );
    assert_eq!(head_only_status(&app, &head).await, 413);
    // An upload from a stranger, the same way: refused before any of the body is sent.
    let head = format!(
        "POST /api/studio/upload HTTP/1.1\r\nHost: {}\r\n\
         Content-Type: multipart/form-data; boundary=x\r\n\
         Content-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        app.addr,
        50 * 1024 * 1024
    );
    let s = head_only_status(&app, &head).await;
    assert!(s == 401 || s == 403, "an anonymous upload: {s}");
    // No declared length (chunked): refused while reading.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..40).map(|_| Ok(vec![b'a'; 16 * 1024])).collect();
    let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let (s, _) = raw(&c, Method::POST, "/api/me/nickname", Some(FORM), body).await;
    assert_eq!(s, 413);
    // A JSON body just over the small limit.
    let host = demo_host(&app).await;
    let json = format!("{{\"form\": {{\"title\": \"{}\"}}}}", "t".repeat(70 * 1024));
    let (s, _) = raw(
        &host,
        Method::POST,
        "/api/studio/session/create",
        Some(JSON),
        json,
    )
    .await;
    assert_eq!(s, 413);
    // The server is fine afterwards.
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    app.stop().await;
}

async fn invalid_utf8_is_refused_and_nothing_is_stored(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let c = Client::new(&app);
    let before = c.me().await["nickname"].clone();
    // Percent-encoded bytes that are not UTF-8.
    let (s, v) = raw(
        &c,
        Method::POST,
        "/api/me/nickname",
        Some(FORM),
        "nickname=%FF%FEMei",
    )
    .await;
    assert_eq!(s, 400, "{v}");
    // Raw bytes that are not UTF-8, as a form and as JSON.
    let (s, _) = raw(
        &c,
        Method::POST,
        "/api/me/nickname",
        Some(FORM),
        b"nickname=\xff\xfe".to_vec(),
    )
    .await;
    assert_eq!(s, 400);
    let host = demo_host(&app).await;
    let (s, _) = raw(
        &host,
        Method::POST,
        "/api/studio/session/create",
        Some(JSON),
        b"{\"form\":\"\xc3\x28\"}".to_vec(),
    )
    .await;
    assert_eq!(s, 400);
    let (s, _) = raw(&c, Method::GET, "/api/sessions/get?id=%FF", None, "").await;
    assert_eq!(s, 400);
    assert_eq!(
        c.me().await["nickname"],
        before,
        "the nickname did not change"
    );
    let d = db(&app).await;
    assert_eq!(
        scalar(
            &d,
            "SELECT COUNT(*) FROM shoppers WHERE nickname LIKE '%\u{FFFD}%'"
        )
        .await,
        0
    );
    app.stop().await;
}

async fn uploads_check_the_caller_and_the_boundary_first(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let anon = Client::new(&app);
    // Anonymous: refused before the body is looked at, whatever it is.
    for ct in [
        "multipart/form-data",
        "multipart/form-data; boundary=x",
        "text/plain",
    ] {
        let (s, v) = raw(
            &anon,
            Method::POST,
            "/api/studio/upload",
            Some(ct),
            "garbage",
        )
        .await;
        assert_eq!(s, 401, "{ct}: {v}");
    }
    let shopper = Client::new(&app);
    shopper.me().await;
    let (s, _) = raw(
        &shopper,
        Method::POST,
        "/api/studio/upload",
        Some("multipart/form-data"),
        "x",
    )
    .await;
    assert_eq!(s, 403);
    let host = demo_host(&app).await;
    let (s, v) = raw(
        &host,
        Method::POST,
        "/api/studio/upload",
        Some("multipart/form-data"),
        "x",
    )
    .await;
    assert_eq!(s, 400, "no boundary: {v}");
    let (s, _) = raw(
        &host,
        Method::POST,
        "/api/studio/upload",
        Some("multipart/form-data; boundary="),
        "x",
    )
    .await;
    assert_eq!(s, 400);
    let (s, _) = raw(&host, Method::POST, "/api/studio/upload", Some(JSON), "{}").await;
    assert_eq!(s, 415);
    let (s, v) = raw(
        &host,
        Method::POST,
        "/api/studio/upload",
        Some("multipart/form-data; boundary=abc"),
        "not multipart at all",
    )
    .await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    app.stop().await;
}

async fn text_is_cleaned_before_it_is_stored(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let c = Client::new(&app);
    let (s, v) = c
        .call(
            "me/nickname",
            &[("nickname", "\u{202E}Mei\u{2066} Li\u{0007}".into())],
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["nickname"], "Mei Li");
    let (s, _) = c
        .call("me/nickname", &[("nickname", "\u{0001}\u{202E}\n".into())])
        .await;
    assert_eq!(s, 400, "nothing left after cleaning");
    // 24 CJK characters fit (the limit counts characters, not bytes).
    let (s, _) = c
        .call("me/nickname", &[("nickname", "美".repeat(24))])
        .await;
    assert_eq!(s, 200);
    let (s, _) = c
        .call("me/nickname", &[("nickname", "美".repeat(25))])
        .await;
    assert_eq!(s, 400);

    let (sid, _) = demo_session(&app).await;
    let host = demo_host(&app).await;
    host.call("studio/go_live", &[("session_id", sid.to_string())])
        .await;
    let viewer = Client::new(&app);
    viewer.reserve(sid).await;
    for text in [
        "\u{0001}\u{0002}\u{0003}",
        "\u{202A}\u{202B}\u{202C}\u{202D}\u{202E}",
        " \n\r\t ",
    ] {
        let (s, v) = viewer
            .call(
                "live/chat",
                &[("session_id", sid.to_string()), ("text", text.into())],
            )
            .await;
        assert_eq!(s, 400, "{text:?}: {v}");
    }
    let (s, v) = viewer
        .call(
            "live/chat",
            &[
                ("session_id", sid.to_string()),
                ("text", "hi\u{202E} there\u{0}".into()),
            ],
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["message"]["text"], "hi there");
    // Titles and product names go through the same rule.
    let (s, v) = host
        .call_json(
            "studio/session/create",
            serde_json::json!({ "form": {
                "title": "\u{202E}Spring\u{0007} sale", "description": "line one\r\nline two\u{2067}",
                "scheduled_start_ms": now_ms() + 3_600_000,
                "policy": { "percent_off": 50, "friends_needed": 1, "units_per_shopper": 1, "units_cap": null, "purchase_limit": 5 }
            }}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (_, detail) = host
        .get(&format!("/api/studio/session?session_id={v}"))
        .await;
    assert_eq!(detail["title"], "Spring sale");
    assert_eq!(detail["description"], "line one\nline two");
    app.stop().await;
}

/// A NUL character in any text a lookup uses (PostgreSQL cannot hold one) is the client's
/// error, never a 500.
async fn nul_characters_are_a_client_error(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let c = Client::new(&app);
    let (s, v) = c.get("/api/invites/get?code=%00").await;
    assert!(s == 400 || s == 404, "invite code: {s} {v}");
    let (s, v) = c.get("/api/invites/get?code=ab%00cd").await;
    assert!(s == 400 || s == 404, "invite code: {s} {v}");
    let (s, v) = c.join("x\0y").await;
    assert!(s == 400 || s == 404, "join: {s} {v}");
    let (s, v) = c
        .call(
            "host/sign_in",
            &[("email", "a\0@b.cn".into()), ("password", "pw\0".into())],
        )
        .await;
    assert!(matches!(s, 400 | 401 | 403), "sign-in: {s} {v}");
    let (s, v) = c.call("me/nickname", &[("nickname", "\0".into())]).await;
    assert_eq!(s, 400, "nickname: {v}");
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    app.stop().await;
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

// ---- The fuzzer ----

/// xorshift64*: a few lines, seeded, the same sequence on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Argument names the app's server functions use, so random bodies often hit real fields.
const FIELDS: &[&str] = &[
    "session_id",
    "product_id",
    "quantity",
    "idempotency_key",
    "expected_total",
    "nickname",
    "text",
    "count",
    "id",
    "code",
    "shopper_id",
    "form",
    "email",
    "password",
    "display_name",
    "delta",
    "kind",
    "title",
    "price",
    "stock",
    "policy",
    "percent_off",
    "units_cap",
];

fn random_string(rng: &mut Rng) -> String {
    let pool: &[&str] = &[
        "",
        "0",
        "-1",
        "1",
        "9223372036854775807",
        "-9223372036854775808",
        "99999999999999999999",
        "1e308",
        "NaN",
        "null",
        "true",
        "美",
        "\u{202E}",
        "\u{0}",
        "%",
        "%FF",
        "%00",
        "'",
        "\"",
        "<script>alert(1)</script>",
        "' OR 1=1 --",
        "../../etc/passwd",
        "ord-0123456789",
    ];
    match rng.below(4) {
        0 => rng.pick(pool).to_string(),
        1 => (0..rng.below(40))
            .map(|_| char::from_u32(rng.below(0x3000) as u32).unwrap_or('x'))
            .collect(),
        2 => "A".repeat(rng.below(20_000)),
        _ => rng.next().to_string(),
    }
}

fn random_json(rng: &mut Rng, depth: u32) -> serde_json::Value {
    use serde_json::Value;
    match rng.below(if depth > 3 { 5 } else { 8 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.chance(50)),
        2 => serde_json::json!(rng.next() as i64),
        3 => serde_json::json!((rng.next() % 1000) as f64 / 7.0),
        4 => Value::String(random_string(rng)),
        5 => Value::Array(
            (0..rng.below(5))
                .map(|_| random_json(rng, depth + 1))
                .collect(),
        ),
        _ => Value::Object(
            (0..rng.below(6))
                .map(|_| {
                    let k = if rng.chance(70) {
                        rng.pick(FIELDS).to_string()
                    } else {
                        random_string(rng)
                    };
                    (k, random_json(rng, depth + 1))
                })
                .collect(),
        ),
    }
}

fn random_form(rng: &mut Rng) -> String {
    let mut s = String::new();
    for i in 0..rng.below(6) {
        if i > 0 {
            s.push('&');
        }
        let key = if rng.chance(80) {
            rng.pick(FIELDS).to_string()
        } else {
            random_string(rng)
        };
        let value = random_string(rng);
        if rng.chance(85) {
            s.push_str(&url_encode(&key));
            s.push('=');
            s.push_str(&url_encode(&value));
        } else {
            // Sometimes raw, unencoded and possibly broken.
            s.push_str(&key);
            s.push('=');
            s.push_str(&value);
        }
    }
    s
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One random request for an endpoint: mostly its own method and content type, with bodies
/// ranging from plausible to garbage.
fn random_request(
    rng: &mut Rng,
    ep: &app::api::endpoints::Endpoint,
) -> (Method, String, Option<String>, Vec<u8>) {
    let method = if rng.chance(90) {
        ep.method.clone()
    } else {
        rng.pick(&[
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::PATCH,
        ])
        .clone()
    };
    let content_type = if rng.chance(75) {
        Some(
            if ep.content_type == "multipart/form-data" && rng.chance(60) {
                "multipart/form-data; boundary=fuzzboundary".to_string()
            } else {
                ep.content_type.to_string()
            },
        )
    } else {
        rng.pick(&[
            None,
            Some("text/plain"),
            Some("application/octet-stream"),
            Some("multipart/form-data"),
            Some("application/json; charset=utf-8"),
            Some("application/x-www-form-urlencoded; charset=latin1"),
            Some("garbage"),
        ])
        .map(str::to_string)
    };
    let json_body = |rng: &mut Rng| serde_json::to_vec(&random_json(rng, 0)).unwrap_or_default();
    let body: Vec<u8> = match rng.below(8) {
        0 => Vec::new(),
        1 => (0..rng.below(2_000)).map(|_| rng.next() as u8).collect(),
        2 => {
            let mut v = json_body(rng);
            let cut = rng.below(v.len() + 1);
            v.truncate(cut);
            v
        }
        3 => {
            let mut v = b"--fuzzboundary\r\nContent-Disposition: form-data; name=\"".to_vec();
            v.extend_from_slice(rng.pick(FIELDS).as_bytes());
            v.extend_from_slice(b"\"\r\n\r\n");
            v.extend_from_slice(random_string(rng).as_bytes());
            if rng.chance(50) {
                v.extend_from_slice(b"\r\n--fuzzboundary--\r\n");
            }
            v
        }
        4 => vec![b'{'; rng.below(100_000)],
        5 | 6 => random_form(rng).into_bytes(),
        _ => json_body(rng),
    };
    let mut path = ep.path.to_string();
    if method == Method::GET || rng.chance(20) {
        // Query strings stay under common URL limits (8 KB): the client would refuse longer.
        let mut query = random_form(rng);
        while query.len() > 6_000 {
            query.pop();
        }
        path.push('?');
        path.push_str(&query);
    }
    (method, path, content_type, body)
}

async fn fuzz_every_endpoint(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let seed: u64 = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_2026);
    let total: usize = std::env::var("FUZZ_REQUESTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3_000);
    let mut rng = Rng(seed | 1);
    let (sid, _) = demo_session(&app).await;
    let anonymous = Client::new(&app);
    let shopper = Client::new(&app);
    shopper.reserve(sid).await;
    let host = demo_host(&app).await;
    // Live, with a product presented: orders, chat and likes run their real paths.
    host.call("studio/go_live", &[("session_id", sid.to_string())])
        .await;
    host.call("studio/present_next", &[("session_id", sid.to_string())])
        .await;
    let who = [&anonymous, &shopper, &host];
    let endpoints = app::api::endpoints::all();
    let mut failures = Vec::new();
    for i in 0..total {
        let ep = &endpoints[i % endpoints.len()];
        let client = who[(i / endpoints.len()) % who.len()];
        let (method, path, ct, body) = random_request(&mut rng, ep);
        let mut req = client
            .http
            .request(method.clone(), format!("{}{path}", client.base));
        if let Some(ct) = &ct {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        match req
            .body(body.clone())
            .timeout(Duration::from_secs(30))
            .send()
            .await
        {
            Ok(res) if res.status().is_server_error() => {
                let status = res.status();
                let text = res.text().await.unwrap_or_default();
                failures.push(format!(
                    "#{i} {method} {path:.80} {ct:?} body {:.120?} -> {status} {text:.200}",
                    String::from_utf8_lossy(&body)
                ));
            }
            Ok(_) => {}
            Err(e) => {
                let e: String = format!("{e:?}").chars().take(300).collect();
                failures.push(format!(
                    "#{i} {method} {path:.80} {ct:?} body of {} bytes: connection failed: {e}",
                    body.len()
                ))
            }
        }
        if failures.len() >= 10 {
            break;
        }
    }
    assert!(
        failures.is_empty(),
        "seed {seed}: {} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    stop(app).await;
}

async fn stop(app: TestApp) {
    app.stop().await;
}
