//! The sink's configuration: [`ClickhouseSinkConfig`], parsed from the connector's string map
//! with the same keys as the official ClickHouse Kafka connector, and [`config_def`], the
//! documented list of those keys.

use std::collections::BTreeMap;
use std::time::Duration;

use sluice_api::{ConfigDef, ConfigType, ConnectError, ConnectorConfig, Importance, Result};

/// Config keys, as the official connector names them.
pub mod keys {
    pub const HOSTNAME: &str = "hostname";
    pub const PORT: &str = "port";
    pub const SSL: &str = "ssl";
    pub const DATABASE: &str = "database";
    pub const USERNAME: &str = "username";
    pub const PASSWORD: &str = "password";
    pub const TOPIC_TO_TABLE_MAP: &str = "topic2TableMap";
    pub const CLICKHOUSE_SETTINGS: &str = "clickhouseSettings";
    pub const TABLE_REFRESH_INTERVAL: &str = "tableRefreshInterval";
    pub const EXACTLY_ONCE: &str = "exactlyOnce";
    pub const BYPASS_SCHEMA_VALIDATION: &str = "bypassSchemaValidation";
}

/// How to reach ClickHouse and where each topic's records go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClickhouseSinkConfig {
    /// `hostname`: the ClickHouse host, without scheme or port (e.g. `ch.example.com`).
    pub hostname: String,
    /// `port`: the HTTP(S) interface port; 8123 unless set (ClickHouse Cloud uses 8443).
    pub port: u16,
    /// `ssl`: connect over HTTPS instead of HTTP.
    pub ssl: bool,
    /// `database`: the database holding the target tables.
    pub database: String,
    /// `username`: the ClickHouse user.
    pub username: String,
    /// `password`: that user's password; empty for none.
    pub password: String,
    /// `topic2TableMap`: target table per topic; a topic without an entry goes to the table
    /// named like the topic.
    pub topic_to_table: BTreeMap<String, String>,
    /// `clickhouseSettings`: ClickHouse settings sent with every insert, in the order given.
    pub clickhouse_settings: Vec<(String, String)>,
    /// `tableRefreshInterval`: how often a table's columns are described again; `None` (the
    /// default, `0`) describes each table once per task start, on first use.
    pub table_refresh_interval: Option<Duration>,
    /// `bypassSchemaValidation`: accepted for compatibility. Sluice checks each value against
    /// its column while encoding, so there is no separate validation step to skip.
    pub bypass_schema_validation: bool,
}

impl ClickhouseSinkConfig {
    /// Parses and checks the connector config; errors name the offending key.
    pub fn from_connector_config(config: &ConnectorConfig) -> Result<Self> {
        let hostname = config.required(keys::HOSTNAME)?.to_owned();
        if hostname.contains("://") || hostname.contains('/') {
            return Err(ConnectError::config(
                keys::HOSTNAME,
                format!("Expected a bare host name such as ch.example.com, got {hostname:?}; set `ssl` and `port` instead of a URL."),
            ));
        }
        let port = config.int_or(keys::PORT, 8123, 1, u16::MAX as i64)? as u16;
        if config.bool_or(keys::EXACTLY_ONCE, false)? {
            return Err(ConnectError::config(
                keys::EXACTLY_ONCE,
                "Exactly-once delivery is not supported yet; set it to false (records are delivered at least once).",
            ));
        }
        let refresh = config.int_or(keys::TABLE_REFRESH_INTERVAL, 0, 0, i64::from(u32::MAX))?;
        Ok(ClickhouseSinkConfig {
            hostname,
            port,
            ssl: config.bool_or(keys::SSL, false)?,
            database: non_empty_or(config, keys::DATABASE, "default"),
            username: non_empty_or(config, keys::USERNAME, "default"),
            password: config.string_or(keys::PASSWORD, "").to_owned(),
            topic_to_table: pairs(config, keys::TOPIC_TO_TABLE_MAP)?.into_iter().collect(),
            clickhouse_settings: pairs(config, keys::CLICKHOUSE_SETTINGS)?,
            table_refresh_interval: (refresh > 0).then(|| Duration::from_secs(refresh as u64)),
            bypass_schema_validation: config.bool_or(keys::BYPASS_SCHEMA_VALIDATION, false)?,
        })
    }

    /// The HTTP interface URL, e.g. `http://127.0.0.1:8123`.
    pub fn url(&self) -> String {
        let scheme = if self.ssl { "https" } else { "http" };
        let host = if self.hostname.contains(':') && !self.hostname.starts_with('[') {
            format!("[{}]", self.hostname) // a bare IPv6 address
        } else {
            self.hostname.clone()
        };
        format!("{scheme}://{host}:{}", self.port)
    }

    /// The table records of `topic` are written to.
    pub fn table_for<'a>(&'a self, topic: &'a str) -> &'a str {
        self.topic_to_table.get(topic).map(String::as_str).unwrap_or(topic)
    }
}

fn non_empty_or(config: &ConnectorConfig, key: &str, default: &str) -> String {
    match config.get(key).map(str::trim) {
        Some(v) if !v.is_empty() => v.to_owned(),
        _ => default.to_owned(),
    }
}

