//! The Kafka consumer of one sink task and what it remembers across rebalances.
//!
//! Offsets flow one way: the runner records what the sink reported durable
//! ([`SinkConsumerContext::record_durable`]); commits send only those.
//!
//! Rebalance callbacks run inside `recv`. Newly assigned partitions are opened in the sink
//! first, and start where the sink asks (or at the committed offset). Revoked partitions are
//! closed in the sink first, then their durable offsets are committed, before the partitions
//! are released, so the next owner normally starts exactly where this one stopped (a periodic
//! commit still in flight then is waited for, since it may fail). Both go
//! through the task's [`RebalanceListener`]. The context also queues the assignment changes,
//! in order, for the runner ([`SinkConsumerContext::take_changes`]); every message `recv`
//! returns after a change was queued belongs to the new assignment.
//!
//! Each partition's messages are split off the consumer queue as it is assigned, before it is
//! fetched ([`SinkConsumerContext::split_queues`], `sluice_kafka_queues`): the runner takes them
//! many per call, and polls the consumer queue for rebalances, commit results and errors (and
//! the messages of any partition that could not be split).
//!
//! librdkafka's statistics (every `statistics.interval.ms`) give the task's consumer lag per
//! partition for `GET /metrics` ([`lag_of`]).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::RebalanceProtocol;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, StreamConsumer};
use rdkafka::error::KafkaResult;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use sluice_api::{ConnectError, ConnectorConfig, Offsets, TopicPartition};
use sluice_kafka_queues::PartitionQueues;

use crate::kafka_clients::{ClientRole, KafkaClients};
use crate::metrics::TaskMetrics;

/// The consumer type every sink task uses.
pub type SinkConsumer = StreamConsumer<SinkConsumerContext>;

/// One step of a rebalance, as the consumer saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionChange {
    Assigned(Vec<TopicPartition>),
    Revoked(Vec<TopicPartition>),
}

#[derive(Default)]
struct OffsetState {
    /// Assignment changes since the runner last looked, oldest first.
    changes: Vec<PartitionChange>,
    /// Offsets the sink reported durable.
    durable: Offsets,
    /// Offsets sent to Kafka (or being sent).
    committed: Offsets,
    /// Synchronous commits sent by [`SinkConsumerContext::commit`] and not answered yet.
    commits_in_flight: usize,
    /// The latest Kafka trouble (failed commit, unreachable brokers) and when it was seen;
    /// cleared by a good commit, and forgotten once nothing new went wrong for a while.
    problem: Option<(String, std::time::Instant)>,
}

/// How long a Kafka problem stays in the task's status after it was last seen.
const PROBLEM_MEMORY: std::time::Duration = std::time::Duration::from_secs(30);

/// How long a revoke waits for a commit in flight to be answered before it commits the revoked
/// partitions' durable offsets again (the rebalance waits that long at most).
const COMMIT_SETTLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// What the task does when the group moves partitions. Called from inside the consumer's
/// poll, before the change takes effect.
pub trait RebalanceListener: Send + Sync {
    /// Partitions about to be assigned: opens them in the sink. `committed` asks Kafka for the
    /// group's committed offsets of the partitions (blocking; each call asks again). Returns
    /// where to start reading any of them; the others start at their committed offset.
    fn assigning(&self, partitions: &[TopicPartition], committed: &dyn Fn() -> Result<Offsets, String>) -> Offsets;

    /// Partitions being revoked: closes them in the sink. Returns their durable offsets, which
    /// are committed before the partitions are released. With `lost`, the group already gave
    /// them to others: the sink drops what it holds for them and nothing is returned.
    fn revoking(&self, partitions: &[TopicPartition], lost: bool) -> Offsets;
}

/// rdkafka context of a sink task's consumer.
pub struct SinkConsumerContext {
    /// `<connector>-<task>`, for logs.
    task: String,
    paused: AtomicBool,
    /// Whether `state.changes` holds anything: asked for every message, so without the lock.
    changes_pending: AtomicBool,
    /// Partitions the sink task asked to keep paused.
    sink_paused: Mutex<Vec<TopicPartition>>,
    state: Mutex<OffsetState>,
    /// Signalled when a commit in flight was answered (`state.commits_in_flight` went down).
    commit_answered: Condvar,
    listener: OnceLock<Arc<dyn RebalanceListener>>,
    /// Where the consumer lag goes.
    metrics: OnceLock<TaskMetrics>,
    /// The queues the assigned partitions' messages are split into. Split by the rebalance
    /// callback and read by the runner, both on the task's thread; closed before the consumer
    /// is dropped.
    split_queues: Mutex<PartitionQueues>,
}

