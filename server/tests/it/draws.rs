//! Lucky draws (issue 30) over the real API, on both databases: who may start one, each
//! eligibility rule, one phone one entry, a proof anyone can re-run (the seed matches the
//! commitment, drawing again gives the published winners), exactly N winners with ¥0 prize
//! orders shipping to their last address, and a draw closed exactly once however many try.

use std::time::Duration;

use serde_json::{json, Value};
use shop_core::domain::draw;

use crate::common::{
    db, demo_host, demo_session, exec, scalar, spawn, Backend, Client, Sse, TestApp,
};

both_databases!(
    only_producers_and_owners_start_draws_and_only_while_live,
    each_eligibility_rule_is_checked_at_entry,
    one_phone_one_entry_and_a_proof_anyone_can_rerun,
    a_draw_closes_exactly_once_however_many_close_it,
);

const T: Duration = Duration::from_secs(8);
const PASSWORD: &str = "team member password";

async fn live(app: &TestApp) -> (i64, Vec<i64>, Client) {
    let (sid, products) = demo_session(app).await;
    let host = demo_host(app).await;
    let (s, v) = host
        .call("studio/go_live", &[("session_id", sid.to_string())])
        .await;
    assert_eq!(s, 200, "{v}");
    (sid, products, host)
}

/// A co-worker of the session's shop with `role`, signed in.
async fn team_member(app: &TestApp, sid: i64, role: &str) -> Client {
    let db = db(app).await;
    let host_id = scalar(
        &db,
        &format!("SELECT host_id FROM live_sessions WHERE id = {sid}"),
    )
    .await;
    let email = format!("draw-{role}@example.test");
    // A co-worker's account has a shop of its own (one account per host) and acts for the
    // shop whose team it joined (`team_members`), as an accepted invite leaves it.
    let own = shop_backend::repo::catalog::create_host(&db, role)
        .await
        .expect("host");
    let account = shop_backend::identity::host_auth::create_account(&db, own, &email, PASSWORD)
        .await
        .expect("account");
    exec(
        &db,
        &format!(
            "INSERT INTO team_members (account_id, host_id, role, invited_by, joined_at_ms)
             VALUES ({account}, {host_id}, '{role}', 0, 0)"
        ),
    )
    .await;
    let c = Client::new(app);
    c.sign_in_host(&email, PASSWORD).await;
    c
}

fn form(product: i64, winners: u32, rules: Value) -> Value {
    json!({
        "prize": "Serum 30 ml",
        "product_id": product,
        "winners": winners,
        "countdown_secs": 600,
        "rules": rules,
    })
}

async fn open(c: &Client, sid: i64, form: Value) -> (u16, Value) {
    c.call_json("draws/open", json!({ "session_id": sid, "form": form }))
        .await
}

async fn open_ok(c: &Client, sid: i64, form: Value) -> i64 {
    let (s, v) = open(c, sid, form).await;
    assert_eq!(s, 200, "{v}");
    v["id"].as_i64().expect("draw id")
}

async fn enter(c: &Client, sid: i64, draw_id: i64) -> (u16, Value) {
    c.call(
        "draws/enter",
        &[
            ("session_id", sid.to_string()),
            ("draw_id", draw_id.to_string()),
        ],
    )
    .await
}

async fn close(host: &Client, sid: i64, draw_id: i64) -> (u16, Value) {
    host.call(
        "draws/close",
        &[
            ("session_id", sid.to_string()),
            ("draw_id", draw_id.to_string()),
        ],
    )
    .await
}

async fn proof(c: &Client, draw_id: i64) -> Value {
    let (s, v) = c.get(&format!("/api/draws/proof?id={draw_id}")).await;
    assert_eq!(s, 200, "{v}");
    v
}

async fn shopper(app: &TestApp) -> Client {
    let c = Client::new(app);
    c.me().await;
    c
}

