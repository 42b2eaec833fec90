//! Wall-clock time: now as Unix seconds, and Unix seconds as an ISO 8601 UTC string.

/// Seconds since the Unix epoch, now (0 if the clock is set before 1970).
pub fn unix_now_s() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Unix seconds → `YYYY-MM-DDTHH:MM:SSZ` (UTC), without a date crate: days to civil date by
/// Howard Hinnant's algorithm.
pub fn iso8601_utc(unix_s: f64) -> String {
    let secs = unix_s.max(0.0) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        assert_eq!(iso8601_utc(0.0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601_utc(951_782_400.0), "2000-02-29T00:00:00Z");
        assert_eq!(
            iso8601_utc(1_795_651_200.0 + 3661.0),
            "2026-11-26T01:01:01Z"
        );
    }

    #[test]
    fn now_is_after_2020() {
        assert!(unix_now_s() > 1_577_836_800.0);
    }
}
