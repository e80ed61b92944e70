//! Fields of the record value: dotted paths (`a.b`) into Connect structs and schemaless maps,
//! and field values written as directory names.
//!
//! # Escaping
//! A value never creates extra directory levels: in the text of a value, `/`, the characters
//! of `directory.delim`, control characters and the characters Hive and Spark escape in
//! partition values (`"#%'*/:=?\{[]^` and DEL) are written as `%XX`, one per UTF-8 byte (so
//! `a/b` becomes `a%2Fb` and `50%` becomes `50%25`). This is Hive's escaping, so Spark, Trino
//! and Hive read back the original value from a `field=value` directory.

use std::fmt::Write as _;

use chrono::{DateTime, Datelike, NaiveDate, Timelike};
use sluice_api::Value;

use super::PartitionError;

static NULL: Value = Value::Null;

/// Days from 0001-01-01 (chrono's day 1) to 1970-01-01, where Connect's `Date` counts from.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// A dotted path to a field of the record value (`user.country`), split once when the
/// connector starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    name: String,
    segments: Vec<String>,
}

impl FieldPath {
    /// Splits `name` at dots; `None` when it is empty or has an empty segment (`a..b`).
    pub fn parse(name: &str) -> Option<Self> {
        let name = name.trim();
        let segments: Vec<String> = name.split('.').map(str::to_owned).collect();
        if segments.iter().any(String::is_empty) {
            return None;
        }
        Some(FieldPath { name: name.to_owned(), segments })
    }

    /// The path as configured (`a.b`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The top-level field the path starts at (`a` of `a.b`).
    pub fn top_level(&self) -> &str {
        self.segments.first().map_or(&self.name, String::as_str)
    }

    /// The field's value in `value` (a struct or map). A null struct field reads as its
    /// schema's default, as in Kafka Connect; a missing field or a parent that is not a
    /// struct or map is an error. The value found may be null.
    pub fn lookup<'a>(&self, value: &'a Value) -> Result<&'a Value, PartitionError> {
        let mut current = value;
        for (depth, segment) in self.segments.iter().enumerate() {
            current = match current {
                Value::Struct(s) => {
                    let Some(field) = s.schema.field(segment) else { return Err(self.missing()) };
                    match s.values.get(field.index).unwrap_or(&NULL) {
                        Value::Null => field.schema.default.as_ref().unwrap_or(&NULL),
                        v => v,
                    }
                }
                Value::Map(_) => current.field(segment).ok_or_else(|| self.missing())?,
                other => {
                    let parent = match depth {
                        0 => "the record value".to_owned(),
                        _ => format!("`{}`", self.segments[..depth].join(".")),
                    };
                    return Err(PartitionError::NotAContainer {
                        field: self.name.clone(),
                        parent,
                        found: other.type_name(),
                    });
                }
            };
        }
        Ok(current)
    }

    fn missing(&self) -> PartitionError {
        PartitionError::MissingField { field: self.name.clone() }
    }

    /// Appends `<field>=<value>` for this field of `value`; see the module docs for escaping.
    pub fn write_directory(&self, value: &Value, delim: &str, out: &mut String) -> Result<(), PartitionError> {
        out.push_str(&self.name);
        out.push('=');
        write_value(self, self.lookup(value)?, delim, out)
    }
}

