//! `SimpleHeaderConverter`: Kafka Connect's default header converter. A header's bytes are
//! UTF-8 text, and the text is read the way Kafka's `Values.parseString` reads it: `true`/`false`
//! as booleans, whole numbers as the smallest integer type that holds them, other numbers as
//! doubles, ISO dates, times and timestamps as Connect's logical types, JSON arrays and objects
//! as schemaless arrays and maps, anything else as a string.

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use sluice_api::coerce::days_from_civil;
use sluice_api::schema::logical;
use sluice_api::{Converter, Header, Result, Schema, SchemaAndValue, SchemaType, Value};

/// Kafka Connect's `SimpleHeaderConverter`.
pub struct SimpleHeaderConverter;

impl Converter for SimpleHeaderConverter {
    fn to_connect(&self, _topic: &str, _headers: &[Header], data: Option<&[u8]>) -> Result<SchemaAndValue> {
        let Some(bytes) = data else {
            return Ok(SchemaAndValue::null());
        };
        // As Kafka Connect (Java's `new String(bytes, UTF_8)`): bytes that are not UTF-8 become
        // U+FFFD and the header still converts; binary headers must not fail records.
        Ok(parse(&String::from_utf8_lossy(bytes)))
    }

    fn accepts_any_bytes(&self) -> bool {
        true
    }
}

fn typed(schema_type: SchemaType, value: Value) -> SchemaAndValue {
    SchemaAndValue { schema: Some(Schema::new(schema_type).optional().into_ref()), value }
}

fn logical_type(schema_type: SchemaType, name: &str, value: Value) -> SchemaAndValue {
    SchemaAndValue { schema: Some(Schema::new(schema_type).named(name).optional().into_ref()), value }
}

/// Reads header text as `Values.parseString` does.
pub fn parse(text: &str) -> SchemaAndValue {
    let trimmed = text.trim();
    if trimmed.eq_ignore_ascii_case("true") || trimmed.eq_ignore_ascii_case("false") {
        return typed(SchemaType::Boolean, Value::Boolean(trimmed.eq_ignore_ascii_case("true")));
    }
    if let Ok(n) = trimmed.parse::<i64>() {
        return if let Ok(v) = i8::try_from(n) {
            typed(SchemaType::Int8, Value::Int8(v))
        } else if let Ok(v) = i16::try_from(n) {
            typed(SchemaType::Int16, Value::Int16(v))
        } else if let Ok(v) = i32::try_from(n) {
            typed(SchemaType::Int32, Value::Int32(v))
        } else {
            typed(SchemaType::Int64, Value::Int64(n))
        };
    }
    if trimmed.contains(['.', 'e', 'E']) && !trimmed.contains(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
    {
        if let Ok(f) = trimmed.parse::<f64>() {
            if f.is_finite() {
                return typed(SchemaType::Float64, Value::Float64(f));
            }
        }
    }
    if let Ok(ts) = NaiveDateTime::parse_from_str(trimmed.trim_end_matches('Z'), "%Y-%m-%dT%H:%M:%S%.f") {
        return logical_type(SchemaType::Int64, logical::TIMESTAMP, Value::Timestamp(ts.and_utc().timestamp_millis()));
    }
    if let Ok(date) = NaiveDate::parse_from_str(trimmed, "%Y-%m-%d") {
        if let Some(days) = days_from_civil(date.year().into(), date.month().into(), date.day().into()) {
            return logical_type(SchemaType::Int32, logical::DATE, Value::Date(days));
        }
    }
    if let Ok(time) = NaiveTime::parse_from_str(trimmed.trim_end_matches('Z'), "%H:%M:%S%.f") {
        let ms = time.num_seconds_from_midnight() * 1000 + time.nanosecond() / 1_000_000;
        return logical_type(SchemaType::Int32, logical::TIME, Value::Time(ms as i32));
    }
    if (trimmed.starts_with('[') && trimmed.ends_with(']')) || (trimmed.starts_with('{') && trimmed.ends_with('}')) {
        if let Ok(value) = crate::json::parse_schemaless(trimmed.as_bytes()) {
            return SchemaAndValue { schema: None, value };
        }
    }
    typed(SchemaType::String, Value::String(text.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(text: &str) -> (Option<SchemaType>, Option<String>, Value) {
        let parsed = parse(text);
        let schema = parsed.schema;
        (schema.as_ref().map(|s| s.schema_type), schema.and_then(|s| s.name.clone()), parsed.value)
    }

    #[test]
    fn reads_header_text_as_kafka_connect_does() {
        assert_eq!(kind("true"), (Some(SchemaType::Boolean), None, Value::Boolean(true)));
        assert_eq!(kind("42"), (Some(SchemaType::Int8), None, Value::Int8(42)));
        assert_eq!(kind("-300"), (Some(SchemaType::Int16), None, Value::Int16(-300)));
        assert_eq!(kind("70000"), (Some(SchemaType::Int32), None, Value::Int32(70_000)));
        assert_eq!(kind("9000000000"), (Some(SchemaType::Int64), None, Value::Int64(9_000_000_000)));
        assert_eq!(kind("2.5"), (Some(SchemaType::Float64), None, Value::Float64(2.5)));
        assert_eq!(
            kind("2025-09-18T10:30:00.250Z"),
            (Some(SchemaType::Int64), Some(logical::TIMESTAMP.into()), Value::Timestamp(1_758_191_400_250))
        );
        assert_eq!(kind("1970-01-11"), (Some(SchemaType::Int32), Some(logical::DATE.into()), Value::Date(10)));
        assert_eq!(kind("00:00:01.500Z"), (Some(SchemaType::Int32), Some(logical::TIME.into()), Value::Time(1500)));
        assert_eq!(kind("[1, 2]").2, Value::Array(vec![Value::Int64(1), Value::Int64(2)]));
        assert_eq!(kind("{\"a\": true}").2, Value::Map(vec![(Value::String("a".into()), Value::Boolean(true))]));
        assert_eq!(kind("web-7"), (Some(SchemaType::String), None, Value::String("web-7".into())));
        assert_eq!(kind("1.2.3"), (Some(SchemaType::String), None, Value::String("1.2.3".into())));
        assert_eq!(kind("[not json"), (Some(SchemaType::String), None, Value::String("[not json".into())));
    }

    #[test]
    fn nulls_and_binary_values_convert() {
        assert_eq!(SimpleHeaderConverter.to_connect("t", &[], None).unwrap().value, Value::Null);
        let binary = SimpleHeaderConverter.to_connect("t", &[], Some(&[0xff, b'a'])).unwrap();
        assert_eq!(binary.value, Value::String("\u{fffd}a".into()));
    }
}
