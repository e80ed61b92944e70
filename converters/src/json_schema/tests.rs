//! Unit tests of the JSON Schema converter.

use std::collections::BTreeMap;

use bytes::Bytes;
use sluice_api::schema::logical;
use sluice_api::{ConnectError, ConnectorConfig, Schema, SchemaType, Struct, Value};

use super::*;

fn fetched(text: &str, references: &[(&str, &str)], version: Option<u32>) -> FetchedSchema {
    FetchedSchema {
        id: 11,
        kind: SchemaKind::Json,
        text: text.to_owned(),
        references: references.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect(),
        subject: None,
        version,
    }
}

fn parse(text: &str) -> ParsedJsonSchema {
    JsonSchemaFormat::default().parse(&fetched(text, &[], None)).unwrap()
}

fn decode(parsed: &ParsedJsonSchema, payload: &str) -> Result<SchemaAndValue> {
    JsonSchemaFormat::default().decode(parsed, payload.as_bytes())
}

fn error(parsed: &ParsedJsonSchema, payload: &str) -> String {
    match decode(parsed, payload) {
        Err(e @ ConnectError::Data { .. }) => e.to_string(),
        other => panic!("expected a data error for {payload}, got {other:?}"),
    }
}

fn field<'a>(schema: &'a Schema, name: &str) -> &'a Schema {
    &schema.field(name).unwrap_or_else(|| panic!("no field {name}")).schema
}

fn values(value: &Value) -> Vec<Value> {
    match value {
        Value::Struct(s) => s.values.clone(),
        other => panic!("not a struct: {other:?}"),
    }
}

const ORDER: &str = r##"{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "title": "com.acme.Order",
  "description": "An order",
  "type": "object",
  "properties": {
    "id": {"type": "integer"},
    "flag": {"type": "boolean"},
    "i8": {"type": "integer", "connect.type": "int8"},
    "i16": {"type": "integer", "connect.type": "int16"},
    "i32": {"type": "integer", "connect.type": "int32"},
    "f32": {"type": "number", "connect.type": "float32"},
    "f64": {"type": "number"},
    "name": {"type": "string", "description": "Who ordered"},
    "raw": {"type": "string", "connect.type": "bytes"},
    "note": {"type": ["string", "null"]},
    "channel": {"type": "string", "default": "web"},
    "items": {"type": "array", "items": {"$ref": "#/definitions/Item"}},
    "attrs": {"type": "object", "additionalProperties": {"type": "integer", "connect.type": "int32"}}
  },
  "required": ["id", "flag", "i8", "i16", "i32", "f32", "f64", "name", "raw", "items", "attrs"],
  "definitions": {
    "Item": {
      "title": "com.acme.Item",
      "type": "object",
      "properties": {"sku": {"type": "string"}, "qty": {"type": "integer", "connect.type": "int32"}},
      "required": ["sku", "qty"]
    }
  }
}"##;

fn item_schema() -> Schema {
    Schema::structure([
        ("sku", Schema::new(SchemaType::String).into_ref()),
        ("qty", Schema::new(SchemaType::Int32).into_ref()),
    ])
    .named("com.acme.Item")
}

