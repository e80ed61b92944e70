//! Points in time: any value as nanoseconds since the epoch, ISO-8601 / RFC 3339 text parsed
//! (strictly, as JSON Schema's formats ask, or leniently, as users send it), civil dates as
//! day counts, and Connect's Date, Time and Timestamp as ISO-8601 text.

use chrono::{DateTime, NaiveDate, NaiveDateTime};

use super::decimal::pow10;
use crate::value::Value;

/// Nanoseconds in a day, the unit of plain integers written to `Date` columns.
pub const NANOS_PER_DAY: i128 = 86_400 * 1_000_000_000;

/// Milliseconds in a day: a Connect Date (days) times this is its Timestamp.
pub const MILLIS_PER_DAY: i64 = 86_400_000;

const NANOS_PER_MILLI: i128 = 1_000_000;

/// A point in time as nanoseconds since the Unix epoch (UTC).
///
/// Accepts Timestamp (milliseconds) and Date (days) values, ISO-8601 / RFC 3339 strings, and
/// plain numbers, which count `plain_unit_nanos` each (the column's own unit).
pub fn to_epoch_nanos(value: &Value, plain_unit_nanos: i128) -> Result<i128, String> {
    let overflow = || "is out of range".to_string();
    match value {
        Value::Timestamp(ms) => Ok(*ms as i128 * NANOS_PER_MILLI),
        Value::Date(days) => Ok(*days as i128 * NANOS_PER_DAY),
        Value::Time(_) => Err("a time of day has no date".into()),
        Value::String(s) => parse_datetime(s.trim())
            .ok_or_else(|| "is not an ISO-8601 date-time such as 2025-09-18T10:30:00Z or 2025-09-18 10:30:00".into()),
        Value::Float32(_) | Value::Float64(_) => {
            let f = value.as_f64().unwrap_or(f64::NAN) * plain_unit_nanos as f64;
            if f.is_finite() && f.abs() < 1e36 {
                Ok(f.floor() as i128)
            } else {
                Err(overflow())
            }
        }
        Value::Decimal { unscaled, scale } => {
            let d = pow10(*scale).ok_or_else(overflow)?;
            Ok(unscaled.checked_mul(plain_unit_nanos).ok_or_else(overflow)?.div_euclid(d))
        }
        _ => value.as_i64().map(|v| v as i128 * plain_unit_nanos).ok_or_else(|| "is not a date-time".into()),
    }
}

/// [`to_epoch_nanos`] counted in whole units of `unit_nanos` (days, seconds, milliseconds…),
/// rounded down so instants before the epoch fall in the unit they are in.
pub fn to_epoch_units(value: &Value, unit_nanos: i128) -> Result<i128, String> {
    units_of(to_epoch_nanos(value, unit_nanos)?, unit_nanos)
}

/// `nanos` since the epoch counted in whole units of `unit_nanos`, rounded down.
pub fn units_of(nanos: i128, unit_nanos: i128) -> Result<i128, String> {
    // Every instant from 1677 to 2262 fits in an i64 of nanoseconds: divide there, as an i128
    // division is a library call (it showed in the profile of every row with a timestamp).
    if let (Ok(n), Ok(unit @ 1..)) = (i64::try_from(nanos), i64::try_from(unit_nanos)) {
        return Ok(i128::from(n.div_euclid(unit)));
    }
    nanos.checked_div_euclid(unit_nanos).ok_or_else(|| format!("cannot be counted in units of {unit_nanos} ns"))
}

/// A point in time as milliseconds since the epoch (a Connect Timestamp); plain numbers count
/// milliseconds.
pub fn to_epoch_millis(value: &Value) -> Result<i64, String> {
    i64::try_from(to_epoch_units(value, NANOS_PER_MILLI)?).map_err(|_| "is out of range".into())
}

