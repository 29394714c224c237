//! Times as people read them: a session's start in the session's own time zone (named), with
//! the viewer's local time beside it where the two differ; other times in the viewer's zone,
//! named too. The browser's `Intl` does the formatting and knows the zones, so no time-zone
//! data goes into the Wasm.

use leptos::prelude::*;

/// `Intl` options for a date and time, with the zone's short name ("GMT+8", "CET").
#[cfg(feature = "csr")]
fn intl_options(zone: Option<&str>, date: bool) -> js_sys::Object {
    use wasm_bindgen::JsValue;
    let opts = js_sys::Object::new();
    let set = |k: &str, v: &str| {
        let _ = js_sys::Reflect::set(&opts, &JsValue::from_str(k), &JsValue::from_str(v));
    };
    if date {
        set("weekday", "short");
        set("month", "short");
        set("day", "numeric");
    }
    set("hour", "numeric");
    set("minute", "2-digit");
    set("timeZoneName", "short");
    if let Some(z) = zone {
        set("timeZone", z);
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

/// `ms` in `zone` (`None`: the viewer's own), e.g. "Sat, Nov 28, 8:00 PM GMT+8".
#[cfg(feature = "csr")]
fn format_in(ms: i64, zone: Option<&str>, date: bool) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    // A zone this browser does not know would make Intl throw: the viewer's zone instead.
    let zone = zone.filter(|z| offset_minutes(ms, Some(z)).is_some());
    d.to_locale_string(&viewer_language(), &intl_options(zone, date))
        .into()
}

/// Formats epoch milliseconds in the viewer's locale and zone, naming the zone.
#[cfg(feature = "csr")]
pub fn local_datetime(ms: i64) -> String {
    format_in(ms, None, true)
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

/// The offset of `zone` (`None`: the viewer's) from UTC at `ms`, in minutes, from `Intl`'s
/// civil time there.
#[cfg(feature = "csr")]
fn offset_minutes(ms: i64, zone: Option<&str>) -> Option<i64> {
    use wasm_bindgen::{JsCast, JsValue};
    let Some(zone) = zone else {
        let d = js_sys::Date::new(&JsValue::from_f64(ms as f64));
        return Some(-(d.get_timezone_offset() as i64));
    };
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
        let first = wall - offset_minutes(wall, Some(zone))? * 60_000;
        Some(wall - offset_minutes(first, Some(zone))? * 60_000)
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
    let offset = offset_minutes(ms, Some(zone)).unwrap_or(0);
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

/// A session's time: in the session's zone, named ("Sat, Nov 28, 8:00 PM GMT+8"), and the
/// viewer's own time beside it when their clocks differ then ("1:00 PM GMT+1, your time").
#[component]
pub fn SessionTime(ms: i64, #[prop(into)] zone: String) -> impl IntoView {
    let iso = iso_utc(ms);
    #[cfg(feature = "csr")]
    let (there, yours) = {
        let differs = offset_minutes(ms, Some(&zone)) != offset_minutes(ms, None);
        (
            format_in(ms, Some(&zone), true),
            differs.then(|| format_in(ms, None, false)),
        )
    };
    #[cfg(not(feature = "csr"))]
    let (there, yours) = (format!("{} ({zone})", local_datetime(ms)), None::<String>);
    view! {
        <time datetime=iso class="session-time">{there}</time>
        {yours.map(|y| view! { <span class="your-time">" · "{crate::i18n::tf(crate::i18n::K::common_your_time, &[("time", &y)])}</span> })}
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
