//! The RowBinary encoder: writes one Connect [`Value`] for a column of a given
//! [`ClickhouseType`] into a reused byte buffer.
//!
//! RowBinary is positional and untyped on the wire, so every byte must match the column's
//! type exactly: little-endian two's-complement numbers up to 256 bits (decimals as their
//! unscaled integer), LEB128 lengths before strings, arrays and maps, a one-byte null flag
//! before `Nullable` values, `LowCardinality` written as its inner type, a tuple as its
//! elements one after another and a map as its key, value pairs. UUIDs are two little-endian
//! `u64` halves, high half first (checked against 18.16); IPv6 is 16 bytes in network order.
//! ClickHouse 26.x reads every type back in `tests/integration/test_clickhouse_types_chdb.py`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use sluice_api::coerce::{pow10, text_bytes, to_bool, to_epoch_units, to_f64, to_i128, to_uuid, NANOS_PER_DAY};
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

    /// The error of a part of a value (an array element, a map entry, a tuple element).
    fn within(self, place: impl fmt::Display) -> Self {
        EncodeError { message: format!("{place}: {}", self.message) }
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
        T::Int128 => put_wide_int(buf, ty, value, true, 128),
        T::Int256 => put_wide_int(buf, ty, value, true, 256),
        T::UInt8 => put_int(buf, ty, value, 0, u8::MAX as i128, 1),
        T::UInt16 => put_int(buf, ty, value, 0, u16::MAX as i128, 2),
        T::UInt32 => put_int(buf, ty, value, 0, u32::MAX as i128, 4),
        T::UInt64 => put_int(buf, ty, value, 0, u64::MAX as i128, 8),
        T::UInt128 => put_wide_int(buf, ty, value, false, 128),
        T::UInt256 => put_wide_int(buf, ty, value, false, 256),
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
            let unscaled = to_wide(value, *scale).map_err(|r| fail(&r))?;
            let limit = Wide::from(10u8).checked_pow(*precision);
            if limit.is_some_and(|limit| unscaled >= limit || unscaled <= -limit) {
                return Err(fail(&format!("has more than {precision} digits")));
            }
            let width = match precision {
                0..=9 => 4,
                10..=18 => 8,
                19..=38 => 16,
                _ => 32,
            };
            put_wide_le(buf, unscaled, width);
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
                encode_value(buf, inner, item).map_err(|e| e.within(format_args!("at element {i}")))?;
            }
            Ok(())
        }
        T::Map(key_ty, value_ty) => match value {
            Value::Map(entries) => {
                put_varint(buf, entries.len() as u64);
                entries.iter().try_for_each(|(k, v)| put_map_entry(buf, key_ty, value_ty, k, v))
            }
            Value::Struct(s) => {
                put_varint(buf, s.values.len() as u64);
                s.iter().try_for_each(|(k, v)| put_map_entry(buf, key_ty, value_ty, &Value::from(k), v))
            }
            _ => Err(fail(&"a Map column needs a map, a struct or a JSON object")),
        },
        T::Tuple(elements) => put_tuple(buf, ty, elements, value),
        T::Nullable(_) | T::LowCardinality(_) => Ok(()), // handled above
    }
}

fn put_map_entry(
    buf: &mut Vec<u8>,
    key_ty: &ClickhouseType,
    value_ty: &ClickhouseType,
    key: &Value,
    value: &Value,
) -> Result<(), EncodeError> {
    encode_value(buf, key_ty, key).map_err(|e| e.within(format_args!("in the key {}", preview(key))))?;
    encode_value(buf, value_ty, value).map_err(|e| e.within(format_args!("at key {}", preview(key))))
}

