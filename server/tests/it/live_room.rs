//! The live room over real SSE connections: resume without loss, snapshots, personal hints,
//! chat limits, moderation, a slow consumer that must not grow the server's memory.

use shop_core::ids::SessionId;
use std::time::Duration;

use crate::common::{demo_host, demo_session, spawn, Backend, Client, Sse};
use serde_json::json;

both_databases!(
    reconnecting_viewers_resume_without_loss,
    viewers_see_presenting_chat_counters_and_purchases,
    chat_is_limited_and_moderated,
    inviters_get_a_personal_hint_when_a_friend_joins,
    a_price_change_reaches_every_viewer,
    rooms_of_ended_sessions_are_dropped_with_their_tickers,
    a_reopened_room_never_resumes_into_other_events,
);

const T: Duration = Duration::from_secs(5);

async fn go_live(app: &crate::common::TestApp) -> (i64, Vec<i64>, Client) {
    let (sid, products) = demo_session(app).await;
    let host = demo_host(app).await;
    assert_eq!(
        host.call("studio/go_live", &[("session_id", sid.to_string())])
            .await
            .0,
        200
    );
    (sid, products, host)
}

async fn reconnecting_viewers_resume_without_loss(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (sid, products, host) = go_live(&app).await;
    let viewer = Client::new(&app);
    let mut sse = Sse::open(&viewer, sid, None).await;
    let snap = sse.next_within(T).await.expect("snapshot");
    assert_eq!(snap.data["type"], "snapshot");
    assert_eq!(snap.data["status"], "live");
    host.call("studio/present", &[("product_id", products[0].to_string())])
        .await;
    let first = sse.next_of("presenting", T).await.expect("presenting");
    let last_seen = first.id.expect("numbered");
    drop(sse); // the connection drops

    // While the viewer is away: three products presented and a host chat message.
    for p in &products[1..4] {
        let (status, body) = host
            .call("studio/present", &[("product_id", p.to_string())])
            .await;
        assert_eq!(status, 200, "present: {body}");
    }
    let (status, body) = host
        .call(
            "live/chat",
            &[
                ("session_id", sid.to_string()),
                ("text", "Back in a minute!".into()),
            ],
        )
        .await;
    assert_eq!(status, 200, "the host's chat: {body}");

    // Reconnect with Last-Event-ID: exactly the missed events, in order, no snapshot.
    let mut again = Sse::open(&viewer, sid, Some(last_seen)).await;
    let mut seen = Vec::new();
    // Generous: the loop ends as soon as the four arrive (a loaded machine can be slow).
    while let Some(ev) = again.next_within(Duration::from_secs(5)).await {
        // Only what the host did while the viewer was away: counters, heartbeats and other
        // room news (a product's stock re-stated, the video's state) may come in between.
        if ev.data["type"] != "presenting" && ev.data["type"] != "chat" {
            continue;
        }
        seen.push(ev);
        if seen.len() == 4 {
            break;
        }
    }
    let ids: Vec<u64> = seen.iter().map(|e| e.id.expect("id")).collect();
    assert!(ids.windows(2).all(|w| w[1] > w[0]), "in order: {ids:?}");
    assert!(ids[0] > last_seen);
    let names: Vec<String> = seen
        .iter()
        .filter(|e| e.data["type"] == "presenting")
        .map(|e| e.data["product"]["product_id"].to_string())
        .collect();
    assert_eq!(
        names,
        products[1..4]
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
    );
    assert!(
        seen.iter().all(|e| e.data["type"] != "snapshot"),
        "resumed, not resnapshotted"
    );
    assert_eq!(
        seen.last().expect("chat").data["message"]["text"],
        "Back in a minute!"
    );

    // A viewer too far behind (or from another server run) gets a snapshot with the current product.
    let mut stale = Sse::open(&viewer, sid, Some(9_999_999)).await;
    let s = stale.next_within(T).await.expect("snapshot");
    assert_eq!(s.data["type"], "snapshot");
    assert_eq!(s.data["presenting"]["product_id"], products[3]);
    app.stop().await;
}

