//! The connector: [`FileStreamSinkConnector`] documents and validates the configuration and
//! creates tasks. As in Kafka Connect, every task gets the connector's config, so all tasks
//! append to the one file.

use sluice_api::{ConfigDef, ConnectorConfig, Result, SinkConnector, SinkTask};

use crate::config::{config_def, FileSinkConfig};
use crate::sink::FileStreamSinkTask;

/// The file sink connector, registered as `org.apache.kafka.connect.file.FileStreamSinkConnector`.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileStreamSinkConnector;

impl SinkConnector for FileStreamSinkConnector {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    /// Checks key types, then parses the whole config so every error names its key.
    fn validate(&self, config: &ConnectorConfig) -> Result<()> {
        self.config_def().validate(config)?;
        FileSinkConfig::from_connector_config(config).map(|_| ())
    }

    fn create_task(&self) -> Box<dyn SinkTask> {
        Box::new(FileStreamSinkTask::new())
    }
}