/// A tuple from an array of its elements in order, or, for a named tuple, from a struct or a
/// JSON object by element name: fields without an element are ignored (as record fields
/// without a column are), and a missing field is `NULL`.
fn put_tuple(
    buf: &mut Vec<u8>,
    ty: &ClickhouseType,
    elements: &[(Option<String>, ClickhouseType)],
    value: &Value,
) -> Result<(), EncodeError> {
    let fail = |reason: String| EncodeError::new(ty, value, reason);
    let named = !elements.is_empty() && elements.iter().all(|(name, _)| name.is_some());
    match value {
        Value::Array(items) => {
            if items.len() != elements.len() {
                return Err(fail(format!("has {} elements but the Tuple has {}", items.len(), elements.len())));
            }
            for (i, ((name, elem_ty), item)) in elements.iter().zip(items).enumerate() {
                encode_value(buf, elem_ty, item).map_err(|e| match name {
                    Some(name) => e.within(format_args!("at element `{name}`")),
                    None => e.within(format_args!("at element {i}")),
                })?;
            }
            Ok(())
        }
        Value::Struct(_) | Value::Map(_) if named => {
            for (name, elem_ty) in elements {
                let name = name.as_deref().unwrap_or_default();
                let item = match value.field(name) {
                    Some(item) => item,
                    None if elem_ty.is_nullable() => &Value::Null,
                    None => return Err(fail(format!("has no field `{name}` and that element is not Nullable"))),
                };
                encode_value(buf, elem_ty, item).map_err(|e| e.within(format_args!("at element `{name}`")))?;
            }
            Ok(())
        }
        _ if named => Err(fail("a named Tuple column needs a struct, a JSON object or an array".into())),
        _ => Err(fail("a Tuple column needs an array of its elements".into())),
    }
}

/// An integer of up to 64 bits, little-endian in `width` bytes.
/// Appends one flattened `Nested` column (`n.a Array(T)`) from the record's array of objects
/// `n`: the array's length, then each element's field `child` (null when it lacks it).
pub fn encode_nested_column(
    buf: &mut Vec<u8>,
    ty: &ClickhouseType,
    parent: &Value,
    child: &str,
) -> Result<(), EncodeError> {
    let (ClickhouseType::Array(inner), Value::Array(items)) = (ty, parent) else {
        return Err(EncodeError::new(
            ty,
            parent,
            format!("a Nested column needs an array of objects with a field {child:?}"),
        ));
    };
    put_varint(buf, items.len() as u64);
    for (i, item) in items.iter().enumerate() {
        let element = item.field(child).unwrap_or(&Value::Null);
        encode_value(buf, inner, element)
            .map_err(|e| EncodeError { message: format!("at element {i}, field {child:?}: {}", e.message) })?;
    }
    Ok(())
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
    buf.extend_from_slice(&v.to_le_bytes()[..width]);
    Ok(())
}

/// A signed integer wide enough for every `Int256` and `UInt256` value, so the range check
/// sees the value as it was sent (up to 154 digits).
type Wide = bnum::types::I512;

/// A 128- or 256-bit integer, signed or not, little-endian two's complement.
fn put_wide_int(
    buf: &mut Vec<u8>,
    ty: &ClickhouseType,
    value: &Value,
    signed: bool,
    bits: u32,
) -> Result<(), EncodeError> {
    let v = to_wide(value, 0).map_err(|r| EncodeError::new(ty, value, r))?;
    let (min, max) = if signed {
        let half = Wide::ONE << (bits - 1);
        (-half, half - Wide::ONE)
    } else {
        (Wide::ZERO, (Wide::ONE << bits) - Wide::ONE)
    };
    if v < min || v > max {
        let range = if signed { format!("-2^{0}..=2^{0}-1", bits - 1) } else { format!("0..=2^{bits}-1") };
        return Err(EncodeError::new(ty, value, format!("is outside {range}")));
    }
    put_wide_le(buf, v, bits as usize / 8);
    Ok(())
}

/// The low `width` bytes of `v` in little-endian two's complement; the caller has checked
/// that `v` fits.
fn put_wide_le(buf: &mut Vec<u8>, v: Wide, width: usize) {
    buf.extend(v.to_bits().digits().iter().flat_map(|digit| digit.to_le_bytes()).take(width));
}

