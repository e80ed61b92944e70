//! Avro schema → Connect schema, following Confluent's `AvroData`.
//!
//! apache-avro parses the schema (and resolves names); the JSON text is walked alongside it
//! because apache-avro drops the properties of primitive types, and Kafka Connect's AvroConverter
//! writes its metadata there (`connect.name`, `connect.parameters`, `connect.type`, …).
//!
//! The walk yields, for each position of the Avro schema, the Connect schema and the [`Node`]
//! that decodes its values. Named types are built once and shared wherever they are used by name
//! (same `Arc`, unless a field default, doc or optionality makes the use differ). Recursive types
//! are rejected: a Connect schema is a tree.
//!
//! It also yields the writer schema with every named-type reference replaced by its definition,
//! so decoding a datum needs no name resolution.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use apache_avro::schema::{
    ArraySchema, InnerDecimalSchema, MapSchema, Name, RecordField, RecordSchema, UnionSchema, UuidSchema,
};
use apache_avro::Schema as Avro;
use serde_json::{Map, Value as Json};
use sluice_api::schema::logical;
use sluice_api::{ConnectError, Field, Result, Schema, SchemaRef, SchemaType};

use super::params;
use super::value::{Branch, Node};

/// Properties Kafka Connect's AvroConverter writes into Avro schemas.
mod property {
    pub const CONNECT_NAME: &str = "connect.name";
    pub const CONNECT_DOC: &str = "connect.doc";
    pub const CONNECT_VERSION: &str = "connect.version";
    pub const CONNECT_DEFAULT: &str = "connect.default";
    pub const CONNECT_PARAMETERS: &str = "connect.parameters";
    pub const CONNECT_TYPE: &str = "connect.type";
    pub const CONNECT_INTERNAL_TYPE: &str = "connect.internal.type";
    pub const LOGICAL_TYPE: &str = "logicalType";
    /// Properties starting with this are copied into the Connect schema's parameters.
    pub const AVRO_PREFIX: &str = "avro";
}

/// The name Kafka Connect gives unnamed structs in Avro; such structs are unnamed in Connect.
const CONNECT_DEFAULT_NAME: &str = "io.confluent.connect.avro.ConnectDefault";
/// The record name (prefix) of Kafka Connect's encoding of maps with non-string keys.
const MAP_ENTRY_NAME: &str = "io.confluent.connect.avro.MapEntry";

/// How many schema nodes the self-contained writer schema may have once named types are
/// expanded (a guard against schemas that reuse types exponentially).
const MAX_EXPANDED_NODES: usize = 1_000_000;

static NO_JSON: Json = Json::Null;

/// The result of converting a parsed Avro schema.
pub(crate) struct Converted {
    pub schema: SchemaRef,
    pub node: Node,
    /// The writer schema without `Schema::Ref`s.
    pub writer: Avro,
}

/// Converts `root` (parsed from `root_json`), whose named types may come from `referenced`
/// (each parsed schema with its JSON, dependencies first).
pub(crate) fn convert<'a>(
    root: &'a Avro,
    root_json: &'a Json,
    referenced: Vec<(&'a Avro, &'a Json)>,
) -> Result<Converted> {
    let mut builder =
        Builder { named: HashMap::new(), definitions: HashMap::new(), building: HashSet::new(), pending: referenced };
    let (schema, node) = builder.convert(root, root_json, Use::default())?;
    let mut budget = MAX_EXPANDED_NODES;
    let writer = builder.expand(root, &mut budget)?;
    Ok(Converted { schema, node, writer })
}

fn error(message: impl Into<String>) -> ConnectError {
    ConnectError::data(message)
}

/// What a schema gets from where it is used: a record field (doc, default) or a nullable union.
#[derive(Clone, Copy, Default)]
struct Use<'a> {
    optional: bool,
    doc: Option<&'a str>,
    default: Option<&'a Json>,
}

/// A named type, as built where it is defined.
struct Named {
    schema: SchemaRef,
    node: Node,
}

