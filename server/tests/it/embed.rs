//! The embeddable live room: `/embed/{session}` may be framed only by this site and the sites
//! the session's host lists in the studio (its CSP `frame-ancestors`), the list is the host's
//! own and checked, and the room learns it from a public endpoint.

use crate::common::*;
use serde_json::json;

both_databases!(only_listed_sites_may_frame_a_room);

/// The `frame-ancestors` sources of the page at `path`, and its status.
async fn ancestors(app: &TestApp, path: &str) -> (u16, String) {
    let res = app.get(path).await;
    let status = res.status().as_u16();
    let csp = res
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert_eq!(csp.matches("frame-ancestors").count(), 1, "{csp}");
    let sources = csp
        .split(';')
        .map(str::trim)
        .find_map(|d| d.strip_prefix("frame-ancestors "))
        .unwrap_or("")
        .to_string();
    // The rest of the policy is the site's own.
    assert!(csp.contains("default-src 'self'"), "{csp}");
    (status, sources)
}

async fn only_listed_sites_may_frame_a_room(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let (sid, _) = demo_session(&app).await;
    let host = demo_host(&app).await;

    // Nobody listed yet: only this site may frame the room; the room's list is empty.
    assert_eq!(
        ancestors(&app, &format!("/embed/{sid}")).await,
        (200, "'self'".into())
    );
    let anyone = Client::new(&app);
    let (s, list) = anyone
        .get(&format!("/api/embed/origins?session_id={sid}"))
        .await;
    assert_eq!((s, list), (200, json!([])));

    // The host lists two sites (typed loosely; stored in one spelling, once).
    for typed in [
        "HTTPS://Shop.Example.com/",
        "http://localhost:3107",
        "https://shop.example.com:443",
    ] {
        let (s, v) = host
            .call("studio/embed/add", &[("origin", typed.into())])
            .await;
        assert_eq!(s, 200, "{typed}: {v}");
    }
    let expected = json!(["http://localhost:3107", "https://shop.example.com"]);
    assert_eq!(
        host.get("/api/studio/embed/origins").await,
        (200, expected.clone())
    );
    assert_eq!(
        anyone
            .get(&format!("/api/embed/origins?session_id={sid}"))
            .await,
        (200, expected)
    );
    let (s, sources) = ancestors(&app, &format!("/embed/{sid}")).await;
    assert_eq!(s, 200);
    assert_eq!(
        sources,
        "'self' http://localhost:3107 https://shop.example.com"
    );
    // Other pages keep the site's own policy.
    assert_eq!(ancestors(&app, &format!("/s/{sid}")).await.1, "'self'");

    // What is not a site address is refused, and nothing can be slipped into the policy.
    for bad in [
        "shop.example.com",
        "https://shop.example.com/path",
        "https://*.example.com",
        "https://a.example; script-src *",
        "https://a.example 'unsafe-inline'",
        "javascript://alert(1)",
        "",
    ] {
        let (s, v) = host
            .call("studio/embed/add", &[("origin", bad.into())])
            .await;
        assert_eq!(s, 400, "{bad:?}: {v}");
    }
    assert_eq!(
        ancestors(&app, &format!("/embed/{sid}")).await.1,
        "'self' http://localhost:3107 https://shop.example.com"
    );

    // Only a signed-in host changes a list, and only their own.
    let (s, _) = anyone
        .call(
            "studio/embed/add",
            &[("origin", "https://evil.example".into())],
        )
        .await;
    assert_eq!(s, 401);
    assert_eq!(anyone.get("/api/studio/embed/origins").await.0, 401);
    let other = Client::new(&app);
    other
        .sign_up_host("Other Host", "other-embed@example.com")
        .await;
    assert_eq!(
        other.get("/api/studio/embed/origins").await,
        (200, json!([]))
    );
    let (s, _) = other
        .call(
            "studio/embed/remove",
            &[("origin", "http://localhost:3107".into())],
        )
        .await;
    assert_eq!(s, 404, "another host's site is not on this host's list");
    assert!(ancestors(&app, &format!("/embed/{sid}"))
        .await
        .1
        .contains("localhost:3107"));

    // Removing a site: it may no longer frame the room.
    let (s, v) = host
        .call(
            "studio/embed/remove",
            &[("origin", "http://LOCALHOST:3107/".into())],
        )
        .await;
    assert_eq!((s, v), (200, json!(["https://shop.example.com"])));
    assert_eq!(
        ancestors(&app, &format!("/embed/{sid}")).await.1,
        "'self' https://shop.example.com"
    );
    let (s, _) = host
        .call(
            "studio/embed/remove",
            &[("origin", "http://localhost:3107".into())],
        )
        .await;
    assert_eq!(s, 404);

    // A list has a size limit (each site is a frame-ancestors source).
    for i in 0..shop_core::domain::embed::MAX_ORIGINS - 1 {
        let (s, v) = host
            .call(
                "studio/embed/add",
                &[("origin", format!("https://s{i}.example"))],
            )
            .await;
        assert_eq!(s, 200, "{v}");
    }
    let (s, v) = host
        .call(
            "studio/embed/add",
            &[("origin", "https://one-too-many.example".into())],
        )
        .await;
    assert_eq!(s, 409, "{v}");

    // No such session, or not a number: 404, and only this site may frame that page.
    assert_eq!(
        ancestors(&app, "/embed/999999").await,
        (404, "'self'".into())
    );
    assert_eq!(ancestors(&app, "/embed/abc").await, (404, "'self'".into()));
    assert_eq!(
        anyone.get("/api/embed/origins?session_id=999999").await.0,
        404
    );
    app.stop().await;
}
