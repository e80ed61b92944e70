//! Time directories: the `path.format` pattern (a subset of Joda-Time's, which Confluent uses),
//! the `timezone`, and bucketing by `partition.duration.ms`.
//!
//! The pattern is parsed once into segments, so formatting a record's directory only writes
//! numbers into the caller's buffer.

use std::fmt::Write as _;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDateTime, Offset, TimeZone, Timelike};
use chrono_tz::Tz;

use super::PartitionError;

/// The `timezone` of time-based partitioners: an IANA name (`Europe/Berlin`, `UTC`) or a fixed
/// offset (`+02:00`), the two forms Confluent accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionTimeZone {
    /// A zone of the IANA database, with its daylight saving rules.
    Named(Tz),
    /// A fixed offset from UTC, without daylight saving.
    Fixed(FixedOffset),
}

impl PartitionTimeZone {
    /// Parses an IANA zone name or a fixed offset `[+-]hh:mm` (also `[+-]hhmm`, `[+-]hh`).
    /// The error says which forms are accepted.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Some(offset) = parse_fixed_offset(text) {
            return Ok(PartitionTimeZone::Fixed(offset));
        }
        text.parse::<Tz>().map(PartitionTimeZone::Named).map_err(|_| {
            format!(
                "Unknown time zone {text:?}; use an IANA name such as UTC, Europe/Berlin or America/New_York, \
                 or a fixed offset such as +02:00."
            )
        })
    }

    /// Offset from UTC in milliseconds at the instant `utc`; for named zones it depends on the
    /// instant because of daylight saving time.
    fn offset_ms(&self, utc: &NaiveDateTime) -> i64 {
        let seconds = match self {
            PartitionTimeZone::Named(tz) => tz.offset_from_utc_datetime(utc).fix().local_minus_utc(),
            PartitionTimeZone::Fixed(offset) => offset.local_minus_utc(),
        };
        i64::from(seconds) * 1000
    }
}

fn parse_fixed_offset(text: &str) -> Option<FixedOffset> {
    let sign = match text.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let rest = &text[1..];
    // Byte slicing below is only safe on ASCII.
    if !rest.is_ascii() {
        return None;
    }
    let (hours, minutes) = match rest.len() {
        2 => (rest, "00"),
        4 => rest.split_at(2),
        5 if rest.as_bytes()[2] == b':' => (&rest[..2], &rest[3..]),
        _ => return None,
    };
    if !hours.bytes().chain(minutes.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (hours, minutes): (i32, i32) = (hours.parse().ok()?, minutes.parse().ok()?);
    if hours > 23 || minutes > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

/// A date or time field a pattern letter stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimeField {
    Year,
    TwoDigitYear,
    WeekYear,
    TwoDigitWeekYear,
    Month,
    WeekOfWeekYear,
    DayOfYear,
    DayOfMonth,
    /// 1 (Monday) to 7 (Sunday), as Joda's `e`.
    DayOfWeek,
    Hour,
    Minute,
    Second,
    FractionOfSecond,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// A number, zero-padded to at least `width` digits.
    Field {
        field: TimeField,
        width: usize,
    },
}

/// A parsed `path.format`: literal text and numeric date fields.
///
/// Supported, as in Joda-Time: `YYYY`/`yyyy` year (`YY`/`yy` two digits), `xxxx` ISO week
/// year, `MM` month, `ww` ISO week, `DDD` day of year, `dd` day of month, `e` day of week
/// (1 = Monday), `HH` hour (0–23), `mm` minute, `ss` second, `SSS` fraction of a second;
/// fewer letters mean less zero padding (`M` is `9`, `MM` is `09`). Text in single quotes is
/// literal (`'year'=`), `''` is a quote, and any other character that is not a letter is
/// literal. Text fields (month or day names, `MMM`, `E`), AM/PM, 12-hour clocks and zone
/// names are not supported and are rejected when the connector starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathFormat {
    pattern: String,
    segments: Vec<Segment>,
}

