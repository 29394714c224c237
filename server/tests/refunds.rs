//! A host refunds a paid order through the payment provider (the demo provider here; WeChat
//! Pay in `wechat_checkout.rs`). The rule: a refund gives back everything the order took, its
//! units to stock (nothing is shipped yet) and its discounted unit to the shopper's allowance
//! and the product's discount count, so the shopper may buy that product at the discount
//! again while the session offers it. One refund per order.

mod common;

use common::*;
use serde_json::Value;

both_databases!(a_refund_gives_back_the_units_and_the_discount_and_shows_in_the_dashboard);

async fn stock_of(app: &TestApp, product: i64) -> i64 {
    scalar(
        &db(app).await,
        &format!("SELECT stock FROM products WHERE id = {product}"),
    )
    .await
}

async fn dashboard(host: &Client, sid: i64) -> Value {
    let (s, v) = host
        .get(&format!("/api/studio/dashboard?session_id={sid}"))
        .await;
    assert_eq!(s, 200, "{v}");
    v
}

async fn a_refund_gives_back_the_units_and_the_discount_and_shows_in_the_dashboard(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (sid, products) = demo_session(&app).await;
    let product = products[1];
    let host = demo_host(&app).await;
    assert_eq!(
        host.call("studio/go_live", &[("session_id", sid.to_string())])
            .await
            .0,
        200
    );
    assert_eq!(
        host.call("studio/present", &[("product_id", product.to_string())])
            .await
            .0,
        200
    );
    // A friend who joined through an invite: one discounted unit per product.
    let inviter = Client::new(&app);
    assert_eq!(inviter.reserve(sid).await.0, 200);
    let (_, invite) = inviter.create_invite(sid).await;
    let buyer = Client::new(&app);
    assert_eq!(buyer.join(invite["code"].as_str().unwrap()).await.0, 200);
    let stock_before = stock_of(&app, product).await;

    let (s, order) = buyer.order(sid, product, 1, "refund-test-0001").await;
    assert_eq!(s, 200, "{order}");
    assert_eq!(order["status"], "paid");
    assert!(
        order["discount"].as_i64().unwrap() > 0,
        "a friend's discounted unit: {order}"
    );
    let id = order["id"].as_i64().unwrap();
    let paid = order["paid"].as_i64().unwrap();
    assert_eq!(stock_of(&app, product).await, stock_before - 1);
    let d = dashboard(&host, sid).await;
    assert_eq!(
        (
            d["orders"].as_i64(),
            d["gmv"].as_i64(),
            d["refunds"].as_i64()
        ),
        (Some(1), Some(paid), Some(0)),
        "{d}"
    );

    // Nobody but the session's host refunds.
    let stranger = Client::new(&app);
    assert_eq!(
        stranger
            .call(
                "studio/orders/refund",
                &[("order_id", id.to_string()), ("reason", String::new())]
            )
            .await
            .0,
        401
    );
    let other_host = Client::new(&app);
    other_host
        .sign_up_host("Another host", "another-host@example.com")
        .await;
    let (s, v) = other_host
        .call(
            "studio/orders/refund",
            &[("order_id", id.to_string()), ("reason", String::new())],
        )
        .await;
    assert!(s == 403 || s == 404, "{s} {v}");
    let (s, _) = host
        .call(
            "studio/orders/refund",
            &[("order_id", "999999".into()), ("reason", String::new())],
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = host
        .call(
            "studio/orders/refund",
            &[("order_id", id.to_string()), ("reason", "x".repeat(200))],
        )
        .await;
    assert_eq!(s, 400, "a reason of one short line");

    // The host refunds: the money, the unit and the discount go back.
    let (s, v) = host
        .call(
            "studio/orders/refund",
            &[
                ("order_id", id.to_string()),
                ("reason", "Damaged in transit".into()),
            ],
        )
        .await;
    assert_eq!((s, v.as_str()), (200, Some("refunded")), "{v}");
    assert_eq!(stock_of(&app, product).await, stock_before);
    let (_, mine) = buyer.get("/api/orders/mine").await;
    let listed = mine
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == id)
        .cloned()
        .unwrap();
    assert_eq!(listed["status"], "refunded", "{listed}");
    let d = dashboard(&host, sid).await;
    assert_eq!(
        (d["orders"].as_i64(), d["gmv"].as_i64()),
        (Some(0), Some(0)),
        "{d}"
    );
    assert_eq!(
        (d["refunds"].as_i64(), d["refunded"].as_i64()),
        (Some(1), Some(paid)),
        "{d}"
    );
    // Once only.
    let (s, v) = host
        .call(
            "studio/orders/refund",
            &[("order_id", id.to_string()), ("reason", String::new())],
        )
        .await;
    assert_eq!(s, 409, "{v}");

    // The discounted unit is the shopper's again: the same product at the same discount.
    let (s, again) = buyer.order(sid, product, 1, "refund-test-0002").await;
    assert_eq!(s, 200, "{again}");
    assert_eq!(
        (again["paid"].as_i64(), again["discount"].as_i64()),
        (Some(paid), order["discount"].as_i64()),
        "{again}"
    );
    assert_eq!(
        stock_of(&app, product).await,
        stock_before - 1,
        "the sale gate reloaded the stock"
    );
    app.stop().await;
}
