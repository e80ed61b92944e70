//! The config topic in Kafka Connect's record format, and the cluster configuration it builds.
//!
//! Keys and values (schemaless JSON) as Kafka Connect writes them, so existing tooling can read
//! them and Sluice can read a topic Kafka Connect wrote:
//! - `connector-<c>` → `{"properties":{…}}`; a tombstone deletes the connector;
//! - `task-<c>-<n>` → `{"properties":{…}}`, effective only once `commit-<c>` → `{"tasks":N}` is read;
//! - `target-state-<c>` → `{"state":"STARTED"|"PAUSED","state.v2":"STARTED"|"PAUSED"|"STOPPED"}`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::log::LogState;
use crate::status::TargetState;

type Properties = BTreeMap<String, String>;

/// One connector as the config topic describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorEntry {
    pub config: Properties,
    pub target: TargetState,
    /// Committed task configs.
    pub tasks: Vec<Properties>,
}

impl ConnectorEntry {
    /// The tasks the connector has now: none while it is STOPPED (as Kafka Connect, which
    /// writes an empty task list on stop), its committed task configs otherwise. The configs
    /// are kept, so a resume brings the same tasks back.
    pub fn active_tasks(&self) -> &[Properties] {
        if self.target == TargetState::Stopped {
            &[]
        } else {
            &self.tasks
        }
    }
}

/// The whole cluster's connector configuration.
#[derive(Debug, Clone, Default)]
pub struct ClusterConfig {
    pub connectors: BTreeMap<String, ConnectorEntry>,
    /// Target states may be written before the connector record; kept aside until then.
    targets: BTreeMap<String, TargetState>,
    /// Task configs written but not committed yet.
    pending_tasks: BTreeMap<String, BTreeMap<usize, Properties>>,
    /// Latest restart request per task: the offset of its `restart-task-<c>-<n>` record.
    /// A task started before that offset is restarted by its worker.
    pub task_restarts: BTreeMap<(String, usize), i64>,
}

#[derive(Serialize, Deserialize)]
struct PropertiesValue {
    properties: Properties,
}

#[derive(Deserialize)]
struct CommitValue {
    tasks: usize,
}

#[derive(Deserialize)]
struct TargetValue {
    state: Option<String>,
    #[serde(rename = "state.v2")]
    state_v2: Option<String>,
}

fn parse_target(value: &[u8]) -> Option<TargetState> {
    let v: TargetValue = serde_json::from_slice(value).ok()?;
    match v.state_v2.or(v.state)?.as_str() {
        "STARTED" | "RUNNING" => Some(TargetState::Running),
        "PAUSED" => Some(TargetState::Paused),
        "STOPPED" => Some(TargetState::Stopped),
        _ => None,
    }
}

impl LogState for ClusterConfig {
    fn apply(&mut self, key: &str, value: Option<&[u8]>, offset: i64) {
        if let Some(name) = key.strip_prefix("connector-") {
            match value.and_then(|v| serde_json::from_slice::<PropertiesValue>(v).ok()) {
                Some(v) => {
                    let target = self.targets.get(name).copied().unwrap_or(TargetState::Running);
                    self.connectors
                        .entry(name.to_owned())
                        .and_modify(|e| e.config = v.properties.clone())
                        .or_insert(ConnectorEntry { config: v.properties, target, tasks: Vec::new() });
                }
                None => {
                    self.connectors.remove(name);
                    self.targets.remove(name);
                    self.pending_tasks.remove(name);
                    self.task_restarts.retain(|(c, _), _| c != name);
                }
            }
        } else if let Some(name) = key.strip_prefix("target-state-") {
            match value.and_then(parse_target) {
                Some(target) => {
                    self.targets.insert(name.to_owned(), target);
                    if let Some(c) = self.connectors.get_mut(name) {
                        c.target = target;
                    }
                }
                None => {
                    self.targets.remove(name);
                }
            }
        } else if let Some(rest) = key.strip_prefix("restart-task-") {
            if let Some((name, n)) = rest.rsplit_once('-').and_then(|(c, n)| Some((c, n.parse::<usize>().ok()?))) {
                self.task_restarts.insert((name.to_owned(), n), offset);
            }
        } else if let Some(rest) = key.strip_prefix("task-") {
            let Some((name, n)) = rest.rsplit_once('-').and_then(|(c, n)| Some((c, n.parse::<usize>().ok()?))) else {
                return;
            };
            if let Some(v) = value.and_then(|v| serde_json::from_slice::<PropertiesValue>(v).ok()) {
                self.pending_tasks.entry(name.to_owned()).or_default().insert(n, v.properties);
            }
        } else if let Some(name) = key.strip_prefix("commit-") {
            let Some(commit) = value.and_then(|v| serde_json::from_slice::<CommitValue>(v).ok()) else { return };
            let pending = self.pending_tasks.remove(name).unwrap_or_default();
            let tasks: Option<Vec<Properties>> = (0..commit.tasks).map(|i| pending.get(&i).cloned()).collect();
            match (tasks, self.connectors.get_mut(name)) {
                (Some(tasks), Some(c)) => c.tasks = tasks,
                (None, _) => {
                    tracing::warn!(connector = %name, offset, "Config topic commit names tasks that were never written; ignoring it.")
                }
                (_, None) => {}
            }
        }
    }
}

