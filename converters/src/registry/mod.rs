//! A Confluent-compatible schema registry, as the Avro, JSON Schema and Protobuf converters use it.
//!
//! # Layout
//! - [`wire`]: the Confluent wire format (magic byte `0`, 4-byte big-endian schema id, then the
//!   encoded payload; Protobuf adds message indexes).
//! - [`config`]: the converters' registry keys (`schema.registry.url`, basic auth, TLS, subject
//!   name strategies), as Confluent's converters name them.
//! - [`client`]: fetching schemas by id through `schema_registry_converter`, once per id per
//!   worker (a process-wide cache shared by every task that talks to the same registry).
//! - `path`: where in a record a value failed to convert (`order.items[2].qty: …`), shared by
//!   the formats' error messages.
//! - [`converter`]: [`RegistryConverter`], the `Converter` every registry-backed format shares;
//!   a format only says how to parse a schema ([`WireFormat::parse`]) and decode a payload with
//!   it ([`WireFormat::decode`]).
//!
//! Registry lookups happen in `Converter::prepare`, once per batch, so decoding stays
//! synchronous. An unreachable registry is a retriable error (the runtime waits and retries the
//! batch; nothing is skipped); a schema id the registry does not know, bytes without the magic
//! byte or a payload that does not decode are record-level errors naming the cause, which error
//! tolerance routes (dead letter queue or task failure).

pub mod client;
pub mod config;
pub mod converter;
pub(crate) mod path;
pub mod wire;

pub use client::{FetchedSchema, SchemaKind, SchemaRegistry};
pub use config::{RegistryConfig, SubjectNameStrategy};
pub use converter::{RegistryConverter, WireFormat};