impl PathFormat {
    /// Parses a Joda-style pattern; the error names the unsupported part.
    pub fn parse(pattern: &str) -> Result<Self, String> {
        let mut segments = Vec::new();
        let mut literal = String::new();
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.next_if_eq(&'\'').is_some() {
                    literal.push('\'');
                    continue;
                }
                loop {
                    match chars.next() {
                        None => return Err(format!("The quote in {pattern:?} is not closed; close it with '.")),
                        Some('\'') if chars.next_if_eq(&'\'').is_some() => literal.push('\''),
                        Some('\'') => break,
                        Some(q) => literal.push(q),
                    }
                }
            } else if c.is_ascii_alphabetic() {
                let mut count = 1;
                while chars.next_if_eq(&c).is_some() {
                    count += 1;
                }
                let (field, width) = pattern_field(c, count)?;
                if !literal.is_empty() {
                    segments.push(Segment::Literal(std::mem::take(&mut literal)));
                }
                segments.push(Segment::Field { field, width });
            } else {
                literal.push(c);
            }
        }
        if !literal.is_empty() {
            segments.push(Segment::Literal(literal));
        }
        if segments.is_empty() {
            return Err("The path format is empty; set it, for example to 'year'=YYYY/'month'=MM/'day'=dd.".into());
        }
        Ok(PathFormat { pattern: pattern.to_owned(), segments })
    }

    /// The pattern as configured.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Appends the directories of the local wall-clock time `local`.
    pub fn write(&self, local: &NaiveDateTime, out: &mut String) {
        for segment in &self.segments {
            match segment {
                Segment::Literal(text) => out.push_str(text),
                Segment::Field { field, width } => {
                    let value = field_value(*field, local, *width);
                    // Writing into a String cannot fail.
                    let _ = write!(out, "{value:0width$}");
                }
            }
        }
    }
}

/// The field and zero-padding width of a run of `count` pattern letters `c`.
fn pattern_field(c: char, count: usize) -> Result<(TimeField, usize), String> {
    use TimeField::*;
    let field = match c {
        'y' | 'Y' if count == 2 => TwoDigitYear,
        'y' | 'Y' => Year,
        'x' if count == 2 => TwoDigitWeekYear,
        'x' => WeekYear,
        'M' if count >= 3 => {
            return Err(format!(
                "Month names ({}) are not supported; use MM for the month number (locale only affects names).",
                "M".repeat(count)
            ))
        }
        'M' => Month,
        'w' => WeekOfWeekYear,
        'D' => DayOfYear,
        'd' => DayOfMonth,
        'e' => DayOfWeek,
        'H' => Hour,
        'm' => Minute,
        's' => Second,
        'S' if count <= 9 => FractionOfSecond,
        'S' => return Err("A fraction of a second has at most 9 digits (SSSSSSSSS).".into()),
        'E' => return Err("Day names (E) are not supported; use e for the day of the week as a number.".into()),
        'a' | 'h' | 'K' | 'k' | 'z' | 'Z' | 'G' | 'C' => {
            return Err(format!(
                "The pattern letter {c} is not supported; use YYYY, MM, dd, HH, mm, ss and quoted literals \
                 such as 'year'=YYYY."
            ))
        }
        _ => {
            return Err(format!(
                "{c} is not a date pattern letter; put literal text in single quotes, as in 'year'=YYYY."
            ))
        }
    };
    Ok((field, count))
}

fn field_value(field: TimeField, t: &NaiveDateTime, width: usize) -> i64 {
    match field {
        TimeField::Year => i64::from(t.year()),
        TimeField::TwoDigitYear => i64::from(t.year()).rem_euclid(100),
        TimeField::WeekYear => i64::from(t.iso_week().year()),
        TimeField::TwoDigitWeekYear => i64::from(t.iso_week().year()).rem_euclid(100),
        TimeField::Month => i64::from(t.month()),
        TimeField::WeekOfWeekYear => i64::from(t.iso_week().week()),
        TimeField::DayOfYear => i64::from(t.ordinal()),
        TimeField::DayOfMonth => i64::from(t.day()),
        TimeField::DayOfWeek => i64::from(t.weekday().number_from_monday()),
        TimeField::Hour => i64::from(t.hour()),
        TimeField::Minute => i64::from(t.minute()),
        TimeField::Second => i64::from(t.second()),
        // `width` digits of the fraction (`SSS` = milliseconds); a leap second's extra
        // nanoseconds are dropped so the field keeps its width.
        TimeField::FractionOfSecond => {
            let nanos = i64::from(t.nanosecond() % 1_000_000_000);
            nanos / 10i64.pow(9 - width.min(9) as u32)
        }
    }
}

