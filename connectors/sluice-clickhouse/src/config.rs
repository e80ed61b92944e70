//! The sink's configuration: [`ClickhouseSinkConfig`], parsed from the connector's string map
//! with the same keys as the official ClickHouse Kafka connector, and [`config_def`], their
//! documentation. Each key is declared once, as a [`KeySpec`] that both read.

use std::collections::BTreeMap;
use std::time::Duration;

use sluice_api::{config_key as key, ConfigDef, ConnectError, ConnectorConfig, KeySpec, Result};

key!(HOSTNAME, "hostname", String, "", High, "Host Names",
    "ClickHouse host name, without scheme or port. Several replicas of one shard may be listed, comma-separated: they are tried in turn when one cannot be reached.");
key!(PORT, "port", Int, "8123", High, "Port", "ClickHouse HTTP(S) port. Use 8443 for HTTPS on ClickHouse Cloud.");
key!(SSL, "ssl", Boolean, "false", High, "SSL", "Connect over HTTPS.");
key!(SSL_TRUSTSTORE_LOCATION, "ssl.truststore.location", String, "", Medium, "SSL Truststore Location",
    "With ssl=true: a PEM file of CA certificates to trust besides the public (Mozilla) roots, for a server whose certificate a private CA signed. JKS files must be exported to PEM first (keytool -exportcert -rfc).");
key!(DATABASE, "database", String, "default", High, "Database", "Database holding the target tables.");
key!(USERNAME, "username", String, "default", High, "User", "ClickHouse user name.");
key!(PASSWORD, "password", Password, "", High, "Password", "ClickHouse password.");
key!(
    TOPIC_TO_TABLE_MAP,
    "topic2TableMap",
    String,
    "",
    Medium,
    "Topic to Table Map",
    "Target table per topic, as topic1=table1,topic2=table2. Topics not listed go to the table named like the topic."
);
key!(
    CLICKHOUSE_SETTINGS,
    "clickhouseSettings",
    String,
    "",
    Low,
    "ClickHouse Settings",
    "ClickHouse settings sent with every insert, as name=value,name2=value2 (e.g. async_insert=1)."
);
key!(TABLE_REFRESH_INTERVAL, "tableRefreshInterval", Int, "0", Low, "Table Refresh Interval",
    "Seconds between re-reading a table's columns. 0 reads them once per task start, on first use (and again after a failed insert).");
key!(EXACTLY_ONCE, "exactlyOnce", Boolean, "false", Medium, "Exactly Once",
    "Write every record exactly once, also across crashes and rebalances, without ClickHouse Keeper: each table must have the Kafka coordinate columns _topic, _partition and _offset (auto.create adds them), which the sink fills and reads back after a restart to skip what already landed. See the README's exactly-once section.");
key!(
    BYPASS_SCHEMA_VALIDATION,
    "bypassSchemaValidation",
    Boolean,
    "false",
    Low,
    "Bypass Schema Validation",
    "Accepted for compatibility; Sluice checks each value against its column while encoding."
);
key!(AUTO_CREATE, "auto.create", Boolean, "false", Medium, "Auto Create",
    "Create a missing table from the first record's schema (or, for schemaless JSON, its values): a MergeTree with the Kafka coordinate columns, ordered by auto.create.order.by.");
key!(AUTO_EVOLVE, "auto.evolve", Boolean, "false", Medium, "Auto Evolve",
    "Add a Nullable column for each record field the table lacks (ALTER TABLE ADD COLUMN), then go on. When false, such fields are ignored.");
key!(
    AUTO_CREATE_ORDER_BY,
    "auto.create.order.by",
    List,
    "_topic,_partition,_offset",
    Low,
    "Auto Create Order By",
    "ORDER BY key of tables created by auto.create, as comma-separated column names."
);

const KEYS: &[&KeySpec] = &[
    &PORT,
    &SSL,
    &SSL_TRUSTSTORE_LOCATION,
    &DATABASE,
    &USERNAME,
    &PASSWORD,
    &TOPIC_TO_TABLE_MAP,
    &CLICKHOUSE_SETTINGS,
    &TABLE_REFRESH_INTERVAL,
    &EXACTLY_ONCE,
    &BYPASS_SCHEMA_VALIDATION,
    &AUTO_CREATE,
    &AUTO_EVOLVE,
    &AUTO_CREATE_ORDER_BY,
];

/// The keys this connector accepts, with their defaults and documentation. `errors.*` keys
/// are the runtime's and are not listed here.
pub fn config_def() -> ConfigDef {
    let def = HOSTNAME.add_required_to(ConfigDef::new(), "ClickHouse");
    KEYS.iter().fold(def, |def, key| key.add_to(def, "ClickHouse"))
}