/// An integer, or a decimal's unscaled integer at `scale`, for the 128- and 256-bit types:
/// from decimal text (JSON carries numbers this big as strings), Connect decimals, integers
/// and integral floats, and big-endian two's-complement bytes (a Connect Decimal's bytes,
/// taken as already at `scale`). `sluice_api::coerce` stops at 128 bits; this is its wide twin.
fn to_wide(value: &Value, scale: u32) -> Result<Wide, String> {
    match value {
        Value::String(s) => wide_from_text(s.trim(), scale),
        Value::Decimal { unscaled, scale: from } => wide_rescale(Wide::from(*unscaled), i64::from(*from), scale),
        Value::Bytes(b) => {
            Wide::from_be_slice(b).ok_or_else(|| format!("has {} bytes, too many for a number", b.len()))
        }
        Value::Float32(_) | Value::Float64(_) => {
            let f = value.as_f64().unwrap_or(f64::NAN);
            if !f.is_finite() {
                return Err("not a finite number".into());
            }
            // Shortest round-trip text, so 0.1 becomes exactly 0.1 rather than its binary value.
            wide_from_text(&f.to_string(), scale)
        }
        _ => wide_rescale(Wide::from(to_i128(value)?), 0, scale),
    }
}

/// Decimal text (`[+-]digits[.digits][e[+-]digits]`) as an unscaled integer at `scale`.
fn wide_from_text(text: &str, scale: u32) -> Result<Wide, String> {
    let not_a_number = || "not a number".to_string();
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], text[i + 1..].parse::<i64>().map_err(|_| not_a_number())?),
        None => (text, 0),
    };
    let (negative, digits) = match mantissa.strip_prefix('-') {
        Some(digits) => (true, digits),
        None => (false, mantissa.strip_prefix('+').unwrap_or(mantissa)),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && fraction.is_empty() {
        return Err(not_a_number());
    }
    let mut unscaled = Wide::ZERO;
    for b in whole.bytes().chain(fraction.bytes()) {
        if !b.is_ascii_digit() {
            return Err(not_a_number());
        }
        unscaled = unscaled
            .checked_mul(Wide::from(10u8))
            .and_then(|u| u.checked_add(Wide::from(b - b'0')))
            .ok_or_else(too_many_digits)?;
    }
    let from = i64::try_from(fraction.len()).ok().and_then(|n| n.checked_sub(exponent)).ok_or_else(too_many_digits)?;
    wide_rescale(if negative { -unscaled } else { unscaled }, from, scale)
}

/// `unscaled × 10^-from` at scale `to`, without losing digits.
fn wide_rescale(unscaled: Wide, from: i64, to: u32) -> Result<Wide, String> {
    if unscaled.is_zero() {
        return Ok(unscaled);
    }
    let shift = i64::from(to).checked_sub(from).ok_or_else(too_many_digits)?;
    let power = u32::try_from(shift.unsigned_abs()).ok().and_then(|n| Wide::from(10u8).checked_pow(n));
    if shift >= 0 {
        power.and_then(|m| unscaled.checked_mul(m)).ok_or_else(too_many_digits)
    } else {
        // Without `power`, more digits would go than a Wide holds: some of any non-zero value.
        match power {
            Some(d) if (unscaled % d).is_zero() => Ok(unscaled / d),
            _ if to == 0 => Err("is not a whole number".into()),
            _ => Err(format!("has more than {to} fraction digits and would lose precision")),
        }
    }
}

