//! Avro binary → Connect values in one pass, for the writer schemas most topics have: records of
//! primitives, the logical types over `int` and `long`, `[null, T]` unions, arrays and maps.
//!
//! Why not apache-avro alone: it decodes into its own value tree first (a `String` for every
//! field name of every record, a reader built per datum), and [`Node::to_connect`] then turns
//! that tree into the Connect value. In the Avro → ClickHouse benchmark that was over a third of
//! the worker's CPU (BENCHMARKS.md). A [`WirePlan`] reads the bytes once into the Connect value.
//!
//! apache-avro stays the reference: a schema with anything else (enums, fixed, decimals, uuids,
//! general unions, Kafka Connect's map entries) gets no plan, and a datum the plan does not read
//! to its very end without a doubt (truncated, a bad length, an int out of range, a boolean
//! byte other than 0 or 1, text that is not UTF-8, a map key given twice, more items than bytes
//! left, bytes left over) is
//! decoded again by apache-avro, so the value or the error is always the one it gives. The
//! tests and the `avro_wire` fuzz target compare both paths.
//!
//! [`Node::to_connect`]: super::value::Node::to_connect

use apache_avro::Schema as AvroSchema;
use bytes::Bytes;
use sluice_api::json::{FieldValue, ScalarValue};
use sluice_api::{CompactString, SchemaRef, Struct, Value};

use super::value::Node;

