//! Delivery addresses: a shopper's address book (checked, theirs only, the one used last
//! first) and the copy an order ships to, given with the order or afterwards in "My orders";
//! the host ships only an order with an address and sees (and exports) it in full.

use crate::common::*;
use serde_json::{json, Value};

both_databases!(an_address_book_and_the_address_an_order_ships_to);

fn form() -> Value {
    json!({
        "recipient": "王小明", "phone": "138 1234 5678", "province": "广东省", "city": "深圳市",
        "district": "南山区", "street": "科技园南区深南大道10000号",
    })
}

async fn save(c: &Client, form: Value) -> (u16, Value) {
    c.call_json("addresses/save", json!({ "form": form })).await
}

async fn an_address_book_and_the_address_an_order_ships_to(b: Backend) {
    // Rate limits scaled up: this test saves more addresses than a minute allows.
    let opts = Options {
        extra: vec![("APP_RATE_LIMIT_SCALE", "10".into())],
        ..Options::default()
    };
    let Some(app) = spawn_with(b, opts).await else {
        return;
    };
    let (sid, product, host) = live_presenting(&app, 1).await;
    let shopper = Client::new(&app);
    assert_eq!(shopper.reserve(sid).await.0, 200);
    assert_eq!(shopper.get("/api/addresses").await.1, json!([]));

    // Checked field by field.
    for (field, value) in [
        ("phone", "12345"),
        ("province", "粤"),
        ("street", "1"),
        ("recipient", ""),
    ] {
        let mut f = form();
        f[field] = json!(value);
        let (s, v) = save(&shopper, f).await;
        assert_eq!(s, 400, "{field}: {v}");
    }
    let (s, home) = save(&shopper, form()).await;
    assert_eq!(s, 200, "{home}");
    assert_eq!(
        home["one_line"],
        "广东省深圳市南山区科技园南区深南大道10000号"
    );
    assert_eq!(home["form"]["phone"], "+8613812345678");
    let mut office = form();
    office["street"] = json!("福田区金田路3038号");
    office["district"] = json!("福田区");
    let (_, office) = save(&shopper, office).await;
    let (_, list) = shopper.get("/api/addresses").await;
    assert_eq!(
        list[0]["id"], office["id"],
        "the one saved last first: {list}"
    );
    assert_eq!(list.as_array().unwrap().len(), 2);

    // Nobody else's.
    let other = Client::new(&app);
    assert_eq!(other.reserve(sid).await.0, 200);
    let (s, _) = other
        .call("addresses/delete", &[("id", home["id"].to_string())])
        .await;
    assert_eq!(s, 404);
    let (s, _) = other
        .call_json(
            "addresses/save",
            json!({ "id": home["id"], "form": form() }),
        )
        .await;
    assert_eq!(s, 404);

    // With the order: a copy goes with it, shown masked to the shopper.
    let (s, order) = shopper
        .call(
            "orders/place",
            &[
                ("session_id", sid.to_string()),
                ("product_id", product.to_string()),
                ("quantity", "1".into()),
                ("idempotency_key", "address-test-0001".into()),
                ("address_id", home["id"].to_string()),
            ],
        )
        .await;
    assert_eq!(s, 200, "{order}");
    assert_eq!(
        order["ship_to"],
        "王小明 · +86 138****5678 · 广东省深圳市南山区科技园南区深南大道10000号"
    );
    // Editing the address book later changes no order.
    let mut moved = form();
    moved["street"] = json!("新地址1号楼");
    let (s, _) = shopper
        .call_json("addresses/save", json!({ "id": home["id"], "form": moved }))
        .await;
    assert_eq!(s, 200);
    let (_, mine) = shopper.get("/api/orders/mine").await;
    assert!(
        mine[0]["ship_to"]
            .as_str()
            .unwrap()
            .ends_with("深南大道10000号"),
        "{mine}"
    );

    // Without one: the host cannot ship it until the shopper gives it in "My orders".
    let (s, bare) = shopper.order(sid, product, 1, "address-test-0002").await;
    assert_eq!(s, 200, "{bare}");
    assert!(bare.get("ship_to").is_none(), "{bare}");
    let bare_id = bare["id"].as_i64().unwrap();
    let ship = |id: i64| {
        let host = &host;
        async move {
            host.call(
                "studio/orders/ship",
                &[
                    ("order_id", id.to_string()),
                    ("carrier", "SF Express".into()),
                    ("tracking_no", "SF1234567890".into()),
                ],
            )
            .await
        }
    };
    let (s, v) = ship(bare_id).await;
    assert_eq!(s, 409, "{v}");
    let (s, _) = other
        .call(
            "orders/address",
            &[
                ("order_id", bare_id.to_string()),
                ("address_id", home["id"].to_string()),
            ],
        )
        .await;
    assert_eq!(s, 404, "someone else's order");
    let (s, _) = shopper
        .call(
            "orders/address",
            &[
                ("order_id", bare_id.to_string()),
                ("address_id", "999999".into()),
            ],
        )
        .await;
    assert_eq!(s, 404, "no such address");
    let (s, v) = shopper
        .call(
            "orders/address",
            &[
                ("order_id", bare_id.to_string()),
                ("address_id", office["id"].to_string()),
            ],
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(ship(bare_id).await.0, 200);
    let (s, _) = shopper
        .call(
            "orders/address",
            &[
                ("order_id", bare_id.to_string()),
                ("address_id", home["id"].to_string()),
            ],
        )
        .await;
    assert_eq!(s, 409, "shipped: the address stays");

    // The host sees and exports it in full (the carrier needs the number).
    let (_, view) = host
        .get(&format!("/api/studio/orders?session_id={sid}&filter=all"))
        .await;
    let row = view
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == bare_id)
        .cloned()
        .unwrap();
    assert_eq!(
        row["ship_to"],
        "王小明 · +8613812345678 · 广东省深圳市福田区福田区金田路3038号"
    );
    let csv = host
        .http
        .get(format!("{}/studio/s/{sid}/orders.csv", host.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = csv
        .lines()
        .find(|l| l.starts_with(&format!("{bare_id},")))
        .expect("the order's line");
    assert!(line.contains(",shipped,SF Express,SF1234567890,王小明,+8613812345678,广东省,深圳市,福田区,福田区金田路3038号,"), "{line}");

    // At most 20 addresses.
    for k in 0..18 {
        let mut f = form();
        f["street"] = json!(format!("测试路{k}号"));
        assert_eq!(save(&shopper, f).await.0, 200);
    }
    let (s, v) = save(&shopper, form()).await;
    assert_eq!(s, 409, "{v}");
    app.stop().await;
}
