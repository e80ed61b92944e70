//! The Parquet sink connector: Kafka records into Parquet files, partitioned into directories
//! by what analysts query on, rotated by size and time, and published exactly once, on a local
//! disk or an S3-compatible store. Configuration keys are those of Confluent's S3 sink
//! (`s3.bucket.name`, `store.url`, `topics.dir`, `flush.size`, `partitioner.class`,
//! `path.format`, …), so an existing S3 sink JSON works with at most its credentials changed.
//!
//! # Layout
//! - [`connector`]: `ParquetSinkConnector` — config docs, validation, task creation.
//! - [`config`]: `ParquetSinkConfig` parsed from the connector's string map; `config_def`.
//! - [`sink`]: `ParquetSinkTask` — routes records to the open segment of their Kafka partition,
//!   rotates, publishes, and reports the offsets of published files as durable; recovery after
//!   a crash (the exactly-once design is in its module doc). Its `values` (`sink_values.rs`):
//!   the batch's JSON text and Avro datums read once into their fields, and what routing reads.
//! - `segment` (private): one Kafka partition's open files, encoded to Parquet together, and
//!   file names (`<topic>+<partition>+<first offset>.<codec>.parquet`).
//! - [`partitioner`]: Confluent's partitioners (Default, Field, TimeBased, Daily, Hourly, and
//!   FieldTime: fields, then time) and timestamp extractors: the directory of each record.
//!   Submodules: `config` (keys and `PartitionerConfig`), `field` (field paths, escaped
//!   values), `time` (`path.format`, time zones, buckets), `extractor` (`TimestampExtractor`).
//! - [`schema`]: Kafka Connect schemas as Arrow schemas; compatibility between schema versions.
//! - [`columns`]: `RowBuffer` — records appended column by column into Arrow-layout buffers
//!   (`storage`), coerced as their Connect schema says and moved between schema versions
//!   (`typed`), or with the schema inferred and widened for schemaless JSON (`inferred`),
//!   from decoded values, from the fields of the records' JSON text (the JSON lane), or from
//!   the fields of their Avro datums (`RowBuffer::push_fields`).
//! - [`store`]: `ParquetStore` — the local directory or the S3 bucket (object_store): atomic
//!   publication of a file, and the small per-partition state object recovery reads.

pub mod columns;
pub mod config;
pub mod connector;
pub mod partitioner;
pub mod schema;
mod segment;
pub mod sink;
pub mod store;

use sluice_api::{PluginDesc, PluginKind};

pub use config::{config_def, ParquetSinkConfig};
pub use connector::ParquetSinkConnector;
pub use sink::ParquetSinkTask;
pub use store::ParquetStore;

/// How the worker lists this connector: Sluice's class name, the short names, and Confluent's
/// S3 sink (which this sink stands in for with `format.class` set to its `ParquetFormat`).
pub fn plugin_desc() -> PluginDesc {
    PluginDesc {
        class: config::CLASS,
        aliases: &[config::CONFLUENT_S3_CLASS, "ParquetSinkConnector", "ParquetSink"],
        kind: PluginKind::Sink,
        version: env!("CARGO_PKG_VERSION"),
    }
}