struct Builder<'a> {
    /// Built named types by full name (and aliases).
    named: HashMap<String, Named>,
    /// Definitions of named types by full name (and aliases), for expanding references.
    definitions: HashMap<String, &'a Avro>,
    /// Records being built, to detect recursion.
    building: HashSet<String>,
    /// Referenced schemas not converted yet.
    pending: Vec<(&'a Avro, &'a Json)>,
}

impl<'a> Builder<'a> {
    fn convert(&mut self, avro: &'a Avro, json: &'a Json, usage: Use<'a>) -> Result<(SchemaRef, Node)> {
        let json = definition(json);
        match avro {
            Avro::Union(union) => return self.union(union, json, usage),
            Avro::Ref { name } => return self.reference(name, usage),
            _ => {}
        }
        let names = self.define(avro);
        let props = json.as_object();
        let (mut schema, mut node) = self.base(avro, json, props)?;
        if let Some(props) = props {
            apply_properties(&mut schema, &mut node, props);
            if let Some(default) = props.get(property::CONNECT_DEFAULT) {
                set_default(&mut schema, &node, default);
            }
        }
        let schema = schema.into_ref();
        for name in names {
            self.named.insert(name, Named { schema: schema.clone(), node: node.clone() });
        }
        Ok(finish(schema, node, usage))
    }

    /// Records the definition of a named type; returns its names (full name, then aliases).
    fn define(&mut self, avro: &'a Avro) -> Vec<String> {
        let Some(name) = avro.name() else {
            return Vec::new();
        };
        let mut names = vec![name.fullname(None)];
        if let Some(aliases) = avro.aliases() {
            names.extend(aliases.iter().map(|a| a.fullname(name.namespace())));
        }
        for n in &names {
            self.definitions.insert(n.clone(), avro);
        }
        names
    }

