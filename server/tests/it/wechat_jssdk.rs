//! WeChat's JS-SDK signature (`GET /api/wechat/jssdk`): WeChat's own algorithm over a page of
//! this site, with the official account's `jsapi_ticket` fetched once and cached (one node:
//! in memory; several nodes: in Redis, one node refreshing it), or a fixed ticket; 404 where
//! no official account is set up, 400 for another site's page.

use crate::common::{wechat_pay as wx, *};

both_databases!(the_jssdk_signature_is_wechats_and_its_ticket_is_fetched_once);

/// The path and query that ask for `page`'s signature.
fn jssdk(page: &str) -> String {
    let u = reqwest::Url::parse_with_params("http://x/api/wechat/jssdk", &[("url", page)])
        .expect("url");
    format!("{}?{}", u.path(), u.query().unwrap_or(""))
}

fn check(v: &serde_json::Value, ticket: &str, page: &str) {
    assert_eq!(v["appId"], wx::APPID, "{v}");
    let expected = shop_backend::wechat::jssdk::signature(
        ticket,
        v["nonceStr"].as_str().expect("nonceStr"),
        v["timestamp"].as_i64().expect("timestamp"),
        page,
    );
    assert_eq!(v["signature"], expected.as_str(), "{v}");
}

async fn the_jssdk_signature_is_wechats_and_its_ticket_is_fetched_once(b: Backend) {
    // No official account: nothing to sign.
    let Some(plain) = spawn(b).await else { return };
    let (s, _) = Client::new(&plain).get(&jssdk(&plain.url("/s/1"))).await;
    assert_eq!(s, 404);
    plain.stop().await;

    let platform = wx::WechatPayServer::start().await;
    let opts = Options {
        extra: vec![
            ("APP_WECHAT_APPID", wx::APPID.into()),
            ("APP_WECHAT_SECRET", wx::APP_SECRET.into()),
            ("APP_WECHAT_API_BASE", platform.url()),
        ],
        ..Options::default()
    };
    let Some(app) = spawn_with(b, opts).await else {
        return;
    };
    let c = Client::new(&app);
    let page = app.url("/s/1?from=share");
    // The fragment is not signed; the same signature follows for the page without it.
    let (s, v) = c.get(&jssdk(&format!("{page}#/orders"))).await;
    assert_eq!(s, 200, "{v}");
    check(&v, wx::JSAPI_TICKET, &page);
    for _ in 0..3 {
        let (s, v) = c.get(&jssdk(&page)).await;
        assert_eq!(s, 200, "{v}");
    }
    assert_eq!(platform.fetches(), (1, 1), "one token, one ticket");
    // Another site's pages are not ours to sign.
    for other in ["https://evil.example/s/1", "javascript:alert(1)", ""] {
        let (s, v) = c.get(&jssdk(other)).await;
        assert_eq!(s, 400, "{other}: {v}");
    }
    app.stop().await;

    // A ticket someone else keeps fresh: used as it is, WeChat is never asked.
    let opts = Options {
        extra: vec![
            ("APP_WECHAT_APPID", wx::APPID.into()),
            (
                "APP_WECHAT_JSAPI_TICKET",
                "ticket-from-the-token-service".into(),
            ),
            ("APP_WECHAT_API_BASE", platform.url()),
        ],
        ..Options::default()
    };
    let Some(app) = spawn_with(b, opts).await else {
        return;
    };
    let page = app.url("/");
    let (s, v) = Client::new(&app).get(&jssdk(&page)).await;
    assert_eq!(s, 200, "{v}");
    check(&v, "ticket-from-the-token-service", &page);
    assert_eq!(platform.fetches(), (1, 1));
    app.stop().await;
}

/// Several nodes sign with one ticket, fetched by one of them and shared through Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_share_one_ticket_through_redis() {
    let platform = wx::WechatPayServer::start().await;
    let base = platform.url();
    let Some(cluster) = crate::common::cluster::Cluster::start_with(
        2,
        &[
            ("APP_WECHAT_APPID", wx::APPID),
            ("APP_WECHAT_SECRET", wx::APP_SECRET),
            ("APP_WECHAT_API_BASE", base.as_str()),
        ],
    )
    .await
    else {
        return;
    };
    for node in &cluster.nodes {
        let page = node.url("/s/1");
        let (s, v) = Client::new(node).get(&jssdk(&page)).await;
        assert_eq!(s, 200, "{v}");
        check(&v, wx::JSAPI_TICKET, &page);
    }
    assert_eq!(platform.fetches(), (1, 1), "one node fetched it for both");
}

/// WeChat's domain verification files are served from their directory at the site's root,
/// by exact name only; nothing else comes out of that directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wechat_verification_files_are_served_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("MP_verify_Ab12Cd34.txt"), "Ab12Cd34").expect("write");
    std::fs::write(dir.path().join("secret.txt"), "no").expect("write");
    let opts = Options {
        extra: vec![("APP_WECHAT_VERIFY_DIR", dir.path().display().to_string())],
        ..Options::default()
    };
    let Some(app) = spawn_with(Backend::Sqlite, opts).await else {
        return;
    };
    let get = |path: &str| {
        let url = app.url(path);
        async move {
            let res = reqwest::get(url).await.expect("get");
            let status = res.status().as_u16();
            let kind = res
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap_or("").to_string())
                .unwrap_or_default();
            (status, kind, res.text().await.unwrap_or_default())
        }
    };
    let (s, kind, body) = get("/MP_verify_Ab12Cd34.txt").await;
    assert_eq!((s, body.as_str()), (200, "Ab12Cd34"));
    assert!(kind.starts_with("text/plain"), "{kind}");
    for missing in [
        "/MP_verify_Zz99.txt",
        "/secret.txt",
        "/MP_verify_..%2Fsecret.txt",
        "/MP_verify_.txt",
        "/x/MP_verify_Ab12Cd34.txt",
    ] {
        assert_eq!(get(missing).await.0, 404, "{missing}");
    }
    app.stop().await;
}
