//! Avro values → Connect values.
//!
//! A [`Node`] is built once per schema id, next to the Connect schema (see [`super::schema`]),
//! and records everything decoding needs: which Connect variant each Avro value becomes, the
//! decimal scale, which union branch is `null`. Decoding walks the node together with the Connect
//! schema, so it never reads a name or a parameter and only bumps the refcount of struct schemas.
//! Field defaults (Avro's JSON encoding) are converted by the same node, once, at parse time.

use apache_avro::types::Value as Avro;
use bytes::Bytes;
use serde_json::Value as Json;
use sluice_api::{ConnectError, Result, SchemaRef, Struct, Value};

/// How values at one position of an Avro schema become Connect values.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Boolean,
    /// `int` with `"connect.type": "int8"`.
    Int8,
    /// `int` with `"connect.type": "int16"`.
    Int16,
    Int32,
    /// `long`, and the logical types over `long` that Connect has no type for (`time-micros`,
    /// `timestamp-micros`, `local-timestamp-micros`, the nanosecond ones).
    Int64,
    Float32,
    Float64,
    /// `bytes`, `fixed` and `duration`.
    Bytes,
    /// `string`, enum symbols, `uuid` and `big-decimal`.
    String,
    Decimal {
        scale: u32,
    },
    Date,
    Time,
    /// `timestamp-millis` and `local-timestamp-millis`.
    Timestamp,
    Array(Box<Node>),
    /// An Avro map: string keys.
    Map(Box<Node>),
    /// Kafka Connect's encoding of a map with non-string keys: an array of two-field records,
    /// `key` at `key_at` and `value` at the other position.
    EntryArray {
        key_at: usize,
        key: Box<Node>,
        value: Box<Node>,
    },
    /// A record: one node per field, in order.
    Struct(Box<[Node]>),
    /// `[null, T]` or `[T, null]`: `T`'s node, the Connect schema being `T`'s made optional.
    Optional {
        null_branch: u32,
        inner: Box<Node>,
    },
    /// Any other union: a struct with one field per non-null branch, indexed by Avro branch.
    Union(Box<[Branch]>),
}

/// One branch of a general union.
#[derive(Debug, Clone)]
pub(crate) enum Branch {
    Null,
    /// The branch is the struct field at this index.
    Field(usize, Node),
}

