//! Live coupons over the real API, on both databases: who may drop them, what a drop must
//! look like, a quota that is never passed under a rush and one claim per shopper (also after
//! a restart, which rebuilds the gate from the database), expiry and withdrawal, and the
//! coupon at checkout: after the invite discount exactly as `domain::coupon` says, used once,
//! given back by an order released unpaid.

use std::time::Duration;

use serde_json::{json, Value};
use shop_core::{
    domain::{
        coupon::{apply, CouponOutcome, CouponTerms, CouponValue},
        discount::discount_per_unit,
    },
    money::Fen,
};

use crate::common::{
    db, demo_host, demo_session, exec, live_with_invited_friends, scalar, spawn_with, Backend,
    Client, Options, TestApp,
};

both_databases!(
    only_producers_and_owners_drop_coupons,
    a_drop_is_validated,
    a_rush_never_passes_the_quota_and_each_shopper_claims_once,
    expired_and_withdrawn_coupons_are_not_claimed_or_used,
    the_coupon_applies_after_the_invite_discount_and_is_used_once,
);

fn opts() -> Options {
    Options {
        extra: vec![("APP_RATE_LIMIT_SCALE", "1000".into())],
        ..Options::default()
    }
}

fn amount(off_fen: i64, min_fen: i64, quota: i64, minutes: i64) -> Value {
    json!({ "percent": false, "value": off_fen, "min_spend_fen": min_fen, "quota": quota, "minutes": minutes })
}

async fn drop_coupon(c: &Client, sid: i64, form: Value) -> (u16, Value) {
    c.call_json(
        "studio/coupons/drop",
        json!({ "session_id": sid, "form": form }),
    )
    .await
}

async fn claim(c: &Client, sid: i64, coupon: i64) -> (u16, Value) {
    c.call(
        "live/coupons/claim",
        &[
            ("session_id", sid.to_string()),
            ("coupon_id", coupon.to_string()),
        ],
    )
    .await
}

async fn live(app: &TestApp) -> (i64, Client) {
    let (sid, _) = demo_session(app).await;
    let host = demo_host(app).await;
    let (s, v) = host
        .call("studio/go_live", &[("session_id", sid.to_string())])
        .await;
    assert_eq!(s, 200, "{v}");
    (sid, host)
}

/// A co-worker of the demo host's shop with `role`, signed in.
async fn member(app: &TestApp, sid: i64, role: &str) -> Client {
    let c = Client::new(app);
    let email = format!("{role}@example.com");
    c.sign_up_host(role, &email).await;
    let d = db(app).await;
    let host = scalar(
        &d,
        &format!("SELECT host_id FROM live_sessions WHERE id = {sid}"),
    )
    .await;
    let account = scalar(
        &d,
        &format!("SELECT id FROM host_accounts WHERE email = '{email}'"),
    )
    .await;
    exec(
        &d,
        &format!(
            "INSERT INTO team_members (account_id, host_id, role, invited_by, joined_at_ms)
             VALUES ({account}, {host}, '{role}', 0, 0)"
        ),
    )
    .await;
    c
}

async fn only_producers_and_owners_drop_coupons(b: Backend) {
    let Some(app) = spawn_with(b, opts()).await else {
        return;
    };
    let (sid, owner) = live(&app).await;
    let form = amount(500, 0, 10, 10);
    let anonymous = Client::new(&app);
    assert_eq!(drop_coupon(&anonymous, sid, form.clone()).await.0, 401);
    let shopper = Client::new(&app);
    shopper.me().await;
    assert_eq!(drop_coupon(&shopper, sid, form.clone()).await.0, 403);
    for role in ["moderator", "analyst"] {
        let c = member(&app, sid, role).await;
        let (s, v) = drop_coupon(&c, sid, form.clone()).await;
        assert_eq!(s, 403, "{role}: {v}");
        let (s, _) = c
            .get(&format!("/api/studio/coupons?session_id={sid}"))
            .await;
        assert_eq!(s, 403, "{role} lists");
    }
    let producer = member(&app, sid, "producer").await;
    let (s, v) = drop_coupon(&producer, sid, form.clone()).await;
    assert_eq!(s, 200, "{v}");
    let id = v["id"].as_i64().expect("id");
    let (s, v) = drop_coupon(&owner, sid, form).await;
    assert_eq!(s, 200, "{v}");
    // Another shop's host may not touch it.
    let other = Client::new(&app);
    other.sign_up_host("Other", "other@example.com").await;
    assert_eq!(drop_coupon(&other, sid, amount(1, 0, 1, 1)).await.0, 403);
    let (s, _) = other
        .call(
            "studio/coupons/withdraw",
            &[
                ("session_id", sid.to_string()),
                ("coupon_id", id.to_string()),
            ],
        )
        .await;
    assert_eq!(s, 403);
    let (s, list) = producer
        .get(&format!("/api/studio/coupons?session_id={sid}"))
        .await;
    assert_eq!(s, 200);
    assert_eq!(list.as_array().map(Vec::len), Some(2), "{list}");
    app.stop().await;
}

