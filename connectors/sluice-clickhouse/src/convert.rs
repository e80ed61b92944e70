//! Conversions from Kafka Connect values to the primitive forms ClickHouse columns store:
//! integers, floats, booleans, exact decimals, points in time, UUIDs and text.
//!
//! These are the coercions a Kafka Connect user expects (a JSON string `"42"` into an `Int32`
//! column, `"2025-09-18T10:30:00Z"` into a `DateTime`, a struct into a `String` column as JSON).
//! Each returns a short reason on failure; `encode` adds the column and type.

use std::fmt::Write as _;

use base64::Engine as _;
use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat};
use sluice_api::Value;

/// Nanoseconds in a day, the unit of plain integers written to `Date` columns.
pub(crate) const NANOS_PER_DAY: i128 = 86_400 * 1_000_000_000;

/// `10^exp`, or `None` when it does not fit an `i128`.
pub(crate) fn pow10(exp: u32) -> Option<i128> {
    10i128.checked_pow(exp)
}

/// An integer from ints, booleans, integral floats and decimals, and numeric strings.
pub(crate) fn to_i128(value: &Value) -> Result<i128, String> {
    match value {
        Value::Boolean(b) => Ok(*b as i128),
        Value::Float32(_) | Value::Float64(_) => {
            let f = value.as_f64().unwrap_or(f64::NAN);
            if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e38 {
                Ok(f as i128)
            } else {
                Err("not a whole number".into())
            }
        }
        Value::Decimal { unscaled, scale } => rescale(*unscaled, *scale, 0),
        Value::String(s) => {
            let t = s.trim();
            if let Ok(v) = t.parse::<i128>() {
                return Ok(v);
            }
            let (unscaled, scale) = parse_decimal(t).ok_or("not a number")?;
            rescale(unscaled, scale, 0)
        }
        _ => value.as_i64().map(i128::from).ok_or_else(|| "not a number".into()),
    }
}

/// A float from any numeric value, boolean, or numeric string (`"1.5"`, `"NaN"`, `"inf"`).
pub(crate) fn to_f64(value: &Value) -> Result<f64, String> {
    match value {
        Value::Boolean(b) => Ok(*b as u8 as f64),
        Value::String(s) => s.trim().parse().map_err(|_| "not a number".into()),
        _ => value.as_f64().ok_or_else(|| "not a number".into()),
    }
}

/// A boolean from booleans, 0/1 integers and the strings `true`/`false`/`1`/`0`.
pub(crate) fn to_bool(value: &Value) -> Result<bool, String> {
    match value {
        Value::Boolean(b) => Ok(*b),
        Value::String(s) => match s.trim() {
            t if t.eq_ignore_ascii_case("true") || t == "1" => Ok(true),
            t if t.eq_ignore_ascii_case("false") || t == "0" => Ok(false),
            _ => Err("not true, false, 1 or 0".into()),
        },
        _ => match value.as_i64() {
            Some(0) => Ok(false),
            Some(1) => Ok(true),
            _ => Err("not true, false, 1 or 0".into()),
        },
    }
}

/// An exact decimal with `scale` fraction digits, as its unscaled integer. Never rounds:
/// a value with more significant fraction digits than `scale` is an error.
pub(crate) fn to_decimal(value: &Value, scale: u32) -> Result<i128, String> {
    let (unscaled, from) = match value {
        Value::Decimal { unscaled, scale } => (*unscaled, *scale),
        Value::String(s) => parse_decimal(s.trim()).ok_or("not a decimal number")?,
        Value::Float32(_) | Value::Float64(_) => {
            let f = value.as_f64().unwrap_or(f64::NAN);
            if !f.is_finite() {
                return Err("not a finite number".into());
            }
            // Shortest round-trip text, so 0.1 becomes exactly 0.1 rather than its binary value.
            parse_decimal(&f.to_string()).ok_or("not a decimal number")?
        }
        _ => (to_i128(value)?, 0),
    };
    rescale(unscaled, from, scale)
}

/// Changes the scale of `unscaled × 10^-from` to `to` without losing digits.
pub(crate) fn rescale(unscaled: i128, from: u32, to: u32) -> Result<i128, String> {
    if to >= from {
        pow10(to - from).and_then(|m| unscaled.checked_mul(m)).ok_or_else(|| "too many digits".into())
    } else {
        let d = pow10(from - to).ok_or("too many digits")?;
        if unscaled % d != 0 {
            return Err(format!("has more than {to} fraction digits and would lose precision"));
        }
        Ok(unscaled / d)
    }
}