#[test]
fn objects_primitives_required_and_optional() {
    let parsed =
        JsonSchemaFormat::new(&ConnectorConfig::default()).unwrap().parse(&fetched(ORDER, &[], Some(5))).unwrap();
    let mut name = Schema::new(SchemaType::String);
    name.doc = Some("Who ordered".into());
    let mut expected = Schema::structure([
        ("id", Schema::new(SchemaType::Int64).into_ref()),
        ("flag", Schema::new(SchemaType::Boolean).into_ref()),
        ("i8", Schema::new(SchemaType::Int8).into_ref()),
        ("i16", Schema::new(SchemaType::Int16).into_ref()),
        ("i32", Schema::new(SchemaType::Int32).into_ref()),
        ("f32", Schema::new(SchemaType::Float32).into_ref()),
        ("f64", Schema::new(SchemaType::Float64).into_ref()),
        ("name", name.into_ref()),
        ("raw", Schema::new(SchemaType::Bytes).into_ref()),
        ("note", Schema::new(SchemaType::String).optional().into_ref()),
        ("channel", Schema::new(SchemaType::String).optional().with_default("web".into()).into_ref()),
        ("items", Schema::array(item_schema().into_ref()).into_ref()),
        (
            "attrs",
            Schema::map(Schema::new(SchemaType::String).into_ref(), Schema::new(SchemaType::Int32).into_ref())
                .into_ref(),
        ),
    ])
    .named("com.acme.Order");
    expected.doc = Some("An order".into());
    expected.version = Some(5);
    assert_eq!(parsed.schema().as_ref(), &expected);

    let got = decode(
        &parsed,
        r##"{"id": 9007199254740993, "flag": true, "i8": -8, "i16": 300, "i32": 70000, "f32": 1.5, "f64": 2.25,
            "name": "Ada", "raw": "AAH/", "note": null,
            "items": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 2.0}], "attrs": {"z": 1, "a": 2}, "extra": "ignored"}"##,
    )
    .unwrap();
    assert!(std::sync::Arc::ptr_eq(got.schema.as_ref().unwrap(), parsed.schema()));
    let item = |sku: &str, qty: i32| {
        Value::Struct(Struct { schema: item_schema().into_ref(), values: vec![sku.into(), Value::Int32(qty)] })
    };
    assert_eq!(
        values(&got.value),
        vec![
            Value::Int64(9_007_199_254_740_993),
            Value::Boolean(true),
            Value::Int8(-8),
            Value::Int16(300),
            Value::Int32(70000),
            Value::Float32(1.5),
            Value::Float64(2.25),
            "Ada".into(),
            Value::Bytes(Bytes::from_static(&[0, 1, 255])),
            Value::Null,
            "web".into(),
            Value::Array(vec![item("a", 1), item("b", 2)]),
            Value::Map(vec![("z".into(), Value::Int32(1)), ("a".into(), Value::Int32(2))]),
        ]
    );
}

