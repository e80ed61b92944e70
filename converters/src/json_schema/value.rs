//! JSON payloads → Connect values, following the plan [`super::schema`] built.

use base64::Engine as _;
use bytes::Bytes;
use serde_json::Value as Json;
use sluice_api::coerce::{decimal_from_text, parse_date, parse_rfc3339, parse_time, unscaled_from_be_bytes};
use sluice_api::{Struct, Value};

use super::schema::{Kind, Plan};
use crate::registry::path::{PathError, Segment};

type Converted = Result<Value, PathError>;

/// A JSON value as error messages show it: short, strings quoted.
fn shown(json: &Json) -> String {
    let text = json.to_string();
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(60).collect::<String>())
    } else {
        text
    }
}

fn expected(what: &str, json: &Json) -> PathError {
    PathError::new(format!("expected {what}, got {}", shown(json)))
}

/// Converts `json` (`None`: the property is absent) to a value of `plan`'s schema.
pub(super) fn to_value(plan: &Plan, json: Option<&Json>) -> Converted {
    let json = match json {
        Some(Json::Null) | None => {
            if let Some(default) = &plan.schema.default {
                return Ok(default.clone());
            }
            if plan.schema.optional {
                return Ok(Value::Null);
            }
            return Err(match json {
                None => PathError::new("required property is missing"),
                Some(null) => expected(describe(&plan.kind), null),
            });
        }
        Some(json) => json,
    };
    Ok(match &plan.kind {
        Kind::Boolean => Value::Boolean(json.as_bool().ok_or_else(|| expected("a boolean", json))?),
        Kind::Int8 => Value::Int8(ranged(json, "an int8")?),
        Kind::Int16 => Value::Int16(ranged(json, "an int16")?),
        Kind::Int32 => Value::Int32(ranged(json, "an int32")?),
        Kind::Int64 => Value::Int64(ranged(json, "an int64")?),
        Kind::Float32 => Value::Float32(json.as_f64().ok_or_else(|| expected("a number", json))? as f32),
        Kind::Float64 => Value::Float64(json.as_f64().ok_or_else(|| expected("a number", json))?),
        Kind::String => Value::String(json.as_str().ok_or_else(|| expected("a string", json))?.into()),
        Kind::Bytes => {
            let text = json.as_str().ok_or_else(|| expected("a base64 string", json))?;
            Value::Bytes(Bytes::from(base64(text).ok_or_else(|| expected("a base64 string", json))?))
        }
        Kind::Enum => Value::from(match json {
            Json::String(s) => s.clone(),
            Json::Number(_) | Json::Bool(_) => json.to_string(),
            _ => return Err(expected("an enum symbol", json)),
        }),
        Kind::Decimal { scale } => decimal(json, *scale)?,
        Kind::Date => Value::Date(ranged(json, "an integer (days since 1970-01-01)")?),
        Kind::Time => Value::Time(ranged(json, "an integer (milliseconds since midnight)")?),
        Kind::Timestamp => Value::Timestamp(ranged(json, "an integer (milliseconds since the epoch)")?),
        Kind::DateText => {
            let text = json.as_str().ok_or_else(|| expected("a date string (YYYY-MM-DD)", json))?;
            Value::Date(parse_date(text).ok_or_else(|| expected("a date string (YYYY-MM-DD)", json))?)
        }
        Kind::TimeText => {
            let text = json.as_str().ok_or_else(|| expected("a time string (HH:MM:SS)", json))?;
            Value::Time(parse_time(text).ok_or_else(|| expected("a time string (HH:MM:SS)", json))?)
        }
        Kind::DateTimeText => {
            let text = json.as_str().ok_or_else(|| expected("an RFC 3339 date-time string", json))?;
            Value::Timestamp(rfc3339_millis(text).ok_or_else(|| expected("an RFC 3339 date-time string", json))?)
        }
        Kind::Array(items) => {
            let array = json.as_array().ok_or_else(|| expected("an array", json))?;
            let mut out = Vec::with_capacity(array.len());
            for (i, item) in array.iter().enumerate() {
                out.push(to_value(items, Some(item)).map_err(|e| e.at(Segment::Index(i)))?);
            }
            Value::Array(out)
        }
        Kind::Map(values) => {
            let object = json.as_object().ok_or_else(|| expected("an object", json))?;
            let mut out = Vec::with_capacity(object.len());
            for (k, v) in object {
                let v = to_value(values, Some(v)).map_err(|e| e.at(Segment::Key(k.clone())))?;
                out.push((Value::String(k.as_str().into()), v));
            }
            Value::Map(out)
        }
        Kind::MapEntries(keys, values) => {
            let array = json.as_array().ok_or_else(|| expected("an array of {\"key\", \"value\"} objects", json))?;
            let mut out = Vec::with_capacity(array.len());
            for (i, entry) in array.iter().enumerate() {
                let entry = entry
                    .as_object()
                    .ok_or_else(|| expected("a {\"key\", \"value\"} object", entry).at(Segment::Index(i)))?;
                let k = to_value(keys, entry.get("key"))
                    .map_err(|e| e.at(Segment::Field("key".into())).at(Segment::Index(i)))?;
                let v = to_value(values, entry.get("value"))
                    .map_err(|e| e.at(Segment::Field("value".into())).at(Segment::Index(i)))?;
                out.push((k, v));
            }
            Value::Map(out)
        }
        Kind::Struct(fields) => {
            let object = json.as_object().ok_or_else(|| expected("an object", json))?;
            let mut values = Vec::with_capacity(fields.len());
            for (name, field) in fields {
                values.push(to_value(field, object.get(name)).map_err(|e| e.at(Segment::Field(name.clone())))?);
            }
            Value::Struct(Struct { schema: plan.schema.clone(), values })
        }
        Kind::Union(branches) => union(plan, branches, json)?,
        Kind::Json => Value::String(json.to_string().into()),
        Kind::Null => return Err(expected("null", json)),
    })
}

