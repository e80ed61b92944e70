//! Values as text: the plain text a string column stores, JSON, and Kafka Connect's own
//! rendering (`Values.convertToString`, which Cast and header values use).

use std::borrow::Cow;
use std::fmt::Write as _;

use base64::Engine as _;
use bytes::Bytes;

use super::decimal::decimal_text;
use super::time::{date_text, time_text, timestamp_text};
use crate::value::Value;

/// Appends the text form of `value`, as a `String` column stores it: strings and bytes as
/// they are, scalars as text, arrays/maps/structs as JSON.
pub fn write_text(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::String(s) => out.extend_from_slice(s.as_bytes()),
        Value::Bytes(b) => out.extend_from_slice(b),
        Value::Array(_) | Value::Map(_) | Value::Struct(_) => write_json(value, out),
        Value::Null => {}
        _ => out.extend_from_slice(scalar_text(value).as_bytes()),
    }
}

/// [`write_text`] as bytes, borrowed when the value is a string or bytes already.
pub fn text_bytes(value: &Value) -> Cow<'_, [u8]> {
    match value {
        Value::String(s) => Cow::Borrowed(s.as_bytes()),
        Value::Bytes(b) => Cow::Borrowed(b),
        other => {
            let mut out = Vec::new();
            write_text(other, &mut out);
            Cow::Owned(out)
        }
    }
}

/// Text of a scalar value; dates and times in ISO-8601.
fn scalar_text(value: &Value) -> String {
    match value {
        Value::Boolean(b) => b.to_string(),
        Value::Float32(f) => f.to_string(),
        Value::Float64(f) => f.to_string(),
        Value::Decimal { unscaled, scale } => decimal_text(*unscaled, *scale),
        Value::Date(days) => date_text(*days),
        Value::Time(ms) => time_text(*ms),
        Value::Timestamp(ms) => timestamp_text(*ms),
        other => other.as_i64().map(|v| v.to_string()).unwrap_or_default(),
    }
}

/// Appends `value` as JSON. Bytes become base64 (as Kafka Connect's JsonConverter writes
/// them); dates and timestamps become ISO-8601 strings; decimals exact numbers; NaN and
/// infinities `null`; map keys strings.
pub fn write_json(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::String(s) => write_json_string(s, out),
        Value::Bytes(b) => write_json_string(&base64(b), out),
        Value::Float32(_) | Value::Float64(_) if !value.as_f64().is_some_and(f64::is_finite) => {
            out.extend_from_slice(b"null")
        }
        Value::Date(_) | Value::Time(_) | Value::Timestamp(_) => write_json_string(&scalar_text(value), out),
        Value::Array(_) | Value::Map(_) | Value::Struct(_) => write_container(value, &JSON, out),
        _ => out.extend_from_slice(scalar_text(value).as_bytes()),
    }
}

fn write_json_key(key: &Value, out: &mut Vec<u8>) {
    let mut text = Vec::new();
    write_text(key, &mut text);
    write_json_string(&String::from_utf8_lossy(&text), out);
}

fn write_json_string(s: &str, out: &mut Vec<u8>) {
    let mut escaped = String::with_capacity(s.len() + 2);
    escaped.push('"');
    for c in s.chars() {
        match c {
            '"' => escaped.push_str("\\\""),
            '\\' => escaped.push_str("\\\\"),
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            '\t' => escaped.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(escaped, "\\u{:04x}", c as u32);
            }
            c => escaped.push(c),
        }
    }
    escaped.push('"');
    out.extend_from_slice(escaped.as_bytes());
}

