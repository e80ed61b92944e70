//! Kafka Connect's schema model.
//!
//! A schema is a type plus metadata. Logical types are schemas of a primitive type with a
//! well-known `name` (e.g. `org.apache.kafka.connect.data.Decimal` over `bytes`), exactly as in
//! Kafka Connect, so a schema read from a JSON envelope round-trips unchanged.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::value::Value;

/// Shared, immutable schema. Records of one topic usually share one schema instance.
pub type SchemaRef = Arc<Schema>;

/// The physical type of a schema, as Kafka Connect names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchemaType {
    Boolean,
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Bytes,
    String,
    Array,
    Map,
    Struct,
}

impl SchemaType {
    /// The name Kafka Connect's JSON envelope uses for this type.
    pub fn connect_name(self) -> &'static str {
        match self {
            SchemaType::Boolean => "boolean",
            SchemaType::Int8 => "int8",
            SchemaType::Int16 => "int16",
            SchemaType::Int32 => "int32",
            SchemaType::Int64 => "int64",
            SchemaType::Float32 => "float",
            SchemaType::Float64 => "double",
            SchemaType::Bytes => "bytes",
            SchemaType::String => "string",
            SchemaType::Array => "array",
            SchemaType::Map => "map",
            SchemaType::Struct => "struct",
        }
    }

    /// Parses a JSON envelope type name (`"int32"`, `"float"`, …).
    pub fn from_connect_name(name: &str) -> Option<Self> {
        Some(match name {
            "boolean" => SchemaType::Boolean,
            "int8" => SchemaType::Int8,
            "int16" => SchemaType::Int16,
            "int32" => SchemaType::Int32,
            "int64" => SchemaType::Int64,
            "float" => SchemaType::Float32,
            "double" => SchemaType::Float64,
            "bytes" => SchemaType::Bytes,
            "string" => SchemaType::String,
            "array" => SchemaType::Array,
            "map" => SchemaType::Map,
            "struct" => SchemaType::Struct,
            _ => return None,
        })
    }

    pub fn is_primitive(self) -> bool {
        !matches!(self, SchemaType::Array | SchemaType::Map | SchemaType::Struct)
    }
}

/// Names of the logical types Kafka Connect defines.
pub mod logical {
    /// `bytes` holding a big-endian two's-complement unscaled integer; parameter `scale`.
    pub const DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";
    /// Parameter of [`DECIMAL`] holding the scale.
    pub const DECIMAL_SCALE: &str = "scale";
    /// `int32` days since the Unix epoch.
    pub const DATE: &str = "org.apache.kafka.connect.data.Date";
    /// `int32` milliseconds since midnight.
    pub const TIME: &str = "org.apache.kafka.connect.data.Time";
    /// `int64` milliseconds since the Unix epoch.
    pub const TIMESTAMP: &str = "org.apache.kafka.connect.data.Timestamp";
}

/// One field of a struct schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    /// Position of the field in its struct, from 0.
    pub index: usize,
    pub schema: SchemaRef,
}

/// A Kafka Connect schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    pub schema_type: SchemaType,
    /// Whether `null` is a valid value.
    pub optional: bool,
    /// Value used when a field is absent.
    pub default: Option<Value>,
    /// Fully qualified name; for logical types, the logical type's name.
    pub name: Option<String>,
    pub version: Option<i32>,
    pub doc: Option<String>,
    pub parameters: BTreeMap<String, String>,
    /// Fields of a struct, in order. Empty for other types.
    pub fields: Vec<Field>,
    /// Element schema of an array, key schema of a map.
    pub key_schema: Option<SchemaRef>,
    /// Value schema of a map.
    pub value_schema: Option<SchemaRef>,
}

