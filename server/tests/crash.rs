//! Crash safety of the flash sale: the real binary, a rush of buyers, `kill -9` in the middle
//! of it, a restart on the same database, then the invariants:
//!
//! - every order a buyer saw confirmed exists, under its key;
//! - remaining stock + units held by live orders = the initial stock;
//! - no shopper holds two discounted units of the product, and the counters match the orders;
//! - nothing is charged twice, and nothing is charged for an order that was released;
//! - a retry with the same idempotency key after the restart returns the same order, paid.
//!
//! `CRASH_ROUNDS` sets the rounds per database (default 2: one killed at the first
//! confirmation, one later); `scripts/crash-test.sh 20` runs
//! twenty on each, in release mode.

#[path = "it/common/mod.rs"]
mod common;

use std::{
    collections::{BTreeMap, BTreeSet},
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use common::{fresh_database, Backend};
use serde_json::Value;

const BUYERS: usize = 400;
const STOCK: i64 = 150;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_survives_kill_9_during_a_rush() {
    for round in 0..rounds() {
        crash_round(Backend::Sqlite, round, None).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_survives_kill_9_during_a_rush() {
    for round in 0..rounds() {
        crash_round(Backend::Postgres, round, None).await;
    }
}

/// Several-node mode (the gate in Redis): even rounds kill the node and Redis (Redis comes
/// back empty), odd rounds the node only (Redis keeps admissions whose batches died with
/// it). Either way the state is loaded again from PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_mode_survives_kill_9_of_the_node_and_of_redis() {
    for round in 0..rounds() {
        let Some(mut redis) = common::cluster::RedisServer::start() else {
            return;
        };
        crash_round(Backend::Postgres, round, Some(&mut redis)).await;
    }
}

fn rounds() -> usize {
    std::env::var("CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

struct Node {
    child: Child,
}

impl Node {
    async fn start(
        database_url: &str,
        port: u16,
        dir: &std::path::Path,
        redis: Option<&str>,
    ) -> Node {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_server"));
        cmd.env_clear();
        if let Some(url) = redis {
            cmd.env("REDIS_URL", url);
        }
        let mut child = cmd
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("APP_BIND", format!("127.0.0.1:{port}"))
            .env("DATABASE_URL", database_url)
            .env("APP_DIST_DIR", dir.join("no-dist"))
            .env("APP_UPLOAD_DIR", dir.join("uploads"))
            .env("APP_DEMO_DATA", "true")
            .env("APP_RATE_LIMIT_SCALE", "100000")
            .env("APP_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn server");
        let http = reqwest::Client::new();
        for _ in 0..300 {
            let up = http
                .get(format!("http://127.0.0.1:{port}/healthz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if up {
                return Node { child };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("the server did not start on port {port}");
    }

    fn kill_9(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.kill_9();
        }
    }
}

/// A browser: its own cookies.
#[derive(Clone)]
struct Browser {
    http: reqwest::Client,
    base: String,
}

impl Browser {
    fn new(port: u16) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    /// `None` when the connection failed (the server died under it).
    async fn call(&self, endpoint: &str, form: &[(&str, String)]) -> Option<(u16, Value)> {
        let res = self
            .http
            .post(format!("{}/api/{endpoint}", self.base))
            .form(form)
            .send()
            .await
            .ok()?;
        let status = res.status().as_u16();
        let body = res.json().await.ok()?;
        Some((status, body))
    }

    async fn ok(&self, endpoint: &str, form: &[(&str, String)]) -> Value {
        let (s, v) = self.call(endpoint, form).await.expect("reachable");
        assert_eq!(s, 200, "{endpoint}: {v}");
        v
    }

    async fn order(&self, sid: i64, product: i64, key: &str) -> Option<(u16, Value)> {
        self.call(
            "orders/place",
            &[
                ("session_id", sid.to_string()),
                ("product_id", product.to_string()),
                ("quantity", "1".into()),
                ("idempotency_key", key.to_string()),
            ],
        )
        .await
    }
}

async fn crash_round(
    backend: Backend,
    round: usize,
    mut redis: Option<&mut common::cluster::RedisServer>,
) {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some((url, _pg)) = fresh_database(backend, dir.path()).await else {
        return;
    };
    let port = free_port();
    let redis_url = redis.as_ref().map(|r| r.url());
    let mut node = Node::start(&url, port, dir.path(), redis_url.as_deref()).await;

    // Set-up: live, product presented with STOCK units, BUYERS friends of one inviter.
    let host = Browser::new(port);
    host.ok(
        "host/sign_in",
        &[
            ("email", server::demo::DEMO_HOST_EMAIL.into()),
            ("password", server::demo::DEMO_HOST_PASSWORD.into()),
        ],
    )
    .await;
    let list = host
        .http
        .get(format!("{}/api/sessions/list", host.base))
        .send()
        .await
        .expect("list")
        .json::<Value>()
        .await
        .expect("json");
    let sid = list[0]["id"].as_i64().expect("session");
    let session = host
        .http
        .get(format!("{}/api/sessions/get?id={sid}", host.base))
        .send()
        .await
        .expect("get")
        .json::<Value>()
        .await
        .expect("json");
    let product = session["products"][1]["id"].as_i64().expect("product");
    host.ok("studio/go_live", &[("session_id", sid.to_string())])
        .await;
    host.ok("studio/present", &[("product_id", product.to_string())])
        .await;
    let edit = serde_json::json!({"product_id": product, "form": {
        "name": "Crash serum", "description": "", "category": "Beauty",
        "price": "259.00", "stock": STOCK}});
    let res = host
        .http
        .post(format!("{}/api/studio/product/update", host.base))
        .json(&edit)
        .send()
        .await
        .expect("edit");
    assert_eq!(res.status(), 200);
    let inviter = Browser::new(port);
    inviter
        .ok("sessions/reserve", &[("session_id", sid.to_string())])
        .await;
    let inv = inviter
        .ok("invites/create", &[("session_id", sid.to_string())])
        .await;
    let code = inv["code"].as_str().expect("code").to_string();
    let buyers: Vec<Browser> = futures::future::join_all((0..BUYERS).map(|_| {
        let code = code.clone();
        async move {
            let b = Browser::new(port);
            b.ok("invites/join", &[("code", code)]).await;
            b
        }
    }))
    .await;

    // The rush, and kill -9 once some orders are confirmed (so others are in flight).
    let confirmed = Arc::new(AtomicUsize::new(0));
    let kill_after = 10 + round * 7 % 40;
    let rush = futures::future::join_all(buyers.iter().enumerate().map(|(i, b)| {
        let confirmed = confirmed.clone();
        async move {
            let key = format!("crash-{round}-{i:04}");
            let answer = b.order(sid, product, &key).await;
            if matches!(answer, Some((200, _))) {
                confirmed.fetch_add(1, Ordering::SeqCst);
            }
            (i, key, answer)
        }
    }));
    // Odd rounds: at the very first confirmation, while most batches are still on their way.
    let kill_after = if round % 2 == 1 { 1 } else { kill_after };
    let killer = async {
        while confirmed.load(Ordering::SeqCst) < kill_after {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        node.kill_9();
        if let Some(r) = redis.as_mut().filter(|_| round.is_multiple_of(2)) {
            r.kill();
        }
    };
    let (answers, ()) = tokio::join!(rush, killer);
    let mut seen: BTreeMap<usize, i64> = BTreeMap::new();
    for (i, _, answer) in &answers {
        if let Some((200, v)) = answer {
            seen.insert(*i, v["id"].as_i64().expect("order id"));
        }
    }
    assert!(
        seen.len() >= kill_after,
        "round {round}: {} confirmed",
        seen.len()
    );

    // Restart on the same database: the truth is what was committed.
    if let Some(r) = redis.as_mut().filter(|_| round.is_multiple_of(2)) {
        r.restart();
    }
    let node = Node::start(&url, port, dir.path(), redis_url.as_deref()).await;
    let db = shop_backend::Db::connect(&url).await.expect("db");
    for (i, id) in &seen {
        let key: Option<String> =
            sqlx::query_scalar("SELECT idempotency_key FROM orders WHERE id = $1")
                .bind(id)
                .fetch_optional(db.pool())
                .await
                .expect("query");
        assert_eq!(
            key.as_deref(),
            Some(format!("crash-{round}-{i:04}").as_str()),
            "round {round}: confirmed order {id} exists under its key"
        );
    }
    check_invariants(&db, product, round).await;
    let count = |sql: &'static str| {
        let db = db.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(db.pool())
                .await
                .expect(sql)
        }
    };
    let mode = match (&redis, round % 2) {
        (None, _) => "",
        (Some(_), 0) => " + Redis (killed too)",
        (Some(_), _) => " + Redis (kept)",
    };
    eprintln!(
        "{backend:?}{mode} round {round}: {} confirmed before kill -9; after restart {} orders, {} awaiting payment",
        seen.len(),
        count("SELECT COUNT(*) FROM orders").await,
        count("SELECT COUNT(*) FROM orders WHERE status = 'pending_payment'").await,
    );

    // Every buyer retries with the same key: a confirmed order comes back the same and paid,
    // one left awaiting payment is completed, and nothing is sold twice.
    let retries = futures::future::join_all(answers.iter().map(|(i, key, _)| {
        let b = &buyers[*i];
        async move {
            // A 503 (Redis mode, while the node sees Redis again) is retried like the Pay
            // button does.
            let mut answer = b.order(sid, product, key).await;
            for _ in 0..100 {
                if !matches!(answer, Some((503, _))) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                answer = b.order(sid, product, key).await;
            }
            (*i, answer)
        }
    }))
    .await;
    for (i, answer) in retries {
        let (s, v) = answer.expect("the restarted server answers");
        if let Some(id) = seen.get(&i) {
            assert_eq!(s, 200, "round {round}: retry of a confirmed order: {v}");
            assert_eq!(v["id"].as_i64(), Some(*id), "round {round}: the same order");
            assert_eq!(v["status"], "paid", "round {round}: completed: {v}");
        } else {
            assert!(
                s == 200 || (s == 409 && v["Conflict"] == "Sold out."),
                "round {round}: {s} {v}"
            );
        }
    }
    check_invariants(&db, product, round).await;
    let pending: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE status = 'pending_payment'")
            .fetch_one(db.pool())
            .await
            .expect("pending");
    assert_eq!(
        pending, 0,
        "round {round}: the retries completed every order"
    );
    db.close().await;
    drop(node);
}

async fn check_invariants(db: &shop_backend::Db, product: i64, round: usize) {
    let one = |sql: &'static str| {
        let db = db.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(product)
                .fetch_one(db.pool())
                .await
                .expect(sql)
        }
    };
    let stock = one("SELECT stock FROM products WHERE id = $1").await;
    let held = one(
        "SELECT CAST(COALESCE(SUM(l.quantity), 0) AS BIGINT) FROM order_lines l
           JOIN orders o ON o.id = l.order_id
          WHERE l.product_id = $1 AND o.status IN ('pending_payment', 'paid')",
    )
    .await;
    assert_eq!(
        stock + held,
        STOCK,
        "round {round}: stock {stock} + held {held}"
    );
    let twice = one(
        "SELECT COUNT(*) FROM (SELECT o.shopper_id FROM order_lines l JOIN orders o ON o.id = l.order_id
          WHERE l.product_id = $1 AND o.status IN ('pending_payment', 'paid')
          GROUP BY o.shopper_id HAVING SUM(l.discounted_units) > 1) t",
    )
    .await;
    assert_eq!(
        twice, 0,
        "round {round}: a shopper with two discounted units"
    );
    let counters_off = one(
        "SELECT COUNT(*) FROM purchase_counters c
          WHERE c.product_id = $1 AND c.units <> (
            SELECT COALESCE(SUM(l.quantity), 0) FROM order_lines l JOIN orders o ON o.id = l.order_id
             WHERE l.product_id = c.product_id AND o.shopper_id = c.shopper_id
               AND o.status IN ('pending_payment', 'paid'))",
    )
    .await;
    assert_eq!(counters_off, 0, "round {round}: counters match the orders");
    let refs: Vec<(String,)> = sqlx::query_as("SELECT merchant_ref FROM demo_payments")
        .fetch_all(db.pool())
        .await
        .expect("ledger");
    let unique: BTreeSet<&String> = refs.iter().map(|r| &r.0).collect();
    assert_eq!(
        unique.len(),
        refs.len(),
        "round {round}: a charge made twice"
    );
    let charged_but_released = one(
        "SELECT COUNT(*) FROM demo_payments d JOIN orders o ON d.merchant_ref = 'order-' || CAST(o.id AS TEXT)
          WHERE o.status = 'payment_failed' AND $1 > 0",
    )
    .await;
    assert_eq!(
        charged_but_released, 0,
        "round {round}: charged for a released order"
    );
}
