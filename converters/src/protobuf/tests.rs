//! Unit tests of the Protobuf converter: `.proto` texts compiled with protox, messages built
//! with prost-reflect, encoded and framed with Confluent message indexes, then decoded.

use std::collections::BTreeMap;

use bytes::Bytes;
use prost_reflect::prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, MapKey, Value as Proto};
use sluice_api::schema::logical;
use sluice_api::{ConnectError, ConnectorConfig, Schema, SchemaType, Value};

use super::*;

fn fetched(text: &str, references: &[(&str, &str)], version: Option<u32>) -> FetchedSchema {
    FetchedSchema {
        id: 7,
        kind: SchemaKind::Protobuf,
        text: text.to_owned(),
        references: references.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect(),
        subject: Some("orders-value".into()),
        version,
    }
}

/// The schema compiled with protox (as the producer's side would), for building messages.
fn pool(schema: &FetchedSchema) -> DescriptorPool {
    resolver::compile(schema).unwrap()
}

fn message(pool: &DescriptorPool, name: &str, fields: &[(&str, Proto)]) -> DynamicMessage {
    let mut m = DynamicMessage::new(pool.get_message_by_name(name).unwrap_or_else(|| panic!("no message {name}")));
    for (field, value) in fields {
        m.set_field_by_name(field, value.clone());
    }
    m
}

fn zigzag(v: i64) -> u8 {
    let z = ((v << 1) ^ (v >> 63)) as u64;
    assert!(z < 0x80, "test indexes are small");
    z as u8
}

/// Confluent's Protobuf payload (after the 5-byte header): message indexes, then the message.
fn frame(indexes: &[i64], m: &DynamicMessage) -> Vec<u8> {
    let mut out = Vec::new();
    if indexes == [0] {
        out.push(0);
    } else {
        out.push(zigzag(indexes.len() as i64));
        out.extend(indexes.iter().map(|i| zigzag(*i)));
    }
    out.extend(m.encode_to_vec());
    out
}

fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn tag(n: u32) -> (String, String) {
    (TAG_PARAM.to_owned(), n.to_string())
}

fn field<'a>(schema: &'a Schema, name: &str) -> &'a Schema {
    &schema.field(name).unwrap_or_else(|| panic!("no field {name} in {:?}", schema.name)).schema
}

fn fields(value: &Value) -> Vec<Value> {
    match value {
        Value::Struct(s) => s.values.clone(),
        other => panic!("not a struct: {other:?}"),
    }
}

const ORDERS: &str = r#"
syntax = "proto3";
package acme;

message Order {
  enum Status {
    STATUS_UNKNOWN = 0;
    PLACED = 1;
    SHIPPED = 2;
  }
  message Line {
    string sku = 1;
    int32 qty = 2;
  }
  int32 i32 = 1;
  sint32 s32 = 2;
  sfixed32 sf32 = 3;
  int64 i64 = 4;
  sint64 s64 = 5;
  sfixed64 sf64 = 6;
  uint32 u32 = 7;
  uint64 u64 = 8;
  fixed32 fx32 = 9;
  fixed64 fx64 = 10;
  bool flag = 11;
  float ratio = 12;
  double amount = 13;
  string name = 14;
  bytes raw = 15;
  Status status = 16;
  repeated string tags = 17;
  map<string, int32> item_counts = 18;
  Line first = 19;
  repeated Line lines = 20;
  optional string note = 21;
  oneof payment {
    string card = 22;
    int64 account = 23;
  }
}

message Shipment {
  message Parcel {
    double weight = 1;
    Order.Status status = 2;
  }
  string id = 1;
}

message Node {
  Node next = 1;
  string label = 2;
}
"#;

