//! Unit tests of `rows`.

use super::*;
use sluice_api::{Schema, SchemaType, Struct};

fn events() -> ClickhouseTable {
    let cols = [
        ("user_id", "String", ""),
        ("n", "UInt8", ""),
        ("note", "Nullable(String)", ""),
        ("inserted_at", "DateTime", "DEFAULT"),
        ("day", "Date", "MATERIALIZED"),
    ];
    ClickhouseTable::from_columns(
        "default",
        "events",
        cols.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())),
    )
}

fn map(pairs: &[(&str, Value)]) -> Value {
    Value::Map(pairs.iter().map(|(k, v)| (Value::from(*k), v.clone())).collect())
}

#[test]
fn rows_missing_a_field_go_in_their_own_insert_so_defaults_apply() {
    let table = events();
    let mut batch = ClickhouseRowBatch::new(&table);
    batch
        .push(&map(&[("user_id", "a".into()), ("n", Value::Int64(1)), ("inserted_at", "2025-09-18 10:30:00".into())]))
        .unwrap();
    batch.push(&map(&[("n", Value::Int64(2)), ("user_id", "b".into())])).unwrap();
    batch.push(&map(&[("user_id", "c".into()), ("n", Value::Int64(3)), ("extra", Value::Boolean(true))])).unwrap();
    assert_eq!(batch.rows(), 3);
    assert_eq!(batch.unknown_fields().iter().collect::<Vec<_>>(), ["extra"]);
    let inserts = batch.into_inserts();
    assert_eq!(inserts.len(), 2);
    assert_eq!(inserts[0].sql, "INSERT INTO `default`.`events` (`user_id`,`n`,`inserted_at`) FORMAT RowBinary");
    assert_eq!(inserts[0].rows, 1);
    assert_eq!(inserts[1].sql, "INSERT INTO `default`.`events` (`user_id`,`n`) FORMAT RowBinary");
    assert_eq!(&inserts[1].data[..], b"\x01b\x02\x01c\x03");
}

#[test]
fn maps_of_one_length_in_another_layout_are_matched_anew() {
    let table = events();
    let mut batch = ClickhouseRowBatch::new(&table);
    batch.push(&map(&[("user_id", "a".into()), ("n", Value::Int64(1))])).unwrap();
    batch.push(&map(&[("user_id", "b".into()), ("n", Value::Int64(2))])).unwrap(); // the layout repeats
    batch.push(&map(&[("n", Value::Int64(3)), ("user_id", "c".into())])).unwrap(); // swapped
    batch.push(&map(&[("user_id", "d".into()), ("note", "x".into())])).unwrap(); // another column
    batch.push(&map(&[("user_id", "e".into()), ("extra", Value::Int64(5))])).unwrap(); // an unknown field
    batch.push(&map(&[("user_id", "f".into()), ("extra", Value::Int64(6))])).unwrap();
    assert_eq!(batch.unknown_fields().iter().collect::<Vec<_>>(), ["extra"]);
    let inserts = batch.into_inserts();
    assert_eq!(inserts.len(), 3);
    assert_eq!(inserts[0].sql, "INSERT INTO `default`.`events` (`user_id`,`n`) FORMAT RowBinary");
    assert_eq!(&inserts[0].data[..], b"\x01a\x01\x01b\x02\x01c\x03");
    assert_eq!(inserts[1].sql, "INSERT INTO `default`.`events` (`user_id`,`note`) FORMAT RowBinary");
    assert_eq!(&inserts[1].data[..], b"\x01d\x00\x01x");
    assert_eq!(inserts[2].sql, "INSERT INTO `default`.`events` (`user_id`) FORMAT RowBinary");
    assert_eq!(&inserts[2].data[..], b"\x01e\x01f");
}

