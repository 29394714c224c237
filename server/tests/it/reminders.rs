//! Reminders (issue 31) against the real server, on SQLite and PostgreSQL, through a stand-in
//! SMS gateway that checks the webhook's signature: channels chosen per shopper, "moved to",
//! "live now" and "starts in" in each shopper's language, once each; the link counts the
//! open and stops reminders; the studio's counts; two nodes on one database send each
//! reminder once.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::{json, Value};

use crate::common::{demo_host, spawn_on, spawn_with, Backend, Client, Options, TestApp};

both_databases!(
    reminders_reach_each_reserver_once_in_their_language,
    starts_soon_goes_out_at_the_lead_time,
    web_push_reaches_the_browser_and_gone_subscriptions_are_dropped,
);

const SECRET: &str = "reminder-webhook-secret";

/// A stand-in SMS gateway: checks each request's signature and keeps the JSON bodies.
#[derive(Clone, Default)]
struct Gateway {
    received: Arc<Mutex<Vec<Value>>>,
}

impl Gateway {
    async fn start() -> (Gateway, String) {
        let g = Gateway::default();
        let seen = g.received.clone();
        let router = axum::Router::new().route(
            "/sms",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
                let seen = seen.clone();
                async move {
                    let ts = headers
                        .get("x-live-timestamp")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string();
                    let sig = headers
                        .get("x-live-signature")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string();
                    let want = format!(
                        "sha256={}",
                        shop_backend::crypto::hmac_sha256_hex(
                            SECRET.as_bytes(),
                            &format!("{ts}.{body}")
                        )
                    );
                    if sig != want {
                        return axum::http::StatusCode::UNAUTHORIZED;
                    }
                    let v: Value = serde_json::from_str(&body).expect("json body");
                    seen.lock().expect("lock").push(v);
                    axum::http::StatusCode::OK
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, router).await });
        (g, format!("http://{addr}/sms"))
    }

    fn texts(&self) -> Vec<Value> {
        self.received
            .lock()
            .expect("lock")
            .iter()
            .filter(|v| v["kind"] == "text")
            .cloned()
            .collect()
    }

    fn last_code(&self, phone: &str) -> String {
        self.received
            .lock()
            .expect("lock")
            .iter()
            .rev()
            .find(|v| v["phone"] == phone && v.get("code").is_some())
            .and_then(|v| v["code"].as_str().map(String::from))
            .expect("a code was sent")
    }

    /// Waits until `n` texts arrived (at most 30 s).
    async fn wait_texts(&self, n: usize) -> Vec<Value> {
        for _ in 0..300 {
            let t = self.texts();
            if t.len() >= n {
                return t;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("expected {n} texts, got {:?}", self.texts());
    }
}

fn options(url: &str) -> Options {
    Options {
        extra: vec![
            ("APP_SMS_SENDER", "webhook".into()),
            ("APP_SMS_WEBHOOK_URL", url.into()),
            ("APP_SMS_WEBHOOK_SECRET", SECRET.into()),
            // Many codes from one address in the two-node test.
            ("APP_RATE_LIMIT_SCALE", "1000".into()),
        ],
        ..Options::default()
    }
}

/// A shopper whose browser asks for `lang`.
fn shopper(app: &TestApp, lang: &str) -> Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::ACCEPT_LANGUAGE,
        lang.parse().expect("header"),
    );
    Client {
        http: reqwest::Client::builder()
            .cookie_store(true)
            .default_headers(headers)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        base: format!("http://{}", app.addr),
    }
}