impl SinkConsumerContext {
    fn new(task: String) -> Self {
        SinkConsumerContext {
            task,
            paused: AtomicBool::new(false),
            changes_pending: AtomicBool::new(false),
            sink_paused: Mutex::new(Vec::new()),
            state: Mutex::new(OffsetState::default()),
            commit_answered: Condvar::new(),
            listener: OnceLock::new(),
            metrics: OnceLock::new(),
            split_queues: Mutex::new(PartitionQueues::new()),
        }
    }

    /// The queues of the split partitions, read in batches. Not to be held across a poll of
    /// the consumer (the rebalance callback splits partitions into them).
    pub fn split_queues(&self) -> MutexGuard<'_, PartitionQueues> {
        self.split_queues.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sets where the consumer lag from librdkafka's statistics goes; before the first `recv`.
    pub fn set_metrics(&self, metrics: TaskMetrics) {
        if self.metrics.set(metrics).is_err() {
            tracing::warn!(task = %self.task, "Metrics were already set; keeping the first.");
        }
    }

    /// Sets who opens and closes partitions in the sink; before the first `recv`.
    pub fn set_listener(&self, listener: Arc<dyn RebalanceListener>) {
        if self.listener.set(listener).is_err() {
            tracing::warn!(task = %self.task, "A rebalance listener was already set; keeping the first.");
        }
    }

    /// Keeps these partitions paused whatever else pauses or resumes consumption (the sink
    /// task asked for it).
    pub fn set_sink_paused(&self, partitions: Vec<TopicPartition>) {
        *self.sink_paused.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = partitions;
    }

    /// `partitions` without those the sink task keeps paused, for resuming.
    pub fn resumable(&self, partitions: &TopicPartitionList) -> TopicPartitionList {
        let held = self.sink_paused.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut out = TopicPartitionList::new();
        for e in partitions.elements() {
            if !held.iter().any(|tp| tp.partition == e.partition() && *tp.topic == *e.topic()) {
                out.add_partition(e.topic(), e.partition());
            }
        }
        out
    }

    fn lock(&self) -> MutexGuard<'_, OffsetState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Remembers offsets the sink has made durable.
    pub fn record_durable(&self, offsets: &Offsets) {
        let mut st = self.lock();
        for (tp, &off) in offsets {
            let entry = st.durable.entry(tp.clone()).or_insert(off);
            *entry = (*entry).max(off);
        }
    }

    /// Whether partitions were assigned or revoked since the last [`Self::take_changes`].
    ///
    /// Rebalance callbacks run inside `recv`, so a message returned while this is true was
    /// fetched under the new assignment: the changes must be applied to what the runner holds
    /// before that message joins it.
    pub fn has_changes(&self) -> bool {
        // Set under the lock by the rebalance callbacks, which run inside `recv` on this thread.
        self.changes_pending.load(Ordering::Acquire)
    }

    /// Assignment changes since the last call, oldest first.
    pub fn take_changes(&self) -> Vec<PartitionChange> {
        let mut st = self.lock();
        self.changes_pending.store(false, Ordering::Release);
        std::mem::take(&mut st.changes)
    }

    /// Queues an assignment change for the runner.
    fn push_change(&self, st: &mut OffsetState, change: PartitionChange) {
        st.changes.push(change);
        self.changes_pending.store(true, Ordering::Release);
    }

    /// Records Kafka trouble the task is riding out (shown in its status `trace`).
    pub fn note_problem(&self, problem: String) {
        self.lock().problem = Some((problem, std::time::Instant::now()));
    }

    /// The Kafka trouble seen recently and not followed by a successful commit, if any.
    pub fn problem(&self) -> Option<String> {
        let st = self.lock();
        st.problem.as_ref().filter(|(_, at)| at.elapsed() < PROBLEM_MEMORY).map(|(p, _)| p.clone())
    }

