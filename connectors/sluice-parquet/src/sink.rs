//! [`ParquetSinkTask`]: records into the open segment of their Kafka partition, segments
//! published when a rotation rule says so, and the offsets of published segments reported as
//! durable.
//!
//! Exactly once, how: a Kafka partition's files are published one segment at a time, and its
//! state object in the store (see [`crate::store`]) is the record of what is published. Before a
//! segment's files are published, the state object names the segment's offset range; after, it
//! names the offset where the next segment starts. On `open`, the sink reads the state object:
//! if a segment was being published, it asks the runtime to read again from the segment's first
//! offset and cuts the segment after the same last offset, so the same files are written again
//! under the same names (each file is named by its first offset), replacing any that were
//! published. Records before the published position are skipped if Kafka delivers them again (a
//! commit that did not land). Kafka's committed offset follows the state object, so lag is
//! monitored as usual.
//!
//! Schemaless JSON comes as text (the JSON lane, `SinkTask::reads_json_values`): `put` reads
//! every record's text once, before it buffers anything (text that is not JSON fails the batch
//! with `ConnectError::Undecodable`), into the top-level fields of its object; routing reads a map
//! of only the fields the partitioner and the rotation need, and the row is appended from the
//! fields. Text that is not a plain object (a bare value, escapes, exponents) is parsed into a
//! value and goes the usual way. Avro values come as datums (`SinkTask::reads_datums`) and go
//! the same way: their top-level fields read with the datum's reader, routed like JSON fields,
//! and appended straight into the columns of a file of their schema; a datum its reader does
//! not read field by field (nested values), or of another schema version than its file's, is
//! decoded and goes the usual way.
//!
//! Rotation: `flush.size` records, `file.max.bytes` buffered, `rotate.interval.ms` of record
//! time, and `rotate.schedule.interval.ms` of wall clock (checked in `flush`, which the runtime
//! calls even when no record arrives); the task-wide bounds `partitioner.max.open.files`
//! (publishes the partition holding the oldest file) and `buffer.max.bytes` (publishes the
//! partition holding the most). Cuts by count and record time fall on the same records when the
//! same records are read again; the others depend on timing, which is why recovery relies on
//! the state object rather than on repeating them.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use sluice_api::{
    ConnectError, ConnectorConfig, Offsets, Result, SinkRecord, SinkTask, SinkTaskContext, TopicPartition, Value,
};

use crate::config::{NullValues, ParquetSinkConfig};
use crate::partitioner::Partitioner;
use crate::segment::{wall_clock_ms, Segment};
use crate::store::{ParquetStore, PartitionProgress, PublishingRange};
use values::{routing_value, DirMemo, RecordValue, UndecodedValues};

#[path = "sink_values.rs"]
mod values;

/// The Parquet sink task.
#[derive(Default)]
pub struct ParquetSinkTask {
    context: Option<Arc<dyn SinkTaskContext>>,
    state: Option<Running>,
}

struct Running {
    config: Arc<ParquetSinkConfig>,
    store: ParquetStore,
    partitioner: Box<dyn Partitioner>,
    writers: BTreeMap<TopicPartition, PartitionWriter>,
    /// Sequence of opened files, for "publish the oldest".
    opened: u64,
    /// The directory of the record being routed (reused).
    dir: String,
    /// The top-level fields of record values that routing reads (partitioner, rotation time).
    routing_fields: Vec<String>,
    /// The routing fields of a record read from JSON text, as a map (reused): what the
    /// partitioner and the rotation read instead of a decoded value.
    routing: Value,
    /// Directories of routed values seen, when the directory depends on them only and the
    /// rotation reads no field of the value.
    dir_memo: Option<DirMemo>,
    /// Bad records of a `put` that failed for a passing reason, by partition and offset: a
    /// retry of the same batch skips what was already buffered and reports these again.
    failed: HashMap<(TopicPartition, i64), String>,
    /// The runtime's task context: asked right before each object is written whether the
    /// process stood still (a frozen worker must not publish over the new owner's files).
    context: Option<Arc<dyn SinkTaskContext>>,
}

