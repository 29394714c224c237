//! A private rehearsal over the real API, on both databases: the team runs the show in its
//! room while shoppers keep seeing a scheduled session (pages, viewer state and the room's
//! stream), nobody can buy, chat or send hearts, and what the rehearsal did is discarded
//! when the show goes live or the rehearsal stops.

use std::time::Duration;

use serde_json::Value;

use crate::common::{db, demo_host, demo_session, scalar, spawn, Backend, Client, Sse};

both_databases!(
    shoppers_never_see_a_rehearsal_and_going_live_discards_it,
    a_stopped_rehearsal_leaves_the_session_as_it_was,
);

const T: Duration = Duration::from_secs(5);
const QUIET: Duration = Duration::from_millis(1500);

async fn rehearse(host: &Client, sid: i64, on: bool) -> (u16, Value) {
    host.call(
        "studio/rehearse",
        &[("session_id", sid.to_string()), ("on", on.to_string())],
    )
    .await
}

async fn public_status(c: &Client, sid: i64) -> String {
    let (s, v) = c.get(&format!("/api/sessions/get?id={sid}")).await;
    assert_eq!(s, 200, "{v}");
    v["status"].as_str().unwrap_or_default().to_string()
}

async fn shoppers_never_see_a_rehearsal_and_going_live_discards_it(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (sid, products) = demo_session(&app).await;
    let host = demo_host(&app).await;
    let shopper = Client::new(&app);
    assert_eq!(shopper.reserve(sid).await.0, 200);
    // A shopper already watching the room before the rehearsal starts.
    let mut early = Sse::open(&shopper, sid, None).await;
    early.next_within(T).await.expect("snapshot");

    let (s, v) = rehearse(&host, sid, true).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(rehearse(&host, sid, true).await.0, 409, "already running");
    let (_, studio) = host
        .get(&format!("/api/studio/session?session_id={sid}"))
        .await;
    assert_eq!(studio["status"], "rehearsal");
    // Shoppers: a scheduled session everywhere.
    assert_eq!(public_status(&shopper, sid).await, "scheduled");
    assert_eq!(shopper.viewer(sid).await["status"], "scheduled");
    let mut late = Sse::open(&Client::new(&app), sid, None).await;
    let snap = late.next_within(T).await.expect("snapshot");
    assert_eq!(snap.data["status"], "scheduled");
    assert!(snap.data["presenting"].is_null());

    // The team's room: the host's stream sees the rehearsal, its cards and its chat.
    let mut team = Sse::open(&host, sid, None).await;
    let snap = team.next_within(T).await.expect("snapshot");
    assert_eq!(snap.data["status"], "rehearsal");
    let (s, v) = host
        .call("studio/present", &[("product_id", products[0].to_string())])
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = host
        .call(
            "live/chat",
            &[
                ("session_id", sid.to_string()),
                ("text", "Mic check".into()),
            ],
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let card = team
        .next_of("presenting", T)
        .await
        .expect("the team sees the card");
    assert_eq!(
        card.data["product"]["product_id"].as_i64(),
        Some(products[0])
    );
    team.next_of("chat", T)
        .await
        .expect("the team sees its chat");
    // Shoppers' streams carry none of it.
    assert!(early.next_of("presenting", QUIET).await.is_none());
    assert!(late.next_of("chat", QUIET).await.is_none());
    let offer = shopper.viewer(sid).await["offers"][0].clone();
    assert_eq!(offer["presented"], false, "{offer}");
    assert_eq!(offer["explaining_now"], false, "{offer}");

    // Nothing can be bought, said or hearted by a shopper, and sold out is not rehearsed.
    let (s, _) = shopper
        .order(sid, products[0], 1, "rehearsal-order-01")
        .await;
    assert_eq!(s, 409);
    let (s, _) = shopper
        .call(
            "live/chat",
            &[("session_id", sid.to_string()), ("text", "hello?".into())],
        )
        .await;
    assert_eq!(s, 409);
    let (s, _) = shopper
        .call(
            "live/like",
            &[("session_id", sid.to_string()), ("count", "3".into())],
        )
        .await;
    assert_eq!(s, 409);
    let (s, _) = host
        .call(
            "studio/sold_out",
            &[("product_id", products[0].to_string())],
        )
        .await;
    assert_eq!(s, 409);
    let d = db(&app).await;
    assert_eq!(
        scalar(
            &d,
            &format!("SELECT COUNT(*) FROM orders WHERE session_id = {sid}")
        )
        .await,
        0
    );

    // The real show: shoppers hear it, and nothing of the rehearsal remains.
    let (s, v) = host
        .call("studio/go_live", &[("session_id", sid.to_string())])
        .await;
    assert_eq!(s, 200, "{v}");
    let ev = early
        .next_of("status", T)
        .await
        .expect("shoppers hear the show start");
    assert_eq!(ev.data["status"], "live");
    assert_eq!(
        scalar(
            &d,
            &format!("SELECT COUNT(*) FROM products WHERE session_id = {sid} AND presented_at_ms IS NOT NULL")
        )
        .await,
        0,
        "what the rehearsal presented opens no discount"
    );
    let mut fresh = Sse::open(&Client::new(&app), sid, None).await;
    let snap = fresh.next_within(T).await.expect("snapshot");
    assert_eq!(snap.data["status"], "live");
    assert!(snap.data["presenting"].is_null());
    assert_eq!(
        snap.data["chat"].as_array().map(Vec::len),
        Some(0),
        "{}",
        snap.data
    );
    assert_eq!(public_status(&shopper, sid).await, "live");
    // A stream resuming from before the show gets a snapshot, not the rehearsal's events.
    let last = snap.id.expect("an id");
    let mut resumed = Sse::open(&Client::new(&app), sid, Some(last.saturating_sub(3))).await;
    let first = resumed.next_within(T).await.expect("an event");
    assert_ne!(first.data["type"], "chat", "{}", first.data);
    assert_eq!(
        rehearse(&host, sid, true).await.0,
        409,
        "no rehearsal once live"
    );
    app.stop().await;
}

async fn a_stopped_rehearsal_leaves_the_session_as_it_was(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (sid, products) = demo_session(&app).await;
    let host = demo_host(&app).await;
    assert_eq!(rehearse(&host, sid, false).await.0, 409, "none running");
    assert_eq!(rehearse(&host, sid, true).await.0, 200);
    let (s, _) = host
        .call("studio/present", &[("product_id", products[1].to_string())])
        .await;
    assert_eq!(s, 200);
    // A rehearsal does not end a session, nor may it be deleted meanwhile.
    assert_eq!(
        host.call("studio/end", &[("session_id", sid.to_string())])
            .await
            .0,
        409
    );
    assert_eq!(rehearse(&host, sid, false).await.0, 200);
    let (_, studio) = host
        .get(&format!("/api/studio/session?session_id={sid}"))
        .await;
    assert_eq!(studio["status"], "scheduled");
    assert!(studio["current_product_id"].is_null());
    let d = db(&app).await;
    assert_eq!(
        scalar(
            &d,
            &format!("SELECT COUNT(*) FROM products WHERE session_id = {sid} AND presented_at_ms IS NOT NULL")
        )
        .await,
        0
    );
    // Shoppers' orders and chat are still "not yet".
    let shopper = Client::new(&app);
    shopper.me().await;
    assert_eq!(
        shopper
            .order(sid, products[1], 1, "after-rehearsal-01")
            .await
            .0,
        409
    );
    app.stop().await;
}
