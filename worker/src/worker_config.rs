//! The worker's own configuration, read from a Kafka Connect style `.properties` file.
//!
//! Keys Kafka Connect defines and Sluice does not use are logged once and ignored, so an
//! existing `connect-standalone.properties` starts a Sluice worker unchanged.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sluice_api::{ConnectError, ConnectorConfig};
use thiserror::Error;

use crate::config_providers::{self, ConfigProviders};
use crate::kafka_clients::{self, KafkaClients};
use crate::logging::LogFormat;
use crate::rest::listeners::{self as rest_listeners, RestSecurity};

/// Keys the worker reads. Anything else is reported as ignored at start-up.
pub mod keys {
    pub const BOOTSTRAP_SERVERS: &str = "bootstrap.servers";
    pub const LISTENERS: &str = "listeners";
    pub const REST_ADVERTISED_HOST_NAME: &str = "rest.advertised.host.name";
    pub const REST_ADVERTISED_PORT: &str = "rest.advertised.port";
    pub const KEY_CONVERTER: &str = "key.converter";
    pub const VALUE_CONVERTER: &str = "value.converter";
    pub const HEADER_CONVERTER: &str = "header.converter";
    pub const OFFSET_FLUSH_INTERVAL_MS: &str = "offset.flush.interval.ms";
    /// Sluice's own: where the standalone worker keeps its state (sled).
    pub const DATA_DIR: &str = "sluice.data.dir";
    /// Kafka Connect standalone's offsets file; its directory is the default data dir.
    pub const OFFSET_STORAGE_FILE: &str = "offset.storage.file.filename";
    /// Sluice's own: most records handed to one `put`.
    pub const BATCH_MAX_RECORDS: &str = "sluice.batch.max.records";
    /// Sluice's own: how long a batch may wait to fill up.
    pub const BATCH_LINGER_MS: &str = "sluice.batch.linger.ms";
    /// Sluice's own: most bytes (keys and values as read from Kafka) handed to one `put`.
    pub const BATCH_MAX_BYTES: &str = "sluice.batch.max.bytes";
    /// Sluice's own: `text` (default) or `json` log lines; `--log-format` wins over it.
    pub const LOG_FORMAT: &str = "sluice.log.format";
    /// Prefix of librdkafka settings applied to every sink task's consumer.
    pub const CONSUMER_PREFIX: &str = "consumer.";
}

/// Kafka Connect's default converter for keys and values.
pub const DEFAULT_CONVERTER: &str = "org.apache.kafka.connect.json.JsonConverter";
/// Kafka Connect's default `header.converter`.
pub const DEFAULT_HEADER_CONVERTER: &str = "org.apache.kafka.connect.storage.SimpleHeaderConverter";

/// A worker config that cannot be used.
#[derive(Debug, Error)]
pub enum WorkerConfigError {
    #[error("cannot read worker config {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot parse worker config {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("worker config: {0}")]
    Invalid(#[from] ConnectError),
}

/// The worker settings Sluice uses.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Every key as written in the file, with config provider references resolved.
    pub raw: ConnectorConfig,
    /// The providers of `config.providers`, which resolve references in connector configs.
    pub providers: ConfigProviders,
    /// Kafka brokers, `host:port,…`.
    pub bootstrap_servers: String,
    /// Settings of every Kafka client the worker creates (security, `consumer.*`, …).
    pub kafka: KafkaClients,
    /// The REST API's listeners, TLS and basic auth.
    pub rest: RestSecurity,
    /// `host:port` other workers and `worker_id` use for this worker.
    pub advertised: String,
    /// How often sink offsets are committed.
    pub offset_flush_interval: Duration,
    /// Directory of the standalone worker's sled state.
    pub data_dir: PathBuf,
    pub batch_max_records: usize,
    pub batch_linger: Duration,
    /// A batch closes once its records' keys and values reach this many bytes.
    pub batch_max_bytes: usize,
}