async fn verify_phone(c: &Client, phone: &str) {
    let (s, sent) = c
        .call(
            "phone/send_code",
            &[("phone", phone.into()), ("locale", "en".into())],
        )
        .await;
    assert_eq!(s, 200, "{sent}");
    let code = sent["dev_code"].as_str().expect("dev code").to_string();
    let (s, v) = c
        .call("phone/verify", &[("phone", phone.into()), ("code", code)])
        .await;
    assert_eq!(s, 200, "{v}");
}

fn seed_of(proof: &Value) -> [u8; 32] {
    let hex = proof["seed"].as_str().expect("seed published");
    let bytes: Vec<u8> = (0..64)
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect();
    bytes.try_into().expect("32 bytes")
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("list")
        .iter()
        .map(|s| s.as_str().expect("string").to_string())
        .collect()
}

async fn only_producers_and_owners_start_draws_and_only_while_live(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (sid, products) = demo_session(&app).await;
    let owner = demo_host(&app).await;
    let f = form(products[0], 1, json!({}));
    // Not live yet: no draw.
    assert_eq!(open(&owner, sid, f.clone()).await.0, 409);
    let (s, v) = owner
        .call("studio/go_live", &[("session_id", sid.to_string())])
        .await;
    assert_eq!(s, 200, "{v}");
    let anon = Client::new(&app);
    let shopper = shopper(&app).await;
    let moderator = team_member(&app, sid, "moderator").await;
    let analyst = team_member(&app, sid, "analyst").await;
    let producer = team_member(&app, sid, "producer").await;
    for (who, c, expected) in [
        ("anonymous", &anon, 401),
        ("a shopper", &shopper, 403),
        ("a moderator", &moderator, 403),
        ("an analyst", &analyst, 403),
    ] {
        assert_eq!(open(c, sid, f.clone()).await.0, expected, "{who} opens");
        assert_eq!(
            c.get(&format!("/api/draws/list?session_id={sid}")).await.0,
            expected,
            "{who} lists"
        );
    }
    // Bad forms: 400, nothing opened.
    for bad in [
        form(products[0], 0, json!({})),
        form(products[0], 101, json!({})),
        json!({ "prize": "", "product_id": products[0], "winners": 1, "countdown_secs": 60, "rules": {} }),
        json!({ "prize": "x", "product_id": products[0], "winners": 1, "countdown_secs": 5, "rules": {} }),
        json!({ "prize": "x", "product_id": 999_999, "winners": 1, "countdown_secs": 60, "rules": {} }),
    ] {
        let (s, v) = open(&producer, sid, bad.clone()).await;
        assert_eq!(s, 400, "{bad}: {v}");
    }
    let id = open_ok(&producer, sid, f.clone()).await;
    // One open draw per session.
    assert_eq!(open(&owner, sid, f.clone()).await.0, 409);
    // Moderators cannot close it either; an unknown draw is 404.
    assert_eq!(close(&moderator, sid, id).await.0, 403);
    assert_eq!(close(&producer, sid, 999_999).await.0, 404);
    let (s, list) = producer
        .get(&format!("/api/draws/list?session_id={sid}"))
        .await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(list[0]["id"], id);
    assert_eq!(list[0]["open"], true);
    assert!(
        list[0]["seed"].is_null(),
        "the seed stays secret while open"
    );
    // Nobody entered: closed with no winner, and a second close is a conflict.
    let (s, card) = close(&producer, sid, id).await;
    assert_eq!(s, 200, "{card}");
    assert_eq!(card["winner_names"], json!([]));
    assert_eq!(close(&owner, sid, id).await.0, 409);
    assert_eq!(
        anon.get("/api/draws/proof?id=999999").await.0,
        404,
        "unknown draw"
    );
    app.stop().await;
}

