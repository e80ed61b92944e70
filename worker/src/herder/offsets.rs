//! Sink connector offsets (`GET/PATCH/DELETE /connectors/{c}/offsets`): as in Kafka Connect,
//! they are the committed offsets of the consumer group `connect-<name>`, so both herders
//! read and change them the same way, in Kafka.
//!
//! rdkafka has no admin call to list or alter a group's offsets, so: reading asks the group
//! coordinator for the committed offset of every partition of the connector's topics; altering
//! commits from a short-lived consumer that never joins the group (Kafka accepts such commits
//! only while the group has no members, which is why the connector must be STOPPED); resetting
//! deletes the group. Resetting single partitions deletes the group and commits the offsets
//! of the other partitions back. The blocking librdkafka calls run on tokio's blocking pool.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use serde::Serialize;
use serde_json::Value as Json;
use sluice_api::ConnectorConfig;

use super::{keys, HerderError};
use crate::kafka_clients::{self, ClientRole};
use crate::runtime::consumer::consumer_settings;
use crate::worker_config::WorkerConfig;

/// A partition of a sink connector: `(topic, partition)`.
pub type SinkPartition = (String, i32);

/// What `PATCH /connectors/{c}/offsets` asks for: a new offset per partition, `None` to reset
/// that partition (forget its committed offset).
pub type OffsetChanges = BTreeMap<SinkPartition, Option<i64>>;

const KAFKA_TOPIC: &str = "kafka_topic";
const KAFKA_PARTITION: &str = "kafka_partition";
const KAFKA_OFFSET: &str = "kafka_offset";
const TIMEOUT: Duration = Duration::from_secs(30);

/// `{"offsets":[…]}`, the body of `GET /connectors/{c}/offsets`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectorOffsets {
    pub offsets: Vec<ConnectorOffset>,
}

/// `{"partition":{"kafka_topic","kafka_partition"},"offset":{"kafka_offset"}}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectorOffset {
    pub partition: BTreeMap<&'static str, Json>,
    pub offset: BTreeMap<&'static str, i64>,
}

impl ConnectorOffsets {
    /// The REST shape of committed offsets, sorted by topic and partition.
    pub fn from_committed(committed: &BTreeMap<SinkPartition, i64>) -> Self {
        let offsets = committed
            .iter()
            .map(|((topic, partition), offset)| ConnectorOffset {
                partition: [(KAFKA_TOPIC, Json::from(topic.as_str())), (KAFKA_PARTITION, Json::from(*partition))]
                    .into(),
                offset: [(KAFKA_OFFSET, *offset)].into(),
            })
            .collect();
        ConnectorOffsets { offsets }
    }
}

/// The answer to a successful alter or reset (`{"message": …}`), in Kafka Connect's words for a
/// connector that does not manage offsets outside Kafka.
pub fn modified_message(reset: bool) -> String {
    let what = if reset { "reset" } else { "altered" };
    format!(
        "The Connect framework-managed offsets for this connector have been {what} successfully. However, if this connector manages offsets externally, they will need to be manually {what} in the system that the connector uses."
    )
}

/// Kafka Connect's refusal to modify the offsets of a connector that is not STOPPED.
pub fn not_stopped(connector: &str) -> HerderError {
    HerderError::BadRequest(format!(
        "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/{connector}/stop' endpoint"
    ))
}

