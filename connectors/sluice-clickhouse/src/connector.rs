//! The connector: [`ClickhouseSinkConnector`] documents and validates the configuration and
//! creates tasks. It holds no state; every task gets the connector's config.

use sluice_api::{ConfigDef, ConnectorConfig, Result, SinkConnector, SinkTask};

use crate::config::{config_def, ClickhouseSinkConfig};
use crate::sink::ClickhouseSinkTask;

/// The ClickHouse sink connector, registered under the official connector's class names.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClickhouseSinkConnector;

impl SinkConnector for ClickhouseSinkConnector {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    /// Checks key types, then parses the whole config so every error names its key.
    fn validate(&self, config: &ConnectorConfig) -> Result<()> {
        self.config_def().validate(config)?;
        ClickhouseSinkConfig::from_connector_config(config).map(|_| ())
    }

    fn create_task(&self) -> Box<dyn SinkTask> {
        Box::new(ClickhouseSinkTask::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_names_the_bad_key() {
        let c = ClickhouseSinkConnector;
        let cfg = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (*k, *v)).collect::<ConnectorConfig>();
        assert!(c.validate(&cfg(&[("hostname", "ch"), ("topic2TableMap", "a=b")])).is_ok());
        assert_eq!(c.validate(&cfg(&[("port", "8123")])).unwrap_err().config_key(), Some("hostname"));
        assert_eq!(c.validate(&cfg(&[("hostname", "ch"), ("port", "x")])).unwrap_err().config_key(), Some("port"));
        assert!(c.validate(&cfg(&[("hostname", "ch"), ("exactlyOnce", "true")])).is_ok());
        let err = c.validate(&cfg(&[("hostname", "ch"), ("exactlyOnce", "sometimes")])).unwrap_err();
        assert_eq!(err.config_key(), Some("exactlyOnce"));
        assert!(c.config_def().key("clickhouseSettings").is_some());
    }
}
