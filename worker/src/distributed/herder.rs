//! The distributed herder: connector configs live in the config topic, statuses in the status
//! topic, and every worker runs the share of tasks the deterministic [`assignment`] gives it.
//!
//! REST writes go straight to the config topic from whichever worker receives them (the topic
//! has one partition, so it orders all writes), after reading the topic to its end; the call
//! returns once the worker has read its own records back. Reads come from the worker's view of
//! the topics. A reconcile loop reacts to every change of the config view or of the member
//! list by starting, stopping or re-targeting this worker's tasks.
//!
//! [`assignment`]: super::assignment

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use sluice_api::ConnectorConfig;
use tokio::sync::{watch, Mutex};

use super::assignment::{self, TaskRef};
use super::config::DistributedConfig;
use super::config_state::{self, ClusterConfig, ConnectorEntry};
use super::log::{KafkaLog, Snapshot};
use super::membership::Membership;
use super::status_state::{self, ClusterStatus, StatusValue};
use crate::herder::restart::RestartRequest;
use crate::herder::{
    keep_stored_secrets, keys, ClusterInfo, ConnectHerder, ConnectorInfo, ConnectorStateInfo, HerderError, TaskId,
    TaskInfo, TaskState, WorkerHealth,
};
use crate::runtime::TaskHandle;
use crate::status::{State, Status, StatusBackend, TargetState, TaskStatusCell};
use crate::worker::Worker;

type Properties = BTreeMap<String, String>;

/// Writes task statuses to the status topic.
struct KafkaStatusBackend {
    log: Arc<KafkaLog<ClusterStatus>>,
    membership: watch::Receiver<Membership>,
    task: usize,
    /// Topic records this task sent, with the connector's reset count at the time.
    recorded: std::sync::Mutex<BTreeMap<String, u64>>,
}

impl StatusBackend for KafkaStatusBackend {
    fn put_task_status(&self, connector: &str, task: usize, status: &Status) {
        write_status(&self.log, status_state::task_key(connector, task), status, self.membership.borrow().epoch);
    }

    fn record_active_topic(&self, connector: &str, topic: &str) {
        let snapshot = self.log.snapshot();
        if snapshot.state.topics.get(connector).is_some_and(|t| t.contains(topic)) {
            return;
        }
        // Sent but not read back yet: send again only after a reset of the connector's topics.
        let resets = snapshot.state.topic_resets.get(connector).copied().unwrap_or(0);
        let key = status_state::topic_key(connector, topic);
        let mut sent = self.recorded.lock().unwrap_or_else(|p| p.into_inner());
        if sent.get(&key).is_some_and(|&at_resets| at_resets == resets) {
            return;
        }
        sent.insert(key.clone(), resets);
        drop(sent);
        let value = status_state::TopicStatusValue {
            topic: status_state::TopicStatus {
                name: topic.to_owned(),
                connector: connector.to_owned(),
                task: self.task,
                discover_timestamp: chrono_millis(),
            },
        };
        if let Ok(bytes) = serde_json::to_vec(&value) {
            self.log.append_in_background(key, bytes);
        }
    }
}

fn chrono_millis() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

fn write_status(log: &Arc<KafkaLog<ClusterStatus>>, key: String, status: &Status, generation: i64) {
    let value = StatusValue {
        state: status.state,
        trace: status.trace.clone(),
        worker_id: status.worker_id.clone(),
        generation,
    };
    match serde_json::to_vec(&value) {
        Ok(bytes) => log.append_in_background(key, bytes),
        Err(error) => tracing::warn!(%key, %error, "Could not encode a status record."),
    }
}

/// A task this worker runs, with what it was started from.
struct LocalTask {
    handle: TaskHandle,
    config: Properties,
    /// Config topic position when the task started; a restart request after it restarts it.
    started_at: i64,
}

#[derive(Default)]
struct LocalState {
    tasks: BTreeMap<TaskRef, LocalTask>,
    /// Connector statuses this worker last wrote, to write only changes.
    connector_statuses: BTreeMap<String, Status>,
    /// The membership epoch the last reconcile applied, for the rebalance metrics.
    epoch: Option<i64>,
}