/// Parses `k1=v1,k2=v2`; an item without `=` or with an empty side names the key at fault.
fn pairs(config: &ConnectorConfig, key: &str) -> Result<Vec<(String, String)>> {
    config
        .list(key)
        .into_iter()
        .map(|item| match item.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() && !v.trim().is_empty() => {
                Ok((k.trim().to_owned(), v.trim().to_owned()))
            }
            _ => {
                Err(ConnectError::config(key, format!("Expected name=value pairs separated by commas, got {item:?}.")))
            }
        })
        .collect()
}

/// The keys this connector accepts, with their defaults and documentation. `errors.*` keys
/// are the runtime's and are not listed here.
pub fn config_def() -> ConfigDef {
    use ConfigType::{Boolean, Int, Password, String as Str};
    use Importance::{High, Low, Medium};
    ConfigDef::new()
        .required(keys::HOSTNAME, Str, High, "ClickHouse host name, without scheme or port.")
        .optional(keys::PORT, Int, "8123", High, "ClickHouse HTTP(S) port. Use 8443 for HTTPS on ClickHouse Cloud.")
        .optional(keys::SSL, Boolean, "false", High, "Connect over HTTPS.")
        .optional(keys::DATABASE, Str, "default", High, "Database holding the target tables.")
        .optional(keys::USERNAME, Str, "default", High, "ClickHouse user name.")
        .optional(keys::PASSWORD, Password, "", High, "ClickHouse password.")
        .optional(
            keys::TOPIC_TO_TABLE_MAP,
            Str,
            "",
            Medium,
            "Target table per topic, as topic1=table1,topic2=table2. Topics not listed go to the table named like the topic. Tables must exist.",
        )
        .optional(
            keys::CLICKHOUSE_SETTINGS,
            Str,
            "",
            Low,
            "ClickHouse settings sent with every insert, as name=value,name2=value2 (e.g. async_insert=1).",
        )
        .optional(
            keys::TABLE_REFRESH_INTERVAL,
            Int,
            "0",
            Low,
            "Seconds between re-reading a table's columns. 0 reads them once per task start, on first use (and again after a failed insert).",
        )
        .optional(keys::EXACTLY_ONCE, Boolean, "false", Low, "Exactly-once delivery. Not supported yet: must be false.")
        .optional(
            keys::BYPASS_SCHEMA_VALIDATION,
            Boolean,
            "false",
            Low,
            "Accepted for compatibility; Sluice checks each value against its column while encoding.",
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> ConnectorConfig {
        pairs.iter().map(|(k, v)| (*k, *v)).collect()
    }

    #[test]
    fn defaults_match_the_official_connector() {
        let c = ClickhouseSinkConfig::from_connector_config(&cfg(&[("hostname", "ch.local")])).unwrap();
        assert_eq!(c.url(), "http://ch.local:8123");
        assert_eq!((c.database.as_str(), c.username.as_str(), c.password.as_str()), ("default", "default", ""));
        assert_eq!(c.table_refresh_interval, None);
        assert_eq!(c.table_for("events"), "events");
        assert!(config_def().validate(&cfg(&[("hostname", "ch.local")])).is_ok());
    }

    #[test]
    fn parses_maps_settings_and_ssl() {
        let c = ClickhouseSinkConfig::from_connector_config(&cfg(&[
            ("hostname", "ch.example.com"),
            ("port", "8443"),
            ("ssl", "true"),
            ("database", "analytics"),
            ("topic2TableMap", "clicks=click_events, views = page_views"),
            ("clickhouseSettings", "async_insert=1,wait_for_async_insert=1"),
            ("tableRefreshInterval", "60"),
            ("errors.tolerance", "all"),
        ]))
        .unwrap();
        assert_eq!(c.url(), "https://ch.example.com:8443");
        assert_eq!(c.table_for("views"), "page_views");
        assert_eq!(c.table_for("other"), "other");
        assert_eq!(c.clickhouse_settings[1], ("wait_for_async_insert".into(), "1".into()));
        assert_eq!(c.table_refresh_interval, Some(Duration::from_secs(60)));
    }

    #[test]
    fn errors_name_the_key() {
        let key_of = |pairs: &[(&str, &str)]| {
            ClickhouseSinkConfig::from_connector_config(&cfg(pairs)).unwrap_err().config_key().map(str::to_owned)
        };
        assert_eq!(key_of(&[]).as_deref(), Some("hostname"));
        assert_eq!(key_of(&[("hostname", "http://h:8123")]).as_deref(), Some("hostname"));
        assert_eq!(key_of(&[("hostname", "h"), ("port", "99999")]).as_deref(), Some("port"));
        assert_eq!(key_of(&[("hostname", "h"), ("ssl", "yes")]).as_deref(), Some("ssl"));
        assert_eq!(key_of(&[("hostname", "h"), ("topic2TableMap", "a=b,c")]).as_deref(), Some("topic2TableMap"));
        assert_eq!(
            key_of(&[("hostname", "h"), ("tableRefreshInterval", "-1")]).as_deref(),
            Some("tableRefreshInterval")
        );
    }

    #[test]
    fn exactly_once_is_refused_for_now() {
        let err = ClickhouseSinkConfig::from_connector_config(&cfg(&[("hostname", "h"), ("exactlyOnce", "true")]))
            .unwrap_err();
        assert_eq!(err.config_key(), Some("exactlyOnce"));
        assert!(err.to_string().contains("not supported yet"));
    }
}
