//! `Cast$Key` / `Cast$Value`: casts top-level fields, or the whole key/value, to int8…int64,
//! float32/float64, boolean or string, with Java's conversion rules (narrowing wraps, floats
//! truncate, `"true"` is the only true string, bytes become base64 strings).

use std::collections::BTreeMap;

use sluice_api::coerce::{connect_string, pow10};
use sluice_api::schema::logical;
use sluice_api::{
    ConnectError, ConnectorConfig, Result, Schema, SchemaRef, SchemaType, SinkRecord, Struct, Transform, Value,
};

use crate::util::{self, copy_basics, field_value, require_map, require_struct, SchemaCache, Side};

const SPEC: &str = "spec";
const PURPOSE: &str = "cast types";
const OUTPUT_TYPES: &str = "[INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING]";
const INPUT_TYPES: &str = "[INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING, BYTES]";

/// A type Cast can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CastType {
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Boolean,
    String,
}

impl CastType {
    fn parse(name: &str) -> std::result::Result<Self, String> {
        Ok(match name.to_ascii_lowercase().as_str() {
            "int8" => CastType::Int8,
            "int16" => CastType::Int16,
            "int32" => CastType::Int32,
            "int64" => CastType::Int64,
            "float32" => CastType::Float32,
            "float64" => CastType::Float64,
            "boolean" => CastType::Boolean,
            "string" => CastType::String,
            t @ ("bytes" | "array" | "map" | "struct") => {
                return Err(format!(
                    "Cast transformation does not support casting to {}; supported types are {OUTPUT_TYPES}",
                    t.to_ascii_uppercase()
                ))
            }
            _ => return Err(format!("Invalid type found in casting spec: {name}")),
        })
    }

    fn schema_type(self) -> SchemaType {
        match self {
            CastType::Int8 => SchemaType::Int8,
            CastType::Int16 => SchemaType::Int16,
            CastType::Int32 => SchemaType::Int32,
            CastType::Int64 => SchemaType::Int64,
            CastType::Float32 => SchemaType::Float32,
            CastType::Float64 => SchemaType::Float64,
            CastType::Boolean => SchemaType::Boolean,
            CastType::String => SchemaType::String,
        }
    }
}

/// What the `spec` asks for.
#[derive(Debug, Clone, PartialEq)]
enum CastSpec {
    WholeValue(CastType),
    Fields(BTreeMap<String, CastType>),
}

fn parse_spec(items: &[String]) -> std::result::Result<CastSpec, String> {
    if items.is_empty() {
        return Err("Must specify at least one field to cast.".into());
    }
    let mut fields = BTreeMap::new();
    let mut whole = None;
    for item in items {
        // Java's String.split drops trailing empty parts: "a:" is a one-part spec.
        let parts: Vec<&str> = item.trim_end_matches(':').split(':').collect();
        match parts.as_slice() {
            [t] => whole = Some(CastType::parse(t.trim())?),
            [field, t] => {
                fields.insert(field.trim().to_owned(), CastType::parse(t.trim())?);
            }
            _ => return Err(format!("Invalid cast mapping: {item}; use field:type.")),
        }
    }
    match whole {
        Some(_) if items.len() > 1 => Err("Cast transformations that specify a type to cast the entire value to may only specify a single cast in their spec".into()),
        Some(t) => Ok(CastSpec::WholeValue(t)),
        None => Ok(CastSpec::Fields(fields)),
    }
}

pub struct Cast {
    side: Side,
    spec: CastSpec,
    replace_null_with_default: bool,
    schemas: SchemaCache,
}

impl Cast {
    pub fn new(config: &ConnectorConfig, side: Side) -> Result<Self> {
        config.required(SPEC)?;
        let spec = parse_spec(&config.list(SPEC)).map_err(|m| ConnectError::config(SPEC, m))?;
        Ok(Cast {
            side,
            spec,
            replace_null_with_default: util::replace_null_with_default(config)?,
            schemas: SchemaCache::new(),
        })
    }

    fn updated_schema(&self, schema: &SchemaRef) -> Result<SchemaRef> {
        self.schemas.get_or_build(schema, || {
            let mut updated = match &self.spec {
                CastSpec::WholeValue(t) => cast_schema_basics(schema, *t),
                CastSpec::Fields(casts) => {
                    let mut s = copy_basics(schema, SchemaType::Struct);
                    for field in &schema.fields {
                        let field_schema = match casts.get(&field.name) {
                            Some(t) => {
                                let mut f = Schema::new(t.schema_type());
                                f.optional = field.schema.optional;
                                f.default = field.schema.default.as_ref().map(|d| cast_value(d, *t)).transpose()?;
                                f.into_ref()
                            }
                            None => field.schema.clone(),
                        };
                        util::push_field(&mut s, &field.name, field_schema)?;
                    }
                    s
                }
            };
            updated.optional = schema.optional;
            let target = match &self.spec {
                CastSpec::WholeValue(t) => Some(*t),
                CastSpec::Fields(_) => None,
            };
            updated.default = match (&schema.default, target) {
                (Some(d), Some(t)) => Some(cast_value(d, t)?),
                (Some(Value::Struct(d)), None) => Some(Value::Struct(Struct {
                    schema: updated.clone().into_ref(),
                    values: self.cast_fields(d, false)?,
                })),
                _ => None,
            };
            Ok(updated.into_ref())
        })
    }