/// Owns this worker's share of a distributed cluster.
pub struct DistributedHerder {
    worker: Worker,
    config_log: Arc<KafkaLog<ClusterConfig>>,
    status_log: Arc<KafkaLog<ClusterStatus>>,
    membership: watch::Receiver<Membership>,
    local: Mutex<LocalState>,
}

impl DistributedHerder {
    /// Opens the internal topics, joins the worker group and starts reconciling.
    pub async fn start(worker: Worker, dist: &DistributedConfig) -> Result<Arc<Self>, sluice_api::ConnectError> {
        let kafka = worker.config.kafka.clone();
        let reader = |kind: &str| format!("{}-{kind}-reader-{}", dist.group_id, worker.id());
        // Kafka may be starting, or the topics just created: keep trying while it says "retry".
        let mut delay = std::time::Duration::from_millis(200);
        let (config_log, status_log) = loop {
            let attempt = async {
                super::topics::ensure_internal_topics(&kafka, dist).await?;
                let config_log =
                    KafkaLog::<ClusterConfig>::open(&kafka, &dist.config_topic.name, &reader("config")).await?;
                let status_log =
                    KafkaLog::<ClusterStatus>::open(&kafka, &dist.status_topic.name, &reader("status")).await?;
                Ok::<_, sluice_api::ConnectError>((config_log, status_log))
            };
            match attempt.await {
                Ok(logs) => break logs,
                Err(e) if e.is_retriable() => {
                    tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "Internal topics not ready; retrying.");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(std::time::Duration::from_secs(5));
                }
                Err(e) => return Err(e),
            }
        };
        let membership = super::membership::join(&kafka, worker.id(), dist)?;
        let herder = Arc::new(DistributedHerder {
            worker,
            config_log,
            status_log,
            membership,
            local: Mutex::new(LocalState::default()),
        });
        tokio::spawn(herder.clone().reconcile_forever());
        Ok(herder)
    }

    pub fn worker_id(&self) -> &str {
        self.worker.id()
    }

    pub fn plugins(&self) -> &sluice_api::PluginRegistry {
        &self.worker.plugins
    }

    /// The current member list and whether this worker leads the group.
    pub fn membership(&self) -> Membership {
        self.membership.borrow().clone()
    }

    fn config(&self) -> Arc<Snapshot<ClusterConfig>> {
        self.config_log.snapshot()
    }

    async fn reconcile_forever(self: Arc<Self>) {
        let mut configs = self.config_log.subscribe();
        let mut members = self.membership.clone();
        // Where tasks run is an input of the assignment, so status changes count too.
        let mut statuses = self.status_log.subscribe();
        loop {
            self.reconcile().await;
            tokio::select! {
                changed = configs.changed() => if changed.is_err() { return },
                changed = members.changed() => if changed.is_err() { return },
                changed = statuses.changed() => if changed.is_err() { return },
            }
        }
    }

    /// The assignment every worker computes from the same member list and configs. A worker
    /// that is not in the group runs nothing: its tasks belong to others now.
    fn assignment(&self, cluster: &ClusterConfig, membership: &Membership) -> assignment::Assignment {
        if !membership.joined {
            return assignment::Assignment::default();
        }
        // A STOPPED connector keeps its instance (which reports STOPPED) but runs no tasks.
        let tasks: BTreeMap<String, usize> =
            cluster.connectors.iter().map(|(name, c)| (name.clone(), c.active_tasks().len())).collect();
        assignment::assign(&membership.members, &tasks, &self.running_tasks())
    }

    /// Which worker runs each task now, from the status topic: the worker whose last word on
    /// the task is an active state (RUNNING, PAUSED, RESTARTING or FAILED). While a task moves,
    /// two workers can claim it for a moment; the lowest id wins, the same on every worker.
    fn running_tasks(&self) -> BTreeMap<assignment::TaskRef, String> {
        let statuses = self.status_log.snapshot();
        let holds =
            |s: &StatusValue| matches!(s.state, State::Running | State::Paused | State::Restarting | State::Failed);
        statuses
            .state
            .tasks
            .iter()
            .filter_map(|((connector, task), by_worker)| {
                let owner = by_worker.iter().find(|(_, s)| holds(s)).map(|(worker, _)| worker.clone())?;
                Some((assignment::TaskRef { connector: connector.clone(), task: *task }, owner))
            })
            .collect()
    }

    /// Brings this worker's running tasks in line with the config view and the member list.
    ///
    /// Tasks that move to another worker (or whose connector is gone) are stopped in the
    /// background: stopping can take seconds (a final commit, leaving the connector's consumer
    /// group while it rebalances), and the tasks this worker takes over must not wait for that.
    /// Two copies of a task for a moment are safe: both consume in the connector's group, which
    /// gives each partition to one of them. Tasks restarted or reconfigured here stop first.
    async fn reconcile(self: &Arc<Self>) {
        let started = std::time::Instant::now();
        let snapshot = self.config();
        let membership = self.membership.borrow().clone();
        let cluster = &snapshot.state;
        let assignment = self.assignment(cluster, &membership);
        let mine: BTreeSet<&TaskRef> = assignment.tasks_of(self.worker_id()).iter().collect();

        let mut local = self.local.lock().await;
        let mut to_stop = Vec::new();
        let running: Vec<TaskRef> = local.tasks.keys().cloned().collect();
        for task in running {
            let wanted = mine.contains(&task).then(|| cluster.connectors.get(&task.connector)).flatten();
            let current = &local.tasks[&task];
            let restart_requested = cluster
                .task_restarts
                .get(&(task.connector.clone(), task.task))
                .is_some_and(|&at| at >= current.started_at);
            let keep = !restart_requested
                && wanted.and_then(|c| c.tasks.get(task.task)).is_some_and(|cfg| *cfg == current.config);
            if !keep {
                if let Some(t) = local.tasks.remove(&task) {
                    tracing::info!(connector = %task.connector, task = task.task, "Stopping task (reassigned, reconfigured or removed).");
                    to_stop.push((task.clone(), t.handle));
                }
            }
        }
        let (restarting, leaving): (Vec<_>, Vec<_>) = to_stop.into_iter().partition(|(task, _)| mine.contains(task));
        let restarted: Vec<TaskRef> = restarting.iter().map(|(t, _)| t.clone()).collect();
        Worker::stop_tasks(restarting.into_iter().map(|(_, h)| h).collect()).await;
        self.report_unassigned(&restarted, &local, membership.epoch);
        if !leaving.is_empty() {
            let herder = Arc::clone(self);
            let epoch = membership.epoch;
            tokio::spawn(async move {
                let left: Vec<TaskRef> = leaving.iter().map(|(t, _)| t.clone()).collect();
                Worker::stop_tasks(leaving.into_iter().map(|(_, h)| h).collect()).await;
                let local = herder.local.lock().await;
                herder.report_unassigned(&left, &local, epoch);
            });
        }

        for task in mine {
            let Some(entry) = cluster.connectors.get(&task.connector) else { continue };
            if let Some(running) = local.tasks.get(task) {
                let _ = running.handle.control.send_if_modified(|t| std::mem::replace(t, entry.target) != entry.target);
                continue;
            }
            let Some(task_config) = entry.tasks.get(task.task) else { continue };
            let connector = match self.worker.validate(&ConnectorConfig::new(entry.config.clone())) {
                Ok(c) => c,
                Err(_) => continue, // reported as the connector's FAILED status below
            };
            let backend: Arc<dyn StatusBackend> = Arc::new(KafkaStatusBackend {
                log: self.status_log.clone(),
                membership: self.membership.clone(),
                task: task.task,
                recorded: std::sync::Mutex::new(BTreeMap::new()),
            });
            let status = TaskStatusCell::new(&task.connector, task.task, self.worker_id(), backend);
            let handle = self.worker.start_task(
                &task.connector,
                task.task,
                ConnectorConfig::new(task_config.clone()),
                &*connector,
                entry.target,
                status,
            );
            tracing::info!(connector = %task.connector, task = task.task, "Started task.");
            let started_at = snapshot.positions.get(&0).copied().unwrap_or(0);
            local.tasks.insert(task.clone(), LocalTask { handle, config: task_config.clone(), started_at });
        }

        for name in assignment.connectors_of(self.worker_id()) {
            let Some(entry) = cluster.connectors.get(name) else { continue };
            let status = match self.worker.validate(&ConnectorConfig::new(entry.config.clone())) {
                Ok(_) => Status::new(entry.target.healthy_state(), self.worker_id()),
                Err(e) => Status::failed(self.worker_id(), e.to_string()),
            };
            if local.connector_statuses.get(name) != Some(&status) {
                write_status(&self.status_log, status_state::connector_key(name), &status, membership.epoch);
                local.connector_statuses.insert(name.clone(), status);
            }
        }
        local.connector_statuses.retain(|name, _| assignment.connectors_of(self.worker_id()).contains(name));
        if membership.joined && local.epoch != Some(membership.epoch) {
            local.epoch = Some(membership.epoch);
            self.worker.metrics.rebalance_completed(membership.epoch, started.elapsed());
        }
    }

    /// As Kafka Connect does, a task that stopped here reports UNASSIGNED (its next owner, if
    /// any, reports for itself) unless it runs here again by now or its connector is gone.
    fn report_unassigned(&self, stopped: &[TaskRef], local: &LocalState, epoch: i64) {
        let cluster = self.config();
        for task in stopped {
            if local.tasks.contains_key(task) || !cluster.state.connectors.contains_key(&task.connector) {
                continue;
            }
            let status = Status::new(State::Unassigned, self.worker_id());
            write_status(&self.status_log, status_state::task_key(&task.connector, task.task), &status, epoch);
        }
    }

    /// Waits until the owner reports the connector STOPPED and no worker reports any of its
    /// tasks as active, for at most the task stop timeout.
    async fn wait_until_stopped(&self, name: &str, tasks: usize) {
        let active = |s: &StatusValue| matches!(s.state, State::Running | State::Paused | State::Restarting);
        let mut statuses = self.status_log.subscribe();
        let done = statuses.wait_for(|snap| {
            let connector_stopped = snap
                .state
                .connectors
                .get(name)
                .is_some_and(|by_worker| by_worker.values().any(|s| s.state == State::Stopped));
            let tasks_down = (0..tasks).all(|t| {
                snap.state.tasks.get(&(name.to_owned(), t)).is_none_or(|by_worker| !by_worker.values().any(active))
            });
            connector_stopped && tasks_down
        });
        if tokio::time::timeout(std::time::Duration::from_secs(30), done).await.is_err() {
            tracing::warn!(connector = %name, "Tasks did not all report stopped within 30 s.");
        }
    }

    fn info(name: &str, entry: &ConnectorEntry) -> ConnectorInfo {
        ConnectorInfo {
            name: name.to_owned(),
            config: entry.config.clone(),
            tasks: (0..entry.active_tasks().len()).map(|task| TaskId { connector: name.to_owned(), task }).collect(),
            connector_type: "sink",
        }
    }

    fn entry(&self, name: &str) -> Result<ConnectorEntry, HerderError> {
        self.config().state.connectors.get(name).cloned().ok_or_else(|| HerderError::NotFound(name.to_owned()))
    }

    async fn sync(&self) -> Result<(), HerderError> {
        self.config_log.read_to_end().await.map_err(|e| HerderError::Unavailable(e.to_string()))
    }

    /// Validates and writes a connector's config with freshly generated task configs.
    async fn write_connector(
        &self,
        name: &str,
        config: Properties,
        initial: Option<TargetState>,
    ) -> Result<ConnectorInfo, HerderError> {
        let config = keep_stored_secrets(config, self.config().state.connectors.get(name).map(|e| &e.config))?;
        let connector_config = ConnectorConfig::new(config.clone());
        let connector = self.worker.validate(&connector_config)?;
        let max_tasks = connector_config.int_or(keys::TASKS_MAX, 1, 1, i32::MAX as i64).unwrap_or(1) as usize;
        let tasks: Vec<Properties> =
            connector.task_configs(&connector_config, max_tasks).into_iter().map(ConnectorConfig::into_map).collect();
        let mut records = Vec::new();
        if let Some(target) = initial {
            records.push(config_state::target_state_record(name, target));
        }
        records.extend(config_state::connector_records(name, &config, &tasks));
        self.config_log.append(&records).await.map_err(|e| HerderError::Unavailable(e.to_string()))?;
        let shown = self.worker.hide_secrets(&config);
        tracing::info!(connector = %name, config = ?shown, "Connector config written to the config topic.");
        Ok(Self::info(name, &self.entry(name)?))
    }
}

