//! Round trips through a real Parquet file: every batch is written with `ArrowWriter` and read
//! back with the Arrow reader before its values are checked.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Decimal256Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type,
    Time32MillisecondType, TimestampMicrosecondType, TimestampMillisecondType,
};
use arrow_array::{Array, RecordBatch};
use arrow_buffer::i256;
use arrow_schema::{DataType, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use sluice_api::{Schema, SchemaRef, SchemaType, Struct, Value};

use super::RowBuffer;
use crate::schema::{to_arrow_schema, Compatibility, DECIMAL_PRECISION};

fn round_trip(batch: &RecordBatch) -> RecordBatch {
    let mut file = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut file, batch.schema(), None).unwrap();
    writer.write(batch).unwrap();
    writer.close().unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(file)).unwrap().build().unwrap();
    let mut batches: Vec<RecordBatch> = reader.collect::<Result<_, _>>().unwrap();
    assert_eq!(batches.len(), 1);
    let read = batches.remove(0);
    assert_eq!(read.schema(), batch.schema(), "the file keeps the Arrow schema");
    read
}

fn finish(buffer: &mut RowBuffer) -> RecordBatch {
    let expected = buffer.arrow_schema();
    let batch = buffer.finish().unwrap();
    assert_eq!(batch.schema(), expected, "arrow_schema() said what finish() produces");
    assert_eq!(buffer.rows(), 0);
    assert_eq!(buffer.buffered_bytes(), 0);
    round_trip(&batch)
}

fn prim(t: SchemaType) -> SchemaRef {
    Schema::new(t).into_ref()
}

fn record(schema: &SchemaRef, values: Vec<Value>) -> Value {
    Value::Struct(Struct { schema: schema.clone(), values })
}

fn json(text: &str) -> Value {
    fn convert(v: serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Boolean(b),
            serde_json::Value::Number(n) => n.as_i64().map(Value::Int64).unwrap_or(Value::Float64(n.as_f64().unwrap())),
            serde_json::Value::String(s) => Value::String(s.into()),
            serde_json::Value::Array(items) => Value::Array(items.into_iter().map(convert).collect()),
            serde_json::Value::Object(entries) => {
                Value::Map(entries.into_iter().map(|(k, v)| (Value::String(k.into()), convert(v))).collect())
            }
        }
    }
    convert(serde_json::from_str(text).unwrap())
}

fn strings(array: &dyn Array) -> Vec<Option<String>> {
    array.as_string::<i32>().iter().map(|s| s.map(str::to_owned)).collect()
}

/// A record with one field of every type the type map lists.
fn everything() -> SchemaRef {
    let address = Schema::structure([
        ("city", prim(SchemaType::String)),
        ("zip", Schema::new(SchemaType::Int32).optional().into_ref()),
    ]);
    Schema::structure([
        ("flag", prim(SchemaType::Boolean)),
        ("i8", prim(SchemaType::Int8)),
        ("i16", prim(SchemaType::Int16)),
        ("i32", prim(SchemaType::Int32)),
        ("i64", prim(SchemaType::Int64)),
        ("f32", prim(SchemaType::Float32)),
        ("f64", prim(SchemaType::Float64)),
        ("text", prim(SchemaType::String)),
        ("blob", prim(SchemaType::Bytes)),
        ("amount", Schema::decimal(2).with_parameter(DECIMAL_PRECISION, "10").into_ref()),
        ("huge", Schema::decimal(4).with_parameter(DECIMAL_PRECISION, "50").into_ref()),
        ("day", Schema::date().into_ref()),
        ("at", Schema::time().into_ref()),
        ("ts", Schema::timestamp().into_ref()),
        ("us", Schema::new(SchemaType::Int64).with_parameter("avro.logicalType", "timestamp-micros").into_ref()),
        ("address", address.optional().into_ref()),
        ("tags", Schema::array(Schema::new(SchemaType::Int64).optional().into_ref()).into_ref()),
        ("attrs", Schema::map(prim(SchemaType::String), prim(SchemaType::Int32)).into_ref()),
        ("note", Schema::new(SchemaType::String).optional().into_ref()),
    ])
    .into_ref()
}

