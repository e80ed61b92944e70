//! The herder (Kafka Connect's name): owns the connectors, validates and stores configs,
//! starts, pauses, resumes, stops and restarts tasks, and answers status questions. The REST
//! API is a thin layer over [`ConnectHerder`], which both modes implement: the standalone
//! [`Herder`] here and the distributed one in [`crate::distributed`].
//!
//! - this module: the trait, the types both herders answer with, and [`HerderError`];
//! - [`standalone`]: the standalone herder (state in sled);
//! - [`restart`]: which instances a restart request covers;
//! - [`offsets`]: sink offsets (the consumer group `connect-<name>`) read and changed in Kafka;
//! - [`validation`]: config definitions and validation results for `/connector-plugins`.

pub mod offsets;
pub mod restart;
pub mod standalone;
pub mod validation;

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::Serialize;
use sluice_api::{ConnectError, PluginRegistry};

use crate::logging::LoggerLevel;
use crate::status::{State, Status, TargetState};
use crate::store::StoreError;
use crate::worker::Worker;
use offsets::{ConnectorOffsets, GroupOffsets, OffsetChanges};
use restart::RestartRequest;
pub use standalone::Herder;
use validation::{ConfigInfos, ConfigKeyInfo};

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
    /// `PUT /connectors/{c}/tasks/{n}/restart` for a task the connector does not have.
    #[error("Task {connector}-{task} not found")]
    TaskNotFound { connector: String, task: usize },
    /// `GET /connectors/{c}/tasks/{n}/status` for a task with no status.
    #[error("No status found for task {connector}-{task}")]
    TaskStatusNotFound { connector: String, task: usize },
    #[error("Unknown plugin {0}.")]
    UnknownPlugin(String),
    #[error("Logger {0} not found.")]
    LoggerNotFound(String),
    /// Kafka Connect answers an unknown level with 404 and this message.
    #[error("invalid log level '{0}'.")]
    InvalidLogLevel(String),
    /// Something outside the request went wrong (e.g. Kafka refused an offsets change).
    #[error("{0}")]
    Internal(String),
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

impl ConnectorInfo {
    /// The info as REST answers show it: secrets as `[hidden]`.
    pub fn hiding_secrets(mut self, worker: &Worker) -> Self {
        self.config = worker.hide_secrets(&self.config);
        self
    }
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

impl TaskInfo {
    /// The task as REST answers show it: secrets as `[hidden]`.
    pub fn hiding_secrets(mut self, worker: &Worker) -> Self {
        self.config = worker.hide_secrets(&self.config);
        self
    }
}

/// What `GET /health` reports (Kafka Connect's `WorkerStatus`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerHealth {
    /// Started and able to handle requests (200).
    Healthy,
    /// Still starting (503); the detail says which stage, when known.
    Starting(Option<String>),
    /// Started but unable to handle requests in time (500).
    Unhealthy(Option<String>),
}

/// `GET /sluice/cluster`: this worker's view of its cluster (Sluice's own endpoint).
#[derive(Debug, Clone, Serialize)]
pub struct ClusterInfo {
    /// This worker's advertised `host:port`.
    pub worker_id: String,
    /// Whether this worker is the group's leader (always true for a standalone worker).
    pub leader: bool,
    /// The live workers' ids, sorted (as last listed by the group coordinator).
    pub members: Vec<String>,
    /// Whether this worker is in the group now. A worker cut off from Kafka for longer than a
    /// session is not, and runs no tasks until it rejoins.
    pub joined: bool,
}

/// Every operation the REST API needs from a herder. Both the standalone and the distributed
/// herder implement it; the REST layer holds an `Arc<dyn ConnectHerder>`.
///
/// The provided methods are the same in both modes: they are written against the required
/// ones and the shared [`Worker`]. A herder overrides one where its state allows better (the
/// standalone herder patches configs under its lock, for instance).
#[async_trait]
pub trait ConnectHerder: Send + Sync {
    /// The worker this herder runs tasks on (plugins, worker config, log levels).
    fn worker(&self) -> &Worker;

    /// The worker's advertised `host:port`, shown as `worker_id` in statuses.
    fn worker_id(&self) -> &str {
        self.worker().id()
    }

    /// The installed plugins (`GET /connector-plugins`).
    fn plugins(&self) -> &PluginRegistry {
        &self.worker().plugins
    }

    /// `GET /sluice/cluster`. A standalone worker is a cluster of one.
    fn cluster_info(&self) -> ClusterInfo {
        ClusterInfo {
            worker_id: self.worker_id().to_owned(),
            leader: true,
            members: vec![self.worker_id().to_owned()],
            joined: true,
        }
    }

