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
    s.clear();
    assert_eq!(s.iter().count(), 0);
}
