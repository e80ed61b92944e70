//! Unit tests of the sink against a local directory (the S3 store is tested end to end).

use std::sync::{Arc, Mutex};

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::reader::{FileReader, SerializedFileReader};
use sluice_api::{
    ConnectError, ConnectorConfig, Offsets, SinkRecord, SinkTask, SinkTaskContext, TopicPartition, Value,
};

use super::ParquetSinkTask;
use crate::store::{PartitionProgress, PublishingRange};

#[derive(Default)]
struct Context {
    seeks: Mutex<Vec<(TopicPartition, i64)>>,
    /// What `stalled` answers: the worker process stood still and was not confirmed since.
    stalled: std::sync::atomic::AtomicBool,
}

impl SinkTaskContext for Context {
    fn offset(&self, partition: &TopicPartition, offset: i64) {
        self.seeks.lock().unwrap().push((partition.clone(), offset));
    }
    fn request_commit(&self) {}
    fn pause(&self, _: &[TopicPartition]) {}
    fn resume(&self, _: &[TopicPartition]) {}
    fn assignment(&self) -> Vec<TopicPartition> {
        Vec::new()
    }
    fn committed(&self, _: &[TopicPartition]) -> sluice_api::Result<Offsets> {
        Ok(Offsets::new())
    }
    fn stalled(&self) -> bool {
        self.stalled.load(std::sync::atomic::Ordering::SeqCst)
    }
}

fn record(partition: i32, offset: i64, event_type: Option<&str>) -> SinkRecord {
    let mut entries = vec![(Value::String("user_id".into()), Value::Int64(offset))];
    if let Some(t) = event_type {
        entries.push((Value::String("event_type".into()), Value::String(t.into())));
    }
    SinkRecord {
        timestamp: Some(1_758_000_000_000),
        ..SinkRecord::with_value("events", partition, offset, Value::Map(entries))
    }
}

async fn started(dir: &std::path::Path, extra: &[(&str, &str)]) -> (ParquetSinkTask, Arc<Context>) {
    let url = format!("file://{}", dir.display());
    let mut pairs = vec![
        ("store.url", url.as_str()),
        ("flush.size", "4"),
        ("partitioner.class", "Field"),
        ("partition.field.name", "event_type"),
    ];
    pairs.extend_from_slice(extra);
    let config: ConnectorConfig = pairs.into_iter().collect();
    let mut task = ParquetSinkTask::new();
    let context = Arc::new(Context::default());
    task.initialize(context.clone());
    task.start(&config).await.unwrap();
    (task, context)
}

