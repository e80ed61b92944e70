//! The RowBinary encoder: writes one Connect [`Value`] for a column of a given
//! [`ClickhouseType`] into a reused byte buffer.
//!
//! RowBinary is positional and untyped on the wire, so every byte must match the column's
//! type exactly: little-endian fixed-width numbers, LEB128 lengths before strings and arrays,
//! a one-byte null flag before `Nullable` values, and `LowCardinality` written as its inner
//! type. UUIDs are two little-endian `u64` halves, high half first (checked against 18.16).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use sluice_api::coerce::{
    pow10, text_bytes, to_bool, to_decimal, to_epoch_units, to_f64, to_i128, to_uuid, NANOS_PER_DAY,
};
use sluice_api::{ConnectError, Value};

use crate::types::ClickhouseType;

/// Why a value cannot be written to a column; [`EncodeError::for_column`] turns it into the
/// user-facing [`ConnectError::Data`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeError {
    message: String,
}

impl EncodeError {
    fn new(ty: &ClickhouseType, value: &Value, reason: impl fmt::Display) -> Self {
        EncodeError { message: format!("expects {ty} but got {} {}: {reason}", value.type_name(), preview(value)) }
    }

    /// The error as a `Data` error naming `column`.
    pub fn for_column(&self, column: &str) -> ConnectError {
        ConnectError::data(format!("Column `{column}` {}", self.message))
    }
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A short rendering of the offending value for error messages.
fn preview(value: &Value) -> String {
    let text = text_bytes(value);
    let text = String::from_utf8_lossy(&text);
    let mut shown: String = text.chars().take(60).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    match value {
        Value::Null => "null".into(),
        Value::String(_) | Value::Bytes(_) => format!("{shown:?}"),
        _ => shown,
    }
}

/// Appends the RowBinary encoding of `value` for a column of type `ty`. On error the buffer
/// may hold a partial value; the caller truncates it back to the row's start.
pub fn encode_value(buf: &mut Vec<u8>, ty: &ClickhouseType, value: &Value) -> Result<(), EncodeError> {
    use ClickhouseType as T;
    let fail = |reason: &dyn fmt::Display| EncodeError::new(ty, value, reason);
    match ty {
        T::Nullable(inner) => {
            if value.is_null() {
                buf.push(1);
                return Ok(());
            }
            buf.push(0);
            return encode_value(buf, inner, value);
        }
        T::LowCardinality(inner) => return encode_value(buf, inner, value),
        _ if value.is_null() => return Err(fail(&"the column is not Nullable")),
        _ => {}
    }
    match ty {
        T::Int8 => put_int(buf, ty, value, i8::MIN as i128, i8::MAX as i128, 1),
        T::Int16 => put_int(buf, ty, value, i16::MIN as i128, i16::MAX as i128, 2),
        T::Int32 => put_int(buf, ty, value, i32::MIN as i128, i32::MAX as i128, 4),
        T::Int64 => put_int(buf, ty, value, i64::MIN as i128, i64::MAX as i128, 8),
        T::Int128 => put_int(buf, ty, value, i128::MIN, i128::MAX, 16),
        T::Int256 => put_int(buf, ty, value, i128::MIN, i128::MAX, 32),
        T::UInt8 => put_int(buf, ty, value, 0, u8::MAX as i128, 1),
        T::UInt16 => put_int(buf, ty, value, 0, u16::MAX as i128, 2),
        T::UInt32 => put_int(buf, ty, value, 0, u32::MAX as i128, 4),
        T::UInt64 => put_int(buf, ty, value, 0, u64::MAX as i128, 8),
        T::UInt128 => put_int(buf, ty, value, 0, i128::MAX, 16),
        T::UInt256 => put_int(buf, ty, value, 0, i128::MAX, 32),
        T::Float32 => {
            let f = to_f64(value).map_err(|r| fail(&r))?;
            buf.extend_from_slice(&(f as f32).to_le_bytes());
            Ok(())
        }
        T::Float64 => {
            let f = to_f64(value).map_err(|r| fail(&r))?;
            buf.extend_from_slice(&f.to_le_bytes());
            Ok(())
        }
        T::Bool => {
            buf.push(to_bool(value).map_err(|r| fail(&r))? as u8);
            Ok(())
        }
        T::String => {
            put_string(buf, value);
            Ok(())
        }
        T::FixedString(n) => put_fixed_string(buf, *n, value).map_err(|r| fail(&r)),
        T::Date => {
            let days = to_epoch_units(value, NANOS_PER_DAY).map_err(|r| fail(&r))?;
            let days = u16::try_from(days).map_err(|_| fail(&"is outside 1970-01-01..2149-06-06"))?;
            buf.extend_from_slice(&days.to_le_bytes());
            Ok(())
        }
        T::Date32 => {
            let days = to_epoch_units(value, NANOS_PER_DAY).map_err(|r| fail(&r))?;
            let days = i32::try_from(days).map_err(|_| fail(&"is out of range"))?;
            buf.extend_from_slice(&days.to_le_bytes());
            Ok(())
        }
        T::DateTime(_) => {
            let secs = to_epoch_units(value, 1_000_000_000).map_err(|r| fail(&r))?;
            let secs = u32::try_from(secs).map_err(|_| fail(&"is outside 1970-01-01..2106-02-07"))?;
            buf.extend_from_slice(&secs.to_le_bytes());
            Ok(())
        }
        T::DateTime64 { precision, .. } => {
            let tick = pow10(9 - (*precision).min(9)).unwrap_or(1);
            let ticks = to_epoch_units(value, tick).map_err(|r| fail(&r))?;
            let ticks = i64::try_from(ticks).map_err(|_| fail(&"is out of range"))?;
            buf.extend_from_slice(&ticks.to_le_bytes());
            Ok(())
        }
        T::Decimal { precision, scale } => {
            let unscaled = to_decimal(value, *scale).map_err(|r| fail(&r))?;
            if pow10(*precision).is_some_and(|limit| unscaled.abs() >= limit) {
                return Err(fail(&format!("has more than {precision} digits")));
            }
            let width = match precision {
                0..=9 => 4,
                10..=18 => 8,
                19..=38 => 16,
                _ => 32,
            };
            put_le(buf, unscaled, width);
            Ok(())
        }
        T::Uuid => {
            let uuid = to_uuid(value).map_err(|r| fail(&r))?;
            buf.extend_from_slice(&((uuid >> 64) as u64).to_le_bytes());
            buf.extend_from_slice(&(uuid as u64).to_le_bytes());
            Ok(())
        }
        T::Ipv4 => {
            let ip = match value {
                Value::String(s) => {
                    s.trim().parse::<Ipv4Addr>().map(u32::from).map_err(|_| fail(&"is not an IPv4 address"))?
                }
                _ => u32::try_from(to_i128(value).map_err(|r| fail(&r))?).map_err(|_| fail(&"is out of range"))?,
            };
            buf.extend_from_slice(&ip.to_le_bytes());
            Ok(())
        }
        T::Ipv6 => {
            let octets = match value {
                Value::String(s) => match s.trim().parse::<IpAddr>() {
                    Ok(IpAddr::V6(ip)) => ip.octets(),
                    Ok(IpAddr::V4(ip)) => ip.to_ipv6_mapped().octets(),
                    Err(_) => return Err(fail(&"is not an IP address")),
                },
                Value::Bytes(b) => <[u8; 16]>::try_from(b.as_ref()).map_err(|_| fail(&"is not 16 bytes"))?,
                _ => return Err(fail(&"is not an IP address")),
            };
            buf.extend_from_slice(&octets);
            Ok(())
        }
        T::Enum8(items) => {
            let v = enum_value(value, items.iter().map(|(n, v)| (n.as_str(), *v as i16))).map_err(|r| fail(&r))?;
            buf.push(v as i8 as u8);
            Ok(())
        }
        T::Enum16(items) => {
            let v = enum_value(value, items.iter().map(|(n, v)| (n.as_str(), *v))).map_err(|r| fail(&r))?;
            buf.extend_from_slice(&v.to_le_bytes());
            Ok(())
        }
        T::Array(inner) => {
            let Value::Array(items) = value else {
                return Err(fail(&"an Array column needs an array"));
            };
            put_varint(buf, items.len() as u64);
            for (i, item) in items.iter().enumerate() {
                encode_value(buf, inner, item)
                    .map_err(|e| EncodeError { message: format!("at element {i}: {}", e.message) })?;
            }
            Ok(())
        }
        T::Tuple(_) | T::Map(..) => Err(fail(
            &"Tuple and Map columns are not supported by Sluice yet; leave the field out or use a String column",
        )),
        T::Nullable(_) | T::LowCardinality(_) => Ok(()), // handled above
    }
}

fn put_int(
    buf: &mut Vec<u8>,
    ty: &ClickhouseType,
    value: &Value,
    min: i128,
    max: i128,
    width: usize,
) -> Result<(), EncodeError> {
    let v = to_i128(value).map_err(|r| EncodeError::new(ty, value, r))?;
    if v < min || v > max {
        return Err(EncodeError::new(ty, value, format!("is outside {min}..={max}")));
    }
    put_le(buf, v, width);
    Ok(())
}

/// Little-endian two's complement in `width` bytes (1–16, or 32 with sign extension); the
/// caller has checked the range.
fn put_le(buf: &mut Vec<u8>, v: i128, width: usize) {
    let bytes = v.to_le_bytes();
    if width <= 16 {
        buf.extend_from_slice(&bytes[..width]);
    } else {
        buf.extend_from_slice(&bytes);
        let fill = if v < 0 { 0xff } else { 0 };
        buf.resize(buf.len() + (width - 16), fill);
    }
}

/// LEB128, as RowBinary prefixes string and array lengths.
pub fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            buf.push(byte);
            return;
        }
        buf.push(byte | 0x80);
    }
}