/// One Kafka partition's open segment and where its published files end.
struct PartitionWriter {
    /// Records before this offset are in published files.
    next_offset: i64,
    /// The last offset buffered or found bad: a retried batch skips up to here.
    handled_through: i64,
    /// Recovery: the segment must be cut after this offset (the range the previous owner was
    /// publishing).
    cut_after: Option<i64>,
    segment: Segment,
}

/// Why a record could not be routed.
enum RouteError {
    /// The record is bad: it goes to the dead letter queue (or fails the task).
    Record(String),
    /// The store failed; the batch is retried.
    Store(ConnectError),
}

impl From<ConnectError> for RouteError {
    fn from(error: ConnectError) -> Self {
        RouteError::Store(error)
    }
}

impl ParquetSinkTask {
    pub fn new() -> Self {
        Self::default()
    }

    fn running(&mut self) -> Result<&mut Running> {
        self.state.as_mut().ok_or_else(|| ConnectError::fatal("The Parquet sink task was used before start."))
    }
}

#[async_trait]
impl SinkTask for ParquetSinkTask {
    fn initialize(&mut self, context: Arc<dyn SinkTaskContext>) {
        self.context = Some(context);
    }

    async fn start(&mut self, config: &ConnectorConfig) -> Result<()> {
        let config = ParquetSinkConfig::from_connector_config(config)?;
        let store = ParquetStore::open(&config.store)?;
        let partitioner = config.partitioner.build();
        let mut routing_fields: Vec<String> = partitioner.value_fields().into_iter().map(str::to_owned).collect();
        if config.rotate_interval.is_some() {
            routing_fields.extend(config.rotation_time.value_field().map(str::to_owned));
        }
        routing_fields.sort();
        routing_fields.dedup();
        let rotation_reads_value = config.rotate_interval.is_some() && config.rotation_time.value_field().is_some();
        let dir_memo = (partitioner.reads_value_only() && !rotation_reads_value).then(DirMemo::default);
        self.state = Some(Running {
            config: Arc::new(config),
            store,
            partitioner,
            writers: BTreeMap::new(),
            opened: 0,
            dir: String::new(),
            routing_fields,
            routing: Value::Null,
            dir_memo,
            failed: HashMap::new(),
            context: self.context.clone(),
        });
        Ok(())
    }

    async fn open(&mut self, partitions: &[TopicPartition]) -> Result<()> {
        let context = self.context.clone();
        let run = self.running()?;
        for tp in partitions {
            let progress = run.store.read_state(&run.config.topics_dir, &tp.topic, tp.partition).await?;
            let progress = progress.unwrap_or_default();
            let mut writer = PartitionWriter {
                next_offset: progress.next_offset,
                handled_through: progress.next_offset - 1,
                cut_after: None,
                segment: Segment::default(),
            };
            if let Some(range) = progress.publishing {
                tracing::info!(partition = %tp, start = range.start, last = range.last, "Files of this partition were being published; writing them again.");
                writer.next_offset = range.start;
                writer.handled_through = range.start - 1;
                writer.cut_after = Some(range.last);
                if let Some(context) = &context {
                    context.offset(tp, range.start);
                }
            }
            run.writers.insert(tp.clone(), writer);
        }
        Ok(())
    }

