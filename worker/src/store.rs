//! The standalone worker's durable state in sled: connector configs, target states, the last
//! known task statuses and each connector's active topics, so a restarted worker brings the
//! same connectors back.
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
    /// `<connector>/<topic>` → empty: topics a connector's tasks consumed from since the last
    /// reset. Neither connector nor topic names can contain `/`.
    topics: sled::Tree,
}

impl ConfigStore {
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let db = sled::open(dir).map_err(|source| StoreError::Open { path: dir.display().to_string(), source })?;
        Ok(ConfigStore {
            connectors: db.open_tree("connectors")?,
            statuses: db.open_tree("statuses")?,
            topics: db.open_tree("topics")?,
            db,
        })
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

    /// Removes a connector, its task statuses and its active topics.
    pub async fn remove_connector(&self, name: &str) -> Result<(), StoreError> {
        self.connectors.remove(name.as_bytes())?;
        self.remove_task_statuses(name)?;
        self.remove_prefix(&self.topics, &format!("{name}/"))?;
        self.db.flush_async().await?;
        Ok(())
    }

    /// Forgets the task statuses of a connector (its tasks were removed, e.g. by a stop).
    pub fn remove_task_statuses(&self, name: &str) -> Result<(), StoreError> {
        self.remove_prefix(&self.statuses, &format!("status-task-{name}-"))
    }

    fn remove_prefix(&self, tree: &sled::Tree, prefix: &str) -> Result<(), StoreError> {
        for key in tree.scan_prefix(prefix.as_bytes()).keys() {
            tree.remove(key?)?;
        }
        Ok(())
    }

    /// Records that `connector` consumed from `topic`; a no-op when already recorded.
    pub fn put_active_topic(&self, connector: &str, topic: &str) -> Result<(), StoreError> {
        let key = format!("{connector}/{topic}");
        if !self.topics.contains_key(key.as_bytes())? {
            self.topics.insert(key.as_bytes(), &[])?;
            tracing::debug!(%connector, %topic, "Recorded an active topic.");
        }
        Ok(())
    }

    /// The topics `connector` consumed from since its last reset, sorted.
    pub fn active_topics(&self, connector: &str) -> Result<Vec<String>, StoreError> {
        let prefix = format!("{connector}/");
        self.topics
            .scan_prefix(prefix.as_bytes())
            .keys()
            .map(|k| Ok(String::from_utf8_lossy(&k?[prefix.len()..]).into_owned()))
            .collect()
    }

    /// Forgets `connector`'s active topics (`PUT /connectors/{c}/topics/reset`).
    pub async fn reset_active_topics(&self, connector: &str) -> Result<(), StoreError> {
        self.remove_prefix(&self.topics, &format!("{connector}/"))?;
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

    fn record_active_topic(&self, connector: &str, topic: &str) {
        if let Err(error) = self.put_active_topic(connector, topic) {
            tracing::warn!(%connector, %topic, %error, "Could not record an active topic.");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::State;

    /// Opens the store again once the previous handle is dropped: sled's background flusher
    /// holds the directory's lock for a moment after the last handle goes (a new process never
    /// meets this; the old one has exited).
    fn reopen(dir: &Path) -> ConfigStore {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match ConfigStore::open(dir) {
                Ok(store) => return store,
                Err(_) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(50))
                }
                Err(e) => panic!("the store did not open again: {e}"),
            }
        }
    }

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
        let store = reopen(dir.path());
        let all = store.connectors().unwrap();
        assert_eq!(all.keys().collect::<Vec<_>>(), ["a"]);
        assert_eq!(all["a"], stored);
        assert_eq!(store.task_status("a", 0).unwrap().map(|s| s.state), Some(State::Running));
        store.remove_connector("a").await.unwrap();
        assert_eq!(store.task_status("a", 0).unwrap(), None);
    }

    #[tokio::test]
    async fn active_topics_are_kept_per_connector_until_reset() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = ConfigStore::open(dir.path()).unwrap();
            store.put_active_topic("a", "orders").unwrap();
            store.put_active_topic("a", "clicks").unwrap();
            store.put_active_topic("a", "orders").unwrap();
            store.put_active_topic("ab", "other").unwrap();
            store.db.flush_async().await.unwrap();
        }
        let store = reopen(dir.path());
        assert_eq!(store.active_topics("a").unwrap(), ["clicks", "orders"]);
        assert_eq!(store.active_topics("ab").unwrap(), ["other"]);
        store.reset_active_topics("a").await.unwrap();
        assert!(store.active_topics("a").unwrap().is_empty());
        assert_eq!(store.active_topics("ab").unwrap(), ["other"], "a reset touches only its connector");
        store.remove_connector("ab").await.unwrap();
        assert!(store.active_topics("ab").unwrap().is_empty());
    }
}