fn everything_row(schema: &SchemaRef, n: i64) -> Value {
    let address = schema.field("address").unwrap().schema.clone();
    record(
        schema,
        vec![
            Value::Boolean(n % 2 == 0),
            Value::Int8(-8),
            Value::Int16(-16),
            // A numeric string, coerced as Kafka Connect users expect.
            Value::String("32".into()),
            Value::Int64(n),
            Value::Float32(1.5),
            Value::Float64(2.25),
            Value::from(format!("row {n}")),
            Value::Bytes(vec![0, 159, 146, 150].into()),
            Value::Decimal { unscaled: 1_234_567, scale: 2 },
            Value::Decimal { unscaled: -5, scale: 1 },
            Value::Date(20_349),
            Value::Time(37_800_123),
            Value::Timestamp(1_758_191_400_123),
            Value::Int64(1_758_191_400_123_456),
            if n == 0 { Value::Null } else { record(&address, vec!["Oslo".into(), Value::Int32(150)]) },
            Value::Array(vec![Value::Int64(1), Value::Null, Value::Int64(n)]),
            Value::Map(vec![("a".into(), Value::Int32(1)), ("b".into(), Value::Int32(2))]),
            if n == 0 { Value::Null } else { "present".into() },
        ],
    )
}

#[test]
fn every_type_round_trips_through_parquet() {
    let schema = everything();
    let mut buffer = RowBuffer::new(Some(schema.clone()), Compatibility::None);
    for n in 0..2 {
        buffer.push(&everything_row(&schema, n), Some(&schema)).unwrap();
    }
    assert_eq!(buffer.rows(), 2);
    assert_eq!(*buffer.arrow_schema(), to_arrow_schema(&schema).unwrap());
    let batch = finish(&mut buffer);
    let col = |name: &str| batch.column_by_name(name).unwrap().clone();

    assert!(col("flag").as_boolean().value(0));
    assert_eq!(col("i8").as_primitive::<Int8Type>().value(1), -8);
    assert_eq!(col("i16").as_primitive::<Int16Type>().value(1), -16);
    assert_eq!(col("i32").as_primitive::<Int32Type>().value(0), 32);
    assert_eq!(col("i64").as_primitive::<Int64Type>().values().to_vec(), vec![0, 1]);
    assert_eq!(col("f32").as_primitive::<Float32Type>().value(0), 1.5);
    assert_eq!(col("f64").as_primitive::<Float64Type>().value(0), 2.25);
    assert_eq!(strings(&col("text")), vec![Some("row 0".into()), Some("row 1".into())]);
    assert_eq!(col("blob").as_binary::<i32>().value(0), &[0, 159, 146, 150]);

    let amount = col("amount");
    assert_eq!(amount.data_type(), &DataType::Decimal128(10, 2));
    assert_eq!(amount.as_primitive::<Decimal128Type>().value(0), 1_234_567);
    assert_eq!(amount.as_primitive::<Decimal128Type>().value_as_string(0), "12345.67");
    let huge = col("huge");
    assert_eq!(huge.data_type(), &DataType::Decimal256(50, 4));
    assert_eq!(huge.as_primitive::<Decimal256Type>().value(0), i256::from_i128(-5_000));

    assert_eq!(col("day").as_primitive::<Date32Type>().value(0), 20_349);
    assert_eq!(col("at").as_primitive::<Time32MillisecondType>().value(0), 37_800_123);
    let ts = col("ts");
    assert_eq!(ts.data_type(), &DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())));
    assert_eq!(ts.as_primitive::<TimestampMillisecondType>().value(0), 1_758_191_400_123);
    let us = col("us");
    assert_eq!(us.data_type(), &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())));
    assert_eq!(us.as_primitive::<TimestampMicrosecondType>().value(1), 1_758_191_400_123_456);

    let address = col("address");
    let address = address.as_struct();
    assert!(address.is_null(0) && address.is_valid(1));
    assert_eq!(strings(address.column_by_name("city").unwrap())[1], Some("Oslo".into()));
    assert_eq!(address.column_by_name("zip").unwrap().as_primitive::<Int32Type>().value(1), 150);

    let tags = col("tags");
    let tags = tags.as_list::<i32>();
    let second = tags.value(1);
    let second = second.as_primitive::<Int64Type>();
    assert_eq!((second.len(), second.is_null(1), second.value(2)), (3, true, 1));

    let attrs = col("attrs");
    let attrs = attrs.as_map();
    assert_eq!(strings(attrs.keys()), vec![Some("a".into()), Some("b".into()), Some("a".into()), Some("b".into())]);
    assert_eq!(attrs.values().as_primitive::<Int32Type>().value(3), 2);
    assert_eq!(attrs.value_offsets(), &[0, 2, 4]);

    assert_eq!(strings(&col("note")), vec![None, Some("present".into())]);
}

