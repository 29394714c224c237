//! The first paint of the pages people land on from a link (`/`, `/s/{id}`, `/i/{code}`),
//! written by the server into the shell so the session's title, host, cover and start show
//! before the Wasm bundle has arrived. It uses the app's own markup and classes; its buttons
//! are disabled (nothing works without the app). The app renders off the document and takes
//! its place in one frame once its page has its data (`app::components::first_paint`), so the
//! swap moves nothing on screen.

use shop_core::{
    i18n::{self, Locale, K},
    model::{SessionStatus, SessionSummary},
};

use crate::html::escape_html;

/// The shell with `fragment` painted in place of the loading notice: the app's mount point
/// stays (empty and hidden: the app takes its place when ready); the boot notice moves below,
/// shown only if the app cannot start (`public/boot-check.js`).
pub fn into_shell(html: &str, fragment: &str) -> String {
    let (Some(boot_at), Some(app_at)) = (html.find("<div id=\"boot\""), html.find(APP_MOUNT))
    else {
        return html.to_owned();
    };
    if app_at < boot_at {
        return html.to_owned();
    }
    let boot =
        html[boot_at..app_at]
            .trim_end()
            .replacen("class=\"boot\"", "class=\"boot boot-quiet\"", 1);
    format!(
        "{}<div id=\"first-paint\"><main class=\"app\">{fragment}</main></div>\n  \
         <div id=\"app\" hidden></div>\n  {boot}{}",
        &html[..boot_at],
        &html[app_at + APP_MOUNT.len()..]
    )
}

const APP_MOUNT: &str = "<div id=\"app\"></div>";

fn status_badge(locale: Locale, status: SessionStatus) -> String {
    let label = i18n::text(locale, status.label_key());
    format!(
        "<span class=\"badge badge-{}\">{}</span>",
        status.as_str(),
        escape_html(label)
    )
}

fn start_time(locale: Locale, s: &SessionSummary) -> String {
    let when = shop_backend::zones::describe_in(s.scheduled_start_ms, &s.time_zone, locale);
    format!(
        "<time class=\"session-time\" datetime=\"{}\">{}</time>",
        shop_backend::zones::iso_utc(s.scheduled_start_ms),
        escape_html(&when)
    )
}

/// `template`'s text around `{name}`, escaped, with `inner` (markup) in between.
fn around(template: &str, name: &str, inner: &str) -> String {
    let (before, after) = i18n::around(template, name);
    format!("{}{inner}{}", escape_html(&before), escape_html(&after))
}

/// The cover and the start of the `session-head` block (left open: callers add to it).
fn cover_and_head(locale: Locale, s: &SessionSummary, heading_id: &str, badge: bool) -> String {
    let host = around(
        i18n::text(locale, K::shop_session_host),
        "name",
        &format!("<strong>{}</strong>", escape_html(&s.host_name)),
    );
    let start = around(
        i18n::text(locale, s.status.start_key()),
        "time",
        &start_time(locale, s),
    );
    format!(
        "<img class=\"session-cover\" src=\"{cover}\" alt=\"\" width=\"800\" height=\"450\" fetchpriority=\"high\">\
         <div class=\"session-head\">{badge}<h1 id=\"{heading_id}\">{title}</h1>\
         <p class=\"session-host\">{host}</p><p class=\"session-start\">{start}</p>",
        cover = escape_html(&s.cover_url),
        badge = if badge { status_badge(locale, s.status) } else { String::new() },
        title = escape_html(&s.title),
    )
}

/// `/s/{id}`: the top bar, cover, title, host and start, and the reservation box with its
/// button disabled.
pub fn session(locale: Locale, s: &SessionSummary) -> String {
    let tx = |k| escape_html(i18n::text(locale, k));
    let action = match s.status {
        SessionStatus::Scheduled | SessionStatus::Rehearsal => format!(
            "<div class=\"reserve-actions\"><button type=\"button\" class=\"btn btn-primary\" disabled>{}</button></div>",
            tx(K::shop_session_reserve)
        ),
        SessionStatus::Live => format!(
            "<p class=\"live-banner\"><span class=\"badge badge-live\">{}</span> {}</p>",
            tx(K::shop_status_live),
            tx(K::shop_session_happening_now)
        ),
        SessionStatus::Ended => format!("<p class=\"ended-banner\">{}</p>", tx(K::shop_session_ended)),
    };
    format!(
        "<article class=\"session\" aria-labelledby=\"session-title\">\
         <header class=\"top-bar\"><a href=\"/\" class=\"back\" aria-label=\"{back}\">‹</a>\
         <span class=\"top-bar-title\">{top}</span><a href=\"/orders\" class=\"top-bar-link\">{orders}</a></header>\
         {head}</div><section class=\"reserve-box\" aria-label=\"{reservation}\">{action}</section></article>",
        back = tx(K::shop_session_back),
        top = tx(K::shop_session_top_title),
        orders = tx(K::shop_orders_title),
        head = cover_and_head(locale, s, "session-title", true),
        reservation = tx(K::shop_session_reservation),
    )
}

