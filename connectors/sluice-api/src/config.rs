//! Kafka Connect style configuration: flat string maps with typed getters whose errors
//! name the offending key, and `ConfigDef`, the documented list of keys a plugin accepts.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::error::{ConnectError, Result};

/// A connector's or plugin's configuration, as the user wrote it (all values are strings).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectorConfig {
    map: BTreeMap<String, String>,
}

impl ConnectorConfig {
    pub fn new(map: BTreeMap<String, String>) -> Self {
        ConnectorConfig { map }
    }

    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.map
    }

    pub fn into_map(self) -> BTreeMap<String, String> {
        self.map
    }

    /// The raw value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(String::as_str)
    }

    /// The value of `key`, or an error naming it when missing or blank.
    pub fn required(&self, key: &str) -> Result<&str> {
        match self.get(key).map(str::trim) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(ConnectError::config(key, "Missing required configuration; set it and resubmit.")),
        }
    }

    /// The value of `key`, or `default`.
    pub fn string_or<'a>(&'a self, key: &str, default: &'a str) -> &'a str {
        self.get(key).unwrap_or(default)
    }

    /// A boolean; accepts `true`/`false` in any case, like Kafka Connect.
    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool> {
        match self.get(key).map(str::trim) {
            None | Some("") => Ok(default),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(v) => Err(ConnectError::config(key, format!("Expected true or false, got {v:?}."))),
        }
    }

    /// An integer within `min..=max`, or `default` when unset.
    pub fn int_or(&self, key: &str, default: i64, min: i64, max: i64) -> Result<i64> {
        let Some(raw) = self.get(key).map(str::trim).filter(|v| !v.is_empty()) else {
            return Ok(default);
        };
        let v: i64 =
            raw.parse().map_err(|_| ConnectError::config(key, format!("Expected an integer, got {raw:?}.")))?;
        if v < min || v > max {
            return Err(ConnectError::config(key, format!("Value {v} is out of range [{min}, {max}].")));
        }
        Ok(v)
    }

    /// A comma-separated list, items trimmed, empty items dropped.
    pub fn list(&self, key: &str) -> Vec<String> {
        self.get(key)
            .map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// The keys that start with `prefix`, with the prefix removed (e.g. `value.converter.`).
    pub fn with_prefix(&self, prefix: &str) -> ConnectorConfig {
        ConnectorConfig {
            map: self
                .map
                .iter()
                .filter_map(|(k, v)| k.strip_prefix(prefix).map(|rest| (rest.to_owned(), v.clone())))
                .collect(),
        }
    }
}

impl From<BTreeMap<String, String>> for ConnectorConfig {
    fn from(map: BTreeMap<String, String>) -> Self {
        ConnectorConfig { map }
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for ConnectorConfig {
    fn from_iter<T: IntoIterator<Item = (K, V)>>(iter: T) -> Self {
        ConnectorConfig { map: iter.into_iter().map(|(k, v)| (k.into(), v.into())).collect() }
    }
}

/// Kafka Connect's config types, as the REST API names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    Boolean,
    String,
    Int,
    Long,
    Double,
    List,
    Class,
    Password,
}

impl ConfigType {
    pub fn rest_name(self) -> &'static str {
        match self {
            ConfigType::Boolean => "BOOLEAN",
            ConfigType::String => "STRING",
            ConfigType::Int => "INT",
            ConfigType::Long => "LONG",
            ConfigType::Double => "DOUBLE",
            ConfigType::List => "LIST",
            ConfigType::Class => "CLASS",
            ConfigType::Password => "PASSWORD",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Importance {
    High,
    Medium,
    Low,
}

impl Importance {
    pub fn rest_name(self) -> &'static str {
        match self {
            Importance::High => "HIGH",
            Importance::Medium => "MEDIUM",
            Importance::Low => "LOW",
        }
    }
}

/// How wide a UI field for a key should be (Kafka Connect's `ConfigDef.Width`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Width {
    #[default]
    None,
    Short,
    Medium,
    Long,
}

impl Width {
    /// The name the REST API uses (`NONE`, `SHORT`, `MEDIUM`, `LONG`).
    pub fn rest_name(self) -> &'static str {
        match self {
            Width::None => "NONE",
            Width::Short => "SHORT",
            Width::Medium => "MEDIUM",
            Width::Long => "LONG",
        }
    }
}