#[test]
fn every_scalar_type_and_its_schema() {
    let schema = fetched(ORDERS, &[], Some(3));
    let format = ProtobufFormat::default();
    let parsed = format.parse(&schema).unwrap();
    let pool = pool(&schema);
    let line = |sku: &str, qty: i32| {
        Proto::Message(message(
            &pool,
            "acme.Order.Line",
            &[("sku", Proto::String(sku.into())), ("qty", Proto::I32(qty))],
        ))
    };
    let order = message(
        &pool,
        "acme.Order",
        &[
            ("i32", Proto::I32(-1)),
            ("s32", Proto::I32(-2)),
            ("sf32", Proto::I32(-3)),
            ("i64", Proto::I64(-4_000_000_000)),
            ("s64", Proto::I64(-5)),
            ("sf64", Proto::I64(-6)),
            ("u32", Proto::U32(u32::MAX)),
            ("u64", Proto::U64(u64::MAX)),
            ("fx32", Proto::U32(9)),
            ("fx64", Proto::U64(10)),
            ("flag", Proto::Bool(true)),
            ("ratio", Proto::F32(0.5)),
            ("amount", Proto::F64(12.25)),
            ("name", Proto::String("Ada".into())),
            ("raw", Proto::Bytes(Bytes::from_static(&[0, 1, 255]))),
            ("status", Proto::EnumNumber(2)),
            ("tags", Proto::List(vec![Proto::String("a".into()), Proto::String("b".into())])),
            (
                "item_counts",
                Proto::Map(
                    [(MapKey::String("y".into()), Proto::I32(2)), (MapKey::String("x".into()), Proto::I32(1))]
                        .into_iter()
                        .collect(),
                ),
            ),
            ("first", line("s1", 1)),
            ("lines", Proto::List(vec![line("s2", 2), line("s3", 3)])),
            ("note", Proto::String("".into())),
            ("account", Proto::I64(42)),
        ],
    );
    let got = format.decode(&parsed, &frame(&[0], &order)).unwrap();
    let s = got.schema.unwrap();
    assert_eq!(Some(&s), parsed.schema(&[0]).ok().as_ref());

    // The record's struct.
    assert_eq!(s.schema_type, SchemaType::Struct);
    assert_eq!(s.name.as_deref(), Some("acme.Order"));
    assert_eq!(s.version, Some(3));
    assert!(!s.optional);
    let names: Vec<&str> = s.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "payment_0",
            "i32",
            "s32",
            "sf32",
            "i64",
            "s64",
            "sf64",
            "u32",
            "u64",
            "fx32",
            "fx64",
            "flag",
            "ratio",
            "amount",
            "name",
            "raw",
            "status",
            "tags",
            "item_counts",
            "first",
            "lines",
            "note"
        ]
    );

    // Scalars: required, zero default, field number and (for non-default encodings) protobuf type.
    let expect_scalar = |name: &str, t: SchemaType, zero: Value, number: u32, proto_type: Option<&str>| {
        let mut expected = Schema::new(t).with_default(zero).with_parameter(TAG_PARAM, number.to_string());
        if let Some(p) = proto_type {
            expected = expected.with_parameter(TYPE_PARAM, p);
        }
        assert_eq!(field(&s, name), &expected, "{name}");
    };
    expect_scalar("i32", SchemaType::Int32, Value::Int32(0), 1, None);
    expect_scalar("s32", SchemaType::Int32, Value::Int32(0), 2, Some("sint32"));
    expect_scalar("sf32", SchemaType::Int32, Value::Int32(0), 3, Some("sfixed32"));
    expect_scalar("i64", SchemaType::Int64, Value::Int64(0), 4, None);
    expect_scalar("s64", SchemaType::Int64, Value::Int64(0), 5, Some("sint64"));
    expect_scalar("sf64", SchemaType::Int64, Value::Int64(0), 6, Some("sfixed64"));
    expect_scalar("u32", SchemaType::Int64, Value::Int64(0), 7, Some("uint32"));
    expect_scalar("u64", SchemaType::Int64, Value::Int64(0), 8, Some("uint64"));
    expect_scalar("fx32", SchemaType::Int64, Value::Int64(0), 9, Some("fixed32"));
    expect_scalar("fx64", SchemaType::Int64, Value::Int64(0), 10, Some("fixed64"));
    expect_scalar("flag", SchemaType::Boolean, Value::Boolean(false), 11, None);
    expect_scalar("ratio", SchemaType::Float32, Value::Float32(0.0), 12, None);
    expect_scalar("amount", SchemaType::Float64, Value::Float64(0.0), 13, None);
    expect_scalar("name", SchemaType::String, Value::String(Default::default()), 14, None);
    expect_scalar("raw", SchemaType::Bytes, Value::Bytes(Bytes::new()), 15, None);

    // Enum: a string named after the enum, with Confluent's enum parameters.
    let status = field(&s, "status");
    assert_eq!(status.schema_type, SchemaType::String);
    assert_eq!(status.name.as_deref(), Some("acme.Order.Status"));
    assert!(!status.optional);
    assert_eq!(status.default, Some(Value::String("STATUS_UNKNOWN".into())));
    assert_eq!(
        status.parameters,
        params(&[
            (ENUM_PARAM, "acme.Order.Status"),
            ("io.confluent.connect.protobuf.Enum.STATUS_UNKNOWN", "0"),
            ("io.confluent.connect.protobuf.Enum.PLACED", "1"),
            ("io.confluent.connect.protobuf.Enum.SHIPPED", "2"),
            (TAG_PARAM, "16"),
        ])
    );

    // Repeated and map fields: required, empty by default, required elements.
    let tags = field(&s, "tags");
    assert_eq!(
        tags,
        &Schema::array(Schema::new(SchemaType::String).into_ref())
            .with_default(Value::Array(vec![]))
            .with_parameter(TAG_PARAM, "17")
    );
    let counts = field(&s, "item_counts");
    assert_eq!(
        counts,
        &Schema::map(Schema::new(SchemaType::String).into_ref(), Schema::new(SchemaType::Int32).into_ref())
            .named("acme.Order.item_counts")
            .with_default(Value::Map(vec![]))
            .with_parameter(TAG_PARAM, "18")
    );

    // Nested message: optional struct with the full name; in a list, required elements.
    let line_schema = Schema::structure([
        (
            "sku",
            Schema::new(SchemaType::String)
                .with_default(Value::String(Default::default()))
                .with_parameter(TAG_PARAM, "1")
                .into_ref(),
        ),
        ("qty", Schema::new(SchemaType::Int32).with_default(Value::Int32(0)).with_parameter(TAG_PARAM, "2").into_ref()),
    ])
    .named("acme.Order.Line");
    let mut first = line_schema.clone().optional();
    first.parameters.extend([tag(19)]);
    assert_eq!(field(&s, "first"), &first);
    assert_eq!(
        field(&s, "lines"),
        &Schema::array(line_schema.clone().into_ref())
            .with_default(Value::Array(vec![]))
            .with_parameter(TAG_PARAM, "20")
    );

    // proto3 `optional`: optional, no default.
    assert_eq!(field(&s, "note"), &Schema::new(SchemaType::String).optional().with_parameter(TAG_PARAM, "21"));

    // oneof: an optional struct of optional members.
    let payment = field(&s, "payment_0");
    assert_eq!(
        payment,
        &Schema::structure([
            ("card", Schema::new(SchemaType::String).optional().with_parameter(TAG_PARAM, "22").into_ref()),
            ("account", Schema::new(SchemaType::Int64).optional().with_parameter(TAG_PARAM, "23").into_ref()),
        ])
        .named("io.confluent.connect.protobuf.Union.acme.Order.payment")
        .optional()
    );

    // Values.
    let line_value = |sku: &str, qty: i32, schema: &Schema| {
        Value::Struct(sluice_api::Struct {
            schema: schema.clone().into_ref(),
            values: vec![Value::String(sku.into()), Value::Int32(qty)],
        })
    };
    assert_eq!(
        fields(&got.value),
        vec![
            Value::Struct(sluice_api::Struct {
                schema: payment.clone().into_ref(),
                values: vec![Value::Null, Value::Int64(42)]
            }),
            Value::Int32(-1),
            Value::Int32(-2),
            Value::Int32(-3),
            Value::Int64(-4_000_000_000),
            Value::Int64(-5),
            Value::Int64(-6),
            Value::Int64(4_294_967_295),
            Value::Int64(-1), // u64::MAX keeps its bits, as in Confluent
            Value::Int64(9),
            Value::Int64(10),
            Value::Boolean(true),
            Value::Float32(0.5),
            Value::Float64(12.25),
            Value::String("Ada".into()),
            Value::Bytes(Bytes::from_static(&[0, 1, 255])),
            Value::String("SHIPPED".into()),
            Value::Array(vec!["a".into(), "b".into()]),
            Value::Map(vec![("x".into(), Value::Int32(1)), ("y".into(), Value::Int32(2))]),
            line_value("s1", 1, &first),
            Value::Array(vec![line_value("s2", 2, &line_schema), line_value("s3", 3, &line_schema)]),
            Value::String(Default::default()), // set to "", which proto3 `optional` tells apart from unset
        ]
    );
}