async fn a_drop_is_validated(b: Backend) {
    let Some(app) = spawn_with(b, opts()).await else {
        return;
    };
    let (sid, _) = demo_session(&app).await;
    let host = demo_host(&app).await;
    // Not live yet: a conflict.
    let (s, v) = drop_coupon(&host, sid, amount(500, 0, 10, 10)).await;
    assert_eq!(s, 409, "{v}");
    let (s, v) = host
        .call("studio/go_live", &[("session_id", sid.to_string())])
        .await;
    assert_eq!(s, 200, "{v}");
    for bad in [
        amount(0, 0, 10, 10),
        amount(500, -1, 10, 10),
        amount(500, 0, 0, 10),
        amount(500, 0, 1_000_001, 10),
        amount(500, 0, 10, 0),
        amount(500, 0, 10, 1441),
        amount(10_000_001, 0, 10, 10),
        json!({ "percent": true, "value": 100, "min_spend_fen": 0, "quota": 1, "minutes": 1 }),
        json!({ "percent": true, "value": 0, "min_spend_fen": 0, "quota": 1, "minutes": 1 }),
        json!({ "percent": "yes" }),
    ] {
        let (s, v) = drop_coupon(&host, sid, bad.clone()).await;
        assert_eq!(s, 400, "{bad}: {v}");
    }
    assert_eq!(
        drop_coupon(&host, sid, amount(500, 0, 1_000_000, 1440))
            .await
            .0,
        200
    );
    // Unknown session and unknown coupon.
    assert_eq!(
        drop_coupon(&host, 999_999, amount(500, 0, 1, 1)).await.0,
        404
    );
    let shopper = Client::new(&app);
    shopper.me().await;
    assert_eq!(claim(&shopper, sid, 999_999).await.0, 404);
    let anonymous = Client::new(&app);
    assert_eq!(claim(&anonymous, sid, 1).await.0, 401);
    let (s, _) = shopper
        .call(
            "live/coupons/claim",
            &[("session_id", sid.to_string()), ("coupon_id", "x".into())],
        )
        .await;
    assert_eq!(s, 400);
    app.stop().await;
}