/// Where a key is shown in a UI: its group, its position there, its label and field width.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Display {
    pub group: &'static str,
    /// 1-based position within `group`.
    pub order_in_group: i32,
    pub width: Width,
    pub display_name: &'static str,
}

/// One documented configuration key.
#[derive(Debug, Clone)]
pub struct ConfigKey {
    pub name: &'static str,
    pub config_type: ConfigType,
    /// `None` means the key is required.
    pub default: Option<&'static str>,
    pub importance: Importance,
    pub documentation: &'static str,
    /// UI placement; `None` leaves the key ungrouped, labelled with its name.
    pub display: Option<Display>,
}

/// The keys a plugin accepts, with types, defaults and docs.
#[derive(Debug, Clone, Default)]
pub struct ConfigDef {
    pub keys: Vec<ConfigKey>,
}

impl ConfigDef {
    pub fn new() -> Self {
        ConfigDef::default()
    }

    /// Adds a key with a default value.
    pub fn optional(
        mut self,
        name: &'static str,
        config_type: ConfigType,
        default: &'static str,
        importance: Importance,
        documentation: &'static str,
    ) -> Self {
        self.keys.push(ConfigKey {
            name,
            config_type,
            default: Some(default),
            importance,
            documentation,
            display: None,
        });
        self
    }

    /// Adds a key the user must set.
    pub fn required(
        mut self,
        name: &'static str,
        config_type: ConfigType,
        importance: Importance,
        documentation: &'static str,
    ) -> Self {
        self.keys.push(ConfigKey { name, config_type, default: None, importance, documentation, display: None });
        self
    }

    /// Places the key added last in `group`, after the keys already there, with a UI label
    /// and field width.
    pub fn in_group(mut self, group: &'static str, width: Width, display_name: &'static str) -> Self {
        let order_in_group =
            self.keys.iter().filter(|k| k.display.as_ref().is_some_and(|d| d.group == group)).count() as i32 + 1;
        if let Some(last) = self.keys.last_mut() {
            last.display = Some(Display { group, order_in_group, width, display_name });
        }
        self
    }

    pub fn key(&self, name: &str) -> Option<&ConfigKey> {
        self.keys.iter().find(|k| k.name == name)
    }

    /// Checks presence and type of every documented key; returns the first problem.
    pub fn validate(&self, config: &ConnectorConfig) -> Result<()> {
        for key in &self.keys {
            let value = config.get(key.name).map(str::trim);
            if key.default.is_none() {
                config.required(key.name)?;
            }
            let Some(value) = value.filter(|v| !v.is_empty()) else { continue };
            let ok = match key.config_type {
                ConfigType::Boolean => value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false"),
                ConfigType::Int => value.parse::<i32>().is_ok(),
                ConfigType::Long => value.parse::<i64>().is_ok(),
                ConfigType::Double => value.parse::<f64>().is_ok(),
                _ => true,
            };
            if !ok {
                return Err(ConnectError::config(
                    key.name,
                    format!("Expected a value of type {}, got {value:?}.", key.config_type.rest_name()),
                ));
            }
        }
        Ok(())
    }
}

/// One configuration key: everything the docs and the parser need.
pub struct KeySpec {
    pub name: &'static str,
    pub config_type: ConfigType,
    pub default: &'static str,
    pub importance: Importance,
    pub display: &'static str,
    pub doc: &'static str,
}