/// Keys Kafka Connect workers accept that Sluice deliberately ignores (logged at start-up).
fn is_known(key: &str) -> bool {
    const EXACT: &[&str] = &[
        keys::BOOTSTRAP_SERVERS,
        keys::LISTENERS,
        keys::REST_ADVERTISED_HOST_NAME,
        keys::REST_ADVERTISED_PORT,
        keys::KEY_CONVERTER,
        keys::VALUE_CONVERTER,
        keys::HEADER_CONVERTER,
        keys::OFFSET_FLUSH_INTERVAL_MS,
        keys::DATA_DIR,
        keys::OFFSET_STORAGE_FILE,
        keys::BATCH_MAX_RECORDS,
        keys::BATCH_LINGER_MS,
        keys::BATCH_MAX_BYTES,
        keys::LOG_FORMAT,
        rest_listeners::keys::ADVERTISED_LISTENER,
        rest_listeners::keys::EXTENSION_CLASSES,
        rest_listeners::keys::BASIC_AUTH_LOGIN_CONFIG,
    ];
    const PREFIXES: &[&str] = &[
        "key.converter.",
        "value.converter.",
        "header.converter.",
        keys::CONSUMER_PREFIX,
        "producer.",
        "admin.",
        "sasl.",
        "ssl.",
        config_providers::keys::PREFIX,
        rest_listeners::keys::HTTPS_PREFIX,
    ];
    EXACT.contains(&key)
        || key == "security.protocol"
        || key == kafka_clients::keys::OVERRIDE_POLICY
        || key == config_providers::keys::CONFIG_PROVIDERS
        || crate::distributed::config::keys::ALL.contains(&key)
        || PREFIXES.iter().any(|p| key.starts_with(p))
}

/// Reads Java `.properties` text as `java_properties::read` does (a byte-order mark selects
/// UTF-8 or UTF-16, Windows-1252 otherwise); every `.properties` file the worker reads goes
/// through here.
///
/// `java_properties::read` (2.0) panics when its decoder still holds bytes at the end of the
/// input (a file that is only `FF`, or a UTF-16 file of odd length): it uses the decoder again
/// after it has finished. So the bytes are decoded here, in one piece, and the crate parses
/// the resulting UTF-8, which leaves nothing pending.
pub fn read_properties(mut input: impl Read) -> Result<HashMap<String, String>, java_properties::PropertiesError> {
    let mut bytes = Vec::new();
    input.read_to_end(&mut bytes)?;
    let (text, _, _) = encoding_rs::WINDOWS_1252.decode(&bytes);
    let mut map = HashMap::new();
    java_properties::PropertiesIter::new_with_encoding(text.as_bytes(), encoding_rs::UTF_8).read_into(|k, v| {
        map.insert(k, v);
    })?;
    Ok(map)
}

/// The `sluice.log.format` of a worker config file, read before logging starts (and before
/// the rest of the file is checked, which logs). A file that cannot be read is reported later
/// by [`WorkerConfig::load`].
pub fn log_format_of(path: &Path) -> Result<Option<LogFormat>, WorkerConfigError> {
    let Ok(file) = std::fs::File::open(path) else { return Ok(None) };
    let Ok(map) = read_properties(std::io::BufReader::new(file)) else { return Ok(None) };
    match map.get(keys::LOG_FORMAT).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(None),
        Some(v) if v == "text" => Ok(Some(LogFormat::Text)),
        Some(v) if v == "json" => Ok(Some(LogFormat::Json)),
        Some(v) => {
            Err(ConnectError::config(keys::LOG_FORMAT, format!("unknown format {v:?}; use text or json")).into())
        }
    }
}

impl WorkerConfig {
    /// Reads and validates a `.properties` file.
    pub fn load(path: &Path) -> Result<Self, WorkerConfigError> {
        let file = std::fs::File::open(path).map_err(|source| WorkerConfigError::Read { path: path.into(), source })?;
        let map = read_properties(std::io::BufReader::new(file))
            .map_err(|e| WorkerConfigError::Parse { path: path.into(), message: e.to_string() })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::from_map(map.into_iter().collect(), base)
    }

