//! The shopper flow's rules, one by one, over HTTP against the real server, on SQLite and
//! PostgreSQL: identity, reservations, invites and attribution, discount, orders, limits.

use crate::common::{
    db, demo_host, demo_session, exec, scalar, spawn, spawn_with, Backend, Client, Options, TestApp,
};
use serde_json::Value;
use shop_core::ids::ProductId;

both_databases!(
    identity_cookie_is_signed_httponly_and_lax,
    reserving_is_idempotent_and_ended_sessions_refuse,
    only_reservers_can_mint_an_invite,
    invite_attribution_rules,
    invites_expire_when_the_session_ends,
    discount_needs_invite_presentation_and_respects_limits,
    discount_cap_per_product,
    bad_orders_are_refused_and_write_nothing,
    idempotency_keys_return_the_same_order,
    my_orders_lists_full_and_discounted_prices,
    concurrent_buyers_never_oversell,
    one_shopper_racing_gets_one_discounted_unit,
    host_actions_require_the_owning_host,
    poster_preview_and_calendar,
    orders_at_a_total_the_shopper_did_not_see_are_refused,
    product_edits_during_the_session_keep_units_sold,
);

/// `crate::common::live_presenting`, with all the session's product ids.
async fn live_with_presented(app: &TestApp, product_index: usize) -> (i64, Vec<i64>, Client) {
    let (_, products) = demo_session(app).await;
    let (sid, _, host) = crate::common::live_presenting(app, product_index).await;
    (sid, products, host)
}

/// A reserved inviter and a friend who joined through the invite.
async fn inviter_and_friend(app: &TestApp, sid: i64) -> (Client, Client, String) {
    let a = Client::new(app);
    assert_eq!(a.reserve(sid).await.0, 200);
    let (s, inv) = a.create_invite(sid).await;
    assert_eq!(s, 200, "{inv}");
    let code = inv["code"].as_str().expect("code").to_string();
    let b = Client::new(app);
    let (s, v) = b.join(&code).await;
    assert_eq!(s, 200, "{v}");
    (a, b, code)
}

fn paid(order: &Value) -> i64 {
    order["paid"].as_i64().expect("paid")
}

async fn identity_cookie_is_signed_httponly_and_lax(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let res = app
        .client
        .post(app.url("/api/me"))
        .send()
        .await
        .expect("me");
    assert_eq!(res.status(), 200);
    let cookie = res.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .to_string();
    assert!(cookie.starts_with("ls_shopper=v1."), "{cookie}");
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax")
            && !cookie.contains("Secure"),
        "{cookie}"
    );
    let id = res.json::<Value>().await.expect("json")["id"].clone();

    let c = Client::new(&app);
    let first = c.me().await;
    assert_eq!(
        c.me().await["id"],
        first["id"],
        "the cookie keeps the identity"
    );
    assert_ne!(first["id"], id);

    // A forged cookie (someone else's id, our signature) is not accepted: a new shopper is made.
    let value = cookie
        .split(';')
        .next()
        .expect("pair")
        .trim_start_matches("ls_shopper=");
    let forged = value.replacen(&format!(".{}.", id), &format!(".{}.", first["id"]), 1);
    let res = app
        .client
        .post(app.url("/api/me"))
        .header("cookie", format!("ls_shopper={forged}"))
        .send()
        .await
        .expect("me");
    let who: Value = res.json().await.expect("json");
    assert_ne!(who["id"], first["id"]);

    // Nicknames: set, trimmed, validated.
    let (s, v) = c
        .call("me/nickname", &[("nickname", "  Lin  ".into())])
        .await;
    assert_eq!((s, v["nickname"].as_str()), (200, Some("Lin")));
    assert_eq!(
        c.call("me/nickname", &[("nickname", "".into())]).await.0,
        400
    );
    assert_eq!(
        c.call("me/nickname", &[("nickname", "x".repeat(30))])
            .await
            .0,
        400
    );
    app.stop().await;
}

