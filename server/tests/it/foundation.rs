//! The foundation, through real HTTP against the real server: health, the catalog server
//! functions, error statuses, CSRF guard, static client serving and demo data.

use crate::common::{spawn, spawn_with, Backend, Options, TestApp};
use serde_json::Value;

both_databases!(
    health_reports_database,
    lists_the_demo_session,
    session_detail_has_sixteen_products_in_order,
    unknown_and_malformed_ids_are_404_and_400,
    unknown_api_endpoint_is_404,
    cross_site_writes_are_refused,
    demo_data_loads_once_across_restarts,
    empty_database_lists_nothing,
    spa_fallback_and_security_headers,
);

/// Every PostgreSQL database a test creates is dropped when its app goes (the cluster would
/// otherwise fill up over a run).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_test_databases_are_dropped() {
    let Some(app) = spawn(Backend::Postgres).await else {
        return;
    };
    let name = app
        .database_url
        .rsplit('/')
        .next()
        .expect("database name")
        .to_string();
    let admin = std::env::var("TEST_POSTGRES_URL").expect("admin url");
    app.stop().await;
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin)
        .await
        .expect("admin connection");
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_one(&mut conn)
        .await
        .expect("query");
    assert_eq!(left, 0, "{name} was dropped");
}

async fn health_reports_database(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let res = app.get("/healthz").await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["database"], "ok");
    app.stop().await;
}

async fn lists_the_demo_session(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let res = app.get("/api/sessions/list").await;
    assert_eq!(res.status(), 200);
    let list: Value = res.json().await.expect("json");
    let list = list.as_array().expect("array");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["title"], "Xiaoxiaobao Mama live");
    assert_eq!(list[0]["host_name"], "Sun Jing");
    assert_eq!(list[0]["status"], "scheduled");
    assert_eq!(list[0]["product_count"], 16);
    app.stop().await;
}

async fn session_detail_has_sixteen_products_in_order(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let list: Value = app
        .get("/api/sessions/list")
        .await
        .json()
        .await
        .expect("json");
    let id = list[0]["id"].as_i64().expect("id");
    let res = app.get(&format!("/api/sessions/get?id={id}")).await;
    assert_eq!(res.status(), 200);
    let s: Value = res.json().await.expect("json");
    let products = s["products"].as_array().expect("products");
    assert_eq!(products.len(), 16);
    let positions: Vec<i64> = products
        .iter()
        .map(|p| p["position"].as_i64().expect("pos"))
        .collect();
    assert_eq!(positions, (1..=16).collect::<Vec<_>>());
    assert_eq!(products[0]["name"], "Hydrating Rose Toner 200ml");
    assert_eq!(products[0]["price"], 12_900);
    assert_eq!(s["currency"], "CNY");
    let mut cats: Vec<&str> = products
        .iter()
        .map(|p| p["category"].as_str().expect("cat"))
        .collect();
    cats.sort_unstable();
    cats.dedup();
    assert_eq!(cats, ["Baby care", "Cosmetics", "Health", "Skincare"]);
    app.stop().await;
}

async fn unknown_and_malformed_ids_are_404_and_400(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let res = app.get("/api/sessions/get?id=987654321").await;
    assert_eq!(res.status(), 404);
    let err: Value = res.json().await.expect("json error");
    assert_eq!(err["NotFound"], "This live session does not exist.");

    for bad in [
        "/api/sessions/get?id=abc",
        "/api/sessions/get",
        "/api/sessions/get?id=99999999999999999999999",
    ] {
        let res = app.get(bad).await;
        assert_eq!(res.status(), 400, "{bad}");
        let err: Value = res.json().await.expect("json error");
        assert!(err["BadRequest"].is_string(), "{bad}: {err}");
    }
    app.stop().await;
}

async fn unknown_api_endpoint_is_404(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    assert_eq!(app.get("/api/no/such/thing").await.status(), 404);
    app.stop().await;
}

