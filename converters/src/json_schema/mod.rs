//! Confluent's JSON Schema converter (`io.confluent.connect.json.JsonSchemaConverter`): records
//! framed with a schema id, whose payload is JSON text described by a registered JSON Schema.
//!
//! Each registered schema (and the schemas it references) is mapped to a Connect schema once,
//! together with a plan that says how to read each JSON value; decoding a record parses the JSON
//! and walks the plan. A value of the wrong JSON type is a data error naming where it is, e.g.
//! `order.items[2].qty: expected an integer, got "x"`.
//!
//! # Mapping
//! Following Confluent's `JsonSchemaData`, except that properties missing from `required` are
//! optional (Confluent's `json.use.optional.for.nonrequired=true`):
//!
//! | JSON Schema | Connect |
//! |---|---|
//! | `object` with `properties` | struct named by `title`; fields ordered by `connect.index` where given, else document order |
//! | `object` with only `additionalProperties: {…}`, or `connect.type: map` | map with string keys |
//! | `array` with `connect.type: map` and `{key, value}` items | map (Confluent's encoding of non-string keys) |
//! | `array` | array of `items` (tuples, via `prefixItems` or an `items` array, keep their JSON text) |
//! | `integer` | `int64`, or `int8`/`int16`/`int32` per `connect.type` |
//! | `number` | `double`, or `float` with `connect.type: float32` |
//! | `string` | `string`; `bytes` with `connect.type: bytes` (base64 text) |
//! | `string` with `format: date` / `time` / `date-time` | `Date` / `Time` / `Timestamp` |
//! | `title: org.apache.kafka.connect.data.Decimal` | `Decimal` (scale from `connect.parameters`), base64 text or a number |
//! | `title: org.apache.kafka.connect.data.{Date,Time,Timestamp}` on an integer | those logical types |
//! | `boolean` | `boolean` |
//! | `enum` / `const` (strings) | `string` with `io.confluent.connect.json.Enum` parameters |
//! | `type: [T, "null"]`, `oneOf`/`anyOf` with a `null` branch, `nullable: true` | optional `T` |
//! | `oneOf`/`anyOf` of several types | struct `io.confluent.connect.json.OneOf` with optional fields `io.confluent.connect.json.OneOf.field.<i>`, one set |
//! | `allOf` | the merged properties of its parts, or its one typed part |
//! | `$ref` | the schema it points to: `#/definitions/…`, `#/$defs/…`, any JSON pointer or `$anchor`, and other registered schemas by reference name or `$id` |
//! | `{}`, `true`, an `object` without properties | optional `string` holding the JSON text |
//!
//! `description` becomes the schema's doc, `connect.version` (else, for the root, the registered
//! version) its version, `connect.parameters` its parameters, `default` its default. A `$ref`
//! cycle cannot be a Connect schema: such a schema fails to parse.
//!
//! # Layout
//! - `mod.rs`: [`JsonSchemaFormat`] (the [`WireFormat`]) and its parsed form [`ParsedJsonSchema`].
//! - `schema.rs`: JSON Schema documents → Connect schema and plan.
//! - `value.rs`: JSON payloads → Connect values.
//! - `tests.rs`: unit tests (no registry, no network).

mod schema;
mod value;

use sluice_api::{ConnectError, ConnectorConfig, Result, SchemaAndValue, SchemaRef};

use crate::registry::{FetchedSchema, SchemaKind, WireFormat};

pub use schema::{ENUM_PARAM, ONE_OF_NAME};

/// The JSON Schema wire format, for [`crate::registry::RegistryConverter`].
#[derive(Debug, Clone, Default)]
pub struct JsonSchemaFormat {}

impl JsonSchemaFormat {
    /// The format for a converter config. It has no keys of its own (registry keys are read by
    /// [`crate::registry::RegistryConverter::from_config`]).
    pub fn new(_config: &ConnectorConfig) -> Result<Self> {
        Ok(JsonSchemaFormat {})
    }
}

/// A registered JSON Schema mapped to a Connect schema, with its conversion plan.
#[derive(Debug)]
pub struct ParsedJsonSchema {
    plan: schema::Plan,
}

impl ParsedJsonSchema {
    /// The Connect schema records written with this schema have.
    pub fn schema(&self) -> &SchemaRef {
        &self.plan.schema
    }
}

impl WireFormat for JsonSchemaFormat {
    type Parsed = ParsedJsonSchema;
    const KIND: SchemaKind = SchemaKind::Json;

    /// The schema's `title`, which Confluent's JSON Schema serializer uses as the record name.
    fn record_name(&self, schema: &FetchedSchema) -> Option<String> {
        let json: serde_json::Value = serde_json::from_str(&schema.text).ok()?;
        json.get("title")?.as_str().map(str::to_owned)
    }

    fn parse(&self, fetched: &FetchedSchema) -> Result<ParsedJsonSchema> {
        let version = fetched.version.and_then(|v| i32::try_from(v).ok());
        let plan = schema::build(&fetched.text, &fetched.references, version)
            .map_err(|e| ConnectError::data(format!("JSON Schema: {e}")))?;
        Ok(ParsedJsonSchema { plan })
    }

    fn decode(&self, parsed: &ParsedJsonSchema, payload: &[u8]) -> Result<SchemaAndValue> {
        let json: serde_json::Value = serde_json::from_slice(payload)
            .map_err(|e| ConnectError::data(format!("JsonSchemaConverter: the payload is not valid JSON: {e}")))?;
        let value = value::to_value(&parsed.plan, Some(&json)).map_err(|e| ConnectError::data(e.to_string()))?;
        Ok(SchemaAndValue { schema: Some(parsed.plan.schema.clone()), value })
    }
}

#[cfg(test)]
mod tests;