#[test]
fn unset_fields_read_as_proto3_defaults_or_null() {
    let schema = fetched(ORDERS, &[], Some(1));
    let format = ProtobufFormat::default();
    let parsed = format.parse(&schema).unwrap();
    let empty = message(&pool(&schema), "acme.Order", &[]);
    let got = format.decode(&parsed, &frame(&[0], &empty)).unwrap();
    assert_eq!(
        fields(&got.value),
        vec![
            Value::Null,
            Value::Int32(0),
            Value::Int32(0),
            Value::Int32(0),
            Value::Int64(0),
            Value::Int64(0),
            Value::Int64(0),
            Value::Int64(0),
            Value::Int64(0),
            Value::Int64(0),
            Value::Int64(0),
            Value::Boolean(false),
            Value::Float32(0.0),
            Value::Float64(0.0),
            Value::String(Default::default()),
            Value::Bytes(Bytes::new()),
            Value::String("STATUS_UNKNOWN".into()),
            Value::Array(vec![]),
            Value::Map(vec![]),
            Value::Null,
            Value::Array(vec![]),
            Value::Null,
        ]
    );
    // An empty message is zero bytes after the index.
    assert_eq!(format.decode(&parsed, &[0]).unwrap(), got);
}

#[test]
fn nested_message_by_index_path_and_unknown_enum_numbers() {
    let schema = fetched(ORDERS, &[], Some(2));
    let format = ProtobufFormat::default();
    let parsed = format.parse(&schema).unwrap();
    assert_eq!(parsed.message_names().collect::<Vec<_>>(), ["acme.Order", "acme.Shipment", "acme.Node"]);
    let parcel = message(
        &pool(&schema),
        "acme.Shipment.Parcel",
        &[("weight", Proto::F64(1.5)), ("status", Proto::EnumNumber(9))],
    );
    let got = format.decode(&parsed, &frame(&[1, 0], &parcel)).unwrap();
    let s = got.schema.unwrap();
    assert_eq!(s.name.as_deref(), Some("acme.Shipment.Parcel"));
    assert_eq!(s.version, Some(2));
    assert_eq!(field(&s, "status").name.as_deref(), Some("acme.Order.Status"));
    assert_eq!(fields(&got.value), vec![Value::Float64(1.5), Value::String("UNKNOWN_ENUM_VALUE_Status_9".into())]);
    // The parsed schema is shared by every record of the same message.
    let again = format.decode(&parsed, &frame(&[1, 0], &parcel)).unwrap().schema.unwrap();
    assert!(std::sync::Arc::ptr_eq(&s, &again));
}

