//! Reporting tolerated record failures: the log (`errors.log.*`) and the dead letter queue
//! (`errors.deadletterqueue.*`).
//!
//! A DLQ record carries the original key, value and headers byte for byte, plus Kafka
//! Connect's `__connect.errors.*` context headers. Sends are collected per batch and
//! [`ErrorReporter::await_acks`] waits for all of them, so the runtime marks a batch's
//! offsets durable only once its dead letters are safely in Kafka. A DLQ that cannot be
//! written (e.g. too few in-sync replicas) is an outage: dead letters the producer gives up on
//! after `message.timeout.ms` are sent again, never dropped, and the runtime waits it out.

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header as KafkaHeader, Message, OwnedHeaders, OwnedMessage, Timestamp};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use rdkafka::types::RDKafkaErrorCode as Code;
use sluice_api::{ConnectError, ConnectorConfig};

use super::convert::{RawRecord, RecordFailure, Stage};
use super::errors::ErrorConfig;
use crate::kafka_clients::{self, ClientRole, KafkaClients};
use crate::metrics::TaskMetrics;

/// Header names Kafka Connect puts on dead-lettered records.
pub mod headers {
    pub const TOPIC: &str = "__connect.errors.topic";
    pub const PARTITION: &str = "__connect.errors.partition";
    pub const OFFSET: &str = "__connect.errors.offset";
    pub const CONNECTOR_NAME: &str = "__connect.errors.connector.name";
    pub const TASK_ID: &str = "__connect.errors.task.id";
    pub const STAGE: &str = "__connect.errors.stage";
    pub const CLASS_NAME: &str = "__connect.errors.class.name";
    pub const EXCEPTION_CLASS_NAME: &str = "__connect.errors.exception.class.name";
    pub const EXCEPTION_MESSAGE: &str = "__connect.errors.exception.message";
    pub const EXCEPTION_STACKTRACE: &str = "__connect.errors.exception.stacktrace";
}

/// The dead letter queue of one task.
struct DeadLetterQueue {
    topic: String,
    producer: FutureProducer,
    /// Sends of the current batch not yet acknowledged.
    pending: Vec<DeliveryFuture>,
    /// Dead letters to send again: the producer gave up on them, or its queue was full.
    unsent: Vec<OwnedMessage>,
    /// Dead letters acknowledged (`sluice_deadletterqueue_produce_total`).
    produced: Counter,
    /// Deliveries that failed and are sent again (`sluice_deadletterqueue_produce_failures_total`).
    failed: Counter,
}

/// How long [`ErrorReporter::await_acks`] waits before reporting the DLQ as unavailable.
const ACK_PATIENCE: Duration = Duration::from_secs(5);

/// Logs and dead-letters the records a task tolerates.
pub struct ErrorReporter {
    pub config: ErrorConfig,
    connector: String,
    task_id: usize,
    /// The task's connector config, to name the class of each stage.
    task_config: ConnectorConfig,
    dlq: Option<DeadLetterQueue>,
}

impl ErrorReporter {
    /// Creates the DLQ topic if it is missing and the task's DLQ producer. Kafka trouble is
    /// `Retriable`.
    pub async fn new(
        config: ErrorConfig,
        connector: &str,
        task_id: usize,
        task_config: &ConnectorConfig,
        kafka: &KafkaClients,
        metrics: &TaskMetrics,
    ) -> Result<Self, ConnectError> {
        let dlq = match (&config.dlq_topic, config.tolerates()) {
            (Some(topic), true) => {
                ensure_topic(kafka, task_config, topic, config.dlq_replication_factor).await?;
                let defaults = [
                    ("client.id", format!("connector-dlq-producer-{connector}-{task_id}")),
                    ("acks", "all".to_owned()),
                    ("enable.idempotence", "true".to_owned()),
                ];
                let settings = kafka.for_connector(ClientRole::Producer, &defaults, task_config)?;
                let producer: FutureProducer = kafka_clients::client_config(&settings)
                    .create()
                    .map_err(|e| ConnectError::fatal(format!("Cannot create the dead letter queue producer: {e}")))?;
                Some(DeadLetterQueue {
                    topic: topic.clone(),
                    producer,
                    pending: Vec::new(),
                    unsent: Vec::new(),
                    produced: metrics.dlq_produce.clone(),
                    failed: metrics.dlq_produce_failures.clone(),
                })
            }
            _ => None,
        };
        Ok(ErrorReporter { config, connector: connector.to_owned(), task_id, task_config: task_config.clone(), dlq })
    }

