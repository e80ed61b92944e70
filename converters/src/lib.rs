//! Converters: Kafka bytes → Connect values.
//!
//! # Layout
//! - [`avro`]: Confluent's `AvroConverter`, Avro through the schema registry (the
//!   [`registry::WireFormat`] for Avro).
//! - [`json`]: `JsonConverter`, Kafka Connect's JSON format with `schemas.enable` true (the
//!   `{"schema":…,"payload":…}` envelope) or false (plain JSON → schemaless values).
//! - [`json_schema`]: Confluent's `JsonSchemaConverter`, JSON described by a JSON Schema in the
//!   schema registry (the [`registry::WireFormat`] for JSON Schema).
//! - [`primitive`]: Kafka's `ShortConverter`, `IntegerConverter`, `LongConverter`,
//!   `FloatConverter`, `DoubleConverter` and `BooleanConverter` (big-endian fixed-width values).
//! - [`protobuf`]: Confluent's `ProtobufConverter`, Protobuf through the schema registry (the
//!   [`registry::WireFormat`] for Protobuf).
//! - [`string`]: `StringConverter`, UTF-8 text as an optional string.
//! - [`bytearray`]: `ByteArrayConverter`, the bytes unchanged.
//! - [`header`]: `SimpleHeaderConverter`, Kafka Connect's default `header.converter`.
//! - [`registry`]: the schema registry client, the Confluent wire format, and
//!   [`registry::RegistryConverter`], the converter the registry-backed formats share.
//!
//! [`register`] adds all of them to a plugin registry under Sluice's class names and the
//! Kafka Connect class names users already have in their configs.

pub mod avro;
pub mod bytearray;
pub mod header;
pub mod json;
pub mod json_schema;
pub mod primitive;
pub mod protobuf;
pub mod registry;
pub mod string;

use std::sync::Arc;

use sluice_api::{ConverterFactory, PluginDesc, PluginKind, PluginRegistry};

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
    registry.add_converter(
        PluginDesc {
            class: "io.confluent.connect.avro.AvroConverter",
            aliases: &["io.sluice.connect.avro.AvroConverter"],
            kind: PluginKind::Converter,
            version: VERSION,
        },
        |config, is_key| {
            let format = avro::AvroFormat::new(config)?;
            Ok(Arc::new(crate::registry::RegistryConverter::from_config(format, config, is_key)?))
        },
    );
    registry.add_converter(
        PluginDesc {
            class: "io.confluent.connect.protobuf.ProtobufConverter",
            aliases: &["io.sluice.connect.protobuf.ProtobufConverter"],
            kind: PluginKind::Converter,
            version: VERSION,
        },
        |config, is_key| {
            let format = protobuf::ProtobufFormat::new(config)?;
            Ok(Arc::new(crate::registry::RegistryConverter::from_config(format, config, is_key)?))
        },
    );
    registry.add_converter(
        PluginDesc {
            class: "io.confluent.connect.json.JsonSchemaConverter",
            aliases: &["io.sluice.connect.json.JsonSchemaConverter"],
            kind: PluginKind::Converter,
            version: VERSION,
        },
        |config, is_key| {
            let format = json_schema::JsonSchemaFormat::new(config)?;
            Ok(Arc::new(crate::registry::RegistryConverter::from_config(format, config, is_key)?))
        },
    );
    registry.add_converter(
        PluginDesc {
            class: "io.sluice.connect.storage.SimpleHeaderConverter",
            aliases: &["org.apache.kafka.connect.storage.SimpleHeaderConverter"],
            kind: PluginKind::Converter,
            version: VERSION,
        },
        |_, _| Ok(Arc::new(header::SimpleHeaderConverter)),
    );
    use primitive::{Primitive, PrimitiveConverter};
    let primitives: [(&'static str, &'static [&'static str], ConverterFactory); 6] = [
        (
            "io.sluice.connect.converters.ShortConverter",
            &["org.apache.kafka.connect.converters.ShortConverter"],
            |_, _| Ok(Arc::new(PrimitiveConverter::new(Primitive::Short))),
        ),
        (
            "io.sluice.connect.converters.IntegerConverter",
            &["org.apache.kafka.connect.converters.IntegerConverter"],
            |_, _| Ok(Arc::new(PrimitiveConverter::new(Primitive::Integer))),
        ),
        (
            "io.sluice.connect.converters.LongConverter",
            &["org.apache.kafka.connect.converters.LongConverter"],
            |_, _| Ok(Arc::new(PrimitiveConverter::new(Primitive::Long))),
        ),
        (
            "io.sluice.connect.converters.FloatConverter",
            &["org.apache.kafka.connect.converters.FloatConverter"],
            |_, _| Ok(Arc::new(PrimitiveConverter::new(Primitive::Float))),
        ),
        (
            "io.sluice.connect.converters.DoubleConverter",
            &["org.apache.kafka.connect.converters.DoubleConverter"],
            |_, _| Ok(Arc::new(PrimitiveConverter::new(Primitive::Double))),
        ),
        (
            "io.sluice.connect.converters.BooleanConverter",
            &["org.apache.kafka.connect.converters.BooleanConverter"],
            |_, _| Ok(Arc::new(PrimitiveConverter::new(Primitive::Boolean))),
        ),
    ];
    for (class, aliases, factory) in primitives {
        registry.add_converter(PluginDesc { class, aliases, kind: PluginKind::Converter, version: VERSION }, factory);
    }
}