#[test]
fn a_failed_push_leaves_the_buffer_as_it_was() {
    let schema = everything();
    let mut buffer = RowBuffer::new(Some(schema.clone()), Compatibility::None);
    buffer.push(&everything_row(&schema, 1), Some(&schema)).unwrap();
    let (rows, bytes) = (buffer.rows(), buffer.buffered_bytes());

    // `amount` fails after a dozen fields were appended.
    let Value::Struct(mut bad) = everything_row(&schema, 2) else { unreachable!() };
    bad.values[9] = Value::Decimal { unscaled: 12_345_678, scale: 3 };
    let err = buffer.push(&Value::Struct(bad.clone()), Some(&schema)).unwrap_err();
    assert_eq!(err.path, "amount");
    assert!(
        err.to_string().starts_with("field `amount`: 12345.678 has more digits than Decimal(10, 2) holds"),
        "{err}"
    );
    // Too many digits before the point, too.
    bad.values[9] = Value::Decimal { unscaled: 12_345_678_900, scale: 2 };
    let err = buffer.push(&Value::Struct(bad.clone()), Some(&schema)).unwrap_err();
    assert!(err.message.starts_with("123456789.00 has more digits than Decimal(10, 2) holds"), "{err}");

    // A list element fails after the list's first elements and every field before it.
    bad.values[9] = Value::Decimal { unscaled: 1, scale: 2 };
    bad.values[16] = Value::Array(vec![Value::Int64(7), "x".into()]);
    let err = buffer.push(&Value::Struct(bad.clone()), Some(&schema)).unwrap_err();
    assert_eq!(err.path, "tags[1]");
    assert!(err.message.contains("cannot be stored as Int64"), "{err}");

    // A map value, and text that is not UTF-8.
    bad.values[16] = Value::Array(vec![]);
    bad.values[17] = Value::Map(vec![("k".into(), "no".into())]);
    assert_eq!(buffer.push(&Value::Struct(bad.clone()), Some(&schema)).unwrap_err().path, "attrs[0].value");
    bad.values[17] = Value::Map(vec![]);
    bad.values[7] = Value::Bytes(vec![0xff, 0xfe].into());
    assert_eq!(buffer.push(&Value::Struct(bad.clone()), Some(&schema)).unwrap_err().path, "text");

    assert_eq!((buffer.rows(), buffer.buffered_bytes()), (rows, bytes));
    bad.values[7] = "fixed".into();
    buffer.push(&Value::Struct(bad), Some(&schema)).unwrap();
    let batch = finish(&mut buffer);
    assert_eq!(batch.num_rows(), 2);
    assert_eq!(strings(batch.column_by_name("text").unwrap()), vec![Some("row 1".into()), Some("fixed".into())]);
    let tags = batch.column_by_name("tags").unwrap().as_list::<i32>().clone();
    assert_eq!(tags.value_offsets(), &[0, 3, 3]);
    assert_eq!(
        batch.column_by_name("amount").unwrap().as_primitive::<Decimal128Type>().values().to_vec(),
        vec![1_234_567, 1]
    );
}