/// Parses `[+-]digits[.digits][e[+-]digits]` exactly, as `(unscaled, scale)`.
pub(crate) fn parse_decimal(s: &str) -> Option<(i128, u32)> {
    let (mantissa, exp) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], s[i + 1..].parse::<i32>().ok()?),
        None => (s, 0),
    };
    let (negative, digits) = match mantissa.as_bytes().first()? {
        b'-' => (true, &mantissa[1..]),
        b'+' => (false, &mantissa[1..]),
        _ => (false, mantissa),
    };
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let mut unscaled: i128 = 0;
    for c in int_part.bytes().chain(frac_part.bytes()) {
        if !c.is_ascii_digit() {
            return None;
        }
        unscaled = unscaled.checked_mul(10)?.checked_add((c - b'0') as i128)?;
    }
    let mut scale = frac_part.len() as i64 - exp as i64;
    if scale < 0 {
        unscaled = unscaled.checked_mul(pow10(u32::try_from(-scale).ok()?)?)?;
        scale = 0;
    }
    Some((if negative { -unscaled } else { unscaled }, u32::try_from(scale).ok()?))
}

/// A point in time as nanoseconds since the Unix epoch (UTC).
///
/// Accepts Timestamp (milliseconds) and Date (days) values, ISO-8601 / RFC 3339 strings, and
/// plain numbers, which count `plain_unit_nanos` each (the column's own unit).
pub(crate) fn to_epoch_nanos(value: &Value, plain_unit_nanos: i128) -> Result<i128, String> {
    let overflow = || "is out of range".to_string();
    match value {
        Value::Timestamp(ms) => Ok(*ms as i128 * 1_000_000),
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

/// Parses RFC 3339 / ISO-8601 date-times; without an offset the time is taken as UTC, and a
/// bare date is midnight UTC.
pub(crate) fn parse_datetime(s: &str) -> Option<i128> {
    let nanos = |secs: i64, sub: u32| secs as i128 * 1_000_000_000 + sub as i128;
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(nanos(dt.timestamp(), dt.timestamp_subsec_nanos()));
    }
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

/// A UUID from its text form (hyphens and braces optional) or 16 big-endian bytes.
pub(crate) fn to_uuid(value: &Value) -> Result<u128, String> {
    match value {
        Value::String(s) => {
            let hex: String = s.trim().trim_start_matches('{').trim_end_matches('}').replace('-', "");
            if hex.len() != 32 {
                return Err("is not a UUID such as 61f0c404-5cb3-11e7-907b-a6006ad3dba0".into());
            }
            u128::from_str_radix(&hex, 16).map_err(|_| "is not a UUID (bad hex digits)".into())
        }
        Value::Bytes(b) => <[u8; 16]>::try_from(b.as_ref())
            .map(u128::from_be_bytes)
            .map_err(|_| format!("has {} bytes; a UUID has 16", b.len())),
        _ => Err("is not a UUID".into()),
    }
}

/// Appends the text form of `value`, as a `String` column stores it: strings and bytes as
/// they are, scalars as text, arrays/maps/structs as JSON.
pub(crate) fn write_text(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::String(s) => out.extend_from_slice(s.as_bytes()),
        Value::Bytes(b) => out.extend_from_slice(b),
        Value::Array(_) | Value::Map(_) | Value::Struct(_) => write_json(value, out),
        Value::Null => {}
        _ => out.extend_from_slice(scalar_text(value).as_bytes()),
    }
}

/// Text of a scalar value; dates and times in ISO-8601.
fn scalar_text(value: &Value) -> String {
    match value {
        Value::Boolean(b) => b.to_string(),
        Value::Float32(f) => f.to_string(),
        Value::Float64(f) => f.to_string(),
        Value::Decimal { unscaled, scale } => decimal_text(*unscaled, *scale),
        Value::Date(days) => NaiveDate::from_num_days_from_ce_opt(719_163 + days)
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_else(|| days.to_string()),
        Value::Time(ms) => {
            let ms = ms.rem_euclid(86_400_000);
            format!("{:02}:{:02}:{:02}.{:03}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
        }
        Value::Timestamp(ms) => DateTime::from_timestamp_millis(*ms)
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
            .unwrap_or_else(|| ms.to_string()),
        other => other.as_i64().map(|v| v.to_string()).unwrap_or_default(),
    }
}

/// `unscaled × 10^-scale` as exact decimal text (`-12.340`).
pub(crate) fn decimal_text(unscaled: i128, scale: u32) -> String {
    let digits = unscaled.unsigned_abs().to_string();
    let sign = if unscaled < 0 { "-" } else { "" };
    let scale = scale as usize;
    if scale == 0 {
        return format!("{sign}{digits}");
    }
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{sign}{int}.{frac}")
}

/// Appends `value` as JSON. Bytes become base64 (as Kafka Connect's JsonConverter writes
/// them); dates and timestamps become ISO-8601 strings; decimals exact numbers.
fn write_json(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::String(s) => write_json_string(s, out),
        Value::Bytes(b) => write_json_string(&base64::engine::general_purpose::STANDARD.encode(b), out),
        Value::Float32(_) | Value::Float64(_) if !value.as_f64().is_some_and(f64::is_finite) => {
            out.extend_from_slice(b"null")
        }
        Value::Date(_) | Value::Time(_) | Value::Timestamp(_) => write_json_string(&scalar_text(value), out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json(item, out);
            }
            out.push(b']');
        }
        Value::Map(entries) => {
            out.push(b'{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let mut key = Vec::new();
                write_text(k, &mut key);
                write_json_string(&String::from_utf8_lossy(&key), out);
                out.push(b':');
                write_json(v, out);
            }
            out.push(b'}');
        }
        Value::Struct(s) => {
            out.push(b'{');
            for (i, (name, v)) in s.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json_string(name, out);
                out.push(b':');
                write_json(v, out);
            }
            out.push(b'}');
        }
        _ => out.extend_from_slice(scalar_text(value).as_bytes()),
    }
}