/// Parses RFC 3339 / ISO-8601 date-times as nanoseconds since the epoch; without an offset
/// the time is taken as UTC, and a bare date is midnight UTC.
pub fn parse_datetime(s: &str) -> Option<i128> {
    if let Some(nanos) = parse_rfc3339(s) {
        return Some(nanos);
    }
    let nanos = |secs: i64, sub: u32| secs as i128 * 1_000_000_000 + sub as i128;
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%.f%#z"] {
        if let Ok(dt) = DateTime::parse_from_str(s, fmt) {
            return Some(nanos(dt.timestamp(), dt.timestamp_subsec_nanos()));
        }
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(s, fmt) {
            let dt = dt.and_utc();
            return Some(nanos(dt.timestamp(), dt.timestamp_subsec_nanos()));
        }
    }
    let date = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    let dt = date.and_hms_opt(0, 0, 0)?.and_utc();
    Some(nanos(dt.timestamp(), 0))
}

/// RFC 3339 `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` (`t` or a space may stand for `T`) as
/// nanoseconds since the epoch. The offset is required; digits past nanoseconds are dropped.
pub fn parse_rfc3339(text: &str) -> Option<i128> {
    if text.len() < 20 || !matches!(text.as_bytes()[10], b'T' | b't' | b' ') {
        return None;
    }
    let days = i128::from(parse_date_again(&text[..10])?);
    let (nanos, rest) = parse_clock(&text[11..])?;
    Some(days * NANOS_PER_DAY + i128::from(nanos) - i128::from(parse_offset(rest)?))
}

/// Exactly `YYYY-MM-DD` as days since 1970-01-01 (a Connect Date).
pub fn parse_date(text: &str) -> Option<i32> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = two_digits(b, 0)? * 100 + two_digits(b, 2)?;
    days_from_civil(year, two_digits(b, 5)?, two_digits(b, 8)?)
}

/// [`parse_date`], remembering the last date this thread read: the timestamps of a stream of
/// events mostly share their day, and working out the day count was a third of reading one.
fn parse_date_again(text: &str) -> Option<i32> {
    thread_local! {
        static LAST: std::cell::Cell<Option<([u8; 10], i32)>> = const { std::cell::Cell::new(None) };
    }
    let key: [u8; 10] = text.as_bytes().try_into().ok()?;
    if let Some((last, days)) = LAST.get() {
        if last == key {
            return Some(days);
        }
    }
    let days = parse_date(text)?;
    LAST.set(Some((key, days)));
    Some(days)
}

/// `HH:MM:SS[.fraction][Z|±HH:MM]` as milliseconds since midnight UTC (a Connect Time).
pub fn parse_time(text: &str) -> Option<i32> {
    let (nanos, rest) = parse_clock(text)?;
    let offset = if rest.is_empty() { 0 } else { parse_offset(rest)? };
    let millis = (nanos - offset).rem_euclid(MILLIS_PER_DAY * 1_000_000) / 1_000_000;
    i32::try_from(millis).ok()
}

/// The two ASCII digits at `at` as a number.
fn two_digits(b: &[u8], at: usize) -> Option<i64> {
    let (high, low) = (b.get(at)?.wrapping_sub(b'0'), b.get(at + 1)?.wrapping_sub(b'0'));
    (high < 10 && low < 10).then(|| i64::from(high * 10 + low))
}

/// `HH:MM:SS[.fraction]` as nanoseconds since midnight, and the rest of the text (the offset,
/// if any).
fn parse_clock(text: &str) -> Option<(i64, &str)> {
    let bytes = text.as_bytes();
    if bytes.len() < 8 || bytes[2] != b':' || bytes[5] != b':' {
        return None;
    }
    let (h, m, s) = (two_digits(bytes, 0)?, two_digits(bytes, 3)?, two_digits(bytes, 6)?);
    // Second 60 is a leap second (RFC 3339).
    if h > 23 || m > 59 || s > 60 {
        return None;
    }
    let mut nanos = (h * 3600 + m * 60 + s) * 1_000_000_000;
    let mut at = 8;
    if bytes.get(at) == Some(&b'.') {
        at += 1;
        // Nanoseconds: the first nine digits, as if padded with zeros to nine; the digits are
        // read and counted in one pass (two took a tenth of reading a timestamp).
        let (mut value, mut kept) = (0i64, 0usize);
        while let Some(digit) = bytes.get(at).map(|b| b.wrapping_sub(b'0')).filter(|d| *d < 10) {
            if kept < 9 {
                (value, kept) = (value * 10 + i64::from(digit), kept + 1);
            }
            at += 1;
        }
        if kept == 0 {
            return None;
        }
        const SCALE: [i64; 10] =
            [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000];
        nanos += value * SCALE[9 - kept];
    }
    // Only ASCII was read, so `at` is on a character boundary.
    Some((nanos, &text[at..]))
}