#[async_trait]
impl ConnectHerder for DistributedHerder {
    fn worker(&self) -> &Worker {
        &self.worker
    }

    /// 503 until the worker first joined its group; 500 while it is not a member (cut off from
    /// the group coordinator: it runs no task), as Kafka Connect's health check fails while its
    /// herder cannot finish a round with the group.
    async fn health_check(&self) -> WorkerHealth {
        let m = self.membership.borrow();
        match (m.joined, m.ever_joined) {
            (true, _) => WorkerHealth::Healthy,
            (false, false) => WorkerHealth::Starting(Some("It has not joined its group yet.".to_owned())),
            (false, true) => WorkerHealth::Unhealthy(Some(
                "It is not a member of its group (Kafka's group coordinator does not answer it), so it runs no task; it rejoins by itself once Kafka answers."
                    .to_owned(),
            )),
        }
    }

    fn cluster_info(&self) -> ClusterInfo {
        let m = self.membership.borrow();
        ClusterInfo {
            worker_id: self.worker_id().to_owned(),
            leader: m.leader,
            members: m.members.clone(),
            joined: m.joined,
        }
    }

    async fn connector_names(&self) -> Vec<String> {
        self.config().state.connectors.keys().cloned().collect()
    }

    async fn create_connector(
        &self,
        name: &str,
        config: Properties,
        initial: TargetState,
    ) -> Result<ConnectorInfo, HerderError> {
        self.sync().await?;
        if self.config().state.connectors.contains_key(name) {
            return Err(HerderError::AlreadyExists(name.to_owned()));
        }
        self.write_connector(name, config, Some(initial)).await
    }

