//! The write step of a task's loop: one batch through the converters' lookups, conversion and
//! transforms, the sink's `put`, the dead letter queue, then the settled offsets and a flush.
//! Outages of any dependency on the way are waited out ([`TaskRun::until_available`]).

use rdkafka::consumer::Consumer;
use sluice_api::{ConnectError, Offsets, SinkRecord, TopicPartition};
use tokio::time::{sleep_until, Instant};

use super::{holds, revoked, Flow, Held, Kafka, TaskError, TaskRun};
use crate::runtime::backoff::Backoff;
use crate::runtime::consumer::{SinkConsumer, SinkConsumerContext};
use crate::runtime::convert::{MessageCopier, RawRecord, RecordFailure, Stage};
use crate::runtime::dlq::ErrorReporter;
use crate::runtime::errors::ErrorConfig;
use crate::runtime::offsets::cap_at;
use crate::status::TargetState;

/// An operation that waits out outages of what it depends on.
enum Step<'a> {
    /// The converters' batch lookups (schema registry).
    Prepare(&'a [RawRecord]),
    /// The sink's `put`.
    Put(&'a [SinkRecord]),
    /// Kafka's acknowledgements of the dead letters sent so far.
    Acks(&'a mut ErrorReporter),
}

impl Step<'_> {
    /// What the task's trace says while the operation waits.
    fn outage(&self) -> &'static str {
        match self {
            Step::Prepare(_) => "Converter not ready, retrying the batch (records stay safe in Kafka)",
            Step::Put(_) => "Sink not available, retrying the batch (records stay safe in Kafka)",
            Step::Acks(_) => "Dead letter queue not available, the batch waits for it (records stay safe in Kafka)",
        }
    }
}

