//! `ReplaceField$Key` / `ReplaceField$Value`: keeps only `include` fields (all when empty),
//! drops `exclude` fields (which win over `include`), and renames with `renames`
//! (`old:new,…`). The pre-3.0 names `whitelist` / `blacklist` are still accepted.

use std::collections::{HashMap, HashSet};

use sluice_api::{ConnectError, ConnectorConfig, Result, SchemaRef, SchemaType, SinkRecord, Struct, Transform, Value};

use crate::util::{self, copy_basics, push_field, require_map, require_struct, struct_get, SchemaCache, Side};

const PURPOSE: &str = "field replacement";

pub struct ReplaceField {
    side: Side,
    exclude: HashSet<String>,
    include: HashSet<String>,
    renames: HashMap<String, String>,
    reverse_renames: HashMap<String, String>,
    replace_null_with_default: bool,
    schemas: SchemaCache,
}

/// `key`, or the deprecated `old_key` when `key` is unset.
fn list_with_fallback(config: &ConnectorConfig, key: &str, old_key: &str) -> HashSet<String> {
    let key = if config.get(key).is_none() && config.get(old_key).is_some() { old_key } else { key };
    config.list(key).into_iter().collect()
}

fn parse_renames(items: Vec<String>) -> Result<HashMap<String, String>> {
    items
        .into_iter()
        .map(|item| {
            let parts: Vec<&str> = item.trim_end_matches(':').split(':').collect();
            match parts.as_slice() {
                [old, new] => Ok((old.to_string(), new.to_string())),
                _ => Err(ConnectError::config("renames", format!("Invalid rename mapping: {item}; use old:new."))),
            }
        })
        .collect()
}

impl ReplaceField {
    pub fn new(config: &ConnectorConfig, side: Side) -> Result<Self> {
        let renames = parse_renames(config.list("renames"))?;
        let reverse_renames = renames.iter().map(|(k, v)| (v.clone(), k.clone())).collect();
        Ok(ReplaceField {
            side,
            exclude: list_with_fallback(config, "exclude", "blacklist"),
            include: list_with_fallback(config, "include", "whitelist"),
            renames,
            reverse_renames,
            replace_null_with_default: util::replace_null_with_default(config)?,
            schemas: SchemaCache::new(),
        })
    }

    fn keep(&self, name: &str) -> bool {
        !self.exclude.contains(name) && (self.include.is_empty() || self.include.contains(name))
    }

    fn renamed<'a>(&'a self, name: &'a str) -> &'a str {
        self.renames.get(name).map(String::as_str).unwrap_or(name)
    }

    fn reverse_renamed<'a>(&'a self, name: &'a str) -> &'a str {
        self.reverse_renames.get(name).map(String::as_str).unwrap_or(name)
    }

    fn updated_schema(&self, schema: &SchemaRef) -> Result<SchemaRef> {
        self.schemas.get_or_build(schema, || {
            let mut out = copy_basics(schema, SchemaType::Struct);
            for field in schema.fields.iter().filter(|f| self.keep(&f.name)) {
                push_field(&mut out, self.renamed(&field.name), field.schema.clone())?;
            }
            Ok(out.into_ref())
        })
    }
}

