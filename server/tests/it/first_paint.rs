//! The pages people land on from a link are painted by the server (`first_paint`), and the
//! studio is a bundle of its own: through real HTTP against the real server.

use crate::common::*;

both_databases!(
    session_page_paints_title_host_cover_start_and_a_disabled_reserve,
    home_and_invite_pages_paint_their_content,
    studio_paths_get_the_studio_bundle_and_shoppers_never_do,
    a_live_session_page_the_embedded_room_and_my_orders_get_the_live_room_bundle,
);

async fn page(app: &TestApp, path: &str, lang: &str) -> (u16, String) {
    let res = reqwest::Client::new()
        .get(app.url(path))
        .header("accept-language", lang)
        .send()
        .await
        .expect("page");
    let status = res.status().as_u16();
    (status, res.text().await.expect("html"))
}

async fn session_page_paints_title_host_cover_start_and_a_disabled_reserve(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (sid, _) = demo_session(&app).await;
    let (status, html) = page(&app, &format!("/s/{sid}"), "en").await;
    assert_eq!(status, 200);
    let painted = html
        .split("<div id=\"first-paint\">")
        .nth(1)
        .expect("painted first");
    assert!(painted.contains("<h1 id=\"session-title\">Xiaoxiaobao Mama live</h1>"));
    assert!(painted.contains("<strong>Sun Jing</strong>"));
    assert!(painted.contains("class=\"session-cover\" src=\"/public/covers/xiaoxiaobao-mama.svg\""));
    assert!(painted.contains("<time class=\"session-time\" datetime=\"20"));
    assert!(painted.contains("disabled>Reserve</button>"));
    // The app mounts hidden beside it; the loading notice stays for a failed start only.
    assert!(html.contains("<div id=\"app\" hidden></div>"));
    assert!(html.contains("class=\"boot boot-quiet\""));
    // The link preview is still there, and the page is in the shopper's language.
    assert!(html.contains("<meta property=\"og:title\" content=\"Xiaoxiaobao Mama live\">"));
    // The page's texts (English too: none are built into the Wasm) download beside it.
    assert!(html.contains(&format!(
        "<meta name=\"texts\" content=\"/i18n/en.json?v={}\">",
        shop_core::i18n::VERSION
    )));
    let (_, zh) = page(&app, &format!("/s/{sid}"), "zh-CN,zh;q=0.9").await;
    assert!(zh.contains("<html lang=\"zh-CN\">"));
    assert!(zh.contains("disabled>预约</button>"), "{zh}");
    assert!(!zh.contains("disabled>Reserve</button>"));
    // An unknown session: the app's not-found page (no painting), with 404.
    let (status, missing) = page(&app, "/s/987654321", "en").await;
    assert_eq!(status, 404);
    assert!(!missing.contains("first-paint"));
    app.stop().await;
}

async fn home_and_invite_pages_paint_their_content(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (sid, _) = demo_session(&app).await;
    let (status, home) = page(&app, "/", "en").await;
    assert_eq!(status, 200);
    assert!(home.contains("id=\"first-paint\""));
    assert!(home.contains(&format!(
        "<a href=\"/s/{sid}\" class=\"session-card-link\">"
    )));
    assert!(home.contains("16 products"));

    let inviter = Client::new(&app);
    assert_eq!(inviter.reserve(sid).await.0, 200);
    assert_eq!(
        inviter
            .call("me/nickname", &[("nickname", "Mei <b>".into())])
            .await
            .0,
        200
    );
    let (status, link) = inviter.create_invite(sid).await;
    assert_eq!(status, 200, "{link}");
    let code = link["code"].as_str().expect("code").to_string();
    let (status, invite) = page(&app, &format!("/i/{code}"), "en").await;
    assert_eq!(status, 200);
    let painted = invite.split("id=\"first-paint\"").nth(1).expect("painted");
    assert!(painted.contains("Mei &lt;b&gt;"), "{painted}");
    assert!(!painted.contains("<b>"));
    assert!(painted.contains("<h1 id=\"invite-title\">Xiaoxiaobao Mama live</h1>"));
    assert!(painted.contains("btn-block\" disabled>"));
    app.stop().await;
}

async fn studio_paths_get_the_studio_bundle_and_shoppers_never_do(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    for path in ["/studio", "/studio/s/1", "/studio/s/1/summary"] {
        let (status, html) = page(&app, path, "en").await;
        assert_eq!(status, 200, "{path}");
        assert!(
            html.contains("/studio-app/studio-0123456789abcdef.js"),
            "{path}"
        );
        assert!(!html.contains("/app-0123456789abcdef.js"), "{path}");
    }
    for path in ["/", "/orders", "/studios"] {
        let (_, html) = page(&app, path, "en").await;
        assert!(!html.contains("studio-app"), "{path}");
    }
    // The shells are pages, not files: only through their routes, with their headers.
    assert_eq!(app.get("/studio-app/index.html").await.status(), 404);
    // One policy allows every shell's inline scripts (by hash).
    let csp = app.get("/studio").await.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_string();
    assert_eq!(csp.matches("'sha256-").count(), 3, "{csp}");
    app.stop().await;
}

/// The live room is a bundle of its own: a session page gets it while its session is live
/// (painted first all the same), before and after that the shoppers' bundle; the embedded room
/// and "My orders" always get it.
async fn a_live_session_page_the_embedded_room_and_my_orders_get_the_live_room_bundle(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    const SHOP: &str = "/app-0123456789abcdef.js";
    const LIVE: &str = "/live-app/live-0123456789abcdef.js";
    let (sid, _) = demo_session(&app).await;
    let session_page = format!("/s/{sid}");
    let (status, before) = page(&app, &session_page, "en").await;
    assert_eq!(status, 200);
    assert!(
        before.contains(SHOP) && !before.contains("live-app"),
        "{before}"
    );
    let (_, home) = page(&app, "/", "en").await;
    assert!(home.contains(SHOP) && !home.contains("live-app"), "{home}");
    // "My orders" (what follows a purchase) is in the live room's bundle, live or not.
    let (status, orders) = page(&app, "/orders", "en").await;
    assert_eq!(status, 200);
    assert!(orders.contains(LIVE) && !orders.contains(SHOP), "{orders}");

    let host = demo_host(&app).await;
    let (status, body) = host
        .call("studio/go_live", &[("session_id", sid.to_string())])
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, live) = page(&app, &session_page, "en").await;
    assert_eq!(status, 200);
    assert!(live.contains(LIVE) && !live.contains(SHOP), "{live}");
    assert!(live.contains("id=\"first-paint\""), "{live}");
    assert!(live.contains("<h1 id=\"session-title\">Xiaoxiaobao Mama live</h1>"));
    let (status, embed) = page(&app, &format!("/embed/{sid}"), "en").await;
    assert_eq!(status, 200);
    assert!(embed.contains(LIVE) && !embed.contains(SHOP), "{embed}");
    // The shells are pages, not files.
    assert_eq!(app.get("/live-app/index.html").await.status(), 404);

    let (status, body) = host
        .call("studio/end", &[("session_id", sid.to_string())])
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, after) = page(&app, &session_page, "en").await;
    assert!(
        after.contains(SHOP) && !after.contains("live-app"),
        "{after}"
    );
    app.stop().await;
}
