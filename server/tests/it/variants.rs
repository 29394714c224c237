//! Product variants (shade, size): each sells from its own stock at its own price (or the
//! product's), the product's stock is their sum, and the discount stays per product (one
//! discounted unit per shopper per product, whatever the variant). Through the one-node gate
//! on both databases and through the Redis gate on several nodes.

use crate::common::*;
use serde_json::{json, Value};

both_databases!(variants_sell_from_their_own_stock_at_their_own_price);

async fn set_variants(host: &Client, product: i64, list: Value) -> (u16, Value) {
    host.call_json(
        "studio/product/variants",
        json!({ "product_id": product, "variants": list }),
    )
    .await
}

async fn order_variant(
    c: &Client,
    sid: i64,
    product: i64,
    variant: Option<i64>,
    key: &str,
) -> (u16, Value) {
    let mut args = vec![
        ("session_id", sid.to_string()),
        ("product_id", product.to_string()),
        ("quantity", "1".to_string()),
        ("idempotency_key", key.to_string()),
    ];
    if let Some(v) = variant {
        args.push(("variant_id", v.to_string()));
    }
    c.call("orders/place", &args).await
}

/// The product as the session page lists it.
async fn listed(app: &TestApp, sid: i64, product: i64) -> Value {
    let (_, s) = Client::new(app)
        .get(&format!("/api/sessions/get?id={sid}"))
        .await;
    s["products"]
        .as_array()
        .expect("products")
        .iter()
        .find(|p| p["id"] == product)
        .cloned()
        .expect("the product")
}

/// A live session (its first product not yet presented) and `n` shoppers who joined through
/// an invite (eligible for the discount).
async fn live_with_friends(app: &TestApp, n: usize) -> (i64, i64, Client, Vec<Client>) {
    let (sid, products, host, friends) = live_with_invited_friends(app, n).await;
    (sid, products[0], host, friends)
}

