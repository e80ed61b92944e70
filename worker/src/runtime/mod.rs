//! Running connectors: one tokio task per sink task, each with its own Kafka consumer.
//!
//! - [`consumer`]: the rdkafka consumer of a sink task and its rebalance bookkeeping.
//! - [`convert`]: Kafka message → `SinkRecord` through the key and value converters.
//! - [`errors`]: the `errors.*` keys (tolerance, retries, log, dead letter queue), parsed.
//! - [`dlq`]: logging and dead-lettering tolerated record failures, with Kafka Connect's
//!   `__connect.errors.*` headers.
//! - [`offsets`]: which offsets are durable after a flush, and the periodic commits that send
//!   them, one at a time.
//! - [`sink_runner`]: the loop poll → convert → put → flush → commit, with pause/resume and
//!   failure reporting.

pub mod consumer;
pub mod convert;
pub mod dlq;
pub mod errors;
mod offsets;
pub mod sink_runner;

pub use sink_runner::{SinkTaskRunner, TaskHandle};