/// Appends `value` as a directory name: strings as they are, numbers and booleans as text,
/// dates as `2025-09-18`, timestamps as `2025-09-18T10:30:00.000Z`; escaped (module docs).
fn write_value(field: &FieldPath, value: &Value, delim: &str, out: &mut String) -> Result<(), PartitionError> {
    let start = out.len();
    // Writing into a String cannot fail, so the results of write! are ignored.
    match value {
        Value::String(s) => {
            escape_into(s, delim, out);
            return Ok(());
        }
        Value::Null => return Err(PartitionError::NullField { field: field.name.clone() }),
        Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int8(_) | Value::Int16(_) | Value::Int32(_) | Value::Int64(_) => {
            let _ = write!(out, "{}", value.as_i64().unwrap_or_default());
        }
        Value::Float32(f) => {
            let _ = write!(out, "{f}");
        }
        Value::Float64(f) => {
            let _ = write!(out, "{f}");
        }
        Value::Decimal { unscaled, scale } => write_decimal(*unscaled, *scale, out),
        // Fields written one by one: chrono's `format` builds a temporary String.
        Value::Date(days) => {
            let date = days
                .checked_add(UNIX_EPOCH_DAYS_FROM_CE)
                .and_then(NaiveDate::from_num_days_from_ce_opt)
                .ok_or(PartitionError::TimeOutOfRange { ms: i64::from(*days) * 86_400_000 })?;
            let _ = write!(out, "{:04}-{:02}-{:02}", date.year(), date.month(), date.day());
        }
        Value::Timestamp(ms) => {
            let t = DateTime::from_timestamp_millis(*ms).ok_or(PartitionError::TimeOutOfRange { ms: *ms })?;
            let _ = write!(
                out,
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                t.year(),
                t.month(),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
                t.timestamp_subsec_millis() % 1000
            );
        }
        other => {
            return Err(PartitionError::UnsupportedFieldType { field: field.name.clone(), found: other.type_name() })
        }
    }
    // Number and date text rarely needs escaping (only when the delimiter is `.`, `-` or a
    // digit, or for the `:` of timestamps); copy it aside only then.
    if out[start..].chars().any(|c| needs_escape(c, delim)) {
        let raw = out.split_off(start);
        escape_into(&raw, delim, out);
    }
    Ok(())
}

/// `unscaled × 10^-scale` as exact decimal text, without allocating.
fn write_decimal(unscaled: i128, scale: u32, out: &mut String) {
    let Some(divisor) = 10u128.checked_pow(scale) else {
        // A scale over 38 digits cannot come from a real decimal; show it unambiguously.
        let _ = write!(out, "{unscaled}E-{scale}");
        return;
    };
    let magnitude = unscaled.unsigned_abs();
    let sign = if unscaled < 0 { "-" } else { "" };
    let _ = write!(out, "{sign}{}", magnitude / divisor);
    if scale > 0 {
        let _ = write!(out, ".{:0width$}", magnitude % divisor, width = scale as usize);
    }
}

/// The ASCII bytes [`needs_escape`] escapes whatever the delimiter.
static ESCAPED_ASCII: [bool; 256] = {
    let mut escaped = [false; 256];
    let mut byte = 0;
    while byte < 0x20 {
        escaped[byte] = true;
        byte += 1;
    }
    let others = b"\x7f\"#%'*/:=?\\{[]^";
    let mut i = 0;
    while i < others.len() {
        escaped[others[i] as usize] = true;
        i += 1;
    }
    escaped
};

fn needs_escape(c: char, delim: &str) -> bool {
    matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}' | '"' | '#' | '%' | '\'' | '*' | '/' | ':' | '=' | '?' | '\\')
        || matches!(c, '{' | '[' | ']' | '^')
        || delim.contains(c)
}

fn escape_into(text: &str, delim: &str, out: &mut String) {
    // Most values need nothing escaped: found by one pass over the bytes, then copied whole.
    // (A byte of a non-ASCII delimiter may match inside another character: the slow way
    // below then decides, character by character.)
    let delim_bytes = delim.as_bytes();
    if text.bytes().all(|b| !ESCAPED_ASCII[usize::from(b)] && !delim_bytes.contains(&b)) {
        out.push_str(text);
        return;
    }
    escape_each_char(text, delim, out);
}

/// Escapes `text` character by character ([`needs_escape`]).
fn escape_each_char(text: &str, delim: &str, out: &mut String) {
    for c in text.chars() {
        if needs_escape(c, delim) {
            let mut utf8 = [0u8; 4];
            for byte in c.encode_utf8(&mut utf8).bytes() {
                let _ = write!(out, "%{byte:02X}");
            }
        } else {
            out.push(c);
        }
    }
}

