//! Integers, floats, booleans and UUIDs from whatever a record carries: numbers of any width,
//! booleans, integral floats and decimals, and their text forms.

use super::decimal::{parse_decimal, rescale};
use crate::value::Value;

/// An integer from ints, booleans, integral floats and decimals, and numeric strings.
pub fn to_i128(value: &Value) -> Result<i128, String> {
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

/// [`to_i128`], checked to fit an `i64` (a Parquet or Connect `INT64`).
pub fn to_i64(value: &Value) -> Result<i64, String> {
    let v = to_i128(value)?;
    i64::try_from(v).map_err(|_| format!("is outside {}..={}", i64::MIN, i64::MAX))
}

/// A float from any numeric value, boolean, or numeric string (`"1.5"`, `"NaN"`, `"inf"`).
pub fn to_f64(value: &Value) -> Result<f64, String> {
    match value {
        Value::Boolean(b) => Ok(*b as u8 as f64),
        Value::String(s) => s.trim().parse().map_err(|_| "not a number".into()),
        _ => value.as_f64().ok_or_else(|| "not a number".into()),
    }
}

/// A boolean from booleans, 0/1 integers and the strings `true`/`false`/`1`/`0`.
pub fn to_bool(value: &Value) -> Result<bool, String> {
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

/// A UUID from its text form (hyphens and braces optional) or 16 big-endian bytes.
pub fn to_uuid(value: &Value) -> Result<u128, String> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn int64s_are_range_checked() {
        assert_eq!(to_i64(&"-9223372036854775808".into()), Ok(i64::MIN));
        assert_eq!(to_i64(&Value::Decimal { unscaled: 1_200, scale: 2 }), Ok(12));
        assert_eq!(to_i64(&Value::Timestamp(5)), Ok(5));
        let err = to_i64(&"9223372036854775808".into()).unwrap_err();
        assert!(err.contains("is outside"), "{err}");
        assert_eq!(to_i64(&"x".into()), Err("not a number".into()));
    }

    #[test]
    fn floats_and_booleans_accept_their_text_forms() {
        assert_eq!(to_f64(&" 1.5 ".into()), Ok(1.5));
        assert_eq!(to_f64(&Value::Boolean(true)), Ok(1.0));
        assert!(to_f64(&"inf".into()).is_ok_and(f64::is_infinite));
        assert_eq!(to_bool(&"TRUE".into()), Ok(true));
        assert_eq!(to_bool(&Value::Int64(0)), Ok(false));
        assert!(to_bool(&Value::Int64(2)).is_err());
    }

    #[test]
    fn uuids_accept_text_and_bytes() {
        let want = 0x61f0c404_5cb3_11e7_907b_a6006ad3dba0u128;
        assert_eq!(to_uuid(&"61f0c404-5cb3-11e7-907b-a6006ad3dba0".into()), Ok(want));
        assert_eq!(to_uuid(&"{61F0C4045CB311E7907BA6006AD3DBA0}".into()), Ok(want));
        assert_eq!(to_uuid(&Value::Bytes(want.to_be_bytes().to_vec().into())), Ok(want));
        assert!(to_uuid(&"61f0c404".into()).is_err());
    }
}
