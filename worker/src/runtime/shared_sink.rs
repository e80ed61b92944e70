//! [`SharedSink`]: a task's sink and what the runner has settled per partition, shared between
//! the runner and the consumer's rebalance callback.
//!
//! Kafka moves partitions inside the consumer's poll. Partitions must be opened before any of
//! their records is read (the sink may say where to start), and closed before the offsets of
//! revoked partitions are committed (the sink publishes or abandons what it holds). Both happen
//! in the rebalance callback, which runs inside `recv` on the runner's own task, so the callback
//! reaches the sink through this lock; the runner never holds it across `recv`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use sluice_api::{ConnectError, Offsets, SinkRecord, SinkTask, TopicPartition};
use tokio::sync::{Mutex, MutexGuard};
use tokio::time::Instant;

use super::backoff::Backoff;
use super::consumer::RebalanceListener;
use super::offsets::durable_offsets;
use super::task_context::RuntimeTaskContext;

/// How long `open` or `close` may keep failing for a passing reason inside a rebalance before
/// the runtime gives up (a rebalance cannot wait forever: the group waits for this member).
const REBALANCE_PATIENCE: Duration = Duration::from_secs(60);

/// The sink task and the offsets settled for it.
pub(super) struct SinkSide {
    pub(super) task: Box<dyn SinkTask>,
    /// Per partition, the offset after the last record whose handling is settled: put, dropped
    /// by a transform, or dead-lettered and acknowledged. What `flush` is asked about.
    consumed: Offsets,
    /// Per partition, the offset after the last record handed to `put`.
    put_next: Offsets,
    /// Partitions opened and not closed since.
    open: BTreeSet<TopicPartition>,
    /// A failure met inside a rebalance, for the runner to fail the task with.
    failure: Option<ConnectError>,
}

/// The sink of one task, shared with its consumer's rebalance callback.
#[derive(Clone)]
pub(super) struct SharedSink {
    side: Arc<Mutex<SinkSide>>,
    context: Arc<RuntimeTaskContext>,
    name: Arc<str>,
}

impl SharedSink {
    pub(super) fn new(mut task: Box<dyn SinkTask>, name: &str) -> Self {
        let context = Arc::new(RuntimeTaskContext::default());
        task.initialize(context.clone());
        let side =
            SinkSide { task, consumed: Offsets::new(), put_next: Offsets::new(), open: BTreeSet::new(), failure: None };
        SharedSink { side: Arc::new(Mutex::new(side)), context, name: name.into() }
    }

    pub(super) fn context(&self) -> &RuntimeTaskContext {
        &self.context
    }

