//! `TimestampConverter$Key` / `TimestampConverter$Value`: converts a timestamp field (`field`),
//! or the whole key/value when `field` is empty, between `string` (via `format`, a
//! `SimpleDateFormat` pattern, UTC), `unix` (int64 in `unix.precision`), and Connect's `Date`,
//! `Time` and `Timestamp`. The input kind comes from the schema, or from the value when
//! schemaless.

use sluice_api::coerce::MILLIS_PER_DAY;
use sluice_api::schema::logical;
use sluice_api::{
    ConnectError, ConnectorConfig, Result, Schema, SchemaRef, SchemaType, SinkRecord, Struct, Transform, Value,
};

use crate::date_format::JavaDateFormat;
use crate::util::{
    self, copy_basics, field_value, map_get, map_put, push_field, require_map, require_struct, SchemaCache, Side,
};

const PURPOSE: &str = "converting timestamp formats";

/// A timestamp representation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    Unix,
    Date,
    Time,
    Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Precision {
    Seconds,
    Millis,
    Micros,
    Nanos,
}

pub struct TimestampConverter {
    side: Side,
    field: String,
    target: Kind,
    format: Option<JavaDateFormat>,
    precision: Precision,
    replace_null_with_default: bool,
    schemas: SchemaCache,
}

impl TimestampConverter {
    pub fn new(config: &ConnectorConfig, side: Side) -> Result<Self> {
        let target = match util::one_of(config, "target.type", None, &["string", "unix", "Date", "Time", "Timestamp"])?
        {
            "string" => Kind::String,
            "unix" => Kind::Unix,
            "Date" => Kind::Date,
            "Time" => Kind::Time,
            _ => Kind::Timestamp,
        };
        let precision = match util::one_of(
            config,
            "unix.precision",
            Some("milliseconds"),
            &["seconds", "milliseconds", "microseconds", "nanoseconds"],
        )? {
            "seconds" => Precision::Seconds,
            "microseconds" => Precision::Micros,
            "nanoseconds" => Precision::Nanos,
            _ => Precision::Millis,
        };
        let format = match config.get("format").filter(|f| !f.trim().is_empty()) {
            Some(p) => Some(JavaDateFormat::new(p).map_err(|m| {
                ConnectError::config(
                    "format",
                    format!("TimestampConverter requires a SimpleDateFormat-compatible pattern: {m}"),
                )
            })?),
            None if target == Kind::String => {
                return Err(ConnectError::config(
                    "format",
                    "TimestampConverter requires format option to be specified when using string timestamps",
                ))
            }
            None => None,
        };
        Ok(TimestampConverter {
            side,
            field: config.string_or("field", "").to_owned(),
            target,
            format,
            precision,
            replace_null_with_default: util::replace_null_with_default(config)?,
            schemas: SchemaCache::new(),
        })
    }

    fn target_schema(&self, optional: bool) -> SchemaRef {
        let s = match self.target {
            Kind::String => Schema::new(SchemaType::String),
            Kind::Unix => Schema::new(SchemaType::Int64),
            Kind::Date => Schema::date(),
            Kind::Time => Schema::time(),
            Kind::Timestamp => Schema::timestamp(),
        };
        if optional { s.optional() } else { s }.into_ref()
    }

    fn format(&self) -> Result<&JavaDateFormat> {
        self.format.as_ref().ok_or_else(|| {
            ConnectError::data("TimestampConverter needs the format option to parse string timestamps; set format.")
        })
    }

    /// Milliseconds since the epoch, UTC.
    fn to_raw(&self, value: &Value, kind: Kind) -> Result<i64> {
        let mismatch = |expected: &str| {
            ConnectError::data(format!("Expected {expected} timestamp, but found {}", value.type_name()))
        };
        Ok(match (kind, value) {
            (Kind::String, Value::String(s)) => self.format()?.parse_millis(s).map_err(ConnectError::data)?,
            (Kind::String, _) => return Err(mismatch("a string")),
            (Kind::Unix, Value::Int64(v)) => match self.precision {
                Precision::Seconds => v.saturating_mul(1000),
                Precision::Millis => *v,
                Precision::Micros => v / 1000,
                Precision::Nanos => v / 1_000_000,
            },
            (Kind::Unix, _) => return Err(mismatch("an int64 Unix")),
            (Kind::Date, Value::Date(days)) => *days as i64 * MILLIS_PER_DAY,
            (Kind::Time, Value::Time(ms)) => *ms as i64,
            (Kind::Timestamp, Value::Timestamp(ms)) => *ms,
            (Kind::Date, _) => return Err(mismatch("a Date")),
            (Kind::Time, _) => return Err(mismatch("a Time")),
            (Kind::Timestamp, _) => return Err(mismatch("a Timestamp")),
        })
    }

