//! The ClickHouse sink against a real ClickHouse server (18.16 from Debian, or newer).
//!
//! Run with:
//!   tests/services/services.sh up clickhouse && eval "$(tests/services/services.sh env)"
//!   cargo test -p sluice-clickhouse --features integration-tests
//!
//! Every test works in its own randomly named table(s), so tests run in parallel.
#![cfg(feature = "integration-tests")]

use std::sync::Arc;

use sluice_api::{
    ConnectError, Offsets, Schema, SchemaType, SinkConnector, SinkRecord, SinkTask, Struct, TopicPartition, Value,
};
use sluice_clickhouse::ClickhouseSinkConnector;

mod common;
use common::{config, scalar, select, sql, unique};

async fn started_task(extra: &[(&str, &str)]) -> Box<dyn SinkTask> {
    let connector = ClickhouseSinkConnector;
    let cfg = config(extra);
    connector.validate(&cfg).expect("valid config");
    let mut task = connector.create_task();
    task.start(&cfg).await.expect("task starts against the server under test");
    task
}

/// The offset after each partition's last record in `records`, as the runtime would report
/// them settled.
fn consumed_by(records: &[SinkRecord]) -> Offsets {
    let mut consumed = Offsets::new();
    for r in records {
        let next = consumed.entry(r.original_topic_partition()).or_insert(r.offset + 1);
        *next = (*next).max(r.offset + 1);
    }
    consumed
}

