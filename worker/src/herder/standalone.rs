//! The standalone herder: one worker owns every connector; configs, target states, task
//! statuses and active topics are kept in the local sled store so a restart brings the same
//! connectors back, in the same target states.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use sluice_api::{ConnectorConfig, SinkConnector};
use tokio::sync::Mutex;

use super::restart::RestartRequest;
use super::{
    healthy, keep_stored_secrets, keys, patch_config, ConnectHerder, ConnectorInfo, ConnectorStateInfo, HerderError,
    TaskId, TaskInfo, TaskState,
};
use crate::runtime::TaskHandle;
use crate::status::{State, Status, TargetState, TaskStatusCell};
use crate::store::{ConfigStore, StoreError, StoredConnector};
use crate::worker::Worker;

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

type Connectors = BTreeMap<String, ConnectorEntry>;

impl Herder {
    /// Creates the herder and starts every connector found in the store, in its stored
    /// target state.
    pub async fn start(worker: Worker, store: ConfigStore) -> Result<Arc<Self>, StoreError> {
        let herder = Arc::new(Herder { worker, store, connectors: Mutex::new(BTreeMap::new()) });
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

    /// Starts the tasks of a validated connector (none when STOPPED); a config that no longer
    /// validates (e.g. a plugin that went away) leaves the connector FAILED instead.
    fn launch(&self, name: &str, config: ConnectorConfig, target: TargetState) -> ConnectorEntry {
        let worker_id = self.worker_id();
        let connector = match self.worker.validate(&config) {
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
                tasks.push(self.start_task(name, task_id, task_config, &*connector, target, State::Unassigned));
            }
        }
        ConnectorEntry { config, target, status: healthy(target, worker_id), tasks }
    }

    /// Starts one task whose status reads `initial` until its runner reports.
    fn start_task(
        &self,
        name: &str,
        task_id: usize,
        config: ConnectorConfig,
        connector: &dyn SinkConnector,
        target: TargetState,
        initial: State,
    ) -> TaskHandle {
        let status = TaskStatusCell::new(name, task_id, self.worker_id(), self.store.status_backend());
        status.set(initial);
        self.worker.start_task(name, task_id, config, connector, target, status)
    }

    /// Stops the tasks `ids` of a connector and starts them again from their configs; their
    /// status reads RESTARTING until they run.
    async fn restart_tasks(&self, name: &str, entry: &mut ConnectorEntry, ids: &[usize]) -> Result<(), HerderError> {
        if ids.is_empty() {
            return Ok(());
        }
        let connector = self.worker.validate(&entry.config)?;
        enum Slot {
            Keep(TaskHandle),
            Restart(ConnectorConfig),
        }
        let mut slots = Vec::new();
        let mut stopping = Vec::new();
        for (id, task) in std::mem::take(&mut entry.tasks).into_iter().enumerate() {
            if ids.contains(&id) {
                slots.push(Slot::Restart(task.config.clone()));
                stopping.push(task);
            } else {
                slots.push(Slot::Keep(task));
            }
        }
        Worker::stop_tasks(stopping).await;
        entry.tasks = slots
            .into_iter()
            .enumerate()
            .map(|(id, slot)| match slot {
                Slot::Keep(task) => task,
                Slot::Restart(config) => {
                    self.start_task(name, id, config, &*connector, entry.target, State::Restarting)
                }
            })
            .collect();
        tracing::info!(connector = %name, tasks = ?ids, "Tasks restarted.");
        Ok(())
    }

    /// Restarts the connector instance. Sluice connectors hold no running state, so this
    /// re-validates the config; a connector that had FAILED is launched again, tasks included.
    fn restart_connector_instance(&self, name: &str, entry: &mut ConnectorEntry) {
        if entry.status.state == State::Failed {
            *entry = self.launch(name, entry.config.clone(), entry.target);
        } else {
            entry.status = healthy(entry.target, self.worker_id());
        }
        tracing::info!(connector = %name, state = ?entry.status.state, "Connector restarted.");
    }

    /// Stores and launches a new config in place of the old one, keeping the target state. The
    /// store is written first: if that fails, the running connector is left as it was.
    async fn replace_config(
        &self,
        connectors: &mut Connectors,
        name: &str,
        config: ConnectorConfig,
    ) -> Result<(bool, ConnectorInfo), HerderError> {
        let stored = connectors.get(name).map(|e| e.config.as_map());
        let config = ConnectorConfig::new(keep_stored_secrets(config.into_map(), stored)?);
        self.worker.validate(&config)?;
        let (created, target) = match connectors.get(name) {
            Some(old) => (false, old.target),
            None => (true, TargetState::Running),
        };
        self.store
            .put_connector(name, &StoredConnector { config: config.as_map().clone(), target_state: target })
            .await?;
        if let Some(old) = connectors.remove(name) {
            Worker::stop_tasks(old.tasks).await;
        }
        let shown = self.worker.hide_secrets(config.as_map());
        let entry = self.launch(name, config, target);
        let info = info(name, &entry);
        connectors.insert(name.to_owned(), entry);
        tracing::info!(connector = %name, created, config = ?shown, "Connector config stored.");
        Ok((created, info))
    }
}

