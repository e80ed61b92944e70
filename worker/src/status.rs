//! Connector and task states, as the REST API and the status store name them.

use serde::{Deserialize, Serialize};

/// The state of a connector or task (Kafka Connect's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum State {
    Unassigned,
    Running,
    Paused,
    Failed,
    Restarting,
    Stopped,
}

/// What the user asked a connector to be doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TargetState {
    #[serde(alias = "STARTED")]
    Running,
    Paused,
    Stopped,
}

impl TargetState {
    /// The state a healthy connector or task shows under this target.
    pub fn healthy_state(self) -> State {
        match self {
            TargetState::Running => State::Running,
            TargetState::Paused => State::Paused,
            TargetState::Stopped => State::Stopped,
        }
    }
}

/// Status of one connector or task: `{"state","worker_id","trace"?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub state: State,
    pub worker_id: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub trace: Option<String>,
}

impl Status {
    pub fn new(state: State, worker_id: &str) -> Self {
        Status { state, worker_id: worker_id.to_owned(), trace: None }
    }

    pub fn failed(worker_id: &str, trace: String) -> Self {
        Status { state: State::Failed, worker_id: worker_id.to_owned(), trace: Some(trace) }
    }
}

/// Where task status changes are recorded: the sled store (standalone) or the status topic
/// (distributed).
pub trait StatusBackend: Send + Sync {
    fn put_task_status(&self, connector: &str, task: usize, status: &Status);

    /// Records that a task of `connector` consumed records from `topic`, for
    /// `GET /connectors/{c}/topics`. Called once per batch and topic, so it should be cheap
    /// when the topic is already recorded. The default records nothing.
    fn record_active_topic(&self, _connector: &str, _topic: &str) {}
}

/// The live status of one task, shared by its runner (writer) and the REST API (reader), and
/// handed to the status backend on every change.
#[derive(Clone)]
pub struct TaskStatusCell {
    connector: String,
    task: usize,
    worker_id: String,
    current: std::sync::Arc<std::sync::Mutex<Status>>,
    backend: std::sync::Arc<dyn StatusBackend>,
}

impl TaskStatusCell {
    pub fn new(connector: &str, task: usize, worker_id: &str, backend: std::sync::Arc<dyn StatusBackend>) -> Self {
        TaskStatusCell {
            connector: connector.to_owned(),
            task,
            worker_id: worker_id.to_owned(),
            current: std::sync::Arc::new(std::sync::Mutex::new(Status::new(State::Unassigned, worker_id))),
            backend,
        }
    }

    /// The connector the task belongs to.
    pub fn connector(&self) -> &str {
        &self.connector
    }

    /// The task's number.
    pub fn task(&self) -> usize {
        self.task
    }

    /// A handle that reads the task's state while the task exists (while its handle or its
    /// runner holds a clone of this cell), without keeping it.
    pub fn downgrade(&self) -> WeakTaskStatus {
        WeakTaskStatus(std::sync::Arc::downgrade(&self.current))
    }

    pub fn get(&self) -> Status {
        self.current.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn put(&self, status: Status) {
        self.backend.put_task_status(&self.connector, self.task, &status);
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = status;
    }

    pub fn set(&self, state: State) {
        if self.get().state != state {
            self.put(Status::new(state, &self.worker_id));
        }
    }

    /// Shows (or clears) a problem the task is riding out, such as Kafka being unreachable, in
    /// `trace` without changing the state: the task is still RUNNING and will catch up.
    pub fn set_problem(&self, problem: Option<String>) {
        let current = self.get();
        if current.state != State::Failed && current.trace != problem {
            self.put(Status { trace: problem, ..current });
        }
    }

    /// Records that this task consumed records from `topic` (see [`StatusBackend::record_active_topic`]).
    pub fn record_active_topic(&self, topic: &str) {
        self.backend.record_active_topic(&self.connector, topic);
    }

    pub fn fail(&self, trace: String) {
        self.put(Status::failed(&self.worker_id, trace));
    }
}

/// What [`TaskStatusCell::downgrade`] returns.
#[derive(Clone)]
pub struct WeakTaskStatus(std::sync::Weak<std::sync::Mutex<Status>>);

impl WeakTaskStatus {
    /// The task's state; `None` once every clone of its cell is gone (the task was stopped).
    pub fn state(&self) -> Option<State> {
        self.0.upgrade().map(|current| current.lock().unwrap_or_else(|p| p.into_inner()).state)
    }
}