/// The string Kafka's `Values.convertToString` gives for a value (`Null` gives `"null"`):
/// numbers as Java prints them (`42.0`, `1.0E10`), decimals as `BigDecimal.toString`, dates
/// in ISO-8601 (UTC), bytes in base64, and containers as `{"a":1}` / `[1,2]`.
pub fn connect_string(value: &Value) -> String {
    let mut out = Vec::new();
    write_connect(value, false, &mut out);
    // Every piece written is UTF-8 (bytes are base64), so this never replaces anything.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// A header value for a Connect value, as Kafka's `SimpleHeaderConverter` would serialize it;
/// bytes stay raw, null stays null.
pub fn header_bytes(value: &Value) -> Option<Bytes> {
    match value {
        Value::Null => None,
        Value::Bytes(b) => Some(b.clone()),
        other => {
            let mut out = Vec::new();
            write_connect(other, false, &mut out);
            Some(Bytes::from(out))
        }
    }
}

/// Kafka's `Values.append`: inside a container (`embedded`), strings and bytes are quoted.
fn write_connect(value: &Value, embedded: bool, out: &mut Vec<u8>) {
    let text = match value {
        Value::Null => "null".to_owned(),
        Value::Float32(v) => java_float(f64::from(*v), format!("{v}"), format!("{v:e}")),
        Value::Float64(v) => java_float(*v, format!("{v}"), format!("{v:e}")),
        Value::Decimal { unscaled, scale } => big_decimal_text(*unscaled, *scale),
        Value::String(s) if embedded => return write_connect_quoted(s, out),
        Value::String(s) => return out.extend_from_slice(s.as_bytes()),
        Value::Bytes(b) if embedded => return write_connect_quoted(&base64(b), out),
        Value::Bytes(b) => base64(b),
        Value::Array(_) | Value::Map(_) | Value::Struct(_) => return write_container(value, &CONNECT, out),
        Value::Time(ms) => format!("{}Z", time_text(*ms)),
        other => scalar_text(other),
    };
    out.extend_from_slice(text.as_bytes());
}

fn write_connect_item(value: &Value, out: &mut Vec<u8>) {
    write_connect(value, true, out);
}

/// A string inside a Connect container: quoted, with only `\` and `"` escaped (as Kafka does).
fn write_connect_quoted(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    out.extend_from_slice(s.replace('\\', "\\\\").replace('"', "\\\"").as_bytes());
    out.push(b'"');
}

/// How containers are spelled: JSON and Connect's text share the brackets, commas and colons
/// and differ in how names, keys and elements are written.
struct Syntax {
    /// A struct field name.
    name: fn(&str, &mut Vec<u8>),
    /// A map key.
    key: fn(&Value, &mut Vec<u8>),
    /// An array element, map value or field value.
    item: fn(&Value, &mut Vec<u8>),
}

const JSON: Syntax = Syntax { name: write_json_string, key: write_json_key, item: write_json };
const CONNECT: Syntax = Syntax { name: write_connect_quoted, key: write_connect_item, item: write_connect_item };

/// Writes an array as `[a,b]` and a map or struct as `{k:v}`; other values write nothing.
fn write_container(value: &Value, syntax: &Syntax, out: &mut Vec<u8>) {
    match value {
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                (syntax.item)(item, out);
            }
            out.push(b']');
        }
        Value::Map(entries) => write_entries(entries.iter().map(|(k, v)| (k, v)), syntax.key, syntax.item, out),
        Value::Struct(s) => write_entries(s.iter(), syntax.name, syntax.item, out),
        _ => {}
    }
}

fn write_entries<'a, K>(
    entries: impl Iterator<Item = (K, &'a Value)>,
    key: fn(K, &mut Vec<u8>),
    item: fn(&Value, &mut Vec<u8>),
    out: &mut Vec<u8>,
) {
    out.push(b'{');
    for (i, (k, v)) in entries.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        key(k, out);
        out.push(b':');
        item(v, out);
    }
    out.push(b'}');
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
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