#[test]
fn nulls_take_defaults_and_required_fields_need_a_value() {
    let schema = Schema::structure([
        ("id", prim(SchemaType::Int64)),
        ("n", Schema::new(SchemaType::Int32).with_default(Value::Int32(7)).into_ref()),
    ])
    .into_ref();
    let mut buffer = RowBuffer::new(Some(schema.clone()), Compatibility::None);
    buffer.push(&record(&schema, vec![Value::Int64(1), Value::Null]), Some(&schema)).unwrap();
    let err = buffer.push(&record(&schema, vec![Value::Null, Value::Int32(1)]), Some(&schema)).unwrap_err();
    assert_eq!(err.path, "id");
    assert!(err.message.contains("requires a value"), "{err}");
    let err = buffer.push(&record(&schema, vec![Value::Int64(2), Value::Int64(1 << 40)]), Some(&schema)).unwrap_err();
    assert_eq!(err.to_string(), "field `n`: 1099511627776 is out of range for Int32");
    let err = buffer.push(&Value::Null, Some(&schema)).unwrap_err();
    assert!(err.message.contains("tombstone"), "{err}");
    let batch = finish(&mut buffer);
    assert_eq!(batch.column_by_name("n").unwrap().as_primitive::<Int32Type>().value(0), 7);
}