    /// Builds the config from a key/value map; relative paths resolve against `base`. Config
    /// provider references in the worker's own keys are resolved here, as Kafka does.
    pub fn from_map(map: BTreeMap<String, String>, base: &Path) -> Result<Self, WorkerConfigError> {
        let unresolved = ConnectorConfig::new(map);
        let providers = ConfigProviders::from_worker(&unresolved)?;
        let raw = providers.resolve(&unresolved).map_err(|mut errors| errors.swap_remove(0))?;
        let ignored: Vec<&str> = raw.as_map().keys().map(String::as_str).filter(|k| !is_known(k)).collect();
        if !ignored.is_empty() {
            tracing::info!(keys = ?ignored, "Ignoring worker config keys Sluice does not use.");
        }

        let kafka = KafkaClients::from_worker(&raw)?;
        let bootstrap_servers = kafka.bootstrap().to_owned();
        let rest = RestSecurity::from_worker(&raw, base)?;
        let (host, port) = (rest.advertised.host.clone(), rest.advertised.port);
        let advertised_host = match raw.get(keys::REST_ADVERTISED_HOST_NAME).filter(|h| !h.trim().is_empty()) {
            Some(h) => h.trim().to_owned(),
            None if host.is_empty() || host == "0.0.0.0" => machine_hostname(),
            None => host.clone(),
        };
        let advertised_port = raw.int_or(keys::REST_ADVERTISED_PORT, port as i64, 1, 65535)?;
        let advertised = format!("{advertised_host}:{advertised_port}");

        let offset_flush_ms = raw.int_or(keys::OFFSET_FLUSH_INTERVAL_MS, 60_000, 1, i64::MAX)?;
        let data_dir = match (raw.get(keys::DATA_DIR), raw.get(keys::OFFSET_STORAGE_FILE)) {
            (Some(dir), _) => PathBuf::from(dir.trim()),
            (None, Some(file)) => Path::new(file.trim()).parent().map(|p| p.join("sluice-data")).unwrap_or_default(),
            (None, None) => PathBuf::from("sluice-data"),
        };
        let data_dir = if data_dir.is_absolute() { data_dir } else { base.join(data_dir) };
        let batch_max_records = raw.int_or(keys::BATCH_MAX_RECORDS, 10_000, 1, 1_000_000)? as usize;
        let batch_linger = Duration::from_millis(raw.int_or(keys::BATCH_LINGER_MS, 200, 0, 60_000)? as u64);
        let batch_max_bytes = raw.int_or(keys::BATCH_MAX_BYTES, 16 << 20, 1024, 1 << 30)? as usize;

        Ok(WorkerConfig {
            raw,
            providers,
            bootstrap_servers,
            kafka,
            rest,
            advertised,
            offset_flush_interval: Duration::from_millis(offset_flush_ms as u64),
            data_dir,
            batch_max_records,
            batch_linger,
            batch_max_bytes,
        })
    }
}