/// The certificates of the PEM file `ssl.truststore.location` names; none when unset.
fn ca_certificates(config: &ConnectorConfig) -> Result<Vec<Vec<u8>>> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let Some(path) = config.get(SSL_TRUSTSTORE_LOCATION.name).map(str::trim).filter(|p| !p.is_empty()) else {
        return Ok(Vec::new());
    };
    let bad = |msg: String| ConnectError::config(SSL_TRUSTSTORE_LOCATION.name, msg);
    let pem = std::fs::read(path).map_err(|e| bad(format!("cannot read {path}: {e}")))?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("{path} is not a PEM file of certificates: {e}")))?;
    if certificates.is_empty() {
        return Err(bad(format!(
            "{path} holds no PEM certificate (-----BEGIN CERTIFICATE-----); export a JKS truststore with `keytool -exportcert -rfc`"
        )));
    }
    Ok(certificates)
}

/// How to reach ClickHouse and where each topic's records go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClickhouseSinkConfig {
    /// `hostname`: the ClickHouse hosts, without scheme or port (e.g. `ch.example.com`):
    /// replicas of one shard, tried in turn.
    pub hostnames: Vec<String>,
    /// `port`: the HTTP(S) interface port; 8123 unless set (ClickHouse Cloud uses 8443).
    pub port: u16,
    /// `ssl`: connect over HTTPS instead of HTTP.
    pub ssl: bool,
    /// `ssl.truststore.location`: CA certificates (DER) trusted besides the public roots.
    pub ssl_ca_certificates: Vec<Vec<u8>>,
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
    /// `exactlyOnce`: skip, after a restart, what the table already holds (see `exactly_once`).
    pub exactly_once: bool,
    /// `bypassSchemaValidation`: accepted for compatibility. Sluice checks each value against
    /// its column while encoding, so there is no separate validation step to skip.
    pub bypass_schema_validation: bool,
    /// `auto.create`: create missing tables from the records.
    pub auto_create: bool,
    /// `auto.evolve`: add columns for new record fields.
    pub auto_evolve: bool,
    /// `auto.create.order.by`: the ORDER BY key of created tables.
    pub auto_create_order_by: Vec<String>,
    /// The connector's name (`name`), which tags this connector's inserts in ClickHouse.
    pub connector_name: String,
}

impl ClickhouseSinkConfig {
    /// Parses and checks the connector config; errors name the offending key.
    pub fn from_connector_config(config: &ConnectorConfig) -> Result<Self> {
        config.required(HOSTNAME.name)?;
        let hostnames: Vec<String> = config.list(HOSTNAME.name);
        if let Some(bad) = hostnames.iter().find(|h| h.contains("://") || h.contains('/') || h.is_empty()) {
            return Err(ConnectError::config(
                HOSTNAME.name,
                format!("Expected bare host names such as ch.example.com (comma-separated for replicas), got {bad:?}; set `ssl` and `port` instead of a URL."),
            ));
        }
        let refresh = TABLE_REFRESH_INTERVAL.int(config, 0, i64::from(u32::MAX))?;
        let order_by = config.list(AUTO_CREATE_ORDER_BY.name);
        Ok(ClickhouseSinkConfig {
            hostnames,
            port: PORT.int(config, 1, u16::MAX as i64)? as u16,
            ssl: SSL.boolean(config)?,
            ssl_ca_certificates: ca_certificates(config)?,
            database: DATABASE.value(config).to_owned(),
            username: USERNAME.value(config).to_owned(),
            password: config.string_or(PASSWORD.name, "").to_owned(),
            topic_to_table: pairs(config, TOPIC_TO_TABLE_MAP.name)?.into_iter().collect(),
            clickhouse_settings: pairs(config, CLICKHOUSE_SETTINGS.name)?,
            table_refresh_interval: (refresh > 0).then(|| Duration::from_secs(refresh as u64)),
            exactly_once: EXACTLY_ONCE.boolean(config)?,
            bypass_schema_validation: BYPASS_SCHEMA_VALIDATION.boolean(config)?,
            auto_create: AUTO_CREATE.boolean(config)?,
            auto_evolve: AUTO_EVOLVE.boolean(config)?,
            auto_create_order_by: if order_by.is_empty() {
                AUTO_CREATE_ORDER_BY.default.split(',').map(str::to_owned).collect()
            } else {
                order_by
            },
            connector_name: config.string_or("name", "").to_owned(),
        })
    }