/// Java's `BigDecimal.toString`: plain digits unless the exponent is below -6, then `1.5E-7`.
fn big_decimal_text(unscaled: i128, scale: u32) -> String {
    let digits = unscaled.unsigned_abs().to_string();
    let adjusted = digits.len() as i64 - 1 - i64::from(scale);
    if scale == 0 || adjusted >= -6 {
        return decimal_text(unscaled, scale);
    }
    let sign = if unscaled < 0 { "-" } else { "" };
    let (first, rest) = digits.split_at(1);
    let rest = if rest.is_empty() { String::new() } else { format!(".{rest}") };
    format!("{sign}{first}{rest}E{adjusted}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Schema, SchemaType, Struct};

    fn text(v: &Value) -> String {
        let mut out = Vec::new();
        write_text(v, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text_bytes(v), text.as_bytes());
        text
    }

    #[test]
    fn text_renders_scalars_and_json_for_nested_values() {
        assert_eq!(text(&Value::Int32(-7)), "-7");
        assert_eq!(text(&"s".into()), "s");
        assert!(matches!(text_bytes(&"s".into()), Cow::Borrowed(b"s")));
        assert_eq!(text(&Value::Null), "");
        assert_eq!(text(&Value::Boolean(true)), "true");
        assert_eq!(text(&Value::Float64(1.5)), "1.5");
        assert_eq!(text(&Value::Date(20_349)), "2025-09-18");
        assert_eq!(text(&Value::Timestamp(1_758_191_400_000)), "2025-09-18T10:30:00.000Z");
        let map = Value::Map(vec![
            ("a".into(), Value::Array(vec![Value::Int64(1), Value::Null])),
            ("q\"".into(), Value::Decimal { unscaled: 105, scale: 2 }),
        ]);
        assert_eq!(text(&map), r#"{"a":[1,null],"q\"":1.05}"#);
        let schema = Schema::structure([("n", Schema::new(SchemaType::Bytes).into_ref())]).into_ref();
        let st = Value::Struct(Struct { schema, values: vec![Value::Bytes(b"hi".to_vec().into())] });
        assert_eq!(text(&st), r#"{"n":"aGk="}"#);
    }

    #[test]
    fn json_quotes_every_scalar_that_is_not_a_json_number() {
        let json = |v: &Value| {
            let mut out = Vec::new();
            write_json(v, &mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(json(&"a\nb\u{1}".into()), r#""a\nb\u0001""#);
        assert_eq!(json(&Value::Time(1_500)), r#""00:00:01.500""#);
        assert_eq!(json(&Value::Float32(f32::INFINITY)), "null");
        assert_eq!(json(&Value::Decimal { unscaled: -5, scale: 1 }), "-0.5");
        assert_eq!(json(&Value::Map(vec![(Value::Int32(1), Value::Null)])), r#"{"1":null}"#);
        assert_eq!(json(&Value::Null), "null");
    }

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
        assert_eq!(big_decimal_text(1982, 0), "1982");
        assert_eq!(big_decimal_text(12345, 2), "123.45");
        assert_eq!(big_decimal_text(-5, 3), "-0.005");
        assert_eq!(big_decimal_text(1, 7), "1E-7");
        assert_eq!(big_decimal_text(1230, 1), "123.0");
        assert_eq!(big_decimal_text(-125, 9), "-1.25E-7");
        assert_eq!(big_decimal_text(0, 7), "0E-7");
        assert_eq!(big_decimal_text(0, 2), "0.00");
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
        let map = Value::Map(vec![(Value::Int32(1), Value::Bytes(b"hi".to_vec().into()))]);
        assert_eq!(connect_string(&map), r#"{1:"aGk="}"#);
        assert_eq!(connect_string(&Value::Bytes(b"hi".to_vec().into())), "aGk=");
        assert_eq!(connect_string(&Value::Null), "null");
        assert_eq!(header_bytes(&Value::from("plain")), Some(Bytes::from_static(b"plain")));
        assert_eq!(header_bytes(&Value::Int32(5)), Some(Bytes::from_static(b"5")));
        assert_eq!(header_bytes(&Value::Null), None);
    }
}