/// Parses the body of `PATCH /connectors/{c}/offsets`, with Kafka Connect's checks and messages.
pub fn parse_changes(body: &Json) -> Result<OffsetChanges, HerderError> {
    let bad = |m: String| HerderError::BadRequest(m);
    let entries = match body.get("offsets") {
        Some(Json::Array(entries)) if !entries.is_empty() => entries,
        _ => return Err(bad("Partitions / offsets need to be provided for an alter offsets request".into())),
    };
    let mut changes = OffsetChanges::new();
    for entry in entries {
        let partition = match entry.get("partition") {
            Some(Json::Object(p)) => p,
            _ => return Err(bad("The partition for a sink connector offset cannot be null or missing".into())),
        };
        let (Some(topic), Some(number)) = (partition.get(KAFKA_TOPIC), partition.get(KAFKA_PARTITION)) else {
            return Err(bad(format!(
                "The partition for a sink connector offset must contain the keys '{KAFKA_TOPIC}' and '{KAFKA_PARTITION}'"
            )));
        };
        let topic = match topic {
            Json::Null => return Err(bad("Kafka topic names must be valid strings and may not be null".into())),
            other => plain(other),
        };
        if number.is_null() {
            return Err(bad("Kafka partitions must be valid numbers and may not be null".into()));
        }
        // "10" and 10 are both accepted, as in Kafka Connect.
        let number: i32 = plain(number).parse().ok().filter(|p| *p >= 0).ok_or_else(|| {
            bad(format!(
                "Failed to parse the following Kafka partition value in the provided offsets: '{}'. Partition values for sink connectors need to be integers.",
                plain(number)
            ))
        })?;
        let offset = match entry.get("offset") {
            None | Some(Json::Null) => None,
            Some(Json::Object(o)) => {
                let value = o.get(KAFKA_OFFSET).ok_or_else(|| {
                    bad(format!(
                        "The offset for a sink connector should either be null or contain the key '{KAFKA_OFFSET}'"
                    ))
                })?;
                Some(plain(value).parse::<i64>().ok().filter(|o| *o >= 0).ok_or_else(|| {
                    bad(format!(
                        "Failed to parse the following Kafka offset value in the provided offsets: '{}'. Offset values for sink connectors need to be integers.",
                        plain(value)
                    ))
                })?)
            }
            Some(_) => {
                return Err(bad(format!(
                    "The offset for a sink connector should either be null or contain the key '{KAFKA_OFFSET}'"
                )))
            }
        };
        changes.insert((topic, number), offset);
    }
    Ok(changes)
}

