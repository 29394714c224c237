//! The flash-sale order path (`shop_backend::buying::sale`, `shop_backend::buying::orders`), against the real
//! server on both databases: admission in memory and batched commits keep every invariant;
//! a payment that fails or never comes gives the unit and the discount back; orders left
//! awaiting payment are settled by a retry with the same key or by the resolver, which asks
//! the provider; a restart loads the truth from the database.

use shop_core::ids::{ProductId, SessionId, ShopperId};
use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use crate::common::{db, exec, scalar, spawn_with, Backend, Client, Options, TestApp};
use serde_json::Value;
use shop_backend::{
    buying::orders::{place, resolve_pending, Resolved},
    buying::payment::{
        Charge, Payer, PaymentFuture, PaymentOutcome, PaymentProvider, RefundOutcome, RefundRequest,
    },
    identity::Shopper,
    repo::orders::PlaceOrder,
    AppState,
};
use shop_core::domain::order::{IdempotencyKey, Quantity};

both_databases!(
    a_rush_sells_exactly_the_stock_and_survives_a_restart,
    a_declined_payment_gives_the_unit_and_the_discount_back,
    a_retry_completes_an_order_left_awaiting_payment,
    the_resolver_asks_the_provider_and_releases_what_was_never_paid,
    stock_edited_in_the_studio_during_a_sale_is_the_new_truth,
    facts_that_change_after_the_sale_loaded_count,
);

fn opts() -> Options {
    Options {
        extra: vec![("APP_RATE_LIMIT_SCALE", "1000".into())],
        ..Options::default()
    }
}

/// A provider that answers every charge with a fixed outcome and counts the charges.
struct Fixed {
    outcome: PaymentOutcome,
    charges: AtomicUsize,
}

impl Fixed {
    fn new(outcome: PaymentOutcome) -> Arc<Fixed> {
        Arc::new(Fixed {
            outcome,
            charges: AtomicUsize::new(0),
        })
    }
}

impl PaymentProvider for Fixed {
    fn name(&self) -> &'static str {
        "demo"
    }
    fn label(&self) -> &'static str {
        "test"
    }
    fn charge<'a>(&'a self, _: &'a Charge) -> PaymentFuture<'a, PaymentOutcome> {
        self.charges.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move { self.outcome.clone() })
    }
    fn query<'a>(&'a self, _: &'a str) -> PaymentFuture<'a, Option<PaymentOutcome>> {
        Box::pin(async move { None })
    }
    fn refund<'a>(&'a self, _: &'a RefundRequest) -> PaymentFuture<'a, RefundOutcome> {
        Box::pin(async move {
            RefundOutcome::Refused {
                reason: "not in this test".into(),
            }
        })
    }
}

/// The running server's state with another payment provider (same database, same sale).
fn with_provider(app: &TestApp, provider: Arc<dyn PaymentProvider>) -> AppState {
    let mut services = (*app.state.app).clone();
    services.payments = provider;
    services.into()
}

/// Live, product 1 presented; an inviter and `friends` friends who joined through the invite.
async fn live_sale(app: &TestApp, friends: usize) -> (i64, i64, Client, Vec<Client>) {
    let (sid, products, host, buyers) =
        crate::common::live_with_invited_friends(app, friends).await;
    let (s, v) = host
        .call("studio/present", &[("product_id", products[1].to_string())])
        .await;
    assert_eq!(s, 200, "{v}");
    (sid, products[1], host, buyers)
}

async fn shopper(c: &Client) -> Shopper {
    let me = c.me().await;
    Shopper {
        id: ShopperId(me["id"].as_i64().expect("id")),
        nickname: me["nickname"].as_str().expect("nickname").into(),
    }
}

fn request(sid: i64, product: i64, key: &str) -> PlaceOrder {
    PlaceOrder {
        session_id: SessionId(sid),
        product_id: ProductId(product),
        variant_id: None,
        quantity: Quantity::parse(1).expect("1"),
        key: IdempotencyKey::parse(key).expect("key"),
        expected_total: None,
    }
}

async fn stock(d: &shop_backend::Db, product: i64) -> i64 {
    scalar(
        d,
        &format!("SELECT stock FROM products WHERE id = {product}"),
    )
    .await
}

/// Units held by orders awaiting payment or paid.
async fn units_sold(d: &shop_backend::Db, product: i64) -> i64 {
    scalar(
        d,
        &format!(
            "SELECT CAST(COALESCE(SUM(l.quantity), 0) AS BIGINT) FROM order_lines l JOIN orders o ON o.id = l.order_id
              WHERE l.product_id = {product} AND o.status IN ('pending_payment', 'paid')"
        ),
    )
    .await
}