async fn viewers_see_presenting_chat_counters_and_purchases(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (sid, products, host) = go_live(&app).await;
    let a = Client::new(&app);
    let b2 = Client::new(&app);
    let mut sa = Sse::open(&a, sid, None).await;
    let mut sb = Sse::open(&b2, sid, None).await;
    sa.next_within(T).await.expect("snapshot");
    sb.next_within(T).await.expect("snapshot");
    // Viewer count and likes are coalesced into counters events.
    let mut viewers = 0;
    while viewers < 2 {
        viewers = sa.next_of("counters", T).await.expect("counters").data["viewers"]
            .as_i64()
            .unwrap_or(0);
    }
    for _ in 0..5 {
        a.call(
            "live/like",
            &[("session_id", sid.to_string()), ("count", "10".into())],
        )
        .await;
    }
    let mut likes = 0;
    while likes < 50 {
        likes = sb.next_of("counters", T).await.expect("counters").data["likes"]
            .as_i64()
            .unwrap_or(0);
    }
    assert_eq!(likes, 50);

    host.call("studio/present", &[("product_id", products[1].to_string())])
        .await;
    let p = sb.next_of("presenting", T).await.expect("presenting");
    assert_eq!(
        p.data["product"]["name"],
        "Vitamin C Brightening Serum 30ml"
    );
    assert_eq!(p.data["product"]["price"], 25_900);

    a.reserve(sid).await;
    a.call("me/nickname", &[("nickname", "Lin".into())]).await;
    let (s, posted) = a
        .call(
            "live/chat",
            &[
                ("session_id", sid.to_string()),
                ("text", "<script>alert(1)</script> hi".into()),
            ],
        )
        .await;
    assert_eq!(s, 200, "{posted}");
    let chat = sb.next_of("chat", T).await.expect("chat");
    assert_eq!(
        chat.data["message"]["text"], "<script>alert(1)</script> hi",
        "text is data; the client renders it as text"
    );
    assert_eq!(chat.data["message"]["nickname"], "Lin");

    // A purchase: the ticker names the buyer masked, and stock changes arrive coalesced.
    let (s, _) = a.order(sid, products[1], 1, "live-order-1").await;
    assert_eq!(s, 200);
    let tick = sb.next_of("purchase", T).await.expect("purchase");
    assert_eq!(tick.data["buyer"], "L***");
    let counters = sb.next_of("counters", T).await.expect("stock");
    let stock = counters.data["stock"].as_array().expect("stock").clone();
    assert!(stock.contains(&json!([products[1], 199])), "{stock:?}");

    // The host sees live viewers on the dashboard.
    let (_, d) = host
        .get(&format!("/api/studio/dashboard?session_id={sid}"))
        .await;
    assert!(d["viewers"].as_i64() >= Some(2), "{d}");
    // Ending the session is an event too.
    host.call("studio/end", &[("session_id", sid.to_string())])
        .await;
    assert_eq!(
        sb.next_of("status", T).await.expect("status").data["status"],
        "ended"
    );
    app.stop().await;
}

