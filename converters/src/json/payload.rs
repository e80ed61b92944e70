//! The `payload` half of the envelope, read according to its schema.

use base64::Engine as _;
use bytes::Bytes;
use serde_json::Value as Json;
use sluice_api::coerce::{decimal_from_text, unscaled_from_be_bytes};
use sluice_api::schema::logical;
use sluice_api::{ConnectError, Result, Schema, SchemaRef, SchemaType, Struct, Value};

/// How Decimal values are written in JSON (`decimal.format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalFormat {
    /// Base64 of the big-endian two's-complement unscaled value (Kafka Connect's default).
    Base64,
    /// A JSON number.
    Numeric,
}

fn mismatch(schema: &Schema, json: &Json) -> ConnectError {
    let shown = json.to_string();
    let shown = if shown.len() > 80 { format!("{}…", &shown[..80]) } else { shown };
    ConnectError::data(format!(
        "JsonConverter: expected a value of schema type {} but got {shown}",
        schema.name.as_deref().unwrap_or(schema.schema_type.connect_name())
    ))
}

fn int_in<T: TryFrom<i64>>(schema: &Schema, json: &Json) -> Result<T> {
    json.as_i64().and_then(|v| T::try_from(v).ok()).ok_or_else(|| mismatch(schema, json))
}

/// Converts `json` to a value of `schema`.
pub fn to_value(schema: &SchemaRef, json: &Json, decimals: DecimalFormat) -> Result<Value> {
    if json.is_null() {
        if let Some(default) = &schema.default {
            return Ok(default.clone());
        }
        if schema.optional {
            return Ok(Value::Null);
        }
        return Err(ConnectError::data(format!(
            "JsonConverter: invalid null value for required {} field",
            schema.schema_type.connect_name()
        )));
    }

    if let Some(name) = schema.name.as_deref() {
        match name {
            logical::DECIMAL => return decimal(schema, json, decimals),
            logical::DATE => return Ok(Value::Date(int_in(schema, json)?)),
            logical::TIME => return Ok(Value::Time(int_in(schema, json)?)),
            logical::TIMESTAMP => return Ok(Value::Timestamp(int_in(schema, json)?)),
            _ => {}
        }
    }

    Ok(match schema.schema_type {
        SchemaType::Boolean => Value::Boolean(json.as_bool().ok_or_else(|| mismatch(schema, json))?),
        SchemaType::Int8 => Value::Int8(int_in(schema, json)?),
        SchemaType::Int16 => Value::Int16(int_in(schema, json)?),
        SchemaType::Int32 => Value::Int32(int_in(schema, json)?),
        SchemaType::Int64 => Value::Int64(int_in(schema, json)?),
        SchemaType::Float32 => Value::Float32(json.as_f64().ok_or_else(|| mismatch(schema, json))? as f32),
        SchemaType::Float64 => Value::Float64(json.as_f64().ok_or_else(|| mismatch(schema, json))?),
        SchemaType::String => Value::String(json.as_str().ok_or_else(|| mismatch(schema, json))?.into()),
        SchemaType::Bytes => {
            let text = json.as_str().ok_or_else(|| mismatch(schema, json))?;
            Value::Bytes(Bytes::from(decode_base64(text)?))
        }
        SchemaType::Array => {
            let items = schema.items().ok_or_else(|| mismatch(schema, json))?;
            let arr = json.as_array().ok_or_else(|| mismatch(schema, json))?;
            Value::Array(arr.iter().map(|j| to_value(items, j, decimals)).collect::<Result<_>>()?)
        }
        SchemaType::Map => map(schema, json, decimals)?,
        SchemaType::Struct => {
            let obj = json.as_object().ok_or_else(|| mismatch(schema, json))?;
            let values = schema
                .fields
                .iter()
                .map(|f| to_value(&f.schema, obj.get(&f.name).unwrap_or(&Json::Null), decimals))
                .collect::<Result<Vec<_>>>()?;
            Value::Struct(Struct { schema: schema.clone(), values })
        }
    })
}

fn map(schema: &SchemaRef, json: &Json, decimals: DecimalFormat) -> Result<Value> {
    let (Some(ks), Some(vs)) = (&schema.key_schema, &schema.value_schema) else {
        return Err(mismatch(schema, json));
    };
    // String-keyed maps are JSON objects; any other key type is an array of [key, value] pairs.
    if ks.schema_type == SchemaType::String {
        let obj = json.as_object().ok_or_else(|| mismatch(schema, json))?;
        let entries = obj
            .iter()
            .map(|(k, v)| Ok((Value::String(k.as_str().into()), to_value(vs, v, decimals)?)))
            .collect::<Result<_>>()?;
        return Ok(Value::Map(entries));
    }
    let pairs = json.as_array().ok_or_else(|| mismatch(schema, json))?;
    let entries = pairs
        .iter()
        .map(|pair| match pair.as_array().map(Vec::as_slice) {
            Some([k, v]) => Ok((to_value(ks, k, decimals)?, to_value(vs, v, decimals)?)),
            _ => Err(mismatch(schema, pair)),
        })
        .collect::<Result<_>>()?;
    Ok(Value::Map(entries))
}

fn decode_base64(text: &str) -> Result<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| ConnectError::data(format!("JsonConverter: invalid base64 in bytes value: {e}")))
}

fn decimal(schema: &Schema, json: &Json, format: DecimalFormat) -> Result<Value> {
    let scale = schema.decimal_scale().unwrap_or(0);
    // Accept either encoding on input, as Kafka Connect does since 2.6.
    let unscaled = match (json, format) {
        (Json::String(text), _) => {
            let bytes = decode_base64(text)?;
            if bytes.is_empty() || bytes.len() > 16 {
                return Err(ConnectError::data("JsonConverter: Decimal bytes must be 1 to 16 bytes long"));
            }
            unscaled_from_be_bytes(&bytes).ok_or_else(|| mismatch(schema, json))?
        }
        (Json::Number(n), _) => decimal_from_text(&n.to_string(), scale).map_err(|_| mismatch(schema, json))?,
        _ => return Err(mismatch(schema, json)),
    };
    Ok(Value::Decimal { unscaled, scale })
}