    fn raw_to_target(&self, ms: i64) -> Result<Value> {
        Ok(match self.target {
            Kind::String => Value::from(self.format()?.format_millis(ms).map_err(ConnectError::data)?),
            Kind::Unix => Value::Int64(match self.precision {
                Precision::Seconds => ms / 1000,
                Precision::Millis => ms,
                Precision::Micros => ms.saturating_mul(1000),
                Precision::Nanos => ms.saturating_mul(1_000_000),
            }),
            Kind::Date => Value::Date(ms.div_euclid(MILLIS_PER_DAY) as i32),
            Kind::Time => Value::Time(ms.rem_euclid(MILLIS_PER_DAY) as i32),
            Kind::Timestamp => Value::Timestamp(ms),
        })
    }

    /// Converts one value; `kind` is `None` for schemaless values (inferred from the value).
    fn convert(&self, value: &Value, kind: Option<Kind>) -> Result<Value> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let kind = match kind {
            Some(k) => k,
            None => match value {
                Value::Timestamp(_) => Kind::Timestamp,
                Value::Date(_) => Kind::Date,
                Value::Time(_) => Kind::Time,
                Value::Int64(_) => Kind::Unix,
                Value::String(_) => Kind::String,
                other => {
                    return Err(ConnectError::data(format!(
                        "TimestampConverter does not support {} objects as timestamps",
                        other.type_name()
                    )))
                }
            },
        };
        self.raw_to_target(self.to_raw(value, kind)?)
    }

    fn convert_fields(&self, value: &Struct, with_default: bool) -> Result<Vec<Value>> {
        value
            .schema
            .fields
            .iter()
            .map(|f| {
                let v = field_value(value, f, with_default);
                if f.name == self.field {
                    self.convert(&v, Some(kind_of(&f.schema)?))
                } else {
                    Ok(v)
                }
            })
            .collect()
    }

    fn updated_struct_schema(&self, schema: &SchemaRef) -> Result<SchemaRef> {
        self.schemas.get_or_build(schema, || {
            let mut out = copy_basics(schema, SchemaType::Struct);
            for f in &schema.fields {
                let field_schema =
                    if f.name == self.field { self.target_schema(f.schema.optional) } else { f.schema.clone() };
                push_field(&mut out, &f.name, field_schema)?;
            }
            out.optional = schema.optional;
            if let Some(Value::Struct(default)) = &schema.default {
                let values = self.convert_fields(default, true)?;
                out.default = Some(Value::Struct(Struct { schema: out.clone().into_ref(), values }));
            }
            Ok(out.into_ref())
        })
    }
}

/// The timestamp kind a schema describes.
fn kind_of(schema: &Schema) -> Result<Kind> {
    Ok(match schema.name.as_deref() {
        Some(logical::TIMESTAMP) => Kind::Timestamp,
        Some(logical::DATE) => Kind::Date,
        Some(logical::TIME) => Kind::Time,
        _ if schema.schema_type == SchemaType::String => Kind::String,
        _ if schema.schema_type == SchemaType::Int64 => Kind::Unix,
        _ => {
            return Err(ConnectError::data(format!(
                "Schema of type {} does not correspond to a known timestamp type format",
                schema.schema_type.connect_name()
            )))
        }
    })
}

impl Transform for TimestampConverter {
    fn apply(&self, mut record: SinkRecord) -> Result<Option<SinkRecord>> {
        let (schema, value) = self.side.take(&mut record);
        let (schema, value) = match schema {
            None if value.is_null() || self.field.is_empty() => (None, self.convert(&value, None)?),
            None => {
                let mut entries = require_map(value, PURPOSE)?;
                if let Some(v) = map_get(&entries, &self.field) {
                    let converted = self.convert(v, None)?;
                    map_put(&mut entries, &self.field, converted);
                }
                (None, Value::Map(entries))
            }
            Some(schema) if self.field.is_empty() => {
                let converted = self.convert(&value, Some(kind_of(&schema)?))?;
                (Some(self.target_schema(schema.optional)), converted)
            }
            Some(schema) => {
                let updated = self.updated_struct_schema(&schema)?;
                let value = match value {
                    Value::Null => Value::Null,
                    other => {
                        let s = require_struct(other, PURPOSE)?;
                        let values = self.convert_fields(&s, self.replace_null_with_default)?;
                        Value::Struct(Struct { schema: updated.clone(), values })
                    }
                };
                (Some(updated), value)
            }
        };
        self.side.set(&mut record, schema, value);
        Ok(Some(record))
    }
}

#[cfg(test)]
#[path = "timestamp_converter_tests.rs"]
mod tests;
