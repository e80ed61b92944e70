//! The loop of one sink task: poll → convert → put → flush → commit.
//!
//! Each record goes through the key and value converters, then the connector's transform
//! chain. Records move in batches bounded by `sluice.batch.max.records` and `sluice.batch.linger.ms`.
//! Offsets are committed only after the sink reports them durable. An outage of a dependency
//! (a retriable error from the sink's `put` or a converter's `prepare`, such as ClickHouse or
//! the schema registry being down) is waited out: consumption pauses, the consumer stays in its
//! group, the task stays RUNNING with the outage in its `trace`, and the same batch is retried
//! with backoff (up to `errors.retry.delay.max.ms`, at most 10 s apart) until it goes through.
//! Nothing is skipped or dead-lettered because a dependency is down. Any other error marks the
//! task FAILED with the error in `trace`, and the worker keeps running.
//!
//! A record that fails in a converter, a transform or the sink's `put` (reported through
//! `ConnectError::Records`) fails the task with `errors.tolerance=none`, once what came before
//! it is flushed and committed (so a restart resumes at that record, writing nothing twice);
//! with `all` it is logged and dead-lettered (see [`super::dlq`]) and its offset counts as
//! handled once the dead letters of its batch are acknowledged. A DLQ that cannot be written
//! is waited out like any outage.

//!
//! The loop, one step per method of [`TaskRun`]: follow the target state → apply what the sink
//! asked for (seeks, pauses) → collect a batch → write it (prepare, convert, put, dead-letter,
//! settle, flush) → commit on the interval, after asking the sink what is durable even when no
//! record arrived. Partitions are opened and closed in the sink inside the consumer's rebalance
//! callback (see [`super::shared_sink`]). Collecting is in `collect.rs`, writing in
//! `write_batch.rs`.

use std::sync::Arc;

use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::error::KafkaError;

use rdkafka::{Offset, TopicPartitionList};
use sluice_api::{ConnectError, ConnectorConfig, SinkTask, TopicPartition, Transform};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{sleep, Instant};

use super::backoff::Backoff;
use super::consumer::{self, PartitionChange, SinkConsumer, SinkConsumerContext};
use super::convert::{MessageCopier, RawRecord, RecordConverter, RecordFailure};
use super::dlq::ErrorReporter;
use super::errors::ErrorConfig;
use super::offsets::PeriodicCommits;
use super::shared_sink::SharedSink;
use super::stall::{harmless_stall, StallWatch};
use crate::metrics::TaskMetrics;
use crate::status::{State, TargetState, TaskStatusCell};
use crate::worker_config::WorkerConfig;
use write_batch::ConvertedLists;

/// How often an idle task asks its sink what is durable (a buffering sink publishes by
/// wall-clock time then), between commits.
const IDLE_FLUSH: std::time::Duration = std::time::Duration::from_secs(1);

/// What the herder keeps of a running task.
pub struct TaskHandle {
    /// The task's config, as `GET /connectors/{c}/tasks` shows it.
    pub config: ConnectorConfig,
    pub status: TaskStatusCell,
    /// Target state; dropping the sender stops the task.
    pub control: watch::Sender<TargetState>,
    pub join: JoinHandle<()>,
}

/// A connector's transform chain: `(alias, transform)` in `transforms` order.
pub type TransformChain = Vec<(String, Box<dyn Transform>)>;

/// Why a task stopped running.
#[derive(Debug, thiserror::Error)]
enum TaskError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("{0}")]
    Record(RecordFailure),
    #[error("Kafka consumer error: {0}")]
    Kafka(#[from] KafkaError),
}

/// Everything one sink task needs to run.
pub struct SinkTaskRunner {
    pub connector: String,
    pub task_id: usize,
    pub config: ConnectorConfig,
    pub worker: Arc<WorkerConfig>,
    pub converter: RecordConverter,
    /// The connector's `transforms`, in order, with their aliases.
    pub transforms: TransformChain,
    pub task: Box<dyn SinkTask>,
    /// The task's `errors.*` settings.
    pub errors: ErrorConfig,
    pub status: TaskStatusCell,
    pub control: watch::Receiver<TargetState>,
    /// The task's series in `GET /metrics`.
    pub metrics: TaskMetrics,
}

