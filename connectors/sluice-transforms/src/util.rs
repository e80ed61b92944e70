//! What every transform shares: which half of the record it works on ([`Side`]), the cache of
//! updated schemas ([`SchemaCache`]), Kafka's "requirements" checks with Kafka's messages,
//! struct and schemaless-map access, schema copying, and config parsing helpers.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use regex::Regex;
use sluice_api::{
    ConnectError, ConnectorConfig, Field, Result, Schema, SchemaRef, SchemaType, SinkRecord, Struct, Value,
};

/// The half of a record a `$Key` or `$Value` transform works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Key,
    Value,
}

impl Side {
    pub fn schema(self, record: &SinkRecord) -> Option<&SchemaRef> {
        match self {
            Side::Key => record.key_schema.as_ref(),
            Side::Value => record.value_schema.as_ref(),
        }
    }

    pub fn value(self, record: &SinkRecord) -> &Value {
        match self {
            Side::Key => &record.key,
            Side::Value => &record.value,
        }
    }

    /// Moves schema and value out of the record, leaving `None` and `Null` behind.
    pub fn take(self, record: &mut SinkRecord) -> (Option<SchemaRef>, Value) {
        match self {
            Side::Key => (record.key_schema.take(), std::mem::replace(&mut record.key, Value::Null)),
            Side::Value => (record.value_schema.take(), std::mem::replace(&mut record.value, Value::Null)),
        }
    }

    pub fn set(self, record: &mut SinkRecord, schema: Option<SchemaRef>, value: Value) {
        match self {
            Side::Key => {
                record.key_schema = schema;
                record.key = value;
            }
            Side::Value => {
                record.value_schema = schema;
                record.value = value;
            }
        }
    }

    /// `key` or `value`, for messages.
    pub fn noun(self) -> &'static str {
        match self {
            Side::Key => "key",
            Side::Value => "value",
        }
    }
}

/// How many input schemas a transform remembers, as Kafka's `LRUCache(16)`.
const SCHEMA_CACHE_CAPACITY: usize = 16;

/// A cache key: equal keys must produce the same updated schema. Identity (the same `Arc`) is
/// checked before equality because records of one topic usually share one schema instance.
pub trait CacheKey: Clone {
    fn identical(&self, other: &Self) -> bool;
    fn equal(&self, other: &Self) -> bool;
}

impl CacheKey for SchemaRef {
    fn identical(&self, other: &Self) -> bool {
        Arc::ptr_eq(self, other)
    }

    fn equal(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl CacheKey for (SchemaRef, SchemaRef) {
    fn identical(&self, other: &Self) -> bool {
        self.0.identical(&other.0) && self.1.identical(&other.1)
    }

    fn equal(&self, other: &Self) -> bool {
        self.0.equal(&other.0) && self.1.equal(&other.1)
    }
}

/// Updated schemas by input schema, so a transform builds each output schema once, not per
/// record. Small and oldest-out, like Kafka's `SynchronizedCache(LRUCache(16))`.
pub struct SchemaCache<K: CacheKey = SchemaRef> {
    entries: Mutex<VecDeque<(K, SchemaRef)>>,
}

impl<K: CacheKey> Default for SchemaCache<K> {
    fn default() -> Self {
        SchemaCache { entries: Mutex::new(VecDeque::new()) }
    }
}

impl<K: CacheKey> SchemaCache<K> {
    pub fn new() -> Self {
        Self::default()
    }

    /// The schema cached for `key`, or the one `build` makes (then cached). A failed build
    /// caches nothing.
    pub fn get_or_build(&self, key: &K, build: impl FnOnce() -> Result<SchemaRef>) -> Result<SchemaRef> {
        if let Some(hit) = self.lookup(key) {
            return Ok(hit);
        }
        let built = build()?;
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= SCHEMA_CACHE_CAPACITY {
            entries.pop_front();
        }
        entries.push_back((key.clone(), built.clone()));
        Ok(built)
    }

    fn lookup(&self, key: &K) -> Option<SchemaRef> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let hit = entries.iter().find(|(k, _)| k.identical(key)).or_else(|| entries.iter().find(|(k, _)| k.equal(key)));
        hit.map(|(_, v)| v.clone())
    }

    #[cfg(test)]
    pub fn cached(&self) -> usize {
        self.entries.lock().unwrap().len()
    }
}

/// Kafka's `requireMap`: schemaless data must be a map.
pub fn require_map(value: Value, purpose: &str) -> Result<Vec<(Value, Value)>> {
    match value {
        Value::Map(entries) => Ok(entries),
        other => Err(ConnectError::data(format!(
            "Only Map objects supported in absence of schema for [{purpose}], found: {}",
            other.type_name()
        ))),
    }
}

/// Kafka's `requireStruct`: data with a schema must be a struct.
pub fn require_struct(value: Value, purpose: &str) -> Result<Struct> {
    match value {
        Value::Struct(s) => Ok(s),
        other => Err(ConnectError::data(format!(
            "Only Struct objects supported for [{purpose}], found: {}",
            other.type_name()
        ))),
    }
}

/// Kafka's `requireSchema`.
pub fn require_schema<'a>(schema: Option<&'a SchemaRef>, purpose: &str) -> Result<&'a SchemaRef> {
    schema.ok_or_else(|| ConnectError::data(format!("Schema required for [{purpose}]")))
}