async fn a_rush_sells_exactly_the_stock_and_survives_a_restart(b: Backend) {
    let Some(app) = spawn_with(b, opts()).await else {
        return;
    };
    let (sid, product, host, buyers) = live_sale(&app, 120).await;
    let (s, v) = host
        .call_json(
            "studio/product/update",
            serde_json::json!({"product_id": product, "form": {
                "name": "Rush serum", "description": "", "category": "Beauty",
                "price": "259.00", "stock": 40}}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let d = db(&app).await;
    // Everyone at once, each twice with the same key (a double tap).
    let results = futures::future::join_all(buyers.iter().enumerate().flat_map(|(i, c)| {
        let key = format!("rush-{i:04}-key");
        [0, 1].map(move |_| {
            let key = key.clone();
            async move { (i, c.order(sid, product, 1, &key).await) }
        })
    }))
    .await;
    let mut confirmed: Vec<(usize, i64)> = Vec::new();
    for (i, (s, v)) in &results {
        match s {
            200 => {
                assert_eq!(v["status"], "paid", "{v}");
                assert_eq!(v["paid"], 12_950, "one discounted unit: {v}");
                confirmed.push((*i, v["id"].as_i64().expect("id")));
            }
            409 => assert_eq!(v["Conflict"], "Sold out.", "{v}"),
            // The double tap's twin, while the first waits for its batch.
            503 => assert_eq!(v, &Value::String("Busy".into()), "{v}"),
            other => panic!("unexpected {other}: {v}"),
        }
    }
    // What a buyer was shown is exactly what was stored (built from the write, not read back).
    for (i, (s, v)) in results.iter().filter(|(_, (s, _))| *s == 200).take(3) {
        assert_eq!(*s, 200);
        let (_, mine) = buyers[*i].get("/api/orders/mine").await;
        let stored = mine
            .as_array()
            .and_then(|l| l.iter().find(|o| o["id"] == v["id"]))
            .expect("in My orders");
        assert_eq!(stored, v);
    }
    confirmed.sort_unstable();
    confirmed.dedup();
    let buyers_ok: std::collections::BTreeSet<usize> = confirmed.iter().map(|c| c.0).collect();
    assert_eq!(buyers_ok.len(), 40, "exactly the stock is sold");
    assert_eq!(confirmed.len(), 40, "a double tap is one order");
    assert_eq!(stock(&d, product).await, 0);
    assert_eq!(units_sold(&d, product).await, 40);
    assert_eq!(
        scalar(
            &d,
            "SELECT COUNT(*) FROM purchase_counters WHERE discounted_units > 1"
        )
        .await,
        0
    );
    assert_eq!(
        scalar(&d, "SELECT COUNT(*) FROM demo_payments").await,
        40,
        "one charge per order"
    );

    // After a restart the same keys return the same orders, and it is still sold out.
    let app = app.restart(opts()).await;
    for &(i, id) in confirmed.iter().take(5) {
        let c = &buyers[i];
        let c = Client {
            http: c.http.clone(),
            base: format!("http://{}", app.addr),
        };
        let (s, v) = c.order(sid, product, 1, &format!("rush-{i:04}-key")).await;
        assert_eq!((s, v["id"].as_i64()), (200, Some(id)), "{v}");
    }
    let late = Client::new(&app);
    assert_eq!(late.reserve(sid).await.0, 200);
    let (s, v) = late.order(sid, product, 1, "late-buyer-key").await;
    assert_eq!((s, &v["Conflict"]), (409, &Value::from("Sold out.")), "{v}");
    assert_eq!(scalar(&d, "SELECT COUNT(*) FROM demo_payments").await, 40);
    app.stop().await;
}

async fn a_declined_payment_gives_the_unit_and_the_discount_back(b: Backend) {
    let Some(app) = spawn_with(b, opts()).await else {
        return;
    };
    let (sid, product, _, buyers) = live_sale(&app, 1).await;
    let d = db(&app).await;
    let before = stock(&d, product).await;
    let declining = with_provider(
        &app,
        Fixed::new(PaymentOutcome::Declined {
            reason: "card declined".into(),
        }),
    );
    let who = shopper(&buyers[0]).await;
    let order = place(
        &declining,
        &who,
        &request(sid, product, "declined-1"),
        &Payer::default(),
    )
    .await
    .expect("placed");
    assert_eq!(order.status, shop_core::model::OrderStatus::PaymentFailed);
    assert_eq!(stock(&d, product).await, before, "the unit is back");
    // The discount is back too: the next order gets it.
    let (s, v) = buyers[0].order(sid, product, 1, "after-decline").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["paid"], 12_950, "{v}");
    assert_eq!(stock(&d, product).await, before - 1);
    // The failed order stays failed for its key (no second charge).
    let again = place(
        &declining,
        &who,
        &request(sid, product, "declined-1"),
        &Payer::default(),
    )
    .await
    .expect("replay");
    assert_eq!(again.id, order.id);
    assert_eq!(again.status, shop_core::model::OrderStatus::PaymentFailed);
    app.stop().await;
}

async fn a_retry_completes_an_order_left_awaiting_payment(b: Backend) {
    let Some(app) = spawn_with(b, opts()).await else {
        return;
    };
    let (sid, product, _, buyers) = live_sale(&app, 1).await;
    let d = db(&app).await;
    let before = stock(&d, product).await;
    // The payment does not settle (as when the server dies between stock and payment).
    let unsettled = with_provider(&app, Fixed::new(PaymentOutcome::Pending));
    let who = shopper(&buyers[0]).await;
    let order = place(
        &unsettled,
        &who,
        &request(sid, product, "pending-key-1"),
        &Payer::default(),
    )
    .await
    .expect("placed");
    assert_eq!(order.status, shop_core::model::OrderStatus::PendingPayment);
    assert_eq!(stock(&d, product).await, before - 1, "the unit is held");
    // The shopper's retry with the same key completes it (the real provider this time).
    let (s, v) = buyers[0].order(sid, product, 1, "pending-key-1").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["id"].as_i64(), Some(order.id.get()));
    assert_eq!(v["status"], "paid", "{v}");
    assert_eq!(stock(&d, product).await, before - 1, "still one unit");
    assert_eq!(scalar(&d, "SELECT COUNT(*) FROM demo_payments").await, 1);
    app.stop().await;
}