    async fn put(&mut self, records: &[SinkRecord]) -> Result<()> {
        let run = self.running()?;
        run.publish_due(false).await?;
        let mut last = None;
        let texts = UndecodedValues::read(records, |record| {
            let tp = partition_of(&mut last, record);
            run.writers.get(tp).is_some_and(|w| record.offset <= w.handled_through)
        })?;
        // Cloned once per batch, not per record (a shared count touched twice for each).
        let config = run.config.clone();
        let mut failures = Vec::new();
        for (index, record) in records.iter().enumerate() {
            let tp = partition_of(&mut last, record);
            let Some(writer) = run.writers.get(tp) else {
                return Err(ConnectError::fatal(format!("A record of {tp} arrived before the partition was opened.")));
            };
            if record.offset <= writer.handled_through {
                if let Some(reason) = run.failed.get(&(tp.clone(), record.offset)) {
                    failures.push((index, ConnectError::data(reason.clone())));
                }
                continue;
            }
            match run.route(tp, record, texts.value(index, record), &config).await {
                Ok(()) => {}
                Err(RouteError::Record(reason)) => {
                    if let Some(w) = run.writers.get_mut(tp) {
                        w.handled_through = record.offset;
                    }
                    run.failed.insert((tp.clone(), record.offset), reason.clone());
                    failures.push((index, ConnectError::data(reason)));
                }
                Err(RouteError::Store(error)) => return Err(error),
            }
        }
        run.failed.clear();
        if failures.is_empty() {
            Ok(())
        } else {
            Err(ConnectError::Records { failures })
        }
    }

    async fn flush(&mut self, consumed: &Offsets) -> Result<Offsets> {
        let Some(run) = self.state.as_mut() else { return Ok(Offsets::new()) };
        // Wall-clock rotation fires here; a store outage only delays it (the segment stays
        // buffered and is published at a later flush or put).
        if let Err(error) = run.publish_due(true).await {
            if !error.is_retriable() {
                return Err(error);
            }
            tracing::warn!(%error, "Publishing files failed; retrying later.");
        }
        let mut durable = Offsets::new();
        for (tp, &settled) in consumed {
            let Some(writer) = run.writers.get(tp) else { continue };
            let next = if writer.segment.is_empty() {
                settled
            } else {
                settled.min(writer.segment.first_offset.unwrap_or(writer.next_offset))
            };
            durable.insert(tp.clone(), next);
        }
        Ok(durable)
    }

    /// Publishes what is open for the partitions, then forgets them.
    async fn close(&mut self, partitions: &[TopicPartition]) -> Result<()> {
        let Some(run) = self.state.as_mut() else { return Ok(()) };
        for tp in partitions {
            run.publish(tp).await?;
            run.forget(tp);
        }
        Ok(())
    }

    /// Another task owns the partitions now and may be publishing their files: drop what is
    /// open without publishing (those records are read again by the new owner).
    async fn lost(&mut self, partitions: &[TopicPartition]) -> Result<()> {
        if let Some(run) = self.state.as_mut() {
            for tp in partitions {
                run.forget(tp);
            }
        }
        Ok(())
    }

    /// Files are made of the record's value and coordinates, never its headers.
    fn reads_headers(&self) -> bool {
        false
    }

    /// Schemaless JSON is read straight from its text into the file's columns: the top-level
    /// fields of each object, without building a value.
    fn reads_json_values(&self) -> bool {
        true
    }

    /// Avro datums are read field by field straight into the file's columns (or decoded, see
    /// the module doc).
    fn reads_datums(&self) -> bool {
        true
    }
}

/// The partition `record` was read from: `last` again when the record is of it (records come
/// in runs of one partition), so no reference count of the topic's name is touched per record.
fn partition_of<'l>(last: &'l mut Option<TopicPartition>, record: &SinkRecord) -> &'l TopicPartition {
    let same = |tp: &TopicPartition| {
        tp.partition == record.original_partition && Arc::ptr_eq(&tp.topic, &record.original_topic)
    };
    if !last.as_ref().is_some_and(same) {
        *last = Some(record.original_topic_partition());
    }
    last.get_or_insert_with(|| record.original_topic_partition())
}

impl Running {
    fn forget(&mut self, tp: &TopicPartition) {
        self.writers.remove(tp);
        self.failed.retain(|(t, _), _| t != tp);
    }

