//! Payloads are written by apache-avro's own encoder from hand-built values, then read back
//! through [`AvroFormat::parse`] and [`AvroFormat::decode`] as the registry converter calls them.

use std::sync::Arc;

use apache_avro::types::Value as Avro;
use apache_avro::writer::datum::GenericDatumWriter;
use apache_avro::{Days, Decimal, Duration, Millis, Months, Uuid};
use bytes::Bytes;
use sluice_api::schema::logical;
use sluice_api::{ConnectError, ConnectorConfig, Field, PluginRegistry, Schema, SchemaType, Struct, Value};

use super::*;

fn fetched(text: &str) -> FetchedSchema {
    FetchedSchema {
        id: 42,
        kind: SchemaKind::Avro,
        text: text.to_owned(),
        references: Vec::new(),
        subject: None,
        version: None,
    }
}

pub(super) fn parse(text: &str) -> ParsedSchema {
    AvroFormat::default().parse(&fetched(text)).unwrap_or_else(|e| panic!("{e}"))
}

fn parse_error(text: &str) -> String {
    let err = AvroFormat::default().parse(&fetched(text)).unwrap_err();
    assert!(matches!(err, ConnectError::Data { .. }), "{err:?}");
    err.to_string()
}

pub(super) fn encode(text: &str, value: Avro) -> Vec<u8> {
    let schema = AvroSchema::parse_str(text).unwrap();
    GenericDatumWriter::builder(&schema).build().unwrap().write_value_to_vec(value).unwrap()
}

fn decode(parsed: &ParsedSchema, payload: &[u8]) -> Result<SchemaAndValue> {
    AvroFormat::default().decode(parsed, payload)
}

fn decode_error(parsed: &ParsedSchema, payload: &[u8]) -> String {
    let err = decode(parsed, payload).unwrap_err();
    assert!(matches!(err, ConnectError::Data { .. }), "{err:?}");
    err.to_string()
}

/// Parses `text`, encodes `value` with it and decodes it back.
fn round_trip(text: &str, value: Avro) -> (ParsedSchema, Value) {
    let parsed = parse(text);
    let got = decode(&parsed, &encode(text, value)).unwrap_or_else(|e| panic!("{e}"));
    let schema = got.schema.expect("a schema");
    assert!(Arc::ptr_eq(&schema, parsed.schema()), "the parsed schema is shared, not rebuilt");
    (parsed, got.value)
}

pub(super) fn record(fields: Vec<(&str, Avro)>) -> Avro {
    Avro::Record(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

fn some(v: Avro) -> Avro {
    Avro::Union(1, Box::new(v))
}

fn none() -> Avro {
    Avro::Union(0, Box::new(Avro::Null))
}

/// Big-endian two's complement, as short as it gets.
fn decimal(unscaled: i128) -> Decimal {
    let bytes = unscaled.to_be_bytes();
    let fill = if unscaled < 0 { 0xff } else { 0 };
    let skip = bytes.iter().take(15).take_while(|&&b| b == fill).count();
    let skip = if (bytes[skip] ^ fill) & 0x80 != 0 { skip.saturating_sub(1) } else { skip };
    Decimal::from(&bytes[skip..])
}

fn field_schema<'a>(schema: &'a Schema, name: &str) -> &'a Schema {
    &schema.field(name).unwrap_or_else(|| panic!("no field {name}")).schema
}

fn s(schema_type: SchemaType) -> Schema {
    Schema::new(schema_type)
}

fn strings(values: &[&str]) -> Value {
    Value::Array(values.iter().map(|v| Value::from(*v)).collect())
}

const PRIMITIVES: &str = r#"{"type":"record","name":"Primitives","namespace":"io.test","doc":"every primitive",
  "fields":[
    {"name":"b","type":"boolean"},
    {"name":"i","type":"int"},
    {"name":"i8","type":{"type":"int","connect.type":"int8"}},
    {"name":"i16","type":{"type":"int","connect.type":"int16"}},
    {"name":"l","type":"long"},
    {"name":"f","type":"float"},
    {"name":"d","type":"double"},
    {"name":"raw","type":"bytes"},
    {"name":"text","type":"string","doc":"some text"}
  ]}"#;

#[test]
fn primitives_map_to_the_matching_connect_types() {
    let (parsed, value) = round_trip(
        PRIMITIVES,
        record(vec![
            ("b", Avro::Boolean(true)),
            ("i", Avro::Int(-70000)),
            ("i8", Avro::Int(-8)),
            ("i16", Avro::Int(300)),
            ("l", Avro::Long(5_000_000_000)),
            ("f", Avro::Float(1.5)),
            ("d", Avro::Double(-2.25)),
            ("raw", Avro::Bytes(vec![0, 1, 255])),
            ("text", Avro::String("héllo".into())),
        ]),
    );
    let mut text = s(SchemaType::String);
    text.doc = Some("some text".into());
    let mut expected = Schema::structure([
        ("b", s(SchemaType::Boolean).into_ref()),
        ("i", s(SchemaType::Int32).into_ref()),
        ("i8", s(SchemaType::Int8).into_ref()),
        ("i16", s(SchemaType::Int16).into_ref()),
        ("l", s(SchemaType::Int64).into_ref()),
        ("f", s(SchemaType::Float32).into_ref()),
        ("d", s(SchemaType::Float64).into_ref()),
        ("raw", s(SchemaType::Bytes).into_ref()),
        ("text", text.into_ref()),
    ])
    .named("io.test.Primitives");
    expected.doc = Some("every primitive".into());
    assert_eq!(**parsed.schema(), expected);
    assert_eq!(
        value,
        Value::Struct(Struct {
            schema: parsed.schema().clone(),
            values: vec![
                Value::Boolean(true),
                Value::Int32(-70000),
                Value::Int8(-8),
                Value::Int16(300),
                Value::Int64(5_000_000_000),
                Value::Float32(1.5),
                Value::Float64(-2.25),
                Value::Bytes(Bytes::from_static(&[0, 1, 255])),
                Value::from("héllo"),
            ],
        })
    );
}

