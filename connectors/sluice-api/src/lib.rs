//! The record model and plugin API every part of Sluice is written against.
//!
//! This crate is deliberately light (serde, bytes, chrono, base64, thiserror): connectors,
//! converters, transforms and the worker all depend on it, and it depends on nothing heavy.
//!
//! # Layout
//! - [`schema`]: Kafka Connect's schema model: primitive types, array, map, struct,
//!   optional/default/name/version/doc/parameters, and the logical types Decimal, Date,
//!   Time and Timestamp.
//! - [`value`]: a value that may or may not carry a schema (`Value`), and `Struct`.
//! - [`record`]: `SinkRecord` (topic, partition, offset, timestamp, key, value, headers), the
//!   undecoded values a sink may take instead (JSON text; a `Datum` with its `DatumReader`,
//!   whose fields are read one by one), the offset bookkeeping types `TopicPartition` and
//!   `Offsets`, and `topic_name`, the process's one shared name of each topic.
//! - [`error`]: `ConnectError`, which says whether a failure is retriable, a bad record or a
//!   bad configuration, as data.
//! - [`json`]: plain JSON text as a schemaless `Value` (`parse`); `check`, which fails where
//!   `parse` fails without building the value; `ObjectFields`, an object's fields read straight
//!   from the text for the sinks' JSON lane (a key expected from the previous record, a
//!   `PlainName`, is compared rather than read); `FieldValue`, one field as a lane reads it
//!   (from JSON text or a datum).
//! - [`coerce`]: value coercion shared by every sink, converter and transform: numbers from
//!   strings, exact decimals, ISO-8601 points in time, UUIDs, JSON and Kafka Connect text.
//! - [`config`]: typed access to Kafka Connect style string maps, with errors naming the key,
//!   and `ConfigDef` for documenting and validating keys.
//! - [`plugin`]: the traits `SinkConnector`, `SinkTask` (with its `SinkTaskContext`),
//!   `Converter`, `Transform`, `Predicate`.
//! - [`registry`]: `PluginRegistry`, the name → factory table the worker looks plugins up in.
//! - [`secrets`]: which config keys are passwords (one rule for REST answers, logs and
//!   validation), shown as `[hidden]` and kept when sent back so.

pub mod coerce;
pub mod config;
pub mod error;
pub mod json;
pub mod plugin;
pub mod record;
pub mod registry;
pub mod schema;
pub mod secrets;
pub mod value;

pub use config::{ConfigDef, ConfigKey, ConfigType, ConnectorConfig, Display, Importance, KeySpec, Width};
pub use error::{ConnectError, Result};
pub use plugin::{Converter, Predicate, SinkConnector, SinkTask, SinkTaskContext, Transform};
pub use record::{topic_name, Datum, DatumReader, Header, Offsets, SchemaAndValue, SinkRecord, TopicPartition};
pub use registry::{ConverterFactory, PluginDesc, PluginKind, PluginRegistry, PredicateFactory, TransformFactory};
pub use schema::{Field, Schema, SchemaRef, SchemaType};
pub use value::{format_compact, CompactString, Struct, Value};
