//! Unit tests for `TimestampConverter`, with the instants of Kafka's TimestampConverterTest.

use super::*;
use crate::test_support::*;
use sluice_api::SchemaType::{Int32, Int64, String as Str};

/// 1970-01-02T00:00:01.234Z.
const DATE_PLUS_TIME: i64 = 86_401_234;
const DATE_PLUS_TIME_UNIX_MICROS: i64 = DATE_PLUS_TIME * 1000 + 123;
const DATE_PLUS_TIME_UNIX_NANOS: i64 = DATE_PLUS_TIME_UNIX_MICROS * 1000 + 456;
const DATE_PLUS_TIME_UNIX_SECONDS: i64 = DATE_PLUS_TIME / 1000;
const STRING_DATE_FMT: &str = "yyyy MM dd HH mm ss SSS z";
const DATE_PLUS_TIME_STRING: &str = "1970 01 02 00 00 01 234 UTC";

fn conv(pairs: &[(&str, &str)]) -> TimestampConverter {
    TimestampConverter::new(&cfg(pairs), Side::Value).unwrap()
}

fn to(target: &str) -> TimestampConverter {
    conv(&[("target.type", target), ("format", STRING_DATE_FMT)])
}

fn apply(t: &TimestampConverter, schema: Option<SchemaRef>, value: Value) -> SinkRecord {
    t.apply(value_record(schema, value)).unwrap().unwrap()
}

fn sch(s: Schema) -> SchemaRef {
    s.into_ref()
}

#[test]
fn config_validation() {
    let key = |pairs: &[(&str, &str)]| {
        TimestampConverter::new(&cfg(pairs), Side::Value).err().map(|e| e.config_key().map(str::to_owned))
    };
    assert_eq!(key(&[]), Some(Some("target.type".into())));
    assert_eq!(key(&[("target.type", "invalid")]), Some(Some("target.type".into())));
    assert_eq!(key(&[("target.type", "unix"), ("unix.precision", "invalid")]), Some(Some("unix.precision".into())));
    assert_eq!(key(&[("target.type", "unix"), ("unix.precision", "seconds")]), None);
    assert_eq!(key(&[("target.type", "string")]), Some(Some("format".into())));
    assert_eq!(key(&[("target.type", "string"), ("format", "bad-format")]), Some(Some("format".into())));
}

#[test]
fn schemaless_from_timestamp() {
    let cases = [
        ("Timestamp", Value::Timestamp(DATE_PLUS_TIME)),
        ("Date", Value::Date(1)),
        ("Time", Value::Time(1234)),
        ("unix", Value::Int64(DATE_PLUS_TIME)),
        ("string", Value::from(DATE_PLUS_TIME_STRING)),
    ];
    for (target, expected) in cases {
        let r = apply(&to(target), None, Value::Timestamp(DATE_PLUS_TIME));
        assert_eq!((r.value_schema, r.value), (None, expected), "{target}");
    }
}

#[test]
fn schemaless_to_timestamp() {
    let cases = [
        (Value::Date(1), 86_400_000),
        (Value::Time(1234), 1234),
        (Value::Int64(DATE_PLUS_TIME), DATE_PLUS_TIME),
        (Value::from(DATE_PLUS_TIME_STRING), DATE_PLUS_TIME),
    ];
    for (input, expected) in cases {
        assert_eq!(apply(&to("Timestamp"), None, input.clone()).value, Value::Timestamp(expected), "{input:?}");
    }
    let err = to("Timestamp").apply(value_record(None, Value::Int32(1))).unwrap_err();
    assert_eq!(err.to_string(), "TimestampConverter does not support int32 objects as timestamps");
}

#[test]
fn schemaless_nulls() {
    for target in ["string", "Date", "Time", "Timestamp", "unix"] {
        let r = apply(&to(target), None, Value::Null);
        assert_eq!((r.value_schema, r.value), (None, Value::Null));
        let field = conv(&[("target.type", target), ("format", STRING_DATE_FMT), ("field", "ts")]);
        assert_eq!(apply(&field, None, Value::Null).value, Value::Null);
        let r = apply(&field, None, map(&[("ts", Value::Null), ("other", Value::from("x"))]));
        assert_eq!(r.value, map(&[("ts", Value::Null), ("other", Value::from("x"))]));
    }
}

#[test]
fn with_schema_from_timestamp() {
    let cases = [
        ("Timestamp", Schema::timestamp(), Value::Timestamp(DATE_PLUS_TIME)),
        ("Date", Schema::date(), Value::Date(1)),
        ("Time", Schema::time(), Value::Time(1234)),
        ("unix", Schema::new(Int64), Value::Int64(DATE_PLUS_TIME)),
        ("string", Schema::new(Str), Value::from(DATE_PLUS_TIME_STRING)),
    ];
    for (target, schema, expected) in cases {
        let r = apply(&to(target), Some(sch(Schema::timestamp())), Value::Timestamp(DATE_PLUS_TIME));
        assert_eq!((r.value_schema, r.value), (Some(sch(schema)), expected), "{target}");
    }
}

#[test]
fn with_schema_to_timestamp() {
    let cases = [
        (Schema::date(), Value::Date(1), 86_400_000),
        (Schema::time(), Value::Time(1234), 1234),
        (Schema::new(Int64), Value::Int64(DATE_PLUS_TIME), DATE_PLUS_TIME),
        (Schema::new(Str), Value::from(DATE_PLUS_TIME_STRING), DATE_PLUS_TIME),
    ];
    for (schema, input, expected) in cases {
        let r = apply(&to("Timestamp"), Some(sch(schema)), input);
        assert_eq!((r.value_schema, r.value), (Some(sch(Schema::timestamp())), Value::Timestamp(expected)));
    }
    let err = to("Timestamp").apply(value_record(Some(prim(Int32)), Value::Int32(1))).unwrap_err();
    assert!(err.to_string().contains("does not correspond to a known timestamp type format"));
}

