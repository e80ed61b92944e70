//! Confluent's `AvroConverter`: Avro data framed with a schema registry id → Connect values.
//!
//! The registry side (fetching schemas by id, the wire format, caching) is
//! [`RegistryConverter`](crate::registry::RegistryConverter)'s; this module is the
//! [`WireFormat`] for Avro. Each schema id is parsed once into a [`ParsedSchema`]: the Connect
//! schema (one `Arc` shared by every record of that id, so a sink sees one schema per registered
//! version), the writer schema, and a decoding plan. Decoding a record reads the datum with
//! apache-avro and maps it onto the Connect value along that plan; for the usual schemas (records
//! of primitives, `[null, T]`, arrays, maps) a wire plan reads the bytes straight into the Connect
//! value instead, and leaves to apache-avro any datum it is not sure of (`wire.rs`). A schema
//! whose plan is a record of scalars is also its datums' `DatumReader`: a sink that reads datums
//! gets them undecoded and reads the fields one by one (`WireFormat::datum_reader`).
//!
//! The mapping follows Confluent's `AvroData`:
//! - record → struct named after the record's full name, with its doc; field docs and defaults
//!   go to the field's schema (`doc`, `default`).
//! - `null`/`boolean`/`int`/`long`/`float`/`double`/`bytes`/`string` → the matching type;
//!   `int` with `"connect.type": "int8"|"int16"` → int8/int16.
//! - array → array; map → map with string keys; an array of Kafka Connect's `MapEntry` records
//!   → map with those keys.
//! - enum → string named after the enum, with parameters [`params::ENUM`] = full name and
//!   `io.confluent.connect.avro.Enum.<SYMBOL>` = symbol; the value is the symbol.
//! - fixed → bytes named after the fixed, with parameter [`params::FIXED_SIZE`].
//! - `[null, T]` / `[T, null]` → `T`, optional. Other unions → an [`params::UNION`] struct with one
//!   optional field per non-null branch (named like the branch's type, or its name for named
//!   types), exactly one of them set; a `null` branch makes the struct optional.
//! - logical types: decimal → Connect Decimal (`scale`, [`params::DECIMAL_PRECISION`]); date,
//!   time-millis, timestamp-millis and local-timestamp-millis → Date, Time, Timestamp; the micro-
//!   and nanosecond ones → int64; uuid and big-decimal → string; duration → 12 bytes. Those
//!   without an exact Connect equivalent carry their Avro name in [`params::AVRO_LOGICAL_TYPE`].
//! - Kafka Connect's properties are honoured: `connect.name` (including Connect's logical types
//!   over plain `bytes`/`int`/`long`), `connect.parameters`, `connect.doc`, `connect.version`,
//!   `connect.default`; properties starting with `avro` become parameters.
//!
//! Recursive Avro types are rejected when the schema is parsed (a Connect schema is a tree).
//!
//! # Layout
//! - `mod.rs`: [`AvroFormat`] (config and [`WireFormat`] impl) and [`ParsedSchema`].
//! - `schema.rs`: Avro schema → Connect schema and decoding plan.
//! - `value.rs`: the decoding plan; Avro values (and JSON defaults) → Connect values.
//! - `wire.rs`: the wire plan: Avro binary → Connect values in one pass, for the usual schemas.
//! - `wire_tests.rs`: its unit tests (the plan against apache-avro, `read_fields` against the plan).
//! - `tests.rs`: unit tests, with payloads written by apache-avro.

mod schema;
mod value;
mod wire;

use std::io::{self, Read};
use std::sync::Arc;

use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::schema::ResolvedSchema;
use apache_avro::Schema as AvroSchema;
use serde_json::Value as Json;
use sluice_api::json::FieldValue;
use sluice_api::{ConnectError, ConnectorConfig, DatumReader, Result, SchemaAndValue, SchemaRef, Value};

use crate::registry::{FetchedSchema, SchemaKind, WireFormat};
use value::Node;
use wire::WirePlan;

/// Config keys of Confluent's AvroConverter that are accepted (and checked) but change nothing:
/// the registry keys (`schema.registry.url`, …) are read by [`crate::registry`].
pub mod keys {
    pub const ENHANCED_AVRO_SCHEMA_SUPPORT: &str = "enhanced.avro.schema.support";
    pub const CONNECT_META_DATA: &str = "connect.meta.data";
    pub const SCHEMAS_CACHE_CONFIG: &str = "schemas.cache.config";
    pub const AUTO_REGISTER_SCHEMAS: &str = "auto.register.schemas";
    pub const USE_LATEST_VERSION: &str = "use.latest.version";
    pub const SCRUB_INVALID_NAMES: &str = "scrub.invalid.names";
}