impl SinkTaskRunner {
    /// Runs until the target state becomes STOPPED (or the control channel closes) or the
    /// task fails.
    pub async fn run(self) {
        let name = format!("{}-{}", self.connector, self.task_id);
        let SinkTaskRunner {
            connector,
            task_id,
            config,
            worker,
            converter,
            transforms,
            task,
            errors,
            status,
            control,
            metrics,
        } = self;
        let sink = SharedSink::new(task, &name);
        let mut run = TaskRun {
            connector,
            task_id,
            config,
            worker,
            converter,
            transforms,
            errors,
            status,
            control,
            sink,
            name,
            metrics,
            fence: Fence::default(),
        };
        match run.run_until_stopped().await {
            Ok(()) => tracing::info!(task = %run.name, "Task stopped."),
            Err(error) => {
                tracing::error!(task = %run.name, %error, "Task failed; it stays FAILED until restarted.");
                run.status.fail(error.to_string());
            }
        }
        run.sink.lock().await.task.stop().await;
    }
}

/// A task while it runs: the runner's parts, with the sink shared with the rebalance callback.
struct TaskRun {
    connector: String,
    task_id: usize,
    config: ConnectorConfig,
    worker: Arc<WorkerConfig>,
    converter: RecordConverter,
    transforms: TransformChain,
    errors: ErrorConfig,
    status: TaskStatusCell,
    control: watch::Receiver<TargetState>,
    sink: SharedSink,
    /// `<connector>-<task>`, for logs.
    name: String,
    metrics: TaskMetrics,
    /// Whether the task may write after the process stood still (see [`super::stall`]).
    fence: Fence,
}

/// How long a task whose process stood still waits before writing again when it has nothing
/// durable to commit as proof of membership: librdkafka heartbeats as soon as the process
/// wakes, so a lost assignment has arrived as a rebalance by then.
const UNPROVABLE_WAIT: std::time::Duration = std::time::Duration::from_secs(4);

/// The runner's side of the stall watch (the mark it last proved membership at is kept in the
/// task context, where the sink reads it too).
#[derive(Default)]
struct Fence {
    /// When the task first found the process had stood still and could not prove its
    /// membership yet.
    unproven_since: Option<Instant>,
}

/// The task's Kafka consumer and its context.
struct Kafka {
    consumer: Arc<SinkConsumer>,
    ctx: Arc<SinkConsumerContext>,
}

impl Drop for Kafka {
    /// The partitions' own queues refer to the consumer's client: they go first.
    fn drop(&mut self) {
        self.ctx.split_queues().close();
    }
}

/// Records the loop holds between steps.
struct Held {
    batch: Vec<RawRecord>,
    /// Messages received while a batch was written (or just after a rebalance) that belong
    /// to the next batch.
    carry: Vec<RawRecord>,
    /// Copies the consumer's messages into records.
    copier: MessageCopier,
    /// The lists of the last batch's conversion, emptied, for the next one: a batch's records
    /// take megabytes, and lists allocated afresh for each batch showed in the profile as page
    /// faults (the allocator hands the freed memory back to the system and takes it again).
    spare: ConvertedLists,
}

impl Held {
    /// Forgets records of partitions that left the task: they belong to their next owner
    /// (re-delivered from the last commit), whoever that is.
    fn drop_partitions(&mut self, partitions: &[TopicPartition]) {
        self.batch.retain(|r| !holds(partitions, r));
        self.carry.retain(|r| !holds(partitions, r));
    }

    /// While a batch is written the group moved partitions: the records held for the next batch
    /// of partitions that left are dropped, and `first`, received under the new assignment,
    /// joins them. The batch itself keeps its records until it is done (the write step refers
    /// to them by index).
    fn rebalanced(&mut self, gone: &[TopicPartition], first: Option<RawRecord>) {
        self.carry.retain(|r| !holds(gone, r));
        self.carry.extend(first);
    }
}

/// Whether the loop goes on.
#[derive(PartialEq, Eq)]
enum Flow {
    Go,
    Stop,
}

