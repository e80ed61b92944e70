//! Converters: Kafka bytes → Connect values.
//!
//! # Layout
//! - [`json`]: `JsonConverter`, Kafka Connect's JSON format with `schemas.enable` true (the
//!   `{"schema":…,"payload":…}` envelope) or false (plain JSON → schemaless values).
//! - [`string`]: `StringConverter`, UTF-8 text as an optional string.
//! - [`bytearray`]: `ByteArrayConverter`, the bytes unchanged.
//! - [`registry`]: the schema registry client, the Confluent wire format, and
//!   [`registry::RegistryConverter`], the converter the registry-backed formats share.
//!
//! [`register`] adds all of them to a plugin registry under Sluice's class names and the
//! Kafka Connect class names users already have in their configs.

pub mod bytearray;
pub mod json;
pub mod registry;
pub mod string;

use std::sync::Arc;

use sluice_api::{PluginDesc, PluginKind, PluginRegistry};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Registers every converter of this crate.
pub fn register(registry: &mut PluginRegistry) {
    registry.add_converter(
        PluginDesc {
            class: "io.sluice.connect.json.JsonConverter",
            aliases: &["org.apache.kafka.connect.json.JsonConverter"],
            kind: PluginKind::Converter,
            version: VERSION,
        },
        |config, is_key| Ok(Arc::new(json::JsonConverter::from_config(config, is_key)?)),
    );
    registry.add_converter(
        PluginDesc {
            class: "io.sluice.connect.storage.StringConverter",
            aliases: &["org.apache.kafka.connect.storage.StringConverter"],
            kind: PluginKind::Converter,
            version: VERSION,
        },
        |_, _| Ok(Arc::new(string::StringConverter)),
    );
    registry.add_converter(
        PluginDesc {
            class: "io.sluice.connect.converters.ByteArrayConverter",
            aliases: &["org.apache.kafka.connect.converters.ByteArrayConverter"],
            kind: PluginKind::Converter,
            version: VERSION,
        },
        |_, _| Ok(Arc::new(bytearray::ByteArrayConverter)),
    );
}
