//! The file sink connector: Kafka Connect's own `FileStreamSinkConnector`, with its class name,
//! its one key (`file`) and its output: one line per record, the record's value as Kafka
//! Connect's JVM prints it (`Struct{user_id=u1,device=tv}`, `{a=1, b=2}`, `[x, y]`, `null`),
//! appended to a file or written to the worker's stdout. A connector JSON written for Kafka
//! Connect's quickstart runs unchanged, and writes the same lines.
//!
//! It is the like-for-like connector of the runtime-overhead benchmark
//! (`tests/bench/filesink_bench.py`): the sink itself does almost nothing, so what is measured
//! is the runtime around it.
//!
//! # Layout
//! - [`connector`]: `FileStreamSinkConnector` — config docs, validation, task creation.
//! - [`config`]: `FileSinkConfig` parsed from the connector's string map; `config_def`.
//! - [`sink`]: `FileStreamSinkTask` — renders records into a buffer, writes it out when it is
//!   large and in every `flush`, so the offsets it reports are of written lines.
//! - [`render`]: Java's `String.valueOf` of a Connect value (`Struct.toString`, `HashMap` in its
//!   iteration order, `ArrayList`, `java.util.Date`), numbers through `sluice_api::coerce`.

pub mod config;
pub mod connector;
pub mod render;
pub mod sink;

use sluice_api::{PluginDesc, PluginKind};

pub use config::{config_def, Destination, FileSinkConfig};
pub use connector::FileStreamSinkConnector;
pub use sink::FileStreamSinkTask;

/// How the worker lists this connector: Kafka Connect's class name and its short names.
pub fn plugin_desc() -> PluginDesc {
    PluginDesc {
        class: config::CLASS,
        aliases: &["FileStreamSinkConnector", "FileStreamSink"],
        kind: PluginKind::Sink,
        version: env!("CARGO_PKG_VERSION"),
    }
}