/// How a point in time becomes time directories: bucketed by `partition.duration.ms` on the
/// wall clock of `timezone`, then formatted with `path.format`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeBuckets {
    format: PathFormat,
    duration_ms: i64,
    zone: PartitionTimeZone,
}

impl TimeBuckets {
    /// Buckets of `duration_ms` (positive) in `zone`, formatted with `format`.
    pub fn new(format: PathFormat, duration_ms: i64, zone: PartitionTimeZone) -> Result<Self, String> {
        if duration_ms <= 0 {
            return Err(format!(
                "The partition duration must be a positive number of milliseconds, got {duration_ms}."
            ));
        }
        Ok(TimeBuckets { format, duration_ms, zone })
    }

    /// The path format.
    pub fn format(&self) -> &PathFormat {
        &self.format
    }

    /// The bucket length in milliseconds.
    pub fn duration_ms(&self) -> i64 {
        self.duration_ms
    }

    /// The time zone whose wall clock buckets and directories follow.
    pub fn zone(&self) -> PartitionTimeZone {
        self.zone
    }

    /// The local wall-clock start of the bucket holding `utc_ms`: the local time floored to a
    /// multiple of the duration, counted from the local epoch (so daily buckets start at local
    /// midnight, as in Confluent).
    pub fn bucket_start(&self, utc_ms: i64) -> Result<NaiveDateTime, PartitionError> {
        let out_of_range = || PartitionError::TimeOutOfRange { ms: utc_ms };
        let utc = DateTime::from_timestamp_millis(utc_ms).ok_or_else(out_of_range)?.naive_utc();
        let local_ms = utc_ms.checked_add(self.zone.offset_ms(&utc)).ok_or_else(out_of_range)?;
        let bucket_ms = local_ms.div_euclid(self.duration_ms).checked_mul(self.duration_ms).ok_or_else(out_of_range)?;
        // The local wall-clock time, expressed as if it were UTC.
        Ok(DateTime::from_timestamp_millis(bucket_ms).ok_or_else(out_of_range)?.naive_utc())
    }

