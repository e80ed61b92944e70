//! Field paths as KIP-821 defines them (`field.syntax.version`): `V1` names a top-level field
//! verbatim; `V2` walks nested structs and maps with dots, and backticks quote a name that
//! contains dots (`` `foo.bar`.baz ``), with `\` escaping a backtick that would close early.

use sluice_api::{ConnectError, ConnectorConfig, Field, Result, Schema, Struct, Value};

use crate::util::{field_ref, field_value, map_get};

pub const FIELD_SYNTAX_VERSION: &str = "field.syntax.version";

/// Which path syntax a transform's `field` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldSyntaxVersion {
    /// Top-level fields only; the path is the field name (Kafka's default).
    V1,
    /// Dotted paths into nested structs and maps.
    V2,
}

impl FieldSyntaxVersion {
    /// Reads `field.syntax.version` (case-insensitive, default `V1`).
    pub fn from_config(config: &ConnectorConfig) -> Result<Self> {
        match config.get(FIELD_SYNTAX_VERSION).map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(FieldSyntaxVersion::V1),
            Some(v) if v.eq_ignore_ascii_case("v1") => Ok(FieldSyntaxVersion::V1),
            Some(v) if v.eq_ignore_ascii_case("v2") => Ok(FieldSyntaxVersion::V2),
            Some(v) => Err(ConnectError::config(
                FIELD_SYNTAX_VERSION,
                format!("Unrecognized field syntax version {v:?}; use V1 or V2."),
            )),
        }
    }
}

/// A path to one field (Kafka's `SingleFieldPath`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    steps: Vec<String>,
    original: String,
}

impl FieldPath {
    /// Parses `text`; the error is a message for a config error on the key holding the path.
    pub fn parse(text: &str, version: FieldSyntaxVersion) -> std::result::Result<Self, String> {
        let steps = match version {
            FieldSyntaxVersion::V1 => vec![text.to_owned()],
            FieldSyntaxVersion::V2 => parse_v2(text)?,
        };
        if steps.is_empty() {
            return Err("A field path needs at least one field name.".into());
        }
        Ok(FieldPath { steps, original: text.to_owned() })
    }

    /// The path as configured.
    pub fn as_str(&self) -> &str {
        &self.original
    }

    #[cfg(test)]
    pub fn steps(&self) -> Vec<&str> {
        self.steps.iter().map(String::as_str).collect()
    }

    fn split(&self) -> (&[String], &str) {
        let (last, parents) = self.steps.split_last().expect("a path has at least one step");
        (parents, last)
    }

    /// The field the path names within a struct schema, if every step exists.
    pub fn field_from<'a>(&self, schema: &'a Schema) -> Option<&'a Field> {
        let (parents, last) = self.split();
        let mut current = schema;
        for step in parents {
            current = &current.field(step)?.schema;
        }
        current.field(last)
    }

    /// The value at the path in a struct; `Null` when a step is missing or a parent is null. A
    /// parent that is not a struct is a data error, as in Kafka.
    pub fn value_from_struct(&self, value: &Struct, with_default: bool) -> Result<Value> {
        let (parents, last) = self.split();
        let mut current = value;
        for step in parents {
            let Some(field) = current.schema.field(step) else { return Ok(Value::Null) };
            match field_ref(current, field, true) {
                Value::Null => return Ok(Value::Null),
                Value::Struct(s) => current = s,
                other => return Err(nested_error("Struct objects supported", other)),
            }
        }
        Ok(current.schema.field(last).map(|f| field_value(current, f, with_default)).unwrap_or(Value::Null))
    }

    /// The value at the path in a schemaless map; `Null` when missing.
    pub fn value_from_map(&self, entries: &[(Value, Value)]) -> Result<Value> {
        let (parents, last) = self.split();
        let mut current = entries;
        for step in parents {
            match map_get(current, step) {
                None | Some(Value::Null) => return Ok(Value::Null),
                Some(Value::Map(inner)) => current = inner,
                Some(other) => return Err(nested_error("Map objects supported in absence of schema", other)),
            }
        }
        Ok(map_get(current, last).cloned().unwrap_or(Value::Null))
    }
}

fn nested_error(what: &str, found: &Value) -> ConnectError {
    ConnectError::data(format!("Only {what} for [nested field access], found: {}", found.type_name()))
}

