//! Orders paid through WeChat Pay (`APP_PAYMENT_PROVIDER=wechat`) against the local WeChat
//! Pay v3 server: the order waits for the shopper with what their phone needs to pay (a QR
//! code on a computer, an H5 page on another phone browser); the platform's signed,
//! encrypted notification marks it paid; a forged one or one for another amount changes
//! nothing; an order paid without a notification is found by the resolver's query, and one
//! never paid is released and closed at the platform.

use std::time::Duration;

use crate::common::{wechat_pay as wx, *};
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use serde_json::Value;

both_databases!(
    a_wechat_order_waits_for_the_shopper_and_the_notification_pays_it,
    the_resolver_asks_the_platform_and_closes_what_was_never_paid,
    inside_wechat_the_shopper_is_authorised_silently_and_pays_in_wechat,
);

const WECHAT_UA: &str = "Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 XWEB/1160065 MMWEBSDK/20231202 MicroMessenger/8.0.47.2560(0x28002F35) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64";

/// A server paying through `platform`; the key files live in the returned directory.
async fn wechat_app(
    b: Backend,
    platform: &wx::WechatPayServer,
    timeout_secs: u64,
) -> Option<(TestApp, tempfile::TempDir)> {
    let keys = tempfile::tempdir().expect("tempdir");
    let (merchant, platform_key, _) = wx::keys();
    let private = keys.path().join("apiclient_key.pem");
    let public = keys.path().join("wechatpay_public_key.pem");
    std::fs::write(
        &private,
        merchant.to_pkcs8_pem(LineEnding::LF).unwrap().as_bytes(),
    )
    .unwrap();
    std::fs::write(&public, wx::public_pem(&platform_key.to_public_key())).unwrap();
    let extra = vec![
        ("APP_PAYMENT_PROVIDER", "wechat".to_string()),
        ("APP_WECHATPAY_MCHID", wx::MCHID.into()),
        ("APP_WECHATPAY_APPID", wx::APPID.into()),
        ("APP_WECHATPAY_SERIAL_NO", wx::MERCHANT_SERIAL.into()),
        (
            "APP_WECHATPAY_PRIVATE_KEY_FILE",
            private.display().to_string(),
        ),
        (
            "APP_WECHATPAY_PLATFORM_KEY_FILE",
            public.display().to_string(),
        ),
        ("APP_WECHATPAY_PLATFORM_SERIAL", wx::PLATFORM_SERIAL.into()),
        ("APP_WECHATPAY_APIV3_KEY", wx::API_V3_KEY.into()),
        ("APP_WECHATPAY_API_BASE", platform.url()),
        ("APP_PAYMENT_TIMEOUT_SECS", timeout_secs.to_string()),
        ("APP_WECHAT_APPSECRET", wx::APP_SECRET.into()),
        ("APP_WECHAT_API_BASE", platform.url()),
        (
            "APP_WECHAT_OAUTH_URL",
            format!("{}/connect/oauth2/authorize", platform.url()),
        ),
    ];
    let app = spawn_with(
        b,
        Options {
            extra,
            ..Options::default()
        },
    )
    .await?;
    platform.notify_to(app.url("/payments/wechat/notify"));
    Some((app, keys))
}

