//! Creating the internal topics when they are missing, as Kafka Connect does: config (one
//! partition), offsets and status, all compacted.

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::RDKafkaErrorCode;
use sluice_api::ConnectError;

use super::config::{DistributedConfig, InternalTopic};
use crate::kafka_clients::KafkaClients;

/// Creates whichever internal topics do not exist yet. Existing topics are left alone, except
/// that a config topic with more than one partition is refused (its order would be lost).
pub async fn ensure_internal_topics(kafka: &KafkaClients, config: &DistributedConfig) -> Result<(), ConnectError> {
    let admin: AdminClient<DefaultClientContext> = kafka
        .internal()
        .create()
        .map_err(|e| ConnectError::retriable(format!("Cannot create a Kafka admin client: {e}")))?;
    let topics = [&config.config_topic, &config.offset_topic, &config.status_topic];
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t: &&InternalTopic| {
            let rf = if t.replication_factor < 0 {
                TopicReplication::Fixed(-1)
            } else {
                TopicReplication::Fixed(t.replication_factor)
            };
            NewTopic::new(&t.name, t.partitions, rf).set("cleanup.policy", "compact")
        })
        .collect();
    let results = admin
        // Bounded, so a broker that never answers (or refuses the login) is retried with a
        // warning rather than waited on in silence.
        .create_topics(&new, &AdminOptions::new().request_timeout(Some(std::time::Duration::from_secs(30))))
        .await
        .map_err(|e| ConnectError::retriable(format!("Creating internal topics failed: {e}")))?;
    for result in results {
        match result {
            Ok(name) => tracing::info!(topic = %name, "Created internal topic."),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => {
                return Err(ConnectError::retriable(format!("Creating internal topic {name} failed: {code}")));
            }
        }
    }

    let metadata = tokio::task::spawn_blocking({
        let kafka = kafka.clone();
        let topic = config.config_topic.name.clone();
        move || -> Result<usize, String> {
            let consumer: rdkafka::consumer::BaseConsumer = kafka.internal().create().map_err(|e| e.to_string())?;
            let md = rdkafka::consumer::Consumer::fetch_metadata(
                &consumer,
                Some(&topic),
                std::time::Duration::from_secs(10),
            )
            .map_err(|e| e.to_string())?;
            Ok(md.topics().first().map(|t| t.partitions().len()).unwrap_or(0))
        }
    })
    .await
    .map_err(|e| ConnectError::fatal(e.to_string()))?
    .map_err(|e| ConnectError::retriable(format!("Reading metadata of the config topic failed: {e}")))?;
    if metadata > 1 {
        return Err(ConnectError::config(
            super::config::keys::CONFIG_TOPIC,
            format!(
                "Topic {} has {metadata} partitions; the config topic must have exactly one.",
                config.config_topic.name
            ),
        ));
    }
    Ok(())
}