/// Waits until the inserts `put` started in the background have landed: `flush` reports every
/// partition of `records` durable up to its end.
async fn wait_landed(task: &mut Box<dyn SinkTask>, records: &[SinkRecord]) {
    let consumed = consumed_by(records);
    for _ in 0..400 {
        if task.flush(&consumed).await.expect("flush") == consumed {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the inserts of {} records did not land within 10 s", records.len());
}

/// `put`, then [`wait_landed`].
async fn put_landed(task: &mut Box<dyn SinkTask>, records: &[SinkRecord]) -> sluice_api::Result<()> {
    task.put(records).await?;
    wait_landed(task, records).await;
    Ok(())
}

fn record(topic: &str, partition: i32, offset: i64, value: Value) -> SinkRecord {
    SinkRecord::with_value(topic, partition, offset, value)
}

/// A schemaless JSON object as the JsonConverter produces it.
fn json(pairs: &[(&str, Value)]) -> Value {
    Value::Map(pairs.iter().map(|(k, v)| (Value::from(*k), v.clone())).collect())
}

fn event(i: i64) -> Value {
    json(&[
        ("user_id", format!("user_{i}").into()),
        ("event_type", "purchase".into()),
        ("timestamp", "2025-09-18T10:30:00Z".into()),
        ("session_id", format!("sess_{i}").into()),
        ("device", "mobile".into()),
    ])
}

async fn create_events_table(table: &str) {
    sql(&format!(
        "CREATE TABLE {table} (user_id String, event_type String, timestamp DateTime, session_id String, \
         device String, inserted_at DateTime DEFAULT now()) ENGINE = ReplacingMergeTree() \
         PARTITION BY toYYYYMMDD(timestamp) ORDER BY (timestamp, user_id)"
    ))
    .await;
}

fn offsets(entries: &[(&str, i32, i64)]) -> Offsets {
    entries.iter().map(|(t, p, o)| (TopicPartition::new(*t, *p), *o)).collect()
}

#[tokio::test]
async fn sample_events_land_with_their_values_and_the_default_fills_inserted_at() {
    let (topic, table) = (unique("events_topic"), unique("events"));
    create_events_table(&table).await;
    let map = format!("{topic}={table}");
    let mut task = started_task(&[("topic2TableMap", &map)]).await;
    let before = scalar("SELECT toUnixTimestamp(now())").await.parse::<i64>().unwrap();

    let sample = json(&[
        ("user_id", "user_42".into()),
        ("event_type", "purchase".into()),
        ("timestamp", "2025-09-18T10:30:00Z".into()),
        ("session_id", "sess_789".into()),
        ("device", "mobile".into()),
    ]);
    put_landed(&mut task, &[record(&topic, 0, 0, sample), record(&topic, 1, 7, event(1))]).await.unwrap();

    let rows = select(&format!(
        "SELECT user_id, event_type, toUnixTimestamp(timestamp), toString(timestamp, 'UTC'), session_id, device, \
         toUnixTimestamp(inserted_at) FROM {table} ORDER BY user_id"
    ))
    .await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    let cols: Vec<&str> = rows[1].split('\t').collect();
    assert_eq!(&cols[..6], ["user_42", "purchase", "1758191400", "2025-09-18 10:30:00", "sess_789", "mobile"]);
    let inserted_at: i64 = cols[6].parse().unwrap();
    assert!(inserted_at >= before, "inserted_at {inserted_at} comes from DEFAULT now() (>= {before})");

    let consumed = offsets(&[(&topic, 0, 1), (&topic, 1, 8)]);
    assert_eq!(task.flush(&consumed).await.unwrap(), consumed, "everything put is durable");
    task.stop().await;
    sql(&format!("DROP TABLE {table}")).await;
}

#[tokio::test]
async fn a_struct_with_a_schema_fills_a_wide_table_of_many_types() {
    let (topic, table) = (unique("wide_topic"), unique("wide"));
    sql(&format!(
        "CREATE TABLE {table} (i8 Int8, i16 Int16, i32 Int32, i64 Int64, u8 UInt8, u16 UInt16, u32 UInt32, \
         u64 UInt64, f32 Float32, f64 Float64, s String, fs FixedString(4), d Date, dt DateTime, \
         dt_tokyo DateTime('Asia/Tokyo'), dec Decimal(18, 4), dec32 Decimal32(2), dec128 Decimal(38, 10), id UUID, \
         kind Enum8('click' = 1, 'view' = 2), note Nullable(String), tags Array(String), \
         scores Array(Nullable(Int32)), country LowCardinality(String), flag UInt8, json String) ENGINE = Memory"
    ))
    .await;
    let t = |ty| Schema::new(ty).into_ref();
    let schema = Schema::structure([
        ("i8", t(SchemaType::Int8)),
        ("i16", t(SchemaType::Int16)),
        ("i32", t(SchemaType::Int32)),
        ("i64", t(SchemaType::Int64)),
        ("u8", t(SchemaType::Int16)),
        ("u16", t(SchemaType::Int32)),
        ("u32", t(SchemaType::Int64)),
        ("u64", t(SchemaType::String)),
        ("f32", t(SchemaType::Float32)),
        ("f64", t(SchemaType::Float64)),
        ("s", t(SchemaType::String)),
        ("fs", t(SchemaType::String)),
        ("d", Schema::date().into_ref()),
        ("dt", Schema::timestamp().into_ref()),
        ("dt_tokyo", t(SchemaType::String)),
        ("dec", Schema::decimal(2).into_ref()),
        ("dec32", t(SchemaType::String)),
        ("dec128", t(SchemaType::String)),
        ("id", t(SchemaType::String)),
        ("kind", t(SchemaType::String)),
        ("note", Schema::new(SchemaType::String).optional().into_ref()),
        ("tags", Schema::array(t(SchemaType::String)).into_ref()),
        ("scores", Schema::array(Schema::new(SchemaType::Int32).optional().into_ref()).into_ref()),
        ("country", t(SchemaType::String)),
        ("flag", t(SchemaType::Boolean)),
        ("json", Schema::map(t(SchemaType::String), t(SchemaType::Int64)).into_ref()),
    ])
    .into_ref();
    let row = |n: i8, note: Value| {
        Value::Struct(Struct {
            schema: Arc::clone(&schema),
            values: vec![
                Value::Int8(-n),
                Value::Int16(-300),
                Value::Int32(-70_000),
                Value::Int64(-5_000_000_000),
                Value::Int16(255),
                Value::Int32(65_535),
                Value::Int64(4_000_000_000),
                "18446744073709551615".into(),
                Value::Float32(1.5),
                Value::Float64(-2.25),
                "héllo\ttab".into(),
                "ab".into(),
                Value::Date(20_349),
                Value::Timestamp(1_758_191_400_123),
                "2025-09-18T19:30:00+09:00".into(),
                Value::Decimal { unscaled: -123_456, scale: 2 },
                "12.5".into(),
                "-1234567890123456789012345678.0123456789".into(),
                "61f0c404-5cb3-11e7-907b-a6006ad3dba0".into(),
                "view".into(),
                note,
                Value::Array(vec!["a".into(), "b".into()]),
                Value::Array(vec![Value::Int32(1), Value::Null]),
                "NL".into(),
                Value::Boolean(true),
                Value::Map(vec![("k".into(), Value::Int64(1))]),
            ],
        })
    };
    let map = format!("{topic}={table}");
    let mut task = started_task(&[("topic2TableMap", &map)]).await;
    put_landed(&mut task, &[record(&topic, 0, 0, row(1, "hi".into())), record(&topic, 0, 1, row(2, Value::Null))])
        .await
        .unwrap();

    let rows = select(&format!(
        "SELECT i8, i16, i32, i64, u8, u16, u32, u64, f32, f64, s, hex(fs), toString(d), toUnixTimestamp(dt), \
         toUnixTimestamp(dt_tokyo), dec = toDecimal64('-1234.56', 4), dec32 = toDecimal32('12.5', 2), \
         dec128 = toDecimal128('-1234567890123456789012345678.0123456789', 10), toString(id), toString(kind), \
         ifNull(note, 'NULL'), arrayStringConcat(tags, ','), toString(scores), toString(country), flag, json \
         FROM {table} ORDER BY i8 DESC"
    ))
    .await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    let want = [
        "-1",
        "-300",
        "-70000",
        "-5000000000",
        "255",
        "65535",
        "4000000000",
        "18446744073709551615",
        "1.5",
        "-2.25",
        "héllo\\ttab",
        "61620000",
        "2025-09-18",
        "1758191400",
        "1758191400",
        "1",
        "1",
        "1",
        "61f0c404-5cb3-11e7-907b-a6006ad3dba0",
        "view",
        "hi",
        "a,b",
        "[1,NULL]",
        "NL",
        "1",
        "{\"k\":1}",
    ];
    assert_eq!(rows[0].split('\t').collect::<Vec<_>>(), want);
    assert!(rows[1].contains("\tNULL\t"), "a null struct field becomes NULL in a Nullable column: {}", rows[1]);
    task.stop().await;
    sql(&format!("DROP TABLE {table}")).await;
}

#[tokio::test]
async fn missing_and_null_fields_take_the_column_default() {
    let (topic, table) = (unique("defaults_topic"), unique("defaults"));
    sql(&format!(
        "CREATE TABLE {table} (a String, b UInt32 DEFAULT 7, c String DEFAULT concat(a, '!'), d Nullable(String), \
         e String, m UInt8 MATERIALIZED 1) ENGINE = Memory"
    ))
    .await;
    let map = format!("{topic}={table}");
    let mut task = started_task(&[("topic2TableMap", &map)]).await;
    put_landed(
        &mut task,
        &[
            record(
                &topic,
                0,
                0,
                json(&[
                    ("a", "x".into()),
                    ("b", Value::Int64(1)),
                    ("c", "given".into()),
                    ("d", "d".into()),
                    ("e", "e".into()),
                ]),
            ),
            record(&topic, 0, 1, json(&[("a", "y".into())])),
            record(
                &topic,
                0,
                2,
                json(&[("a", "z".into()), ("b", Value::Null), ("m", Value::Int64(9)), ("unknown", Value::Int64(1))]),
            ),
        ],
    )
    .await
    .unwrap();
    let rows = select(&format!("SELECT a, b, c, ifNull(d, 'NULL'), e, m FROM {table} ORDER BY a")).await;
    assert_eq!(rows, ["x\t1\tgiven\td\te\t1", "y\t7\ty!\tNULL\t\t1", "z\t7\tz!\tNULL\t\t1"]);

    // Null for a column with neither Nullable nor DEFAULT gets the type's default, as with
    // ClickHouse's own input_format_null_as_default.
    put_landed(&mut task, &[record(&topic, 0, 3, json(&[("a", Value::Null), ("e", "only-e".into())]))]).await.unwrap();
    let rows = select(&format!("SELECT a, b, e FROM {table} WHERE e = 'only-e'")).await;
    assert_eq!(rows, ["\t7\tonly-e"]);
    task.stop().await;
    sql(&format!("DROP TABLE {table}")).await;
}

/// An event that carries its Kafka coordinates, for a table where a duplicate stays visible.
fn located(topic: &str, partition: i32, offset: i64, value: Value) -> SinkRecord {
    let Value::Map(mut fields) = value else { panic!("an event is a map") };
    fields.push(("kafka_partition".into(), Value::Int64(partition.into())));
    fields.push(("kafka_offset".into(), Value::Int64(offset)));
    record(topic, partition, offset, Value::Map(fields))
}

/// The (partition, offset) of every row, sorted, duplicates kept.
async fn coordinates(table: &str) -> Vec<(i32, i64)> {
    let rows =
        select(&format!("SELECT kafka_partition, kafka_offset FROM {table} ORDER BY kafka_partition, kafka_offset"))
            .await;
    rows.iter()
        .map(|row| {
            let (p, o) = row.split_once('\t').expect("two columns");
            (p.parse().unwrap(), o.parse().unwrap())
        })
        .collect()
}

#[tokio::test]
async fn flush_reports_only_what_was_written_and_retries_do_not_duplicate() {
    let (topic, table) = (unique("offsets_topic"), unique("offsets"));
    // A plain MergeTree: nothing merges a row written twice into one.
    sql(&format!(
        "CREATE TABLE {table} (user_id String, event_type String, timestamp DateTime, session_id String, \
         device String, kafka_partition Int32, kafka_offset Int64) ENGINE = MergeTree() \
         ORDER BY (kafka_partition, kafka_offset)"
    ))
    .await;
    let map = format!("{topic}={table}");
    let mut task = started_task(&[("topic2TableMap", &map)]).await;
    let consumed = offsets(&[(&topic, 0, 3), (&topic, 1, 2)]);
    assert!(task.flush(&consumed).await.unwrap().is_empty(), "nothing written yet");

    let batch = [
        located(&topic, 0, 0, event(0)),
        located(&topic, 0, 1, event(1)),
        record(&topic, 0, 2, Value::Null), // tombstone: skipped, but its offset is done
        located(&topic, 1, 0, event(2)),
        located(&topic, 1, 1, event(3)),
    ];
    put_landed(&mut task, &batch).await.unwrap();
    assert_eq!(task.flush(&consumed).await.unwrap(), consumed);
    assert_eq!(coordinates(&table).await, [(0, 0), (0, 1), (1, 0), (1, 1)]);

    // The runtime hands a batch again after a retriable error: records already written are
    // not inserted twice.
    let mut again = batch.to_vec();
    again.push(located(&topic, 1, 2, event(4)));
    put_landed(&mut task, &again).await.unwrap();
    assert_eq!(coordinates(&table).await, [(0, 0), (0, 1), (1, 0), (1, 1), (1, 2)]);

    // A bad record is reported by its index while the rest of the batch lands; its offset
    // counts as handled (the runtime dead-letters it or fails the task).
    let bad = json(&[("user_id", "u".into()), ("timestamp", "not a time".into())]);
    let with_bad = [located(&topic, 0, 3, bad), located(&topic, 0, 4, event(5))];
    let err = task.put(&with_bad).await.unwrap_err();
    wait_landed(&mut task, &with_bad).await;
    let ConnectError::Records { failures } = &err else { panic!("expected per-record failures: {err}") };
    assert_eq!(failures.len(), 1, "{err}");
    assert_eq!(failures[0].0, 0);
    assert!(matches!(failures[0].1, ConnectError::Data { .. }), "{err}");
    assert!(err.to_string().contains("Column `timestamp` expects DateTime"), "{err}");
    assert_eq!(coordinates(&table).await, [(0, 0), (0, 1), (0, 4), (1, 0), (1, 1), (1, 2)]);
    assert_eq!(scalar(&format!("SELECT count() FROM {table}")).await, "6");
    let flushed = task.flush(&offsets(&[(&topic, 0, 5), (&topic, 1, 3)])).await.unwrap();
    assert_eq!(flushed, offsets(&[(&topic, 0, 5), (&topic, 1, 3)]));
    task.stop().await;
    sql(&format!("DROP TABLE {table}")).await;
}

#[tokio::test]
async fn one_put_writes_several_tables_and_a_large_batch_arrives_whole() {
    let (clicks, views) = (unique("clicks_topic"), unique("views_topic"));
    let (clicks_table, views_table) = (unique("clicks"), unique("views"));
    create_events_table(&clicks_table).await;
    create_events_table(&views_table).await;
    let map = format!("{clicks}={clicks_table},{views}={views_table}");
    let mut task =
        started_task(&[("topic2TableMap", &map), ("clickhouseSettings", "max_insert_block_size=100000")]).await;
    // ~6 MB of RowBinary: several 1 MiB LZ4 chunks per insert.
    let n = 60_000;
    let mut records: Vec<SinkRecord> = (0..n).map(|i| record(&clicks, (i % 3) as i32, i / 3, event(i))).collect();
    records.extend((0..10).map(|i| record(&views, 0, i, event(i))));
    put_landed(&mut task, &records).await.unwrap();
    assert_eq!(
        scalar(&format!("SELECT count(), uniqExact(session_id) FROM {clicks_table}")).await,
        format!("{n}\t{n}")
    );
    assert_eq!(scalar(&format!("SELECT count() FROM {views_table}")).await, "10");
    task.stop().await;
    sql(&format!("DROP TABLE {clicks_table}")).await;
    sql(&format!("DROP TABLE {views_table}")).await;
}

#[tokio::test]
async fn a_missing_table_is_fatal_and_says_to_create_it() {
    let topic = unique("nowhere");
    let mut task = started_task(&[]).await;
    let err = task.put(&[record(&topic, 0, 0, event(1))]).await.unwrap_err();
    assert!(matches!(err, ConnectError::Fatal { .. }), "{err}");
    assert!(err.to_string().contains(&topic) && err.to_string().contains("Create it first"), "{err}");
}

#[tokio::test]
async fn a_wrong_password_is_not_retriable_and_names_the_keys() {
    let connector = ClickhouseSinkConnector;
    let mut task = connector.create_task();
    let err = task.start(&config(&[("password", "definitely-wrong")])).await.unwrap_err();
    assert!(!err.is_retriable(), "{err}");
    assert!(err.to_string().contains("`password`"), "{err}");
}