async fn a_rush_never_passes_the_quota_and_each_shopper_claims_once(b: Backend) {
    let Some(app) = spawn_with(b, opts()).await else {
        return;
    };
    let (sid, host) = live(&app).await;
    let (s, v) = drop_coupon(&host, sid, amount(1_000, 0, 7, 30)).await;
    assert_eq!(s, 200, "{v}");
    let coupon = v["id"].as_i64().expect("id");
    let mut shoppers = Vec::new();
    for _ in 0..40 {
        let c = Client::new(&app);
        c.me().await;
        shoppers.push(c);
    }
    // Everyone at once, each with a double tap.
    let answers =
        futures::future::join_all(shoppers.iter().enumerate().flat_map(|(i, c)| {
            [0, 1].map(move |_| async move { (i, claim(c, sid, coupon).await) })
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
    assert_eq!(winners.len(), 7);
    let d = db(&app).await;
    let count = format!("SELECT COUNT(*) FROM coupon_claims WHERE coupon_id = {coupon}");
    assert_eq!(scalar(&d, &count).await, 7);
    assert_eq!(
        scalar(
            &d,
            &format!("SELECT claimed FROM coupons WHERE id = {coupon}")
        )
        .await,
        7
    );
    let winner = *winners.first().expect("a winner");
    let loser = (0..40).find(|i| !winners.contains(i)).expect("a loser");
    // The viewer sees it as theirs.
    let (_, mine) = shoppers[winner]
        .get(&format!("/api/live/coupons?session_id={sid}"))
        .await;
    assert_eq!(mine[0]["mine"], "claimed", "{mine}");

    // A restart rebuilds the gate from the database: still 7, still once each.
    let app = app.restart(opts()).await;
    // The same browsers (their cookies), to the restarted server.
    let again = |i: usize| Client {
        http: shoppers[i].http.clone(),
        base: format!("http://{}", app.addr),
    };
    let (s, v) = claim(&again(winner), sid, coupon).await;
    assert_eq!((s, v.as_str()), (200, Some("already_claimed")));
    let (s, v) = claim(&again(loser), sid, coupon).await;
    assert_eq!((s, v.as_str()), (200, Some("all_gone")));
    let fresh = Client::new(&app);
    fresh.me().await;
    assert_eq!(
        claim(&fresh, sid, coupon).await.1.as_str(),
        Some("all_gone")
    );
    let d = db(&app).await;
    assert_eq!(scalar(&d, &count).await, 7);
    app.stop().await;
}

async fn expired_and_withdrawn_coupons_are_not_claimed_or_used(b: Backend) {
    let Some(app) = spawn_with(b, opts()).await else {
        return;
    };
    let (sid, host) = live(&app).await;
    let (_, v) = drop_coupon(&host, sid, amount(500, 0, 10, 5)).await;
    let expiring = v["id"].as_i64().expect("id");
    let (_, v) = drop_coupon(&host, sid, amount(500, 0, 10, 5)).await;
    let withdrawn = v["id"].as_i64().expect("id");
    let shopper = Client::new(&app);
    shopper.me().await;
    assert_eq!(
        claim(&shopper, sid, withdrawn).await.1.as_str(),
        Some("claimed")
    );

    let d = db(&app).await;
    exec(
        &d,
        &format!("UPDATE coupons SET expires_at_ms = 1 WHERE id = {expiring}"),
    )
    .await;
    // A node trusts its copy of the session's coupons for a second.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(
        claim(&shopper, sid, expiring).await.1.as_str(),
        Some("expired")
    );

    let withdraw = |id: i64| {
        let host = &host;
        async move {
            host.call(
                "studio/coupons/withdraw",
                &[
                    ("session_id", sid.to_string()),
                    ("coupon_id", id.to_string()),
                ],
            )
            .await
        }
    };
    assert_eq!(withdraw(withdrawn).await.0, 200);
    assert_eq!(withdraw(withdrawn).await.0, 409);
    assert_eq!(withdraw(999_999).await.0, 404);
    let other = Client::new(&app);
    other.me().await;
    assert_eq!(
        claim(&other, sid, withdrawn).await.1.as_str(),
        Some("expired")
    );
    // The studio lists both, with their counts; the room shows neither to a new viewer.
    let (_, list) = host
        .get(&format!("/api/studio/coupons?session_id={sid}"))
        .await;
    let w = list
        .as_array()
        .expect("list")
        .iter()
        .find(|c| c["coupon"]["id"] == withdrawn)
        .expect("listed");
    assert_eq!(
        (w["claimed"].as_i64(), w["coupon"]["withdrawn"].as_bool()),
        (Some(1), Some(true))
    );
    let (_, room) = other
        .get(&format!("/api/live/coupons?session_id={sid}"))
        .await;
    assert_eq!(room, json!([]));
    // A withdrawn coupon no longer applies at checkout.
    let (_, products) = demo_session(&app).await;
    let (s, o) = shopper.order(sid, products[0], 1, "after-withdrawal").await;
    assert_eq!(s, 200, "{o}");
    assert!(o.get("coupon").is_none(), "{o}");
    app.stop().await;
}

async fn the_coupon_applies_after_the_invite_discount_and_is_used_once(b: Backend) {
    let Some(app) = spawn_with(b, opts()).await else {
        return;
    };
    let (sid, products, host, friends) = live_with_invited_friends(&app, 2).await;
    let product = products[1];
    let (s, v) = host
        .call("studio/present", &[("product_id", product.to_string())])
        .await;
    assert_eq!(s, 200, "{v}");
    // ¥20 off from ¥100 spent, and 10% off: the best applies.
    let (_, v) = drop_coupon(&host, sid, amount(2_000, 10_000, 100, 30)).await;
    let twenty = v["id"].as_i64().expect("id");
    let ten_pct =
        json!({ "percent": true, "value": 10, "min_spend_fen": 0, "quota": 100, "minutes": 30 });
    let (_, v) = drop_coupon(&host, sid, ten_pct).await;
    let percent = v["id"].as_i64().expect("id");
    let buyer = &friends[0];
    assert_eq!(claim(buyer, sid, twenty).await.1.as_str(), Some("claimed"));

    // ¥259.00 at the invite's 50%: ¥129.50, then ¥20 off: ¥109.50.
    let price = Fen(25_900);
    let after_invite = Fen(price.0 - discount_per_unit(price, 50).0);
    let terms = CouponTerms::new(CouponValue::AmountOff(Fen(2_000)), Fen(10_000)).expect("terms");
    let CouponOutcome::Applied { off, paid } = apply(&terms, after_invite) else {
        panic!("applies");
    };
    let (s, o) = buyer.order(sid, product, 1, "with-coupon").await;
    assert_eq!(s, 200, "{o}");
    assert_eq!(
        (o["paid"].as_i64(), o["coupon"].as_i64()),
        (Some(paid.0), Some(off.0)),
        "{o}"
    );
    assert_eq!(o["discount"], 12_950, "{o}");
    assert_eq!(paid, Fen(10_950));
    let d = db(&app).await;
    let order_id = o["id"].as_i64().expect("id");
    assert_eq!(
        scalar(
            &d,
            &format!("SELECT coupon_fen FROM orders WHERE id = {order_id}")
        )
        .await,
        2_000
    );
    assert_eq!(
        scalar(
            &d,
            &format!("SELECT coupon_id FROM orders WHERE id = {order_id}")
        )
        .await,
        twenty
    );
    // Used once: the next order pays the invite price (the discounted unit is used too).
    let (s, o) = buyer.order(sid, product, 1, "second-order").await;
    assert_eq!(s, 200, "{o}");
    assert!(o.get("coupon").is_none(), "{o}");
    // The studio counts it used; the buyer's room says so.
    let (_, list) = host
        .get(&format!("/api/studio/coupons?session_id={sid}"))
        .await;
    let row = list
        .as_array()
        .expect("list")
        .iter()
        .find(|c| c["coupon"]["id"] == twenty)
        .expect("listed")
        .clone();
    assert_eq!(
        (row["claimed"].as_i64(), row["used"].as_i64()),
        (Some(1), Some(1))
    );
    let (_, mine) = buyer
        .get(&format!("/api/live/coupons?session_id={sid}"))
        .await;
    let used = mine
        .as_array()
        .expect("mine")
        .iter()
        .find(|c| c["id"] == twenty)
        .cloned();
    assert_eq!(used.map(|c| c["mine"].clone()), Some(json!("used")));

    // A percentage coupon, on a second friend: 10% of ¥129.50 = ¥12.95 (rounded down).
    let second = &friends[1];
    assert_eq!(
        claim(second, sid, percent).await.1.as_str(),
        Some("claimed")
    );
    let (s, o) = second
        .call(
            "orders/place",
            &[
                ("session_id", sid.to_string()),
                ("product_id", product.to_string()),
                ("quantity", "1".into()),
                ("idempotency_key", "pct-order".into()),
                ("expected_total", "11655".into()),
            ],
        )
        .await;
    assert_eq!(s, 200, "{o}");
    assert_eq!(
        (o["paid"].as_i64(), o["coupon"].as_i64()),
        (Some(11_655), Some(1_295)),
        "{o}"
    );
    // An order released unpaid gives its coupon back (a refunded one would not).
    let oid = o["id"].as_i64().expect("id");
    exec(
        &d,
        &format!("UPDATE orders SET status = 'pending_payment' WHERE id = {oid}"),
    )
    .await;
    let released = shop_backend::repo::orders::release_order(&d, shop_core::ids::OrderId(oid))
        .await
        .expect("release");
    assert!(released.is_some());
    assert_eq!(
        scalar(&d, &format!("SELECT COUNT(*) FROM coupon_claims WHERE coupon_id = {percent} AND order_id IS NULL")).await,
        1
    );
    app.stop().await;
}