#[test]
fn nulls_take_the_column_default_unless_the_column_is_nullable() {
    let table = events();
    let mut batch = ClickhouseRowBatch::new(&table);
    // Null into a column with a DEFAULT: left out. Null into Nullable: written as NULL.
    batch.push(&map(&[("user_id", "a".into()), ("inserted_at", Value::Null), ("note", Value::Null)])).unwrap();
    // Null into a plain String column: left out too, so ClickHouse writes ''.
    batch.push(&map(&[("user_id", Value::Null), ("note", "x".into())])).unwrap();
    let inserts = batch.into_inserts();
    assert_eq!(inserts[0].sql, "INSERT INTO `default`.`events` (`user_id`,`note`) FORMAT RowBinary");
    assert_eq!(&inserts[0].data[..], b"\x01a\x01");
    assert_eq!(inserts[1].sql, "INSERT INTO `default`.`events` (`note`) FORMAT RowBinary");
}

#[test]
fn a_failed_record_leaves_no_partial_row() {
    let table = events();
    let mut batch = ClickhouseRowBatch::new(&table);
    batch.push(&map(&[("user_id", "a".into()), ("n", Value::Int64(1))])).unwrap();
    let err = batch.push(&map(&[("user_id", "b".into()), ("n", Value::Int64(999))])).unwrap_err();
    assert!(matches!(err, ConnectError::Data { .. }));
    assert!(err.to_string().contains("Column `n` expects UInt8"), "{err}");
    let inserts = batch.into_inserts();
    assert_eq!((inserts[0].rows, &inserts[0].data[..]), (1, &b"\x01a\x01"[..]));
}

#[test]
fn structs_match_fields_by_name() {
    let table = events();
    let schema = Schema::structure([
        ("n", Schema::new(SchemaType::Int32).into_ref()),
        ("user_id", Schema::new(SchemaType::String).into_ref()),
        ("ignored", Schema::new(SchemaType::String).into_ref()),
    ])
    .into_ref();
    let mut batch = ClickhouseRowBatch::new(&table);
    for n in 0..2 {
        let v = Value::Struct(Struct { schema: schema.clone(), values: vec![Value::Int32(n), "u".into(), "x".into()] });
        batch.push(&v).unwrap();
    }
    assert!(batch.unknown_fields().contains("ignored"));
    let inserts = batch.into_inserts();
    assert_eq!(inserts.len(), 1);
    assert_eq!(&inserts[0].data[..], b"\x01u\x00\x01u\x01");
}

#[test]
fn values_that_are_not_records_are_data_errors() {
    let table = events();
    let mut batch = ClickhouseRowBatch::new(&table);
    let err = batch.push(&Value::String("hello".into())).unwrap_err();
    assert!(matches!(err, ConnectError::Data { .. }));
    assert!(err.to_string().contains("needs a struct or a JSON object"));
    assert!(batch
        .push(&map(&[("nope", Value::Int64(1))]))
        .unwrap_err()
        .to_string()
        .contains("None of the record's fields"));
}

#[test]
fn coordinate_columns_come_from_where_the_record_was_read_unless_it_has_such_fields() {
    let cols = [
        ("user_id", "String", ""),
        ("_topic", "LowCardinality(String)", ""),
        ("_partition", "Int32", ""),
        ("_offset", "UInt64", ""),
    ];
    let table = ClickhouseTable::from_columns(
        "default",
        "events",
        cols.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())),
    );
    // Routed by a transform: the coordinates are where it was read from.
    let record = |offset: i64, value: Value| SinkRecord {
        topic: "routed".into(),
        partition: 0,
        ..SinkRecord::with_value("ev", 3, offset, value)
    };
    let mut batch = ClickhouseRowBatch::new(&table);
    batch.push_record(&record(7, map(&[("user_id", "a".into())]))).unwrap();
    batch.push_record(&record(8, map(&[("user_id", "b".into()), ("_partition", Value::Int32(9))]))).unwrap();
    let err = batch.push_record(&record(9, map(&[("other", "x".into())]))).unwrap_err();
    assert!(err.to_string().contains("None of the record's fields"), "coordinates alone are no row: {err}");
    let inserts = batch.into_inserts();
    assert_eq!(inserts.len(), 1);
    assert_eq!(
        inserts[0].sql,
        "INSERT INTO `default`.`events` (`user_id`,`_topic`,`_partition`,`_offset`) FORMAT RowBinary"
    );
    let mut want = b"\x01a\x02ev".to_vec();
    want.extend(3i32.to_le_bytes());
    want.extend(7u64.to_le_bytes());
    want.extend(b"\x01b\x02ev");
    want.extend(9i32.to_le_bytes());
    want.extend(8u64.to_le_bytes());
    assert_eq!(&inserts[0].data[..], &want[..]);
}