    /// `GET /health`.
    async fn health_check(&self) -> WorkerHealth {
        WorkerHealth::Healthy
    }

    /// `GET /connectors`: the names of all connectors, sorted.
    async fn connector_names(&self) -> Vec<String>;

    /// `POST /connectors`: fails with [`HerderError::AlreadyExists`] if the name is taken.
    async fn create_connector(
        &self,
        name: &str,
        config: BTreeMap<String, String>,
        initial: TargetState,
    ) -> Result<ConnectorInfo, HerderError>;

    /// `PUT /connectors/{c}/config`: creates or replaces; the flag says whether it created.
    async fn put_connector_config(
        &self,
        name: &str,
        config: BTreeMap<String, String>,
    ) -> Result<(bool, ConnectorInfo), HerderError>;

    /// `PATCH /connectors/{c}/config`: merges `patch` into the config; `None` removes the key.
    async fn patch_connector_config(
        &self,
        name: &str,
        patch: BTreeMap<String, Option<String>>,
    ) -> Result<ConnectorInfo, HerderError> {
        let config = patch_config(self.connector_config(name).await?, patch);
        Ok(self.put_connector_config(name, config).await?.1)
    }

    /// `GET /connectors/{c}`.
    async fn connector_info(&self, name: &str) -> Result<ConnectorInfo, HerderError>;

    /// `GET /connectors/{c}/config`.
    async fn connector_config(&self, name: &str) -> Result<BTreeMap<String, String>, HerderError>;

    /// `GET /connectors/{c}/status`.
    async fn connector_status(&self, name: &str) -> Result<ConnectorStateInfo, HerderError>;

    /// `GET /connectors/{c}/tasks/{n}/status`.
    async fn task_status(&self, name: &str, task: usize) -> Result<TaskState, HerderError> {
        let not_found = || HerderError::TaskStatusNotFound { connector: name.to_owned(), task };
        let status = self.connector_status(name).await.map_err(|_| not_found())?;
        status.tasks.into_iter().find(|t| t.id == task).ok_or_else(not_found)
    }

    /// `GET /connectors/{c}/tasks`.
    async fn task_infos(&self, name: &str) -> Result<Vec<TaskInfo>, HerderError>;

    /// `PUT /connectors/{c}/pause`, `/resume` and `/stop`. STOPPED removes the tasks and
    /// keeps the config; leaving STOPPED starts them again.
    async fn set_target_state(&self, name: &str, target: TargetState) -> Result<(), HerderError>;

    /// `POST /connectors/{c}/restart` with both flags false: the connector instance only.
    async fn restart_connector(&self, name: &str) -> Result<(), HerderError>;

    /// `POST /connectors/{c}/restart` with `includeTasks` or `onlyFailed`: answers with the
    /// status in which every instance being restarted shows RESTARTING.
    async fn restart_connector_and_tasks(
        &self,
        name: &str,
        request: RestartRequest,
    ) -> Result<ConnectorStateInfo, HerderError>;

    /// `POST /connectors/{c}/tasks/{n}/restart`.
    async fn restart_task(&self, name: &str, task: usize) -> Result<(), HerderError>;

    /// `DELETE /connectors/{c}`.
    async fn delete_connector(&self, name: &str) -> Result<(), HerderError>;

    /// `GET /connectors/{c}/topics`: topics the connector's tasks consumed from since the last
    /// reset, sorted. As in Kafka Connect, an unknown connector simply has none.
    async fn connector_active_topics(&self, name: &str) -> Result<Vec<String>, HerderError>;

    /// `PUT /connectors/{c}/topics/reset`.
    async fn reset_connector_active_topics(&self, name: &str) -> Result<(), HerderError>;

    /// `GET /connectors/{c}/offsets`: the committed offsets of the connector's consumer group,
    /// in any state.
    async fn connector_offsets(&self, name: &str) -> Result<ConnectorOffsets, HerderError> {
        let group = group_offsets(self, name).await?;
        Ok(ConnectorOffsets::from_committed(&group.committed().await?))
    }

    /// `PATCH /connectors/{c}/offsets`; the connector must be STOPPED. Returns the message.
    async fn alter_connector_offsets(&self, name: &str, changes: OffsetChanges) -> Result<String, HerderError> {
        let group = stopped_group_offsets(self, name).await?;
        group.alter(changes).await?;
        Ok(offsets::modified_message(false))
    }

    /// `DELETE /connectors/{c}/offsets`; the connector must be STOPPED. Returns the message.
    async fn reset_connector_offsets(&self, name: &str) -> Result<String, HerderError> {
        let group = stopped_group_offsets(self, name).await?;
        group.reset().await?;
        Ok(offsets::modified_message(true))
    }

