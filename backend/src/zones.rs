//! IANA time zones, from the time-zone database bundled into the server (`jiff`): a session's
//! zone is checked when saved, and its times are written in it on posters and calendar files.
//! The browser formats times itself (`Intl`), so no zone data goes into the Wasm client.

use crate::error::Result;
use crate::{error::AppError, i18n::Locale};

/// The zone's name as the database spells it (`asia/shanghai` is `Asia/Shanghai`), or 400.
pub fn canonical(name: &str) -> Result<String> {
    let unknown = || {
        AppError::bad_request(format!(
            "\"{}\" is not a time zone; choose one like Asia/Shanghai.",
            name.chars().take(64).collect::<String>()
        ))
    };
    if name.is_empty() || name.len() > 64 {
        return Err(unknown().into());
    }
    let tz = jiff::tz::TimeZone::get(name).map_err(|_| unknown())?;
    Ok(tz.iana_name().unwrap_or(name).to_string())
}

/// The civil date and time of `ms` in `zone` and its offset from UTC in minutes then
/// (`None`: an unknown zone, or an instant out of range).
pub fn local(ms: i64, zone: &str) -> Option<(crate::domain::time::DateTime, i64)> {
    let tz = jiff::tz::TimeZone::get(zone).ok()?;
    let ts = jiff::Timestamp::from_millisecond(ms).ok()?;
    let offset_minutes = i64::from(tz.to_offset(ts).seconds()) / 60;
    Some((
        crate::domain::time::datetime(ms, offset_minutes),
        offset_minutes,
    ))
}

/// `Sat 28 Nov 2026, 20:00 (UTC+08:00 Asia/Shanghai)`: the instant in the session's zone,
/// named by its offset then and its IANA name (posters, calendar files, link previews). An
/// unknown zone is written in UTC.
pub fn describe(ms: i64, zone: &str) -> String {
    describe_in(ms, zone, Locale::En)
}

/// [`describe`] with the date written as `locale` writes it (`2026年11月28日 周六 20:00`,
/// `sab 28 nov 2026, 20:00`): the same text the browser writes (`components::time`).
pub fn describe_in(ms: i64, zone: &str, locale: Locale) -> String {
    crate::domain::time::describe(ms, zone, offset_at(ms, zone), locale)
}

/// The zone's offset from UTC at `ms` in minutes (`None`: an unknown zone), sent with a
/// session so the browser writes its times without a zone database.
pub fn offset_at(ms: i64, zone: &str) -> Option<i64> {
    local(ms, zone).map(|(_, offset)| offset)
}

/// [`describe`] in parts, for a layout that sets them apart, with the date written as `locale`
/// writes it: the civil date and time, the offset then (`UTC+08:00`, or `UTC`), and the
/// zone's IANA name (`None` for UTC, or an unknown zone, written in UTC).
pub fn describe_parts_in(ms: i64, zone: &str, locale: Locale) -> (String, String, Option<String>) {
    use crate::domain::time::{datetime, named_offset, written};
    let offset = named_offset(zone, offset_at(ms, zone));
    let at = offset.unwrap_or(0);
    (
        written(&datetime(ms, at), locale, true),
        utc_offset(at),
        offset.map(|_| zone.to_string()),
    )
}

/// The instant in UTC as a `<time datetime>` takes it (`2026-11-28T12:00:00Z`).
pub fn iso_utc(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

pub use crate::domain::time::utc_offset;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_are_checked_and_spelled_one_way() {
        assert_eq!(canonical("Asia/Shanghai").unwrap(), "Asia/Shanghai");
        assert_eq!(canonical("Europe/Rome").unwrap(), "Europe/Rome");
        assert_eq!(canonical("UTC").unwrap(), "UTC");
        for bad in [
            "",
            "Mars/Olympus_Mons",
            "Asia/Shanghai; x",
            "../../etc/passwd",
            &"A".repeat(65),
        ] {
            assert!(canonical(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn local_time_follows_daylight_saving() {
        // 2026-07-01 12:00 UTC: Rome is on summer time (UTC+2), Shanghai on UTC+8 all year.
        let july = 1_782_907_200_000;
        let (t, off) = local(july, "Europe/Rome").unwrap();
        assert_eq!((t.hour, off), (14, 120));
        let (t, off) = local(july, "Asia/Shanghai").unwrap();
        assert_eq!((t.hour, off), (20, 480));
        // 2026-12-01 12:00 UTC: Rome back on UTC+1.
        let (t, off) = local(1_796_126_400_000, "Europe/Rome").unwrap();
        assert_eq!((t.day, t.hour, off), (1, 13, 60));
        assert!(local(july, "Nowhere/Else").is_none());
        assert_eq!(utc_offset(480), "UTC+08:00");
        assert_eq!(utc_offset(-270), "UTC-04:30");
        assert_eq!(utc_offset(0), "UTC");
    }

    #[test]
    fn descriptions_name_the_zone() {
        // 2026-11-28 12:00 UTC.
        let ms = 1_795_867_200_000;
        assert_eq!(
            describe(ms, "Asia/Shanghai"),
            "Sat 28 Nov 2026, 20:00 (UTC+08:00 Asia/Shanghai)"
        );
        assert_eq!(
            describe(ms, "Europe/Rome"),
            "Sat 28 Nov 2026, 13:00 (UTC+01:00 Europe/Rome)"
        );
        assert_eq!(
            describe(ms, "America/New_York"),
            "Sat 28 Nov 2026, 07:00 (UTC-05:00 America/New_York)"
        );
        assert_eq!(describe(ms, "UTC"), "Sat 28 Nov 2026, 12:00 (UTC)");
        assert_eq!(describe(ms, "Nowhere/Else"), "Sat 28 Nov 2026, 12:00 (UTC)");
        // Crossing midnight into the next year in Shanghai.
        assert_eq!(
            describe(1_767_197_100_000, "Asia/Shanghai"),
            "Thu 1 Jan 2026, 00:05 (UTC+08:00 Asia/Shanghai)"
        );
        assert_eq!(
            describe_in(ms, "Asia/Shanghai", Locale::ZhCn),
            "2026年11月28日 周六 20:00 (UTC+08:00 Asia/Shanghai)"
        );
        assert_eq!(
            describe_in(ms, "Europe/Rome", Locale::It),
            "sab 28 nov 2026, 13:00 (UTC+01:00 Europe/Rome)"
        );
        // Out of range: no panic.
        let _ = describe(i64::MAX, "Asia/Shanghai");
        let _ = describe(i64::MIN, "Europe/Rome");
    }
}