impl TaskRun {
    async fn run_until_stopped(&mut self) -> Result<(), TaskError> {
        if self.start_sink().await? == Flow::Stop {
            return Ok(());
        }
        let Some(mut reporter) = self.error_reporter().await? else { return Ok(()) };
        let topics = self.config.list("topics");
        let settings = consumer::consumer_settings(&self.worker.kafka, &self.connector, self.task_id, &self.config)?;
        self.sink.context().set_harmless_stall(harmless_stall(&settings));
        let (consumer, ctx) =
            consumer::subscribe(&settings, self.name.clone(), &topics, self.config.get("topics.regex"))?;
        ctx.set_listener(Arc::new(self.sink.clone()));
        ctx.set_metrics(self.metrics.clone());
        let kafka = Kafka { consumer, ctx };
        let mut commits = PeriodicCommits::new(self.metrics.clone());
        let result = self.poll_loop(&kafka, &mut reporter, &mut commits).await;
        commits.finish(&kafka.ctx, &self.name).await;
        reporter.close().await;
        // Whatever happened: close every partition in the sink (a last flush), then commit
        // what is durable before leaving the group. After the process stood still, unless
        // Kafka confirms the partitions are still this task's, drop what the sink holds
        // instead: their new owner may be writing them already.
        if !self.may_write(&kafka) {
            tracing::warn!(task = %self.name, "Stopping after the process stood still, without proof that the partitions are still this task's: dropping what the sink holds.");
            self.sink.lose_all().await;
        }
        match self.sink.close_all().await {
            Ok(durable) => kafka.ctx.record_durable(&durable),
            Err(error) => {
                // What is not durable now is read again by the partitions' next owner: the
                // sink drops it (leaving the group must not wait on it, nor send it later).
                tracing::warn!(task = %self.name, %error, "Closing the sink's partitions failed at stop; dropping what it holds.");
                self.sink.lose_all().await;
            }
        }
        let committed = tokio::task::block_in_place(|| kafka.ctx.commit(&kafka.consumer, CommitMode::Sync));
        if let Err(error) = committed {
            tracing::warn!(task = %self.name, %error, "Final offset commit failed; some records may be re-delivered.");
        }
        result
    }

