//! `Flatten$Key` / `Flatten$Value`: flattens nested structs (or schemaless maps) into one level,
//! naming fields `parent<delimiter>child` (`delimiter`, default `.`). Arrays are left alone; a
//! flattened field is optional when any ancestor is, and inherits an ancestor's default.

use sluice_api::coerce::connect_string;
use sluice_api::{
    ConnectError, ConnectorConfig, Result, Schema, SchemaRef, SchemaType, SinkRecord, Struct, Transform, Value,
};

use crate::util::{copy_basics, field_ref, push_field, require_map, require_struct, SchemaCache, Side};

const DELIMITER: &str = "delimiter";
const PURPOSE: &str = "flattening";

pub struct Flatten {
    side: Side,
    delimiter: String,
    schemas: SchemaCache,
}

impl Flatten {
    pub fn new(config: &ConnectorConfig, side: Side) -> Result<Self> {
        Ok(Flatten { side, delimiter: config.string_or(DELIMITER, ".").to_owned(), schemas: SchemaCache::new() })
    }

    fn name(&self, prefix: &str, field: &str) -> String {
        if prefix.is_empty() {
            field.to_owned()
        } else {
            format!("{prefix}{}{field}", self.delimiter)
        }
    }

    fn flatten_map(&self, entries: Vec<(Value, Value)>, prefix: &str, out: &mut Vec<(Value, Value)>) -> Result<()> {
        for (key, value) in entries {
            let key = match key {
                Value::String(s) => s,
                other => connect_string(&other).into(),
            };
            let name = self.name(prefix, &key);
            match value {
                Value::Map(inner) => self.flatten_map(inner, &name, out)?,
                Value::Struct(_) => {
                    return Err(ConnectError::data(format!(
                        "Flatten transformation does not support struct for record without schemas (for field {name})."
                    )))
                }
                other => out.push((Value::from(name), other)),
            }
        }
        Ok(())
    }

    /// Adds the flattened fields of `schema` to `out` (Kafka's `buildUpdatedSchema`).
    fn flatten_schema(
        &self,
        schema: &Schema,
        prefix: &str,
        out: &mut Schema,
        optional: bool,
        parent_default: Option<&Struct>,
    ) -> Result<()> {
        for field in &schema.fields {
            let name = self.name(prefix, &field.name);
            let field_optional = optional || field.schema.optional;
            let default = match (&field.schema.default, parent_default) {
                (Some(d), _) => Some(d.clone()),
                (None, Some(parent)) => Some(field_ref(parent, field, true).clone()).filter(|v| !v.is_null()),
                (None, None) => None,
            };
            match field.schema.schema_type {
                SchemaType::Struct => {
                    let default = match &default {
                        Some(Value::Struct(s)) => Some(s),
                        _ => None,
                    };
                    self.flatten_schema(&field.schema, &name, out, field_optional, default)?;
                }
                SchemaType::Map => return Err(unsupported_map(&name)),
                t => {
                    let mut flat = copy_basics(&field.schema, t);
                    flat.optional = field_optional;
                    flat.default = default;
                    push_field(out, &name, flat.into_ref())?;
                }
            }
        }
        Ok(())
    }

    fn updated_schema(&self, schema: &SchemaRef) -> Result<SchemaRef> {
        self.schemas.get_or_build(schema, || {
            let mut out = copy_basics(schema, SchemaType::Struct);
            let default = match &schema.default {
                Some(Value::Struct(s)) => Some(s),
                _ => None,
            };
            self.flatten_schema(schema, "", &mut out, schema.optional, default)?;
            Ok(out.into_ref())
        })
    }
}

fn unsupported_map(name: &str) -> ConnectError {
    ConnectError::data(format!(
        "Flatten transformation does not support MAP for record with schemas (for field {name})."
    ))
}

/// Leaf values of a struct in schema order (Kafka's `buildWithSchema`); a null nested struct
/// contributes nulls for all of its leaves.
fn flatten_values(schema: &Schema, value: Option<&Struct>, out: &mut Vec<Value>) -> Result<()> {
    for field in &schema.fields {
        let v = value.map(|s| field_ref(s, field, true));
        match field.schema.schema_type {
            SchemaType::Struct => match v {
                Some(Value::Struct(inner)) => flatten_values(&field.schema, Some(inner), out)?,
                _ => flatten_values(&field.schema, None, out)?,
            },
            SchemaType::Map => return Err(unsupported_map(&field.name)),
            _ => out.push(v.cloned().unwrap_or(Value::Null)),
        }
    }
    Ok(())
}