fn phone_client(app: &TestApp, user_agent: &str) -> Client {
    Client {
        http: reqwest::Client::builder()
            .cookie_store(true)
            .user_agent(user_agent)
            // Redirects are looked at, not followed (WeChat's side is played by the test).
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        base: format!("http://{}", app.addr),
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn status_of(c: &Client, order_id: i64) -> String {
    let (s, v) = c.get("/api/orders/mine").await;
    assert_eq!(s, 200, "{v}");
    v.as_array()
        .and_then(|a| a.iter().find(|o| o["id"] == order_id))
        .map(|o| o["status"].as_str().unwrap_or("").to_string())
        .unwrap_or_default()
}

async fn a_wechat_order_waits_for_the_shopper_and_the_notification_pays_it(b: Backend) {
    let platform = wx::WechatPayServer::start().await;
    let Some((app, _keys)) = wechat_app(b, &platform, 900).await else {
        return;
    };
    let (sid, product, _) = live_presenting(&app, 1).await;
    let buyer = Client::new(&app);
    assert_eq!(buyer.reserve(sid).await.0, 200);

    // A computer: the order is held, awaiting payment, with a QR code to scan.
    let (s, v) = buyer.order(sid, product, 1, "wechat-order-0001").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "pending_payment", "{v}");
    assert_eq!(v["payment_provider"], "wechat");
    assert_eq!(v["pay"]["kind"], "qr_code", "{v}");
    let code_url = v["pay"]["code_url"].as_str().expect("code_url").to_string();
    assert!(
        code_url.starts_with("weixin://wxpay/bizpayurl?pr="),
        "{code_url}"
    );
    let id = v["id"].as_i64().expect("id");
    let no = format!("order-{id}");
    let trade = platform.trade(&no).expect("the platform has the order");
    assert_eq!(
        trade.total,
        v["paid"].as_i64().unwrap(),
        "charged what the server priced"
    );
    assert_eq!(trade.kind, "native");
    // The confirmation shows it as a QR code the server draws (WeChat Pay links only).
    let qr = app
        .get(&format!("/payments/qr.svg?data={}", urlencode(&code_url)))
        .await;
    assert_eq!(qr.status(), 200);
    assert_eq!(qr.headers()["content-type"], "image/svg+xml");
    assert!(qr.text().await.unwrap().contains("<svg"));
    for bad in [
        "https%3A%2F%2Fevil.example",
        "",
        "weixin%3A%2F%2Fwxpay%2F".repeat(40).as_str(),
    ] {
        assert_eq!(
            app.get(&format!("/payments/qr.svg?data={bad}"))
                .await
                .status(),
            400,
            "{bad}"
        );
    }
    // A retry with the same key: the same order, the same QR code (one platform order).
    let (s, again) = buyer.order(sid, product, 1, "wechat-order-0001").await;
    assert_eq!((s, again["id"].as_i64()), (200, Some(id)), "{again}");
    assert_eq!(again["pay"]["code_url"], code_url.as_str());

    // Forged (another key) or for another amount: refused, the order stays unpaid.
    let mut t = trade.clone();
    t.state = "SUCCESS".into();
    t.transaction_id = Some("4200000000000001".into());
    let url = app.url("/payments/wechat/notify");
    let body = wx::notification(
        "TRANSACTION.SUCCESS",
        "transaction",
        &wx::trade_json(&no, &t),
    );
    let (_, platform_key, stranger) = wx::keys();
    assert_eq!(
        platform.notify(&url, &body, wx::now_s(), stranger).await,
        Ok(401)
    );
    let mut cheaper = t.clone();
    cheaper.total = 1;
    let body = wx::notification(
        "TRANSACTION.SUCCESS",
        "transaction",
        &wx::trade_json(&no, &cheaper),
    );
    assert_eq!(
        platform
            .notify(&url, &body, wx::now_s(), platform_key)
            .await,
        Ok(400)
    );
    let body = wx::notification(
        "TRANSACTION.SUCCESS",
        "transaction",
        &wx::trade_json("order-999999", &t),
    );
    assert_eq!(
        platform
            .notify(&url, &body, wx::now_s(), platform_key)
            .await,
        Ok(404)
    );
    for junk in ["", "{}", "not json"] {
        let status = platform
            .notify(&url, junk, wx::now_s(), platform_key)
            .await
            .unwrap();
        assert!(status == 400 || status == 401, "{junk:?}: {status}");
    }
    assert_eq!(status_of(&buyer, id).await, "pending_payment");

    // The shopper scans and pays: the platform's notification marks the order paid.
    assert_eq!(platform.pay(&no).await, Ok(204));
    assert_eq!(status_of(&buyer, id).await, "paid");
    // The platform repeats its notification: still one paid order.
    assert_eq!(platform.pay(&no).await, Ok(204));
    assert_eq!(status_of(&buyer, id).await, "paid");
    let (s, v) = buyer.order(sid, product, 1, "wechat-order-0001").await;
    assert_eq!((s, v["status"].as_str()), (200, Some("paid")), "{v}");

    // The host refunds it through WeChat Pay: the platform gives the money back.
    let host = demo_host(&app).await;
    let (s, r) = host
        .call(
            "studio/orders/refund",
            &[
                ("order_id", id.to_string()),
                ("reason", "Out of stock".into()),
            ],
        )
        .await;
    assert_eq!((s, r.as_str()), (200, Some("refunded")), "{r}");
    let trade = platform.trade(&no).unwrap();
    assert_eq!(
        (trade.state.as_str(), trade.refunded),
        ("REFUND", trade.total)
    );
    assert_eq!(status_of(&buyer, id).await, "refunded");
    let (s, _) = host
        .call(
            "studio/orders/refund",
            &[("order_id", id.to_string()), ("reason", String::new())],
        )
        .await;
    assert_eq!(s, 409, "once");

    // Another phone browser: an H5 page that hands over to WeChat.
    let phone = phone_client(&app, "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1");
    assert_eq!(phone.reserve(sid).await.0, 200);
    let (s, v) = phone.order(sid, product, 1, "wechat-order-0002").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["pay"]["kind"], "redirect", "{v}");
    assert!(
        v["pay"]["url"]
            .as_str()
            .unwrap()
            .starts_with("https://wx.tenpay.com/"),
        "{v}"
    );
    assert_eq!(
        platform.trade(&format!("order-{}", v["id"])).unwrap().kind,
        "h5"
    );
    app.stop().await;
}