fn key_is(key: &Value, name: &str) -> bool {
    matches!(key, Value::String(k) if k == name)
}

/// The entry `name` of a schemaless map.
pub fn map_get<'a>(entries: &'a [(Value, Value)], name: &str) -> Option<&'a Value> {
    entries.iter().find(|(k, _)| key_is(k, name)).map(|(_, v)| v)
}

/// Sets entry `name`, in place when it exists (keeping the map's order), else at the end.
pub fn map_put(entries: &mut Vec<(Value, Value)>, name: &str, value: Value) {
    match entries.iter_mut().find(|(k, _)| key_is(k, name)) {
        Some((_, v)) => *v = value,
        None => entries.push((Value::String(name.into()), value)),
    }
}

/// Removes entry `name`, returning its value.
pub fn map_remove(entries: &mut Vec<(Value, Value)>, name: &str) -> Option<Value> {
    let idx = entries.iter().position(|(k, _)| key_is(k, name))?;
    Some(entries.remove(idx).1)
}

static NULL: Value = Value::Null;

/// A field's value; with `with_default`, a null takes the field schema's default, as Kafka's
/// `Struct.get` does (`replace.null.with.default=true`).
pub fn field_ref<'a>(value: &'a Struct, field: &'a Field, with_default: bool) -> &'a Value {
    match value.values.get(field.index) {
        Some(Value::Null) | None if with_default => field.schema.default.as_ref().unwrap_or(&NULL),
        Some(v) => v,
        None => &NULL,
    }
}

/// [`field_ref`], owned.
pub fn field_value(value: &Struct, field: &Field, with_default: bool) -> Value {
    field_ref(value, field, with_default).clone()
}

/// [`field_value`] by name; `None` when the struct's schema has no such field.
pub fn struct_get(value: &Struct, name: &str, with_default: bool) -> Option<Value> {
    value.schema.field(name).map(|f| field_value(value, f, with_default))
}

/// All field values, in schema order, with defaults applied as configured.
pub fn field_values(value: &Struct, with_default: bool) -> Vec<Value> {
    value.schema.fields.iter().map(|f| field_value(value, f, with_default)).collect()
}

/// Kafka's `SchemaUtil.copySchemaBasics(source, builder of type t)`: name, version, doc and
/// parameters are copied; optional, default and fields are not.
pub fn copy_basics(source: &Schema, schema_type: SchemaType) -> Schema {
    let mut s = Schema::new(schema_type);
    s.name = source.name.clone();
    s.version = source.version;
    s.doc = source.doc.clone();
    s.parameters = source.parameters.clone();
    if schema_type == source.schema_type {
        s.key_schema = source.key_schema.clone();
        s.value_schema = source.value_schema.clone();
    }
    s
}

/// Appends a field to a struct schema; a second field of the same name is a data error, as in
/// Kafka's `SchemaBuilder.field`.
pub fn push_field(schema: &mut Schema, name: &str, field_schema: SchemaRef) -> Result<()> {
    if schema.field(name).is_some() {
        return Err(ConnectError::data(format!("Cannot create field because of field name duplication {name}")));
    }
    let index = schema.fields.len();
    schema.fields.push(Field { name: name.to_owned(), index, schema: field_schema });
    Ok(())
}

/// A primitive schema of type `t`, optional or not.
pub fn primitive(t: SchemaType, optional: bool) -> SchemaRef {
    let s = Schema::new(t);
    if optional { s.optional() } else { s }.into_ref()
}

/// `replace.null.with.default` (default true), shared by most transforms.
pub const REPLACE_NULL_WITH_DEFAULT: &str = "replace.null.with.default";

pub fn replace_null_with_default(config: &ConnectorConfig) -> Result<bool> {
    config.bool_or(REPLACE_NULL_WITH_DEFAULT, true)
}

