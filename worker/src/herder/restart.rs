//! `POST /connectors/{c}/restart?includeTasks=&onlyFailed=`: which instances a restart
//! request covers (Kafka Connect's `RestartRequest` and `RestartPlan`), shared by both herders.

use super::{ConnectorStateInfo, TaskState};
use crate::status::{State, Status};

/// What a restart request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RestartRequest {
    /// Restart only instances that are FAILED.
    pub only_failed: bool,
    /// Restart the connector's tasks too, not only the connector.
    pub include_tasks: bool,
}

impl RestartRequest {
    /// Both flags false: restart the connector instance only, the pre-KIP-745 behaviour that
    /// answers 204 without a body.
    pub fn connector_only(self) -> bool {
        !self.only_failed && !self.include_tasks
    }

    /// Whether the connector instance with this status is restarted.
    pub fn restarts_connector(self, status: &Status) -> bool {
        !self.only_failed || status.state == State::Failed
    }

    /// Whether a task with this status is restarted.
    pub fn restarts_task(self, status: &Status) -> bool {
        self.include_tasks && (!self.only_failed || status.state == State::Failed)
    }

    /// The status to answer with: every instance the request restarts shows RESTARTING, the
    /// others their current state. Also returns the ids of the tasks to restart.
    pub fn plan(self, current: &ConnectorStateInfo) -> (ConnectorStateInfo, Vec<usize>) {
        let restarting = |status: &Status| Status::new(State::Restarting, &status.worker_id);
        let mut answer = current.clone();
        if self.restarts_connector(&current.connector) {
            answer.connector = restarting(&current.connector);
        }
        let mut task_ids = Vec::new();
        for task in &mut answer.tasks {
            if self.restarts_task(&task.status) {
                task_ids.push(task.id);
                *task = TaskState { id: task.id, status: restarting(&task.status) };
            }
        }
        (answer, task_ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_info(connector: State, tasks: &[State]) -> ConnectorStateInfo {
        ConnectorStateInfo {
            name: "c".into(),
            connector: Status::new(connector, "w:8083"),
            tasks: tasks
                .iter()
                .enumerate()
                .map(|(id, s)| TaskState { id, status: Status::new(*s, "w:8083") })
                .collect(),
            connector_type: "sink",
        }
    }

    fn states(info: &ConnectorStateInfo) -> (State, Vec<State>) {
        (info.connector.state, info.tasks.iter().map(|t| t.status.state).collect())
    }

    #[test]
    fn only_failed_with_tasks_restarts_just_the_failed_ones() {
        let current = status_info(State::Running, &[State::Running, State::Failed, State::Paused]);
        let request = RestartRequest { only_failed: true, include_tasks: true };
        let (answer, ids) = request.plan(&current);
        assert_eq!(ids, [1]);
        assert_eq!(states(&answer), (State::Running, vec![State::Running, State::Restarting, State::Paused]));
        assert!(answer.tasks[1].status.trace.is_none(), "a restarting task has no trace yet");
    }

    #[test]
    fn include_tasks_restarts_everything_and_connector_only_is_204() {
        let current = status_info(State::Running, &[State::Running, State::Failed]);
        let (answer, ids) = RestartRequest { only_failed: false, include_tasks: true }.plan(&current);
        assert_eq!(ids, [0, 1]);
        assert_eq!(states(&answer), (State::Restarting, vec![State::Restarting, State::Restarting]));

        let (answer, ids) = RestartRequest { only_failed: true, include_tasks: false }.plan(&current);
        assert!(ids.is_empty());
        assert_eq!(states(&answer), (State::Running, vec![State::Running, State::Failed]));

        assert!(RestartRequest::default().connector_only());
        assert!(!RestartRequest { only_failed: true, include_tasks: false }.connector_only());
    }

    #[test]
    fn a_failed_connector_restarts_under_only_failed() {
        let current = status_info(State::Failed, &[]);
        let (answer, _) = RestartRequest { only_failed: true, include_tasks: false }.plan(&current);
        assert_eq!(answer.connector.state, State::Restarting);
    }
}
