//! What the fuzz targets share: the registered schemas the wire-format targets decode with,
//! the `.properties` reading the config targets start from, and the ClickHouse table the row
//! targets write to.
//!
//! The wire-format targets stand in for a schema registry: the schema id in the fuzzed
//! Confluent header picks one of the fixed schemas below (`id % len`), as a registry would
//! answer with the schema registered under that id. The schemas are parsed once per process,
//! like the converter parses each schema id once.

use std::collections::BTreeMap;

use sluice_converters::registry::{FetchedSchema, SchemaKind, WireFormat};

/// Avro schemas: every primitive and logical type, unions, enums, fixed, nested records;
/// a bare top-level union; decimals in bytes and fixed.
pub const AVRO_SCHEMAS: &[&str] = &[
    r#"{"type":"record","name":"Shipment","namespace":"fuzz.avro","fields":[
        {"name":"ok","type":"boolean"},
        {"name":"short","type":{"type":"int","connect.type":"int16"}},
        {"name":"tiny","type":{"type":"int","connect.type":"int8"}},
        {"name":"n","type":"int"},
        {"name":"l","type":"long"},
        {"name":"f","type":"float"},
        {"name":"d","type":"double"},
        {"name":"b","type":"bytes"},
        {"name":"s","type":"string"},
        {"name":"list","type":{"type":"array","items":["null","string"]}},
        {"name":"counts","type":{"type":"map","values":"long"}},
        {"name":"dest","type":{"type":"record","name":"Place","fields":[
            {"name":"city","type":"string"},
            {"name":"zip","type":["null","string"],"default":null}]}},
        {"name":"stops","type":{"type":"array","items":"Place"}},
        {"name":"back","type":["null","Place"],"default":null},
        {"name":"mood","type":{"type":"enum","name":"Mood","symbols":["CALM","BUSY"],"default":"CALM"}},
        {"name":"tag","type":{"type":"fixed","name":"Tag","size":3}},
        {"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":12,"scale":3}},
        {"name":"wide","type":{"type":"fixed","name":"W","size":20,"logicalType":"decimal","precision":45,"scale":4}},
        {"name":"day","type":{"type":"int","logicalType":"date"}},
        {"name":"tod","type":{"type":"int","logicalType":"time-millis"}},
        {"name":"tod_us","type":{"type":"long","logicalType":"time-micros"}},
        {"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},
        {"name":"at_us","type":{"type":"long","logicalType":"timestamp-micros"}},
        {"name":"local","type":{"type":"long","logicalType":"local-timestamp-millis"}},
        {"name":"uid","type":{"type":"string","logicalType":"uuid"}},
        {"name":"span","type":{"type":"fixed","name":"Span","size":12,"logicalType":"duration"}},
        {"name":"any","type":["null","int","string","Place","Mood"]}
    ]}"#,
    r#"["null","long","string",{"type":"record","name":"fuzz.avro.P","fields":[{"name":"x","type":"double"}]}]"#,
    r#"{"type":"map","values":{"type":"array","items":{"type":"bytes","logicalType":"decimal","precision":5,"scale":1}}}"#,
    // Only types the wire plan reads (converters/src/avro/wire.rs): decoded both ways.
    r#"{"type":"record","name":"Plain","namespace":"fuzz.avro","fields":[
        {"name":"ok","type":"boolean"},
        {"name":"short","type":{"type":"int","connect.type":"int16"}},
        {"name":"tiny","type":{"type":"int","connect.type":"int8"}},
        {"name":"n","type":"int"},
        {"name":"l","type":"long"},
        {"name":"f","type":"float"},
        {"name":"d","type":"double"},
        {"name":"b","type":"bytes"},
        {"name":"s","type":"string"},
        {"name":"list","type":{"type":"array","items":["null","string"]}},
        {"name":"counts","type":{"type":"map","values":"long"}},
        {"name":"dest","type":{"type":"record","name":"Place","fields":[
            {"name":"city","type":"string"},
            {"name":"zip","type":["string","null"]}]}},
        {"name":"stops","type":{"type":"array","items":"Place"}},
        {"name":"back","type":["null","Place"],"default":null},
        {"name":"day","type":{"type":"int","logicalType":"date"}},
        {"name":"tod","type":{"type":"int","logicalType":"time-millis"}},
        {"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},
        {"name":"at_us","type":{"type":"long","logicalType":"timestamp-micros"}}
    ]}"#,
];

