//! A live countdown to a session's start.

use std::time::Duration;

use leptos::prelude::*;

use crate::{
    components::browser::now_ms,
    i18n::{t, tf, K},
};

/// "2d 03:14:07", "03:14:07" or "starting now".
pub fn format_remaining(ms: i64) -> String {
    if ms <= 0 {
        return t(K::shop_countdown_starting_now);
    }
    let s = ms / 1000;
    let (d, h, m, sec) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60, s % 60);
    let time = format!("{h:02}:{m:02}:{sec:02}");
    if d > 0 {
        tf(
            K::shop_countdown_days,
            &[("days", &d.to_string()), ("time", &time)],
        )
    } else {
        time
    }
}

#[component]
pub fn Countdown(start_ms: i64) -> impl IntoView {
    let now = RwSignal::new(now_ms());
    if let Ok(handle) = set_interval_with_handle(move || now.set(now_ms()), Duration::from_secs(1))
    {
        on_cleanup(move || handle.clear());
    }
    // The sentence has the time in the middle (or at either end) in some languages.
    let text = t(K::shop_countdown_starts_in);
    let (before, after) = text.split_once("{time}").unwrap_or((&text, ""));
    let (before, after) = (before.to_string(), after.to_string());
    view! {
        <p class="countdown" role="timer" aria-live="off">
            {before} <strong>{move || format_remaining(start_ms - now.get())}</strong> {after}
        </p>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_days_hours_minutes_seconds() {
        assert_eq!(format_remaining(0), "starting now");
        assert_eq!(format_remaining(61_000), "00:01:01");
        assert_eq!(format_remaining(3_600_000 * 26 + 5_000), "1d 02:00:05");
    }
}