async fn cross_site_writes_are_refused(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let url = app.url("/api/sessions/get");
    // A browser page on another site posting to us.
    let res = app
        .client
        .post(&url)
        .header("sec-fetch-site", "cross-site")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("id=1")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 403);
    let res = app
        .client
        .post(&url)
        .header("origin", "https://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("id=1")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 403);
    // Our own page: allowed through the guard (the GET-only function then refuses the method).
    let res = app
        .client
        .post(&url)
        .header("sec-fetch-site", "same-origin")
        .header("origin", format!("http://{}", app.addr))
        .body("id=1")
        .send()
        .await
        .expect("request");
    assert_ne!(res.status(), 403);
    app.stop().await;
}

async fn demo_data_loads_once_across_restarts(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let again = app.restart(Options::default()).await;
    let list: Value = again
        .get("/api/sessions/list")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(list.as_array().expect("array").len(), 1);
    again.stop().await;
}

async fn empty_database_lists_nothing(b: Backend) {
    let Some(app) = spawn_with(
        b,
        Options {
            demo_data: false,
            ..Options::default()
        },
    )
    .await
    else {
        return;
    };
    let list: Value = app
        .get("/api/sessions/list")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(list, serde_json::json!([]));
    app.stop().await;
}

async fn spa_fallback_and_security_headers(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    // An unknown session still gets the app shell (which explains), with status 404.
    let missing = app.get("/s/987654").await;
    assert_eq!(missing.status(), 404);
    assert!(missing
        .text()
        .await
        .expect("body")
        .contains("<div id=\"app\">"));
    let res = app.get("/orders").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-cache");
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_string();
    assert!(
        csp.contains("'sha256-"),
        "inline loader allowed by hash: {csp}"
    );
    assert!(csp.contains("frame-ancestors 'self'"));
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert!(res.text().await.expect("body").contains("<div id=\"app\">"));

    let js = app
        .client
        .get(app.url("/app-0123456789abcdef.js"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .expect("js");
    assert_eq!(js.status(), 200);
    assert!(js.headers()["cache-control"]
        .to_str()
        .expect("cc")
        .contains("immutable"));

    assert_eq!(app.get("/missing.png").await.status(), 404);
    app.stop().await;
}

#[tokio::test]
async fn frame_ancestors_is_configurable() {
    let opts = Options {
        extra: vec![(
            "APP_FRAME_ANCESTORS",
            "'self' https://*.wechat.example".into(),
        )],
        ..Options::default()
    };
    let app = spawn_with(Backend::Sqlite, opts)
        .await
        .expect("sqlite always runs");
    let res = app.get("/").await;
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_string();
    assert!(
        csp.ends_with("frame-ancestors 'self' https://*.wechat.example"),
        "{csp}"
    );
    app.stop().await;
}

#[tokio::test]
async fn without_a_built_client_pages_say_how_to_build_it() {
    let app = spawn_with(
        Backend::Sqlite,
        Options {
            with_client: false,
            ..Options::default()
        },
    )
    .await
    .expect("sqlite");
    let res = app.get("/").await;
    assert_eq!(res.status(), 503);
    assert!(res.text().await.expect("body").contains("scripts/run.sh"));
    // The API still works.
    assert_eq!(app.get("/api/sessions/list").await.status(), 200);
    app.stop().await;
}

/// Creates shoppers (one per request, no cookies kept) claiming to come from `forwarded`
/// addresses; returns the statuses.
async fn new_shoppers(app: &TestApp, forwarded: impl Fn(usize) -> String, n: usize) -> Vec<u16> {
    let mut statuses = Vec::new();
    for i in 0..n {
        let res = reqwest::Client::new()
            .post(app.url("/api/me"))
            .header("x-forwarded-for", forwarded(i))
            .send()
            .await
            .expect("request");
        statuses.push(res.status().as_u16());
    }
    statuses
}

/// Behind a trusted balancer, per-IP limits count the forwarded client; from anyone else the
/// header is ignored (a client cannot dodge a limit by inventing addresses).
#[tokio::test]
async fn per_ip_limits_see_the_client_behind_trusted_proxies_only() {
    let opts = || Options {
        extra: vec![("APP_TRUSTED_PROXIES", "127.0.0.1/32".into())],
        ..Default::default()
    };
    let app = spawn_with(Backend::Sqlite, opts()).await.expect("sqlite");
    let spread = new_shoppers(&app, |i| format!("203.0.113.{i}"), 31).await;
    assert!(spread.iter().all(|s| *s == 200), "{spread:?}");
    let one = new_shoppers(&app, |_| "9.9.9.9, 198.51.100.1".into(), 31).await;
    assert_eq!(one.last(), Some(&429), "{one:?}");
    app.stop().await;

    let untrusting = spawn_with(Backend::Sqlite, Default::default())
        .await
        .expect("sqlite");
    let forged = new_shoppers(&untrusting, |i| format!("203.0.113.{i}"), 31).await;
    assert_eq!(forged.last(), Some(&429), "{forged:?}");
    untrusting.stop().await;
}

/// `/metrics` is Prometheus text for the monitoring addresses, 403 for everyone else.
#[tokio::test]
async fn metrics_are_served_to_monitoring_addresses_only() {
    let app = spawn_with(Backend::Sqlite, Default::default())
        .await
        .expect("sqlite");
    app.get("/api/sessions/list").await;
    app.get("/api/nope").await;
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap_or("")
        .starts_with("text/plain; version=0.0.4"));
    let text = res.text().await.expect("body");
    for name in [
        "live_viewers ",
        "live_events_total ",
        "live_viewers_dropped_total ",
        "orders_placed_total ",
        "http_responses_total{status=\"200\"} ",
        "http_responses_total{status=\"404\"} ",
        "process_open_fds ",
    ] {
        assert!(text.contains(name), "{name} missing:\n{text}");
    }
    app.stop().await;

    // What decides is the client: a balancer on an allowed address (127.0.0.1 here) does not
    // open it to the outside clients it relays; a monitoring host behind it may read it; the
    // header from anyone not trusted counts for nothing.
    let get = |app: &TestApp, forwarded: &'static str| {
        app.client
            .get(app.url("/metrics"))
            .header("x-forwarded-for", forwarded)
            .send()
    };
    let relayed = Options {
        extra: vec![("APP_TRUSTED_PROXIES", "127.0.0.1".into())],
        ..Default::default()
    };
    let app = spawn_with(Backend::Sqlite, relayed).await.expect("sqlite");
    assert_eq!(
        get(&app, "203.0.113.9").await.expect("request").status(),
        403
    );
    assert_eq!(get(&app, "127.0.0.1").await.expect("request").status(), 200);
    app.stop().await;
    let monitored = Options {
        extra: vec![
            ("APP_METRICS_ALLOW", "10.0.0.0/8".into()),
            ("APP_TRUSTED_PROXIES", "127.0.0.1".into()),
        ],
        ..Default::default()
    };
    let app = spawn_with(Backend::Sqlite, monitored)
        .await
        .expect("sqlite");
    assert_eq!(get(&app, "10.1.2.3").await.expect("request").status(), 200);
    assert_eq!(
        get(&app, "10.1.2.3, 203.0.113.9")
            .await
            .expect("request")
            .status(),
        403
    );
    app.stop().await;
    let opts = Options {
        extra: vec![("APP_METRICS_ALLOW", "10.0.0.0/8".into())],
        ..Default::default()
    };
    let closed = spawn_with(Backend::Sqlite, opts).await.expect("sqlite");
    assert_eq!(
        get(&closed, "10.1.2.3").await.expect("request").status(),
        403
    );
    closed.stop().await;
}