#[test]
fn top_level_primitives_and_nullable_unions() {
    let (parsed, value) = round_trip(r#""string""#, Avro::String("plain".into()));
    assert_eq!(**parsed.schema(), s(SchemaType::String));
    assert_eq!(value, Value::from("plain"));

    let (parsed, value) = round_trip(r#"["null","long"]"#, some(Avro::Long(7)));
    assert_eq!(**parsed.schema(), s(SchemaType::Int64).optional());
    assert_eq!(value, Value::Int64(7));
    assert_eq!(decode(&parsed, &encode(r#"["null","long"]"#, none())).unwrap().value, Value::Null);
}

const EVERYTHING: &str = r#"{"type":"record","name":"Everything","namespace":"io.test","fields":[
    {"name":"flag","type":"boolean"},
    {"name":"small","type":{"type":"int","connect.type":"int16"}},
    {"name":"count","type":"int"},
    {"name":"big","type":"long"},
    {"name":"ratio","type":"float"},
    {"name":"score","type":"double"},
    {"name":"blob","type":"bytes"},
    {"name":"label","type":"string"},
    {"name":"tags","type":{"type":"array","items":"string"}},
    {"name":"attrs","type":{"type":"map","values":"long"}},
    {"name":"address","type":{"type":"record","name":"Address","doc":"where","fields":[
        {"name":"city","type":"string"},
        {"name":"zip","type":["null","string"],"default":null}]}},
    {"name":"previous","type":["null","Address"],"default":null},
    {"name":"color","type":{"type":"enum","name":"Color","symbols":["RED","GREEN"]}},
    {"name":"hash","type":{"type":"fixed","name":"Hash","size":4}},
    {"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}},
    {"name":"day","type":{"type":"int","logicalType":"date"}},
    {"name":"tod","type":{"type":"int","logicalType":"time-millis"}},
    {"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},
    {"name":"at_us","type":{"type":"long","logicalType":"timestamp-micros"}},
    {"name":"id","type":{"type":"string","logicalType":"uuid"}},
    {"name":"wait","type":{"type":"fixed","name":"Wait","size":12,"logicalType":"duration"}},
    {"name":"choice","type":["null","int","string","Address"]}
  ]}"#;

const UUID: &str = "f81d4fae-7dec-11d0-a765-00a0c91e6bf6";

fn everything() -> Avro {
    let address =
        |city: &str| record(vec![("city", Avro::String(city.into())), ("zip", some(Avro::String("75001".into())))]);
    record(vec![
        ("flag", Avro::Boolean(false)),
        ("small", Avro::Int(-300)),
        ("count", Avro::Int(3)),
        ("big", Avro::Long(-4)),
        ("ratio", Avro::Float(0.5)),
        ("score", Avro::Double(9.75)),
        ("blob", Avro::Bytes(vec![9, 8])),
        ("label", Avro::String("L".into())),
        ("tags", Avro::Array(vec![Avro::String("a".into()), Avro::String("b".into())])),
        ("attrs", Avro::Map([("x".to_owned(), Avro::Long(1))].into_iter().collect())),
        ("address", address("Paris")),
        ("previous", some(address("Lyon"))),
        ("color", Avro::Enum(1, "GREEN".into())),
        ("hash", Avro::Fixed(4, vec![1, 2, 3, 4])),
        ("price", Avro::Decimal(decimal(-12345))),
        ("day", Avro::Date(20349)),
        ("tod", Avro::TimeMillis(37_800_000)),
        ("at", Avro::TimestampMillis(1_758_191_400_000)),
        ("at_us", Avro::TimestampMicros(1_758_191_400_000_123)),
        ("id", Avro::Uuid(Uuid::parse_str(UUID).unwrap())),
        ("wait", Avro::Duration(Duration::new(Months::new(1), Days::new(2), Millis::new(3)))),
        ("choice", Avro::Union(2, Box::new(Avro::String("two".into())))),
    ])
}

#[test]
fn a_record_using_every_type_at_once() {
    let (parsed, value) = round_trip(EVERYTHING, everything());
    let schema = parsed.schema();
    let address = field_schema(schema, "address");
    assert_eq!(address.name.as_deref(), Some("io.test.Address"));
    assert_eq!(address.doc.as_deref(), Some("where"));
    assert!(field_schema(address, "zip").optional);
    let previous = field_schema(schema, "previous");
    assert!(previous.optional);
    assert_eq!(previous.default, Some(Value::Null));
    assert_eq!(previous.fields, address.fields);
    assert_eq!(field_schema(schema, "attrs").key_schema.as_deref(), Some(&s(SchemaType::String)));
    assert_eq!(field_schema(schema, "price").decimal_scale(), Some(2));
    assert_eq!(field_schema(schema, "choice").name.as_deref(), Some(params::UNION));

    let address_value = |city: &str, schema: &SchemaRef| {
        Value::Struct(Struct { schema: schema.clone(), values: vec![Value::from(city), Value::from("75001")] })
    };
    let choice = &schema.field("choice").unwrap().schema;
    let expected = vec![
        Value::Boolean(false),
        Value::Int16(-300),
        Value::Int32(3),
        Value::Int64(-4),
        Value::Float32(0.5),
        Value::Float64(9.75),
        Value::Bytes(Bytes::from_static(&[9, 8])),
        Value::from("L"),
        strings(&["a", "b"]),
        Value::Map(vec![(Value::from("x"), Value::Int64(1))]),
        address_value("Paris", &schema.field("address").unwrap().schema),
        address_value("Lyon", &schema.field("previous").unwrap().schema),
        Value::from("GREEN"),
        Value::Bytes(Bytes::from_static(&[1, 2, 3, 4])),
        Value::Decimal { unscaled: -12345, scale: 2 },
        Value::Date(20349),
        Value::Time(37_800_000),
        Value::Timestamp(1_758_191_400_000),
        Value::Int64(1_758_191_400_000_123),
        Value::from(UUID),
        Value::Bytes(Bytes::from_static(&[1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0])),
        Value::Struct(Struct { schema: choice.clone(), values: vec![Value::Null, Value::from("two"), Value::Null] }),
    ];
    let Value::Struct(got) = value else { panic!("not a struct: {value:?}") };
    assert_eq!(got.values.len(), expected.len());
    for ((name, got), expected) in got.iter().zip(&expected) {
        assert_eq!(got, expected, "field {name}");
    }
}

#[test]
fn nested_records_share_their_schema_where_used_alike() {
    let text = r#"{"type":"record","name":"Order","namespace":"shop","doc":"an order","fields":[
        {"name":"customer","doc":"who","type":{"type":"record","name":"Customer","fields":[
            {"name":"name","type":"string"},
            {"name":"home","type":{"type":"record","name":"Place","namespace":"geo","fields":[
                {"name":"lat","type":"double"},{"name":"lon","type":"double"}]}}]}},
        {"name":"from","type":"geo.Place"},
        {"name":"to","type":"geo.Place"}
      ]}"#;
    let place = |lat, lon| record(vec![("lat", Avro::Double(lat)), ("lon", Avro::Double(lon))]);
    let (parsed, value) = round_trip(
        text,
        record(vec![
            ("customer", record(vec![("name", Avro::String("Ada".into())), ("home", place(1.0, 2.0))])),
            ("from", place(3.0, 4.0)),
            ("to", place(5.0, 6.0)),
        ]),
    );
    let schema = parsed.schema();
    assert_eq!(schema.doc.as_deref(), Some("an order"));
    let customer = &schema.field("customer").unwrap().schema;
    assert_eq!(customer.name.as_deref(), Some("shop.Customer"));
    assert_eq!(customer.doc.as_deref(), Some("who"), "the field doc is the field schema's doc");
    let home = &customer.field("home").unwrap().schema;
    assert_eq!(home.name.as_deref(), Some("geo.Place"));
    let (from, to) = (&schema.field("from").unwrap().schema, &schema.field("to").unwrap().schema);
    assert!(Arc::ptr_eq(home, from) && Arc::ptr_eq(from, to), "one Arc per named type used alike");

    let place_value = |lat, lon| {
        Value::Struct(Struct { schema: home.clone(), values: vec![Value::Float64(lat), Value::Float64(lon)] })
    };
    assert_eq!(
        value,
        Value::Struct(Struct {
            schema: schema.clone(),
            values: vec![
                Value::Struct(Struct {
                    schema: customer.clone(),
                    values: vec![Value::from("Ada"), place_value(1.0, 2.0)]
                }),
                place_value(3.0, 4.0),
                place_value(5.0, 6.0),
            ],
        })
    );
}

#[test]
fn nullable_unions_in_either_order_are_optional_fields() {
    let text = r#"{"type":"record","name":"N","fields":[
        {"name":"a","type":["null","string"],"default":null},
        {"name":"b","type":["string","null"],"default":"x"},
        {"name":"c","type":["long","null"]},
        {"name":"d","type":["null","long"]}
      ]}"#;
    let parsed = parse(text);
    let schema = parsed.schema();
    assert_eq!(*field_schema(schema, "a"), s(SchemaType::String).optional().with_default(Value::Null));
    assert_eq!(*field_schema(schema, "b"), s(SchemaType::String).optional().with_default(Value::from("x")));
    assert_eq!(*field_schema(schema, "c"), s(SchemaType::Int64).optional());
    assert_eq!(*field_schema(schema, "d"), s(SchemaType::Int64).optional());

    let set = record(vec![
        ("a", some(Avro::String("A".into()))),
        ("b", Avro::Union(0, Box::new(Avro::String("B".into())))),
        ("c", Avro::Union(0, Box::new(Avro::Long(3)))),
        ("d", some(Avro::Long(4))),
    ]);
    let unset = record(vec![
        ("a", none()),
        ("b", Avro::Union(1, Box::new(Avro::Null))),
        ("c", Avro::Union(1, Box::new(Avro::Null))),
        ("d", none()),
    ]);
    let values = |v: Avro| match decode(&parsed, &encode(text, v)).unwrap().value {
        Value::Struct(s) => s.values,
        other => panic!("not a struct: {other:?}"),
    };
    assert_eq!(values(set), vec![Value::from("A"), Value::from("B"), Value::Int64(3), Value::Int64(4)]);
    assert_eq!(values(unset), vec![Value::Null; 4]);
}

const GENERAL_UNION: &str = r#"{"type":"record","name":"U","namespace":"io.test","fields":[
    {"name":"u","type":["null","int","string",
        {"type":"record","name":"Point","namespace":"io.geo","fields":[{"name":"x","type":"int"}]},
        {"type":"enum","name":"Kind","symbols":["A","B"]},
        {"type":"array","items":"int"},
        {"type":"fixed","name":"Four","size":4}]},
    {"name":"v","type":["int","string"],"default":5}
  ]}"#;

