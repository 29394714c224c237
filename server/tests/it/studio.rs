//! The host studio over HTTP on both databases: authorization of every studio function,
//! accounts and lockout, sessions and products, uploads, run of show, dashboard and CSV.

use crate::common::{
    db, demo_host, demo_session, exec, sample_png, scalar, spawn, Backend, Client, TestApp,
};
use serde_json::{json, Value};

both_databases!(
    every_studio_function_refuses_anonymous_shoppers_and_other_hosts,
    sign_up_sign_in_and_lockout,
    sessions_can_be_edited_and_deleted_only_before_live,
    products_add_edit_reorder_and_audited_price_changes,
    uploads_are_checked_resized_and_served,
    run_of_show_dashboard_and_csv_export,
    a_failed_sign_up_is_not_called_a_taken_email,
);

fn session_form(title: &str, start_ms: i64) -> Value {
    json!({
        "title": title,
        "description": "A test session",
        "scheduled_start_ms": start_ms,
        "policy": { "percent_off": 50, "friends_needed": 1, "units_per_shopper": 1, "units_cap": null, "purchase_limit": 5 }
    })
}

fn product_form(name: &str, price: &str, stock: i64) -> Value {
    json!({ "name": name, "description": "", "category": "Skincare", "price": price, "stock": stock, "reason": null })
}

fn now_ms() -> i64 {
    shop_backend::now_ms()
}

/// Everything a studio call could change, to compare before and after refused calls.
async fn snapshot(app: &TestApp) -> Vec<i64> {
    let d = db(app).await;
    let mut out = Vec::new();
    for sql in [
        "SELECT COUNT(*) FROM live_sessions",
        "SELECT COUNT(*) FROM products",
        "SELECT COUNT(*) FROM live_sessions WHERE status = 'scheduled'",
        "SELECT CAST(COALESCE(SUM(price_fen), 0) AS BIGINT) FROM products",
        "SELECT CAST(COALESCE(SUM(stock), 0) AS BIGINT) FROM products",
        "SELECT CAST(COALESCE(SUM(position * id), 0) AS BIGINT) FROM products",
        "SELECT COUNT(*) FROM products WHERE presented_at_ms IS NOT NULL",
        "SELECT COUNT(*) FROM uploads",
        "SELECT COUNT(*) FROM live_sessions WHERE title = 'Xiaoxiaobao Mama live' AND cover_url LIKE '/public/%'",
    ] {
        out.push(scalar(&d, sql).await);
    }
    out
}