    /// The Connect schema of a non-union, non-reference Avro schema, before properties and use.
    fn base(&mut self, avro: &'a Avro, json: &'a Json, props: Option<&Map<String, Json>>) -> Result<(Schema, Node)> {
        let with_logical = |schema_type: SchemaType, name: &str| {
            Schema::new(schema_type).with_parameter(params::AVRO_LOGICAL_TYPE, name)
        };
        Ok(match avro {
            Avro::Null => {
                return Err(error(
                    "A `null` schema outside a union has no Connect equivalent (null is supported as a union branch).",
                ))
            }
            Avro::Boolean => (Schema::new(SchemaType::Boolean), Node::Boolean),
            Avro::Int => match props.and_then(|p| p.get(property::CONNECT_TYPE)).and_then(Json::as_str) {
                Some("int8") => (Schema::new(SchemaType::Int8), Node::Int8),
                Some("int16") => (Schema::new(SchemaType::Int16), Node::Int16),
                _ => (Schema::new(SchemaType::Int32), Node::Int32),
            },
            Avro::Long => (Schema::new(SchemaType::Int64), Node::Int64),
            Avro::Float => (Schema::new(SchemaType::Float32), Node::Float32),
            Avro::Double => (Schema::new(SchemaType::Float64), Node::Float64),
            Avro::Bytes => (Schema::new(SchemaType::Bytes), Node::Bytes),
            Avro::String => (Schema::new(SchemaType::String), Node::String),
            Avro::Array(array) => self.array(array, json)?,
            Avro::Map(map) => {
                let (values, node) =
                    self.convert(&map.types, json.get("values").unwrap_or(&NO_JSON), Use::default())?;
                (Schema::map(Schema::new(SchemaType::String).into_ref(), values), Node::Map(Box::new(node)))
            }
            Avro::Record(record) => self.record(record, json)?,
            Avro::Enum(e) => {
                let full_name = e.name.fullname(None);
                let mut schema = Schema::new(SchemaType::String).with_parameter(params::ENUM, full_name.clone());
                for symbol in &e.symbols {
                    schema.parameters.insert(format!("{}.{symbol}", params::ENUM), symbol.clone());
                }
                schema.name = Some(full_name);
                schema.doc.clone_from(&e.doc);
                (schema, Node::String)
            }
            Avro::Fixed(fixed) => {
                let mut schema = Schema::new(SchemaType::Bytes)
                    .named(fixed.name.fullname(None))
                    .with_parameter(params::FIXED_SIZE, fixed.size.to_string());
                schema.doc.clone_from(&fixed.doc);
                (schema, Node::Bytes)
            }
            Avro::Decimal(decimal) => {
                let scale = u32::try_from(decimal.scale)
                    .map_err(|_| error(format!("Decimal scale {} is too large.", decimal.scale)))?;
                let mut schema =
                    Schema::decimal(scale).with_parameter(params::DECIMAL_PRECISION, decimal.precision.to_string());
                if let InnerDecimalSchema::Fixed(fixed) = &decimal.inner {
                    schema.parameters.insert(params::FIXED_SIZE.to_owned(), fixed.size.to_string());
                }
                (schema, Node::Decimal { scale })
            }
            Avro::BigDecimal => (with_logical(SchemaType::String, "big-decimal"), Node::String),
            Avro::Uuid(_) => (with_logical(SchemaType::String, "uuid"), Node::String),
            Avro::Date => (Schema::date(), Node::Date),
            Avro::TimeMillis => (Schema::time(), Node::Time),
            Avro::TimestampMillis => (Schema::timestamp(), Node::Timestamp),
            Avro::LocalTimestampMillis => (
                Schema::timestamp().with_parameter(params::AVRO_LOGICAL_TYPE, "local-timestamp-millis"),
                Node::Timestamp,
            ),
            Avro::TimeMicros => (with_logical(SchemaType::Int64, "time-micros"), Node::Int64),
            Avro::TimestampMicros => (with_logical(SchemaType::Int64, "timestamp-micros"), Node::Int64),
            Avro::TimestampNanos => (with_logical(SchemaType::Int64, "timestamp-nanos"), Node::Int64),
            Avro::LocalTimestampMicros => (with_logical(SchemaType::Int64, "local-timestamp-micros"), Node::Int64),
            Avro::LocalTimestampNanos => (with_logical(SchemaType::Int64, "local-timestamp-nanos"), Node::Int64),
            Avro::Duration(fixed) => {
                let mut schema = with_logical(SchemaType::Bytes, "duration")
                    .named(fixed.name.fullname(None))
                    .with_parameter(params::FIXED_SIZE, fixed.size.to_string());
                schema.doc.clone_from(&fixed.doc);
                (schema, Node::Bytes)
            }
            Avro::Union(_) | Avro::Ref { .. } => {
                return Err(error("Internal error: unions and references have no base schema."))
            }
        })
    }

    fn record(&mut self, record: &'a RecordSchema, json: &'a Json) -> Result<(Schema, Node)> {
        let full_name = record.name.fullname(None);
        self.building.insert(full_name.clone());
        let fields_json = json.get("fields").and_then(Json::as_array);
        let mut fields = Vec::with_capacity(record.fields.len());
        let mut nodes = Vec::with_capacity(record.fields.len());
        for (index, field) in record.fields.iter().enumerate() {
            let field_json = fields_json.and_then(|all| {
                let named = |f: &&Json| f.get("name").and_then(Json::as_str) == Some(field.name.as_str());
                all.get(index).filter(named).or_else(|| all.iter().find(named))
            });
            let usage = Use { optional: false, doc: field.doc.as_deref(), default: field.default.as_ref() };
            let (schema, node) = self
                .convert(&field.schema, field_json.and_then(|f| f.get("type")).unwrap_or(&NO_JSON), usage)
                .map_err(|e| error(format!("field {full_name}.{}: {e}", field.name)))?;
            fields.push(Field { name: field.name.clone(), index, schema });
            nodes.push(node);
        }
        self.building.remove(&full_name);
        let mut schema = Schema::new(SchemaType::Struct).named(full_name);
        schema.doc.clone_from(&record.doc);
        schema.fields = fields;
        Ok((schema, Node::Struct(nodes.into())))
    }

