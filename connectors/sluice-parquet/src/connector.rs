//! The connector: [`ParquetSinkConnector`] documents and validates the configuration and
//! creates tasks. It holds no state; every task gets the connector's config and Kafka's
//! consumer group spreads partitions over them.

use sluice_api::{ConfigDef, ConnectorConfig, Result, SinkConnector, SinkTask};

use crate::config::{config_def, ParquetSinkConfig};
use crate::sink::ParquetSinkTask;

/// The Parquet sink connector, registered as `io.sluice.connect.parquet.ParquetSinkConnector`
/// and as Confluent's `io.confluent.connect.s3.S3SinkConnector`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ParquetSinkConnector;

impl SinkConnector for ParquetSinkConnector {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    /// Checks key types, then parses the whole config so every error names its key.
    fn validate(&self, config: &ConnectorConfig) -> Result<()> {
        self.config_def().validate(config)?;
        ParquetSinkConfig::from_connector_config(config).map(|_| ())
    }

    fn create_task(&self) -> Box<dyn SinkTask> {
        Box::new(ParquetSinkTask::new())
    }
}