/// Protobuf schemas: every scalar, enums, nested messages, maps, oneofs, optional fields, and
/// the well-known and Confluent types the converter maps to logical types.
pub const PROTOBUF_SCHEMAS: &[&str] = &[
    r#"
syntax = "proto3";
package fuzz;

message Parcel {
  enum Kind {
    KIND_UNSET = 0;
    BOX = 1;
    LETTER = 2;
  }
  message Item {
    string code = 1;
    sint32 amount = 2;
    repeated bytes marks = 3;
  }
  int32 a = 1;
  sint32 b = 2;
  sfixed32 c = 3;
  int64 d = 4;
  sint64 e = 5;
  sfixed64 f = 6;
  uint32 g = 7;
  uint64 h = 8;
  fixed32 i = 9;
  fixed64 j = 10;
  bool k = 11;
  float l = 12;
  double m = 13;
  string n = 14;
  bytes o = 15;
  Kind kind = 16;
  repeated string labels = 17;
  map<string, Item> by_code = 18;
  map<int64, string> names = 19;
  Item main = 20;
  repeated Item items = 21;
  optional int32 maybe = 22;
  oneof via {
    string road = 23;
    Item air = 24;
  }
  repeated Kind kinds = 25;
}

message Other {
  message Inner {
    double w = 1;
    Parcel.Kind kind = 2;
  }
  string id = 1;
  Inner inner = 2;
}
"#,
    r#"
syntax = "proto3";
package fuzz;
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";
import "google/protobuf/struct.proto";
import "google/type/date.proto";
import "google/type/timeofday.proto";
import "google/type/decimal.proto";
import "confluent/meta.proto";
import "confluent/type/decimal.proto";

message Known {
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
    params: [{key: "precision", value: "8"}, {key: "scale", value: "2"}]
  }];
  google.type.Decimal rate = 14 [(confluent.field_meta) = { params: [{key: "scale", value: "3"}] }];
  int32 narrow = 15 [(confluent.field_meta) = { params: [{key: "connect.type", value: "int8"}] }];
  google.protobuf.Struct attrs = 16;
  google.protobuf.Value any = 17;
  google.protobuf.ListValue list = 18;
  repeated google.protobuf.Timestamp history = 19;
}
"#,
];

/// JSON Schemas: objects with every Connect type hint, optional fields, arrays of `$ref`s,
/// maps, and a top-level `oneOf`.
pub const JSON_SCHEMAS: &[&str] = &[
    r##"{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "title": "fuzz.Parcel",
  "type": "object",
  "properties": {
    "id": {"type": "integer"},
    "ok": {"type": "boolean"},
    "i8": {"type": "integer", "connect.type": "int8"},
    "i16": {"type": "integer", "connect.type": "int16"},
    "i32": {"type": "integer", "connect.type": "int32"},
    "f32": {"type": "number", "connect.type": "float32"},
    "f64": {"type": "number"},
    "name": {"type": "string"},
    "raw": {"type": "string", "connect.type": "bytes"},
    "note": {"type": ["string", "null"]},
    "kind": {"type": "string", "enum": ["box", "letter"]},
    "via": {"type": "string", "default": "road"},
    "items": {"type": "array", "items": {"$ref": "#/definitions/Item"}},
    "attrs": {"type": "object", "additionalProperties": {"type": "integer", "connect.type": "int32"}},
    "either": {"oneOf": [{"type": "null"}, {"type": "integer"}, {"type": "string"}, {"$ref": "#/definitions/Item"}]}
  },
  "required": ["id", "ok", "name", "items"],
  "definitions": {
    "Item": {
      "title": "fuzz.Item",
      "type": "object",
      "properties": {"code": {"type": "string"}, "qty": {"type": "integer", "connect.type": "int32"}},
      "required": ["code"]
    }
  }
}"##,
    r##"{"oneOf": [{"type": "integer"}, {"type": "array", "items": {"type": "number"}}, {"type": "object", "properties": {"a": {"type": "string"}}}]}"##,
];

