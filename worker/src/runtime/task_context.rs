//! [`RuntimeTaskContext`]: what a sink task may ask of the runtime (Kafka Connect's
//! `SinkTaskContext`): where to read a partition from, an early commit, pausing and resuming
//! partitions. The task calls it from any of its methods; the requests wait here until the
//! runner (or, for `open`, the rebalance callback) acts on them.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use sluice_api::{ConnectError, Offsets, SinkTaskContext, TopicPartition};

use super::stall::StallWatch;

struct Requests {
    /// Where partitions must be read from next.
    seeks: Offsets,
    commit: bool,
    /// Partitions the task paused, until it resumes them.
    paused: BTreeSet<TopicPartition>,
    /// Pause state changed since the runner last applied it.
    pause_changed: bool,
    assignment: Vec<TopicPartition>,
    /// The committed offsets of the partitions being assigned, fetched only for a task that
    /// asks for them.
    committed: Committed,
}

/// What the task knows of the committed offsets of the partitions being opened.
enum Committed {
    /// The task has not asked: nothing is fetched (most sinks never ask).
    NotAsked,
    /// The task asked before they were fetched.
    Wanted,
    /// What Kafka answered.
    Known(std::result::Result<Offsets, String>),
}

impl Default for Requests {
    fn default() -> Self {
        Requests {
            seeks: Offsets::new(),
            commit: false,
            paused: BTreeSet::new(),
            pause_changed: false,
            assignment: Vec::new(),
            committed: Committed::NotAsked,
        }
    }
}

/// The context handed to a sink task by `initialize`.
pub struct RuntimeTaskContext {
    requests: Mutex<Requests>,
    /// The process's stall mark when the runner last confirmed the task's partitions (see
    /// [`super::stall`]).
    confirmed_mark: AtomicU64,
    /// Nanoseconds a stall may last without the group possibly dropping the task's consumer:
    /// its session timeout less one heartbeat interval and a second.
    harmless_stall: AtomicU64,
}

impl Default for RuntimeTaskContext {
    fn default() -> Self {
        RuntimeTaskContext {
            requests: Mutex::default(),
            confirmed_mark: AtomicU64::new(StallWatch::global().mark()),
            harmless_stall: AtomicU64::new(0),
        }
    }
}

impl RuntimeTaskContext {
    /// The runner proved the task still owns its partitions when the stall mark was `mark`.
    pub(super) fn confirm_stall_mark(&self, mark: u64) {
        self.confirmed_mark.store(mark, Ordering::SeqCst);
    }

    /// Stalls shorter than this cannot have cost the consumer its group membership (the
    /// consumer's session timeout less a heartbeat interval and a margin): they need no proof.
    pub(super) fn set_harmless_stall(&self, harmless: std::time::Duration) {
        self.harmless_stall.store(u64::try_from(harmless.as_nanos()).unwrap_or(u64::MAX), Ordering::SeqCst);
    }

    fn lock(&self) -> MutexGuard<'_, Requests> {
        self.requests.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Seek requests for `partitions` (all of them with `None`), removed from the queue.
    pub(super) fn take_seeks(&self, partitions: Option<&[TopicPartition]>) -> Offsets {
        let mut requests = self.lock();
        match partitions {
            None => std::mem::take(&mut requests.seeks),
            Some(parts) => parts.iter().filter_map(|tp| requests.seeks.remove_entry(tp)).collect(),
        }
    }

    /// Whether the task asked for a commit since the last call.
    pub(super) fn take_commit_request(&self) -> bool {
        std::mem::take(&mut self.lock().commit)
    }

    /// The partitions the task wants paused, if that changed since the last call.
    pub(super) fn take_pause_change(&self) -> Option<BTreeSet<TopicPartition>> {
        let mut requests = self.lock();
        std::mem::take(&mut requests.pause_changed).then(|| requests.paused.clone())
    }

    pub(super) fn assigned(&self, partitions: &[TopicPartition]) {
        let mut requests = self.lock();
        for tp in partitions {
            if !requests.assignment.contains(tp) {
                requests.assignment.push(tp.clone());
            }
        }
    }

    /// Partitions are about to be opened: nothing is known of their committed offsets yet.
    pub(super) fn reset_committed(&self) {
        self.lock().committed = Committed::NotAsked;
    }

    /// Whether the task asked for the committed offsets (so they must be fetched for it).
    pub(super) fn committed_wanted(&self) -> bool {
        !matches!(self.lock().committed, Committed::NotAsked)
    }

    /// Sets what Kafka answered for the committed offsets of partitions being assigned (or why
    /// it could not be asked), for the task's `open`.
    pub(super) fn set_committed(&self, committed: std::result::Result<Offsets, String>) {
        self.lock().committed = Committed::Known(committed);
    }

