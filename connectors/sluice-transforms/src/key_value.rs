//! Moving data between key and value: Kafka's `ValueToKey` (`fields`) builds the key from
//! value fields; Sluice's `KeyToValue` (`field`, default `_key`) copies the key into a value
//! field, so sinks that only see values (ClickHouse tables) can store it.

use sluice_api::schema::logical;
use sluice_api::{
    ConnectError, ConnectorConfig, Result, Schema, SchemaRef, SchemaType, SinkRecord, Struct, Transform, Value,
};

use crate::util::{
    self, field_values, map_get, map_put, non_empty_list, push_field, require_map, require_struct, struct_get,
    SchemaCache, Side,
};

const PURPOSE: &str = "copying fields from value to key";

/// `ValueToKey`: replaces the key with a struct (or map) of the value's `fields`. A tombstone
/// keeps its key (Kafka's fails on it), so deletes still reach the sink.
pub struct ValueToKey {
    fields: Vec<String>,
    replace_null_with_default: bool,
    schemas: SchemaCache,
}

impl ValueToKey {
    pub fn new(config: &ConnectorConfig) -> Result<Self> {
        Ok(ValueToKey {
            fields: non_empty_list(config, "fields")?,
            replace_null_with_default: util::replace_null_with_default(config)?,
            schemas: SchemaCache::new(),
        })
    }

    fn key_schema(&self, value_schema: &SchemaRef) -> Result<SchemaRef> {
        self.schemas.get_or_build(value_schema, || {
            let mut key = Schema::new(SchemaType::Struct);
            for name in &self.fields {
                let field = value_schema
                    .field(name)
                    .ok_or_else(|| ConnectError::data(format!("Field does not exist: {name}")))?;
                push_field(&mut key, name, field.schema.clone())?;
            }
            Ok(key.into_ref())
        })
    }
}

impl Transform for ValueToKey {
    fn apply(&self, mut record: SinkRecord) -> Result<Option<SinkRecord>> {
        if record.value.is_null() {
            return Ok(Some(record));
        }
        let (schema, value) = Side::Value.take(&mut record);
        let (key_schema, key, value) = match &schema {
            None => {
                let entries = require_map(value, PURPOSE)?;
                let key = self
                    .fields
                    .iter()
                    .map(|f| (Value::String(f.as_str().into()), map_get(&entries, f).cloned().unwrap_or(Value::Null)))
                    .collect();
                (None, Value::Map(key), Value::Map(entries))
            }
            Some(schema) => {
                let value = require_struct(value, PURPOSE)?;
                let key_schema = self.key_schema(schema)?;
                let values = self
                    .fields
                    .iter()
                    .map(|f| struct_get(&value, f, self.replace_null_with_default).unwrap_or(Value::Null))
                    .collect();
                (Some(key_schema.clone()), Value::Struct(Struct { schema: key_schema, values }), Value::Struct(value))
            }
        };
        Side::Value.set(&mut record, schema, value);
        Side::Key.set(&mut record, key_schema, key);
        Ok(Some(record))
    }
}

/// `KeyToValue`: copies the key into the value field `field`. A struct value gets an extra
/// optional field typed by the key schema (inferred for schemaless primitive keys); a map value
/// gets an entry. Tombstones pass through.
pub struct KeyToValue {
    field: String,
    schemas: SchemaCache<(SchemaRef, SchemaRef)>,
}

impl KeyToValue {
    pub fn new(config: &ConnectorConfig) -> Result<Self> {
        let field = config.string_or("field", "_key").trim();
        if field.is_empty() {
            return Err(ConnectError::config("field", "The value field for the key must have a name."));
        }
        Ok(KeyToValue { field: field.to_owned(), schemas: SchemaCache::new() })
    }

    fn value_schema(&self, value_schema: &SchemaRef, key_schema: &SchemaRef) -> Result<SchemaRef> {
        self.schemas.get_or_build(&(value_schema.clone(), key_schema.clone()), || {
            let mut out = (**value_schema).clone();
            let mut key = (**key_schema).clone();
            key.optional = true;
            push_field(&mut out, &self.field, key.into_ref()).map_err(|_| {
                ConnectError::data(format!(
                    "KeyToValue cannot add field {0}: the value already has a field named {0}; set `field` to another name.",
                    self.field
                ))
            })?;
            if let Some(Value::Struct(d)) = &mut out.default {
                d.values.push(Value::Null);
            }
            Ok(out.into_ref())
        })
    }
}