#[test]
fn general_unions_become_a_struct_with_one_optional_field_per_branch() {
    let parsed = parse(GENERAL_UNION);
    let u = field_schema(parsed.schema(), "u");
    assert_eq!(u.schema_type, SchemaType::Struct);
    assert_eq!(u.name.as_deref(), Some(params::UNION));
    assert!(u.optional, "a null branch makes the union optional");
    let names: Vec<&str> = u.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["int", "string", "Point", "Kind", "array", "Four"]);
    assert!(u.fields.iter().all(|f| f.schema.optional));
    assert_eq!(field_schema(u, "Point").name.as_deref(), Some("io.geo.Point"));
    assert_eq!(field_schema(u, "Kind").parameters.get(params::ENUM).map(String::as_str), Some("io.test.Kind"));

    let v = field_schema(parsed.schema(), "v");
    assert!(!v.optional);
    let Some(Value::Struct(default)) = &v.default else { panic!("no default: {v:?}") };
    assert_eq!(default.values, vec![Value::Int32(5), Value::Null], "the default is the first branch's");

    let u_ref = parsed.schema().field("u").unwrap().schema.clone();
    let point = u_ref.field("Point").unwrap().schema.clone();
    let cases = [
        (Avro::Union(0, Box::new(Avro::Null)), None),
        (Avro::Union(1, Box::new(Avro::Int(7))), Some((0, Value::Int32(7)))),
        (Avro::Union(2, Box::new(Avro::String("s".into()))), Some((1, Value::from("s")))),
        (
            Avro::Union(3, Box::new(record(vec![("x", Avro::Int(1))]))),
            Some((2, Value::Struct(Struct { schema: point.clone(), values: vec![Value::Int32(1)] }))),
        ),
        (Avro::Union(4, Box::new(Avro::Enum(1, "B".into()))), Some((3, Value::from("B")))),
        (Avro::Union(5, Box::new(Avro::Array(vec![Avro::Int(1)]))), Some((4, Value::Array(vec![Value::Int32(1)])))),
        (Avro::Union(6, Box::new(Avro::Fixed(4, vec![0; 4]))), Some((5, Value::Bytes(Bytes::from_static(&[0; 4]))))),
    ];
    for (datum, expected) in cases {
        let payload = encode(
            GENERAL_UNION,
            record(vec![("u", datum), ("v", Avro::Union(1, Box::new(Avro::String("v".into()))))]),
        );
        let Value::Struct(got) = decode(&parsed, &payload).unwrap().value else { panic!("not a struct") };
        let expected_u = expected.map_or(Value::Null, |(index, value)| {
            let mut values = vec![Value::Null; 6];
            values[index] = value;
            Value::Struct(Struct { schema: u_ref.clone(), values })
        });
        assert_eq!(got.values[0], expected_u);
        let Value::Struct(v) = &got.values[1] else { panic!("v is not a struct") };
        assert_eq!(v.values, vec![Value::Null, Value::from("v")]);
    }
}

