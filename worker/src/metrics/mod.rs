//! Prometheus metrics: what `GET /metrics` serves, in the OpenMetrics text format that
//! Prometheus scrapes, through `prometheus-client`.
//!
//! One [`Metrics`] per worker (the [`Worker`](crate::worker::Worker) owns it). Each sink task
//! takes its [`TaskMetrics`] when it starts: the task's counters are resolved once then, so the
//! task loop only adds to atomics, once per batch, never per record. Consumer lag comes from
//! librdkafka's statistics (`statistics.interval.ms`); task states ([`tasks`]) and process
//! figures ([`process`]) are read when Prometheus scrapes. Names follow Kafka Connect's metrics
//! where one exists; the README's "Metrics" table lists every one.
//!
//! Series of a task stay after it stops (its counters continue if it starts again on this
//! worker), except consumer lag, which follows the task's assignment.

pub mod process;
pub mod tasks;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

use crate::status::TaskStatusCell;

/// The labels of a task's series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TaskLabels {
    pub connector: String,
    pub task: usize,
}

/// The labels of a connector's series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConnectorLabels {
    pub connector: String,
}

/// The labels of a task's series about one partition it reads.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PartitionLabels {
    pub connector: String,
    pub task: usize,
    pub topic: String,
    pub partition: i32,
}

type TaskCounters = Family<TaskLabels, Counter>;

