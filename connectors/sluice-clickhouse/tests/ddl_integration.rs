//! `auto.create` and `auto.evolve` DDL against a real ClickHouse server (18.16 from Debian, or
//! newer): tables created from record schemas, described, written and read back; columns
//! added, also twice and by two tasks at once.
//!
//! Run with:
//!   tests/services/services.sh up clickhouse && eval "$(tests/services/services.sh env)"
//!   cargo test -p sluice-clickhouse --features integration-tests
//!
//! Every test works in its own randomly named table, so tests run in parallel.
#![cfg(feature = "integration-tests")]

use bytes::Bytes;
use sluice_api::{Schema, SchemaRef, SchemaType, Struct, Value};
use sluice_clickhouse::ddl::{
    add_columns, columns_for_record, create_table, missing_columns, ColumnDef, DECIMAL_PRECISION_PARAMETER,
};
use sluice_clickhouse::rows::ClickhouseRowBatch;
use sluice_clickhouse::version::ServerVersion;
use sluice_clickhouse::{ClickhouseService, ClickhouseSinkConfig, ClickhouseTable, ClickhouseType};

mod common;
use common::{admin, config, select, unique};

const DATABASE: &str = "default";

/// The sink's own client for the server under test.
fn service() -> ClickhouseService {
    ClickhouseService::new(&ClickhouseSinkConfig::from_connector_config(&config(&[])).expect("valid config"))
}

async fn drop_table(table: &str) {
    let sql = format!("DROP TABLE IF EXISTS {DATABASE}.{table}");
    admin().query(&sql).execute().await.unwrap_or_else(|e| panic!("{sql}: {e}"));
}

fn default_order_by() -> Vec<String> {
    ["_topic", "_partition", "_offset"].map(str::to_owned).to_vec()
}

fn json(pairs: &[(&str, Value)]) -> Value {
    Value::Map(pairs.iter().map(|(k, v)| (Value::from(*k), v.clone())).collect())
}

/// Writes `value` into `table` as the sink does: described columns, RowBinary rows, insert.
async fn write(service: &ClickhouseService, table: &ClickhouseTable, value: &Value) {
    let mut batch = ClickhouseRowBatch::new(table);
    batch.push(value).unwrap_or_else(|e| panic!("{e}"));
    for insert in batch.into_inserts() {
        service.insert(&insert, &unique("ddl_it")).await.unwrap_or_else(|e| panic!("{e}"));
    }
}

/// The described type of each of `names`, as text.
fn described(table: &ClickhouseTable, names: &[&str]) -> Vec<String> {
    names
        .iter()
        .map(|name| {
            let i =
                table.column_index(name).unwrap_or_else(|| panic!("{} has no column {name}", table.qualified_name()));
            format!("{name} {}", table.columns[i].ty.as_ref().unwrap_or_else(|e| panic!("{e}")))
        })
        .collect()
}

fn s(t: SchemaType) -> SchemaRef {
    Schema::new(t).into_ref()
}

/// A struct schema with every Connect type, and a record of it.
fn every_type() -> Value {
    let point = Schema::structure([
        ("x", s(SchemaType::Int32)),
        ("label", Schema::new(SchemaType::String).optional().into_ref()),
    ])
    .into_ref();
    let schema = Schema::structure([
        ("i8", s(SchemaType::Int8)),
        ("i16", s(SchemaType::Int16)),
        ("i32", s(SchemaType::Int32)),
        ("i64", s(SchemaType::Int64)),
        ("f32", s(SchemaType::Float32)),
        ("f64", s(SchemaType::Float64)),
        ("flag", s(SchemaType::Boolean)),
        ("name", s(SchemaType::String)),
        ("raw", s(SchemaType::Bytes)),
        ("price", Schema::decimal(2).with_parameter(DECIMAL_PRECISION_PARAMETER, "10").into_ref()),
        ("day", Schema::date().into_ref()),
        ("at", Schema::time().into_ref()),
        ("ts", Schema::timestamp().into_ref()),
        ("tags", Schema::array(s(SchemaType::String)).into_ref()),
        ("scores", Schema::array(Schema::new(SchemaType::Int32).optional().into_ref()).into_ref()),
        ("counts", Schema::map(s(SchemaType::String), s(SchemaType::Int64)).into_ref()),
        ("point", point.clone()),
        ("note", Schema::new(SchemaType::String).optional().into_ref()),
        ("maybe", Schema::new(SchemaType::Int64).optional().into_ref()),
    ])
    .into_ref();
    let values = vec![
        Value::Int8(-8),
        Value::Int16(-16),
        Value::Int32(-32),
        Value::Int64(-64),
        Value::Float32(1.5),
        Value::Float64(2.25),
        Value::Boolean(true),
        "héllo".into(),
        Value::Bytes(Bytes::from_static(b"raw")),
        Value::Decimal { unscaled: 1234, scale: 2 },
        Value::Date(20_349),                 // 2025-09-18
        Value::Time(37_800_000),             // 10:30:00
        Value::Timestamp(1_758_191_400_123), // 2025-09-18T10:30:00.123Z
        Value::Array(vec!["a".into(), "b".into()]),
        Value::Array(vec![Value::Int32(1), Value::Null]),
        Value::Map(vec![("k".into(), Value::Int64(1))]),
        Value::Struct(Struct { schema: point, values: vec![Value::Int32(1), "p".into()] }),
        Value::Null,
        Value::Int64(5),
    ];
    Value::Struct(Struct { schema, values })
}