fn parquet_files(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path().strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

fn rows(path: &std::path::Path) -> usize {
    let file = std::fs::File::open(path).unwrap();
    ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap().map(|b| b.unwrap().num_rows()).sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn flush_size_publishes_named_files_with_metadata_and_only_published_offsets_are_durable() {
    let dir = tempfile::tempdir().unwrap();
    let (mut task, _) = started(dir.path(), &[]).await;
    let tp = TopicPartition::new("events", 0);
    task.open(std::slice::from_ref(&tp)).await.unwrap();
    let kinds = ["click", "view", "click", "view", "click", "click", "view", "view", "click", "view"];
    let batch: Vec<SinkRecord> = kinds.iter().enumerate().map(|(i, k)| record(0, i as i64, Some(k))).collect();
    task.put(&batch).await.unwrap();

    // Two sets of four records published; records 8 and 9 still open.
    let durable = task.flush(&Offsets::from([(tp.clone(), 10)])).await.unwrap();
    assert_eq!(durable, Offsets::from([(tp.clone(), 8)]));
    let files = parquet_files(dir.path());
    assert_eq!(
        files,
        [
            "topics/_sluice/events/0.json",
            "topics/events/event_type=click/events+0+0000000000.snappy.parquet",
            "topics/events/event_type=click/events+0+0000000004.snappy.parquet",
            "topics/events/event_type=view/events+0+0000000001.snappy.parquet",
            "topics/events/event_type=view/events+0+0000000006.snappy.parquet",
        ]
    );
    let first = dir.path().join(&files[2]);
    assert_eq!(rows(&first), 2, "the second set's clicks: records 4 and 5");
}

#[tokio::test(flavor = "multi_thread")]
async fn after_the_process_stood_still_nothing_is_published_until_it_is_confirmed() {
    let dir = tempfile::tempdir().unwrap();
    let (mut task, context) = started(dir.path(), &[]).await;
    let tp = TopicPartition::new("events", 0);
    task.open(std::slice::from_ref(&tp)).await.unwrap();
    context.stalled.store(true, std::sync::atomic::Ordering::SeqCst);
    let batch: Vec<SinkRecord> = (0..4).map(|i| record(0, i, Some("click"))).collect();
    let error = task.put(&batch).await.expect_err("a full file may not be published after a stall");
    assert!(error.is_retriable() && error.to_string().contains("stood still"), "{error}");
    assert_eq!(parquet_files(dir.path()), Vec::<String>::new(), "no file and no state object");
    assert_eq!(task.flush(&Offsets::from([(tp.clone(), 4)])).await.unwrap(), Offsets::from([(tp.clone(), 0)]));

    // Confirmed (the runtime proved the partition is still this task's): the retried batch
    // publishes the file.
    context.stalled.store(false, std::sync::atomic::Ordering::SeqCst);
    task.put(&batch).await.unwrap();
    assert_eq!(task.flush(&Offsets::from([(tp.clone(), 4)])).await.unwrap(), Offsets::from([(tp, 4)]));
    assert_eq!(
        parquet_files(dir.path()),
        ["topics/_sluice/events/0.json", "topics/events/event_type=click/events+0+0000000000.snappy.parquet"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn closing_publishes_what_is_open_and_state_records_the_next_offset() {
    let dir = tempfile::tempdir().unwrap();
    let (mut task, _) = started(dir.path(), &[("flush.size", "100")]).await;
    let tp = TopicPartition::new("events", 1);
    task.open(std::slice::from_ref(&tp)).await.unwrap();
    let batch: Vec<SinkRecord> = (0..5).map(|i| record(1, i, Some("click"))).collect();
    task.put(&batch).await.unwrap();
    assert_eq!(task.flush(&Offsets::from([(tp.clone(), 5)])).await.unwrap(), Offsets::from([(tp.clone(), 0)]));
    task.close(std::slice::from_ref(&tp)).await.unwrap();
    let file = dir.path().join("topics/events/event_type=click/events+1+0000000000.snappy.parquet");
    assert_eq!(rows(&file), 5);
    let meta = SerializedFileReader::new(std::fs::File::open(&file).unwrap()).unwrap();
    let kv = meta.metadata().file_metadata().key_value_metadata().unwrap().clone();
    let get = |k: &str| kv.iter().find(|e| e.key == k).and_then(|e| e.value.clone());
    assert_eq!(get("sluice.first.offset").as_deref(), Some("0"));
    assert_eq!(get("sluice.last.offset").as_deref(), Some("4"));
    assert_eq!(get("sluice.topic").as_deref(), Some("events"));
    let state: PartitionProgress =
        serde_json::from_slice(&std::fs::read(dir.path().join("topics/_sluice/events/1.json")).unwrap()).unwrap();
    assert_eq!(state, PartitionProgress { next_offset: 5, publishing: None });
}

#[tokio::test(flavor = "multi_thread")]
async fn recovery_reads_the_interrupted_range_again_and_cuts_it_where_it_was_cut() {
    let dir = tempfile::tempdir().unwrap();
    // The previous owner died while publishing records 4..=6 of partition 0.
    let state = PartitionProgress { next_offset: 4, publishing: Some(PublishingRange { start: 4, last: 6 }) };
    let path = dir.path().join("topics/_sluice/events");
    std::fs::create_dir_all(&path).unwrap();
    std::fs::write(path.join("0.json"), serde_json::to_vec(&state).unwrap()).unwrap();

    let (mut task, context) = started(dir.path(), &[("flush.size", "100")]).await;
    let tp = TopicPartition::new("events", 0);
    task.open(std::slice::from_ref(&tp)).await.unwrap();
    assert_eq!(*context.seeks.lock().unwrap(), vec![(tp.clone(), 4)], "the sink asks to read from the range's start");

    // Kafka delivers from an older commit: records before 4 are skipped, the range is cut after 6.
    let batch: Vec<SinkRecord> = (2..10).map(|i| record(0, i, Some("click"))).collect();
    task.put(&batch).await.unwrap();
    let file = dir.path().join("topics/events/event_type=click/events+0+0000000004.snappy.parquet");
    assert_eq!(rows(&file), 3, "records 4, 5 and 6, as the interrupted file had them");
    assert_eq!(task.flush(&Offsets::from([(tp.clone(), 10)])).await.unwrap(), Offsets::from([(tp, 7)]));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_record_without_the_partition_field_is_reported_and_the_rest_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (mut task, _) = started(dir.path(), &[("flush.size", "100")]).await;
    let tp = TopicPartition::new("events", 0);
    task.open(std::slice::from_ref(&tp)).await.unwrap();
    let batch = vec![record(0, 0, Some("click")), record(0, 1, None), record(0, 2, Some("click"))];
    let Err(ConnectError::Records { failures }) = task.put(&batch).await else { panic!("expected a record failure") };
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].0, 1);
    assert!(failures[0].1.to_string().contains("event_type"), "{}", failures[0].1);
    task.close(std::slice::from_ref(&tp)).await.unwrap();
    let file = dir.path().join("topics/events/event_type=click/events+0+0000000000.snappy.parquet");
    assert_eq!(rows(&file), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn lost_partitions_publish_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (mut task, _) = started(dir.path(), &[("flush.size", "100")]).await;
    let tp = TopicPartition::new("events", 0);
    task.open(std::slice::from_ref(&tp)).await.unwrap();
    let batch: Vec<SinkRecord> = (0..5).map(|i| record(0, i, Some("click"))).collect();
    task.put(&batch).await.unwrap();
    task.lost(std::slice::from_ref(&tp)).await.unwrap();
    assert!(parquet_files(dir.path()).is_empty(), "{:?}", parquet_files(dir.path()));
    assert!(task.flush(&Offsets::from([(tp, 5)])).await.unwrap().is_empty());
}

/// Every batch of a file read back.
fn contents(path: &std::path::Path) -> Vec<arrow_array::RecordBatch> {
    let file = std::fs::File::open(path).unwrap();
    ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap().map(Result::unwrap).collect()
}

/// A task started with `config` into a new directory puts `batch` into `events`-0, then closes
/// the partition: the directory, and what `put` answered.
async fn written(config: &[(&str, &str)], batch: &[SinkRecord]) -> (tempfile::TempDir, sluice_api::Result<()>) {
    let dir = tempfile::tempdir().unwrap();
    let (mut task, _) = started(dir.path(), config).await;
    let tp = TopicPartition::new("events", 0);
    task.open(std::slice::from_ref(&tp)).await.unwrap();
    let put = task.put(batch).await;
    task.close(std::slice::from_ref(&tp)).await.unwrap();
    (dir, put)
}

/// A record of `events`-0 whose value is the Avro datum `data` read by `reader`: handed on
/// undecoded (`as_datum`, `SinkTask::reads_datums`), or decoded as the converter decodes it.
fn datum_record(offset: i64, reader: &Arc<dyn sluice_api::DatumReader>, data: Vec<u8>, as_datum: bool) -> SinkRecord {
    let datum = sluice_api::Datum { reader: reader.clone(), data: bytes::Bytes::from(data) };
    let mut record = SinkRecord::with_value("events", 0, offset, Value::Null);
    record.value_schema = Some(datum.reader.schema().clone());
    match as_datum {
        true => record.value_datum = Some(datum),
        false => record.value = datum.decode().unwrap(),
    }
    record
}

/// A record whose value came as JSON text, not decoded (`SinkTask::reads_json_values`).
fn text_record(partition: i32, offset: i64, text: &str) -> SinkRecord {
    SinkRecord {
        value_json: Some(bytes::Bytes::copy_from_slice(text.as_bytes())),
        value_datum: None,
        ..SinkRecord::with_value("events", partition, offset, Value::Null)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn records_given_as_json_text_make_the_files_their_decoded_values_make() {
    // Routed by a top-level field and a nested timestamp, rotated by record time; plain
    // objects, one with an escape, a bare value, a tombstone, and records routing rejects.
    let texts = [
        r#"{"event_type": "click", "user_id": 1, "meta": {"ts": "2025-09-18T10:00:00Z"}}"#,
        r#"{"event_type": "view", "user_id": 2, "meta": {"ts": 1758189600000}, "extra": true}"#,
        r#"{"event_type": "cl\u0069ck", "user_id": 3, "meta": {"ts": "2025-09-18T11:00:00Z"}}"#,
        r#"{"user_id": 4, "meta": {"ts": "2025-09-18T11:00:00Z"}}"#,
        "null",
        r#"{"event_type": "view", "user_id": 5.5, "meta": {"ts": "2025-09-19T00:00:00Z"}}"#,
        r#"{"event_type": "view", "user_id": 6.5, "meta": {"ts": "2025-09-18T12:00:00Z"}}"#,
        r#""bare""#,
        r#"{"event_type": "click", "user_id": 7, "meta": {"ts": "2025-09-18T23:59:59Z"}, "tags": ["a"]}"#,
        r#"{"event_type": "click", "meta": {"ts": "2025-09-20T00:00:00Z"}, "user_id": 8}"#,
    ];
    let config = [
        ("flush.size", "100"),
        ("partitioner.class", "io.sluice.connect.parquet.FieldTimePartitioner"),
        ("path.format", "'day'=dd"),
        ("partition.duration.ms", "86400000"),
        ("timezone", "UTC"),
        ("timestamp.extractor", "RecordField"),
        ("timestamp.field", "meta.ts"),
        ("rotate.interval.ms", "86400000"),
    ];
    let mut outcomes = Vec::new();
    let mut dirs = Vec::new();
    for as_text in [false, true] {
        let batch: Vec<SinkRecord> = texts
            .iter()
            .enumerate()
            .map(|(i, text)| match as_text {
                true => text_record(0, i as i64, text),
                false => {
                    SinkRecord::with_value("events", 0, i as i64, sluice_api::json::parse(text.as_bytes()).unwrap())
                }
            })
            .collect();
        let (dir, put) = written(&config, &batch).await;
        let Err(ConnectError::Records { failures }) = put else { panic!("records fail routing") };
        outcomes.push(failures.iter().map(|(i, e)| (*i, e.to_string())).collect::<Vec<_>>());
        dirs.push(dir);
    }
    assert_eq!(outcomes[0].iter().map(|(i, _)| *i).collect::<Vec<_>>(), [3, 4, 7], "{:?}", outcomes[0]);
    assert_eq!(outcomes[1], outcomes[0], "the same records fail, with the same reasons");
    let files = parquet_files(dirs[0].path());
    assert_eq!(parquet_files(dirs[1].path()), files);
    let data: Vec<&String> = files.iter().filter(|f| f.ends_with(".parquet")).collect();
    assert_eq!(data.len(), 4, "{files:?}");
    let mut rows = 0;
    for file in data {
        let (decoded, text) = (contents(&dirs[0].path().join(file)), contents(&dirs[1].path().join(file)));
        assert_eq!(text, decoded, "{file}");
        rows += decoded.iter().map(|b| b.num_rows()).sum::<usize>();
    }
    assert_eq!(rows, 7);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_holding_text_that_is_undecodable_buffers_nothing_and_names_those_records() {
    let dir = tempfile::tempdir().unwrap();
    let (mut task, _) = started(dir.path(), &[("flush.size", "100")]).await;
    let tp = TopicPartition::new("events", 0);
    task.open(std::slice::from_ref(&tp)).await.unwrap();
    let good = |offset| text_record(0, offset, &format!(r#"{{"event_type": "click", "user_id": {offset}}}"#));
    let batch = vec![good(0), text_record(0, 1, r#"{"event_type": "#), good(2), text_record(0, 3, "nope")];
    let Err(ConnectError::Undecodable { records }) = task.put(&batch).await else { panic!("expected Undecodable") };
    assert_eq!(records, [1, 3]);
    task.close(std::slice::from_ref(&tp)).await.unwrap();
    assert!(!parquet_files(dir.path()).iter().any(|f| f.ends_with(".parquet")), "nothing of the batch was buffered");

    // The runtime puts the rest again.
    task.open(std::slice::from_ref(&tp)).await.unwrap();
    task.put(&[good(0), good(2)]).await.unwrap();
    task.close(std::slice::from_ref(&tp)).await.unwrap();
    assert_eq!(rows(&dir.path().join("topics/events/event_type=click/events+0+0000000000.snappy.parquet")), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn mostly_distinct_text_is_written_plain_and_repeated_text_with_a_dictionary() {
    let has_dictionary = |path: &std::path::Path| -> Vec<(String, bool)> {
        let reader = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
        let group = reader.metadata().row_group(0);
        group.columns().iter().map(|c| (c.column_path().string(), c.dictionary_page_offset().is_some())).collect()
    };
    let text = |offset: i64| {
        format!(
            r#"{{"event_type": "click", "session": "s{offset:08}", "device": "{}", "n": {offset}, "geo": {{"zip": "z{offset}", "country": "DE"}}}}"#,
            ["ios", "android"][offset as usize % 2]
        )
    };
    for (dictionary, expected) in
        [("true", [true, false, true, true, false, true]), ("false", [false, false, false, false, false, false])]
    {
        let dir = tempfile::tempdir().unwrap();
        let (mut task, _) =
            started(dir.path(), &[("flush.size", "1000"), ("parquet.enable.dictionary", dictionary)]).await;
        let tp = TopicPartition::new("events", 0);
        task.open(std::slice::from_ref(&tp)).await.unwrap();
        let batch: Vec<SinkRecord> = (0..500).map(|i| text_record(0, i, &text(i))).collect();
        task.put(&batch).await.unwrap();
        task.close(std::slice::from_ref(&tp)).await.unwrap();
        let file = dir.path().join("topics/events/event_type=click/events+0+0000000000.snappy.parquet");
        let columns = has_dictionary(&file);
        let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["event_type", "session", "device", "n", "geo.zip", "geo.country"]);
        let got: Vec<bool> = columns.iter().map(|(_, d)| *d).collect();
        // Numbers keep the dictionary Parquet gives them; only text is judged.
        assert_eq!(got, expected, "dictionary pages with parquet.enable.dictionary={dictionary}: {columns:?}");
        assert_eq!(rows(&file), 500);
    }
}

/// Version 1 of the events' Avro schema; version 2 adds an optional field at the end.
const EVENT_V1: &str = r#"{"type":"record","name":"Event","namespace":"bench","fields":[
    {"name":"event_type","type":"string"},
    {"name":"user_id","type":"long"},
    {"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},
    {"name":"note","type":["null","string"],"default":null},
    {"name":"score","type":"double"},
    {"name":"ok","type":"boolean"}]}"#;

/// A reader of datums of `schema`, as the registry converter hands them on.
fn datum_reader(schema: &str, id: u32) -> Arc<dyn sluice_api::DatumReader> {
    use sluice_converters::avro::AvroFormat;
    use sluice_converters::registry::{FetchedSchema, SchemaKind, WireFormat};
    let fetched = FetchedSchema {
        id,
        kind: SchemaKind::Avro,
        text: schema.to_owned(),
        references: Vec::new(),
        subject: None,
        version: None,
    };
    let parsed = Arc::new(AvroFormat::default().parse(&fetched).expect("the test schema parses"));
    AvroFormat::datum_reader(&parsed).expect("a record of scalars is read by field")
}

/// Event `i` as a datum of version 1, or of version 2 with its new field set on odd events,
/// written by apache-avro.
fn event_datum(i: i64, v2: Option<&str>) -> Vec<u8> {
    use apache_avro::types::Value as Avro;
    let optional = |text: Option<String>| match text {
        Some(text) => Avro::Union(1, Box::new(Avro::String(text))),
        None => Avro::Union(0, Box::new(Avro::Null)),
    };
    let mut fields = vec![
        ("event_type".to_owned(), Avro::String(["click", "view", "buy"][i as usize % 3].to_owned())),
        ("user_id".to_owned(), Avro::Long(1000 + i)),
        ("at".to_owned(), Avro::TimestampMillis(1_758_189_600_000 + i * 60_000)),
        ("note".to_owned(), optional((i % 4 != 0).then(|| format!("note {i}")))),
        ("score".to_owned(), Avro::Double(i as f64 / 4.0)),
        ("ok".to_owned(), Avro::Boolean(i % 2 == 0)),
    ];
    let schema = match v2 {
        Some(schema) => {
            fields.push(("city".to_owned(), optional((i % 2 == 1).then(|| "Berlin".to_owned()))));
            schema
        }
        None => EVENT_V1,
    };
    let schema = apache_avro::Schema::parse_str(schema).expect("the test schema parses");
    let writer =
        apache_avro::writer::datum::GenericDatumWriter::builder(&schema).build().expect("a writer of the schema");
    writer.write_value_to_vec(Avro::Record(fields)).expect("the event fits its schema")
}

#[tokio::test(flavor = "multi_thread")]
async fn records_given_as_datums_make_the_files_their_decoded_values_make() {
    let v1 = datum_reader(EVENT_V1, 1);
    let v2_schema = EVENT_V1.replace(
        r#"{"name":"ok","type":"boolean"}]"#,
        r#"{"name":"ok","type":"boolean"},{"name":"city","type":["null","string"],"default":null}]"#,
    );
    let v2 = datum_reader(&v2_schema, 2);
    // Version 1, then version 2 interleaved from event 20 on (BACKWARD: older records are
    // projected onto the newer schema, which the file adopts).
    let datums: Vec<(Arc<dyn sluice_api::DatumReader>, Vec<u8>)> = (0..40)
        .map(|i| match i >= 20 && i % 3 == 0 {
            true => (v2.clone(), event_datum(i, Some(&v2_schema))),
            false => (v1.clone(), event_datum(i, None)),
        })
        .collect();
    let config = [
        ("flush.size", "25"),
        ("partitioner.class", "io.confluent.connect.storage.partitioner.FieldPartitioner"),
        ("partition.field.name", "event_type"),
        ("schema.compatibility", "BACKWARD"),
    ];
    let mut dirs = Vec::new();
    for as_datums in [false, true] {
        let batch: Vec<SinkRecord> = datums
            .iter()
            .enumerate()
            .map(|(i, (reader, data))| datum_record(i as i64, reader, data.clone(), as_datums))
            .collect();
        let (dir, put) = written(&config, &batch).await;
        put.unwrap();
        dirs.push(dir);
    }
    let files = parquet_files(dirs[0].path());
    assert_eq!(parquet_files(dirs[1].path()), files);
    let data: Vec<&String> = files.iter().filter(|f| f.ends_with(".parquet")).collect();
    // flush.size 25: two segments, each with a file per event type.
    assert_eq!(data.len(), 6, "{files:?}");
    let mut rows = 0;
    for file in data {
        let (decoded, datums) = (contents(&dirs[0].path().join(file)), contents(&dirs[1].path().join(file)));
        assert_eq!(datums, decoded, "{file}");
        rows += decoded.iter().map(|b| b.num_rows()).sum::<usize>();
    }
    assert_eq!(rows, 40);
    // The first click file adopted version 2 at event 21: its field is null for older records.
    let first = contents(&dirs[1].path().join("topics/events/event_type=click/events+0+0000000000.snappy.parquet"));
    let city = first[0].column_by_name("city").expect("the adopted schema's field");
    assert_eq!((city.len(), city.len() - city.null_count()), (9, 1), "of click events 0 to 24, only 21 has a city");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_holding_a_datum_that_does_not_decode_buffers_nothing_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let (mut task, _) = started(dir.path(), &[("flush.size", "100")]).await;
    let tp = TopicPartition::new("events", 0);
    task.open(std::slice::from_ref(&tp)).await.unwrap();
    let reader = datum_reader(EVENT_V1, 1);
    let datum_record = |offset: i64, data: Vec<u8>| datum_record(offset, &reader, data, true);
    let full = event_datum(0, None);
    let truncated = full[..full.len() - 3].to_vec();
    let batch = vec![datum_record(0, full.clone()), datum_record(1, truncated), datum_record(2, event_datum(3, None))];
    let Err(ConnectError::Undecodable { records }) = task.put(&batch).await else { panic!("expected Undecodable") };
    assert_eq!(records, [1]);
    task.close(std::slice::from_ref(&tp)).await.unwrap();
    assert!(!parquet_files(dir.path()).iter().any(|f| f.ends_with(".parquet")), "nothing of the batch was buffered");

    // The runtime puts the rest again.
    task.open(std::slice::from_ref(&tp)).await.unwrap();
    task.put(&[datum_record(0, full), datum_record(2, event_datum(3, None))]).await.unwrap();
    task.close(std::slice::from_ref(&tp)).await.unwrap();
    assert_eq!(rows(&dir.path().join("topics/events/event_type=click/events+0+0000000000.snappy.parquet")), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_datum_routed_by_a_null_field_with_a_default_goes_where_its_decoded_value_goes() {
    use apache_avro::types::Value as Avro;
    let schema = r#"{"type":"record","name":"Visit","fields":[
        {"name":"event_type","type":"string"},
        {"name":"region","type":["string","null"],"default":"unknown"}]}"#;
    let reader = datum_reader(schema, 3);
    let avro = apache_avro::Schema::parse_str(schema).unwrap();
    let writer = apache_avro::writer::datum::GenericDatumWriter::builder(&avro).build().unwrap();
    let datum = |region: Option<&str>| {
        let region = match region {
            Some(r) => Avro::Union(0, Box::new(Avro::String(r.to_owned()))),
            None => Avro::Union(1, Box::new(Avro::Null)),
        };
        let fields = vec![("event_type".to_owned(), Avro::String("click".to_owned())), ("region".to_owned(), region)];
        writer.write_value_to_vec(Avro::Record(fields)).unwrap()
    };
    let config = [
        ("flush.size", "10"),
        ("partitioner.class", "io.confluent.connect.storage.partitioner.FieldPartitioner"),
        ("partition.field.name", "region"),
    ];
    let mut trees = Vec::new();
    for as_datums in [false, true] {
        let batch: Vec<SinkRecord> = [Some("eu"), None, Some("us"), None]
            .into_iter()
            .enumerate()
            .map(|(i, region)| datum_record(i as i64, &reader, datum(region), as_datums))
            .collect();
        let (dir, put) = written(&config, &batch).await;
        put.unwrap();
        trees.push(parquet_files(dir.path()));
    }
    assert_eq!(trees[1], trees[0]);
    let dirs: Vec<&str> =
        trees[0].iter().filter(|f| f.ends_with(".parquet")).map(|f| f.rsplit_once('/').unwrap().0).collect();
    assert_eq!(
        dirs,
        ["topics/events/region=eu", "topics/events/region=unknown", "topics/events/region=us"],
        "{:?}",
        trees[0]
    );
}
