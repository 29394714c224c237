//! Distributed mode (`REDIS_URL`): several server nodes on one PostgreSQL database and one
//! real Redis. Events published through one node reach viewers on every node under the same
//! number; viewers resume on any node; counters, limits, mutes and nicknames are shared; a node killed
//! or Redis restarted loses no viewer for good.

use std::time::{Duration, Instant};

use crate::common::{cluster::Cluster, Client, Sse};

const T: Duration = Duration::from_secs(8);

/// The demo session, live, with its host signed in through node `via`.
async fn live_session(c: &Cluster, via: usize) -> (i64, Vec<i64>, Client) {
    let (sid, products) = crate::common::demo_session(&c.nodes[0]).await;
    let host = crate::common::demo_host(&c.nodes[via]).await;
    let (s, v) = host
        .call("studio/go_live", &[("session_id", sid.to_string())])
        .await;
    assert_eq!(s, 200, "{v}");
    (sid, products, host)
}

async fn present(host: &Client, product: i64) {
    let (s, v) = host
        .call("studio/present", &[("product_id", product.to_string())])
        .await;
    assert_eq!(s, 200, "{v}");
}

async fn chat(c: &Client, sid: i64, text: &str) -> (u16, serde_json::Value) {
    c.call(
        "live/chat",
        &[("session_id", sid.to_string()), ("text", text.into())],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_through_one_node_reaches_viewers_on_every_node_with_the_same_number() {
    let Some(c) = Cluster::start(3).await else {
        return;
    };
    let (sid, products, host) = live_session(&c, 0).await;
    let mut on_b = Sse::open(&c.client(1), sid, None).await;
    let mut on_c = Sse::open(&c.client(2), sid, None).await;
    assert_eq!(
        on_b.next_within(T).await.expect("snapshot").data["type"],
        "snapshot"
    );
    assert_eq!(
        on_c.next_within(T).await.expect("snapshot").data["type"],
        "snapshot"
    );
    present(&host, products[2]).await;
    let b = on_b
        .next_of("presenting", T)
        .await
        .expect("presenting on B");
    let cc = on_c
        .next_of("presenting", T)
        .await
        .expect("presenting on C");
    assert_eq!(b.id, cc.id, "the same event has the same number everywhere");
    assert!(b.id.is_some());
    assert_eq!(b.data, cc.data);
    assert_eq!(b.data["product"]["product_id"], products[2]);
    // The host's chat through A too, next in order on both.
    assert_eq!(chat(&host, sid, "Hello from node A").await.0, 200);
    let b2 = on_b.next_of("chat", T).await.expect("chat on B");
    let c2 = on_c.next_of("chat", T).await.expect("chat on C");
    assert_eq!(b2.id, c2.id);
    assert!(b2.id > b.id);
    assert_eq!(b2.data["message"]["text"], "Hello from node A");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_resumes_on_another_node_without_loss() {
    let Some(c) = Cluster::start(3).await else {
        return;
    };
    let (sid, products, host) = live_session(&c, 0).await;
    let viewer = c.client(1);
    let mut sse = Sse::open(&viewer, sid, None).await;
    present(&host, products[0]).await;
    let seen = sse.next_of("presenting", T).await.expect("presenting");
    let last = seen.id.expect("numbered");
    drop(sse);
    for p in &products[1..4] {
        present(&host, *p).await;
    }
    assert_eq!(chat(&host, sid, "Still here?").await.0, 200);
    // Back through node C, which this viewer never used: exactly what was missed, in order.
    let mut again = Sse::open(&viewer.on(&c.nodes[2]), sid, Some(last)).await;
    let mut got = Vec::new();
    while got.len() < 4 {
        let e = again.next_within(T).await.expect("missed event");
        match e.data["type"].as_str() {
            Some("presenting") | Some("chat") => got.push(e),
            Some("snapshot") => panic!("resumed with a snapshot instead of the missed events"),
            _ => {}
        }
    }
    let ids: Vec<u64> = got.iter().map(|e| e.id.expect("id")).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert!(ids[0] > last);
    // The presentings in their order, then the chat (a present is in the rooms before the
    // studio's call answers, so the host's next line comes after it).
    let presented: Vec<i64> = got
        .iter()
        .filter(|e| e.data["type"] == "presenting")
        .map(|e| e.data["product"]["product_id"].as_i64().expect("product"))
        .collect();
    assert_eq!(presented, products[1..4].to_vec());
    assert_eq!(
        got.last().expect("the chat").data["message"]["text"],
        "Still here?"
    );
}

/// Chat rules changed through node A hold on node B within a second (each node's cache), and
/// slow mode is one interval over both nodes: switching node does not skip it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_rules_reach_every_node_within_a_second_and_slow_mode_is_shared() {
    let Some(c) = Cluster::start(2).await else {
        return;
    };
    let (sid, _, host) = live_session(&c, 0).await;
    let shopper = c.client(1);
    shopper.me().await;
    // Node B reads (and caches) the rules before the change.
    assert_eq!(chat(&shopper, sid, "vx before").await.0, 200);
    let (s, v) = host
        .call_json(
            "live/rules/save",
            serde_json::json!({ "session_id": sid, "rules": {
                "refuse": "VX", "hold": "", "slow_mode_secs": 30, "verified_only": false } }),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let changed = Instant::now();
    loop {
        // A new shopper each try: the chat's rate limit (refusals count) must not answer first.
        let fresh = c.client(1);
        fresh.me().await;
        let (s, v) = chat(&fresh, sid, "v x after").await;
        if s == 400 {
            break;
        }
        assert_eq!(s, 200, "{v}");
        assert!(
            changed.elapsed() < Duration::from_millis(1_500),
            "node B still lets the blocked word through"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let slow = c.client(0);
    slow.me().await;
    assert_eq!(chat(&slow, sid, "one").await.0, 200);
    let (s, v) = chat(&slow.on(&c.nodes[1]), sid, "two").await;
    assert_eq!(s, 429, "slow mode holds on the other node: {v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_are_counted_over_every_node_and_limits_and_mutes_are_shared() {
    let Some(c) = Cluster::start(2).await else {
        return;
    };
    let (sid, _, host) = live_session(&c, 0).await;
    let _a1 = Sse::open(&c.client(0), sid, None).await;
    let _a2 = Sse::open(&c.client(0), sid, None).await;
    let mut b = Sse::open(&c.client(1), sid, None).await;
    // Counters summed over both nodes reach the viewer on B, and the dashboard through A.
    let deadline = Instant::now() + T;
    loop {
        let e = b.next_of("counters", T).await.expect("counters");
        if e.data["viewers"] == 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "viewers never summed to 3: {}",
            e.data
        );
    }
    let (_, d) = host
        .get(&format!("/api/studio/dashboard?session_id={sid}"))
        .await;
    assert_eq!(d["viewers"], 3, "{d}");

    // Likes through both nodes add up.
    let fan = c.client(0);
    fan.me().await;
    for node in [0, 1, 0] {
        let (s, v) = fan
            .on(&c.nodes[node])
            .call(
                "live/like",
                &[("session_id", sid.to_string()), ("count", "10".into())],
            )
            .await;
        assert_eq!(s, 200, "{v}");
    }
    let mut likes = 0;
    while likes < 30 {
        likes = b.next_of("counters", T).await.expect("likes").data["likes"]
            .as_i64()
            .unwrap_or(0);
    }
    assert_eq!(likes, 30);

    // The chat limit (5 in a burst) holds across nodes: alternating nodes does not help.
    let chatter = c.client(0);
    chatter.me().await;
    let mut statuses = Vec::new();
    for i in 0..6 {
        let (s, _) = chat(&chatter.on(&c.nodes[i % 2]), sid, &format!("hi {i}")).await;
        statuses.push(s);
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429]);

    // A nickname changed through node A shows on node B, which had the shopper cached.
    let renamed = c.client(1);
    let before = renamed.me().await;
    let (s, v) = renamed
        .on(&c.nodes[0])
        .call("me/nickname", &[("nickname", "Renamed Lin".into())])
        .await;
    assert_eq!(s, 200, "{v}");
    let deadline = Instant::now() + T;
    loop {
        let now = renamed.me().await;
        if now["nickname"] == "Renamed Lin" {
            assert_eq!(now["id"], before["id"]);
            break;
        }
        assert!(Instant::now() < deadline, "node B still says {now}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A mute through node A holds on node B.
    let muted = c.client(1);
    let me = muted.me().await;
    assert_eq!(chat(&muted, sid, "before").await.0, 200);
    let (s, v) = host
        .call(
            "live/mute",
            &[
                ("session_id", sid.to_string()),
                ("shopper_id", me["id"].to_string()),
            ],
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = chat(&muted, sid, "after").await;
    assert_eq!(s, 403, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarted_mid_session_streams_come_back_with_a_snapshot() {
    let Some(mut c) = Cluster::start(2).await else {
        return;
    };
    let (sid, products, host) = live_session(&c, 0).await;
    let viewer = c.client(1);
    let mut sse = Sse::open(&viewer, sid, None).await;
    present(&host, products[0]).await;
    let last = sse.next_of("presenting", T).await.expect("presenting").id;

    let shopper = c.client(0);
    shopper.me().await;
    c.redis.kill();
    // The stream ends (the browser shows "Reconnecting…")...
    let deadline = Instant::now() + T;
    while sse.next_within(Duration::from_secs(1)).await.is_some() {
        assert!(
            Instant::now() < deadline,
            "the stream did not end while Redis was down"
        );
    }
    // ...and while Redis is down, chat, likes, orders and new streams answer 503 + Retry-After.
    let (s, _) = chat(&shopper, sid, "anyone?").await;
    assert_eq!(s, 503);
    let (s, _) = shopper
        .call(
            "live/like",
            &[("session_id", sid.to_string()), ("count", "1".into())],
        )
        .await;
    assert_eq!(s, 503);
    let (s, _) = shopper.order(sid, products[0], 1, "while-down").await;
    assert_eq!(s, 503);
    let res = viewer
        .http
        .get(format!("{}/live/{sid}/events", viewer.base))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "2");

    // Redis back (empty): within seconds streams open again, with a snapshot, and events flow.
    c.redis.restart();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut sse = loop {
        let res = viewer
            .http
            .get(format!("{}/live/{sid}/events", viewer.base))
            .header("last-event-id", last.unwrap_or(0).to_string())
            .send()
            .await
            .expect("request");
        if res.status() == 200 {
            drop(res);
            break Sse::open(&viewer, sid, last).await;
        }
        assert!(
            Instant::now() < deadline,
            "streams did not come back after Redis restarted"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let first = sse.next_within(T).await.expect("first frame");
    assert_eq!(first.data["type"], "snapshot", "{}", first.data);
    assert_eq!(first.data["presenting"]["product_id"], products[0]);
    present(&host, products[1]).await;
    let p = sse
        .next_of("presenting", T)
        .await
        .expect("events flow again");
    assert_eq!(p.data["product"]["product_id"], products[1]);
    // Each node sees Redis again on its own (its connections reconnect, its health probe
    // must answer): chat through the shopper's node answers within seconds.
    let deadline = Instant::now() + T;
    let (mut s, mut v) = chat(&shopper, sid, "back!").await;
    while s == 503 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        (s, v) = chat(&shopper, sid, "back!").await;
    }
    assert_eq!(s, 200, "{v}");
}

/// A node process killed with SIGKILL: its viewer reconnects to another node and resumes
/// without loss, and the dead node's viewers drop out of the count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_loses_no_viewer_and_drops_out_of_the_count() {
    let Some(c) = Cluster::start(1).await else {
        return;
    };
    let (sid, products, host) = live_session(&c, 0).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut node = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("APP_BIND", "127.0.0.1:0")
        .env("DATABASE_URL", &c.database_url)
        .env("REDIS_URL", c.redis.url())
        .env("APP_DIST_DIR", dir.path().join("no-dist"))
        .env("APP_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn a node");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(node.stdout.take().expect("stdout")),
        &mut line,
    )
    .expect("start-up line");
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .expect("address in the start-up line")
        .to_string();

    let watcher = c.client(0);
    let mut counts = Sse::open(&watcher, sid, None).await;
    let mut viewer = c.client(0);
    viewer.base = format!("http://{addr}");
    let mut sse = Sse::open(&viewer, sid, None).await;
    present(&host, products[0]).await;
    let last = sse.next_of("presenting", T).await.expect("presenting").id;
    // Both nodes' viewers are counted.
    let deadline = Instant::now() + T;
    while counts.next_of("counters", T).await.expect("counters").data["viewers"] != 2 {
        assert!(Instant::now() < deadline, "viewers never summed to 2");
    }

    node.kill().expect("SIGKILL");
    node.wait().expect("reaped");
    for p in &products[1..3] {
        present(&host, *p).await;
    }
    // The browser reconnects (the balancer sends it to node A) with its Last-Event-ID.
    let mut again = Sse::open(&viewer.on(&c.nodes[0]), sid, last).await;
    let mut presented = Vec::new();
    while presented.len() < 2 {
        let e = again.next_within(T).await.expect("missed event");
        assert_ne!(e.data["type"], "snapshot", "resumed, not restarted");
        if e.data["type"] == "presenting" {
            presented.push(e.data["product"]["product_id"].as_i64().expect("id"));
        }
    }
    assert_eq!(presented, products[1..3].to_vec());
    // The dead node's report expires: two viewers, both on node A.
    let ttl = Duration::from_millis(shop_backend::live::backplane::NODE_REPORT_TTL_MS as u64);
    tokio::time::sleep(ttl + Duration::from_secs(1)).await;
    let (_, d) = host
        .get(&format!("/api/studio/dashboard?session_id={sid}"))
        .await;
    assert_eq!(d["viewers"], 2, "{d}");
    drop((counts, again));
}

/// Script calls batched into one round trip (`backend::redis_batch`, under the flash-sale
/// gate): each caller gets its own answer, every call runs exactly once and atomically, a
/// failing batch fails only its own callers, and the calls after it go through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_script_calls_each_run_once_and_answer_their_own_caller() {
    use shop_backend::{live::backplane::RedisBackplane, redis_batch::ScriptBatcher};
    let Some(redis) = crate::common::cluster::RedisServer::start() else {
        return;
    };
    let bp = RedisBackplane::connect(&redis.url()).await.expect("redis");
    let batcher = std::sync::Arc::new(ScriptBatcher::new(
        bp.sale_conn(),
        "local n = redis.call('INCR', KEYS[1])
if ARGV[2] == 'fail' then redis.call('HSET', KEYS[1], 'x', 1) end
return {tonumber(ARGV[1]), n}",
    ));
    let calls = (0..2_000i64).map(|i| {
        let batcher = batcher.clone();
        tokio::spawn(async move {
            let group = format!("g{}", i % 3);
            let key = format!("{{{group}}}:n");
            let got: Vec<i64> = batcher
                .call(group, vec![key], vec![i.to_string(), "ok".into()])
                .await
                .expect("answer");
            (i, got)
        })
    });
    let mut seen: [Vec<i64>; 3] = Default::default();
    for call in futures::future::join_all(calls).await {
        let (i, got) = call.expect("task");
        assert_eq!(got[0], i, "an answer went to another caller");
        seen[(i % 3) as usize].push(got[1]);
    }
    for (g, mut counts) in seen.into_iter().enumerate() {
        counts.sort_unstable();
        let want: Vec<i64> = (1..=counts.len() as i64).collect();
        assert_eq!(counts, want, "group {g}: every call ran exactly once");
    }
    // A call whose script fails (HSET on a string) fails alone: the calls in its batch and
    // after it answer.
    let mixed = (0..200i64).map(|i| {
        let batcher = batcher.clone();
        tokio::spawn(async move {
            let how = if i == 100 { "fail" } else { "ok" };
            let got = batcher
                .call::<Vec<i64>>(
                    "g0".into(),
                    vec!["{g0}:n".into()],
                    vec![i.to_string(), how.into()],
                )
                .await;
            (i, got)
        })
    });
    for call in futures::future::join_all(mixed).await {
        let (i, got) = call.expect("task");
        match got {
            Ok(got) => assert!(i != 100 && got[0] == i, "{i}: {got:?}"),
            Err(e) => assert_eq!(i, 100, "{e}"),
        }
    }
}

/// A lucky draw across nodes: opened through node A, entered through node B (the "in the room
/// now" rule answered for a stream open on A), closed exactly once although every node's
/// closer and two producers' requests race for it, and the winners announced on both nodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draw_opened_on_one_node_is_entered_on_another_and_closed_once() {
    use serde_json::json;
    let Some(c) = Cluster::start(2).await else {
        return;
    };
    let (sid, products, host) = live_session(&c, 0).await;
    let mut on_a = Sse::open(&c.client(0), sid, None).await;
    let mut on_b = Sse::open(&c.client(1), sid, None).await;
    on_a.next_within(T).await.expect("snapshot on A");
    on_b.next_within(T).await.expect("snapshot on B");
    let (s, card) = host
        .call_json(
            "draws/open",
            json!({ "session_id": sid, "form": {
                "prize": "Serum 30 ml", "product_id": products[0], "winners": 2,
                "countdown_secs": 600, "rules": { "in_room": true },
            }}),
        )
        .await;
    assert_eq!(s, 200, "{card}");
    let id = card["id"].as_i64().expect("id");
    for sse in [&mut on_a, &mut on_b] {
        let ev = sse
            .next_of("draw", T)
            .await
            .expect("the draw on every node");
        assert_eq!(ev.data["draw"]["id"], id);
        assert_eq!(ev.data["draw"]["commitment"], card["commitment"]);
    }
    // Shoppers watch on node A and enter through node B.
    let mut watching = Vec::new();
    let mut keys = Vec::new();
    for _ in 0..4 {
        let shopper = c.client(0);
        shopper.me().await;
        let mut stream = Sse::open(&shopper, sid, None).await;
        stream.next_within(T).await.expect("snapshot");
        let on_b_node = shopper.on(&c.nodes[1]);
        let (s, v) = on_b_node
            .call(
                "draws/enter",
                &[("session_id", sid.to_string()), ("draw_id", id.to_string())],
            )
            .await;
        assert_eq!(s, 200, "{v}");
        keys.push(v["entrant_key"].as_str().expect("key").to_string());
        watching.push(stream);
    }
    // Not watching anywhere: refused on either node.
    let away = c.client(1);
    away.me().await;
    let (s, v) = away
        .call(
            "draws/enter",
            &[("session_id", sid.to_string()), ("draw_id", id.to_string())],
        )
        .await;
    assert_eq!(s, 403, "{v}");
    // The countdown is over: both nodes' closers and a close through each node race.
    let db = shop_backend::Db::connect(&c.database_url)
        .await
        .expect("db");
    sqlx::query("UPDATE draws SET closes_at_ms = 1 WHERE id = $1")
        .bind(id)
        .execute(db.pool())
        .await
        .expect("countdown over");
    let host_b = host.on(&c.nodes[1]);
    let form = [("session_id", sid.to_string()), ("draw_id", id.to_string())];
    let (a, b) = tokio::join!(
        host.call("draws/close", &form),
        host_b.call("draws/close", &form)
    );
    assert!(
        [a.0, b.0].iter().filter(|s| **s == 200).count() <= 1,
        "{a:?} {b:?}"
    );
    let mut announced = Vec::new();
    for sse in [&mut on_a, &mut on_b] {
        let ev = loop {
            let ev = sse.next_of("draw", T).await.expect("winners on every node");
            if ev.data["draw"]["open"] == false {
                break ev;
            }
        };
        announced.push(ev.data["draw"]["winner_names"].clone());
    }
    assert_eq!(announced[0], announced[1]);
    assert_eq!(announced[0].as_array().map(Vec::len), Some(2));
    // Announced once: no second "closed" event follows.
    let again = on_a.next_of("draw", Duration::from_millis(1_500)).await;
    assert!(again.is_none(), "{again:?}");
    let winners: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM draw_winners WHERE draw_id = $1")
        .bind(id)
        .fetch_one(db.pool())
        .await
        .expect("winners");
    assert_eq!(winners, 2);
    let (s, proof) = c.client(1).get(&format!("/api/draws/proof?id={id}")).await;
    assert_eq!(s, 200);
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(proof["entrants"], json!(sorted));
    drop(watching);
}

/// Live coupons across nodes: claims through both nodes never pass the quota, a shopper
/// claims once whichever node their taps reach, and the coupon's Redis state is rebuilt from
/// the database when Redis restarts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coupon_claims_through_two_nodes_never_pass_the_quota() {
    let Some(mut c) = Cluster::start_with(2, &[("APP_RATE_LIMIT_SCALE", "1000")]).await else {
        return;
    };
    let (sid, _, host) = live_session(&c, 0).await;
    let (s, v) = host
        .call_json(
            "studio/coupons/drop",
            serde_json::json!({ "session_id": sid, "form": {
                "percent": false, "value": 500, "min_spend_fen": 0, "quota": 9, "minutes": 30 } }),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let coupon = v["id"].as_i64().expect("id");
    let claim = |cl: Client| async move {
        cl.call(
            "live/coupons/claim",
            &[
                ("session_id", sid.to_string()),
                ("coupon_id", coupon.to_string()),
            ],
        )
        .await
    };
    let mut shoppers = Vec::new();
    for i in 0..30 {
        let cl = c.client(i % 2);
        cl.me().await;
        shoppers.push(cl);
    }
    // Each shopper taps twice, once through each node, all at once.
    let answers = futures::future::join_all(shoppers.iter().enumerate().flat_map(|(i, cl)| {
        let (a, b) = (cl.on(&c.nodes[0]), cl.on(&c.nodes[1]));
        [(i, a), (i, b)].map(|(i, cl)| async move { (i, claim(cl).await) })
    }))
    .await;
    let mut winners = std::collections::BTreeSet::new();
    for (i, (s, v)) in &answers {
        assert_eq!(*s, 200, "{v}");
        match v.as_str() {
            Some("claimed") => assert!(winners.insert(*i), "shopper {i} claimed twice"),
            Some("all_gone" | "already_claimed") => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(winners.len(), 9);
    let d = shop_backend::Db::connect(&c.database_url)
        .await
        .expect("db");
    let count = format!("SELECT COUNT(*) FROM coupon_claims WHERE coupon_id = {coupon}");
    assert_eq!(crate::common::scalar(&d, &count).await, 9);
    // Redis loses everything: rebuilt from the database, still 9, still once each.
    let late = c.client(0);
    late.me().await;
    c.redis.restart();
    let winner = *winners.first().expect("winner");
    let mut answer = None;
    for _ in 0..50 {
        let (s, v) = claim(shoppers[winner].on(&c.nodes[1])).await;
        if s == 200 {
            answer = Some(v);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        answer.and_then(|v| v.as_str().map(String::from)).as_deref(),
        Some("already_claimed")
    );
    // Node 0 may still be reconnecting to Redis (503): its answer once it is back.
    let mut late_answer = None;
    for _ in 0..50 {
        let (s, v) = claim(late.on(&c.nodes[0])).await;
        if s == 200 {
            late_answer = Some(v);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        late_answer
            .and_then(|v| v.as_str().map(String::from))
            .as_deref(),
        Some("all_gone")
    );
    assert_eq!(crate::common::scalar(&d, &count).await, 9);
}

/// A rehearsal run through node A stays the team's on node B: a shopper's stream there gets a
/// scheduled snapshot and none of its cards, the host's stream there gets them; going live
/// reaches the shopper on B.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rehearsal_is_private_on_every_node() {
    let Some(c) = Cluster::start(2).await else {
        return;
    };
    let (sid, products) = crate::common::demo_session(&c.nodes[0]).await;
    let host = crate::common::demo_host(&c.nodes[0]).await;
    let (s, v) = host
        .call(
            "studio/rehearse",
            &[("session_id", sid.to_string()), ("on", "true".into())],
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let shopper = c.client(1);
    shopper.me().await;
    let mut public = Sse::open(&shopper, sid, None).await;
    let snap = public.next_within(T).await.expect("snapshot");
    assert_eq!(snap.data["status"], "scheduled");
    let mut team = Sse::open(&host.on(&c.nodes[1]), sid, None).await;
    let snap = team.next_within(T).await.expect("snapshot");
    assert_eq!(snap.data["status"], "rehearsal");
    present(&host, products[0]).await;
    team.next_of("presenting", T)
        .await
        .expect("the team sees the card on node B");
    assert!(public
        .next_of("presenting", Duration::from_millis(1500))
        .await
        .is_none());
    let (s, v) = host
        .call("studio/go_live", &[("session_id", sid.to_string())])
        .await;
    assert_eq!(s, 200, "{v}");
    let ev = public
        .next_of("status", T)
        .await
        .expect("live reaches node B");
    assert_eq!(ev.data["status"], "live");
}
