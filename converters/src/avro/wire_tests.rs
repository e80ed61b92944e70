//! Unit tests of `wire.rs`: the plan against apache-avro, and `read_fields` against the plan.

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
            Avro::Array(vec![Avro::Union(1, Box::new(Avro::String("a".into()))), Avro::Union(0, Box::new(Avro::Null))]),
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
            if extreme { Avro::Union(1, Box::new(place("", Some(-1)))) } else { Avro::Union(0, Box::new(Avro::Null)) },
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

/// Every scalar a flat record's fields are read as ([`WirePlan::read_fields`]).
/// PLAIN's scalar fields, in its order: a record of scalars, which `read_fields` reads.
const FLAT_FIELDS: [&str; 16] =
    ["ok", "tiny", "short", "n", "l", "f", "d", "s", "day", "tod", "tod_us", "at", "at_us", "local", "maybe", "later"];

/// PLAIN with only [`FLAT_FIELDS`].
fn flat_schema() -> String {
    let mut schema: serde_json::Value = serde_json::from_str(PLAIN).unwrap();
    schema["name"] = "Flat".into();
    schema["fields"].as_array_mut().unwrap().retain(|f| FLAT_FIELDS.contains(&f["name"].as_str().unwrap()));
    schema.to_string()
}

fn flat(i: i64, extreme: bool) -> Avro {
    let Avro::Record(fields) = event(i, extreme) else { unreachable!("an event is a record") };
    Avro::Record(FLAT_FIELDS.iter().map(|n| fields.iter().find(|(f, _)| f == n).cloned().unwrap()).collect())
}

/// What `read_fields` gives `payload`, as the struct's values; `None` when it leaves it.
fn read_fields(parsed: &ParsedSchema, payload: &[u8]) -> Option<Vec<Value>> {
    let mut values = Vec::new();
    let read = sluice_api::DatumReader::read_fields(parsed, payload, &mut |k, value| {
        assert_eq!(k, values.len(), "fields come in order");
        values.push(value.to_value().unwrap());
        true
    });
    read.then_some(values)
}

/// `payloads` and every truncation and byte change of the first: `read_fields` reads
/// exactly the datums the plan reads, each field as the plan's value has it.
fn fields_agree_with_the_plan(schema: &str, mut payloads: Vec<Vec<u8>>) {
    let parsed = parse(schema);
    assert!(parsed.flat, "a record of scalars is flat");
    assert!(AvroFormat::datum_reader(&std::sync::Arc::new(parse(schema))).is_some());
    let (payload, good) = (payloads[0].clone(), payloads.len());
    payloads.extend((0..payload.len()).map(|end| payload[..end].to_vec()));
    payloads.push([&payload[..], &[0]].concat());
    for at in 0..payload.len() {
        for byte in [0x00, 0x01, 0x02, 0x7f, 0x80, 0xc3, 0xff] {
            let mut changed = payload.clone();
            changed[at] = byte;
            payloads.push(changed);
        }
    }
    let mut read = 0;
    for bytes in &payloads {
        // Exactly the datums the plan reads, each field as the plan's value has it; the
        // others are decoded (apache-avro decides them).
        let by_plan = parsed.plan.as_ref().unwrap().decode(&parsed.schema, bytes);
        let by_fields = read_fields(&parsed, bytes);
        match (by_plan, by_fields) {
            (Some(Value::Struct(s)), Some(values)) => {
                assert_eq!(format!("{:?}", s.values), format!("{values:?}"), "payload {bytes:02x?}");
                read += 1;
            }
            (None, None) => {}
            (plan, fields) => panic!("payload {bytes:02x?}: the plan read {plan:?}, the fields {fields:?}"),
        }
    }
    // The well-formed ones, and many changed ones (another number, another letter).
    assert!(read > good + (payloads.len() - good) / 8, "{read} of {}", payloads.len());
}

#[test]
fn a_flat_records_fields_are_read_as_its_value_has_them() {
    let flat_schema = flat_schema();
    fields_agree_with_the_plan(
        &flat_schema,
        (0..6).flat_map(|i| [encode(&flat_schema, flat(5 - i, false)), encode(&flat_schema, flat(i, true))]).collect(),
    );
    // Text and small numbers only: the datum is UTF-8 as a whole, and strings are cut from it.
    let texts = r#"{"type":"record","name":"T","fields":[{"name":"a","type":"string"},
        {"name":"b","type":["null","string"]},{"name":"n","type":"long"},{"name":"c","type":"string"}]}"#;
    let text = |a: &str, b: Option<&str>, c: &str| {
        let b = b.map_or(Avro::Union(0, Box::new(Avro::Null)), |b| Avro::Union(1, Box::new(Avro::String(b.into()))));
        let fields = [("a", Avro::String(a.into())), ("b", b), ("n", Avro::Long(5)), ("c", Avro::String(c.into()))];
        encode(texts, record(fields.into()))
    };
    let payloads = vec![text("é€x", Some("ü"), "日本"), text("", None, "plain"), text("a", Some(""), "z")];
    assert!(payloads.iter().all(|p| std::str::from_utf8(p).is_ok()));
    fields_agree_with_the_plan(texts, payloads);
}

#[test]
fn records_with_other_than_scalars_are_not_read_by_field() {
    let parsed = parse(PLAIN);
    assert!(parsed.has_wire_plan() && !parsed.flat);
    assert!(AvroFormat::datum_reader(&std::sync::Arc::new(parse(PLAIN))).is_none());
    assert_eq!(read_fields(&parsed, &encode(PLAIN, event(1, false))), None);
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