#[test]
fn union_branches_with_the_same_connect_name_are_rejected() {
    let err = parse_error(
        r#"["null",{"type":"record","name":"a.X","fields":[]},{"type":"record","name":"b.X","fields":[]}]"#,
    );
    assert!(err.contains("`X`"), "{err}");
}

#[test]
fn enums_are_strings_with_their_symbols_as_parameters() {
    let text = r#"{"type":"record","name":"E","fields":[
        {"name":"suit","type":{"type":"enum","name":"Suit","namespace":"cards","doc":"a suit","symbols":["SPADES","HEARTS"]}},
        {"name":"hand","type":{"type":"array","items":"cards.Suit"}}]}"#;
    let (parsed, value) = round_trip(
        text,
        record(vec![
            ("suit", Avro::Enum(1, "HEARTS".into())),
            ("hand", Avro::Array(vec![Avro::Enum(0, "SPADES".into()), Avro::Enum(1, "HEARTS".into())])),
        ]),
    );
    let mut expected = s(SchemaType::String)
        .named("cards.Suit")
        .with_parameter(params::ENUM, "cards.Suit")
        .with_parameter("io.confluent.connect.avro.Enum.SPADES", "SPADES")
        .with_parameter("io.confluent.connect.avro.Enum.HEARTS", "HEARTS");
    expected.doc = Some("a suit".into());
    assert_eq!(*field_schema(parsed.schema(), "suit"), expected);
    assert_eq!(field_schema(parsed.schema(), "hand").items().map(|i| &**i), Some(&expected));
    assert_eq!(value.field("suit"), Some(&Value::from("HEARTS")));
    assert_eq!(value.field("hand"), Some(&strings(&["SPADES", "HEARTS"])));
}

#[test]
fn fixed_is_named_bytes_with_its_size() {
    let text = r#"{"type":"record","name":"F","fields":[
        {"name":"md5","type":{"type":"fixed","name":"MD5","namespace":"h","size":16}},
        {"name":"again","type":"h.MD5"}]}"#;
    let (parsed, value) =
        round_trip(text, record(vec![("md5", Avro::Fixed(16, vec![7; 16])), ("again", Avro::Fixed(16, vec![8; 16]))]));
    let expected = s(SchemaType::Bytes).named("h.MD5").with_parameter(params::FIXED_SIZE, "16");
    assert_eq!(*field_schema(parsed.schema(), "md5"), expected);
    assert!(Arc::ptr_eq(&parsed.schema().fields[0].schema, &parsed.schema().fields[1].schema));
    assert_eq!(value.field("md5"), Some(&Value::Bytes(Bytes::from(vec![7; 16]))));
    assert_eq!(value.field("again"), Some(&Value::Bytes(Bytes::from(vec![8; 16]))));
}

const DECIMALS: &str = r#"{"type":"record","name":"D","fields":[
    {"name":"b","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":3}},
    {"name":"f","type":{"type":"fixed","name":"F8","size":8,"logicalType":"decimal","precision":18,"scale":2}},
    {"name":"wide","type":{"type":"fixed","name":"F20","size":20,"logicalType":"decimal","precision":40}}
  ]}"#;

#[test]
fn decimals_on_bytes_and_fixed_including_negative_values() {
    let parsed = parse(DECIMALS);
    let schema = parsed.schema();
    assert_eq!(*field_schema(schema, "b"), Schema::decimal(3).with_parameter(params::DECIMAL_PRECISION, "10"));
    assert_eq!(
        *field_schema(schema, "f"),
        Schema::decimal(2).with_parameter(params::DECIMAL_PRECISION, "18").with_parameter(params::FIXED_SIZE, "8")
    );
    assert_eq!(
        *field_schema(schema, "wide"),
        Schema::decimal(0).with_parameter(params::DECIMAL_PRECISION, "40").with_parameter(params::FIXED_SIZE, "20")
    );
    let wide = -123_456_789_012_345_678_901_234_567_890i128;
    for (b, f, w) in [(-12345, -1, wide), (12345, 1, -wide), (0, i64::MIN as i128, -1), (-128, 255, i128::MIN)] {
        let payload = encode(
            DECIMALS,
            record(vec![
                ("b", Avro::Decimal(decimal(b))),
                ("f", Avro::Decimal(decimal(f))),
                ("wide", Avro::Decimal(decimal(w))),
            ]),
        );
        let Value::Struct(got) = decode(&parsed, &payload).unwrap().value else { panic!("not a struct") };
        assert_eq!(
            got.values,
            vec![
                Value::Decimal { unscaled: b, scale: 3 },
                Value::Decimal { unscaled: f, scale: 2 },
                Value::Decimal { unscaled: w, scale: 0 },
            ]
        );
    }
    // 2^130 needs 17 bytes: more than a Connect decimal holds.
    let mut too_wide = vec![0u8; 20];
    too_wide[3] = 0x04;
    let payload = encode(
        DECIMALS,
        record(vec![
            ("b", Avro::Decimal(decimal(0))),
            ("f", Avro::Decimal(decimal(0))),
            ("wide", Avro::Decimal(Decimal::from(too_wide))),
        ]),
    );
    let err = decode_error(&parsed, &payload);
    assert!(err.contains("128 bits"), "{err}");
}

