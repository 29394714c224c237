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
}
