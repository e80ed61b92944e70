//! `MaskField$Key` / `MaskField$Value`: replaces `fields` with the empty value of their type
//! (0, false, "", epoch, empty array/map), or with `replacement` converted to the field's type
//! (numbers and strings only). Nulls stay null; the schema is unchanged. A null key/value
//! (tombstone) passes through, where Kafka's MaskField fails on it.

use std::collections::HashSet;

use sluice_api::{ConnectError, ConnectorConfig, Result, SinkRecord, Struct, Transform, Value};

use crate::util::{self, field_value, non_empty_list, require_map, require_struct, Side};

const PURPOSE: &str = "mask fields";

pub struct MaskField {
    side: Side,
    fields: HashSet<String>,
    replacement: Option<String>,
    replace_null_with_default: bool,
}

impl MaskField {
    pub fn new(config: &ConnectorConfig, side: Side) -> Result<Self> {
        let replacement = config.get("replacement").map(str::to_owned);
        if replacement.as_deref() == Some("") {
            return Err(ConnectError::config("replacement", "String must be non-empty"));
        }
        Ok(MaskField {
            side,
            fields: non_empty_list(config, "fields")?.into_iter().collect(),
            replacement,
            replace_null_with_default: util::replace_null_with_default(config)?,
        })
    }

    fn masked(&self, value: &Value) -> Result<Value> {
        match (&self.replacement, value) {
            (_, Value::Null) => Ok(Value::Null),
            (None, v) => empty_of(v),
            (Some(r), v) => replaced(v, r),
        }
    }
}

/// Kafka's `maskWithNullValue`.
fn empty_of(value: &Value) -> Result<Value> {
    Ok(match value {
        Value::Boolean(_) => Value::Boolean(false),
        Value::Int8(_) => Value::Int8(0),
        Value::Int16(_) => Value::Int16(0),
        Value::Int32(_) => Value::Int32(0),
        Value::Int64(_) => Value::Int64(0),
        Value::Float32(_) => Value::Float32(0.0),
        Value::Float64(_) => Value::Float64(0.0),
        Value::Decimal { scale, .. } => Value::Decimal { unscaled: 0, scale: *scale },
        Value::Date(_) => Value::Date(0),
        Value::Time(_) => Value::Time(0),
        Value::Timestamp(_) => Value::Timestamp(0),
        Value::String(_) => Value::String(Default::default()),
        Value::Array(_) => Value::Array(Vec::new()),
        Value::Map(_) => Value::Map(Vec::new()),
        other => return Err(ConnectError::data(format!("Cannot mask value of type: {}", other.type_name()))),
    })
}

/// Kafka's `maskWithCustomReplacement`: the replacement converted to the value's type.
fn replaced(value: &Value, replacement: &str) -> Result<Value> {
    let bad = || ConnectError::data(format!("Unable to convert {replacement} (string) to number"));
    let int = |min: i64, max: i64| -> Result<i64> {
        let v = replacement
            .parse::<i64>()
            .ok()
            .or_else(|| replacement.parse::<f64>().ok().filter(|f| f.is_finite()).map(|f| f as i64))
            .ok_or_else(bad)?;
        if v < min || v > max {
            return Err(bad());
        }
        Ok(v)
    };
    Ok(match value {
        Value::Int8(_) => Value::Int8(int(i8::MIN as i64, i8::MAX as i64)? as i8),
        Value::Int16(_) => Value::Int16(int(i16::MIN as i64, i16::MAX as i64)? as i16),
        Value::Int32(_) => Value::Int32(int(i32::MIN as i64, i32::MAX as i64)? as i32),
        Value::Int64(_) => Value::Int64(int(i64::MIN, i64::MAX)?),
        Value::Float32(_) => Value::Float32(replacement.trim().parse().map_err(|_| bad())?),
        Value::Float64(_) => Value::Float64(replacement.trim().parse().map_err(|_| bad())?),
        Value::String(_) => Value::String(replacement.into()),
        Value::Decimal { scale, .. } => {
            Value::Decimal { unscaled: parse_decimal(replacement, *scale).ok_or_else(bad)?, scale: *scale }
        }
        other => {
            return Err(ConnectError::data(format!(
                "Cannot mask value of type {} with custom replacement.",
                other.type_name()
            )))
        }
    })
}