async fn the_resolver_asks_the_provider_and_releases_what_was_never_paid(b: Backend) {
    let Some(app) = spawn_with(b, opts()).await else {
        return;
    };
    let (sid, product, _, buyers) = live_sale(&app, 2).await;
    let d = db(&app).await;
    let before = stock(&d, product).await;
    let unsettled = with_provider(&app, Fixed::new(PaymentOutcome::Pending));
    let charged = place(
        &unsettled,
        &shopper(&buyers[0]).await,
        &request(sid, product, "charged-then-crash"),
        &Payer::default(),
    )
    .await
    .expect("placed");
    let never = place(
        &unsettled,
        &shopper(&buyers[1]).await,
        &request(sid, product, "never-charged-1"),
        &Payer::default(),
    )
    .await
    .expect("placed");
    // The provider has the first charge (it went through before the crash), not the second.
    exec(
        &d,
        &format!(
            "INSERT INTO demo_payments (merchant_ref, amount_fen, reference, created_at_ms)
             VALUES ('order-{}', 12950, 'demo-order-{}', 0)",
            charged.id, charged.id
        ),
    )
    .await;
    // Within the payment time: the charged one is paid, the other keeps its unit.
    let st = app.state.app.clone();
    let r = resolve_pending(&st, Duration::from_secs(900))
        .await
        .expect("resolve");
    assert_eq!(
        r,
        Resolved {
            paid: 1,
            released: 0,
            waiting: 1
        }
    );
    assert_eq!(stock(&d, product).await, before - 2);
    // Past it: released, unit and discount back.
    let r = resolve_pending(&st, Duration::ZERO).await.expect("resolve");
    assert_eq!(r.released, 1, "{r:?}");
    let status = |id: i64| format!("SELECT COUNT(*) FROM orders WHERE id = {id} AND status = ");
    assert_eq!(
        scalar(&d, &format!("{}'paid'", status(charged.id.get()))).await,
        1
    );
    assert_eq!(
        scalar(&d, &format!("{}'payment_failed'", status(never.id.get()))).await,
        1
    );
    assert_eq!(stock(&d, product).await, before - 1);
    let (s, v) = buyers[1].order(sid, product, 1, "second-try-1").await;
    assert_eq!((s, &v["paid"]), (200, &Value::from(12_950)), "{v}");
    app.stop().await;
}