/// `/i/{code}`: who invites, the session, the offer, and the Join button disabled.
pub fn invite(locale: Locale, inviter: &str, s: &SessionSummary, percent_off: u8) -> String {
    let f = |k, args: &[(&str, &str)]| escape_html(&i18n::text_f(locale, k, args));
    format!(
        "<header class=\"top-bar\"><a href=\"/\" class=\"brand-link\">{brand}</a></header>\
         <section class=\"invite\" aria-labelledby=\"invite-title\">\
         <p class=\"invite-from\">{from}</p>{head}\
         <p class=\"invite-offer\">{offer}</p>\
         <button type=\"button\" class=\"btn btn-primary btn-block\" disabled>{join}</button></div></section>",
        brand = escape_html(i18n::text(locale, K::common_brand)),
        from = f(K::shop_invite_from, &[("name", inviter)]),
        head = cover_and_head(locale, s, "invite-title", false),
        offer = f(K::shop_invite_offer, &[("percent", &percent_off.to_string())]),
        join = f(K::shop_invite_join, &[("name", inviter)]),
    )
}

/// `/`: the list of live and upcoming sessions (the first cover loads first).
pub fn home(locale: Locale, sessions: &[SessionSummary]) -> String {
    let tx = |k| escape_html(i18n::text(locale, k));
    let list = if sessions.is_empty() {
        format!("<p class=\"empty\">{}</p>", tx(K::shop_home_empty))
    } else {
        let cards: String = sessions
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let products = i18n::text_p(locale, K::common_products, s.product_count, &[]);
                let loading = if i == 0 {
                    "fetchpriority=\"high\""
                } else {
                    "loading=\"lazy\""
                };
                format!(
                    "<li class=\"session-card\"><a href=\"/s/{id}\" class=\"session-card-link\">\
                     <img class=\"session-card-cover\" src=\"{cover}\" alt=\"\" {loading} width=\"400\" height=\"225\">\
                     <div class=\"session-card-body\">{badge}<h3 class=\"session-card-title\">{title}</h3>\
                     <p class=\"session-card-meta\"><span class=\"host\">{host}</span> · {start} · <span>{products}</span></p>\
                     </div></a></li>",
                    id = s.id,
                    cover = escape_html(&s.cover_url),
                    badge = status_badge(locale, s.status),
                    title = escape_html(&s.title),
                    host = escape_html(&s.host_name),
                    start = start_time(locale, s),
                    products = escape_html(&products),
                )
            })
            .collect();
        format!("<ul class=\"session-list\">{cards}</ul>")
    };
    format!(
        "<header class=\"top-bar\"><h1 class=\"brand\">{brand}</h1></header>\
         <section class=\"home\" aria-labelledby=\"home-title\"><h2 id=\"home-title\">{title}</h2>{list}</section>",
        brand = tx(K::common_brand),
        title = tx(K::shop_home_title),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use shop_core::ids::SessionId;

    const SHELL: &str = "<html><head><title>x</title></head><body>\n  \
        <div id=\"boot\" class=\"boot\" role=\"status\"><p id=\"boot-message\">Loading…</p></div>\n  \
        <div id=\"app\"></div>\n</body></html>";

    fn summary(title: &str) -> SessionSummary {
        SessionSummary {
            id: SessionId(7),
            title: title.into(),
            host_name: "Mei <Li>".into(),
            cover_url: "/public/covers/default.svg".into(),
            status: SessionStatus::Scheduled,
            scheduled_start_ms: 1_800_000_000_000,
            product_count: 16,
            time_zone: "Asia/Shanghai".into(),
            start_offset_minutes: Some(480),
        }
    }

    #[test]
    fn the_shell_paints_first_and_keeps_the_mount_point_hidden() {
        let out = into_shell(SHELL, "<p>hi</p>");
        let fp = out.find("id=\"first-paint\"").expect("first paint");
        let app = out
            .find("<div id=\"app\" hidden></div>")
            .expect("hidden mount");
        let boot = out
            .find("class=\"boot boot-quiet\"")
            .expect("quiet boot notice");
        assert!(fp < app && app < boot, "{out}");
        assert!(out.ends_with("</div>\n</body></html>"), "{out}");
        // A shell without the expected mount point is left as it is.
        assert_eq!(into_shell("<body></body>", "<p>hi</p>"), "<body></body>");
    }

    #[test]
    fn session_paint_escapes_and_disables_the_reserve_button() {
        let html = session(Locale::En, &summary("Lipstick <script>alert(1)</script>"));
        assert!(html.contains("Lipstick &lt;script&gt;"), "{html}");
        assert!(!html.contains("<script>"));
        assert!(html.contains("<strong>Mei &lt;Li&gt;</strong>"));
        assert!(html.contains("class=\"btn btn-primary\" disabled>Reserve</button>"));
        assert!(html.contains("fetchpriority=\"high\""));
        let zh = session(Locale::ZhCn, &summary("t"));
        assert!(zh.contains(i18n::text(Locale::ZhCn, K::shop_session_reserve)));
    }

    #[test]
    fn home_paint_lists_sessions_or_says_there_are_none() {
        let html = home(Locale::En, &[summary("A"), summary("B")]);
        assert_eq!(html.matches("class=\"session-card\"").count(), 2);
        assert_eq!(html.matches("fetchpriority=\"high\"").count(), 1);
        assert!(html.contains("16 products"));
        assert!(home(Locale::En, &[]).contains("class=\"empty\""));
    }

    #[test]
    fn invite_paint_names_the_inviter_and_disables_joining() {
        let html = invite(Locale::En, "Xiao <b>", &summary("S"), 50);
        assert!(html.contains("Xiao &lt;b&gt;"), "{html}");
        assert!(html.contains("50%"));
        assert!(html.contains("btn-block\" disabled>"));
        assert!(html.contains("id=\"invite-title\""));
    }
}