/// What a completed step gave. Only `put` gives more than `Written(vec![])`.
enum Outcome {
    /// Written, but for the records reported as failed: by index, with why.
    Written(Vec<(usize, ConnectError)>),
    /// Nothing written: these records' values, handed on undecoded, do not decode
    /// (`ConnectError::Undecodable`).
    Undecodable(Vec<usize>),
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

/// State of one wait for an unavailable dependency.
struct OutageWait {
    backoff: Backoff,
    paused: bool,
}

impl OutageWait {
    /// Retries back off up to `errors.retry.delay.max.ms` (at most 10 s).
    fn new(errors: &ErrorConfig) -> Self {
        OutageWait { backoff: Backoff::capped(errors.retry_delay_max), paused: false }
    }
}

impl TaskRun {
    /// Writes the batch `held` holds; `Stop` if the task was told to stop meanwhile.
    pub(super) async fn write_batch(
        &mut self,
        kafka: &Kafka,
        reporter: &mut ErrorReporter,
        held: &mut Held,
    ) -> Result<Flow, TaskError> {
        let started = Instant::now();
        self.note_active_topics(&held.batch);
        // Counted once per batch, also when it is written again after a rebalance.
        self.metrics.record_read.inc_by(held.batch.len() as u64);
        let payload = |batch: &[RawRecord]| batch.iter().map(|r| r.payload_len() as u64).sum::<u64>();
        // Of the records `held.batch` holds, for `count_put`.
        let mut batch_bytes = payload(&held.batch);
        self.metrics.record_read_bytes.inc_by(batch_bytes);
        // Partitions revoked while the batch was written: nothing of theirs is settled here.
        let mut gone: Vec<TopicPartition> = Vec::new();
        loop {
            match self.until_available(kafka, Step::Prepare(&held.batch), &mut held.carry, &mut held.copier).await? {
                Waited::Done(_) => break,
                Waited::Stopped => return Ok(Flow::Stop),
                Waited::Rebalanced(next) => {
                    let revoked = revoked(&kafka.ctx);
                    held.drop_partitions(&revoked);
                    batch_bytes = payload(&held.batch);
                    held.rebalanced(&revoked, next);
                    gone.extend(revoked);
                }
            }
        }
        let lists = std::mem::take(&mut held.spare);
        let mut converted = self.convert(&held.batch, lists, reporter).await?;
        let failures = loop {
            let put = Step::Put(&converted.records);
            match self.until_available(kafka, put, &mut held.carry, &mut held.copier).await? {
                Waited::Done(Outcome::Written(failures)) => break failures,
                Waited::Done(Outcome::Undecodable(indices)) => {
                    self.fail_undecodable(&held.batch, &mut converted, &indices, reporter).await?
                }
                Waited::Stopped => return Ok(Flow::Stop),
                Waited::Rebalanced(next) => {
                    // The group moved partitions while the sink was unavailable: retry only
                    // the records this task still owns.
                    let revoked_now = revoked(&kafka.ctx);
                    converted.drop_partitions(&held.batch, &revoked_now);
                    held.rebalanced(&revoked_now, next);
                    if converted.halted_in(&revoked_now) {
                        // Its next owner meets the bad record; the records conversion never
                        // reached that this task still owns go to the next batch.
                        converted.halted = None;
                        let rest = held.batch[converted.reached..].iter().filter(|r| !holds(&revoked_now, r)).cloned();
                        held.carry.splice(0..0, rest);
                    }
                    gone.extend(revoked_now);
                }
            }
        };
        self.count_put(&held.batch, batch_bytes, &converted, &failures);
        let halted = converted.halted.take().map(|(_, failure)| failure);
        let (mut consumed, mut put_next, fatal) =
            self.settle_failures(&held.batch, &converted, failures, halted, reporter).await?;
        held.spare = converted.into_lists();
        // Dead letters must be in Kafka before the offsets of their records are durable.
        loop {
            match self.until_available(kafka, Step::Acks(reporter), &mut held.carry, &mut held.copier).await? {
                Waited::Done(_) => break,
                Waited::Stopped => return Ok(Flow::Stop),
                Waited::Rebalanced(next) => {
                    let revoked_now = revoked(&kafka.ctx);
                    held.rebalanced(&revoked_now, next);
                    gone.extend(revoked_now);
                }
            }
        }
        consumed.retain(|tp, _| !gone.contains(tp));
        put_next.retain(|tp, _| !gone.contains(tp));
        self.sink.settle(&consumed, &put_next).await;
        let flushed = if self.may_write(kafka) { self.sink.flush().await } else { Ok(sluice_api::Offsets::new()) };
        match flushed {
            Ok(durable) => kafka.ctx.record_durable(&durable),
            Err(error) if fatal.is_none() && error.is_retriable() => {
                // An outage: the next flush tries again (see `TaskRun::flush`).
                tracing::warn!(task = %self.name, %error, "Flush after the batch failed; retrying at the next flush.");
                kafka.ctx.note_problem(format!("Sink not available, retrying what it holds: {error}"));
            }
            Err(error) if fatal.is_none() => return Err(error.into()),
            Err(error) => {
                tracing::warn!(task = %self.name, %error, "Flush before failing the task failed; nothing more is committed.")
            }
        }
        self.metrics.batch_write_time.observe(started.elapsed().as_secs_f64());
        if let Some(failure) = fatal {
            return Err(TaskError::Record(failure));
        }
        held.batch.clear();
        Ok(Flow::Go)
    }

    /// Counts what the sink got (`converted`) and accepted (all but `failures`), once per batch;
    /// `batch_bytes` is the payload of the whole batch.
    fn count_put(
        &self,
        batch: &[RawRecord],
        batch_bytes: u64,
        converted: &Converted,
        failures: &[(usize, ConnectError)],
    ) {
        let bytes = |index: usize| converted.origins.get(index).map_or(0, |&i| batch[i].payload_len() as u64);
        // Usually the sink got every record of the batch: its payload is already summed.
        let sent: u64 = match converted.origins.len() == batch.len() {
            true => batch_bytes,
            false => (0..converted.origins.len()).map(bytes).sum(),
        };
        let failed: u64 = failures.iter().map(|(index, _)| bytes(*index)).sum();
        let m = &self.metrics;
        m.record_send.inc_by(converted.records.len() as u64);
        m.record_written.inc_by(converted.records.len().saturating_sub(failures.len()) as u64);
        m.bytes_written.inc_by(sent.saturating_sub(failed));
    }

