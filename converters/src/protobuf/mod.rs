//! Confluent's Protobuf converter (`io.confluent.connect.protobuf.ProtobufConverter`): records
//! framed with a schema id, whose registered schema is a `.proto` file.
//!
//! After the 5-byte registry header, Confluent's serializer writes the *message indexes* (which
//! message of the file the record is: `[1, 0]` is the first message nested in the second
//! top-level one), then the encoded message.
//!
//! Each registered schema is compiled once (with protox, imports served from its registry
//! references, from the dependencies Confluent's registry knows without references, and from
//! Google's well-known types), and every message of the file gets its Connect schema and a
//! conversion plan right away; decoding a record is then a lookup by message index, a
//! `DynamicMessage` decode and a walk of the plan.
//!
//! # Mapping
//! Following Confluent's `ProtobufData` with full names (its `enhanced.protobuf.schema.support`):
//!
//! | Protobuf | Connect |
//! |---|---|
//! | message | struct named with the message's full name; the record's own struct carries the registered version |
//! | `int32` `sint32` `sfixed32` | `int32` (`int8`/`int16` with `(confluent.field_meta).params["connect.type"]`) |
//! | `int64` `sint64` `sfixed64` `uint32` `fixed32` `uint64` `fixed64` | `int64` (a `uint64` keeps its bits, as in Confluent) |
//! | `float` / `double` | `float` / `double` |
//! | `bool`, `string`, `bytes` | same |
//! | enum | `string` named with the enum's full name, parameters `io.confluent.connect.protobuf.Enum` = full name and `io.confluent.connect.protobuf.Enum.<SYMBOL>` = number; an unknown number reads `UNKNOWN_ENUM_VALUE_<Enum>_<n>` |
//! | `repeated T` | array of `T` (required elements), default `[]` |
//! | `map<K, V>` | map named like Confluent's (`pkg.Msg.field_name`), default `{}` |
//! | `oneof o` | optional struct field `o_<index>` (or `o`, see [`keys::GENERATE_INDEX_FOR_UNIONS`]) named `io.confluent.connect.protobuf.Union.<oneof full name>`, one optional field per member, at most one set; oneofs come first, as in Confluent |
//! | message-typed field | optional |
//! | proto3 `optional`, proto2 `optional` scalar | optional, null when unset (the declared default, when a proto2 field has one) |
//! | other scalars | required, default the type's zero (or proto2 default); the value is present even when unset |
//! | `google.protobuf.Timestamp` | optional `Timestamp` (milliseconds) |
//! | `google.type.Date` / `google.type.TimeOfDay` | optional `Date` / `Time` |
//! | `confluent.type.Decimal`, `google.type.Decimal` | optional `Decimal`, scale (and `connect.decimal.precision`) from `(confluent.field_meta).params` `scale` / `precision`, scale 0 otherwise |
//! | `google.protobuf.{Int32,Int64,UInt32,UInt64,Float,Double,Bool,String,Bytes}Value` | optional primitive (`UInt32`/`UInt64` → `int64`); a wrapper at the root is its primitive |
//! | `google.protobuf.Struct` / `Value` / `ListValue` | optional `string` holding the JSON text |
//!
//! Every field's schema has the parameter `io.confluent.connect.protobuf.Tag` (its field
//! number); integers of another protobuf type than `int32`/`int64` also carry
//! `io.confluent.connect.protobuf.Type` (`uint32`, `sint64`, …). A message type that contains
//! itself cannot be a Connect schema: records of it fail with a data error naming the cycle.
//!
//! # Layout
//! - `mod.rs`: [`ProtobufFormat`] (the [`WireFormat`]), its config keys and the parsed form
//!   [`ParsedProtobuf`].
//! - `resolver.rs`: compiling the registered text and its imports with protox.
//! - `schema.rs`: descriptors → Connect schemas and conversion plans.
//! - `value.rs`: decoded messages → Connect values.
//! - `tests.rs`: unit tests (no registry, no network).

mod resolver;
mod schema;
mod value;

use std::sync::Arc;

use sluice_api::{ConnectError, ConnectorConfig, Result, SchemaAndValue, SchemaRef};

use crate::registry::{wire, FetchedSchema, SchemaKind, WireFormat};

