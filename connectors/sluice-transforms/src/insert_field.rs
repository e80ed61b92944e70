//! `InsertField$Key` / `InsertField$Value`: adds the record's topic, partition, offset or
//! timestamp, or a static string, as fields (`topic.field`, `partition.field`, `offset.field`,
//! `timestamp.field`, `static.field` + `static.value`). A name ending in `!` makes the new field
//! required in the schema, `?` (or nothing) optional. Null keys/values pass through.

use sluice_api::{
    ConnectError, ConnectorConfig, Result, Schema, SchemaRef, SchemaType, SinkRecord, Struct, Transform, Value,
};

use crate::util::{
    self, copy_basics, field_values, map_put, primitive, push_field, require_map, require_struct, SchemaCache, Side,
};

const PURPOSE: &str = "field insertion";

/// A field to insert: its name and whether the schema marks it optional.
#[derive(Debug, Clone, PartialEq, Eq)]
struct InsertionSpec {
    name: String,
    optional: bool,
}

impl InsertionSpec {
    fn read(config: &ConnectorConfig, key: &str) -> Option<Self> {
        let spec = config.get(key).filter(|s| !s.is_empty())?;
        Some(match (spec.strip_suffix('?'), spec.strip_suffix('!')) {
            (Some(name), _) => InsertionSpec { name: name.to_owned(), optional: true },
            (_, Some(name)) => InsertionSpec { name: name.to_owned(), optional: false },
            _ => InsertionSpec { name: spec.to_owned(), optional: true },
        })
    }
}

/// Which record attribute a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Topic,
    Partition,
    Offset,
    Timestamp,
    Static,
}

pub struct InsertField {
    side: Side,
    fields: Vec<(Source, InsertionSpec)>,
    static_value: String,
    replace_null_with_default: bool,
    schemas: SchemaCache,
}

impl InsertField {
    pub fn new(config: &ConnectorConfig, side: Side) -> Result<Self> {
        let keys = [
            ("topic.field", Source::Topic),
            ("partition.field", Source::Partition),
            ("offset.field", Source::Offset),
            ("timestamp.field", Source::Timestamp),
            ("static.field", Source::Static),
        ];
        let fields: Vec<_> =
            keys.iter().filter_map(|(key, source)| InsertionSpec::read(config, key).map(|s| (*source, s))).collect();
        if fields.is_empty() {
            return Err(ConnectError::config(
                "topic.field",
                "No field insertion configured; set at least one of topic.field, partition.field, offset.field, timestamp.field or static.field.",
            ));
        }
        let static_value = match (fields.iter().any(|(s, _)| *s == Source::Static), config.get("static.value")) {
            (true, None) => {
                return Err(ConnectError::config(
                    "static.value",
                    "No value specified for static field; set static.value.",
                ))
            }
            (_, v) => v.unwrap_or_default().to_owned(),
        };
        Ok(InsertField {
            side,
            fields,
            static_value,
            replace_null_with_default: util::replace_null_with_default(config)?,
            schemas: SchemaCache::new(),
        })
    }

    /// The value a field gets for `record`; `Null` only for a missing timestamp.
    fn value_for(&self, source: Source, record: &SinkRecord, with_schema: bool) -> Value {
        match source {
            Source::Topic => Value::String(record.topic.as_ref().into()),
            Source::Partition => Value::Int32(record.partition),
            Source::Offset => Value::Int64(record.offset),
            Source::Timestamp => match record.timestamp {
                Some(ts) if with_schema => Value::Timestamp(ts),
                Some(ts) => Value::Int64(ts),
                None => Value::Null,
            },
            Source::Static => Value::String(self.static_value.as_str().into()),
        }
    }