#[test]
fn fields_read_from_datums_make_the_rows_their_values_make() {
    use sluice_api::json::{FieldValue, ScalarValue};
    let schema = Schema::structure([
        ("id", prim(SchemaType::Int64)),
        ("name", prim(SchemaType::String)),
        ("n", Schema::new(SchemaType::Int32).with_default(Value::Int32(7)).into_ref()),
        ("note", Schema::new(SchemaType::String).optional().into_ref()),
        ("ts", Schema::timestamp().into_ref()),
        ("ok", prim(SchemaType::Boolean)),
    ])
    .into_ref();
    let row = |i: i64| -> Vec<(&'static str, FieldValue<'static>)> {
        vec![
            ("id", FieldValue::Scalar(ScalarValue::Int64(i))),
            ("name", FieldValue::Text(["ann", "bo", "c\u{e9}"][i as usize % 3])),
            ("n", FieldValue::Scalar(if i % 2 == 0 { ScalarValue::Null } else { ScalarValue::Int32(i as i32) })),
            ("note", if i % 3 == 0 { FieldValue::Scalar(ScalarValue::Null) } else { FieldValue::Text("x") }),
            ("ts", FieldValue::Scalar(ScalarValue::Timestamp(1_758_189_600_000 + i))),
            ("ok", FieldValue::Scalar(ScalarValue::Boolean(i % 2 == 0))),
        ]
    };
    let as_value = |fields: &[(&str, FieldValue<'_>)]| {
        record(&schema, fields.iter().map(|(_, v)| v.to_value().unwrap()).collect())
    };
    let (mut from_fields, mut from_values) = (
        RowBuffer::new(Some(schema.clone()), Compatibility::None),
        RowBuffer::new(Some(schema.clone()), Compatibility::None),
    );
    for i in 0..10 {
        assert_eq!(from_fields.push_fields(&row(i), &schema), Ok(true), "row {i} goes in field by field");
        from_values.push(&as_value(&row(i)), Some(&schema)).unwrap();
    }
    // A required field without a value fails both alike, and leaves the buffer as it was.
    let mut bad = row(10);
    bad[0].1 = FieldValue::Scalar(ScalarValue::Null);
    let err = from_fields.push_fields(&bad, &schema).unwrap_err();
    assert_eq!(Err(err), from_values.push(&as_value(&bad), Some(&schema)));
    assert_eq!((from_fields.rows(), from_fields.buffered_bytes()), (from_values.rows(), from_values.buffered_bytes()));
    // Another schema (even an equal one), or fields not of the schema's shape: the value decides.
    let other = Schema::structure(schema.fields.iter().map(|f| (f.name.clone(), f.schema.clone()))).into_ref();
    assert_eq!(from_fields.push_fields(&row(11), &other), Ok(false));
    assert_eq!(from_fields.push_fields(&row(11)[..5], &schema), Ok(false));
    assert_eq!(from_fields.rows(), 10);
    assert_eq!(finish(&mut from_fields), finish(&mut from_values));
}

#[test]
fn a_schema_that_is_not_a_struct_is_the_column_value() {
    let schema = Schema::new(SchemaType::String).optional().into_ref();
    let mut buffer = RowBuffer::new(Some(schema.clone()), Compatibility::None);
    buffer.push(&"hello".into(), Some(&schema)).unwrap();
    buffer.push(&Value::Int32(5), Some(&schema)).unwrap();
    let batch = finish(&mut buffer);
    assert_eq!(strings(batch.column_by_name("value").unwrap()), vec![Some("hello".into()), Some("5".into())]);
}

#[test]
fn an_unsupported_schema_fails_its_records_naming_the_field() {
    let schema = Schema::structure([("e", Schema::structure(Vec::<(String, SchemaRef)>::new()).into_ref())]).into_ref();
    let mut buffer = RowBuffer::new(Some(schema.clone()), Compatibility::None);
    let err = buffer.push(&record(&schema, vec![Value::Null]), Some(&schema)).unwrap_err();
    assert_eq!(err.path, "e");
    assert_eq!(buffer.rows(), 0);
}

fn versions(with_numbers: bool) -> (SchemaRef, SchemaRef) {
    let mut v1 = Schema::structure([
        ("id", prim(SchemaType::Int64)),
        ("gone", Schema::new(SchemaType::String).optional().into_ref()),
    ]);
    let mut v2 = Schema::structure([
        ("id", prim(SchemaType::Int64)),
        ("note", Schema::new(SchemaType::String).optional().into_ref()),
        ("n", Schema::new(SchemaType::Int32).with_default(Value::Int32(-1)).into_ref()),
    ]);
    if with_numbers {
        v1.version = Some(1);
        v2.version = Some(2);
    }
    (v1.into_ref(), v2.into_ref())
}

#[test]
fn backward_projects_interleaved_versions_into_one_file() {
    for with_numbers in [true, false] {
        let (v1, v2) = versions(with_numbers);
        let mut buffer = RowBuffer::new(Some(v1.clone()), Compatibility::Backward);
        let rows: Vec<(SchemaRef, Value)> = vec![
            (v1.clone(), record(&v1, vec![Value::Int64(1), "old".into()])),
            (v2.clone(), record(&v2, vec![Value::Int64(2), "new".into(), Value::Int32(20)])),
            (v1.clone(), record(&v1, vec![Value::Int64(3), Value::Null])),
            (v2.clone(), record(&v2, vec![Value::Int64(4), Value::Null, Value::Int32(40)])),
        ];
        for (schema, value) in &rows {
            assert!(buffer.admits(Some(schema)));
            buffer.push(value, Some(schema)).unwrap();
        }
        assert!(!buffer.admits(None), "schemaless records need their own file");
        assert_eq!(*buffer.arrow_schema(), to_arrow_schema(&v2).unwrap(), "the file takes the newest schema");
        let batch = finish(&mut buffer);
        let ids = batch.column_by_name("id").unwrap().as_primitive::<Int64Type>().values().to_vec();
        assert_eq!(ids, vec![1, 2, 3, 4]);
        let notes = strings(batch.column_by_name("note").unwrap());
        assert_eq!(notes, vec![None, Some("new".into()), None, None]);
        let n = batch.column_by_name("n").unwrap().as_primitive::<Int32Type>().values().to_vec();
        assert_eq!(n, vec![-1, 20, -1, 40], "v1 rows get the default");
        assert!(batch.column_by_name("gone").is_none());
    }
}

#[test]
fn a_newer_version_whose_record_fails_leaves_the_file_on_the_old_one() {
    let (v1, v2) = versions(true);
    let mut buffer = RowBuffer::new(Some(v1.clone()), Compatibility::Backward);
    buffer.push(&record(&v1, vec![Value::Int64(1), "old".into()]), Some(&v1)).unwrap();
    let bad = record(&v2, vec![Value::Int64(2), Value::Null, "many".into()]);
    assert_eq!(buffer.push(&bad, Some(&v2)).unwrap_err().path, "n");
    assert_eq!(*buffer.arrow_schema(), to_arrow_schema(&v1).unwrap());
    assert_eq!(buffer.rows(), 1);
    let batch = finish(&mut buffer);
    assert_eq!(strings(batch.column_by_name("gone").unwrap()), vec![Some("old".into())]);
}

#[test]
fn forward_keeps_the_older_schema() {
    let (v1, v2) = versions(true);
    let mut buffer = RowBuffer::new(Some(v2.clone()), Compatibility::Forward);
    buffer.push(&record(&v2, vec![Value::Int64(2), "new".into(), Value::Int32(20)]), Some(&v2)).unwrap();
    assert!(buffer.admits(Some(&v1)));
    buffer.push(&record(&v1, vec![Value::Int64(1), "old".into()]), Some(&v1)).unwrap();
    buffer.push(&record(&v2, vec![Value::Int64(3), "dropped".into(), Value::Int32(30)]), Some(&v2)).unwrap();
    assert_eq!(*buffer.arrow_schema(), to_arrow_schema(&v1).unwrap());
    let batch = finish(&mut buffer);
    assert_eq!(batch.column_by_name("id").unwrap().as_primitive::<Int64Type>().values().to_vec(), vec![2, 1, 3]);
    assert_eq!(strings(batch.column_by_name("gone").unwrap()), vec![None, Some("old".into()), None]);
}

#[test]
fn none_needs_a_new_file_for_another_version() {
    let (v1, v2) = versions(true);
    let mut buffer = RowBuffer::new(Some(v1.clone()), Compatibility::None);
    assert!(buffer.admits(Some(&v2)), "an empty buffer takes any schema");
    buffer.push(&record(&v1, vec![Value::Int64(1), Value::Null]), Some(&v1)).unwrap();
    // An equal schema in another allocation is the same schema.
    let copy = Arc::new((*v1).clone());
    assert!(buffer.admits(Some(&copy)));
    buffer.push(&record(&copy, vec![Value::Int64(2), Value::Null]), Some(&copy)).unwrap();
    assert!(!buffer.admits(Some(&v2)));
    let err = buffer.push(&record(&v2, vec![Value::Int64(3), Value::Null, Value::Int32(0)]), Some(&v2)).unwrap_err();
    assert!(err.message.contains("NONE"), "{err}");
    assert_eq!(buffer.rows(), 2);
    // After `finish` the empty buffer starts over with whatever comes.
    finish(&mut buffer);
    buffer.push(&record(&v2, vec![Value::Int64(3), Value::Null, Value::Int32(0)]), Some(&v2)).unwrap();
    assert_eq!(*buffer.arrow_schema(), to_arrow_schema(&v2).unwrap());
}

#[test]
fn incompatible_versions_are_not_admitted() {
    let (v1, _) = versions(true);
    let mut changed = (*v1).clone();
    changed.fields[0].schema = prim(SchemaType::String);
    changed.version = Some(2);
    let changed = changed.into_ref();
    let mut buffer = RowBuffer::new(Some(v1.clone()), Compatibility::Full);
    buffer.push(&record(&v1, vec![Value::Int64(1), Value::Null]), Some(&v1)).unwrap();
    assert!(!buffer.admits(Some(&changed)));
    assert!(buffer.push(&record(&changed, vec!["1".into(), Value::Null]), Some(&changed)).is_err());
}

#[test]
fn schemaless_json_widens_adds_and_renders_conflicts() {
    let mut buffer = RowBuffer::new(None, Compatibility::None);
    let records = [
        r#"{"id": 1, "price": 10, "tags": ["a"], "user": {"name": "ann"}, "mixed": "text"}"#,
        r#"{"id": 2, "price": 10.5, "user": {"name": "bob", "age": 7}, "late": true, "mixed": {"k": [1, 2]}}"#,
        r#"{"id": 3, "tags": [], "mixed": 5, "always_null": null, "empty": {}}"#,
    ];
    for text in records {
        assert!(buffer.admits(None));
        buffer.push(&json(text), None).unwrap();
    }
    let batch = finish(&mut buffer);
    let schema = batch.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, vec!["id", "price", "tags", "user", "mixed", "late", "always_null", "empty"]);
    assert!(schema.fields().iter().all(|f| f.is_nullable()));

    assert_eq!(batch.column_by_name("id").unwrap().as_primitive::<Int64Type>().values().to_vec(), vec![1, 2, 3]);
    let price = batch.column_by_name("price").unwrap().as_primitive::<Float64Type>().clone();
    assert_eq!((price.value(0), price.value(1), price.is_null(2)), (10.0, 10.5, true));
    let tags = batch.column_by_name("tags").unwrap().as_list::<i32>().clone();
    assert_eq!((tags.value_offsets(), tags.is_null(1)), (&[0, 1, 1, 1][..], true));
    let user = batch.column_by_name("user").unwrap().as_struct().clone();
    assert_eq!(strings(user.column_by_name("name").unwrap())[1], Some("bob".into()));
    let age = user.column_by_name("age").unwrap().as_primitive::<Int64Type>().clone();
    assert_eq!((age.is_null(0), age.value(1)), (true, 7));
    assert!(user.is_null(2));
    assert_eq!(
        strings(batch.column_by_name("mixed").unwrap()),
        vec![Some(r#""text""#.into()), Some(r#"{"k":[1,2]}"#.into()), Some("5".into())]
    );
    let late = batch.column_by_name("late").unwrap().as_boolean().clone();
    assert_eq!((late.is_null(0), late.value(1), late.is_null(2)), (true, true, true));
    assert_eq!(batch.column_by_name("always_null").unwrap().null_count(), 3);
    assert_eq!(strings(batch.column_by_name("empty").unwrap()), vec![None, None, Some("{}".into())]);

    // The next file infers its own schema.
    buffer.push(&json(r#"{"other": "x"}"#), None).unwrap();
    assert_eq!(buffer.arrow_schema().fields().len(), 1);
}

#[test]
fn schemaless_conflicts_inside_lists_and_nested_objects_become_json() {
    let mut buffer = RowBuffer::new(None, Compatibility::None);
    buffer.push(&json(r#"{"a": [1, 2.5], "o": {"x": 1, "y": null}}"#), None).unwrap();
    buffer.push(&json(r#"{"a": [true], "o": "flat"}"#), None).unwrap();
    let batch = finish(&mut buffer);
    let a = batch.column_by_name("a").unwrap().as_list::<i32>().clone();
    assert_eq!(strings(a.values()), vec![Some("1".into()), Some("2.5".into()), Some("true".into())]);
    assert_eq!(strings(batch.column_by_name("o").unwrap()), vec![Some(r#"{"x":1}"#.into()), Some(r#""flat""#.into())]);
}

#[test]
fn bare_schemaless_values_go_to_the_value_column() {
    let mut buffer = RowBuffer::new(None, Compatibility::None);
    buffer.push(&json(r#""just text""#), None).unwrap();
    buffer.push(&json("42"), None).unwrap();
    buffer.push(&json(r#"{"value": "x", "k": 1}"#), None).unwrap();
    let batch = finish(&mut buffer);
    assert_eq!(
        strings(batch.column_by_name("value").unwrap()),
        vec![Some(r#""just text""#.into()), Some("42".into()), Some(r#""x""#.into())]
    );
    assert_eq!(batch.column_by_name("k").unwrap().null_count(), 2);
}

#[test]
fn a_record_of_the_other_kind_needs_an_empty_buffer() {
    let schema = Schema::structure([("id", prim(SchemaType::Int64))]).into_ref();
    let mut buffer = RowBuffer::new(None, Compatibility::Backward);
    assert!(buffer.admits(Some(&schema)));
    buffer.push(&record(&schema, vec![Value::Int64(1)]), Some(&schema)).unwrap();
    assert!(!buffer.admits(None));
    assert!(buffer.push(&json(r#"{"id": 2}"#), None).is_err());
    assert_eq!(finish(&mut buffer).num_rows(), 1);
}

#[test]
fn buffered_bytes_follow_the_data() {
    let mut buffer = RowBuffer::new(None, Compatibility::None);
    let text = "x".repeat(1000);
    for i in 0..100 {
        buffer.push(&json(&format!(r#"{{"i": {i}, "s": "{text}"}}"#)), None).unwrap();
    }
    let bytes = buffer.buffered_bytes();
    assert!((100 * 1000..100 * 1100).contains(&bytes), "{bytes}");
    // Widening re-counts exactly.
    buffer.push(&json(r#"{"i": 0.5}"#), None).unwrap();
    assert!((bytes..bytes + 100).contains(&buffer.buffered_bytes()));
}

#[test]
fn the_buffer_can_move_between_tasks() {
    fn send<T: Send + Sync>() {}
    send::<RowBuffer>();
    let buffer = RowBuffer::new(None, Compatibility::Full);
    assert!(format!("{buffer:?}").contains("rows: 0"));
}

#[test]
fn fields_read_from_json_text_give_the_rows_their_parsed_values_give() {
    // Records as a JSON topic brings them: keys appearing and disappearing, numbers widening,
    // conflicts turning columns into JSON text (and text arriving after that), nested values,
    // duplicate keys, and records that are not plain objects (read as values instead).
    let records = [
        r#"{"id": 1, "price": 10, "tags": ["a"], "user": {"name": "ann"}, "mixed": "text", "s": "é"}"#,
        r#"{"id": 2, "price": 10.5, "user": {"name": "bob", "age": 7}, "late": true, "mixed": {"k": [1, 2]}}"#,
        r#"{"id": 3, "tags": [], "mixed": 5, "always_null": null, "empty": {}, "s": null}"#,
        r#"{"id": 4, "mixed": "after the conflict", "flag": "yes", "z": -0, "big": 123456789012345678, "dup": "first", "dup": 2}"#,
        r#"{"id": 5, "flag": false, "dup": "third", "s": "tab\tand \"quotes\""}"#,
        r#"{"id": 6, "user": "flat now", "n": 1.5e3, "s": "\u00e9"}"#,
        r#"{}"#,
        r#"  {"id" : 7 , "late" : false }  "#,
        r#"[1, 2]"#,
        r#""bare text""#,
        r#"{"id": 8, "price": -1, "tags": ["b", null, "c"], "user": {"name": null}}"#,
    ];
    let mut by_value = RowBuffer::new(None, Compatibility::None);
    let mut by_text = RowBuffer::new(None, Compatibility::None);
    let mut plain = 0;
    for text in records {
        let value = sluice_api::json::parse(text.as_bytes()).unwrap();
        by_value.push(&value, None).unwrap();
        let mut fields = Vec::new();
        match sluice_api::json::ObjectFields::read_all(text.as_bytes(), &mut fields) {
            Ok(()) => {
                plain += 1;
                by_text.push_json_fields(&fields).unwrap();
            }
            Err(_) => by_text.push(&value, None).unwrap(),
        }
        assert_eq!(by_text.buffered_bytes(), by_value.buffered_bytes(), "after {text}");
        assert_eq!(by_text.arrow_schema(), by_value.arrow_schema(), "after {text}");
    }
    assert_eq!(plain, 7, "most records were read from their text");
    assert_eq!(finish(&mut by_text), finish(&mut by_value));
}

#[test]
fn json_fields_start_a_schemaless_file_only_in_an_empty_buffer() {
    let schema = Schema::structure([("id", prim(SchemaType::Int64))]).into_ref();
    let mut buffer = RowBuffer::new(Some(schema.clone()), Compatibility::Backward);
    let mut fields = Vec::new();
    sluice_api::json::ObjectFields::read_all(br#"{"id": 1, "name": "a"}"#, &mut fields).unwrap();
    buffer.push_json_fields(&fields).unwrap();
    assert!(buffer.admits(None));
    assert!(buffer.push(&record(&schema, vec![Value::Int64(2)]), Some(&schema)).is_err());
    let batch = finish(&mut buffer);
    assert_eq!(strings(batch.column_by_name("name").unwrap()), vec![Some("a".into())]);

    buffer.push(&record(&schema, vec![Value::Int64(3)]), Some(&schema)).unwrap();
    assert!(buffer.push_json_fields(&fields).is_err(), "a file of records with a schema");
    assert_eq!(finish(&mut buffer).num_rows(), 1);
}
