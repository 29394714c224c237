//! Verified mobile numbers against the real server, on SQLite and PostgreSQL: codes (hashed,
//! expiring, five tries, rate-limited), the discount that needs verified numbers (fresh cookie
//! identities and mutual invites farm nothing), signing back in by number, and the webhook
//! sender's signed request.

use crate::common::{
    db, demo_host, exec, scalar, spawn, spawn_with, Backend, Client, Options, TestApp,
};
use serde_json::{json, Value};

both_databases!(
    codes_verify_a_number_and_refuse_guessing,
    fresh_identities_cannot_farm_the_discount,
    a_mutual_invite_ring_unlocks_nothing,
    a_verified_number_signs_back_in_on_a_new_browser,
    an_invite_made_before_signing_in_is_not_one_more,
);

const N1: &str = "138 0013 8001";
const N2: &str = "+86 139 0013 9002";

async fn send_code(c: &Client, phone: &str) -> (u16, Value) {
    c.call(
        "phone/send_code",
        &[("phone", phone.into()), ("locale", "zh-CN".into())],
    )
    .await
}

async fn verify(c: &Client, phone: &str, code: &str) -> (u16, Value) {
    c.call(
        "phone/verify",
        &[("phone", phone.into()), ("code", code.into())],
    )
    .await
}

/// Sends a code (the log sender shows it) and verifies it.
async fn verify_number(c: &Client, phone: &str) -> Value {
    let (s, sent) = send_code(c, phone).await;
    assert_eq!(s, 200, "{sent}");
    let code = sent["dev_code"]
        .as_str()
        .expect("log sender shows the code");
    let (s, v) = verify(c, phone, code).await;
    assert_eq!(s, 200, "{v}");
    v
}

async fn codes_verify_a_number_and_refuse_guessing(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let c = Client::new(&app);
    // Malformed numbers and codes are 400.
    for bad in ["", "12345", "+86 128 0000 0000", "call me"] {
        assert_eq!(send_code(&c, bad).await.0, 400, "{bad:?}");
    }
    let (s, sent) = send_code(&c, N1).await;
    assert_eq!(s, 200, "{sent}");
    assert_eq!(sent["masked"], "+86 138****8001");
    assert_eq!(sent["expires_in_s"], 300);
    let code = sent["dev_code"].as_str().expect("code").to_string();
    assert_eq!(code.len(), 6);
    assert_eq!(verify(&c, N1, "12ab56").await.0, 400);
    // Stored only as a keyed hash.
    let d = db(&app).await;
    let stored: String = sqlx::query_scalar("SELECT code_hash FROM phone_codes")
        .fetch_one(d.pool())
        .await
        .expect("code row");
    assert!(!stored.contains(&code));
    // Five wrong tries, then even the right code is refused.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for left in (0..5).rev() {
        let (s, v) = verify(&c, N1, wrong).await;
        assert_eq!(s, 400, "{v}");
        assert!(
            v["BadRequest"]
                .as_str()
                .expect("msg")
                .contains(&format!("{left} tries left")),
            "{v}"
        );
    }
    let (s, v) = verify(&c, N1, &code).await;
    assert_eq!(s, 409, "locked: {v}");
    // A new code works; it is used up by a success.
    let (s, sent) = send_code(&c, N1).await;
    assert_eq!(s, 200);
    let code = sent["dev_code"].as_str().expect("code").to_string();
    let (s, v) = verify(&c, N1, &code).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["masked"], "+86 138****8001");
    assert_eq!(v["signed_in"], false);
    assert_eq!(verify(&c, N1, &code).await.0, 409, "a code works once");
    // A third code within ten minutes is the last: the fourth is refused.
    assert_eq!(send_code(&c, N1).await.0, 200);
    assert_eq!(
        send_code(&c, N1).await.0,
        429,
        "three codes per number per 10 minutes"
    );
    // An expired code is refused.
    let other = Client::new(&app);
    let (_, sent) = send_code(&other, N2).await;
    let code = sent["dev_code"].as_str().expect("code").to_string();
    exec(&d, "UPDATE phone_codes SET expires_at_ms = 1").await;
    assert_eq!(verify(&other, N2, &code).await.0, 409, "expired");
    app.stop().await;
}