    fn updated_schema(&self, schema: &SchemaRef) -> Result<SchemaRef> {
        self.schemas.get_or_build(schema, || {
            let mut out = copy_basics(schema, SchemaType::Struct);
            for field in &schema.fields {
                push_field(&mut out, &field.name, field.schema.clone())?;
            }
            for (source, spec) in &self.fields {
                let field_schema = match source {
                    Source::Topic | Source::Static => primitive(SchemaType::String, spec.optional),
                    Source::Partition => primitive(SchemaType::Int32, spec.optional),
                    Source::Offset => primitive(SchemaType::Int64, spec.optional),
                    Source::Timestamp => {
                        let ts = Schema::timestamp();
                        if spec.optional { ts.optional() } else { ts }.into_ref()
                    }
                };
                push_field(&mut out, &spec.name, field_schema)?;
            }
            Ok(out.into_ref())
        })
    }
}

impl Transform for InsertField {
    fn apply(&self, mut record: SinkRecord) -> Result<Option<SinkRecord>> {
        if self.side.value(&record).is_null() {
            return Ok(Some(record));
        }
        let (schema, value) = self.side.take(&mut record);
        let (schema, value) = match schema {
            None => {
                let mut entries = require_map(value, PURPOSE)?;
                for (source, spec) in &self.fields {
                    let v = self.value_for(*source, &record, false);
                    if !v.is_null() {
                        map_put(&mut entries, &spec.name, v);
                    }
                }
                (None, Value::Map(entries))
            }
            Some(_) => {
                let value = require_struct(value, PURPOSE)?;
                let updated = self.updated_schema(&value.schema)?;
                let mut values = field_values(&value, self.replace_null_with_default);
                for (source, spec) in &self.fields {
                    let v = self.value_for(*source, &record, true);
                    if v.is_null() && !spec.optional {
                        return Err(ConnectError::data(format!(
                            "InsertField cannot fill required field {} on record {}@{}: the record has no timestamp. Mark the field optional with a trailing '?'.",
                            spec.name,
                            record.topic_partition(),
                            record.offset
                        )));
                    }
                    values.push(v);
                }
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

    const ALL: &[(&str, &str)] = &[
        ("topic.field", "topic_field!"),
        ("partition.field", "partition_field"),
        ("timestamp.field", "timestamp_field?"),
        ("static.field", "instance_id"),
        ("static.value", "my-instance-id"),
    ];

    fn with_ts(mut r: SinkRecord, ts: i64) -> SinkRecord {
        r.timestamp = Some(ts);
        r
    }

    #[test]
    fn config_errors() {
        assert_eq!(InsertField::new(&cfg(&[]), Side::Value).err().unwrap().config_key(), Some("topic.field"));
        let e = InsertField::new(&cfg(&[("static.field", "s")]), Side::Value).err().unwrap();
        assert_eq!(e.config_key(), Some("static.value"));
    }

    #[test]
    fn top_level_struct_or_map_required() {
        let t = InsertField::new(&cfg(ALL), Side::Value).unwrap();
        assert!(t.apply(value_record(Some(prim(Int32)), Value::Int32(42))).is_err());
        assert!(t.apply(value_record(None, Value::Int32(42))).is_err());
    }

    #[test]
    fn copies_schema_and_inserts_fields() {
        let t = InsertField::new(&cfg(ALL), Side::Value).unwrap();
        let mut schema = Schema::structure([("magic", opt(Int64))]);
        schema.name = Some("name".into());
        schema.version = Some(1);
        schema.doc = Some("doc".into());
        let schema = schema.into_ref();
        let r = t
            .apply(with_ts(value_record(Some(schema.clone()), st(&schema, vec![Value::Int64(42)])), 789))
            .unwrap()
            .unwrap();
        let out = r.value_schema.clone().unwrap();
        assert_eq!((out.name.as_deref(), out.version, out.doc.as_deref()), (Some("name"), Some(1), Some("doc")));
        let field = |n: &str| out.field(n).unwrap().schema.clone();
        assert_eq!(field("magic"), opt(Int64));
        assert_eq!(field("topic_field"), prim(String));
        assert_eq!(field("partition_field"), opt(Int32));
        assert_eq!(field("timestamp_field"), Schema::timestamp().optional().into_ref());
        assert_eq!(field("instance_id"), opt(String));
        assert_eq!(
            as_struct(&r.value).values,
            vec![
                Value::Int64(42),
                Value::from("test"),
                Value::Int32(0),
                Value::Timestamp(789),
                Value::from("my-instance-id")
            ]
        );
    }

    #[test]
    fn schemaless_inserts_entries() {
        let t = InsertField::new(&cfg(&[ALL, &[("offset.field", "offset")]].concat()), Side::Value).unwrap();
        let r = t.apply(with_ts(value_record(None, map(&[("magic", Value::Int64(42))])), 123)).unwrap().unwrap();
        assert_eq!(
            r.value,
            map(&[
                ("magic", Value::Int64(42)),
                ("topic_field", Value::from("test")),
                ("partition_field", Value::Int32(0)),
                ("offset", Value::Int64(0)),
                ("timestamp_field", Value::Int64(123)),
                ("instance_id", Value::from("my-instance-id")),
            ])
        );
    }

    #[test]
    fn tombstones_and_null_keys_pass_through() {
        let t = InsertField::new(&cfg(ALL), Side::Value).unwrap();
        let schema = struct_schema(&[("magic", opt(Int64))]);
        let r = t.apply(value_record(Some(schema.clone()), Value::Null)).unwrap().unwrap();
        assert_eq!((r.value_schema, r.value), (Some(schema), Value::Null));
        let k = InsertField::new(&cfg(ALL), Side::Key).unwrap();
        let r = k.apply(record(None, Value::Null, None, Value::Null)).unwrap().unwrap();
        assert_eq!(r.key, Value::Null);
        let r = k.apply(record(None, map(&[("magic", Value::Int64(42))]), None, Value::Null)).unwrap().unwrap();
        assert_eq!(
            r.key,
            map(&[
                ("magic", Value::Int64(42)),
                ("topic_field", "test".into()),
                ("partition_field", Value::Int32(0)),
                ("instance_id", "my-instance-id".into())
            ])
        );
    }

    #[test]
    fn required_timestamp_missing_is_a_data_error() {
        let t = InsertField::new(&cfg(&[("timestamp.field", "ts!")]), Side::Value).unwrap();
        let schema = struct_schema(&[("magic", opt(Int64))]);
        let err = t.apply(value_record(Some(schema.clone()), st(&schema, vec![Value::Int64(1)]))).unwrap_err();
        assert!(matches!(err, ConnectError::Data { .. }), "{err}");
        assert!(err.to_string().contains("required field ts"));
        let optional = InsertField::new(&cfg(&[("timestamp.field", "ts")]), Side::Value).unwrap();
        let r =
            optional.apply(value_record(Some(schema.clone()), st(&schema, vec![Value::Int64(1)]))).unwrap().unwrap();
        assert_eq!(get(&r.value, "ts"), &Value::Null);
    }

    #[test]
    fn duplicate_field_name_is_a_data_error() {
        let t = InsertField::new(&cfg(&[("topic.field", "magic")]), Side::Value).unwrap();
        let schema = struct_schema(&[("magic", opt(Int64))]);
        assert!(t.apply(value_record(Some(schema.clone()), st(&schema, vec![Value::Int64(1)]))).is_err());
    }

    #[test]
    fn replace_null_with_default() {
        let schema = struct_schema(&[(
            "magic_with_default",
            Schema::new(Int64).optional().with_default(Value::Int64(123)).into_ref(),
        )]);
        for (flag, expected) in [("false", Value::Null), ("true", Value::Int64(123))] {
            let t = InsertField::new(&cfg(&[("topic.field", "t"), ("replace.null.with.default", flag)]), Side::Value)
                .unwrap();
            let r = t.apply(value_record(Some(schema.clone()), st(&schema, vec![Value::Null]))).unwrap().unwrap();
            assert_eq!(get(&r.value, "magic_with_default"), &expected);
        }
    }
}