    fn array(&mut self, array: &'a ArraySchema, json: &'a Json) -> Result<(Schema, Node)> {
        let (items, node) = self.convert(&array.items, json.get("items").unwrap_or(&NO_JSON), Use::default())?;
        if let Node::Struct(nodes) = &node {
            if self.is_map_entry(&array.items) && items.fields.len() == 2 {
                let key_at = items.fields.iter().position(|f| f.name == "key");
                let value_at = items.fields.iter().position(|f| f.name == "value");
                if let (Some(key_at), Some(value_at)) = (key_at, value_at) {
                    let schema =
                        Schema::map(items.fields[key_at].schema.clone(), items.fields[value_at].schema.clone());
                    let node = Node::EntryArray {
                        key_at,
                        key: Box::new(nodes[key_at].clone()),
                        value: Box::new(nodes[value_at].clone()),
                    };
                    return Ok((schema, node));
                }
            }
        }
        Ok((Schema::array(items), Node::Array(Box::new(node))))
    }

    /// Whether array items are Kafka Connect's map entries (a map with non-string keys).
    fn is_map_entry(&self, items: &Avro) -> bool {
        let items = match items {
            Avro::Ref { name } => self.definitions.get(&name.fullname(None)).copied(),
            other => Some(other),
        };
        let Some(Avro::Record(record)) = items else {
            return false;
        };
        record.name.fullname(None).starts_with(MAP_ENTRY_NAME)
            || record.attributes.get(property::CONNECT_INTERNAL_TYPE).and_then(Json::as_str) == Some("MapEntry")
    }

    fn union(&mut self, union: &'a UnionSchema, json: &'a Json, usage: Use<'a>) -> Result<(SchemaRef, Node)> {
        let variants = union.variants();
        let branch_json = |i: usize| json.as_array().and_then(|a| a.get(i)).unwrap_or(&NO_JSON);
        let null_at = variants.iter().position(|v| matches!(v, Avro::Null));
        if let (2, Some(null_branch)) = (variants.len(), null_at) {
            let at = 1 - null_branch;
            let (schema, node) = self.convert(&variants[at], branch_json(at), Use { optional: true, ..usage })?;
            return Ok((schema, Node::Optional { null_branch: null_branch as u32, inner: Box::new(node) }));
        }
        let mut schema = Schema::new(SchemaType::Struct).named(params::UNION);
        let mut branches = Vec::with_capacity(variants.len());
        for (at, variant) in variants.iter().enumerate() {
            if matches!(variant, Avro::Null) {
                schema.optional = true;
                branches.push(Branch::Null);
                continue;
            }
            let name = branch_name(variant);
            if schema.fields.iter().any(|f| f.name == name) {
                return Err(error(format!("Two branches of a union map to the same Connect union field `{name}`.")));
            }
            let (field_schema, node) =
                self.convert(variant, branch_json(at), Use { optional: true, ..Use::default() })?;
            let index = schema.fields.len();
            branches.push(Branch::Field(index, node));
            schema.fields.push(Field { name, index, schema: field_schema });
        }
        let optional = usage.optional || schema.optional;
        Ok(finish(schema.into_ref(), Node::Union(branches.into()), Use { optional, ..usage }))
    }

    fn reference(&mut self, name: &Name, usage: Use<'a>) -> Result<(SchemaRef, Node)> {
        let full_name = name.fullname(None);
        if !self.named.contains_key(&full_name) {
            if self.building.contains(&full_name) {
                return Err(error(format!(
                    "{full_name} is recursive (it contains itself); Connect schemas cannot be recursive."
                )));
            }
            self.convert_pending(&full_name)?;
        }
        let named = self.named.get(&full_name).ok_or_else(|| {
            error(format!("{full_name} is used but defined neither in the schema nor in its references."))
        })?;
        Ok(finish(named.schema.clone(), named.node.clone(), usage))
    }

    /// Converts the referenced schema defining `full_name` at its top or, when none does (the
    /// type may be nested in one), referenced schemas in order until one has defined it.
    fn convert_pending(&mut self, full_name: &str) -> Result<()> {
        if let Some(at) = self.pending.iter().position(|(s, _)| s.name().is_some_and(|n| n.fullname(None) == full_name))
        {
            let (schema, json) = self.pending.remove(at);
            return self.convert(schema, json, Use::default()).map(drop);
        }
        while !self.named.contains_key(full_name) && !self.pending.is_empty() {
            let (schema, json) = self.pending.remove(0);
            self.convert(schema, json, Use::default())?;
        }
        Ok(())
    }

