//! The sink's configuration: [`FileSinkConfig`], parsed from the connector's string map with
//! Kafka Connect's keys, and [`config_def`], their documentation. The key is declared once, as
//! a [`KeySpec`](sluice_api::KeySpec) that both the docs and the parser read. `topics` and
//! `topics.regex` are the worker's, as for every sink.

use std::path::PathBuf;

use sluice_api::{ConfigDef, ConnectError, ConnectorConfig, KeySpec, Result};

/// Kafka Connect's class name, which this sink answers to.
pub const CLASS: &str = "org.apache.kafka.connect.file.FileStreamSinkConnector";

use sluice_api::config_key as key;

key!(FILE, "file", String, "", High, "File",
    "Destination filename, appended to (created if missing; a relative path is relative to the worker's working directory). If not specified, the standard output will be used.");

const KEYS: &[&KeySpec] = &[&FILE];

/// The documented keys.
pub fn config_def() -> ConfigDef {
    KEYS.iter().fold(ConfigDef::new(), |def, key| key.add_to(def, "File"))
}

/// Where the lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// The worker's standard output (`file` unset or empty, as in Kafka Connect).
    Stdout,
    /// A file, opened for appending.
    File(PathBuf),
}

/// The sink's settings, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSinkConfig {
    pub destination: Destination,
}

impl FileSinkConfig {
    /// Parses and checks the connector config; errors name the offending key.
    pub fn from_connector_config(config: &ConnectorConfig) -> Result<Self> {
        // Trimmed, as Kafka's ConfigDef trims STRING values; empty means stdout in Kafka 4.x too.
        let file = FILE.value(config);
        if file.is_empty() {
            return Ok(FileSinkConfig { destination: Destination::Stdout });
        }
        let path = PathBuf::from(file);
        if path.is_dir() {
            return Err(ConnectError::config(
                FILE.name,
                format!("{file} is a directory; name a file to append to, e.g. {}.", path.join("sink.txt").display()),
            ));
        }
        Ok(FileSinkConfig { destination: Destination::File(path) })
    }

    /// Where the lines go, for messages: the path, or `stdout`.
    pub fn shown(&self) -> String {
        match &self.destination {
            Destination::Stdout => "stdout".to_owned(),
            Destination::File(path) => path.display().to_string(),
        }
    }
}

/// The `file` key's name, for errors raised while writing.
pub(crate) const FILE_KEY: &str = FILE.name;

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> ConnectorConfig {
        pairs.iter().map(|(k, v)| (*k, *v)).collect()
    }

    #[test]
    fn a_kafka_connect_quickstart_config_parses() {
        let c = FileSinkConfig::from_connector_config(&cfg(&[
            ("connector.class", "FileStreamSink"),
            ("tasks.max", "1"),
            ("file", " /tmp/test.sink.txt "),
            ("topics", "connect-test"),
        ]))
        .unwrap();
        assert_eq!(c.destination, Destination::File("/tmp/test.sink.txt".into()));
        assert_eq!(c.shown(), "/tmp/test.sink.txt");
    }

    #[test]
    fn no_file_or_an_empty_one_means_stdout() {
        for pairs in [&[][..], &[("file", "")][..], &[("file", "  ")][..]] {
            let c = FileSinkConfig::from_connector_config(&cfg(pairs)).unwrap();
            assert_eq!(c.destination, Destination::Stdout);
            assert_eq!(c.shown(), "stdout");
        }
    }

    #[test]
    fn a_directory_is_refused_naming_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let err = FileSinkConfig::from_connector_config(&cfg(&[("file", dir.path().to_str().unwrap())])).unwrap_err();
        assert_eq!(err.config_key(), Some("file"));
        assert!(err.to_string().contains("is a directory"), "{err}");
    }

    #[test]
    fn every_key_is_documented_once() {
        let def = config_def();
        for key in KEYS {
            assert_eq!(def.keys.iter().filter(|k| k.name == key.name).count(), 1, "{}", key.name);
        }
        let file = def.key("file").unwrap();
        assert_eq!(file.default, Some(""));
        assert_eq!(file.config_type.rest_name(), "STRING");
    }
}