#[test]
fn flattened_nested_columns_take_their_field_from_an_array_of_objects() {
    let cols = [("id", "UInt8", ""), ("items.sku", "Array(String)", ""), ("items.qty", "Array(Nullable(UInt8))", "")];
    let table = ClickhouseTable::from_columns(
        "default",
        "orders",
        cols.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())),
    );
    let mut batch = ClickhouseRowBatch::new(&table);
    let items = Value::Array(vec![
        map(&[("sku", "a".into()), ("qty", Value::Int64(2))]),
        map(&[("sku", "b".into())]), // no qty: NULL
    ]);
    batch.push(&map(&[("id", Value::Int64(1)), ("items", items)])).unwrap();
    // A record may also carry the dotted names itself.
    batch
        .push(&map(&[
            ("id", Value::Int64(2)),
            ("items.sku", Value::Array(vec![])),
            ("items.qty", Value::Array(vec![])),
        ]))
        .unwrap();
    assert!(batch.unknown_fields().is_empty(), "{:?}", batch.unknown_fields());
    let bad = batch.push(&map(&[("id", Value::Int64(3)), ("items", "not an array".into())])).unwrap_err();
    assert!(bad.to_string().contains("Column `items.sku`"), "{bad}");
    let inserts = batch.into_inserts();
    assert_eq!(inserts.len(), 1);
    assert_eq!(&inserts[0].data[..], b"\x01\x02\x01a\x01b\x02\x00\x02\x01\x02\x00\x00");
}

#[test]
fn column_sets_beyond_64_columns() {
    let mut s = ColumnSet::default();
    for i in [0, 63, 64, 130] {
        s.insert(i);
    }
    assert_eq!(s.iter().collect::<Vec<_>>(), [0, 63, 64, 130]);
    let mut same = ColumnSet::with_room(131);
    for i in [130, 64, 63, 0] {
        same.insert(i);
    }
    assert_eq!(s, same);
    same.insert(129);
    assert_ne!(s, same, "a member past the first word counts");
    s.clear();
    assert_eq!(s.iter().count(), 0);
    assert_eq!(ColumnSet::with_room(64).high.len(), 0);
    assert_eq!(ColumnSet::with_room(65).high.len(), 1);

    // Tables of up to 64 columns: one word, no `high` words to compare.
    let (mut a, mut b) = (ColumnSet::with_room(20), ColumnSet::with_room(20));
    a.insert(3);
    b.insert(3);
    assert_eq!(a, b);
    b.insert(19);
    assert_ne!(a, b, "a member of the first word counts");
}

/// A table with a column of most types a JSON field may land in, and the coordinate columns.
fn wide() -> ClickhouseTable {
    let cols = [
        ("s", "String"),
        ("lc", "LowCardinality(String)"),
        ("ns", "Nullable(String)"),
        ("lcn", "LowCardinality(Nullable(String))"),
        ("u8", "UInt8"),
        ("i64", "Int64"),
        ("f64", "Float64"),
        ("ni32", "Nullable(Int32)"),
        ("dt", "DateTime"),
        ("dt64", "DateTime64(3)"),
        ("d", "Date"),
        ("d32", "Date32"),
        ("ndt", "Nullable(DateTime)"),
        ("b", "UInt8"),
        ("arr", "Array(String)"),
        ("m", "Map(String, Int64)"),
        ("dec", "Decimal(10, 2)"),
        ("uuid", "UUID"),
        ("e", "Enum8('a' = 1, 'b' = 2)"),
        ("fs", "FixedString(4)"),
        ("odd", "SomethingNew(1)"),
        ("_topic", "LowCardinality(String)"),
        ("_partition", "Int32"),
        ("_offset", "Int64"),
    ];
    ClickhouseTable::from_columns("default", "wide", cols.map(|(c, t)| (c.to_owned(), t.to_owned(), String::new())))
}

