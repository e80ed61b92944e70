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
