//! Config definitions and validation results as the REST API shows them:
//! `GET /connector-plugins/{p}/config` (a plugin's keys) and
//! `PUT /connector-plugins/{p}/config/validate` (every key with its value and errors).
//!
//! The errors come from [`Worker::validate`], the same check `POST /connectors` runs.

use std::collections::BTreeMap;

use serde::Serialize;
use sluice_api::{
    secrets, ConfigDef, ConfigKey, ConfigType, ConnectError, ConnectorConfig, Importance, PluginKind, Width,
};

use super::{keys, HerderError};
use crate::worker::Worker;
use crate::worker_config;

/// Kafka Connect's group names for the framework's own keys.
const COMMON_GROUP: &str = "Common";
const TRANSFORMS_GROUP: &str = "Transforms";

/// The keys every sink connector has, as far as Sluice honours them (Kafka Connect's
/// `SinkConnectorConfig`).
pub fn sink_common_config_def() -> ConfigDef {
    use ConfigType::{Class, Int, List, String as Str};
    use Importance::{High, Low};
    let def = ConfigDef::new()
        .required(keys::NAME, Str, High, "Globally unique name to use for this connector.")
        .in_group(COMMON_GROUP, Width::Medium, "Connector name")
        .required(
            keys::CONNECTOR_CLASS,
            Str,
            High,
            "Name or alias of the connector class, e.g. io.sluice.connect.clickhouse.ClickHouseSinkConnector or ClickHouseSink (see GET /connector-plugins).",
        )
        .in_group(COMMON_GROUP, Width::Long, "Connector class")
        .optional(keys::TASKS_MAX, Int, "1", High, "Maximum number of tasks to use for this connector.")
        .in_group(COMMON_GROUP, Width::Short, "Tasks max")
        .optional(
            worker_config::keys::KEY_CONVERTER,
            Class,
            "",
            Low,
            "Converter for record keys; empty uses the worker's key.converter. Its settings are the keys prefixed key.converter.",
        )
        .in_group(COMMON_GROUP, Width::Short, "Key converter class")
        .optional(
            worker_config::keys::VALUE_CONVERTER,
            Class,
            "",
            Low,
            "Converter for record values; empty uses the worker's value.converter. Its settings are the keys prefixed value.converter.",
        )
        .in_group(COMMON_GROUP, Width::Short, "Value converter class")
        .optional(
            worker_config::keys::HEADER_CONVERTER,
            Class,
            "",
            Low,
            "Converter for record headers; empty uses the worker's header.converter (default SimpleHeaderConverter). Its settings are the keys prefixed header.converter.",
        )
        .in_group(COMMON_GROUP, Width::Short, "Header converter class")
        .optional(
            keys::TRANSFORMS,
            List,
            "",
            Low,
            "Aliases of the transformations to apply to records, in order; each needs transforms.<alias>.type.",
        )
        .in_group(TRANSFORMS_GROUP, Width::Long, "Transforms")
        .optional(
            keys::TOPICS,
            List,
            "",
            High,
            "Topics to consume, comma-separated. Exactly one of topics and topics.regex must be set.",
        )
        .in_group(COMMON_GROUP, Width::Long, "Topics")
        .optional(
            keys::TOPICS_REGEX,
            Str,
            "",
            High,
            "Regular expression of the topics to consume. Exactly one of topics and topics.regex must be set.",
        )
        .in_group(COMMON_GROUP, Width::Long, "Topics regex");
    crate::runtime::errors::define_keys(def)
}

/// One key's definition (`ConfigKeyInfo`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigKeyInfo {
    pub name: String,
    #[serde(rename = "type")]
    pub config_type: &'static str,
    pub required: bool,
    pub default_value: Option<String>,
    pub importance: &'static str,
    pub documentation: String,
    pub group: Option<String>,
    /// Position within `group`; -1 when ungrouped.
    pub order: i32,
    pub width: &'static str,
    pub display_name: String,
    pub dependents: Vec<String>,
}

impl From<&ConfigKey> for ConfigKeyInfo {
    fn from(key: &ConfigKey) -> Self {
        ConfigKeyInfo {
            name: key.name.to_owned(),
            config_type: key.config_type.rest_name(),
            required: key.default.is_none(),
            default_value: key.default.map(str::to_owned),
            importance: key.importance.rest_name(),
            documentation: key.documentation.to_owned(),
            group: key.display.as_ref().map(|d| d.group.to_owned()),
            order: key.display.as_ref().map_or(-1, |d| d.order_in_group),
            width: key.display.as_ref().map_or(Width::None, |d| d.width).rest_name(),
            display_name: key.display.as_ref().map_or(key.name, |d| d.display_name).to_owned(),
            dependents: Vec::new(),
        }
    }
}