    fn note_active_topics(&self, batch: &[RawRecord]) {
        let mut seen: Vec<&std::sync::Arc<str>> = Vec::new();
        for r in batch {
            // Records of one topic share one `Arc`, so this stays a pointer comparison.
            if !seen.iter().any(|t| std::sync::Arc::ptr_eq(t, &r.topic)) {
                seen.push(&r.topic);
            }
        }
        for topic in seen {
            self.status.record_active_topic(topic);
        }
    }

    /// Converts and transforms a prepared batch. Tolerated failures are logged and
    /// dead-lettered; the first one not tolerated halts conversion (the records before it are
    /// still returned).
    async fn convert(
        &mut self,
        batch: &[RawRecord],
        lists: ConvertedLists,
        reporter: &mut ErrorReporter,
    ) -> Result<Converted, TaskError> {
        let ConvertedLists { mut records, mut origins } = lists;
        records.reserve(batch.len());
        origins.reserve(batch.len());
        let mut out = Converted { records, origins, halted: None, reached: batch.len() };
        let mut skipped = 0;
        for (i, raw) in batch.iter().enumerate() {
            // Without transforms the record goes straight into the list, matched as it comes:
            // each move of a record is a copy of a few hundred bytes, and wrapping it in one more
            // `Option` on the way cost two more of them (they showed in the profile).
            let failure = if self.transforms.is_empty() {
                match self.converter.convert(raw) {
                    Ok(record) => {
                        out.records.push(record);
                        out.origins.push(i);
                        continue;
                    }
                    Err(failure) => failure,
                }
            } else {
                match self.converter.convert(raw).and_then(|r| self.apply_transforms(r)) {
                    Ok(Some(record)) => {
                        out.records.push(record);
                        out.origins.push(i);
                        continue;
                    }
                    Ok(None) => continue,
                    Err(failure) => failure,
                }
            };
            if !reporter.config.tolerates() {
                out.halted = Some((i, failure));
                out.reached = i;
                self.metrics.record_errors.inc();
                break;
            }
            skipped += 1;
            reporter.report(raw, &failure).await?
        }
        self.metrics.record_errors.inc_by(skipped);
        self.metrics.records_skipped.inc_by(skipped);
        Ok(out)
    }