    /// `avro` with every reference replaced by the definition it names.
    fn expand(&self, avro: &Avro, budget: &mut usize) -> Result<Avro> {
        *budget = budget
            .checked_sub(1)
            .ok_or_else(|| error("The schema is too large once the named types it reuses are expanded."))?;
        Ok(match avro {
            Avro::Ref { name } => {
                let full_name = name.fullname(None);
                let definition = self
                    .definitions
                    .get(&full_name)
                    .ok_or_else(|| error(format!("{full_name} is used but never defined.")))?;
                self.expand(definition, budget)?
            }
            Avro::Record(record) => Avro::Record(RecordSchema {
                name: record.name.clone(),
                aliases: record.aliases.clone(),
                doc: record.doc.clone(),
                fields: record
                    .fields
                    .iter()
                    .map(|f| {
                        Ok(RecordField {
                            name: f.name.clone(),
                            doc: f.doc.clone(),
                            aliases: f.aliases.clone(),
                            default: f.default.clone(),
                            schema: self.expand(&f.schema, budget)?,
                            custom_attributes: f.custom_attributes.clone(),
                        })
                    })
                    .collect::<Result<_>>()?,
                lookup: record.lookup.clone(),
                attributes: record.attributes.clone(),
            }),
            Avro::Array(array) => Avro::Array(ArraySchema {
                items: Box::new(self.expand(&array.items, budget)?),
                attributes: array.attributes.clone(),
            }),
            Avro::Map(map) => Avro::Map(MapSchema {
                types: Box::new(self.expand(&map.types, budget)?),
                attributes: map.attributes.clone(),
            }),
            Avro::Union(union) => {
                let variants = union.variants().iter().map(|v| self.expand(v, budget)).collect::<Result<_>>()?;
                Avro::Union(UnionSchema::new(variants).map_err(|e| error(format!("Invalid union: {e}")))?)
            }
            other => other.clone(),
        })
    }
}

/// The JSON of the type definition itself: `{"type": {...}}` and `{"type": [...]}` wrap one.
fn definition(mut json: &Json) -> &Json {
    while let Some(inner @ (Json::Object(_) | Json::Array(_))) = json.get("type") {
        json = inner;
    }
    json
}

/// Applies a use (field doc and default, optionality) to a schema built where it was defined.
fn finish(schema: SchemaRef, node: Node, usage: Use<'_>) -> (SchemaRef, Node) {
    if !usage.optional && usage.doc.is_none() && usage.default.is_none() {
        return (schema, node);
    }
    let mut schema = Arc::unwrap_or_clone(schema);
    if let Some(doc) = usage.doc {
        schema.doc = Some(doc.to_owned());
    }
    schema.optional |= usage.optional;
    if let Some(default) = usage.default {
        set_default(&mut schema, &node, default);
    }
    (schema.into_ref(), node)
}

/// Sets the default from its Avro JSON encoding; a default that does not fit the schema is
/// ignored, as Confluent's converter does.
fn set_default(schema: &mut Schema, node: &Node, json: &Json) {
    let mut without_default = schema.clone();
    without_default.default = None;
    if let Some(value) = node.default_value(&without_default.into_ref(), json) {
        schema.default = Some(value);
    }
}

