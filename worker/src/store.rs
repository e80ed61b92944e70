//! The standalone worker's durable state in sled: connector configs, target states and the
//! last known task statuses, so a restarted worker brings the same connectors back.
//!
//! Sink offsets are *not* kept here: like Kafka Connect, they are commits of the consumer
//! group `connect-<name>` in Kafka.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::status::{Status, StatusBackend, TargetState};

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("state store at {path}: {source}")]
    Open { path: String, source: sled::Error },
    #[error("state store: {0}")]
    Sled(#[from] sled::Error),
    #[error("state store holds an unreadable entry {key}: {source}")]
    Corrupt { key: String, source: serde_json::Error },
}

/// One connector as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredConnector {
    pub config: BTreeMap<String, String>,
    pub target_state: TargetState,
}

/// sled-backed store of connector configs and statuses.
#[derive(Clone)]
pub struct ConfigStore {
    db: sled::Db,
    connectors: sled::Tree,
    statuses: sled::Tree,
}

impl ConfigStore {
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let db = sled::open(dir).map_err(|source| StoreError::Open { path: dir.display().to_string(), source })?;
        Ok(ConfigStore { connectors: db.open_tree("connectors")?, statuses: db.open_tree("statuses")?, db })
    }

    /// Every stored connector, by name.
    pub fn connectors(&self) -> Result<BTreeMap<String, StoredConnector>, StoreError> {
        let mut out = BTreeMap::new();
        for item in self.connectors.iter() {
            let (k, v) = item?;
            let name = String::from_utf8_lossy(&k).into_owned();
            let stored =
                serde_json::from_slice(&v).map_err(|source| StoreError::Corrupt { key: name.clone(), source })?;
            out.insert(name, stored);
        }
        Ok(out)
    }

    pub async fn put_connector(&self, name: &str, connector: &StoredConnector) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(connector).map_err(|source| StoreError::Corrupt { key: name.into(), source })?;
        self.connectors.insert(name.as_bytes(), bytes)?;
        self.db.flush_async().await?;
        Ok(())
    }

    /// Removes a connector and its task statuses.
    pub async fn remove_connector(&self, name: &str) -> Result<(), StoreError> {
        self.connectors.remove(name.as_bytes())?;
        let prefix = format!("status-task-{name}-");
        for key in self.statuses.scan_prefix(prefix.as_bytes()).keys() {
            self.statuses.remove(key?)?;
        }
        self.db.flush_async().await?;
        Ok(())
    }

    /// Records a task status under Kafka Connect's key `status-task-<connector>-<task>`.
    /// Not flushed eagerly: statuses are recomputed when tasks start again.
    pub fn put_task_status(&self, connector: &str, task: usize, status: &Status) -> Result<(), StoreError> {
        let key = format!("status-task-{connector}-{task}");
        let bytes = serde_json::to_vec(status).map_err(|source| StoreError::Corrupt { key: key.clone(), source })?;
        self.statuses.insert(key.as_bytes(), bytes)?;
        Ok(())
    }

    /// This store as the status backend of task status cells.
    pub fn status_backend(&self) -> std::sync::Arc<dyn StatusBackend> {
        std::sync::Arc::new(self.clone())
    }

    /// The last recorded status of a task, if any.
    pub fn task_status(&self, connector: &str, task: usize) -> Result<Option<Status>, StoreError> {
        let key = format!("status-task-{connector}-{task}");
        self.statuses
            .get(key.as_bytes())?
            .map(|v| serde_json::from_slice(&v).map_err(|source| StoreError::Corrupt { key, source }))
            .transpose()
    }
}

impl StatusBackend for ConfigStore {
    fn put_task_status(&self, connector: &str, task: usize, status: &Status) {
        if let Err(error) = ConfigStore::put_task_status(self, connector, task, status) {
            tracing::warn!(%connector, task, %error, "Could not persist task status.");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::State;

    #[tokio::test]
    async fn connectors_and_statuses_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let stored = StoredConnector {
            config: [("connector.class".to_owned(), "ClickHouseSink".to_owned())].into(),
            target_state: TargetState::Paused,
        };
        {
            let store = ConfigStore::open(dir.path()).unwrap();
            store.put_connector("a", &stored).await.unwrap();
            store.put_connector("b", &stored).await.unwrap();
            store.put_task_status("a", 0, &Status::new(State::Running, "w:8083")).unwrap();
            store.remove_connector("b").await.unwrap();
        }
        let store = ConfigStore::open(dir.path()).unwrap();
        let all = store.connectors().unwrap();
        assert_eq!(all.keys().collect::<Vec<_>>(), ["a"]);
        assert_eq!(all["a"], stored);
        assert_eq!(store.task_status("a", 0).unwrap().map(|s| s.state), Some(State::Running));
        store.remove_connector("a").await.unwrap();
        assert_eq!(store.task_status("a", 0).unwrap(), None);
    }
}
