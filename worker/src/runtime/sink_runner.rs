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

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use sluice_api::{ConnectError, ConnectorConfig, Offsets, SinkRecord, SinkTask, TopicPartition, Transform};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{sleep, sleep_until, Instant};

use super::consumer::{self, PartitionChange, SinkConsumer, SinkConsumerContext};
use super::convert::{RawRecord, RecordConverter, RecordFailure, Stage};
use super::dlq::ErrorReporter;
use super::errors::ErrorConfig;
use super::offsets::{cap_at, durable_offsets, PeriodicCommits};
use crate::status::{State, TargetState, TaskStatusCell};
use crate::worker_config::WorkerConfig;

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
}

const MAX_BACKOFF: Duration = Duration::from_secs(10);

impl SinkTaskRunner {
    /// Runs until the target state becomes STOPPED (or the control channel closes) or the
    /// task fails.
    pub async fn run(mut self) {
        let name = format!("{}-{}", self.connector, self.task_id);
        match self.run_until_stopped(&name).await {
            Ok(()) => tracing::info!(task = %name, "Task stopped."),
            Err(error) => {
                tracing::error!(task = %name, %error, "Task failed; it stays FAILED until restarted.");
                self.status.fail(error.to_string());
            }
        }
        self.task.stop().await;
    }