impl Transform for ReplaceField {
    fn apply(&self, mut record: SinkRecord) -> Result<Option<SinkRecord>> {
        if self.side.value(&record).is_null() {
            return Ok(Some(record));
        }
        let (schema, value) = self.side.take(&mut record);
        let (schema, value) = match schema {
            None => {
                let entries = require_map(value, PURPOSE)?
                    .into_iter()
                    .filter_map(|(k, v)| {
                        let name = k.as_str()?;
                        self.keep(name).then(|| (Value::String(self.renamed(name).into()), v))
                    })
                    .collect();
                (None, Value::Map(entries))
            }
            Some(_) => {
                let value = require_struct(value, PURPOSE)?;
                let updated = self.updated_schema(&value.schema)?;
                let values = updated
                    .fields
                    .iter()
                    .map(|f| {
                        struct_get(&value, self.reverse_renamed(&f.name), self.replace_null_with_default)
                            .unwrap_or(Value::Null)
                    })
                    .collect();
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
    use sluice_api::{Schema, SchemaType::*};

    fn replace(pairs: &[(&str, &str)]) -> ReplaceField {
        ReplaceField::new(&cfg(pairs), Side::Value).unwrap()
    }

    fn sample_map() -> Value {
        map(&[
            ("dont", Value::from("whatever")),
            ("abc", Value::Int64(42)),
            ("foo", Value::Boolean(true)),
            ("etc", Value::from("etc")),
        ])
    }

    #[test]
    fn schemaless_exclude_and_rename() {
        let t = replace(&[("exclude", "dont"), ("renames", "abc:xyz,foo:bar")]);
        let r = t.apply(value_record(None, sample_map())).unwrap().unwrap();
        assert_eq!(
            r.value,
            map(&[("xyz", Value::Int64(42)), ("bar", Value::Boolean(true)), ("etc", Value::from("etc"))])
        );
    }

    #[test]
    fn schemaless_include_and_old_names() {
        let r =
            replace(&[("include", "abc,foo"), ("renames", "abc:xyz,foo:bar")]).apply(value_record(None, sample_map()));
        assert_eq!(r.unwrap().unwrap().value, map(&[("xyz", Value::Int64(42)), ("bar", Value::Boolean(true))]));
        let r = replace(&[("whitelist", "abc"), ("blacklist", "foo")]).apply(value_record(None, sample_map()));
        assert_eq!(r.unwrap().unwrap().value, map(&[("abc", Value::Int64(42))]));
        let r = replace(&[("include", "abc,etc"), ("exclude", "etc")]).apply(value_record(None, sample_map()));
        assert_eq!(r.unwrap().unwrap().value, map(&[("abc", Value::Int64(42))]));
    }

    #[test]
    fn with_schema() {
        let mut schema = Schema::structure([
            ("dont", prim(String)),
            ("abc", prim(Int32)),
            ("foo", prim(Boolean)),
            ("etc", prim(String)),
        ]);
        schema.name = Some("record".into());
        let schema = schema.into_ref();
        let value =
            st(&schema, vec![Value::from("whatever"), Value::Int32(42), Value::Boolean(true), Value::from("etc")]);
        let t = replace(&[("exclude", "dont"), ("renames", "abc:xyz,foo:bar")]);
        let r = t.apply(value_record(Some(schema), value)).unwrap().unwrap();
        let out = r.value_schema.unwrap();
        assert_eq!(out.name.as_deref(), Some("record"));
        let names: Vec<_> = out.fields.iter().map(|f| (f.name.as_str(), f.schema.schema_type)).collect();
        assert_eq!(names, vec![("xyz", Int32), ("bar", Boolean), ("etc", String)]);
        assert_eq!(as_struct(&r.value).values, vec![Value::Int32(42), Value::Boolean(true), Value::from("etc")]);
    }

    #[test]
    fn tombstones_pass_and_bad_renames_fail() {
        let schema = struct_schema(&[("a", prim(Int32))]);
        let r = replace(&[("exclude", "a")]).apply(value_record(Some(schema.clone()), Value::Null)).unwrap().unwrap();
        assert_eq!((r.value_schema, r.value), (Some(schema), Value::Null));
        for bad in ["a", "a:b:c", "a:"] {
            let err = ReplaceField::new(&cfg(&[("renames", bad)]), Side::Value).err().unwrap();
            assert_eq!(err.config_key(), Some("renames"), "{bad}");
        }
    }

    #[test]
    fn replace_null_with_default() {
        let schema = struct_schema(&[("n", Schema::new(Int32).optional().with_default(Value::Int32(9)).into_ref())]);
        for (flag, expected) in [("false", Value::Null), ("true", Value::Int32(9))] {
            let t = replace(&[("renames", "n:m"), ("replace.null.with.default", flag)]);
            let r = t.apply(value_record(Some(schema.clone()), st(&schema, vec![Value::Null]))).unwrap().unwrap();
            assert_eq!(get(&r.value, "m"), &expected);
        }
    }
}
