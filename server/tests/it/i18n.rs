//! The server speaks the caller's language: the browser's text catalogues per locale, error
//! messages, link previews, calendar files and the orders CSV in zh-CN, en or it (the
//! `ls_locale` cookie first, then `Accept-Language`).

use crate::common::*;
use shop_core::i18n::{self, Locale, K};

both_databases!(texts_in_the_callers_language);

async fn get(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
    let mut req = app.client.get(app.url(path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    let cache = res
        .headers()
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, cache, res.text().await.unwrap_or_default())
}

async fn texts_in_the_callers_language(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (sid, _) = demo_session(&app).await;

    // The browser's catalogue: every text, in key order; cached for good under its version.
    let (s, cache, body) = get(&app, &format!("/i18n/zh-CN.json?v={}", i18n::VERSION), &[]).await;
    assert_eq!(s, 200);
    assert!(cache.contains("immutable"), "{cache}");
    let texts: Vec<String> = serde_json::from_str(&body).expect("a JSON array");
    assert_eq!(texts.len(), i18n::COUNT);
    assert_eq!(
        texts[K::common_try_again as usize],
        i18n::text(Locale::ZhCn, K::common_try_again)
    );
    let (s, cache, _) = get(&app, "/i18n/it.json", &[]).await;
    assert_eq!((s, cache.as_str()), (200, "no-cache"));
    for bad in ["/i18n/de.json", "/i18n/zh-CN", "/i18n/..%2Fsecret.json"] {
        assert_eq!(get(&app, bad, &[]).await.0, 404, "{bad}");
    }

    // Error messages: English by default, the browser's language, or the shopper's choice.
    let missing = "/api/sessions/get?id=999999";
    let english = "This live session does not exist.";
    let message = |body: &str| -> String {
        let v: serde_json::Value = serde_json::from_str(body).expect("JSON error");
        v["NotFound"].as_str().unwrap_or_default().to_string()
    };
    let (s, _, body) = get(&app, missing, &[]).await;
    assert_eq!((s, message(&body).as_str()), (404, english));
    let chinese = i18n::translate_message(Locale::ZhCn, english).expect("in the catalogue");
    assert_ne!(chinese, english);
    let (s, _, body) = get(
        &app,
        missing,
        &[("accept-language", "zh-CN,zh;q=0.9,en;q=0.8")],
    )
    .await;
    assert_eq!((s, message(&body)), (404, chinese));
    let italian = i18n::translate_message(Locale::It, english).expect("in the catalogue");
    let (_, _, body) = get(
        &app,
        missing,
        &[("accept-language", "zh-CN"), ("cookie", "ls_locale=it")],
    )
    .await;
    assert_eq!(message(&body), italian);

    // Link previews and the calendar file.
    let (_, _, page) = get(&app, &format!("/s/{sid}"), &[("accept-language", "zh-CN")]).await;
    assert!(page.contains("的直播带货"), "a Chinese preview");
    let (_, _, page) = get(&app, &format!("/s/{sid}"), &[]).await;
    assert!(page.contains("Live shopping with"), "an English preview");
    let (_, _, ics) = get(
        &app,
        &format!("/s/{sid}/calendar.ics"),
        &[("cookie", "ls_locale=zh-CN")],
    )
    .await;
    assert!(ics.contains("即将开播"), "{ics}");

    // The orders CSV's column names in the host's language.
    let host = demo_host(&app).await;
    let csv = host
        .http
        .get(format!("{}/studio/s/{sid}/orders.csv", host.base))
        .header("accept-language", "zh-CN")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.starts_with("订单号,"), "{csv}");
    app.stop().await;
}
