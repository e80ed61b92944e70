//! Running connectors: one tokio task per sink task, each with its own Kafka consumer.
//!
//! - [`consumer`]: the rdkafka consumer of a sink task, its partitions' messages split off the
//!   consumer queue (read many per call, `sluice_kafka_queues`), and its rebalance bookkeeping.
//! - [`convert`]: Kafka message → `SinkRecord` through the key and value converters.
//! - [`errors`]: the `errors.*` keys (tolerance, retries, log, dead letter queue), parsed.
//! - [`dlq`]: logging and dead-lettering tolerated record failures, with Kafka Connect's
//!   `__connect.errors.*` headers.
//! - [`offsets`]: which offsets are durable after a flush, and the periodic commits that send
//!   them, one at a time.
//! - [`sink_runner`]: the loop poll → convert → put → flush → commit, with pause/resume and
//!   failure reporting; `sink_runner/write_batch.rs` is its write step.
//! - [`shared_sink`] (private): the sink and its settled offsets, shared with the consumer's
//!   rebalance callback, which opens and closes partitions in the sink.
//! - [`task_context`]: what a sink task may ask of the runtime (seek, commit, pause, resume).
//! - [`stall`]: notices that the process stood still (SIGSTOP, a VM pause), so a task proves it
//!   still owns its partitions before it writes again.
//! - `backoff` (private): exponential backoff with jitter for every retry.

mod backoff;
pub mod consumer;
pub mod convert;
pub mod dlq;
pub mod errors;
mod offsets;
mod shared_sink;
pub mod sink_runner;
pub mod stall;
pub mod task_context;

pub use sink_runner::{SinkTaskRunner, TaskHandle};
