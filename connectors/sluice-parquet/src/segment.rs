//! [`Segment`]: the open files of one Kafka partition, published together, and
//! [`PartitionWriter`]: a partition's segment with what recovery found in the store.
//!
//! A segment covers a contiguous range of a Kafka partition's offsets, spread over one file per
//! directory (and per schema version that cannot share a file). It is published as a whole: the
//! range is recorded in the partition's state object first, then every file is published, then
//! the state object moves past the range. Only then does the range count as durable.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Fields};
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use sluice_api::{ConnectError, SchemaRef, TopicPartition};

use crate::columns::RowBuffer;
use crate::config::ParquetSinkConfig;
use crate::schema::Compatibility;

/// One open file: the records of one directory (and schema) in a segment.
pub(crate) struct OpenFile {
    /// The directory below `<topics.dir>/<topic>/`, as the partitioner encoded it.
    pub(crate) dir: String,
    /// The record's topic and partition, which name the file (after transforms, as Confluent's
    /// sink names them).
    pub(crate) topic: Arc<str>,
    pub(crate) partition: i32,
    pub(crate) first_offset: i64,
    pub(crate) last_offset: i64,
    /// When the file was opened, in the task's sequence (for "publish the oldest").
    pub(crate) opened: u64,
    pub(crate) buffer: RowBuffer,
}

/// A file encoded and waiting to be published.
pub(crate) struct EncodedFile {
    pub(crate) path: String,
    pub(crate) bytes: Bytes,
}

/// The open files of one Kafka partition.
#[derive(Default)]
pub(crate) struct Segment {
    pub(crate) files: Vec<OpenFile>,
    pub(crate) records: usize,
    pub(crate) bytes: usize,
    pub(crate) first_offset: Option<i64>,
    pub(crate) last_offset: i64,
    /// Record time of the first record (for `rotate.interval.ms`).
    pub(crate) first_time: Option<i64>,
    /// Wall-clock time (ms) at which `rotate.schedule.interval.ms` publishes the segment.
    pub(crate) deadline: Option<i64>,
    /// The segment encoded, after a publication that failed part way: retried as is.
    pub(crate) sealed: Option<Vec<EncodedFile>>,
}

impl Segment {
    pub(crate) fn is_empty(&self) -> bool {
        self.records == 0 && self.sealed.is_none()
    }

    /// The open file a record of `dir`, `topic`, `partition` and `schema` goes to, if one is open.
    pub(crate) fn file_for(
        &self,
        dir: &str,
        topic: &Arc<str>,
        partition: i32,
        schema: Option<&SchemaRef>,
    ) -> Option<usize> {
        self.files
            .iter()
            .position(|f| f.partition == partition && f.dir == dir && f.topic == *topic && f.buffer.admits(schema))
    }

    /// Opens a file for `dir`; returns its index.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn open_file(
        &mut self,
        dir: &str,
        topic: &Arc<str>,
        partition: i32,
        schema: Option<&SchemaRef>,
        compatibility: Compatibility,
        offset: i64,
        opened: u64,
    ) -> usize {
        self.files.push(OpenFile {
            dir: dir.to_owned(),
            topic: topic.clone(),
            partition,
            first_offset: offset,
            last_offset: offset,
            opened,
            buffer: RowBuffer::new(schema.cloned(), compatibility),
        });
        self.files.len() - 1
    }

    /// Notes a record appended to file `index`.
    pub(crate) fn appended(
        &mut self,
        index: usize,
        offset: i64,
        bytes_before: usize,
        clock_ms: fn() -> i64,
        schedule_ms: Option<i64>,
    ) {
        let file = &mut self.files[index];
        file.last_offset = offset;
        let bytes_after = file.buffer.buffered_bytes();
        self.bytes = (self.bytes + bytes_after).saturating_sub(bytes_before);
        self.records += 1;
        self.first_offset.get_or_insert(offset);
        self.last_offset = offset;
        if let (None, Some(interval)) = (self.deadline, schedule_ms) {
            // The next multiple of the interval on the wall clock (UTC), as Confluent's sink.
            // (The clock is read only here: once per segment, not per record.)
            self.deadline = Some((clock_ms().div_euclid(interval) + 1) * interval);
        }
    }

    /// The oldest open file's sequence number, if any.
    pub(crate) fn oldest_file(&self) -> Option<u64> {
        self.files.iter().map(|f| f.opened).min()
    }

    /// Turns the open files into encoded Parquet files (kept in `sealed` until published).
    pub(crate) fn seal(&mut self, config: &ParquetSinkConfig, source: &TopicPartition) -> Result<(), ConnectError> {
        if self.sealed.is_some() {
            return Ok(());
        }
        let mut encoded = Vec::with_capacity(self.files.len());
        for file in &mut self.files {
            let batch =
                file.buffer.finish().map_err(|e| ConnectError::fatal(format!("Cannot build a Parquet file: {e}")))?;
            if batch.num_columns() == 0 {
                tracing::warn!(dir = %file.dir, rows = batch.num_rows(), "Records without any field make no Parquet file; skipped.");
                continue;
            }
            let name = file_name(config, &file.topic, file.partition, file.first_offset);
            let path = file_path(&config.topics_dir, &file.topic, &file.dir, &name);
            let metadata = vec![
                KeyValue::new("sluice.topic".to_owned(), source.topic.to_string()),
                KeyValue::new("sluice.partition".to_owned(), source.partition.to_string()),
                KeyValue::new("sluice.first.offset".to_owned(), file.first_offset.to_string()),
                KeyValue::new("sluice.last.offset".to_owned(), file.last_offset.to_string()),
                KeyValue::new("sluice.record.count".to_owned(), batch.num_rows().to_string()),
            ];
            let bytes = encode(&batch, writer_properties(config, metadata, &batch))
                .map_err(|e| ConnectError::fatal(format!("Cannot encode the Parquet file {path}: {e}")))?;
            encoded.push(EncodedFile { path, bytes });
        }
        self.files.clear();
        self.sealed = Some(encoded);
        Ok(())
    }

    /// Forgets everything: the segment was published (or abandoned).
    pub(crate) fn reset(&mut self) {
        *self = Segment::default();
    }
}