enum Call {
    Form(&'static str, Vec<(&'static str, String)>),
    Json(&'static str, Value),
    Get(String),
    Upload(&'static str, i64),
}

/// Makes one call as `c`; returns a description and the HTTP status.
async fn run(c: &Client, call: &Call, png: &[u8]) -> (String, u16) {
    match call {
        Call::Form(ep, form) => (ep.to_string(), c.call(ep, form).await.0),
        Call::Json(ep, body) => (ep.to_string(), c.call_json(ep, body.clone()).await.0),
        Call::Get(path) => {
            let res = c
                .http
                .get(format!("{}{path}", c.base))
                .send()
                .await
                .expect("get");
            (path.clone(), res.status().as_u16())
        }
        Call::Upload(kind, id) => (
            format!("upload {kind}"),
            c.upload(kind, *id, png.to_vec(), "x.png").await.0,
        ),
    }
}

async fn every_studio_function_refuses_anonymous_shoppers_and_other_hosts(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (sid, products) = demo_session(&app).await;
    let p = products[0];
    let anon = Client::new(&app);
    let shopper = Client::new(&app);
    shopper.me().await;
    let other = Client::new(&app);
    other.sign_up_host("Other Host", "other@example.com").await;
    let before = snapshot(&app).await;

    let calls = vec![
        Call::Get(format!("/api/studio/session?session_id={sid}")),
        Call::Get(format!("/api/studio/dashboard?session_id={sid}")),
        Call::Get(format!("/studio/s/{sid}/orders.csv")),
        Call::Json(
            "studio/session/update",
            json!({ "session_id": sid, "form": session_form("Hijacked", now_ms() + 3_600_000) }),
        ),
        Call::Form(
            "studio/session/delete",
            vec![("session_id", sid.to_string())],
        ),
        Call::Json(
            "studio/product/add",
            json!({ "session_id": sid, "form": product_form("Injected", "1.00", 1) }),
        ),
        Call::Json(
            "studio/product/update",
            json!({ "product_id": p, "form": product_form("Renamed", "1.00", 1) }),
        ),
        Call::Form("studio/product/delete", vec![("product_id", p.to_string())]),
        Call::Form(
            "studio/product/move",
            vec![("product_id", p.to_string()), ("delta", "1".into())],
        ),
        Call::Upload("cover", sid),
        Call::Upload("product", p),
        Call::Form("studio/go_live", vec![("session_id", sid.to_string())]),
        Call::Form("studio/present", vec![("product_id", p.to_string())]),
        Call::Form("studio/present_next", vec![("session_id", sid.to_string())]),
        Call::Form("studio/sold_out", vec![("product_id", p.to_string())]),
        Call::Form("studio/end", vec![("session_id", sid.to_string())]),
    ];
    // Host-only functions that do not name a session: anonymous 401, shopper 403.
    let host_only = [
        Call::Get("/api/studio/sessions".to_string()),
        Call::Json(
            "studio/session/create",
            json!({ "form": session_form("Sneaky", now_ms() + 3_600_000) }),
        ),
    ];
    let png = sample_png();
    for call in &calls {
        for (who, client, expected) in [
            ("anonymous", &anon, 401),
            ("shopper", &shopper, 403),
            ("other host", &other, 403),
        ] {
            let (desc, status) = run(client, call, &png).await;
            assert_eq!(status, expected, "{desc} as {who}");
        }
    }
    for call in &host_only {
        for (who, client, expected) in [("anonymous", &anon, 401), ("shopper", &shopper, 403)] {
            let (desc, status) = run(client, call, &png).await;
            assert_eq!(status, expected, "{desc} as {who}");
        }
    }
    assert_eq!(snapshot(&app).await, before, "refused calls change nothing");
    // The other host's own list does not include the demo session.
    let (s, list) = other.get("/api/studio/sessions").await;
    assert_eq!((s, list), (200, json!([])));
    app.stop().await;
}

async fn sign_up_sign_in_and_lockout(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let h = Client::new(&app);
    let (s, v) = h
        .call(
            "host/sign_up",
            &[
                ("display_name", "Lin".into()),
                ("email", "lin@example.com".into()),
                ("password", "short".into()),
            ],
        )
        .await;
    assert_eq!(s, 400, "{v}");
    h.sign_up_host("Lin", "Lin@Example.com").await;
    let (_, me) = h.get("/api/host/me").await;
    assert_eq!(
        (me["display_name"].as_str(), me["email"].as_str()),
        (Some("Lin"), Some("lin@example.com"))
    );
    let (s, _) = Client::new(&app)
        .call(
            "host/sign_up",
            &[
                ("display_name", "Lin 2".into()),
                ("email", "lin@example.com".into()),
                ("password", "a long password".into()),
            ],
        )
        .await;
    assert_eq!(s, 409, "email taken");

    let attacker = Client::new(&app);
    let attempt = |pw: &'static str| {
        let a = &attacker;
        async move {
            a.call(
                "host/sign_in",
                &[("email", "lin@example.com".into()), ("password", pw.into())],
            )
            .await
        }
    };
    for i in 0..4 {
        let (s, v) = attempt("wrong").await;
        assert_eq!(
            (s, v["Forbidden"].as_str()),
            (403, Some("Wrong email or password.")),
            "attempt {i}"
        );
    }
    let (s, v) = attempt("wrong").await;
    assert_eq!(s, 403);
    assert!(
        v["Forbidden"].as_str().expect("msg").contains("locked"),
        "{v}"
    );
    let (s, v) = attempt("a long password").await;
    assert_eq!(s, 403, "the right password is refused while locked: {v}");
    assert!(
        v["Forbidden"]
            .as_str()
            .expect("msg")
            .contains("Try again in 15 minutes"),
        "{v}"
    );
    // After the lock expires, the right password works again.
    let d = db(&app).await;
    exec(
        &d,
        "UPDATE host_accounts SET locked_until_ms = 1 WHERE email = 'lin@example.com'",
    )
    .await;
    assert_eq!(attempt("a long password").await.0, 200);
    let (s, me) = attacker.get("/api/host/me").await;
    assert_eq!((s, me["display_name"].as_str()), (200, Some("Lin")));
    assert_eq!(attacker.call("host/sign_out", &[]).await.0, 200);
    assert_eq!(attacker.get("/api/host/me").await.1, Value::Null);
    app.stop().await;
}