/// What a plan expects, for messages about nulls.
fn describe(kind: &Kind) -> &'static str {
    match kind {
        Kind::Boolean => "a boolean",
        Kind::Int8 | Kind::Int16 | Kind::Int32 | Kind::Int64 | Kind::Date | Kind::Time | Kind::Timestamp => {
            "an integer"
        }
        Kind::Float32 | Kind::Float64 => "a number",
        Kind::String | Kind::Enum | Kind::DateText | Kind::TimeText | Kind::DateTimeText => "a string",
        Kind::Bytes => "a base64 string",
        Kind::Decimal { .. } => "a decimal",
        Kind::Array(_) | Kind::MapEntries(..) => "an array",
        Kind::Map(_) | Kind::Struct(_) => "an object",
        Kind::Union(_) | Kind::Json => "a value",
        Kind::Null => "null",
    }
}

/// An integer JSON number (`3`, or `3.0`, which JSON Schema counts as an integer) that fits `T`.
fn ranged<T: TryFrom<i64>>(json: &Json, what: &str) -> Result<T, PathError> {
    let Json::Number(n) = json else {
        return Err(expected(if what.starts_with("an int") { "an integer" } else { what }, json));
    };
    let integer = n.as_i64().or_else(|| {
        n.as_f64().filter(|f| f.fract() == 0.0 && *f >= i64::MIN as f64 && *f < i64::MAX as f64).map(|f| f as i64)
    });
    match integer {
        Some(v) => T::try_from(v).map_err(|_| expected(what, json)),
        None if n.is_u64() => Err(expected(what, json)),
        None => Err(expected(if what.starts_with("an int") { "an integer" } else { what }, json)),
    }
}

fn base64(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

/// A Connect Decimal: base64 of the big-endian unscaled value, or a JSON number.
fn decimal(json: &Json, scale: u32) -> Converted {
    let unscaled = match json {
        Json::String(text) => {
            let bytes = base64(text).ok_or_else(|| expected("a decimal (base64 bytes or a number)", json))?;
            unscaled_from_be_bytes(&bytes).ok_or_else(|| expected("a decimal of at most 16 bytes", json))?
        }
        Json::Number(n) => decimal_from_text(&n.to_string(), scale)
            .map_err(|_| expected(&format!("a decimal with at most {scale} fractional digit(s)"), json))?,
        _ => return Err(expected("a decimal (base64 bytes or a number)", json)),
    };
    Ok(Value::Decimal { unscaled, scale })
}

/// Converts a oneOf: the first branch whose type the value has, or for objects the struct
/// branch sharing the most property names (as Confluent's `JsonSchemaData` picks).
fn union(plan: &Plan, branches: &[Plan], json: &Json) -> Converted {
    let simple = branches.iter().position(|b| simple_match(&b.kind, json));
    let chosen = simple.or_else(|| {
        let object = json.as_object()?;
        branches
            .iter()
            .enumerate()
            .filter_map(|(i, b)| match &b.kind {
                Kind::Struct(fields) => Some((fields.iter().filter(|(name, _)| object.contains_key(name)).count(), i)),
                _ => None,
            })
            .max_by_key(|(score, i)| (*score, std::cmp::Reverse(*i)))
            .map(|(_, i)| i)
    });
    let Some(i) = chosen else {
        return Err(expected("a value matching one of the oneOf branches", json));
    };
    let value =
        to_value(&branches[i], Some(json)).map_err(|e| e.at(Segment::Field(plan.schema.fields[i].name.clone())))?;
    let mut values = vec![Value::Null; branches.len()];
    values[i] = value;
    Ok(Value::Struct(Struct { schema: plan.schema.clone(), values }))
}

fn simple_match(kind: &Kind, json: &Json) -> bool {
    match kind {
        Kind::Boolean => json.is_boolean(),
        Kind::Int8 | Kind::Int16 | Kind::Int32 | Kind::Int64 | Kind::Date | Kind::Time | Kind::Timestamp => {
            json.is_i64() || json.is_u64()
        }
        Kind::Float32 | Kind::Float64 => json.is_number(),
        Kind::String | Kind::Bytes | Kind::DateText | Kind::TimeText | Kind::DateTimeText => json.is_string(),
        Kind::Enum => json.is_string() || json.is_number() || json.is_boolean(),
        Kind::Decimal { .. } => json.is_string() || json.is_number(),
        Kind::Array(_) | Kind::MapEntries(..) => json.is_array(),
        Kind::Map(_) => json.is_object(),
        Kind::Struct(_) => false,
        Kind::Union(branches) => branches.iter().any(|b| simple_match(&b.kind, json)),
        Kind::Json => true,
        Kind::Null => json.is_null(),
    }
}

/// An RFC 3339 date-time as a Connect Timestamp (milliseconds, sub-millisecond digits dropped).
fn rfc3339_millis(text: &str) -> Option<i64> {
    parse_rfc3339(text).and_then(|nanos| i64::try_from(nanos.div_euclid(1_000_000)).ok())
}