    pub fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::SeqCst);
    }

    /// Durable offsets not yet committed, as a commit list; marks them committed.
    fn take_uncommitted(st: &mut OffsetState, only: Option<&[TopicPartition]>) -> TopicPartitionList {
        let mut tpl = TopicPartitionList::new();
        let pending: Vec<(TopicPartition, i64)> = st
            .durable
            .iter()
            .filter(|(tp, off)| only.is_none_or(|o| o.contains(tp)) && st.committed.get(*tp) < Some(*off))
            .map(|(tp, off)| (tp.clone(), *off))
            .collect();
        for (tp, off) in pending {
            if tpl.add_partition_offset(&tp.topic, tp.partition, Offset::Offset(off)).is_ok() {
                st.committed.insert(tp, off);
            }
        }
        tpl
    }

    /// Commits every durable offset not committed yet.
    pub fn commit(&self, consumer: &SinkConsumer, mode: CommitMode) -> KafkaResult<usize> {
        let tpl = self.begin_commit();
        let n = tpl.count();
        if n > 0 {
            let result = consumer.commit(&tpl, mode);
            self.end_commit(&tpl, result.is_ok());
            result?;
        }
        Ok(n)
    }

    /// Takes the durable offsets not committed yet for a commit about to be sent, and counts
    /// it in flight when there is something to send ([`Self::end_commit`] when answered).
    fn begin_commit(&self) -> TopicPartitionList {
        let mut st = self.lock();
        let tpl = Self::take_uncommitted(&mut st, None);
        if tpl.count() > 0 {
            st.commits_in_flight += 1;
        }
        tpl
    }

    /// A commit from [`Self::begin_commit`] was answered. Not committed: its offsets go out
    /// with the next commit (or with the revoke of their partitions).
    fn end_commit(&self, tpl: &TopicPartitionList, committed: bool) {
        let mut st = self.lock();
        st.commits_in_flight -= 1;
        if !committed {
            for tp in to_partitions(tpl) {
                st.committed.remove(&tp);
            }
        }
        drop(st);
        self.commit_answered.notify_all();
    }

    /// What to commit for partitions being revoked: their durable offsets (with `closed`, what
    /// the sink made durable closing them) not committed yet.
    ///
    /// A periodic commit may be in flight on another thread with some of them: it counts as
    /// committed only once answered, since it can still fail (the group is rebalancing) and
    /// the partitions' next owner would then re-deliver from an older commit. So this waits
    /// for it to be answered, up to [`COMMIT_SETTLE_TIMEOUT`]; past that, the revoked
    /// partitions' durable offsets are all committed again (the same offsets twice is harmless).
    fn revoke_commit(
        &self,
        revoked: &[TopicPartition],
        closed: &Offsets,
        settle: std::time::Duration,
    ) -> (MutexGuard<'_, OffsetState>, TopicPartitionList) {
        let st = self.lock();
        let (mut st, wait) = self
            .commit_answered
            .wait_timeout_while(st, settle, |st| st.commits_in_flight > 0)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if wait.timed_out() {
            tracing::warn!(task = %self.task, "An offset commit is still unanswered at a revoke; committing the revoked partitions' offsets again.");
            for tp in revoked {
                st.committed.remove(tp);
            }
        }
        for (tp, &off) in closed {
            let entry = st.durable.entry(tp.clone()).or_insert(off);
            *entry = (*entry).max(off);
        }
        let commit = Self::take_uncommitted(&mut st, Some(revoked));
        (st, commit)
    }

    /// Proves that this consumer is still a member of its group's current generation, for a
    /// task that must not write otherwise: commits again, synchronously, the offsets it knows
    /// are durable for the partitions it holds (nothing moves back: each is at least what was
    /// committed), and the group coordinator refuses a commit from a member it dropped.
    /// `Ok(false)`: nothing is durable yet for any held partition, so there is nothing to
    /// commit and no proof.
    pub fn prove_membership(&self, consumer: &SinkConsumer) -> KafkaResult<bool> {
        let held = to_partitions(&consumer.assignment()?);
        let mut tpl = TopicPartitionList::new();
        {
            let st = self.lock();
            for tp in &held {
                let known = st.durable.get(tp).copied().max(st.committed.get(tp).copied());
                if let Some(offset) = known {
                    tpl.add_partition_offset(&tp.topic, tp.partition, Offset::Offset(offset))?;
                }
            }
        }
        if tpl.count() == 0 {
            return Ok(false);
        }
        consumer.commit(&tpl, CommitMode::Sync)?;
        let mut st = self.lock();
        for (tp, off) in to_partitions(&tpl).into_iter().zip(tpl.elements().iter().map(|e| e.offset())) {
            if let Offset::Offset(off) = off {
                let entry = st.committed.entry(tp).or_insert(off);
                *entry = (*entry).max(off);
            }
        }
        Ok(true)
    }

    fn forget(&self, st: &mut OffsetState, tpl: &TopicPartitionList) -> Vec<TopicPartition> {
        let parts = to_partitions(tpl);
        for tp in &parts {
            st.durable.remove(tp);
            st.committed.remove(tp);
        }
        parts
    }
}