async fn stock_edited_in_the_studio_during_a_sale_is_the_new_truth(b: Backend) {
    let Some(app) = spawn_with(b, opts()).await else {
        return;
    };
    let (sid, product, host, buyers) = live_sale(&app, 6).await;
    let set_stock = |n: i64| {
        serde_json::json!({"product_id": product, "form": {
            "name": "Rush serum", "description": "", "category": "Beauty",
            "price": "259.00", "stock": n}})
    };
    let (s, v) = host.call_json("studio/product/update", set_stock(2)).await;
    assert_eq!(s, 200, "{v}");
    for (i, c) in buyers.iter().take(3).enumerate() {
        let (s, v) = c.order(sid, product, 1, &format!("edit-{i}-key")).await;
        assert_eq!(s, if i < 2 { 200 } else { 409 }, "{v}");
    }
    // Sold out; the host adds three more; the next three buy, the fourth does not.
    let (s, v) = host.call_json("studio/product/update", set_stock(3)).await;
    assert_eq!(s, 200, "{v}");
    for (i, c) in buyers.iter().enumerate().skip(2) {
        let (s, v) = c.order(sid, product, 1, &format!("more-{i}-key")).await;
        assert_eq!(s, if i < 5 { 200 } else { 409 }, "{v}");
    }
    let d = db(&app).await;
    assert_eq!(stock(&d, product).await, 0);
    assert_eq!(units_sold(&d, product).await, 5);
    app.stop().await;
}

async fn facts_that_change_after_the_sale_loaded_count(b: Backend) {
    let Some(app) = spawn_with(b, opts()).await else {
        return;
    };
    let (sid, product, _, buyers) = live_sale(&app, 1).await;
    // The sale is loaded (with every reserved shopper's facts) by a first order.
    let (s, v) = buyers[0].order(sid, product, 1, "loads-the-sale").await;
    assert_eq!((s, &v["paid"]), (200, &Value::from(12_950)), "{v}");
    // A shopper who reserves now and mints an invite: no friends yet, full price.
    let late = Client::new(&app);
    assert_eq!(late.reserve(sid).await.0, 200);
    let (_, inv) = late.create_invite(sid).await;
    let code = inv["code"].as_str().expect("code").to_string();
    let (s, v) = late.order(sid, product, 1, "late-full-price").await;
    assert_eq!((s, &v["paid"]), (200, &Value::from(25_900)), "{v}");
    // A friend joins through it: the friend and the inviter both get their half price now.
    let friend = Client::new(&app);
    assert_eq!(friend.join(&code).await.0, 200);
    let (s, v) = friend.order(sid, product, 1, "friend-half-price").await;
    assert_eq!((s, &v["paid"]), (200, &Value::from(12_950)), "{v}");
    let (s, v) = late.order(sid, product, 1, "late-half-price").await;
    assert_eq!((s, &v["paid"]), (200, &Value::from(12_950)), "{v}");

    // The batched read (several nodes read a rush's winners' facts that way) says what the
    // one-shopper read says, for an inviter, a friend, a joined buyer and a stranger.
    let stranger = Client::new(&app);
    let mut ids = Vec::new();
    for c in [&late, &friend, &buyers[0], &stranger] {
        ids.push(shopper(c).await.id);
    }
    let d = db(&app).await;
    let batch = shop_backend::repo::shopping::shoppers_facts(&d, SessionId(sid), &ids)
        .await
        .expect("batched facts");
    for id in &ids {
        let one = shop_backend::repo::shopping::shopper_facts(&d, SessionId(sid), *id)
            .await
            .expect("facts");
        assert_eq!(batch.get(id), Some(&one), "shopper {id}");
    }
    assert!(batch[&ids[0]].friends_joined == 1 && batch[&ids[1]].joined_via.is_some());
    assert!(!batch[&ids[3]].reserved);
    app.stop().await;
}

/// Several nodes: the order rate limit (taken inside the gate's first Redis look) is one
/// bucket whichever node the shopper's orders reach.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_order_rate_limit_holds_across_nodes() {
    let Some(cluster) = crate::common::cluster::Cluster::start(2).await else {
        return;
    };
    let (sid, product, _, buyers) = live_sale(&cluster.nodes[0], 1).await;
    let buyer = &buyers[0];
    let mut statuses = Vec::new();
    // Burst 20 a minute: answers (bought, or over the purchase limit) until the bucket is
    // empty, alternating nodes.
    for i in 0..21 {
        let (s, v) = buyer
            .on(&cluster.nodes[i % 2])
            .order(sid, product, 1, &format!("limit-{i:02}"))
            .await;
        assert!(matches!(s, 200 | 409 | 429), "{s}: {v}");
        statuses.push(s);
    }
    assert!(statuses[..20].iter().all(|s| *s != 429), "{statuses:?}");
    assert_eq!(statuses[20], 429, "{statuses:?}");
}

