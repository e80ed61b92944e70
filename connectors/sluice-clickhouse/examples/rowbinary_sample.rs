//! RowBinary samples written by the sink's own encoder, for ClickHouse itself to read back:
//! `tests/integration/test_clickhouse_types_chdb.py` feeds it cases and reads every file with
//! chdb (ClickHouse 26.x in-process).
//!
//! Reads JSON lines on stdin, each
//! `{"structure": "<one column type>", "values": [<tagged value>, …], "out": "<file>"}`,
//! writes one row per value to `out` with [`encode_value`], and prints one JSON line per
//! input line: `{"rows": n}`, or `{"error": "…"}` when a value cannot be written.
//!
//! Tagged values name the Connect value exactly, so JSON's few types do not blur them:
//! `{"null": true}`, `{"bool": true}`, `{"int8": n}` (also `int16`, `int32`, `int64`),
//! `{"float32": x}` and `{"float64": x}` (or `"inf"`, `"-inf"`, `"nan"`), `{"string": "x"}`,
//! `{"bytes_hex": "04d2"}`, `{"decimal": {"unscaled": "-123", "scale": 2}}`,
//! `{"date_days": -25567}`, `{"time_ms": 1000}`, `{"timestamp_ms": -2208988800000}`,
//! `{"array": [v, …]}`, `{"map": [[k, v], …]}`, `{"struct": [["name", v], …]}`.

use std::error::Error;
use std::io::{BufRead, Write};

use serde_json::{json, Value as Json};
use sluice_api::{Schema, SchemaRef, SchemaType, Struct, Value};
use sluice_clickhouse::encode::encode_value;
use sluice_clickhouse::ClickhouseType;

fn main() -> Result<(), Box<dyn Error>> {
    let mut stdout = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let reply = match write_sample(&line) {
            Ok(rows) => json!({ "rows": rows }),
            Err(error) => json!({ "error": error }),
        };
        writeln!(stdout, "{reply}")?;
    }
    Ok(())
}

/// Encodes one case's values into its `out` file; the number of rows written.
fn write_sample(line: &str) -> Result<usize, String> {
    let case: Json = serde_json::from_str(line).map_err(|e| format!("the input line is not JSON: {e}"))?;
    let field = |name: &str| case.get(name).ok_or_else(|| format!("the input line has no `{name}`"));
    let structure = field("structure")?.as_str().ok_or("`structure` is not a string")?;
    let out = field("out")?.as_str().ok_or("`out` is not a string")?;
    let values = field("values")?.as_array().ok_or("`values` is not an array")?;
    let ty = ClickhouseType::parse(structure).map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    for (i, tagged) in values.iter().enumerate() {
        let value = connect_value(tagged).map_err(|e| format!("value {i}: {e}"))?;
        encode_value(&mut buf, &ty, &value).map_err(|e| format!("value {i}: {e}"))?;
    }
    std::fs::write(out, &buf).map_err(|e| format!("{out}: {e}"))?;
    Ok(values.len())
}

/// The Connect value a tagged JSON value stands for.
fn connect_value(tagged: &Json) -> Result<Value, String> {
    let bad = || format!("not a tagged value: {tagged}");
    let (tag, v) = match tagged.as_object() {
        Some(object) if object.len() == 1 => object.iter().next().ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    let int = || v.as_i64().ok_or_else(bad);
    let narrow = |n: i64| i32::try_from(n).map_err(|_| bad());
    let list = || v.as_array().ok_or_else(bad);
    Ok(match tag.as_str() {
        "null" => Value::Null,
        "bool" => Value::Boolean(v.as_bool().ok_or_else(bad)?),
        "int8" => Value::Int8(int()?.try_into().map_err(|_| bad())?),
        "int16" => Value::Int16(int()?.try_into().map_err(|_| bad())?),
        "int32" => Value::Int32(narrow(int()?)?),
        "int64" => Value::Int64(int()?),
        "float32" => Value::Float32(float(v).ok_or_else(bad)? as f32),
        "float64" => Value::Float64(float(v).ok_or_else(bad)?),
        "string" => Value::String(v.as_str().ok_or_else(bad)?.into()),
        "bytes_hex" => Value::Bytes(v.as_str().and_then(from_hex).ok_or_else(bad)?.into()),
        "decimal" => Value::Decimal {
            unscaled: v.get("unscaled").and_then(Json::as_str).and_then(|s| s.parse().ok()).ok_or_else(bad)?,
            scale: v.get("scale").and_then(Json::as_u64).and_then(|s| u32::try_from(s).ok()).ok_or_else(bad)?,
        },
        "date_days" => Value::Date(narrow(int()?)?),
        "time_ms" => Value::Time(narrow(int()?)?),
        "timestamp_ms" => Value::Timestamp(int()?),
        "array" => Value::Array(list()?.iter().map(connect_value).collect::<Result<_, _>>()?),
        "map" => Value::Map(
            list()?
                .iter()
                .map(|pair| match pair.as_array().map(Vec::as_slice) {
                    Some([k, v]) => Ok((connect_value(k)?, connect_value(v)?)),
                    _ => Err(bad()),
                })
                .collect::<Result<_, _>>()?,
        ),
        "struct" => {
            let mut names = Vec::new();
            let mut values = Vec::new();
            for field in list()? {
                match field.as_array().map(Vec::as_slice) {
                    Some([Json::String(name), v]) => {
                        names.push(name.clone());
                        values.push(connect_value(v)?);
                    }
                    _ => return Err(bad()),
                }
            }
            let schema = Schema::structure(names.into_iter().zip(values.iter().map(field_schema))).into_ref();
            Value::Struct(Struct { schema, values })
        }
        _ => return Err(bad()),
    })
}

fn float(v: &Json) -> Option<f64> {
    v.as_f64().or_else(|| v.as_str()?.parse().ok())
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

/// An optional schema of the value's own type; the encoder looks fields up only by name.
fn field_schema(value: &Value) -> SchemaRef {
    let schema = match value {
        Value::Decimal { scale, .. } => Schema::decimal(*scale),
        Value::Date(_) => Schema::date(),
        Value::Time(_) => Schema::time(),
        Value::Timestamp(_) => Schema::timestamp(),
        other => Schema::new(SchemaType::from_connect_name(other.type_name()).unwrap_or(SchemaType::String)),
    };
    schema.optional().into_ref()
}
