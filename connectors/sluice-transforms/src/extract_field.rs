//! `ExtractField$Key` / `ExtractField$Value`: replaces the key or value with one of its fields
//! (`field`, a nested path with `field.syntax.version=V2`). Nulls pass through; a field the
//! schema lacks is an error, a key a schemaless map lacks gives null.

use sluice_api::{ConnectError, ConnectorConfig, Result, SinkRecord, Transform, Value};

use crate::field_path::{FieldPath, FieldSyntaxVersion};
use crate::util::{self, require_map, require_struct, Side};

const FIELD: &str = "field";
const PURPOSE: &str = "field extraction";

pub struct ExtractField {
    side: Side,
    path: FieldPath,
    replace_null_with_default: bool,
}

impl ExtractField {
    pub fn new(config: &ConnectorConfig, side: Side) -> Result<Self> {
        let version = FieldSyntaxVersion::from_config(config)?;
        let path = FieldPath::parse(config.required(FIELD)?, version).map_err(|m| ConnectError::config(FIELD, m))?;
        Ok(ExtractField { side, path, replace_null_with_default: util::replace_null_with_default(config)? })
    }
}

impl Transform for ExtractField {
    fn apply(&self, mut record: SinkRecord) -> Result<Option<SinkRecord>> {
        let (schema, value) = self.side.take(&mut record);
        let (schema, value) = match schema {
            None if value.is_null() => (None, Value::Null),
            None => (None, self.path.value_from_map(&require_map(value, PURPOSE)?)?),
            Some(schema) => {
                let field = self
                    .path
                    .field_from(&schema)
                    .ok_or_else(|| ConnectError::data(format!("Unknown field: {}", self.path.as_str())))?;
                let extracted = match value {
                    Value::Null => Value::Null,
                    other => {
                        self.path.value_from_struct(&require_struct(other, PURPOSE)?, self.replace_null_with_default)?
                    }
                };
                (Some(field.schema.clone()), extracted)
            }
        };
        self.side.set(&mut record, schema, value);
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::*;
    use sluice_api::{Schema, SchemaType::*};

    fn key_xform(pairs: &[(&str, &str)]) -> ExtractField {
        ExtractField::new(&cfg(pairs), Side::Key).unwrap()
    }

    fn on_key(t: &ExtractField, schema: Option<sluice_api::SchemaRef>, key: Value) -> Result<SinkRecord> {
        t.apply(record(schema, key, None, Value::Null)).map(Option::unwrap)
    }

    #[test]
    fn schemaless_top_level_and_nested() {
        let r = on_key(&key_xform(&[("field", "magic")]), None, map(&[("magic", Value::Int64(42))])).unwrap();
        assert_eq!((r.key_schema, r.key), (None, Value::Int64(42)));

        let nested = map(&[("magic", map(&[("foo", Value::Int64(42))]))]);
        let v2 = key_xform(&[("field", "magic.foo"), ("field.syntax.version", "V2")]);
        assert_eq!(on_key(&v2, None, nested.clone()).unwrap().key, Value::Int64(42));
        // With V1 the dotted name is a single (absent) top-level field.
        assert_eq!(on_key(&key_xform(&[("field", "magic.foo")]), None, nested.clone()).unwrap().key, Value::Null);
        let missing = key_xform(&[("field", "magic.nonexistent"), ("field.syntax.version", "V2")]);
        assert_eq!(on_key(&missing, None, nested).unwrap().key, Value::Null);
        assert_eq!(on_key(&key_xform(&[("field", "magic")]), None, Value::Null).unwrap().key, Value::Null);
    }

    #[test]
    fn with_schema_top_level_and_nested() {
        let schema = struct_schema(&[("magic", prim(Int32))]);
        let r = on_key(&key_xform(&[("field", "magic")]), Some(schema.clone()), st(&schema, vec![Value::Int32(42)]))
            .unwrap();
        assert_eq!((r.key_schema, r.key), (Some(prim(Int32)), Value::Int32(42)));

        let foo = struct_schema(&[("foo", prim(Int32))]);
        let outer = struct_schema(&[("magic", foo.clone())]);
        let key = st(&outer, vec![st(&foo, vec![Value::Int32(42)])]);
        let v2 = key_xform(&[("field", "magic.foo"), ("field.syntax.version", "v2")]);
        let r = on_key(&v2, Some(outer.clone()), key.clone()).unwrap();
        assert_eq!((r.key_schema, r.key), (Some(prim(Int32)), Value::Int32(42)));

        let missing = key_xform(&[("field", "magic.nonexistent"), ("field.syntax.version", "V2")]);
        assert_eq!(on_key(&missing, Some(outer), key).unwrap_err().to_string(), "Unknown field: magic.nonexistent");
        let err =
            on_key(&key_xform(&[("field", "nonexistent")]), Some(schema.clone()), st(&schema, vec![Value::Int32(1)]));
        assert_eq!(err.unwrap_err().to_string(), "Unknown field: nonexistent");
    }

    #[test]
    fn null_with_schema_keeps_the_field_schema() {
        let schema = Schema::structure([("magic", prim(Int32))]).optional().into_ref();
        let r = on_key(&key_xform(&[("field", "magic")]), Some(schema), Value::Null).unwrap();
        assert_eq!((r.key_schema, r.key), (Some(prim(Int32)), Value::Null));
    }

    #[test]
    fn replace_null_with_default() {
        let schema = struct_schema(&[(
            "optional_with_default",
            Schema::new(Int32).optional().with_default(Value::Int32(42)).into_ref(),
        )]);
        for (flag, expected) in [("false", Value::Null), ("true", Value::Int32(42))] {
            let t = key_xform(&[("field", "optional_with_default"), ("replace.null.with.default", flag)]);
            assert_eq!(on_key(&t, Some(schema.clone()), st(&schema, vec![Value::Null])).unwrap().key, expected);
        }
    }

    #[test]
    fn config_errors() {
        let err = ExtractField::new(&cfg(&[]), Side::Value).err().unwrap();
        assert_eq!(err.config_key(), Some("field"));
        let err = ExtractField::new(&cfg(&[("field", "`a.b"), ("field.syntax.version", "V2")]), Side::Value).err();
        assert_eq!(err.unwrap().config_key(), Some("field"));
    }
}