async fn chat_is_limited_and_moderated(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (sid, _, host) = go_live(&app).await;
    let spammer = Client::new(&app);
    spammer.me().await;
    let mut statuses = Vec::new();
    for i in 0..7 {
        statuses.push(
            spammer
                .call(
                    "live/chat",
                    &[
                        ("session_id", sid.to_string()),
                        ("text", format!("buy buy buy {i}")),
                    ],
                )
                .await
                .0,
        );
    }
    assert_eq!(&statuses[..5], &[200; 5], "{statuses:?}");
    assert_eq!(
        statuses[6], 429,
        "per-shopper chat rate limit: {statuses:?}"
    );
    assert_eq!(
        spammer
            .call(
                "live/chat",
                &[("session_id", sid.to_string()), ("text", "x".repeat(201))]
            )
            .await
            .0,
        429
    );

    let polite = Client::new(&app);
    let me = polite.me().await;
    let (s, v) = polite
        .call(
            "live/chat",
            &[("session_id", sid.to_string()), ("text", "x".repeat(201))],
        )
        .await;
    assert_eq!(
        (s, v["BadRequest"].as_str()),
        (400, Some("Messages can be at most 200 characters."))
    );
    assert_eq!(
        polite
            .call(
                "live/chat",
                &[("session_id", sid.to_string()), ("text", "   ".into())]
            )
            .await
            .0,
        400
    );

    // The host deletes a message: everyone is told; then mutes the sender.
    let watcher = Client::new(&app);
    let mut sse = Sse::open(&watcher, sid, None).await;
    let (_, posted) = polite
        .call(
            "live/chat",
            &[
                ("session_id", sid.to_string()),
                ("text", "spam link".into()),
            ],
        )
        .await;
    let id = posted["message"]["id"].as_u64().expect("id");
    let shopper_only = Client::new(&app);
    shopper_only.me().await;
    assert_eq!(
        shopper_only
            .call(
                "live/chat/delete",
                &[
                    ("session_id", sid.to_string()),
                    ("message_id", id.to_string())
                ]
            )
            .await
            .0,
        403
    );
    assert_eq!(
        host.call(
            "live/chat/delete",
            &[
                ("session_id", sid.to_string()),
                ("message_id", id.to_string())
            ]
        )
        .await
        .0,
        200
    );
    let deleted = sse.next_of("chat_deleted", T).await.expect("deleted");
    assert_eq!(deleted.data["id"], id);
    let shopper_id = me["id"].as_i64().expect("id");
    assert_eq!(
        shopper_only
            .call(
                "live/mute",
                &[
                    ("session_id", sid.to_string()),
                    ("shopper_id", shopper_id.to_string())
                ]
            )
            .await
            .0,
        403
    );
    assert_eq!(
        host.call(
            "live/mute",
            &[
                ("session_id", sid.to_string()),
                ("shopper_id", shopper_id.to_string())
            ]
        )
        .await
        .0,
        200
    );
    let (s, v) = polite
        .call(
            "live/chat",
            &[("session_id", sid.to_string()), ("text", "hello?".into())],
        )
        .await;
    assert_eq!(
        (s, v["Forbidden"].as_str()),
        (403, Some("The host has muted you in this chat."))
    );
    // The host's own messages are always broadcast and marked as the host's.
    host.call(
        "live/chat",
        &[("session_id", sid.to_string()), ("text", "Welcome!".into())],
    )
    .await;
    let hm = sse.next_of("chat", T).await.expect("host chat");
    assert_eq!(
        (
            hm.data["message"]["host"].as_bool(),
            hm.data["message"]["nickname"].as_str()
        ),
        (Some(true), Some("Sun Jing"))
    );
    app.stop().await;
}

async fn inviters_get_a_personal_hint_when_a_friend_joins(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (sid, _, _) = go_live(&app).await;
    let a = Client::new(&app);
    a.reserve(sid).await;
    let (_, inv) = a.create_invite(sid).await;
    let mut sa = Sse::open(&a, sid, None).await;
    let other = Client::new(&app);
    let mut so = Sse::open(&other, sid, None).await;
    sa.next_within(T).await.expect("snapshot");
    so.next_within(T).await.expect("snapshot");
    Client::new(&app)
        .join(inv["code"].as_str().expect("code"))
        .await;
    assert!(
        sa.next_of("me", T).await.is_some(),
        "the inviter is told to refresh"
    );
    assert!(
        so.next_of("me", Duration::from_millis(600)).await.is_none(),
        "nobody else is"
    );
    assert_eq!(
        a.viewer(sid).await["discount_text"],
        "50% off: 1 friend joined through your invite"
    );
    app.stop().await;
}

