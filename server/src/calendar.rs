//! "Add to calendar": an iCalendar (RFC 5545) file for a session's start.

use axum::{
    extract::{Path, State},
    http::{header, HeaderValue},
    response::{IntoResponse, Response},
};
use shop_core::ids::SessionId;

use shop_backend::repo::catalog;
use shop_core::{
    domain::time::datetime,
    error::AppError,
    i18n::{self, K},
};

use crate::{security::error_response, ServerState};

/// Sessions are planned as two-hour events.
const DURATION_MS: i64 = 2 * 3600 * 1000;

fn utc_stamp(ms: i64) -> String {
    let t = datetime(ms, 0);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// TEXT escaping (RFC 5545 3.3.11).
fn escape_text(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace(';', "\\;")
        .replace(',', "\\,")
        .replace("\r\n", "\\n")
        .replace(['\n', '\r'], "\\n")
}

/// Folds a content line at 75 octets without splitting a UTF-8 character (RFC 5545 3.1).
fn fold(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let mut width = 0;
    for c in line.chars() {
        let n = c.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += n;
    }
    out
}

pub struct Event<'a> {
    pub uid: String,
    pub title: &'a str,
    pub description: String,
    /// The reminder's text ("Starting soon: ...").
    pub alarm: String,
    pub url: &'a str,
    pub start_ms: i64,
    pub now_ms: i64,
}

pub fn ics(e: &Event<'_>) -> String {
    let lines = [
        "BEGIN:VCALENDAR".to_string(),
        "VERSION:2.0".to_string(),
        "PRODID:-//Live Shopping//Session//EN".to_string(),
        "CALSCALE:GREGORIAN".to_string(),
        "METHOD:PUBLISH".to_string(),
        "BEGIN:VEVENT".to_string(),
        format!("UID:{}", e.uid),
        format!("DTSTAMP:{}", utc_stamp(e.now_ms)),
        format!("DTSTART:{}", utc_stamp(e.start_ms)),
        format!("DTEND:{}", utc_stamp(e.start_ms + DURATION_MS)),
        format!("SUMMARY:{}", escape_text(e.title)),
        format!("DESCRIPTION:{}", escape_text(&e.description)),
        format!("URL:{}", e.url),
        "BEGIN:VALARM".to_string(),
        "ACTION:DISPLAY".to_string(),
        "TRIGGER:-PT10M".to_string(),
        format!("DESCRIPTION:{}", escape_text(&e.alarm)),
        "END:VALARM".to_string(),
        "END:VEVENT".to_string(),
        "END:VCALENDAR".to_string(),
    ];
    lines
        .iter()
        .map(|l| fold(l))
        .collect::<Vec<_>>()
        .join("\r\n")
        + "\r\n"
}

/// `GET /s/{id}/calendar.ics`
pub async fn session_ics(
    State(state): State<ServerState>,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
) -> Response {
    let locale = shop_backend::request::locale_of(&headers);
    let Ok(id) = id.parse::<SessionId>() else {
        return error_response(AppError::not_found("This live session does not exist."));
    };
    let session = match catalog::session_summary(&state.app.db, id).await {
        Ok(s) => s,
        Err(e) => return error_response(e),
    };
    let base = &state.app.settings.public_url;
    let url = format!("{base}/s/{id}");
    let host = base.split("://").nth(1).unwrap_or("live-shopping");
    let body = ics(&Event {
        uid: format!("session-{id}@{host}"),
        title: &session.title,
        // DTSTART is UTC (every calendar shows it in its owner's zone); the text names the
        // session's own time and zone, as the session page and poster do.
        description: i18n::text_f(
            locale,
            K::server_ics_description,
            &[
                ("host", &session.host_name),
                (
                    "time",
                    &shop_backend::zones::describe_in(
                        session.scheduled_start_ms,
                        &session.time_zone,
                        locale,
                    ),
                ),
                ("url", &url),
            ],
        ),
        alarm: i18n::text_f(locale, K::server_ics_alarm, &[("title", &session.title)]),
        url: &url,
        start_ms: session.scheduled_start_ms,
        now_ms: shop_backend::now_ms(),
    });
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/calendar; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"live-session-{id}.ics\""))
    {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_has_utc_times_escaped_text_and_crlf() {
        let out = ics(&Event {
            uid: "session-1@example.com".into(),
            title: "Sale; big, bigger\\best",
            description: "line1\nline2".into(),
            alarm: "Starting soon: x".into(),
            url: "https://example.com/s/1",
            start_ms: 1_795_600_620_000,
            now_ms: 0,
        });
        assert!(out.contains("DTSTART:20261125T095700Z\r\n"));
        assert!(out.contains("DTEND:20261125T115700Z\r\n"));
        assert!(out.contains("SUMMARY:Sale\\; big\\, bigger\\\\best\r\n"));
        assert!(out.contains("DESCRIPTION:line1\\nline2\r\n"));
        assert!(out.starts_with("BEGIN:VCALENDAR\r\n") && out.ends_with("END:VCALENDAR\r\n"));
    }

    #[test]
    fn long_lines_fold_at_75_octets_on_char_boundaries() {
        let line = format!("SUMMARY:{}", "小".repeat(40));
        let folded = fold(&line);
        for part in folded.split("\r\n") {
            assert!(part.len() <= 75, "{} octets", part.len());
        }
        assert_eq!(folded.replace("\r\n ", ""), line);
    }
}