/// Schema names and parameters the converter sets, as Confluent's AvroConverter spells them.
pub mod params {
    /// Name of the struct a general union becomes.
    pub const UNION: &str = "io.confluent.connect.avro.Union";
    /// Parameter holding an enum's full name; `io.confluent.connect.avro.Enum.<SYMBOL>`
    /// parameters list its symbols.
    pub const ENUM: &str = "io.confluent.connect.avro.Enum";
    /// Parameter holding the size of a `fixed`.
    pub const FIXED_SIZE: &str = "connect.fixed.size";
    /// Parameter holding a decimal's precision.
    pub const DECIMAL_PRECISION: &str = "connect.decimal.precision";
    /// Parameter holding the Avro logical type of a schema Connect has no exact logical type for
    /// (`timestamp-micros`, `uuid`, `duration`, …).
    pub const AVRO_LOGICAL_TYPE: &str = "avro.logicalType";
}

/// The Avro [`WireFormat`] (Confluent's `io.confluent.connect.avro.AvroConverter`).
#[derive(Debug, Clone, Default)]
pub struct AvroFormat {
    _private: (),
}

impl AvroFormat {
    /// Reads the converter's keys (already stripped of `key.converter.` / `value.converter.`).
    pub fn new(config: &ConnectorConfig) -> Result<Self> {
        for key in [
            keys::ENHANCED_AVRO_SCHEMA_SUPPORT,
            keys::CONNECT_META_DATA,
            keys::AUTO_REGISTER_SCHEMAS,
            keys::USE_LATEST_VERSION,
            keys::SCRUB_INVALID_NAMES,
        ] {
            config.bool_or(key, false)?;
        }
        config.int_or(keys::SCHEMAS_CACHE_CONFIG, 1000, 0, i64::from(i32::MAX))?;
        Ok(AvroFormat { _private: () })
    }
}

/// A registered Avro schema, parsed once per schema id.
pub struct ParsedSchema {
    id: u32,
    /// The writer schema, self-contained (references to named types expanded).
    writer: AvroSchema,
    schema: SchemaRef,
    node: Node,
    /// Reads a datum straight into its Connect value, when the schema has nothing else.
    plan: Option<WirePlan>,
    /// Whether the plan is of a record of scalars, whose fields a sink may read one by one
    /// without the record's value ([`DatumReader`]).
    flat: bool,
}

impl ParsedSchema {
    /// The Connect schema every record of this schema id has.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Whether records of this schema are read straight into Connect values (`wire.rs`), not
    /// through apache-avro's value tree.
    pub fn has_wire_plan(&self) -> bool {
        self.plan.is_some()
    }
}

/// A flat record's datums ([`WireFormat::datum_reader`]): fields read by the wire plan, and
/// decoded as [`AvroFormat::decode`] decodes them.
impl DatumReader for ParsedSchema {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn decode(&self, data: &[u8]) -> Result<Value> {
        AvroFormat::default().decode(self, data).map(|decoded| decoded.value)
    }

    fn read_fields<'a>(&self, data: &'a [u8], field: &mut dyn FnMut(usize, FieldValue<'a>) -> bool) -> bool {
        self.flat && self.plan.as_ref().is_some_and(|plan| plan.read_fields(data, field))
    }
}

impl std::fmt::Debug for ParsedSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParsedSchema").field("id", &self.id).field("schema", &self.schema).finish_non_exhaustive()
    }
}

impl WireFormat for AvroFormat {
    type Parsed = ParsedSchema;

    const KIND: SchemaKind = SchemaKind::Avro;

    /// `namespace.name` of the top-level record, for the Record subject name strategies.
    fn record_name(&self, schema: &FetchedSchema) -> Option<String> {
        let json: Json = serde_json::from_str(&schema.text).ok()?;
        let name = json.get("name")?.as_str()?;
        match json.get("namespace").and_then(Json::as_str) {
            Some(namespace) if !name.contains('.') && !namespace.is_empty() => Some(format!("{namespace}.{name}")),
            _ => Some(name.to_owned()),
        }
    }

