//! Values, with or without a schema.
//!
//! Schemaless data (JSON without the envelope) uses `Map` with string keys, `Array`,
//! `String`, `Int64`, `Float64`, `Boolean` and `Null`. Schema'd data uses the variant that
//! matches its schema, and `Struct` for structs. Logical types get their own variants so sinks
//! never re-derive them from schema names.

use bytes::Bytes;
pub use compact_str::{format_compact, CompactString};

use crate::schema::SchemaRef;

/// A Kafka Connect value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Boolean(bool),
    Int8(i8),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    Float32(f32),
    Float64(f64),
    Bytes(Bytes),
    /// Text; up to 24 bytes are held inline, with no allocation of their own.
    String(CompactString),
    Array(Vec<Value>),
    /// Entries in their original order. Schemaless JSON objects have `String` keys.
    Map(Vec<(Value, Value)>),
    Struct(Struct),
    /// Decimal: `unscaled × 10^-scale`.
    Decimal {
        unscaled: i128,
        scale: u32,
    },
    /// Days since 1970-01-01.
    Date(i32),
    /// Milliseconds since midnight.
    Time(i32),
    /// Milliseconds since the Unix epoch, UTC.
    Timestamp(i64),
}

/// A struct value: field values in the order of its schema's fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Struct {
    pub schema: SchemaRef,
    pub values: Vec<Value>,
}

impl Struct {
    /// Value of the field `name`, `None` if the schema has no such field.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.schema.field(name).and_then(|f| self.values.get(f.index))
    }

    /// `(field name, value)` pairs in schema order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.schema.fields.iter().map(|f| f.name.as_str()).zip(self.values.iter())
    }
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// A short type name for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Boolean(_) => "boolean",
            Value::Int8(_) => "int8",
            Value::Int16(_) => "int16",
            Value::Int32(_) => "int32",
            Value::Int64(_) => "int64",
            Value::Float32(_) => "float",
            Value::Float64(_) => "double",
            Value::Bytes(_) => "bytes",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Map(_) => "map",
            Value::Struct(_) => "struct",
            Value::Decimal { .. } => "decimal",
            Value::Date(_) => "date",
            Value::Time(_) => "time",
            Value::Timestamp(_) => "timestamp",
        }
    }

    /// Field `name` of a struct, or entry with string key `name` of a map.
    pub fn field(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Struct(s) => s.get(name),
            Value::Map(entries) => {
                entries.iter().find(|(k, _)| matches!(k, Value::String(key) if key == name)).map(|(_, v)| v)
            }
            _ => None,
        }
    }

    /// Integer view of any integral value (including Date, Time and Timestamp).
    pub fn as_i64(&self) -> Option<i64> {
        Some(match *self {
            Value::Int8(v) => v as i64,
            Value::Int16(v) => v as i64,
            Value::Int32(v) | Value::Date(v) | Value::Time(v) => v as i64,
            Value::Int64(v) | Value::Timestamp(v) => v,
            _ => return None,
        })
    }

    /// Floating-point view of any numeric value.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Float32(v) => Some(v as f64),
            Value::Float64(v) => Some(v),
            Value::Decimal { unscaled, scale } => Some(unscaled as f64 / 10f64.powi(scale as i32)),
            _ => self.as_i64().map(|v| v as f64),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.into())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s.into())
    }
}

impl From<CompactString> for Value {
    fn from(s: CompactString) -> Self {
        Value::String(s)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int64(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Boolean(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Schema, SchemaType};

    #[test]
    fn field_lookup_works_on_structs_and_schemaless_maps() {
        let schema = Schema::structure([
            ("user_id", Schema::new(SchemaType::String).into_ref()),
            ("n", Schema::new(SchemaType::Int32).into_ref()),
        ])
        .into_ref();
        let st = Value::Struct(Struct { schema, values: vec!["u1".into(), Value::Int32(7)] });
        assert_eq!(st.field("n"), Some(&Value::Int32(7)));
        assert_eq!(st.field("missing"), None);

        let map = Value::Map(vec![("user_id".into(), "u2".into())]);
        assert_eq!(map.field("user_id").and_then(Value::as_str), Some("u2"));
        assert_eq!(Value::Int32(1).field("user_id"), None);
    }

    #[test]
    fn numeric_views() {
        assert_eq!(Value::Timestamp(5).as_i64(), Some(5));
        assert_eq!(Value::Decimal { unscaled: 12345, scale: 2 }.as_f64(), Some(123.45));
        assert_eq!(Value::String("1".into()).as_i64(), None);
    }
}