#[test]
fn bad_indexes_truncated_bytes_and_recursive_messages_are_data_errors() {
    let schema = fetched(ORDERS, &[], None);
    let format = ProtobufFormat::default();
    let parsed = format.parse(&schema).unwrap();
    let pool = pool(&schema);

    let order = message(&pool, "acme.Order", &[("name", Proto::String("a long enough name".into()))]);
    let mut bytes = frame(&[0], &order);
    bytes.truncate(bytes.len() - 3);
    let err = format.decode(&parsed, &bytes).unwrap_err();
    assert!(matches!(err, ConnectError::Data { .. }));
    assert!(err.to_string().contains("not a valid acme.Order message"), "{err}");

    // Garbage: a field with wire type 7 does not exist.
    assert!(matches!(format.decode(&parsed, &[0, 0xff, 0xff]), Err(ConnectError::Data { .. })));

    let err = format.decode(&parsed, &frame(&[5], &order)).unwrap_err().to_string();
    assert!(err.contains("[5] do not name a message of schema id 7: the file has 3 message(s)"), "{err}");
    let err = format.decode(&parsed, &frame(&[1, 3], &order)).unwrap_err().to_string();
    assert!(err.contains("message acme.Shipment has 1 message(s)"), "{err}");
    // A truncated index list.
    assert!(format.decode(&parsed, &[4, 2]).is_err());

    let err = format.decode(&parsed, &frame(&[2], &order)).unwrap_err().to_string();
    assert!(err.contains("acme.Node contains itself (acme.Node -> acme.Node)"), "{err}");
    // Other messages of the file are unaffected.
    assert!(format.decode(&parsed, &frame(&[0], &order)).is_ok());
}

