//! The part of a worker that runs tasks, shared by the standalone and distributed herders:
//! validating connector configs, building converters and transform chains, and starting and
//! stopping sink task runners. (Kafka Connect calls this class `Worker` too.)

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use sluice_api::{secrets, ConnectError, ConnectorConfig, PluginRegistry, SinkConnector};
use tokio::sync::watch;

use crate::herder::{keys, HerderError};
use crate::logging::Loggers;
use crate::metrics::Metrics;
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
    /// This worker's Prometheus metrics (`GET /metrics`).
    pub metrics: Arc<Metrics>,
    /// Tasks run here, not on the REST server's threads.
    runtime: tokio::runtime::Handle,
}

impl Worker {
    /// Must be called from within the tokio runtime tasks should run on.
    pub fn new(config: Arc<WorkerConfig>, plugins: Arc<PluginRegistry>, loggers: Arc<Loggers>) -> Self {
        Worker {
            config,
            plugins,
            loggers,
            metrics: Arc::new(Metrics::new()),
            runtime: tokio::runtime::Handle::current(),
        }
    }

    /// The worker's advertised `host:port`.
    pub fn id(&self) -> &str {
        &self.config.advertised
    }

    /// Resolves the config provider references of a connector or task config.
    pub fn resolve(&self, config: &ConnectorConfig) -> Result<ConnectorConfig, HerderError> {
        self.config.providers.resolve(config).map_err(HerderError::InvalidConfig)
    }

    /// The config as REST answers and logs show it: secrets as `[hidden]`.
    pub fn hide_secrets(&self, config: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let def = config
            .get(keys::CONNECTOR_CLASS)
            .and_then(|c| self.plugins.sink(keys::CONNECTOR_CLASS, c.trim()).ok())
            .map(|c| c.config_def());
        secrets::hide(config, |key| secrets::is_password(key, def.as_ref()))
    }

    /// Checks a connector config, its config provider references resolved; every problem found
    /// is returned, each naming its key.
    pub fn validate(&self, config: &ConnectorConfig) -> Result<Arc<dyn SinkConnector>, HerderError> {
        let config = &self.resolve(config)?;
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
        errors.extend(self.config.kafka.override_policy().check(config));
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

    /// Starts one sink task from its stored (unresolved) config; a reference that cannot be
    /// resolved, or a converter or transform that cannot be built, leaves it FAILED.
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
        self.metrics.track_task(&status);
        let pipeline = self.resolve(&config).map_err(|e| e.to_string()).and_then(|resolved| {
            let built = self.record_converter_part(&resolved, true).and_then(|key| {
                let converter = RecordConverter {
                    key,
                    value: self.record_converter_part(&resolved, false)?,
                    json_values: false,
                    datum_values: false,
                    header: self.header_converter(&resolved)?,
                };
                Ok((converter, self.transform_chain(&resolved)?, ErrorConfig::parse(&resolved)?))
            });
            built.map(|parts| (resolved, parts)).map_err(|e| e.to_string())
        });
        let join = match pipeline {
            Ok((resolved, (converter, transforms, errors))) => {
                let runner = SinkTaskRunner {
                    connector: name.to_owned(),
                    task_id,
                    config: resolved,
                    worker: self.config.clone(),
                    converter,
                    transforms,
                    task: connector.create_task(),
                    errors,
                    status: status.clone(),
                    control: control_rx,
                    metrics: self.metrics.task(name, task_id),
                };
                self.runtime.spawn(runner.run())
            }
            Err(e) => {
                tracing::error!(connector = %name, task = task_id, error = %e, "Task cannot start; marked FAILED.");
                status.fail(e);
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

#[cfg(test)]
mod tests {
    use sluice_api::{ConfigDef, ConfigType, Importance, PluginDesc, PluginKind, SinkTask};

    use super::*;

    /// A sink whose config def declares a PASSWORD key whose name does not say so.
    struct VaultSink;

    impl SinkConnector for VaultSink {
        fn config_def(&self) -> ConfigDef {
            ConfigDef::new().optional("api.credential", ConfigType::Password, "", Importance::High, "A credential.")
        }
        fn create_task(&self) -> Box<dyn SinkTask> {
            unreachable!("no task runs in these tests")
        }
    }

    fn worker(extra: &[(&str, &str)]) -> Worker {
        let mut map: std::collections::BTreeMap<String, String> =
            [("bootstrap.servers".to_owned(), "127.0.0.1:1".to_owned())].into();
        map.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let config = WorkerConfig::from_map(map, std::path::Path::new(".")).unwrap();
        let mut plugins = crate::plugins::builtin_plugins();
        let desc = PluginDesc { class: "test.VaultSink", aliases: &[], kind: PluginKind::Sink, version: "1" };
        plugins.add_sink(desc, Arc::new(VaultSink));
        Worker::new(Arc::new(config), Arc::new(plugins), Arc::new(Loggers::detached("info").unwrap()))
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[tokio::test]
    async fn secrets_are_hidden_by_name_and_by_the_plugins_config_def() {
        let w = worker(&[]);
        let config = map(&[
            ("connector.class", "VaultSink"),
            ("api.credential", "c0ff33"),
            ("consumer.override.sasl.jaas.config", "org.apache.kafka.common.security.plain.PlainLoginModule …"),
            ("password", "${env:CH_PASSWORD}"),
            ("database", "db"),
        ]);
        let shown = w.hide_secrets(&config);
        assert_eq!(shown["api.credential"], secrets::HIDDEN);
        assert_eq!(shown["consumer.override.sasl.jaas.config"], secrets::HIDDEN);
        assert_eq!(shown["password"], "${env:CH_PASSWORD}", "a provider reference is not a secret");
        assert_eq!(shown["database"], "db");
        // Another connector class does not declare api.credential: only names count there.
        let other = map(&[("connector.class", "ClickHouseSink"), ("api.credential", "c0ff33")]);
        assert_eq!(w.hide_secrets(&other)["api.credential"], "c0ff33");
    }

    #[tokio::test]
    async fn validation_sees_resolved_values_and_names_unresolvable_references() {
        let dir = tempfile::tempdir().unwrap();
        let props = dir.path().join("ch.properties");
        std::fs::write(&props, "port=8123\n").unwrap();
        let w = worker(&[
            ("config.providers", "file"),
            ("config.providers.file.class", "org.apache.kafka.common.config.provider.FileConfigProvider"),
        ]);
        let config = |port: &str| -> ConnectorConfig {
            [("connector.class", "ClickHouseSink"), ("topics", "t"), ("hostname", "h"), ("port", port)]
                .into_iter()
                .collect()
        };
        // An INT key given through a provider validates as the number it resolves to.
        assert!(w.validate(&config(&format!("${{file:{}:port}}", props.display()))).is_ok());
        let missing = format!("${{file:{}:nope}}", props.display());
        match w.validate(&config(&missing)) {
            Err(HerderError::InvalidConfig(errors)) => {
                assert_eq!(errors.len(), 1);
                assert_eq!(errors[0].config_key(), Some("port"));
                assert!(errors[0].to_string().contains(&missing), "{}", errors[0]);
            }
            other => panic!("expected an invalid config, got {:?}", other.err()),
        }
    }
}
