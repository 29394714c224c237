//! A shop's team over the real API, on both databases: one-time invite links, roles, removal,
//! the audit log, and the authorization matrix: every studio server function called by every
//! role (and by anonymous callers, shoppers and another shop's owner) is refused or let
//! through exactly as `domain::team::allows` says, and a refusal changes nothing.

use serde_json::{json, Value};
use shop_core::domain::team::{allows, Permission, Role};

use app::api::endpoints::Caller;

use crate::common::{
    db, demo_host, demo_session, live_presenting, scalar, spawn, Backend, Client, TestApp,
};

both_databases!(
    an_invite_link_makes_a_member_once,
    the_owner_changes_roles_removes_members_and_reads_who_did_what,
    every_studio_function_answers_every_role_as_the_table_says,
);

/// A new member of the demo shop with `role`, through an invite link the owner made.
async fn member(app: &TestApp, owner: &Client, role: Role, email: &str) -> Client {
    let (s, v) = owner
        .call(
            "studio/team/invite",
            &[("role", role.as_str().into()), ("note", email.into())],
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let token = v["path"]
        .as_str()
        .and_then(|p| p.strip_prefix("/studio/join/"))
        .expect("an invite path")
        .to_string();
    let c = Client::new(app);
    let (s, v) = join(&c, &token, email).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["role"], role.as_str());
    c
}

async fn join(c: &Client, token: &str, email: &str) -> (u16, Value) {
    c.call(
        "team/join",
        &[
            ("token", token.into()),
            ("display_name", "Li Na".into()),
            ("email", email.into()),
            ("password", "a long password".into()),
        ],
    )
    .await
}

async fn an_invite_link_makes_a_member_once(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let owner = demo_host(&app).await;
    let (_, me) = owner.get("/api/host/me").await;
    assert_eq!(me["role"], "owner");

    // The owner cannot invite another owner, nor a role that does not exist.
    for bad in ["owner", "admin", ""] {
        let (s, _) = owner
            .call(
                "studio/team/invite",
                &[("role", bad.into()), ("note", "".into())],
            )
            .await;
        assert_eq!(s, 400, "role {bad:?}");
    }
    let (s, v) = owner
        .call(
            "studio/team/invite",
            &[("role", "moderator".into()), ("note", "Xiao Mei".into())],
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let path = v["path"].as_str().expect("path").to_string();
    let token = path.trim_start_matches("/studio/join/").to_string();
    // Only the hash is kept.
    let d = db(&app).await;
    assert_eq!(
        scalar(
            &d,
            &format!("SELECT COUNT(*) FROM team_invites WHERE token_hash = '{token}'")
        )
        .await,
        0
    );

    // The join page names the shop and the role; a wrong token learns nothing.
    let visitor = Client::new(&app);
    let (s, info) = visitor
        .get(&format!("/api/team/invite?token={token}"))
        .await;
    assert_eq!(s, 200, "{info}");
    assert_eq!(info["role"], "moderator");
    assert!(info["shop_name"].as_str().is_some_and(|n| !n.is_empty()));
    let (s, _) = visitor.get("/api/team/invite?token=not-a-token").await;
    assert_eq!(s, 404);

    // A taken email is a 409 and leaves the invite usable.
    let (s, _) = join(&visitor, &token, server::demo::DEMO_HOST_EMAIL).await;
    assert_eq!(s, 409);
    let (s, v) = join(&visitor, &token, "mei@example.com").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["role"], "moderator");
    assert_eq!(
        v["host_id"], me["host_id"],
        "the member acts for the inviting shop"
    );
    // Used once: a second person with the same link is refused, and so is a retry.
    let other = Client::new(&app);
    let (s, _) = join(&other, &token, "other@example.com").await;
    assert_eq!(s, 404);
    let (s, _) = other.get(&format!("/api/team/invite?token={token}")).await;
    assert_eq!(s, 404);

    // The member sees the shop's sessions but cannot manage its team.
    let (s, sessions) = visitor.get("/api/studio/sessions").await;
    assert_eq!(s, 200);
    assert!(!sessions.as_array().expect("list").is_empty());
    let (s, _) = visitor
        .call(
            "studio/team/invite",
            &[("role", "analyst".into()), ("note", "".into())],
        )
        .await;
    assert_eq!(s, 403);
    let (s, _) = visitor.get("/api/studio/team").await;
    assert_eq!(s, 403);

    // A revoked invite cannot be used.
    let (_, v) = owner
        .call(
            "studio/team/invite",
            &[("role", "analyst".into()), ("note", "".into())],
        )
        .await;
    let id = v["invite"]["id"].as_str().expect("id").to_string();
    let token2 = v["path"]
        .as_str()
        .expect("path")
        .trim_start_matches("/studio/join/")
        .to_string();
    let (s, _) = owner
        .call("studio/team/revoke", &[("id", id.clone())])
        .await;
    assert_eq!(s, 200);
    let (s, _) = owner.call("studio/team/revoke", &[("id", id)]).await;
    assert_eq!(s, 404);
    let (s, _) = join(&Client::new(&app), &token2, "late@example.com").await;
    assert_eq!(s, 404);

    // Shoppers and anonymous callers do not reach the team.
    let shopper = Client::new(&app);
    shopper.me().await;
    assert_eq!(shopper.get("/api/studio/team").await.0, 403);
    assert_eq!(Client::new(&app).get("/api/studio/team").await.0, 401);
    app.stop().await;
}