    /// `PUT /connector-plugins/{p}/config/validate`.
    async fn validate_connector_config(&self, config: BTreeMap<String, String>) -> Result<ConfigInfos, HerderError> {
        validation::config_infos(self.worker(), &config)
    }

    /// `GET /connector-plugins/{p}/config`.
    fn connector_plugin_config(&self, plugin: &str) -> Result<Vec<ConfigKeyInfo>, HerderError> {
        validation::plugin_config(self.worker(), plugin)
    }

    /// `GET /admin/loggers`.
    fn all_logger_levels(&self) -> BTreeMap<String, LoggerLevel> {
        self.worker().loggers.all_levels()
    }

    /// `GET /admin/loggers/{logger}`.
    fn logger_level(&self, logger: &str) -> Result<LoggerLevel, HerderError> {
        self.worker().loggers.level(logger).ok_or_else(|| HerderError::LoggerNotFound(logger.to_owned()))
    }

    /// `PUT /admin/loggers/{logger}`: sets the level on this worker; returns the affected loggers.
    fn set_worker_logger_level(&self, namespace: &str, level: &str) -> Result<Vec<String>, HerderError> {
        self.worker().loggers.set_level(namespace, level).map_err(|e| HerderError::InvalidLogLevel(e.0))
    }

    /// `PUT /admin/loggers/{logger}?scope=cluster`: on every worker of the cluster. A single
    /// worker is the whole cluster, so the default sets it here.
    async fn set_cluster_logger_level(&self, namespace: &str, level: &str) -> Result<(), HerderError> {
        self.set_worker_logger_level(namespace, level).map(|_| ())
    }

    /// Stops every task, committing what is durable.
    async fn shutdown(&self);
}

/// The consumer group of a sink connector, reached with its tasks' client settings.
async fn group_offsets<H: ConnectHerder + ?Sized>(herder: &H, name: &str) -> Result<GroupOffsets, HerderError> {
    // Its `consumer.override.*` settings may refer to config providers (SASL credentials).
    let config = herder.worker().resolve(&herder.connector_config(name).await?.into())?;
    let active = herder.connector_active_topics(name).await?;
    GroupOffsets::new(&herder.worker().config, name, &config, active)
}

/// [`group_offsets`], refused unless the connector is STOPPED with no tasks left.
async fn stopped_group_offsets<H: ConnectHerder + ?Sized>(herder: &H, name: &str) -> Result<GroupOffsets, HerderError> {
    let status = herder.connector_status(name).await?;
    if status.connector.state != State::Stopped || !status.tasks.is_empty() {
        return Err(offsets::not_stopped(name));
    }
    group_offsets(herder, name).await
}

/// A config sent with `[hidden]` values (as REST answers show secrets) keeps the secrets
/// `stored` for the connector; a `[hidden]` with nothing stored is an invalid config.
pub fn keep_stored_secrets(
    config: BTreeMap<String, String>,
    stored: Option<&BTreeMap<String, String>>,
) -> Result<BTreeMap<String, String>, HerderError> {
    sluice_api::secrets::restore_hidden(config, stored).map_err(HerderError::InvalidConfig)
}

/// Kafka Connect's config patch: a value replaces, `None` removes.
pub fn patch_config(
    mut config: BTreeMap<String, String>,
    patch: BTreeMap<String, Option<String>>,
) -> BTreeMap<String, String> {
    for (key, value) in patch {
        match value {
            Some(v) => config.insert(key, v),
            None => config.remove(&key),
        };
    }
    config
}

/// `Status::new` with the state a healthy instance shows under `target`.
fn healthy(target: TargetState, worker_id: &str) -> Status {
    Status::new(target.healthy_state(), worker_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_replaces_adds_and_removes_keys() {
        let config: BTreeMap<String, String> =
            [("a", "1"), ("b", "2")].into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        let patch =
            [("a".to_owned(), Some("10".to_owned())), ("b".to_owned(), None), ("c".to_owned(), Some("3".into()))];
        let patched = patch_config(config, patch.into());
        assert_eq!(patched, [("a".to_owned(), "10".to_owned()), ("c".to_owned(), "3".to_owned())].into());
    }

    #[test]
    fn errors_read_like_kafka_connect() {
        assert_eq!(HerderError::TaskNotFound { connector: "c".into(), task: 3 }.to_string(), "Task c-3 not found");
        assert_eq!(
            HerderError::TaskStatusNotFound { connector: "c".into(), task: 0 }.to_string(),
            "No status found for task c-0"
        );
        assert_eq!(HerderError::UnknownPlugin("X".into()).to_string(), "Unknown plugin X.");
        assert_eq!(HerderError::LoggerNotFound("x::y".into()).to_string(), "Logger x::y not found.");
    }
}
