//! Protobuf descriptors → Connect schemas, plus the plan [`super::value`] follows to convert
//! decoded messages. Built once per registered schema.
//!
//! The mapping follows Confluent's `ProtobufData` (with `enhanced.protobuf.schema.support`, so
//! names are full names), adapted where Sluice's brief asks for stricter types: see the module
//! documentation of [`super`] for the table.

use std::collections::HashMap;
use std::sync::Arc;

use prost_reflect::{
    Cardinality, EnumDescriptor, ExtensionDescriptor, FieldDescriptor, FileDescriptor, Kind, MessageDescriptor,
    Value as Proto,
};
use sluice_api::{Schema, SchemaRef, SchemaType, Value};

use super::value;

/// Parameter naming the protobuf enum a string schema came from (value: the enum's full name).
pub const ENUM_PARAM: &str = "io.confluent.connect.protobuf.Enum";
/// Prefix of the per-symbol enum parameters: `io.confluent.connect.protobuf.Enum.<SYMBOL>` = number.
pub const ENUM_SYMBOL_PREFIX: &str = "io.confluent.connect.protobuf.Enum.";
/// Prefix of the name of a oneof's struct schema (followed by the oneof's full name).
pub const UNION_PREFIX: &str = "io.confluent.connect.protobuf.Union.";
/// Parameter holding a field's protobuf field number.
pub const TAG_PARAM: &str = "io.confluent.connect.protobuf.Tag";
/// Parameter holding the protobuf type of integer fields whose type is not `int32`/`int64`
/// (`uint32`, `sint64`, `fixed64`, …), so a sink can tell that an `int64` holds a `uint64`'s bits.
pub const TYPE_PARAM: &str = "io.confluent.connect.protobuf.Type";
/// Parameter holding a Decimal's precision, when the field declares one.
pub const PRECISION_PARAM: &str = "connect.decimal.precision";

/// How one decoded protobuf value becomes a Connect value.
#[derive(Debug)]
pub(super) enum Conv {
    Bool,
    /// `int32` with `(confluent.field_meta).params["connect.type"] = "int8"`.
    Int8,
    Int16,
    Int32,
    /// Any 64-bit or unsigned integer; unsigned 64-bit values keep their bits (as Confluent does).
    Int64,
    Float32,
    Float64,
    String,
    Bytes,
    Enum(Arc<EnumPlan>),
    Message(Arc<MessagePlan>),
    /// `google.protobuf.Timestamp` → milliseconds.
    Timestamp,
    /// `google.type.Date` → days.
    Date,
    /// `google.type.TimeOfDay` → milliseconds.
    TimeOfDay,
    /// `confluent.type.Decimal` (unscaled bytes + scale) at the schema's scale.
    ConfluentDecimal {
        scale: u32,
    },
    /// `google.type.Decimal` (decimal text) at the schema's scale.
    GoogleDecimal {
        scale: u32,
    },
    /// `google.protobuf.*Value`: the wrapped `value` field.
    Wrapper(Box<Conv>),
    /// `google.protobuf.Struct`, `Value` or `ListValue`, as JSON text.
    Json(JsonKind),
    List(Box<Slot>),
    Map(Box<Slot>, Box<Slot>),
}

/// Which `google/protobuf/struct.proto` message a [`Conv::Json`] renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum JsonKind {
    Struct,
    Value,
    ListValue,
}

/// A conversion together with the schema of what it produces.
#[derive(Debug)]
pub(super) struct Slot {
    pub schema: SchemaRef,
    pub conv: Conv,
}

/// The symbols of an enum.
#[derive(Debug)]
pub(super) struct EnumPlan {
    pub name: String,
    pub symbols: HashMap<i32, String>,
}

/// How to read the fields of one message type, in Connect field order.
#[derive(Debug)]
pub(super) struct MessagePlan {
    pub fields: Vec<FieldPlan>,
}