    /// Forgets everything about partitions that left the task.
    pub(super) fn revoked(&self, partitions: &[TopicPartition]) {
        let mut requests = self.lock();
        requests.assignment.retain(|tp| !partitions.contains(tp));
        for tp in partitions {
            requests.seeks.remove(tp);
            requests.paused.remove(tp);
        }
    }
}

impl SinkTaskContext for RuntimeTaskContext {
    fn offset(&self, partition: &TopicPartition, offset: i64) {
        self.lock().seeks.insert(partition.clone(), offset);
    }

    fn request_commit(&self) {
        self.lock().commit = true;
    }

    fn pause(&self, partitions: &[TopicPartition]) {
        let mut requests = self.lock();
        requests.paused.extend(partitions.iter().cloned());
        requests.pause_changed = true;
    }

    fn resume(&self, partitions: &[TopicPartition]) {
        let mut requests = self.lock();
        for tp in partitions {
            requests.paused.remove(tp);
        }
        requests.pause_changed = true;
    }

    fn assignment(&self) -> Vec<TopicPartition> {
        self.lock().assignment.clone()
    }

    fn stalled(&self) -> bool {
        let watch = StallWatch::global();
        let (mark, confirmed) = (watch.mark(), self.confirmed_mark.load(Ordering::SeqCst));
        if mark == confirmed {
            return false;
        }
        let harmless = std::time::Duration::from_nanos(self.harmless_stall.load(Ordering::SeqCst));
        if watch.longest_since(confirmed) < harmless {
            // Too short for the group to have dropped the consumer: nothing to prove.
            self.confirmed_mark.store(mark, Ordering::SeqCst);
            return false;
        }
        true
    }

    fn committed(&self, partitions: &[TopicPartition]) -> sluice_api::Result<Offsets> {
        let mut requests = self.lock();
        let answer = match &requests.committed {
            Committed::Known(answer) => answer,
            // Fetched on demand: the runtime fetches them and opens the partitions again.
            Committed::NotAsked | Committed::Wanted => {
                requests.committed = Committed::Wanted;
                return Err(ConnectError::retriable("The committed offsets are being fetched from Kafka."));
            }
        };
        match answer {
            Ok(known) => {
                Ok(partitions.iter().filter_map(|tp| known.get_key_value(tp)).map(|(tp, o)| (tp.clone(), *o)).collect())
            }
            Err(reason) => Err(ConnectError::retriable(format!(
                "Kafka did not say which offsets are committed for {}: {reason}",
                partitions.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_wait_until_taken_and_revocation_forgets_them() {
        let ctx = RuntimeTaskContext::default();
        let (a, b) = (TopicPartition::new("t", 0), TopicPartition::new("t", 1));
        ctx.assigned(&[a.clone(), b.clone()]);
        ctx.offset(&a, 42);
        ctx.offset(&b, 7);
        assert_eq!(ctx.take_seeks(Some(std::slice::from_ref(&a))), Offsets::from([(a.clone(), 42)]));
        ctx.pause(std::slice::from_ref(&b));
        assert_eq!(ctx.take_pause_change(), Some(BTreeSet::from([b.clone()])));
        assert_eq!(ctx.take_pause_change(), None);
        ctx.request_commit();
        assert!(ctx.take_commit_request());
        assert!(!ctx.take_commit_request());
        ctx.revoked(std::slice::from_ref(&b));
        assert_eq!(ctx.assignment(), vec![a]);
        assert!(ctx.take_seeks(None).is_empty());
        ctx.resume(&[]);
        assert_eq!(ctx.take_pause_change(), Some(BTreeSet::new()), "revocation forgets the pause of b");
    }

    #[test]
    fn committed_offsets_are_fetched_only_once_a_task_asks() {
        let ctx = RuntimeTaskContext::default();
        let (a, b) = (TopicPartition::new("t", 0), TopicPartition::new("t", 1));
        ctx.reset_committed();
        assert!(!ctx.committed_wanted(), "a task that never asks costs no fetch");
        assert!(ctx.committed(std::slice::from_ref(&a)).unwrap_err().is_retriable());
        assert!(ctx.committed_wanted());
        ctx.set_committed(Ok(Offsets::from([(a.clone(), 5)])));
        assert_eq!(ctx.committed(&[a.clone(), b]).unwrap(), Offsets::from([(a.clone(), 5)]), "b has no commit");
        ctx.set_committed(Err("coordinator unavailable".into()));
        assert!(ctx.committed(&[a]).unwrap_err().to_string().contains("coordinator unavailable"));
    }
}