fn info(name: &str, entry: &ConnectorEntry) -> ConnectorInfo {
    ConnectorInfo {
        name: name.to_owned(),
        config: entry.config.as_map().clone(),
        tasks: (0..entry.tasks.len()).map(|task| TaskId { connector: name.to_owned(), task }).collect(),
        connector_type: "sink",
    }
}

fn state_info(name: &str, entry: &ConnectorEntry) -> ConnectorStateInfo {
    ConnectorStateInfo {
        name: name.to_owned(),
        connector: entry.status.clone(),
        tasks: entry.tasks.iter().enumerate().map(|(id, t)| TaskState { id, status: t.status.get() }).collect(),
        connector_type: "sink",
    }
}

fn entry_mut<'a>(connectors: &'a mut Connectors, name: &str) -> Result<&'a mut ConnectorEntry, HerderError> {
    connectors.get_mut(name).ok_or_else(|| HerderError::NotFound(name.to_owned()))
}

#[async_trait]
impl ConnectHerder for Herder {
    fn worker(&self) -> &Worker {
        &self.worker
    }

    async fn connector_names(&self) -> Vec<String> {
        self.connectors.lock().await.keys().cloned().collect()
    }

    async fn create_connector(
        &self,
        name: &str,
        config: BTreeMap<String, String>,
        initial: TargetState,
    ) -> Result<ConnectorInfo, HerderError> {
        let config = ConnectorConfig::new(keep_stored_secrets(config, None)?);
        let mut connectors = self.connectors.lock().await;
        if connectors.contains_key(name) {
            return Err(HerderError::AlreadyExists(name.to_owned()));
        }
        self.worker.validate(&config)?;
        self.store
            .put_connector(name, &StoredConnector { config: config.as_map().clone(), target_state: initial })
            .await?;
        let shown = self.worker.hide_secrets(config.as_map());
        let entry = self.launch(name, config, initial);
        let info = info(name, &entry);
        connectors.insert(name.to_owned(), entry);
        tracing::info!(connector = %name, ?initial, config = ?shown, "Connector created.");
        Ok(info)
    }

    async fn put_connector_config(
        &self,
        name: &str,
        config: BTreeMap<String, String>,
    ) -> Result<(bool, ConnectorInfo), HerderError> {
        let mut connectors = self.connectors.lock().await;
        self.replace_config(&mut connectors, name, ConnectorConfig::new(config)).await
    }

    /// Reads, merges and replaces under one lock, so concurrent patches do not lose keys.
    async fn patch_connector_config(
        &self,
        name: &str,
        patch: BTreeMap<String, Option<String>>,
    ) -> Result<ConnectorInfo, HerderError> {
        let mut connectors = self.connectors.lock().await;
        let current = entry_mut(&mut connectors, name)?.config.as_map().clone();
        let config = ConnectorConfig::new(patch_config(current, patch));
        Ok(self.replace_config(&mut connectors, name, config).await?.1)
    }

    async fn connector_info(&self, name: &str) -> Result<ConnectorInfo, HerderError> {
        let mut connectors = self.connectors.lock().await;
        Ok(info(name, entry_mut(&mut connectors, name)?))
    }

    async fn connector_config(&self, name: &str) -> Result<BTreeMap<String, String>, HerderError> {
        let mut connectors = self.connectors.lock().await;
        Ok(entry_mut(&mut connectors, name)?.config.as_map().clone())
    }

    async fn connector_status(&self, name: &str) -> Result<ConnectorStateInfo, HerderError> {
        let mut connectors = self.connectors.lock().await;
        Ok(state_info(name, entry_mut(&mut connectors, name)?))
    }