    /// The HTTP interface URL of each host, in the order given, e.g. `http://127.0.0.1:8123`.
    pub fn urls(&self) -> Vec<String> {
        let scheme = if self.ssl { "https" } else { "http" };
        self.hostnames
            .iter()
            .map(|host| {
                let host = if host.contains(':') && !host.starts_with('[') {
                    format!("[{host}]") // a bare IPv6 address
                } else {
                    host.clone()
                };
                format!("{scheme}://{host}:{}", self.port)
            })
            .collect()
    }

    /// The table records of `topic` are written to.
    pub fn table_for<'a>(&'a self, topic: &'a str) -> &'a str {
        self.topic_to_table.get(topic).map(String::as_str).unwrap_or(topic)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> ConnectorConfig {
        pairs.iter().map(|(k, v)| (*k, *v)).collect()
    }

    #[test]
    fn defaults_match_the_official_connector() {
        let c = ClickhouseSinkConfig::from_connector_config(&cfg(&[("hostname", "ch.local")])).unwrap();
        assert_eq!(c.urls(), ["http://ch.local:8123"]);
        assert_eq!((c.database.as_str(), c.username.as_str(), c.password.as_str()), ("default", "default", ""));
        assert_eq!(c.table_refresh_interval, None);
        assert_eq!(c.table_for("events"), "events");
        assert!(!c.exactly_once && !c.auto_create && !c.auto_evolve);
        assert_eq!(c.auto_create_order_by, ["_topic", "_partition", "_offset"]);
        assert!(config_def().validate(&cfg(&[("hostname", "ch.local")])).is_ok());
        assert!(config_def().key("hostname").is_some_and(|k| k.default.is_none()), "hostname is required");
    }

    #[test]
    fn parses_maps_settings_replicas_and_ssl() {
        let c = ClickhouseSinkConfig::from_connector_config(&cfg(&[
            ("name", "ch-sink"),
            ("hostname", "ch1.example.com, ch2.example.com,::1"),
            ("port", "8443"),
            ("ssl", "true"),
            ("database", "analytics"),
            ("topic2TableMap", "clicks=click_events, views = page_views"),
            ("clickhouseSettings", "async_insert=1,wait_for_async_insert=1"),
            ("tableRefreshInterval", "60"),
            ("exactlyOnce", "true"),
            ("auto.create.order.by", "user_id, _offset"),
            ("errors.tolerance", "all"),
        ]))
        .unwrap();
        assert_eq!(c.urls(), ["https://ch1.example.com:8443", "https://ch2.example.com:8443", "https://[::1]:8443"]);
        assert_eq!(c.table_for("views"), "page_views");
        assert_eq!(c.table_for("other"), "other");
        assert_eq!(c.clickhouse_settings[1], ("wait_for_async_insert".into(), "1".into()));
        assert_eq!(c.table_refresh_interval, Some(Duration::from_secs(60)));
        assert!(c.exactly_once);
        assert_eq!(c.auto_create_order_by, ["user_id", "_offset"]);
        assert_eq!(c.connector_name, "ch-sink");
    }

    #[test]
    fn errors_name_the_key() {
        let key_of = |pairs: &[(&str, &str)]| {
            ClickhouseSinkConfig::from_connector_config(&cfg(pairs)).unwrap_err().config_key().map(str::to_owned)
        };
        assert_eq!(key_of(&[]).as_deref(), Some("hostname"));
        assert_eq!(key_of(&[("hostname", "http://h:8123")]).as_deref(), Some("hostname"));
        assert_eq!(key_of(&[("hostname", "a,b/c")]).as_deref(), Some("hostname"));
        assert_eq!(key_of(&[("hostname", "h"), ("port", "99999")]).as_deref(), Some("port"));
        assert_eq!(key_of(&[("hostname", "h"), ("ssl", "yes")]).as_deref(), Some("ssl"));
        assert_eq!(key_of(&[("hostname", "h"), ("exactlyOnce", "maybe")]).as_deref(), Some("exactlyOnce"));
        assert_eq!(key_of(&[("hostname", "h"), ("auto.create", "1")]).as_deref(), Some("auto.create"));
        assert_eq!(key_of(&[("hostname", "h"), ("topic2TableMap", "a=b,c")]).as_deref(), Some("topic2TableMap"));
        assert_eq!(
            key_of(&[("hostname", "h"), ("tableRefreshInterval", "-1")]).as_deref(),
            Some("tableRefreshInterval")
        );
    }
}
