//! Plain JSON → schemaless `Value`, deserialized directly (no intermediate `serde_json::Value`).

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use sluice_api::{CompactString, Value};
use smallvec::SmallVec;

/// Parses one JSON document into a schemaless value.
pub fn parse(data: &[u8]) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(data);
    let value = SchemalessSeed.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

struct SchemalessSeed;

impl<'de> DeserializeSeed<'de> for SchemalessSeed {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(SchemalessVisitor)
    }
}

struct SchemalessVisitor;

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
        let mut entries: SmallVec<[(Value, Value); 16]> = SmallVec::new();
        // Keys of up to 24 bytes stay inline: no allocation per key.
        while let Some(key) = map.next_key::<CompactString>()? {
            let value = map.next_value_seed(SchemalessSeed)?;
            entries.push((Value::String(key), value));
        }
        Ok(Value::Map(entries.into_vec()))
    }
}