/// `Z`, `+HH:MM` or `-HH:MM` as an offset in nanoseconds. U+2212 MINUS SIGN counts as `-`,
/// as chrono's RFC 3339 parser (which the ClickHouse sink used before) accepts it.
fn parse_offset(text: &str) -> Option<i64> {
    let (negative, hh_mm) = match text.as_bytes().first()? {
        b'Z' | b'z' if text.len() == 1 => return Some(0),
        b'+' => (false, &text[1..]),
        b'-' => (true, &text[1..]),
        _ => (true, text.strip_prefix('\u{2212}')?),
    };
    if hh_mm.len() != 5 || hh_mm.as_bytes()[2] != b':' {
        return None;
    }
    let (h, m) = (two_digits(hh_mm.as_bytes(), 0)?, two_digits(hh_mm.as_bytes(), 3)?);
    if h > 23 || m > 59 {
        return None;
    }
    let offset = (h * 60 + m) * 60_000_000_000;
    Some(if negative { -offset } else { offset })
}

/// Days since 1970-01-01 of a proleptic Gregorian date; `None` if it is not a valid date or
/// does not fit an `i32`.
pub fn days_from_civil(year: i64, month: i64, day: i64) -> Option<i32> {
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) || year.abs() > 5_000_000 {
        return None;
    }
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y.rem_euclid(400);
    let month_index = (month + 9) % 12; // March = 0
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    i32::try_from(era * 146_097 + day_of_era - 719_468).ok()
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// `yyyy-MM-dd` of a Connect Date (days since 1970-01-01); beyond the ±262,000 years chrono
/// can show, the day count itself.
pub fn date_text(days: i32) -> String {
    DateTime::from_timestamp_millis(i64::from(days) * MILLIS_PER_DAY)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| days.to_string())
}