    fn parse(&self, fetched: &FetchedSchema) -> Result<ParsedSchema> {
        // The registry converter prefixes these with the schema id.
        let invalid =
            |e: &dyn std::fmt::Display| ConnectError::data(format!("AvroConverter: not a valid Avro schema: {e}"));
        let json: Json = serde_json::from_str(&fetched.text).map_err(|e| invalid(&e))?;
        let mut reference_json = Vec::with_capacity(fetched.references.len());
        for (name, text) in &fetched.references {
            let json: Json = serde_json::from_str(text)
                .map_err(|e| invalid(&format_args!("referenced schema {name:?} is not JSON: {e}")))?;
            reference_json.push(json);
        }
        let (root, referenced) = if fetched.references.is_empty() {
            (AvroSchema::parse(&json).map_err(|e| invalid(&e))?, Vec::new())
        } else {
            AvroSchema::parse_str_with_list(&fetched.text, fetched.references.iter().map(|(_, text)| text.as_str()))
                .map_err(|e| invalid(&e))?
        };
        let converted = schema::convert(&root, &json, referenced.iter().zip(&reference_json).collect())
            .map_err(|e| ConnectError::data(format!("AvroConverter: {e}")))?;
        let mut connect = converted.schema;
        if let Some(version) = fetched.version.and_then(|v| i32::try_from(v).ok()) {
            if connect.version != Some(version) {
                let mut versioned = Arc::unwrap_or_clone(connect);
                versioned.version = Some(version);
                connect = versioned.into_ref();
            }
        }
        let plan = WirePlan::new(&converted.writer, &converted.node);
        let flat = plan.as_ref().is_some_and(WirePlan::is_flat_record);
        Ok(ParsedSchema { id: fetched.id, writer: converted.writer, schema: connect, node: converted.node, plan, flat })
    }

    fn datum_reader(parsed: &Arc<ParsedSchema>) -> Option<Arc<dyn DatumReader>> {
        parsed.flat.then(|| parsed.clone() as Arc<dyn DatumReader>)
    }

    fn decode(&self, parsed: &ParsedSchema, payload: &[u8]) -> Result<SchemaAndValue> {
        if let Some(value) = parsed.plan.as_ref().and_then(|plan| plan.decode(&parsed.schema, payload)) {
            return Ok(SchemaAndValue { schema: Some(parsed.schema.clone()), value });
        }
        self.decode_with_apache_avro(parsed, payload)
    }
}

impl AvroFormat {
    /// Decodes through apache-avro's value tree: every schema, and what a [`WirePlan`] leaves.
    /// Public as the reference the wire plan is checked against (tests, `fuzz/`).
    pub fn decode_with_apache_avro(&self, parsed: &ParsedSchema, payload: &[u8]) -> Result<SchemaAndValue> {
        let id = parsed.id;
        let mut input = Input { rest: payload, exhausted: false };
        // The writer schema has no references, so no names need resolving: an empty
        // resolution costs nothing, where `from_avro_datum` would resolve the schema per record.
        let datum = ResolvedSchema::new_with_schemata(Vec::new())
            .and_then(|names| GenericDatumReader::builder(&parsed.writer).resolved_writer_schemata(names).build())
            .and_then(|reader| reader.read_value(&mut input));
        // apache-avro reads some truncated values as null, so running out of bytes is checked
        // whether or not it reported an error.
        let datum = match datum {
            _ if input.exhausted => {
                return Err(ConnectError::data(format!(
                    "AvroConverter: the payload ({} bytes) ends before the Avro datum of schema id {id} does: \
                     it is truncated or was not written with this schema.",
                    payload.len()
                )))
            }
            Ok(datum) => datum,
            Err(e) => {
                return Err(ConnectError::data(format!(
                    "AvroConverter: the payload is not a valid Avro datum of schema id {id}: {e}"
                )))
            }
        };
        if !input.rest.is_empty() {
            return Err(ConnectError::data(format!(
                "AvroConverter: {} byte(s) follow the Avro datum of schema id {id}: the payload was not written \
                 with this schema.",
                input.rest.len()
            )));
        }
        let value = parsed
            .node
            .to_connect(&parsed.schema, datum)
            .map_err(|e| ConnectError::data(format!("AvroConverter: schema id {id}: {e}")))?;
        Ok(SchemaAndValue { schema: Some(parsed.schema.clone()), value })
    }
}

/// The payload as a reader that remembers whether anyone asked for more bytes than it has.
///
/// Reading past the end is an `InvalidData` error, not an end of file: apache-avro reads a
/// boolean, string or union index cut short by the end of input as null and goes on, so an
/// array count of millions in a few bytes would decode millions of nulls, filling the
/// hundreds of megabytes it reserved for them (found by `fuzz/`, target `avro_wire`).
struct Input<'a> {
    rest: &'a [u8],
    exhausted: bool,
}

impl Input<'_> {
    fn past_the_end(&mut self) -> io::Error {
        self.exhausted = true;
        self.rest = &[];
        io::Error::new(io::ErrorKind::InvalidData, "the payload ends before the Avro datum does")
    }
}

impl Read for Input<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.rest.len());
        if n == 0 && !buf.is_empty() {
            return Err(self.past_the_end());
        }
        let (head, tail) = self.rest.split_at(n);
        buf[..n].copy_from_slice(head);
        self.rest = tail;
        Ok(n)
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        if buf.len() > self.rest.len() {
            return Err(self.past_the_end());
        }
        let (head, tail) = self.rest.split_at(buf.len());
        buf.copy_from_slice(head);
        self.rest = tail;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
