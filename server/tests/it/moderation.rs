//! The pinned note and shoppers' reports over the real API, on both databases: who may pin,
//! the note in every viewer's stream and in the snapshot of a viewer who connects later or
//! after a restart; reports once per shopper, queued for moderators, decided once.

use std::time::Duration;

use serde_json::Value;
use shop_core::domain::team::Role;

use crate::common::{demo_host, live_presenting, spawn, Backend, Client, Options, Sse, TestApp};

both_databases!(
    a_moderator_pins_a_note_that_every_viewer_sees_and_keeps,
    reports_are_queued_once_per_shopper_and_decided_once,
);

const T: Duration = Duration::from_secs(5);

/// A member of the demo shop with `role`, through an invite link.
pub async fn member(app: &TestApp, owner: &Client, role: Role, email: &str) -> Client {
    let (s, v) = owner
        .call(
            "studio/team/invite",
            &[("role", role.as_str().into()), ("note", "".into())],
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let token = v["path"]
        .as_str()
        .and_then(|p| p.strip_prefix("/studio/join/"))
        .expect("an invite path")
        .to_string();
    let c = Client::new(app);
    let (s, v) = c
        .call(
            "team/join",
            &[
                ("token", token),
                ("display_name", "Xiao Mei".into()),
                ("email", email.into()),
                ("password", "a long password".into()),
            ],
        )
        .await;
    assert_eq!(s, 200, "{v}");
    c
}

async fn pin(c: &Client, sid: i64, text: &str) -> (u16, Value) {
    c.call(
        "live/pin",
        &[("session_id", sid.to_string()), ("text", text.into())],
    )
    .await
}

async fn snapshot_pin(c: &Client, sid: i64) -> Value {
    let mut sse = Sse::open(c, sid, None).await;
    let first = sse.next_within(T).await.expect("a snapshot");
    assert_eq!(first.data["type"], "snapshot");
    first.data["pinned"].clone()
}

async fn a_moderator_pins_a_note_that_every_viewer_sees_and_keeps(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (sid, _, owner) = live_presenting(&app, 0).await;
    let moderator = member(&app, &owner, Role::Moderator, "mod@example.com").await;
    let producer = member(&app, &owner, Role::Producer, "prod@example.com").await;
    let shopper = Client::new(&app);
    shopper.me().await;

    let watcher = Client::new(&app);
    let mut sse = Sse::open(&watcher, sid, None).await;
    let first = sse.next_within(T).await.expect("snapshot");
    assert!(first.data["pinned"].is_null());

    // Only the roles that moderate pin; nothing is pinned by a refused call.
    assert_eq!(pin(&producer, sid, "Code LIVE50").await.0, 403);
    assert_eq!(pin(&shopper, sid, "Code LIVE50").await.0, 403);
    assert_eq!(pin(&Client::new(&app), sid, "Code LIVE50").await.0, 401);
    assert_eq!(pin(&moderator, sid, "   ").await.0, 400);
    assert_eq!(pin(&moderator, sid, &"好".repeat(121)).await.0, 400);
    let (s, v) = pin(
        &moderator,
        sid,
        "Coupon code LIVE50: ¥20 off over ¥199 <b>now</b>",
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let ev = sse
        .next_of("pinned", T)
        .await
        .expect("the pin reaches the room");
    assert_eq!(
        ev.data["note"]["text"], "Coupon code LIVE50: ¥20 off over ¥199 <b>now</b>",
        "text travels as data (the client escapes it)"
    );
    // A viewer who connects (or reconnects) later gets it in the snapshot.
    let later = snapshot_pin(&Client::new(&app), sid).await;
    assert_eq!(
        later["text"],
        "Coupon code LIVE50: ¥20 off over ¥199 <b>now</b>"
    );
    // A coupon pinned with the note: it must be one of the session's, still open.
    let (s, coupon) = owner
        .call_json(
            "studio/coupons/drop",
            serde_json::json!({ "session_id": sid, "form": {
                "percent": false, "value": 2000, "min_spend_fen": 0, "quota": 100, "minutes": 30 } }),
        )
        .await;
    assert_eq!(s, 200, "{coupon}");
    let coupon_id = coupon["id"].as_i64().expect("coupon id");
    let pin_coupon = |id: i64| {
        let m = &moderator;
        async move {
            m.call(
                "live/pin",
                &[
                    ("session_id", sid.to_string()),
                    ("text", "¥20 off: tap Claim".into()),
                    ("coupon_id", id.to_string()),
                ],
            )
            .await
            .0
        }
    };
    assert_eq!(pin_coupon(999_999).await, 404);
    assert_eq!(pin_coupon(coupon_id).await, 200);
    let ev = sse.next_of("pinned", T).await.expect("the coupon pin");
    assert_eq!(ev.data["note"]["coupon_id"].as_i64(), Some(coupon_id));
    let (s, claimed) = shopper
        .call(
            "live/coupons/claim",
            &[
                ("session_id", sid.to_string()),
                ("coupon_id", coupon_id.to_string()),
            ],
        )
        .await;
    assert_eq!((s, claimed.as_str()), (200, Some("claimed")), "{claimed}");
    // Replaced by the owner.
    assert_eq!(pin(&owner, sid, "Next: serum at 20:30").await.0, 200);
    let ev = sse.next_of("pinned", T).await.expect("replaced");
    assert_eq!(ev.data["note"]["text"], "Next: serum at 20:30");

    // It survives a restart: the room is loaded again from the database.
    let app = app.restart(Options::default()).await;
    let again = snapshot_pin(&Client::new(&app), sid).await;
    assert_eq!(again["text"], "Next: serum at 20:30");

    // Unpinned: every viewer hears it, and new snapshots have none.
    let moderator = Client::new(&app);
    moderator
        .sign_in_host("mod@example.com", "a long password")
        .await;
    let mut sse = Sse::open(&Client::new(&app), sid, None).await;
    sse.next_within(T).await.expect("snapshot");
    let (s, _) = moderator
        .call("live/unpin", &[("session_id", sid.to_string())])
        .await;
    assert_eq!(s, 200);
    let ev = sse.next_of("pinned", T).await.expect("unpinned");
    assert!(ev.data["note"].is_null());
    assert!(snapshot_pin(&Client::new(&app), sid).await.is_null());

    // Who pinned what is in the audit log.
    let owner = demo_host(&app).await;
    let (_, log) = owner.get("/api/studio/team/audit").await;
    let log = log.as_array().expect("log");
    assert!(log.iter().any(|e| e["action"] == "pin"
        && e["actor"] == "mod@example.com"
        && e["detail"] == "Coupon code LIVE50: ¥20 off over ¥199 <b>now</b>"));
    assert!(log
        .iter()
        .any(|e| e["action"] == "unpin" && e["actor"] == "mod@example.com"));

    // After the session ends nothing more is pinned.
    let (s, _) = owner
        .call("studio/end", &[("session_id", sid.to_string())])
        .await;
    assert_eq!(s, 200);
    assert_eq!(pin(&moderator, sid, "too late").await.0, 409);
    app.stop().await;
}

async fn chat(c: &Client, sid: i64, text: &str) -> (u16, Value) {
    c.call(
        "live/chat",
        &[("session_id", sid.to_string()), ("text", text.into())],
    )
    .await
}

async fn report(c: &Client, sid: i64, id: u64, reason: &str) -> u16 {
    c.call(
        "live/report",
        &[
            ("session_id", sid.to_string()),
            ("message_id", id.to_string()),
            ("reason", reason.into()),
        ],
    )
    .await
    .0
}

async fn reports_are_queued_once_per_shopper_and_decided_once(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (sid, _, owner) = live_presenting(&app, 0).await;
    let moderator = member(&app, &owner, Role::Moderator, "mod@example.com").await;
    let analyst = member(&app, &owner, Role::Analyst, "ana@example.com").await;
    let (spammer, a, b2) = (Client::new(&app), Client::new(&app), Client::new(&app));
    for c in [&spammer, &a, &b2] {
        c.me().await;
    }
    let (s, posted) = chat(&spammer, sid, "cheap followers, add me").await;
    assert_eq!(s, 200, "{posted}");
    let id = posted["message"]["id"].as_u64().expect("id");
    let (_, host_line) = chat(&owner, sid, "Welcome!").await;
    let host_id = host_line["message"]["id"].as_u64().expect("id");

    // Bad reports are refused with a reason.
    assert_eq!(report(&a, sid, id, "boring").await, 400);
    assert_eq!(
        report(&spammer, sid, id, "spam").await,
        400,
        "their own message"
    );
    assert_eq!(report(&a, sid, host_id, "spam").await, 400, "the host's");
    assert_eq!(report(&a, sid, 999_999, "spam").await, 404);
    assert_eq!(report(&Client::new(&app), sid, id, "spam").await, 401);
    // Once per shopper: a second report by the same shopper changes nothing.
    assert_eq!(report(&a, sid, id, "spam").await, 200);
    assert_eq!(report(&a, sid, id, "abuse").await, 200);
    assert_eq!(report(&b2, sid, id, "scam").await, 200);

    // Moderators read the queue; an analyst does not.
    assert_eq!(
        analyst
            .get(&format!("/api/live/reports?session_id={sid}"))
            .await
            .0,
        403
    );
    let (s, queue) = moderator
        .get(&format!("/api/live/reports?session_id={sid}"))
        .await;
    assert_eq!(s, 200, "{queue}");
    let queue = queue.as_array().expect("queue");
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0]["message_id"].as_u64(), Some(id));
    assert_eq!(queue[0]["reports"], 2);
    assert_eq!(queue[0]["text"], "cheap followers, add me");
    let mut reasons: Vec<&str> = queue[0]["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .filter_map(|r| r.as_str())
        .collect();
    reasons.sort();
    assert_eq!(reasons, ["scam", "spam"]);

    // Removed and muted: the room loses the message, the author cannot post, decided once.
    let mut sse = Sse::open(&Client::new(&app), sid, None).await;
    sse.next_within(T).await.expect("snapshot");
    let decide = |remove: bool, mute: bool| {
        let m = &moderator;
        async move {
            m.call(
                "live/reports/decide",
                &[
                    ("session_id", sid.to_string()),
                    ("message_id", id.to_string()),
                    ("remove", remove.to_string()),
                    ("mute", mute.to_string()),
                ],
            )
            .await
            .0
        }
    };
    assert_eq!(decide(true, true).await, 200);
    let ev = sse
        .next_of("chat_deleted", T)
        .await
        .expect("removed for everyone");
    assert_eq!(ev.data["id"].as_u64(), Some(id));
    assert_eq!(chat(&spammer, sid, "again").await.0, 403);
    assert_eq!(decide(false, false).await, 404);
    let (_, queue) = moderator
        .get(&format!("/api/live/reports?session_id={sid}"))
        .await;
    assert!(queue.as_array().expect("queue").is_empty());

    // Dismissed reports leave the message where it is.
    let (_, posted) = chat(&a, sid, "is the serum vegan?").await;
    let id2 = posted["message"]["id"].as_u64().expect("id");
    assert_eq!(report(&b2, sid, id2, "other").await, 200);
    let (s, _) = moderator
        .call(
            "live/reports/decide",
            &[
                ("session_id", sid.to_string()),
                ("message_id", id2.to_string()),
                ("remove", "false".into()),
                ("mute", "false".into()),
            ],
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(chat(&a, sid, "thanks").await.0, 200);
    app.stop().await;
}
