//! Task states, read from the tasks' status cells when Prometheus scrapes: one
//! `sluice_task_state` series per task and state (1 for the task's state, 0 for the others),
//! and `sluice_connector_task_count` per connector and state (Kafka Connect's
//! `connector-running-task-count` and its siblings), both for the tasks on this worker.

use std::collections::BTreeMap;
use std::sync::Mutex;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet};
use prometheus_client::metrics::MetricType;

use super::{ConnectorLabels, TaskLabels};
use crate::status::{State, TaskStatusCell, WeakTaskStatus};

/// Every state, in the order the series list them.
const STATES: [State; 6] =
    [State::Unassigned, State::Running, State::Paused, State::Failed, State::Restarting, State::Stopped];

/// The state as the REST API spells it.
fn state_name(state: State) -> &'static str {
    match state {
        State::Unassigned => "UNASSIGNED",
        State::Running => "RUNNING",
        State::Paused => "PAUSED",
        State::Failed => "FAILED",
        State::Restarting => "RESTARTING",
        State::Stopped => "STOPPED",
    }
}

/// The status cells of the tasks this worker runs, by connector and task number. A stopped
/// task's cell is dropped with its handle, and its entry goes at the next scrape.
#[derive(Default)]
pub struct TaskStates {
    cells: Mutex<BTreeMap<(String, usize), WeakTaskStatus>>,
}

impl std::fmt::Debug for TaskStates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskStates").finish_non_exhaustive()
    }
}

impl TaskStates {
    pub(super) fn track(&self, cell: &TaskStatusCell) {
        let key = (cell.connector().to_owned(), cell.task());
        self.cells.lock().unwrap_or_else(|p| p.into_inner()).insert(key, cell.downgrade());
    }

    /// `(connector, task, state)` of every task that still exists; forgets the others.
    fn snapshot(&self) -> Vec<(String, usize, State)> {
        let mut cells = self.cells.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = Vec::with_capacity(cells.len());
        cells.retain(|(c, t), cell| match cell.state() {
            Some(state) => {
                out.push((c.clone(), *t, state));
                true
            }
            None => false,
        });
        out
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskStateLabels {
    #[prometheus(flatten)]
    task: TaskLabels,
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConnectorStateLabels {
    #[prometheus(flatten)]
    connector: ConnectorLabels,
    state: &'static str,
}

impl Collector for TaskStates {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let tasks = self.snapshot();
        let mut per_task = encoder.encode_descriptor(
            "sluice_task_state",
            "1 for the state a task on this worker is in, 0 for the other states (Kafka Connect's task status).",
            None,
            MetricType::Gauge,
        )?;
        let mut counts: BTreeMap<&str, [i64; STATES.len()]> = BTreeMap::new();
        for (connector, task, state) in &tasks {
            let count = counts.entry(connector).or_default();
            for (i, s) in STATES.iter().enumerate() {
                let labels = TaskStateLabels {
                    task: TaskLabels { connector: connector.clone(), task: *task },
                    state: state_name(*s),
                };
                let on = i64::from(s == state);
                count[i] += on;
                per_task.encode_family(&labels)?.encode_gauge(&on)?;
            }
        }
        let mut per_connector = encoder.encode_descriptor(
            "sluice_connector_task_count",
            "Tasks of a connector on this worker in each state (connector-running-task-count, -paused-, -failed-, ...).",
            None,
            MetricType::Gauge,
        )?;
        for (connector, count) in counts {
            for (i, s) in STATES.iter().enumerate() {
                let labels = ConnectorStateLabels {
                    connector: ConnectorLabels { connector: connector.to_owned() },
                    state: state_name(*s),
                };
                per_connector.encode_family(&labels)?.encode_gauge(&count[i])?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::metrics::Metrics;
    use crate::status::{Status, StatusBackend};

    struct NoBackend;
    impl StatusBackend for NoBackend {
        fn put_task_status(&self, _: &str, _: usize, _: &Status) {}
    }

    #[test]
    fn task_states_are_read_at_scrape_time() {
        let metrics = Metrics::new();
        let backend: Arc<dyn StatusBackend> = Arc::new(NoBackend);
        let a = TaskStatusCell::new("c", 0, "w:1", backend.clone());
        let b = TaskStatusCell::new("c", 1, "w:1", backend.clone());
        metrics.track_task(&a);
        metrics.track_task(&b);
        a.set(State::Running);
        b.fail("boom".into());
        let text = metrics.render().unwrap();
        assert!(text.contains(r#"sluice_task_state{connector="c",task="0",state="RUNNING"} 1"#), "{text}");
        assert!(text.contains(r#"sluice_task_state{connector="c",task="0",state="FAILED"} 0"#), "{text}");
        assert!(text.contains(r#"sluice_task_state{connector="c",task="1",state="FAILED"} 1"#), "{text}");
        assert!(text.contains(r#"sluice_connector_task_count{connector="c",state="RUNNING"} 1"#), "{text}");
        assert!(text.contains(r#"sluice_connector_task_count{connector="c",state="FAILED"} 1"#), "{text}");

        // Task 0 restarted with a new cell; the old one is dropped with its handle.
        let a2 = TaskStatusCell::new("c", 0, "w:1", backend);
        metrics.track_task(&a2);
        drop(a);
        let text = metrics.render().unwrap();
        assert!(text.contains(r#"sluice_task_state{connector="c",task="0",state="UNASSIGNED"} 1"#), "{text}");
        // Stopped tasks (every clone of their cell dropped) leave.
        drop((a2, b));
        assert!(!metrics.render().unwrap().contains("sluice_task_state{"));
    }
}
