//! The ClickHouse sink connector: Kafka records into ClickHouse tables, over HTTP, in RowBinary.
//! Configuration keys are those of the official ClickHouse Kafka connector (`hostname`,
//! `port`, `ssl`, `database`, `username`, `password`, `topic2TableMap`, `clickhouseSettings`,
//! `tableRefreshInterval`, `exactlyOnce`, …), so existing connector JSON works as is.
//!
//! Records (Connect structs or schemaless JSON objects) are matched to columns by field name.
//! A missing field leaves its column out of the insert so ClickHouse applies the column's
//! `DEFAULT`. Each table's rows are inserted in the background, one insert per table in
//! flight, while the next batch is built; `flush` reports what has landed. With `exactlyOnce`,
//! what already landed above the last commit is read back and skipped. Works with ClickHouse
//! 18.16 and current servers.
//!
//! # Layout
//! - [`connector`]: `ClickhouseSinkConnector` — config docs, validation, task creation.
//! - [`config`]: `ClickhouseSinkConfig` parsed from the connector's string map; `config_def`.
//! - [`sink`]: `ClickhouseSinkTask` — route records to tables, encode, insert in the background
//!   (one insert per table in flight; a failed one is sent again: `sink/sending.rs`), track the
//!   offsets written per table and partition.
//! - [`exactly_once`]: `LandedOffsets` — which records above the last commit a table already
//!   holds (read back through the coordinate columns), so they are not inserted twice.
//! - [`table`]: `ClickhouseTable` — a table's insertable columns read from `system.columns`.
//! - [`ddl`]: `auto.create` / `auto.evolve` — the column types records need, and the
//!   `CREATE TABLE` / `ALTER TABLE … ADD COLUMN` that give a table those columns.
//! - [`version`]: `ServerVersion` from `SELECT version()`, and which features each has.
//! - [`rows`]: `ClickhouseRowBatch` — records to RowBinary rows, grouped by the columns they
//!   carry so omitted fields get their `DEFAULT`. Records whose value came as schemaless JSON text
//!   (`SinkRecord::value_json`) or an Avro datum (`SinkRecord::value_datum`) are read straight
//!   into rows without a value per record (`rows_lane.rs`), byte for byte the rows the decoded
//!   value makes.
//! - [`encode`]: the RowBinary encoder for one value of one column type.
//! - [`types`]: `ClickhouseType` and the parser of ClickHouse type strings.
//! - [`service`]: `ClickhouseService` (HTTP client for the replicas in `hostname`, inserts
//!   tagged with a `query_id`) and `ClickhouseRetryLogic` (which failures are retriable, bad
//!   data, or fatal).
//! - `benches/encode.rs`: the record path in process (JSON → `SinkRecord` → RowBinary → LZ4),
//!   per stage, without Kafka or a server, and the JSON lane (the converter's check, then
//!   text → RowBinary).

pub mod config;
pub mod connector;
pub mod ddl;
pub mod encode;
pub mod exactly_once;
pub mod rows;
pub mod service;
pub mod sink;
pub mod table;
pub mod types;
pub mod version;

pub use config::{config_def, ClickhouseSinkConfig};
pub use connector::ClickhouseSinkConnector;
pub use service::{ClickhouseRetryLogic, ClickhouseService};
pub use sink::ClickhouseSinkTask;
pub use table::ClickhouseTable;
pub use types::ClickhouseType;

use sluice_api::{PluginDesc, PluginKind};

/// How the worker lists this connector and which names find it: Sluice's class name, the
/// official connector's class name, and the short names users write.
pub fn plugin_desc() -> PluginDesc {
    PluginDesc {
        class: "io.sluice.connect.clickhouse.ClickHouseSinkConnector",
        aliases: &["com.clickhouse.kafka.connect.ClickHouseSinkConnector", "ClickHouseSinkConnector", "ClickHouseSink"],
        kind: PluginKind::Sink,
        version: env!("CARGO_PKG_VERSION"),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sluice_api::PluginRegistry;

    use super::*;

    #[test]
    fn registers_under_the_official_names() {
        let mut registry = PluginRegistry::new();
        registry.add_sink(plugin_desc(), Arc::new(ClickhouseSinkConnector));
        for name in [
            "io.sluice.connect.clickhouse.ClickHouseSinkConnector",
            "com.clickhouse.kafka.connect.ClickHouseSinkConnector",
            "ClickHouseSinkConnector",
            "ClickHouseSink",
        ] {
            assert!(registry.sink("connector.class", name).is_ok(), "{name}");
        }
    }
}