async fn the_resolver_asks_the_platform_and_closes_what_was_never_paid(b: Backend) {
    let platform = wx::WechatPayServer::start().await;
    // Three seconds to pay: the resolver looks every second.
    let Some((app, _keys)) = wechat_app(b, &platform, 3).await else {
        return;
    };
    let (sid, product, _) = live_presenting(&app, 1).await;
    let buyer = Client::new(&app);
    assert_eq!(buyer.reserve(sid).await.0, 200);
    let (_, paid) = buyer.order(sid, product, 1, "wechat-order-0101").await;
    let (_, unpaid) = buyer.order(sid, product, 1, "wechat-order-0102").await;
    let (paid, unpaid): (i64, i64) = (
        paid["id"].as_i64().expect("id"),
        unpaid["id"].as_i64().expect("id"),
    );
    // Paid, but the notification is lost: only a query can tell.
    platform.pay_silently(&format!("order-{paid}"));
    let mut statuses = (String::new(), String::new());
    for _ in 0..100 {
        statuses = (
            status_of(&buyer, paid).await,
            status_of(&buyer, unpaid).await,
        );
        if statuses.0 == "paid" && statuses.1 == "payment_failed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(statuses, ("paid".to_string(), "payment_failed".to_string()));
    // The released order can no longer be paid at the platform.
    let trade = platform.trade(&format!("order-{unpaid}")).expect("trade");
    assert_eq!(trade.state, "CLOSED");
    let late: Value = serde_json::json!(platform.pay(&format!("order-{unpaid}")).await.is_err());
    assert_eq!(late, true, "a closed order takes no payment");
    // Unless the payment raced the close: then the money goes straight back (one refund of
    // the whole amount, asked for once however often the notification comes), and the
    // released order gives nothing back a second time.
    let (_, session) = buyer.get(&format!("/api/sessions/get?id={sid}")).await;
    let stock_of = |s: &Value| {
        s["products"]
            .as_array()
            .and_then(|a| a.iter().find(|p| p["id"] == product))
            .map(|p| p["stock"].as_i64().unwrap_or(-1))
    };
    let stock_before = stock_of(&session);
    let no = format!("order-{unpaid}");
    assert_eq!(platform.pay_despite_close(&no).await, Ok(204));
    let mut refunded = None;
    for _ in 0..100 {
        let t = platform.trade(&format!("order-{unpaid}")).expect("trade");
        if t.refunded > 0 && status_of(&buyer, unpaid).await == "refunded" {
            refunded = Some(t);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let t = refunded.expect("the late payment refunded");
    assert_eq!((t.state.as_str(), t.refunded), ("REFUND", t.total));
    // The same notification again (WeChat repeats until it hears 2xx): no second refund.
    let mut paid_again = t.clone();
    paid_again.state = "SUCCESS".into();
    let body = wx::notification(
        "TRANSACTION.SUCCESS",
        "transaction",
        &wx::trade_json(&no, &paid_again),
    );
    let url = app.url("/payments/wechat/notify");
    assert_eq!(
        platform
            .notify(&url, &body, wx::now_s(), &wx::keys().1)
            .await,
        Ok(204)
    );
    let after = platform.trade(&no).expect("trade");
    assert_eq!(after.refunded, t.total, "refunded once");
    let (_, session) = buyer.get(&format!("/api/sessions/get?id={sid}")).await;
    assert_eq!(stock_of(&session), stock_before, "nothing given back twice");
    app.stop().await;
}

/// The `Location` of a redirect.
async fn location(c: &Client, path: &str) -> String {
    let res = c
        .http
        .get(format!("{}{path}", c.base))
        .send()
        .await
        .expect("request");
    let status = res.status();
    let location = res
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string());
    assert_eq!(status, 302, "{path}: {:?}", res.text().await);
    location.expect("Location")
}

fn query_param(url: &str, name: &str) -> String {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    let query = query.split('#').next().unwrap_or("");
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
        .unwrap_or_default()
}

async fn inside_wechat_the_shopper_is_authorised_silently_and_pays_in_wechat(b: Backend) {
    let platform = wx::WechatPayServer::start().await;
    let Some((app, _keys)) = wechat_app(b, &platform, 900).await else {
        return;
    };
    let (sid, product, _) = live_presenting(&app, 1).await;
    let phone = phone_client(&app, WECHAT_UA);
    let me = phone.me().await;
    assert_eq!(me["wechat_auth_needed"], true, "{me}");
    assert_eq!(phone.reserve(sid).await.0, 200);

    // The page passes through WeChat's silent authorisation (snsapi_base).
    let to_wechat = location(&phone, &format!("/wechat/auth?next=%2Fs%2F{sid}")).await;
    assert!(
        to_wechat.starts_with(&format!("{}/connect/oauth2/authorize?", platform.url())),
        "{to_wechat}"
    );
    assert_eq!(query_param(&to_wechat, "appid"), wx::APPID);
    assert_eq!(query_param(&to_wechat, "scope"), "snsapi_base");
    assert!(to_wechat.ends_with("#wechat_redirect"));
    let callback = query_param(&to_wechat, "redirect_uri");
    assert!(
        callback.ends_with("%2Fwechat%2Fauth%2Fcallback"),
        "{callback}"
    );
    let state = query_param(&to_wechat, "state");
    // Someone else's browser cannot finish this shopper's round trip.
    let other = phone_client(&app, WECHAT_UA);
    other.me().await;
    let code = platform.issue_code("oStolen0000000000000000000");
    let back = location(
        &other,
        &format!("/wechat/auth/callback?code={code}&state={state}"),
    )
    .await;
    assert_eq!(back, "/");
    // A wrong state: refused.
    let code = platform.issue_code("oForged0000000000000000000");
    let back = location(
        &phone,
        &format!("/wechat/auth/callback?code={code}&state=forged"),
    )
    .await;
    assert_eq!(back, format!("/s/{sid}?wxauth=failed"));
    assert_eq!(phone.me().await["wechat_auth_needed"], true);
    // WeChat hands back a code: the openid is kept, the shopper returns to the page.
    let to_wechat = location(&phone, &format!("/wechat/auth?next=%2Fs%2F{sid}")).await;
    let state = query_param(&to_wechat, "state");
    let code = platform.issue_code("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o");
    let back = location(
        &phone,
        &format!("/wechat/auth/callback?code={code}&state={state}"),
    )
    .await;
    assert_eq!(back, format!("/s/{sid}?wxauth=ok"));
    assert_eq!(phone.me().await["wechat_auth_needed"], false);

    // Buying inside WeChat now opens WeChat Pay in WeChat (JSAPI) for that openid.
    let (s, v) = phone.order(sid, product, 1, "wechat-order-0201").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["pay"]["kind"], "wechat_jsapi", "{v}");
    let params = v["pay"]["params"].clone();
    assert_eq!(params["appId"], wx::APPID);
    assert_eq!(params["signType"], "RSA");
    let no = format!("order-{}", v["id"]);
    let trade = platform.trade(&no).expect("trade");
    assert_eq!(
        (trade.kind.as_str(), trade.openid.as_deref()),
        ("jsapi", Some("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"))
    );
    // WeixinJSBridge checks paySign, the shopper pays, WeChat Pay notifies the server.
    assert_eq!(platform.bridge_pay(&params).await, Ok(204));
    assert_eq!(status_of(&phone, v["id"].as_i64().unwrap()).await, "paid");

    // Never back to another site.
    let to_wechat = location(&phone, "/wechat/auth?next=%2F%2Fevil.example%2F").await;
    let state = query_param(&to_wechat, "state");
    let code = platform.issue_code("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o");
    let back = location(
        &phone,
        &format!("/wechat/auth/callback?code={code}&state={state}"),
    )
    .await;
    assert_eq!(back, "/?wxauth=ok");
    // A code works once.
    let to_wechat = location(&phone, "/wechat/auth?next=%2F").await;
    let state = query_param(&to_wechat, "state");
    let back = location(
        &phone,
        &format!("/wechat/auth/callback?code={code}&state={state}"),
    )
    .await;
    assert_eq!(back, "/?wxauth=failed");
    app.stop().await;
}
