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

use sluice_api::coerce::{
    parse_rfc3339, pow10, text_bytes, to_bool, to_epoch_units, to_f64, to_i128, to_uuid, units_of, NANOS_PER_DAY,
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
        T::Date | T::Date32 | T::DateTime(_) | T::DateTime64 { .. } => {
            let units = to_epoch_units(value, epoch_unit(ty)).map_err(|r| fail(&r))?;
            put_epoch_units(buf, ty, units).map_err(|r| fail(&r))
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
#[inline]
pub fn put_varint(buf: &mut Vec<u8>, v: u64) {
    // Most lengths are under 128: one byte, written where the call is.
    match u8::try_from(v) {
        Ok(byte) if byte < 0x80 => buf.push(byte),
        _ => put_long_varint(buf, v),
    }
}

fn put_long_varint(buf: &mut Vec<u8>, mut v: u64) {
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

/// Appends `text` for a column of type `ty` without making a `Value` of it, when the column
/// holds text (`String`, `LowCardinality(String)` and their `Nullable` forms): the bytes
/// [`encode_value`] writes for `Value::String(text)`. For any other type it writes nothing and
/// says `false`.
#[inline]
pub fn encode_text(buf: &mut Vec<u8>, ty: &ClickhouseType, text: &str) -> bool {
    // A plain `String` column where the call is (a call per field was a tenth of the JSON
    // lane's instructions, mostly saving and restoring registers); the wrapped ones below.
    match ty {
        ClickhouseType::String => {
            put_varint(buf, text.len() as u64);
            buf.extend_from_slice(text.as_bytes());
            true
        }
        _ => encode_wrapped_text(buf, ty, text),
    }
}

/// [`encode_text`] for the types that wrap a text column, and `false` for any other.
fn encode_wrapped_text(buf: &mut Vec<u8>, ty: &ClickhouseType, text: &str) -> bool {
    match ty {
        ClickhouseType::LowCardinality(inner) => encode_text(buf, inner, text),
        ClickhouseType::Nullable(inner) if matches!(**inner, ClickhouseType::String) => {
            buf.push(0);
            encode_text(buf, inner, text)
        }
        _ => false,
    }
}

/// Appends an RFC 3339 `text` for a date or date-time column (`Date`, `Date32`, `DateTime`,
/// `DateTime64`, and their `Nullable` forms) without making a `Value` of it: the bytes [`encode_value`]
/// writes for `Value::String(text)`. For any other type or text, or a time out of the column's
/// range, it writes nothing and says `false` (and [`encode_value`] says what is wrong).
pub fn encode_instant_text(buf: &mut Vec<u8>, ty: &ClickhouseType, text: &str) -> bool {
    use ClickhouseType as T;
    match ty {
        T::LowCardinality(inner) => encode_instant_text(buf, inner, text),
        T::Nullable(inner) => {
            buf.push(0);
            let written = encode_instant_text(buf, inner, text);
            if !written {
                buf.pop();
            }
            written
        }
        T::Date | T::Date32 | T::DateTime(_) | T::DateTime64 { .. } => {
            // What `to_epoch_units` does with a string whose RFC 3339 form parses. Text that
            // starts and ends with ASCII other than whitespace has nothing to trim.
            let plain = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii() && !b.is_ascii_whitespace());
            let text = match plain(text.as_bytes().first()) && plain(text.as_bytes().last()) {
                true => text,
                false => text.trim(),
            };
            let Some(nanos) = parse_rfc3339(text) else { return false };
            units_of(nanos, epoch_unit(ty)).is_ok_and(|units| put_epoch_units(buf, ty, units).is_ok())
        }
        _ => false,
    }
}

/// Nanoseconds per unit of a date or date-time column (days, seconds, or ticks of its precision).
fn epoch_unit(ty: &ClickhouseType) -> i128 {
    match ty {
        ClickhouseType::Date | ClickhouseType::Date32 => NANOS_PER_DAY,
        ClickhouseType::DateTime64 { precision, .. } => pow10(9 - (*precision).min(9)).unwrap_or(1),
        _ => 1_000_000_000,
    }
}

/// Appends `units` since the epoch (of [`epoch_unit`]) for a date or date-time column: nothing
/// when out of the column's range.
fn put_epoch_units(buf: &mut Vec<u8>, ty: &ClickhouseType, units: i128) -> Result<(), &'static str> {
    match ty {
        ClickhouseType::Date => {
            let days = u16::try_from(units).map_err(|_| "is outside 1970-01-01..2149-06-06")?;
            buf.extend_from_slice(&days.to_le_bytes());
        }
        ClickhouseType::Date32 => {
            buf.extend_from_slice(&i32::try_from(units).map_err(|_| "is out of range")?.to_le_bytes())
        }
        ClickhouseType::DateTime(_) => {
            let secs = u32::try_from(units).map_err(|_| "is outside 1970-01-01..2106-02-07")?;
            buf.extend_from_slice(&secs.to_le_bytes());
        }
        _ => buf.extend_from_slice(&i64::try_from(units).map_err(|_| "is out of range")?.to_le_bytes()),
    }
    Ok(())
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
#[path = "encode_tests.rs"]
mod tests;