async fn sessions_can_be_edited_and_deleted_only_before_live(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let h = Client::new(&app);
    h.sign_up_host("Lin", "lin@example.com").await;
    let start = now_ms() + 86_400_000;
    let (s, v) = h
        .call_json(
            "studio/session/create",
            json!({ "form": session_form("", start) }),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    let (s, v) = h
        .call_json(
            "studio/session/create",
            json!({ "form": session_form("Past", now_ms() - 3_600_000) }),
        )
        .await;
    assert_eq!(
        (s, v["BadRequest"].as_str()),
        (400, Some("The start time is in the past."))
    );
    let mut bad_policy = session_form("Bad policy", start);
    bad_policy["policy"]["percent_off"] = json!(0);
    assert_eq!(
        h.call_json("studio/session/create", json!({ "form": bad_policy }))
            .await
            .0,
        400
    );

    let (s, id) = h
        .call_json(
            "studio/session/create",
            json!({ "form": session_form("Autumn skincare", start) }),
        )
        .await;
    assert_eq!(s, 200, "{id}");
    let id = id.as_i64().expect("id");
    let mut edited = session_form("Autumn skincare special", start + 3_600_000);
    edited["policy"]["percent_off"] = json!(30);
    edited["policy"]["units_cap"] = json!(100);
    assert_eq!(
        h.call_json(
            "studio/session/update",
            json!({ "session_id": id, "form": edited })
        )
        .await
        .0,
        200
    );
    let (_, s1) = h.get(&format!("/api/studio/session?session_id={id}")).await;
    assert_eq!(s1["title"], "Autumn skincare special");
    assert_eq!(s1["policy"]["percent_off"], 30);
    assert_eq!(s1["policy"]["units_cap"], 100);
    assert_eq!(s1["cover_url"], "/public/covers/default.svg");
    // The shopper side sees the new session and its policy.
    let shopper = Client::new(&app);
    let (_, list) = shopper.get("/api/sessions/list").await;
    assert!(list
        .as_array()
        .expect("list")
        .iter()
        .any(|x| x["title"] == "Autumn skincare special"));

    // Delete before live: gone. Another one goes live: no more edits or deletion.
    assert_eq!(
        h.call("studio/session/delete", &[("session_id", id.to_string())])
            .await
            .0,
        200
    );
    assert_eq!(
        h.get(&format!("/api/studio/session?session_id={id}"))
            .await
            .0,
        404
    );
    let (_, id2) = h
        .call_json(
            "studio/session/create",
            json!({ "form": session_form("Winter", start) }),
        )
        .await;
    let id2 = id2.as_i64().expect("id");
    assert_eq!(
        h.call("studio/go_live", &[("session_id", id2.to_string())])
            .await
            .0,
        200
    );
    let (s, v) = h
        .call_json(
            "studio/session/update",
            json!({ "session_id": id2, "form": session_form("Changed", start) }),
        )
        .await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(
        h.call("studio/session/delete", &[("session_id", id2.to_string())])
            .await
            .0,
        409
    );
    app.stop().await;
}

async fn products_add_edit_reorder_and_audited_price_changes(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let h = Client::new(&app);
    h.sign_up_host("Lin", "lin@example.com").await;
    let (_, sid) = h
        .call_json(
            "studio/session/create",
            json!({ "form": session_form("Three products", now_ms() + 86_400_000) }),
        )
        .await;
    let sid = sid.as_i64().expect("id");
    let mut ids = Vec::new();
    for (name, price) in [("Toner", "129.90"), ("Serum", "¥259"), ("Cream", "199.5")] {
        let (s, id) = h
            .call_json(
                "studio/product/add",
                json!({ "session_id": sid, "form": product_form(name, price, 10) }),
            )
            .await;
        assert_eq!(s, 200, "{id}");
        ids.push(id.as_i64().expect("id"));
    }
    for (price, why) in [
        ("abc", "Enter the price in yuan"),
        ("0", "more than zero"),
        ("1.234", "two decimals"),
    ] {
        let (s, v) = h
            .call_json(
                "studio/product/add",
                json!({ "session_id": sid, "form": product_form("Bad", price, 1) }),
            )
            .await;
        assert_eq!(s, 400);
        assert!(
            v["BadRequest"].as_str().expect("msg").contains(why),
            "{price}: {v}"
        );
    }
    let names = |s: &Value| {
        s["products"]
            .as_array()
            .expect("products")
            .iter()
            .map(|p| p["name"].as_str().expect("n").to_string())
            .collect::<Vec<_>>()
    };
    let (_, s) = h
        .get(&format!("/api/studio/session?session_id={sid}"))
        .await;
    assert_eq!(names(&s), ["Toner", "Serum", "Cream"]);
    assert_eq!(s["products"][0]["price"], 12_990);
    assert_eq!(s["products"][2]["price"], 19_950);

    // Reorder: Cream up, then Toner down.
    assert_eq!(
        h.call(
            "studio/product/move",
            &[("product_id", ids[2].to_string()), ("delta", "-1".into())]
        )
        .await
        .0,
        200
    );
    assert_eq!(
        h.call(
            "studio/product/move",
            &[("product_id", ids[0].to_string()), ("delta", "1".into())]
        )
        .await
        .0,
        200
    );
    let (_, s) = h
        .get(&format!("/api/studio/session?session_id={sid}"))
        .await;
    assert_eq!(names(&s), ["Cream", "Toner", "Serum"]);
    assert_eq!(
        h.call(
            "studio/product/move",
            &[("product_id", ids[0].to_string()), ("delta", "5".into())]
        )
        .await
        .0,
        400
    );

    // Delete before live.
    assert_eq!(
        h.call(
            "studio/product/delete",
            &[("product_id", ids[1].to_string())]
        )
        .await
        .0,
        200
    );
    // Live: present the toner; its price can change only with a reason, which is audited.
    assert_eq!(
        h.call("studio/go_live", &[("session_id", sid.to_string())])
            .await
            .0,
        200
    );
    assert_eq!(
        h.call("studio/present", &[("product_id", ids[0].to_string())])
            .await
            .0,
        200
    );
    assert_eq!(
        h.call(
            "studio/product/delete",
            &[("product_id", ids[2].to_string())]
        )
        .await
        .0,
        409,
        "no deleting once live"
    );
    let (s, v) = h
        .call_json(
            "studio/product/update",
            json!({ "product_id": ids[0], "form": product_form("Toner", "99.00", 10) }),
        )
        .await;
    assert_eq!(s, 409, "{v}");
    assert!(v["Conflict"]
        .as_str()
        .expect("msg")
        .contains("give a reason"));
    let mut with_reason = product_form("Toner", "99.00", 10);
    with_reason["reason"] = json!("Flash deal agreed with the brand");
    assert_eq!(
        h.call_json(
            "studio/product/update",
            json!({ "product_id": ids[0], "form": with_reason })
        )
        .await
        .0,
        200
    );
    // Stock and name edits of presented products need no reason; unpresented price edits neither.
    assert_eq!(
        h.call_json(
            "studio/product/update",
            json!({ "product_id": ids[0], "form": product_form("Rose toner", "99.00", 50) })
        )
        .await
        .0,
        200
    );
    assert_eq!(
        h.call_json(
            "studio/product/update",
            json!({ "product_id": ids[2], "form": product_form("Cream", "150", 10) })
        )
        .await
        .0,
        200
    );
    let d = db(&app).await;
    assert_eq!(scalar(&d, "SELECT COUNT(*) FROM audit_log WHERE action = 'price_change' AND reason = 'Flash deal agreed with the brand'").await, 1);
    assert_eq!(
        scalar(
            &d,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'price_change'"
        )
        .await,
        1
    );
    assert_eq!(
        scalar(
            &d,
            &format!("SELECT price_fen FROM products WHERE id = {}", ids[0])
        )
        .await,
        9_900
    );
    app.stop().await;
}

async fn uploads_are_checked_resized_and_served(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (sid, products) = demo_session(&app).await;
    let host = demo_host(&app).await;
    let (s, url) = host.upload("cover", sid, sample_png(), "cover.png").await;
    assert_eq!(s, 200, "{url}");
    let url = url.as_str().expect("url").to_string();
    assert!(url.starts_with("/media/") && url.ends_with(".jpg"), "{url}");
    let res = host
        .http
        .get(format!("{}{url}", host.base))
        .send()
        .await
        .expect("media");
    assert_eq!(res.headers()["content-type"], "image/jpeg");
    assert!(res.headers()["cache-control"]
        .to_str()
        .expect("cc")
        .contains("immutable"));
    let last_modified = res.headers()["last-modified"].clone();
    let jpeg = res.bytes().await.expect("bytes");
    assert_eq!(&jpeg[..3], &[0xFF, 0xD8, 0xFF], "re-encoded as JPEG");
    // Served as a file: ranges and conditional requests work.
    let part = host
        .http
        .get(format!("{}{url}", host.base))
        .header("range", "bytes=0-9")
        .send()
        .await
        .expect("range");
    assert_eq!(part.status(), 206);
    assert_eq!(
        part.headers()["content-range"].to_str().expect("cr"),
        format!("bytes 0-9/{}", jpeg.len())
    );
    assert_eq!(part.bytes().await.expect("bytes").len(), 10);
    let again = host
        .http
        .get(format!("{}{url}", host.base))
        .header("if-modified-since", last_modified)
        .send()
        .await
        .expect("conditional");
    assert_eq!(again.status(), 304);
    let (_, detail) = host.get(&format!("/api/sessions/get?id={sid}")).await;
    assert_eq!(detail["cover_url"].as_str(), Some(url.as_str()));
    // The poster uses the uploaded cover.
    let a = Client::new(&app);
    a.reserve(sid).await;
    let (_, inv) = a.create_invite(sid).await;
    let poster = a
        .http
        .get(format!(
            "{}{}",
            a.base,
            inv["poster_path"].as_str().expect("path")
        ))
        .send()
        .await
        .expect("poster");
    assert_eq!(poster.status(), 200);

    let (s, v) = host
        .upload("product", products[0], sample_png(), "p.png")
        .await;
    assert_eq!(s, 200, "{v}");
    // Type by content, not by name: a text file called .jpg is refused with a reason.
    let (s, v) = host
        .upload(
            "product",
            products[0],
            b"hello, not an image".to_vec(),
            "photo.jpg",
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(
        v["BadRequest"],
        "That file is not a JPEG, PNG, WebP or GIF image."
    );
    let (s, v) = host
        .upload(
            "product",
            products[0],
            vec![0xFF; 9 * 1024 * 1024],
            "huge.jpg",
        )
        .await;
    assert!(s == 400 || s == 413, "oversized upload refused: {s} {v}");
    let (s, _) = host.upload("poster", sid, sample_png(), "p.png").await;
    assert_eq!(s, 400);
    assert_eq!(
        host.http
            .get(format!("{}/media/..%2F..%2Fetc%2Fpasswd", host.base))
            .send()
            .await
            .expect("get")
            .status(),
        404
    );
    app.stop().await;
}

async fn run_of_show_dashboard_and_csv_export(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (sid, products) = demo_session(&app).await;
    let host = demo_host(&app).await;
    let a = Client::new(&app);
    a.call("me/nickname", &[("nickname", "Lin, \"the\" buyer".into())])
        .await;
    a.reserve(sid).await;
    let (_, inv) = a.create_invite(sid).await;
    let friend = Client::new(&app);
    friend.join(inv["code"].as_str().expect("code")).await;

    let (s, v) = host
        .call("studio/present_next", &[("session_id", sid.to_string())])
        .await;
    assert_eq!(s, 409, "present before live: {v}");
    host.call("studio/go_live", &[("session_id", sid.to_string())])
        .await;
    let (s, first) = host
        .call("studio/present_next", &[("session_id", sid.to_string())])
        .await;
    assert_eq!((s, first.as_i64()), (200, Some(products[0])));
    let (_, second) = host
        .call("studio/present_next", &[("session_id", sid.to_string())])
        .await;
    assert_eq!(second.as_i64(), Some(products[1]));
    assert_eq!(a.viewer(sid).await["offers"][1]["explaining_now"], true);

    let (_, o1) = friend.order(sid, products[1], 2, "csv-friend-1").await;
    let (_, o2) = a.order(sid, products[0], 1, "csv-inviter-1").await;
    assert_eq!(
        (o1["paid"].as_i64(), o2["paid"].as_i64()),
        (Some(12_950 + 25_900), Some(6_450))
    );

    assert_eq!(
        host.call(
            "studio/sold_out",
            &[("product_id", products[1].to_string())]
        )
        .await
        .0,
        200
    );
    let (s, v) = friend.order(sid, products[1], 1, "csv-friend-2").await;
    assert_eq!((s, v["Conflict"].as_str()), (409, Some("Sold out.")));

    let (s, d) = host
        .get(&format!("/api/studio/dashboard?session_id={sid}"))
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        (
            d["reservations"].as_i64(),
            d["invites_created"].as_i64(),
            d["friends_joined"].as_i64()
        ),
        (Some(2), Some(1), Some(1))
    );
    assert_eq!(
        (d["orders"].as_i64(), d["units_sold"].as_i64()),
        (Some(2), Some(3))
    );
    assert_eq!(d["gmv"].as_i64(), Some(12_950 + 25_900 + 6_450));
    assert_eq!(d["discount_given"].as_i64(), Some(12_950 + 6_450));
    assert_eq!(d["per_product"][1]["units_sold"], 2);
    assert_eq!(d["per_product"][1]["stock"], 0);
    assert!(d["viewers"].is_null());

    assert_eq!(
        host.call("studio/end", &[("session_id", sid.to_string())])
            .await
            .0,
        200
    );
    let res = host
        .http
        .get(format!("{}/studio/s/{sid}/orders.csv", host.base))
        .send()
        .await
        .expect("csv");
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = res.text().await.expect("text");
    let rows: Vec<&str> = csv.trim_end().split("\r\n").collect();
    assert_eq!(rows[0], server::export::CSV_HEADER);
    assert_eq!(rows.len(), 3, "{csv}");
    let friend_row = rows[1];
    assert!(friend_row.contains(",Vitamin C Brightening Serum 30ml,,2,259.00,518.00,129.50,388.50,joined_through_invite,"), "{friend_row}");
    assert!(
        friend_row.ends_with(inv["code"].as_str().expect("code")),
        "the invite is exported: {friend_row}"
    );
    assert!(
        rows[2].contains("\"Lin, \"\"the\"\" buyer\""),
        "quoted nickname: {}",
        rows[2]
    );
    assert!(
        rows[2].contains(",129.00,129.00,64.50,64.50,friends_joined,"),
        "{}",
        rows[2]
    );
    app.stop().await;
}

/// Only the unique email means "this email is taken": any other failure while creating the
/// account is a 500 (logged) and leaves no half-made host behind.
async fn a_failed_sign_up_is_not_called_a_taken_email(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let d = crate::common::db(&app).await;
    let hosts_before = crate::common::scalar(&d, "SELECT COUNT(*) FROM hosts").await;
    // Make the account insert fail for a reason other than a duplicate email.
    match b {
        Backend::Sqlite => {
            crate::common::exec(
                &d,
                "CREATE TRIGGER fail_accounts BEFORE INSERT ON host_accounts
                 BEGIN SELECT RAISE(ABORT, 'simulated storage failure'); END",
            )
            .await
        }
        Backend::Postgres => {
            crate::common::exec(
                &d,
                "CREATE FUNCTION fail_accounts() RETURNS trigger AS $$
                 BEGIN RAISE EXCEPTION 'simulated storage failure'; END $$ LANGUAGE plpgsql",
            )
            .await;
            crate::common::exec(
                &d,
                "CREATE TRIGGER fail_accounts BEFORE INSERT ON host_accounts
                 FOR EACH ROW EXECUTE FUNCTION fail_accounts()",
            )
            .await
        }
    }
    let c = Client::new(&app);
    let (s, v) = c
        .call(
            "host/sign_up",
            &[
                ("display_name", "New Host".into()),
                ("email", "fresh@example.com".into()),
                ("password", "a long password".into()),
            ],
        )
        .await;
    assert_eq!(s, 500, "{v}");
    assert!(
        v.get("Conflict").is_none(),
        "not reported as a taken email: {v}"
    );
    assert_eq!(
        crate::common::scalar(&d, "SELECT COUNT(*) FROM hosts").await,
        hosts_before,
        "no orphan host"
    );
    // Without the fault, a real duplicate is still a 409.
    crate::common::exec(
        &d,
        match b {
            Backend::Sqlite => "DROP TRIGGER fail_accounts",
            Backend::Postgres => "DROP TRIGGER fail_accounts ON host_accounts",
        },
    )
    .await;
    let form = || {
        vec![
            ("display_name", "New Host".to_string()),
            ("email", "dup@example.com".to_string()),
            ("password", "a long password".to_string()),
        ]
    };
    assert_eq!(Client::new(&app).call("host/sign_up", &form()).await.0, 200);
    let (s, v) = Client::new(&app).call("host/sign_up", &form()).await;
    assert_eq!(s, 409, "{v}");
    app.stop().await;
}
