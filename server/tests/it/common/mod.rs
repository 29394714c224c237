//! Test harness: each test gets the real server on port 0 with a fresh database of its own,
//! SQLite (a temp file) or PostgreSQL (a new database in the cluster named by
//! `TEST_POSTGRES_URL`, which scripts/test.sh starts and removes).

#![allow(dead_code)]

pub mod cluster;
/// The local WeChat Pay server (its own crate: the browser tests run it as a process).
#[allow(unused_imports)]
pub use wechat_sim as wechat_pay;
pub mod whep_viewer;
pub mod whip_publisher;

use std::{collections::HashMap, net::SocketAddr};

use server::{config::Config, Server};
use tokio::sync::oneshot;

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub addr: SocketAddr,
    /// The running server's state (its live hub, database handle...).
    pub state: server::ServerState,
    pub client: reqwest::Client,
    pub database_url: String,
    pub dir: tempfile::TempDir,
    /// The PostgreSQL database made for this test: dropped with the app.
    pg: Option<PgDatabase>,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// A minimal built client: an index.html with an inline module script, like Trunk's output.
pub const TEST_INDEX_HTML: &str = "<!doctype html><html lang=\"en\"><head><title>Live Shopping</title><script type=\"module\">import init from '/app-0123456789abcdef.js'; await init();</script></head><body>\n  <div id=\"boot\" class=\"boot\" role=\"status\"><p id=\"boot-message\">Loading…</p></div>\n  <div id=\"app\"></div>\n</body></html>";

/// The live room's page (its own bundle, under `dist/live-app/`).
pub const TEST_LIVE_HTML: &str = "<!doctype html><html lang=\"en\"><head><title>Live Shopping</title><script type=\"module\">import init from '/live-app/live-0123456789abcdef.js'; await init();</script></head><body>\n  <div id=\"boot\" class=\"boot\" role=\"status\"><p id=\"boot-message\">Loading…</p></div>\n  <div id=\"app\"></div>\n</body></html>";

/// The studio's page (its own bundle, under `dist/studio-app/`).
pub const TEST_STUDIO_HTML: &str = "<!doctype html><html lang=\"en\"><head><title>Live Shopping Studio</title><script type=\"module\">import init from '/studio-app/studio-0123456789abcdef.js'; await init();</script></head><body><div id=\"app\"></div></body></html>";

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    /// Stops the server gracefully and waits for it (a PostgreSQL test database is dropped).
    pub async fn stop(mut self) {
        self.shut_down().await;
    }

    async fn shut_down(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.expect("server task").expect("server ran");
        }
    }

    /// Stops the server and starts a new one on the same database (restart tests).
    pub async fn restart(mut self, opts: Options) -> TestApp {
        self.shut_down().await;
        // The same folder: it holds the SQLite database.
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("tempdir"));
        let mut again = spawn_on(self.database_url.clone(), dir, opts).await;
        again.pg = self.pg.take();
        again
    }
}

/// A database created in the test cluster; dropped (with its connections) when this is.
pub struct PgDatabase {
    admin_url: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (admin, name) = (self.admin_url.clone(), self.name.clone());
        // Its own thread and runtime: this may run inside a test's runtime.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin)
                    .await
                    .ok()?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await
                    .ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(_))) {
            eprintln!("could not drop the test database {}", self.name);
        }
    }
}

/// A new empty database and, for PostgreSQL, the guard that drops it. `None` (and says so)
/// when PostgreSQL is not configured and not required.
pub async fn fresh_database(
    backend: Backend,
    dir: &std::path::Path,
) -> Option<(String, Option<PgDatabase>)> {
    match backend {
        Backend::Sqlite => Some((format!("sqlite://{}/test.db", dir.display()), None)),
        Backend::Postgres => {
            let Ok(admin) = std::env::var("TEST_POSTGRES_URL") else {
                if std::env::var("REQUIRE_POSTGRES").is_ok() {
                    panic!("REQUIRE_POSTGRES is set but TEST_POSTGRES_URL is not");
                }
                eprintln!("skipping PostgreSQL variant: TEST_POSTGRES_URL is not set (scripts/test.sh sets it)");
                return None;
            };
            let name = format!("t_{}", random_suffix());
            sqlx::any::install_default_drivers();
            let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin)
                .await
                .expect("connect to test cluster");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await
                .expect("create database");
            let base = admin
                .rsplit_once('/')
                .map(|(b, _)| b)
                .expect("url has a database path");
            let url = format!("{base}/{name}");
            Some((
                url,
                Some(PgDatabase {
                    admin_url: admin,
                    name,
                }),
            ))
        }
    }
}