/// A schema for a key that came without one; only primitives and structs can be described.
fn inferred_key_schema(key: &Value) -> Result<SchemaRef> {
    let t = match key {
        Value::Struct(s) => return Ok(s.schema.clone()),
        Value::Null | Value::String(_) => SchemaType::String,
        Value::Boolean(_) => SchemaType::Boolean,
        Value::Int8(_) => SchemaType::Int8,
        Value::Int16(_) => SchemaType::Int16,
        Value::Int32(_) => SchemaType::Int32,
        Value::Int64(_) => SchemaType::Int64,
        Value::Float32(_) => SchemaType::Float32,
        Value::Float64(_) => SchemaType::Float64,
        Value::Bytes(_) => SchemaType::Bytes,
        Value::Decimal { scale, .. } => return Ok(Schema::decimal(*scale).into_ref()),
        Value::Date(_) => return Ok(Schema::new(SchemaType::Int32).named(logical::DATE).into_ref()),
        Value::Time(_) => return Ok(Schema::new(SchemaType::Int32).named(logical::TIME).into_ref()),
        Value::Timestamp(_) => return Ok(Schema::new(SchemaType::Int64).named(logical::TIMESTAMP).into_ref()),
        Value::Array(_) | Value::Map(_) => {
            return Err(ConnectError::data(format!(
                "KeyToValue cannot add a schemaless {} key to a value with a schema; use a key converter that produces a schema.",
                key.type_name()
            )))
        }
    };
    Ok(Schema::new(t).into_ref())
}