/// Buckets of the latency histograms: 1 ms to about 33 s, doubling.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// Every metric family of a worker, and the registry that renders them.
pub struct Metrics {
    registry: Registry,
    record_read: TaskCounters,
    record_read_bytes: TaskCounters,
    record_send: TaskCounters,
    record_written: TaskCounters,
    bytes_written: TaskCounters,
    put_batch_time: Family<TaskLabels, Histogram, fn() -> Histogram>,
    batch_write_time: Family<ConnectorLabels, Histogram, fn() -> Histogram>,
    offset_commit_completion: TaskCounters,
    offset_commit_skip: TaskCounters,
    offset_commit_failure: TaskCounters,
    dlq_produce: TaskCounters,
    dlq_produce_failures: TaskCounters,
    record_errors: TaskCounters,
    records_skipped: TaskCounters,
    retries: TaskCounters,
    consumer_lag: Family<PartitionLabels, Gauge>,
    rebalance_completed: Counter,
    rebalance_epoch: Gauge,
    rebalance_time: Histogram,
    /// The tasks whose states [`tasks::TaskStates`] reports.
    task_states: Arc<tasks::TaskStates>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        // Help texts end without a period: the encoder adds one.
        let mut counters = |name: &str, help: &str| {
            let family = TaskCounters::default();
            registry.register(name, help, family.clone());
            family
        };
        let record_read = counters(
            "sluice_sink_record_read",
            "Records read from Kafka, before converters and transforms (sink-record-read-total)",
        );
        let record_read_bytes =
            counters("sluice_sink_record_read_bytes", "Key and value bytes of the records read from Kafka.");
        let record_send = counters(
            "sluice_sink_record_send",
            "Records handed to the sink's put after transforms (sink-record-send-total)",
        );
        let record_written =
            counters("sluice_sink_record_written", "Records the sink's put accepted (not reported as failed).");
        let bytes_written = counters(
            "sluice_sink_bytes_written",
            "Key and value bytes (as read from Kafka) of the records the sink accepted",
        );
        let offset_commit_completion = counters(
            "sluice_offset_commit_completion",
            "Periodic offset commits that succeeded (offset-commit-completion-total)",
        );
        let offset_commit_skip = counters(
            "sluice_offset_commit_skip",
            "Periodic offset commits skipped because the previous one was still running (offset-commit-skip-total)",
        );
        let offset_commit_failure = counters("sluice_offset_commit_failure", "Periodic offset commits that failed.");
        let dlq_produce = counters(
            "sluice_deadletterqueue_produce",
            "Dead letters Kafka acknowledged in the DLQ topic (deadletterqueue-produce-requests)",
        );
        let dlq_produce_failures = counters(
            "sluice_deadletterqueue_produce_failures",
            "Dead letter deliveries that failed and are sent again (deadletterqueue-produce-failures)",
        );
        let record_errors = counters(
            "sluice_record_errors",
            "Records that failed in a converter, a transform or put (total-record-errors)",
        );
        let records_skipped = counters(
            "sluice_records_skipped",
            "Failed records skipped under errors.tolerance=all (total-records-skipped)",
        );
        let retries = counters(
            "sluice_retries",
            "Retries of an operation that failed for a passing reason: a sink, registry or DLQ outage (total-retries)",
        );
        let put_batch_time =
            Family::<TaskLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "sluice_put_batch_time",
            "Time of each call of the sink's put (put-batch-time-max and -avg)",
            Unit::Seconds,
            put_batch_time.clone(),
        );
        let batch_write_time =
            Family::<ConnectorLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "sluice_sink_batch_write",
            "Time to write one batch: convert, put, dead letters and flush, outages waited out included",
            Unit::Seconds,
            batch_write_time.clone(),
        );
        let consumer_lag = Family::<PartitionLabels, Gauge>::default();
        registry.register(
            "sluice_consumer_lag",
            "Records in a partition after what the task consumed or committed (the consumer's records-lag)",
            consumer_lag.clone(),
        );
        let rebalance_completed = Counter::default();
        registry.register(
            "sluice_rebalance_completed",
            "Worker group rebalances this worker applied, distributed mode (completed-rebalances-total)",
            rebalance_completed.clone(),
        );
        let rebalance_epoch = Gauge::default();
        registry.register(
            "sluice_rebalance_epoch",
            "The worker group's membership epoch last applied (epoch)",
            rebalance_epoch.clone(),
        );
        let rebalance_time = latency_histogram();
        registry.register_with_unit(
            "sluice_rebalance_time",
            "Time to apply a rebalance: stop and start tasks (rebalance-max-time-ms and -avg-time-ms)",
            Unit::Seconds,
            rebalance_time.clone(),
        );
        let task_states = Arc::new(tasks::TaskStates::default());
        registry.register_collector(Box::new(task_states.clone()));
        registry.register_collector(Box::new(process::ProcessCollector));
        Metrics {
            registry,
            record_read,
            record_read_bytes,
            record_send,
            record_written,
            bytes_written,
            put_batch_time,
            batch_write_time,
            offset_commit_completion,
            offset_commit_skip,
            offset_commit_failure,
            dlq_produce,
            dlq_produce_failures,
            record_errors,
            records_skipped,
            retries,
            consumer_lag,
            rebalance_completed,
            rebalance_epoch,
            rebalance_time,
            task_states,
        }
    }

    /// The handles one task updates; its series appear at once (at zero).
    pub fn task(&self, connector: &str, task: usize) -> TaskMetrics {
        let labels = TaskLabels { connector: connector.to_owned(), task };
        let counter = |family: &TaskCounters| family.get_or_create_owned(&labels);
        TaskMetrics {
            record_read: counter(&self.record_read),
            record_read_bytes: counter(&self.record_read_bytes),
            record_send: counter(&self.record_send),
            record_written: counter(&self.record_written),
            bytes_written: counter(&self.bytes_written),
            put_batch_time: self.put_batch_time.get_or_create_owned(&labels),
            batch_write_time: self
                .batch_write_time
                .get_or_create_owned(&ConnectorLabels { connector: connector.to_owned() }),
            offset_commit_completion: counter(&self.offset_commit_completion),
            offset_commit_skip: counter(&self.offset_commit_skip),
            offset_commit_failure: counter(&self.offset_commit_failure),
            dlq_produce: counter(&self.dlq_produce),
            dlq_produce_failures: counter(&self.dlq_produce_failures),
            record_errors: counter(&self.record_errors),
            records_skipped: counter(&self.records_skipped),
            retries: counter(&self.retries),
            lag: Arc::new(LagGauges { family: self.consumer_lag.clone(), labels, shown: Mutex::new(BTreeSet::new()) }),
        }
    }

    /// Reports `status`'s task in `sluice_task_state` and `sluice_connector_task_count` for
    /// as long as the task exists (its handle or runner holds the cell), replacing an earlier
    /// cell of the same task.
    pub fn track_task(&self, status: &TaskStatusCell) {
        self.task_states.track(status);
    }

    /// A rebalance of the worker group was applied: this worker runs what epoch `epoch` assigns.
    pub fn rebalance_completed(&self, epoch: i64, took: Duration) {
        self.rebalance_completed.inc();
        self.rebalance_epoch.set(epoch);
        self.rebalance_time.observe(took.as_secs_f64());
    }

    /// Every metric, in the text format (`Content-Type` [`CONTENT_TYPE`]).
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::with_capacity(16 * 1024);
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// The content type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The metric handles of one sink task. Clones share the same series.
#[derive(Clone)]
pub struct TaskMetrics {
    pub record_read: Counter,
    pub record_read_bytes: Counter,
    pub record_send: Counter,
    pub record_written: Counter,
    pub bytes_written: Counter,
    pub put_batch_time: Histogram,
    /// Per connector: every task of the connector on this worker observes into it.
    pub batch_write_time: Histogram,
    pub offset_commit_completion: Counter,
    pub offset_commit_skip: Counter,
    pub offset_commit_failure: Counter,
    pub dlq_produce: Counter,
    pub dlq_produce_failures: Counter,
    pub record_errors: Counter,
    pub records_skipped: Counter,
    pub retries: Counter,
    lag: Arc<LagGauges>,
}