/// `text` as an unscaled integer at `scale`, if it is a plain decimal that fits exactly.
fn parse_decimal(text: &str, scale: u32) -> Option<i128> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let frac = frac.trim_end_matches('0');
    if int.is_empty() && frac.is_empty() || !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit()) {
        return None;
    }
    if frac.len() > scale as usize {
        return None;
    }
    let padded = format!("{int}{frac}{}", "0".repeat(scale as usize - frac.len()));
    let v: i128 = padded.parse().ok()?;
    Some(if negative { -v } else { v })
}

impl Transform for MaskField {
    fn apply(&self, mut record: SinkRecord) -> Result<Option<SinkRecord>> {
        if self.side.value(&record).is_null() {
            return Ok(Some(record));
        }
        let (schema, value) = self.side.take(&mut record);
        let value = match &schema {
            None => {
                let mut entries = require_map(value, PURPOSE)?;
                for (k, v) in entries.iter_mut() {
                    if k.as_str().is_some_and(|k| self.fields.contains(k)) {
                        *v = self.masked(v)?;
                    }
                }
                Value::Map(entries)
            }
            Some(_) => {
                let value = require_struct(value, PURPOSE)?;
                let values = value
                    .schema
                    .fields
                    .iter()
                    .map(|f| {
                        let v = field_value(&value, f, self.replace_null_with_default);
                        if self.fields.contains(&f.name) {
                            self.masked(&v)
                        } else {
                            Ok(v)
                        }
                    })
                    .collect::<Result<_>>()?;
                Value::Struct(Struct { schema: value.schema, values })
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
    use sluice_api::{Schema, SchemaRef, SchemaType::*};

    fn mask(fields: &str, replacement: Option<&str>) -> MaskField {
        let mut pairs = vec![("fields", fields), ("replace.null.with.default", "false")];
        pairs.extend(replacement.map(|r| ("replacement", r)));
        MaskField::new(&cfg(&pairs), Side::Value).unwrap()
    }

    fn schema() -> SchemaRef {
        struct_schema(&[
            ("magic", prim(Int32)),
            ("bool", prim(Boolean)),
            ("byte", prim(Int8)),
            ("short", prim(Int16)),
            ("int", prim(Int32)),
            ("long", prim(Int64)),
            ("float", prim(Float32)),
            ("double", prim(Float64)),
            ("string", prim(String)),
            ("date", Schema::date().into_ref()),
            ("time", Schema::time().into_ref()),
            ("timestamp", Schema::timestamp().into_ref()),
            ("decimal", Schema::decimal(0).into_ref()),
            ("array", Schema::array(prim(Int32)).into_ref()),
            ("map", Schema::map(prim(String), prim(String)).into_ref()),
            ("withDefault", Schema::new(String).optional().with_default(Value::from("default")).into_ref()),
        ])
    }

    fn values() -> Vec<Value> {
        vec![
            Value::Int32(42),
            Value::Boolean(true),
            Value::Int8(42),
            Value::Int16(42),
            Value::Int32(42),
            Value::Int64(42),
            Value::Float32(42.0),
            Value::Float64(42.0),
            Value::from("hmm"),
            Value::Date(19000),
            Value::Time(1234),
            Value::Timestamp(1_700_000_000_000),
            Value::Decimal { unscaled: 42, scale: 0 },
            Value::Array(vec![Value::Int32(1), Value::Int32(2), Value::Int32(3)]),
            map(&[("what", Value::from("what"))]),
            Value::Null,
        ]
    }

    const ALL_BUT_MAGIC: &str =
        "bool,byte,short,int,long,float,double,string,date,time,timestamp,decimal,array,map,withDefault";

    #[test]
    fn with_schema_masks_to_empty_values() {
        let s = schema();
        let r = mask(ALL_BUT_MAGIC, None).apply(value_record(Some(s.clone()), st(&s, values()))).unwrap().unwrap();
        assert_eq!(r.value_schema, Some(s));
        assert_eq!(
            as_struct(&r.value).values,
            vec![
                Value::Int32(42),
                Value::Boolean(false),
                Value::Int8(0),
                Value::Int16(0),
                Value::Int32(0),
                Value::Int64(0),
                Value::Float32(0.0),
                Value::Float64(0.0),
                Value::from(""),
                Value::Date(0),
                Value::Time(0),
                Value::Timestamp(0),
                Value::Decimal { unscaled: 0, scale: 0 },
                Value::Array(vec![]),
                Value::Map(vec![]),
                Value::Null,
            ]
        );
    }

    #[test]
    fn schemaless_masks_listed_entries_only() {
        let value = map(&[
            ("magic", Value::Int64(42)),
            ("bool", Value::Boolean(true)),
            ("string", Value::from("55.121.20.20")),
        ]);
        let r = mask("bool,string,absent", None).apply(value_record(None, value)).unwrap().unwrap();
        assert_eq!(
            r.value,
            map(&[("magic", Value::Int64(42)), ("bool", Value::Boolean(false)), ("string", Value::from(""))])
        );
    }

    #[test]
    fn replacement_converted_to_field_type() {
        let s = schema();
        let cases = [
            ("short", Value::Int16(123)),
            ("byte", Value::Int8(123)),
            ("int", Value::Int32(123)),
            ("long", Value::Int64(123)),
            ("float", Value::Float32(123.0)),
            ("double", Value::Float64(123.0)),
            ("string", Value::from("123")),
            ("decimal", Value::Decimal { unscaled: 123, scale: 0 }),
        ];
        for (field, expected) in cases {
            let replacement = if field == "decimal" { "123.0" } else { "123" };
            let r =
                mask(field, Some(replacement)).apply(value_record(Some(s.clone()), st(&s, values()))).unwrap().unwrap();
            assert_eq!(get(&r.value, field), &expected, "{field}");
        }
    }

    #[test]
    fn unsupported_and_mismatched_replacements_are_data_errors() {
        let s = schema();
        for field in ["time", "timestamp", "array", "bool"] {
            let err = mask(field, Some("123")).apply(value_record(Some(s.clone()), st(&s, values()))).unwrap_err();
            assert!(err.to_string().starts_with("Cannot mask value of type"), "{field}: {err}");
        }
        for field in ["byte", "short", "int", "long", "float", "double", "decimal"] {
            let err = mask(field, Some("foo")).apply(value_record(Some(s.clone()), st(&s, values()))).unwrap_err();
            assert_eq!(err.to_string(), "Unable to convert foo (string) to number", "{field}");
        }
        let err = mask("byte", Some("300")).apply(value_record(Some(s.clone()), st(&s, values()))).unwrap_err();
        assert!(matches!(err, ConnectError::Data { .. }));
    }

    #[test]
    fn tombstones_pass_through() {
        let s = schema();
        let r = mask("int", None).apply(value_record(Some(s.clone()), Value::Null)).unwrap().unwrap();
        assert_eq!((r.value_schema, r.value), (Some(s), Value::Null));
        assert_eq!(mask("int", None).apply(value_record(None, Value::Null)).unwrap().unwrap().value, Value::Null);
        let err = mask("int", None).apply(value_record(None, Value::Int64(1))).unwrap_err();
        assert_eq!(err.to_string(), "Only Map objects supported in absence of schema for [mask fields], found: int64");
    }

    #[test]
    fn config_errors() {
        let e = MaskField::new(&cfg(&[("fields", "a"), ("replacement", "")]), Side::Value).err().unwrap();
        assert_eq!(e.config_key(), Some("replacement"));
        assert_eq!(MaskField::new(&cfg(&[]), Side::Value).err().unwrap().config_key(), Some("fields"));
    }

    #[test]
    fn decimal_replacement_parsing() {
        assert_eq!(parse_decimal("123.0", 0), Some(123));
        assert_eq!(parse_decimal("-1.5", 2), Some(-150));
        assert_eq!(parse_decimal("0", 3), Some(0));
        assert_eq!(parse_decimal("1.25", 1), None);
        assert_eq!(parse_decimal("x", 1), None);
    }
}