#[derive(Debug)]
pub(super) enum FieldPlan {
    /// A field outside any oneof; `absent` is the value when it is not set.
    Single { field: FieldDescriptor, slot: Slot, absent: Value },
    /// A oneof: an optional struct with one optional field per member, at most one set.
    Oneof { schema: SchemaRef, members: Vec<(FieldDescriptor, Slot)> },
}

/// What a message index path resolves to.
#[derive(Debug)]
pub(super) struct RootPlan {
    pub descriptor: MessageDescriptor,
    pub slot: Slot,
}

/// One message of the registered file, addressable by Confluent's message indexes.
#[derive(Debug)]
pub(super) struct MessageNode {
    pub full_name: String,
    /// The plan, or why this message cannot be converted (a recursive type, say).
    pub plan: Result<Arc<RootPlan>, String>,
    /// Nested messages (map entries left out, as Confluent's indexes leave them out).
    pub nested: Vec<MessageNode>,
}

/// Options of the mapping.
#[derive(Debug, Clone, Copy)]
pub(super) struct Options {
    /// Name oneof fields `<oneof>_<index>` (Confluent's default) instead of `<oneof>`.
    pub index_unions: bool,
}

/// Builds the message tree of `file`: a plan for every message, top-level and nested.
pub(super) fn build(file: &FileDescriptor, version: Option<i32>, options: Options) -> Vec<MessageNode> {
    let meta = file.parent_pool().get_extension_by_name("confluent.field_meta");
    let mut builder = Builder { options, meta, messages: HashMap::new(), stack: Vec::new() };
    file.messages().filter(|m| !m.is_map_entry()).map(|m| builder.node(&m, version)).collect()
}

type Built = Result<(Schema, Arc<MessagePlan>), String>;

struct Builder {
    options: Options,
    /// `confluent.field_meta`, when `confluent/meta.proto` is part of the schema.
    meta: Option<ExtensionDescriptor>,
    /// Struct schema (required, unversioned) and plan of every message type seen, by full name.
    messages: HashMap<String, Built>,
    /// Message types being built, to catch recursion.
    stack: Vec<String>,
}

impl Builder {
    fn node(&mut self, message: &MessageDescriptor, version: Option<i32>) -> MessageNode {
        let plan = self.root(message, version);
        let nested = message.child_messages().filter(|m| !m.is_map_entry()).map(|m| self.node(&m, version)).collect();
        MessageNode { full_name: message.full_name().to_owned(), plan, nested }
    }

    fn root(&mut self, message: &MessageDescriptor, version: Option<i32>) -> Result<Arc<RootPlan>, String> {
        // A wrapper at the root is its primitive, as with Confluent's default
        // `wrapper.for.raw.primitives=true`.
        let (mut schema, conv) = match wrapper(message.full_name()) {
            Some((schema, conv)) => (schema, Conv::Wrapper(Box::new(conv))),
            None => {
                let (schema, plan) = self.message(message)?;
                (schema, Conv::Message(plan))
            }
        };
        schema.version = version;
        Ok(Arc::new(RootPlan { descriptor: message.clone(), slot: Slot { schema: schema.into_ref(), conv } }))
    }

    /// The struct schema (required, no version) and plan of a message type.
    fn message(&mut self, message: &MessageDescriptor) -> Built {
        let name = message.full_name();
        if let Some(built) = self.messages.get(name) {
            return built.clone();
        }
        if let Some(start) = self.stack.iter().position(|n| n == name) {
            let cycle: Vec<&str> = self.stack[start..].iter().map(String::as_str).chain([name]).collect();
            return Err(format!(
                "message {name} contains itself ({}); a Connect schema cannot be recursive",
                cycle.join(" -> ")
            ));
        }
        self.stack.push(name.to_owned());
        let built = self.build_message(message);
        self.stack.pop();
        self.messages.insert(name.to_owned(), built.clone());
        built
    }