async fn verify(c: &Client, gw: &Gateway, phone: &str) {
    let (s, v) = c
        .call(
            "phone/send_code",
            &[("phone", phone.into()), ("locale", "zh-CN".into())],
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let code = gw.last_code(&format!("+86{}", phone.replace(' ', "")));
    let (s, v) = c
        .call("phone/verify", &[("phone", phone.into()), ("code", code)])
        .await;
    assert_eq!(s, 200, "{v}");
}

async fn choose(c: &Client, sms: bool) -> (u16, Value) {
    c.call(
        "reminders/choose",
        &[
            ("web_push", "false".into()),
            ("wechat", "false".into()),
            ("sms", sms.to_string()),
        ],
    )
    .await
}

async fn new_session(host: &Client, title: &str, start_ms: i64) -> i64 {
    let (s, sid) = host
        .call_json(
            "studio/session/create",
            json!({ "form": {
                "title": title, "description": "", "scheduled_start_ms": start_ms,
                "policy": { "percent_off": 50, "friends_needed": 1, "units_per_shopper": 1, "units_cap": null,
                            "purchase_limit": 5, "verified_phone_required": false }
            }}),
        )
        .await;
    assert_eq!(s, 200, "{sid}");
    sid.as_i64().expect("id")
}

fn now_ms() -> i64 {
    shop_backend::now_ms()
}

async fn reminders_reach_each_reserver_once_in_their_language(b: Backend) {
    let (gw, url) = Gateway::start().await;
    let Some(app) = spawn_with(b, options(&url)).await else {
        return;
    };
    let host = demo_host(&app).await;
    let start = now_ms() + 3 * 3_600_000;
    let sid = new_session(&host, "Spring Serum Night", start).await;
    // The product lets the session go live.
    let (s, p) = host
        .call_json(
            "studio/product/add",
            json!({ "session_id": sid, "form": { "name": "Serum", "description": "", "category": "Skincare",
                     "price": "100.00", "stock": 50, "reason": null } }),
        )
        .await;
    assert_eq!(s, 200, "{p}");

    let en = shopper(&app, "en");
    let zh = shopper(&app, "zh-CN");
    let quiet = shopper(&app, "en");
    let unverified = shopper(&app, "en");
    for (c, phone) in [
        (&en, "138 0013 8001"),
        (&zh, "139 0013 9002"),
        (&quiet, "137 0013 7003"),
    ] {
        assert_eq!(c.reserve(sid).await.0, 200);
        verify(c, &gw, phone).await;
    }
    assert_eq!(unverified.reserve(sid).await.0, 200);
    let (s, v) = choose(&unverified, true).await;
    assert_eq!(s, 409, "text messages need a verified number: {v}");
    for c in [&en, &zh] {
        let (s, v) = choose(c, true).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["channels"]["sms"], true);
        assert_eq!(v["phone_verified"], true);
    }
    let (_, v) = en.get("/api/reminders/channels").await;
    assert_eq!(
        v["channels"],
        json!({ "web_push": false, "wechat": false, "sms": true })
    );

    // The host moves the session: "moved to …" for the two who chose texts.
    let moved_to = start + 3_600_000;
    let (s, v) = host
        .call_json(
            "studio/session/update",
            json!({ "session_id": sid, "form": {
                "title": "Spring Serum Night", "description": "", "scheduled_start_ms": moved_to,
                "policy": { "percent_off": 50, "friends_needed": 1, "units_per_shopper": 1, "units_cap": null,
                            "purchase_limit": 5, "verified_phone_required": false }
            }}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let texts = gw.wait_texts(2).await;
    let to = |phone: &str| {
        texts
            .iter()
            .find(|t| t["phone"] == phone)
            .unwrap_or_else(|| panic!("a text to {phone}: {texts:?}"))
            .clone()
    };
    let en_moved = to("+8613800138001");
    let zh_moved = to("+8613900139002");
    let when_zh =
        shop_backend::zones::describe_in(moved_to, "Asia/Shanghai", shop_core::i18n::Locale::ZhCn);
    assert!(
        en_moved["text"]
            .as_str()
            .expect("text")
            .starts_with("Spring Serum Night moved to "),
        "{en_moved}"
    );
    assert!(
        zh_moved["text"]
            .as_str()
            .expect("text")
            .contains(&format!("Spring Serum Night改期至 {when_zh}")),
        "in Chinese, the time in the session's zone: {zh_moved}"
    );
    assert_eq!(zh_moved["locale"], "zh-CN");

    // Live: "live now", once each.
    assert_eq!(
        host.call("studio/go_live", &[("session_id", sid.to_string())])
            .await
            .0,
        200
    );
    let texts = gw.wait_texts(4).await;
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(gw.texts().len(), 4, "once each: {:?}", gw.texts());
    let live: Vec<&Value> = texts
        .iter()
        .filter(|t| {
            let s = t["text"].as_str().unwrap_or_default();
            s.contains("is live now") || s.contains("正在直播")
        })
        .collect();
    assert_eq!(live.len(), 2, "{texts:?}");
    let en_live = live
        .iter()
        .find(|t| t["phone"] == "+8613800138001")
        .expect("en live");
    let text = en_live["text"].as_str().expect("text");
    assert!(
        text.starts_with("Spring Serum Night is live now."),
        "{text}"
    );
    let ids: std::collections::HashSet<&str> =
        texts.iter().filter_map(|t| t["id"].as_str()).collect();
    assert_eq!(ids.len(), 4, "every message has its own id");

    // The link: counts the open, opens the session page with the token.
    let link = text.rsplit(' ').next().expect("link");
    let token = link.rsplit('/').next().expect("token");
    assert!(link.starts_with("http://"), "{link}");
    let res = en
        .http
        .get(format!("{}/r/{token}", en.base))
        .send()
        .await
        .expect("open");
    assert_eq!(res.status().as_u16(), 303);
    assert_eq!(
        res.headers()["location"].to_str().expect("location"),
        format!("/s/{sid}?reminder={token}")
    );
    // Twice is one open; a forged link is a 404.
    en.http
        .get(format!("{}/r/{token}", en.base))
        .send()
        .await
        .expect("open");
    let forged = format!("{}x", token);
    let res = en
        .http
        .get(format!("{}/r/{forged}", en.base))
        .send()
        .await
        .expect("open");
    assert_eq!(res.status().as_u16(), 404);
    let (s, stats) = host
        .get(&format!("/api/studio/reminders?session_id={sid}"))
        .await;
    assert_eq!(s, 200, "{stats}");
    let sms = stats
        .as_array()
        .expect("stats")
        .iter()
        .find(|c| c["channel"] == "sms")
        .expect("sms")
        .clone();
    assert_eq!(
        (
            sms["sent"].clone(),
            sms["opened"].clone(),
            sms["scheduled"].clone(),
            sms["failed"].clone()
        ),
        (json!(4), json!(1), json!(0), json!(0)),
        "{stats}"
    );
    // Shoppers may not read the studio's counts.
    assert_eq!(
        en.get(&format!("/api/studio/reminders?session_id={sid}"))
            .await
            .0,
        403
    );

    // One tap stops reminders, from any browser holding the link.
    let anyone = shopper(&app, "en");
    assert_eq!(
        anyone
            .call("reminders/stop", &[("token", forged.clone())])
            .await
            .0,
        404
    );
    let (s, v) = anyone
        .call("reminders/stop", &[("token", token.into())])
        .await;
    assert_eq!(s, 200, "{v}");
    let (_, v) = en.get("/api/reminders/channels").await;
    assert_eq!(v["channels"]["sms"], false, "{v}");
    app.stop().await;
}

async fn starts_soon_goes_out_at_the_lead_time(b: Backend) {
    let (gw, url) = Gateway::start().await;
    let Some(app) = spawn_with(b, options(&url)).await else {
        return;
    };
    let host = demo_host(&app).await;
    // Six minutes away, with the default lead of ten: due at once.
    let start = now_ms() + 6 * 60_000 + 20_000;
    let sid = new_session(&host, "Tea Hour", start).await;
    let later = new_session(&host, "Much Later", now_ms() + 5 * 3_600_000).await;
    let zh = shopper(&app, "zh-CN");
    verify(&zh, &gw, "139 0013 9002").await;
    assert_eq!(choose(&zh, true).await.0, 200);
    assert_eq!(zh.reserve(sid).await.0, 200);
    assert_eq!(zh.reserve(later).await.0, 200);
    let texts = gw.wait_texts(1).await;
    let text = texts[0]["text"].as_str().expect("text");
    assert!(text.starts_with("Tea Hour将在 6 分钟后开播"), "{text}");
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(
        gw.texts().len(),
        1,
        "the later session is not due: {:?}",
        gw.texts()
    );
    app.stop().await;
}

/// Two nodes on one PostgreSQL database, each with its sender loop: 40 reservers who chose
/// texts hear "live now" once each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_send_each_reminder_once() {
    let (gw, url) = Gateway::start().await;
    let Some(one) = spawn_with(Backend::Postgres, options(&url)).await else {
        return;
    };
    let two = spawn_on(
        one.database_url.clone(),
        tempfile::tempdir().expect("tempdir"),
        Options {
            demo_data: false,
            ..options(&url)
        },
    )
    .await;
    let host = demo_host(&one).await;
    let sid = new_session(&host, "Two Nodes", now_ms() + 3 * 3_600_000).await;
    let (s, _) = host
        .call_json(
            "studio/product/add",
            json!({ "session_id": sid, "form": { "name": "Serum", "description": "", "category": "Skincare",
                     "price": "100.00", "stock": 50, "reason": null } }),
        )
        .await;
    assert_eq!(s, 200);
    const N: usize = 40;
    for i in 0..N {
        let node = if i % 2 == 0 { &one } else { &two };
        let c = shopper(node, "en");
        assert_eq!(c.reserve(sid).await.0, 200);
        verify(&c, &gw, &format!("138 0000 {:04}", 1000 + i)).await;
        assert_eq!(choose(&c, true).await.0, 200);
    }
    let codes = gw.received.lock().expect("lock").len();
    assert_eq!(codes, N);
    assert_eq!(
        host.call("studio/go_live", &[("session_id", sid.to_string())])
            .await
            .0,
        200
    );
    gw.wait_texts(N).await;
    tokio::time::sleep(Duration::from_millis(3_000)).await;
    let texts = gw.texts();
    assert_eq!(texts.len(), N, "once each over two nodes");
    let phones: std::collections::HashSet<&str> =
        texts.iter().filter_map(|t| t["phone"].as_str()).collect();
    assert_eq!(phones.len(), N);
    two.stop().await;
    one.stop().await;
}

/// Web Push through the local push service, which checks the VAPID JWT and decrypts the
/// message: "live now" in the shopper's language with the reminder's link; a subscription
/// the push service calls gone (410) is dropped and the reminder marked failed.
async fn web_push_reaches_the_browser_and_gone_subscriptions_are_dropped(b: Backend) {
    let push = wechat_sim::push::PushServer::start().await;
    let (_gw, url) = Gateway::start().await;
    let mut opts = options(&url);
    opts.extra.push(("APP_PUSH_ALLOW_PRIVATE", "true".into()));
    let Some(app) = spawn_with(b, opts).await else {
        return;
    };
    let host = demo_host(&app).await;
    let add_product = |sid: i64| {
        json!({ "session_id": sid, "form": { "name": "Serum", "description": "", "category": "Skincare",
                 "price": "100.00", "stock": 50, "reason": null } })
    };
    let sid = new_session(&host, "Push Night", now_ms() + 3 * 3_600_000).await;
    assert_eq!(
        host.call_json("studio/product/add", add_product(sid))
            .await
            .0,
        200
    );
    let later = new_session(&host, "Push Again", now_ms() + 4 * 3_600_000).await;
    assert_eq!(
        host.call_json("studio/product/add", add_product(later))
            .await
            .0,
        200
    );

    let zh = shopper(&app, "zh-CN");
    zh.me().await;
    let (s, key) = zh.get("/api/reminders/push_key").await;
    assert_eq!(s, 200);
    let key = key.as_str().expect("a VAPID key").to_string();
    // What a browser's PushSubscription.toJSON() gives, from the push service.
    let sub = push.subscribe();
    let sub_id = sub["id"].as_str().expect("id").to_string();
    let (s, v) = zh
        .call(
            "reminders/push_subscribe",
            &[
                (
                    "endpoint",
                    sub["endpoint"].as_str().expect("endpoint").into(),
                ),
                (
                    "p256dh",
                    sub["keys"]["p256dh"].as_str().expect("p256dh").into(),
                ),
                ("auth", sub["keys"]["auth"].as_str().expect("auth").into()),
            ],
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["push_subscribed"], true);
    // Keys that are not a P-256 point are refused.
    let (s, _) = zh
        .call(
            "reminders/push_subscribe",
            &[
                (
                    "endpoint",
                    sub["endpoint"].as_str().expect("endpoint").into(),
                ),
                ("p256dh", "AAAA".into()),
                ("auth", sub["keys"]["auth"].as_str().expect("auth").into()),
            ],
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = zh
        .call(
            "reminders/choose",
            &[
                ("web_push", "true".into()),
                ("wechat", "false".into()),
                ("sms", "false".into()),
            ],
        )
        .await;
    assert_eq!(s, 200);
    for id in [sid, later] {
        assert_eq!(zh.reserve(id).await.0, 200);
    }

    assert_eq!(
        host.call("studio/go_live", &[("session_id", sid.to_string())])
            .await
            .0,
        200
    );
    let mut got = Vec::new();
    for _ in 0..300 {
        got = push.payloads(&sub_id);
        if !got.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(got.len(), 1, "{got:?}");
    let m = &got[0];
    assert_eq!(m["payload"]["title"], "Push Night正在直播", "{m}");
    assert_eq!(m["payload"]["body"], "点击进入直播间。");
    assert!(
        m["payload"]["url"].as_str().expect("url").contains("/r/"),
        "{m}"
    );
    assert_eq!(
        m["vapid_key"],
        key.as_str(),
        "signed with the key browsers subscribe with"
    );
    assert_eq!(m["urgency"], "high");

    // The browser's subscription expires: the next reminder drops it.
    push.expire(&sub_id);
    assert_eq!(
        host.call("studio/end", &[("session_id", sid.to_string())])
            .await
            .0,
        200
    );
    assert_eq!(
        host.call("studio/go_live", &[("session_id", later.to_string())])
            .await
            .0,
        200
    );
    let mut stats = Value::Null;
    for _ in 0..300 {
        let (_, s) = host
            .get(&format!("/api/studio/reminders?session_id={later}"))
            .await;
        stats = s;
        let web = stats
            .as_array()
            .and_then(|a| a.iter().find(|c| c["channel"] == "web_push").cloned())
            .unwrap_or(Value::Null);
        if web["failed"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let web = stats
        .as_array()
        .expect("stats")
        .iter()
        .find(|c| c["channel"] == "web_push")
        .expect("web push")
        .clone();
    assert_eq!(
        (web["failed"].clone(), web["sent"].clone()),
        (json!(1), json!(0)),
        "{stats}"
    );
    let (_, v) = zh.get("/api/reminders/channels").await;
    assert_eq!(
        v["push_subscribed"], false,
        "the gone subscription was dropped: {v}"
    );
    app.stop().await;
}