    /// Routes one record into its file, publishing segments the record's arrival closes.
    async fn route(
        &mut self,
        tp: &TopicPartition,
        record: &SinkRecord,
        value: RecordValue<'_>,
        config: &ParquetSinkConfig,
    ) -> std::result::Result<(), RouteError> {
        if matches!(value, RecordValue::Decoded(v) if v.is_null()) {
            return match config.null_values {
                NullValues::Ignore => {
                    self.writer(tp)?.handled_through = record.offset;
                    Ok(())
                }
                NullValues::Fail => Err(RouteError::Record(
                    "The record's value is null (a tombstone); set behavior.on.null.values=ignore to skip such records."
                        .to_owned(),
                )),
            };
        }
        // A recovered range ends where it ended before.
        let cut = self.writer(tp)?.cut_after;
        if cut.is_some_and(|last| record.offset > last) {
            self.publish(tp).await?;
            self.writer(tp)?.cut_after = None;
        }
        let mut dir = std::mem::take(&mut self.dir);
        dir.clear();
        // A directory seen for the same routed values: nothing reads the routing map then.
        if let Some(seen) = self.dir_memo.as_mut().and_then(|memo| memo.get(value, &self.routing_fields)) {
            dir.push_str(seen);
            let result = self.append(tp, record, value, &Value::Null, &dir, config).await;
            self.dir = dir;
            return result;
        }
        let mut scratch = std::mem::replace(&mut self.routing, Value::Null);
        let result = match routing_value(value, &self.routing_fields, &mut scratch, record.value_schema.as_ref()) {
            Ok(routing) => match self.partitioner.encode_partition(record, routing, &mut dir) {
                Ok(()) => {
                    if let Some(memo) = self.dir_memo.as_mut() {
                        memo.remember(&dir);
                    }
                    self.append(tp, record, value, routing, &dir, config).await
                }
                Err(e) => Err(RouteError::Record(e.to_string())),
            },
            Err(reason) => Err(RouteError::Record(reason)),
        };
        self.dir = dir;
        self.routing = scratch;
        result
    }

    async fn append(
        &mut self,
        tp: &TopicPartition,
        record: &SinkRecord,
        value: RecordValue<'_>,
        routing: &Value,
        dir: &str,
        config: &ParquetSinkConfig,
    ) -> std::result::Result<(), RouteError> {
        if let Some(interval) = config.rotate_interval {
            let time = config.rotation_time.extract(record, routing).map_err(|e| RouteError::Record(e.to_string()))?;
            let first = self.writer(tp)?.segment.first_time;
            if first.is_some_and(|first| time - first >= interval.as_millis() as i64) {
                self.publish(tp).await?;
            }
            self.writer(tp)?.segment.first_time.get_or_insert(time);
        }
        let schema = record.value_schema.as_ref();
        let existing = self.writer(tp)?.segment.file_for(dir, &record.topic, record.partition, schema);
        let index = match existing {
            Some(index) => index,
            None => {
                if self.open_files() >= config.max_open_files {
                    self.publish_oldest().await?;
                }
                self.opened += 1;
                let opened = self.opened;
                let segment = &mut self.writer(tp)?.segment;
                segment.open_file(
                    dir,
                    &record.topic,
                    record.partition,
                    schema,
                    config.compatibility,
                    record.offset,
                    opened,
                )
            }
        };
        let writer = self.writer(tp)?;
        let file = &mut writer.segment.files[index];
        let before = file.buffer.buffered_bytes();
        let pushed = match value {
            RecordValue::Decoded(value) => file.buffer.push(value, schema),
            RecordValue::Fields(fields) => file.buffer.push_json_fields(fields),
            RecordValue::DatumFields(fields) => match schema {
                Some(schema) => match file.buffer.push_fields(fields, schema) {
                    Ok(true) => Ok(()),
                    // Another version of the schema, or a new file: the value decides.
                    Ok(false) => match record.decoded_value() {
                        Ok(value) => file.buffer.push(&value, Some(schema)),
                        Err(error) => return Err(RouteError::Record(error.to_string())),
                    },
                    Err(error) => Err(error),
                },
                None => return Err(RouteError::Record("A datum arrived without its value schema.".to_owned())),
            },
        };
        if let Err(error) = pushed {
            if file.buffer.rows() == 0 {
                writer.segment.files.swap_remove(index);
            }
            return Err(RouteError::Record(error.to_string()));
        }
        let schedule = config.rotate_schedule.map(|d| d.as_millis() as i64);
        writer.segment.appended(index, record.offset, before, wall_clock_ms, schedule);
        writer.handled_through = record.offset;
        let full = writer.segment.records >= config.flush_size
            || writer.segment.bytes >= config.file_max_bytes
            || writer.cut_after == Some(record.offset);
        if full {
            self.publish(tp).await?;
            if let Some(w) = self.writers.get_mut(tp) {
                w.cut_after = None;
            }
        }
        if self.buffered_bytes() > config.buffer_max_bytes {
            self.publish_largest().await?;
        }
        Ok(())
    }

