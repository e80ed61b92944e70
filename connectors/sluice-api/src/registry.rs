//! The plugin registry: a plain table from class names and aliases to plugins. The worker
//! builds one with a single function; there is no global state.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::config::ConnectorConfig;
use crate::error::{ConnectError, Result};
use crate::plugin::{Converter, Predicate, SinkConnector, Transform};

/// Builds a converter from its config (the keys after `key.converter.` / `value.converter.`).
/// The flag says whether it converts keys.
pub type ConverterFactory = fn(&ConnectorConfig, bool) -> Result<Arc<dyn Converter>>;

/// Builds a transform from its config (the keys after `transforms.<name>.`).
pub type TransformFactory = fn(&ConnectorConfig) -> Result<Box<dyn Transform>>;

/// Builds a predicate from its config (the keys after `predicates.<name>.`).
pub type PredicateFactory = fn(&ConnectorConfig) -> Result<Box<dyn Predicate>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginKind {
    Sink,
    Converter,
    Transformation,
    Predicate,
}

impl PluginKind {
    /// The `type` string of `GET /connector-plugins`.
    pub fn rest_name(self) -> &'static str {
        match self {
            PluginKind::Sink => "sink",
            PluginKind::Converter => "converter",
            PluginKind::Transformation => "transformation",
            PluginKind::Predicate => "predicate",
        }
    }
}

/// How a plugin is listed and which names find it.
#[derive(Debug, Clone)]
pub struct PluginDesc {
    /// Sluice's own class name, e.g. `io.sluice.connect.clickhouse.ClickHouseSinkConnector`.
    pub class: &'static str,
    /// Other names users already have in their configs (Kafka Connect class names, short names).
    pub aliases: &'static [&'static str],
    pub kind: PluginKind,
    pub version: &'static str,
}

enum Plugin {
    Sink(Arc<dyn SinkConnector>),
    Converter(ConverterFactory),
    Transform(TransformFactory),
    Predicate(PredicateFactory),
}

struct Entry {
    desc: PluginDesc,
    plugin: Plugin,
}

/// Every plugin the worker knows, found by class name, simple class name or alias.
#[derive(Default)]
pub struct PluginRegistry {
    entries: Vec<Entry>,
    by_name: BTreeMap<String, usize>,
}

impl PluginRegistry {
    pub fn new() -> Self {
        PluginRegistry::default()
    }

    pub fn add_sink(&mut self, desc: PluginDesc, connector: Arc<dyn SinkConnector>) {
        self.add(desc, Plugin::Sink(connector));
    }

    pub fn add_converter(&mut self, desc: PluginDesc, factory: ConverterFactory) {
        self.add(desc, Plugin::Converter(factory));
    }

    pub fn add_transform(&mut self, desc: PluginDesc, factory: TransformFactory) {
        self.add(desc, Plugin::Transform(factory));
    }

    pub fn add_predicate(&mut self, desc: PluginDesc, factory: PredicateFactory) {
        self.add(desc, Plugin::Predicate(factory));
    }

    fn add(&mut self, desc: PluginDesc, plugin: Plugin) {
        let idx = self.entries.len();
        let simple = desc.class.rsplit('.').next().unwrap_or(desc.class).to_owned();
        for name in
            std::iter::once(desc.class.to_owned()).chain(desc.aliases.iter().map(|s| s.to_string())).chain([simple])
        {
            self.by_name.entry(name).or_insert(idx);
        }
        self.entries.push(Entry { desc, plugin });
    }

    fn entry(&self, name: &str) -> Option<&Entry> {
        self.by_name.get(name.trim()).map(|&i| &self.entries[i])
    }

    /// All plugins, in registration order.
    pub fn plugins(&self) -> impl Iterator<Item = &PluginDesc> {
        self.entries.iter().map(|e| &e.desc)
    }

    /// The descriptor of the plugin `name` refers to.
    pub fn describe(&self, name: &str) -> Option<&PluginDesc> {
        self.entry(name).map(|e| &e.desc)
    }

    /// The sink connector `name` refers to; `key` is the config key that named it, for errors.
    pub fn sink(&self, key: &str, name: &str) -> Result<Arc<dyn SinkConnector>> {
        match self.entry(name).map(|e| &e.plugin) {
            Some(Plugin::Sink(c)) => Ok(c.clone()),
            _ => Err(ConnectError::config(
                key,
                format!("Failed to find any class that implements Connector and which name matches {name}; see GET /connector-plugins for the available ones."),
            )),
        }
    }

    /// Builds the converter `name` refers to with `config`.
    pub fn converter(
        &self,
        key: &str,
        name: &str,
        config: &ConnectorConfig,
        is_key: bool,
    ) -> Result<Arc<dyn Converter>> {
        match self.entry(name).map(|e| &e.plugin) {
            Some(Plugin::Converter(f)) => f(config, is_key),
            _ => Err(ConnectError::config(
                key,
                format!("Unknown converter class {name}; see GET /connector-plugins?connectorsOnly=false."),
            )),
        }
    }

    /// Builds the transform `name` refers to with `config`.
    pub fn transform(&self, key: &str, name: &str, config: &ConnectorConfig) -> Result<Box<dyn Transform>> {
        match self.entry(name).map(|e| &e.plugin) {
            Some(Plugin::Transform(f)) => f(config),
            _ => Err(ConnectError::config(key, format!("Unknown transformation class {name}."))),
        }
    }

    /// Builds the predicate `name` refers to with `config`.
    pub fn predicate(&self, key: &str, name: &str, config: &ConnectorConfig) -> Result<Box<dyn Predicate>> {
        match self.entry(name).map(|e| &e.plugin) {
            Some(Plugin::Predicate(f)) => f(config),
            _ => Err(ConnectError::config(key, format!("Unknown predicate class {name}."))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigDef;
    use crate::plugin::SinkTask;

    struct Dummy;
    impl SinkConnector for Dummy {
        fn config_def(&self) -> ConfigDef {
            ConfigDef::new()
        }
        fn create_task(&self) -> Box<dyn SinkTask> {
            unimplemented!("not used by the registry tests")
        }
    }

    #[test]
    fn finds_plugins_by_class_simple_name_and_alias() {
        let mut r = PluginRegistry::new();
        r.add_sink(
            PluginDesc {
                class: "io.sluice.Dummy",
                aliases: &["com.example.OldDummy"],
                kind: PluginKind::Sink,
                version: "1",
            },
            Arc::new(Dummy),
        );
        for name in ["io.sluice.Dummy", "Dummy", "com.example.OldDummy"] {
            assert!(r.sink("connector.class", name).is_ok(), "{name}");
        }
        let err = r.sink("connector.class", "Nope").err().unwrap();
        assert_eq!(err.config_key(), Some("connector.class"));
        assert_eq!(r.describe("OldDummy").map(|d| d.class), None);
    }
}
