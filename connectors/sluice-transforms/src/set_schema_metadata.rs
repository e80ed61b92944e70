//! `SetSchemaMetadata$Key` / `SetSchemaMetadata$Value`: sets the key or value schema's name
//! (`schema.name`) and/or version (`schema.version`); a struct value is re-pointed at the
//! renamed schema. Schemaless data with a non-null value is an error.

use sluice_api::{ConnectError, ConnectorConfig, Result, SchemaRef, SinkRecord, Struct, Transform, Value};

use crate::util::{self, field_values, require_schema, SchemaCache, Side};

pub struct SetSchemaMetadata {
    side: Side,
    name: Option<String>,
    version: Option<i32>,
    replace_null_with_default: bool,
    schemas: SchemaCache,
}

impl SetSchemaMetadata {
    pub fn new(config: &ConnectorConfig, side: Side) -> Result<Self> {
        let name = config.get("schema.name").filter(|n| !n.trim().is_empty()).map(str::to_owned);
        let version = match config.get("schema.version").map(str::trim).filter(|v| !v.is_empty()) {
            Some(_) => Some(config.int_or("schema.version", 0, i32::MIN as i64, i32::MAX as i64)? as i32),
            None => None,
        };
        if name.is_none() && version.is_none() {
            return Err(ConnectError::config(
                "schema.name",
                "Neither schema name nor version configured; set schema.name or schema.version.",
            ));
        }
        Ok(SetSchemaMetadata {
            side,
            name,
            version,
            replace_null_with_default: util::replace_null_with_default(config)?,
            schemas: SchemaCache::new(),
        })
    }

    fn updated_schema(&self, schema: &SchemaRef) -> Result<SchemaRef> {
        self.schemas.get_or_build(schema, || {
            let mut updated = (**schema).clone();
            if let Some(name) = &self.name {
                updated.name = Some(name.clone());
            }
            if let Some(version) = self.version {
                updated.version = Some(version);
            }
            Ok(updated.into_ref())
        })
    }
}

impl Transform for SetSchemaMetadata {
    fn apply(&self, mut record: SinkRecord) -> Result<Option<SinkRecord>> {
        if self.side.schema(&record).is_none() && self.side.value(&record).is_null() {
            return Ok(Some(record));
        }
        let schema = require_schema(self.side.schema(&record), "updating schema metadata")?.clone();
        let updated = self.updated_schema(&schema)?;
        let (_, value) = self.side.take(&mut record);
        let value = match value {
            Value::Struct(s) => {
                let values = field_values(&s, self.replace_null_with_default);
                Value::Struct(Struct { schema: updated.clone(), values })
            }
            other => other,
        };
        self.side.set(&mut record, Some(updated), value);
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::*;
    use sluice_api::{Schema, SchemaType::*};

    fn set(pairs: &[(&str, &str)], side: Side) -> SetSchemaMetadata {
        SetSchemaMetadata::new(&cfg(pairs), side).unwrap()
    }

    #[test]
    fn schema_name_and_version_update() {
        let t = set(&[("schema.name", "foo"), ("schema.version", "42")], Side::Value);
        let r = t
            .apply(value_record(Some(Schema::new(sluice_api::SchemaType::Struct).into_ref()), Value::Null))
            .unwrap()
            .unwrap();
        let s = r.value_schema.unwrap();
        assert_eq!((s.name.as_deref(), s.version), (Some("foo"), Some(42)));
        let k = set(&[("schema.name", "foo")], Side::Key);
        let r = k.apply(record(Some(prim(String)), Value::from("k"), None, Value::Null)).unwrap().unwrap();
        assert_eq!(r.key_schema.unwrap().name.as_deref(), Some("foo"));
        assert_eq!(r.key, Value::from("k"));
    }

    #[test]
    fn struct_values_point_at_the_new_schema() {
        let schema = struct_schema(&[
            ("stringField", prim(String)),
            ("intField", Schema::new(Int32).optional().with_default(Value::Int32(9)).into_ref()),
        ]);
        let value = st(&schema, vec![Value::from("value"), Value::Null]);
        let t = set(&[("schema.name", "foo"), ("schema.version", "42")], Side::Value);
        let r = t.apply(value_record(Some(schema.clone()), value)).unwrap().unwrap();
        let s = as_struct(&r.value);
        assert_eq!(Some(&s.schema), r.value_schema.as_ref());
        assert_eq!(s.schema.name.as_deref(), Some("foo"));
        assert_eq!(s.schema.fields, schema.fields);
        assert_eq!(s.values, vec![Value::from("value"), Value::Int32(9)]);
        let keep = set(&[("schema.name", "foo"), ("replace.null.with.default", "false")], Side::Value);
        let r =
            keep.apply(value_record(Some(schema.clone()), st(&schema, vec![Value::from("v"), Value::Null]))).unwrap();
        assert_eq!(get(&r.unwrap().value, "intField"), &Value::Null);
    }

    #[test]
    fn schemaless_values_fail_and_schemaless_tombstones_pass() {
        let t = set(&[("schema.version", "1")], Side::Value);
        let err = t.apply(value_record(None, Value::from("x"))).unwrap_err();
        assert_eq!(err.to_string(), "Schema required for [updating schema metadata]");
        assert_eq!(t.apply(value_record(None, Value::Null)).unwrap().unwrap().value_schema, None);
    }

    #[test]
    fn config_errors() {
        assert_eq!(SetSchemaMetadata::new(&cfg(&[]), Side::Value).err().unwrap().config_key(), Some("schema.name"));
        let e = SetSchemaMetadata::new(&cfg(&[("schema.version", "x")]), Side::Value).err().unwrap();
        assert_eq!(e.config_key(), Some("schema.version"));
    }
}