/// A short description of a value for error messages: strings quoted (and cut after 100
/// characters), numbers as text, anything else by its type.
pub(super) fn describe(value: &Value) -> String {
    match value {
        Value::String(s) if s.chars().count() > 100 => {
            format!("{:?}…", s.chars().take(100).collect::<String>())
        }
        Value::String(s) => format!("{s:?}"),
        Value::Float32(f) => f.to_string(),
        Value::Float64(f) => f.to_string(),
        Value::Boolean(b) => b.to_string(),
        other => match other.as_i64() {
            Some(n) => format!("{n} ({})", other.type_name()),
            None => format!("a value of type {}", other.type_name()),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sluice_api::{Schema, SchemaType, Struct};

    use super::*;

    fn path(name: &str) -> FieldPath {
        FieldPath::parse(name).unwrap()
    }

    fn dir(name: &str, value: &Value, delim: &str) -> Result<String, PartitionError> {
        let mut out = String::new();
        path(name).write_directory(value, delim, &mut out).map(|()| out)
    }

    fn json(text: &str) -> Value {
        fn convert(v: serde_json::Value) -> Value {
            match v {
                serde_json::Value::Null => Value::Null,
                serde_json::Value::Bool(b) => Value::Boolean(b),
                serde_json::Value::Number(n) => {
                    n.as_i64().map_or_else(|| Value::Float64(n.as_f64().unwrap()), Value::Int64)
                }
                serde_json::Value::String(s) => Value::String(s.into()),
                serde_json::Value::Array(a) => Value::Array(a.into_iter().map(convert).collect()),
                serde_json::Value::Object(o) => {
                    Value::Map(o.into_iter().map(|(k, v)| (Value::String(k.into()), convert(v))).collect())
                }
            }
        }
        convert(serde_json::from_str(text).unwrap())
    }

    fn order() -> Value {
        let address = Arc::new(Schema::structure([("country", Schema::new(SchemaType::String).optional().into_ref())]));
        let schema = Schema::structure([
            ("id", Schema::new(SchemaType::Int64).into_ref()),
            ("paid", Schema::new(SchemaType::Boolean).into_ref()),
            ("status", Schema::new(SchemaType::String).optional().with_default("new".into()).into_ref()),
            ("address", address.clone()),
            ("note", Schema::new(SchemaType::String).optional().into_ref()),
        ]);
        let addr = Value::Struct(Struct { schema: address, values: vec!["DE".into()] });
        Value::Struct(Struct {
            schema: schema.into_ref(),
            values: vec![Value::Int64(42), Value::Boolean(true), Value::Null, addr, Value::Null],
        })
    }

    #[test]
    fn the_quick_check_escapes_what_the_character_rule_escapes() {
        for byte in 0..=127u8 {
            assert_eq!(ESCAPED_ASCII[usize::from(byte)], needs_escape(char::from(byte), ""), "byte {byte}");
        }
        let slow = |text: &str, delim: &str| {
            let mut out = String::new();
            escape_each_char(text, delim, &mut out);
            out
        };
        for text in ["page_view", "a/b", "50%", "Zürich", "x#y", "tab\there", "", "α§β"] {
            for delim in ["/", "#", "§", "--"] {
                let mut out = String::from("k=");
                escape_into(text, delim, &mut out);
                assert_eq!(out, format!("k={}", slow(text, delim)), "{text:?} with {delim:?}");
            }
        }
    }

    #[test]
    fn struct_fields_nested_fields_and_defaults() {
        let v = order();
        assert_eq!(dir("id", &v, "/").unwrap(), "id=42");
        assert_eq!(dir("paid", &v, "/").unwrap(), "paid=true");
        assert_eq!(dir("address.country", &v, "/").unwrap(), "address.country=DE");
        // A null field with a schema default reads as the default, as Struct.get does.
        assert_eq!(dir("status", &v, "/").unwrap(), "status=new");
        assert_eq!(dir("note", &v, "/"), Err(PartitionError::NullField { field: "note".into() }));
        assert_eq!(dir("address.city", &v, "/"), Err(PartitionError::MissingField { field: "address.city".into() }));
        let err = dir("id.x", &v, "/").unwrap_err();
        assert!(err.to_string().contains("`id` is int64"), "{err}");
    }

    #[test]
    fn schemaless_maps_and_nested_maps() {
        let v = json(r#"{"event_type":"purchase","user":{"tier":3,"vip":false},"n":null,"price":9.5}"#);
        assert_eq!(dir("event_type", &v, "/").unwrap(), "event_type=purchase");
        assert_eq!(dir("user.tier", &v, "/").unwrap(), "user.tier=3");
        assert_eq!(dir("user.vip", &v, "/").unwrap(), "user.vip=false");
        assert_eq!(dir("price", &v, "/").unwrap(), "price=9.5");
        assert_eq!(dir("n", &v, "/"), Err(PartitionError::NullField { field: "n".into() }));
        let err = dir("missing", &v, "/").unwrap_err();
        assert!(err.to_string().contains("`missing`"), "{err}");
        let err = dir("user", &v, "/").unwrap_err();
        assert_eq!(err, PartitionError::UnsupportedFieldType { field: "user".into(), found: "map" });
        let err = dir("x", &Value::Null, "/").unwrap_err();
        assert!(err.to_string().contains("the record value is null"), "{err}");
    }

    #[test]
    fn values_cannot_add_directory_levels() {
        let v = json(r#"{"s":"a/b","p":"50%","d":"x_y","t":"10:30=ok","u":"café ok"}"#);
        assert_eq!(dir("s", &v, "/").unwrap(), "s=a%2Fb");
        assert_eq!(dir("p", &v, "/").unwrap(), "p=50%25");
        assert_eq!(dir("d", &v, "_").unwrap(), "d=x%5Fy");
        assert_eq!(dir("t", &v, "/").unwrap(), "t=10%3A30%3Dok");
        assert_eq!(dir("u", &v, "/").unwrap(), "u=café ok");
        // Numbers are escaped too when the delimiter could occur in them.
        assert_eq!(dir("n", &json(r#"{"n":-1.5}"#), ".").unwrap(), "n=-1%2E5");
    }

    #[test]
    fn logical_types_render_as_readable_text() {
        let v = Value::Map(vec![
            ("d".into(), Value::Date(20_349)),
            ("t".into(), Value::Timestamp(1_758_191_400_123)),
            ("m".into(), Value::Decimal { unscaled: -1_205, scale: 3 }),
            ("b".into(), Value::Bytes(vec![1u8].into())),
        ]);
        assert_eq!(dir("d", &v, "/").unwrap(), "d=2025-09-18");
        assert_eq!(dir("t", &v, "/").unwrap(), "t=2025-09-18T10%3A30%3A00.123Z");
        assert_eq!(dir("m", &v, "/").unwrap(), "m=-1.205");
        assert_eq!(dir("b", &v, "/"), Err(PartitionError::UnsupportedFieldType { field: "b".into(), found: "bytes" }));
    }

    #[test]
    fn bad_paths_and_descriptions() {
        assert!(FieldPath::parse("a..b").is_none());
        assert!(FieldPath::parse("").is_none());
        assert!(FieldPath::parse(".a").is_none());
        assert_eq!(describe(&"x".into()), "\"x\"");
        assert_eq!(describe(&Value::Int32(5)), "5 (int32)");
        assert_eq!(describe(&Value::Array(vec![])), "a value of type array");
        assert_eq!(describe(&"y".repeat(150).into()).len(), 100 + 2 + "…".len());
    }
}
