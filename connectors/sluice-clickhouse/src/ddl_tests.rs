//! Unit tests of `ddl`.

use std::sync::Arc;

use sluice_api::{SchemaRef, Struct};

use super::*;

fn old() -> ServerVersion {
    ServerVersion::parse("18.16.1").unwrap()
}

fn new() -> ServerVersion {
    ServerVersion::parse("26.9.2.1").unwrap()
}

fn s(t: SchemaType) -> Schema {
    Schema::new(t)
}

/// The type, as the DDL writes it.
fn ty(schema: Schema, version: ServerVersion) -> String {
    column_type_for_schema(&schema, &version).unwrap_or_else(|e| panic!("{e}")).to_string()
}

fn value_ty(value: Value, version: ServerVersion) -> String {
    column_type_for_value(&value, &version).unwrap_or_else(|e| panic!("{e}")).to_string()
}

fn json(pairs: Vec<(&str, Value)>) -> Value {
    Value::Map(pairs.into_iter().map(|(k, v)| (Value::from(k), v)).collect())
}

fn columns(cols: &[(&str, &str)]) -> Vec<ColumnDef> {
    cols.iter().map(|(n, t)| (n.to_string(), ClickhouseType::parse(t).unwrap())).collect()
}

fn shown(cols: &[ColumnDef]) -> Vec<String> {
    cols.iter().map(|(n, t)| format!("{n} {t}")).collect()
}

fn point() -> SchemaRef {
    Schema::structure([("x", s(SchemaType::Int32).into_ref()), ("label", s(SchemaType::String).optional().into_ref())])
        .into_ref()
}

#[test]
fn primitive_types_map_the_same_on_every_server() {
    for version in [old(), new()] {
        assert_eq!(ty(s(SchemaType::Int8), version), "Int8");
        assert_eq!(ty(s(SchemaType::Int16), version), "Int16");
        assert_eq!(ty(s(SchemaType::Int32), version), "Int32");
        assert_eq!(ty(s(SchemaType::Int64), version), "Int64");
        assert_eq!(ty(s(SchemaType::Float32), version), "Float32");
        assert_eq!(ty(s(SchemaType::Float64), version), "Float64");
        assert_eq!(ty(s(SchemaType::String), version), "String");
        assert_eq!(ty(s(SchemaType::Bytes), version), "String");
        assert_eq!(ty(Schema::time(), version), "Int32");
        assert_eq!(ty(s(SchemaType::String).optional(), version), "Nullable(String)");
        assert_eq!(ty(Schema::decimal(2), version), "Decimal(38, 2)");
    }
}

#[test]
fn newer_types_only_where_the_server_has_them() {
    assert_eq!(ty(s(SchemaType::Boolean), old()), "UInt8");
    assert_eq!(ty(s(SchemaType::Boolean), new()), "Bool");
    assert_eq!(ty(Schema::date(), old()), "Date");
    assert_eq!(ty(Schema::date(), new()), "Date32");
    assert_eq!(ty(Schema::timestamp(), old()), "DateTime");
    assert_eq!(ty(Schema::timestamp(), new()), "DateTime64(3)");
    assert_eq!(ty(Schema::timestamp().optional(), new()), "Nullable(DateTime64(3))");
    // Between the two: 21.11 has Date32 and DateTime64 but not Bool.
    let v = ServerVersion::parse("21.11.11.1").unwrap();
    assert_eq!(ty(s(SchemaType::Boolean), v), "UInt8");
    assert_eq!(ty(Schema::date(), v), "Date32");
}

#[test]
fn logical_names_count_only_on_their_physical_type() {
    let odd = s(SchemaType::String).named(logical::TIMESTAMP);
    assert_eq!(ty(odd, new()), "String");
    let odd = s(SchemaType::Int64).named(logical::DATE);
    assert_eq!(ty(odd, new()), "Int64");
}

