//! The host's chat rules over the real API, on both databases: blocked words refused whatever
//! their disguise, words held for a moderator who lets them through or drops them, slow mode,
//! chat only for verified phones, and who may change the rules.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{demo_host, demo_session, spawn, Backend, Client, Sse, TestApp};

both_databases!(
    blocked_words_are_refused_and_held_words_wait_for_a_moderator,
    slow_mode_and_verified_only_apply_to_shoppers_not_the_host,
    only_the_sessions_host_reads_or_changes_the_rules,
);

const T: Duration = Duration::from_secs(5);

async fn live(app: &TestApp) -> (i64, Client) {
    let (sid, _) = demo_session(app).await;
    let host = demo_host(app).await;
    let (s, v) = host
        .call("studio/go_live", &[("session_id", sid.to_string())])
        .await;
    assert_eq!(s, 200, "{v}");
    (sid, host)
}

async fn chat(c: &Client, sid: i64, text: &str) -> (u16, Value) {
    c.call(
        "live/chat",
        &[("session_id", sid.to_string()), ("text", text.into())],
    )
    .await
}

async fn set_rules(host: &Client, sid: i64, rules: Value) -> (u16, Value) {
    host.call_json(
        "live/rules/save",
        json!({ "session_id": sid, "rules": rules }),
    )
    .await
}

async fn decide(host: &Client, sid: i64, id: i64, allow: bool) -> (u16, Value) {
    host.call(
        "live/held/decide",
        &[
            ("session_id", sid.to_string()),
            ("id", id.to_string()),
            ("allow", allow.to_string()),
        ],
    )
    .await
}