#[test]
fn dates_times_and_timestamps_are_connect_logical_types() {
    let text = r#"{"type":"record","name":"T","fields":[
        {"name":"day","type":{"type":"int","logicalType":"date"}},
        {"name":"tod","type":{"type":"int","logicalType":"time-millis"}},
        {"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},
        {"name":"local","type":{"type":"long","logicalType":"local-timestamp-millis"}}]}"#;
    let (parsed, value) = round_trip(
        text,
        record(vec![
            ("day", Avro::Date(-1)),
            ("tod", Avro::TimeMillis(86_399_999)),
            ("at", Avro::TimestampMillis(-5)),
            ("local", Avro::LocalTimestampMillis(1_758_191_400_000)),
        ]),
    );
    let schema = parsed.schema();
    assert_eq!(*field_schema(schema, "day"), Schema::date());
    assert_eq!(*field_schema(schema, "tod"), Schema::time());
    assert_eq!(*field_schema(schema, "at"), Schema::timestamp());
    assert_eq!(
        *field_schema(schema, "local"),
        Schema::timestamp().with_parameter(params::AVRO_LOGICAL_TYPE, "local-timestamp-millis")
    );
    assert!(field_schema(schema, "at").is_logical(logical::TIMESTAMP));
    let Value::Struct(got) = value else { panic!("not a struct") };
    assert_eq!(
        got.values,
        vec![Value::Date(-1), Value::Time(86_399_999), Value::Timestamp(-5), Value::Timestamp(1_758_191_400_000)]
    );
}

#[test]
fn micro_and_nanosecond_types_are_int64_naming_their_logical_type() {
    let text = r#"{"type":"record","name":"M","fields":[
        {"name":"t","type":{"type":"long","logicalType":"time-micros"}},
        {"name":"ts","type":{"type":"long","logicalType":"timestamp-micros"}},
        {"name":"lts","type":{"type":"long","logicalType":"local-timestamp-micros"}},
        {"name":"ns","type":{"type":"long","logicalType":"timestamp-nanos"}}]}"#;
    let (parsed, value) = round_trip(
        text,
        record(vec![
            ("t", Avro::TimeMicros(1)),
            ("ts", Avro::TimestampMicros(2)),
            ("lts", Avro::LocalTimestampMicros(3)),
            ("ns", Avro::TimestampNanos(4)),
        ]),
    );
    for (field, logical_type) in
        [("t", "time-micros"), ("ts", "timestamp-micros"), ("lts", "local-timestamp-micros"), ("ns", "timestamp-nanos")]
    {
        assert_eq!(
            *field_schema(parsed.schema(), field),
            s(SchemaType::Int64).with_parameter(params::AVRO_LOGICAL_TYPE, logical_type)
        );
    }
    let Value::Struct(got) = value else { panic!("not a struct") };
    assert_eq!(got.values, vec![Value::Int64(1), Value::Int64(2), Value::Int64(3), Value::Int64(4)]);
}

#[test]
fn uuids_are_canonical_strings_and_durations_twelve_bytes() {
    let text = r#"{"type":"record","name":"X","fields":[
        {"name":"s","type":{"type":"string","logicalType":"uuid"}},
        {"name":"f","type":{"type":"fixed","name":"U16","size":16,"logicalType":"uuid"}},
        {"name":"d","type":{"type":"fixed","name":"Span","size":12,"logicalType":"duration"}}]}"#;
    let id = Uuid::parse_str("F81D4FAE-7DEC-11D0-A765-00A0C91E6BF6").unwrap();
    let (parsed, value) = round_trip(
        text,
        record(vec![
            ("s", Avro::Uuid(id)),
            ("f", Avro::Uuid(id)),
            ("d", Avro::Duration(Duration::new(Months::new(14), Days::new(3), Millis::new(258)))),
        ]),
    );
    let uuid = s(SchemaType::String).with_parameter(params::AVRO_LOGICAL_TYPE, "uuid");
    assert_eq!(*field_schema(parsed.schema(), "s"), uuid);
    assert_eq!(*field_schema(parsed.schema(), "f"), uuid);
    assert_eq!(
        *field_schema(parsed.schema(), "d"),
        s(SchemaType::Bytes)
            .named("Span")
            .with_parameter(params::AVRO_LOGICAL_TYPE, "duration")
            .with_parameter(params::FIXED_SIZE, "12")
    );
    let Value::Struct(got) = value else { panic!("not a struct") };
    assert_eq!(got.values[0], Value::from(UUID));
    assert_eq!(got.values[1], Value::from(UUID));
    assert_eq!(got.values[2], Value::Bytes(Bytes::from_static(&[14, 0, 0, 0, 3, 0, 0, 0, 2, 1, 0, 0])));
}