/// A JSON value as Java's `String.valueOf` would print it (strings without quotes).
fn plain(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The consumer group of one sink connector, and how to reach it.
pub struct GroupOffsets {
    connector: String,
    group: String,
    consumer: ClientConfig,
    admin: ClientConfig,
    topics: Vec<String>,
    topics_regex: Option<String>,
}

impl GroupOffsets {
    /// Uses the same client settings as the connector's tasks (worker security and
    /// `consumer.*`/`admin.*`, then the connector's overrides). `extra_topics` are topics known
    /// to have been consumed (the connector's active topics), looked at besides
    /// `topics`/`topics.regex`.
    pub fn new(
        worker: &WorkerConfig,
        connector: &str,
        config: &ConnectorConfig,
        extra_topics: Vec<String>,
    ) -> Result<Self, HerderError> {
        let invalid = |e| HerderError::InvalidConfig(vec![e]);
        let mut consumer =
            kafka_clients::client_config(&consumer_settings(&worker.kafka, connector, 0, config).map_err(invalid)?);
        consumer.set("client.id", format!("connector-offsets-{connector}"));
        let admin =
            kafka_clients::client_config(&worker.kafka.for_connector(ClientRole::Admin, &[], config).map_err(invalid)?);
        let mut topics = config.list(keys::TOPICS);
        topics.extend(extra_topics);
        topics.sort();
        topics.dedup();
        Ok(GroupOffsets {
            connector: connector.to_owned(),
            group: format!("connect-{connector}"),
            consumer,
            admin,
            topics,
            topics_regex: config.get(keys::TOPICS_REGEX).map(str::trim).filter(|r| !r.is_empty()).map(str::to_owned),
        })
    }

    /// The group's committed offsets, for every partition of the connector's topics that has one.
    pub async fn committed(&self) -> Result<BTreeMap<SinkPartition, i64>, HerderError> {
        let (consumer, topics, regex) = (self.consumer.clone(), self.topics.clone(), self.topics_regex.clone());
        let group = self.group.clone();
        blocking(move || {
            let consumer: BaseConsumer = consumer.create().map_err(|e| kafka_failure(&group, "read", e))?;
            read_committed(&consumer, &topics, regex.as_deref()).map_err(|e| kafka_failure(&group, "read", e))
        })
        .await
    }

    /// Applies `changes`: commits the new offsets and forgets the ones set to `None`.
    pub async fn alter(&self, changes: OffsetChanges) -> Result<(), HerderError> {
        let mut to_commit: BTreeMap<SinkPartition, i64> =
            changes.iter().filter_map(|(tp, o)| o.map(|o| (tp.clone(), o))).collect();
        if changes.values().any(Option::is_none) {
            // No admin call deletes single partitions' offsets: keep the others, drop the group, put them back.
            let mut keep = self.committed().await?;
            keep.retain(|tp, _| !changes.contains_key(tp));
            self.delete_group("alter").await?;
            to_commit.extend(keep);
        }
        if to_commit.is_empty() {
            return Ok(());
        }
        let (consumer, group, connector) = (self.consumer.clone(), self.group.clone(), self.connector.clone());
        blocking(move || {
            let consumer: BaseConsumer = consumer.create().map_err(|e| kafka_failure(&group, "alter", e))?;
            let mut tpl = TopicPartitionList::new();
            for ((topic, partition), offset) in &to_commit {
                tpl.add_partition_offset(topic, *partition, Offset::Offset(*offset))
                    .map_err(|e| kafka_failure(&group, "alter", e))?;
            }
            consumer.commit(&tpl, CommitMode::Sync).map_err(|e| match e.rdkafka_error_code() {
                Some(
                    RDKafkaErrorCode::UnknownMemberId
                    | RDKafkaErrorCode::IllegalGeneration
                    | RDKafkaErrorCode::RebalanceInProgress,
                ) => zombie_tasks(&connector, "alter"),
                _ => kafka_failure(&group, "alter", e),
            })?;
            tracing::info!(connector = %connector, partitions = to_commit.len(), "Committed altered sink offsets.");
            Ok(())
        })
        .await
    }

    /// Forgets every committed offset of the connector by deleting its consumer group; a
    /// group that does not exist is already reset.
    pub async fn reset(&self) -> Result<(), HerderError> {
        self.delete_group("reset").await
    }

    async fn delete_group(&self, action: &'static str) -> Result<(), HerderError> {
        let (admin, group, connector) = (self.admin.clone(), self.group.clone(), self.connector.clone());
        // Creating and dropping a librdkafka client starts and joins threads: keep it off the runtime.
        blocking(move || {
            let admin: AdminClient<DefaultClientContext> =
                admin.create().map_err(|e| kafka_failure(&group, action, e))?;
            let options = AdminOptions::new().operation_timeout(Some(TIMEOUT)).request_timeout(Some(TIMEOUT));
            let results = futures::executor::block_on(admin.delete_groups(&[&group], &options))
                .map_err(|e| kafka_failure(&group, action, e))?;
            for result in results {
                match result {
                    Ok(_) | Err((_, RDKafkaErrorCode::GroupIdNotFound)) => {}
                    Err((_, RDKafkaErrorCode::NonEmptyGroup)) => return Err(zombie_tasks(&connector, action)),
                    Err((_, code)) => return Err(kafka_failure(&group, action, KafkaError::AdminOp(code))),
                }
            }
            tracing::info!(%connector, %group, "Deleted the sink connector's consumer group.");
            Ok(())
        })
        .await
    }
}

/// Committed offsets of the partitions of `topics` and of the topics matching `regex` (with
/// the `^` anchoring the tasks' subscription uses).
fn read_committed(
    consumer: &BaseConsumer,
    topics: &[String],
    regex: Option<&str>,
) -> Result<BTreeMap<SinkPartition, i64>, KafkaError> {
    let pattern = regex.and_then(|r| regex::Regex::new(&format!("^(?:{})", r.trim_start_matches('^'))).ok());
    let metadata = consumer.fetch_metadata(None, TIMEOUT)?;
    let mut tpl = TopicPartitionList::new();
    for topic in metadata.topics() {
        let wanted =
            topics.iter().any(|t| t == topic.name()) || pattern.as_ref().is_some_and(|p| p.is_match(topic.name()));
        if wanted {
            for p in topic.partitions() {
                tpl.add_partition(topic.name(), p.id());
            }
        }
    }
    if tpl.count() == 0 {
        return Ok(BTreeMap::new());
    }
    let committed = consumer.committed_offsets(tpl, TIMEOUT)?;
    Ok(committed
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(o) => Some(((e.topic().to_owned(), e.partition()), o)),
            _ => None,
        })
        .collect())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, HerderError> + Send + 'static,
) -> Result<T, HerderError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| HerderError::Internal(format!("Offsets request aborted: {e}")))?
}