fn put_string(buf: &mut Vec<u8>, value: &Value) {
    let bytes = text_bytes(value);
    put_varint(buf, bytes.len() as u64);
    buf.extend_from_slice(&bytes);
}

fn put_fixed_string(buf: &mut Vec<u8>, n: usize, value: &Value) -> Result<(), String> {
    let bytes = text_bytes(value);
    if bytes.len() > n {
        return Err(format!("is {} bytes long, more than {n}", bytes.len()));
    }
    buf.extend_from_slice(&bytes);
    buf.resize(buf.len() + (n - bytes.len()), 0);
    Ok(())
}

/// An enum's number from its name or from one of its numbers.
fn enum_value<'a>(value: &Value, items: impl Iterator<Item = (&'a str, i16)> + Clone) -> Result<i16, String> {
    let names = || items.clone().map(|(n, _)| format!("'{n}'")).collect::<Vec<_>>().join(", ");
    if let Value::String(s) = value {
        if let Some((_, v)) = items.clone().find(|(n, _)| n == s) {
            return Ok(v);
        }
        if s.trim().parse::<i16>().is_err() {
            return Err(format!("is not one of {}", names()));
        }
    }
    let n = to_i128(value).map_err(|_| format!("is not one of {}", names()))?;
    match items.clone().find(|(_, v)| *v as i128 == n) {
        Some((_, v)) => Ok(v),
        None => Err(format!("is not a value of the enum ({})", names())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(ty: &str, value: Value) -> Vec<u8> {
        let ty = ClickhouseType::parse(ty).unwrap();
        let mut buf = Vec::new();
        encode_value(&mut buf, &ty, &value).unwrap_or_else(|e| panic!("{ty}: {e}"));
        buf
    }

    fn err(ty: &str, value: Value) -> String {
        let ty = ClickhouseType::parse(ty).unwrap();
        encode_value(&mut Vec::new(), &ty, &value).unwrap_err().for_column("c").to_string()
    }

    #[test]
    fn integers_are_little_endian_and_range_checked() {
        assert_eq!(enc("Int8", Value::Int64(-1)), [0xff]);
        assert_eq!(enc("UInt16", Value::Int32(0x1234)), [0x34, 0x12]);
        assert_eq!(enc("Int32", "-2".into()), (-2i32).to_le_bytes());
        assert_eq!(enc("UInt64", Value::Int64(1)), 1u64.to_le_bytes());
        assert_eq!(enc("UInt8", Value::Boolean(true)), [1]);
        assert_eq!(enc("Int128", Value::Int8(-1)), [0xff; 16]);
        assert_eq!(enc("Int256", Value::Int8(-2)).len(), 32);
        let e = err("UInt8", Value::Int64(300));
        assert!(e.contains("Column `c` expects UInt8 but got int64 300: is outside 0..=255"), "{e}");
        assert!(err("Int32", "twelve".into()).contains("not a number"));
    }

    #[test]
    fn floats_bools_and_strings() {
        assert_eq!(enc("Float32", Value::Float64(1.5)), 1.5f32.to_le_bytes());
        assert_eq!(enc("Float64", "2.25".into()), 2.25f64.to_le_bytes());
        assert_eq!(enc("Bool", "true".into()), [1]);
        assert_eq!(enc("String", "héllo".into()), b"\x06h\xc3\xa9llo");
        assert_eq!(enc("String", Value::Int64(42)), b"\x0242");
        assert_eq!(enc("String", Value::Map(vec![("a".into(), Value::Int64(1))])), b"\x07{\"a\":1}");
        let long = "x".repeat(300);
        assert_eq!(&enc("String", long.as_str().into())[..2], [0xac, 0x02]);
        assert_eq!(enc("FixedString(4)", "ab".into()), b"ab\0\0");
        assert!(err("FixedString(2)", "abc".into()).contains("3 bytes long, more than 2"));
    }

    #[test]
    fn dates_and_times_accept_strings_logical_types_and_epoch_numbers() {
        let secs = 1_758_191_400u32; // 2025-09-18T10:30:00Z
        assert_eq!(enc("DateTime", "2025-09-18T10:30:00Z".into()), secs.to_le_bytes());
        assert_eq!(enc("DateTime('Asia/Tokyo')", "2025-09-18 10:30:00".into()), secs.to_le_bytes());
        assert_eq!(enc("DateTime", Value::Timestamp(secs as i64 * 1000 + 999)), secs.to_le_bytes());
        assert_eq!(enc("DateTime", Value::Int64(secs as i64)), secs.to_le_bytes());
        assert_eq!(enc("Date", Value::Date(20_349)), 20_349u16.to_le_bytes());
        assert_eq!(enc("Date", "2025-09-18".into()), 20_349u16.to_le_bytes());
        assert_eq!(enc("Date", Value::Timestamp(secs as i64 * 1000)), 20_349u16.to_le_bytes());
        assert_eq!(enc("Date32", Value::Int32(-1)), (-1i32).to_le_bytes());
        let ms = secs as i64 * 1000 + 123;
        assert_eq!(enc("DateTime64(3, 'UTC')", "2025-09-18T10:30:00.123Z".into()), ms.to_le_bytes());
        assert_eq!(enc("DateTime64(3)", Value::Timestamp(ms)), ms.to_le_bytes());
        assert_eq!(enc("DateTime64(6)", Value::Int64(7)), 7i64.to_le_bytes());
        assert_eq!(enc("DateTime64(0)", Value::Timestamp(ms)), (secs as i64).to_le_bytes());
        assert!(err("DateTime", "1969-12-31T23:59:59Z".into()).contains("outside 1970-01-01"));
        assert!(err("DateTime", "next tuesday".into()).contains("ISO-8601"));
    }

    #[test]
    fn decimals_use_the_width_of_their_precision() {
        assert_eq!(enc("Decimal(9, 2)", "12.34".into()), 1234i32.to_le_bytes());
        assert_eq!(enc("Decimal(18, 4)", Value::Decimal { unscaled: -12_345, scale: 3 }), (-123_450i64).to_le_bytes());
        assert_eq!(enc("Decimal(38, 0)", Value::Int64(5)), 5i128.to_le_bytes());
        assert_eq!(enc("Decimal(76, 2)", Value::Int64(-1)).len(), 32);
        assert!(err("Decimal(18, 2)", "1.005".into()).contains("lose precision"));
        assert!(err("Decimal(4, 2)", "100".into()).contains("more than 4 digits"));
    }

    #[test]
    fn uuid_is_two_little_endian_halves() {
        // Bytes as ClickHouse 18.16 itself returns for this UUID in RowBinary.
        let want = [0xe7, 0x11, 0xb3, 0x5c, 0x04, 0xc4, 0xf0, 0x61, 0xa0, 0xdb, 0xd3, 0x6a, 0x00, 0xa6, 0x7b, 0x90];
        assert_eq!(enc("UUID", "61f0c404-5cb3-11e7-907b-a6006ad3dba0".into()), want);
        assert!(err("UUID", "nope".into()).contains("not a UUID"));
    }

    #[test]
    fn enums_by_name_or_number() {
        let ty = "Enum8('a' = 1, 'b' = -2)";
        assert_eq!(enc(ty, "b".into()), [0xfe]);
        assert_eq!(enc(ty, Value::Int32(1)), [1]);
        assert_eq!(enc(ty, "1".into()), [1]);
        assert!(err(ty, "c".into()).contains("is not one of 'a', 'b'"));
        assert!(err(ty, Value::Int32(3)).contains("not a value of the enum"));
        assert_eq!(enc("Enum16('x' = 1000)", "x".into()), 1000i16.to_le_bytes());
    }

    #[test]
    fn nullable_arrays_and_low_cardinality() {
        assert_eq!(enc("Nullable(Int8)", Value::Null), [1]);
        assert_eq!(enc("Nullable(Int8)", Value::Int8(5)), [0, 5]);
        assert_eq!(enc("LowCardinality(String)", "ab".into()), b"\x02ab");
        assert_eq!(enc("LowCardinality(Nullable(String))", Value::Null), [1]);
        let arr = Value::Array(vec!["x".into(), Value::Null]);
        assert_eq!(enc("Array(Nullable(String))", arr), [2, 0, 1, b'x', 1]);
        assert!(err("Array(String)", Value::Array(vec![Value::Null])).contains("at element 0"));
        assert!(err("String", Value::Null).contains("not Nullable"));
        assert!(err("Array(UInt8)", "x".into()).contains("needs an array"));
    }

    #[test]
    fn ip_addresses() {
        assert_eq!(enc("IPv4", "1.2.3.4".into()), 0x01020304u32.to_le_bytes());
        let v6 = enc("IPv6", "::1".into());
        assert_eq!(v6.len(), 16);
        assert_eq!(v6[15], 1);
    }

    #[test]
    fn tuples_and_maps_are_rejected_clearly() {
        let e = err("Map(String, UInt8)", Value::Map(vec![]));
        assert!(e.contains("not supported by Sluice yet"), "{e}");
    }
}
