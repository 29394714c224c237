//! A host ships and refunds paid orders. Refunds go through the payment provider (the demo provider here; WeChat
//! Pay in `wechat_checkout.rs`). The rule: a refund gives back everything the order took, its
//! units to stock (nothing is shipped yet) and its discounted unit to the shopper's allowance
//! and the product's discount count, so the shopper may buy that product at the discount
//! again while the session offers it. One refund per order.

use crate::common::*;
use serde_json::Value;

both_databases!(
    a_refund_gives_back_the_units_and_the_discount_and_shows_in_the_dashboard,
    shipping_orders_one_by_one_and_from_a_csv_and_refunding_a_shipped_one,
);

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
    let (sid, product, host) = live_presenting(&app, 1).await;
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

async fn orders_view(host: &Client, sid: i64, filter: &str) -> Vec<Value> {
    let (s, v) = host
        .get(&format!(
            "/api/studio/orders?session_id={sid}&filter={filter}"
        ))
        .await;
    assert_eq!(s, 200, "{v}");
    v.as_array().cloned().unwrap_or_default()
}

fn ids(orders: &[Value]) -> Vec<i64> {
    let mut v: Vec<i64> = orders.iter().map(|o| o["id"].as_i64().unwrap()).collect();
    v.sort();
    v
}

async fn shipping_orders_one_by_one_and_from_a_csv_and_refunding_a_shipped_one(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (sid, product, host) = live_presenting(&app, 1).await;
    let buyer = Client::new(&app);
    assert_eq!(buyer.reserve(sid).await.0, 200);
    let mut orders = Vec::new();
    for k in 0..4 {
        let (s, o) = buyer
            .order(sid, product, 1, &format!("ship-test-000{k}"))
            .await;
        assert_eq!(s, 200, "{o}");
        orders.push(o["id"].as_i64().unwrap());
    }
    // Where they ship (the host ships only an order with an address).
    let (s, home) = buyer
        .call_json(
            "addresses/save",
            serde_json::json!({ "form": {
                "recipient": "王小明", "phone": "13812345678", "province": "广东省",
                "city": "深圳市", "district": "南山区", "street": "科技园南区深南大道10000号" } }),
        )
        .await;
    assert_eq!(s, 200, "{home}");
    for id in &orders {
        let (s, v) = buyer
            .call(
                "orders/address",
                &[
                    ("order_id", id.to_string()),
                    ("address_id", home["id"].to_string()),
                ],
            )
            .await;
        assert_eq!(s, 200, "{v}");
    }
    assert_eq!(ids(&orders_view(&host, sid, "to_ship").await), orders);
    assert_eq!(orders_view(&host, sid, "shipped").await.len(), 0);
    let (s, _) = host
        .get(&format!("/api/studio/orders?session_id={sid}&filter=bogus"))
        .await;
    assert_eq!(s, 400);
    let stranger = Client::new(&app);
    let (s, _) = stranger
        .get(&format!("/api/studio/orders?session_id={sid}&filter=all"))
        .await;
    assert_eq!(s, 401);

    // One by one: checked, then the shopper sees it.
    let ship = |id: i64, carrier: &str, number: &str| {
        let (host, carrier, number) = (&host, carrier.to_string(), number.to_string());
        async move {
            host.call(
                "studio/orders/ship",
                &[
                    ("order_id", id.to_string()),
                    ("carrier", carrier),
                    ("tracking_no", number),
                ],
            )
            .await
        }
    };
    assert_eq!(ship(orders[0], "SF Express", "bad number").await.0, 400);
    assert_eq!(ship(orders[0], "", "SF1234567890").await.0, 400);
    assert_eq!(ship(999_999, "SF Express", "SF1234567890").await.0, 404);
    let (s, v) = ship(orders[0], "SF Express", "sf1234567890").await;
    assert_eq!(s, 200, "{v}");
    let (_, mine) = buyer.get("/api/orders/mine").await;
    let o = mine
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == orders[0])
        .cloned()
        .unwrap();
    assert_eq!(o["status"], "shipped", "{o}");
    assert_eq!(
        (
            o["shipping"]["carrier"].as_str(),
            o["shipping"]["tracking_no"].as_str()
        ),
        (Some("SF Express"), Some("SF1234567890"))
    );

    // From a CSV: the good lines apply, the others are listed by line.
    let csv = format!(
        "order_id,carrier,tracking_number\n{},\"JD Logistics, Beijing\",JD0001\n{},SF Express,x\nnot-a-number,SF,SF0001\n{},SF Express,SF0002\n999999,SF,SF0003\n",
        orders[1], orders[2], orders[3]
    );
    let (s, r) = host
        .call(
            "studio/orders/import_tracking",
            &[("session_id", sid.to_string()), ("csv", csv)],
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["shipped"], 2, "{r}");
    let errors: Vec<String> = r["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().to_string())
        .collect();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(
        errors[0].starts_with("line 3:")
            && errors[1].starts_with("line 4:")
            && errors[2].starts_with("line 6:"),
        "{errors:?}"
    );
    assert_eq!(
        ids(&orders_view(&host, sid, "shipped").await),
        vec![orders[0], orders[1], orders[3]]
    );
    assert_eq!(
        ids(&orders_view(&host, sid, "to_ship").await),
        vec![orders[2]]
    );

    // A shipped order refunded: the money back, the discount back, but not the unit (it is
    // with the shopper); an unshipped one refunded gives its unit back.
    let before = stock_of(&app, product).await;
    let refund = |id: i64| {
        let host = &host;
        async move {
            host.call(
                "studio/orders/refund",
                &[("order_id", id.to_string()), ("reason", String::new())],
            )
            .await
        }
    };
    assert_eq!(refund(orders[0]).await.0, 200);
    assert_eq!(
        stock_of(&app, product).await,
        before,
        "a shipped unit is not stock again"
    );
    assert_eq!(refund(orders[2]).await.0, 200);
    assert_eq!(stock_of(&app, product).await, before + 1);
    assert_eq!(
        ids(&orders_view(&host, sid, "refunded").await),
        vec![orders[0], orders[2]]
    );
    // A refunded order is not shipped any more.
    assert_eq!(ship(orders[2], "SF Express", "SF9999").await.0, 409);
    app.stop().await;
}
