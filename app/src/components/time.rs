//! Times as people read them: a session's start in the session's own time zone (named), with
//! the viewer's local time beside it where the two differ; other times in the viewer's zone,
//! named too. No time-zone data goes into the Wasm: a session's start is written in Rust from
//! the zone's offset the server sends (the shoppers' pages never touch `Intl`, whose first use
//! is slow); order times and the studio's zoned inputs use the browser's `Intl`.

use leptos::prelude::*;

/// `Intl` options for a date and time, with the zone's short name ("GMT+8", "CET").
#[cfg(feature = "csr")]
fn intl_options() -> js_sys::Object {
    use wasm_bindgen::JsValue;
    let opts = js_sys::Object::new();
    for (k, v) in [
        ("weekday", "short"),
        ("month", "short"),
        ("day", "numeric"),
        ("hour", "numeric"),
        ("minute", "2-digit"),
        ("timeZoneName", "short"),
    ] {
        let _ = js_sys::Reflect::set(&opts, &JsValue::from_str(k), &JsValue::from_str(v));
    }
    opts
}

/// The viewer's preferred language; Intl falls back to the default locale for unknown tags.
#[cfg(feature = "csr")]
fn viewer_language() -> String {
    web_sys::window()
        .and_then(|w| w.navigator().language())
        .unwrap_or_else(|| "en".to_string())
}

/// Formats epoch milliseconds in the viewer's locale and zone, naming the zone.
#[cfg(feature = "csr")]
pub fn local_datetime(ms: i64) -> String {
    js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64))
        .to_locale_string(&viewer_language(), &intl_options())
        .into()
}

/// Outside the browser (tests, server) there is no viewer locale: show UTC in ISO form.
#[cfg(not(feature = "csr"))]
pub fn local_datetime(ms: i64) -> String {
    let t = crate::domain::time::datetime(ms, 0);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year, t.month, t.day, t.hour, t.minute
    )
}

/// The offset of `zone` from UTC at `ms`, in minutes, from `Intl`'s civil time there (the
/// studio's time inputs).
#[cfg(feature = "csr")]
fn offset_minutes(ms: i64, zone: &str) -> Option<i64> {
    use wasm_bindgen::{JsCast, JsValue};
    let opts = js_sys::Object::new();
    for (k, v) in [
        ("timeZone", zone),
        ("hourCycle", "h23"),
        ("year", "numeric"),
        ("month", "numeric"),
        ("day", "numeric"),
        ("hour", "numeric"),
        ("minute", "numeric"),
    ] {
        let _ = js_sys::Reflect::set(&opts, &JsValue::from_str(k), &JsValue::from_str(v));
    }
    let locales = js_sys::Array::of1(&JsValue::from_str("en-US"));
    // `new Intl.DateTimeFormat` throws for an unknown zone: caught, not a panic.
    let intl = js_sys::Reflect::get(&js_sys::global(), &"Intl".into()).ok()?;
    let ctor: js_sys::Function = js_sys::Reflect::get(&intl, &"DateTimeFormat".into())
        .ok()?
        .dyn_into()
        .ok()?;
    let fmt = js_sys::Reflect::construct(&ctor, &js_sys::Array::of2(&locales, &opts)).ok()?;
    let fmt: js_sys::Intl::DateTimeFormat = fmt.dyn_into().ok()?;
    let parts = fmt.format_to_parts(&js_sys::Date::new(&JsValue::from_f64(ms as f64)));
    let mut civil = [0i64; 5];
    for p in parts.iter() {
        let kind = js_sys::Reflect::get(&p, &"type".into()).ok()?.as_string()?;
        let value: i64 = js_sys::Reflect::get(&p, &"value".into())
            .ok()?
            .as_string()?
            .parse()
            .unwrap_or(0);
        let i = match kind.as_str() {
            "year" => 0,
            "month" => 1,
            "day" => 2,
            "hour" => 3,
            "minute" => 4,
            _ => continue,
        };
        civil[i] = value;
    }
    let local = crate::domain::time::utc_ms(
        civil[0],
        civil[1] as u32,
        civil[2] as u32,
        civil[3] as u32,
        civil[4] as u32,
    );
    Some((local - (ms - ms.rem_euclid(60_000))) / 60_000)
}