    fn build_message(&mut self, message: &MessageDescriptor) -> Built {
        let mut fields: Vec<(String, SchemaRef)> = Vec::new();
        let mut plans = Vec::new();
        // Confluent puts the oneofs first, then the other fields in declaration order.
        for (index, oneof) in message.oneofs().enumerate() {
            if oneof.is_synthetic() {
                continue;
            }
            let mut members = Vec::new();
            let mut member_fields = Vec::new();
            for field in oneof.fields() {
                let slot = self.field(&field).map_err(|e| format!("{}: {e}", field.name()))?;
                member_fields.push((field.name().to_owned(), slot.schema.clone()));
                members.push((field, slot));
            }
            let schema =
                Schema::structure(member_fields).named(format!("{UNION_PREFIX}{}", oneof.full_name())).optional();
            let schema = schema.into_ref();
            let name =
                if self.options.index_unions { format!("{}_{index}", oneof.name()) } else { oneof.name().to_owned() };
            fields.push((name, schema.clone()));
            plans.push(FieldPlan::Oneof { schema, members });
        }
        for field in message.fields() {
            if field.containing_oneof().is_some_and(|o| !o.is_synthetic()) {
                continue;
            }
            let slot = self.field(&field).map_err(|e| format!("{}: {e}", field.name()))?;
            let absent = slot.schema.default.clone().unwrap_or(Value::Null);
            fields.push((field.name().to_owned(), slot.schema.clone()));
            plans.push(FieldPlan::Single { field, slot, absent });
        }
        let schema = Schema::structure(fields).named(message.full_name());
        Ok((schema, Arc::new(MessagePlan { fields: plans })))
    }

    /// The schema of a field as it appears in its struct, with its conversion.
    fn field(&mut self, field: &FieldDescriptor) -> Result<Slot, String> {
        let meta = self.meta_params(field);
        let tag = field.number().to_string();
        if field.is_map() {
            let Kind::Message(entry) = field.kind() else {
                return Err("a map field without an entry message".to_owned());
            };
            let (key_field, value_field) = (entry.map_entry_key_field(), entry.map_entry_value_field());
            let key = self.element(&key_field, &self.meta_params(&key_field))?;
            let value = self.element(&value_field, &self.meta_params(&value_field))?;
            let schema = Schema::map(key.schema.clone(), value.schema.clone())
                .named(map_name(entry.full_name()))
                .with_default(Value::Map(Vec::new()))
                .with_parameter(TAG_PARAM, tag);
            return Ok(Slot { schema: schema.into_ref(), conv: Conv::Map(Box::new(key), Box::new(value)) });
        }
        let element = self.element(field, &meta)?;
        if field.is_list() {
            let schema = Schema::array(element.schema.clone())
                .with_default(Value::Array(Vec::new()))
                .with_parameter(TAG_PARAM, tag);
            return Ok(Slot { schema: schema.into_ref(), conv: Conv::List(Box::new(element)) });
        }
        let in_oneof = field.containing_oneof().is_some_and(|o| !o.is_synthetic());
        let (optional, default) = if matches!(field.kind(), Kind::Message(_)) || in_oneof {
            (true, None)
        } else if field.supports_presence() && field.cardinality() != Cardinality::Required {
            // proto3 `optional`, proto2 `optional`, editions with explicit presence: null when
            // unset, unless the field declares a default.
            let declared = field.field_descriptor_proto().default_value.is_some();
            (true, if declared { Some(default_of(field, &element)?) } else { None })
        } else {
            // proto3 implicit presence (or proto2 `required`): always has a value.
            (false, Some(default_of(field, &element)?))
        };
        let mut schema = Arc::unwrap_or_clone(element.schema);
        schema.parameters.insert(TAG_PARAM.to_owned(), tag);
        schema.optional = optional;
        schema.default = default;
        Ok(Slot { schema: schema.into_ref(), conv: element.conv })
    }