impl TaskMetrics {
    /// Handles not shown anywhere, for runners outside a worker (tests).
    pub fn detached(connector: &str, task: usize) -> Self {
        Metrics::new().task(connector, task)
    }

    /// Sets the task's lag per partition to `lags` (`(topic, partition, lag)`); partitions
    /// not in it (no longer assigned) lose their series.
    pub fn set_lag(&self, lags: &[(String, i32, i64)]) {
        self.lag.set(lags);
    }

    /// Removes the lag series of `partitions` (revoked from the task).
    pub fn forget_lag(&self, partitions: &[(String, i32)]) {
        self.lag.forget(partitions);
    }
}

/// The consumer lag series of one task.
struct LagGauges {
    family: Family<PartitionLabels, Gauge>,
    labels: TaskLabels,
    /// The partitions that have a series now.
    shown: Mutex<BTreeSet<(String, i32)>>,
}

impl LagGauges {
    fn key(&self, topic: &str, partition: i32) -> PartitionLabels {
        PartitionLabels {
            connector: self.labels.connector.clone(),
            task: self.labels.task,
            topic: topic.to_owned(),
            partition,
        }
    }

    fn set(&self, lags: &[(String, i32, i64)]) {
        let mut shown = self.shown.lock().unwrap_or_else(|p| p.into_inner());
        let now: BTreeSet<(String, i32)> = lags.iter().map(|(t, p, _)| (t.clone(), *p)).collect();
        for (topic, partition) in shown.difference(&now) {
            self.family.remove(&self.key(topic, *partition));
        }
        for (topic, partition, lag) in lags {
            self.family.get_or_create(&self.key(topic, *partition)).set(*lag);
        }
        *shown = now;
    }