    fn cast_fields(&self, value: &Struct, with_default: bool) -> Result<Vec<Value>> {
        let CastSpec::Fields(casts) = &self.spec else { return Ok(value.values.clone()) };
        value
            .schema
            .fields
            .iter()
            .map(|f| {
                let v = field_value(value, f, with_default);
                match casts.get(&f.name) {
                    Some(t) => cast_value(&v, *t),
                    None => Ok(v),
                }
            })
            .collect()
    }
}

/// The whole-value schema: Kafka copies name, version, doc and parameters, but a logical
/// type's name (e.g. Timestamp) no longer describes the cast value, so it is dropped.
fn cast_schema_basics(schema: &Schema, t: CastType) -> Schema {
    let is_logical =
        [logical::DECIMAL, logical::DATE, logical::TIME, logical::TIMESTAMP].iter().any(|name| schema.is_logical(name));
    if is_logical {
        Schema::new(t.schema_type())
    } else {
        copy_basics(schema, t.schema_type())
    }
}

impl Transform for Cast {
    fn apply(&self, mut record: SinkRecord) -> Result<Option<SinkRecord>> {
        if self.side.value(&record).is_null() {
            return Ok(Some(record));
        }
        let (schema, value) = self.side.take(&mut record);
        let (schema, value) = match (schema, &self.spec) {
            (None, CastSpec::WholeValue(t)) => (None, cast_value(&value, *t)?),
            (None, CastSpec::Fields(casts)) => {
                let mut entries = require_map(value, PURPOSE)?;
                for (k, v) in entries.iter_mut() {
                    if let Some(t) = k.as_str().and_then(|k| casts.get(k)) {
                        *v = cast_value(v, *t)?;
                    }
                }
                (None, Value::Map(entries))
            }
            (Some(schema), CastSpec::WholeValue(t)) => (Some(self.updated_schema(&schema)?), cast_value(&value, *t)?),
            (Some(schema), CastSpec::Fields(_)) => {
                let updated = self.updated_schema(&schema)?;
                let value = require_struct(value, PURPOSE)?;
                let values = self.cast_fields(&value, self.replace_null_with_default)?;
                (Some(updated.clone()), Value::Struct(Struct { schema: updated, values }))
            }
        };
        self.side.set(&mut record, schema, value);
        Ok(Some(record))
    }
}

/// A number as Java's `Number` sees it, before narrowing.
enum Num {
    Int(i128),
    Float(f64),
}

impl Num {
    fn long(&self) -> i64 {
        match *self {
            Num::Int(i) => i as i64,
            Num::Float(f) => f as i64,
        }
    }

    fn int(&self) -> i32 {
        match *self {
            Num::Int(i) => i as i32,
            Num::Float(f) => f as i32,
        }
    }

    fn double(&self) -> f64 {
        match *self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }
}

fn out_of_range(value: &str) -> ConnectError {
    ConnectError::data(format!("Value ({value}) was out of range for requested data type"))
}

/// Casts one value with Java's rules; `Null` stays `Null`.
pub fn cast_value(value: &Value, target: CastType) -> Result<Value> {
    let num = match value {
        Value::Null => return Ok(Value::Null),
        Value::Array(_) | Value::Map(_) | Value::Struct(_) => {
            return Err(ConnectError::data(format!(
                "Cast transformation does not support casting from {}; supported types are {INPUT_TYPES}",
                value.type_name().to_ascii_uppercase()
            )))
        }
        _ if target == CastType::String => return Ok(Value::from(connect_string(value))),
        Value::Boolean(b) => Num::Int(*b as i128),
        Value::Float32(f) => Num::Float(*f as f64),
        Value::Float64(f) => Num::Float(*f),
        Value::Decimal { unscaled, scale } => match target {
            CastType::Float32 | CastType::Float64 => Num::Float(value.as_f64().unwrap_or(0.0)),
            _ => Num::Int(pow10(*scale).map(|p| unscaled / p).unwrap_or(0)),
        },
        Value::String(s) => return parse_string(s, target),
        Value::Bytes(_) => {
            return Err(ConnectError::data(format!("Unexpected type in Cast transformation: {}", value.type_name())))
        }
        other => Num::Int(other.as_i64().unwrap_or(0) as i128),
    };
    Ok(match target {
        CastType::Int8 => Value::Int8(num.int() as i8),
        CastType::Int16 => Value::Int16(num.int() as i16),
        CastType::Int32 => Value::Int32(num.int()),
        CastType::Int64 => Value::Int64(num.long()),
        CastType::Float32 => Value::Float32(num.double() as f32),
        CastType::Float64 => Value::Float64(num.double()),
        CastType::Boolean => Value::Boolean(num.long() != 0),
        CastType::String => Value::from(connect_string(value)),
    })
}

fn parse_string(s: &str, target: CastType) -> Result<Value> {
    let err = || out_of_range(s);
    Ok(match target {
        CastType::Int8 => Value::Int8(s.parse().map_err(|_| err())?),
        CastType::Int16 => Value::Int16(s.parse().map_err(|_| err())?),
        CastType::Int32 => Value::Int32(s.parse().map_err(|_| err())?),
        CastType::Int64 => Value::Int64(s.parse().map_err(|_| err())?),
        CastType::Float32 => Value::Float32(s.trim().parse().map_err(|_| err())?),
        CastType::Float64 => Value::Float64(s.trim().parse().map_err(|_| err())?),
        CastType::Boolean => Value::Boolean(s.eq_ignore_ascii_case("true")),
        CastType::String => Value::String(s.into()),
    })
}

#[cfg(test)]
#[path = "cast_tests.rs"]
mod tests;