/// Kafka's `SingleFieldPath.buildFieldPathV2`, step for step.
fn parse_v2(path: &str) -> std::result::Result<Vec<String>, String> {
    let b = path.as_bytes();
    let n = b.len();
    let find = |byte: u8, from: usize| b[from.min(n)..].iter().position(|&c| c == byte).map(|p| p + from);
    let incomplete = |at: usize| {
        format!(
            "Incomplete backtick pair in path: [{path}], consider adding a backslash before backtick at position {} to escape it",
            path[..at].chars().count()
        )
    };
    let mut steps = Vec::new();
    let mut idx = 0;
    while idx < n {
        if b[idx] != b'`' {
            let start = idx;
            match find(b'.', idx) {
                Some(dot) => {
                    steps.push(path[start..dot].to_owned());
                    idx = dot + 1;
                }
                None => {
                    steps.push(path[start..].to_owned());
                    idx = n;
                }
            }
            continue;
        }
        let backtick_at = idx;
        idx += 1;
        let mut field = String::new();
        let mut start = idx;
        loop {
            idx = find(b'`', idx).ok_or_else(|| incomplete(backtick_at))?;
            let escaped = b[idx - 1] == b'\\';
            if idx >= n - 1 {
                if escaped {
                    return Err(incomplete(backtick_at));
                }
                field.push_str(&path[start..idx]);
                steps.push(field);
                idx += 1;
                break;
            }
            if b[idx + 1] != b'.' {
                // Not a closing backtick: part of the name; keep looking.
                idx += 1;
                continue;
            }
            if escaped {
                field.push_str(&path[start..idx - 1]);
                field.push('`');
                idx += 1;
                start = idx;
                continue;
            }
            field.push_str(&path[start..idx]);
            steps.push(field);
            idx += 2;
            break;
        }
    }
    if path.ends_with('.') {
        steps.push(String::new());
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_api::SchemaType;

    fn v2(path: &str) -> Vec<String> {
        FieldPath::parse(path, FieldSyntaxVersion::V2).unwrap().steps().into_iter().map(str::to_owned).collect()
    }

    #[test]
    fn v1_is_verbatim() {
        for p in ["foo.bar.baz", "foo`bar`", "foo.`bar.baz`"] {
            assert_eq!(FieldPath::parse(p, FieldSyntaxVersion::V1).unwrap().steps(), vec![p]);
        }
    }

    #[test]
    fn v2_splits_on_dots_and_keeps_empty_names() {
        assert_eq!(v2("foobarbaz"), ["foobarbaz"]);
        assert_eq!(v2("foo.bar.baz"), ["foo", "bar", "baz"]);
        assert_eq!(v2(".."), ["", "", ""]);
        assert_eq!(v2("foo.."), ["foo", "", ""]);
        assert_eq!(v2(".bar."), ["", "bar", ""]);
        assert_eq!(v2("..baz"), ["", "", "baz"]);
        assert!(FieldPath::parse("", FieldSyntaxVersion::V2).is_err());
    }

    #[test]
    fn v2_backticks_wrap_names_with_dots() {
        assert_eq!(v2("foo`bar`baz"), ["foo`bar`baz"]);
        assert_eq!(v2("`foo.bar.baz`"), ["foo.bar.baz"]);
        assert_eq!(v2("foo.`bar.baz`"), ["foo", "bar.baz"]);
        assert_eq!(v2("`foo.bar`.baz"), ["foo.bar", "baz"]);
        assert_eq!(v2("foo.`bar`.baz"), ["foo", "bar", "baz"]);
        assert_eq!(v2("foo.``bar.baz`"), ["foo", "`bar.baz"]);
        assert_eq!(v2("foo.`bar.baz``"), ["foo", "bar.baz`"]);
        assert_eq!(v2("foo.`ba`r.baz`"), ["foo", "ba`r.baz"]);
        assert_eq!(v2("foo.ba`r.baz"), ["foo", "ba`r", "baz"]);
        assert_eq!(v2("foo.``bar``.baz"), ["foo", "`bar`", "baz"]);
        assert_eq!(v2("``foo.bar.baz``"), ["`foo.bar.baz`"]);
    }

    #[test]
    fn v2_escaped_backticks() {
        assert_eq!(v2("foo.`bar\\`.baz`"), ["foo", "bar`.baz"]);
        assert_eq!(v2("foo.`bar.`baz`"), ["foo", "bar.`baz"]);
        assert_eq!(v2("foo.`bar\\`.`baz`"), ["foo", "bar`.`baz"]);
        assert_eq!(v2("foo.`bar\\\\`.\\`baz`"), ["foo", "bar\\`.\\`baz"]);
    }

    #[test]
    fn v2_incomplete_backticks_fail_with_position() {
        for (path, pos) in [("`foo.bar.baz", 0), ("foo.`bar.baz", 4), ("foo.bar.`baz", 8), ("foo.bar.`baz\\`", 8)] {
            let err = FieldPath::parse(path, FieldSyntaxVersion::V2).unwrap_err();
            assert_eq!(
                err,
                format!("Incomplete backtick pair in path: [{path}], consider adding a backslash before backtick at position {pos} to escape it")
            );
        }
    }

    #[test]
    fn lookups_walk_structs_and_maps() {
        let inner = Schema::structure([("foo", Schema::new(SchemaType::Int32).into_ref())]).into_ref();
        let outer = Schema::structure([("magic", inner.clone())]).into_ref();
        let value = Struct {
            schema: outer.clone(),
            values: vec![Value::Struct(Struct { schema: inner, values: vec![Value::Int32(42)] })],
        };
        let path = FieldPath::parse("magic.foo", FieldSyntaxVersion::V2).unwrap();
        assert_eq!(path.field_from(&outer).unwrap().schema.schema_type, SchemaType::Int32);
        assert_eq!(path.value_from_struct(&value, true).unwrap(), Value::Int32(42));
        let missing = FieldPath::parse("magic.nonexistent", FieldSyntaxVersion::V2).unwrap();
        assert!(missing.field_from(&outer).is_none());

        let map = vec![(Value::from("magic"), Value::Map(vec![(Value::from("foo"), Value::Int64(42))]))];
        assert_eq!(path.value_from_map(&map).unwrap(), Value::Int64(42));
        assert_eq!(missing.value_from_map(&map).unwrap(), Value::Null);
        let not_a_map = vec![(Value::from("magic"), Value::Int64(1))];
        assert!(path.value_from_map(&not_a_map).is_err());
    }

    #[test]
    fn syntax_version_is_case_insensitive_and_validated() {
        let c: ConnectorConfig = [(FIELD_SYNTAX_VERSION, "v2")].into_iter().collect();
        assert_eq!(FieldSyntaxVersion::from_config(&c).unwrap(), FieldSyntaxVersion::V2);
        let c: ConnectorConfig = [(FIELD_SYNTAX_VERSION, "v3")].into_iter().collect();
        assert_eq!(FieldSyntaxVersion::from_config(&c).unwrap_err().config_key(), Some(FIELD_SYNTAX_VERSION));
    }
}