fn write_json_string(s: &str, out: &mut Vec<u8>) {
    let mut escaped = String::with_capacity(s.len() + 2);
    escaped.push('"');
    for c in s.chars() {
        match c {
            '"' => escaped.push_str("\\\""),
            '\\' => escaped.push_str("\\\\"),
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            '\t' => escaped.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(escaped, "\\u{:04x}", c as u32);
            }
            c => escaped.push(c),
        }
    }
    escaped.push('"');
    out.extend_from_slice(escaped.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_api::{Schema, SchemaType, Struct};

    #[test]
    fn integers_come_from_numbers_bools_and_numeric_strings() {
        assert_eq!(to_i128(&Value::Int8(-3)), Ok(-3));
        assert_eq!(to_i128(&Value::Boolean(true)), Ok(1));
        assert_eq!(to_i128(&" 42 ".into()), Ok(42));
        assert_eq!(to_i128(&"4.0".into()), Ok(4));
        assert_eq!(to_i128(&Value::Float64(7.0)), Ok(7));
        assert!(to_i128(&Value::Float64(7.5)).is_err());
        assert!(to_i128(&"4.5".into()).is_err());
        assert!(to_i128(&"abc".into()).is_err());
    }

    #[test]
    fn decimals_rescale_exactly_or_fail() {
        assert_eq!(to_decimal(&"12.34".into(), 4), Ok(123_400));
        assert_eq!(to_decimal(&"-0.5".into(), 1), Ok(-5));
        assert_eq!(to_decimal(&"1.2e2".into(), 0), Ok(120));
        assert_eq!(to_decimal(&Value::Decimal { unscaled: 12_300, scale: 3 }, 2), Ok(1_230));
        assert_eq!(to_decimal(&Value::Float64(0.1), 3), Ok(100));
        assert_eq!(to_decimal(&Value::Int32(5), 2), Ok(500));
        let err = to_decimal(&"1.2345".into(), 2).unwrap_err();
        assert!(err.contains("lose precision"), "{err}");
        assert!(to_decimal(&Value::Float64(f64::NAN), 2).is_err());
        assert_eq!(decimal_text(-1_234, 3), "-1.234");
        assert_eq!(decimal_text(5, 3), "0.005");
    }

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
    fn uuids_accept_text_and_bytes() {
        let want = 0x61f0c404_5cb3_11e7_907b_a6006ad3dba0u128;
        assert_eq!(to_uuid(&"61f0c404-5cb3-11e7-907b-a6006ad3dba0".into()), Ok(want));
        assert_eq!(to_uuid(&"{61F0C4045CB311E7907BA6006AD3DBA0}".into()), Ok(want));
        assert_eq!(to_uuid(&Value::Bytes(want.to_be_bytes().to_vec().into())), Ok(want));
        assert!(to_uuid(&"61f0c404".into()).is_err());
    }

    #[test]
    fn text_renders_scalars_and_json_for_nested_values() {
        let text = |v: &Value| {
            let mut out = Vec::new();
            write_text(v, &mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(text(&Value::Int32(-7)), "-7");
        assert_eq!(text(&Value::Boolean(true)), "true");
        assert_eq!(text(&Value::Float64(1.5)), "1.5");
        assert_eq!(text(&Value::Date(20_349)), "2025-09-18");
        assert_eq!(text(&Value::Timestamp(1_758_191_400_000)), "2025-09-18T10:30:00.000Z");
        let map = Value::Map(vec![
            ("a".into(), Value::Array(vec![Value::Int64(1), Value::Null])),
            ("q\"".into(), Value::Decimal { unscaled: 105, scale: 2 }),
        ]);
        assert_eq!(text(&map), r#"{"a":[1,null],"q\"":1.05}"#);
        let schema = Schema::structure([("n", Schema::new(SchemaType::Bytes).into_ref())]).into_ref();
        let st = Value::Struct(Struct { schema, values: vec![Value::Bytes(b"hi".to_vec().into())] });
        assert_eq!(text(&st), r#"{"n":"aGk="}"#);
    }
}