#[test]
fn decimal_precision_comes_from_the_schema_and_is_capped_by_the_server() {
    let with = |p: &str| Schema::decimal(4).with_parameter(DECIMAL_PRECISION_PARAMETER, p);
    assert_eq!(ty(with("10"), old()), "Decimal(10, 4)");
    assert_eq!(ty(with("60"), new()), "Decimal(60, 4)");
    assert_eq!(ty(with("60"), old()), "Decimal(38, 4)");
    assert_eq!(ty(with("90"), new()), "Decimal(76, 4)");
    // A precision below the scale (a broken schema) still makes a valid type.
    assert_eq!(ty(with("2"), new()), "Decimal(4, 4)");
    assert_eq!(ty(Schema::decimal(0).with_parameter(DECIMAL_PRECISION_PARAMETER, "0"), new()), "Decimal(1, 0)");
    assert_eq!(ty(Schema::decimal(50), new()), "Decimal(50, 50)");
    let e = column_type_for_schema(&Schema::decimal(50), &old()).unwrap_err();
    assert!(e.to_string().contains("at most 38 digits"), "{e}");
    assert!(matches!(e, ConnectError::Data { .. }));
}

#[test]
fn arrays_hold_their_element_type_and_are_never_nullable() {
    let strings = Schema::array(s(SchemaType::String).into_ref());
    assert_eq!(ty(strings.clone(), old()), "Array(String)");
    assert_eq!(ty(strings.optional(), old()), "Array(String)");
    let optional_ints = Schema::array(s(SchemaType::Int32).optional().into_ref());
    assert_eq!(ty(optional_ints, new()), "Array(Nullable(Int32))");
    let nested = Schema::array(Schema::array(Schema::timestamp().into_ref()).optional().into_ref());
    assert_eq!(ty(nested, old()), "Array(Array(DateTime))");
    let mut broken = s(SchemaType::Array);
    broken.key_schema = None;
    assert!(column_type_for_schema(&broken, &new()).unwrap_err().to_string().contains("no element schema"));
}

#[test]
fn maps_are_maps_on_new_servers_and_json_on_old_ones() {
    let counts = Schema::map(s(SchemaType::String).into_ref(), s(SchemaType::Int64).optional().into_ref());
    assert_eq!(ty(counts.clone(), new()), "Map(String, Nullable(Int64))");
    assert_eq!(ty(counts.clone().optional(), new()), "Map(String, Nullable(Int64))");
    assert_eq!(ty(counts.clone(), old()), "String");
    assert_eq!(ty(counts.optional(), old()), "Nullable(String)");
    assert_eq!(ty(counts_by(s(SchemaType::Int32).optional()), new()), "Map(Int32, Nullable(Int64))");
    assert_eq!(ty(counts_by(Schema::date()), new()), "Map(Date32, Nullable(Int64))");
    // Keys ClickHouse cannot key a map by: the whole map is JSON.
    assert_eq!(ty(counts_by(s(SchemaType::Float64)), new()), "String");
    assert_eq!(ty(counts_by(Schema::decimal(2)), new()), "String");
    let just_before = ServerVersion::parse("21.7.11.3").unwrap();
    assert_eq!(ty(counts_by(s(SchemaType::String)), just_before), "String");
}

fn counts_by(key: Schema) -> Schema {
    Schema::map(key.into_ref(), s(SchemaType::Int64).optional().into_ref())
}

#[test]
fn structs_are_named_tuples_on_new_servers_and_json_on_old_ones() {
    let point = (*point()).clone();
    assert_eq!(ty(point.clone(), new()), "Tuple(x Int32, label Nullable(String))");
    assert_eq!(ty(point.clone().optional(), new()), "Tuple(x Int32, label Nullable(String))");
    assert_eq!(ty(point.clone(), old()), "String");
    assert_eq!(ty(point.clone().optional(), old()), "Nullable(String)");
    let odd_names = Schema::structure([("two words", s(SchemaType::Boolean).into_ref())]);
    assert_eq!(ty(odd_names, new()), "Tuple(`two words` Bool)");
    assert_eq!(ty(Schema::structure(Vec::<(String, SchemaRef)>::new()), new()), "String");
    let path = Schema::array(point.into_ref());
    assert_eq!(ty(path.clone(), new()), "Array(Tuple(x Int32, label Nullable(String)))");
    assert_eq!(ty(path, old()), "Array(String)");
}