/// A live session whose discount needs verified numbers, with a product presented.
async fn verified_session(app: &TestApp) -> (i64, i64, Client) {
    let host = demo_host(app).await;
    let (s, sid) = host
        .call_json(
            "studio/session/create",
            json!({ "form": {
                "title": "Verified only", "description": "", "scheduled_start_ms": now_ms() + 3_600_000,
                "policy": { "percent_off": 50, "friends_needed": 1, "units_per_shopper": 1, "units_cap": null,
                            "purchase_limit": 5, "verified_phone_required": true }
            }}),
        )
        .await;
    assert_eq!(s, 200, "{sid}");
    let sid = sid.as_i64().expect("id");
    let (s, pid) = host
        .call_json(
            "studio/product/add",
            json!({ "session_id": sid, "form": { "name": "Serum", "description": "", "category": "Skincare",
                     "price": "100.00", "stock": 50, "reason": null } }),
        )
        .await;
    assert_eq!(s, 200, "{pid}");
    (sid, pid.as_i64().expect("product id"), host)
}

async fn go_live_and_present(host: &Client, sid: i64, pid: i64) {
    assert_eq!(
        host.call("studio/go_live", &[("session_id", sid.to_string())])
            .await
            .0,
        200
    );
    assert_eq!(
        host.call("studio/present", &[("product_id", pid.to_string())])
            .await
            .0,
        200
    );
}

async fn fresh_identities_cannot_farm_the_discount(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (sid, pid, host) = verified_session(&app).await;
    let a = Client::new(&app);
    assert_eq!(a.reserve(sid).await.0, 200);
    let v = a.viewer(sid).await;
    assert_eq!(v["phone_required"], true);
    assert_eq!(
        v["discount_text"],
        "Verify your mobile number to unlock 50% off"
    );
    verify_number(&a, N1).await;
    let (_, inv) = a.create_invite(sid).await;
    let code = inv["code"].as_str().expect("code").to_string();

    // The same person with cleared cookies: a new identity joins their own invite.
    let fresh = Client::new(&app);
    let (s, _) = fresh.join(&code).await;
    assert_eq!(s, 200);
    let vf = fresh.viewer(sid).await;
    assert_eq!(
        vf["eligible"], false,
        "an unverified friend gets nothing: {vf}"
    );
    let va = a.viewer(sid).await;
    assert_eq!(
        (va["friends_joined"].clone(), va["friends_waiting"].clone()),
        (json!(0), json!(1)),
        "an unverified friend is said apart, not counted: {va}"
    );
    assert_eq!(
        va["eligible"], false,
        "an unverified friend unlocks nothing: {va}"
    );
    // Verifying with the inviter's own number makes them the inviter again, not a friend.
    let v = verify_number(&fresh, N1).await;
    assert_eq!(v["signed_in"], true);
    assert_eq!(v["me"]["id"], a.me().await["id"]);
    let va = a.viewer(sid).await;
    assert_eq!(va["eligible"], false, "{va}");
    assert_eq!(
        (va["friends_joined"].clone(), va["friends_waiting"].clone()),
        (json!(0), json!(0)),
        "the fresh identity's join went away with it: {va}"
    );

    go_live_and_present(&host, sid, pid).await;
    let (s, o) = a.order(sid, pid, 1, "farm-attempt-1").await;
    assert_eq!(s, 200, "{o}");
    assert_eq!(o["paid"], 10_000, "full price");

    // A real friend with their own verified number unlocks it for both.
    let friend = Client::new(&app);
    assert_eq!(friend.join(&code).await.0, 200);
    assert_eq!(friend.viewer(sid).await["eligible"], false);
    assert_eq!(a.viewer(sid).await["friends_waiting"], 1);
    verify_number(&friend, N2).await;
    assert_eq!(friend.viewer(sid).await["eligible"], true);
    let va = a.viewer(sid).await;
    assert_eq!(
        (
            va["eligible"].clone(),
            va["friends_joined"].clone(),
            va["friends_waiting"].clone()
        ),
        (json!(true), json!(1), json!(0)),
        "{va}"
    );
    let (s, o) = friend.order(sid, pid, 1, "real-friend-1").await;
    assert_eq!((s, o["paid"].clone()), (200, json!(5_000)));
    let (s, o) = a.order(sid, pid, 1, "inviter-after-friend-1").await;
    assert_eq!((s, o["paid"].clone()), (200, json!(5_000)));
    app.stop().await;
}