pub use schema::{ENUM_PARAM, ENUM_SYMBOL_PREFIX, PRECISION_PARAM, TAG_PARAM, TYPE_PARAM, UNION_PREFIX};

/// Config keys of the Protobuf converter (under `key.converter.` / `value.converter.`).
pub mod keys {
    /// Whether a oneof's field is named `<oneof>_<index>` (true, Confluent's default) or just
    /// `<oneof>`.
    pub const GENERATE_INDEX_FOR_UNIONS: &str = "generate.index.for.unions";
}

/// The Protobuf wire format, for [`crate::registry::RegistryConverter`].
#[derive(Debug, Clone)]
pub struct ProtobufFormat {
    options: schema::Options,
}

impl ProtobufFormat {
    /// Reads the converter's own keys from its config (registry keys are read by
    /// [`crate::registry::RegistryConverter::from_config`]).
    pub fn new(config: &ConnectorConfig) -> Result<Self> {
        let index_unions = config.bool_or(keys::GENERATE_INDEX_FOR_UNIONS, true)?;
        Ok(ProtobufFormat { options: schema::Options { index_unions } })
    }
}

impl Default for ProtobufFormat {
    fn default() -> Self {
        ProtobufFormat { options: schema::Options { index_unions: true } }
    }
}

/// A registered `.proto` schema, compiled, with every message's Connect schema and plan.
#[derive(Debug)]
pub struct ParsedProtobuf {
    id: u32,
    messages: Vec<schema::MessageNode>,
}

impl ParsedProtobuf {
    fn node(&self, path: &[usize]) -> Result<&schema::MessageNode> {
        let mut level = &self.messages;
        let mut node = None;
        for (depth, &index) in path.iter().enumerate() {
            let Some(found) = level.get(index) else {
                return Err(ConnectError::data(format!(
                    "Protobuf message indexes {path:?} do not name a message of schema id {}: {} has {} message(s).",
                    self.id,
                    match depth {
                        0 => "the file".to_owned(),
                        _ => format!("message {}", node.map_or("", |n: &schema::MessageNode| n.full_name.as_str())),
                    },
                    level.len()
                )));
            };
            node = Some(found);
            level = &found.nested;
        }
        node.ok_or_else(|| ConnectError::data("Empty Protobuf message-index path."))
    }

    /// The Connect schema of the message at `path` (Confluent message indexes).
    pub fn schema(&self, path: &[usize]) -> Result<SchemaRef> {
        let node = self.node(path)?;
        match &node.plan {
            Ok(plan) => Ok(plan.slot.schema.clone()),
            Err(why) => Err(ConnectError::data(format!("Protobuf message {}: {why}", node.full_name))),
        }
    }

    /// Full names of the messages at the top level of the file, in index order.
    pub fn message_names(&self) -> impl Iterator<Item = &str> {
        self.messages.iter().map(|m| m.full_name.as_str())
    }
}

impl WireFormat for ProtobufFormat {
    type Parsed = ParsedProtobuf;
    const KIND: SchemaKind = SchemaKind::Protobuf;

    fn parse(&self, fetched: &FetchedSchema) -> Result<ParsedProtobuf> {
        let pool = resolver::compile(fetched)?;
        let file = pool
            .get_file_by_name(resolver::ROOT_FILE)
            .ok_or_else(|| ConnectError::data("The compiled Protobuf schema lost its own file."))?;
        let version = fetched.version.and_then(|v| i32::try_from(v).ok());
        let messages = schema::build(&file, version, self.options);
        if messages.is_empty() {
            return Err(ConnectError::data("The Protobuf schema defines no message."));
        }
        Ok(ParsedProtobuf { id: fetched.id, messages })
    }

    fn decode(&self, parsed: &ParsedProtobuf, payload: &[u8]) -> Result<SchemaAndValue> {
        let (path, message) = wire::protobuf_message_indexes(payload)?;
        let node = parsed.node(&path)?;
        let plan: &Arc<schema::RootPlan> = node
            .plan
            .as_ref()
            .map_err(|why| ConnectError::data(format!("Protobuf message {}: {why}", node.full_name)))?;
        value::decode(plan, message)
    }
}

#[cfg(test)]
mod tests;