#[test]
fn imported_messages_come_from_references() {
    let common = r#"syntax = "proto3";
package acme.common;
message Money {
  string currency = 1;
  int64 units = 2;
}"#;
    let text = r#"syntax = "proto3";
package acme;
import "acme/common.proto";
message Invoice {
  acme.common.Money total = 1;
  repeated acme.common.Money parts = 2;
}"#;
    let schema = fetched(text, &[("acme/common.proto", common)], Some(1));
    let format = ProtobufFormat::default();
    let parsed = format.parse(&schema).unwrap();
    let pool = pool(&schema);
    let money = |units: i64| {
        Proto::Message(message(
            &pool,
            "acme.common.Money",
            &[("currency", Proto::String("EUR".into())), ("units", Proto::I64(units))],
        ))
    };
    let invoice =
        message(&pool, "acme.Invoice", &[("total", money(30)), ("parts", Proto::List(vec![money(10), money(20)]))]);
    let got = format.decode(&parsed, &frame(&[0], &invoice)).unwrap();
    let s = got.schema.unwrap();
    let total = field(&s, "total");
    assert_eq!(total.name.as_deref(), Some("acme.common.Money"));
    assert!(total.optional);
    let Value::Struct(total_value) = &fields(&got.value)[0] else { panic!() };
    assert_eq!(total_value.values, vec![Value::String("EUR".into()), Value::Int64(30)]);
    let Value::Array(parts) = &fields(&got.value)[1] else { panic!() };
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[1].field("units"), Some(&Value::Int64(20)));

    // Without the reference the schema does not compile, and says why.
    let err = format.parse(&fetched(text, &[], None)).unwrap_err().to_string();
    assert!(err.contains("does not compile") && err.contains("acme/common.proto"), "{err}");
}

const WELL_KNOWN: &str = r#"
syntax = "proto3";
package acme;
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";
import "google/protobuf/struct.proto";
import "google/type/date.proto";
import "google/type/timeofday.proto";
import "google/type/decimal.proto";
import "confluent/meta.proto";
import "confluent/type/decimal.proto";

message Event {
  google.protobuf.Timestamp at = 1;
  google.protobuf.Int32Value i32 = 2;
  google.protobuf.Int64Value i64 = 3;
  google.protobuf.UInt32Value u32 = 4;
  google.protobuf.UInt64Value u64 = 5;
  google.protobuf.FloatValue f = 6;
  google.protobuf.DoubleValue d = 7;
  google.protobuf.BoolValue b = 8;
  google.protobuf.StringValue s = 9;
  google.protobuf.BytesValue raw = 10;
  google.type.Date day = 11;
  google.type.TimeOfDay tod = 12;
  confluent.type.Decimal price = 13 [(confluent.field_meta) = {
    params: [{key: "precision", value: "10"}, {key: "scale", value: "2"}]
  }];
  google.type.Decimal rate = 14 [(confluent.field_meta) = { params: [{key: "scale", value: "3"}] }];
  int32 small = 15 [(confluent.field_meta) = { params: [{key: "connect.type", value: "int16"}] }];
  google.protobuf.Struct attrs = 16;
  repeated google.protobuf.Timestamp history = 17;
}
"#;