async fn a_mutual_invite_ring_unlocks_nothing(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (sid, _) = crate::common::demo_session(&app).await;
    let (a, c) = (Client::new(&app), Client::new(&app));
    for x in [&a, &c] {
        assert_eq!(x.reserve(sid).await.0, 200);
    }
    let (_, inv_a) = a.create_invite(sid).await;
    let (_, inv_c) = c.create_invite(sid).await;
    // Both had reserved already: joining each other's invites makes nobody a new friend.
    let (s, v) = a.join(inv_c["code"].as_str().expect("code")).await;
    assert_eq!(s, 200);
    assert!(
        v["message"]
            .as_str()
            .expect("msg")
            .contains("doesn't count"),
        "{v}"
    );
    assert_eq!(c.join(inv_a["code"].as_str().expect("code")).await.0, 200);
    for x in [&a, &c] {
        let v = x.viewer(sid).await;
        assert_eq!(
            (v["friends_joined"].clone(), v["eligible"].clone()),
            (json!(0), json!(false)),
            "{v}"
        );
    }
    let d = db(&app).await;
    assert_eq!(
        scalar(
            &d,
            "SELECT COUNT(*) FROM reservations WHERE invite_id IS NOT NULL"
        )
        .await,
        0
    );
    app.stop().await;
}

async fn a_verified_number_signs_back_in_on_a_new_browser(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (sid, pid, host) = verified_session(&app).await;
    let a = Client::new(&app);
    a.reserve(sid).await;
    verify_number(&a, N1).await;
    let (_, inv) = a.create_invite(sid).await;
    go_live_and_present(&host, sid, pid).await;
    assert_eq!(a.order(sid, pid, 2, "before-new-phone").await.0, 200);
    let a_id = a.me().await["id"].clone();

    // A new phone: anonymous at first, reserves, buys one unit, then verifies the number.
    let phone2 = Client::new(&app);
    assert_eq!(phone2.reserve(sid).await.0, 200);
    assert_eq!(phone2.order(sid, pid, 1, "on-new-phone").await.0, 200);
    assert_ne!(phone2.me().await["id"], a_id);
    let v = verify_number(&phone2, N1).await;
    assert_eq!(v["signed_in"], true);
    assert_eq!(
        phone2.me().await["id"],
        a_id,
        "the cookie now names the first shopper"
    );
    // Orders, invite and reservation follow the number; the counters were added up.
    let (_, orders) = phone2.get("/api/orders/mine").await;
    assert_eq!(orders.as_array().expect("orders").len(), 2, "{orders}");
    let v = phone2.viewer(sid).await;
    assert_eq!(v["reserved"], true);
    assert_eq!(v["invite"]["code"], inv["code"]);
    assert_eq!(v["phone"], "+86 138****8001");
    let bought = v["offers"].as_array().expect("offers")[0]["bought_units"].clone();
    assert_eq!(bought, 3);
    app.stop().await;
}