/// A list that must name at least one item (Kafka's `NonEmptyListValidator`).
pub fn non_empty_list(config: &ConnectorConfig, key: &str) -> Result<Vec<String>> {
    let list = config.list(key);
    if list.is_empty() {
        return Err(ConnectError::config(key, "Empty list; name at least one item (comma-separated)."));
    }
    Ok(list)
}

/// A string that must be set but may be empty (Kafka's `NonNullValidator`).
pub fn present<'a>(config: &'a ConnectorConfig, key: &str) -> Result<&'a str> {
    config.get(key).ok_or_else(|| ConnectError::config(key, "Missing required configuration; set it and resubmit."))
}

/// A value that must be one of `allowed` (exact match, like Kafka's `ValidString`).
pub fn one_of<'a>(config: &ConnectorConfig, key: &str, default: Option<&str>, allowed: &[&'a str]) -> Result<&'a str> {
    let raw = match (config.get(key).map(str::trim).filter(|v| !v.is_empty()), default) {
        (Some(v), _) => v,
        (None, Some(d)) => d,
        (None, None) => config.required(key)?,
    };
    allowed.iter().copied().find(|a| *a == raw).ok_or_else(|| {
        ConnectError::config(key, format!("String must be one of: {}; got {raw:?}.", allowed.join(", ")))
    })
}

/// Compiles a Java-style regex for whole-string matching (`Matcher.matches()`): the pattern
/// is anchored at both ends, so `a|ab` matches all of `ab` as Java does.
pub fn full_match_regex(key: &str, pattern: &str) -> Result<Regex> {
    Regex::new(&format!(r"\A(?:{pattern})\z")).map_err(|e| {
        ConnectError::config(
            key,
            format!("Invalid regex {pattern:?}: {e}. Note that look-around and back-references are not supported."),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_builds_once_per_schema_and_matches_equal_schemas() {
        let cache: SchemaCache = SchemaCache::new();
        let a = Schema::structure([("x", primitive(SchemaType::Int32, false))]).into_ref();
        let a_copy = Arc::new((*a).clone());
        let mut builds = 0;
        for key in [&a, &a, &a_copy] {
            cache
                .get_or_build(key, || {
                    builds += 1;
                    Ok(primitive(SchemaType::String, false))
                })
                .unwrap();
        }
        assert_eq!(builds, 1);
        assert_eq!(cache.cached(), 1);
        for i in 0..20 {
            let s = Schema::new(SchemaType::Int32).named(format!("s{i}")).into_ref();
            cache.get_or_build(&s, || Ok(s.clone())).unwrap();
        }
        assert_eq!(cache.cached(), SCHEMA_CACHE_CAPACITY);
    }

    #[test]
    fn map_helpers_keep_order() {
        let mut m = vec![(Value::from("a"), Value::Int64(1)), (Value::from("b"), Value::Int64(2))];
        map_put(&mut m, "a", Value::Int64(3));
        map_put(&mut m, "c", Value::Int64(4));
        assert_eq!(map_get(&m, "a"), Some(&Value::Int64(3)));
        assert_eq!(map_remove(&mut m, "b"), Some(Value::Int64(2)));
        assert_eq!(m, vec![(Value::from("a"), Value::Int64(3)), (Value::from("c"), Value::Int64(4))]);
    }

    #[test]
    fn field_value_applies_defaults_only_when_asked() {
        let schema = Schema::structure([(
            "n",
            Schema::new(SchemaType::Int32).optional().with_default(Value::Int32(42)).into_ref(),
        )])
        .into_ref();
        let s = Struct { schema, values: vec![Value::Null] };
        assert_eq!(struct_get(&s, "n", true), Some(Value::Int32(42)));
        assert_eq!(struct_get(&s, "n", false), Some(Value::Null));
        assert_eq!(struct_get(&s, "missing", true), None);
    }

    #[test]
    fn requirements_use_kafka_messages() {
        let e = require_map(Value::Int32(1), "field insertion").unwrap_err();
        assert_eq!(
            e.to_string(),
            "Only Map objects supported in absence of schema for [field insertion], found: int32"
        );
        let e = require_struct(Value::Null, "cast types").unwrap_err();
        assert_eq!(e.to_string(), "Only Struct objects supported for [cast types], found: null");
    }

    #[test]
    fn full_match_regex_anchors_alternations() {
        let r = full_match_regex("regex", "a|ab").unwrap();
        assert!(r.is_match("ab"));
        assert!(!r.is_match("abc"));
        assert_eq!(full_match_regex("regex", "(").unwrap_err().config_key(), Some("regex"));
    }
}