    fn forget(&self, partitions: &[(String, i32)]) {
        let mut shown = self.shown.lock().unwrap_or_else(|p| p.into_inner());
        for (topic, partition) in partitions {
            if shown.remove(&(topic.clone(), *partition)) {
                self.family.remove(&self.key(topic, *partition));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value of the sample `series` (name and labels as rendered) in `text`.
    fn value_of(text: &str, series: &str) -> Option<f64> {
        text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    #[test]
    fn task_counters_render_with_their_labels_and_add_per_batch() {
        let metrics = Metrics::new();
        let task = metrics.task("orders", 2);
        // One batch of 500 records: one addition, not 500.
        task.record_read.inc_by(500);
        task.record_read.inc_by(20);
        task.record_send.inc_by(499);
        task.put_batch_time.observe(0.003);
        task.retries.inc();
        let text = metrics.render().unwrap();
        assert_eq!(value_of(&text, r#"sluice_sink_record_read_total{connector="orders",task="2"}"#), Some(520.0));
        assert_eq!(value_of(&text, r#"sluice_sink_record_send_total{connector="orders",task="2"}"#), Some(499.0));
        assert_eq!(value_of(&text, r#"sluice_retries_total{connector="orders",task="2"}"#), Some(1.0));
        assert_eq!(value_of(&text, r#"sluice_put_batch_time_seconds_count{connector="orders",task="2"}"#), Some(1.0));
        assert_eq!(
            value_of(&text, r#"sluice_put_batch_time_seconds_bucket{le="0.002",connector="orders",task="2"}"#),
            Some(0.0)
        );
        assert_eq!(
            value_of(&text, r#"sluice_put_batch_time_seconds_bucket{le="0.004",connector="orders",task="2"}"#),
            Some(1.0)
        );
        // Series of a task exist from its start, at zero.
        assert_eq!(value_of(&text, r#"sluice_deadletterqueue_produce_total{connector="orders",task="2"}"#), Some(0.0));
        assert!(text.contains("# TYPE sluice_sink_batch_write_seconds histogram"), "{text}");
        // A second handle of the same task adds to the same series.
        metrics.task("orders", 2).record_read.inc_by(5);
        assert_eq!(
            value_of(&metrics.render().unwrap(), r#"sluice_sink_record_read_total{connector="orders",task="2"}"#),
            Some(525.0)
        );
    }

    #[test]
    fn lag_follows_the_assignment() {
        let metrics = Metrics::new();
        let task = metrics.task("c", 0);
        task.set_lag(&[("t".into(), 0, 7), ("t".into(), 1, 0)]);
        let text = metrics.render().unwrap();
        assert_eq!(
            value_of(&text, r#"sluice_consumer_lag{connector="c",task="0",topic="t",partition="0"}"#),
            Some(7.0)
        );
        assert_eq!(
            value_of(&text, r#"sluice_consumer_lag{connector="c",task="0",topic="t",partition="1"}"#),
            Some(0.0)
        );
        task.set_lag(&[("t".into(), 1, 3)]);
        let text = metrics.render().unwrap();
        assert!(!text.contains(r#"partition="0""#), "{text}");
        assert_eq!(
            value_of(&text, r#"sluice_consumer_lag{connector="c",task="0",topic="t",partition="1"}"#),
            Some(3.0)
        );
        task.forget_lag(&[("t".into(), 1)]);
        assert!(!metrics.render().unwrap().contains("sluice_consumer_lag{"));
    }

    #[test]
    fn rebalances_and_process_figures_render() {
        let metrics = Metrics::new();
        metrics.rebalance_completed(4, Duration::from_millis(30));
        let text = metrics.render().unwrap();
        assert_eq!(value_of(&text, "sluice_rebalance_completed_total"), Some(1.0));
        assert_eq!(value_of(&text, "sluice_rebalance_epoch"), Some(4.0));
        assert!(value_of(&text, "process_resident_memory_bytes").is_some_and(|v| v > 0.0), "{text}");
        assert!(value_of(&text, "process_open_fds").is_some_and(|v| v > 0.0), "{text}");
        assert!(value_of(&text, "process_cpu_seconds_total").is_some(), "{text}");
    }
}