async fn the_owner_changes_roles_removes_members_and_reads_who_did_what(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let owner = demo_host(&app).await;
    let (sid, _) = demo_session(&app).await;
    let m = member(&app, &owner, Role::Analyst, "ana@example.com").await;
    // An analyst reads figures but cannot go live.
    assert_eq!(
        m.get(&format!("/api/studio/dashboard?session_id={sid}"))
            .await
            .0,
        200
    );
    let (s, _) = m
        .call("studio/go_live", &[("session_id", sid.to_string())])
        .await;
    assert_eq!(s, 403);

    let (_, team) = owner.get("/api/studio/team").await;
    let members = team["members"].as_array().expect("members");
    assert_eq!(members.len(), 2);
    assert_eq!(members[0]["role"], "owner");
    let account = members[1]["account_id"].as_i64().expect("id");
    // The owner cannot be demoted or removed, nor given to someone else.
    let owner_account = members[0]["account_id"].as_i64().expect("id");
    let (s, _) = owner
        .call(
            "studio/team/role",
            &[
                ("account_id", owner_account.to_string()),
                ("role", "analyst".into()),
            ],
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = owner
        .call(
            "studio/team/role",
            &[
                ("account_id", account.to_string()),
                ("role", "owner".into()),
            ],
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = owner
        .call(
            "studio/team/remove",
            &[("account_id", owner_account.to_string())],
        )
        .await;
    assert_eq!(s, 409);

    // Promoted to producer: the same sign-in may go live now.
    let (s, _) = owner
        .call(
            "studio/team/role",
            &[
                ("account_id", account.to_string()),
                ("role", "producer".into()),
            ],
        )
        .await;
    assert_eq!(s, 200);
    let (s, v) = m
        .call("studio/go_live", &[("session_id", sid.to_string())])
        .await;
    assert_eq!(s, 200, "{v}");

    // Who did what, newest first, with the member's email.
    let (s, log) = owner.get("/api/studio/team/audit").await;
    assert_eq!(s, 200, "{log}");
    let log = log.as_array().expect("log");
    assert_eq!(log[0]["action"], "studio/go_live");
    assert_eq!(log[0]["actor"], "ana@example.com");
    assert_eq!(log[0]["detail"], format!("session_id={sid}"));
    assert!(log
        .iter()
        .any(|e| e["action"] == "team role" && e["actor"] == server::demo::DEMO_HOST_EMAIL));
    assert!(log
        .iter()
        .any(|e| e["action"] == "team join" && e["actor"] == "ana@example.com"));
    // Pages: the line before the oldest shown.
    let oldest = log.last().expect("a line")["id"].as_i64().expect("id");
    let (s, older) = owner
        .get(&format!("/api/studio/team/audit?before={oldest}"))
        .await;
    assert_eq!(s, 200);
    assert!(older
        .as_array()
        .expect("page")
        .iter()
        .all(|e| e["id"].as_i64() < Some(oldest)));

    // Removed: the member's sign-in ends at once.
    let (s, _) = owner
        .call("studio/team/remove", &[("account_id", account.to_string())])
        .await;
    assert_eq!(s, 200);
    assert_eq!(m.get("/api/studio/sessions").await.0, 401);
    let (_, team) = owner.get("/api/studio/team").await;
    assert_eq!(team["members"].as_array().expect("members").len(), 1);
    app.stop().await;
}

/// Arguments for a studio function that let it run for a caller it allows: the shop's
/// session, product and order (or throwaway ones for what removes them).
fn request_for(path: &str, sid: i64, pid: i64, oid: i64, spare_sid: i64, spare_pid: i64) -> Req {
    let f = |pairs: &[(&str, String)]| {
        Req::Form(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    };
    let s = sid.to_string();
    let session_form = json!({
        "title": "Matrix", "description": "", "scheduled_start_ms": shop_backend::now_ms() + 86_400_000,
        "policy": { "percent_off": 50, "friends_needed": 1, "units_per_shopper": 1, "units_cap": null, "purchase_limit": 5 }
    });
    let product_form = json!({ "name": "Serum", "description": "", "category": "Skincare", "price": "99.00", "stock": 5, "reason": "matrix" });
    match path {
        "/api/live/chat/delete" => f(&[("session_id", s), ("message_id", "1".into())]),
        "/api/live/mute" => f(&[("session_id", s), ("shopper_id", "1".into())]),
        "/api/live/rules" | "/api/live/held" | "/api/studio/session" | "/api/studio/dashboard" => {
            Req::Get(format!("session_id={sid}"))
        }
        "/api/studio/orders" => Req::Get(format!("session_id={sid}&filter=all")),
        "/api/studio/team/audit"
        | "/api/studio/team"
        | "/api/studio/sessions"
        | "/api/studio/embed/origins"
        | "/api/studio/restream/list" => Req::Get(String::new()),
        "/api/live/rules/save" => Req::Json(json!({ "session_id": sid, "rules": {
            "refuse": "", "hold": "", "slow_mode_secs": 0, "verified_only": false } })),
        "/api/live/held/decide" => f(&[
            ("session_id", s),
            ("id", "1".into()),
            ("allow", "false".into()),
        ]),
        "/api/studio/session/create" => Req::Json(json!({ "form": session_form })),
        "/api/studio/session/update" => {
            Req::Json(json!({ "session_id": sid, "form": session_form }))
        }
        "/api/studio/session/delete" => f(&[("session_id", spare_sid.to_string())]),
        "/api/studio/product/add" => Req::Json(json!({ "session_id": sid, "form": product_form })),
        "/api/studio/product/update" => {
            Req::Json(json!({ "product_id": pid, "form": product_form }))
        }
        "/api/studio/product/variants" => Req::Json(json!({ "product_id": pid, "variants": [] })),
        "/api/studio/product/delete" => f(&[("product_id", spare_pid.to_string())]),
        "/api/studio/product/move" => f(&[("product_id", pid.to_string()), ("delta", "1".into())]),
        "/api/studio/upload" => Req::Upload(pid),
        "/api/studio/embed/add" | "/api/studio/embed/remove" => {
            f(&[("origin", "https://shop.example.com".into())])
        }
        "/api/studio/restream/add" => f(&[
            ("name", "Matrix".into()),
            ("url", "rtmp://203.0.113.7/live".into()),
            ("key", "matrix-key-123".into()),
        ]),
        "/api/studio/restream/enable" => f(&[("id", "1".into()), ("enabled", "false".into())]),
        "/api/studio/restream/delete" => f(&[("id", "999999".into())]),
        "/api/studio/go_live" | "/api/studio/present_next" | "/api/studio/broadcast" => {
            f(&[("session_id", s)])
        }
        "/api/studio/end" => f(&[("session_id", spare_sid.to_string())]),
        "/api/studio/rehearse" => {
            f(&[("session_id", spare_sid.to_string()), ("on", "true".into())])
        }
        "/api/studio/present" | "/api/studio/sold_out" => f(&[("product_id", pid.to_string())]),
        "/api/studio/orders/refund" => {
            f(&[("order_id", oid.to_string()), ("reason", "matrix".into())])
        }
        "/api/studio/orders/ship" => f(&[
            ("order_id", oid.to_string()),
            ("carrier", "SF".into()),
            ("tracking_no", "SF1234567890".into()),
        ]),
        "/api/studio/orders/import_tracking" => f(&[
            ("session_id", s),
            ("csv", "order_id,carrier,tracking_number\n".into()),
        ]),
        "/api/studio/team/invite" => f(&[("role", "analyst".into()), ("note", "".into())]),
        "/api/studio/team/revoke" => f(&[("id", "none".into())]),
        "/api/studio/team/role" | "/api/studio/team/remove" => {
            f(&[("account_id", "999999".into()), ("role", "analyst".into())])
        }
        "/api/draws/open" => Req::Json(json!({ "session_id": sid, "form": {
            "prize": "Serum 30 ml", "product_id": pid, "winners": 1, "countdown_secs": 60,
            "rules": {} } })),
        "/api/draws/close" => f(&[("session_id", s), ("draw_id", "999999".into())]),
        "/api/draws/list" | "/api/studio/coupons" | "/api/studio/reminders" => {
            Req::Get(format!("session_id={sid}"))
        }
        "/api/studio/coupons/drop" => Req::Json(json!({ "session_id": sid, "form": {
            "percent": false, "value": 500, "min_spend_fen": 0, "quota": 10, "minutes": 10 } })),
        "/api/studio/coupons/withdraw" => f(&[("session_id", s), ("coupon_id", "999999".into())]),
        "/api/live/pin" => f(&[("session_id", s), ("text", "Matrix".into())]),
        "/api/live/reports" => Req::Get(format!("session_id={sid}")),
        "/api/live/reports/decide" => f(&[
            ("session_id", s),
            ("message_id", "999".into()),
            ("remove", "false".into()),
            ("mute", "false".into()),
        ]),
        // A function added without arguments here still meets the gate: the session id.
        _ => f(&[("session_id", s)]),
    }
}

enum Req {
    Get(String),
    Form(Vec<(String, String)>),
    Json(Value),
    Upload(i64),
}

async fn send(c: &Client, path: &str, req: &Req) -> (u16, Value) {
    let endpoint = path.trim_start_matches("/api/");
    match req {
        Req::Get(q) => c.get(&format!("{path}?{q}")).await,
        Req::Form(pairs) => {
            let pairs: Vec<(&str, String)> =
                pairs.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
            c.call(endpoint, &pairs).await
        }
        Req::Json(v) => c.call_json(endpoint, v.clone()).await,
        Req::Upload(pid) => {
            c.upload("product", *pid, crate::common::sample_png(), "p.png")
                .await
        }
    }
}

/// What the refused calls must not change.
async fn footprint(app: &TestApp) -> Vec<i64> {
    let d = db(app).await;
    let mut out = Vec::new();
    for sql in [
        "SELECT COUNT(*) FROM live_sessions",
        "SELECT COUNT(*) FROM live_sessions WHERE status = 'scheduled'",
        "SELECT COUNT(*) FROM products",
        "SELECT CAST(COALESCE(SUM(stock), 0) AS BIGINT) FROM products",
        "SELECT CAST(COALESCE(SUM(position * id), 0) AS BIGINT) FROM products",
        "SELECT COUNT(*) FROM products WHERE presented_at_ms IS NOT NULL",
        "SELECT COUNT(*) FROM refunds",
        "SELECT COUNT(*) FROM shipments",
        "SELECT COUNT(*) FROM team_invites",
        "SELECT COUNT(*) FROM team_members",
        "SELECT COUNT(*) FROM embed_origins",
        "SELECT COUNT(*) FROM restream_destinations",
        "SELECT COUNT(*) FROM chat_mutes",
        "SELECT COUNT(*) FROM uploads",
        "SELECT COUNT(*) FROM audit_log",
        "SELECT COUNT(*) FROM live_pins",
        "SELECT COUNT(*) FROM chat_reports WHERE state = 'open'",
        "SELECT COUNT(*) FROM draws",
        "SELECT COUNT(*) FROM coupons",
    ] {
        out.push(scalar(&d, sql).await);
    }
    out
}

async fn every_studio_function_answers_every_role_as_the_table_says(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    // Live, presenting: an order to refund and ship.
    let (sid, pid, owner) = live_presenting(&app, 0).await;
    let buyer = Client::new(&app);
    buyer.reserve(sid).await;
    let (s, o) = buyer.order(sid, pid, 1, "matrix-order-0001").await;
    assert_eq!(s, 200, "{o}");
    let oid = o["id"].as_i64().expect("order id");

    let mut clients: Vec<(Role, Client)> = vec![(Role::Owner, owner)];
    for (i, role) in [Role::Producer, Role::Moderator, Role::Analyst]
        .into_iter()
        .enumerate()
    {
        let c = member(&app, &clients[0].1, role, &format!("m{i}@example.com")).await;
        clients.push((role, c));
    }
    let anonymous = Client::new(&app);
    let shopper = Client::new(&app);
    shopper.me().await;
    let stranger = Client::new(&app);
    stranger
        .sign_up_host("Another shop", "other-shop@example.com")
        .await;

    let mut checked = 0;
    let mut failures = Vec::new();
    for ep in app::api::endpoints::all() {
        let Caller::Host(permission) = ep.caller else {
            continue;
        };
        // Throwaway targets for the calls that remove or end something.
        let (_, spare) = clients[0]
            .1
            .call_json("studio/session/create", json!({ "form": {
                "title": "Spare", "description": "", "scheduled_start_ms": shop_backend::now_ms() + 86_400_000,
                "policy": { "percent_off": 50, "friends_needed": 1, "units_per_shopper": 1, "units_cap": null, "purchase_limit": 5 } } }))
            .await;
        let spare_sid = spare.as_i64().expect("spare session");
        let (_, spare_p) = clients[0]
            .1
            .call_json("studio/product/add", json!({ "session_id": sid, "form": {
                "name": "Spare", "description": "", "category": "Skincare", "price": "9.00", "stock": 1, "reason": null } }))
            .await;
        let spare_pid = spare_p.as_i64().expect("spare product");
        let req = request_for(ep.path, sid, pid, oid, spare_sid, spare_pid);

        // Refused callers first, with nothing changed.
        let before = footprint(&app).await;
        let (s, _) = send(&anonymous, ep.path, &req).await;
        if s != 401 {
            failures.push(format!("{} anonymous: {s}", ep.path));
        }
        // Another shop's owner may use their own shop's functions (its sessions, team and
        // settings); everything naming this shop's session, product or order is refused.
        let own_scope = matches!(
            ep.path,
            "/api/studio/sessions"
                | "/api/studio/session/create"
                | "/api/studio/team"
                | "/api/studio/team/audit"
                | "/api/studio/team/invite"
                | "/api/studio/team/revoke"
                | "/api/studio/team/role"
                | "/api/studio/team/remove"
                | "/api/studio/embed/origins"
                | "/api/studio/embed/add"
                | "/api/studio/embed/remove"
                | "/api/studio/restream/list"
                | "/api/studio/restream/add"
                | "/api/studio/restream/enable"
                | "/api/studio/restream/delete"
        );
        let (s, v) = send(&shopper, ep.path, &req).await;
        if s != 403 {
            failures.push(format!("{} shopper: {s} {v}", ep.path));
        }
        if !own_scope {
            let (s, v) = send(&stranger, ep.path, &req).await;
            if s != 403 && s != 404 {
                failures.push(format!("{} another shop's owner: {s} {v}", ep.path));
            }
        }
        for (role, c) in &clients[1..] {
            if !allows(*role, permission) {
                let (s, v) = send(c, ep.path, &req).await;
                if s != 403 {
                    failures.push(format!("{} {role:?}: {s} {v}", ep.path));
                }
            }
        }
        let after = footprint(&app).await;
        if before != after && ep.path != "/api/studio/session/create" {
            failures.push(format!(
                "{}: a refused call changed {before:?} -> {after:?}",
                ep.path
            ));
        }
        // Allowed roles get past every check (their answer may still be a 400, 404 or 409
        // about the arguments, never a 401 or 403).
        for (role, c) in &clients {
            if allows(*role, permission) {
                let (s, v) = send(c, ep.path, &req).await;
                if s == 401 || s == 403 || s >= 500 {
                    failures.push(format!("{} {role:?} (allowed): {s} {v}", ep.path));
                }
            }
        }
        checked += 1;
    }
    assert!(
        checked >= 40,
        "only {checked} studio functions in the table"
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Every permission is used by some function.
    for p in Permission::ALL {
        assert!(
            app::api::endpoints::all()
                .iter()
                .any(|e| e.caller == Caller::Host(p)),
            "{p:?} guards no function"
        );
    }
    app.stop().await;
}