/// Records of every shape the JSON lane reads, declines or fails, in an order that makes the
/// layout repeat, change and come back.
const JSON_RECORDS: &[&str] = &[
    r#"{"s":"a","lc":"x","ns":"n","u8":1,"i64":-5,"f64":1.5,"dt":"2025-09-18T10:11:12.345Z","d":"2025-09-18"}"#,
    r#"{"s":"b","lc":"y","ns":null,"u8":2,"i64":7,"f64":2,"dt":"2025-09-18T10:11:13Z","d":"2025-09-19"}"#,
    r#"{"s":"c","lc":"y","ns":"m","u8":3,"i64":8,"f64":3.25,"dt":1758189600,"d":20000}"#,
    r#"{"s":"caf\u00e9 \"q\" \\ \n","lc":"é","lcn":"t","ni32":null,"dt64":"2025-09-18T10:11:12.345Z"}"#,
    r#"{"s":12,"lc":true,"ns":1.5,"lcn":null,"u8":"4","i64":"9","f64":"1e3","ni32":"12"}"#,
    r#"{"s":{"nested":[1,2,{"x":null}]},"arr":["p","q"],"m":{"k":1,"j":2},"dec":"12.34","uuid":"61f0c404-5cb3-11e7-907b-a6006ad3dba0"}"#,
    r#"{"s":[1,"two"],"arr":[],"m":{},"dec":12.5,"e":"b","fs":"ab"}"#,
    r#"{"s":"d","e":1,"fs":"abcd","b":true}"#,
    r#"{"s":"e","unknown":1,"other":{"deep":[1]}}"#,
    r#"{"unknown":1}"#,
    r#"{}"#,
    r#"{"s":"f","u8":300}"#,
    r#"{"s":"g","u8":-1}"#,
    r#"{"s":"h","i64":1.5}"#,
    r#"{"s":"i","fs":"abcde"}"#,
    r#"{"s":"j","e":"c"}"#,
    r#"{"s":"k","dt":"yesterday"}"#,
    r#"{"s":"l","s":"twice"}"#,
    r#"{"s":"m","odd":"v"}"#,
    r#"{"s":"n","u8":null,"i64":null}"#,
    r#"{"s":"o","_offset":99,"_topic":"mine"}"#,
    r#"{"_offset":98}"#,
    r#"{"_partition":null}"#,
    r#"{"s":"p","i64":18446744073709551615}"#,
    r#"{"s":"q","i64":9223372036854775807,"u8":0}"#,
    r#""just text""#,
    r#"[1,2]"#,
    r#"42"#,
    r#"{"i64":7,"s":"r","u8":5}"#,
    r#"{"s":0.1,"f64":1.7976931348623157,"i64":-0,"ns":-0.0,"lc":123456789012345678,"lcn":12345678901234567.5}"#,
    r#"{ "s" : "spaced" , "f64" : 2.5e-3 , "ni32" : 7 }  "#,
    r#"{"s":-0,"f64":-0,"ns":-0.0,"lc":0,"i64":-1}"#,
    r#"{"s":"t","f64":0.30000000000000004,"ns":1e-7,"arr":["a\"b"],"m":{"k":-9}}"#,
    r#"{"s":"u","dt":" 2025-09-18T12:11:12.999+02:00 ","dt64":"1969-12-31T23:59:59.9999999Z","d32":"1900-01-01T00:00:00Z"}"#,
    r#"{"s":"v","ndt":"2025-09-18t10:11:12-01:30","d":"2025-09-18T23:59:59Z","d32":"2299-12-31T23:59:59.999Z"}"#,
    r#"{"s":"w","ndt":null,"dt":"2025-09-18 10:11:12","dt64":"2025-09-18 10:11:12.5+00:00"}"#,
    r#"{"s":"x","dt":"1960-01-01T00:00:00Z"}"#,
    r#"{"s":"y","d":"2200-01-01T00:00:00Z"}"#,
    r#"{"s":"z","ndt":"2106-02-07T06:28:16Z"}"#,
    r#"{"s":"a","lc":"x","ns":"n","u8":1,"i64":-5,"f64":1.5,"dt":"2025-09-18T10:11:12.345Z","d":"2025-09-18"}"#,
];