#[test]
fn wrong_types_are_data_errors_naming_the_path() {
    let parsed = parse(ORDER);
    let base = r##""id": 1, "flag": true, "i8": 1, "i16": 1, "i32": 1, "f32": 1, "f64": 1, "name": "n", "raw": "", "attrs": {}"##;
    let with = |rest: &str| format!("{{{base}, {rest}}}");
    assert!(decode(&parsed, &with(r##""items": []"##)).is_ok());
    assert_eq!(
        error(
            &parsed,
            &with(r##""items": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 2}, {"sku": "c", "qty": "x"}]"##)
        ),
        r##"items[2].qty: expected an integer, got "x""##
    );
    assert_eq!(error(&parsed, &with(r##""items": [{"sku": "a"}]"##)), "items[0].qty: required property is missing");
    assert_eq!(
        error(&parsed, &with(r##""items": [{"sku": null, "qty": 1}]"##)),
        "items[0].sku: expected a string, got null"
    );
    assert_eq!(error(&parsed, &with(r##""items": {}"##)), "items: expected an array, got {}");
    assert_eq!(
        error(
            &parsed,
            &format!(r##"{{{}, "items": []}}"##, base.replace(r##""attrs": {}"##, r##""attrs": {"k": 1.5}"##))
        ),
        r##"attrs["k"]: expected an integer, got 1.5"##
    );
    assert_eq!(
        error(&parsed, &format!(r##"{{{}, "items": []}}"##, base.replace(r##""i8": 1"##, r##""i8": 300"##))),
        "i8: expected an int8, got 300"
    );
    assert_eq!(error(&parsed, &with(r##""items": [], "raw": "%%""##)), r##"raw: expected a base64 string, got "%%""##);
    assert_eq!(error(&parsed, "[1]"), "(root): expected an object, got [1]");
    assert!(error(&parsed, "{not json").starts_with("JsonSchemaConverter: the payload is not valid JSON"));
}

#[test]
fn nested_paths_in_errors() {
    let text = r##"{"type": "object", "properties": {
        "order": {"type": "object", "properties": {
            "items": {"type": "array", "items": {"type": "object", "properties": {"qty": {"type": "integer"}}, "required": ["qty"]}}
        }, "required": ["items"]}
    }, "required": ["order"]}"##;
    let parsed = parse(text);
    assert_eq!(
        error(&parsed, r##"{"order": {"items": [{"qty": 1}, {"qty": 2}, {"qty": "x"}]}}"##),
        r##"order.items[2].qty: expected an integer, got "x""##
    );
}

#[test]
fn connect_index_orders_fields_and_connect_annotations_apply() {
    let text = r##"{"type": "object", "title": "T", "connect.version": 3,
      "properties": {
        "b": {"type": "string", "connect.index": 1},
        "a": {"type": "string", "connect.index": 0, "connect.parameters": {"k": "v"}},
        "c": {"type": "number", "connect.index": 2, "connect.type": "float64"}
      }}"##;
    let parsed = JsonSchemaFormat::default().parse(&fetched(text, &[], Some(8))).unwrap();
    let s = parsed.schema();
    assert_eq!(s.fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["a", "b", "c"]);
    assert_eq!(s.version, Some(3), "connect.version wins over the registry's version");
    assert_eq!(field(s, "a"), &Schema::new(SchemaType::String).optional().with_parameter("k", "v"));
    let got = decode(&parsed, r##"{"b": "B", "c": 1}"##).unwrap();
    assert_eq!(values(&got.value), vec![Value::Null, "B".into(), Value::Float64(1.0)]);
}

#[test]
fn logical_types_from_titles_and_formats() {
    let text = r##"{"type": "object", "properties": {
        "price": {"type": "string", "title": "org.apache.kafka.connect.data.Decimal", "connect.type": "bytes",
                  "connect.parameters": {"scale": "2", "connect.decimal.precision": "10"}},
        "amount": {"type": "number", "title": "org.apache.kafka.connect.data.Decimal", "connect.type": "bytes",
                   "connect.parameters": {"scale": "3"}},
        "day": {"type": "integer", "title": "org.apache.kafka.connect.data.Date", "connect.type": "int32"},
        "tod": {"type": "integer", "title": "org.apache.kafka.connect.data.Time", "connect.type": "int32"},
        "ts": {"type": "integer", "title": "org.apache.kafka.connect.data.Timestamp", "connect.type": "int64"},
        "d": {"type": "string", "format": "date"},
        "t": {"type": "string", "format": "time"},
        "dt": {"type": "string", "format": "date-time"}
    }, "required": ["price", "amount", "day", "tod", "ts", "d", "t", "dt"]}"##;
    let parsed = parse(text);
    let s = parsed.schema();
    assert_eq!(field(s, "price"), &Schema::decimal(2).with_parameter("connect.decimal.precision", "10"));
    assert_eq!(field(s, "amount"), &Schema::decimal(3));
    assert_eq!(field(s, "day"), &Schema::date());
    assert_eq!(field(s, "tod"), &Schema::time());
    assert_eq!(field(s, "ts"), &Schema::timestamp());
    assert_eq!(field(s, "d"), &Schema::date());
    assert_eq!(field(s, "t"), &Schema::time());
    assert_eq!(field(s, "dt"), &Schema::timestamp());
    assert!(field(s, "dt").is_logical(logical::TIMESTAMP));
    let got = decode(
        &parsed,
        r##"{"price": "BNI=", "amount": -12.5, "day": 20349, "tod": 37800000, "ts": 1758191400000,
            "d": "2025-09-18", "t": "10:30:00.250Z", "dt": "2025-09-18T12:30:00+02:00"}"##,
    )
    .unwrap();
    assert_eq!(
        values(&got.value),
        vec![
            Value::Decimal { unscaled: 1234, scale: 2 },
            Value::Decimal { unscaled: -12500, scale: 3 },
            Value::Date(20349),
            Value::Time(37_800_000),
            Value::Timestamp(1_758_191_400_000),
            Value::Date(20349),
            Value::Time(37_800_250),
            Value::Timestamp(1_758_191_400_000),
        ]
    );
    let ok =
        r##""price": "AA==", "amount": 1, "day": 1, "tod": 1, "ts": 1, "t": "00:00:00", "dt": "1970-01-01T00:00:00Z""##;
    assert_eq!(
        error(&parsed, &format!(r##"{{{ok}, "d": "2025-02-30"}}"##)),
        r##"d: expected a date string (YYYY-MM-DD), got "2025-02-30""##
    );
    assert_eq!(
        error(
            &parsed,
            &format!(r##"{{{}, "d": "2025-01-01"}}"##, ok.replace(r##""amount": 1"##, r##""amount": 1.0001"##))
        ),
        "amount: expected a decimal with at most 3 fractional digit(s), got 1.0001"
    );
}

#[test]
fn nullable_forms_unions_enums_and_defaults() {
    let text = r##"{"type": "object", "properties": {
        "a": {"oneOf": [{"type": "null"}, {"type": "integer"}]},
        "b": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "c": {"type": "string", "nullable": true},
        "u": {"oneOf": [{"type": "string"}, {"type": "integer"}, {"$ref": "#/$defs/P"}]},
        "e": {"type": "string", "enum": ["RED", "GREEN"]},
        "k": {"const": "fixed"},
        "n": {"type": "integer", "default": 7},
        "any": {}
    }, "required": ["a", "b", "c", "u", "e", "k", "n", "any"],
    "$defs": {"P": {"type": "object", "title": "P", "properties": {"x": {"type": "integer"}}}}}"##;
    let parsed = parse(text);
    let s = parsed.schema();
    assert_eq!(field(s, "a"), &Schema::new(SchemaType::Int64).optional());
    assert_eq!(field(s, "b"), &Schema::new(SchemaType::String).optional());
    assert_eq!(field(s, "c"), &Schema::new(SchemaType::String).optional());
    let p = Schema::structure([("x", Schema::new(SchemaType::Int64).optional().into_ref())]).named("P");
    let union = Schema::structure([
        ("io.confluent.connect.json.OneOf.field.0", Schema::new(SchemaType::String).optional().into_ref()),
        ("io.confluent.connect.json.OneOf.field.1", Schema::new(SchemaType::Int64).optional().into_ref()),
        ("io.confluent.connect.json.OneOf.field.2", p.clone().optional().into_ref()),
    ])
    .named(ONE_OF_NAME);
    assert_eq!(field(s, "u"), &union);
    let mut e = Schema::new(SchemaType::String);
    e.parameters = BTreeMap::from([
        (ENUM_PARAM.to_owned(), String::new()),
        (format!("{ENUM_PARAM}.RED"), "RED".to_owned()),
        (format!("{ENUM_PARAM}.GREEN"), "GREEN".to_owned()),
    ]);
    assert_eq!(field(s, "e"), &e);
    assert_eq!(field(s, "k").parameters.get(&format!("{ENUM_PARAM}.fixed")).map(String::as_str), Some("fixed"));
    assert_eq!(field(s, "n"), &Schema::new(SchemaType::Int64).with_default(Value::Int64(7)));
    assert_eq!(field(s, "any"), &Schema::new(SchemaType::String).optional());

    let union_value = |i: usize, v: Value| {
        let mut values = vec![Value::Null; 3];
        values[i] = v;
        Value::Struct(Struct { schema: union.clone().into_ref(), values })
    };
    let got = decode(
        &parsed,
        r##"{"a": 1, "b": null, "c": "x", "u": 5, "e": "RED", "k": "fixed", "any": {"z": [1, null]}}"##,
    )
    .unwrap();
    assert_eq!(
        values(&got.value),
        vec![
            Value::Int64(1),
            Value::Null,
            "x".into(),
            union_value(1, Value::Int64(5)),
            "RED".into(),
            "fixed".into(),
            Value::Int64(7),
            r##"{"z":[1,null]}"##.into(),
        ]
    );
    let p_value = Value::Struct(Struct { schema: p.optional().into_ref(), values: vec![Value::Int64(3)] });
    let got = decode(
        &parsed,
        r##"{"a": null, "b": "s", "c": null, "u": {"x": 3}, "e": "GREEN", "k": "fixed", "n": 1, "any": 2}"##,
    )
    .unwrap();
    assert_eq!(values(&got.value)[3], union_value(2, p_value));
    assert_eq!(
        error(&parsed, r##"{"a": 1, "b": null, "c": "x", "u": true, "e": "RED", "k": "fixed", "any": 1}"##),
        "u: expected a value matching one of the oneOf branches, got true"
    );
}

#[test]
fn maps_with_non_string_keys_and_tuples() {
    let text = r##"{"type": "object", "properties": {
        "m": {"type": "array", "connect.type": "map", "items": {"type": "object", "properties": {
            "key": {"type": "integer", "connect.type": "int32"}, "value": {"type": "string"}}}},
        "pair": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]},
        "free": {"type": "object"},
        "typed": {"type": "object", "connect.type": "map", "additionalProperties": {"type": "boolean"}}
    }, "required": ["m", "pair", "free", "typed"]}"##;
    let parsed = parse(text);
    let s = parsed.schema();
    assert_eq!(
        field(s, "m"),
        &Schema::map(Schema::new(SchemaType::Int32).into_ref(), Schema::new(SchemaType::String).into_ref())
    );
    assert_eq!(
        field(s, "typed"),
        &Schema::map(Schema::new(SchemaType::String).into_ref(), Schema::new(SchemaType::Boolean).into_ref())
    );
    let got = decode(
        &parsed,
        r##"{"m": [{"key": 1, "value": "one"}], "pair": ["a", 1], "free": {"x": 1}, "typed": {"t": true}}"##,
    )
    .unwrap();
    assert_eq!(
        values(&got.value),
        vec![
            Value::Map(vec![(Value::Int32(1), "one".into())]),
            r##"["a",1]"##.into(),
            r##"{"x":1}"##.into(),
            Value::Map(vec![("t".into(), Value::Boolean(true))]),
        ]
    );
    assert_eq!(
        error(&parsed, r##"{"m": [{"key": "x", "value": "one"}], "pair": [], "free": {}, "typed": {}}"##),
        r##"m[0].key: expected an integer, got "x""##
    );
}

#[test]
fn refs_to_other_registered_schemas() {
    let address = r##"{"$id": "https://acme.io/schemas/address.json", "title": "com.acme.Address", "type": "object",
        "properties": {"city": {"type": "string"}}, "required": ["city"],
        "$defs": {"Zip": {"type": "string"}}}"##;
    let customer = r##"{"$id": "https://acme.io/schemas/customer.json", "type": "object", "title": "com.acme.Customer",
        "properties": {
            "home": {"$ref": "address.json"},
            "work": {"$ref": "https://acme.io/schemas/address.json"},
            "zip": {"$ref": "address.json#/$defs/Zip"}
        }, "required": ["home"]}"##;
    let parsed = JsonSchemaFormat::default().parse(&fetched(customer, &[("address.json", address)], Some(2))).unwrap();
    let s = parsed.schema();
    let address_schema =
        Schema::structure([("city", Schema::new(SchemaType::String).into_ref())]).named("com.acme.Address");
    assert_eq!(field(s, "home"), &address_schema);
    assert_eq!(field(s, "work"), &address_schema.clone().optional());
    assert_eq!(field(s, "zip"), &Schema::new(SchemaType::String).optional());
    let got = decode(&parsed, r##"{"home": {"city": "Oslo"}, "zip": "0150"}"##).unwrap();
    assert_eq!(got.value.field("home").and_then(|h| h.field("city")), Some(&Value::String("Oslo".into())));
    assert_eq!(got.value.field("work"), Some(&Value::Null));

    // The reference registered under another name is still found by its $id.
    let parsed = JsonSchemaFormat::default().parse(&fetched(customer, &[("com.acme.Address", address)], None)).unwrap();
    assert_eq!(field(parsed.schema(), "home"), &address_schema);

    let err = JsonSchemaFormat::default().parse(&fetched(customer, &[], None)).unwrap_err().to_string();
    assert!(err.contains("neither this schema nor one of its references"), "{err}");
}

#[test]
fn all_of_merges_properties_and_recursion_is_refused() {
    let text = r##"{"title": "Merged", "allOf": [
        {"$ref": "#/definitions/Base"},
        {"type": "object", "properties": {"extra": {"type": "boolean"}}, "required": ["extra"]}
    ], "definitions": {"Base": {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]}}}"##;
    let parsed = parse(text);
    assert_eq!(
        parsed.schema().as_ref(),
        &Schema::structure([
            ("id", Schema::new(SchemaType::Int64).into_ref()),
            ("extra", Schema::new(SchemaType::Boolean).into_ref()),
        ])
        .named("Merged")
    );
    assert_eq!(
        values(&decode(&parsed, r##"{"id": 1, "extra": false}"##).unwrap().value),
        vec![Value::Int64(1), Value::Boolean(false)]
    );

    let recursive = r##"{"$ref": "#/definitions/Node", "definitions": {"Node": {"type": "object",
        "properties": {"next": {"$ref": "#/definitions/Node"}}}}}"##;
    let err = JsonSchemaFormat::default().parse(&fetched(recursive, &[], None)).unwrap_err();
    assert!(matches!(err, ConnectError::Data { .. }));
    assert!(err.to_string().contains("cannot be recursive"), "{err}");

    let err = JsonSchemaFormat::default().parse(&fetched(r##"{"type": "wat"}"##, &[], None)).unwrap_err().to_string();
    assert!(err.contains("unknown JSON Schema type \"wat\""), "{err}");
    let err = JsonSchemaFormat::default()
        .parse(&fetched(r##"{"type": "integer", "default": "x"}"##, &[], None))
        .unwrap_err()
        .to_string();
    assert!(err.contains("the default \"x\" does not fit the schema"), "{err}");
}

#[test]
fn registered_under_confluent_and_sluice_class_names() {
    let mut registry = sluice_api::PluginRegistry::new();
    crate::register(&mut registry);
    let config: ConnectorConfig = [("schema.registry.url", "http://localhost:1")].into_iter().collect();
    for class in ["io.confluent.connect.json.JsonSchemaConverter", "io.sluice.connect.json.JsonSchemaConverter"] {
        assert!(registry.converter("value.converter", class, &config, false).is_ok(), "{class}");
    }
}