impl KeySpec {
    /// The trimmed value, or the default when the key is unset or blank.
    pub fn value<'a>(&self, config: &'a ConnectorConfig) -> &'a str {
        match config.get(self.name).map(str::trim) {
            Some(v) if !v.is_empty() => v,
            _ => self.default,
        }
    }

    /// The key as a whole number in `min..=max`, through the shared parser; a key with an
    /// empty default is checked for presence by the caller.
    pub fn int(&self, config: &ConnectorConfig, min: i64, max: i64) -> Result<i64> {
        config.int_or(self.name, self.default.parse().unwrap_or(min), min, max)
    }

    pub fn boolean(&self, config: &ConnectorConfig) -> Result<bool> {
        config.bool_or(self.name, self.default == "true")
    }

    /// A duration in milliseconds; `None` when negative (Confluent's "off").
    pub fn millis(&self, config: &ConnectorConfig) -> Result<Option<Duration>> {
        let ms = self.int(config, i64::MIN, i64::MAX)?;
        Ok((ms > 0).then(|| Duration::from_millis(ms as u64)))
    }

    /// Adds the key, as required (no default), to `def` in `group`.
    pub fn add_required_to(&self, def: ConfigDef, group: &'static str) -> ConfigDef {
        def.required(self.name, self.config_type, self.importance, self.doc).in_group(group, Width::Long, self.display)
    }

    /// Adds the key, with its default, to `def` in `group`.
    pub fn add_to(&self, def: ConfigDef, group: &'static str) -> ConfigDef {
        def.optional(self.name, self.config_type, self.default, self.importance, self.doc).in_group(
            group,
            Width::Long,
            self.display,
        )
    }
}

/// Declares a [`KeySpec`] constant: `config_key!(NAME, "key.name", Type, "default", Importance,
/// "Display Name", "Documentation.")`.
#[macro_export]
macro_rules! config_key {
    ($const:ident, $name:literal, $type:ident, $default:literal, $importance:ident, $display:literal, $doc:literal) => {
        const $const: $crate::KeySpec = $crate::KeySpec {
            name: $name,
            config_type: $crate::ConfigType::$type,
            default: $default,
            importance: $crate::Importance::$importance,
            display: $display,
            doc: $doc,
        };
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> ConnectorConfig {
        pairs.iter().map(|(k, v)| (*k, *v)).collect()
    }

    #[test]
    fn typed_getters_name_the_key_on_error() {
        let c = cfg(&[("n", "x"), ("b", "TRUE"), ("l", " a, b ,,c")]);
        assert_eq!(c.int_or("n", 1, 0, 10).unwrap_err().config_key(), Some("n"));
        assert_eq!(c.int_or("unset", 3, 0, 10).unwrap(), 3);
        assert!(c.bool_or("b", false).unwrap());
        assert_eq!(c.list("l"), vec!["a", "b", "c"]);
        assert_eq!(c.required("missing").unwrap_err().config_key(), Some("missing"));
    }

    #[test]
    fn prefix_strips_and_filters() {
        let c = cfg(&[("value.converter", "x"), ("value.converter.schemas.enable", "false"), ("other", "1")]);
        let sub = c.with_prefix("value.converter.");
        assert_eq!(sub.get("schemas.enable"), Some("false"));
        assert_eq!(sub.as_map().len(), 1);
    }

    #[test]
    fn config_def_validates_required_and_types() {
        let def = ConfigDef::new().required("hostname", ConfigType::String, Importance::High, "host").optional(
            "port",
            ConfigType::Int,
            "8123",
            Importance::High,
            "port",
        );
        assert_eq!(def.validate(&cfg(&[])).unwrap_err().config_key(), Some("hostname"));
        assert_eq!(
            def.validate(&cfg(&[("hostname", "h"), ("port", "eighty")])).unwrap_err().config_key(),
            Some("port")
        );
        assert!(def.validate(&cfg(&[("hostname", "h")])).is_ok());
    }

    #[test]
    fn grouped_keys_are_numbered_within_their_group() {
        let def = ConfigDef::new()
            .required("a", ConfigType::String, Importance::High, "a")
            .in_group("Common", Width::Long, "A")
            .optional("b", ConfigType::Int, "1", Importance::Low, "b")
            .in_group("Other", Width::Short, "B")
            .optional("c", ConfigType::List, "", Importance::Low, "c")
            .in_group("Common", Width::Medium, "C")
            .optional("d", ConfigType::String, "", Importance::Low, "d");
        let order = |n: &str| def.key(n).unwrap().display.as_ref().map(|d| (d.group, d.order_in_group));
        assert_eq!(order("a"), Some(("Common", 1)));
        assert_eq!(order("b"), Some(("Other", 1)));
        assert_eq!(order("c"), Some(("Common", 2)));
        assert_eq!(order("d"), None);
        assert_eq!(def.key("c").unwrap().display.as_ref().unwrap().width.rest_name(), "MEDIUM");
    }
}
