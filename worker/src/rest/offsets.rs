//! A sink connector's offsets (`/connectors/{c}/offsets`) and active topics
//! (`/connectors/{c}/topics`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::ClientConfig;
use serde::Serialize;
use serde_json::{json, Value as Json};

use super::error::RestError;
use super::{RestResult, RestState};
use crate::herder::offsets::{self, SinkPartition};

/// The partition numbers of each topic of the cluster.
type Partitions = BTreeMap<String, BTreeSet<i32>>;

/// How long the check that the partitions of an alter request exist may wait for Kafka.
const METADATA_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Serialize)]
struct Message {
    message: String,
}

pub(super) async fn get_offsets(state: web::Data<RestState>, path: web::Path<String>) -> RestResult {
    Ok(HttpResponse::Ok().json(state.herder.connector_offsets(&path).await?))
}

pub(super) async fn alter_offsets(
    state: web::Data<RestState>,
    path: web::Path<String>,
    body: web::Json<Json>,
) -> RestResult {
    let changes = offsets::parse_changes(&body)?;
    // An unknown connector is a 404 before anything else is looked at.
    state.herder.connector_config(&path).await?;
    let committed: Vec<SinkPartition> = changes.iter().filter(|(_, o)| o.is_some()).map(|(tp, _)| tp.clone()).collect();
    check_partitions_exist(&state, committed).await?;
    let message = state.herder.alter_connector_offsets(&path, changes).await?;
    Ok(HttpResponse::Ok().json(Message { message }))
}

/// Kafka refuses to commit an offset for a partition that does not exist, after the offsets
/// of the other partitions (and, for a `null` offset, the group) may already have changed.
/// That is the request's mistake, not Kafka's failure: answer 400 naming the partitions, and
/// change nothing.
async fn check_partitions_exist(state: &RestState, partitions: Vec<SinkPartition>) -> Result<(), RestError> {
    if partitions.is_empty() {
        return Ok(());
    }
    let client = state.herder.worker().config.kafka.internal();
    let existing = web::block(move || cluster_partitions(client))
        .await
        .map_err(|e| internal(format!("Reading the cluster's topics aborted: {e}")))?
        .map_err(|e| {
            internal(format!("Reading the cluster's topics failed: {e}. Check that this worker reaches Kafka."))
        })?;
    let missing = missing_partitions(&existing, &partitions);
    if missing.is_empty() {
        return Ok(());
    }
    Err(RestError::bad_request(format!(
        "Kafka has no topic {}: offsets can be altered only for partitions of existing topics. No offset was changed.",
        missing.join(", ")
    )))
}

/// The partitions of every topic of the cluster, by topic (asking for all creates none).
fn cluster_partitions(mut client: ClientConfig) -> Result<Partitions, KafkaError> {
    let consumer: BaseConsumer = client.set("client.id", "sluice-offsets-check").create()?;
    let metadata = consumer.fetch_metadata(None, METADATA_TIMEOUT)?;
    Ok(metadata
        .topics()
        .iter()
        .filter(|t| t.error().is_none())
        .map(|t| (t.name().to_owned(), t.partitions().iter().map(|p| p.id()).collect()))
        .collect())
}

/// The partitions of `wanted` that `existing` does not have, as `"topic" partition N`.
fn missing_partitions(existing: &Partitions, wanted: &[SinkPartition]) -> Vec<String> {
    wanted
        .iter()
        .filter(|(topic, partition)| !existing.get(topic).is_some_and(|ps| ps.contains(partition)))
        .map(|(topic, partition)| format!("{topic:?} partition {partition}"))
        .collect()
}

fn internal(message: String) -> RestError {
    RestError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
}

pub(super) async fn reset_offsets(state: web::Data<RestState>, path: web::Path<String>) -> RestResult {
    let message = state.herder.reset_connector_offsets(&path).await?;
    Ok(HttpResponse::Ok().json(Message { message }))
}

pub(super) async fn get_topics(state: web::Data<RestState>, path: web::Path<String>) -> RestResult {
    let topics = state.herder.connector_active_topics(&path).await?;
    Ok(HttpResponse::Ok().json(json!({ path.as_str(): { "topics": topics } })))
}

pub(super) async fn reset_topics(state: web::Data<RestState>, path: web::Path<String>) -> RestResult {
    state.herder.reset_connector_active_topics(&path).await?;
    Ok(HttpResponse::Accepted().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_kafka_lacks_are_named() {
        let existing: Partitions = [("orders".to_owned(), BTreeSet::from([0, 1]))].into();
        let wanted = [("orders".to_owned(), 1), ("orders".to_owned(), 2), (String::new(), 0), ("clicks".to_owned(), 0)];
        assert_eq!(
            missing_partitions(&existing, &wanted),
            [r#""orders" partition 2"#, r#""" partition 0"#, r#""clicks" partition 0"#]
        );
        assert!(missing_partitions(&existing, &wanted[..1]).is_empty());
    }
}