    /// Fails the records of `converted` (by index) whose values, handed on undecoded (JSON text,
    /// datums: see `RecordConverter::hand_json_to`), the sink found not to decode, as the
    /// converter would have failed them had it decoded them: in the VALUE_CONVERTER stage with
    /// the converter's error. With error tolerance they are reported and left out; without, the
    /// batch ends before the first of them, which fails the task. The sink wrote nothing of
    /// the batch: the caller puts what is left again.
    async fn fail_undecodable(
        &mut self,
        batch: &[RawRecord],
        converted: &mut Converted,
        indices: &[usize],
        reporter: &mut ErrorReporter,
    ) -> Result<(), TaskError> {
        if indices.is_empty() {
            // Putting the same batch again would get the same answer, for ever.
            return Err(ConnectError::fatal("The sink said values of the batch did not decode, but named none.").into());
        }
        let mut failed = Vec::with_capacity(indices.len());
        for &index in indices {
            let Some(&origin) = converted.origins.get(index) else {
                return Err(ConnectError::fatal(format!(
                    "The sink reported the value of record #{index} as not decoding, but the batch had {} records.",
                    converted.records.len()
                ))
                .into());
            };
            let raw = &batch[origin];
            let error = self.converter.check_value(raw).err().unwrap_or_else(|| {
                ConnectError::data("The sink found the value not to decode, though the value converter reads it.")
            });
            let failure = RecordFailure {
                stage: Stage::ValueConverter,
                topic: raw.topic.clone(),
                partition: raw.partition,
                offset: raw.offset,
                error,
            };
            failed.push((index, origin, failure));
        }
        failed.sort_by_key(|(index, ..)| *index);
        if !reporter.config.tolerates() {
            if let Some((index, origin, failure)) = failed.into_iter().next() {
                self.metrics.record_errors.inc();
                converted.records.truncate(index);
                converted.origins.truncate(index);
                // Earlier than any record conversion halted at: every converted record is.
                converted.halted = Some((origin, failure));
                converted.reached = origin;
            }
            return Ok(());
        }
        self.metrics.record_errors.inc_by(failed.len() as u64);
        self.metrics.records_skipped.inc_by(failed.len() as u64);
        for (_, origin, failure) in &failed {
            reporter.report(&batch[*origin], failure).await?;
        }
        converted.remove(&failed.iter().map(|(index, ..)| *index).collect::<Vec<_>>());
        Ok(())
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

    /// Handles the records the sink reported as failed, and works out what the batch settled:
    /// per partition, the offset after the last record whose handling is over (`consumed`) and
    /// after the last record the sink got (`put_next`). Returns the failure that fails the
    /// task, if any: with `errors.tolerance=none` the first bad record fails it, but only after
    /// what came before it is flushed and committed, so a restart resumes at the bad record
    /// without writing anything twice, and never skips past it.
    async fn settle_failures(
        &mut self,
        batch: &[RawRecord],
        converted: &Converted,
        failures: Vec<(usize, ConnectError)>,
        halted: Option<RecordFailure>,
        reporter: &mut ErrorReporter,
    ) -> Result<(Offsets, Offsets, Option<RecordFailure>), TaskError> {
        // Every record conversion reached counts, including ones a transform dropped; those
        // after a record that halted it were never looked at.
        let mut consumed = next_offsets(batch[..converted.reached].iter());
        let put_next = next_offsets(converted.origins.iter().map(|&i| &batch[i]));
        let mut fatal: Option<RecordFailure> = None;
        self.metrics.record_errors.inc_by(failures.len() as u64);
        if reporter.config.tolerates() {
            self.metrics.records_skipped.inc_by(failures.len() as u64);
        }
        for (index, error) in failures {
            let Some(raw) = converted.origins.get(index).map(|&i| &batch[i]) else {
                return Err(ConnectError::fatal(format!(
                    "The sink reported record #{index} as failed, but the batch had {} records.",
                    converted.records.len()
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
        Ok((consumed, put_next, fatal.or(halted)))
    }

    /// Runs `step` until it succeeds, waiting out retriable failures (a dependency down or
    /// overloaded): nothing is skipped or dead-lettered because a dependency is unavailable.
    /// Returns [`Waited::Rebalanced`] as soon as the assignment changed while waiting, so the
    /// caller retries only what the task still owns. A successful `put` gives the records the
    /// sink reported as failed, by index.
    async fn until_available(
        &mut self,
        kafka: &Kafka,
        mut step: Step<'_>,
        carry: &mut Vec<RawRecord>,
        copier: &mut MessageCopier,
    ) -> Result<Waited<Outcome>, TaskError> {
        let mut wait = OutageWait::new(&self.errors);
        let written = |()| Outcome::Written(Vec::new());
        let outcome = loop {
            let attempt = match &mut step {
                Step::Prepare(batch) => self.converter.prepare(batch).await.map(written),
                Step::Put(_) if !self.may_write(kafka) => {
                    sluice_api::SinkTaskContext::check_not_stalled(self.sink.context()).map(written)
                }
                Step::Put(records) => {
                    let put_started = Instant::now();
                    let put = self.sink.put(records).await;
                    self.metrics.put_batch_time.observe(put_started.elapsed().as_secs_f64());
                    match put {
                        Err(ConnectError::Records { failures }) => Ok(Outcome::Written(failures)),
                        Err(ConnectError::Undecodable { records }) => Ok(Outcome::Undecodable(records)),
                        other => other.map(written),
                    }
                }
                Step::Acks(reporter) => reporter.await_acks().await.map(|dead| {
                    if dead > 0 {
                        tracing::debug!(task = %self.name, records = dead, "Dead letters acknowledged.");
                    }
                    Outcome::Written(Vec::new())
                }),
            };
            match attempt {
                Ok(done) => break Ok(Waited::Done(done)),
                Err(e) if e.is_retriable() => {
                    self.metrics.retries.inc();
                    let problem = format!("{}: {e}", step.outage());
                    if let Some(end) =
                        self.wait_out(&kafka.consumer, &kafka.ctx, &mut wait, problem, carry, copier).await?
                    {
                        break Ok(end);
                    }
                }
                Err(e) => break Err(e.into()),
            }
        };
        self.end_wait(&kafka.consumer, &kafka.ctx, wait)?;
        outcome
    }

    /// One backoff step of waiting out an outage. The first step pauses consumption (and
    /// partitions assigned meanwhile are paused as they arrive); the consumer keeps polling so
    /// it stays in its group, and a message that still arrives is kept in `carry` for the next
    /// batch. The task stays RUNNING with `problem` in its trace.
    ///
    /// Returns `Some` when waiting must end: the task is stopping, or the assignment changed
    /// (with the first message received under the new one, if any).
    async fn wait_out<T>(
        &mut self,
        consumer: &SinkConsumer,
        ctx: &SinkConsumerContext,
        wait: &mut OutageWait,
        problem: String,
        carry: &mut Vec<RawRecord>,
        copier: &mut MessageCopier,
    ) -> Result<Option<Waited<T>>, TaskError> {
        let delay = wait.backoff.next();
        tracing::warn!(task = %self.name, problem = %problem, retry_in_ms = delay.as_millis() as u64, "Waiting out an outage.");
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
                        let raw = copier.copy(&msg);
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
                consumer.resume(&ctx.resumable(&consumer.assignment()?))?;
            }
        }
        Ok(())
    }
}

/// A batch after conversion.
struct Converted {
    /// Records for `put`.
    records: Vec<SinkRecord>,
    /// For each record, its index in the batch.
    origins: Vec<usize>,
    /// The failure conversion halted at (not tolerated), with its index in the batch.
    halted: Option<(usize, RecordFailure)>,
    /// How far into the batch conversion got: the index it halted at, or the batch's length.
    reached: usize,
}

/// The lists a [`Converted`] fills, kept for reuse.
#[derive(Default)]
pub(super) struct ConvertedLists {
    records: Vec<SinkRecord>,
    origins: Vec<usize>,
}

impl Converted {
    /// Its lists, emptied, for the next batch.
    fn into_lists(self) -> ConvertedLists {
        let (mut records, mut origins) = (self.records, self.origins);
        records.clear();
        origins.clear();
        ConvertedLists { records, origins }
    }

    /// Leaves out the records at `indices` (ascending).
    fn remove(&mut self, indices: &[usize]) {
        self.keep_only((0..self.records.len()).map(|at| indices.binary_search(&at).is_err()).collect());
    }

    /// Forgets the records of `gone` partitions (revoked while the batch waited).
    fn drop_partitions(&mut self, batch: &[RawRecord], gone: &[TopicPartition]) {
        self.keep_only(self.origins.iter().map(|&i| !holds(gone, &batch[i])).collect());
    }

    /// Keeps the records (and their origins) whose `keep` is true, in order.
    fn keep_only(&mut self, keep: Vec<bool>) {
        let mut keep_records = keep.iter();
        self.records.retain(|_| keep_records.next().copied().unwrap_or(true));
        let mut keep_origins = keep.iter();
        self.origins.retain(|_| keep_origins.next().copied().unwrap_or(true));
    }

    /// Whether conversion halted at a record of one of `gone`.
    fn halted_in(&self, gone: &[TopicPartition]) -> bool {
        self.halted
            .as_ref()
            .is_some_and(|(_, f)| gone.iter().any(|tp| tp.partition == f.partition && *tp.topic == *f.topic))
    }
}

/// Per partition, the offset after the last of `records` (in the order given). Consecutive
/// records of one partition are one map update.
fn next_offsets<'a>(records: impl Iterator<Item = &'a RawRecord>) -> Offsets {
    let mut next = Offsets::new();
    let mut run: Option<&RawRecord> = None;
    let mut settle = |r: &RawRecord| {
        next.insert(TopicPartition { topic: r.topic.clone(), partition: r.partition }, r.offset + 1);
    };
    for r in records {
        if let Some(last) = run.filter(|last| last.partition != r.partition || last.topic != r.topic) {
            settle(last);
        }
        run = Some(r);
    }
    run.into_iter().for_each(settle);
    next
}
