//! The herder (Kafka Connect's name): owns every connector on this worker, validates and
//! stores configs, starts, pauses, resumes and stops tasks, and answers status questions.
//! The REST API is a thin layer over it.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use sluice_api::{ConnectError, ConnectorConfig, PluginRegistry, SinkConnector};
use tokio::sync::Mutex;

use crate::runtime::TaskHandle;
use crate::status::{State, Status, TargetState, TaskStatusCell};
use crate::store::{ConfigStore, StoreError, StoredConnector};
use crate::worker::Worker;
use crate::worker_config::WorkerConfig;

/// Connector config keys every sink connector has (Kafka Connect's `SinkConnectorConfig`).
pub mod keys {
    pub const NAME: &str = "name";
    pub const CONNECTOR_CLASS: &str = "connector.class";
    pub const TASKS_MAX: &str = "tasks.max";
    pub const TOPICS: &str = "topics";
    pub const TOPICS_REGEX: &str = "topics.regex";
    pub const TRANSFORMS: &str = "transforms";
}

/// Why a herder operation was refused. The REST layer maps each to Kafka Connect's status code.
#[derive(Debug, thiserror::Error)]
pub enum HerderError {
    #[error("Connector {0} not found")]
    NotFound(String),
    #[error("Connector {0} already exists")]
    AlreadyExists(String),
    /// The config has problems; each error names its key.
    #[error("Connector configuration is invalid and contains the following {} error(s):\n{}\nYou can also find the above list of errors at the endpoint `/connector-plugins/{{connectorType}}/config/validate`", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    InvalidConfig(Vec<ConnectError>),
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Kafka (the config or status topic) could not be reached in time.
    #[error("The cluster's config topic is not reachable: {0}")]
    Unavailable(String),
}

/// `{"connector","task"}`: a task's id in REST bodies.
#[derive(Debug, Clone, Serialize)]
pub struct TaskId {
    pub connector: String,
    pub task: usize,
}

/// `GET /connectors/{c}` body.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectorInfo {
    pub name: String,
    pub config: BTreeMap<String, String>,
    pub tasks: Vec<TaskId>,
    #[serde(rename = "type")]
    pub connector_type: &'static str,
}

/// One task in a status body.
#[derive(Debug, Clone, Serialize)]
pub struct TaskState {
    pub id: usize,
    #[serde(flatten)]
    pub status: Status,
}

/// `GET /connectors/{c}/status` body.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectorStateInfo {
    pub name: String,
    pub connector: Status,
    pub tasks: Vec<TaskState>,
    #[serde(rename = "type")]
    pub connector_type: &'static str,
}

/// `GET /connectors/{c}/tasks` element.
#[derive(Debug, Clone, Serialize)]
pub struct TaskInfo {
    pub id: TaskId,
    pub config: BTreeMap<String, String>,
}

struct ConnectorEntry {
    config: ConnectorConfig,
    target: TargetState,
    /// The connector's own status (tasks have theirs).
    status: Status,
    tasks: Vec<TaskHandle>,
}

/// Owns the connectors of a standalone worker.
pub struct Herder {
    worker: Worker,
    store: ConfigStore,
    connectors: Mutex<BTreeMap<String, ConnectorEntry>>,
}

impl Herder {
    /// Creates the herder and starts every connector found in the store.
    pub async fn start(
        worker: Arc<WorkerConfig>,
        plugins: Arc<PluginRegistry>,
        store: ConfigStore,
    ) -> Result<Arc<Self>, StoreError> {
        let herder =
            Arc::new(Herder { worker: Worker::new(worker, plugins), store, connectors: Mutex::new(BTreeMap::new()) });
        let stored = herder.store.connectors()?;
        let mut connectors = herder.connectors.lock().await;
        for (name, stored) in stored {
            tracing::info!(connector = %name, target = ?stored.target_state, "Restoring connector from the state store.");
            let entry = herder.launch(&name, ConnectorConfig::new(stored.config), stored.target_state);
            connectors.insert(name, entry);
        }
        drop(connectors);
        Ok(herder)
    }

    pub fn worker_id(&self) -> &str {
        self.worker.id()
    }

    pub fn plugins(&self) -> &PluginRegistry {
        &self.worker.plugins
    }

    pub async fn connector_names(&self) -> Vec<String> {
        self.connectors.lock().await.keys().cloned().collect()
    }

    /// Checks a connector config; every problem found is returned, each naming its key.
    pub fn validate(&self, config: &ConnectorConfig) -> Result<Arc<dyn SinkConnector>, HerderError> {
        self.worker.validate(config)
    }