fn random_suffix() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:x}{:x}", nanos, std::process::id())
}

pub struct Options {
    pub demo_data: bool,
    pub with_client: bool,
    pub extra: Vec<(&'static str, String)>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            demo_data: true,
            with_client: true,
            extra: Vec::new(),
        }
    }
}

pub async fn spawn(backend: Backend) -> Option<TestApp> {
    spawn_with(backend, Options::default()).await
}

pub async fn spawn_with(backend: Backend, opts: Options) -> Option<TestApp> {
    let dir = tempfile::tempdir().expect("tempdir");
    let (database_url, pg) = fresh_database(backend, dir.path()).await?;
    let mut app = spawn_on(database_url, dir, opts).await;
    app.pg = pg;
    Some(app)
}

/// Starts a server on an existing database (used to test restarts).
pub async fn spawn_on(database_url: String, dir: tempfile::TempDir, opts: Options) -> TestApp {
    let dist = dir.path().join("dist");
    if opts.with_client {
        std::fs::create_dir_all(&dist).expect("dist dir");
        std::fs::write(dist.join("index.html"), TEST_INDEX_HTML).expect("index.html");
        std::fs::create_dir_all(dist.join("live-app")).expect("live dir");
        std::fs::write(dist.join("live-app/index.html"), TEST_LIVE_HTML).expect("live");
        std::fs::create_dir_all(dist.join("studio-app")).expect("studio dir");
        std::fs::write(dist.join("studio-app/index.html"), TEST_STUDIO_HTML).expect("studio");
        std::fs::write(
            dist.join("app-0123456789abcdef.js"),
            "export default async function init() {}\n".repeat(50),
        )
        .expect("js");
    }
    let mut values: HashMap<String, String> = HashMap::new();
    values.insert("APP_BIND".into(), "127.0.0.1:0".into());
    values.insert("DATABASE_URL".into(), database_url.clone());
    values.insert("APP_DIST_DIR".into(), dist.display().to_string());
    values.insert("APP_DEMO_DATA".into(), opts.demo_data.to_string());
    values.insert("APP_SHUTDOWN_GRACE_SECS".into(), "2".into());
    // Files the server writes stay in the test's temp dir.
    values.insert(
        "APP_UPLOAD_DIR".into(),
        dir.path().join("uploads").display().to_string(),
    );
    values.insert(
        "APP_MEDIA_DIR".into(),
        dir.path().join("media").display().to_string(),
    );
    for (k, v) in opts.extra {
        values.insert(k.into(), v);
    }
    let config = Config::from_values(&values).expect("test config");
    let server = Server::bind(config).await.expect("server starts");
    let addr = server.local_addr();
    let state = server.state().clone();
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(server.run(async move {
        let _ = rx.await;
    }));
    TestApp {
        addr,
        state,
        client: reqwest::Client::new(),
        database_url,
        dir,
        pg: None,
        shutdown: Some(tx),
        handle: Some(handle),
    }
}

/// Generates `sqlite::name` and `postgres::name` tests from `async fn name(Backend)`.
/// Held by every test that broadcasts (ffmpeg packagers, WebRTC publishers and viewers,
/// restreams): one broadcast at a time in this binary, as when each area had its own, so that
/// a 2-core machine runs each at its pace.
pub static BROADCASTS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[macro_export]
macro_rules! both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::common::Backend::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::common::Backend::Postgres).await })*
        }
    };
}

/// A browser-like client: its own cookie jar, so it is one shopper (or host).
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
}

impl Client {
    pub fn new(app: &TestApp) -> Client {
        Client {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .build()
                .expect("client"),
            base: format!("http://{}", app.addr),
        }
    }

    /// POSTs a server function with form arguments; returns (status, JSON body).
    pub async fn call(&self, endpoint: &str, form: &[(&str, String)]) -> (u16, serde_json::Value) {
        let res = self
            .http
            .post(format!("{}/api/{endpoint}", self.base))
            .form(form)
            .send()
            .await
            .expect("request");
        let status = res.status().as_u16();
        let body = res.json().await.unwrap_or(serde_json::Value::Null);
        (status, body)
    }