/// `value_json` records and their decoded twins, from `JSON_RECORDS`.
fn json_records(as_text: bool) -> Vec<SinkRecord> {
    JSON_RECORDS
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let value = sluice_api::json::parse(text.as_bytes()).expect("test records are JSON");
            let mut record = SinkRecord::with_value("orders", (i % 3) as i32, 100 + i as i64, value);
            if as_text {
                record.value = Value::Null;
                record.value_json = Some(bytes::Bytes::from_static(text.as_bytes()));
            }
            record
        })
        .collect()
}

#[test]
fn rows_from_json_text_are_the_rows_from_the_decoded_value_byte_for_byte() {
    let table = wide();
    let (mut from_values, mut from_text) = (ClickhouseRowBatch::new(&table), ClickhouseRowBatch::new(&table));
    for (decoded, text) in json_records(false).iter().zip(&json_records(true)) {
        let expected = from_values.push_record(decoded).map_err(|e| e.to_string());
        let got = from_text.push_record(text).map_err(|e| e.to_string());
        assert_eq!(got, expected, "record {}", text.value_json.as_ref().map(|t| String::from_utf8_lossy(t)).unwrap());
    }
    assert_eq!(from_text.unknown_fields(), from_values.unknown_fields());
    assert_eq!(from_text.rows(), from_values.rows());
    let (expected, got) = (from_values.into_inserts(), from_text.into_inserts());
    assert_eq!(got.len(), expected.len());
    for (got, expected) in got.iter().zip(&expected) {
        assert_eq!(got.sql, expected.sql);
        assert_eq!(got.rows, expected.rows);
        assert_eq!(got.data, expected.data, "{}", got.sql);
        let offsets =
            |i: &ClickhouseInsert| i.sources.iter().map(|s| (s.partition, s.offset, s.end)).collect::<Vec<_>>();
        assert_eq!(offsets(got), offsets(expected));
    }
}

#[test]
fn a_batch_that_expects_its_rows_makes_the_same_inserts() {
    let table = wide();
    let (mut plain, mut expecting) = (ClickhouseRowBatch::new(&table), ClickhouseRowBatch::new(&table).expecting(3));
    for record in json_records(true) {
        assert_eq!(plain.push_record(&record).is_ok(), expecting.push_record(&record).is_ok());
    }
    let (plain, expecting) = (plain.into_inserts(), expecting.into_inserts());
    assert_eq!(plain.len(), expecting.len());
    for (a, b) in plain.iter().zip(&expecting) {
        assert_eq!((&a.sql, a.rows, &a.data), (&b.sql, b.rows, &b.data));
        assert_eq!(
            a.sources.iter().map(|s| s.end).collect::<Vec<_>>(),
            b.sources.iter().map(|s| s.end).collect::<Vec<_>>()
        );
    }
}

