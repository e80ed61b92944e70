//! SMT configs: the fuzz input as a connector's `.properties` (`transforms=…`,
//! `transforms.<alias>.type=…`, `predicates=…`), built into a chain as the worker builds it
//! (`sluice_transforms::build_chain`), then applied to a schemaless record and a record with
//! a schema.
#![no_main]

use std::sync::Arc;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sluice_api::schema::logical;
use sluice_api::{ConnectorConfig, Header, Schema, SchemaRef, SchemaType, SinkRecord, Struct, Value};

fn record(key_schema: Option<SchemaRef>, key: Value, value_schema: Option<SchemaRef>, value: Value) -> SinkRecord {
    SinkRecord {
        topic: Arc::from("orders"),
        partition: 1,
        original_topic: Arc::from("orders"),
        original_partition: 1,
        offset: 42,
        timestamp: Some(1_700_000_000_000),
        key_schema,
        key,
        value_schema,
        value,
        value_json: None,
        value_datum: None,
        headers: vec![
            Header { key: "trace".into(), value: Some(Bytes::from_static(b"abc")) },
            Header { key: "n".into(), value: Some(Bytes::from_static(b"7")) },
            Header { key: "none".into(), value: None },
        ],
    }
}

fn records() -> Vec<SinkRecord> {
    let p = |t: SchemaType| Schema::new(t).into_ref();
    let inner = Schema::structure([("city", p(SchemaType::String)), ("zip", Schema::new(SchemaType::String).optional().into_ref())])
        .named("fuzz.Place")
        .into_ref();
    let at = Schema::new(SchemaType::Int64).named(logical::TIMESTAMP).into_ref();
    let schema = Schema::structure([
        ("id", p(SchemaType::Int64)),
        ("n", p(SchemaType::Int32)),
        ("ok", p(SchemaType::Boolean)),
        ("ratio", p(SchemaType::Float64)),
        ("name", p(SchemaType::String)),
        ("raw", p(SchemaType::Bytes)),
        ("note", Schema::new(SchemaType::String).optional().into_ref()),
        ("at", at),
        ("place", inner.clone()),
        ("tags", Schema::array(p(SchemaType::String)).into_ref()),
        ("attrs", Schema::map(p(SchemaType::String), p(SchemaType::String)).into_ref()),
    ])
    .named("fuzz.Order")
    .into_ref();
    let place = Value::Struct(Struct { schema: inner, values: vec![Value::from("Lyon"), Value::Null] });
    let value = Value::Struct(Struct {
        schema: schema.clone(),
        values: vec![
            Value::Int64(1),
            Value::Int32(-3),
            Value::Boolean(true),
            Value::Float64(0.5),
            Value::from("2024-01-02 03:04:05"),
            Value::Bytes(Bytes::from_static(b"\x00\x01")),
            Value::Null,
            Value::Timestamp(1_700_000_000_000),
            place,
            Value::Array(vec![Value::from("a"), Value::from("1")]),
            Value::Map(vec![(Value::from("k"), Value::from("v"))]),
        ],
    });
    let schemaless = Value::Map(vec![
        (Value::from("id"), Value::Int64(7)),
        (Value::from("name"), Value::from("1700000000000")),
        (Value::from("place"), Value::Map(vec![(Value::from("city"), Value::from("Oslo"))])),
        (Value::from("tags"), Value::Array(vec![Value::from("x"), Value::Null])),
        (Value::from("flag"), Value::Boolean(false)),
    ]);
    vec![
        record(Some(p(SchemaType::String)), Value::from("k1"), Some(schema), value),
        record(None, Value::Map(vec![(Value::from("id"), Value::Int64(7))]), None, schemaless),
        record(None, Value::Null, None, Value::Null),
    ]
}

fuzz_target!(|data: &[u8]| {
    let Some(map) = sluice_fuzz::properties(data) else { return };
    let chain = sluice_transforms::build_chain(None, &ConnectorConfig::new(map));
    if sluice_fuzz::verbose() {
        eprintln!("{:?}", chain.as_ref().map(|c| c.len()).err());
    }
    let Ok(chain) = chain else { return };
    for mut record in records() {
        for (alias, transform) in &chain {
            match transform.apply(record) {
                Ok(Some(next)) => record = next,
                Ok(None) => break,
                Err(e) => {
                    if sluice_fuzz::verbose() {
                        eprintln!("{alias}: {e}");
                    }
                    break;
                }
            }
        }
    }
});