async fn each_eligibility_rule_is_checked_at_entry(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (sid, products, host) = live(&app).await;
    let p = products[0];

    // Reserved.
    let id = open_ok(&host, sid, form(p, 1, json!({ "reserved": true }))).await;
    let (a, r) = (shopper(&app).await, shopper(&app).await);
    assert_eq!(r.reserve(sid).await.0, 200);
    let (s, v) = enter(&a, sid, id).await;
    assert_eq!(s, 403, "{v}");
    assert!(v.to_string().contains("reserved"), "{v}");
    let (s, v) = enter(&r, sid, id).await;
    assert_eq!(s, 200, "{v}");
    assert!(
        v["entrant_key"]
            .as_str()
            .is_some_and(|k| k.starts_with("s-")),
        "{v}"
    );
    assert_eq!(enter(&r, sid, id).await.0, 409, "entered already");
    assert_eq!(close(&host, sid, id).await.0, 200);
    assert_eq!(enter(&a, sid, id).await.0, 409, "closed");

    // Verified phone.
    let id = open_ok(&host, sid, form(p, 1, json!({ "verified_phone": true }))).await;
    let (s, v) = enter(&a, sid, id).await;
    assert_eq!(s, 403, "{v}");
    assert!(v.to_string().contains("verified phone"), "{v}");
    verify_phone(&a, "138 0013 8001").await;
    let (s, v) = enter(&a, sid, id).await;
    assert_eq!(s, 200, "{v}");
    assert!(
        v["entrant_key"]
            .as_str()
            .is_some_and(|k| k.starts_with("p-")),
        "keyed by the phone: {v}"
    );
    assert_eq!(close(&host, sid, id).await.0, 200);

    // In the room now.
    let id = open_ok(&host, sid, form(p, 1, json!({ "in_room": true }))).await;
    let watcher = shopper(&app).await;
    let (s, v) = enter(&watcher, sid, id).await;
    assert_eq!(s, 403, "{v}");
    assert!(v.to_string().contains("watching"), "{v}");
    let mut sse = Sse::open(&watcher, sid, None).await;
    let snap = sse.next_within(T).await.expect("snapshot");
    assert_eq!(snap.data["draw"]["id"], id, "the snapshot shows the draw");
    assert_eq!(snap.data["draw"]["open"], true);
    let (s, v) = enter(&watcher, sid, id).await;
    assert_eq!(s, 200, "{v}");
    drop(sse);
    assert_eq!(close(&host, sid, id).await.0, 200);

    // Invited a friend who joined.
    let id = open_ok(&host, sid, form(p, 1, json!({ "invited": true }))).await;
    let inviter = shopper(&app).await;
    assert_eq!(inviter.reserve(sid).await.0, 200);
    let (s, v) = enter(&inviter, sid, id).await;
    assert_eq!(s, 403, "{v}");
    assert!(v.to_string().contains("invited"), "{v}");
    let (_, inv) = inviter.create_invite(sid).await;
    let friend = Client::new(&app);
    assert_eq!(
        friend.join(inv["code"].as_str().expect("code")).await.0,
        200
    );
    let (s, v) = enter(&inviter, sid, id).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(close(&host, sid, id).await.0, 200);

    // A keyword: entering is commenting it; the button is refused.
    let id = open_ok(&host, sid, form(p, 1, json!({ "keyword": "LUCKY" }))).await;
    let talker = shopper(&app).await;
    let (s, v) = enter(&talker, sid, id).await;
    assert_eq!(s, 400, "{v}");
    // The room's copy of the draw reaches this node's room through its event.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (s, posted) = talker
        .call(
            "live/chat",
            &[("session_id", sid.to_string()), ("text", "hello".into())],
        )
        .await;
    assert_eq!(s, 200, "{posted}");
    assert!(posted["entered"].is_null(), "no keyword: {posted}");
    let (s, posted) = talker
        .call(
            "live/chat",
            &[
                ("session_id", sid.to_string()),
                ("text", "I want it, lucky!".into()),
            ],
        )
        .await;
    assert_eq!(s, 200, "{posted}");
    assert_eq!(posted["entered"]["draw_id"], id, "{posted}");
    let (s, card) = close(&host, sid, id).await;
    assert_eq!(s, 200, "{card}");
    assert_eq!(card["entrants"], 1);
    assert_eq!(card["winner_names"].as_array().map(Vec::len), Some(1));
    app.stop().await;
}

