//! The status topic in Kafka Connect's format: `status-connector-<c>` and
//! `status-task-<c>-<n>` → `{"state","trace","worker_id","generation"}`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::log::LogState;
use crate::status::{State, Status};

/// A status record's value.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusValue {
    pub state: State,
    pub trace: Option<String>,
    pub worker_id: String,
    pub generation: i64,
}

impl StatusValue {
    pub fn status(&self) -> Status {
        Status { state: self.state, worker_id: self.worker_id.clone(), trace: self.trace.clone() }
    }
}

/// Every connector's and task's last reported status, and the topics connectors used.
#[derive(Debug, Clone, Default)]
pub struct ClusterStatus {
    /// Connector → worker id → that worker's last word on the connector.
    pub connectors: BTreeMap<String, BTreeMap<String, StatusValue>>,
    /// Task → worker id → that worker's last word on the task. Kept per worker so a previous
    /// owner's late "UNASSIGNED" cannot hide the current owner's "RUNNING".
    pub tasks: BTreeMap<(String, usize), BTreeMap<String, StatusValue>>,
    /// Connector → topics its tasks consumed from (`topic-<t>-connector-<c>` records).
    pub topics: BTreeMap<String, std::collections::BTreeSet<String>>,
    /// Connector → how many topic records were reset (tombstoned), so tasks know to record
    /// their topics again.
    pub topic_resets: BTreeMap<String, u64>,
}

/// Value of a `topic-<t>-connector-<c>` record, as Kafka Connect writes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TopicStatusValue {
    pub topic: TopicStatus,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TopicStatus {
    pub name: String,
    pub connector: String,
    pub task: usize,
    #[serde(rename = "discoverTimestamp")]
    pub discover_timestamp: i64,
}

impl LogState for ClusterStatus {
    fn apply(&mut self, key: &str, value: Option<&[u8]>, _offset: i64) {
        if let Some((topic, connector)) = key.strip_prefix("topic-").and_then(|rest| rest.split_once("-connector-")) {
            if value.is_some() {
                self.topics.entry(connector.to_owned()).or_default().insert(topic.to_owned());
            } else {
                if let Some(set) = self.topics.get_mut(connector) {
                    set.remove(topic);
                }
                *self.topic_resets.entry(connector.to_owned()).or_default() += 1;
            }
            return;
        }
        let parsed = value.and_then(|v| serde_json::from_slice::<StatusValue>(v).ok());
        if let Some(name) = key.strip_prefix("status-connector-") {
            match parsed {
                Some(v) => {
                    self.connectors.entry(name.to_owned()).or_default().insert(v.worker_id.clone(), v);
                }
                None => {
                    self.connectors.remove(name);
                }
            }
        } else if let Some(rest) = key.strip_prefix("status-task-") {
            let Some((name, n)) = rest.rsplit_once('-').and_then(|(c, n)| Some((c.to_owned(), n.parse().ok()?))) else {
                return;
            };
            match parsed {
                Some(v) => {
                    self.tasks.entry((name, n)).or_default().insert(v.worker_id.clone(), v);
                }
                None => {
                    self.tasks.remove(&(name, n));
                }
            }
        }
    }
}

pub fn connector_key(name: &str) -> String {
    format!("status-connector-{name}")
}

pub fn task_key(name: &str, task: usize) -> String {
    format!("status-task-{name}-{task}")
}

pub fn topic_key(connector: &str, topic: &str) -> String {
    format!("topic-{topic}-connector-{connector}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kafka_connect_status_records() {
        let mut s = ClusterStatus::default();
        s.apply(
            "status-task-my-conn-3",
            Some(br#"{"state":"FAILED","trace":"boom","worker_id":"w:8083","generation":7}"#),
            0,
        );
        s.apply(
            "status-connector-my-conn",
            Some(br#"{"state":"RUNNING","trace":null,"worker_id":"w:8083","generation":7}"#),
            1,
        );
        let t = &s.tasks[&("my-conn".to_owned(), 3)]["w:8083"];
        assert_eq!(t.state, State::Failed);
        assert_eq!(t.status().trace.as_deref(), Some("boom"));
        assert_eq!(s.connectors["my-conn"]["w:8083"].state, State::Running);
        // Another worker's record does not replace this one's.
        s.apply(
            "status-task-my-conn-3",
            Some(br#"{"state":"UNASSIGNED","trace":null,"worker_id":"old:8083","generation":6}"#),
            1,
        );
        assert_eq!(s.tasks[&("my-conn".to_owned(), 3)]["w:8083"].state, State::Failed);
        s.apply("status-task-my-conn-3", None, 2);
        assert!(s.tasks.is_empty());
        s.apply(
            "topic-events-1-connector-my-conn",
            Some(br#"{"topic":{"name":"events-1","connector":"my-conn","task":0,"discoverTimestamp":1}}"#),
            3,
        );
        assert_eq!(s.topics["my-conn"].iter().collect::<Vec<_>>(), ["events-1"]);
        s.apply("topic-events-1-connector-my-conn", None, 4);
        assert!(s.topics["my-conn"].is_empty());
    }
}
