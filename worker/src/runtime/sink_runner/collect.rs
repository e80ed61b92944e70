//! The collect step of a task's loop: one batch of records from the consumer, taken many per
//! call from the split partitions' queues, with the consumer queue polled for rebalances, up to
//! the batch's bounds or its linger.

use futures::{FutureExt, StreamExt};
use tokio::time::{sleep, sleep_until, Instant};

use super::{revoked, Flow, Held, Kafka, TaskError, TaskRun};
use crate::runtime::backoff::Backoff;
use crate::runtime::convert::RawRecord;

impl TaskRun {
    /// Collects one batch: waits for a first record (or the commit interval), then lingers for
    /// more, up to `sluice.batch.max.records` records or `sluice.batch.max.bytes` bytes. Returns
    /// `Stop` when the task is told to stop.
    pub(super) async fn collect(
        &mut self,
        kafka: &Kafka,
        held: &mut Held,
        mut deadline: Instant,
    ) -> Result<Flow, TaskError> {
        let linger = self.worker.batch_linger;
        let max_records = self.worker.batch_max_records;
        let max_bytes = self.worker.batch_max_bytes;
        let mut lingering = !held.carry.is_empty();
        if lingering {
            deadline = deadline.min(Instant::now() + linger);
        }
        // What was carried over starts the batch, within its bounds (a batch call of the split
        // queues may have carried more than one batch holds).
        let mut bytes: usize = held.batch.iter().map(RawRecord::payload_len).sum();
        let mut fit = 0;
        for record in &held.carry {
            if held.batch.len() + fit >= max_records || bytes >= max_bytes {
                break;
            }
            bytes += record.payload_len();
            fit += 1;
        }
        held.batch.extend(held.carry.drain(..fit));
        // A message that arrived after a rebalance; it joins the batch once the rebalance has
        // been applied to what the batch already holds.
        let mut after_rebalance: Option<RawRecord> = None;
        let mut consume_errors = Backoff::default();
        // One timer for the whole batch, moved when lingering starts (not one per record).
        let timer = sleep_until(deadline);
        tokio::pin!(timer);
        // One message stream for the whole batch: each `recv` would register a waker anew. It
        // serves rebalances and brings the messages of partitions that were not split.
        let mut messages = kafka.consumer.stream();
        let split_wake = kafka.ctx.split_queues().wake();
        loop {
            // The split partitions' messages, many per call, first.
            let drained = self.drain_split(kafka, held, &mut bytes);
            if drained.records > 0 && !lingering {
                lingering = true;
                deadline = deadline.min(Instant::now() + linger);
                timer.as_mut().reset(deadline);
            }
            match drained.outcome {
                DrainOutcome::Full => break,
                DrainOutcome::Failed(error) => {
                    self.consumer_error(kafka, &mut consume_errors, error).await;
                    continue;
                }
                DrainOutcome::Drained => {}
            }
            if drained.records > 0 {
                consume_errors = Backoff::default();
            }
            tokio::select! {
                biased;
                changed = self.control.changed() => {
                    if changed.is_err() {
                        return Ok(Flow::Stop);
                    }
                    break;
                }
                received = messages.next() => {
                    let mut received = received.expect("Kafka message streams never end");
                    // Messages the consumer already holds are taken here, without a trip
                    // through `select!` for each.
                    let full = loop {
                        let msg = match received {
                            Ok(msg) => msg,
                            Err(error) => {
                                self.consumer_error(kafka, &mut consume_errors, error).await;
                                break false;
                            }
                        };
                        consume_errors = Backoff::default();
                        let raw = held.copier.copy(&msg);
                        if kafka.ctx.has_changes() {
                            after_rebalance = Some(raw);
                            break true;
                        }
                        bytes += raw.payload_len();
                        held.batch.push(raw);
                        if !lingering {
                            lingering = true;
                            deadline = deadline.min(Instant::now() + linger);
                            timer.as_mut().reset(deadline);
                        }
                        if held.batch.len() >= max_records || bytes >= max_bytes {
                            break true;
                        }
                        match messages.next().now_or_never() {
                            Some(next) => received = next.expect("Kafka message streams never end"),
                            None => break false,
                        }
                    };
                    if full {
                        break;
                    }
                }
                _ = split_wake.notified() => {}
                _ = &mut timer => break,
                // A queue may hold more than one call took (its wake-up comes only when it was
                // empty): drain again, once the rest was looked at.
                _ = std::future::ready(()), if drained.records > 0 => {}
            }
        }
        drop(messages);
        held.drop_partitions(&revoked(&kafka.ctx));
        held.batch.extend(after_rebalance);
        Ok(Flow::Go)
    }

    /// A consumer error: broker outages and missing topics surface as these, and librdkafka
    /// recovers by itself. Shown in the task's trace, and waited out with a backoff.
    async fn consumer_error(&self, kafka: &Kafka, backoff: &mut Backoff, error: rdkafka::error::KafkaError) {
        let delay = backoff.next();
        tracing::warn!(task = %self.name, %error, retry_in_ms = delay.as_millis() as u64, "Kafka consumer error.");
        kafka.ctx.note_problem(format!("Kafka consumer error (retrying): {error}"));
        sleep(delay).await;
    }

    /// Takes what the split partitions' queues hold into the batch, up to its record limit; past
    /// its byte limit, records go to `carry` (the messages of one call are taken together).
    /// Takes nothing once a rebalance is pending: the batch ends there, and what comes after
    /// belongs to the new assignment.
    fn drain_split(&mut self, kafka: &Kafka, held: &mut Held, bytes: &mut usize) -> Drained {
        let (max_records, max_bytes) = (self.worker.batch_max_records, self.worker.batch_max_bytes);
        if kafka.ctx.has_changes() || held.batch.len() >= max_records || *bytes >= max_bytes {
            return Drained { records: 0, outcome: DrainOutcome::Full };
        }
        let mut failed = None;
        let Held { batch, carry, copier, .. } = held;
        let records = kafka.ctx.split_queues().drain(max_records - batch.len(), |msg| {
            if let Some(code) = msg.error() {
                failed.get_or_insert(rdkafka::error::KafkaError::MessageConsumption(code));
                return;
            }
            let raw = copier.copy(msg);
            if *bytes >= max_bytes {
                carry.push(raw);
            } else {
                *bytes += raw.payload_len();
                batch.push(raw);
            }
        });
        let outcome = match failed {
            Some(error) => DrainOutcome::Failed(error),
            None if batch.len() >= max_records || *bytes >= max_bytes => DrainOutcome::Full,
            None => DrainOutcome::Drained,
        };
        Drained { records, outcome }
    }
}

/// What [`TaskRun::drain_split`] did.
struct Drained {
    /// Messages taken (records and errors).
    records: usize,
    outcome: DrainOutcome,
}

enum DrainOutcome {
    /// Took what there was; the batch has room.
    Drained,
    /// The batch is full, or a rebalance is pending: it ends here.
    Full,
    /// librdkafka delivered an error in place of a message.
    Failed(rdkafka::error::KafkaError),
}