fn writer_properties(config: &ParquetSinkConfig, metadata: Vec<KeyValue>, batch: &RecordBatch) -> WriterProperties {
    let mut builder = WriterProperties::builder()
        .set_compression(config.codec)
        .set_max_row_group_row_count(Some(config.row_group_rows))
        .set_dictionary_enabled(config.dictionary)
        .set_key_value_metadata(Some(metadata))
        .set_created_by(format!("sluice version {}", env!("CARGO_PKG_VERSION")));
    if config.dictionary {
        let mut plain = Vec::new();
        mostly_distinct_columns(batch.schema().fields(), batch.columns(), &mut Vec::new(), &mut plain);
        for path in plain {
            builder = builder.set_column_dictionary_enabled(path, false);
        }
    }
    builder.build()
}

/// Text and binary columns (also inside structs) whose values are mostly distinct, judged
/// from a sample: ids, session keys, timestamps as text. A dictionary of such a column is as
/// big as the column and only costs time to build (the writer hashes every value), so they
/// are written plain; Parquet's own fallback comes only once a dictionary passes its page size
/// limit. Columns inside lists keep the default.
fn mostly_distinct_columns(fields: &Fields, columns: &[ArrayRef], path: &mut Vec<String>, out: &mut Vec<ColumnPath>) {
    for (field, column) in fields.iter().zip(columns) {
        path.push(field.name().clone());
        let distinct = match column.data_type() {
            DataType::Utf8 => mostly_distinct(column.as_string::<i32>().iter().map(|v| v.map(str::as_bytes))),
            DataType::Binary => mostly_distinct(column.as_binary::<i32>().iter()),
            DataType::Struct(children) => {
                mostly_distinct_columns(children, column.as_struct().columns(), path, out);
                false
            }
            _ => false,
        };
        if distinct {
            out.push(ColumnPath::new(path.clone()));
        }
        path.pop();
    }
}

/// Whether more than three in four of up to 128 values, sampled evenly over the column
/// (nulls left out), differ from each other.
fn mostly_distinct<'a>(values: impl ExactSizeIterator<Item = Option<&'a [u8]>>) -> bool {
    const SAMPLE: usize = 128;
    let step = values.len().div_ceil(SAMPLE).max(1);
    let mut sample: Vec<&[u8]> = values.step_by(step).flatten().collect();
    if sample.len() < 8 {
        return false;
    }
    let sampled = sample.len();
    sample.sort_unstable();
    sample.dedup();
    sample.len() * 4 > sampled * 3
}

fn encode(batch: &RecordBatch, properties: WriterProperties) -> Result<Bytes, parquet::errors::ParquetError> {
    let mut writer = ArrowWriter::try_new(Vec::new(), batch.schema(), Some(properties))?;
    writer.write(batch)?;
    Ok(Bytes::from(writer.into_inner()?))
}

/// `<topic>+<partition>+<first offset, zero-padded>.<codec>.parquet`.
pub(crate) fn file_name(config: &ParquetSinkConfig, topic: &str, partition: i32, first_offset: i64) -> String {
    let delim = &config.file_delim;
    let width = config.pad_width;
    if config.codec_extension.is_empty() {
        format!("{topic}{delim}{partition}{delim}{first_offset:0width$}.parquet")
    } else {
        format!("{topic}{delim}{partition}{delim}{first_offset:0width$}.{}.parquet", config.codec_extension)
    }
}

/// `<topics.dir>/<topic>/<dir>/<name>`.
pub(crate) fn file_path(topics_dir: &str, topic: &str, dir: &str, name: &str) -> String {
    let mut path = String::with_capacity(topics_dir.len() + topic.len() + dir.len() + name.len() + 3);
    for part in [topics_dir, topic, dir, name] {
        if part.is_empty() {
            continue;
        }
        if !path.is_empty() {
            path.push('/');
        }
        path.push_str(part);
    }
    path
}

/// Milliseconds since the epoch, now.
pub(crate) fn wall_clock_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