/// A price edit during the session is an event carrying the public price, the discounted price
/// and the rule, from which every viewer works out its own without a request (a snapshot
/// carries them too).
async fn a_price_change_reaches_every_viewer(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (sid, products, host) = go_live(&app).await;
    host.call("studio/present", &[("product_id", products[0].to_string())])
        .await;
    let viewer = Client::new(&app);
    let mut sse = Sse::open(&viewer, sid, None).await;
    sse.next_within(T).await.expect("snapshot");
    let (s, v) = host
        .call_json(
            "studio/product/update",
            json!({
                "product_id": products[0],
                "form": { "name": "Hydrating Rose Toner 200ml", "description": "", "category": "Skincare",
                          "price": "139.00", "stock": 10, "reason": "new batch", "stock_was": 10 }
            }),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let ev = sse.next_of("product", T).await.expect("product event");
    assert_eq!(ev.data["product_id"], products[0]);
    assert_eq!(ev.data["pricing"]["price"], 13_900);
    assert_eq!(ev.data["pricing"]["discounted_price"], 6_950);
    assert_eq!(ev.data["pricing"]["percent_off"], 50);
    assert_eq!(ev.data["pricing"]["units_per_shopper"], 1);
    assert!(
        ev.id.is_some(),
        "numbered, so a reconnecting viewer gets it too"
    );
    let event: shop_core::model::LiveEvent = serde_json::from_value(ev.data).expect("typed event");
    assert!(matches!(event, shop_core::model::LiveEvent::Product { .. }));
    let mut fresh = Sse::open(&Client::new(&app), sid, None).await;
    let snap = fresh.next_within(T).await.expect("snapshot");
    assert_eq!(snap.data["presenting"]["price"], 13_900);
    assert_eq!(snap.data["presenting"]["discounted_price"], 6_950);
    app.stop().await;
}

/// The hub keeps only rooms in use: 1,000 sessions opened, watched and ended leave no room and
/// no ticker behind.
async fn rooms_of_ended_sessions_are_dropped_with_their_tickers(b: Backend) {
    use futures::StreamExt;
    let Some(app) = spawn(b).await else { return };
    let hub = app.state.app.live.clone();
    let (rooms_before, tickers_before) = (hub.room_count(), hub.ticker_count());
    let host = Client::new(&app);
    host.sign_up_host("Many Sessions", "many@example.com").await;
    let start = now_ms() + 3_600_000;
    let ids: Vec<i64> = futures::stream::iter(0..1000)
        .map(|i| {
            let host = &host;
            async move {
                let (s, v) = host
                    .call_json(
                        "studio/session/create",
                        json!({ "form": {
                            "title": format!("Session {i}"), "description": "", "scheduled_start_ms": start,
                            "policy": { "percent_off": 50, "friends_needed": 1, "units_per_shopper": 1, "units_cap": null, "purchase_limit": 5 }
                        }}),
                    )
                    .await;
                assert_eq!(s, 200, "{v}");
                v.as_i64().expect("id")
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    futures::stream::iter(ids.iter().copied())
        .for_each_concurrent(8, |sid| {
            let (host, app) = (&host, &app);
            async move {
                let form = [("session_id", sid.to_string())];
                assert_eq!(host.call("studio/go_live", &form).await.0, 200);
                // A viewer watches until the end.
                let viewer = Client::new(app);
                let mut sse = Sse::open(&viewer, sid, None).await;
                sse.next_within(T).await.expect("snapshot");
                assert_eq!(host.call("studio/end", &form).await.0, 200);
                sse.next_of("status", T).await.expect("ended");
            }
        })
        .await;
    assert!(hub.room_count() >= rooms_before);
    // Ended and unwatched: gone within the linger time and a tick.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while (hub.room_count(), hub.ticker_count()) != (rooms_before, tickers_before) {
        assert!(
            std::time::Instant::now() < deadline,
            "rooms {} (was {rooms_before}), tickers {} (was {tickers_before})",
            hub.room_count(),
            hub.ticker_count()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.stop().await;
}

/// A room dropped and opened again numbers its events above the old room's, so a viewer that
/// comes back with an old Last-Event-ID gets a snapshot, not events it never saw.
async fn a_reopened_room_never_resumes_into_other_events(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (sid, _, host) = go_live(&app).await;
    let hub = app.state.app.live.clone();
    let viewer = Client::new(&app);
    let mut sse = Sse::open(&viewer, sid, None).await;
    let first = sse.next_within(T).await.expect("snapshot");
    let old_id = first.id.expect("numbered");
    host.call("studio/end", &[("session_id", sid.to_string())])
        .await;
    sse.next_of("status", T).await.expect("ended");
    drop(sse);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while hub.get(SessionId(sid)).is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "the ended room was dropped"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut again = Sse::open(&viewer, sid, Some(old_id)).await;
    let ev = again.next_within(T).await.expect("first event");
    assert_eq!(ev.data["type"], "snapshot", "{ev:?}");
    assert_eq!(ev.data["status"], "ended");
    assert!(ev.id.expect("numbered") > old_id);
    app.stop().await;
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}