/// `HH:mm:ss.SSS` of a Connect Time (milliseconds since midnight, taken modulo a day).
pub fn time_text(ms: i32) -> String {
    let ms = i64::from(ms).rem_euclid(MILLIS_PER_DAY);
    format!("{:02}:{:02}:{:02}.{:03}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
}

/// `yyyy-MM-ddTHH:mm:ss.SSSZ` of a Connect Timestamp (milliseconds since the epoch); beyond
/// the ±262,000 years chrono can show, the millisecond count itself.
pub fn timestamp_text(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|| ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_times_parse_in_the_forms_users_send() {
        let base = 1_758_191_400i128 * 1_000_000_000; // 2025-09-18T10:30:00Z
        assert_eq!(parse_datetime("2025-09-18T10:30:00Z"), Some(base));
        assert_eq!(parse_datetime("2025-09-18 10:30:00"), Some(base));
        assert_eq!(parse_datetime("2025-09-18T10:30:00"), Some(base));
        assert_eq!(parse_datetime("2025-09-18T12:30:00+02:00"), Some(base));
        assert_eq!(parse_datetime("2025-09-18 12:30:00+0200"), Some(base));
        assert_eq!(parse_datetime("2025-09-18T10:30:00.123456Z"), Some(base + 123_456_000));
        assert_eq!(parse_datetime("2025-09-18 10:30:00.5"), Some(base + 500_000_000));
        assert_eq!(parse_datetime("2025-09-18"), Some(base - 37_800 * 1_000_000_000));
        assert_eq!(parse_datetime("18/09/2025"), None);
    }

    #[test]
    fn epoch_numbers_count_in_the_given_unit() {
        assert_eq!(to_epoch_nanos(&Value::Timestamp(1_500), 1), Ok(1_500_000_000));
        assert_eq!(to_epoch_nanos(&Value::Int64(2), 1_000_000_000), Ok(2_000_000_000));
        assert_eq!(to_epoch_nanos(&Value::Date(1), 1), Ok(NANOS_PER_DAY));
        assert!(to_epoch_nanos(&Value::Time(5), 1).is_err());
        assert!(to_epoch_nanos(&"yesterday".into(), 1).unwrap_err().contains("ISO-8601"));
    }

    #[test]
    fn epoch_units_round_down() {
        assert_eq!(to_epoch_units(&Value::Timestamp(-1), NANOS_PER_DAY), Ok(-1));
        assert_eq!(to_epoch_units(&Value::Int64(3), 1_000), Ok(3));
        assert!(to_epoch_units(&Value::Int64(3), 0).is_err());
        // Past what an i64 of nanoseconds holds (year 2262), the i128 division takes over.
        assert_eq!(to_epoch_units(&Value::Date(i32::MAX), NANOS_PER_DAY), Ok(i32::MAX as i128));
        assert_eq!(to_epoch_units(&Value::Date(i32::MIN), NANOS_PER_MILLI), Ok(i32::MIN as i128 * 86_400_000));
        assert_eq!(to_epoch_millis(&"1970-01-01T00:00:01.2345Z".into()), Ok(1_234));
        assert_eq!(to_epoch_millis(&Value::Int64(7)), Ok(7));
        assert_eq!(to_epoch_millis(&Value::Date(1)), Ok(MILLIS_PER_DAY));
        assert!(to_epoch_millis(&Value::Float64(1e30)).is_err());
    }

    #[test]
    fn strict_iso_forms() {
        assert_eq!(days_from_civil(1970, 1, 1), Some(0));
        assert_eq!(days_from_civil(2025, 9, 18), Some(20349));
        assert_eq!(days_from_civil(1969, 12, 31), Some(-1));
        assert_eq!(days_from_civil(2000, 2, 29), Some(11016));
        assert_eq!(days_from_civil(1900, 2, 29), None);
        assert_eq!(days_from_civil(2025, 13, 1), None);
        assert_eq!(parse_date("2025-09-18"), Some(20349));
        assert_eq!(parse_date("2025-9-18"), None);
        assert_eq!(parse_time("10:30:00"), Some(37_800_000));
        assert_eq!(parse_time("10:30:00.5+01:00"), Some(34_200_500));
        assert_eq!(parse_time("00:30:00+01:00"), Some(84_600_000));
        let millis = |text| parse_rfc3339(text).map(|n| n.div_euclid(1_000_000));
        assert_eq!(millis("2025-09-18T10:30:00Z"), Some(1_758_191_400_000));
        assert_eq!(millis("2025-09-18T12:30:00.123456+02:00"), Some(1_758_191_400_123));
        assert_eq!(millis("2025-09-18T10:30:00"), None, "an offset is required");
        assert_eq!(parse_rfc3339("1970-01-01 00:00:00.0000000019z"), Some(1));
        assert_eq!(parse_rfc3339("1970-01-01T23:59:60Z"), Some(NANOS_PER_DAY), "a leap second");
        assert_eq!(parse_rfc3339("1970-01-01t01:00:00\u{2212}01:00"), Some(2 * 3_600_000_000_000));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00+24:00"), None);
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00.Z"), None, "a fraction has digits");
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00+01:00x"), None);
        assert_eq!(parse_date("2025-09-1x"), None);
        assert_eq!(parse_date("-025-09-18"), None);
        assert_eq!(parse_date("0000-01-01"), Some(-719_528));
    }

    #[test]
    fn the_remembered_date_is_only_the_same_date() {
        let dates = ["2025-09-18", "2025-09-19", "1969-12-31", "2025-09-18", "2025-02-30", "2025-09-18"];
        for _ in 0..2 {
            for date in dates {
                let expected = parse_date(date).map(|days| i128::from(days) * NANOS_PER_DAY);
                assert_eq!(parse_rfc3339(&format!("{date}T00:00:00Z")), expected, "{date}");
            }
        }
    }

    #[test]
    fn iso_text_of_connect_types() {
        assert_eq!(date_text(20_349), "2025-09-18");
        assert_eq!(date_text(i32::MAX), i32::MAX.to_string());
        assert_eq!(time_text(3_600_000), "01:00:00.000");
        assert_eq!(time_text(-1), "23:59:59.999");
        assert_eq!(timestamp_text(86_401_234), "1970-01-02T00:00:01.234Z");
        assert_eq!(timestamp_text(i64::MAX), i64::MAX.to_string());
    }
}