    pub async fn get(&self, path_and_query: &str) -> (u16, serde_json::Value) {
        let res = self
            .http
            .get(format!("{}{path_and_query}", self.base))
            .send()
            .await
            .expect("request");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(serde_json::Value::Null))
    }

    pub async fn me(&self) -> serde_json::Value {
        let (s, v) = self.call("me", &[]).await;
        assert_eq!(s, 200, "{v}");
        v
    }

    pub async fn reserve(&self, session_id: i64) -> (u16, serde_json::Value) {
        self.call(
            "sessions/reserve",
            &[("session_id", session_id.to_string())],
        )
        .await
    }

    pub async fn viewer(&self, session_id: i64) -> serde_json::Value {
        let (s, v) = self
            .get(&format!("/api/sessions/viewer?session_id={session_id}"))
            .await;
        assert_eq!(s, 200, "{v}");
        v
    }

    pub async fn create_invite(&self, session_id: i64) -> (u16, serde_json::Value) {
        self.call("invites/create", &[("session_id", session_id.to_string())])
            .await
    }

    pub async fn join(&self, code: &str) -> (u16, serde_json::Value) {
        self.call("invites/join", &[("code", code.to_string())])
            .await
    }

    pub async fn order(
        &self,
        session_id: i64,
        product_id: i64,
        qty: i64,
        key: &str,
    ) -> (u16, serde_json::Value) {
        self.call(
            "orders/place",
            &[
                ("session_id", session_id.to_string()),
                ("product_id", product_id.to_string()),
                ("quantity", qty.to_string()),
                ("idempotency_key", key.to_string()),
            ],
        )
        .await
    }

    pub async fn sign_in_host(&self, email: &str, password: &str) {
        let (s, v) = self
            .call(
                "host/sign_in",
                &[("email", email.into()), ("password", password.into())],
            )
            .await;
        assert_eq!(s, 200, "host sign-in: {v}");
    }
}

/// The demo session's id and its products' ids (in presentation order).
pub async fn demo_session(app: &TestApp) -> (i64, Vec<i64>) {
    let c = Client::new(app);
    let (_, list) = c.get("/api/sessions/list").await;
    let id = list[0]["id"].as_i64().expect("demo session");
    let (_, s) = c.get(&format!("/api/sessions/get?id={id}")).await;
    let products = s["products"]
        .as_array()
        .expect("products")
        .iter()
        .map(|p| p["id"].as_i64().expect("id"))
        .collect();
    (id, products)
}

/// The demo session, live (nothing presented yet), with `friends` shoppers who joined
/// through one reserved shopper's invite (eligible for the discount), and its host.
pub async fn live_with_invited_friends(
    app: &TestApp,
    friends: usize,
) -> (i64, Vec<i64>, Client, Vec<Client>) {
    let (sid, products) = demo_session(app).await;
    let inviter = Client::new(app);
    assert_eq!(inviter.reserve(sid).await.0, 200);
    let (_, inv) = inviter.create_invite(sid).await;
    let code = inv["code"].as_str().expect("code").to_string();
    let mut joined = Vec::new();
    for _ in 0..friends {
        let c = Client::new(app);
        assert_eq!(c.join(&code).await.0, 200);
        joined.push(c);
    }
    let host = demo_host(app).await;
    let (s, v) = host
        .call("studio/go_live", &[("session_id", sid.to_string())])
        .await;
    assert_eq!(s, 200, "{v}");
    (sid, products, host, joined)
}

/// The demo session live, presenting its product `index`: (session, product, the demo host).
pub async fn live_presenting(app: &TestApp, index: usize) -> (i64, i64, Client) {
    let (sid, products) = demo_session(app).await;
    let host = demo_host(app).await;
    let (s, v) = host
        .call("studio/go_live", &[("session_id", sid.to_string())])
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = host
        .call(
            "studio/present",
            &[("product_id", products[index].to_string())],
        )
        .await;
    assert_eq!(s, 200, "{v}");
    (sid, products[index], host)
}

