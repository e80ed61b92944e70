use sluice_api::schema::logical;
use sluice_api::{ConnectError, Converter, SchemaType, Value};

use super::*;

fn decode(c: &JsonConverter, text: &str) -> Result<SchemaAndValue> {
    c.to_connect("events", &[], Some(text.as_bytes()))
}

const SAMPLE: &str = r#"{"user_id":"user_42","event_type":"purchase","timestamp":"2025-09-18T10:30:00Z","session_id":"sess_789","device":"mobile"}"#;

#[test]
fn schemaless_sample_event_becomes_an_ordered_string_map() {
    let got = decode(&JsonConverter::new(false), SAMPLE).unwrap();
    assert!(got.schema.is_none());
    assert_eq!(got.value.field("user_id"), Some(&Value::String("user_42".into())));
    assert_eq!(got.value.field("timestamp"), Some(&Value::String("2025-09-18T10:30:00Z".into())));
    let Value::Map(entries) = &got.value else { panic!("not a map: {:?}", got.value) };
    let keys: Vec<_> = entries.iter().filter_map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["user_id", "event_type", "timestamp", "session_id", "device"]);
}

#[test]
fn schemaless_numbers_nesting_and_nulls() {
    let got = decode(
        &JsonConverter::new(false),
        r#"{"i":-3,"big":18446744073709551615,"f":1.5,"a":[true,null],"o":{"x":"y"}}"#,
    )
    .unwrap()
    .value;
    assert_eq!(got.field("i"), Some(&Value::Int64(-3)));
    assert_eq!(got.field("big"), Some(&Value::Float64(18446744073709551615.0)));
    assert_eq!(got.field("f"), Some(&Value::Float64(1.5)));
    assert_eq!(got.field("a"), Some(&Value::Array(vec![Value::Boolean(true), Value::Null])));
    assert_eq!(got.field("o").and_then(|o| o.field("x")), Some(&Value::String("y".into())));
}