    async fn put_connector_config(&self, name: &str, config: Properties) -> Result<(bool, ConnectorInfo), HerderError> {
        self.sync().await?;
        let created = !self.config().state.connectors.contains_key(name);
        let info = self.write_connector(name, config, created.then_some(TargetState::Running)).await?;
        Ok((created, info))
    }

    async fn connector_info(&self, name: &str) -> Result<ConnectorInfo, HerderError> {
        Ok(Self::info(name, &self.entry(name)?))
    }

    async fn connector_config(&self, name: &str) -> Result<Properties, HerderError> {
        Ok(self.entry(name)?.config)
    }

    async fn connector_status(&self, name: &str) -> Result<ConnectorStateInfo, HerderError> {
        let entry = self.entry(name)?;
        let statuses = self.status_log.snapshot();
        let config = self.config();
        let assignment = self.assignment(&config.state, &self.membership.borrow());
        // What counts is the word of the worker the assignment gives the instance to; until it
        // reports, the instance is UNASSIGNED. Every worker computes the same assignment, so
        // every worker answers with the same document.
        let owned = |records: Option<&BTreeMap<String, StatusValue>>, owner: Option<&String>| match (
            records.zip(owner).and_then(|(r, o)| r.get(o)),
            owner,
        ) {
            (Some(record), _) => record.status(),
            (None, owner) => {
                Status { state: State::Unassigned, worker_id: owner.cloned().unwrap_or_default(), trace: None }
            }
        };
        let connector_owner = assignment.connectors.iter().find(|(_, cs)| cs.iter().any(|c| c == name)).map(|(w, _)| w);
        let connector = owned(statuses.state.connectors.get(name), connector_owner);
        let tasks = (0..entry.active_tasks().len())
            .map(|id| {
                let task = TaskRef { connector: name.to_owned(), task: id };
                let owner = assignment.tasks.iter().find(|(_, ts)| ts.contains(&task)).map(|(w, _)| w);
                TaskState { id, status: owned(statuses.state.tasks.get(&(name.to_owned(), id)), owner) }
            })
            .collect();
        Ok(ConnectorStateInfo { name: name.to_owned(), connector, tasks, connector_type: "sink" })
    }