#[test]
fn field_defaults_become_connect_defaults() {
    let text = r#"{"type":"record","name":"Defaults","namespace":"io.test","fields":[
        {"name":"i","type":"int","default":7},
        {"name":"s","type":"string","default":"hi"},
        {"name":"raw","type":"bytes","default":"\u0000\u00ff"},
        {"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":5,"scale":2},"default":"\u00ff\u0085"},
        {"name":"day","type":{"type":"int","logicalType":"date"},"default":1},
        {"name":"list","type":{"type":"array","items":"long"},"default":[1,2]},
        {"name":"dict","type":{"type":"map","values":"boolean"},"default":{"b":true,"a":false}},
        {"name":"color","type":{"type":"enum","name":"Color","symbols":["RED","GREEN"]},"default":"GREEN"},
        {"name":"point","type":{"type":"record","name":"Point","fields":[
            {"name":"x","type":"int"},{"name":"y","type":"int","default":0}]},"default":{"x":1}},
        {"name":"maybe","type":["null","string"],"default":null},
        {"name":"either","type":["long","string"],"default":3},
        {"name":"tiny","type":{"type":"int","connect.type":"int8","connect.default":4}},
        {"name":"f","type":"float","default":1.5},
        {"name":"none","type":"long"}
      ]}"#;
    let parsed = parse(text);
    let default = |name: &str| field_schema(parsed.schema(), name).default.clone();
    assert_eq!(default("i"), Some(Value::Int32(7)));
    assert_eq!(default("s"), Some(Value::from("hi")));
    assert_eq!(default("raw"), Some(Value::Bytes(Bytes::from_static(&[0, 255]))));
    assert_eq!(default("price"), Some(Value::Decimal { unscaled: -123, scale: 2 }));
    assert_eq!(default("day"), Some(Value::Date(1)));
    assert_eq!(default("list"), Some(Value::Array(vec![Value::Int64(1), Value::Int64(2)])));
    assert_eq!(
        default("dict"),
        Some(Value::Map(vec![(Value::from("b"), Value::Boolean(true)), (Value::from("a"), Value::Boolean(false))]))
    );
    assert_eq!(default("color"), Some(Value::from("GREEN")));
    let Some(Value::Struct(point)) = default("point") else { panic!("no struct default") };
    assert_eq!(point.schema.name.as_deref(), Some("io.test.Point"));
    assert_eq!(point.values, vec![Value::Int32(1), Value::Int32(0)], "a missing field takes its own default");
    assert_eq!(default("maybe"), Some(Value::Null));
    let Some(Value::Struct(either)) = default("either") else { panic!("no union default") };
    assert_eq!(either.values, vec![Value::Int64(3), Value::Null]);
    assert_eq!(default("tiny"), Some(Value::Int8(4)), "connect.default applies when the field has none");
    assert_eq!(default("f"), Some(Value::Float32(1.5)));
    assert_eq!(default("none"), None);
}

#[test]
fn kafka_connect_properties_are_honoured() {
    // As Kafka Connect's AvroConverter writes an unnamed struct with logical types.
    let text = r#"{"type":"record","name":"ConnectDefault","namespace":"io.confluent.connect.avro","fields":[
        {"name":"amount","type":{"type":"bytes","connect.name":"org.apache.kafka.connect.data.Decimal",
            "connect.version":1,"connect.parameters":{"scale":"2"}}},
        {"name":"day","type":{"type":"int","connect.name":"org.apache.kafka.connect.data.Date","connect.version":1}},
        {"name":"tod","type":{"type":"int","connect.name":"org.apache.kafka.connect.data.Time","connect.version":1}},
        {"name":"at","type":{"type":"long","connect.name":"org.apache.kafka.connect.data.Timestamp",
            "connect.version":1,"logicalType":"timestamp-millis"}},
        {"name":"code","type":{"type":"int","connect.type":"int16"}},
        {"name":"note","type":{"type":"string","connect.doc":"free text","connect.parameters":{"k":"v"},
            "avro.java.string":"String"}},
        {"name":"scores","type":{"type":"array","items":{"type":"record","name":"MapEntry",
            "namespace":"io.confluent.connect.avro","fields":[{"name":"key","type":"int"},{"name":"value","type":"string"}]}}},
        {"name":"inner","type":{"type":"record","name":"Inner","namespace":"x","connect.name":"com.acme.Inner",
            "connect.version":4,"connect.doc":"inner doc","fields":[{"name":"n","type":"int"}]}}
      ]}"#;
    let (parsed, value) = round_trip(
        text,
        record(vec![
            ("amount", Avro::Bytes(vec![0xcf, 0xc7])), // -12345
            ("day", Avro::Int(3)),
            ("tod", Avro::Int(4)),
            ("at", Avro::TimestampMillis(5)),
            ("code", Avro::Int(-2)),
            ("note", Avro::String("n".into())),
            (
                "scores",
                Avro::Array(vec![
                    record(vec![("key", Avro::Int(2)), ("value", Avro::String("two".into()))]),
                    record(vec![("key", Avro::Int(1)), ("value", Avro::String("one".into()))]),
                ]),
            ),
            ("inner", record(vec![("n", Avro::Int(6))])),
        ]),
    );
    let schema = parsed.schema();
    assert_eq!(schema.name, None, "Connect's default struct name means unnamed");
    let versioned = |mut schema: Schema| {
        schema.version = Some(1);
        schema
    };
    assert_eq!(*field_schema(schema, "amount"), versioned(Schema::decimal(2)));
    assert_eq!(*field_schema(schema, "day"), versioned(Schema::date()));
    assert_eq!(*field_schema(schema, "tod"), versioned(Schema::time()));
    assert_eq!(*field_schema(schema, "at"), versioned(Schema::timestamp()));
    assert_eq!(*field_schema(schema, "code"), s(SchemaType::Int16));
    let mut note = s(SchemaType::String).with_parameter("k", "v").with_parameter("avro.java.string", "String");
    note.doc = Some("free text".into());
    assert_eq!(*field_schema(schema, "note"), note);
    assert_eq!(
        *field_schema(schema, "scores"),
        Schema::map(s(SchemaType::Int32).into_ref(), s(SchemaType::String).into_ref())
    );
    let inner = field_schema(schema, "inner");
    assert_eq!(
        (inner.name.as_deref(), inner.version, inner.doc.as_deref()),
        (Some("com.acme.Inner"), Some(4), Some("inner doc"))
    );

    let Value::Struct(got) = value else { panic!("not a struct") };
    assert_eq!(got.values[0], Value::Decimal { unscaled: -12345, scale: 2 });
    assert_eq!(got.values[1..5], [Value::Date(3), Value::Time(4), Value::Timestamp(5), Value::Int16(-2)]);
    assert_eq!(
        got.values[6],
        Value::Map(vec![(Value::Int32(2), Value::from("two")), (Value::Int32(1), Value::from("one"))]),
        "map entries keep their order"
    );
}