/// Records that create or replace a connector and its tasks, in the order Kafka Connect writes them.
pub fn connector_records(name: &str, config: &Properties, tasks: &[Properties]) -> Vec<(String, Option<Vec<u8>>)> {
    let props = |p: &Properties| serde_json::to_vec(&json!({ "properties": p })).ok();
    let mut out = vec![(format!("connector-{name}"), props(config))];
    for (i, t) in tasks.iter().enumerate() {
        out.push((format!("task-{name}-{i}"), props(t)));
    }
    out.push((format!("commit-{name}"), serde_json::to_vec(&json!({ "tasks": tasks.len() })).ok()));
    out
}

/// The record that sets a connector's target state.
pub fn target_state_record(name: &str, target: TargetState) -> (String, Option<Vec<u8>>) {
    // `state` is what pre-3.5 workers read; STOPPED looks PAUSED to them, as in Kafka Connect.
    let (v1, v2) = match target {
        TargetState::Running => ("STARTED", "STARTED"),
        TargetState::Paused => ("PAUSED", "PAUSED"),
        TargetState::Stopped => ("PAUSED", "STOPPED"),
    };
    (format!("target-state-{name}"), serde_json::to_vec(&json!({ "state": v1, "state.v2": v2 })).ok())
}

/// The record asking whichever worker runs a task to restart it (Sluice's own key; Kafka
/// Connect ignores keys it does not know).
pub fn restart_task_record(name: &str, task: usize) -> (String, Option<Vec<u8>>) {
    (format!("restart-task-{name}-{task}"), Some(b"{}".to_vec()))
}

/// Records that delete a connector.
pub fn delete_records(name: &str) -> Vec<(String, Option<Vec<u8>>)> {
    vec![(format!("connector-{name}"), None), (format!("target-state-{name}"), None)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply_all(records: &[(String, Option<Vec<u8>>)]) -> ClusterConfig {
        let mut state = ClusterConfig::default();
        for (i, (k, v)) in records.iter().enumerate() {
            state.apply(k, v.as_deref(), i as i64);
        }
        state
    }

    fn props(pairs: &[(&str, &str)]) -> Properties {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn connector_tasks_and_target_state_round_trip() {
        let config = props(&[("connector.class", "ClickHouseSink"), ("tasks.max", "2")]);
        let mut records = connector_records("my-sink-1", &config, &[config.clone(), config.clone()]);
        records.push(target_state_record("my-sink-1", TargetState::Stopped));
        let state = apply_all(&records);
        let c = &state.connectors["my-sink-1"];
        assert_eq!(c.config, config);
        assert_eq!(c.tasks.len(), 2);
        assert_eq!(c.target, TargetState::Stopped);
    }

    #[test]
    fn kafka_connect_written_records_are_understood() {
        let records: Vec<(String, Option<Vec<u8>>)> = vec![
            ("target-state-c".into(), Some(br#"{"state":"PAUSED"}"#.to_vec())),
            ("connector-c".into(), Some(br#"{"properties":{"name":"c","topics":"t"}}"#.to_vec())),
            ("task-c-0".into(), Some(br#"{"properties":{"name":"c","task.class":"X"}}"#.to_vec())),
            ("commit-c".into(), Some(br#"{"tasks":1}"#.to_vec())),
        ];
        let state = apply_all(&records);
        assert_eq!(state.connectors["c"].target, TargetState::Paused, "target written before the connector");
        assert_eq!(state.connectors["c"].tasks[0]["task.class"], "X");
    }

    #[test]
    fn restart_requests_carry_their_offset() {
        let config = props(&[("a", "1")]);
        let mut records = connector_records("c-1", &config, &[config.clone(), config.clone()]);
        records.push(restart_task_record("c-1", 1));
        let state = apply_all(&records);
        assert_eq!(state.task_restarts.get(&("c-1".to_owned(), 1)), Some(&(records.len() as i64 - 1)));
        assert_eq!(state.task_restarts.len(), 1);
    }

    #[test]
    fn tasks_take_effect_only_when_committed_and_tombstones_delete() {
        let config = props(&[("a", "1")]);
        let mut records = connector_records("c", &config, std::slice::from_ref(&config));
        records.push(("task-c-0".into(), Some(br#"{"properties":{"a":"2"}}"#.to_vec())));
        let state = apply_all(&records);
        assert_eq!(state.connectors["c"].tasks[0]["a"], "1", "uncommitted task config is not applied");
        records.extend(delete_records("c"));
        assert!(apply_all(&records).connectors.is_empty());
    }
}