    async fn task_infos(&self, name: &str) -> Result<Vec<TaskInfo>, HerderError> {
        let mut connectors = self.connectors.lock().await;
        let entry = entry_mut(&mut connectors, name)?;
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

    async fn set_target_state(&self, name: &str, target: TargetState) -> Result<(), HerderError> {
        let mut connectors = self.connectors.lock().await;
        let entry = entry_mut(&mut connectors, name)?;
        if entry.target == target {
            return Ok(());
        }
        self.store
            .put_connector(name, &StoredConnector { config: entry.config.as_map().clone(), target_state: target })
            .await?;
        match (entry.target, target) {
            (_, TargetState::Stopped) => {
                Worker::stop_tasks(std::mem::take(&mut entry.tasks)).await;
                self.store.remove_task_statuses(name)?;
                entry.target = target;
                entry.status = healthy(target, self.worker_id());
            }
            (TargetState::Stopped, _) => *entry = self.launch(name, entry.config.clone(), target),
            _ => {
                entry.target = target;
                if entry.status.state != State::Failed {
                    entry.status = healthy(target, self.worker_id());
                }
                for t in &entry.tasks {
                    let _ = t.control.send(target);
                }
            }
        }
        tracing::info!(connector = %name, ?target, "Connector target state changed.");
        Ok(())
    }

    async fn restart_connector(&self, name: &str) -> Result<(), HerderError> {
        let mut connectors = self.connectors.lock().await;
        let entry = entry_mut(&mut connectors, name)?;
        self.restart_connector_instance(name, entry);
        Ok(())
    }

    async fn restart_connector_and_tasks(
        &self,
        name: &str,
        request: RestartRequest,
    ) -> Result<ConnectorStateInfo, HerderError> {
        let mut connectors = self.connectors.lock().await;
        let entry = entry_mut(&mut connectors, name)?;
        let (answer, task_ids) = request.plan(&state_info(name, entry));
        if request.restarts_connector(&entry.status) {
            self.restart_connector_instance(name, entry);
        }
        self.restart_tasks(name, entry, &task_ids).await?;
        Ok(answer)
    }

    async fn restart_task(&self, name: &str, task: usize) -> Result<(), HerderError> {
        let mut connectors = self.connectors.lock().await;
        let entry = entry_mut(&mut connectors, name)?;
        if task >= entry.tasks.len() {
            return Err(HerderError::TaskNotFound { connector: name.to_owned(), task });
        }
        self.restart_tasks(name, entry, &[task]).await
    }

    async fn delete_connector(&self, name: &str) -> Result<(), HerderError> {
        let mut connectors = self.connectors.lock().await;
        let entry = connectors.remove(name).ok_or_else(|| HerderError::NotFound(name.to_owned()))?;
        Worker::stop_tasks(entry.tasks).await;
        self.store.remove_connector(name).await?;
        tracing::info!(connector = %name, "Connector deleted.");
        Ok(())
    }

    async fn connector_active_topics(&self, name: &str) -> Result<Vec<String>, HerderError> {
        Ok(self.store.active_topics(name)?)
    }

    async fn reset_connector_active_topics(&self, name: &str) -> Result<(), HerderError> {
        self.store.reset_active_topics(name).await?;
        tracing::info!(connector = %name, "Active topics reset.");
        Ok(())
    }

    async fn shutdown(&self) {
        let mut connectors = self.connectors.lock().await;
        let tasks: Vec<TaskHandle> = connectors.values_mut().flat_map(|e| e.tasks.drain(..)).collect();
        Worker::stop_tasks(tasks).await;
    }
}

#[cfg(test)]
mod tests {
    use sluice_api::secrets::HIDDEN;

    use super::*;
    use crate::logging::Loggers;
    use crate::worker_config::WorkerConfig;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// A herder over a fresh store; connectors are created STOPPED, so no task needs Kafka.
    async fn herder(dir: &std::path::Path) -> Arc<Herder> {
        let config = WorkerConfig::from_map(map(&[("bootstrap.servers", "127.0.0.1:1")]), dir).unwrap();
        let worker = Worker::new(
            Arc::new(config),
            Arc::new(crate::plugins::builtin_plugins()),
            Arc::new(Loggers::detached("info").unwrap()),
        );
        Herder::start(worker, ConfigStore::open(&dir.join("data")).unwrap()).await.unwrap()
    }

    #[tokio::test]
    async fn hidden_values_sent_back_keep_the_stored_secret() {
        let dir = tempfile::tempdir().unwrap();
        let h = herder(dir.path()).await;
        let config = map(&[
            ("name", "ch"),
            ("connector.class", "ClickHouseSink"),
            ("topics", "t"),
            ("hostname", "h"),
            ("password", "s3cr3t"),
        ]);
        h.create_connector("ch", config, TargetState::Stopped).await.unwrap();

        // GET-edit-PUT: the config as the REST API shows it, one key changed.
        let mut edited = h.worker.hide_secrets(&h.connector_config("ch").await.unwrap());
        assert_eq!(edited["password"], HIDDEN);
        edited.insert("hostname".into(), "h2".into());
        h.put_connector_config("ch", edited).await.unwrap();
        let stored = h.connector_config("ch").await.unwrap();
        assert_eq!((stored["password"].as_str(), stored["hostname"].as_str()), ("s3cr3t", "h2"));

        // PATCH with the hidden value keeps it too; a real value replaces it.
        h.patch_connector_config("ch", [("password".to_owned(), Some(HIDDEN.to_owned()))].into()).await.unwrap();
        assert_eq!(h.connector_config("ch").await.unwrap()["password"], "s3cr3t");
        h.patch_connector_config("ch", [("password".to_owned(), Some("n3w".to_owned()))].into()).await.unwrap();
        assert_eq!(h.connector_config("ch").await.unwrap()["password"], "n3w");

        // Nothing stored to keep: refused, naming the key.
        let mut fresh = map(&[("connector.class", "ClickHouseSink"), ("topics", "t"), ("hostname", "h")]);
        fresh.insert("password".into(), HIDDEN.into());
        match h.create_connector("other", fresh, TargetState::Stopped).await {
            Err(HerderError::InvalidConfig(errors)) => assert_eq!(errors[0].config_key(), Some("password")),
            other => panic!("expected an invalid config, got {:?}", other.map(|i| i.name)),
        }
    }
}