/// The demo host, signed in.
pub async fn demo_host(app: &TestApp) -> Client {
    let h = Client::new(app);
    h.sign_in_host(
        server::demo::DEMO_HOST_EMAIL,
        server::demo::DEMO_HOST_PASSWORD,
    )
    .await;
    h
}

/// Direct database access for arranging facts and checking that nothing was written.
pub async fn db(app: &TestApp) -> shop_backend::Db {
    shop_backend::Db::connect(&app.database_url)
        .await
        .expect("test db")
}

pub async fn scalar(db: &shop_backend::Db, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(db.pool())
        .await
        .expect(sql)
}

pub async fn exec(db: &shop_backend::Db, sql: &str) {
    sqlx::query(sql).execute(db.pool()).await.expect(sql);
}

impl Client {
    /// POSTs a server function that takes a JSON body.
    pub async fn call_json(
        &self,
        endpoint: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let res = self
            .http
            .post(format!("{}/api/{endpoint}", self.base))
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// Uploads an image through the studio's multipart server function.
    pub async fn upload(
        &self,
        kind: &str,
        id: i64,
        bytes: Vec<u8>,
        file_name: &str,
    ) -> (u16, serde_json::Value) {
        let form = reqwest::multipart::Form::new()
            .text("kind", kind.to_string())
            .text("id", id.to_string())
            .part(
                "file",
                reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_string()),
            );
        let res = self
            .http
            .post(format!("{}/api/studio/upload", self.base))
            .multipart(form)
            .send()
            .await
            .expect("upload");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// Signs up a new host (and is signed in as them).
    pub async fn sign_up_host(&self, name: &str, email: &str) {
        let (s, v) = self
            .call(
                "host/sign_up",
                &[
                    ("display_name", name.into()),
                    ("email", email.into()),
                    ("password", "a long password".into()),
                ],
            )
            .await;
        assert_eq!(s, 200, "sign-up: {v}");
    }
}

/// A PNG to upload: a real image, made by the poster renderer.
pub fn sample_png() -> Vec<u8> {
    let renderer = server::poster::PosterRenderer::new().expect("fonts");
    renderer
        .render_png(&server::poster::PosterData {
            title: "Upload test".into(),
            host_name: "Host".into(),
            starts_at_ms: 0,
            time_zone: "Asia/Shanghai".into(),
            locale: shop_core::i18n::Locale::En,
            inviter_nickname: "Tester".into(),
            invite_url: "https://example.com/i/x".into(),
            cover: None,
        })
        .expect("png")
}

/// A live room's event stream, read as a browser's EventSource would.
pub struct Sse {
    stream:
        std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<axum::body::Bytes>> + Send>>,
    buf: String,
}

#[derive(Debug, Clone)]
pub struct SseEvent {
    pub id: Option<u64>,
    pub data: serde_json::Value,
}

impl Sse {
    pub async fn open(c: &Client, session_id: i64, last: Option<u64>) -> Sse {
        let mut req = c.http.get(format!("{}/live/{session_id}/events", c.base));
        if let Some(last) = last {
            req = req.header("last-event-id", last.to_string());
        }
        let res = req.send().await.expect("sse");
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "text/event-stream");
        Sse {
            stream: Box::pin(res.bytes_stream()),
            buf: String::new(),
        }
    }

    /// The next event (heartbeats included), or `None` after `timeout`.
    pub async fn next_within(&mut self, timeout: std::time::Duration) -> Option<SseEvent> {
        use futures::StreamExt;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let raw: String = self.buf.drain(..end + 2).collect();
                let mut id = None;
                let mut data = String::new();
                for line in raw.lines() {
                    if let Some(v) = line.strip_prefix("id: ") {
                        id = v.parse().ok();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data.push_str(v);
                    }
                }
                let data = serde_json::from_str(&data).expect("event data is JSON");
                return Some(SseEvent { id, data });
            }
            match tokio::time::timeout(timeout, self.stream.next()).await {
                Ok(Some(Ok(chunk))) => self.buf.push_str(&String::from_utf8_lossy(&chunk)),
                _ => return None,
            }
        }
    }

    /// The next event of type `kind` (skipping others), within `timeout`.
    pub async fn next_of(&mut self, kind: &str, timeout: std::time::Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let ev = self.next_within(left).await?;
            if ev.data["type"] == kind {
                return Some(ev);
            }
        }
    }
}