#[test]
fn tombstones_and_bad_json() {
    let c = JsonConverter::new(false);
    assert_eq!(c.to_connect("t", &[], None).unwrap().value, Value::Null);
    let err = decode(&c, "{not json").unwrap_err();
    assert!(matches!(err, ConnectError::Data { .. }));
    assert!(err.to_string().contains("topic events"), "{err}");
    assert!(decode(&c, r#"{"a":1} trailing"#).is_err());
}

#[test]
fn envelope_required_when_schemas_enabled() {
    let err = decode(&JsonConverter::new(true), SAMPLE).unwrap_err();
    assert!(err.to_string().contains("set schemas.enable=false"), "{err}");
}

#[test]
fn envelope_struct_with_every_primitive_and_logical_type() {
    let text = r#"{"schema":{"type":"struct","name":"io.example.Event","version":2,"optional":false,"fields":[
        {"field":"b","type":"boolean"},
        {"field":"i8","type":"int8"},{"field":"i16","type":"int16"},{"field":"i32","type":"int32"},{"field":"i64","type":"int64"},
        {"field":"f32","type":"float"},{"field":"f64","type":"double"},
        {"field":"s","type":"string"},{"field":"raw","type":"bytes"},
        {"field":"dec","type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"2"}},
        {"field":"day","type":"int32","name":"org.apache.kafka.connect.data.Date"},
        {"field":"tod","type":"int32","name":"org.apache.kafka.connect.data.Time"},
        {"field":"ts","type":"int64","name":"org.apache.kafka.connect.data.Timestamp"},
        {"field":"tags","type":"array","items":{"type":"string"}},
        {"field":"attrs","type":"map","keys":{"type":"string"},"values":{"type":"int32"}},
        {"field":"ids","type":"map","keys":{"type":"int32"},"values":{"type":"string"}},
        {"field":"opt","type":"string","optional":true},
        {"field":"dflt","type":"string","optional":true,"default":"fallback"}
      ]},
      "payload":{"b":true,"i8":-8,"i16":300,"i32":70000,"i64":5000000000,"f32":1.5,"f64":2.25,"s":"hi","raw":"AAH/",
        "dec":"BNI=","day":20349,"tod":37800000,"ts":1758191400000,"tags":["a","b"],"attrs":{"x":1},"ids":[[1,"one"]],"opt":null,"dflt":null}}"#;
    let got = decode(&JsonConverter::new(true), text).unwrap();
    let schema = got.schema.unwrap();
    assert_eq!(schema.name.as_deref(), Some("io.example.Event"));
    assert_eq!(schema.version, Some(2));
    assert!(schema.field("dec").unwrap().schema.is_logical(logical::DECIMAL));
    let v = &got.value;
    assert_eq!(v.field("b"), Some(&Value::Boolean(true)));
    assert_eq!(v.field("i8"), Some(&Value::Int8(-8)));
    assert_eq!(v.field("i16"), Some(&Value::Int16(300)));
    assert_eq!(v.field("i32"), Some(&Value::Int32(70000)));
    assert_eq!(v.field("i64"), Some(&Value::Int64(5_000_000_000)));
    assert_eq!(v.field("f32"), Some(&Value::Float32(1.5)));
    assert_eq!(v.field("raw"), Some(&Value::Bytes(bytes::Bytes::from_static(&[0, 1, 255]))));
    // 0x04D2 = 1234 → 12.34 at scale 2
    assert_eq!(v.field("dec"), Some(&Value::Decimal { unscaled: 1234, scale: 2 }));
    assert_eq!(v.field("day"), Some(&Value::Date(20349)));
    assert_eq!(v.field("tod"), Some(&Value::Time(37_800_000)));
    assert_eq!(v.field("ts"), Some(&Value::Timestamp(1_758_191_400_000)));
    assert_eq!(v.field("tags"), Some(&Value::Array(vec!["a".into(), "b".into()])));
    assert_eq!(v.field("attrs").and_then(|m| m.field("x")), Some(&Value::Int32(1)));
    assert_eq!(v.field("ids"), Some(&Value::Map(vec![(Value::Int32(1), "one".into())])));
    assert_eq!(v.field("opt"), Some(&Value::Null));
    assert_eq!(v.field("dflt"), Some(&Value::String("fallback".into())));
}

#[test]
fn envelope_errors_are_record_level() {
    let c = JsonConverter::new(true);
    let required_null = r#"{"schema":{"type":"struct","fields":[{"field":"a","type":"int32"}]},"payload":{"a":null}}"#;
    assert!(decode(&c, required_null).unwrap_err().to_string().contains("invalid null value for required int32"));
    let overflow = r#"{"schema":{"type":"int8"},"payload":300}"#;
    assert!(matches!(decode(&c, overflow), Err(ConnectError::Data { .. })));
    let unknown = r#"{"schema":{"type":"uint8"},"payload":1}"#;
    assert!(decode(&c, unknown).unwrap_err().to_string().contains("unknown schema type"));
}

#[test]
fn numeric_decimals_and_format_config() {
    let cfg: ConnectorConfig = [("decimal.format", "NUMERIC")].into_iter().collect();
    let c = JsonConverter::from_config(&cfg, false).unwrap();
    let text = r#"{"schema":{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"3"}},"payload":-12.5}"#;
    assert_eq!(decode(&c, text).unwrap().value, Value::Decimal { unscaled: -12500, scale: 3 });
    let bad: ConnectorConfig = [("decimal.format", "HEX")].into_iter().collect();
    assert_eq!(JsonConverter::from_config(&bad, false).unwrap_err().config_key(), Some("decimal.format"));
}

#[test]
fn schemas_are_parsed_once_and_shared() {
    let c = JsonConverter::new(true);
    let text = r#"{"schema":{"type":"struct","fields":[{"field":"a","type":"int32"}]},"payload":{"a":1}}"#;
    let a = decode(&c, text).unwrap().schema.unwrap();
    let b = decode(&c, text).unwrap().schema.unwrap();
    assert!(std::sync::Arc::ptr_eq(&a, &b));
    assert_eq!(a.schema_type, SchemaType::Struct);
}
