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

    fn read(&self, schema: &SchemaRef, input: &mut &[u8]) -> Option<Value> {
        Some(match self {
            WirePlan::Boolean => match take(input, 1)? {
                [0] => Value::Boolean(false),
                [1] => Value::Boolean(true),
                _ => return None,
            },
            WirePlan::Int(to) => {
                let v = i32::try_from(long(input)?).ok()?;
                match to {
                    IntAs::Int8 => Value::Int8(i8::try_from(v).ok()?),
                    IntAs::Int16 => Value::Int16(i16::try_from(v).ok()?),
                    IntAs::Int32 => Value::Int32(v),
                    IntAs::Date => Value::Date(v),
                    IntAs::Time => Value::Time(v),
                }
            }
            WirePlan::Long(LongAs::Int64) => Value::Int64(long(input)?),
            WirePlan::Long(LongAs::Timestamp) => Value::Timestamp(long(input)?),
            WirePlan::Float => Value::Float32(f32::from_le_bytes(take(input, 4)?.try_into().ok()?)),
            WirePlan::Double => Value::Float64(f64::from_le_bytes(take(input, 8)?.try_into().ok()?)),
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
mod tests {
    use apache_avro::types::Value as Avro;

    use super::*;
    use crate::avro::tests::{encode, parse, record};
    use crate::avro::{AvroFormat, ParsedSchema};
    use crate::registry::WireFormat;

    /// Every type a plan reads, at the top, nested, optional in both orders, in arrays and maps.
    const PLAIN: &str = r#"{"type":"record","name":"Event","namespace":"test","fields":[
        {"name":"ok","type":"boolean"},
        {"name":"tiny","type":{"type":"int","connect.type":"int8"}},
        {"name":"short","type":{"type":"int","connect.type":"int16"}},
        {"name":"n","type":"int"},
        {"name":"l","type":"long"},
        {"name":"f","type":"float"},
        {"name":"d","type":"double"},
        {"name":"s","type":"string"},
        {"name":"b","type":"bytes"},
        {"name":"day","type":{"type":"int","logicalType":"date"}},
        {"name":"tod","type":{"type":"int","logicalType":"time-millis"}},
        {"name":"tod_us","type":{"type":"long","logicalType":"time-micros"}},
        {"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},
        {"name":"at_us","type":{"type":"long","logicalType":"timestamp-micros"}},
        {"name":"local","type":{"type":"long","logicalType":"local-timestamp-millis"}},
        {"name":"maybe","type":["null","string"],"default":null},
        {"name":"later","type":["long","null"]},
        {"name":"place","type":{"type":"record","name":"Place","fields":[
            {"name":"city","type":"string"},{"name":"zip","type":["null","int"]}]}},
        {"name":"stops","type":{"type":"array","items":"Place"}},
        {"name":"tags","type":{"type":"array","items":["null","string"]}},
        {"name":"counts","type":{"type":"map","values":"long"}},
        {"name":"back","type":["null","Place"],"default":null}
    ]}"#;

    fn place(city: &str, zip: Option<i32>) -> Avro {
        let zip = zip.map_or(Avro::Union(0, Box::new(Avro::Null)), |z| Avro::Union(1, Box::new(Avro::Int(z))));
        record(vec![("city", Avro::String(city.into())), ("zip", zip)])
    }

    fn event(i: i64, extreme: bool) -> Avro {
        let (n, l) = if extreme { (i32::MIN, i64::MAX) } else { (i as i32, -i) };
        record(vec![
            ("ok", Avro::Boolean(i % 2 == 0)),
            ("tiny", Avro::Int(if extreme { -128 } else { 127 })),
            ("short", Avro::Int(if extreme { i16::MIN.into() } else { 300 })),
            ("n", Avro::Int(n)),
            ("l", Avro::Long(l)),
            ("f", Avro::Float(if extreme { f32::MAX } else { 1.5 })),
            ("d", Avro::Double(if extreme { f64::MIN_POSITIVE } else { -2.25 })),
            ("s", Avro::String(if extreme { "é".repeat(40) } else { format!("user_{i}") })),
            ("b", Avro::Bytes(if extreme { vec![0xff; 300] } else { vec![] })),
            ("day", Avro::Date(if extreme { i32::MIN } else { 20_000 })),
            ("tod", Avro::TimeMillis(86_399_999)),
            ("tod_us", Avro::TimeMicros(86_399_999_999)),
            ("at", Avro::TimestampMillis(if extreme { i64::MIN } else { 1_758_189_600_000 + i })),
            ("at_us", Avro::TimestampMicros(1_758_189_600_000_000)),
            ("local", Avro::LocalTimestampMillis(-1)),
            (
                "maybe",
                if i % 3 == 0 {
                    Avro::Union(0, Box::new(Avro::Null))
                } else {
                    Avro::Union(1, Box::new(Avro::String("x".into())))
                },
            ),
            (
                "later",
                if i % 2 == 0 { Avro::Union(0, Box::new(Avro::Long(i))) } else { Avro::Union(1, Box::new(Avro::Null)) },
            ),
            ("place", place("Lyon", Some(69_000))),
            ("stops", Avro::Array((0..i % 4).map(|k| place(&format!("stop {k}"), None)).collect())),
            (
                "tags",
                Avro::Array(vec![
                    Avro::Union(1, Box::new(Avro::String("a".into()))),
                    Avro::Union(0, Box::new(Avro::Null)),
                ]),
            ),
            (
                "counts",
                Avro::Map(
                    [("b".to_owned(), Avro::Long(2)), ("a".to_owned(), Avro::Long(i))]
                        .into_iter()
                        .take(i as usize % 3)
                        .collect(),
                ),
            ),
            (
                "back",
                if extreme {
                    Avro::Union(1, Box::new(place("", Some(-1))))
                } else {
                    Avro::Union(0, Box::new(Avro::Null))
                },
            ),
        ])
    }

    /// What decoding `payload` gives, as text (NaN equals NaN there): the plan's way (falling
    /// back where it must) and apache-avro's.
    fn both_ways(parsed: &ParsedSchema, payload: &[u8]) -> (String, String) {
        let format = AvroFormat::default();
        let show = |r: sluice_api::Result<sluice_api::SchemaAndValue>| format!("{:?}", r.map(|v| v.value));
        (show(format.decode(parsed, payload)), show(format.decode_with_apache_avro(parsed, payload)))
    }

    #[test]
    fn the_plan_reads_what_apache_avro_reads() {
        let parsed = parse(PLAIN);
        assert!(parsed.has_wire_plan(), "every type of the schema has a plan");
        let plan = parsed.plan.as_ref().unwrap();
        for (i, extreme) in (0..6).flat_map(|i| [(i, false), (i, true)]) {
            let payload = encode(PLAIN, event(i, extreme));
            let direct = plan.decode(&parsed.schema, &payload).expect("a well-formed datum is read by the plan");
            let reference = AvroFormat::default().decode_with_apache_avro(&parsed, &payload).unwrap().value;
            assert_eq!(format!("{direct:?}"), format!("{reference:?}"), "event {i} (extreme: {extreme})");
        }
    }

    #[test]
    fn damaged_payloads_decode_or_fail_exactly_as_apache_avro_decides() {
        let parsed = parse(PLAIN);
        let payload = encode(PLAIN, event(5, false));
        let mut damaged: Vec<Vec<u8>> = (0..payload.len()).map(|end| payload[..end].to_vec()).collect();
        damaged.push([&payload[..], &[0]].concat());
        for at in 0..payload.len() {
            for byte in [0x00, 0x01, 0x02, 0x7f, 0x80, 0xc3, 0xff] {
                let mut changed = payload.clone();
                changed[at] = byte;
                damaged.push(changed);
            }
        }
        let mut read_by_the_plan = 0;
        for bytes in &damaged {
            let (ours, reference) = both_ways(&parsed, bytes);
            assert_eq!(ours, reference, "payload {bytes:02x?}");
            read_by_the_plan += usize::from(parsed.plan.as_ref().unwrap().decode(&parsed.schema, bytes).is_some());
        }
        // Most changed bytes still make a datum (another number, another letter): those are
        // the plan's, and they too must agree.
        assert!(read_by_the_plan > damaged.len() / 4, "{read_by_the_plan} of {}", damaged.len());
    }

    #[test]
    fn a_map_key_given_twice_is_left_to_apache_avro() {
        let text = r#"{"type":"map","values":"int"}"#;
        let parsed = parse(text);
        // Two blocks of one entry each, both "k": apache-avro keeps the last.
        let payload = [0x02, 0x02, b'k', 0x02, 0x02, 0x02, b'k', 0x04, 0x00];
        assert_eq!(parsed.plan.as_ref().unwrap().decode(&parsed.schema, &payload), None);
        let (ours, reference) = both_ways(&parsed, &payload);
        assert_eq!(ours, reference);
        assert!(ours.contains("Int32(2)"), "{ours}");
    }

    #[test]
    fn more_items_than_bytes_left_are_left_to_apache_avro() {
        let text = r#"{"type":"array","items":{"type":"record","name":"Empty","fields":[]}}"#;
        let parsed = parse(text);
        let plan = parsed.plan.as_ref().unwrap();
        // A billion records without fields take no bytes: a count apache-avro refuses.
        let huge = [0x80, 0xa8, 0xd6, 0xb9, 0x07, 0x00];
        assert_eq!(plan.decode(&parsed.schema, &huge), None);
        let (ours, reference) = both_ways(&parsed, &huge);
        assert_eq!(ours, reference);
        // Three of them in a payload of two bytes: apache-avro reads them.
        let (ours, reference) = both_ways(&parsed, &[0x06, 0x00]);
        assert_eq!(ours, reference);
        assert!(ours.starts_with("Ok(Array(["), "{ours}");
    }

    #[test]
    fn schemas_with_other_types_have_no_plan() {
        for other in [
            r#"{"type":"enum","name":"E","symbols":["A","B"]}"#,
            r#"{"type":"fixed","name":"F","size":2}"#,
            r#"{"type":"bytes","logicalType":"decimal","precision":5,"scale":1}"#,
            r#"{"type":"string","logicalType":"uuid"}"#,
            r#"["null","int","string"]"#,
            r#"{"type":"array","items":{"type":"record","name":"io.confluent.connect.avro.MapEntry","fields":[
                {"name":"key","type":"int"},{"name":"value","type":"string"}]}}"#,
            r#"{"type":"record","name":"R","fields":[{"name":"e","type":{"type":"enum","name":"E","symbols":["A"]}}]}"#,
        ] {
            assert!(!parse(other).has_wire_plan(), "{other}");
        }
        assert!(parse(r#""string""#).has_wire_plan());
    }

    #[test]
    fn longs_read_as_avro_writes_them() {
        for v in [0i64, 1, -1, 63, -64, 64, 300, -300, i32::MAX as i64, i32::MIN as i64, i64::MAX, i64::MIN] {
            let bytes = encode(r#""long""#, Avro::Long(v));
            let mut input = &bytes[..];
            assert_eq!(long(&mut input), Some(v), "{v}");
            assert!(input.is_empty());
        }
        // Cut short, eleven bytes, a tenth byte beyond the top bit: apache-avro decides.
        assert_eq!(long(&mut &[0x80u8][..]), None);
        assert_eq!(long(&mut &[0xffu8; 11][..]), None);
        assert_eq!(long(&mut &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02][..]), None);
    }
}
