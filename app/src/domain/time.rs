//! Calendar arithmetic on epoch milliseconds (proleptic Gregorian, no time-zone database):
//! enough for UTC timestamps in calendar files and fixed-offset times on posters.

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