#[test]
fn every_type_written_for_a_server_is_one_the_parser_reads_back() {
    let every = Schema::structure([
        ("b", s(SchemaType::Boolean).into_ref()),
        ("d", Schema::date().optional().into_ref()),
        ("ts", Schema::timestamp().into_ref()),
        ("dec", Schema::decimal(3).with_parameter(DECIMAL_PRECISION_PARAMETER, "12").into_ref()),
        ("m", Schema::map(s(SchemaType::String).into_ref(), point()).into_ref()),
        ("p", point()),
        ("a", Schema::array(point()).into_ref()),
    ]);
    for version in [old(), new()] {
        for field in &every.fields {
            let written = column_type_for_schema(&field.schema, &version).unwrap();
            assert_eq!(ClickhouseType::parse(&written.to_string()), Ok(written.clone()), "{}", field.name);
        }
    }
}

#[test]
fn a_struct_record_needs_a_column_per_field_in_order() {
    let schema: SchemaRef = Schema::structure([
        ("id", s(SchemaType::Int64).into_ref()),
        ("name", s(SchemaType::String).optional().into_ref()),
        ("tags", Schema::array(s(SchemaType::String).into_ref()).into_ref()),
    ])
    .into_ref();
    let record = Value::Struct(Struct { schema, values: vec![Value::Int64(1), Value::Null, Value::Array(vec![])] });
    let cols = columns_for_record(&record, &old()).unwrap();
    assert_eq!(shown(&cols), ["id Int64", "name Nullable(String)", "tags Array(String)"]);
}

#[test]
fn schemaless_values_are_inferred() {
    let v = new();
    assert_eq!(value_ty("x".into(), v), "Nullable(String)");
    assert_eq!(value_ty(Value::Int64(7), v), "Nullable(Int64)");
    assert_eq!(value_ty(Value::Int32(7), v), "Nullable(Int64)");
    assert_eq!(value_ty(Value::Float64(0.5), v), "Nullable(Float64)");
    assert_eq!(value_ty(Value::Boolean(true), v), "Nullable(Bool)");
    assert_eq!(value_ty(Value::Boolean(true), old()), "Nullable(UInt8)");
    assert_eq!(value_ty(Value::Null, v), "Nullable(String)");
    assert_eq!(value_ty(json(vec![("a", Value::Int64(1))]), v), "Nullable(String)");
    assert_eq!(value_ty(Value::Array(vec![Value::Null, Value::Int64(1)]), v), "Array(Nullable(Int64))");
    assert_eq!(value_ty(Value::Array(vec![]), v), "Array(Nullable(String))");
    let nested = Value::Array(vec![Value::Array(vec![]), Value::Array(vec!["a".into()])]);
    assert_eq!(value_ty(nested, v), "Array(Array(Nullable(String)))");
    assert_eq!(value_ty(Value::Array(vec![json(vec![])]), v), "Array(Nullable(String))");
    assert_eq!(value_ty(Value::Timestamp(0), old()), "Nullable(DateTime)");
    assert_eq!(value_ty(Value::Decimal { unscaled: 1, scale: 2 }, old()), "Nullable(Decimal(38, 2))");
    let point = Value::Struct(Struct { schema: point(), values: vec![Value::Int32(1), Value::Null] });
    assert_eq!(value_ty(point.clone(), v), "Tuple(x Int32, label Nullable(String))");
    assert_eq!(value_ty(point, old()), "Nullable(String)");
}