fn machine_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<WorkerConfig, WorkerConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("worker.properties");
        std::fs::write(&path, text).unwrap();
        WorkerConfig::load(&path)
    }

    #[test]
    fn stock_connect_standalone_file_is_accepted() {
        let cfg = load(
            "bootstrap.servers=localhost:9092\n\
             key.converter=org.apache.kafka.connect.json.JsonConverter\n\
             value.converter=org.apache.kafka.connect.json.JsonConverter\n\
             key.converter.schemas.enable=true\n\
             offset.storage.file.filename=/tmp/connect.offsets\n\
             offset.flush.interval.ms=10000\n\
             plugin.path=/usr/share/java\n\
             listeners=http://127.0.0.1:18083\n",
        )
        .unwrap();
        assert_eq!(cfg.bootstrap_servers, "localhost:9092");
        assert_eq!(cfg.rest.listeners[0].bind_address(), "127.0.0.1:18083");
        assert_eq!(cfg.advertised, "127.0.0.1:18083");
        assert_eq!(cfg.offset_flush_interval, Duration::from_secs(10));
        assert_eq!(cfg.data_dir, PathBuf::from("/tmp/sluice-data"));
    }

    #[test]
    fn errors_name_the_key() {
        let err = load("listeners=http://:8083\n").unwrap_err();
        assert!(err.to_string().contains("bootstrap.servers"), "{err}");
        let err = load("bootstrap.servers=k:9092\nlisteners=https://:8443\n").unwrap_err();
        assert!(err.to_string().contains("listeners.https.ssl.keystore.location"), "{err}");
        let err = load("bootstrap.servers=k:9092\nlisteners=tcp://:8083\n").unwrap_err();
        assert!(err.to_string().contains("listeners"), "{err}");
        let err = load("bootstrap.servers=k:9092\nsluice.log.format=xml\n");
        assert!(err.is_ok(), "the log format is read before, by log_format_of");
        let err = load("bootstrap.servers=k:9092\noffset.flush.interval.ms=soon\n").unwrap_err();
        assert!(err.to_string().contains("offset.flush.interval.ms"), "{err}");
    }

    #[test]
    fn properties_that_are_only_the_start_of_a_byte_order_mark_do_not_panic() {
        // Found by fuzz/ (worker_properties, transforms_config): java_properties::read panicked.
        for input in [&b"\xff"[..], b"\xfe", b"\xef", b"\xef\xbb", b"\xff\xfea\x00=", b"\xfe\xff\x00a"] {
            assert!(read_properties(input).is_ok(), "{input:?}");
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("worker.properties");
        std::fs::write(&path, b"\xff").unwrap();
        let err = WorkerConfig::load(&path).unwrap_err();
        assert!(err.to_string().contains("bootstrap.servers"), "{err}");
    }

    #[test]
    fn properties_decode_as_java_properties_does() {
        let map = read_properties(&b"a=\xe9\nb=\\u00e9\nc=x\\\n  y\n"[..]).unwrap();
        assert_eq!(map, HashMap::from([("a".into(), "é".into()), ("b".into(), "é".into()), ("c".into(), "xy".into())]));
        // A byte-order mark selects the encoding.
        let map = read_properties(&b"\xef\xbb\xbfa=\xc3\xa9"[..]).unwrap();
        assert_eq!(map, HashMap::from([("a".into(), "é".into())]));
        let map = read_properties(&b"\xff\xfea\x00=\x00\xe9\x00"[..]).unwrap();
        assert_eq!(map, HashMap::from([("a".into(), "é".into())]));
    }

    #[test]
    fn the_log_format_key_is_read_before_logging_starts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("worker.properties");
        std::fs::write(&path, "bootstrap.servers=k:9092\nsluice.log.format=JSON\n").unwrap();
        assert_eq!(log_format_of(&path).unwrap(), Some(LogFormat::Json));
        std::fs::write(&path, "bootstrap.servers=k:9092\n").unwrap();
        assert_eq!(log_format_of(&path).unwrap(), None);
        std::fs::write(&path, "sluice.log.format=xml\n").unwrap();
        assert!(log_format_of(&path).unwrap_err().to_string().contains("sluice.log.format"));
    }

    #[test]
    fn defaults_and_advertised_overrides() {
        let cfg =
            load("bootstrap.servers=k:9092\nrest.advertised.host.name=worker-1\nrest.advertised.port=9999\n").unwrap();
        assert_eq!(cfg.rest.listeners[0].bind_address(), "0.0.0.0:8083");
        assert_eq!(cfg.advertised, "worker-1:9999");
        assert_eq!(cfg.offset_flush_interval, Duration::from_secs(60));
        assert!(cfg.data_dir.ends_with("sluice-data"));
    }

    #[test]
    fn worker_keys_may_use_config_providers() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("flush"), "5000").unwrap();
        let text = format!(
            "bootstrap.servers=k:9092\nconfig.providers=dir\n\
             config.providers.dir.class=org.apache.kafka.common.config.provider.DirectoryConfigProvider\n\
             offset.flush.interval.ms=${{dir:{}:flush}}\n",
            dir.path().display()
        );
        let cfg = load(&text).unwrap();
        assert_eq!(cfg.offset_flush_interval, Duration::from_secs(5));
        let err = load("bootstrap.servers=${env:SLUICE_SURELY_UNSET_VARIABLE}\n").unwrap_err();
        assert!(err.to_string().contains("bootstrap.servers"), "{err}");
    }
}
