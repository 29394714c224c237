//! Calendar arithmetic on epoch milliseconds (proleptic Gregorian, no time-zone database):
//! enough for UTC timestamps in calendar files and fixed-offset times on posters and pages.

use crate::i18n::Locale;

/// The time zone of a session that names none (sessions made before zones, API callers).
pub const DEFAULT_TIME_ZONE: &str = "Asia/Shanghai";

pub fn default_time_zone() -> String {
    DEFAULT_TIME_ZONE.to_string()
}

/// Date and time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    /// 0 = Monday .. 6 = Sunday
    pub weekday: u32,
}

/// The civil date and time of `ms` shifted by `offset_minutes` (0 for UTC, 480 for Beijing).
pub fn datetime(ms: i64, offset_minutes: i64) -> DateTime {
    let secs = ms.div_euclid(1000) + offset_minutes * 60;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    DateTime {
        year,
        month,
        day,
        hour: (rem / 3600) as u32,
        minute: ((rem % 3600) / 60) as u32,
        second: (rem % 60) as u32,
        // 1970-01-01 was a Thursday (3 when Monday is 0).
        weekday: (days + 3).rem_euclid(7) as u32,
    }
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Epoch milliseconds of a civil date and time read as UTC (Hinnant's days-from-civil); the
/// inverse of [`datetime`] with offset 0.
pub fn utc_ms(year: i64, month: u32, day: u32, hour: u32, minute: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400_000 + i64::from(hour) * 3_600_000 + i64::from(minute) * 60_000
}

/// A `datetime-local` value ("2026-11-28T20:00") as its parts.
pub fn parse_datetime_local(value: &str) -> Option<(i64, u32, u32, u32, u32)> {
    let (date, time) = value.split_once('T')?;
    let mut d = date.splitn(3, '-');
    let year: i64 = d.next()?.parse().ok()?;
    let month: u32 = d.next()?.parse().ok()?;
    let day: u32 = d.next()?.parse().ok()?;
    let mut t = time.splitn(3, ':');
    let hour: u32 = t.next()?.parse().ok()?;
    let minute: u32 = t.next()?.parse().ok()?;
    ((1..=12).contains(&month) && (1..=31).contains(&day) && hour < 24 && minute < 60)
        .then_some((year, month, day, hour, minute))
}

pub const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
pub const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A civil date and time as `locale` writes it: `Sat 28 Nov 2026, 20:00`,
/// `2026年11月28日 周六 20:00`, `sab 28 nov 2026, 20:00` (without the year when `year` is false).
/// Plain Rust, the same on the server and in the browser: the browser's `Intl` costs a phone
/// tens of milliseconds on its first use (its locale data loads), in the page's first task.
pub fn written(t: &DateTime, locale: Locale, year: bool) -> String {
    const ZH_WEEKDAYS: [&str; 7] = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"];
    const IT_WEEKDAYS: [&str; 7] = ["lun", "mar", "mer", "gio", "ven", "sab", "dom"];
    const IT_MONTHS: [&str; 12] = [
        "gen", "feb", "mar", "apr", "mag", "giu", "lug", "ago", "set", "ott", "nov", "dic",
    ];
    let (wd, mi) = (
        t.weekday as usize % 7,
        (t.month as usize).saturating_sub(1) % 12,
    );
    let clock = clock(t);
    match (locale, year) {
        (Locale::En, true) => format!(
            "{} {} {} {}, {clock}",
            WEEKDAYS[wd], t.day, MONTHS[mi], t.year
        ),
        (Locale::En, false) => format!("{} {} {}, {clock}", WEEKDAYS[wd], t.day, MONTHS[mi]),
        (Locale::ZhCn, true) => format!(
            "{}年{}月{}日 {} {clock}",
            t.year, t.month, t.day, ZH_WEEKDAYS[wd]
        ),
        (Locale::ZhCn, false) => format!("{}月{}日 {} {clock}", t.month, t.day, ZH_WEEKDAYS[wd]),
        (Locale::It, true) => format!(
            "{} {} {} {}, {clock}",
            IT_WEEKDAYS[wd], t.day, IT_MONTHS[mi], t.year
        ),
        (Locale::It, false) => format!("{} {} {}, {clock}", IT_WEEKDAYS[wd], t.day, IT_MONTHS[mi]),
    }
}

/// `20:00` (every language here writes a 24-hour clock).
pub fn clock(t: &DateTime) -> String {
    format!("{:02}:{:02}", t.hour, t.minute)
}

/// `UTC+08:00`, `UTC-04:30`, `UTC`.
pub fn utc_offset(minutes: i64) -> String {
    if minutes == 0 {
        return "UTC".into();
    }
    let sign = if minutes < 0 { '-' } else { '+' };
    let m = minutes.abs();
    format!("UTC{sign}{:02}:{:02}", m / 60, m % 60)
}

/// The offset a session's times are written at, when they name their zone: `None` for a zone
/// of unknown offset and for UTC itself (both written in UTC, named once).
pub fn named_offset(zone: &str, offset_minutes: Option<i64>) -> Option<i64> {
    offset_minutes.filter(|_| zone != "UTC")
}

/// A session's start as everyone reads it, in its own zone, named by its offset then and its
/// IANA name: `Sat 28 Nov 2026, 20:00 (UTC+08:00 Asia/Shanghai)`. `offset_minutes` is the
/// zone's offset at `ms` (the server knows zones; `None`: unknown, written in UTC).
pub fn describe(ms: i64, zone: &str, offset_minutes: Option<i64>, locale: Locale) -> String {
    match named_offset(zone, offset_minutes) {
        Some(offset) => format!(
            "{} ({} {zone})",
            written(&datetime(ms, offset), locale, true),
            utc_offset(offset)
        ),
        None => format!("{} (UTC)", written(&datetime(ms, 0), locale, true)),
    }
}

/// The same instant on a viewer's clock (`offset_minutes` theirs), next to [`describe`]'s:
/// `13:00 UTC+01:00`, with the date as well when it is another day there than in the session's
/// zone (`session_offset`).
pub fn describe_for_viewer(
    ms: i64,
    offset_minutes: i64,
    session_offset: i64,
    locale: Locale,
) -> String {
    let (here, there) = (datetime(ms, offset_minutes), datetime(ms, session_offset));
    let when = if (here.year, here.month, here.day) == (there.year, there.month, there.day) {
        clock(&here)
    } else {
        written(&here, locale, false)
    };
    format!("{when} {}", utc_offset(offset_minutes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        let t = datetime(0, 0);
        assert_eq!(
            (t.year, t.month, t.day, t.hour, t.weekday),
            (1970, 1, 1, 0, 3)
        );
        // 2026-11-25 09:57:00 UTC, a Wednesday; 17:57 in Beijing.
        let t = datetime(1_795_600_620_000, 0);
        assert_eq!(
            (t.year, t.month, t.day, t.hour, t.minute, t.weekday),
            (2026, 11, 25, 9, 57, 2)
        );
        let b = datetime(1_795_600_620_000, 480);
        assert_eq!((b.day, b.hour), (25, 17));
        // Leap day and a date before 1970.
        let t = datetime(951_782_400_000, 0); // 2000-02-29
        assert_eq!((t.year, t.month, t.day), (2000, 2, 29));
        let t = datetime(-86_400_000, 0);
        assert_eq!((t.year, t.month, t.day), (1969, 12, 31));
    }

    #[test]
    fn each_language_writes_a_session_start_its_way() {
        // 2026-11-28 12:00 UTC, a Saturday: 20:00 in Shanghai.
        let ms = 1_795_867_200_000;
        assert_eq!(
            describe(ms, "Asia/Shanghai", Some(480), Locale::En),
            "Sat 28 Nov 2026, 20:00 (UTC+08:00 Asia/Shanghai)"
        );
        assert_eq!(
            describe(ms, "Asia/Shanghai", Some(480), Locale::ZhCn),
            "2026年11月28日 周六 20:00 (UTC+08:00 Asia/Shanghai)"
        );
        assert_eq!(
            describe(ms, "Asia/Shanghai", Some(480), Locale::It),
            "sab 28 nov 2026, 20:00 (UTC+08:00 Asia/Shanghai)"
        );
        // An unknown zone, or UTC itself: UTC, named once.
        assert_eq!(
            describe(ms, "Mars/Base", None, Locale::En),
            "Sat 28 Nov 2026, 12:00 (UTC)"
        );
        assert_eq!(
            describe(ms, "UTC", Some(0), Locale::En),
            "Sat 28 Nov 2026, 12:00 (UTC)"
        );
        assert_eq!(utc_offset(-270), "UTC-04:30");
        // A viewer in Rome: the same day, the clock only...
        assert_eq!(
            describe_for_viewer(ms, 60, 480, Locale::En),
            "13:00 UTC+01:00"
        );
        // ...and a start at 02:00 in Shanghai is the evening before in Rome.
        let early = ms - 18 * 3_600_000;
        assert_eq!(
            describe_for_viewer(early, 60, 480, Locale::En),
            "Fri 27 Nov, 19:00 UTC+01:00"
        );
        assert_eq!(
            describe_for_viewer(early, 60, 480, Locale::ZhCn),
            "11月27日 周五 19:00 UTC+01:00"
        );
    }

    #[test]
    fn utc_ms_inverts_datetime() {
        for ms in [
            0,
            951_782_400_000,
            1_795_600_620_000,
            -86_400_000,
            4_102_444_800_000,
        ] {
            let t = datetime(ms, 0);
            assert_eq!(
                utc_ms(t.year, t.month, t.day, t.hour, t.minute),
                ms - ms.rem_euclid(60_000)
            );
        }
        assert_eq!(
            parse_datetime_local("2026-11-28T20:05"),
            Some((2026, 11, 28, 20, 5))
        );
        assert_eq!(
            parse_datetime_local("2026-11-28T20:05:30").map(|p| p.4),
            Some(5)
        );
        for bad in [
            "",
            "2026-13-01T10:00",
            "2026-11-28",
            "2026-11-28T24:00",
            "x-y-zTa:b",
        ] {
            assert_eq!(parse_datetime_local(bad), None, "{bad}");
        }
    }
}
