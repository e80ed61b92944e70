//! Kafka Connect's `Values` string rendering, shared by Cast (`…:string`) and HeaderFrom
//! (header bytes): numbers as Java prints them (`42.0`, `1.0E10`), decimals as
//! `BigDecimal.toString`, dates in ISO 8601 (UTC), bytes in base64, and containers as
//! `{"a":1}` / `[1,2]`.

use base64::Engine;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use sluice_api::Value;

const MILLIS_PER_DAY: i64 = 86_400_000;

/// The string Kafka's `Values.convertToString` gives for a value (`Null` gives `"null"`).
pub fn connect_string(value: &Value) -> String {
    let mut out = String::new();
    append(&mut out, value, false);
    out
}

/// A header value for a Connect value, as Kafka's `SimpleHeaderConverter` would serialize it;
/// bytes stay raw, null stays null.
pub fn header_bytes(value: &Value) -> Option<Bytes> {
    match value {
        Value::Null => None,
        Value::Bytes(b) => Some(b.clone()),
        other => Some(Bytes::from(connect_string(other))),
    }
}

fn append(out: &mut String, value: &Value, embedded: bool) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int8(v) => out.push_str(&v.to_string()),
        Value::Int16(v) => out.push_str(&v.to_string()),
        Value::Int32(v) => out.push_str(&v.to_string()),
        Value::Int64(v) => out.push_str(&v.to_string()),
        Value::Float32(v) => out.push_str(&java_float(*v as f64, format!("{v}"), format!("{v:e}"))),
        Value::Float64(v) => out.push_str(&java_float(*v, format!("{v}"), format!("{v:e}"))),
        Value::Decimal { unscaled, scale } => out.push_str(&decimal_string(*unscaled, *scale)),
        Value::String(s) if embedded => {
            out.push('"');
            out.push_str(&s.replace('\\', "\\\\").replace('"', "\\\""));
            out.push('"');
        }
        Value::String(s) => out.push_str(s),
        Value::Bytes(b) => {
            let encoded = base64::engine::general_purpose::STANDARD.encode(b);
            if embedded {
                out.push('"');
                out.push_str(&encoded);
                out.push('"');
            } else {
                out.push_str(&encoded);
            }
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                append(out, item, true);
            }
            out.push(']');
        }
        Value::Map(entries) => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                append(out, k, true);
                out.push(':');
                append(out, v, true);
            }
            out.push('}');
        }
        Value::Struct(s) => {
            out.push('{');
            for (i, (name, v)) in s.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                append(out, &Value::String(name.to_owned()), true);
                out.push(':');
                append(out, v, true);
            }
            out.push('}');
        }
        Value::Date(days) => out.push_str(&date_string(*days)),
        Value::Time(ms) => out.push_str(&time_string(*ms)),
        Value::Timestamp(ms) => out.push_str(&timestamp_string(*ms)),
    }
}

/// Java's `Double.toString` / `Float.toString`: plain between 10^-3 and 10^7 with at least one
/// fractional digit, otherwise `d.dddE±n`. `plain` and `sci` are Rust's shortest renderings
/// (`{}` and `{:e}`) of the value at its own precision.
fn java_float(v: f64, plain: String, sci: String) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    let abs = v.abs();
    if abs == 0.0 || (1e-3..1e7).contains(&abs) {
        if plain.contains('.') {
            plain
        } else {
            format!("{plain}.0")
        }
    } else {
        let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
        let mantissa = if mantissa.contains('.') { mantissa.to_owned() } else { format!("{mantissa}.0") };
        format!("{mantissa}E{exponent}")
    }
}

/// Java's `BigDecimal.toString` for `unscaled × 10^-scale`.
pub fn decimal_string(unscaled: i128, scale: u32) -> String {
    let digits = unscaled.unsigned_abs().to_string();
    let sign = if unscaled < 0 { "-" } else { "" };
    let adjusted = digits.len() as i64 - 1 - scale as i64;
    if scale == 0 {
        return format!("{sign}{digits}");
    }
    if adjusted >= -6 {
        let scale = scale as usize;
        if digits.len() > scale {
            let (int, frac) = digits.split_at(digits.len() - scale);
            format!("{sign}{int}.{frac}")
        } else {
            format!("{sign}0.{}{digits}", "0".repeat(scale - digits.len()))
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() { String::new() } else { format!(".{rest}") };
        format!("{sign}{first}{rest}E{adjusted}")
    }
}

fn utc(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
}

/// `yyyy-MM-dd` of a Connect Date (days since the epoch).
pub fn date_string(days: i32) -> String {
    utc(days as i64 * MILLIS_PER_DAY).map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_else(|| days.to_string())
}

/// `HH:mm:ss.SSS'Z'` of a Connect Time (milliseconds since midnight).
pub fn time_string(ms: i32) -> String {
    utc(ms as i64).map(|d| d.format("%H:%M:%S%.3fZ").to_string()).unwrap_or_else(|| ms.to_string())
}

/// `yyyy-MM-dd'T'HH:mm:ss.SSS'Z'` of a Connect Timestamp (milliseconds since the epoch).
pub fn timestamp_string(ms: i64) -> String {
    utc(ms).map(|d| d.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()).unwrap_or_else(|| ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_api::{Schema, SchemaType, Struct};

    #[test]
    fn numbers_render_as_java_does() {
        assert_eq!(connect_string(&Value::Float32(42.0)), "42.0");
        assert_eq!(connect_string(&Value::Float64(1.5)), "1.5");
        assert_eq!(connect_string(&Value::Float64(1e10)), "1.0E10");
        assert_eq!(connect_string(&Value::Float64(1.25e-5)), "1.25E-5");
        assert_eq!(connect_string(&Value::Float64(9.223372036854776E18)), "9.223372036854776E18");
        assert_eq!(connect_string(&Value::Float32(f32::NAN)), "NaN");
        assert_eq!(connect_string(&Value::Int64(-7)), "-7");
    }

    #[test]
    fn decimals_render_as_big_decimal_to_string() {
        assert_eq!(decimal_string(1982, 0), "1982");
        assert_eq!(decimal_string(12345, 2), "123.45");
        assert_eq!(decimal_string(-5, 3), "-0.005");
        assert_eq!(decimal_string(1, 7), "1E-7");
        assert_eq!(decimal_string(1230, 1), "123.0");
    }

    #[test]
    fn logical_types_render_in_iso_8601_utc() {
        assert_eq!(connect_string(&Value::Date(1)), "1970-01-02");
        assert_eq!(connect_string(&Value::Time(3_600_000)), "01:00:00.000Z");
        assert_eq!(connect_string(&Value::Timestamp(86_401_234)), "1970-01-02T00:00:01.234Z");
    }

    #[test]
    fn containers_quote_embedded_strings() {
        let schema = Schema::structure([
            ("a", Schema::new(SchemaType::String).into_ref()),
            ("b", Schema::new(SchemaType::Int32).into_ref()),
        ])
        .into_ref();
        let s = Value::Struct(Struct { schema, values: vec!["x\"y".into(), Value::Int32(1)] });
        assert_eq!(connect_string(&s), r#"{"a":"x\"y","b":1}"#);
        let arr = Value::Array(vec![Value::from("p"), Value::Int64(2)]);
        assert_eq!(connect_string(&arr), r#"["p",2]"#);
        assert_eq!(header_bytes(&Value::from("plain")), Some(Bytes::from_static(b"plain")));
        assert_eq!(header_bytes(&Value::Null), None);
    }
}