impl Node {
    /// Converts a decoded Avro value written with the schema this node was built from; `schema`
    /// is the Connect schema built with it.
    pub(crate) fn to_connect(&self, schema: &SchemaRef, datum: Avro) -> Result<Value> {
        Ok(match (self, datum) {
            (Node::Boolean, Avro::Boolean(b)) => Value::Boolean(b),
            (Node::Int8, Avro::Int(v)) => Value::Int8(narrow(v, "int8")?),
            (Node::Int16, Avro::Int(v)) => Value::Int16(narrow(v, "int16")?),
            (Node::Int32, Avro::Int(v)) => Value::Int32(v),
            (
                Node::Int64,
                Avro::Long(v)
                | Avro::TimeMicros(v)
                | Avro::TimestampMicros(v)
                | Avro::LocalTimestampMicros(v)
                | Avro::TimestampNanos(v)
                | Avro::LocalTimestampNanos(v),
            ) => Value::Int64(v),
            (Node::Float32, Avro::Float(v)) => Value::Float32(v),
            (Node::Float64, Avro::Double(v)) => Value::Float64(v),
            (Node::Bytes, Avro::Bytes(v) | Avro::Fixed(_, v)) => Value::Bytes(Bytes::from(v)),
            (Node::Bytes, Avro::Duration(d)) => Value::Bytes(Bytes::copy_from_slice(&<[u8; 12]>::from(d))),
            (Node::String, Avro::String(s) | Avro::Enum(_, s)) => Value::String(s.into()),
            (Node::String, Avro::Uuid(u)) => Value::String(u.to_string().into()),
            (Node::String, Avro::BigDecimal(d)) => Value::String(d.to_string().into()),
            (Node::Decimal { scale }, Avro::Decimal(d)) => {
                let bytes = Vec::<u8>::try_from(&d)
                    .map_err(|e| ConnectError::data(format!("Cannot read an Avro decimal: {e}")))?;
                Value::Decimal { unscaled: unscaled(&bytes)?, scale: *scale }
            }
            (Node::Decimal { scale }, Avro::Bytes(v) | Avro::Fixed(_, v)) => {
                Value::Decimal { unscaled: unscaled(&v)?, scale: *scale }
            }
            (Node::Date, Avro::Date(v) | Avro::Int(v)) => Value::Date(v),
            (Node::Time, Avro::TimeMillis(v) | Avro::Int(v)) => Value::Time(v),
            (Node::Timestamp, Avro::TimestampMillis(v) | Avro::LocalTimestampMillis(v) | Avro::Long(v)) => {
                Value::Timestamp(v)
            }
            (Node::Array(items), Avro::Array(values)) => {
                let schema = child(schema.key_schema.as_ref())?;
                Value::Array(values.into_iter().map(|v| items.to_connect(schema, v)).collect::<Result<_>>()?)
            }
            (Node::Map(values), Avro::Map(entries)) => {
                let schema = child(schema.value_schema.as_ref())?;
                // Avro maps carry no order; sort so equal maps always come out equal.
                let mut entries: Vec<(String, Avro)> = entries.into_iter().collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                Value::Map(
                    entries
                        .into_iter()
                        .map(|(k, v)| Ok((Value::String(k.into()), values.to_connect(schema, v)?)))
                        .collect::<Result<_>>()?,
                )
            }
            (Node::EntryArray { key_at, key, value }, Avro::Array(entries)) => {
                let key_schema = child(schema.key_schema.as_ref())?;
                let value_schema = child(schema.value_schema.as_ref())?;
                let mut out = Vec::with_capacity(entries.len());
                for entry in entries {
                    let Avro::Record(fields) = entry else {
                        return Err(mismatch("a map entry record", &entry));
                    };
                    let [a, b]: [(String, Avro); 2] = fields
                        .try_into()
                        .map_err(|_| ConnectError::data("A map entry record must have two fields."))?;
                    let (k, v) = if *key_at == 0 { (a.1, b.1) } else { (b.1, a.1) };
                    out.push((key.to_connect(key_schema, k)?, value.to_connect(value_schema, v)?));
                }
                Value::Map(out)
            }
            (Node::Struct(nodes), Avro::Record(values)) => {
                if values.len() != nodes.len() || schema.fields.len() != nodes.len() {
                    return Err(ConnectError::data(format!(
                        "An Avro record has {} field(s) where the schema has {}.",
                        values.len(),
                        nodes.len()
                    )));
                }
                let values = nodes
                    .iter()
                    .zip(&schema.fields)
                    .zip(values)
                    .map(|((node, field), (_, v))| node.to_connect(&field.schema, v))
                    .collect::<Result<_>>()?;
                Value::Struct(Struct { schema: schema.clone(), values })
            }
            (Node::Optional { null_branch, inner }, Avro::Union(branch, v)) => {
                if branch == *null_branch {
                    Value::Null
                } else {
                    inner.to_connect(schema, *v)?
                }
            }
            (Node::Union(branches), Avro::Union(branch, v)) => match branches.get(branch as usize) {
                Some(Branch::Null) => Value::Null,
                Some(Branch::Field(index, node)) => {
                    let field = schema.fields.get(*index).ok_or_else(|| schema_mismatch("union"))?;
                    let mut values = vec![Value::Null; schema.fields.len()];
                    values[*index] = node.to_connect(&field.schema, *v)?;
                    Value::Struct(Struct { schema: schema.clone(), values })
                }
                None => return Err(ConnectError::data(format!("Union branch {branch} does not exist."))),
            },
            (node, datum) => return Err(mismatch(node.describe(), &datum)),
        })
    }

    /// Converts a default value written in Avro's JSON encoding (`connect.default` uses the same),
    /// `None` when it does not fit the schema. `schema` is the Connect schema the default is for.
    pub(crate) fn default_value(&self, schema: &SchemaRef, json: &Json) -> Option<Value> {
        Some(match (self, json) {
            (Node::Optional { inner, .. }, json) => {
                if json.is_null() {
                    Value::Null
                } else {
                    inner.default_value(schema, json)?
                }
            }
            // A union's default is a value of its first branch.
            (Node::Union(branches), json) => match branches.first()? {
                Branch::Null => json.is_null().then_some(Value::Null)?,
                Branch::Field(index, node) => {
                    let field = schema.fields.get(*index)?;
                    let mut values = vec![Value::Null; schema.fields.len()];
                    values[*index] = node.default_value(&field.schema, json)?;
                    Value::Struct(Struct { schema: schema.clone(), values })
                }
            },
            (_, Json::Null) => schema.optional.then_some(Value::Null)?,
            (Node::Boolean, Json::Bool(b)) => Value::Boolean(*b),
            (Node::Int8, Json::Number(n)) => Value::Int8(n.as_i64()?.try_into().ok()?),
            (Node::Int16, Json::Number(n)) => Value::Int16(n.as_i64()?.try_into().ok()?),
            (Node::Int32, Json::Number(n)) => Value::Int32(n.as_i64()?.try_into().ok()?),
            (Node::Int64, Json::Number(n)) => Value::Int64(n.as_i64()?),
            (Node::Float32, Json::Number(n)) => Value::Float32(n.as_f64()? as f32),
            (Node::Float64, Json::Number(n)) => Value::Float64(n.as_f64()?),
            (Node::Bytes, Json::String(s)) => Value::Bytes(Bytes::from(latin1(s)?)),
            (Node::String, Json::String(s)) => Value::String(s.as_str().into()),
            (Node::Decimal { scale }, Json::String(s)) => {
                Value::Decimal { unscaled: unscaled(&latin1(s)?).ok()?, scale: *scale }
            }
            (Node::Date, Json::Number(n)) => Value::Date(n.as_i64()?.try_into().ok()?),
            (Node::Time, Json::Number(n)) => Value::Time(n.as_i64()?.try_into().ok()?),
            (Node::Timestamp, Json::Number(n)) => Value::Timestamp(n.as_i64()?),
            (Node::Array(items), Json::Array(values)) => {
                let schema = schema.key_schema.as_ref()?;
                Value::Array(values.iter().map(|v| items.default_value(schema, v)).collect::<Option<_>>()?)
            }
            (Node::Map(values), Json::Object(entries)) => {
                let schema = schema.value_schema.as_ref()?;
                Value::Map(
                    entries
                        .iter()
                        .map(|(k, v)| Some((Value::String(k.as_str().into()), values.default_value(schema, v)?)))
                        .collect::<Option<_>>()?,
                )
            }
            (Node::EntryArray { key, value, .. }, Json::Array(entries)) => {
                let key_schema = schema.key_schema.as_ref()?;
                let value_schema = schema.value_schema.as_ref()?;
                Value::Map(
                    entries
                        .iter()
                        .map(|entry| {
                            Some((
                                key.default_value(key_schema, entry.get("key")?)?,
                                value.default_value(value_schema, entry.get("value")?)?,
                            ))
                        })
                        .collect::<Option<_>>()?,
                )
            }
            (Node::Struct(nodes), Json::Object(object)) => {
                let values = nodes
                    .iter()
                    .zip(&schema.fields)
                    .map(|(node, field)| match object.get(&field.name) {
                        Some(v) => node.default_value(&field.schema, v),
                        None => field.schema.default.clone().or_else(|| field.schema.optional.then_some(Value::Null)),
                    })
                    .collect::<Option<_>>()?;
                Value::Struct(Struct { schema: schema.clone(), values })
            }
            _ => return None,
        })
    }