/// Epoch milliseconds of a `datetime-local` value read as the civil time in `zone`
/// ("2026-11-28T20:00" in Asia/Shanghai is 12:00 UTC). Twice round: the zone's offset at the
/// guess, then at the answer (they differ only next to a daylight-saving change).
pub fn zoned_input_to_ms(value: &str, zone: &str) -> Option<i64> {
    let (y, mo, d, h, mi) = crate::domain::time::parse_datetime_local(value)?;
    let wall = crate::domain::time::utc_ms(y, mo, d, h, mi);
    #[cfg(feature = "csr")]
    {
        let first = wall - offset_minutes(wall, zone)? * 60_000;
        Some(wall - offset_minutes(first, zone)? * 60_000)
    }
    #[cfg(not(feature = "csr"))]
    {
        let _ = zone;
        Some(wall)
    }
}

/// The `datetime-local` value for `ms` as the civil time in `zone`.
pub fn ms_to_zoned_input(ms: i64, zone: &str) -> String {
    #[cfg(feature = "csr")]
    let offset = offset_minutes(ms, zone).unwrap_or(0);
    #[cfg(not(feature = "csr"))]
    let offset = {
        let _ = zone;
        0
    };
    let t = crate::domain::time::datetime(ms, offset);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}",
        t.year, t.month, t.day, t.hour, t.minute
    )
}

/// A `<time>` element whose text is the local time (zone named) and whose `datetime` is
/// machine-readable.
#[component]
pub fn LocalTime(ms: i64) -> impl IntoView {
    let iso = iso_utc(ms);
    view! { <time datetime=iso>{local_datetime(ms)}</time> }
}

/// A session's time: in the session's zone, named, as the server's first paint writes it
/// (`Sat 28 Nov 2026, 20:00 (UTC+08:00 Asia/Shanghai)`), and the viewer's own clock beside it
/// when it differs then (`13:00 UTC+01:00, your time`). Written in Rust from the zone's offset
/// the server sends (`offset`; `None`: written in UTC), not with `Intl`: its first use loads
/// the browser's locale data, tens of milliseconds of a phone's first task.
#[component]
pub fn SessionTime(ms: i64, #[prop(into)] zone: String, offset: Option<i64>) -> impl IntoView {
    use crate::domain::time::{describe, describe_for_viewer, named_offset};
    let locale = crate::i18n::current();
    let iso = iso_utc(ms);
    let there = describe(ms, &zone, offset, locale);
    let shown = named_offset(&zone, offset).unwrap_or(0);
    let yours = viewer_offset(ms)
        .filter(|mine| *mine != shown)
        .map(|mine| describe_for_viewer(ms, mine, shown, locale));
    view! {
        <time datetime=iso class="session-time">{there}</time>
        {yours.map(|y| view! { <span class="your-time">" · "{crate::i18n::tf(crate::i18n::K::common_your_time, &[("time", &y)])}</span> })}
    }
}

/// The viewer's offset from UTC at `ms`, in minutes (`Date`, which needs no locale data);
/// `None` outside the browser.
fn viewer_offset(ms: i64) -> Option<i64> {
    #[cfg(feature = "csr")]
    {
        let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
        Some(-(d.get_timezone_offset() as i64))
    }
    #[cfg(not(feature = "csr"))]
    {
        let _ = ms;
        None
    }
}

fn iso_utc(ms: i64) -> String {
    #[cfg(feature = "csr")]
    {
        js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64))
            .to_iso_string()
            .into()
    }
    #[cfg(not(feature = "csr"))]
    {
        local_datetime(ms).replace(' ', "T").replace("TUTC", "Z")
    }
}

#[cfg(all(test, not(feature = "csr")))]
mod tests {
    use super::*;

    #[test]
    fn utc_fallback_formats_known_instants() {
        assert_eq!(local_datetime(0), "1970-01-01 00:00 UTC");
        // 2026-11-25 09:57:00 UTC
        assert_eq!(local_datetime(1_795_600_620_000), "2026-11-25 09:57 UTC");
    }
}