#[test]
fn schemaless_records_give_columns_from_their_first_informative_values() {
    let first = json(vec![
        ("user", "u1".into()),
        ("n", Value::Int64(1)),
        ("gone", Value::Null),
        ("later", Value::Null),
        ("user", Value::Int64(5)), // a repeated key: the first wins
    ]);
    let second = json(vec![("later", Value::Boolean(true)), ("n", Value::Float64(1.5)), ("new", Value::Array(vec![]))]);
    let cols = columns_for_records([&first, &second], &old()).unwrap();
    assert_eq!(
        shown(&cols),
        [
            "user Nullable(String)",
            "n Nullable(Float64)",
            "gone Nullable(String)",
            "later Nullable(UInt8)",
            "new Array(Nullable(String))"
        ]
    );
    // Alone, the first record says what it can.
    let cols = columns_for_record(&first, &old()).unwrap();
    assert_eq!(
        shown(&cols)[..4],
        ["user Nullable(String)", "n Nullable(Int64)", "gone Nullable(String)", "later Nullable(String)"]
    );
    // A later string does not narrow or change what an integer started.
    let third = json(vec![("n", "one".into())]);
    let cols = columns_for_records([&json(vec![("n", Value::Int64(1))]), &third], &old()).unwrap();
    assert_eq!(shown(&cols), ["n Nullable(Int64)"]);
}

#[test]
fn records_that_are_not_objects_have_no_columns() {
    let e = columns_for_record(&Value::Int64(3), &old()).unwrap_err();
    assert!(e.to_string().contains("The record value is a int64"), "{e}");
    let keyed_by_numbers = Value::Map(vec![(Value::Int32(1), "a".into())]);
    assert!(columns_for_record(&keyed_by_numbers, &old()).unwrap().is_empty());
}

#[test]
fn create_adds_the_coordinate_columns_and_orders_by_them() {
    let cols = columns(&[("user", "Nullable(String)"), ("n", "Int64")]);
    let key = ["_topic".to_owned(), "_partition".to_owned(), "_offset".to_owned()];
    assert_eq!(
        create_table_sql("default", "events", &cols, &key, &old()).unwrap(),
        "CREATE TABLE IF NOT EXISTS `default`.`events` (`user` Nullable(String), `n` Int64, `_topic` String, \
         `_partition` Int32, `_offset` Int64) ENGINE = MergeTree ORDER BY (`_topic`, `_partition`, `_offset`)"
    );
    let sql = create_table_sql("default", "events", &cols, &key, &new()).unwrap();
    assert!(sql.contains("`_topic` LowCardinality(String)"), "{sql}");
}

#[test]
fn key_columns_are_not_nullable_and_must_exist() {
    let cols = columns(&[("user", "Nullable(String)"), ("n", "Nullable(Int64)"), ("_topic", "Nullable(String)")]);
    let sql = create_table_sql("db", "t", &cols, &["user".to_owned()], &new()).unwrap();
    assert_eq!(
        sql,
        "CREATE TABLE IF NOT EXISTS `db`.`t` (`user` String, `n` Nullable(Int64), `_topic` LowCardinality(String), \
         `_partition` Int32, `_offset` Int64) ENGINE = MergeTree ORDER BY (`user`)"
    );
    let sql = create_table_sql("db", "t", &cols, &[], &old()).unwrap();
    assert!(sql.ends_with("ORDER BY tuple()"), "{sql}");
    let e = create_table_sql("db", "t", &cols, &["nope".to_owned()], &old()).unwrap_err();
    assert_eq!(e.config_key(), Some("auto.create.order.by"));
    assert!(e.to_string().contains("`nope` is not a column"), "{e}");
    assert!(e.to_string().contains("user, n, _topic, _partition, _offset"), "{e}");
}

