//! The worker's in-process record path for the Parquet benchmark's connector, one task:
//! batches of benchmark events `put` into a `ParquetSinkTask` (FieldPartitioner on
//! `event_type`, snappy, a local directory on tmpfs when there is one) and published as files
//! every five batches (`flush.size` 50,000: 16 files of about 3,000 rows). Two stages: the
//! JSON lane the worker takes for schemaless JSON without transforms (each record's text read
//! straight into the columns), and records whose values were decoded before `put` (as with a
//! transform; the decoding itself is not counted). No Kafka: what is left of the worker's CPU
//! per record once consuming is taken away.
//!
//!     cargo bench -p sluice-parquet --bench write
//!     BENCH=parquet tests/bench/instructions.sh     # instructions per record, per stage
//!
//! Both stages write the same files (checked once before measuring).

#[path = "../../../tests/bench/record_path.rs"]
mod record_path;

use std::path::Path;

use sluice_api::{ConnectorConfig, SinkRecord, SinkTask, TopicPartition, Value};
use sluice_parquet::ParquetSinkTask;

use record_path::{event, Budget, BATCH};

/// Batches per published segment.
const BATCHES_PER_FILE: usize = 5;

/// One task writing into `dir`, partition 0 of `bench` open.
fn task(runtime: &tokio::runtime::Runtime, dir: &Path) -> ParquetSinkTask {
    let url = format!("file://{}", dir.display());
    let flush = (BATCH * BATCHES_PER_FILE).to_string();
    let config: ConnectorConfig = [
        ("store.url", url.as_str()),
        ("flush.size", flush.as_str()),
        ("partitioner.class", "io.confluent.connect.storage.partitioner.FieldPartitioner"),
        ("partition.field.name", "event_type"),
    ]
    .into_iter()
    .collect();
    let mut task = ParquetSinkTask::new();
    runtime.block_on(async {
        task.start(&config).await.expect("starts");
        task.open(&[TopicPartition::shared("bench", 0)]).await.expect("opens");
    });
    task
}

/// Puts the batches in turn, again and again, each time at the next offsets; returns records
/// per call.
fn putting<'a>(
    runtime: &'a tokio::runtime::Runtime,
    task: &'a mut ParquetSinkTask,
    batches: &'a mut [Vec<SinkRecord>],
) -> impl FnMut() -> usize + 'a {
    let mut next = 0;
    move || {
        let records = &mut batches[next % BATCHES_PER_FILE];
        next += 1;
        runtime.block_on(task.put(records)).expect("puts");
        for record in records.iter_mut() {
            record.offset += (BATCH * BATCHES_PER_FILE) as i64;
        }
        records.len()
    }
}

/// Every file below `dir`, relative, with its bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("lists").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push((path.strip_prefix(dir).unwrap().display().to_string(), std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn main() {
    let budget = Budget::from_env();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let tmp = |name: &str| {
        let shm = Path::new("/dev/shm");
        let dir = if shm.is_dir() { tempfile::tempdir_in(shm) } else { tempfile::tempdir() };
        let dir = dir.expect("a temporary directory");
        std::fs::create_dir(dir.path().join(name)).unwrap();
        dir
    };
    // Five different batches, so that a file's values repeat as a topic's do.
    let payloads: Vec<Vec<u8>> = (0..BATCH * BATCHES_PER_FILE).map(event).collect();
    // Named as the worker names them: the process's one topic name, shared by every record
    // and by the partition the sink opened.
    let topic = sluice_api::topic_name("bench");
    let record = |offset, value| SinkRecord {
        topic: topic.clone(),
        original_topic: topic.clone(),
        ..SinkRecord::with_value("bench", 0, offset, value)
    };
    let as_text = |p: &Vec<u8>, offset| SinkRecord {
        value_json: Some(bytes::Bytes::copy_from_slice(p)),
        ..record(offset, Value::Null)
    };
    let decoded = |p: &Vec<u8>, offset| record(offset, sluice_api::json::parse(p).expect("the events are JSON"));
    let batches = |make: &dyn Fn(&Vec<u8>, i64) -> SinkRecord| -> Vec<Vec<SinkRecord>> {
        payloads
            .chunks(BATCH)
            .zip((0..).step_by(BATCH))
            .map(|(c, first)| c.iter().zip(first..).map(|(p, o)| make(p, o)).collect())
            .collect()
    };
    let mut texts = batches(&as_text);
    let mut values = batches(&decoded);

    // Both ways write the same files.
    let check = tmp("check");
    let mut written = Vec::new();
    for (name, records) in [("text", &texts), ("values", &values)] {
        let dir = check.path().join(name);
        let mut task = task(&runtime, &dir);
        let mut records = records.clone();
        let mut put = putting(&runtime, &mut task, &mut records);
        (0..BATCHES_PER_FILE).for_each(|_| {
            put();
        });
        written.push(files(&dir.join("topics")));
    }
    assert_eq!(written[0].iter().filter(|(name, _)| name.ends_with(".parquet")).count(), 16, "a file per event type");
    assert!(written[0] == written[1], "the JSON lane and decoded values write the same files");

    let out = tmp("lane");
    let mut lane_task = task(&runtime, &out.path().join("lane"));
    let lane_ns = budget.measure("JSON lane: text → published files", putting(&runtime, &mut lane_task, &mut texts));
    let mut value_task = task(&runtime, &out.path().join("values"));
    let values_ns = budget.measure("decoded values → published files", putting(&runtime, &mut value_task, &mut values));

    println!(
        "Parquet record path, one task, batches of {BATCH} benchmark events ({} B of JSON per record), a segment of 16 files every {BATCHES_PER_FILE} batches",
        payloads.iter().map(Vec::len).sum::<usize>() / payloads.len(),
    );
    println!("{:<48} {:>12} {:>10} {:>14}", "stage", "records/s", "ns/record", "CPU-s/M");
    for (name, ns) in [lane_ns, values_ns] {
        if let Some(ns) = ns {
            println!("{name:<48} {:>12.0} {ns:>10.0} {:>14.3}", 1e9 / ns, ns / 1000.0);
        }
    }
}