#[test]
fn well_known_types_map_to_logical_types_and_primitives() {
    let schema = fetched(WELL_KNOWN, &[], Some(1));
    let format = ProtobufFormat::default();
    let parsed = format.parse(&schema).unwrap();
    let pool = pool(&schema);
    let msg = |name: &str, fields: &[(&str, Proto)]| Proto::Message(message(&pool, name, fields));
    let ts = |seconds: i64, nanos: i32| {
        msg("google.protobuf.Timestamp", &[("seconds", Proto::I64(seconds)), ("nanos", Proto::I32(nanos))])
    };
    let value = |kind: &str, v: Proto| msg("google.protobuf.Value", &[(kind, v)]);
    let event = message(
        &pool,
        "acme.Event",
        &[
            ("at", ts(1_758_191_400, 123_456_789)),
            ("i32", msg("google.protobuf.Int32Value", &[("value", Proto::I32(-7))])),
            ("u64", msg("google.protobuf.UInt64Value", &[("value", Proto::U64(7))])),
            ("f", msg("google.protobuf.FloatValue", &[])), // set, holding its zero value
            ("s", msg("google.protobuf.StringValue", &[("value", Proto::String("hi".into()))])),
            ("raw", msg("google.protobuf.BytesValue", &[("value", Proto::Bytes(Bytes::from_static(b"\x01")))])),
            (
                "day",
                msg(
                    "google.type.Date",
                    &[("year", Proto::I32(2025)), ("month", Proto::I32(9)), ("day", Proto::I32(18))],
                ),
            ),
            (
                "tod",
                msg(
                    "google.type.TimeOfDay",
                    &[("hours", Proto::I32(10)), ("minutes", Proto::I32(30)), ("nanos", Proto::I32(5_000_000))],
                ),
            ),
            (
                "price",
                // 12340 × 10^-3 = 12.34 → 1234 at the schema's scale 2.
                msg(
                    "confluent.type.Decimal",
                    &[("value", Proto::Bytes(Bytes::from_static(&[0x30, 0x34]))), ("scale", Proto::I32(3))],
                ),
            ),
            ("rate", msg("google.type.Decimal", &[("value", Proto::String("-0.5".into()))])),
            ("small", Proto::I32(-300)),
            (
                "attrs",
                msg(
                    "google.protobuf.Struct",
                    &[(
                        "fields",
                        Proto::Map(
                            [
                                (MapKey::String("n".into()), value("number_value", Proto::F64(1.5))),
                                (MapKey::String("a".into()), value("bool_value", Proto::Bool(true))),
                            ]
                            .into_iter()
                            .collect(),
                        ),
                    )],
                ),
            ),
            ("history", Proto::List(vec![ts(0, 0), ts(-1, 999_000_000)])),
        ],
    );
    let got = format.decode(&parsed, &frame(&[0], &event)).unwrap();
    let s = got.schema.unwrap();

    let optional = |schema: Schema, number: u32| schema.optional().with_parameter(TAG_PARAM, number.to_string());
    assert_eq!(field(&s, "at"), &optional(Schema::timestamp(), 1));
    assert_eq!(field(&s, "i32"), &optional(Schema::new(SchemaType::Int32), 2));
    assert_eq!(field(&s, "i64"), &optional(Schema::new(SchemaType::Int64), 3));
    assert_eq!(field(&s, "u32"), &optional(Schema::new(SchemaType::Int64), 4));
    assert_eq!(field(&s, "u64"), &optional(Schema::new(SchemaType::Int64), 5));
    assert_eq!(field(&s, "f"), &optional(Schema::new(SchemaType::Float32), 6));
    assert_eq!(field(&s, "d"), &optional(Schema::new(SchemaType::Float64), 7));
    assert_eq!(field(&s, "b"), &optional(Schema::new(SchemaType::Boolean), 8));
    assert_eq!(field(&s, "s"), &optional(Schema::new(SchemaType::String), 9));
    assert_eq!(field(&s, "raw"), &optional(Schema::new(SchemaType::Bytes), 10));
    assert_eq!(field(&s, "day"), &optional(Schema::date(), 11));
    assert_eq!(field(&s, "tod"), &optional(Schema::time(), 12));
    assert_eq!(field(&s, "price"), &optional(Schema::decimal(2).with_parameter(PRECISION_PARAM, "10"), 13));
    assert_eq!(field(&s, "rate"), &optional(Schema::decimal(3), 14));
    assert_eq!(
        field(&s, "small"),
        &Schema::new(SchemaType::Int16).with_default(Value::Int16(0)).with_parameter(TAG_PARAM, "15")
    );
    assert_eq!(field(&s, "attrs"), &optional(Schema::new(SchemaType::String), 16));
    assert_eq!(
        field(&s, "history"),
        &Schema::array(Schema::timestamp().into_ref())
            .with_default(Value::Array(vec![]))
            .with_parameter(TAG_PARAM, "17")
    );
    assert!(field(&s, "history").items().unwrap().is_logical(logical::TIMESTAMP));

    assert_eq!(
        fields(&got.value),
        vec![
            Value::Timestamp(1_758_191_400_123),
            Value::Int32(-7),
            Value::Null,
            Value::Null,
            Value::Int64(7),
            Value::Float32(0.0),
            Value::Null,
            Value::Null,
            Value::String("hi".into()),
            Value::Bytes(Bytes::from_static(b"\x01")),
            Value::Date(20349),
            Value::Time(37_800_005),
            Value::Decimal { unscaled: 1234, scale: 2 },
            Value::Decimal { unscaled: -500, scale: 3 },
            Value::Int16(-300),
            Value::String(r#"{"a":true,"n":1.5}"#.into()),
            Value::Array(vec![Value::Timestamp(0), Value::Timestamp(-1)]),
        ]
    );

    // An invalid date or a decimal finer than the schema's scale names the field.
    let bad_day = message(
        &pool,
        "acme.Event",
        &[(
            "day",
            msg("google.type.Date", &[("year", Proto::I32(2025)), ("month", Proto::I32(2)), ("day", Proto::I32(30))]),
        )],
    );
    let err = format.decode(&parsed, &frame(&[0], &bad_day)).unwrap_err().to_string();
    assert_eq!(err, "Protobuf message acme.Event: day: Date 2025-02-30 is not a valid calendar date");
    let fine_rate = message(
        &pool,
        "acme.Event",
        &[("rate", msg("google.type.Decimal", &[("value", Proto::String("0.0001".into()))]))],
    );
    let err = format.decode(&parsed, &frame(&[0], &fine_rate)).unwrap_err().to_string();
    assert!(err.contains("rate: decimal \"0.0001\""), "{err}");
}

#[test]
fn proto2_presence_and_declared_defaults() {
    let text = r#"syntax = "proto2";
package legacy;
message Row {
  required int32 id = 1;
  optional string label = 2 [default = "none"];
  optional int32 n = 3;
}"#;
    let schema = fetched(text, &[], None);
    let format = ProtobufFormat::default();
    let parsed = format.parse(&schema).unwrap();
    let row = message(&pool(&schema), "legacy.Row", &[("id", Proto::I32(5))]);
    let got = format.decode(&parsed, &frame(&[0], &row)).unwrap();
    let s = got.schema.unwrap();
    assert_eq!(
        field(&s, "id"),
        &Schema::new(SchemaType::Int32).with_default(Value::Int32(0)).with_parameter(TAG_PARAM, "1")
    );
    assert_eq!(
        field(&s, "label"),
        &Schema::new(SchemaType::String).optional().with_default("none".into()).with_parameter(TAG_PARAM, "2")
    );
    assert_eq!(field(&s, "n"), &Schema::new(SchemaType::Int32).optional().with_parameter(TAG_PARAM, "3"));
    assert_eq!(fields(&got.value), vec![Value::Int32(5), "none".into(), Value::Null]);
}

#[test]
fn oneof_field_names_can_drop_the_index() {
    let config: ConnectorConfig = [(keys::GENERATE_INDEX_FOR_UNIONS, "false")].into_iter().collect();
    let format = ProtobufFormat::new(&config).unwrap();
    let schema = fetched(ORDERS, &[], None);
    let parsed = format.parse(&schema).unwrap();
    let order = message(&pool(&schema), "acme.Order", &[("card", Proto::String("4111".into()))]);
    let got = format.decode(&parsed, &frame(&[0], &order)).unwrap();
    let payment = got.value.field("payment").expect("a field named after the oneof");
    assert_eq!(payment.field("card"), Some(&Value::String("4111".into())));
    assert_eq!(payment.field("account"), Some(&Value::Null));

    let bad: ConnectorConfig = [(keys::GENERATE_INDEX_FOR_UNIONS, "maybe")].into_iter().collect();
    assert_eq!(ProtobufFormat::new(&bad).unwrap_err().config_key(), Some(keys::GENERATE_INDEX_FOR_UNIONS));
}

#[test]
fn a_wrapper_at_the_root_is_its_primitive() {
    let text = r#"syntax = "proto3";
import "google/protobuf/wrappers.proto";
message Unused { string x = 1; }"#;
    // The record's message is the first message of the file; a file whose first message is a
    // wrapper only happens through a public import, so check the plan building directly.
    let schema = fetched(text, &[], Some(4));
    let pool = pool(&schema);
    let wrappers = pool.get_file_by_name("google/protobuf/wrappers.proto").unwrap();
    let nodes = schema::build(&wrappers, Some(4), schema::Options { index_unions: true });
    let string_value = nodes.iter().find(|n| n.full_name == "google.protobuf.StringValue").unwrap();
    let plan = string_value.plan.as_ref().unwrap();
    assert_eq!(plan.slot.schema.schema_type, SchemaType::String);
    assert_eq!(plan.slot.schema.version, Some(4));
    let m = message(&pool, "google.protobuf.StringValue", &[("value", Proto::String("v".into()))]);
    let got = value::decode(plan, &m.encode_to_vec()).unwrap();
    assert_eq!(got.value, Value::String("v".into()));
}

#[test]
fn schema_errors_are_reported_at_parse() {
    let format = ProtobufFormat::default();
    let err = format.parse(&fetched("syntax = \"proto3\"; message A { int32 x = 1 }", &[], None)).unwrap_err();
    assert!(matches!(err, ConnectError::Data { .. }));
    assert!(err.to_string().contains("does not compile"), "{err}");
    let err = format.parse(&fetched("syntax = \"proto3\"; enum E { A = 0; }", &[], None)).unwrap_err();
    assert!(err.to_string().contains("defines no message"), "{err}");
}

#[test]
fn registered_under_confluent_and_sluice_class_names() {
    let mut registry = sluice_api::PluginRegistry::new();
    crate::register(&mut registry);
    let config: ConnectorConfig = [("schema.registry.url", "http://localhost:1")].into_iter().collect();
    for class in ["io.confluent.connect.protobuf.ProtobufConverter", "io.sluice.connect.protobuf.ProtobufConverter"] {
        assert!(registry.converter("value.converter", class, &config, false).is_ok(), "{class}");
    }
}

#[test]
fn arbitrary_bytes_never_panic() {
    let schema = fetched(ORDERS, &[], None);
    let format = ProtobufFormat::default();
    let parsed = format.parse(&schema).unwrap();
    let valid = frame(
        &[0],
        &message(&pool(&schema), "acme.Order", &[("name", Proto::String("x".into())), ("tags", Proto::List(vec![]))]),
    );
    // A small linear congruential generator: deterministic, no dependency.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as u8
    };
    for round in 0..2000 {
        let len = usize::from(next()) % 48;
        let mut bytes: Vec<u8> = (0..len).map(|_| next()).collect();
        if round % 2 == 0 {
            // Mostly-valid input with a few flipped bytes reaches deeper into the decoder.
            bytes = valid.clone();
            for _ in 0..3 {
                let i = usize::from(next()) % bytes.len();
                bytes[i] = next();
            }
        }
        let _ = format.decode(&parsed, &bytes);
    }
}