/// Several nodes: the gate is the Redis script, every node admits against the same stock,
/// and after Redis loses everything (a restart) the state is loaded again from PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_gate_sells_exactly_the_stock_across_nodes_and_reloads_after_a_redis_restart() {
    let Some(mut cluster) =
        crate::common::cluster::Cluster::start_with(2, &[("APP_RATE_LIMIT_SCALE", "1000")]).await
    else {
        return;
    };
    let (sid, product, host, buyers) = live_sale(&cluster.nodes[0], 90).await;
    let (s, v) = host
        .call_json(
            "studio/product/update",
            serde_json::json!({"product_id": product, "form": {
                "name": "Rush serum", "description": "", "category": "Beauty",
                "price": "259.00", "stock": 30}}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let nodes = &cluster.nodes;
    let spread: Vec<Client> = buyers
        .iter()
        .enumerate()
        .map(|(i, b)| b.on(&nodes[i % 2]))
        .collect();
    let results = futures::future::join_all(spread.iter().enumerate().map(|(i, c)| {
        let key = format!("redis-rush-{i:04}");
        async move { (i, c.order(sid, product, 1, &key).await) }
    }))
    .await;
    let mut confirmed = Vec::new();
    for (i, (s, v)) in &results {
        match s {
            200 => {
                assert_eq!(
                    (&v["status"], &v["paid"]),
                    (&Value::from("paid"), &Value::from(12_950)),
                    "{v}"
                );
                confirmed.push((*i, v["id"].as_i64().expect("id")));
            }
            409 => assert_eq!(v["Conflict"], "Sold out.", "{v}"),
            other => panic!("unexpected {other}: {v}"),
        }
    }
    assert_eq!(confirmed.len(), 30, "exactly the stock, over both nodes");
    let (i, id) = confirmed[0];
    let (_, mine) = spread[i].get("/api/orders/mine").await;
    let stored = mine
        .as_array()
        .and_then(|l| l.iter().find(|o| o["id"] == id))
        .expect("in My orders");
    let shown = results.iter().find(|(j, _)| *j == i).map(|(_, r)| &r.1);
    assert_eq!(Some(stored), shown);
    let d = shop_backend::Db::connect(&cluster.database_url)
        .await
        .expect("db");
    assert_eq!(stock(&d, product).await, 0);
    assert_eq!(units_sold(&d, product).await, 30);

    // Redis loses everything: the next orders load the state from the database again.
    cluster.redis.restart();
    for (i, id) in confirmed.iter().take(6) {
        let (s, v) = order_when_up(&spread[*i], sid, product, &format!("redis-rush-{i:04}")).await;
        assert_eq!(
            (s, v["id"].as_i64()),
            (200, Some(*id)),
            "the same order: {v}"
        );
    }
    let late = Client::new(&cluster.nodes[1]);
    let mut reserved = late.reserve(sid).await.0;
    for _ in 0..100 {
        if reserved != 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        reserved = late.reserve(sid).await.0;
    }
    assert_eq!(reserved, 200);
    let (s, v) = order_when_up(&late, sid, product, "late-after-restart").await;
    assert_eq!((s, &v["Conflict"]), (409, &Value::from("Sold out.")), "{v}");
    // More stock and a new price from the studio (through node 2): both nodes sell exactly
    // that stock, at that price (what a node cached of the product is read again).
    let host2 = host.on(&cluster.nodes[1]);
    let (s, v) = host2
        .call_json(
            "studio/product/update",
            serde_json::json!({"product_id": product, "form": {
                "name": "Rush serum", "description": "", "category": "Beauty",
                "price": "199.00", "stock": 3, "reason": "flash price"}}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut ok = 0;
    for (i, c) in spread.iter().enumerate().skip(80) {
        let (s, v) = order_when_up(c, sid, product, &format!("more-stock-{i:04}")).await;
        match s {
            200 => {
                // Half price, or full price for a friend who had their discounted unit.
                let paid = v["paid"].as_i64();
                assert!(paid == Some(9_950) || paid == Some(19_900), "{v}");
                ok += 1;
            }
            409 => assert_eq!(v["Conflict"], "Sold out.", "{v}"),
            other => panic!("{other}: {v}"),
        }
    }
    assert_eq!(ok, 3);
    assert_eq!(stock(&d, product).await, 0);
    assert_eq!(units_sold(&d, product).await, 33);
}

/// An order, retried while the node answers 503 (Redis coming back).
async fn order_when_up(c: &Client, sid: i64, product: i64, key: &str) -> (u16, Value) {
    for _ in 0..100 {
        let (s, v) = c.order(sid, product, 1, key).await;
        if s != 503 {
            return (s, v);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("still 503 after 10 s");
}