#[test]
fn identifiers_are_quoted_everywhere() {
    let cols = columns(&[("we`ird\\name", "String")]);
    let sql = create_table_sql("my db", "t`1", &cols, &["we`ird\\name".to_owned()], &old()).unwrap();
    assert!(sql.starts_with("CREATE TABLE IF NOT EXISTS `my db`.`t\\`1` (`we\\`ird\\\\name` String,"), "{sql}");
    assert!(sql.ends_with("ORDER BY (`we\\`ird\\\\name`)"), "{sql}");
    let alter = add_columns_sql("my db", "t`1", &cols, &new());
    assert_eq!(alter, ["ALTER TABLE `my db`.`t\\`1` ADD COLUMN IF NOT EXISTS `we\\`ird\\\\name` Nullable(String)"]);
}

#[test]
fn added_columns_are_nullable_and_statements_follow_the_server() {
    let cols =
        columns(&[("a", "Int64"), ("b", "Array(String)"), ("c", "Nullable(Float64)"), ("m", "Map(String, Int8)")]);
    assert_eq!(
        add_columns_sql("db", "t", &cols, &new()),
        ["ALTER TABLE `db`.`t` ADD COLUMN IF NOT EXISTS `a` Nullable(Int64), ADD COLUMN IF NOT EXISTS `b` Array(String), \
          ADD COLUMN IF NOT EXISTS `c` Nullable(Float64), ADD COLUMN IF NOT EXISTS `m` Map(String, Int8)"]
    );
    assert_eq!(
        add_columns_sql("db", "t", &cols[..2], &old()),
        ["ALTER TABLE `db`.`t` ADD COLUMN `a` Nullable(Int64)", "ALTER TABLE `db`.`t` ADD COLUMN `b` Array(String)"]
    );
    assert!(add_columns_sql("db", "t", &[], &new()).is_empty());
}

#[test]
fn missing_columns_are_those_the_table_cannot_take() {
    let table = ClickhouseTable::from_columns(
        "db",
        "t",
        [("a", "String", ""), ("m", "String", "MATERIALIZED")].map(|(n, t, k)| (n.into(), t.into(), k.into())),
    );
    let cols = columns(&[("a", "String"), ("b", "Int64"), ("m", "String")]);
    assert_eq!(shown(&missing_columns(&table, &cols)), ["b Int64", "m String"]);
}

#[test]
fn only_already_there_errors_are_passed_over() {
    let fatal = |text: &str| ConnectError::fatal(format!("Adding columns to table `db`.`t` failed: {text}"));
    let old_dup = fatal("Code: 44, e.displayText() = DB::Exception: Cannot add column c: column with this name already exists, e.what() = DB::Exception");
    assert!(is_already_there(&old_dup, &COLUMN_ALREADY_EXISTS));
    let new_dup = fatal(
        "Code: 15. DB::Exception: Cannot add column `c`: column with this name already exists. (DUPLICATE_COLUMN)",
    );
    assert!(is_already_there(&new_dup, &COLUMN_ALREADY_EXISTS));
    let other_44 = fatal("Code: 44, e.displayText() = DB::Exception: Cannot create table with column '_topic' which type is 'LowCardinality(String)'");
    assert!(!is_already_there(&other_44, &COLUMN_ALREADY_EXISTS));
    let table = fatal("Code: 57. DB::Exception: Table db.t already exists. (TABLE_ALREADY_EXISTS)");
    assert!(is_already_there(&table, &[TABLE_ALREADY_EXISTS]));
    assert!(!is_already_there(&table, &COLUMN_ALREADY_EXISTS));
}

#[test]
fn struct_schemas_shared_by_records_are_read_once_per_field() {
    let schema = point();
    let a = Value::Struct(Struct { schema: Arc::clone(&schema), values: vec![Value::Int32(1), Value::Null] });
    let b = Value::Struct(Struct { schema, values: vec![Value::Int32(2), "x".into()] });
    assert_eq!(shown(&columns_for_records([&a, &b], &new()).unwrap()), ["x Int32", "label Nullable(String)"]);
}
