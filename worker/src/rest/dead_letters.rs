//! `GET /sluice/connectors/{connector}/dead-letters` (Sluice only): the newest records of a
//! connector's dead letter queue, read on demand, so an operator (or the web console) sees
//! what failed and why without a Kafka client. Read-only: it assigns partitions and never
//! joins or commits a consumer group.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};

use super::error::RestError;
use super::{RestResult, RestState};
use crate::runtime::errors::keys::DLQ_TOPIC_NAME;

/// Records returned when the request does not say.
const DEFAULT_LIMIT: usize = 20;
/// The most a request may ask for: this is a peek, not an export.
const MAX_LIMIT: usize = 500;
/// Key, value and header values are cut after this many bytes; a dead letter can be a
/// megabyte, and the console shows a few lines of it.
const TEXT_LIMIT: usize = 4096;
/// How long one request may spend on Kafka; what has arrived by then is answered.
const PATIENCE: Duration = Duration::from_secs(5);

#[derive(Deserialize)]
pub(super) struct LimitQuery {
    limit: Option<usize>,
}

/// One dead letter as the API shows it; bytes as text (lossy UTF-8).
#[derive(Debug, Serialize)]
pub struct DeadLetter {
    pub partition: i32,
    pub offset: i64,
    /// Milliseconds since the epoch, when the record has a timestamp.
    pub timestamp: Option<i64>,
    pub key: Option<String>,
    pub value: Option<String>,
    /// In record order; Kafka allows a key more than once.
    pub headers: Vec<HeaderText>,
    /// Whether the key, the value or a header value was cut to [`TEXT_LIMIT`] bytes.
    pub truncated: bool,
}

#[derive(Debug, Serialize)]
pub struct HeaderText {
    pub key: String,
    pub value: Option<String>,
}

/// `GET /sluice/connectors/{connector}/dead-letters?limit=N`: newest first.
pub(super) async fn list(
    state: web::Data<RestState>,
    path: web::Path<String>,
    query: web::Query<LimitQuery>,
) -> RestResult {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(RestError::bad_request(format!("limit must be between 1 and {MAX_LIMIT}, not {limit}.")));
    }
    let config = state.herder.connector_config(&path).await?;
    let Some(topic) = config.get(DLQ_TOPIC_NAME).map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()) else {
        return Ok(HttpResponse::Ok().json(Vec::<DeadLetter>::new()));
    };
    let client = state.herder.worker().config.kafka.internal();
    let read_topic = topic.clone();
    let letters = tokio::task::spawn_blocking(move || read_tail(client, &read_topic, limit))
        .await
        .map_err(|e| RestError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("Reading dead letters aborted: {e}")))?
        .map_err(|e| {
            RestError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!(
                    "Reading the dead letter queue topic {topic} failed: {e}. Check that this worker reaches Kafka."
                ),
            )
        })?;
    Ok(HttpResponse::Ok().json(letters))
}

/// Reads the last `limit` records of every partition of `topic` and answers the newest
/// `limit` of them. A topic that does not exist yet (nothing failed) has none.
fn read_tail(mut config: ClientConfig, topic: &str, limit: usize) -> Result<Vec<DeadLetter>, KafkaError> {
    let deadline = Instant::now() + PATIENCE;
    let consumer: BaseConsumer = config
        .set("client.id", "sluice-dead-letter-peek")
        // librdkafka's consumer wants a group even when partitions are assigned by hand (its
        // poll reports "Unknown group" without one); it is never joined, nothing is committed.
        .set("group.id", "sluice-dead-letter-peek")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        // Retention may delete the start offset between the watermark lookup and the fetch.
        .set("auto.offset.reset", "earliest")
        .create()?;
    let metadata = consumer.fetch_metadata(Some(topic), left(deadline))?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic && t.error().is_none())
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    let mut assignment = TopicPartitionList::new();
    // Per partition, the offset after the last record to read.
    let mut ends: HashMap<i32, i64> = HashMap::new();
    for partition in partitions {
        let (low, high) = consumer.fetch_watermarks(topic, partition, left(deadline))?;
        let start = tail_start(low, high, limit);
        if start < high {
            assignment.add_partition_offset(topic, partition, Offset::Offset(start))?;
            ends.insert(partition, high);
        }
    }
    if ends.is_empty() {
        return Ok(Vec::new());
    }
    consumer.assign(&assignment)?;
    let mut letters = Vec::new();
    let mut last_error = None;
    while !ends.is_empty() && Instant::now() < deadline {
        match consumer.poll(left(deadline).min(Duration::from_millis(200))) {
            None => {}
            // Mostly passing (a broker reconnecting); reported only if nothing could be read.
            Some(Err(e)) => last_error = Some(e),
            Some(Ok(m)) => {
                let Some(&end) = ends.get(&m.partition()) else { continue };
                if m.offset() + 1 >= end {
                    ends.remove(&m.partition());
                }
                if m.offset() < end {
                    letters.push(dead_letter(&m));
                }
            }
        }
    }
    match last_error {
        Some(e) if letters.is_empty() => Err(e),
        _ => Ok(newest(letters, limit)),
    }
}

