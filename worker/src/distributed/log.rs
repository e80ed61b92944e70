//! A compacted Kafka topic read from the beginning into an in-memory state, and written to.
//!
//! Every worker reads the config and status topics in full and keeps reading; the state is
//! published through a `watch` channel, so the herder reacts to changes without polling. Writes
//! wait until the reader has applied them, which gives read-your-writes on every worker.
//! Background writes (statuses) do not wait, but reach the topic in the order they were made:
//! a task stopped and started again on one worker must leave RUNNING as its last word, not the
//! UNASSIGNED written before it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt as _;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use sluice_api::ConnectError;
use tokio::sync::{mpsc, watch};

use crate::kafka_clients::KafkaClients;

/// State built from a compacted topic, one record at a time.
pub trait LogState: Clone + Default + Send + Sync + 'static {
    /// Applies one record; `value` is `None` for a tombstone.
    fn apply(&mut self, key: &str, value: Option<&[u8]>, offset: i64);
}

/// A snapshot of the state with how far each partition has been read.
#[derive(Clone, Default)]
pub struct Snapshot<S> {
    pub state: S,
    /// Partition → offset of the next record to read.
    pub positions: BTreeMap<i32, i64>,
}

/// Reader and writer of one internal topic.
pub struct KafkaLog<S: LogState> {
    topic: String,
    kafka: KafkaClients,
    producer: FutureProducer,
    snapshots: watch::Receiver<Arc<Snapshot<S>>>,
    /// Records of [`KafkaLog::append_in_background`], handed to librdkafka in this order by one
    /// writer task.
    background: mpsc::UnboundedSender<(String, Vec<u8>)>,
}

const SEND_TIMEOUT: Duration = Duration::from_secs(30);

impl<S: LogState> KafkaLog<S> {
    /// Starts reading `topic` from the beginning in a background task.
    pub async fn open(kafka: &KafkaClients, topic: &str, reader_name: &str) -> Result<Arc<Self>, ConnectError> {
        let kafka_err =
            |what: &str, e: rdkafka::error::KafkaError| ConnectError::retriable(format!("{what} for {topic}: {e}"));
        let consumer: StreamConsumer = kafka
            .internal()
            .set("group.id", reader_name)
            .set("client.id", reader_name)
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false")
            .create()
            .map_err(|e| kafka_err("Creating a reader", e))?;
        let partitions = partition_count(kafka, topic).await?;
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions {
            tpl.add_partition_offset(topic, p, Offset::Beginning).map_err(|e| kafka_err("Assigning partitions", e))?;
        }
        consumer.assign(&tpl).map_err(|e| kafka_err("Assigning partitions", e))?;
        let producer: FutureProducer = kafka
            .internal()
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "0")
            .create()
            .map_err(|e| kafka_err("Creating a writer", e))?;

        let (tx, rx) = watch::channel(Arc::new(Snapshot::<S>::default()));
        tokio::spawn(read_forever(consumer, tx, topic.to_owned()));
        let (background, queued) = mpsc::unbounded_channel();
        tokio::spawn(write_in_order(producer.clone(), topic.to_owned(), queued));
        let log =
            Arc::new(KafkaLog { topic: topic.to_owned(), kafka: kafka.clone(), producer, snapshots: rx, background });
        log.read_to_end().await?;
        Ok(log)
    }

    /// The latest state read.
    pub fn snapshot(&self) -> Arc<Snapshot<S>> {
        self.snapshots.borrow().clone()
    }

    /// A receiver that wakes up on every change.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Snapshot<S>>> {
        self.snapshots.clone()
    }

    /// Waits until everything in the topic at the time of the call has been applied.
    pub async fn read_to_end(&self) -> Result<(), ConnectError> {
        let ends = end_offsets(&self.kafka, &self.topic).await?;
        self.wait_for(&ends).await;
        Ok(())
    }

    async fn wait_for(&self, targets: &BTreeMap<i32, i64>) {
        let mut rx = self.snapshots.clone();
        let reached = |s: &Snapshot<S>| {
            targets.iter().all(|(p, end)| *end <= 0 || s.positions.get(p).copied().unwrap_or(0) >= *end)
        };
        let _ = rx.wait_for(|s| reached(s)).await;
    }

    /// Appends records (key, value or tombstone) in order and waits until they are applied.
    pub async fn append(&self, records: &[(String, Option<Vec<u8>>)]) -> Result<(), ConnectError> {
        let mut reached: BTreeMap<i32, i64> = BTreeMap::new();
        for (key, value) in records {
            let mut record = FutureRecord::<String, Vec<u8>>::to(&self.topic).key(key);
            if let Some(v) = value {
                record = record.payload(v);
            }
            let delivery =
                self.producer.send(record, SEND_TIMEOUT).await.map_err(|(e, _)| {
                    ConnectError::retriable(format!("Writing {key} to {} failed: {e}", self.topic))
                })?;
            reached.insert(delivery.partition, delivery.offset + 1);
        }
        self.wait_for(&reached).await;
        Ok(())
    }

    /// Appends without waiting to read it back (status updates). Records appended this way
    /// reach the topic in the order of the calls (the producer is idempotent, so librdkafka
    /// keeps the order it was given).
    pub fn append_in_background(&self, key: String, value: Vec<u8>) {
        if self.background.send((key, value)).is_err() {
            tracing::warn!(topic = %self.topic, "The internal topic's writer has stopped; a status update is lost.");
        }
    }
}

