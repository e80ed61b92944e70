//! Java `SimpleDateFormat` patterns (as users write them for TimestampConverter's `format` and
//! TimestampRouter's `timestamp.format`), translated once into chrono format items. Always UTC,
//! as both Kafka transforms set it.
//!
//! Supported letters: `y` (`yy` = two-digit year), `M`/`L`, `d`, `D`, `E`, `u`, `a`, `H`, `h`,
//! `m`, `s`, `S`, `z`, `Z`, `X`; `'quoted text'` and `''` for a quote. Other pattern letters
//! (`G`, `Y`, `w`, `W`, `F`, `k`, `K`) are rejected at configuration time rather than silently
//! formatted differently from Java.

use chrono::format::{Fixed, Item, Numeric, Pad, Parsed, StrftimeItems};
use chrono::{DateTime, Datelike, NaiveDate, Utc};

/// A compiled `SimpleDateFormat` pattern.
#[derive(Debug, Clone)]
pub struct JavaDateFormat {
    pattern: String,
    items: Vec<Item<'static>>,
}

impl JavaDateFormat {
    /// Translates `pattern`; the error is a message for a config error.
    pub fn new(pattern: &str) -> Result<Self, String> {
        let mut items = Vec::new();
        let mut literal = String::new();
        let chars: Vec<char> = pattern.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '\'' {
                if chars.get(i + 1) == Some(&'\'') {
                    literal.push('\'');
                    i += 2;
                    continue;
                }
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(format!("Unterminated quote in date format pattern {pattern:?}.")),
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            literal.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(&ch) => {
                            literal.push(ch);
                            i += 1;
                        }
                    }
                }
                continue;
            }
            if !c.is_ascii_alphabetic() {
                literal.push(c);
                i += 1;
                continue;
            }
            let mut count = 1;
            while chars.get(i + count) == Some(&c) {
                count += 1;
            }
            i += count;
            if !literal.is_empty() {
                items.push(Item::OwnedLiteral(std::mem::take(&mut literal).into_boxed_str()));
            }
            items.push(letter_item(c, count).map_err(|why| format!("{why} in date format pattern {pattern:?}."))?);
        }
        if !literal.is_empty() {
            items.push(Item::OwnedLiteral(literal.into_boxed_str()));
        }
        Ok(JavaDateFormat { pattern: pattern.to_owned(), items })
    }

    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Formats milliseconds since the epoch, in UTC.
    pub fn format_millis(&self, ms: i64) -> Result<String, String> {
        let at = DateTime::<Utc>::from_timestamp_millis(ms).ok_or_else(|| format!("Timestamp {ms} is out of range"))?;
        Ok(at.format_with_items(self.items.iter()).to_string())
    }

    /// Parses text into milliseconds since the epoch. Fields the pattern lacks default as in
    /// Java (1970-01-01T00:00:00.000, UTC unless the text carries an offset).
    pub fn parse_millis(&self, text: &str) -> Result<i64, String> {
        let fail = || format!("Could not parse timestamp: value ({text}) does not match pattern ({})", self.pattern);
        let mut parsed = Parsed::new();
        chrono::format::parse(&mut parsed, text, self.items.iter()).map_err(|_| fail())?;
        let year = match (parsed.year(), parsed.year_mod_100()) {
            (Some(y), _) => y,
            (None, Some(yy)) => two_digit_year(yy),
            (None, None) => 1970,
        };
        let date = match (parsed.ordinal(), parsed.month(), parsed.day()) {
            (Some(ordinal), None, None) => NaiveDate::from_yo_opt(year, ordinal),
            (_, month, day) => NaiveDate::from_ymd_opt(year, month.unwrap_or(1), day.unwrap_or(1)),
        }
        .ok_or_else(fail)?;
        let hour = parsed.hour_div_12().unwrap_or(0) * 12 + parsed.hour_mod_12().unwrap_or(0);
        let time = date
            .and_hms_nano_opt(
                hour,
                parsed.minute().unwrap_or(0),
                parsed.second().unwrap_or(0),
                parsed.nanosecond().unwrap_or(0),
            )
            .ok_or_else(fail)?;
        Ok(time.and_utc().timestamp_millis() - parsed.offset().unwrap_or(0) as i64 * 1000)
    }
}

/// Java resolves a two-digit year into the window from 80 years ago to 20 years ahead.
fn two_digit_year(yy: i32) -> i32 {
    let window_start = Utc::now().year() - 80;
    let candidate = window_start - window_start.rem_euclid(100) + yy;
    if candidate < window_start {
        candidate + 100
    } else {
        candidate
    }
}

fn pad(count: usize) -> Pad {
    if count >= 2 {
        Pad::Zero
    } else {
        Pad::None
    }
}

/// chrono's fraction-of-second items without a leading dot (`%3f`, `%6f`, `%9f`) are only
/// reachable through strftime syntax.
fn fraction(digits: usize) -> Item<'static> {
    let spec = match digits {
        3 => "%3f",
        6 => "%6f",
        _ => "%9f",
    };
    StrftimeItems::new(spec).next().expect("a fraction item").to_owned()
}

