//! Distributed mode under test: a real `redis-server` per test (on a free port, no
//! persistence) and several server nodes on one PostgreSQL database and that Redis.
//! Skipped, saying so, when `redis-server` or `TEST_POSTGRES_URL` is missing, unless
//! `REQUIRE_REDIS` is set (scripts/test.sh sets it).

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use super::{fresh_database, spawn_on, Backend, Client, Options, PgDatabase, TestApp};

/// A throwaway `redis-server`, killed when dropped.
pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts one on a free port; `None` (and says why) when it cannot run here.
    pub fn start() -> Option<RedisServer> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        let mut r = RedisServer { port, child: None };
        if let Err(e) = r.launch() {
            if std::env::var("REQUIRE_REDIS").is_ok() {
                panic!("REQUIRE_REDIS is set but redis-server could not start: {e}");
            }
            eprintln!("skipping distributed-mode test: {e}");
            return None;
        }
        Some(r)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn launch(&mut self) -> Result<(), String> {
        let bin = std::env::var("TEST_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let child = Command::new(&bin)
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--daemonize", "no", "--loglevel", "warning"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{bin}: {e}"))?;
        self.child = Some(child);
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if ping(self.port) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!("redis-server did not answer on port {}", self.port))
    }

    /// Kills it (SIGKILL: whatever it held is gone).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again, empty, on the same port.
    pub fn restart(&mut self) {
        self.kill();
        self.launch().expect("redis-server restarts");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Whether a Redis answers PING on the port (plain RESP over TCP).
fn ping(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let mut buf = [0u8; 16];
    s.write_all(b"PING\r\n").is_ok()
        && s.read(&mut buf)
            .is_ok_and(|n| buf[..n].starts_with(b"+PONG"))
}

/// Several nodes sharing one PostgreSQL database and one Redis.
pub struct Cluster {
    pub nodes: Vec<TestApp>,
    pub redis: RedisServer,
    pub database_url: String,
    _pg: Option<PgDatabase>,
}

impl Cluster {
    /// `n` nodes (the first loads the demo data), or `None` when Redis or PostgreSQL is not
    /// available here.
    pub async fn start(n: usize) -> Option<Cluster> {
        Cluster::start_with(n, &[]).await
    }

    /// `start` with more settings for every node.
    pub async fn start_with(n: usize, extra: &[(&'static str, &str)]) -> Option<Cluster> {
        let redis = RedisServer::start()?;
        let dir = tempfile::tempdir().expect("tempdir");
        let Some((database_url, pg)) = fresh_database(Backend::Postgres, dir.path()).await else {
            if std::env::var("REQUIRE_REDIS").is_ok() {
                panic!("REQUIRE_REDIS is set but TEST_POSTGRES_URL is not");
            }
            return None;
        };
        let mut nodes = Vec::new();
        for i in 0..n {
            nodes.push(Cluster::node(&database_url, &redis, i == 0, extra).await);
        }
        Some(Cluster {
            nodes,
            redis,
            database_url,
            _pg: pg,
        })
    }

    async fn node(
        database_url: &str,
        redis: &RedisServer,
        demo_data: bool,
        extra: &[(&'static str, &str)],
    ) -> TestApp {
        let mut settings = vec![("REDIS_URL", redis.url())];
        settings.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        let opts = Options {
            demo_data,
            extra: settings,
            ..Options::default()
        };
        spawn_on(
            database_url.to_string(),
            tempfile::tempdir().expect("tempdir"),
            opts,
        )
        .await
    }

    /// A browser-like client talking to node `i`.
    pub fn client(&self, i: usize) -> Client {
        Client::new(&self.nodes[i])
    }
}

impl Client {
    /// The same browser (cookies included) talking to another node, as a load balancer may
    /// send it.
    pub fn on(&self, app: &TestApp) -> Client {
        Client {
            http: self.http.clone(),
            base: format!("http://{}", app.addr),
        }
    }
}