/// Hands the background appends to librdkafka one by one, in the order they were made, and
/// waits for their delivery reports elsewhere so one slow delivery does not hold the next.
async fn write_in_order(
    producer: FutureProducer,
    topic: String,
    mut queued: mpsc::UnboundedReceiver<(String, Vec<u8>)>,
) {
    while let Some((key, value)) = queued.recv().await {
        loop {
            match producer.send_result(FutureRecord::<String, Vec<u8>>::to(&topic).key(&key).payload(&value)) {
                Ok(delivery) => {
                    let (topic, key) = (topic.clone(), key.clone());
                    tokio::spawn(async move {
                        let failure = match delivery.await {
                            Ok(Ok(_)) => return,
                            Ok(Err((error, _))) => error.to_string(),
                            Err(_) => "the producer was dropped".to_owned(),
                        };
                        tracing::warn!(%topic, %key, error = %failure, "Writing to an internal topic failed.");
                    });
                    break;
                }
                // librdkafka's queue is full: wait for room rather than send later records first.
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err((error, _)) => {
                    tracing::warn!(%topic, %key, %error, "Writing to an internal topic failed.");
                    break;
                }
            }
        }
    }
}

async fn read_forever<S: LogState>(consumer: StreamConsumer, tx: watch::Sender<Arc<Snapshot<S>>>, topic: String) {
    let mut current = Snapshot::<S>::default();
    loop {
        let first = consumer.recv().await;
        let mut changed = false;
        let mut next = Some(first);
        while let Some(received) = next.take() {
            match received {
                Ok(msg) => {
                    if let Some(key) = msg.key().and_then(|k| std::str::from_utf8(k).ok()) {
                        current.state.apply(key, msg.payload(), msg.offset());
                    }
                    current.positions.insert(msg.partition(), msg.offset() + 1);
                    changed = true;
                }
                Err(error) => {
                    tracing::warn!(%topic, %error, "Reading an internal topic failed; retrying.");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
            // Apply everything already fetched before publishing one snapshot.
            next = consumer.recv().now_or_never();
        }
        if changed && tx.send(Arc::new(current.clone())).is_err() {
            return;
        }
    }
}

async fn partition_count(kafka: &KafkaClients, topic: &str) -> Result<i32, ConnectError> {
    let (kafka, topic) = (kafka.clone(), topic.to_owned());
    blocking_metadata(
        move |consumer| {
            let md = consumer.fetch_metadata(Some(&topic), Duration::from_secs(10)).map_err(|e| e.to_string())?;
            let n = md.topics().first().map(|t| t.partitions().len()).unwrap_or(0);
            if n == 0 {
                return Err(format!("topic {topic} has no partitions (does it exist?)"));
            }
            Ok(n as i32)
        },
        kafka,
    )
    .await
}

async fn end_offsets(kafka: &KafkaClients, topic: &str) -> Result<BTreeMap<i32, i64>, ConnectError> {
    let (kafka, topic) = (kafka.clone(), topic.to_owned());
    blocking_metadata(
        move |consumer| {
            let md = consumer.fetch_metadata(Some(&topic), Duration::from_secs(10)).map_err(|e| e.to_string())?;
            let partitions: Vec<i32> =
                md.topics().first().map(|t| t.partitions().iter().map(|p| p.id()).collect()).unwrap_or_default();
            partitions
                .into_iter()
                .map(|p| {
                    consumer
                        .fetch_watermarks(&topic, p, Duration::from_secs(10))
                        .map(|(_, high)| (p, high))
                        .map_err(|e| e.to_string())
                })
                .collect()
        },
        kafka,
    )
    .await
}

/// Runs a metadata query on a short-lived client off the async runtime (rdkafka's metadata
/// calls block).
async fn blocking_metadata<T: Send + 'static>(
    query: impl FnOnce(&rdkafka::consumer::BaseConsumer) -> Result<T, String> + Send + 'static,
    kafka: KafkaClients,
) -> Result<T, ConnectError> {
    tokio::task::spawn_blocking(move || {
        let consumer: rdkafka::consumer::BaseConsumer = kafka.internal().create().map_err(|e| e.to_string())?;
        query(&consumer)
    })
    .await
    .map_err(|e| ConnectError::fatal(e.to_string()))?
    .map_err(|e| ConnectError::retriable(format!("Kafka metadata request failed: {e}")))
}