    pub(super) async fn lock(&self) -> MutexGuard<'_, SinkSide> {
        self.side.lock().await
    }

    /// The failure a rebalance met, if any; the task fails with it.
    pub(super) async fn take_failure(&self) -> Option<ConnectError> {
        self.lock().await.failure.take()
    }

    /// Hands a batch to the sink.
    pub(super) async fn put(&self, records: &[SinkRecord]) -> Result<(), ConnectError> {
        self.lock().await.task.put(records).await
    }

    /// Records that a batch is settled: `put_next` per partition for what the sink got, and
    /// `consumed` for everything whose handling is over. Partitions not open any more (revoked
    /// while the batch was written) are left out.
    pub(super) async fn settle(&self, consumed: &Offsets, put_next: &Offsets) {
        let mut side = self.lock().await;
        let side = &mut *side;
        for (target, source) in [(&mut side.consumed, consumed), (&mut side.put_next, put_next)] {
            for (tp, &next) in source.iter().filter(|(tp, _)| side.open.contains(*tp)) {
                let entry = target.entry(tp.clone()).or_insert(next);
                *entry = (*entry).max(next);
            }
        }
    }

    /// Asks the sink what is durable; the offsets that may be committed.
    pub(super) async fn flush(&self) -> Result<Offsets, ConnectError> {
        self.lock().await.flush().await
    }

    /// Drops what the sink holds for every open partition, publishing nothing (the task stops
    /// and cannot be sure the partitions are still its own).
    pub(super) async fn lose_all(&self) {
        let mut side = self.lock().await;
        let open: Vec<TopicPartition> = side.open.iter().cloned().collect();
        if let Err(e) = side.task.lost(&open).await {
            tracing::warn!(task = %self.name, error = %e, "Dropping what the sink holds failed.");
        }
        side.forget(&open);
    }

    /// Closes every open partition (the task is stopping): flush, close, flush. Returns what
    /// is durable.
    pub(super) async fn close_all(&self) -> Result<Offsets, ConnectError> {
        let mut side = self.lock().await;
        let open: Vec<TopicPartition> = side.open.iter().cloned().collect();
        side.close(&open).await
    }

    async fn open(&self, partitions: &[TopicPartition], committed: &dyn Fn() -> Result<Offsets, String>) -> Offsets {
        let mut side = self.lock().await;
        for tp in partitions {
            side.consumed.remove(tp);
            side.put_next.remove(tp);
        }
        self.context.assigned(partitions);
        let mut backoff = Backoff::default();
        let deadline = Instant::now() + REBALANCE_PATIENCE;
        self.context.reset_committed();
        loop {
            // Committed offsets are fetched only for a sink that asks for them, then again on
            // every attempt (Kafka may answer later). Blocking is fine here: the rebalance
            // callback already left the runtime's workers.
            let asked_before = self.context.committed_wanted();
            if asked_before {
                self.context.set_committed(committed());
            }
            match side.task.open(partitions).await {
                Ok(()) => break,
                // The sink asked for them for the first time: fetch them and open again.
                Err(_) if !asked_before && self.context.committed_wanted() => continue,
                Err(e) if e.is_retriable() && Instant::now() < deadline => {
                    tracing::warn!(task = %self.name, error = %e, "Opening partitions failed; retrying.");
                    tokio::time::sleep(backoff.next()).await;
                }
                Err(e) => {
                    tracing::error!(task = %self.name, error = %e, "Opening partitions failed; the task fails.");
                    side.failure.get_or_insert(ConnectError::fatal(format!(
                        "The sink could not open partitions {}: {e}. Restart the task once the cause is fixed.",
                        names(partitions)
                    )));
                    return Offsets::new();
                }
            }
        }
        side.open.extend(partitions.iter().cloned());
        let starts = self.context.take_seeks(Some(partitions));
        if !starts.is_empty() {
            tracing::info!(task = %self.name, starts = ?starts.iter().map(|(tp, o)| format!("{tp}@{o}")).collect::<Vec<_>>(), "The sink chose where partitions resume.");
        }
        starts
    }

    async fn revoke(&self, partitions: &[TopicPartition], lost: bool) -> Offsets {
        let mut side = self.lock().await;
        let open: Vec<TopicPartition> = partitions.iter().filter(|tp| side.open.contains(*tp)).cloned().collect();
        // After the process stood still long enough for the group to drop this consumer, and
        // before the runner proved the partitions are still this task's, closing would publish
        // what may be another task's by now (and the proof cannot be had inside this callback):
        // drop instead, the next owner reads it again. Shorter stalls do not count (`stalled`).
        let stalled = !lost && sluice_api::SinkTaskContext::stalled(&*self.context);
        if stalled {
            tracing::warn!(task = %self.name, "Partitions revoked after the process stood still: dropping what the sink holds for them instead of publishing it.");
        }
        if lost || stalled {
            if let Err(e) = side.task.lost(&open).await {
                tracing::warn!(task = %self.name, error = %e, "Dropping lost partitions failed.");
            }
            side.forget(partitions);
            self.context.revoked(partitions);
            return Offsets::new();
        }
        let mut backoff = Backoff::default();
        let deadline = Instant::now() + REBALANCE_PATIENCE;
        let durable = loop {
            match side.close(&open).await {
                Ok(durable) => break durable,
                Err(e) if e.is_retriable() && Instant::now() < deadline => {
                    tracing::warn!(task = %self.name, error = %e, "Closing partitions failed; retrying.");
                    tokio::time::sleep(backoff.next()).await;
                }
                Err(e) => {
                    // Nothing more becomes durable for them: their next owner reads again
                    // from the last commit, so the sink must drop what it holds for them
                    // (sent later, it would land twice).
                    tracing::warn!(task = %self.name, error = %e, "Closing partitions failed; dropping what the sink holds for them, their next owner resumes from the last commit.");
                    if let Err(e) = side.task.lost(&open).await {
                        tracing::warn!(task = %self.name, error = %e, "Dropping the partitions the sink could not close failed.");
                    }
                    if !e.is_retriable() {
                        side.failure.get_or_insert(e);
                    }
                    break Offsets::new();
                }
            }
        };
        side.forget(partitions);
        self.context.revoked(partitions);
        durable.into_iter().filter(|(tp, _)| partitions.contains(tp)).collect()
    }

    /// Runs `work` on this runtime from inside the consumer's poll (a synchronous callback).
    fn block_on<T: Default>(&self, work: impl std::future::Future<Output = T>) -> T {
        match tokio::runtime::Handle::try_current() {
            Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| handle.block_on(work))
            }
            _ => {
                tracing::error!(task = %self.name, "A rebalance callback ran outside the worker's runtime; the sink was not told.");
                T::default()
            }
        }
    }
}

impl SinkSide {
    fn forget(&mut self, partitions: &[TopicPartition]) {
        for tp in partitions {
            self.open.remove(tp);
            self.consumed.remove(tp);
            self.put_next.remove(tp);
        }
    }

    async fn flush(&mut self) -> Result<Offsets, ConnectError> {
        let flushed = self.task.flush(&self.consumed).await?;
        let mut durable = durable_offsets(&self.consumed, &self.put_next, flushed);
        // Never past what is settled, whatever the sink says.
        durable.retain(|tp, next| match self.consumed.get(tp) {
            Some(&settled) => {
                *next = (*next).min(settled);
                true
            }
            None => false,
        });
        Ok(durable)
    }

    /// Flush, close, flush: what is durable before, and whatever closing made durable.
    async fn close(&mut self, partitions: &[TopicPartition]) -> Result<Offsets, ConnectError> {
        if partitions.is_empty() {
            return Ok(Offsets::new());
        }
        let mut durable = self.flush().await?;
        self.task.close(partitions).await?;
        for (tp, next) in self.flush().await? {
            let entry = durable.entry(tp).or_insert(next);
            *entry = (*entry).max(next);
        }
        for tp in partitions {
            self.open.remove(tp);
        }
        Ok(durable)
    }
}

impl RebalanceListener for SharedSink {
    fn assigning(&self, partitions: &[TopicPartition], committed: &dyn Fn() -> Result<Offsets, String>) -> Offsets {
        self.block_on(self.open(partitions, committed))
    }

    fn revoking(&self, partitions: &[TopicPartition], lost: bool) -> Offsets {
        self.block_on(self.revoke(partitions, lost))
    }
}

fn names(partitions: &[TopicPartition]) -> String {
    partitions.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}