    fn writer(&mut self, tp: &TopicPartition) -> std::result::Result<&mut PartitionWriter, ConnectError> {
        self.writers.get_mut(tp).ok_or_else(|| ConnectError::fatal(format!("The partition {tp} is not open.")))
    }

    fn open_files(&self) -> usize {
        self.writers.values().map(|w| w.segment.files.len()).sum()
    }

    fn buffered_bytes(&self) -> usize {
        self.writers.values().map(|w| w.segment.bytes).sum()
    }

    async fn publish_oldest(&mut self) -> std::result::Result<(), ConnectError> {
        let oldest = self.writers.iter().filter_map(|(tp, w)| w.segment.oldest_file().map(|o| (o, tp.clone()))).min();
        match oldest {
            Some((_, tp)) => self.publish(&tp).await,
            None => Ok(()),
        }
    }

    async fn publish_largest(&mut self) -> std::result::Result<(), ConnectError> {
        let largest = self.writers.iter().max_by_key(|(_, w)| w.segment.bytes).map(|(tp, _)| tp.clone());
        match largest {
            Some(tp) => self.publish(&tp).await,
            None => Ok(()),
        }
    }

    /// Publishes segments left sealed by a failed publication and, with `scheduled`, those
    /// whose wall-clock deadline passed.
    async fn publish_due(&mut self, scheduled: bool) -> std::result::Result<(), ConnectError> {
        let now = wall_clock_ms();
        let due: Vec<TopicPartition> = self
            .writers
            .iter()
            .filter(|(_, w)| w.segment.sealed.is_some() || (scheduled && w.segment.deadline.is_some_and(|d| now >= d)))
            .map(|(tp, _)| tp.clone())
            .collect();
        for tp in due {
            self.publish(&tp).await?;
        }
        Ok(())
    }

    /// Publishes a partition's segment: its range into the state object, its files, then the
    /// state object past the range.
    async fn publish(&mut self, tp: &TopicPartition) -> std::result::Result<(), ConnectError> {
        let config = self.config.clone();
        let Some(writer) = self.writers.get_mut(tp) else { return Ok(()) };
        if writer.segment.is_empty() {
            return Ok(());
        }
        let (Some(start), last) = (writer.segment.first_offset, writer.segment.last_offset) else { return Ok(()) };
        let segment = &mut writer.segment;
        // Encoding is CPU work: keep it off the threads that poll the runtime's I/O.
        tokio::task::block_in_place(|| segment.seal(&config, tp))?;
        let dir = &config.topics_dir;
        let publishing =
            PartitionProgress { next_offset: writer.next_offset, publishing: Some(PublishingRange { start, last }) };
        let not_stalled = || self.context.as_ref().map_or(Ok(()), |c| c.check_not_stalled());
        not_stalled()?;
        self.store.write_state(dir, &tp.topic, tp.partition, &publishing).await?;
        for file in writer.segment.sealed.iter().flatten() {
            not_stalled()?;
            self.store.publish(&file.path, file.bytes.clone()).await?;
        }
        let published = PartitionProgress { next_offset: last + 1, publishing: None };
        not_stalled()?;
        self.store.write_state(dir, &tp.topic, tp.partition, &published).await?;
        let files = writer.segment.sealed.as_ref().map_or(0, Vec::len);
        tracing::debug!(partition = %tp, start, last, files, "Published files.");
        writer.next_offset = last + 1;
        writer.segment.reset();
        Ok(())
    }
}

#[cfg(test)]
#[path = "sink_tests.rs"]
mod tests;