/// How long asking the group coordinator for committed offsets may take inside a rebalance.
const COMMITTED_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The group's committed offsets of `tpl`'s partitions; partitions without a commit are absent.
fn committed_offsets(
    consumer: &BaseConsumer<SinkConsumerContext>,
    tpl: &TopicPartitionList,
) -> Result<Offsets, String> {
    let committed = consumer.committed_offsets(tpl.clone(), COMMITTED_TIMEOUT).map_err(|e| e.to_string())?;
    Ok(committed
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(o) => Some((TopicPartition::shared(e.topic(), e.partition()), o)),
            _ => None,
        })
        .collect())
}

fn to_partitions(tpl: &TopicPartitionList) -> Vec<TopicPartition> {
    tpl.elements().iter().map(|e| TopicPartition::shared(e.topic(), e.partition())).collect()
}

impl ClientContext for SinkConsumerContext {
    /// Only the consumer lag is read, with a parse of just those fields.
    fn stats_raw(&self, statistics: &[u8]) {
        let Some(metrics) = self.metrics.get() else { return };
        match lag_of(statistics) {
            Ok(lags) => metrics.set_lag(&lags),
            Err(error) => tracing::debug!(task = %self.task, %error, "Unreadable librdkafka statistics."),
        }
    }

    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        tracing::warn!(task = %self.task, %error, reason, "Kafka client error.");
        self.note_problem(format!("Kafka is not reachable or not healthy: {reason}"));
    }
}

impl SinkConsumerContext {
    fn listener(&self) -> Option<&Arc<dyn RebalanceListener>> {
        self.listener.get()
    }

    fn on_assign(&self, consumer: &BaseConsumer<Self>, tpl: &mut TopicPartitionList) {
        let parts = to_partitions(tpl);
        tracing::info!(task = %self.task, partitions = ?parts.iter().map(ToString::to_string).collect::<Vec<_>>(), "Partitions assigned.");
        if let Some(listener) = self.listener() {
            let committed = || committed_offsets(consumer, tpl);
            for (tp, offset) in listener.assigning(&parts, &committed) {
                if let Err(error) = tpl.set_partition_offset(&tp.topic, tp.partition, Offset::Offset(offset)) {
                    tracing::warn!(task = %self.task, %error, partition = %tp, "Cannot start the partition where the sink asked.");
                }
            }
        }
        // Before the partitions are fetched, so all their messages go to the split queues.
        let mut queues = self.split_queues();
        for tp in &parts {
            if !queues.split(consumer, &tp.topic, tp.partition) {
                tracing::debug!(task = %self.task, partition = %tp, "Partition not split; its messages come through the consumer queue.");
            }
        }
        drop(queues);
        let assigned = match consumer.rebalance_protocol() {
            RebalanceProtocol::Cooperative => consumer.incremental_assign(tpl),
            _ => consumer.assign(tpl),
        };
        if let Err(error) = assigned {
            tracing::error!(task = %self.task, %error, "Taking the assigned partitions failed.");
        }
        // librdkafka keeps a partition's pause flag across a revoke and a re-assignment: a
        // partition paused while the task waited out an outage would come back paused and
        // never be read again. Set each newly assigned partition's state explicitly.
        if self.paused.load(Ordering::SeqCst) {
            if let Err(error) = consumer.pause(tpl) {
                tracing::warn!(task = %self.task, %error, "Pausing newly assigned partitions failed.");
            }
        } else if let Err(error) = consumer.resume(tpl) {
            tracing::warn!(task = %self.task, %error, "Resuming newly assigned partitions failed.");
        }
        self.push_change(&mut self.lock(), PartitionChange::Assigned(parts));
    }