/// How to read one position of a writer schema straight into its Connect value.
#[derive(Debug, Clone)]
pub(crate) enum WirePlan {
    Boolean,
    /// An `int`, and what Connect makes of it.
    Int(IntAs),
    /// A `long`, and what Connect makes of it.
    Long(LongAs),
    Float,
    Double,
    String,
    Bytes,
    /// A record: one plan per field, in order.
    Record(Box<[WirePlan]>),
    /// `[null, T]` or `[T, null]`.
    Optional {
        null_branch: u64,
        inner: Box<WirePlan>,
    },
    Array(Box<WirePlan>),
    /// String keys, sorted (as `Node::to_connect` sorts them).
    Map(Box<WirePlan>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntAs {
    Int8,
    Int16,
    Int32,
    Date,
    Time,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LongAs {
    Int64,
    Timestamp,
}

impl WirePlan {
    /// The plan for `writer` (self-contained: no references) decoded along `node`; `None` when
    /// anything in it is outside what a plan reads.
    pub(crate) fn new(writer: &AvroSchema, node: &Node) -> Option<WirePlan> {
        use AvroSchema as S;
        Some(match (writer, node) {
            (S::Boolean, Node::Boolean) => WirePlan::Boolean,
            (S::Int, Node::Int8) => WirePlan::Int(IntAs::Int8),
            (S::Int, Node::Int16) => WirePlan::Int(IntAs::Int16),
            (S::Int, Node::Int32) => WirePlan::Int(IntAs::Int32),
            (S::Int | S::Date, Node::Date) => WirePlan::Int(IntAs::Date),
            (S::Int | S::TimeMillis, Node::Time) => WirePlan::Int(IntAs::Time),
            (
                S::Long
                | S::TimeMicros
                | S::TimestampMicros
                | S::LocalTimestampMicros
                | S::TimestampNanos
                | S::LocalTimestampNanos,
                Node::Int64,
            ) => WirePlan::Long(LongAs::Int64),
            (S::Long | S::TimestampMillis | S::LocalTimestampMillis, Node::Timestamp) => {
                WirePlan::Long(LongAs::Timestamp)
            }
            (S::Float, Node::Float32) => WirePlan::Float,
            (S::Double, Node::Float64) => WirePlan::Double,
            (S::String, Node::String) => WirePlan::String,
            (S::Bytes, Node::Bytes) => WirePlan::Bytes,
            (S::Record(record), Node::Struct(nodes)) if record.fields.len() == nodes.len() => WirePlan::Record(
                record
                    .fields
                    .iter()
                    .zip(nodes.iter())
                    .map(|(f, n)| WirePlan::new(&f.schema, n))
                    .collect::<Option<_>>()?,
            ),
            (S::Union(union), Node::Optional { null_branch, inner }) => {
                let variants = union.variants();
                let null_at = variants.iter().position(|v| matches!(v, S::Null))?;
                if variants.len() != 2 || null_at as u32 != *null_branch {
                    return None;
                }
                let inner = WirePlan::new(&variants[1 - null_at], inner)?;
                WirePlan::Optional { null_branch: null_at as u64, inner: Box::new(inner) }
            }
            (S::Array(array), Node::Array(items)) => WirePlan::Array(Box::new(WirePlan::new(&array.items, items)?)),
            (S::Map(map), Node::Map(values)) => WirePlan::Map(Box::new(WirePlan::new(&map.types, values)?)),
            _ => return None,
        })
    }

    /// The Connect value of `payload`, one whole datum of the plan's schema; `None` when it is
    /// not read without a doubt (see the module doc: apache-avro decides then).
    pub(crate) fn decode(&self, schema: &SchemaRef, payload: &[u8]) -> Option<Value> {
        let mut input = payload;
        let value = self.read(schema, &mut input)?;
        input.is_empty().then_some(value)
    }

    /// Whether this is a record whose fields are all scalars or optional scalars (not bytes):
    /// the datums [`WirePlan::read_fields`] reads.
    pub(crate) fn is_flat_record(&self) -> bool {
        let scalar = |plan: &WirePlan| {
            matches!(
                plan,
                WirePlan::Boolean
                    | WirePlan::Int(_)
                    | WirePlan::Long(_)
                    | WirePlan::Float
                    | WirePlan::Double
                    | WirePlan::String
            )
        };
        match self {
            WirePlan::Record(fields) => fields.iter().all(|field| match field {
                WirePlan::Optional { inner, .. } => scalar(inner),
                other => scalar(other),
            }),
            _ => false,
        }
    }

    /// Reads the fields of `payload`, one whole datum of a flat record's plan
    /// ([`Self::is_flat_record`]), calling `field(k, value)` for the `k`-th; each value is
    /// what [`Self::decode`] puts in that field. `false` when `field` said so or the datum is
    /// not read without a doubt (then `decode`, and apache-avro after it, decide).
    pub(crate) fn read_fields<'a>(
        &self,
        payload: &'a [u8],
        field: &mut dyn FnMut(usize, FieldValue<'a>) -> bool,
    ) -> bool {
        let WirePlan::Record(plans) = self else { return false };
        // One UTF-8 check of the whole datum, when it passes (records of text and small
        // numbers), costs less than one per string; strings are then cut from it.
        let whole = std::str::from_utf8(payload).ok();
        let mut input = payload;
        for (k, plan) in plans.iter().enumerate() {
            match plan.field_value(&mut input, whole) {
                Some(value) if field(k, value) => {}
                _ => return false,
            }
        }
        input.is_empty()
    }

    /// A scalar, or optional scalar, as a [`FieldValue`] (strings borrowed from the input);
    /// `None` for other plans, and for what is not read without a doubt. `whole`: the datum
    /// `input` is the end of, when it is UTF-8 as a whole.
    fn field_value<'a>(&self, input: &mut &'a [u8], whole: Option<&'a str>) -> Option<FieldValue<'a>> {
        let scalar = |v| Some(FieldValue::Scalar(v));
        match self {
            WirePlan::Boolean => match take(input, 1)? {
                [0] => scalar(ScalarValue::Boolean(false)),
                [1] => scalar(ScalarValue::Boolean(true)),
                _ => None,
            },
            WirePlan::Int(to) => {
                let v = i32::try_from(long(input)?).ok()?;
                scalar(match to {
                    IntAs::Int8 => ScalarValue::Int8(i8::try_from(v).ok()?),
                    IntAs::Int16 => ScalarValue::Int16(i16::try_from(v).ok()?),
                    IntAs::Int32 => ScalarValue::Int32(v),
                    IntAs::Date => ScalarValue::Date(v),
                    IntAs::Time => ScalarValue::Time(v),
                })
            }
            WirePlan::Long(LongAs::Int64) => scalar(ScalarValue::Int64(long(input)?)),
            WirePlan::Long(LongAs::Timestamp) => scalar(ScalarValue::Timestamp(long(input)?)),
            WirePlan::Float => scalar(ScalarValue::Float32(f32::from_le_bytes(take(input, 4)?.try_into().ok()?))),
            WirePlan::Double => scalar(ScalarValue::Float64(f64::from_le_bytes(take(input, 8)?.try_into().ok()?))),
            WirePlan::String => {
                let len = length(input)?;
                match whole {
                    // Cut on character boundaries of valid text: exactly when the bytes alone
                    // are valid UTF-8.
                    Some(text) => {
                        let start = text.len() - input.len();
                        take(input, len)?;
                        text.get(start..start + len).map(FieldValue::Text)
                    }
                    None => std::str::from_utf8(take(input, len)?).ok().map(FieldValue::Text),
                }
            }
            WirePlan::Optional { null_branch, inner } => match u64::try_from(long(input)?).ok()? {
                branch if branch == *null_branch => scalar(ScalarValue::Null),
                branch if branch < 2 => inner.field_value(input, whole),
                _ => None,
            },
            WirePlan::Bytes | WirePlan::Record(_) | WirePlan::Array(_) | WirePlan::Map(_) => None,
        }
    }

    fn read(&self, schema: &SchemaRef, input: &mut &[u8]) -> Option<Value> {
        Some(match self {
            WirePlan::Boolean | WirePlan::Int(_) | WirePlan::Long(_) | WirePlan::Float | WirePlan::Double => {
                match self.field_value(input, None)? {
                    FieldValue::Scalar(scalar) => scalar.to_value(),
                    _ => return None,
                }
            }
            WirePlan::String => Value::String(text(input)?),
            WirePlan::Bytes => {
                let len = length(input)?;
                Value::Bytes(Bytes::copy_from_slice(take(input, len)?))
            }
            WirePlan::Record(fields) => {
                if schema.fields.len() != fields.len() {
                    return None;
                }
                let mut values = Vec::with_capacity(fields.len());
                for (plan, field) in fields.iter().zip(&schema.fields) {
                    values.push(plan.read(&field.schema, input)?);
                }
                Value::Struct(Struct { schema: schema.clone(), values })
            }
            WirePlan::Optional { null_branch, inner } => match u64::try_from(long(input)?).ok()? {
                branch if branch == *null_branch => Value::Null,
                branch if branch < 2 => inner.read(schema, input)?,
                _ => return None,
            },
            WirePlan::Array(items) => {
                let item_schema = schema.key_schema.as_ref()?;
                let mut values = Vec::new();
                while let Some(count) = block(input)? {
                    // An item takes a byte at least, unless it is a record without fields:
                    // more items than bytes left are left to apache-avro (it bounds the count).
                    if count > input.len() {
                        return None;
                    }
                    values.reserve(count);
                    for _ in 0..count {
                        values.push(items.read(item_schema, input)?);
                    }
                }
                Value::Array(values)
            }
            WirePlan::Map(plan) => {
                let value_schema = schema.value_schema.as_ref()?;
                let mut entries: Vec<(CompactString, Value)> = Vec::new();
                while let Some(count) = block(input)? {
                    // Each entry's key takes a byte at least.
                    if count > input.len() {
                        return None;
                    }
                    entries.reserve(count);
                    for _ in 0..count {
                        let key = text(input)?;
                        entries.push((key, plan.read(value_schema, input)?));
                    }
                }
                entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                // apache-avro keeps the last of a key given twice: it decides.
                if entries.windows(2).any(|w| w[0].0 == w[1].0) {
                    return None;
                }
                Value::Map(entries.into_iter().map(|(k, v)| (Value::String(k), v)).collect())
            }
        })
    }
}

/// The next `n` bytes.
fn take<'a>(input: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if input.len() < n {
        return None;
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Some(head)
}

/// A zig-zag varint `long`: at most ten bytes, the tenth holding only the top bit.
fn long(input: &mut &[u8]) -> Option<i64> {
    let mut n: u64 = 0;
    for (i, &byte) in input.iter().enumerate().take(10) {
        if i == 9 && byte > 1 {
            return None;
        }
        n |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            *input = &input[i + 1..];
            return Some((n >> 1) as i64 ^ -((n & 1) as i64));
        }
    }
    None
}

/// A length: a `long` that is not negative.
fn length(input: &mut &[u8]) -> Option<usize> {
    usize::try_from(long(input)?).ok()
}

/// A string: its length, then UTF-8.
fn text(input: &mut &[u8]) -> Option<CompactString> {
    let len = length(input)?;
    let bytes = take(input, len)?;
    std::str::from_utf8(bytes).ok().map(CompactString::from)
}

/// The count of the next block of an array or map, `None` inside after the last one. A
/// negative count is followed by the block's size in bytes, which is not needed.
fn block(input: &mut &[u8]) -> Option<Option<usize>> {
    match long(input)? {
        0 => Some(None),
        count if count < 0 => {
            long(input)?;
            Some(Some(usize::try_from(count.checked_neg()?).ok()?))
        }
        count => Some(Some(usize::try_from(count).ok()?)),
    }
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
