//! The part of a worker that runs tasks, shared by the standalone and distributed herders:
//! validating connector configs, building converters and transform chains, and starting and
//! stopping sink task runners. (Kafka Connect calls this class `Worker` too.)

use std::sync::Arc;
use std::time::Duration;

use sluice_api::{ConnectError, ConnectorConfig, PluginRegistry, SinkConnector};
use tokio::sync::watch;

use crate::herder::{keys, HerderError};
use crate::logging::Loggers;
use crate::runtime::convert::RecordConverter;
use crate::runtime::errors::ErrorConfig;
use crate::runtime::sink_runner::TransformChain;
use crate::runtime::{SinkTaskRunner, TaskHandle};
use crate::status::{TargetState, TaskStatusCell};
use crate::worker_config::{self, WorkerConfig};

const TASK_STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Plugins, worker settings, log levels and the runtime tasks are spawned on.
pub struct Worker {
    pub config: Arc<WorkerConfig>,
    pub plugins: Arc<PluginRegistry>,
    /// This process's log levels (`/admin/loggers`).
    pub loggers: Arc<Loggers>,
    /// Tasks run here, not on the REST server's threads.
    runtime: tokio::runtime::Handle,
}

impl Worker {
    /// Must be called from within the tokio runtime tasks should run on.
    pub fn new(config: Arc<WorkerConfig>, plugins: Arc<PluginRegistry>, loggers: Arc<Loggers>) -> Self {
        Worker { config, plugins, loggers, runtime: tokio::runtime::Handle::current() }
    }

    /// The worker's advertised `host:port`.
    pub fn id(&self) -> &str {
        &self.config.advertised
    }

    /// Checks a connector config; every problem found is returned, each naming its key.
    pub fn validate(&self, config: &ConnectorConfig) -> Result<Arc<dyn SinkConnector>, HerderError> {
        let mut errors = Vec::new();
        let connector = match config.get(keys::CONNECTOR_CLASS).map(str::trim).filter(|c| !c.is_empty()) {
            None => {
                errors.push(ConnectError::config(
                    keys::CONNECTOR_CLASS,
                    "Connector config contains no connector type; set connector.class (see GET /connector-plugins).",
                ));
                None
            }
            Some(class) => match self.plugins.sink(keys::CONNECTOR_CLASS, class) {
                Ok(c) => Some(c),
                Err(e) => {
                    errors.push(e);
                    None
                }
            },
        };
        if let Err(e) = config.int_or(keys::TASKS_MAX, 1, 1, i32::MAX as i64) {
            errors.push(e);
        }
        let has_topics = !config.list(keys::TOPICS).is_empty();
        let has_regex = config.get(keys::TOPICS_REGEX).is_some_and(|r| !r.trim().is_empty());
        match (has_topics, has_regex) {
            (false, false) => {
                errors.push(ConnectError::config(keys::TOPICS, "Must configure one of topics or topics.regex."))
            }
            (true, true) => errors.push(ConnectError::config(
                keys::TOPICS,
                "topics and topics.regex are mutually exclusive options, but both are set.",
            )),
            _ => {}
        }
        for is_key in [true, false] {
            if let Err(e) = self.record_converter_part(config, is_key) {
                errors.push(e);
            }
        }
        if let Err(e) = self.header_converter(config) {
            errors.push(e);
        }
        if let Err(e) = self.transform_chain(config) {
            errors.push(e);
        }
        if let Err(e) = ErrorConfig::parse(config) {
            errors.push(e);
        }
        if let Some(c) = &connector {
            if let Err(e) = c.validate(config) {
                errors.push(e);
            }
        }
        match connector {
            Some(c) if errors.is_empty() => Ok(c),
            _ => Err(HerderError::InvalidConfig(errors)),
        }
    }

    /// Builds the key or value converter, from the connector's keys when it names its own
    /// class, else from the worker's (Kafka Connect's rule).
    fn record_converter_part(
        &self,
        config: &ConnectorConfig,
        is_key: bool,
    ) -> Result<Arc<dyn sluice_api::Converter>, ConnectError> {
        let key = if is_key { worker_config::keys::KEY_CONVERTER } else { worker_config::keys::VALUE_CONVERTER };
        let prefix = format!("{key}.");
        let (class, source) = match config.get(key).filter(|c| !c.trim().is_empty()) {
            Some(class) => (class.to_owned(), config),
            None => (self.config.raw.string_or(key, worker_config::DEFAULT_CONVERTER).to_owned(), &self.config.raw),
        };
        self.plugins.converter(key, &class, &source.with_prefix(&prefix), is_key)
    }

    /// Builds the `header.converter` (Kafka Connect's `SimpleHeaderConverter` unless the
    /// connector or the worker names another). Headers reach transforms, the sink and the dead
    /// letter queue as their original bytes; the converter is what reads them as typed values.
    fn header_converter(&self, config: &ConnectorConfig) -> Result<Arc<dyn sluice_api::Converter>, ConnectError> {
        let key = worker_config::keys::HEADER_CONVERTER;
        let prefix = format!("{key}.");
        let (class, source) = match config.get(key).filter(|c| !c.trim().is_empty()) {
            Some(class) => (class.to_owned(), config),
            None => {
                (self.config.raw.string_or(key, worker_config::DEFAULT_HEADER_CONVERTER).to_owned(), &self.config.raw)
            }
        };
        self.plugins.converter(key, &class, &source.with_prefix(&prefix), false)
    }

    /// Builds the `transforms` chain: `transforms=a,b`, each with `transforms.<alias>.type`.
    /// Builds the `transforms` chain (with `predicates`) from the plugins this worker has.
    fn transform_chain(&self, config: &ConnectorConfig) -> Result<TransformChain, ConnectError> {
        sluice_transforms::build_chain(Some(self.plugins.as_ref()), config)
    }

    /// Starts one sink task; a converter or transform that cannot be built leaves it FAILED.
    pub fn start_task(
        &self,
        name: &str,
        task_id: usize,
        config: ConnectorConfig,
        connector: &dyn SinkConnector,
        target: TargetState,
        status: TaskStatusCell,
    ) -> TaskHandle {
        let (control, control_rx) = watch::channel(target);
        let pipeline = self.record_converter_part(&config, true).and_then(|key| {
            let converter = RecordConverter {
                key,
                value: self.record_converter_part(&config, false)?,
                header: self.header_converter(&config)?,
            };
            Ok((converter, self.transform_chain(&config)?, ErrorConfig::parse(&config)?))
        });
        let join = match pipeline {
            Ok((converter, transforms, errors)) => {
                let runner = SinkTaskRunner {
                    connector: name.to_owned(),
                    task_id,
                    config: config.clone(),
                    worker: self.config.clone(),
                    converter,
                    transforms,
                    task: connector.create_task(),
                    errors,
                    status: status.clone(),
                    control: control_rx,
                };
                self.runtime.spawn(runner.run())
            }
            Err(e) => {
                status.fail(e.to_string());
                self.runtime.spawn(async {})
            }
        };
        TaskHandle { config, status, control, join }
    }

    /// Stops tasks and waits for them to commit and leave, aborting any that hang.
    pub async fn stop_tasks(tasks: Vec<TaskHandle>) {
        for t in &tasks {
            let _ = t.control.send(TargetState::Stopped);
        }
        for t in tasks {
            let abort = t.join.abort_handle();
            if tokio::time::timeout(TASK_STOP_TIMEOUT, t.join).await.is_err() {
                tracing::warn!(task = ?t.status.get(), "Task did not stop in time; aborting it.");
                abort.abort();
            }
        }
    }
}