    /// Appends the directories of the bucket holding `utc_ms`.
    pub fn write(&self, utc_ms: i64, out: &mut String) -> Result<(), PartitionError> {
        let start = self.bucket_start(utc_ms)?;
        self.format.write(&start, out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2025-09-18T22:30:15.123Z: Thursday evening in UTC, already Friday in Berlin.
    const THU_2230_UTC: i64 = 1_758_234_615_123;
    const HOUR: i64 = 3_600_000;
    const DAY: i64 = 24 * HOUR;

    fn zone(name: &str) -> PartitionTimeZone {
        PartitionTimeZone::parse(name).unwrap()
    }

    fn render(pattern: &str, duration_ms: i64, tz: &str, ms: i64) -> String {
        let buckets = TimeBuckets::new(PathFormat::parse(pattern).unwrap(), duration_ms, zone(tz)).unwrap();
        let mut out = String::new();
        buckets.write(ms, &mut out).unwrap();
        out
    }

    const HOURLY: &str = "'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH";

    #[test]
    fn daily_directories_follow_the_zone_across_midnight() {
        let daily = "'year'=YYYY/'month'=MM/'day'=dd";
        assert_eq!(render(daily, DAY, "UTC", THU_2230_UTC), "year=2025/month=09/day=18");
        assert_eq!(render(daily, DAY, "Europe/Berlin", THU_2230_UTC), "year=2025/month=09/day=19");
        assert_eq!(render(daily, DAY, "America/New_York", THU_2230_UTC), "year=2025/month=09/day=18");
        assert_eq!(render(daily, DAY, "+02:00", THU_2230_UTC), "year=2025/month=09/day=19");
        assert_eq!(render(daily, DAY, "-0300", THU_2230_UTC), "year=2025/month=09/day=18");
    }

    #[test]
    fn hourly_buckets_use_local_hours_and_daylight_saving() {
        assert_eq!(render(HOURLY, HOUR, "UTC", THU_2230_UTC), "year=2025/month=09/day=18/hour=22");
        assert_eq!(render(HOURLY, HOUR, "Europe/Berlin", THU_2230_UTC), "year=2025/month=09/day=19/hour=00");
        // In January Berlin is UTC+1, not +2: 2025-01-15T22:30Z is 23:30 local.
        assert_eq!(render(HOURLY, HOUR, "Europe/Berlin", 1_736_980_200_000), "year=2025/month=01/day=15/hour=23");
        // Kathmandu is UTC+05:45, so hours start at :15 UTC.
        assert_eq!(render(HOURLY, HOUR, "Asia/Kathmandu", THU_2230_UTC), "year=2025/month=09/day=19/hour=04");
    }

    #[test]
    fn fifteen_minute_buckets_floor_to_the_quarter() {
        let fmt = "'date'=YYYY-MM-dd/'time'=HHmm";
        let quarter = 15 * 60_000;
        assert_eq!(render(fmt, quarter, "UTC", THU_2230_UTC), "date=2025-09-18/time=2230");
        assert_eq!(render(fmt, quarter, "UTC", THU_2230_UTC + 14 * 60_000), "date=2025-09-18/time=2230");
        assert_eq!(render(fmt, quarter, "UTC", THU_2230_UTC + 15 * 60_000), "date=2025-09-18/time=2245");
        assert_eq!(render(fmt, quarter, "Europe/Berlin", THU_2230_UTC), "date=2025-09-19/time=0030");
        assert_eq!(render(fmt, quarter, "Asia/Kathmandu", THU_2230_UTC), "date=2025-09-19/time=0415");
    }

    #[test]
    fn times_before_1970_floor_downwards() {
        // 1969-12-31T23:30Z is in the bucket of 1969-12-31, not of 1970-01-01.
        assert_eq!(render("YYYY-MM-dd", DAY, "UTC", -30 * 60_000), "1969-12-31");
    }

    #[test]
    fn every_supported_letter_formats_as_joda_does() {
        let all = "yyyy|yy|Y|xxxx|ww|MM|M|DDD|dd|d|e|HH|mm|ss|SSS|S";
        // A 1 ms bucket keeps the exact time.
        assert_eq!(render(all, 1, "UTC", THU_2230_UTC), "2025|25|2025|2025|38|09|9|261|18|18|4|22|30|15|123|1");
        assert_eq!(render("'it''s' ''H", HOUR, "UTC", 0), "it's '0");
        assert_eq!(render("'a/b'/HH/", HOUR, "UTC", 0), "a/b/00/");
    }

    #[test]
    fn unsupported_patterns_are_rejected_with_a_reason() {
        assert!(PathFormat::parse("'month'=MMM").unwrap_err().contains("Month names"));
        assert!(PathFormat::parse("EEE").unwrap_err().contains("Day names"));
        assert!(PathFormat::parse("hh a").unwrap_err().contains("not supported"));
        assert!(PathFormat::parse("year=YYYY").unwrap_err().contains("'year'=YYYY"));
        assert!(PathFormat::parse("YYYY-q").unwrap_err().contains("single quotes"));
        assert!(PathFormat::parse("'year=YYYY").unwrap_err().contains("not closed"));
        assert!(PathFormat::parse("").is_err());
        assert!(PathFormat::parse("'static'").is_ok());
    }

    #[test]
    fn time_zones_parse_names_and_offsets() {
        assert_eq!(zone("UTC"), PartitionTimeZone::Named(Tz::UTC));
        assert_eq!(zone("+05:30"), PartitionTimeZone::Fixed(FixedOffset::east_opt(19_800).unwrap()));
        assert_eq!(zone("-08"), PartitionTimeZone::Fixed(FixedOffset::west_opt(28_800).unwrap()));
        assert!(PartitionTimeZone::parse("Mars/Olympus").unwrap_err().contains("IANA"));
        assert!(PartitionTimeZone::parse("+25:00").is_err());
        assert!(PartitionTimeZone::parse("+é0").is_err());
        assert!(TimeBuckets::new(PathFormat::parse("HH").unwrap(), 0, zone("UTC")).is_err());
    }

    #[test]
    fn times_out_of_range_are_errors_not_panics() {
        let buckets = TimeBuckets::new(PathFormat::parse("YYYY").unwrap(), DAY, zone("UTC")).unwrap();
        assert_eq!(buckets.write(i64::MAX, &mut String::new()), Err(PartitionError::TimeOutOfRange { ms: i64::MAX }));
    }
}