    /// What this node expects, for error messages.
    fn describe(&self) -> &'static str {
        match self {
            Node::Boolean => "a boolean",
            Node::Int8 | Node::Int16 | Node::Int32 => "an int",
            Node::Int64 => "a long",
            Node::Float32 => "a float",
            Node::Float64 => "a double",
            Node::Bytes => "bytes",
            Node::String => "a string",
            Node::Decimal { .. } => "a decimal",
            Node::Date => "a date",
            Node::Time => "a time-millis",
            Node::Timestamp => "a timestamp-millis",
            Node::Array(_) | Node::EntryArray { .. } => "an array",
            Node::Map(_) => "a map",
            Node::Struct(_) => "a record",
            Node::Optional { .. } | Node::Union(_) => "a union",
        }
    }
}

fn narrow<T: TryFrom<i32>>(v: i32, type_name: &str) -> Result<T> {
    T::try_from(v).map_err(|_| ConnectError::data(format!("{v} does not fit the {type_name} the schema declares.")))
}

fn child(schema: Option<&SchemaRef>) -> Result<&SchemaRef> {
    schema.ok_or_else(|| schema_mismatch("container"))
}

fn schema_mismatch(what: &str) -> ConnectError {
    ConnectError::data(format!("The Connect schema of a {what} does not match its Avro schema."))
}

fn mismatch(expected: &str, found: &Avro) -> ConnectError {
    ConnectError::data(format!("Expected {expected} but the Avro datum holds {}.", kind(found)))
}

/// The kind of an Avro value, for error messages (never the value: it may be large or private).
fn kind(value: &Avro) -> &'static str {
    match value {
        Avro::Null => "null",
        Avro::Boolean(_) => "a boolean",
        Avro::Int(_) => "an int",
        Avro::Long(_) => "a long",
        Avro::Float(_) => "a float",
        Avro::Double(_) => "a double",
        Avro::Bytes(_) => "bytes",
        Avro::String(_) => "a string",
        Avro::Fixed(..) => "a fixed",
        Avro::Enum(..) => "an enum symbol",
        Avro::Union(..) => "a union",
        Avro::Array(_) => "an array",
        Avro::Map(_) => "a map",
        Avro::Record(_) => "a record",
        Avro::Date(_) => "a date",
        Avro::Decimal(_) | Avro::BigDecimal(_) => "a decimal",
        Avro::TimeMillis(_) | Avro::TimeMicros(_) => "a time",
        Avro::TimestampMillis(_)
        | Avro::TimestampMicros(_)
        | Avro::TimestampNanos(_)
        | Avro::LocalTimestampMillis(_)
        | Avro::LocalTimestampMicros(_)
        | Avro::LocalTimestampNanos(_) => "a timestamp",
        Avro::Duration(_) => "a duration",
        Avro::Uuid(_) => "a uuid",
    }
}

/// The unscaled value of a decimal: big-endian two's complement, as Avro writes it.
pub(crate) fn unscaled(bytes: &[u8]) -> Result<i128> {
    sluice_api::coerce::unscaled_from_be_bytes(bytes).ok_or_else(|| {
        ConnectError::data(format!(
            "A decimal of {} bytes does not fit the 128 bits Connect decimals have.",
            bytes.len()
        ))
    })
}

/// Avro's JSON encoding of bytes: one character per byte, U+0000 to U+00FF.
fn latin1(s: &str) -> Option<Vec<u8>> {
    s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
}
