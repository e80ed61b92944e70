//! Distributed mode: workers that share connectors and tasks through Kafka alone.
//!
//! - [`config`]: the distributed worker keys (`group.id`, internal topic names and sizes).
//! - [`topics`]: creates the internal topics when missing.
//! - [`log`]: a compacted topic read into memory and written with read-your-writes.
//! - [`config_state`]: the config topic in Kafka Connect's format → connectors, tasks, targets.
//! - [`status_state`]: the status topic in Kafka Connect's format.
//! - [`membership`]: joins the worker group and lists the live workers.
//! - [`herder`]: `DistributedHerder`: REST operations on the topics, and the reconcile loop
//!   that runs this worker's share of tasks.
//! - [`assignment`]: the deterministic, balanced assignment of connectors and tasks to members.

pub mod assignment;
pub mod config;
pub mod config_state;
pub mod herder;
pub mod log;
pub mod membership;
pub mod status_state;
pub mod topics;