/// The schemas of one format, parsed once; `id % len` picks the one a record was "written" with.
pub fn parse_all<F: WireFormat>(format: &F, kind: SchemaKind, texts: &[&str]) -> Vec<F::Parsed> {
    texts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let fetched = FetchedSchema {
                id: i as u32,
                kind,
                text: (*text).to_owned(),
                references: Vec::new(),
                subject: None,
                version: Some(1),
            };
            format.parse(&fetched).unwrap_or_else(|e| panic!("fixed schema {i} does not parse: {e}"))
        })
        .collect()
}

/// Decodes `data` (a whole Confluent-framed record) as the registry converter's `to_connect`
/// does once the schema is known: split the header, then decode the payload.
pub fn decode_framed<F: WireFormat>(format: &F, parsed: &[F::Parsed], data: &[u8]) {
    let Ok((id, payload)) = sluice_converters::registry::wire::split(data) else { return };
    let schema = &parsed[id as usize % parsed.len()];
    let result = format.decode(schema, payload);
    if verbose() {
        eprintln!("schema {}: {:?}", id as usize % parsed.len(), result.map(|v| v.value));
    }
}

/// Whether `SLUICE_FUZZ_VERBOSE` is set: targets then print what they made of each input, to
/// check that the seeds decode (`fuzz/target/…/<target> fuzz/corpus/<target> -runs=0`).
pub fn verbose() -> bool {
    static VERBOSE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *VERBOSE.get_or_init(|| std::env::var_os("SLUICE_FUZZ_VERBOSE").is_some())
}

/// The fuzz input read as a Java `.properties` file, as the worker reads its config file and
/// connector files.
pub fn properties(data: &[u8]) -> Option<BTreeMap<String, String>> {
    sluice_worker::worker_config::read_properties(data).ok().map(|m| m.into_iter().collect())
}

/// The table the ClickHouse row targets (`clickhouse_rows_json`, `clickhouse_rows_datum`) write
/// to: a column of most types a JSON field or an Avro scalar lands in, and the coordinates.
pub fn clickhouse_table() -> sluice_clickhouse::ClickhouseTable {
    const COLUMNS: &[(&str, &str)] = &[
        ("s", "String"),
        ("lc", "LowCardinality(String)"),
        ("ns", "Nullable(String)"),
        ("u8", "UInt8"),
        ("i64", "Int64"),
        ("f64", "Float64"),
        ("ni32", "Nullable(Int32)"),
        ("dt", "DateTime"),
        ("dt64", "DateTime64(3)"),
        ("d", "Date"),
        ("d32", "Date32"),
        ("ndt", "Nullable(DateTime)"),
        ("b", "Bool"),
        ("arr", "Array(String)"),
        ("m", "Map(String, Int64)"),
        ("dec", "Decimal(10, 2)"),
        ("uuid", "UUID"),
        ("e", "Enum8('a' = 1, 'b' = 2)"),
        ("fs", "FixedString(4)"),
        ("tiny", "Int8"),
        ("_topic", "LowCardinality(String)"),
        ("_partition", "Int32"),
        ("_offset", "Int64"),
    ];
    sluice_clickhouse::ClickhouseTable::from_columns(
        "default",
        "fuzz",
        COLUMNS.iter().map(|(c, t)| (c.to_string(), t.to_string(), String::new())),
    )
}