    fn on_revoke(&self, consumer: &BaseConsumer<Self>, tpl: &TopicPartitionList) {
        let revoked = to_partitions(tpl);
        let lost = consumer.assignment_lost();
        // The sink closes them first (it may publish what it holds), or drops what it holds
        // when the group already gave them to others.
        let closed = self.listener().map(|l| l.revoking(&revoked, lost)).unwrap_or_default();
        // The task's context forgets its pauses of partitions that leave (a partition assigned
        // again is read again); so must the consumer, or every later resume (after an outage,
        // or of the whole task) would skip such a partition for good.
        self.sink_paused.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).retain(|tp| !revoked.contains(tp));
        let (mut st, commit) = if lost {
            (self.lock(), TopicPartitionList::new())
        } else {
            self.revoke_commit(&revoked, &closed, COMMIT_SETTLE_TIMEOUT)
        };
        if lost {
            // The group already gave these partitions to others (this consumer missed its
            // session, e.g. the process was frozen). A commit now would be refused, and a
            // synchronous one would wait for a rejoin that cannot happen until this callback
            // returns; the next owner re-delivers from the last commit instead.
            tracing::warn!(task = %self.task, "Assignment lost; not committing for the lost partitions.");
        } else if commit.count() > 0 {
            // Asynchronous: a synchronous commit waits for as long as the group coordinator is
            // unreachable (a broker outage). If the commit does not land before the partitions
            // move, the next owner re-delivers those records: duplicates at worst, never a loss.
            if let Err(error) = consumer.commit(&commit, CommitMode::Async) {
                tracing::warn!(task = %self.task, %error, "Committing offsets of revoked partitions failed; their next owner may re-deliver some records.");
            }
        }
        let parts = self.forget(&mut st, tpl);
        if let Some(metrics) = self.metrics.get() {
            metrics.forget_lag(&parts.iter().map(|tp| (tp.topic.to_string(), tp.partition)).collect::<Vec<_>>());
        }
        tracing::info!(task = %self.task, partitions = ?parts.iter().map(ToString::to_string).collect::<Vec<_>>(), "Partitions revoked.");
        self.push_change(&mut st, PartitionChange::Revoked(parts));
        drop(st);
        let released = match consumer.rebalance_protocol() {
            RebalanceProtocol::Cooperative => consumer.incremental_unassign(tpl),
            _ => consumer.unassign(),
        };
        if let Err(error) = released {
            tracing::warn!(task = %self.task, %error, "Releasing the revoked partitions failed.");
        }
    }
}

impl ConsumerContext for SinkConsumerContext {
    /// Replaces rdkafka's default so the sink is told before the assignment changes, and so
    /// partitions can start where the sink asks.
    fn rebalance(&self, consumer: &BaseConsumer<Self>, err: RDKafkaRespErr, tpl: &mut TopicPartitionList) {
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => self.on_assign(consumer, tpl),
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => self.on_revoke(consumer, tpl),
            other => {
                tracing::warn!(task = %self.task, error = ?other, "Consumer group rebalance failed; releasing the assignment.");
                if let Err(error) = consumer.unassign() {
                    tracing::warn!(task = %self.task, %error, "Releasing the assignment failed.");
                }
            }
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, offsets: &TopicPartitionList) {
        let mut st = self.lock();
        match result {
            Ok(()) => st.problem = None,
            Err(error) => {
                tracing::warn!(task = %self.task, %error, "Offset commit failed; it is retried at the next commit.");
                st.problem = Some((
                    format!("Offset commit failing (retried; records stay safe in Kafka): {error}"),
                    std::time::Instant::now(),
                ));
                for tp in to_partitions(offsets) {
                    st.committed.remove(&tp);
                }
            }
        }
    }
}

/// Settings of a sink task's consumer: Kafka Connect's fixed ones and Sluice's prefetch bounds,
/// then the worker's security and `consumer.*`, then the connector's `consumer.override.*`
/// ([`KafkaClients::for_connector`]).
pub fn consumer_settings(
    kafka: &KafkaClients,
    connector: &str,
    task: usize,
    connector_config: &ConnectorConfig,
) -> Result<BTreeMap<String, String>, ConnectError> {
    let defaults = [
        ("group.id", format!("connect-{connector}")),
        ("client.id", format!("connector-consumer-{connector}-{task}")),
        ("enable.auto.commit", "false".to_owned()),
        ("enable.auto.offset.store", "false".to_owned()),
        ("auto.offset.reset", "earliest".to_owned()),
        ("enable.partition.eof", "false".to_owned()),
        // What librdkafka fetches ahead, one consumer per task. Its defaults keep 100,000
        // messages per partition (about 560 bytes of bookkeeping each, beyond the payload) and up
        // to 64 MiB per consumer: over 40 MiB per task of small records. 5,000 messages per
        // partition, with the fetch resumed 10 ms (not 1 s) after the queue drained below that,
        // keep a task busy at full speed; measured in BENCHMARKS.md. More prefetch is
        // `consumer.queued.min.messages` on the worker or `consumer.override.*` per connector.
        ("queued.min.messages", "5000".to_owned()),
        // A fetch may bring this much per partition past those limits (before decompression).
        ("max.partition.fetch.bytes", "524288".to_owned()),
        ("queued.max.messages.kbytes", "16384".to_owned()),
        ("fetch.queue.backoff.ms", "10".to_owned()),
        ("fetch.max.bytes", "16777216".to_owned()),
        // How often librdkafka reports the consumer lag shown in `GET /metrics`.
        ("statistics.interval.ms", "5000".to_owned()),
        // A killed task's consumer keeps its partitions, and holds up the group's next
        // rebalance, until its session expires: 10 s (the worker group's own default) rather
        // than librdkafka's 45 s, so a replacement task gets data that much sooner. Heartbeats
        // come from librdkafka's own thread, so a slow batch does not count against it.
        ("session.timeout.ms", "10000".to_owned()),
    ];
    kafka.for_connector(ClientRole::Consumer, &defaults, connector_config)
}