fn too_many_digits() -> String {
    "has too many digits".into()
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

    const I256_MAX: &str = "57896044618658097711785492504343953926634992332820282019728792003956564819967";
    const I256_MIN: &str = "-57896044618658097711785492504343953926634992332820282019728792003956564819968";
    const U256_MAX: &str = "115792089237316195423570985008687907853269984665640564039457584007913129639935";

    /// `10^exp + add` as 32 little-endian bytes, by schoolbook multiplication on 64-bit limbs.
    fn pow10_le(exp: u32, add: i64) -> Vec<u8> {
        let mut limbs = [1u64, 0, 0, 0];
        for _ in 0..exp {
            let mut carry = 0u128;
            for limb in limbs.iter_mut() {
                let v = *limb as u128 * 10 + carry;
                *limb = v as u64;
                carry = v >> 64;
            }
        }
        let mut out: Vec<u8> = limbs.iter().flat_map(|l| l.to_le_bytes()).collect();
        let negate = add < 0;
        let mut carry = add.unsigned_abs() as u16;
        for byte in out.iter_mut() {
            let v = if negate { *byte as u16 + 0x100 - carry } else { *byte as u16 + carry };
            *byte = v as u8;
            carry = if negate { u16::from(v < 0x100) } else { v >> 8 };
        }
        out
    }

    #[test]
    fn wide_integers_cover_their_whole_range() {
        let mut want = vec![0xff; 32];
        want[31] = 0x7f;
        assert_eq!(enc("Int256", I256_MAX.into()), want);
        let mut want = vec![0; 32];
        want[31] = 0x80;
        assert_eq!(enc("Int256", I256_MIN.into()), want);
        assert_eq!(enc("UInt256", U256_MAX.into()), [0xff; 32]);
        assert_eq!(enc("UInt128", u128::MAX.to_string().into()), [0xff; 16]);
        assert_eq!(enc("Int128", i128::MIN.to_string().into()), i128::MIN.to_le_bytes());
        let mut minus5 = (-5i128).to_le_bytes().to_vec();
        minus5.resize(32, 0xff);
        assert_eq!(enc("Int256", Value::Int64(-5)), minus5);
        assert_eq!(enc("Int256", "-5e0".into()), minus5);
        assert_eq!(enc("Int256", "-500e-2".into()), minus5);
        // Big-endian two's complement, as Connect's Decimal bytes: 33 bytes for UInt256's max.
        let mut bytes = vec![0u8];
        bytes.extend([0xff; 32]);
        assert_eq!(enc("UInt256", Value::Bytes(bytes.into())), [0xff; 32]);
        assert_eq!(enc("Int256", Value::Bytes(vec![0xff, 0xfb].into())), minus5);
        assert_eq!(enc("UInt128", Value::Decimal { unscaled: 1200, scale: 2 }), 12u128.to_le_bytes());
        assert_eq!(enc("Int256", Value::Float64(1e40)), pow10_le(40, 0));

        let e = err("Int256", "57896044618658097711785492504343953926634992332820282019728792003956564819968".into());
        assert!(
            e.contains("Column `c` expects Int256 but got string") && e.contains("is outside -2^255..=2^255-1"),
            "{e}"
        );
        let e = err("Int256", "-57896044618658097711785492504343953926634992332820282019728792003956564819969".into());
        assert!(e.contains("is outside -2^255..=2^255-1"), "{e}");
        let u256_over = "115792089237316195423570985008687907853269984665640564039457584007913129639936";
        assert!(err("UInt256", u256_over.into()).contains("is outside 0..=2^256-1"));
        assert!(err("UInt128", Value::Int64(-1)).contains("is outside 0..=2^128-1"));
        assert!(err("UInt128", (u128::MAX as f64 * 2.0).to_string().as_str().into()).contains("is outside 0..=2^128-1"));
        assert!(err("UInt256", "1.5".into()).contains("is not a whole number"));
        assert!(err("Int256", "12x".into()).contains("not a number"));
        assert!(err("Int256", "".into()).contains("not a number"));
        assert!(err("Int256", "1".repeat(200).as_str().into()).contains("too many digits"));
        assert!(err("Int128", Value::Float64(f64::INFINITY)).contains("not a finite number"));
    }

    #[test]
    fn decimals_up_to_76_digits() {
        let nines = "9".repeat(76);
        assert_eq!(enc("Decimal(76, 0)", nines.as_str().into()), pow10_le(76, -1));
        assert_eq!(
            enc("Decimal(76, 0)", format!("-{nines}").as_str().into()),
            pow10_le(76, -2).iter().map(|b| !b).collect::<Vec<_>>()
        );
        let with_point = format!("{}.{}", &nines[..66], &nines[66..]);
        assert_eq!(enc("Decimal(76, 10)", with_point.as_str().into()), pow10_le(76, -1));
        assert_eq!(enc("Decimal(76, 70)", Value::Int64(1)), pow10_le(70, 0));
        assert_eq!(enc("Decimal(76, 3)", Value::Decimal { unscaled: 7, scale: 0 }), pow10_le(3, 6000));
        assert!(err("Decimal(76, 0)", format!("1{nines}").as_str().into()).contains("more than 76 digits"));
        assert!(err("Decimal(76, 2)", "0.001".into()).contains("more than 2 fraction digits"));
        assert_eq!(enc("Decimal(38, 2)", Value::Bytes(vec![0x04, 0xd2].into())), 1234i128.to_le_bytes());
        assert_eq!(
            enc("Decimal(38, 0)", "-99999999999999999999999999999999999999".into()),
            (1 - 10i128.pow(38)).to_le_bytes()
        );
        assert_eq!(enc("Decimal(9, 9)", "-0.999999999".into()), (-999_999_999i32).to_le_bytes());
    }

    #[test]
    fn maps_are_key_value_pairs() {
        let m = Value::Map(vec![("a".into(), Value::Int64(1)), ("bc".into(), Value::Int64(2))]);
        let mut want = vec![2, 1, b'a'];
        want.extend(1u64.to_le_bytes());
        want.extend([2, b'b', b'c']);
        want.extend(2u64.to_le_bytes());
        assert_eq!(enc("Map(String, UInt64)", m), want);
        assert_eq!(enc("Map(String, UInt64)", Value::Map(vec![])), [0]);
        let m = Value::Map(vec![("k".into(), Value::Array(vec![Value::Null, "x".into()]))]);
        assert_eq!(enc("Map(String, Array(Nullable(String)))", m), [1, 1, b'k', 2, 1, 0, 1, b'x']);
        assert_eq!(enc("Map(UInt8, String)", Value::Map(vec![("7".into(), "x".into())])), [1, 7, 1, b'x']);

        let e = err("Map(String, UInt8)", Value::Map(vec![("k".into(), "x".into())]));
        assert!(e.contains("at key \"k\": expects UInt8 but got string \"x\""), "{e}");
        let e = err("Map(UInt8, String)", Value::Map(vec![("k".into(), "x".into())]));
        assert!(e.contains("in the key \"k\": expects UInt8"), "{e}");
        assert!(err("Map(String, UInt8)", Value::Int64(1)).contains("needs a map"));
    }

    fn record(fields: &[(&str, Value)]) -> Value {
        let schema = sluice_api::Schema::structure(
            fields
                .iter()
                .map(|(n, _)| (*n, sluice_api::Schema::new(sluice_api::SchemaType::String).optional().into_ref())),
        )
        .into_ref();
        Value::Struct(sluice_api::Struct { schema, values: fields.iter().map(|(_, v)| v.clone()).collect() })
    }

    #[test]
    fn tuples_by_position_or_by_name() {
        assert_eq!(enc("Tuple(String, UInt8)", Value::Array(vec!["x".into(), Value::Int64(7)])), [1, b'x', 7]);
        let named = "Tuple(a String, b Nullable(UInt8))";
        assert_eq!(enc(named, Value::Array(vec!["x".into(), Value::Int64(7)])), [1, b'x', 0, 7]);
        assert_eq!(enc(named, record(&[("b", Value::Int64(7)), ("a", "x".into())])), [1, b'x', 0, 7]);
        let obj = Value::Map(vec![("a".into(), "x".into()), ("extra".into(), Value::Int64(1))]);
        assert_eq!(enc(named, obj), [1, b'x', 1], "missing Nullable element is NULL, extra fields ignored");

        let e = err("Tuple(String, UInt8)", Value::Array(vec!["x".into()]));
        assert!(e.contains("has 1 elements but the Tuple has 2"), "{e}");
        let e = err(named, Value::Map(vec![("b".into(), Value::Int64(1))]));
        assert!(e.contains("has no field `a` and that element is not Nullable"), "{e}");
        let e = err(named, record(&[("a", "x".into()), ("b", "y".into())]));
        assert!(e.contains("at element `b`: expects UInt8 but got string \"y\""), "{e}");
        assert!(err("Tuple(String, UInt8)", Value::Map(vec![])).contains("needs an array"));
        assert!(err(named, "x".into()).contains("needs a struct, a JSON object or an array"));
    }

    #[test]
    fn nested_is_an_array_of_named_tuples() {
        let rows = Value::Array(vec![
            Value::Map(vec![("a".into(), "x".into()), ("b".into(), Value::Int64(1))]),
            record(&[("a", "y".into()), ("b", Value::Int64(2))]),
        ]);
        assert_eq!(enc("Nested(a String, b UInt8)", rows), [2, 1, b'x', 1, 1, b'y', 2]);
        let e = err("Nested(a String, b UInt8)", Value::Array(vec![Value::Map(vec![("a".into(), "x".into())])]));
        assert!(e.contains("at element 0: expects Tuple(a String, b UInt8)"), "{e}");
    }
}