#[test]
fn the_json_lane_reads_ordinary_records_itself_and_leaves_the_odd_ones_to_the_value_path() {
    let table = wide();
    let mut batch = ClickhouseRowBatch::new(&table);
    let at = Coordinates { topic: "orders", partition: 0, offset: 1 };
    let read = |batch: &mut ClickhouseRowBatch<'_>, text: &str| batch.push_json(text.as_bytes(), at).is_some();
    assert!(read(&mut batch, JSON_RECORDS[0]));
    assert!(read(&mut batch, JSON_RECORDS[1]), "nulls");
    assert!(read(&mut batch, JSON_RECORDS[5]), "nested fields");
    assert!(read(&mut batch, r#"{"s":"e","unknown":1,"other":{"deep":[1]}}"#), "unknown fields");
    let odd_ones = [
        r#"{"s":"f","u8":300}"#,
        r#"{"s":"l","s":"twice"}"#,
        r#"{"s":"m","odd":"v"}"#,
        "{}",
        "42",
        r#"{"unknown":1}"#,
        JSON_RECORDS[3], // escapes
        r#"{"s":"x","f64":1e3}"#,
    ];
    for odd in odd_ones {
        assert!(!read(&mut batch, odd), "{odd}");
    }
    // Declined records left nothing behind.
    assert_eq!(batch.rows(), 4);
    let tableless = ClickhouseTable::from_columns(
        "default",
        "n",
        [("n.a", "Array(String)"), ("s", "String")].map(|(c, t)| (c.to_owned(), t.to_owned(), String::new())),
    );
    let mut nested = ClickhouseRowBatch::new(&tableless);
    assert!(!read(&mut nested, r#"{"s":"x"}"#), "Nested columns are projected by the value path");
}

/// An Avro record schema whose fields land in [`wide`]'s columns: each scalar Avro type, some
/// optional, one field the table lacks and one for a column Sluice cannot write.
const AVRO_SCHEMA: &str = r#"{"type":"record","name":"Wide","fields":[
    {"name":"s","type":"string"},
    {"name":"lc","type":"string"},
    {"name":"ns","type":["null","string"]},
    {"name":"u8","type":"int"},
    {"name":"i64","type":"long"},
    {"name":"f64","type":"double"},
    {"name":"ni32","type":["int","null"]},
    {"name":"dt","type":"string"},
    {"name":"dt64","type":{"type":"long","logicalType":"timestamp-millis"}},
    {"name":"d","type":{"type":"int","logicalType":"date"}},
    {"name":"d32","type":{"type":"int","logicalType":"date"}},
    {"name":"b","type":"boolean"},
    {"name":"dec","type":"string"},
    {"name":"e","type":"string"},
    {"name":"extra","type":"float"},
    {"name":"odd","type":["null","string"]}
]}"#;

/// Avro binary, written by hand: zig-zag varints, length-prefixed strings, union branches.
fn avro_long(out: &mut Vec<u8>, v: i64) {
    let mut n = ((v << 1) ^ (v >> 63)) as u64;
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn avro_string(out: &mut Vec<u8>, s: &str) {
    avro_long(out, s.len() as i64);
    out.extend_from_slice(s.as_bytes());
}

/// Datum `i` of [`AVRO_SCHEMA`]; some do not fit their columns (the value path fails them).
fn avro_datum(i: i64) -> Vec<u8> {
    let mut out = Vec::new();
    avro_string(&mut out, &format!("user_{i}"));
    avro_string(&mut out, ["click", "view"][i as usize % 2]);
    match i % 3 {
        0 => avro_long(&mut out, 0),
        _ => {
            avro_long(&mut out, 1);
            avro_string(&mut out, "note");
        }
    }
    avro_long(&mut out, if i == 7 { 300 } else { i * 20 }); // 300 does not fit UInt8
    avro_long(&mut out, if i == 4 { i64::MIN } else { -i });
    out.extend_from_slice(&(i as f64 / 3.0).to_le_bytes());
    match i % 2 {
        0 => {
            avro_long(&mut out, 0);
            avro_long(&mut out, i32::MAX.into());
        }
        _ => avro_long(&mut out, 1),
    }
    avro_string(&mut out, if i == 5 { "not a time" } else { "2025-09-18T10:30:00.250Z" });
    avro_long(&mut out, 1_758_189_600_123 + i);
    avro_long(&mut out, 20_000 + i);
    avro_long(&mut out, if i == 6 { -25_567 } else { 20_000 }); // 1900-01-01
    out.push(u8::from(i % 2 == 0));
    avro_string(&mut out, if i == 3 { "12.345" } else { "12.34" });
    avro_string(&mut out, if i == 8 { "c" } else { "a" }); // the enum has no 'c'
    out.extend_from_slice(&1.5f32.to_le_bytes());
    match i {
        9 => {
            avro_long(&mut out, 1);
            avro_string(&mut out, "odd");
        }
        _ => avro_long(&mut out, 0),
    }
    out
}

/// Records of [`avro_datum`]s as a sink gets them: datums (`as_datums`), or decoded values.
fn avro_records(as_datums: bool) -> Vec<SinkRecord> {
    use sluice_converters::avro::AvroFormat;
    use sluice_converters::registry::{FetchedSchema, SchemaKind, WireFormat};
    let format = AvroFormat::default();
    let mut schema = FetchedSchema {
        id: 7,
        kind: SchemaKind::Avro,
        text: AVRO_SCHEMA.to_owned(),
        references: Vec::new(),
        subject: None,
        version: None,
    };
    let parsed = Arc::new(format.parse(&schema).expect("the test schema parses"));
    let reader = AvroFormat::datum_reader(&parsed).expect("a record of scalars is read by field");
    // Two fields renamed: their columns get their defaults.
    schema.text = AVRO_SCHEMA.replace(r#""name":"s""#, r#""name":"s2""#).replace(r#""name":"lc""#, r#""name":"x""#);
    let mut datums: Vec<(Arc<dyn sluice_api::DatumReader>, Vec<u8>)> =
        (0..12).map(|i| (reader.clone(), avro_datum(i))).collect();
    let full = avro_datum(0);
    datums.push((reader.clone(), full[..full.len() - 1].to_vec())); // truncated
    datums.push((reader.clone(), [&full[..], &[0]].concat())); // a byte too many
    let mut bad_bool = avro_datum(1);
    let at = bad_bool.len() - 1 - 4 - 2 - 6 - 2 - 1; // the boolean, before dec, e, extra, odd
    bad_bool[at] = 2;
    datums.push((reader.clone(), bad_bool));
    let renamed = Arc::new(format.parse(&schema).unwrap());
    datums.push((AvroFormat::datum_reader(&renamed).unwrap(), avro_datum(2)));
    datums.push((reader.clone(), avro_datum(4))); // the first schema again
    datums
        .into_iter()
        .enumerate()
        .map(|(i, (reader, data))| {
            let datum = sluice_api::Datum { reader, data: bytes::Bytes::from(data) };
            let mut record = SinkRecord::with_value("orders", (i % 3) as i32, 100 + i as i64, Value::Null);
            record.value_schema = Some(datum.reader.schema().clone());
            match as_datums {
                true => record.value_datum = Some(datum),
                false => record.value = datum.decode().unwrap_or(Value::Null),
            }
            record
        })
        .collect()
}

#[test]
fn rows_from_avro_datums_are_the_rows_from_the_decoded_value_byte_for_byte() {
    let table = wide();
    let (decoded, datums) = (avro_records(false), avro_records(true));
    let (mut from_values, mut from_datums) = (ClickhouseRowBatch::new(&table), ClickhouseRowBatch::new(&table));
    let mut outcomes = Vec::new();
    for (i, (decoded, datum)) in decoded.iter().zip(&datums).enumerate() {
        let undecodable = datum.value_datum.as_ref().unwrap().decode().is_err();
        let got = from_datums.push_record(datum).map_err(|e| e.to_string());
        let expected = match undecodable {
            // A datum that does not decode fails with the converter's error.
            true => Err(datum.decoded_value().unwrap_err().to_string()),
            false => from_values.push_record(decoded).map_err(|e| e.to_string()),
        };
        assert_eq!(got, expected, "datum {i}");
        outcomes.push(got.is_ok());
    }
    // Records 3, 5, 7 and 8 do not fit their columns, 9 fills a column Sluice cannot write,
    // and 12 to 14 do not decode.
    let failed: Vec<usize> = (0..outcomes.len()).filter(|&i| !outcomes[i]).collect();
    assert_eq!(failed, [3, 5, 7, 8, 9, 12, 13, 14]);
    assert_eq!(from_datums.unknown_fields(), from_values.unknown_fields());
    assert_eq!(from_datums.rows(), from_values.rows());
    let (expected, got) = (from_values.into_inserts(), from_datums.into_inserts());
    assert_eq!(got.len(), expected.len());
    for (got, expected) in got.iter().zip(&expected) {
        assert_eq!((&got.sql, got.rows), (&expected.sql, expected.rows));
        assert_eq!(got.data, expected.data, "{}", got.sql);
    }
    // And the lane read the ordinary ones itself.
    let mut batch = ClickhouseRowBatch::new(&table);
    let at = Coordinates { topic: "orders", partition: 0, offset: 1 };
    for (i, record) in datums.iter().enumerate() {
        let laned = batch.push_datum(record.value_datum.as_ref().unwrap(), at).is_some();
        assert_eq!(laned, [0, 1, 2, 4, 6, 10, 11, 15, 16].contains(&i), "datum {i}");
    }
}