    /// Logs (if enabled) and dead-letters (if configured) one tolerated failure.
    pub async fn report(&mut self, raw: &RawRecord, failure: &RecordFailure) -> Result<(), ConnectError> {
        if self.config.log_enable {
            if self.config.log_include_messages {
                tracing::error!(
                    connector = %self.connector, task = self.task_id, stage = failure.stage.name(),
                    topic = %raw.topic, partition = raw.partition, offset = raw.offset, error = %failure.error,
                    key = ?raw.key.as_deref().map(String::from_utf8_lossy),
                    value = ?raw.value.as_deref().map(String::from_utf8_lossy),
                    headers = ?raw.headers.iter().map(|h| &h.key).collect::<Vec<_>>(),
                    "Record failed; it is skipped (errors.tolerance=all)."
                );
            } else {
                tracing::error!(
                    connector = %self.connector, task = self.task_id, stage = failure.stage.name(),
                    topic = %raw.topic, partition = raw.partition, offset = raw.offset, error = %failure.error,
                    "Record failed; it is skipped (errors.tolerance=all)."
                );
            }
        }
        let context = self
            .config
            .dlq_context_headers
            .then(|| context_headers(raw, failure, &self.connector, self.task_id, &self.task_config));
        let Some(dlq) = self.dlq.as_mut() else { return Ok(()) };
        let mut hs = OwnedHeaders::new_with_capacity(raw.headers.len() + 10);
        for h in &raw.headers {
            hs = hs.insert(KafkaHeader { key: &h.key, value: h.value.as_deref() });
        }
        for (k, v) in context.iter().flatten() {
            hs = hs.insert(KafkaHeader { key: k, value: Some(v.as_bytes()) });
        }
        let message = OwnedMessage::new(
            raw.value.as_deref().map(<[u8]>::to_vec),
            raw.key.as_deref().map(<[u8]>::to_vec),
            dlq.topic.clone(),
            raw.timestamp.map_or(Timestamp::NotAvailable, Timestamp::CreateTime),
            -1,
            -1,
            Some(hs),
        );
        // A full queue is kept and sent again (`send`); what the producer refuses outright, it
        // refuses for good: waiting cannot help, the task fails saying what to change.
        dlq.send(message).map_err(|e| {
            let what = format!(
                "The dead letter for {}-{}@{} ({} bytes) cannot be sent to the dead letter queue {}: {e}.",
                raw.topic,
                raw.partition,
                raw.offset,
                raw.payload_len(),
                dlq.topic
            );
            match e {
                KafkaError::MessageProduction(Code::MessageSizeTooLarge) => ConnectError::fatal(format!(
                    "{what} Raise the DLQ producer's limit (producer.override.message.max.bytes) and the DLQ \
                     topic's max.message.bytes, then restart the task: it reads again from its last commit."
                )),
                _ => ConnectError::fatal(format!(
                    "{what} Restart the task once the cause is fixed: it reads again from its last commit."
                )),
            }
        })
    }

    /// Waits until every dead letter sent so far is acknowledged; returns how many were
    /// acknowledged by this call. While some are not (the DLQ cannot be written), the error is
    /// `Retriable` and the next call carries on where this one stopped.
    pub async fn await_acks(&mut self) -> Result<usize, ConnectError> {
        match self.dlq.as_mut() {
            Some(dlq) => dlq.drain(ACK_PATIENCE).await,
            None => Ok(0),
        }
    }

    /// Gives in-flight dead letters a last chance to go out when the task stops.
    pub async fn close(&mut self) {
        if let Some(dlq) = self.dlq.as_mut() {
            if let Err(error) = dlq.drain(Duration::from_secs(10)).await {
                // Their records' offsets are not durable: the records come again after a restart.
                let (connector, task) = (&self.connector, self.task_id);
                tracing::warn!(%connector, task, %error, "Dead letters not acknowledged at stop.");
            }
            let producer = dlq.producer.clone();
            let _ = tokio::task::spawn_blocking(move || producer.flush(Duration::from_secs(10))).await;
        }
    }
}