    /// The schema of one value of `field`'s type (a list element, a map key or value, or the
    /// field itself before field-level optionality and defaults): required, no parameters
    /// beyond the type's own.
    fn element(&mut self, field: &FieldDescriptor, meta: &HashMap<String, String>) -> Result<Slot, String> {
        let connect_type = meta.get("connect.type").map(String::as_str);
        let with_type = |schema: Schema, proto: &str| schema.with_parameter(TYPE_PARAM, proto);
        let (schema, conv) = match field.kind() {
            Kind::Double => (Schema::new(SchemaType::Float64), Conv::Float64),
            Kind::Float => (Schema::new(SchemaType::Float32), Conv::Float32),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 if connect_type == Some("int8") => {
                (Schema::new(SchemaType::Int8), Conv::Int8)
            }
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 if connect_type == Some("int16") => {
                (Schema::new(SchemaType::Int16), Conv::Int16)
            }
            Kind::Int32 => (Schema::new(SchemaType::Int32), Conv::Int32),
            Kind::Sint32 => (with_type(Schema::new(SchemaType::Int32), "sint32"), Conv::Int32),
            Kind::Sfixed32 => (with_type(Schema::new(SchemaType::Int32), "sfixed32"), Conv::Int32),
            Kind::Int64 => (Schema::new(SchemaType::Int64), Conv::Int64),
            Kind::Sint64 => (with_type(Schema::new(SchemaType::Int64), "sint64"), Conv::Int64),
            Kind::Sfixed64 => (with_type(Schema::new(SchemaType::Int64), "sfixed64"), Conv::Int64),
            Kind::Uint32 => (with_type(Schema::new(SchemaType::Int64), "uint32"), Conv::Int64),
            Kind::Fixed32 => (with_type(Schema::new(SchemaType::Int64), "fixed32"), Conv::Int64),
            Kind::Uint64 => (with_type(Schema::new(SchemaType::Int64), "uint64"), Conv::Int64),
            Kind::Fixed64 => (with_type(Schema::new(SchemaType::Int64), "fixed64"), Conv::Int64),
            Kind::Bool => (Schema::new(SchemaType::Boolean), Conv::Bool),
            Kind::String => (Schema::new(SchemaType::String), Conv::String),
            Kind::Bytes => (Schema::new(SchemaType::Bytes), Conv::Bytes),
            Kind::Enum(e) => enumeration(&e),
            Kind::Message(m) => self.message_element(&m, meta)?,
        };
        Ok(Slot { schema: schema.into_ref(), conv })
    }

    fn message_element(
        &mut self,
        message: &MessageDescriptor,
        meta: &HashMap<String, String>,
    ) -> Result<(Schema, Conv), String> {
        let name = message.full_name();
        if let Some((schema, conv)) = wrapper(name) {
            return Ok((schema, Conv::Wrapper(Box::new(conv))));
        }
        Ok(match name {
            "google.protobuf.Timestamp" => (Schema::timestamp(), Conv::Timestamp),
            "google.type.Date" => (Schema::date(), Conv::Date),
            "google.type.TimeOfDay" => (Schema::time(), Conv::TimeOfDay),
            "confluent.type.Decimal" | "google.type.Decimal" => {
                let scale = match meta.get("scale") {
                    Some(s) => s.parse::<u32>().map_err(|_| format!("invalid decimal scale {s:?} in field_meta"))?,
                    None => 0,
                };
                let mut schema = Schema::decimal(scale);
                if let Some(precision) = meta.get("precision") {
                    schema = schema.with_parameter(PRECISION_PARAM, precision.clone());
                }
                let conv = if name == "confluent.type.Decimal" {
                    Conv::ConfluentDecimal { scale }
                } else {
                    Conv::GoogleDecimal { scale }
                };
                (schema, conv)
            }
            "google.protobuf.Struct" => (Schema::new(SchemaType::String), Conv::Json(JsonKind::Struct)),
            "google.protobuf.Value" => (Schema::new(SchemaType::String), Conv::Json(JsonKind::Value)),
            "google.protobuf.ListValue" => (Schema::new(SchemaType::String), Conv::Json(JsonKind::ListValue)),
            _ => {
                let (schema, plan) = self.message(message)?;
                (schema, Conv::Message(plan))
            }
        })
    }

