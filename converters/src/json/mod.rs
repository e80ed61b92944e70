//! Kafka Connect's `JsonConverter`.
//!
//! With `schemas.enable=true` (Kafka Connect's default) every message is an envelope
//! `{"schema": {...}, "payload": ...}`; the schema is parsed once per distinct schema text and
//! cached (`schemas.cache.size`, default 1000). With `schemas.enable=false` the message is plain
//! JSON and becomes a schemaless value: objects are maps with string keys, integers that fit
//! are `int64`, other numbers `double`.

mod envelope;
mod payload;

use std::num::NonZeroUsize;
use std::sync::Mutex;

use lru::LruCache;
use serde::Deserialize;
use serde_json::value::RawValue;
use sluice_api::{ConnectError, ConnectorConfig, Converter, Header, Result, SchemaAndValue, SchemaRef};

pub use payload::DecimalFormat;

/// Plain JSON as a schemaless value (objects as maps with string keys), as `schemas.enable=false` reads it.
pub(crate) fn parse_schemaless(data: &[u8]) -> std::result::Result<sluice_api::Value, serde_json::Error> {
    sluice_api::json::parse(data)
}

/// Config keys of the JSON converter.
pub mod keys {
    pub const SCHEMAS_ENABLE: &str = "schemas.enable";
    pub const SCHEMAS_CACHE_SIZE: &str = "schemas.cache.size";
    pub const DECIMAL_FORMAT: &str = "decimal.format";
}

/// Kafka Connect's JSON converter.
pub struct JsonConverter {
    schemas_enable: bool,
    decimal_format: DecimalFormat,
    /// Parsed schemas keyed by their exact JSON text.
    schema_cache: Mutex<LruCache<Box<str>, SchemaRef>>,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    schema: Option<&'a RawValue>,
    #[serde(borrow)]
    payload: Option<&'a RawValue>,
}

impl JsonConverter {
    /// Builds the converter from its `key.converter.*` / `value.converter.*` keys.
    pub fn from_config(config: &ConnectorConfig, _is_key: bool) -> Result<Self> {
        let schemas_enable = config.bool_or(keys::SCHEMAS_ENABLE, true)?;
        let cache_size = config.int_or(keys::SCHEMAS_CACHE_SIZE, 1000, 1, i32::MAX as i64)? as usize;
        let decimal_format = match config.string_or(keys::DECIMAL_FORMAT, "BASE64").to_ascii_uppercase().as_str() {
            "BASE64" => DecimalFormat::Base64,
            "NUMERIC" => DecimalFormat::Numeric,
            other => {
                return Err(ConnectError::config(
                    keys::DECIMAL_FORMAT,
                    format!("Expected BASE64 or NUMERIC, got {other:?}."),
                ))
            }
        };
        Ok(JsonConverter {
            schemas_enable,
            decimal_format,
            schema_cache: Mutex::new(LruCache::new(NonZeroUsize::new(cache_size).unwrap_or(NonZeroUsize::MIN))),
        })
    }

    /// A converter with Kafka Connect's defaults except for `schemas.enable`.
    pub fn new(schemas_enable: bool) -> Self {
        let config: ConnectorConfig =
            [(keys::SCHEMAS_ENABLE, if schemas_enable { "true" } else { "false" })].into_iter().collect();
        match Self::from_config(&config, false) {
            Ok(c) => c,
            Err(_) => unreachable!("the default configuration is valid"),
        }
    }

    fn cached_schema(&self, raw: &RawValue) -> Result<SchemaRef> {
        let text = raw.get();
        let mut cache = self.schema_cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(schema) = cache.get(text) {
            return Ok(schema.clone());
        }
        let json: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| ConnectError::data(format!("JsonConverter: the envelope's schema is not valid JSON: {e}")))?;
        let schema = envelope::schema_from_json(&json)?.into_ref();
        cache.put(text.into(), schema.clone());
        Ok(schema)
    }

    fn with_envelope(&self, topic: &str, data: &[u8]) -> Result<SchemaAndValue> {
        let env: Envelope<'_> = serde_json::from_slice(data).map_err(|e| parse_error(topic, e))?;
        let (Some(schema), Some(payload)) = (env.schema, env.payload) else {
            return Err(ConnectError::data(
                "JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields and may not contain additional fields. If you are trying to deserialize plain JSON data, set schemas.enable=false in your converter configuration.",
            ));
        };
        if schema.get() == "null" {
            // Kafka Connect writes a null schema for schemaless values inside an envelope.
            return Ok(SchemaAndValue {
                schema: None,
                value: sluice_api::json::parse(payload.get().as_bytes()).map_err(|e| parse_error(topic, e))?,
            });
        }
        let schema = self.cached_schema(schema)?;
        let payload: serde_json::Value = serde_json::from_str(payload.get()).map_err(|e| parse_error(topic, e))?;
        let value = payload::to_value(&schema, &payload, self.decimal_format)?;
        Ok(SchemaAndValue { schema: Some(schema), value })
    }
}

fn parse_error(topic: &str, e: serde_json::Error) -> ConnectError {
    ConnectError::data(format!("JsonConverter: record from topic {topic} is not valid JSON: {e}"))
}

impl Converter for JsonConverter {
    fn to_connect(&self, topic: &str, _headers: &[Header], data: Option<&[u8]>) -> Result<SchemaAndValue> {
        let Some(data) = data else {
            return Ok(SchemaAndValue::null());
        };
        if self.schemas_enable {
            self.with_envelope(topic, data)
        } else {
            let value = sluice_api::json::parse(data).map_err(|e| parse_error(topic, e))?;
            Ok(SchemaAndValue { schema: None, value })
        }
    }

    fn reads_schemaless_json(&self) -> bool {
        !self.schemas_enable
    }

    fn check_json(&self, topic: &str, data: &[u8]) -> Result<()> {
        if self.schemas_enable {
            self.to_connect(topic, &[], Some(data)).map(|_| ())
        } else {
            sluice_api::json::check(data).map_err(|e| parse_error(topic, e))
        }
    }
}

impl std::fmt::Debug for JsonConverter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonConverter")
            .field("schemas_enable", &self.schemas_enable)
            .field("decimal_format", &self.decimal_format)
            .finish()
    }
}

#[cfg(test)]
mod tests;