    async fn task_infos(&self, name: &str) -> Result<Vec<TaskInfo>, HerderError> {
        let entry = self.entry(name)?;
        Ok(entry
            .active_tasks()
            .iter()
            .enumerate()
            .map(|(task, config)| TaskInfo { id: TaskId { connector: name.to_owned(), task }, config: config.clone() })
            .collect())
    }

    async fn set_target_state(&self, name: &str, target: TargetState) -> Result<(), HerderError> {
        self.sync().await?;
        let entry = self.entry(name)?;
        if entry.target != target {
            let record = config_state::target_state_record(name, target);
            self.config_log.append(&[record]).await.map_err(|e| HerderError::Unavailable(e.to_string()))?;
        }
        if target == TargetState::Stopped {
            // Kafka Connect answers `stop` once the tasks are gone, so offsets can be changed
            // right after; wait (bounded) until no worker reports one of them still active.
            self.wait_until_stopped(name, entry.tasks.len()).await;
        }
        Ok(())
    }

    async fn delete_connector(&self, name: &str) -> Result<(), HerderError> {
        self.sync().await?;
        let entry = self.entry(name)?;
        self.config_log
            .append(&config_state::delete_records(name))
            .await
            .map_err(|e| HerderError::Unavailable(e.to_string()))?;
        let mut tombstones = vec![(status_state::connector_key(name), None)];
        tombstones.extend((0..entry.tasks.len()).map(|t| (status_state::task_key(name, t), None)));
        self.status_log.append(&tombstones).await.map_err(|e| HerderError::Unavailable(e.to_string()))
    }