    /// `(confluent.field_meta).params` of a field, empty without them.
    fn meta_params(&self, field: &FieldDescriptor) -> HashMap<String, String> {
        let Some(meta) = &self.meta else {
            return HashMap::new();
        };
        let options = field.options();
        if !options.has_extension(meta) {
            return HashMap::new();
        }
        let value = options.get_extension(meta);
        let Some(params) = value.as_message().and_then(|m| m.get_field_by_name("params")) else {
            return HashMap::new();
        };
        params
            .as_map()
            .map(|map| {
                map.iter()
                    .filter_map(|(k, v)| match (k, v) {
                        (prost_reflect::MapKey::String(k), Proto::String(v)) => Some((k.clone(), v.clone())),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The Connect value of a scalar field's default (declared, or its type's zero).
fn default_of(field: &FieldDescriptor, element: &Slot) -> Result<Value, String> {
    value::convert(element, field.default_value()).map_err(|e| format!("its default value cannot be converted: {e}"))
}

/// An enum: a string named after the enum, with Confluent's enum parameters.
fn enumeration(e: &EnumDescriptor) -> (Schema, Conv) {
    let mut schema = Schema::new(SchemaType::String).named(e.full_name()).with_parameter(ENUM_PARAM, e.full_name());
    let mut symbols = HashMap::new();
    for v in e.values() {
        schema.parameters.insert(format!("{ENUM_SYMBOL_PREFIX}{}", v.name()), v.number().to_string());
        // With `allow_alias`, the first name of a number is the one protobuf reports.
        symbols.entry(v.number()).or_insert_with(|| v.name().to_owned());
    }
    (schema, Conv::Enum(Arc::new(EnumPlan { name: e.name().to_owned(), symbols })))
}

/// The primitive a `google.protobuf.*Value` wrapper stands for.
fn wrapper(full_name: &str) -> Option<(Schema, Conv)> {
    let (schema_type, conv) = match full_name {
        "google.protobuf.DoubleValue" => (SchemaType::Float64, Conv::Float64),
        "google.protobuf.FloatValue" => (SchemaType::Float32, Conv::Float32),
        "google.protobuf.Int64Value" | "google.protobuf.UInt64Value" | "google.protobuf.UInt32Value" => {
            (SchemaType::Int64, Conv::Int64)
        }
        "google.protobuf.Int32Value" => (SchemaType::Int32, Conv::Int32),
        "google.protobuf.BoolValue" => (SchemaType::Boolean, Conv::Bool),
        "google.protobuf.StringValue" => (SchemaType::String, Conv::String),
        "google.protobuf.BytesValue" => (SchemaType::Bytes, Conv::Bytes),
        _ => return None,
    };
    Some((Schema::new(schema_type), conv))
}

/// Confluent's name for a map schema: the entry's full name with `FooBarEntry` → `foo_bar`.
fn map_name(entry_full_name: &str) -> String {
    let (prefix, last) = match entry_full_name.rsplit_once('.') {
        Some((prefix, last)) => (Some(prefix), last),
        None => (None, entry_full_name),
    };
    let Some(stem) = last.strip_suffix("Entry") else {
        return entry_full_name.to_owned();
    };
    let mut snake = String::with_capacity(stem.len() + 4);
    for (i, c) in stem.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                snake.push('_');
            }
            snake.push(c.to_ascii_lowercase());
        } else {
            snake.push(c);
        }
    }
    match prefix {
        Some(prefix) => format!("{prefix}.{snake}"),
        None => snake,
    }
}

#[cfg(test)]
mod tests {
    use super::map_name;

    #[test]
    fn map_names_follow_confluent() {
        assert_eq!(map_name("acme.Order.AttributesEntry"), "acme.Order.attributes");
        assert_eq!(map_name("acme.Order.ItemCountsEntry"), "acme.Order.item_counts");
        assert_eq!(map_name("TagsEntry"), "tags");
    }
}