async fn one_phone_one_entry_and_a_proof_anyone_can_rerun(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (sid, products, host) = live(&app).await;
    let id = open_ok(&host, sid, form(products[1], 2, json!({}))).await;
    let watcher = Client::new(&app);
    let mut sse = Sse::open(&watcher, sid, None).await;
    sse.next_within(T).await.expect("snapshot");
    // Five entrants; every one has a saved address, so each prize order ships at once.
    let mut entrants = Vec::new();
    for i in 0..5 {
        let c = shopper(&app).await;
        let (s, v) = c
            .call_json(
                "addresses/save",
                json!({ "form": {
                    "recipient": format!("王小{i}"), "phone": "138 1234 5678", "province": "广东省",
                    "city": "深圳市", "district": "南山区", "street": format!("科技园{i}号"),
                }}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let (s, v) = enter(&c, sid, id).await;
        assert_eq!(s, 200, "{v}");
        entrants.push((c, v["entrant_key"].as_str().expect("key").to_string()));
    }
    // One phone, one entry: the first entrant's number moved to another account (as when it
    // is verified again there) cannot enter again under it.
    let phoned = &entrants[0].0;
    verify_phone(phoned, "139 0013 9002").await;
    let id2_check = enter(phoned, sid, id).await;
    assert_eq!(id2_check.0, 409, "this account entered already");
    let other = shopper(&app).await;
    let phoned_id = phoned.me().await["id"].as_i64().expect("id");
    let other_id = other.me().await["id"].as_i64().expect("id");
    let sixth = shopper(&app).await;
    verify_phone(&sixth, "137 0013 7003").await;
    assert_eq!(enter(&sixth, sid, id).await.0, 200, "a new phone enters");
    let d = db(&app).await;
    exec(
        &d,
        &format!(
            "UPDATE shopper_phones SET shopper_id = {other_id} WHERE shopper_id = {}",
            { sixth.me().await["id"].as_i64().expect("id") }
        ),
    )
    .await;
    let (s, v) = enter(&other, sid, id).await;
    assert_eq!(s, 409, "the same phone under another account: {v}");
    let _ = phoned_id;
    // While open: the commitment, no seed, no entrant list.
    let open_proof = proof(&Client::new(&app), id).await;
    assert!(open_proof["seed"].is_null());
    assert_eq!(open_proof["entrants"], json!([]));
    assert_eq!(open_proof["entrant_count"], 6);

    let (s, card) = close(&host, sid, id).await;
    assert_eq!(s, 200, "{card}");
    // Everyone watching sees the winners, masked.
    let ev = loop {
        let ev = sse.next_of("draw", T).await.expect("the draw's events");
        if ev.data["draw"]["open"] == false {
            break ev;
        }
    };
    let names = strings(&ev.data["draw"]["winner_names"]);
    assert_eq!(names.len(), 2);
    assert!(names.iter().all(|n| n.ends_with("***")), "{names:?}");

    // The proof: the seed matches the commitment; drawing again gives the same winners.
    let p = proof(&Client::new(&app), id).await;
    let seed = seed_of(&p);
    assert!(draw::matches_commitment(
        &seed,
        p["commitment"].as_str().expect("commitment")
    ));
    assert_eq!(p["commitment"], open_proof["commitment"], "unchanged");
    let keys = strings(&p["entrants"]);
    assert_eq!(keys.len(), 6);
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "published in the canonical order");
    for (_, k) in &entrants {
        assert!(keys.contains(k), "every entrant finds their key");
    }
    assert!(
        keys.iter()
            .all(|k| !k.contains("13700137003") && !k.contains("13900139002") && k.len() == 26),
        "no phone in a key: {keys:?}"
    );
    let winners = strings(&p["winners"]);
    assert_eq!(winners.len(), 2, "exactly N winners");
    assert_eq!(draw::draw(&seed, &keys, 2), winners, "anyone can re-run it");
    assert_eq!(strings(&p["winner_names"]), names);

    // Each winner has a ¥0 prize order naming the prize, shipping to their address.
    let prize_orders = scalar(
        &d,
        &format!("SELECT COUNT(*) FROM orders WHERE session_id = {sid} AND payment_provider = 'prize' AND paid_amount_fen = 0 AND status = 'paid'"),
    )
    .await;
    assert_eq!(prize_orders, 2);
    let mut found = 0;
    for (c, key) in &entrants {
        let (s, orders) = c.get("/api/orders/mine").await;
        assert_eq!(s, 200, "{orders}");
        let prizes: Vec<&Value> = orders
            .as_array()
            .expect("orders")
            .iter()
            .filter(|o| o["payment_provider"] == "prize")
            .collect();
        if winners.contains(key) {
            found += 1;
            assert_eq!(prizes.len(), 1, "{orders}");
            let o = prizes[0];
            assert_eq!(o["paid"], 0);
            assert_eq!(o["status"], "paid");
            assert_eq!(o["lines"][0]["product_name"], "Serum 30 ml");
            assert!(
                o["ship_to"].as_str().is_some_and(|a| a.contains("科技园")),
                "{o}"
            );
        } else {
            assert!(prizes.is_empty(), "{orders}");
        }
    }
    // The sixth entrant (the moved phone) may have won too; the five with addresses found
    // theirs.
    let sixth_won = scalar(
        &d,
        &format!("SELECT COUNT(*) FROM draw_winners WHERE draw_id = {id} AND shopper_id = (SELECT shopper_id FROM draw_entries WHERE draw_id = {id} AND entrant_key LIKE 'p-%')"),
    )
    .await;
    assert_eq!(found + sixth_won, 2);
    app.stop().await;
}

async fn a_draw_closes_exactly_once_however_many_close_it(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (sid, products, host) = live(&app).await;
    let id = open_ok(&host, sid, form(products[0], 3, json!({}))).await;
    let mut no_address = Vec::new();
    for _ in 0..8 {
        let c = shopper(&app).await;
        assert_eq!(enter(&c, sid, id).await.0, 200);
        no_address.push(c);
    }
    // Eight closers at once (and the closer task, once the countdown is over): one wins.
    let d = db(&app).await;
    exec(
        &d,
        &format!("UPDATE draws SET closes_at_ms = closes_at_ms - 600000 WHERE id = {id}"),
    )
    .await;
    let tries = (0..8).map(|_| close(&host, sid, id));
    let results = futures::future::join_all(tries).await;
    let ok = results.iter().filter(|r| r.0 == 200).count();
    let conflicts = results.iter().filter(|r| r.0 == 409).count();
    assert!(ok <= 1, "{results:?}");
    assert_eq!(ok + conflicts, 8, "{results:?}");
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(
        scalar(
            &d,
            &format!("SELECT COUNT(*) FROM draws WHERE id = {id} AND state = 'closed'")
        )
        .await,
        1
    );
    assert_eq!(
        scalar(
            &d,
            &format!("SELECT COUNT(*) FROM draw_winners WHERE draw_id = {id}")
        )
        .await,
        3
    );
    assert_eq!(
        scalar(
            &d,
            &format!("SELECT COUNT(*) FROM orders WHERE idempotency_key = 'draw:{id}'")
        )
        .await,
        3,
        "one prize order per winner"
    );
    // A winner without a saved address: the order asks for one, like any order.
    let (_, orders) = {
        let mut won = None;
        for c in &no_address {
            let (s, o) = c.get("/api/orders/mine").await;
            if o.as_array().is_some_and(|a| !a.is_empty()) {
                won = Some((s, o));
                break;
            }
        }
        won.expect("a winner")
    };
    assert!(orders[0]["ship_to"].is_null(), "{orders}");
    // Countdown over, closed by the node's closer: a new draw can open, and one whose time
    // ran out closes by itself.
    let id2 = open_ok(&host, sid, form(products[0], 1, json!({}))).await;
    assert_eq!(enter(&no_address[0], sid, id2).await.0, 200);
    exec(
        &d,
        &format!("UPDATE draws SET closes_at_ms = 1 WHERE id = {id2}"),
    )
    .await;
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let p = proof(&host, id2).await;
        if p["open"] == false {
            assert_eq!(strings(&p["winners"]).len(), 1);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "closed by itself");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(enter(&no_address[1], sid, id2).await.0, 409, "closed");
    app.stop().await;
}