async fn variants_sell_from_their_own_stock_at_their_own_price(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (sid, product, host, friends) = live_with_friends(&app, 2).await;
    let (a, c) = (&friends[0], &friends[1]);
    let price = listed(&app, sid, product).await["price"]
        .as_i64()
        .expect("price");

    // Checked: names unique and clean, stock and price in range; the owner only.
    for bad in [
        json!([{"name": "Rose", "stock": 1}, {"name": "rose", "stock": 1}]),
        json!([{"name": "", "stock": 1}]),
        json!([{"name": "Rose", "stock": -1}]),
        json!([{"name": "Rose", "stock": 1, "price": "0"}]),
    ] {
        assert_eq!(
            set_variants(&host, product, bad.clone()).await.0,
            400,
            "{bad}"
        );
    }
    let (s, _) = set_variants(a, product, json!([{"name": "Rose", "stock": 1}])).await;
    assert!(s == 401 || s == 403, "a shopper is not the host: {s}");
    let (s, list) = set_variants(
        &host,
        product,
        json!([
            {"name": "Rose 02", "stock": 2},
            {"name": "Coral 05", "stock": 1, "price": "139.00"},
        ]),
    )
    .await;
    assert_eq!(s, 200, "{list}");
    let rose = list[0]["id"].as_i64().expect("id");
    let coral = list[1]["id"].as_i64().expect("id");
    let p = listed(&app, sid, product).await;
    assert_eq!(p["stock"], 3, "the product's stock is its variants': {p}");
    assert_eq!(p["variants"][1]["price"], 13_900, "{p}");
    let (s, v) = host
        .call("studio/present", &[("product_id", product.to_string())])
        .await;
    assert_eq!(s, 200, "{v}");

    // A product with variants needs one of its own.
    assert_eq!(
        order_variant(a, sid, product, None, "variant-key-v-none")
            .await
            .0,
        400
    );
    assert_eq!(
        order_variant(a, sid, product, Some(999_999), "variant-key-v-other")
            .await
            .0,
        404
    );

    // Coral at its own price, half off (the shopper's one discounted unit of the product).
    let (s, o) = order_variant(a, sid, product, Some(coral), "variant-key-v-a1").await;
    assert_eq!(s, 200, "{o}");
    assert_eq!(o["lines"][0]["variant"], "Coral 05", "{o}");
    assert_eq!(o["lines"][0]["unit_price"], 13_900, "{o}");
    assert_eq!(o["paid"], 6_950, "{o}");
    // The same key again is the same order.
    let (s, again) = order_variant(a, sid, product, Some(coral), "variant-key-v-a1").await;
    assert_eq!((s, &again["id"]), (200, &o["id"]));
    // Coral is gone while the product still has Rose.
    let (s, v) = order_variant(c, sid, product, Some(coral), "variant-key-v-c1").await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(listed(&app, sid, product).await["stock"], 2);

    // Rose at the product's price; the discount stays per product: a's second unit is full.
    let (s, o) = order_variant(a, sid, product, Some(rose), "variant-key-v-a2").await;
    assert_eq!(s, 200, "{o}");
    assert_eq!(
        (o["lines"][0]["unit_price"].as_i64(), o["paid"].as_i64()),
        (Some(price), Some(price)),
        "{o}"
    );
    let (s, o) = order_variant(c, sid, product, Some(rose), "variant-key-v-c2").await;
    assert_eq!(s, 200, "{o}");
    assert_eq!(o["lines"][0]["discounted_units"], 1, "{o}");
    let p = listed(&app, sid, product).await;
    assert_eq!(p["stock"], 0, "{p}");
    assert_eq!(
        (
            p["variants"][0]["stock"].as_i64(),
            p["variants"][1]["stock"].as_i64()
        ),
        (Some(0), Some(0))
    );

    // My orders and the CSV export name the variant.
    let (_, mine) = a.get("/api/orders/mine").await;
    let variants: Vec<&str> = mine
        .as_array()
        .expect("orders")
        .iter()
        .map(|o| o["lines"][0]["variant"].as_str().unwrap_or(""))
        .collect();
    assert!(
        variants.contains(&"Coral 05") && variants.contains(&"Rose 02"),
        "{mine}"
    );
    let csv = host
        .http
        .get(format!("{}/studio/s/{sid}/orders.csv", host.base))
        .send()
        .await
        .expect("csv")
        .text()
        .await
        .expect("text");
    let header: Vec<&str> = csv.lines().next().expect("header").split(',').collect();
    let at = header
        .iter()
        .position(|h| *h == "variant")
        .expect("a variant column");
    assert!(
        csv.lines()
            .skip(1)
            .any(|l| l.split(',').nth(at) == Some("Coral 05")),
        "{csv}"
    );

    // A refund of an unshipped order puts its unit back on its variant's shelf.
    let coral_order = mine
        .as_array()
        .expect("orders")
        .iter()
        .find(|o| o["lines"][0]["variant"] == "Coral 05")
        .expect("the Coral order")["id"]
        .as_i64()
        .expect("id");
    let (s, v) = host
        .call(
            "studio/orders/refund",
            &[
                ("order_id", coral_order.to_string()),
                ("reason", "Changed mind".into()),
            ],
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let p = listed(&app, sid, product).await;
    assert_eq!(
        (p["stock"].as_i64(), p["variants"][1]["stock"].as_i64()),
        (Some(1), Some(1)),
        "{p}"
    );

    // Restocking applies the difference to the stock as it was when the form opened; a
    // variant that was ordered cannot be removed.
    let (s, list) = set_variants(
        &host,
        product,
        json!([
            {"id": rose, "name": "Rose 02", "stock": 5, "stock_was": 0},
            {"id": coral, "name": "Coral 05", "stock": 1, "stock_was": 1, "price": "139.00"},
        ]),
    )
    .await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(listed(&app, sid, product).await["stock"], 6);
    let (s, v) = set_variants(
        &host,
        product,
        json!([{"id": rose, "name": "Rose 02", "stock": 5}]),
    )
    .await;
    assert_eq!(s, 409, "{v}");
    // The product was presented: a variant's price stands.
    let (s, v) = set_variants(
        &host,
        product,
        json!([
            {"id": rose, "name": "Rose 02", "stock": 5, "price": "1.00"},
            {"id": coral, "name": "Coral 05", "stock": 1, "price": "139.00"},
        ]),
    )
    .await;
    assert_eq!(s, 409, "{v}");
    app.stop().await;
}

/// Several nodes: the Redis gate counts each variant's stock, whichever node takes the order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redis_gate_counts_variant_stock_across_nodes() {
    let Some(cluster) =
        crate::common::cluster::Cluster::start_with(2, &[("APP_RATE_LIMIT_SCALE", "1000")]).await
    else {
        return;
    };
    let nodes = &cluster.nodes;
    let (sid, product, host, friends) = live_with_friends(&nodes[0], 6).await;
    let (s, list) = set_variants(
        &host,
        product,
        json!([{"name": "S", "stock": 3}, {"name": "M", "stock": 4, "price": "99.00"}]),
    )
    .await;
    assert_eq!(s, 200, "{list}");
    let small = list[0]["id"].as_i64().expect("id");
    let medium = list[1]["id"].as_i64().expect("id");
    let (s, v) = host
        .call("studio/present", &[("product_id", product.to_string())])
        .await;
    assert_eq!(s, 200, "{v}");
    let mut sold = 0;
    for (i, f) in friends.iter().enumerate() {
        let (s, v) = order_variant(
            &f.on(&nodes[i % 2]),
            sid,
            product,
            Some(small),
            &format!("variant-key-s-{i:04}"),
        )
        .await;
        assert!(s == 200 || s == 409, "{s}: {v}");
        sold += usize::from(s == 200);
    }
    assert_eq!(sold, 3, "exactly the variant's stock");
    let (s, o) = order_variant(
        &friends[0].on(&nodes[1]),
        sid,
        product,
        Some(medium),
        "variant-key-m-0000",
    )
    .await;
    assert_eq!(s, 200, "{o}");
    assert_eq!(o["lines"][0]["unit_price"], 9_900, "{o}");
    assert_eq!(
        o["lines"][0]["discounted_units"], 0,
        "one discounted unit per product: {o}"
    );
    let p = listed(&nodes[0], sid, product).await;
    assert_eq!(p["stock"], 3, "{p}");
    assert_eq!(
        (
            p["variants"][0]["stock"].as_i64(),
            p["variants"][1]["stock"].as_i64()
        ),
        (Some(0), Some(3))
    );
}