    async fn restart_connector(&self, name: &str) -> Result<(), HerderError> {
        // Connector instances hold no state in Sluice; restarting one only re-checks it exists.
        self.entry(name).map(|_| ())
    }

    async fn restart_connector_and_tasks(
        &self,
        name: &str,
        request: RestartRequest,
    ) -> Result<ConnectorStateInfo, HerderError> {
        let current = self.connector_status(name).await?;
        let (answer, task_ids) = request.plan(&current);
        let records: Vec<_> = task_ids.iter().map(|&t| config_state::restart_task_record(name, t)).collect();
        if !records.is_empty() {
            self.config_log.append(&records).await.map_err(|e| HerderError::Unavailable(e.to_string()))?;
        }
        Ok(answer)
    }

    async fn restart_task(&self, name: &str, task: usize) -> Result<(), HerderError> {
        if self.entry(name)?.tasks.len() <= task {
            return Err(HerderError::TaskNotFound { connector: name.to_owned(), task });
        }
        let record = config_state::restart_task_record(name, task);
        self.config_log.append(&[record]).await.map_err(|e| HerderError::Unavailable(e.to_string()))
    }

    async fn connector_active_topics(&self, name: &str) -> Result<Vec<String>, HerderError> {
        Ok(self.status_log.snapshot().state.topics.get(name).map(|t| t.iter().cloned().collect()).unwrap_or_default())
    }

    async fn reset_connector_active_topics(&self, name: &str) -> Result<(), HerderError> {
        // As in Kafka Connect, resetting an unknown connector's topics is not an error.
        let topics = self.connector_active_topics(name).await?;
        let tombstones: Vec<_> = topics.iter().map(|t| (status_state::topic_key(name, t), None)).collect();
        self.status_log.append(&tombstones).await.map_err(|e| HerderError::Unavailable(e.to_string()))
    }

    /// Stops every local task, committing what is durable.
    async fn shutdown(&self) {
        let mut local = self.local.lock().await;
        let tasks: Vec<TaskHandle> = std::mem::take(&mut local.tasks).into_values().map(|t| t.handle).collect();
        Worker::stop_tasks(tasks).await;
    }
}