impl DeadLetterQueue {
    /// Hands one dead letter to the producer; if its queue is full, keeps it for the next
    /// [`Self::drain`].
    fn send(&mut self, message: OwnedMessage) -> Result<(), KafkaError> {
        let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&self.topic);
        if let Some(headers) = message.headers() {
            record = record.headers(headers.clone());
        }
        if let Some(k) = message.key() {
            record = record.key(k);
        }
        if let Some(v) = message.payload() {
            record = record.payload(v);
        }
        if let Some(ts) = message.timestamp().to_millis() {
            record = record.timestamp(ts);
        }
        match self.producer.send_result(record) {
            Ok(delivery) => self.pending.push(delivery),
            Err((KafkaError::MessageProduction(Code::QueueFull), _)) => self.unsent.push(message),
            Err((e, _)) => return Err(e),
        }
        Ok(())
    }

    /// Sends what is kept to send again, then waits up to `patience` for every send; returns
    /// how many were acknowledged. A dead letter the producer gave up on for a passing reason
    /// (`message.timeout.ms` ran out while the topic could not take it) is kept to send again,
    /// and `Retriable` reports that some are not in Kafka yet.
    async fn drain(&mut self, patience: Duration) -> Result<usize, ConnectError> {
        let mut to_send = std::mem::take(&mut self.unsent).into_iter();
        while let Some(message) = to_send.next() {
            if let Err(e) = self.send(message.clone()) {
                self.unsent.push(message);
                self.unsent.extend(to_send);
                return Err(ConnectError::retriable(format!(
                    "Cannot send to the dead letter queue {}: {e}",
                    self.topic
                )));
            }
        }
        let deadline = tokio::time::Instant::now() + patience;
        let mut acknowledged = 0;
        let mut failed = 0;
        let mut last_error = None;
        let (produced, failures) = (self.produced.clone(), self.failed.clone());
        // Counted once per drain, whichever way it ends.
        let count = |acknowledged: usize, failed: u64| {
            produced.inc_by(acknowledged as u64);
            failures.inc_by(failed);
        };
        for mut delivery in std::mem::take(&mut self.pending) {
            match tokio::time::timeout_at(deadline, &mut delivery).await {
                Err(_) => self.pending.push(delivery),
                Ok(Ok(Ok(_))) => acknowledged += 1,
                Ok(Ok(Err((e, message)))) if passes(&e) => {
                    failed += 1;
                    last_error = Some(e);
                    self.unsent.push(message);
                }
                Ok(Ok(Err((e, _)))) => {
                    count(acknowledged, failed + 1);
                    return Err(ConnectError::fatal(format!(
                        "Writing to the dead letter queue {} failed: {e}",
                        self.topic
                    )));
                }
                Ok(Err(_)) => {
                    count(acknowledged, failed);
                    return Err(ConnectError::fatal("The dead letter queue producer went away."));
                }
            }
        }
        count(acknowledged, failed);
        let waiting = self.pending.len() + self.unsent.len();
        if waiting == 0 {
            return Ok(acknowledged);
        }
        let why = last_error.map(|e| format!(" (last error: {e})")).unwrap_or_default();
        Err(ConnectError::retriable(format!(
            "{waiting} dead letters not acknowledged by the dead letter queue {} after {} s{why}; \
             they are sent until Kafka takes them.",
            self.topic,
            patience.as_secs()
        )))
    }
}

/// Whether a failed delivery may succeed later: the producer retries broker errors that pass
/// (not enough in-sync replicas, no leader) until `message.timeout.ms`, and then reports the
/// timeout.
fn passes(error: &KafkaError) -> bool {
    matches!(
        error.rdkafka_error_code(),
        Some(
            Code::MessageTimedOut
                | Code::RequestTimedOut
                | Code::NotEnoughReplicas
                | Code::NotEnoughReplicasAfterAppend
                | Code::LeaderNotAvailable
                | Code::NotLeaderForPartition
                | Code::BrokerTransportFailure
                | Code::AllBrokersDown
        )
    )
}

/// Kafka Connect's `__connect.errors.*` headers for one failure, as strings.
pub fn context_headers(
    raw: &RawRecord,
    failure: &RecordFailure,
    connector: &str,
    task_id: usize,
    task_config: &ConnectorConfig,
) -> Vec<(&'static str, String)> {
    let class = match &failure.stage {
        Stage::KeyConverter => task_config.get("key.converter").unwrap_or("key.converter (worker default)"),
        Stage::ValueConverter => task_config.get("value.converter").unwrap_or("value.converter (worker default)"),
        Stage::HeaderConverter => task_config.get("header.converter").unwrap_or("header.converter (worker default)"),
        Stage::Transformation(alias) => task_config.get(&format!("transforms.{alias}.type")).unwrap_or(alias),
        Stage::TaskPut => task_config.get("connector.class").unwrap_or("SinkTask"),
    };
    let exception = match &failure.error {
        ConnectError::Data { .. } | ConnectError::Records { .. } | ConnectError::Undecodable { .. } => {
            "org.apache.kafka.connect.errors.DataException"
        }
        ConnectError::Retriable { .. } => "org.apache.kafka.connect.errors.RetriableException",
        ConnectError::Config { .. } => "org.apache.kafka.common.config.ConfigException",
        ConnectError::Fatal { .. } => "org.apache.kafka.connect.errors.ConnectException",
    };
    let message = failure.error.to_string();
    vec![
        (headers::TOPIC, raw.topic.to_string()),
        (headers::PARTITION, raw.partition.to_string()),
        (headers::OFFSET, raw.offset.to_string()),
        (headers::CONNECTOR_NAME, connector.to_owned()),
        (headers::TASK_ID, task_id.to_string()),
        (headers::STAGE, failure.stage.name().to_owned()),
        (headers::CLASS_NAME, class.to_owned()),
        (headers::EXCEPTION_CLASS_NAME, exception.to_owned()),
        // Rust errors have no stack; the full failure (stage, record, cause) stands in for it.
        (headers::EXCEPTION_STACKTRACE, format!("{exception}: {failure}")),
        (headers::EXCEPTION_MESSAGE, message),
    ]
}

