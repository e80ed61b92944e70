//! Builders shared by the unit tests.

use std::sync::Arc;

use bytes::Bytes;
use sluice_api::{ConnectorConfig, Header, Schema, SchemaRef, SchemaType, SinkRecord, Struct, Value};

pub fn cfg(pairs: &[(&str, &str)]) -> ConnectorConfig {
    pairs.iter().map(|(k, v)| (*k, *v)).collect()
}

/// A record on `test`-0 at offset 0 with no timestamp or headers.
pub fn record(key_schema: Option<SchemaRef>, key: Value, value_schema: Option<SchemaRef>, value: Value) -> SinkRecord {
    SinkRecord {
        topic: Arc::from("test"),
        partition: 0,
        original_topic: Arc::from("test"),
        original_partition: 0,
        offset: 0,
        timestamp: None,
        key_schema,
        key,
        value_schema,
        value,
        value_json: None,
        value_datum: None,
        headers: Vec::new(),
    }
}

/// A record with only a value.
pub fn value_record(schema: Option<SchemaRef>, value: Value) -> SinkRecord {
    record(None, Value::Null, schema, value)
}

pub fn prim(t: SchemaType) -> SchemaRef {
    Schema::new(t).into_ref()
}

pub fn opt(t: SchemaType) -> SchemaRef {
    Schema::new(t).optional().into_ref()
}

pub fn struct_schema(fields: &[(&str, SchemaRef)]) -> SchemaRef {
    Schema::structure(fields.iter().map(|(n, s)| (*n, s.clone()))).into_ref()
}

pub fn st(schema: &SchemaRef, values: Vec<Value>) -> Value {
    Value::Struct(Struct { schema: schema.clone(), values })
}

pub fn map(entries: &[(&str, Value)]) -> Value {
    Value::Map(entries.iter().map(|(k, v)| (Value::from(*k), v.clone())).collect())
}

pub fn header(key: &str, value: &str) -> Header {
    Header { key: key.to_owned(), value: Some(Bytes::copy_from_slice(value.as_bytes())) }
}

/// The struct inside a value, for assertions.
pub fn as_struct(v: &Value) -> &Struct {
    match v {
        Value::Struct(s) => s,
        other => panic!("expected a struct, got {other:?}"),
    }
}

/// The field `name` of a struct value (with no default substitution).
pub fn get<'a>(v: &'a Value, name: &str) -> &'a Value {
    as_struct(v).get(name).unwrap_or_else(|| panic!("no field {name}"))
}