/// One key's value after validation (`ConfigValueInfo`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigValueInfo {
    pub name: String,
    pub value: Option<String>,
    pub recommended_values: Vec<String>,
    pub errors: Vec<String>,
    pub visible: bool,
}

/// `{"definition","value"}`; `definition` is null for keys no definition covers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigInfo {
    pub definition: Option<ConfigKeyInfo>,
    pub value: ConfigValueInfo,
}

/// The body of `PUT /connector-plugins/{p}/config/validate`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigInfos {
    /// The connector class validated.
    pub name: String,
    pub error_count: usize,
    pub groups: Vec<String>,
    pub configs: Vec<ConfigInfo>,
}

/// `GET /connector-plugins/{p}/config`: the plugin's own keys, then the framework's keys it
/// does not define itself. Converters and transforms publish no keys yet.
pub fn plugin_config(worker: &Worker, plugin: &str) -> Result<Vec<ConfigKeyInfo>, HerderError> {
    let desc = worker.plugins.describe(plugin).ok_or_else(|| HerderError::UnknownPlugin(plugin.to_owned()))?;
    if desc.kind != PluginKind::Sink {
        return Ok(Vec::new());
    }
    let connector = worker
        .plugins
        .sink(keys::CONNECTOR_CLASS, plugin)
        .map_err(|_| HerderError::UnknownPlugin(plugin.to_owned()))?;
    let own = connector.config_def();
    let common = sink_common_config_def();
    let common_only = common.keys.iter().filter(|k| own.key(k.name).is_none());
    Ok(own.keys.iter().chain(common_only).map(ConfigKeyInfo::from).collect())
}