#[test]
fn with_schema_null_value_and_null_field_keep_optionality() {
    let inputs = [Schema::new(Int64), Schema::time(), Schema::date(), Schema::new(Str), Schema::timestamp()];
    for input in inputs {
        let r = apply(&to("Date"), Some(sch(input.clone().optional())), Value::Null);
        assert_eq!((r.value_schema, r.value), (Some(sch(Schema::date().optional())), Value::Null));

        let schema = struct_schema(&[("ts", sch(input.optional())), ("other", opt(Str))]);
        let field = conv(&[("target.type", "Date"), ("field", "ts")]);
        let r = apply(&field, Some(schema.clone()), st(&schema, vec![Value::Null, Value::from("test")]));
        let expected = struct_schema(&[("ts", sch(Schema::date().optional())), ("other", opt(Str))]);
        assert_eq!(r.value_schema, Some(expected.clone()));
        assert_eq!(r.value, st(&expected, vec![Value::Null, Value::from("test")]));
    }
}

#[test]
fn with_schema_field_conversion_in_every_unix_precision() {
    let schema = struct_schema(&[("ts", prim(Int64)), ("other", prim(Str))]);
    let expected_schema = struct_schema(&[("ts", sch(Schema::timestamp())), ("other", prim(Str))]);
    let cases = [
        ("milliseconds", DATE_PLUS_TIME, DATE_PLUS_TIME),
        ("microseconds", DATE_PLUS_TIME_UNIX_MICROS, DATE_PLUS_TIME),
        ("nanoseconds", DATE_PLUS_TIME_UNIX_NANOS, DATE_PLUS_TIME),
        ("seconds", DATE_PLUS_TIME_UNIX_SECONDS, 86_401_000),
    ];
    for (precision, input, expected) in cases {
        let t = conv(&[("target.type", "Timestamp"), ("field", "ts"), ("unix.precision", precision)]);
        let r = apply(&t, Some(schema.clone()), st(&schema, vec![Value::Int64(input), Value::from("test")]));
        assert_eq!(r.value_schema, Some(expected_schema.clone()), "{precision}");
        assert_eq!(r.value, st(&expected_schema, vec![Value::Timestamp(expected), Value::from("test")]));
    }
}

#[test]
fn string_to_unix_in_every_precision() {
    for (precision, expected) in [
        ("microseconds", 86_401_234_000),
        ("nanoseconds", 86_401_234_000_000),
        ("seconds", DATE_PLUS_TIME_UNIX_SECONDS),
        ("milliseconds", DATE_PLUS_TIME),
    ] {
        let t = conv(&[("target.type", "unix"), ("unix.precision", precision), ("format", STRING_DATE_FMT)]);
        assert_eq!(apply(&t, None, Value::from(DATE_PLUS_TIME_STRING)).value, Value::Int64(expected), "{precision}");
    }
}

#[test]
fn schemaless_field_conversion_keeps_other_entries() {
    let t = conv(&[("target.type", "Date"), ("field", "ts")]);
    let r = apply(&t, None, map(&[("ts", Value::Timestamp(DATE_PLUS_TIME)), ("other", Value::from("test"))]));
    assert_eq!(r.value, map(&[("ts", Value::Date(1)), ("other", Value::from("test"))]));
    let unparseable = conv(&[("target.type", "unix"), ("format", "yyyy-MM-dd"), ("field", "ts")]);
    let err = unparseable.apply(value_record(None, map(&[("ts", Value::from("nope"))]))).unwrap_err();
    assert_eq!(err.to_string(), "Could not parse timestamp: value (nope) does not match pattern (yyyy-MM-dd)");
}

#[test]
fn key_side_and_replace_null_with_default() {
    let k = TimestampConverter::new(&cfg(&[("target.type", "Timestamp")]), Side::Key).unwrap();
    let r = k.apply(record(None, Value::Timestamp(DATE_PLUS_TIME), None, Value::Null)).unwrap().unwrap();
    assert_eq!(r.key, Value::Timestamp(DATE_PLUS_TIME));

    let schema = struct_schema(&[("ts", sch(Schema::timestamp().optional().with_default(Value::Timestamp(0))))]);
    for (flag, expected) in [("false", Value::Null), ("true", Value::Int64(0))] {
        let t = conv(&[("target.type", "unix"), ("field", "ts"), ("replace.null.with.default", flag)]);
        let r = apply(&t, Some(schema.clone()), st(&schema, vec![Value::Null]));
        assert_eq!(get(&r.value, "ts"), &expected, "{flag}");
    }
}

#[test]
fn updated_schema_is_cached_and_negative_instants_floor() {
    let schema = struct_schema(&[("ts", sch(Schema::timestamp()))]);
    let t = conv(&[("target.type", "Date"), ("field", "ts")]);
    let a = apply(&t, Some(schema.clone()), st(&schema, vec![Value::Timestamp(-1)]));
    let b = apply(&t, Some(schema.clone()), st(&schema, vec![Value::Timestamp(0)]));
    assert!(std::sync::Arc::ptr_eq(a.value_schema.as_ref().unwrap(), b.value_schema.as_ref().unwrap()));
    assert_eq!(get(&a.value, "ts"), &Value::Date(-1));
    let time = conv(&[("target.type", "Time")]);
    assert_eq!(apply(&time, None, Value::Timestamp(-1)).value, Value::Time(86_399_999));
}