impl Schema {
    /// A required schema of the given type with no metadata.
    pub fn new(schema_type: SchemaType) -> Self {
        Schema {
            schema_type,
            optional: false,
            default: None,
            name: None,
            version: None,
            doc: None,
            parameters: BTreeMap::new(),
            fields: Vec::new(),
            key_schema: None,
            value_schema: None,
        }
    }

    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }

    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    pub fn with_default(mut self, default: Value) -> Self {
        self.default = Some(default);
        self
    }

    pub fn with_parameter(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.parameters.insert(key.into(), value.into());
        self
    }

    /// An array schema; `items` is the element schema.
    pub fn array(items: SchemaRef) -> Self {
        let mut s = Schema::new(SchemaType::Array);
        s.key_schema = Some(items);
        s
    }

    pub fn map(keys: SchemaRef, values: SchemaRef) -> Self {
        let mut s = Schema::new(SchemaType::Map);
        s.key_schema = Some(keys);
        s.value_schema = Some(values);
        s
    }

    /// A struct schema from `(name, schema)` pairs, indexes assigned in order.
    pub fn structure<I, S>(fields: I) -> Self
    where
        I: IntoIterator<Item = (S, SchemaRef)>,
        S: Into<String>,
    {
        let mut s = Schema::new(SchemaType::Struct);
        s.fields = fields
            .into_iter()
            .enumerate()
            .map(|(index, (name, schema))| Field { name: name.into(), index, schema })
            .collect();
        s
    }

    /// Decimal with the given scale, stored as `bytes`.
    pub fn decimal(scale: u32) -> Self {
        Schema::new(SchemaType::Bytes).named(logical::DECIMAL).with_parameter(logical::DECIMAL_SCALE, scale.to_string())
    }

    pub fn date() -> Self {
        Schema::new(SchemaType::Int32).named(logical::DATE)
    }

    pub fn time() -> Self {
        Schema::new(SchemaType::Int32).named(logical::TIME)
    }

    pub fn timestamp() -> Self {
        Schema::new(SchemaType::Int64).named(logical::TIMESTAMP)
    }

    pub fn into_ref(self) -> SchemaRef {
        Arc::new(self)
    }

    /// The field called `name`, if this is a struct schema that has one.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Element schema of an array.
    pub fn items(&self) -> Option<&SchemaRef> {
        match self.schema_type {
            SchemaType::Array => self.key_schema.as_ref(),
            _ => None,
        }
    }

    /// The scale of a Decimal schema; `None` for anything else.
    pub fn decimal_scale(&self) -> Option<u32> {
        if self.name.as_deref() != Some(logical::DECIMAL) {
            return None;
        }
        self.parameters.get(logical::DECIMAL_SCALE).and_then(|s| s.parse().ok()).or(Some(0))
    }

    /// Whether this schema is the logical type `name` (see [`logical`]).
    pub fn is_logical(&self, name: &str) -> bool {
        self.name.as_deref() == Some(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_round_trip() {
        for t in [
            SchemaType::Boolean,
            SchemaType::Int8,
            SchemaType::Int16,
            SchemaType::Int32,
            SchemaType::Int64,
            SchemaType::Float32,
            SchemaType::Float64,
            SchemaType::Bytes,
            SchemaType::String,
            SchemaType::Array,
            SchemaType::Map,
            SchemaType::Struct,
        ] {
            assert_eq!(SchemaType::from_connect_name(t.connect_name()), Some(t));
        }
        assert_eq!(SchemaType::from_connect_name("float32"), None);
    }

    #[test]
    fn struct_fields_are_indexed_in_order() {
        let s = Schema::structure([
            ("a", Schema::new(SchemaType::Int32).into_ref()),
            ("b", Schema::new(SchemaType::String).optional().into_ref()),
        ]);
        assert_eq!(s.field("b").map(|f| f.index), Some(1));
        assert!(s.field("b").unwrap().schema.optional);
        assert!(s.field("c").is_none());
    }

    #[test]
    fn decimal_scale_comes_from_parameters() {
        assert_eq!(Schema::decimal(4).decimal_scale(), Some(4));
        assert_eq!(Schema::new(SchemaType::Bytes).decimal_scale(), None);
    }
}