/// Creates the DLQ topic (one partition, like Kafka Connect) unless it exists.
async fn ensure_topic(
    kafka: &KafkaClients,
    task_config: &ConnectorConfig,
    topic: &str,
    rf: i32,
) -> Result<(), ConnectError> {
    let settings = kafka.for_connector(ClientRole::Admin, &[], task_config)?;
    let admin: AdminClient<DefaultClientContext> = kafka_clients::client_config(&settings)
        .create()
        .map_err(|e| ConnectError::retriable(format!("Cannot create a Kafka admin client: {e}")))?;
    let new = NewTopic::new(topic, 1, TopicReplication::Fixed(rf));
    let results = admin
        .create_topics([&new], &AdminOptions::new())
        .await
        .map_err(|e| ConnectError::retriable(format!("Creating the dead letter queue topic {topic} failed: {e}")))?;
    for result in results {
        match result {
            Ok(name) => tracing::info!(topic = %name, replication_factor = rf, "Created the dead letter queue topic."),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => {
                return Err(ConnectError::retriable(format!(
                    "Creating the dead letter queue topic {name} failed: {code} (check errors.deadletterqueue.topic.replication.factor against the number of brokers)."
                )))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use sluice_api::Header;

    fn raw() -> RawRecord {
        RawRecord {
            topic: "orders".into(),
            partition: 2,
            offset: 41,
            timestamp: Some(1),
            key: Some(Bytes::from_static(b"k")),
            value: Some(Bytes::from_static(b"{bad")),
            headers: vec![Header { key: "h".into(), value: None }],
        }
    }

    fn failure(stage: Stage, error: ConnectError) -> RecordFailure {
        RecordFailure { stage, topic: "orders".into(), partition: 2, offset: 41, error }
    }

    #[test]
    fn context_headers_describe_record_stage_and_error() {
        let config: ConnectorConfig =
            [("value.converter", "org.apache.kafka.connect.json.JsonConverter")].into_iter().collect();
        let hs = context_headers(
            &raw(),
            &failure(Stage::ValueConverter, ConnectError::data("Unexpected end of JSON")),
            "c1",
            3,
            &config,
        );
        let get = |k: &str| hs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str()).unwrap();
        assert_eq!(hs.len(), 10);
        assert_eq!(get(headers::TOPIC), "orders");
        assert_eq!(get(headers::PARTITION), "2");
        assert_eq!(get(headers::OFFSET), "41");
        assert_eq!(get(headers::CONNECTOR_NAME), "c1");
        assert_eq!(get(headers::TASK_ID), "3");
        assert_eq!(get(headers::STAGE), "VALUE_CONVERTER");
        assert_eq!(get(headers::CLASS_NAME), "org.apache.kafka.connect.json.JsonConverter");
        assert_eq!(get(headers::EXCEPTION_CLASS_NAME), "org.apache.kafka.connect.errors.DataException");
        assert_eq!(get(headers::EXCEPTION_MESSAGE), "Unexpected end of JSON");
        assert!(get(headers::EXCEPTION_STACKTRACE).contains("offset=41"));
    }

    #[test]
    fn a_dlq_that_cannot_take_writes_yet_is_waited_for_and_a_refused_dead_letter_is_not() {
        let produce = |code| KafkaError::MessageProduction(code);
        assert!(passes(&produce(Code::MessageTimedOut)), "message.timeout.ms ran out: send again");
        assert!(passes(&produce(Code::NotEnoughReplicas)));
        assert!(!passes(&produce(Code::MessageSizeTooLarge)), "this record can never go: the task fails");
        assert!(!passes(&produce(Code::TopicAuthorizationFailed)));
    }

    #[test]
    fn stage_classes_come_from_the_task_config() {
        let config: ConnectorConfig = [
            ("connector.class", "ClickHouseSink"),
            ("transforms.route.type", "org.apache.kafka.connect.transforms.RegexRouter"),
        ]
        .into_iter()
        .collect();
        let class = |stage| {
            let hs = context_headers(&raw(), &failure(stage, ConnectError::fatal("x")), "c", 0, &config);
            hs.into_iter().find(|(n, _)| *n == headers::CLASS_NAME).unwrap().1
        };
        assert_eq!(class(Stage::TaskPut), "ClickHouseSink");
        assert_eq!(class(Stage::Transformation("route".into())), "org.apache.kafka.connect.transforms.RegexRouter");
    }
}