/// The parts of librdkafka's statistics JSON that [`lag_of`] reads; serde skips the rest.
#[derive(serde::Deserialize)]
struct Statistics {
    #[serde(default)]
    topics: BTreeMap<String, TopicStatistics>,
}

#[derive(serde::Deserialize)]
struct TopicStatistics {
    #[serde(default)]
    partitions: BTreeMap<String, PartitionStatistics>,
}

#[derive(serde::Deserialize)]
struct PartitionStatistics {
    partition: i32,
    /// The high watermark minus the group's committed offset; -1 while either is unknown.
    consumer_lag: i64,
    /// The log start and the high watermark; -1001 while unknown.
    #[serde(default = "unknown_offset")]
    lo_offset: i64,
    #[serde(default = "unknown_offset")]
    hi_offset: i64,
    /// `none`, `stopping` and `stopped` for partitions the consumer does not read.
    fetch_state: String,
}

fn unknown_offset() -> i64 {
    -1001
}

/// `(topic, partition, lag)` of every partition the consumer reads, from librdkafka's
/// statistics JSON: the records after the group's committed offset, which a restart would read
/// (again); before the group's first commit, every record from the log start (the task starts
/// at `earliest`). Partitions it does not read (not assigned, or revoked), the internal
/// partition -1 and lags not known yet are left out.
pub fn lag_of(statistics: &[u8]) -> Result<Vec<(String, i32, i64)>, serde_json::Error> {
    let stats: Statistics = serde_json::from_slice(statistics)?;
    let mut lags = Vec::new();
    for (topic, t) in stats.topics {
        for p in t.partitions.into_values() {
            let reading = !matches!(p.fetch_state.as_str(), "none" | "stopping" | "stopped");
            let lag = match p.consumer_lag {
                lag if lag >= 0 => lag,
                _ if p.lo_offset >= 0 && p.hi_offset >= p.lo_offset => p.hi_offset - p.lo_offset,
                _ => continue,
            };
            if p.partition >= 0 && reading {
                lags.push((topic.clone(), p.partition, lag));
            }
        }
    }
    Ok(lags)
}

/// Creates the consumer and subscribes it to the connector's `topics` or `topics.regex`.
pub fn subscribe(
    settings: &BTreeMap<String, String>,
    task_name: String,
    topics: &[String],
    topics_regex: Option<&str>,
) -> Result<(Arc<SinkConsumer>, Arc<SinkConsumerContext>), ConnectError> {
    let mut cfg = ClientConfig::new();
    for (k, v) in settings {
        cfg.set(k, v);
    }
    let consumer: SinkConsumer = cfg
        .create_with_context(SinkConsumerContext::new(task_name))
        .map_err(|e| ConnectError::fatal(format!("Cannot create the Kafka consumer: {e}")))?;
    let subscription: Vec<String> = match topics_regex {
        // librdkafka treats a subscription starting with ^ as a regex.
        Some(re) if re.starts_with('^') => vec![re.to_owned()],
        Some(re) => vec![format!("^{re}")],
        None => topics.to_vec(),
    };
    let refs: Vec<&str> = subscription.iter().map(String::as_str).collect();
    consumer.subscribe(&refs).map_err(|e| ConnectError::fatal(format!("Cannot subscribe to {subscription:?}: {e}")))?;
    let context = consumer.context().clone();
    Ok((Arc::new(consumer), context))
}

#[cfg(test)]
#[path = "consumer_tests.rs"]
mod tests;
