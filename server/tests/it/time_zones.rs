//! Sessions' time zones: chosen in the studio (checked against the time-zone database, Asia/
//! Shanghai when none is named), given to every page that shows the start, and named wherever
//! the server writes the time itself (link previews, calendar files; posters are tested with
//! the poster renderer).

use crate::common::*;
use serde_json::json;

both_databases!(a_session_keeps_its_time_zone_and_names_it);

fn form(title: &str, start_ms: i64, zone: Option<&str>) -> serde_json::Value {
    let mut f = json!({
        "title": title,
        "description": "",
        "scheduled_start_ms": start_ms,
        "policy": { "percent_off": 50, "friends_needed": 1, "units_per_shopper": 1,
                    "units_cap": null, "purchase_limit": 5, "verified_phone_required": false },
    });
    if let Some(z) = zone {
        f["time_zone"] = json!(z);
    }
    f
}

async fn a_session_keeps_its_time_zone_and_names_it(b: Backend) {
    let Some(app) = spawn(b).await else { return };
    let host = Client::new(&app);
    host.sign_up_host("Zone Host", "zones@example.com").await;
    // A start on the minute, a week from now.
    let start = (shop_backend::now_ms() / 60_000 + 7 * 1440) * 60_000;

    // No zone named (an older client, the API): Asia/Shanghai.
    let (s, plain) = host
        .call_json(
            "studio/session/create",
            json!({ "form": form("Plain", start, None) }),
        )
        .await;
    assert_eq!(s, 200, "{plain}");
    let (_, detail) = host.get(&format!("/api/sessions/get?id={plain}")).await;
    assert_eq!(detail["time_zone"], "Asia/Shanghai");

    // A zone from the database, in any letter case: stored as the database spells it.
    let (s, rome) = host
        .call_json(
            "studio/session/create",
            json!({ "form": form("Roma", start, Some("europe/rome")) }),
        )
        .await;
    assert_eq!(s, 200, "{rome}");
    let (_, detail) = host.get(&format!("/api/sessions/get?id={rome}")).await;
    assert_eq!(detail["time_zone"], "Europe/Rome");
    let (_, studio) = host
        .get(&format!("/api/studio/session?session_id={rome}"))
        .await;
    assert_eq!(studio["time_zone"], "Europe/Rome");
    let (_, mine) = host.get("/api/studio/sessions").await;
    let listed = mine
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == rome)
        .expect("listed");
    assert_eq!(listed["time_zone"], "Europe/Rome");

    // Not a zone: 400, nothing saved.
    for bad in [
        "Mars/Olympus_Mons",
        "",
        "UTC+8",
        "Asia/Shanghai\n",
        &"A/".repeat(40),
    ] {
        let (s, v) = host
            .call_json(
                "studio/session/create",
                json!({ "form": form("Bad", start, Some(bad)) }),
            )
            .await;
        assert_eq!(s, 400, "{bad:?}: {v}");
    }
    let (s, v) = host
        .call_json(
            "studio/session/update",
            json!({ "session_id": rome, "form": form("Roma", start, Some("Nowhere")) }),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    let (_, detail) = host.get(&format!("/api/sessions/get?id={rome}")).await;
    assert_eq!(detail["time_zone"], "Europe/Rome");

    // Changed in the studio.
    let (s, v) = host
        .call_json(
            "studio/session/update",
            json!({ "session_id": rome, "form": form("Roma", start, Some("America/New_York")) }),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (_, detail) = host.get(&format!("/api/sessions/get?id={rome}")).await;
    assert_eq!(detail["time_zone"], "America/New_York");

    // The server names the zone where it writes the time: the calendar file and the link
    // preview say the session's own time and zone.
    let expected = shop_backend::zones::describe(start, "America/New_York");
    assert!(expected.contains("America/New_York"), "{expected}");
    let ics = app
        .get(&format!("/s/{rome}/calendar.ics"))
        .await
        .text()
        .await
        .unwrap();
    let unfolded = ics.replace("\r\n ", "");
    assert!(
        unfolded.contains(&expected.replace(',', "\\,")),
        "{unfolded}"
    );
    let page = app.get(&format!("/s/{rome}")).await.text().await.unwrap();
    assert!(page.contains(&expected), "the preview names the zone");
    app.stop().await;
}