/// Validates a connector config and reports every key: the framework's keys, then the
/// connector's, each with its value and errors; errors on keys neither defines come first.
pub fn config_infos(worker: &Worker, config: &BTreeMap<String, String>) -> Result<ConfigInfos, HerderError> {
    let Some(class) = config.get(keys::CONNECTOR_CLASS).map(|c| c.trim()).filter(|c| !c.is_empty()) else {
        let shown: Vec<String> = worker.hide_secrets(config).iter().map(|(k, v)| format!("{k}={v}")).collect();
        return Err(HerderError::BadRequest(format!(
            "Connector config {{{}}} contains no connector type",
            shown.join(", ")
        )));
    };
    let connector =
        worker.plugins.sink(keys::CONNECTOR_CLASS, class).map_err(|_| HerderError::UnknownPlugin(class.to_owned()))?;

    let mut errors: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if config.get(keys::NAME).is_none_or(|n| n.trim().is_empty()) {
        errors
            .entry(keys::NAME.to_owned())
            .or_default()
            .push(format!("Missing required configuration \"{}\" which has no default value.", keys::NAME));
    }
    match worker.validate(&ConnectorConfig::new(config.clone())) {
        Ok(_) => {}
        Err(HerderError::InvalidConfig(found)) => {
            for e in found {
                let key = e.config_key().unwrap_or(keys::CONNECTOR_CLASS).to_owned();
                let message = match e {
                    ConnectError::Config { message, .. } => message,
                    other => other.to_string(),
                };
                errors.entry(key).or_default().push(message);
            }
        }
        Err(other) => return Err(other),
    }

    let mut defs = sink_common_config_def();
    for key in connector.config_def().keys {
        match defs.keys.iter_mut().find(|k| k.name == key.name) {
            Some(existing) => *existing = key,
            None => defs.keys.push(key),
        }
    }
    let shown = worker.hide_secrets(config);
    let value_of = |key: &ConfigKey| match shown.get(key.name) {
        Some(v) => Some(v.clone()),
        None if key.config_type == ConfigType::Password => key.default.map(|_| secrets::HIDDEN.to_owned()),
        None => key.default.map(str::to_owned),
    };
    let undefined = errors.iter().filter(|(name, _)| defs.key(name).is_none()).map(|(name, errs)| ConfigInfo {
        definition: None,
        value: ConfigValueInfo {
            name: name.clone(),
            value: shown.get(name).cloned(),
            recommended_values: Vec::new(),
            errors: errs.clone(),
            visible: true,
        },
    });
    let defined = defs.keys.iter().map(|key| ConfigInfo {
        definition: Some(ConfigKeyInfo::from(key)),
        value: ConfigValueInfo {
            name: key.name.to_owned(),
            value: value_of(key),
            recommended_values: Vec::new(),
            errors: errors.get(key.name).cloned().unwrap_or_default(),
            visible: true,
        },
    });
    let configs: Vec<ConfigInfo> = undefined.chain(defined).collect();
    let mut groups: Vec<String> = Vec::new();
    for group in defs.keys.iter().filter_map(|k| k.display.as_ref().map(|d| d.group)) {
        if !groups.iter().any(|g| g == group) {
            groups.push(group.to_owned());
        }
    }
    Ok(ConfigInfos { name: class.to_owned(), error_count: errors.values().map(Vec::len).sum(), groups, configs })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::logging::Loggers;
    use crate::worker_config::WorkerConfig;

    fn worker() -> Worker {
        let config = WorkerConfig::from_map(
            [("bootstrap.servers".to_owned(), "127.0.0.1:1".to_owned())].into(),
            std::path::Path::new("."),
        )
        .unwrap();
        Worker::new(
            Arc::new(config),
            Arc::new(crate::plugins::builtin_plugins()),
            Arc::new(Loggers::detached("info").unwrap()),
        )
    }

    fn config(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[tokio::test]
    async fn plugin_config_lists_the_connector_keys_then_the_common_ones() {
        let keys = plugin_config(&worker(), "ClickHouseSink").unwrap();
        let names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names[0], "hostname");
        assert!(names.contains(&"topics") && names.contains(&"connector.class"), "{names:?}");
        let class = keys.iter().find(|k| k.name == "connector.class").unwrap();
        assert_eq!((class.required, class.group.as_deref(), class.order), (true, Some("Common"), 2));
        let port = keys.iter().find(|k| k.name == "port").unwrap();
        assert_eq!((port.config_type, port.default_value.as_deref(), port.order), ("INT", Some("8123"), 2));
        assert_eq!((port.display_name.as_str(), port.group.as_deref()), ("Port", Some("ClickHouse")));
        assert!(matches!(plugin_config(&worker(), "Nope"), Err(HerderError::UnknownPlugin(_))));
        assert!(plugin_config(&worker(), "org.apache.kafka.connect.json.JsonConverter").unwrap().is_empty());
    }

    #[tokio::test]
    async fn validation_reports_each_error_under_its_key() {
        let infos = config_infos(
            &worker(),
            &config(&[
                ("connector.class", "ClickHouseSink"),
                ("tasks.max", "many"),
                ("topics", "t"),
                ("password", "secret"),
                ("transforms", "x"),
                ("errors.tolerance", "sometimes"),
            ]),
        )
        .unwrap();
        let errors_of = |name: &str| {
            infos.configs.iter().find(|c| c.value.name == name).map(|c| c.value.errors.clone()).unwrap_or_default()
        };
        assert!(errors_of("tasks.max")[0].contains("many"));
        assert!(errors_of("hostname")[0].contains("Missing required"));
        assert!(errors_of("name")[0].contains("\"name\""));
        let smt = infos.configs.iter().find(|c| c.value.name == "transforms.x.type").unwrap();
        assert!(smt.definition.is_none() && !smt.value.errors.is_empty());
        assert!(errors_of("errors.tolerance")[0].contains("sometimes"));
        assert_eq!(infos.error_count, 5);
        assert_eq!(infos.groups, ["Common", "Transforms", "Error Handling", "ClickHouse"]);
        let password = infos.configs.iter().find(|c| c.value.name == "password").unwrap();
        assert_eq!(password.value.value.as_deref(), Some("[hidden]"));
        let port = infos.configs.iter().find(|c| c.value.name == "port").unwrap();
        assert_eq!(port.value.value.as_deref(), Some("8123"), "unset keys show their default");
    }

    #[tokio::test]
    async fn a_valid_config_has_no_errors_and_no_class_is_a_bad_request() {
        let ok = config(&[("name", "n"), ("connector.class", "ClickHouseSink"), ("topics", "t"), ("hostname", "h")]);
        assert_eq!(config_infos(&worker(), &ok).unwrap().error_count, 0);
        let err = config_infos(&worker(), &config(&[("topics", "t")])).unwrap_err();
        assert_eq!(err.to_string(), "Connector config {topics=t} contains no connector type");
    }
}