#[test]
fn the_registered_version_wins_over_connect_version() {
    let text = r#"{"type":"record","name":"V","connect.version":9,"fields":[{"name":"a","type":"int"}]}"#;
    assert_eq!(parse(text).schema().version, Some(9));
    let versioned = FetchedSchema { version: Some(3), ..fetched(text) };
    let parsed = AvroFormat::default().parse(&versioned).unwrap();
    assert_eq!(parsed.schema().version, Some(3));
    let Value::Struct(got) = decode(&parsed, &encode(text, record(vec![("a", Avro::Int(1))]))).unwrap().value else {
        panic!("not a struct")
    };
    assert!(Arc::ptr_eq(&got.schema, parsed.schema()), "values carry the versioned schema");
}

const COUNTRY: &str = r#"{"type":"enum","name":"Country","namespace":"com.acme","symbols":["FR","DE"]}"#;
const ADDRESS: &str = r#"{"type":"record","name":"Address","namespace":"com.acme","fields":[
    {"name":"city","type":"string"},{"name":"country","type":"com.acme.Country"}]}"#;
const CUSTOMER: &str = r#"{"type":"record","name":"Customer","namespace":"com.acme","fields":[
    {"name":"name","type":"string"},
    {"name":"home","type":"com.acme.Address"},
    {"name":"work","type":["null","com.acme.Address"],"default":null}]}"#;

#[test]
fn referenced_schemas_define_the_named_types_a_schema_uses() {
    let (root, referenced) = AvroSchema::parse_str_with_list(CUSTOMER, [COUNTRY, ADDRESS]).unwrap();
    let address = |city: &str, country: (u32, &str)| {
        record(vec![("city", Avro::String(city.into())), ("country", Avro::Enum(country.0, country.1.into()))])
    };
    let payload = GenericDatumWriter::builder(&root)
        .schemata(referenced.iter().collect())
        .unwrap()
        .build()
        .unwrap()
        .write_value_to_vec(record(vec![
            ("name", Avro::String("Ada".into())),
            ("home", address("Paris", (0, "FR"))),
            ("work", some(address("Berlin", (1, "DE")))),
        ]))
        .unwrap();

    // In dependency order, as the registry client lists them, and in any other order.
    for references in [[("country", COUNTRY), ("address", ADDRESS)], [("address", ADDRESS), ("country", COUNTRY)]] {
        let fetched = FetchedSchema {
            references: references.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect(),
            ..fetched(CUSTOMER)
        };
        let parsed = AvroFormat::default().parse(&fetched).unwrap_or_else(|e| panic!("{e}"));
        let schema = parsed.schema();
        let home = &schema.field("home").unwrap().schema;
        assert_eq!(home.name.as_deref(), Some("com.acme.Address"));
        assert_eq!(field_schema(home, "country").name.as_deref(), Some("com.acme.Country"));
        let work = field_schema(schema, "work");
        assert!(work.optional && work.fields == home.fields);

        let got = decode(&parsed, &payload).unwrap().value;
        let address_value = |schema: &SchemaRef, city: &str, country: &str| {
            Value::Struct(Struct { schema: schema.clone(), values: vec![Value::from(city), Value::from(country)] })
        };
        assert_eq!(got.field("home"), Some(&address_value(home, "Paris", "FR")));
        assert_eq!(got.field("work"), Some(&address_value(&schema.field("work").unwrap().schema, "Berlin", "DE")));
    }

    let missing = FetchedSchema { references: vec![("country".into(), COUNTRY.into())], ..fetched(CUSTOMER) };
    assert!(AvroFormat::default().parse(&missing).is_err());
}

#[test]
fn a_type_nested_in_a_referenced_schema_can_be_used() {
    let color = r#"{"type":"enum","name":"Color","namespace":"com.acme","symbols":["RED","BLUE"]}"#;
    let outer = r#"{"type":"record","name":"Outer","namespace":"com.acme","fields":[
        {"name":"inner","type":{"type":"record","name":"Nested","fields":[{"name":"c","type":"com.acme.Color"}]}}]}"#;
    let main =
        r#"{"type":"record","name":"Main","namespace":"com.acme","fields":[{"name":"n","type":"com.acme.Nested"}]}"#;
    let (root, referenced) = AvroSchema::parse_str_with_list(main, [color, outer]).unwrap();
    let payload = GenericDatumWriter::builder(&root)
        .schemata(referenced.iter().collect())
        .unwrap()
        .build()
        .unwrap()
        .write_value_to_vec(record(vec![("n", record(vec![("c", Avro::Enum(1, "BLUE".into()))]))]))
        .unwrap();
    // `Nested` is no referenced schema's top type, and `Outer` needs `Color`, listed after it.
    let fetched = FetchedSchema {
        references: vec![("outer".into(), outer.into()), ("color".into(), color.into())],
        ..fetched(main)
    };
    let parsed = AvroFormat::default().parse(&fetched).unwrap_or_else(|e| panic!("{e}"));
    let nested = field_schema(parsed.schema(), "n");
    assert_eq!(nested.name.as_deref(), Some("com.acme.Nested"));
    let got = decode(&parsed, &payload).unwrap().value;
    assert_eq!(got.field("n").and_then(|n| n.field("c")), Some(&Value::from("BLUE")));
}

const SMALL: &str = r#"{"type":"record","name":"S","fields":[
    {"name":"n","type":"int"},{"name":"tag","type":["null","string"]},{"name":"ok","type":"boolean"}]}"#;

fn small() -> Vec<u8> {
    encode(
        SMALL,
        record(vec![("n", Avro::Int(5)), ("tag", some(Avro::String("x".into()))), ("ok", Avro::Boolean(true))]),
    )
}

#[test]
fn truncated_payloads_are_errors_never_panics() {
    let parsed = parse(SMALL);
    let payload = small();
    assert!(decode(&parsed, &payload).is_ok());
    // Cut right before the union index: apache-avro alone would read a null `tag` here.
    let err = decode_error(&parsed, &payload[..1]);
    assert!(err.contains("ends before") && err.contains("schema id 42"), "{err}");
    for len in 0..payload.len() {
        decode_error(&parsed, &payload[..len]);
    }

    let parsed = parse(EVERYTHING);
    let payload = encode(EVERYTHING, everything());
    assert!(decode(&parsed, &payload).is_ok());
    for len in 0..payload.len() {
        decode_error(&parsed, &payload[..len]);
    }
}