#[test]
fn schemas_registered_as_base64_descriptors_are_read_too() {
    // What Confluent's Python serializer registers (and Apicurio hands back): the file's
    // FileDescriptorProto, base64-encoded, importing a well-known type without a reference.
    use base64::Engine as _;
    let source = fetched(
        "syntax = \"proto3\"; package probe; import \"google/protobuf/timestamp.proto\";\n\
         message Event { int64 id = 1; google.protobuf.Timestamp at = 2; }",
        &[],
        None,
    );
    let compiled = pool(&source);
    let descriptor = compiled.get_file_by_name(resolver::ROOT_FILE).unwrap().file_descriptor_proto().clone();
    let mut descriptor = descriptor;
    descriptor.name = Some("probe/event.proto".into());
    let encoded = base64::engine::general_purpose::STANDARD.encode(descriptor.encode_to_vec());
    let registered = fetched(&encoded, &[], Some(3));

    let format = ProtobufFormat::new(&ConnectorConfig::default()).unwrap();
    let parsed = format.parse(&registered).unwrap();
    let m = message(&compiled, "probe.Event", &[("id", Proto::I64(7))]);
    let decoded = format.decode(&parsed, &frame(&[0], &m)).unwrap();
    let schema = decoded.schema.unwrap();
    assert_eq!(schema.name.as_deref(), Some("probe.Event"));
    assert_eq!(schema.version, Some(3));
    assert_eq!(fields(&decoded.value)[0], Value::Int64(7));
    assert_eq!(field(&schema, "at").name.as_deref(), Some(logical::TIMESTAMP));
}