async fn blocked_words_are_refused_and_held_words_wait_for_a_moderator(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (sid, host) = live(&app).await;
    let (s, v) = set_rules(
        &host,
        sid,
        json!({ "refuse": "加微信\nVX", "hold": "cheap", "slow_mode_secs": 0, "verified_only": false }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (s, rules) = host.get(&format!("/api/live/rules?session_id={sid}")).await;
    assert_eq!(s, 200);
    assert_eq!(rules["refuse"], "VX\n加微信");
    assert_eq!(rules["hold"], "cheap");

    let shopper = Client::new(&app);
    shopper.me().await;
    let watcher = Client::new(&app);
    let mut sse = Sse::open(&watcher, sid, None).await;
    sse.next_within(T).await.expect("snapshot");
    // Refused whatever the disguise, with a reason, and nobody sees it.
    for text in ["加 微 信 领红包", "ＶＸ: me", "v.x"] {
        let (s, v) = chat(&shopper, sid, text).await;
        assert_eq!(s, 400, "{text}: {v}");
        assert!(
            v.to_string().contains("does not allow"),
            "a readable reason: {v}"
        );
    }
    // Held: the sender is told, the room does not see it, the moderator does.
    let (s, posted) = chat(&shopper, sid, "so CHEAP!").await;
    assert_eq!(s, 200, "{posted}");
    assert_eq!(posted["held"], true);
    assert_eq!(posted["broadcast"], false);
    let (s, clean) = chat(&shopper, sid, "hello").await;
    assert_eq!((s, &clean["held"]), (200, &json!(false)), "{clean}");
    let ev = sse.next_of("chat", T).await.expect("the clean message");
    assert_eq!(
        ev.data["message"]["text"], "hello",
        "the held one never went out"
    );
    let (s, held) = host.get(&format!("/api/live/held?session_id={sid}")).await;
    assert_eq!(s, 200);
    let held = held.as_array().expect("list").clone();
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0]["text"], "so CHEAP!");
    assert_eq!(held[0]["term"], "cheap");
    let id = held[0]["id"].as_i64().expect("id");
    // Allowed: it reaches the room once; a second decision finds nothing waiting.
    let (s, v) = decide(&host, sid, id, true).await;
    assert_eq!(s, 200, "{v}");
    let ev = sse.next_of("chat", T).await.expect("the allowed message");
    assert_eq!(ev.data["message"]["text"], "so CHEAP!");
    assert_eq!(decide(&host, sid, id, false).await.0, 404, "decided once");
    let (_, held) = host.get(&format!("/api/live/held?session_id={sid}")).await;
    assert_eq!(held, json!([]));
    // A dropped one never reaches the room. (Another shopper: the first has used its burst
    // of the chat's rate limit, refused messages included.)
    let second = Client::new(&app);
    second.me().await;
    let (s, v) = chat(&second, sid, "cheap cheap").await;
    assert_eq!((s, &v["held"]), (200, &json!(true)), "{v}");
    let (_, held) = host.get(&format!("/api/live/held?session_id={sid}")).await;
    let id = held[0]["id"].as_i64().expect("id");
    let (s, _) = host
        .call(
            "live/held/decide",
            &[
                ("session_id", sid.to_string()),
                ("id", id.to_string()),
                ("allow", "false".into()),
            ],
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(chat(&second, sid, "after").await.0, 200);
    let ev = sse.next_of("chat", T).await.expect("the next message");
    assert_eq!(
        ev.data["message"]["text"], "after",
        "the dropped one never went out"
    );
    // Bad rules are refused and change nothing.
    let (s, v) = set_rules(
        &host,
        sid,
        json!({ "refuse": "!!!", "hold": "", "slow_mode_secs": 0, "verified_only": false }),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    let (s, v) = set_rules(
        &host,
        sid,
        json!({ "refuse": "", "hold": "", "slow_mode_secs": 301, "verified_only": false }),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    let (_, rules) = host.get(&format!("/api/live/rules?session_id={sid}")).await;
    assert_eq!(rules["refuse"], "VX\n加微信");
    app.stop().await;
}

async fn slow_mode_and_verified_only_apply_to_shoppers_not_the_host(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (sid, host) = live(&app).await;
    let (s, v) = set_rules(
        &host,
        sid,
        json!({ "refuse": "", "hold": "", "slow_mode_secs": 30, "verified_only": false }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let shopper = Client::new(&app);
    shopper.me().await;
    assert_eq!(chat(&shopper, sid, "first").await.0, 200);
    let (s, v) = chat(&shopper, sid, "second").await;
    assert_eq!(s, 429, "{v}");
    assert!(v.to_string().contains("30"), "says the interval: {v}");
    // Another shopper has their own interval; the host has none.
    let other = Client::new(&app);
    other.me().await;
    assert_eq!(chat(&other, sid, "mine").await.0, 200);
    for text in ["one", "two"] {
        assert_eq!(
            chat(&host, sid, text).await.0,
            200,
            "the host is not slowed"
        );
    }
    // Verified phones only: the shopper without one is told what to do.
    let (s, v) = set_rules(
        &host,
        sid,
        json!({ "refuse": "", "hold": "", "slow_mode_secs": 0, "verified_only": true }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    // The rules reach this node within a second (its cache).
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let fresh = Client::new(&app);
    fresh.me().await;
    let (s, v) = chat(&fresh, sid, "hi").await;
    assert_eq!(s, 403, "{v}");
    assert!(v.to_string().contains("verified"), "{v}");
    let (s, sent) = fresh
        .call(
            "phone/send_code",
            &[("phone", "138 0013 8001".into()), ("locale", "en".into())],
        )
        .await;
    assert_eq!(s, 200, "{sent}");
    let code = sent["dev_code"].as_str().expect("dev code").to_string();
    let (s, v) = fresh
        .call(
            "phone/verify",
            &[("phone", "138 0013 8001".into()), ("code", code)],
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(chat(&fresh, sid, "verified now").await.0, 200);
    assert_eq!(chat(&host, sid, "the host needs no phone").await.0, 200);
    app.stop().await;
}

async fn only_the_sessions_host_reads_or_changes_the_rules(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (sid, _host) = live(&app).await;
    let anon = Client::new(&app);
    let shopper = Client::new(&app);
    shopper.me().await;
    let other = Client::new(&app);
    other.sign_up_host("Other Host", "other@example.com").await;
    let rules = json!({ "refuse": "x1", "hold": "", "slow_mode_secs": 0, "verified_only": false });
    for (who, c, expected) in [
        ("anonymous", &anon, 401),
        ("shopper", &shopper, 403),
        ("other host", &other, 403),
    ] {
        assert_eq!(
            set_rules(c, sid, rules.clone()).await.0,
            expected,
            "save as {who}"
        );
        assert_eq!(
            c.get(&format!("/api/live/rules?session_id={sid}")).await.0,
            expected,
            "read as {who}"
        );
        assert_eq!(
            c.get(&format!("/api/live/held?session_id={sid}")).await.0,
            expected,
            "held as {who}"
        );
        let (s, _) = c
            .call(
                "live/held/decide",
                &[
                    ("session_id", sid.to_string()),
                    ("id", "1".into()),
                    ("allow", "true".into()),
                ],
            )
            .await;
        assert_eq!(s, expected, "decide as {who}");
    }
    // Nothing was saved: a shopper can still say x1.
    assert_eq!(chat(&shopper, sid, "x1").await.0, 200);
    app.stop().await;
}