    /// Starts the tasks of a validated connector; a config that no longer validates (e.g. a
    /// plugin that went away) leaves the connector FAILED instead.
    fn launch(&self, name: &str, config: ConnectorConfig, target: TargetState) -> ConnectorEntry {
        let worker_id = self.worker_id();
        let connector = match self.validate(&config) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(connector = %name, error = %e, "Connector config is invalid; connector marked FAILED.");
                return ConnectorEntry {
                    config,
                    target,
                    status: Status::failed(worker_id, e.to_string()),
                    tasks: Vec::new(),
                };
            }
        };
        let mut tasks = Vec::new();
        if target != TargetState::Stopped {
            let max_tasks = config.int_or(keys::TASKS_MAX, 1, 1, i32::MAX as i64).unwrap_or(1) as usize;
            for (task_id, task_config) in connector.task_configs(&config, max_tasks).into_iter().enumerate() {
                let status = TaskStatusCell::new(name, task_id, self.worker_id(), self.store.status_backend());
                tasks.push(self.worker.start_task(name, task_id, task_config, &*connector, target, status));
            }
        }
        ConnectorEntry { config, target, status: Status::new(target.healthy_state(), worker_id), tasks }
    }

    fn info(name: &str, entry: &ConnectorEntry) -> ConnectorInfo {
        ConnectorInfo {
            name: name.to_owned(),
            config: entry.config.as_map().clone(),
            tasks: (0..entry.tasks.len()).map(|task| TaskId { connector: name.to_owned(), task }).collect(),
            connector_type: "sink",
        }
    }

    /// `POST /connectors`.
    pub async fn create_connector(
        &self,
        name: &str,
        config: BTreeMap<String, String>,
        initial: TargetState,
    ) -> Result<ConnectorInfo, HerderError> {
        let config = ConnectorConfig::new(config);
        let mut connectors = self.connectors.lock().await;
        if connectors.contains_key(name) {
            return Err(HerderError::AlreadyExists(name.to_owned()));
        }
        self.validate(&config)?;
        self.store
            .put_connector(name, &StoredConnector { config: config.as_map().clone(), target_state: initial })
            .await?;
        let entry = self.launch(name, config, initial);
        let info = Self::info(name, &entry);
        connectors.insert(name.to_owned(), entry);
        tracing::info!(connector = %name, "Connector created.");
        Ok(info)
    }

    /// `PUT /connectors/{c}/config`: creates or replaces; the flag says whether it created.
    pub async fn put_connector_config(
        &self,
        name: &str,
        config: BTreeMap<String, String>,
    ) -> Result<(bool, ConnectorInfo), HerderError> {
        let config = ConnectorConfig::new(config);
        self.validate(&config)?;
        let mut connectors = self.connectors.lock().await;
        let (created, target) = match connectors.remove(name) {
            Some(old) => {
                Worker::stop_tasks(old.tasks).await;
                (false, old.target)
            }
            None => (true, TargetState::Running),
        };
        self.store
            .put_connector(name, &StoredConnector { config: config.as_map().clone(), target_state: target })
            .await?;
        let entry = self.launch(name, config, target);
        let info = Self::info(name, &entry);
        connectors.insert(name.to_owned(), entry);
        tracing::info!(connector = %name, created, "Connector config stored.");
        Ok((created, info))
    }

    pub async fn connector_info(&self, name: &str) -> Result<ConnectorInfo, HerderError> {
        let connectors = self.connectors.lock().await;
        let entry = connectors.get(name).ok_or_else(|| HerderError::NotFound(name.to_owned()))?;
        Ok(Self::info(name, entry))
    }

    pub async fn connector_config(&self, name: &str) -> Result<BTreeMap<String, String>, HerderError> {
        Ok(self.connector_info(name).await?.config)
    }

    pub async fn connector_status(&self, name: &str) -> Result<ConnectorStateInfo, HerderError> {
        let connectors = self.connectors.lock().await;
        let entry = connectors.get(name).ok_or_else(|| HerderError::NotFound(name.to_owned()))?;
        Ok(ConnectorStateInfo {
            name: name.to_owned(),
            connector: entry.status.clone(),
            tasks: entry.tasks.iter().enumerate().map(|(id, t)| TaskState { id, status: t.status.get() }).collect(),
            connector_type: "sink",
        })
    }

    pub async fn task_infos(&self, name: &str) -> Result<Vec<TaskInfo>, HerderError> {
        let connectors = self.connectors.lock().await;
        let entry = connectors.get(name).ok_or_else(|| HerderError::NotFound(name.to_owned()))?;
        Ok(entry
            .tasks
            .iter()
            .enumerate()
            .map(|(task, t)| TaskInfo {
                id: TaskId { connector: name.to_owned(), task },
                config: t.config.as_map().clone(),
            })
            .collect())
    }

    /// `PUT /connectors/{c}/pause` and `/resume`.
    pub async fn set_target_state(&self, name: &str, target: TargetState) -> Result<(), HerderError> {
        let mut connectors = self.connectors.lock().await;
        let entry = connectors.get_mut(name).ok_or_else(|| HerderError::NotFound(name.to_owned()))?;
        if entry.target == target {
            return Ok(());
        }
        self.store
            .put_connector(name, &StoredConnector { config: entry.config.as_map().clone(), target_state: target })
            .await?;
        entry.target = target;
        if entry.status.state != State::Failed {
            entry.status = Status::new(target.healthy_state(), self.worker_id());
        }
        for t in &entry.tasks {
            let _ = t.control.send(target);
        }
        tracing::info!(connector = %name, ?target, "Connector target state changed.");
        Ok(())
    }

    /// `DELETE /connectors/{c}`.
    pub async fn delete_connector(&self, name: &str) -> Result<(), HerderError> {
        let mut connectors = self.connectors.lock().await;
        let entry = connectors.remove(name).ok_or_else(|| HerderError::NotFound(name.to_owned()))?;
        Worker::stop_tasks(entry.tasks).await;
        self.store.remove_connector(name).await?;
        tracing::info!(connector = %name, "Connector deleted.");
        Ok(())
    }

    /// Stops every task, committing what is durable.
    pub async fn shutdown(&self) {
        let mut connectors = self.connectors.lock().await;
        let tasks: Vec<TaskHandle> = connectors.values_mut().flat_map(|e| e.tasks.drain(..)).collect();
        Worker::stop_tasks(tasks).await;
    }
}