#[tokio::test]
async fn a_table_created_from_every_connect_type_takes_a_row_and_gives_it_back() {
    let (service, table) = (service(), unique("ddl_every_type"));
    let version = ServerVersion::of(&service).await.expect("server answers its version");
    let record = every_type();
    let columns = columns_for_record(&record, &version).expect("every Connect type has a column type");
    create_table(&service, DATABASE, &table, &columns, &default_order_by(), &version).await.expect("table created");

    let described_table = ClickhouseTable::describe(&service, DATABASE, &table).await.expect("table exists");
    for (name, ty) in &columns {
        let i = described_table.column_index(name).unwrap_or_else(|| panic!("no column {name}"));
        assert_eq!(described_table.columns[i].ty.as_ref(), Ok(ty), "column {name} as the server reports it");
    }
    let topic = if version.has_low_cardinality() { "LowCardinality(String)" } else { "String" };
    assert_eq!(
        described(&described_table, &["_topic", "_partition", "_offset"]),
        [format!("_topic {topic}"), "_partition Int32".into(), "_offset Int64".into()]
    );
    if !version.has_bool_type() {
        // What an 18.16 server gets, spelled out.
        let old = described(&described_table, &["flag", "day", "ts", "counts", "point", "note", "scores"]);
        assert_eq!(
            old,
            [
                "flag UInt8",
                "day Date",
                "ts DateTime",
                "counts String",
                "point String",
                "note Nullable(String)",
                "scores Array(Nullable(Int32))"
            ]
        );
    }

    write(&service, &described_table, &record).await;
    let rows = select(&format!(
        "SELECT i8, i16, i32, i64, f32, f64, flag, name, raw, price, day, at, toUnixTimestamp(ts), tags, scores, \
         counts, point, note, maybe, _topic, _partition, _offset FROM {DATABASE}.{table}"
    ))
    .await;
    let flag = if version.has_bool_type() { "true" } else { "1" };
    let counts = if version.has_map_type() { "{'k':1}" } else { r#"{"k":1}"# };
    let point = if version.has_named_tuple() { "(1,'p')" } else { r#"{"x":1,"label":"p"}"# };
    let want = format!(
        "-8\t-16\t-32\t-64\t1.5\t2.25\t{flag}\théllo\traw\t12.34\t2025-09-18\t37800000\t1758191400\t['a','b']\t[1,NULL]\t\
         {counts}\t{point}\t\\N\t5\t\t0\t0"
    );
    assert_eq!(rows, [want]);
    drop_table(&table).await;
}

#[tokio::test]
async fn creating_an_existing_table_is_a_no_op_also_when_two_tasks_race() {
    let (service, table) = (service(), unique("ddl_create_race"));
    let version = ServerVersion::of(&service).await.expect("server answers its version");
    let columns = columns_for_record(&json(&[("user", "u1".into()), ("n", Value::Int64(1))]), &version).unwrap();
    let order_by = vec!["user".to_owned(), "_offset".to_owned()];
    let (a, b) = tokio::join!(
        create_table(&service, DATABASE, &table, &columns, &order_by, &version),
        create_table(&service, DATABASE, &table, &columns, &order_by, &version),
    );
    a.expect("first create");
    b.expect("second create");
    create_table(&service, DATABASE, &table, &columns, &order_by, &version).await.expect("create again");

    let described_table = ClickhouseTable::describe(&service, DATABASE, &table).await.expect("table exists");
    // The key column is not Nullable (a sorting key cannot hold NULL); the others are.
    assert_eq!(described(&described_table, &["user", "n"]), ["user String", "n Nullable(Int64)"]);
    let key =
        select(&format!("SELECT sorting_key FROM system.tables WHERE database = '{DATABASE}' AND name = '{table}'"))
            .await;
    assert_eq!(key, ["user, _offset"]);
    drop_table(&table).await;
}

#[tokio::test]
async fn an_order_by_naming_no_column_creates_nothing() {
    let (service, table) = (service(), unique("ddl_bad_key"));
    let version = ServerVersion::of(&service).await.expect("server answers its version");
    let columns = columns_for_record(&json(&[("user", "u1".into())]), &version).unwrap();
    let e = create_table(&service, DATABASE, &table, &columns, &["nope".to_owned()], &version).await.unwrap_err();
    assert_eq!(e.config_key(), Some("auto.create.order.by"), "{e}");
    let count =
        select(&format!("SELECT count() FROM system.tables WHERE database = '{DATABASE}' AND name = '{table}'")).await;
    assert_eq!(count, ["0"]);
}

#[tokio::test]
async fn new_fields_become_nullable_columns_and_adding_them_again_is_a_no_op() {
    let (service, table) = (service(), unique("ddl_evolve"));
    let version = ServerVersion::of(&service).await.expect("server answers its version");
    let first = json(&[("user", "u1".into()), ("n", Value::Int64(1))]);
    let columns = columns_for_record(&first, &version).unwrap();
    create_table(&service, DATABASE, &table, &columns, &default_order_by(), &version).await.expect("table created");

    let later = json(&[
        ("user", "u2".into()),
        ("n", Value::Int64(2)),
        ("extra", "x".into()),
        ("score", Value::Float64(1.5)),
        ("tags", Value::Array(vec!["a".into()])),
    ]);
    let before = ClickhouseTable::describe(&service, DATABASE, &table).await.expect("table exists");
    let new_columns: Vec<ColumnDef> = missing_columns(&before, &columns_for_record(&later, &version).unwrap());
    let names: Vec<&str> = new_columns.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["extra", "score", "tags"]);

    add_columns(&service, DATABASE, &table, &new_columns, &version).await.expect("columns added");
    add_columns(&service, DATABASE, &table, &new_columns, &version).await.expect("adding them again is a no-op");
    // Two tasks adding the same columns at once, and a column the table had from the start.
    let existing: Vec<ColumnDef> = vec![("user".into(), ClickhouseType::String)];
    let (a, b, c) = tokio::join!(
        add_columns(&service, DATABASE, &table, &new_columns, &version),
        add_columns(&service, DATABASE, &table, &new_columns, &version),
        add_columns(&service, DATABASE, &table, &existing, &version),
    );
    a.expect("first racer");
    b.expect("second racer");
    c.expect("an existing column is left as it is");
    // A required field of a schema'd record: the column is Nullable all the same, since the
    // rows written before have no value for it.
    let required: Vec<ColumnDef> = vec![("qty".into(), ClickhouseType::Int32)];
    add_columns(&service, DATABASE, &table, &required, &version).await.expect("required field added");

    let after = ClickhouseTable::describe(&service, DATABASE, &table).await.expect("table exists");
    assert_eq!(
        described(&after, &["user", "n", "extra", "score", "tags", "qty"]),
        [
            "user Nullable(String)",
            "n Nullable(Int64)",
            "extra Nullable(String)",
            "score Nullable(Float64)",
            "tags Array(Nullable(String))",
            "qty Nullable(Int32)"
        ]
    );
    assert!(missing_columns(&after, &columns_for_record(&later, &version).unwrap()).is_empty());

    write(&service, &after, &first).await;
    write(&service, &after, &later).await;
    let rows = select(&format!("SELECT user, n, extra, score, tags, qty FROM {DATABASE}.{table} ORDER BY user")).await;
    assert_eq!(rows, ["u1\t1\t\\N\t\\N\t[]\t\\N", "u2\t2\tx\t1.5\t['a']\t\\N"]);
    drop_table(&table).await;
}