impl Transform for Flatten {
    fn apply(&self, mut record: SinkRecord) -> Result<Option<SinkRecord>> {
        if self.side.value(&record).is_null() {
            return Ok(Some(record));
        }
        let (schema, value) = self.side.take(&mut record);
        let (schema, value) = match schema {
            None => {
                let mut out = Vec::new();
                self.flatten_map(require_map(value, PURPOSE)?, "", &mut out)?;
                (None, Value::Map(out))
            }
            Some(schema) => {
                let value = require_struct(value, PURPOSE)?;
                let updated = self.updated_schema(&schema)?;
                let mut values = Vec::with_capacity(updated.fields.len());
                flatten_values(&value.schema, Some(&value), &mut values)?;
                (Some(updated.clone()), Value::Struct(Struct { schema: updated, values }))
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
    use sluice_api::SchemaType::*;

    fn flatten(pairs: &[(&str, &str)]) -> Flatten {
        Flatten::new(&cfg(pairs), Side::Value).unwrap()
    }

    fn apply(t: &Flatten, schema: Option<SchemaRef>, value: Value) -> Result<SinkRecord> {
        t.apply(value_record(schema, value)).map(Option::unwrap)
    }

    #[test]
    fn top_level_must_be_struct_or_map() {
        assert!(apply(&flatten(&[]), Some(prim(Int32)), Value::Int32(42)).is_err());
        assert!(apply(&flatten(&[]), None, Value::Int32(42)).is_err());
    }

    #[test]
    fn nested_struct() {
        let b = struct_schema(&[("int32", prim(Int32)), ("string", prim(String)), ("bytes", prim(Bytes))]);
        let a = struct_schema(&[("B", b.clone())]);
        let top = struct_schema(&[("A", a.clone()), ("n", prim(Int64))]);
        let bytes = Value::Bytes("bytes".as_bytes().to_vec().into());
        let value = st(
            &top,
            vec![st(&a, vec![st(&b, vec![Value::Int32(32), Value::from("stringy"), bytes.clone()])]), Value::Int64(1)],
        );
        let r = apply(&flatten(&[]), Some(top), value).unwrap();
        let s = as_struct(&r.value);
        let names: Vec<_> = s.schema.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["A.B.int32", "A.B.string", "A.B.bytes", "n"]);
        assert_eq!(s.values, vec![Value::Int32(32), Value::from("stringy"), bytes, Value::Int64(1)]);
        assert_eq!(r.value_schema.unwrap().fields[0].schema, prim(Int32));
    }

    #[test]
    fn nested_map_with_delimiter() {
        let value = map(&[("A", map(&[("B", map(&[("int8", Value::Int8(8)), ("string", Value::from("stringy"))]))]))]);
        let r = apply(&flatten(&[("delimiter", "#")]), None, value).unwrap();
        assert_eq!(r.value_schema, None);
        assert_eq!(r.value, map(&[("A#B#int8", Value::Int8(8)), ("A#B#string", Value::from("stringy"))]));
    }

    #[test]
    fn schemaless_nulls_and_arrays_are_kept() {
        let arr = Value::Array(vec![Value::from("bar"), map(&[("baz", map(&[("lfg", Value::from("lfg"))]))])]);
        let value = map(&[("foo", arr.clone()), ("B", map(&[("opt_int32", Value::Null)]))]);
        let r = apply(&flatten(&[]), None, value).unwrap();
        assert_eq!(r.value, map(&[("foo", arr), ("B.opt_int32", Value::Null)]));
    }

    #[test]
    fn array_with_schema_is_untouched() {
        let nested = struct_schema(&[("lfg", prim(String))]);
        let inner = struct_schema(&[("baz", nested.clone())]);
        let mut arr = Schema::array(inner.clone());
        arr.doc = Some("durk".into());
        let top = struct_schema(&[("foo", arr.into_ref())]);
        let value = st(&top, vec![Value::Array(vec![st(&inner, vec![st(&nested, vec![Value::from("lfg")])])])]);
        let r = apply(&flatten(&[]), Some(top.clone()), value.clone()).unwrap();
        assert_eq!(r.value_schema, Some(top));
        assert_eq!(r.value, value);
    }

    #[test]
    fn null_nested_struct_gives_null_leaves_and_tombstones_pass() {
        let b = Schema::structure([("opt_int32", opt(Int32))]).optional().into_ref();
        let top = struct_schema(&[("B", b)]);
        let r = apply(&flatten(&[]), Some(top.clone()), st(&top, vec![Value::Null])).unwrap();
        assert_eq!(get(&r.value, "B.opt_int32"), &Value::Null);
        let r = apply(&flatten(&[]), Some(top.clone()), Value::Null).unwrap();
        assert_eq!((r.value_schema, r.value), (Some(top), Value::Null));
    }

    #[test]
    fn optional_and_default_values_nested() {
        let mut schema = Schema::structure([
            ("req_field", prim(String)),
            ("opt_field", Schema::new(String).optional().with_default(Value::from("child_default")).into_ref()),
        ])
        .optional();
        let default = sluice_api::Struct {
            schema: schema.clone().into_ref(),
            values: vec![Value::from("req_default"), Value::Null],
        };
        schema.default = Some(Value::Struct(default));
        let schema = schema.into_ref();
        let r = apply(&flatten(&[]), Some(schema.clone()), st(&schema, vec![Value::Null, Value::Null])).unwrap();
        let out = r.value_schema.unwrap();
        assert_eq!(out.fields.len(), 2);
        assert_eq!(
            out.fields[0].schema,
            Schema::new(String).optional().with_default(Value::from("req_default")).into_ref()
        );
        assert_eq!(
            out.fields[1].schema,
            Schema::new(String).optional().with_default(Value::from("child_default")).into_ref()
        );
    }

    #[test]
    fn maps_with_schema_are_rejected() {
        let top = struct_schema(&[("m", Schema::map(prim(String), prim(String)).into_ref())]);
        let err = apply(&flatten(&[]), Some(top.clone()), st(&top, vec![Value::Map(vec![])])).unwrap_err();
        assert!(err.to_string().contains("does not support MAP"));
    }

    #[test]
    fn key_side() {
        let t = Flatten::new(&cfg(&[]), Side::Key).unwrap();
        let r =
            t.apply(record(None, map(&[("A", map(&[("B", Value::Int64(12))]))]), None, Value::Null)).unwrap().unwrap();
        assert_eq!(r.key, map(&[("A.B", Value::Int64(12))]));
    }
}
