//! The `schema` half of Kafka Connect's JSON envelope → [`Schema`].

use serde_json::Value as Json;
use sluice_api::{ConnectError, Field, Result, Schema, SchemaType};

use super::payload::{self, DecimalFormat};

fn bad(message: impl Into<String>) -> ConnectError {
    ConnectError::data(format!("JsonConverter: invalid schema in envelope: {}", message.into()))
}

/// Parses one envelope schema object.
pub fn schema_from_json(json: &Json) -> Result<Schema> {
    let obj = json.as_object().ok_or_else(|| bad("a schema must be a JSON object"))?;
    let type_name = obj.get("type").and_then(Json::as_str).ok_or_else(|| bad("the schema has no \"type\" string"))?;
    let schema_type =
        SchemaType::from_connect_name(type_name).ok_or_else(|| bad(format!("unknown schema type {type_name:?}")))?;

    let mut schema = Schema::new(schema_type);
    schema.optional = obj.get("optional").and_then(Json::as_bool).unwrap_or(false);
    schema.name = obj.get("name").and_then(Json::as_str).map(str::to_owned);
    schema.version = obj.get("version").and_then(Json::as_i64).and_then(|v| i32::try_from(v).ok());
    schema.doc = obj.get("doc").and_then(Json::as_str).map(str::to_owned);
    if let Some(params) = obj.get("parameters").and_then(Json::as_object) {
        for (k, v) in params {
            let v = v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string());
            schema.parameters.insert(k.clone(), v);
        }
    }

    match schema_type {
        SchemaType::Struct => {
            let fields =
                obj.get("fields").and_then(Json::as_array).ok_or_else(|| bad("a struct schema needs \"fields\""))?;
            for (index, f) in fields.iter().enumerate() {
                let name = f
                    .get("field")
                    .and_then(Json::as_str)
                    .ok_or_else(|| bad(format!("struct field #{index} has no \"field\" name")))?;
                schema.fields.push(Field { name: name.to_owned(), index, schema: schema_from_json(f)?.into_ref() });
            }
        }
        SchemaType::Array => {
            let items = obj.get("items").ok_or_else(|| bad("an array schema needs \"items\""))?;
            schema.key_schema = Some(schema_from_json(items)?.into_ref());
        }
        SchemaType::Map => {
            let keys = obj.get("keys").ok_or_else(|| bad("a map schema needs \"keys\""))?;
            let values = obj.get("values").ok_or_else(|| bad("a map schema needs \"values\""))?;
            schema.key_schema = Some(schema_from_json(keys)?.into_ref());
            schema.value_schema = Some(schema_from_json(values)?.into_ref());
        }
        _ => {}
    }

    if let Some(default) = obj.get("default").filter(|d| !d.is_null()) {
        // Kafka Connect writes defaults in the payload encoding; decimals are base64 there.
        let unfinished = schema.clone().into_ref();
        let value = payload::to_value(&unfinished, default, DecimalFormat::Base64)
            .or_else(|_| payload::to_value(&unfinished, default, DecimalFormat::Numeric))?;
        schema.default = Some(value);
    }
    Ok(schema)
}