#[test]
fn a_huge_array_count_in_a_few_bytes_fails_at_the_end_of_the_payload() {
    // Found by fuzz/ (avro_wire): 9,437,176 items announced in 4 bytes. apache-avro read each
    // missing union index as null, so the record filled ~1 GB before it was rejected.
    let parsed = parse(
        r#"{"type":"record","name":"A","fields":[{"name":"list","type":{"type":"array","items":["null","string"]}}]}"#,
    );
    let err = decode_error(&parsed, &[0xf0, 0xff, 0xff, 0x08]);
    assert!(err.contains("ends before"), "{err}");
    let flags = parse(r#"{"type":"array","items":"boolean"}"#);
    assert!(decode_error(&flags, &[0xf0, 0xff, 0xff, 0x08]).contains("ends before"));

    // The mechanism: reading past the end is an error apache-avro does not turn into a null.
    let mut input = Input { rest: &[1], exhausted: false };
    let mut byte = [0u8; 1];
    assert_eq!(input.read(&mut byte).unwrap(), 1);
    assert_eq!(input.read(&mut byte).unwrap_err().kind(), io::ErrorKind::InvalidData);
    assert_eq!(input.read_exact(&mut byte).unwrap_err().kind(), io::ErrorKind::InvalidData);
    assert!(input.exhausted);
}

#[test]
fn bytes_after_the_datum_are_an_error() {
    let parsed = parse(SMALL);
    let mut payload = small();
    payload.push(0);
    let err = decode_error(&parsed, &payload);
    assert!(err.contains("1 byte(s) follow"), "{err}");
}

#[test]
fn a_datum_written_with_another_schema_is_an_error() {
    let other = r#"{"type":"record","name":"O","fields":[{"name":"id","type":"long"},{"name":"s","type":"string"}]}"#;
    let payload = encode(other, record(vec![("id", Avro::Long(1_000_000)), ("s", Avro::String("x".into()))]));
    let flags = parse(r#"{"type":"record","name":"B","fields":[{"name":"flag","type":"boolean"}]}"#);
    let err = decode_error(&flags, &payload);
    assert!(err.contains("not a valid Avro datum"), "{err}");
    // Decodes as far as it goes, then leaves bytes over.
    decode_error(&parse(r#"{"type":"record","name":"L","fields":[{"name":"id","type":"long"}]}"#), &payload);
    // A string length beyond the payload.
    decode_error(&parse(r#""string""#), &[0x7e, b'a']);
    // A union index that does not exist, and one that is negative.
    decode_error(&parse(r#"["null","int"]"#), &[0x04]);
    decode_error(&parse(r#"["null","int"]"#), &[0x01]);
}

#[test]
fn maps_are_sorted_by_key_and_narrow_ints_range_checked() {
    let text = r#"{"type":"map","values":{"type":"int","connect.type":"int8"}}"#;
    let map =
        |entries: &[(&str, i32)]| Avro::Map(entries.iter().map(|(k, v)| (k.to_string(), Avro::Int(*v))).collect());
    let (_, value) = round_trip(text, map(&[("b", 1), ("c", -1), ("a", 2)]));
    assert_eq!(
        value,
        Value::Map(vec![
            (Value::from("a"), Value::Int8(2)),
            (Value::from("b"), Value::Int8(1)),
            (Value::from("c"), Value::Int8(-1)),
        ])
    );
    let err = decode_error(&parse(text), &encode(text, map(&[("big", 300)])));
    assert!(err.contains("300"), "{err}");
}

#[test]
fn schemas_without_a_connect_equivalent_are_rejected_when_parsed() {
    let err = parse_error(r#"{"type":"record","name":"Node","fields":[{"name":"next","type":["null","Node"]}]}"#);
    assert!(err.contains("recursive") && err.contains("Node"), "{err}");
    assert!(parse_error(r#""null""#).contains("null"));
    assert!(parse_error("{nope").contains("not a valid Avro schema"));
    assert!(parse_error(r#"{"type":"record","name":"R","fields":[{"name":"a","type":"Missing"}]}"#).contains("Missing"));
}

#[test]
fn converter_config_keys_are_accepted() {
    let config: ConnectorConfig = [
        ("schema.registry.url", "http://registry:8081"),
        (keys::ENHANCED_AVRO_SCHEMA_SUPPORT, "true"),
        (keys::CONNECT_META_DATA, "false"),
        (keys::SCHEMAS_CACHE_CONFIG, "100"),
        (keys::AUTO_REGISTER_SCHEMAS, "false"),
        (keys::USE_LATEST_VERSION, "true"),
        (keys::SCRUB_INVALID_NAMES, "true"),
    ]
    .into_iter()
    .collect();
    assert!(AvroFormat::new(&config).is_ok());
    let bad: ConnectorConfig = [(keys::CONNECT_META_DATA, "yes")].into_iter().collect();
    assert_eq!(AvroFormat::new(&bad).unwrap_err().config_key(), Some(keys::CONNECT_META_DATA));

    let mut registry = PluginRegistry::new();
    crate::register(&mut registry);
    for class in ["io.confluent.connect.avro.AvroConverter", "io.sluice.connect.avro.AvroConverter"] {
        assert!(registry.converter("value.converter", class, &config, false).is_ok(), "{class}");
    }
    let no_url: ConnectorConfig = [(keys::CONNECT_META_DATA, "true")].into_iter().collect();
    let err = registry.converter("value.converter", "io.confluent.connect.avro.AvroConverter", &no_url, false);
    assert_eq!(err.err().and_then(|e| e.config_key().map(str::to_owned)).as_deref(), Some("schema.registry.url"));
}

#[test]
fn fields_are_indexed_in_order() {
    let parsed = parse(PRIMITIVES);
    let indexes: Vec<usize> = parsed.schema().fields.iter().map(|f: &Field| f.index).collect();
    assert_eq!(indexes, (0..9).collect::<Vec<_>>());
}
