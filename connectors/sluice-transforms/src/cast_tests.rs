//! Unit tests for `Cast`, with the cases of Kafka's CastTest.

use super::*;
use crate::test_support::*;
use SchemaType::*;

fn cast(spec: &str) -> Cast {
    Cast::new(&cfg(&[("spec", spec)]), Side::Value).unwrap()
}

fn apply(t: &Cast, schema: Option<SchemaRef>, value: Value) -> SinkRecord {
    t.apply(value_record(schema, value)).unwrap().unwrap()
}

#[test]
fn config_errors_name_spec() {
    for spec in ["", "foo:faketype", "int8,string", "bytes", "a:b:c"] {
        let err = Cast::new(&cfg(&[("spec", spec)]), Side::Value).err().unwrap();
        assert_eq!(err.config_key(), Some("spec"), "{spec}");
    }
    let err = Cast::new(&cfg(&[("spec", "a:array")]), Side::Value).err().unwrap();
    assert!(err.to_string().contains("does not support casting to ARRAY"));
}

#[test]
fn whole_key_with_schema() {
    let t = Cast::new(&cfg(&[("spec", "int8")]), Side::Key).unwrap();
    let r = t.apply(record(Some(prim(Int32)), Value::Int32(42), None, Value::Null)).unwrap().unwrap();
    assert_eq!(r.key_schema.unwrap().schema_type, Int8);
    assert_eq!(r.key, Value::Int8(42));
}

#[test]
fn whole_value_with_schema_to_every_type() {
    let cases = [
        ("int8", Value::Int8(42)),
        ("int16", Value::Int16(42)),
        ("int32", Value::Int32(42)),
        ("int64", Value::Int64(42)),
        ("float32", Value::Float32(42.0)),
        ("float64", Value::Float64(42.0)),
        ("boolean", Value::Boolean(true)),
        ("string", Value::from("42")),
    ];
    for (spec, expected) in cases {
        let r = apply(&cast(spec), Some(prim(Int32)), Value::Int32(42));
        assert_eq!(r.value, expected, "{spec}");
        assert_eq!(r.value_schema.unwrap().schema_type.connect_name(), expected.type_name());
    }
    assert_eq!(apply(&cast("boolean"), Some(prim(Int32)), Value::Int32(0)).value, Value::Boolean(false));
    assert_eq!(apply(&cast("boolean"), None, Value::from("TRUE")).value, Value::Boolean(true));
    assert_eq!(apply(&cast("boolean"), None, Value::from("yes")).value, Value::Boolean(false));
}

#[test]
fn whole_value_default_is_cast_and_narrowing_follows_java() {
    let schema = Schema::new(Float32).with_default(Value::Float32(-42.125)).into_ref();
    let r = apply(&cast("int32"), Some(schema), Value::Float32(42.125));
    assert_eq!(r.value, Value::Int32(42));
    assert_eq!(r.value_schema.unwrap().default, Some(Value::Int32(-42)));
    assert_eq!(apply(&cast("int8"), None, Value::Int64(300)).value, Value::Int8(44));
    assert_eq!(apply(&cast("int32"), None, Value::Float64(1e20)).value, Value::Int32(i32::MAX));
    assert_eq!(apply(&cast("int64"), None, Value::from("-17")).value, Value::Int64(-17));
}

#[test]
fn whole_value_schemaless_and_failures() {
    assert_eq!(apply(&cast("int8"), None, Value::Int64(42)).value, Value::Int8(42));
    assert_eq!(apply(&cast("string"), None, Value::Float64(1.5)).value, Value::from("1.5"));
    let err = cast("int8").apply(value_record(None, Value::Array(vec![Value::from("foo")]))).unwrap_err();
    assert!(err.to_string().contains("does not support casting from ARRAY"));
    let err = cast("int8").apply(value_record(None, Value::from("300"))).unwrap_err();
    assert_eq!(err.to_string(), "Value (300) was out of range for requested data type");
    let err = cast("int32").apply(value_record(Some(prim(Bytes)), Value::Bytes(vec![1].into()))).unwrap_err();
    assert!(matches!(err, ConnectError::Data { .. }));
}

#[test]
fn null_value_passes_through_unchanged() {
    let r = apply(&cast("int8"), Some(opt(Int32)), Value::Null);
    assert_eq!(r.value, Value::Null);
    assert_eq!(r.value_schema, Some(opt(Int32)));
}

#[test]
fn logical_values_to_primitives() {
    let schema = struct_schema(&[
        ("date_to_int32", Schema::date().into_ref()),
        ("timestamp_to_int64", Schema::timestamp().into_ref()),
        ("time_to_int64", Schema::time().into_ref()),
        ("decimal_to_int32", Schema::decimal(0).into_ref()),
        ("timestamp_to_float64", Schema::timestamp().into_ref()),
        ("null_timestamp_to_int32", Schema::timestamp().optional().into_ref()),
    ]);
    let value = st(
        &schema,
        vec![
            Value::Date(1),
            Value::Timestamp(0),
            Value::Time(1),
            Value::Decimal { unscaled: i32::MAX as i128 + 1, scale: 0 },
            Value::Timestamp(i64::MAX),
            Value::Null,
        ],
    );
    let t = cast("date_to_int32:int32,timestamp_to_int64:int64,time_to_int64:int64,decimal_to_int32:int32,timestamp_to_float64:float64,null_timestamp_to_int32:int32");
    let r = apply(&t, Some(schema), value);
    let s = as_struct(&r.value);
    assert_eq!(
        s.values,
        vec![
            Value::Int32(1),
            Value::Int64(0),
            Value::Int64(1),
            Value::Int32(i32::MIN),
            Value::Float64(9.223372036854776E18),
            Value::Null
        ]
    );
    let types: Vec<_> = s.schema.fields.iter().map(|f| f.schema.schema_type).collect();
    assert_eq!(types, vec![Int32, Int64, Int64, Int32, Float64, Int32]);
    assert!(s.schema.fields.iter().all(|f| f.schema.name.is_none()));
}

