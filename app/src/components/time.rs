//! Start times in the viewer's own locale and time zone.

use leptos::prelude::*;

/// Formats epoch milliseconds with the browser's locale (Intl), e.g. "Sat, Nov 28, 8:00 PM".
#[cfg(feature = "csr")]
pub fn local_datetime(ms: i64) -> String {
    use wasm_bindgen::JsValue;
    let date = js_sys::Date::new(&JsValue::from_f64(ms as f64));
    let opts = js_sys::Object::new();
    for (k, v) in [
        ("weekday", "short"),
        ("month", "short"),
        ("day", "numeric"),
        ("hour", "numeric"),
        ("minute", "2-digit"),
    ] {
        let _ = js_sys::Reflect::set(&opts, &JsValue::from_str(k), &JsValue::from_str(v));
    }
    // The viewer's preferred language; Intl falls back to the default locale for unknown tags.
    let lang = web_sys::window()
        .and_then(|w| w.navigator().language())
        .unwrap_or_else(|| "en".to_string());
    date.to_locale_string(&lang, &opts).into()
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

/// A `<time>` element whose text is the local time and whose `datetime` is machine-readable.
#[component]
pub fn LocalTime(ms: i64) -> impl IntoView {
    let iso = iso_utc(ms);
    view! { <time datetime=iso>{local_datetime(ms)}</time> }
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