async fn reserving_is_idempotent_and_ended_sessions_refuse(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (sid, _) = demo_session(&app).await;
    let a = Client::new(&app);
    let (s, v) = a.reserve(sid).await;
    assert_eq!(
        (s, v["reserved"].as_bool(), v["reservation_count"].as_i64()),
        (200, Some(true), Some(1))
    );
    let (s, v) = a.reserve(sid).await;
    assert_eq!(
        (s, v["reservation_count"].as_i64()),
        (200, Some(1)),
        "reserving twice is harmless"
    );
    assert_eq!(a.reserve(987_654).await.0, 404);

    let host = demo_host(&app).await;
    assert_eq!(
        host.call("studio/go_live", &[("session_id", sid.to_string())])
            .await
            .0,
        200
    );
    assert_eq!(
        host.call("studio/end", &[("session_id", sid.to_string())])
            .await
            .0,
        200
    );
    let late = Client::new(&app);
    let (s, v) = late.reserve(sid).await;
    assert_eq!(s, 409, "{v}");
    assert!(v["Conflict"].as_str().expect("message").contains("ended"));
    let d = db(&app).await;
    assert_eq!(scalar(&d, "SELECT COUNT(*) FROM reservations").await, 1);
    app.stop().await;
}

async fn only_reservers_can_mint_an_invite(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (sid, _) = demo_session(&app).await;
    let a = Client::new(&app);
    a.me().await;
    let (s, v) = a.create_invite(sid).await;
    assert_eq!(s, 403, "{v}");
    assert!(a.viewer(sid).await["invite"].is_null());
    a.reserve(sid).await;
    let (s, inv) = a.create_invite(sid).await;
    assert_eq!(s, 200);
    let code = inv["code"].as_str().expect("code");
    // 96 random bits, base64url.
    assert_eq!(code.len(), 16);
    assert!(code
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    assert!(inv["url"]
        .as_str()
        .expect("url")
        .ends_with(&format!("/i/{code}")));
    let (_, again) = a.create_invite(sid).await;
    assert_eq!(
        again["code"], inv["code"],
        "one invite per shopper per session"
    );
    // Anonymous callers have no identity to invite with.
    let anon = reqwest::Client::new()
        .post(app.url("/api/invites/create"))
        .form(&[("session_id", sid)])
        .send()
        .await
        .expect("anon");
    assert_eq!(anon.status(), 401);
    app.stop().await;
}

async fn invite_attribution_rules(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (sid, _) = demo_session(&app).await;
    let (a, friend, code_a) = inviter_and_friend(&app, sid).await;
    let a_name = a.me().await["nickname"].as_str().expect("nick").to_string();

    // No self-invite.
    let (s, v) = a.join(&code_a).await;
    assert_eq!(s, 400, "{v}");

    // The friend sees who invited them; joining twice is harmless.
    let (_, view) = friend.get(&format!("/api/invites/get?code={code_a}")).await;
    assert_eq!(view["inviter_nickname"].as_str(), Some(a_name.as_str()));
    assert_eq!(view["joined"], true);
    let (s, v) = friend.join(&code_a).await;
    assert_eq!(
        (s, v["attributed_to"].as_str()),
        (200, Some(a_name.as_str()))
    );

    // A second inviter does not take the friend over: the first one keeps the credit.
    let other = Client::new(&app);
    other.reserve(sid).await;
    let (_, inv_b) = other.create_invite(sid).await;
    let (s, v) = friend.join(inv_b["code"].as_str().expect("code")).await;
    assert_eq!(s, 200);
    assert_eq!(v["attributed_to"].as_str(), Some(a_name.as_str()));
    assert_eq!(other.viewer(sid).await["friends_joined"], 0);

    // The inviter sees the count and the unlocked discount, explained.
    let va = a.viewer(sid).await;
    assert_eq!(va["friends_joined"], 1);
    assert_eq!(va["eligible"], true);
    assert_eq!(
        va["discount_text"],
        "50% off: 1 friend joined through your invite"
    );
    let vf = friend.viewer(sid).await;
    assert_eq!(
        vf["discount_text"].as_str(),
        Some(format!("50% off: you joined through {a_name}'s invite").as_str())
    );

    // Unknown codes are 404 (and never reveal anything).
    assert_eq!(friend.join("AAAAAAAAAAAAAAAA").await.0, 404);
    assert_eq!(friend.get("/api/invites/get?code=nope").await.0, 404);
    let d = db(&app).await;
    assert_eq!(
        scalar(
            &d,
            "SELECT COUNT(*) FROM reservations WHERE invite_id IS NOT NULL"
        )
        .await,
        1
    );
    app.stop().await;
}

async fn invites_expire_when_the_session_ends(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (sid, _) = demo_session(&app).await;
    let a = Client::new(&app);
    a.reserve(sid).await;
    let (_, inv) = a.create_invite(sid).await;
    let host = demo_host(&app).await;
    host.call("studio/go_live", &[("session_id", sid.to_string())])
        .await;
    host.call("studio/end", &[("session_id", sid.to_string())])
        .await;
    let late = Client::new(&app);
    let (s, v) = late.join(inv["code"].as_str().expect("code")).await;
    assert_eq!(s, 409, "{v}");
    assert!(v["Conflict"].as_str().expect("msg").contains("expired"));
    assert_eq!(
        a.create_invite(sid).await.0,
        409,
        "no new invites for an ended session"
    );
    app.stop().await;
}

async fn discount_needs_invite_presentation_and_respects_limits(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (sid, products) = demo_session(&app).await;
    let lonely = Client::new(&app);
    lonely.reserve(sid).await;
    let (a, friend, _) = inviter_and_friend(&app, sid).await;
    let (sid2, products2, host) = live_with_presented(&app, 1).await;
    assert_eq!((sid2, &products2), (sid, &products));
    let serum = products[1]; // ¥259.00, presented
    let toner = products[0]; // ¥129.00, not presented

    // Not presented: full price even for eligible shoppers.
    let (s, o) = friend.order(sid, toner, 1, "friend-toner-1").await;
    assert_eq!((s, paid(&o)), (200, 12_900), "{o}");
    assert_eq!(
        o["lines"][0]["rule"],
        "Full price: not presented in the live session"
    );

    // Presented: the friend and the inviter get 50% on one unit each; extra units full price.
    let (_, o) = friend.order(sid, serum, 1, "friend-serum-1").await;
    assert_eq!(paid(&o), 12_950);
    assert_eq!(
        o["lines"][0]["rule"],
        "50% off: joined through a friend's invite"
    );
    let (_, o) = a.order(sid, serum, 2, "inviter-serum-2").await;
    assert_eq!(
        (paid(&o), o["discount"].as_i64()),
        (25_900 + 12_950, Some(12_950))
    );
    let (_, o) = friend.order(sid, serum, 1, "friend-serum-2").await;
    assert_eq!(
        paid(&o),
        25_900,
        "at most one discounted unit per shopper per product"
    );
    assert_eq!(
        o["lines"][0]["rule"],
        "Full price: discount already used for this product"
    );

    // Reserved but nobody joined through their invite: full price, explained.
    let (_, o) = lonely.order(sid, serum, 1, "lonely-serum-1").await;
    assert_eq!(paid(&o), 25_900);
    let v = lonely.viewer(sid).await;
    assert_eq!(v["discount_text"], "Invite 1 more friend to unlock 50% off");
    // Viewer prices come from the same rule.
    let v = a.viewer(sid).await;
    let offer = v["offers"]
        .as_array()
        .expect("offers")
        .iter()
        .find(|o| o["product_id"] == serum)
        .expect("serum")
        .clone();
    assert_eq!(
        (offer["discounted"].as_bool(), offer["your_price"].as_i64()),
        (Some(false), Some(25_900))
    );
    assert_eq!(offer["explaining_now"], true);

    // A newly presented product opens its discount.
    host.call("studio/present", &[("product_id", products[4].to_string())])
        .await;
    let v = friend.viewer(sid).await;
    let lip = v["offers"]
        .as_array()
        .expect("offers")
        .iter()
        .find(|o| o["product_id"] == products[4])
        .expect("p")
        .clone();
    assert_eq!(
        (lip["discounted"].as_bool(), lip["your_price"].as_i64()),
        (Some(true), Some(7_950))
    );

    // The ledger records rule, invite and amounts on every line.
    let d = db(&app).await;
    assert_eq!(
        scalar(
            &d,
            "SELECT COUNT(*) FROM order_lines WHERE discounted_units > 0 AND invite_id IS NOT NULL"
        )
        .await,
        2
    );
    assert_eq!(scalar(&d, "SELECT COUNT(*) FROM order_lines WHERE discounted_units = 0 AND invite_id IS NULL AND rule <> 'discount_used' AND rule <> 'not_presented'").await, 1);
    assert_eq!(
        scalar(
            &d,
            "SELECT CAST(SUM(discount_fen) AS BIGINT) FROM order_lines"
        )
        .await,
        2 * 12_950
    );
    app.stop().await;
}

async fn discount_cap_per_product(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (sid, _) = demo_session(&app).await;
    let d = db(&app).await;
    exec(&d, "UPDATE discount_policies SET units_cap = 1").await;
    let (a, friend, _) = inviter_and_friend(&app, sid).await;
    let (_, products, _) = live_with_presented(&app, 1).await;
    let (_, o1) = friend.order(sid, products[1], 1, "cap-friend-1").await;
    let (_, o2) = a.order(sid, products[1], 1, "cap-inviter-1").await;
    assert_eq!(
        (paid(&o1), paid(&o2)),
        (12_950, 25_900),
        "only one discounted unit in total"
    );
    assert_eq!(
        scalar(
            &d,
            &format!(
                "SELECT discounted_units FROM products WHERE id = {}",
                products[1]
            )
        )
        .await,
        1
    );
    app.stop().await;
}

async fn bad_orders_are_refused_and_write_nothing(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (sid, products) = demo_session(&app).await;
    let (_, friend, _) = inviter_and_friend(&app, sid).await;
    let d = db(&app).await;
    let stock_before = scalar(
        &d,
        &format!("SELECT stock FROM products WHERE id = {}", products[1]),
    )
    .await;

    // Before the session is live.
    let (s, v) = friend.order(sid, products[1], 1, "before-live-1").await;
    assert_eq!(s, 409, "{v}");
    assert!(v["Conflict"]
        .as_str()
        .expect("m")
        .contains("hasn't started"));

    live_with_presented(&app, 1).await;
    exec(
        &d,
        &format!("UPDATE products SET stock = 3 WHERE id = {}", products[2]),
    )
    .await;
    // (what, form fields changed, status expected)
    type Case<'a> = (&'a str, Vec<(&'a str, String)>, u16);
    let cases: Vec<Case> = vec![
        ("zero", vec![("quantity", "0".into())], 400),
        ("negative", vec![("quantity", "-1".into())], 400),
        ("too many at once", vec![("quantity", "100".into())], 400),
        (
            "huge",
            vec![("quantity", "99999999999999999999999".into())],
            400,
        ),
        ("not a number", vec![("quantity", "two".into())], 400),
        (
            "over the per-shopper limit",
            vec![("quantity", "6".into())],
            409,
        ),
        (
            "more than the stock",
            vec![
                ("quantity", "4".into()),
                ("product_id", products[2].to_string()),
            ],
            409,
        ),
        (
            "unknown product",
            vec![("product_id", "987654".into())],
            404,
        ),
        (
            "product of another session",
            vec![("session_id", "987654".into())],
            404,
        ),
        ("bad key", vec![("idempotency_key", "x".into())], 400),
        ("missing arguments", vec![("session_id", "".into())], 400),
    ];
    for (name, overrides, expected) in cases {
        let mut form: Vec<(&str, String)> = vec![
            ("session_id", sid.to_string()),
            ("product_id", products[1].to_string()),
            ("quantity", "1".into()),
            ("idempotency_key", format!("bad-{}", name.replace(' ', "-"))),
        ];
        for (k, v) in overrides {
            form.retain(|(fk, _)| *fk != k);
            if !v.is_empty() {
                form.push((k, v));
            }
        }
        let (s, v) = friend.call("orders/place", &form).await;
        assert_eq!(s, expected, "{name}: {v}");
        assert!(v.is_object(), "{name}: readable JSON error, got {v}");
    }
    // Fill the per-shopper limit, then one more is refused.
    assert_eq!(
        friend.order(sid, products[1], 5, "limit-fill-5").await.0,
        200
    );
    let (s, v) = friend.order(sid, products[1], 1, "limit-over-1").await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(
        scalar(&d, "SELECT COUNT(*) FROM orders").await,
        1,
        "refusals write nothing"
    );
    assert_eq!(
        scalar(
            &d,
            &format!("SELECT stock FROM products WHERE id = {}", products[1])
        )
        .await,
        stock_before - 5
    );
    assert_eq!(
        scalar(
            &d,
            &format!("SELECT stock FROM products WHERE id = {}", products[2])
        )
        .await,
        3
    );

    // After the end.
    let host = demo_host(&app).await;
    host.call("studio/end", &[("session_id", sid.to_string())])
        .await;
    let (s, v) = friend.order(sid, products[2], 1, "after-end-1").await;
    assert_eq!(s, 409, "{v}");
    // Shoppers without an identity cannot order.
    let anon = reqwest::Client::new()
        .post(app.url("/api/orders/place"))
        .form(&[
            ("session_id", sid.to_string()),
            ("product_id", products[1].to_string()),
            ("quantity", "1".into()),
            ("idempotency_key", "anon-key-1".into()),
        ])
        .send()
        .await
        .expect("anon");
    assert_eq!(anon.status(), 401);
    app.stop().await;
}

async fn idempotency_keys_return_the_same_order(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (sid, _) = demo_session(&app).await;
    let (_, friend, _) = inviter_and_friend(&app, sid).await;
    let (_, products, _) = live_with_presented(&app, 1).await;
    // A price sent by the client is ignored.
    let form = |qty: &str| {
        vec![
            ("session_id", sid.to_string()),
            ("product_id", products[1].to_string()),
            ("quantity", qty.to_string()),
            ("idempotency_key", "retry-key-0001".to_string()),
            ("price", "1".to_string()),
            ("unit_price", "1".to_string()),
        ]
    };
    let (s1, o1) = friend.call("orders/place", &form("1")).await;
    let (s2, o2) = friend.call("orders/place", &form("1")).await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(o1["id"], o2["id"], "a retry returns the same order");
    assert_eq!(paid(&o1), 12_950);
    let (s3, v) = friend.call("orders/place", &form("2")).await;
    assert_eq!(s3, 409, "same key, different payload: {v}");
    let d = db(&app).await;
    assert_eq!(scalar(&d, "SELECT COUNT(*) FROM orders").await, 1);
    // Another shopper may use the same key string: keys are per shopper.
    let other = Client::new(&app);
    other.reserve(sid).await;
    assert_eq!(other.call("orders/place", &form("1")).await.0, 200);
    app.stop().await;
}

async fn my_orders_lists_full_and_discounted_prices(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (sid, _) = demo_session(&app).await;
    let (_, friend, _) = inviter_and_friend(&app, sid).await;
    let (_, products, _) = live_with_presented(&app, 1).await;
    friend.order(sid, products[1], 2, "mine-1-aaaa").await;
    friend.order(sid, products[0], 1, "mine-2-aaaa").await;
    let (s, list) = friend.get("/api/orders/mine").await;
    assert_eq!(s, 200);
    let list = list.as_array().expect("orders");
    assert_eq!(list.len(), 2);
    assert_eq!(list[1]["full_amount"], 51_800);
    assert_eq!(list[1]["discount"], 12_950);
    assert_eq!(list[1]["paid"], 38_850);
    assert_eq!(list[1]["status"], "paid");
    assert_eq!(
        list[1]["lines"][0]["product_name"],
        "Vitamin C Brightening Serum 30ml"
    );
    assert_eq!(list[0]["discount"], 0);
    // Nobody else sees them.
    let (_, theirs) = Client::new(&app).get("/api/orders/mine").await;
    assert_eq!(theirs, serde_json::json!([]));
    app.stop().await;
}

async fn concurrent_buyers_never_oversell(b: Backend) {
    let opts = Options {
        extra: vec![("APP_RATE_LIMIT_SCALE", "1000".into())],
        ..Options::default()
    };
    let Some(app) = spawn_with(b, opts).await else {
        return;
    };
    let (sid, products) = demo_session(&app).await;
    let product = products[1];
    // An inviter whose friends are the 200 buyers: everyone is eligible for one discounted unit.
    let inviter = Client::new(&app);
    inviter.reserve(sid).await;
    let (_, inv) = inviter.create_invite(sid).await;
    let code = inv["code"].as_str().expect("code").to_string();
    let mut buyers = Vec::new();
    for _ in 0..200 {
        let c = Client::new(&app);
        assert_eq!(c.join(&code).await.0, 200);
        buyers.push(c);
    }
    live_with_presented(&app, 1).await;
    let d = db(&app).await;
    exec(
        &d,
        &format!("UPDATE products SET stock = 50 WHERE id = {product}"),
    )
    .await;

    let results = futures::future::join_all(buyers.iter().enumerate().map(|(i, c)| {
        let key = format!("race-{i:04}-key");
        async move { c.order(sid, product, 1, &key).await }
    }))
    .await;
    let ok: Vec<&Value> = results
        .iter()
        .filter(|(s, _)| *s == 200)
        .map(|(_, v)| v)
        .collect();
    let sold_out = results
        .iter()
        .filter(|(s, v)| *s == 409 && v["Conflict"] == "Sold out.")
        .count();
    assert_eq!(ok.len(), 50, "exactly the stock is sold");
    assert_eq!(
        sold_out,
        150,
        "everyone else is told it is sold out: {:?}",
        results.iter().find(|(s, _)| *s != 200 && *s != 409)
    );
    assert!(
        ok.iter().all(|o| paid(o) == 12_950),
        "each buyer got exactly one discounted unit"
    );
    assert_eq!(
        scalar(
            &d,
            &format!("SELECT stock FROM products WHERE id = {product}")
        )
        .await,
        0
    );
    assert_eq!(scalar(&d, "SELECT COUNT(*) FROM orders").await, 50);
    assert_eq!(
        scalar(
            &d,
            "SELECT COUNT(*) FROM purchase_counters WHERE discounted_units > 1"
        )
        .await,
        0
    );
    assert_eq!(
        scalar(
            &d,
            &format!("SELECT discounted_units FROM products WHERE id = {product}")
        )
        .await,
        50
    );
    app.stop().await;
}

async fn one_shopper_racing_gets_one_discounted_unit(b: Backend) {
    let opts = Options {
        extra: vec![("APP_RATE_LIMIT_SCALE", "1000".into())],
        ..Options::default()
    };
    let Some(app) = spawn_with(b, opts).await else {
        return;
    };
    let (sid, _) = demo_session(&app).await;
    let (_, friend, _) = inviter_and_friend(&app, sid).await;
    let (_, products, _) = live_with_presented(&app, 1).await;
    let product = products[1];
    let results = futures::future::join_all((0..10).map(|i| {
        let key = format!("self-race-{i:02}");
        let f = &friend;
        async move { f.order(sid, product, 1, &key).await }
    }))
    .await;
    let ok: Vec<&Value> = results
        .iter()
        .filter(|(s, _)| *s == 200)
        .map(|(_, v)| v)
        .collect();
    assert_eq!(
        ok.len(),
        5,
        "the per-shopper purchase limit holds under a race"
    );
    assert_eq!(
        ok.iter()
            .filter(|o| o["discount"].as_i64() > Some(0))
            .count(),
        1,
        "one discounted unit, not two"
    );
    app.stop().await;
}

async fn host_actions_require_the_owning_host(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (sid, products) = demo_session(&app).await;
    let d = db(&app).await;
    // Another host with an account of their own.
    let other_host_id = shop_backend::repo::catalog::create_host(&d, "Other Host")
        .await
        .expect("host");
    shop_backend::identity::host_auth::create_account(
        &d,
        other_host_id,
        "other@example.com",
        "other-password",
    )
    .await
    .expect("account");
    let other = Client::new(&app);
    other
        .sign_in_host("other@example.com", "other-password")
        .await;
    let shopper = Client::new(&app);
    shopper.me().await;
    let anon = Client::new(&app);

    let calls: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("studio/go_live", vec![("session_id", sid.to_string())]),
        (
            "studio/present",
            vec![("product_id", products[0].to_string())],
        ),
        ("studio/end", vec![("session_id", sid.to_string())]),
    ];
    for (endpoint, form) in &calls {
        assert_eq!(
            anon.call(endpoint, form).await.0,
            401,
            "{endpoint} anonymous"
        );
        assert_eq!(
            shopper.call(endpoint, form).await.0,
            403,
            "{endpoint} shopper"
        );
        assert_eq!(
            other.call(endpoint, form).await.0,
            403,
            "{endpoint} other host"
        );
    }
    assert_eq!(
        scalar(
            &d,
            "SELECT COUNT(*) FROM live_sessions WHERE status = 'scheduled'"
        )
        .await,
        1,
        "no change"
    );

    // Wrong password, then the owner: invalid transitions are refused clearly.
    let (s, _) = Client::new(&app)
        .call(
            "host/sign_in",
            &[
                ("email", "sunjing@demo.live".into()),
                ("password", "nope".into()),
            ],
        )
        .await;
    assert_eq!(s, 403);
    let host = demo_host(&app).await;
    let (s, v) = host
        .call("studio/present", &[("product_id", products[0].to_string())])
        .await;
    assert_eq!(s, 409, "present before going live: {v}");
    assert_eq!(
        host.call("studio/go_live", &[("session_id", sid.to_string())])
            .await
            .0,
        200
    );
    assert_eq!(
        host.call("studio/go_live", &[("session_id", sid.to_string())])
            .await
            .0,
        409,
        "live twice"
    );
    assert_eq!(
        host.call("studio/present", &[("product_id", "987654".into())])
            .await
            .0,
        404
    );
    assert_eq!(host.call("host/sign_out", &[]).await.0, 200);
    assert_eq!(
        host.call("studio/end", &[("session_id", sid.to_string())])
            .await
            .0,
        401,
        "signed out"
    );
    app.stop().await;
}

async fn poster_preview_and_calendar(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (sid, _) = demo_session(&app).await;
    let a = Client::new(&app);
    a.call("me/nickname", &[("nickname", "小林 <Lin>".into())])
        .await;
    a.reserve(sid).await;
    let (_, inv) = a.create_invite(sid).await;
    let code = inv["code"].as_str().expect("code");

    let png = a
        .http
        .get(format!("{}/i/{code}/poster.png", a.base))
        .send()
        .await
        .expect("poster");
    assert_eq!(png.status(), 200);
    assert_eq!(png.headers()["content-type"], "image/png");
    let bytes = png.bytes().await.expect("bytes");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(
        a.http
            .get(format!("{}/i/nope/poster.png", a.base))
            .send()
            .await
            .expect("404")
            .status(),
        404
    );

    // The invite URL carries Open Graph tags in the HTML itself, escaped.
    let html = a
        .http
        .get(format!("{}/i/{code}", a.base))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(html.contains("<meta property=\"og:title\" content=\"小林 &lt;Lin&gt; invites you: Xiaoxiaobao Mama live\">"), "{html}");
    assert!(html.contains(&format!("/i/{code}/poster.png\">")));
    assert!(!html.contains("<Lin>"));
    let missing = a
        .http
        .get(format!("{}/i/unknown-code", a.base))
        .send()
        .await
        .expect("page");
    assert_eq!(missing.status(), 404);

    let ics = a
        .http
        .get(format!("{}/s/{sid}/calendar.ics", a.base))
        .send()
        .await
        .expect("ics");
    assert_eq!(
        ics.headers()["content-type"],
        "text/calendar; charset=utf-8"
    );
    let text = ics.text().await.expect("text");
    assert!(text.contains("SUMMARY:Xiaoxiaobao Mama live\r\n"));
    assert!(text.contains(&format!("/s/{sid}")));
    app.stop().await;
}

#[tokio::test]
async fn reservations_are_rate_limited() {
    let app = spawn(Backend::Sqlite).await.expect("sqlite");
    let (sid, _) = demo_session(&app).await;
    let a = Client::new(&app);
    let mut statuses = Vec::new();
    for _ in 0..25 {
        statuses.push(a.reserve(sid).await.0);
    }
    assert!(statuses[..20].iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(statuses.last(), Some(&429));
    let (_, v) = a.reserve(sid).await;
    assert_eq!(v, serde_json::json!("RateLimited"));
    app.stop().await;
}

/// The pay sheet sends the total the shopper saw: a different server total is refused with 409
/// and the current total, nothing is written, and a retry at the new total succeeds.
async fn orders_at_a_total_the_shopper_did_not_see_are_refused(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (sid, _) = demo_session(&app).await;
    let (_, friend, _) = inviter_and_friend(&app, sid).await;
    let (_, products, _) = live_with_presented(&app, 1).await;
    let state: shop_core::model::ViewerState =
        serde_json::from_value(friend.viewer(sid).await).expect("viewer state");
    let offer = state
        .offers
        .iter()
        .find(|o| o.product_id == ProductId(products[1]))
        .expect("offer")
        .clone();
    assert_eq!(offer.discounted_units_left, 1, "{offer:?}");
    // Two units: the first at 50%, the second at full price, as the sheet shows it.
    let two = offer.total(2);
    assert_eq!(two.0, offer.price.0 * 2 - offer.discount_per_unit.0);
    let place = |key: &str, qty: i64, total: i64| {
        vec![
            ("session_id", sid.to_string()),
            ("product_id", products[1].to_string()),
            ("quantity", qty.to_string()),
            ("idempotency_key", key.to_string()),
            ("expected_total", total.to_string()),
        ]
    };
    let (s, o) = friend
        .call("orders/place", &place("seen-total-1", 2, two.0))
        .await;
    assert_eq!(s, 200, "{o}");
    assert_eq!(paid(&o), two.0);

    // The discount is used now: a sheet still showing the old prices sends the old total.
    let d = db(&app).await;
    let stock = format!("SELECT stock FROM products WHERE id = {}", products[1]);
    let (orders_before, stock_before) = (
        scalar(&d, "SELECT COUNT(*) FROM orders").await,
        scalar(&d, &stock).await,
    );
    let stale = offer.total(1).0;
    let (s, v) = friend
        .call("orders/place", &place("seen-total-2", 1, stale))
        .await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(v["PriceChanged"]["total"], offer.price.0, "{v}");
    assert_eq!(
        scalar(&d, "SELECT COUNT(*) FROM orders").await,
        orders_before
    );
    assert_eq!(scalar(&d, &stock).await, stock_before, "no unit held");
    assert_eq!(
        scalar(&d, "SELECT COUNT(*) FROM order_lines").await,
        orders_before,
        "no ledger line"
    );
    // The same attempt (same key) at the total the server named goes through.
    let (s, o) = friend
        .call("orders/place", &place("seen-total-2", 1, offer.price.0))
        .await;
    assert_eq!(s, 200, "{o}");
    assert_eq!(paid(&o), offer.price.0);
    // Clients that send no total keep working (the server prices the order as always).
    let (s, _) = friend.order(sid, products[1], 1, "no-total-sent-1").await;
    assert_eq!(s, 200);
    app.stop().await;
}

/// A host editing a product during the session changes the stock by what they typed, not to
/// the figure their form was opened with: units sold meanwhile stay sold.
async fn product_edits_during_the_session_keep_units_sold(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (sid, products, host) = live_with_presented(&app, 0).await;
    let d = db(&app).await;
    let stock = format!("SELECT stock FROM products WHERE id = {}", products[0]);
    let opened_with = scalar(&d, &stock).await;
    let buyer = Client::new(&app);
    buyer.reserve(sid).await;
    assert_eq!(buyer.order(sid, products[0], 3, "edit-race-1").await.0, 200);
    let form = |stock: i64, was: Option<i64>| {
        serde_json::json!({
            "product_id": products[0],
            "form": {
                "name": "Renamed while live", "description": "", "category": "Skincare",
                "price": "129.00", "stock": stock, "reason": "typo", "stock_was": was,
            }
        })
    };
    // The host adds 10 to the stock the form showed.
    let (s, v) = host
        .call_json(
            "studio/product/update",
            form(opened_with + 10, Some(opened_with)),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(scalar(&d, &stock).await, opened_with - 3 + 10);
    // Taking away more than is left stops at zero.
    let (s, _) = host
        .call_json("studio/product/update", form(0, Some(opened_with + 1000)))
        .await;
    assert_eq!(s, 200);
    assert_eq!(scalar(&d, &stock).await, 0);
    // An older client without `stock_was` sets the stock outright.
    let (s, _) = host
        .call_json("studio/product/update", form(42, None))
        .await;
    assert_eq!(s, 200);
    assert_eq!(scalar(&d, &stock).await, 42);
    let (s, _) = host
        .call_json("studio/product/update", form(1, Some(-5)))
        .await;
    assert_eq!(s, 400, "a negative stock_was is malformed");
    app.stop().await;
}