fn letter_item(letter: char, count: usize) -> Result<Item<'static>, String> {
    Ok(match letter {
        'y' if count == 2 => Item::Numeric(Numeric::YearMod100, Pad::Zero),
        'y' => Item::Numeric(Numeric::Year, Pad::Zero),
        'M' | 'L' if count >= 4 => Item::Fixed(Fixed::LongMonthName),
        'M' | 'L' if count == 3 => Item::Fixed(Fixed::ShortMonthName),
        'M' | 'L' => Item::Numeric(Numeric::Month, pad(count)),
        'd' => Item::Numeric(Numeric::Day, pad(count)),
        'D' => Item::Numeric(Numeric::Ordinal, if count >= 3 { Pad::Zero } else { Pad::None }),
        'E' if count >= 4 => Item::Fixed(Fixed::LongWeekdayName),
        'E' => Item::Fixed(Fixed::ShortWeekdayName),
        'u' => Item::Numeric(Numeric::WeekdayFromMon, Pad::None),
        'a' => Item::Fixed(Fixed::UpperAmPm),
        'H' => Item::Numeric(Numeric::Hour, pad(count)),
        'h' => Item::Numeric(Numeric::Hour12, pad(count)),
        'm' => Item::Numeric(Numeric::Minute, pad(count)),
        's' => Item::Numeric(Numeric::Second, pad(count)),
        // Java's S is a millisecond count; SSS is by far the common spelling. Longer runs are
        // read as a finer fraction (micro/nano digits) rather than Java's zero-padded millis.
        'S' if count <= 3 => fraction(3),
        'S' if count <= 6 => fraction(6),
        'S' => fraction(9),
        'z' => Item::Fixed(Fixed::TimezoneName),
        'Z' => Item::Fixed(Fixed::TimezoneOffset),
        'X' if count >= 3 => Item::Fixed(Fixed::TimezoneOffsetColonZ),
        'X' => Item::Fixed(Fixed::TimezoneOffsetZ),
        'G' | 'Y' | 'w' | 'W' | 'F' | 'k' | 'K' => {
            return Err(format!("Pattern letter '{letter}' is not supported (use y for years, H or h for hours)"))
        }
        other => return Err(format!("Illegal pattern character '{other}'")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(pattern: &str, ms: i64) -> String {
        JavaDateFormat::new(pattern).unwrap().format_millis(ms).unwrap()
    }

    fn parse(pattern: &str, text: &str) -> i64 {
        JavaDateFormat::new(pattern).unwrap().parse_millis(text).unwrap()
    }

    #[test]
    fn formats_kafka_test_patterns() {
        // TimestampConverterTest: 1970-01-02T00:00:01.234Z with "yyyy MM dd HH mm ss SSS z".
        assert_eq!(fmt("yyyy MM dd HH mm ss SSS z", 86_401_234), "1970 01 02 00 00 01 234 UTC");
        // TimestampRouterTest: 1483425001864 with the default "yyyyMMdd".
        assert_eq!(fmt("yyyyMMdd", 1_483_425_001_864), "20170103");
        assert_eq!(fmt("yyyy-MM-dd'T'HH:mm:ss.SSSZ", 1_483_425_001_864), "2017-01-03T06:30:01.864+0000");
        assert_eq!(fmt("yyyy-MM-dd'T'HH:mm:ss.SSSXXX", 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(fmt("d MMM yy, h:mm a", 1_483_425_001_864), "3 Jan 17, 6:30 AM");
        assert_eq!(fmt("EEEE, MMMM dd ''yy", 0), "Thursday, January 01 '70");
        assert_eq!(fmt("yyyy.DDD", 86_400_000 * 40), "1970.041");
    }

    #[test]
    fn parses_with_java_defaults_and_offsets() {
        assert_eq!(parse("yyyy MM dd HH mm ss SSS z", "1970 01 02 00 00 01 234 UTC"), 86_401_234);
        assert_eq!(parse("yyyy-MM-dd", "2017-01-03"), 1_483_401_600_000);
        assert_eq!(parse("HH:mm", "01:30"), 5_400_000);
        assert_eq!(parse("yyyy-MM-dd'T'HH:mm:ss.SSSZ", "2017-01-03T08:30:01.864+0200"), 1_483_425_001_864);
        assert_eq!(parse("yyyy-MM-dd'T'HH:mm:ssXXX", "2017-01-03T06:30:01Z"), 1_483_425_001_000);
        assert_eq!(parse("yyyyMMddHHmmss", "20170103063001"), 1_483_425_001_000);
        assert_eq!(parse("hh:mm a", "06:30 PM"), 66_600_000);
    }

    #[test]
    fn mismatching_text_names_value_and_pattern() {
        let f = JavaDateFormat::new("yyyy-MM-dd").unwrap();
        assert_eq!(
            f.parse_millis("03/01/2017").unwrap_err(),
            "Could not parse timestamp: value (03/01/2017) does not match pattern (yyyy-MM-dd)"
        );
    }

    #[test]
    fn rejects_illegal_and_unsupported_letters() {
        assert!(JavaDateFormat::new("bad-format").unwrap_err().contains("Illegal pattern character 'b'"));
        assert!(JavaDateFormat::new("YYYY-MM-dd").unwrap_err().contains("'Y' is not supported"));
        assert!(JavaDateFormat::new("yyyy-MM-dd'T").unwrap_err().contains("Unterminated quote"));
    }
}