#[test]
fn logical_values_to_strings() {
    let schema = struct_schema(&[
        ("date", Schema::date().into_ref()),
        ("decimal", Schema::decimal(0).into_ref()),
        ("time", Schema::time().into_ref()),
        ("timestamp", Schema::timestamp().into_ref()),
    ]);
    let value = st(
        &schema,
        vec![
            Value::Date(1),
            Value::Decimal { unscaled: 1982, scale: 0 },
            Value::Time(3_600_000),
            Value::Timestamp(86_400_001),
        ],
    );
    let r = apply(&cast("date:string,decimal:string,time:string,timestamp:string"), Some(schema), value);
    assert_eq!(
        as_struct(&r.value).values,
        vec![
            Value::from("1970-01-02"),
            Value::from("1982"),
            Value::from("01:00:00.000Z"),
            Value::from("1970-01-02T00:00:00.001Z")
        ]
    );
    let whole = apply(&cast("string"), Some(Schema::decimal(0).into_ref()), Value::Decimal { unscaled: 42, scale: 0 });
    assert_eq!(whole.value, Value::from("42"));
    assert_eq!(whole.value_schema.unwrap().name, None);
}

#[test]
fn fields_with_schema() {
    let schema = struct_schema(&[
        ("int8", prim(Int8)),
        ("int16", opt(Int16)),
        ("int32", Schema::new(Int32).with_default(Value::Int32(2)).into_ref()),
        ("int64", prim(Int64)),
        ("float32", prim(Float32)),
        ("float64", Schema::new(Float64).with_default(Value::Float64(-1.125)).into_ref()),
        ("boolean", prim(Boolean)),
        ("string", prim(String)),
        ("optional", opt(Float32)),
        ("timestamp", Schema::timestamp().into_ref()),
        ("bytes", prim(Bytes)),
    ]);
    let value = st(
        &schema,
        vec![
            Value::Int8(8),
            Value::Int16(16),
            Value::Int32(32),
            Value::Int64(64),
            Value::Float32(32.0),
            Value::Float64(-64.0),
            Value::Boolean(true),
            Value::from("42"),
            Value::Null,
            Value::Timestamp(0),
            Value::Bytes(vec![0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x10].into()),
        ],
    );
    let t = cast("int8:int16,int16:int32,int32:int64,int64:boolean,float32:float64,float64:boolean,boolean:int8,string:int32,optional:int32,bytes:string");
    let r = apply(&t, Some(schema.clone()), value.clone());
    let s = as_struct(&r.value);
    assert_eq!(
        s.values,
        vec![
            Value::Int16(8),
            Value::Int32(16),
            Value::Int64(32),
            Value::Boolean(true),
            Value::Float64(32.0),
            Value::Boolean(true),
            Value::Int8(1),
            Value::Int32(42),
            Value::Null,
            Value::Timestamp(0),
            Value::from("/ty6mHZUMhA="),
        ]
    );
    let f = |n: &str| s.schema.field(n).unwrap().schema.clone();
    assert!(f("int16").optional);
    assert_eq!(f("int32").default, Some(Value::Int64(2)));
    assert_eq!(f("float64").default, Some(Value::Boolean(true)));
    assert_eq!(f("optional").schema_type, Int32);
    assert!(f("optional").optional);
    assert_eq!(f("timestamp"), Schema::timestamp().into_ref());
    // The updated schema is built once per input schema.
    let again = apply(&t, Some(schema), value);
    assert!(std::sync::Arc::ptr_eq(r.value_schema.as_ref().unwrap(), again.value_schema.as_ref().unwrap()));
}

#[test]
fn fields_schemaless() {
    let value = map(&[
        ("int8", Value::Int8(8)),
        ("int16", Value::Int16(16)),
        ("int32", Value::Int32(32)),
        ("int64", Value::Int64(64)),
        ("float32", Value::Float32(32.0)),
        ("float64", Value::Float64(-64.0)),
        ("boolean", Value::Boolean(true)),
        ("string", Value::from("42")),
    ]);
    let t = cast("int8:int16,int16:int32,int32:int64,int64:boolean,float32:float64,float64:boolean,boolean:int8,string:int32,absent:int8");
    let r = apply(&t, None, value);
    assert_eq!(r.value_schema, None);
    assert_eq!(
        r.value,
        map(&[
            ("int8", Value::Int16(8)),
            ("int16", Value::Int32(16)),
            ("int32", Value::Int64(32)),
            ("int64", Value::Boolean(true)),
            ("float32", Value::Float64(32.0)),
            ("float64", Value::Boolean(true)),
            ("boolean", Value::Int8(1)),
            ("string", Value::Int32(42)),
        ])
    );
}

#[test]
fn replace_null_with_default_false_keeps_nulls() {
    let schema = struct_schema(&[("n", Schema::new(Int32).optional().with_default(Value::Int32(7)).into_ref())]);
    let keep = Cast::new(&cfg(&[("spec", "n:int64"), ("replace.null.with.default", "false")]), Side::Value).unwrap();
    assert_eq!(get(&apply(&keep, Some(schema.clone()), st(&schema, vec![Value::Null])).value, "n"), &Value::Null);
    let fill = cast("n:int64");
    assert_eq!(get(&apply(&fill, Some(schema.clone()), st(&schema, vec![Value::Null])).value, "n"), &Value::Int64(7));
}
