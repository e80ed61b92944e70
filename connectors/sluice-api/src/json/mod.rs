//! Plain JSON as a schemaless [`Value`] (`JsonConverter` with `schemas.enable=false`): objects
//! become maps with string keys, integers that fit `int64`, other numbers `double`.
//!
//! - [`parse`]: the text into a value, deserialized directly (no `serde_json::Value` between).
//! - [`check`]: fails exactly where `parse` fails, without building the value (the value
//!   converter's `check_json`, which names what a sink found not to be JSON).
//! - [`ObjectFields`]: the fields of a plain object read one by one, each as `parse` would
//!   make it, for a sink that reads JSON text itself ([`crate::SinkTask::reads_json_values`]:
//!   ClickHouse and Parquet); anything it is not sure of is left to `parse`.
//! - [`SchemalessSeed`]: the value of one JSON element, for such a sink's own deserializer.
//!
//! The field reader (`ObjectFields`, `PlainName`, and the quick scan `check` starts with) is in
//! `fields.rs`.
//!
//! `check` runs the same deserializer calls as `parse` (strings are read as text, so their
//! UTF-8 and escapes are checked; numbers are parsed, so one out of range fails), with visitors
//! that keep nothing.

use std::fmt;

use compact_str::CompactString;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::Value;

mod fields;

use fields::plainly_valid;
pub use fields::{FieldValue, Key, NotPlain, ObjectFields, PlainName, ScalarValue};

/// Parses one JSON document into a schemaless value.
pub fn parse(data: &[u8]) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(data);
    let value = SchemalessSeed.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// Whether [`parse`] accepts `data`, with the same error when it does not.
///
/// Most records are plain: a quick scan (`plainly_valid`) accepts them at a third of the
/// cost. Anything it is not sure of goes through serde_json, which says what is wrong.
pub fn check(data: &[u8]) -> Result<(), serde_json::Error> {
    if plainly_valid(data) {
        return Ok(());
    }
    let mut de = serde_json::Deserializer::from_slice(data);
    de.deserialize_any(CheckVisitor)?;
    de.end()
}
/// Deserializes one JSON element as [`parse`] would.
pub struct SchemalessSeed;

impl<'de> DeserializeSeed<'de> for SchemalessSeed {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(SchemalessVisitor)
    }
}

/// Builds the value of one JSON element; a sink may call its `visit_*` methods for an element
/// its own visitor was handed.
pub struct SchemalessVisitor;

impl<'de> Visitor<'de> for SchemalessVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Boolean(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int64(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        // Past i64::MAX Kafka Connect would use a BigDecimal; a double keeps the magnitude.
        Ok(i64::try_from(v).map(Value::Int64).unwrap_or(Value::Float64(v as f64)))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float64(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.into()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v.into()))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(SchemalessSeed)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        // Gathered on the stack, then moved into one allocation of the exact size: a batch
        // holds thousands of these, and a guessed capacity would waste a third of the memory.
        let mut entries: smallvec::SmallVec<[(Value, Value); 16]> = smallvec::SmallVec::new();
        // Keys of up to 24 bytes stay inline: no allocation per key.
        while let Some(key) = map.next_key::<CompactString>()? {
            let value = map.next_value_seed(SchemalessSeed)?;
            entries.push((Value::String(key), value));
        }
        Ok(Value::Map(entries.into_vec()))
    }
}

/// Visits what [`SchemalessVisitor`] visits, keeping nothing.
struct CheckVisitor;

impl<'de> Visitor<'de> for CheckVisitor {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(CheckSeed)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // Keys are read as text, as `parse` reads them (into a `CompactString`).
        while map.next_key_seed(KeySeed)?.is_some() {
            map.next_value_seed(CheckSeed)?;
        }
        Ok(())
    }
}

struct CheckSeed;

impl<'de> DeserializeSeed<'de> for CheckSeed {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(CheckVisitor)
    }
}

/// An object key read as text and dropped.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = IgnoredAny;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<IgnoredAny, D::Error> {
        deserializer.deserialize_str(CheckVisitor).map(|()| IgnoredAny)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_fails_exactly_where_parse_fails_with_the_same_error() {
        let documents: &[&[u8]] = &[
            br#"{"a":1,"b":"x","c":[1,2.5,{"d":null}],"e":true}"#,
            br#"[1, "two", {"three": 3}]"#,
            br#""just text""#,
            b"18446744073709551615",
            b"1e400",
            b"-1e400",
            br#"{"a":1,}"#,
            br#"{"a":1} trailing"#,
            br#"{"a":"\ud800"}"#,
            br#"{"\ud800":1}"#,
            b"{\"a\":\"\xff\"}",
            b"{\"\xff\":1}",
            b"{\"a\":\"\xc3\"}",
            b"{\"a\":\"\xed\xa0\x80\"}",
            b"{\"a\":\"\xf4\x90\x80\x80\"}",
            b"{\"caf\xc3\xa9\":\"\xf0\x9f\x98\x80 \xe2\x82\xac\"}",
            br#"{"a":"\q"}"#,
            br#"{"a":01}"#,
            b"",
            b"   ",
            br#"{"a":[1,2"#,
            br#"{"deep":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"#,
            br#"nul"#,
            br#"{"a":1}"#,
        ];
        for doc in documents {
            let parsed = parse(doc).map(|_| ()).map_err(|e| e.to_string());
            let checked = check(doc).map_err(|e| e.to_string());
            assert_eq!(checked, parsed, "{}", String::from_utf8_lossy(doc));
        }
        for doc in documents {
            if plainly_valid(doc) {
                assert!(parse(doc).is_ok(), "{}", String::from_utf8_lossy(doc));
            }
        }
        // Some of them fail, some do not: the comparison above covers both.
        assert!(check(documents[0]).is_ok());
        assert!(check(b"1e400").is_err());
        assert!(check(b"{\"a\":\"\xff\"}").is_err());
        // A cut or ill-formed UTF-8 sequence in a string is not plain.
        assert!(!plainly_valid(b"{\"a\":\"\xc3\"}") && !plainly_valid(b"{\"a\":\"\xed\xa0\x80\"}"));
        assert!(plainly_valid("{\"café\":\"😀 €\"}".as_bytes()));
    }
}