/// A browser reserves and makes an invite, a friend joins through it, then the browser turns
/// out to be a shopper with an invite of their own: the friend counts for that shopper, and
/// the studio counts one invite, not two.
async fn an_invite_made_before_signing_in_is_not_one_more(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (sid, _pid, host) = verified_session(&app).await;
    let a = Client::new(&app);
    a.reserve(sid).await;
    verify_number(&a, N1).await;
    let (_, inv_a) = a.create_invite(sid).await;

    let phone2 = Client::new(&app);
    assert_eq!(phone2.reserve(sid).await.0, 200);
    let (_, inv2) = phone2.create_invite(sid).await;
    let friend = Client::new(&app);
    assert_eq!(
        friend.join(inv2["code"].as_str().expect("code")).await.0,
        200
    );
    verify_number(&friend, N2).await;
    assert_eq!(dashboard(&host, sid).await["invites_created"], 2);

    assert_eq!(verify_number(&phone2, N1).await["signed_in"], true);
    let va = a.viewer(sid).await;
    assert_eq!(
        va["invite"]["code"], inv_a["code"],
        "the shopper keeps their invite"
    );
    assert_eq!(
        (va["friends_joined"].clone(), va["eligible"].clone()),
        (json!(1), json!(true)),
        "the friend who joined through the browser's invite counts for the shopper: {va}"
    );
    let d = dashboard(&host, sid).await;
    assert_eq!(
        (
            d["invites_created"].clone(),
            d["friends_joined"].clone(),
            d["reservations"].clone()
        ),
        (json!(1), json!(1), json!(2)),
        "{d}"
    );
    app.stop().await;
}

async fn dashboard(host: &Client, sid: i64) -> Value {
    let (s, d) = host
        .get(&format!("/api/studio/dashboard?session_id={sid}"))
        .await;
    assert_eq!(s, 200, "{d}");
    d
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

// ---- The webhook sender ----

/// HMAC-SHA256 written out from its definition (RFC 2104), so the test does not trust the
/// server's own helper.
fn hmac_sha256_hex(key: &[u8], msg: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let pad = |b: u8| k.iter().map(|x| x ^ b).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(msg)
        .finalize();
    let outer = Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize();
    outer.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_sender_posts_a_signed_code() {
    use std::sync::{Arc, Mutex};
    // A stand-in SMS gateway: records what it receives.
    let received: Arc<Mutex<Vec<(axum::http::HeaderMap, String)>>> = Arc::default();
    let seen = received.clone();
    let gateway = axum::Router::new().route(
        "/sms",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let seen = seen.clone();
            async move {
                seen.lock().expect("lock").push((headers, body));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let gateway_addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, gateway).await });

    let secret = "webhook-secret-for-tests";
    let Some(app) = spawn_with(
        Backend::Sqlite,
        Options {
            extra: vec![
                ("APP_SMS_SENDER", "webhook".into()),
                ("APP_SMS_WEBHOOK_URL", format!("http://{gateway_addr}/sms")),
                ("APP_SMS_WEBHOOK_SECRET", secret.into()),
            ],
            ..Options::default()
        },
    )
    .await
    else {
        return;
    };
    let c = Client::new(&app);
    let (s, sent) = send_code(&c, N2).await;
    assert_eq!(s, 200, "{sent}");
    assert!(
        sent["dev_code"].is_null(),
        "a real sender never shows the code: {sent}"
    );
    let (headers, body) = received
        .lock()
        .expect("lock")
        .pop()
        .expect("the gateway got a request");
    let payload: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(payload["phone"], "+8613900139002");
    assert_eq!(payload["locale"], "zh-CN");
    let code = payload["code"].as_str().expect("code").to_string();
    assert!(code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()));
    let ts = headers["x-live-timestamp"].to_str().expect("ts");
    let expected = format!(
        "sha256={}",
        hmac_sha256_hex(secret.as_bytes(), format!("{ts}.{body}").as_bytes())
    );
    assert_eq!(headers["x-live-signature"].to_str().expect("sig"), expected);
    // The code the gateway delivered verifies the number.
    let (s, v) = verify(&c, N2, &code).await;
    assert_eq!(s, 200, "{v}");
    app.stop().await;
}