fn left(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

/// Where to start reading a partition for its last `limit` records.
fn tail_start(low: i64, high: i64, limit: usize) -> i64 {
    high.saturating_sub(i64::try_from(limit).unwrap_or(i64::MAX)).max(low)
}

/// The newest `limit` letters, newest first (by timestamp, then position).
fn newest(mut letters: Vec<DeadLetter>, limit: usize) -> Vec<DeadLetter> {
    letters.sort_by_key(|l| std::cmp::Reverse((l.timestamp, l.partition, l.offset)));
    letters.truncate(limit);
    letters
}

/// Bytes as text, cut to [`TEXT_LIMIT`]; true when cut.
fn text(bytes: &[u8]) -> (String, bool) {
    let cut = bytes.len() > TEXT_LIMIT;
    (String::from_utf8_lossy(&bytes[..bytes.len().min(TEXT_LIMIT)]).into_owned(), cut)
}

fn dead_letter(m: &impl Message) -> DeadLetter {
    let mut truncated = false;
    let mut as_text = |bytes: Option<&[u8]>| {
        bytes.map(|b| {
            let (s, cut) = text(b);
            truncated |= cut;
            s
        })
    };
    let key = as_text(m.key());
    let value = as_text(m.payload());
    let headers = m
        .headers()
        .map(|hs| hs.iter().map(|h| HeaderText { key: h.key.to_owned(), value: as_text(h.value) }).collect())
        .unwrap_or_default();
    DeadLetter {
        partition: m.partition(),
        offset: m.offset(),
        timestamp: m.timestamp().to_millis(),
        key,
        value,
        headers,
        truncated,
    }
}

#[cfg(test)]
mod tests {
    use rdkafka::message::{Header, OwnedHeaders, OwnedMessage, Timestamp};

    use super::*;

    #[test]
    fn the_tail_starts_limit_records_back_but_not_before_the_log_start() {
        assert_eq!(tail_start(0, 100, 20), 80);
        assert_eq!(tail_start(90, 100, 20), 90);
        assert_eq!(tail_start(0, 0, 20), 0);
        assert_eq!(tail_start(5, 5, usize::MAX), 5);
    }

    #[test]
    fn a_record_becomes_text_with_its_headers_and_long_values_are_cut() {
        let headers = OwnedHeaders::new()
            .insert(Header { key: "__connect.errors.stage", value: Some("VALUE_CONVERTER") })
            .insert(Header { key: "empty", value: None::<&[u8]> });
        let message = OwnedMessage::new(
            Some(vec![b'x'; TEXT_LIMIT + 10]),
            Some(vec![0xff, b'k']),
            "dlq".into(),
            Timestamp::CreateTime(1_700_000_000_000),
            2,
            41,
            Some(headers),
        );
        let letter = dead_letter(&message);
        assert_eq!((letter.partition, letter.offset, letter.timestamp), (2, 41, Some(1_700_000_000_000)));
        assert_eq!(letter.key.as_deref(), Some("\u{fffd}k"));
        assert_eq!(letter.value.as_ref().map(String::len), Some(TEXT_LIMIT));
        assert!(letter.truncated);
        assert_eq!(letter.headers[0].key, "__connect.errors.stage");
        assert_eq!(letter.headers[0].value.as_deref(), Some("VALUE_CONVERTER"));
        assert_eq!(letter.headers[1].value, None);
    }

    #[test]
    fn newest_first_across_partitions() {
        let letter = |partition, offset, timestamp| DeadLetter {
            partition,
            offset,
            timestamp,
            key: None,
            value: None,
            headers: Vec::new(),
            truncated: false,
        };
        let picked = newest(vec![letter(0, 1, Some(10)), letter(1, 7, Some(30)), letter(0, 2, Some(20))], 2);
        let order: Vec<_> = picked.iter().map(|l| (l.partition, l.offset)).collect();
        assert_eq!(order, [(1, 7), (0, 2)]);
    }
}