fn kafka_failure(group: &str, action: &str, error: KafkaError) -> HerderError {
    HerderError::Internal(format!("Failed to {action} the offsets of consumer group {group}: {error}"))
}

/// Kafka Connect's message when the group still has members (tasks not stopped yet).
fn zombie_tasks(connector: &str, action: &str) -> HerderError {
    HerderError::Internal(format!(
        "Failed to {action} consumer group offsets for connector {connector} either because its tasks haven't stopped completely yet or the connector was resumed before the request to {action} its offsets could be successfully completed. If the connector is in a stopped state, this operation can be safely retried. If it doesn't eventually succeed, the Connect cluster may need to be restarted to get rid of the zombie sink tasks."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<OffsetChanges, String> {
        parse_changes(&serde_json::from_str(body).unwrap()).map_err(|e| e.to_string())
    }

    #[test]
    fn alter_requests_accept_numbers_as_strings_and_null_resets() {
        let changes = parse(
            r#"{"offsets":[
                {"partition":{"kafka_topic":"a","kafka_partition":0},"offset":{"kafka_offset":5}},
                {"partition":{"kafka_topic":"a","kafka_partition":"1"},"offset":{"kafka_offset":"7"}},
                {"partition":{"kafka_topic":"b","kafka_partition":2},"offset":null}]}"#,
        )
        .unwrap();
        assert_eq!(
            changes,
            OffsetChanges::from([(("a".into(), 0), Some(5)), (("a".into(), 1), Some(7)), (("b".into(), 2), None)])
        );
    }

    #[test]
    fn malformed_alter_requests_say_what_is_wrong() {
        assert!(parse(r#"{"offsets":[]}"#).unwrap_err().contains("Partitions / offsets need to be provided"));
        assert!(parse(r#"{}"#).unwrap_err().contains("Partitions / offsets need to be provided"));
        assert!(parse(r#"{"offsets":[{"offset":{"kafka_offset":1}}]}"#)
            .unwrap_err()
            .contains("cannot be null or missing"));
        let e = parse(r#"{"offsets":[{"partition":{"kafka_topic":"a"},"offset":null}]}"#).unwrap_err();
        assert!(e.contains("must contain the keys 'kafka_topic' and 'kafka_partition'"), "{e}");
        let e = parse(r#"{"offsets":[{"partition":{"kafka_topic":"a","kafka_partition":"x"},"offset":null}]}"#)
            .unwrap_err();
        assert!(e.contains("Kafka partition value in the provided offsets: 'x'"), "{e}");
        let e = parse(r#"{"offsets":[{"partition":{"kafka_topic":"a","kafka_partition":0},"offset":{"off":1}}]}"#)
            .unwrap_err();
        assert!(e.contains("contain the key 'kafka_offset'"), "{e}");
        let e = parse(
            r#"{"offsets":[{"partition":{"kafka_topic":"a","kafka_partition":0},"offset":{"kafka_offset":-3}}]}"#,
        )
        .unwrap_err();
        assert!(e.contains("'-3'"), "{e}");
    }

    #[test]
    fn committed_offsets_render_in_kafka_connect_shape() {
        let body = ConnectorOffsets::from_committed(&BTreeMap::from([(("t".into(), 1), 42)]));
        assert_eq!(
            serde_json::to_value(body).unwrap(),
            serde_json::json!({"offsets":[{"partition":{"kafka_partition":1,"kafka_topic":"t"},"offset":{"kafka_offset":42}}]})
        );
        assert!(modified_message(true)
            .starts_with("The Connect framework-managed offsets for this connector have been reset successfully."));
    }
}
