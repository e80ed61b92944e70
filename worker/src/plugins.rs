//! The built-in plugins. One plain function; nothing registers itself behind the scenes.

use std::sync::Arc;

use sluice_api::PluginRegistry;

/// Every connector and converter this binary ships.
pub fn builtin_plugins() -> PluginRegistry {
    let mut registry = PluginRegistry::new();
    registry.add_sink(sluice_clickhouse::plugin_desc(), Arc::new(sluice_clickhouse::ClickhouseSinkConnector));
    registry.add_sink(sluice_parquet::plugin_desc(), Arc::new(sluice_parquet::ParquetSinkConnector));
    registry.add_sink(sluice_file::plugin_desc(), Arc::new(sluice_file::FileStreamSinkConnector));
    sluice_converters::register(&mut registry);
    sluice_transforms::register(&mut registry);
    registry
}