/// Applies the properties Kafka Connect's AvroConverter writes, and Confluent's `avro*` ones.
fn apply_properties(schema: &mut Schema, node: &mut Node, props: &Map<String, Json>) {
    // What the Avro schema says (scale, precision, enum symbols) wins over connect.parameters.
    if let Some(Json::Object(parameters)) = props.get(property::CONNECT_PARAMETERS) {
        for (key, value) in parameters {
            schema.parameters.entry(key.clone()).or_insert_with(|| text(value));
        }
    }
    for (key, value) in props.iter().filter(|(k, _)| k.starts_with(property::AVRO_PREFIX)) {
        schema.parameters.entry(key.clone()).or_insert_with(|| text(value));
    }
    if let Some(logical_type) = props.get(property::LOGICAL_TYPE).and_then(Json::as_str) {
        // A logical type Connect has no equivalent for (or that apache-avro did not apply).
        if !is_connect_logical(schema.name.as_deref()) && !schema.parameters.contains_key(params::AVRO_LOGICAL_TYPE) {
            schema.parameters.insert(params::AVRO_LOGICAL_TYPE.to_owned(), logical_type.to_owned());
        }
    }
    if schema.doc.is_none() {
        schema.doc = props.get(property::CONNECT_DOC).and_then(Json::as_str).map(str::to_owned);
    }
    if let Some(version) =
        props.get(property::CONNECT_VERSION).and_then(Json::as_i64).and_then(|v| i32::try_from(v).ok())
    {
        schema.version = Some(version);
    }
    if let Some(name) = props.get(property::CONNECT_NAME).and_then(Json::as_str) {
        apply_connect_name(schema, node, name);
    }
    if schema.name.as_deref().is_some_and(|n| n.starts_with(CONNECT_DEFAULT_NAME)) {
        schema.name = None;
    }
}

/// `connect.name` names the Connect schema; on a plain `bytes`, `int` or `long` it can make it
/// one of Connect's logical types (as Kafka Connect writes them without an Avro logical type).
fn apply_connect_name(schema: &mut Schema, node: &mut Node, name: &str) {
    if is_connect_logical(schema.name.as_deref()) {
        return; // The Avro logical type already decided.
    }
    if is_connect_logical(Some(name)) {
        if schema.parameters.contains_key(params::AVRO_LOGICAL_TYPE) {
            return; // e.g. timestamp-micros: reading it as millis would be wrong.
        }
        *node = match (name, &*node) {
            (logical::DECIMAL, Node::Bytes) => {
                let scale = schema.parameters.get(logical::DECIMAL_SCALE).and_then(|s| s.parse().ok()).unwrap_or(0u32);
                schema.parameters.entry(logical::DECIMAL_SCALE.to_owned()).or_insert_with(|| scale.to_string());
                Node::Decimal { scale }
            }
            (logical::DATE, Node::Int32) => Node::Date,
            (logical::TIME, Node::Int32) => Node::Time,
            (logical::TIMESTAMP, Node::Int64) => Node::Timestamp,
            _ => return, // A logical name that does not fit the Avro type: ignored.
        };
    }
    schema.name = Some(name.to_owned());
}

fn is_connect_logical(name: Option<&str>) -> bool {
    matches!(name, Some(logical::DECIMAL | logical::DATE | logical::TIME | logical::TIMESTAMP))
}

/// A property value as a parameter: strings as they are, anything else as JSON.
fn text(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The Connect field name of a union branch, as Confluent names them: named types by their
/// name without namespace, others by their Avro type name (logical types by their base type).
fn branch_name(avro: &Avro) -> String {
    if let Some(name) = avro.name() {
        return name.name().to_owned();
    }
    match avro {
        Avro::Null => "null",
        Avro::Boolean => "boolean",
        Avro::Int | Avro::Date | Avro::TimeMillis => "int",
        Avro::Long
        | Avro::TimeMicros
        | Avro::TimestampMillis
        | Avro::TimestampMicros
        | Avro::TimestampNanos
        | Avro::LocalTimestampMillis
        | Avro::LocalTimestampMicros
        | Avro::LocalTimestampNanos => "long",
        Avro::Float => "float",
        Avro::Double => "double",
        Avro::Bytes | Avro::Decimal(_) | Avro::BigDecimal | Avro::Uuid(UuidSchema::Bytes | UuidSchema::Fixed(_)) => {
            "bytes"
        }
        Avro::String | Avro::Uuid(UuidSchema::String) => "string",
        Avro::Array(_) => "array",
        Avro::Map(_) => "map",
        Avro::Union(_) => "union",
        Avro::Record(_) | Avro::Enum(_) | Avro::Fixed(_) | Avro::Duration(_) | Avro::Ref { .. } => "named",
    }
    .to_owned()
}
