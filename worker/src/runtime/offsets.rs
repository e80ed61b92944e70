//! What a sink task's offsets go through between the sink and Kafka: which consumed offsets are
//! durable after a `flush` ([`durable_offsets`]), where a record the task fails at caps them
//! ([`cap_at`]), and the periodic commits that send them, one at a time ([`PeriodicCommits`]).

use std::sync::Arc;

use rdkafka::consumer::CommitMode;
use sluice_api::{Offsets, TopicPartition};
use tokio::task::JoinHandle;

use super::consumer::{SinkConsumer, SinkConsumerContext};
use super::convert::RecordFailure;
use crate::metrics::TaskMetrics;

/// The periodic offset commits of one task, one at a time. Each is synchronous, on a blocking
/// thread, and the next starts only after it returned: librdkafka retries a commit that failed
/// for a passing reason (coordinator moving, request timed out), so two asynchronous commits in
/// flight during a broker outage can land in the wrong order, and the older one, landing last,
/// moves the committed offset back (a restart would then write those records again).
pub(super) struct PeriodicCommits {
    in_flight: Option<JoinHandle<rdkafka::error::KafkaResult<usize>>>,
    /// Counts completed, skipped and failed commits.
    metrics: TaskMetrics,
}

impl PeriodicCommits {
    pub(super) fn new(metrics: TaskMetrics) -> Self {
        PeriodicCommits { in_flight: None, metrics }
    }

    /// Starts a commit of what is durable, unless the previous one is still running (false).
    pub(super) async fn tick(
        &mut self,
        consumer: &Arc<SinkConsumer>,
        ctx: &Arc<SinkConsumerContext>,
        name: &str,
    ) -> bool {
        if self.in_flight.as_ref().is_some_and(|commit| !commit.is_finished()) {
            self.metrics.offset_commit_skip.inc();
            return false;
        }
        self.finish(ctx, name).await;
        let (consumer, context, metrics) = (consumer.clone(), ctx.clone(), self.metrics.clone());
        // Its outcome is counted when it returns, and logged at the next tick or when the task stops.
        self.in_flight = Some(tokio::task::spawn_blocking(move || {
            let result = context.commit(&consumer, CommitMode::Sync);
            match result {
                Ok(_) => metrics.offset_commit_completion.inc(),
                Err(_) => metrics.offset_commit_failure.inc(),
            };
            result
        }));
        true
    }

    /// Waits for the commit in flight, if any, and reports how it went. A failed commit is not
    /// fatal: its offsets stay durable-but-uncommitted and go out with the next one; at worst a
    /// crash re-delivers them.
    pub(super) async fn finish(&mut self, ctx: &SinkConsumerContext, name: &str) {
        let Some(commit) = self.in_flight.take() else { return };
        let error = match commit.await {
            Ok(Ok(n)) => {
                if n > 0 {
                    tracing::debug!(task = %name, partitions = n, "Committed offsets.");
                }
                return;
            }
            Ok(Err(error)) => error.to_string(),
            Err(error) => error.to_string(),
        };
        tracing::warn!(task = %name, %error, "Offset commit failed; retrying later.");
        ctx.note_problem(format!("Offset commit failing (retried; records stay safe in Kafka): {error}"));
    }
}

/// The offsets durable once the sink's `flush` returned `flushed` for `consumed`. Past the last
/// record the sink got (`put_next`), everything consumed was dead-lettered or dropped by a
/// transform; once what the sink got is durable, so is that.
pub(super) fn durable_offsets(consumed: &Offsets, put_next: &Offsets, mut flushed: Offsets) -> Offsets {
    for (tp, &next) in consumed {
        let sink_done = match put_next.get(tp) {
            None => true,
            Some(&p) => flushed.get(tp).is_some_and(|&d| d >= p),
        };
        if sink_done {
            flushed.insert(tp.clone(), next);
        }
    }
    flushed
}

/// Lowers what counts as consumed in the partition of `failure` to the failed record, so no
/// offset past it becomes durable.
pub(super) fn cap_at(consumed: &mut Offsets, failure: &RecordFailure) {
    let tp = TopicPartition { topic: failure.topic.clone(), partition: failure.partition };
    if let Some(next) = consumed.get_mut(&tp) {
        *next = (*next).min(failure.offset);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::convert::Stage;
    use sluice_api::ConnectError;

    fn offsets(entries: &[(i32, i64)]) -> Offsets {
        entries.iter().map(|&(p, o)| (TopicPartition::new("t", p), o)).collect()
    }

    #[test]
    fn a_bad_record_caps_its_partition_and_nothing_past_it_becomes_durable() {
        // The batch reached offset 50 in partition 0 and 20 in partition 1; the sink rejected
        // 0@37 but wrote the rest, so it reports everything put as written.
        let mut consumed = offsets(&[(0, 50), (1, 20)]);
        let failure = |partition, offset| RecordFailure {
            stage: Stage::TaskPut,
            topic: "t".into(),
            partition,
            offset,
            error: ConnectError::data("bad"),
        };
        cap_at(&mut consumed, &failure(0, 37));
        cap_at(&mut consumed, &failure(0, 45)); // a later failure does not raise the cap
        cap_at(&mut consumed, &failure(2, 3)); // a partition with nothing consumed stays absent
        assert_eq!(consumed, offsets(&[(0, 37), (1, 20)]));

        let put_next = offsets(&[(0, 50), (1, 20)]);
        let flushed = offsets(&[(0, 37), (1, 20)]); // the sink's answer for `consumed`
        assert_eq!(durable_offsets(&consumed, &put_next, flushed), offsets(&[(0, 37), (1, 20)]));
    }

    #[test]
    fn offsets_past_what_the_sink_got_are_durable_only_with_it() {
        // Partition 0: the sink got up to 10, 10..15 were dead-lettered or dropped.
        // Partition 1: the sink got up to 8 but made only 5 durable.
        // Partition 2: the sink got nothing (all dropped).
        let consumed = offsets(&[(0, 15), (1, 9), (2, 4)]);
        let put_next = offsets(&[(0, 10), (1, 8)]);
        let flushed = offsets(&[(0, 10), (1, 5)]);
        assert_eq!(durable_offsets(&consumed, &put_next, flushed), offsets(&[(0, 15), (1, 5), (2, 4)]));
        assert_eq!(durable_offsets(&consumed, &put_next, Offsets::new()), offsets(&[(2, 4)]));
    }
}
