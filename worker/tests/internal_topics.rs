//! The distributed workers' internal topics (`distributed::log::KafkaLog`) against a real Kafka.
//!
//! Run with:
//!   tests/services/services.sh up kafka && eval "$(tests/services/services.sh env)"
//!   cargo test -p sluice-worker --features integration-tests --test internal_topics
#![cfg(feature = "integration-tests")]

#[path = "sink_contract/harness.rs"]
#[allow(dead_code)]
mod harness;

use std::collections::BTreeMap;
use std::time::Duration;

use harness::{bootstrap, create_topic, unique};
use sluice_api::ConnectorConfig;
use sluice_worker::distributed::log::{KafkaLog, LogState};
use sluice_worker::kafka_clients::KafkaClients;

/// Every value read for each key, in the order the topic holds them.
#[derive(Clone, Default)]
struct History(BTreeMap<String, Vec<String>>);

impl LogState for History {
    fn apply(&mut self, key: &str, value: Option<&[u8]>, _offset: i64) {
        let value = value.map(|v| String::from_utf8_lossy(v).into_owned()).unwrap_or_default();
        self.0.entry(key.to_owned()).or_default().push(value);
    }
}

/// Status updates are written without waiting, several per task within milliseconds when a task
/// moves (UNASSIGNED from the worker that stopped it, RUNNING from the one that started it).
/// The topic must hold them in the order they were made, or a worker's last word on a task can
/// be an older one and the REST status shows it for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn background_appends_reach_the_topic_in_the_order_they_were_made() {
    let topic = unique("internal-log-order");
    create_topic(&topic, 1).await;
    let worker = ConnectorConfig::new(BTreeMap::from([("bootstrap.servers".to_owned(), bootstrap())]));
    let kafka = KafkaClients::from_worker(&worker).expect("Kafka clients");
    let log = KafkaLog::<History>::open(&kafka, &topic, &unique("internal-log-reader")).await.expect("open the log");

    const UPDATES: usize = 2_000;
    for key in ["status-task-a-0", "status-task-a-1"] {
        for n in 0..UPDATES {
            log.append_in_background(key.to_owned(), n.to_string().into_bytes());
        }
    }

    let mut snapshots = log.subscribe();
    let all_read = snapshots.wait_for(|s| s.state.0.values().map(Vec::len).sum::<usize>() >= 2 * UPDATES);
    tokio::time::timeout(Duration::from_secs(60), all_read)
        .await
        .expect("every update read back within 60 s")
        .expect("the log's reader runs");
    let history = log.snapshot().state.0.clone();
    let expected: Vec<String> = (0..UPDATES).map(|n| n.to_string()).collect();
    for (key, values) in &history {
        assert_eq!(values.len(), UPDATES, "{key}: each update once");
        if let Some(at) = values.iter().zip(&expected).position(|(read, made)| read != made) {
            panic!(
                "{key}: update {} was made at position {at}, but the topic holds {} there",
                expected[at], values[at]
            );
        }
    }
}
