//! The Sluice worker: what the `sluice` binary runs.
//!
//! # Layout
//! - [`worker_config`]: the worker's `.properties` file (Kafka Connect's keys).
//! - [`config_providers`]: `${env:…}`, `${file:…}` and `${directory:…}` references in configs,
//!   resolved when a connector is validated or a task starts (configs are stored unresolved).
//! - [`kafka_clients`]: the one place Kafka client settings are built: bootstrap, security
//!   (Java keys such as `sasl.jaas.config` and truststores turned into librdkafka's), the
//!   worker's `consumer.*`/`producer.*`/`admin.*`, connector overrides and their policy.
//! - [`jaas`]: Java's JAAS syntax (`sasl.jaas.config`, the REST basic-auth login file).
//! - [`plugins`]: `builtin_plugins()`, the one place that lists every shipped plugin.
//! - [`herder`]: owns connectors: validates configs, starts/pauses/stops/restarts tasks,
//!   reports status, reads and changes sink offsets. [`herder::ConnectHerder`] is what the REST
//!   API calls; the standalone herder and the distributed one implement it.
//! - [`worker`]: what both herders share: config validation, converters, transform chains, and
//!   starting/stopping task runners.
//! - [`distributed`]: distributed mode: internal topics, group membership, assignment.
//! - [`metrics`]: Prometheus metrics (`GET /metrics`): per-task counters the task loop adds
//!   to once per batch, consumer lag, task states and process figures.
//! - [`logging`]: log levels readable and changeable at runtime (`/admin/loggers`).
//! - [`store`]: standalone state (connector configs, target states, task statuses) in sled.
//! - [`status`]: connector/task states and the shared per-task status cell.
//! - [`runtime`]: the sink task loop: Kafka consumer, conversion, put/flush/commit, and the
//!   rebalance callback that opens and closes partitions in the sink.
//! - [`rest`]: the Kafka Connect compatible REST API over the herder.
//! - [`connector_file`]: connector configs given on the command line (JSON or properties).
//! - [`gen`]: `sluice gen`, the load generator for the sample event.
//! - [`ctl`]: `sluice ctl`, a command-line client for any Kafka Connect REST API.

pub mod config_providers;
pub mod connector_file;
pub mod ctl;
pub mod distributed;
pub mod gen;
pub mod herder;
pub mod jaas;
pub mod kafka_clients;
pub mod logging;
pub mod metrics;
pub mod plugins;
pub mod rest;
pub mod runtime;
pub mod status;
pub mod store;
pub mod worker;
pub mod worker_config;

#[cfg(test)]
mod test_tls;