    async fn run_until_stopped(&mut self, name: &str) -> Result<(), TaskError> {
        let mut backoff = Backoff::default();
        loop {
            match self.task.start(&self.config).await {
                Ok(()) => break,
                Err(e) if e.is_retriable() => {
                    // An outage at start is waited out like one in `put`: the task is RUNNING on
                    // this worker (it holds its place in the assignment) and says why in `trace`.
                    tracing::warn!(task = %name, error = %e, "Task could not start yet; retrying.");
                    self.status.set(State::Running);
                    self.status.set_problem(Some(format!("Sink not available, retrying the start: {e}")));
                    if self.wait_or_stop(backoff.next()).await {
                        return Ok(());
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }

        let mut reporter = loop {
            let reporter = ErrorReporter::new(
                self.errors.clone(),
                &self.connector,
                self.task_id,
                &self.config,
                &self.worker.bootstrap_servers,
                &self.worker.raw,
            )
            .await;
            match reporter {
                Ok(r) => break r,
                Err(e) if e.is_retriable() => {
                    tracing::warn!(task = %name, error = %e, "Dead letter queue not ready yet; retrying.");
                    if self.wait_or_stop(backoff.next()).await {
                        return Ok(());
                    }
                }
                Err(e) => return Err(e.into()),
            }
        };

        let topics = self.config.list("topics");
        let settings = consumer::consumer_settings(
            &self.worker.bootstrap_servers,
            &self.connector,
            self.task_id,
            &self.worker.raw,
            &self.config,
        );
        let (consumer, ctx) =
            consumer::subscribe(&settings, name.to_owned(), &topics, self.config.get("topics.regex"))?;
        let mut commits = PeriodicCommits::default();
        let result = self.poll_loop(&consumer, &ctx, &mut reporter, &mut commits, name).await;
        commits.finish(&ctx, name).await;
        reporter.close().await;
        // Whatever happened, commit what is durable before leaving the group.
        let committed = tokio::task::block_in_place(|| ctx.commit(&consumer, CommitMode::Sync));
        if let Err(error) = committed {
            tracing::warn!(task = %name, %error, "Final offset commit failed; some records may be re-delivered.");
        }
        result
    }

    /// Sleeps for `delay` unless the task is told to stop first; returns whether to stop.
    async fn wait_or_stop(&mut self, delay: Duration) -> bool {
        tokio::select! {
            _ = sleep(delay) => *self.control.borrow() == TargetState::Stopped,
            changed = self.control.changed() => changed.is_err() || *self.control.borrow() == TargetState::Stopped,
        }
    }

    async fn poll_loop(
        &mut self,
        consumer: &Arc<SinkConsumer>,
        ctx: &Arc<SinkConsumerContext>,
        reporter: &mut ErrorReporter,
        commits: &mut PeriodicCommits,
        name: &str,
    ) -> Result<(), TaskError> {
        let interval = self.worker.offset_flush_interval;
        let linger = self.worker.batch_linger;
        let max_records = self.worker.batch_max_records;
        let mut topics = TopicNames::default();
        let mut consumed = Offsets::new();
        // Per partition, the offset after the last record handed to `put` since assignment.
        let mut put_next = Offsets::new();
        let mut last_commit = Instant::now();
        let mut paused = false;
        let mut batch: Vec<RawRecord> = Vec::with_capacity(max_records);
        // Messages received while a batch was being written (or just after a rebalance) that
        // belong to the next batch.
        let mut carry: Vec<RawRecord> = Vec::new();
        let mut consume_errors = Backoff::default();

        loop {
            let target = *self.control.borrow_and_update();
            match target {
                TargetState::Stopped => return Ok(()),
                TargetState::Paused if !paused => {
                    paused = true;
                    ctx.set_paused(true);
                    consumer.pause(&consumer.assignment()?)?;
                    self.status.set(State::Paused);
                    tracing::info!(task = %name, "Task paused.");
                }
                TargetState::Running if paused => {
                    paused = false;
                    ctx.set_paused(false);
                    consumer.resume(&consumer.assignment()?)?;
                    tracing::info!(task = %name, "Task resumed.");
                }
                _ => {}
            }
            if !paused {
                self.status.set(State::Running);
            }

            // Collect one batch: wait for a first record (or the commit interval), then linger.
            let mut deadline = last_commit + interval;
            let mut lingering = !carry.is_empty();
            if lingering {
                deadline = deadline.min(Instant::now() + linger);
            }
            batch.append(&mut carry);
            // A message that arrived after a rebalance; it joins the batch once the rebalance
            // has been applied to what the batch already holds.
            let mut after_rebalance: Option<RawRecord> = None;
            loop {
                tokio::select! {
                    biased;
                    changed = self.control.changed() => {
                        if changed.is_err() {
                            return Ok(());
                        }
                        break;
                    }
                    received = consumer.recv() => match received {
                        Ok(msg) => {
                            consume_errors = Backoff::default();
                            let raw = RawRecord::from_message(&msg, topics.intern(msg.topic()));
                            if ctx.has_changes() {
                                after_rebalance = Some(raw);
                                break;
                            }
                            batch.push(raw);
                            if !lingering {
                                lingering = true;
                                deadline = deadline.min(Instant::now() + linger);
                            }
                            if batch.len() >= max_records {
                                break;
                            }
                        }
                        Err(error) => {
                            // Broker outages and missing topics surface here; librdkafka recovers by itself.
                            let delay = consume_errors.next();
                            tracing::warn!(task = %name, %error, retry_in_ms = delay.as_millis() as u64, "Kafka consumer error.");
                            ctx.note_problem(format!("Kafka consumer error (retrying): {error}"));
                            sleep(delay).await;
                        }
                    },
                    _ = sleep_until(deadline) => break,
                }
            }

            let revoked = self.apply_changes(ctx, &mut consumed, &mut put_next).await?;
            // Uncommitted records of revoked partitions belong to their next owner now.
            batch.retain(|r| !holds(&revoked, r));
            batch.extend(after_rebalance);

            if !batch.is_empty() {
                let mut batch_topics: Vec<&Arc<str>> = Vec::new();
                for r in &batch {
                    // Records of one topic share one `Arc`, so this stays a pointer comparison.
                    if !batch_topics.iter().any(|t| Arc::ptr_eq(t, &r.topic)) {
                        batch_topics.push(&r.topic);
                    }
                }
                for topic in batch_topics {
                    self.status.record_active_topic(topic);
                }
                // The converters' lookups (schema registry) for the batch, waiting out outages.
                loop {
                    match self.prepare_with_retry(consumer, ctx, &batch, name, &mut carry, &mut topics).await? {
                        Waited::Done(()) => break,
                        Waited::Stopped => return Ok(()),
                        Waited::Rebalanced(next) => {
                            let revoked = self.apply_changes(ctx, &mut consumed, &mut put_next).await?;
                            batch.retain(|r| !holds(&revoked, r));
                            carry.retain(|r| !holds(&revoked, r));
                            carry.extend(next);
                        }
                    }
                }
                let (mut records, mut origins, mut halted) = self.convert(&batch, reporter).await?;
                // Every record conversion reached counts as consumed, including ones a transform
                // drops; those after a record that halts it were never looked at.
                let converted = halted.as_ref().map_or(batch.len(), |(at, _)| *at);
                for r in &batch[..converted] {
                    consumed.insert(TopicPartition { topic: r.topic.clone(), partition: r.partition }, r.offset + 1);
                }
                for &i in &origins {
                    let r = &batch[i];
                    put_next.insert(TopicPartition { topic: r.topic.clone(), partition: r.partition }, r.offset + 1);
                }
                let failures = loop {
                    match self.put_with_retry(consumer, ctx, &records, name, &mut carry, &mut topics).await? {
                        Waited::Done(failures) => break failures,
                        Waited::Stopped => return Ok(()),
                        Waited::Rebalanced(next) => {
                            // The group moved partitions while the sink was unavailable: retry
                            // only the records this task still owns.
                            let revoked = self.apply_changes(ctx, &mut consumed, &mut put_next).await?;
                            let keep: Vec<bool> = origins.iter().map(|&i| !holds(&revoked, &batch[i])).collect();
                            let mut keep_iter = keep.iter();
                            records.retain(|_| keep_iter.next().copied().unwrap_or(true));
                            origins.retain(|&i| !holds(&revoked, &batch[i]));
                            carry.retain(|r| !holds(&revoked, r));
                            carry.extend(next);
                            let halt_revoked = |(_, f): &mut (usize, RecordFailure)| {
                                revoked.iter().any(|tp| tp.partition == f.partition && *tp.topic == *f.topic)
                            };
                            if let Some((at, _)) = halted.take_if(halt_revoked) {
                                // Its next owner meets the bad record; the records conversion
                                // never reached that this task still owns go to the next batch.
                                let rest = batch[at..].iter().filter(|r| !holds(&revoked, r)).cloned();
                                carry.splice(0..0, rest);
                            }
                        }
                    }
                };
                // With errors.tolerance=none the first bad record fails the task, but only after
                // what came before it is flushed and committed: a restart resumes at the bad
                // record without writing anything twice, and never skips past it.
                let mut fatal: Option<RecordFailure> = None;
                for (index, error) in failures {
                    let Some(raw) = origins.get(index).map(|&i| &batch[i]) else {
                        return Err(ConnectError::fatal(format!(
                            "The sink reported record #{index} as failed, but the batch had {} records.",
                            records.len()
                        ))
                        .into());
                    };
                    let failure = RecordFailure {
                        stage: Stage::TaskPut,
                        topic: raw.topic.clone(),
                        partition: raw.partition,
                        offset: raw.offset,
                        error,
                    };
                    if reporter.config.tolerates() {
                        reporter.report(raw, &failure).await?;
                    } else {
                        // The sink wrote the rest of the batch, also past this record in its
                        // partition: what is durable there must stop at this record.
                        cap_at(&mut consumed, &failure);
                        // Named before the record conversion halted at, which comes later.
                        fatal.get_or_insert(failure);
                    }
                }
                let fatal = fatal.or(halted.map(|(_, failure)| failure));
                // Dead letters must be in Kafka before the offsets of their records are durable.
                loop {
                    match self.acks_with_retry(consumer, ctx, reporter, name, &mut carry, &mut topics).await? {
                        Waited::Done(()) => break,
                        Waited::Stopped => return Ok(()),
                        Waited::Rebalanced(next) => {
                            let revoked = self.apply_changes(ctx, &mut consumed, &mut put_next).await?;
                            carry.retain(|r| !holds(&revoked, r));
                            carry.extend(next);
                        }
                    }
                }
                match self.task.flush(&consumed).await {
                    Ok(flushed) => ctx.record_durable(&durable_offsets(&consumed, &put_next, flushed)),
                    Err(error) if fatal.is_none() => return Err(error.into()),
                    Err(error) => {
                        tracing::warn!(
                            task = %name, %error,
                            "Flush before failing the task failed; nothing more is committed."
                        )
                    }
                }
                if let Some(failure) = fatal {
                    return Err(TaskError::Record(failure));
                }
                batch.clear();
            }

            if last_commit.elapsed() >= interval {
                commits.tick(consumer, ctx, name).await;
                last_commit = Instant::now();
            }
            self.status.set_problem(ctx.problem());
        }
    }

    /// Applies the consumer's queued assignment changes, in order: the task closes revoked
    /// partitions and opens assigned ones, and the runner forgets what it tracked for them.
    /// Returns every partition revoked on the way, even if re-assigned since: records held from
    /// before the rebalance for those belong to their next owner (re-delivered from the last
    /// commit), whoever that is.
    async fn apply_changes(
        &mut self,
        ctx: &SinkConsumerContext,
        consumed: &mut Offsets,
        put_next: &mut Offsets,
    ) -> Result<Vec<TopicPartition>, TaskError> {
        let mut revoked_any = Vec::new();
        for change in ctx.take_changes() {
            match change {
                PartitionChange::Revoked(revoked) => {
                    for tp in &revoked {
                        consumed.remove(tp);
                        put_next.remove(tp);
                    }
                    self.task.close(&revoked).await?;
                    revoked_any.extend(revoked);
                }
                PartitionChange::Assigned(assigned) => {
                    for tp in &assigned {
                        put_next.remove(tp);
                    }
                    self.task.open(&assigned).await?;
                }
            }
        }
        Ok(revoked_any)
    }

    /// Converts and transforms a prepared batch; returns the records for `put`, for each its
    /// index in `batch`, and the failure conversion halted at, with its index in `batch`, when
    /// it is not tolerated (the records before it are still returned). Tolerated failures are
    /// logged and dead-lettered.
    async fn convert(
        &mut self,
        batch: &[RawRecord],
        reporter: &mut ErrorReporter,
    ) -> Result<(Vec<SinkRecord>, Vec<usize>, Option<(usize, RecordFailure)>), TaskError> {
        let mut records = Vec::with_capacity(batch.len());
        let mut origins = Vec::with_capacity(batch.len());
        for (i, raw) in batch.iter().enumerate() {
            let converted = self.converter.convert(raw.clone()).and_then(|r| self.apply_transforms(r));
            match converted {
                Ok(Some(record)) => {
                    records.push(record);
                    origins.push(i);
                }
                Ok(None) => {}
                Err(failure) if !reporter.config.tolerates() => return Ok((records, origins, Some((i, failure)))),
                Err(failure) => reporter.report(raw, &failure).await?,
            }
        }
        Ok((records, origins, None))
    }

    /// Runs the connector's transform chain; `None` when a transform drops the record.
    fn apply_transforms(&self, record: SinkRecord) -> Result<Option<SinkRecord>, RecordFailure> {
        let mut current = record;
        for (alias, transform) in &self.transforms {
            let (topic, partition, offset) = (current.topic.clone(), current.partition, current.offset);
            match transform.apply(current) {
                Ok(Some(next)) => current = next,
                Ok(None) => return Ok(None),
                Err(error) => {
                    return Err(RecordFailure {
                        stage: Stage::Transformation(alias.clone()),
                        topic,
                        partition,
                        offset,
                        error,
                    })
                }
            }
        }
        Ok(Some(current))
    }

    /// Runs the converters' batch lookups ([`sluice_api::Converter::prepare`]), waiting out a
    /// retriable failure (schema registry down or slow) like a sink outage: nothing is skipped
    /// or dead-lettered because a dependency is unavailable.
    async fn prepare_with_retry(
        &mut self,
        consumer: &SinkConsumer,
        ctx: &SinkConsumerContext,
        batch: &[RawRecord],
        name: &str,
        carry: &mut Vec<RawRecord>,
        topics: &mut TopicNames,
    ) -> Result<Waited<()>, TaskError> {
        let mut wait = OutageWait::new(&self.errors);
        let outcome = loop {
            match self.converter.prepare(batch).await {
                Ok(()) => break Ok(Waited::Done(())),
                Err(e) if e.is_retriable() => {
                    let problem = format!("Converter not ready, retrying the batch (records stay safe in Kafka): {e}");
                    if let Some(end) = self.wait_out(consumer, ctx, &mut wait, name, problem, carry, topics).await? {
                        break Ok(end);
                    }
                }
                Err(e) => break Err(e.into()),
            }
        };
        self.end_wait(consumer, ctx, wait)?;
        outcome
    }

    /// Puts a batch, waiting out retriable failures (the sink is down or overloaded) and
    /// returning the records the sink reported as failed, by index in `records`. Returns
    /// [`Waited::Rebalanced`] as soon as the assignment changed while waiting, so the caller
    /// retries only what the task still owns.
    async fn put_with_retry(
        &mut self,
        consumer: &SinkConsumer,
        ctx: &SinkConsumerContext,
        records: &[SinkRecord],
        name: &str,
        carry: &mut Vec<RawRecord>,
        topics: &mut TopicNames,
    ) -> Result<Waited<Vec<(usize, ConnectError)>>, TaskError> {
        let mut wait = OutageWait::new(&self.errors);
        let outcome = loop {
            match self.task.put(records).await {
                Ok(()) => break Ok(Waited::Done(Vec::new())),
                Err(ConnectError::Records { failures }) => break Ok(Waited::Done(failures)),
                Err(e) if e.is_retriable() => {
                    let problem = format!("Sink not available, retrying the batch (records stay safe in Kafka): {e}");
                    if let Some(end) = self.wait_out(consumer, ctx, &mut wait, name, problem, carry, topics).await? {
                        break Ok(end);
                    }
                }
                Err(e) => break Err(e.into()),
            }
        };
        self.end_wait(consumer, ctx, wait)?;
        outcome
    }

    /// Waits until Kafka has acknowledged every dead letter sent so far, waiting out a DLQ
    /// that cannot be written like any outage: its dead letters are sent again, nothing is
    /// dropped, and no offset becomes durable meanwhile.
    async fn acks_with_retry(
        &mut self,
        consumer: &SinkConsumer,
        ctx: &SinkConsumerContext,
        reporter: &mut ErrorReporter,
        name: &str,
        carry: &mut Vec<RawRecord>,
        topics: &mut TopicNames,
    ) -> Result<Waited<()>, TaskError> {
        let mut wait = OutageWait::new(&self.errors);
        let outcome = loop {
            match reporter.await_acks().await {
                Ok(dead) => {
                    if dead > 0 {
                        tracing::debug!(task = %name, records = dead, "Dead letters acknowledged.");
                    }
                    break Ok(Waited::Done(()));
                }
                Err(e) if e.is_retriable() => {
                    let problem = format!(
                        "Dead letter queue not available, the batch waits for it (records stay safe in Kafka): {e}"
                    );
                    if let Some(end) = self.wait_out(consumer, ctx, &mut wait, name, problem, carry, topics).await? {
                        break Ok(end);
                    }
                }
                Err(e) => break Err(e.into()),
            }
        };
        self.end_wait(consumer, ctx, wait)?;
        outcome
    }

    /// One backoff step of waiting out an outage. The first step pauses consumption (and
    /// partitions assigned meanwhile are paused as they arrive); the consumer keeps polling so
    /// it stays in its group, and a message that still arrives is kept in `carry` for the next
    /// batch. The task stays RUNNING with `problem` in its trace.
    ///
    /// Returns `Some` when waiting must end: the task is stopping, or the assignment changed
    /// (with the first message received under the new one, if any).
    #[allow(clippy::too_many_arguments)]
    async fn wait_out<T>(
        &mut self,
        consumer: &SinkConsumer,
        ctx: &SinkConsumerContext,
        wait: &mut OutageWait,
        name: &str,
        problem: String,
        carry: &mut Vec<RawRecord>,
        topics: &mut TopicNames,
    ) -> Result<Option<Waited<T>>, TaskError> {
        let delay = wait.backoff.next();
        tracing::warn!(task = %name, problem = %problem, retry_in_ms = delay.as_millis() as u64, "Waiting out an outage.");
        self.status.set_problem(Some(problem.clone()));
        ctx.note_problem(problem);
        if !wait.paused {
            ctx.set_paused(true);
            consumer.pause(&consumer.assignment()?)?;
            wait.paused = true;
        }
        let wake = Instant::now() + delay;
        loop {
            tokio::select! {
                _ = sleep_until(wake) => break,
                received = consumer.recv() => {
                    if let Ok(msg) = received {
                        let raw = RawRecord::from_message(&msg, topics.intern(msg.topic()));
                        if ctx.has_changes() {
                            return Ok(Some(Waited::Rebalanced(Some(raw))));
                        }
                        carry.push(raw);
                    }
                }
                changed = self.control.changed() => {
                    if changed.is_err() || *self.control.borrow() == TargetState::Stopped {
                        return Ok(Some(Waited::Stopped));
                    }
                }
            }
        }
        Ok(ctx.has_changes().then_some(Waited::Rebalanced(None)))
    }

    /// Resumes consumption after [`Self::wait_out`] paused it (unless the task is PAUSED).
    fn end_wait(&self, consumer: &SinkConsumer, ctx: &SinkConsumerContext, wait: OutageWait) -> Result<(), TaskError> {
        if wait.paused {
            let target_paused = *self.control.borrow() == TargetState::Paused;
            ctx.set_paused(target_paused);
            if !target_paused {
                consumer.resume(&consumer.assignment()?)?;
            }
        }
        Ok(())
    }
}

/// State of one wait for an unavailable dependency.
struct OutageWait {
    backoff: Backoff,
    paused: bool,
}

impl OutageWait {
    /// Retries back off up to `errors.retry.delay.max.ms` (at most [`MAX_BACKOFF`]).
    fn new(errors: &ErrorConfig) -> Self {
        OutageWait { backoff: Backoff::capped(errors.retry_delay_max), paused: false }
    }
}

/// How an operation that waits out outages ended.
enum Waited<T> {
    /// It completed.
    Done(T),
    /// The task was told to stop while waiting.
    Stopped,
    /// The assignment changed while waiting, with the first message received under the new
    /// assignment, if any.
    Rebalanced(Option<RawRecord>),
}

/// Whether `record` belongs to one of `partitions`.
fn holds(partitions: &[TopicPartition], record: &RawRecord) -> bool {
    partitions.iter().any(|tp| tp.partition == record.partition && *tp.topic == *record.topic)
}

/// Topic names shared by the records of one task, so records of a topic share one `Arc`.
#[derive(Default)]
struct TopicNames(HashMap<String, Arc<str>>);

impl TopicNames {
    fn intern(&mut self, topic: &str) -> Arc<str> {
        match self.0.get(topic) {
            Some(t) => t.clone(),
            None => self.0.entry(topic.to_owned()).or_insert_with(|| Arc::from(topic)).clone(),
        }
    }
}

/// Exponential backoff with jitter, from 100 ms to [`MAX_BACKOFF`].
#[derive(Default)]
struct Backoff {
    attempt: u32,
    /// The longest delay; [`MAX_BACKOFF`] unless set lower.
    cap: Option<Duration>,
}

impl Backoff {
    /// Backoff whose delays stop growing at `cap` (or [`MAX_BACKOFF`] if that is lower).
    fn capped(cap: Duration) -> Self {
        Backoff { attempt: 0, cap: Some(cap.min(MAX_BACKOFF)) }
    }

    fn next(&mut self) -> Duration {
        let cap = self.cap.unwrap_or(MAX_BACKOFF);
        let base = Duration::from_millis(100).saturating_mul(1 << self.attempt.min(10)).min(cap);
        self.attempt += 1;
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        // Up to 20 % jitter keeps tasks that failed together from retrying in lockstep.
        base.mul_f64(0.8 + 0.2 * (nanos % 1000) as f64 / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let mut b = Backoff::default();
        let first = b.next();
        assert!(first >= Duration::from_millis(80) && first <= Duration::from_millis(100), "{first:?}");
        let later: Vec<_> = (0..12).map(|_| b.next()).collect();
        assert!(later[0] > first);
        assert!(later.iter().all(|d| *d <= MAX_BACKOFF));
        assert!(*later.last().unwrap() >= MAX_BACKOFF.mul_f64(0.8));

        let mut short = Backoff::capped(Duration::from_millis(500));
        let delays: Vec<_> = (0..8).map(|_| short.next()).collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_millis(500)), "{delays:?}");
        assert!(delays[7] >= Duration::from_millis(400), "{delays:?}");
    }
}