impl Transform for KeyToValue {
    fn apply(&self, mut record: SinkRecord) -> Result<Option<SinkRecord>> {
        if record.value.is_null() {
            return Ok(Some(record));
        }
        let (schema, value) = Side::Value.take(&mut record);
        let (schema, value) = match schema {
            None => {
                let mut entries = require_map(value, "copying the key into the value")?;
                map_put(&mut entries, &self.field, record.key.clone());
                (None, Value::Map(entries))
            }
            Some(_) => {
                let value = require_struct(value, "copying the key into the value")?;
                let key_schema = match &record.key_schema {
                    Some(s) => s.clone(),
                    None => inferred_key_schema(&record.key)?,
                };
                let updated = self.value_schema(&value.schema, &key_schema)?;
                let mut values = field_values(&value, false);
                values.push(record.key.clone());
                (Some(updated.clone()), Value::Struct(Struct { schema: updated, values }))
            }
        };
        Side::Value.set(&mut record, schema, value);
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::*;
    use sluice_api::SchemaType::{Int32, Int64, String as Str};

    #[test]
    fn value_to_key_schemaless() {
        let t = ValueToKey::new(&cfg(&[("fields", "a,b,missing")])).unwrap();
        let value = map(&[("a", Value::Int64(1)), ("b", Value::Int64(2)), ("c", Value::Int64(3))]);
        let r = t.apply(value_record(None, value.clone())).unwrap().unwrap();
        assert_eq!(r.key_schema, None);
        assert_eq!(r.key, map(&[("a", Value::Int64(1)), ("b", Value::Int64(2)), ("missing", Value::Null)]));
        assert_eq!(r.value, value);
    }

    #[test]
    fn value_to_key_with_schema() {
        let t = ValueToKey::new(&cfg(&[("fields", "a,b")])).unwrap();
        let schema = struct_schema(&[("a", prim(Int32)), ("b", prim(Int32)), ("c", prim(Int32))]);
        let value = st(&schema, vec![Value::Int32(1), Value::Int32(2), Value::Int32(3)]);
        let r = t.apply(value_record(Some(schema.clone()), value.clone())).unwrap().unwrap();
        let key_schema = struct_schema(&[("a", prim(Int32)), ("b", prim(Int32))]);
        assert_eq!(r.key_schema, Some(key_schema.clone()));
        assert_eq!(r.key, st(&key_schema, vec![Value::Int32(1), Value::Int32(2)]));
        assert_eq!((r.value_schema, r.value), (Some(schema), value));
    }

    #[test]
    fn value_to_key_failures() {
        let t = ValueToKey::new(&cfg(&[("fields", "not_exist")])).unwrap();
        let schema = struct_schema(&[("a", prim(Int32))]);
        let err = t.apply(value_record(Some(schema.clone()), st(&schema, vec![Value::Int32(1)]))).unwrap_err();
        assert_eq!(err.to_string(), "Field does not exist: not_exist");
        let err = t.apply(value_record(None, Value::from("x"))).unwrap_err();
        assert!(err.to_string().starts_with("Only Map objects supported in absence of schema"));
        let tombstone = t.apply(record(None, Value::from("k"), None, Value::Null)).unwrap().unwrap();
        assert_eq!((tombstone.key, tombstone.value), (Value::from("k"), Value::Null));
        assert_eq!(ValueToKey::new(&cfg(&[])).err().unwrap().config_key(), Some("fields"));
    }

    #[test]
    fn value_to_key_replace_null_with_default() {
        let schema = struct_schema(&[("a", Schema::new(Int32).optional().with_default(Value::Int32(5)).into_ref())]);
        for (flag, expected) in [("false", Value::Null), ("true", Value::Int32(5))] {
            let t = ValueToKey::new(&cfg(&[("fields", "a"), ("replace.null.with.default", flag)])).unwrap();
            let r = t.apply(value_record(Some(schema.clone()), st(&schema, vec![Value::Null]))).unwrap().unwrap();
            assert_eq!(get(&r.key, "a"), &expected);
        }
    }

    #[test]
    fn key_to_value_struct_with_key_schema() {
        let t = KeyToValue::new(&cfg(&[])).unwrap();
        let schema = struct_schema(&[("n", prim(Int64))]);
        let key_schema = struct_schema(&[("id", prim(Str))]);
        let key = st(&key_schema, vec![Value::from("k1")]);
        let r = t
            .apply(record(
                Some(key_schema.clone()),
                key.clone(),
                Some(schema.clone()),
                st(&schema, vec![Value::Int64(7)]),
            ))
            .unwrap()
            .unwrap();
        let out = r.value_schema.clone().unwrap();
        assert_eq!(out.fields[1].name, "_key");
        assert!(out.fields[1].schema.optional);
        assert_eq!(out.fields[1].schema.fields, key_schema.fields);
        assert_eq!(as_struct(&r.value).values, vec![Value::Int64(7), key.clone()]);
        assert_eq!(r.key, key);
        let again = t
            .apply(record(Some(key_schema), Value::Null, Some(schema.clone()), st(&schema, vec![Value::Int64(8)])))
            .unwrap()
            .unwrap();
        assert!(std::sync::Arc::ptr_eq(&out, again.value_schema.as_ref().unwrap()));
        assert_eq!(get(&again.value, "_key"), &Value::Null);
    }

    #[test]
    fn key_to_value_infers_primitive_key_schema() {
        let t = KeyToValue::new(&cfg(&[("field", "kafka_key")])).unwrap();
        let schema = struct_schema(&[("n", prim(Int64))]);
        let r = t.apply(record(None, Value::from("abc"), Some(schema.clone()), st(&schema, vec![Value::Int64(1)])));
        let r = r.unwrap().unwrap();
        assert_eq!(r.value_schema.unwrap().field("kafka_key").unwrap().schema, opt(Str));
        assert_eq!(get(&r.value, "kafka_key"), &Value::from("abc"));
        let err =
            t.apply(record(None, map(&[]), Some(schema.clone()), st(&schema, vec![Value::Int64(1)]))).unwrap_err();
        assert!(matches!(err, ConnectError::Data { .. }));
    }

    #[test]
    fn key_to_value_maps_tombstones_and_conflicts() {
        let t = KeyToValue::new(&cfg(&[])).unwrap();
        let r = t.apply(record(None, Value::Int64(5), None, map(&[("n", Value::Int64(1))]))).unwrap().unwrap();
        assert_eq!(r.value, map(&[("n", Value::Int64(1)), ("_key", Value::Int64(5))]));
        let r = t.apply(record(None, Value::Int64(5), None, Value::Null)).unwrap().unwrap();
        assert_eq!(r.value, Value::Null);
        let schema = struct_schema(&[("_key", prim(Int64))]);
        let err = t
            .apply(record(None, Value::Int64(5), Some(schema.clone()), st(&schema, vec![Value::Int64(1)])))
            .unwrap_err();
        assert!(err.to_string().contains("already has a field named _key"));
        assert!(t.apply(record(None, Value::Int64(5), None, Value::from("not a map"))).is_err());
    }
}