    /// Starts the sink, waiting out an outage like one in `put`: the task is RUNNING on this
    /// worker (it holds its place in the assignment) and says why in `trace`.
    async fn start_sink(&mut self) -> Result<Flow, TaskError> {
        let mut backoff = Backoff::default();
        loop {
            let started = self.sink.lock().await.task.start(&self.config).await;
            match started {
                Ok(()) => return Ok(Flow::Go),
                Err(e) if e.is_retriable() => {
                    self.metrics.retries.inc();
                    tracing::warn!(task = %self.name, error = %e, "Task could not start yet; retrying.");
                    self.status.set(State::Running);
                    self.status.set_problem(Some(format!("Sink not available, retrying the start: {e}")));
                    if self.wait_or_stop(backoff.next()).await {
                        return Ok(Flow::Stop);
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The task's dead letter queue reporter, once Kafka lets it create the topic; `None` if
    /// the task was stopped first.
    async fn error_reporter(&mut self) -> Result<Option<ErrorReporter>, TaskError> {
        let mut backoff = Backoff::default();
        loop {
            let reporter = ErrorReporter::new(
                self.errors.clone(),
                &self.connector,
                self.task_id,
                &self.config,
                &self.worker.kafka,
                &self.metrics,
            )
            .await;
            match reporter {
                Ok(r) => return Ok(Some(r)),
                Err(e) if e.is_retriable() => {
                    // Waited out like any outage, and said so: RUNNING (the task holds its place
                    // in the assignment), the cause in `trace`, counted in the retries.
                    self.metrics.retries.inc();
                    tracing::warn!(task = %self.name, error = %e, "Dead letter queue not ready yet; retrying.");
                    self.status.set(State::Running);
                    self.status.set_problem(Some(format!(
                        "Dead letter queue not ready, retrying before reading any record (records stay safe in Kafka): {e}"
                    )));
                    if self.wait_or_stop(backoff.next()).await {
                        return Ok(None);
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Whether the sink may write now. Always, unless the process stood still since the task
    /// last proved that the group still counts it as a member (see [`super::stall`]); then
    /// only once it proves it again, by committing its durable offsets again, or, with nothing
    /// durable to commit, once [`UNPROVABLE_WAIT`] has passed. Meanwhile the caller keeps
    /// polling, so a lost assignment arrives as a rebalance and what was held for it is dropped.
    fn may_write(&mut self, kafka: &Kafka) -> bool {
        let mark = StallWatch::global().mark();
        if !sluice_api::SinkTaskContext::stalled(self.sink.context()) {
            return true;
        }
        let since = *self.fence.unproven_since.get_or_insert_with(Instant::now);
        let proven = match tokio::task::block_in_place(|| kafka.ctx.prove_membership(&kafka.consumer)) {
            Ok(true) => true,
            Ok(false) => since.elapsed() >= UNPROVABLE_WAIT,
            Err(error) => {
                tracing::warn!(task = %self.name, %error, "The process stood still and Kafka does not confirm this task still owns its partitions; not writing.");
                kafka.ctx.note_problem(format!(
                    "The worker process stood still; waiting for Kafka to confirm this task's partitions before writing: {error}"
                ));
                false
            }
        };
        if proven {
            tracing::info!(task = %self.name, "After the process stood still, the task's partitions are confirmed; writing again.");
            self.sink.context().confirm_stall_mark(mark);
            self.fence.unproven_since = None;
        }
        proven
    }

    /// Sleeps for `delay` unless the task is told to stop first; returns whether to stop.
    async fn wait_or_stop(&mut self, delay: std::time::Duration) -> bool {
        tokio::select! {
            _ = sleep(delay) => *self.control.borrow() == TargetState::Stopped,
            changed = self.control.changed() => changed.is_err() || *self.control.borrow() == TargetState::Stopped,
        }
    }

    async fn poll_loop(
        &mut self,
        kafka: &Kafka,
        reporter: &mut ErrorReporter,
        commits: &mut PeriodicCommits,
    ) -> Result<(), TaskError> {
        let interval = self.worker.offset_flush_interval;
        let max_records = self.worker.batch_max_records;
        let copier = self
            .converter
            .fit_to(&*self.sink.lock().await.task, !self.transforms.is_empty(), &self.errors)
            .subscribed_to(&self.config.list("topics"), self.config.get("topics.regex"));
        let mut held = Held {
            batch: Vec::with_capacity(max_records),
            carry: Vec::new(),
            copier,
            spare: ConvertedLists::default(),
        };
        let mut paused = false;
        let mut last_commit = Instant::now();
        let mut last_flush = Instant::now();
        loop {
            if self.follow_target(kafka, &mut paused)? == Flow::Stop {
                return Ok(());
            }
            self.apply_sink_requests(kafka, &mut held, paused)?;
            let wake = (last_commit + interval).min(last_flush + IDLE_FLUSH);
            if self.collect(kafka, &mut held, wake).await? == Flow::Stop {
                return Ok(());
            }
            if let Some(failure) = self.sink.take_failure().await {
                return Err(failure.into());
            }
            if !held.batch.is_empty() {
                if self.write_batch(kafka, reporter, &mut held).await? == Flow::Stop {
                    return Ok(());
                }
                last_flush = Instant::now();
            } else if last_flush.elapsed() >= IDLE_FLUSH {
                // No record: the sink may still have something to publish by wall-clock time.
                self.flush(kafka).await?;
                last_flush = Instant::now();
            }
            let requested = self.sink.context().take_commit_request();
            if requested || last_commit.elapsed() >= interval {
                if !self.commit(kafka, commits).await? && requested {
                    // The previous commit is still running: the sink's request stands for the
                    // next round rather than waiting for the interval.
                    sluice_api::SinkTaskContext::request_commit(self.sink.context());
                }
                last_commit = Instant::now();
            }
            self.status.set_problem(kafka.ctx.problem());
        }
    }

    /// Pauses or resumes consumption as the target state says.
    fn follow_target(&mut self, kafka: &Kafka, paused: &mut bool) -> Result<Flow, TaskError> {
        match *self.control.borrow_and_update() {
            TargetState::Stopped => return Ok(Flow::Stop),
            TargetState::Paused if !*paused => {
                *paused = true;
                kafka.ctx.set_paused(true);
                kafka.consumer.pause(&kafka.consumer.assignment()?)?;
                self.status.set(State::Paused);
                tracing::info!(task = %self.name, "Task paused.");
            }
            TargetState::Running if *paused => {
                *paused = false;
                kafka.ctx.set_paused(false);
                kafka.consumer.resume(&kafka.ctx.resumable(&kafka.consumer.assignment()?))?;
                tracing::info!(task = %self.name, "Task resumed.");
            }
            _ => {}
        }
        if !*paused {
            self.status.set(State::Running);
        }
        Ok(Flow::Go)
    }

    /// Seeks and pauses the sink asked for since the last batch (through its task context).
    fn apply_sink_requests(&mut self, kafka: &Kafka, held: &mut Held, paused: bool) -> Result<(), TaskError> {
        let context = self.sink.context();
        let seeks = context.take_seeks(None);
        if !seeks.is_empty() {
            let mut tpl = TopicPartitionList::new();
            for (tp, &offset) in &seeks {
                tpl.add_partition_offset(&tp.topic, tp.partition, Offset::Offset(offset))?;
            }
            let parts: Vec<TopicPartition> = seeks.into_keys().collect();
            held.drop_partitions(&parts);
            tokio::task::block_in_place(|| kafka.consumer.seek_partitions(tpl, std::time::Duration::from_secs(10)))?;
            tracing::info!(task = %self.name, partitions = ?parts.iter().map(ToString::to_string).collect::<Vec<_>>(), "Partitions moved where the sink asked.");
        }
        if let Some(sink_paused) = context.take_pause_change() {
            let sink_paused: Vec<TopicPartition> = sink_paused.into_iter().collect();
            kafka.ctx.set_sink_paused(sink_paused.clone());
            let assignment = kafka.consumer.assignment()?;
            let mut pause = TopicPartitionList::new();
            for tp in &sink_paused {
                pause.add_partition(&tp.topic, tp.partition);
            }
            kafka.consumer.pause(&pause)?;
            if !paused {
                kafka.consumer.resume(&kafka.ctx.resumable(&assignment))?;
            }
        }
        Ok(())
    }

    /// Asks the sink what is durable (also when no record arrived: a buffering sink may
    /// publish what wall-clock rotation closed) and starts a commit of it.
    /// Flushes and starts a commit of what is durable; false when the previous commit was still
    /// running (nothing started).
    async fn commit(&mut self, kafka: &Kafka, commits: &mut PeriodicCommits) -> Result<bool, TaskError> {
        self.flush(kafka).await?;
        Ok(commits.tick(&kafka.consumer, &kafka.ctx, &self.name).await)
    }

    /// Asks the sink what is durable. A retriable failure (a sink that writes in the background
    /// and could not send what it holds) is an outage: the task stays RUNNING with it in its
    /// trace, nothing more becomes durable, and the next flush tries again.
    async fn flush(&mut self, kafka: &Kafka) -> Result<(), TaskError> {
        if !self.may_write(kafka) {
            return Ok(());
        }
        match self.sink.flush().await {
            Ok(durable) => kafka.ctx.record_durable(&durable),
            Err(e) if e.is_retriable() => {
                self.metrics.retries.inc();
                let problem = format!("Sink not available, retrying what it holds (records stay safe in Kafka): {e}");
                tracing::warn!(task = %self.name, problem = %problem, "Flush failed; retrying at the next flush.");
                self.status.set_problem(Some(problem.clone()));
                kafka.ctx.note_problem(problem);
            }
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }
}

/// Every partition revoked since the last look, even if re-assigned since: records held from
/// before the rebalance for those belong to their next owner (re-delivered from the last
/// commit), whoever that is.
fn revoked(ctx: &SinkConsumerContext) -> Vec<TopicPartition> {
    let mut revoked = Vec::new();
    for change in ctx.take_changes() {
        if let PartitionChange::Revoked(parts) = change {
            revoked.extend(parts);
        }
    }
    revoked
}

/// Whether `record` belongs to one of `partitions`.
fn holds(partitions: &[TopicPartition], record: &RawRecord) -> bool {
    partitions.iter().any(|tp| tp.partition == record.partition && *tp.topic == *record.topic)
}

mod collect;
mod write_batch;
