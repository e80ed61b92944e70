//! Decode throughput of the converters on the README's sample event, next to a plain
//! `serde_json` parse of the same JSON bytes (the baseline every JSON consumer pays).
//!
//!     cargo bench -p sluice-converters --bench decode
//!
//! Prints records/s per format and the ratio to the baseline. Single-threaded, in-process: it
//! measures the converters, not Kafka or the network. The Avro numbers include the Connect
//! mapping Sluice does after apache-avro reads the datum; the schema is parsed once, as the
//! registry-backed converter does once per schema id.

use std::hint::black_box;
use std::time::{Duration, Instant};

use apache_avro::types::Value as AvroValue;
use sluice_api::{ConnectorConfig, Converter};
use sluice_converters::avro::AvroFormat;
use sluice_converters::json::JsonConverter;
use sluice_converters::registry::{FetchedSchema, SchemaKind, WireFormat};

const EVENTS: usize = 1_000;

fn event(i: usize) -> (String, String, String, String, String) {
    let kinds = ["purchase", "view", "click", "signup"];
    let devices = ["mobile", "desktop", "tablet"];
    (
        format!("user_{}", i % 97),
        kinds[i % 4].to_owned(),
        format!("2025-09-18T10:{:02}:{:02}Z", (30 + i / 60) % 60, i % 60),
        format!("sess_{i}"),
        devices[i % 3].to_owned(),
    )
}

fn plain_json(i: usize) -> Vec<u8> {
    let (u, k, t, s, d) = event(i);
    format!(r#"{{"user_id":"{u}","event_type":"{k}","timestamp":"{t}","session_id":"{s}","device":"{d}"}}"#)
        .into_bytes()
}

fn envelope_json(i: usize) -> Vec<u8> {
    let schema = r#"{"type":"struct","name":"sluice.Event","optional":false,"fields":[{"field":"user_id","type":"string","optional":false},{"field":"event_type","type":"string","optional":false},{"field":"timestamp","type":"string","optional":false},{"field":"session_id","type":"string","optional":false},{"field":"device","type":"string","optional":true}]}"#;
    let payload = String::from_utf8(plain_json(i)).unwrap();
    format!(r#"{{"schema":{schema},"payload":{payload}}}"#).into_bytes()
}

const AVRO_SCHEMA: &str = r#"{"type":"record","name":"Event","namespace":"sluice","fields":[
    {"name":"user_id","type":"string"},{"name":"event_type","type":"string"},{"name":"timestamp","type":"string"},
    {"name":"session_id","type":"string"},{"name":"device","type":["null","string"],"default":null}]}"#;

// `to_avro_datum` is deprecated in apache-avro 0.22 but is the simplest way to write a test datum.
#[allow(deprecated)]
fn avro_payload(schema: &apache_avro::Schema, i: usize) -> Vec<u8> {
    let (u, k, t, s, d) = event(i);
    let value = AvroValue::Record(vec![
        ("user_id".into(), AvroValue::String(u)),
        ("event_type".into(), AvroValue::String(k)),
        ("timestamp".into(), AvroValue::String(t)),
        ("session_id".into(), AvroValue::String(s)),
        ("device".into(), AvroValue::Union(1, Box::new(AvroValue::String(d)))),
    ]);
    apache_avro::to_avro_datum(schema, value).expect("the sample event fits its schema")
}

/// Runs `decode` over `inputs` for about `budget`, returns records per second.
fn measure(inputs: &[Vec<u8>], budget: Duration, mut decode: impl FnMut(&[u8])) -> f64 {
    for input in inputs {
        decode(input); // warm-up
    }
    let started = Instant::now();
    let mut records = 0u64;
    while started.elapsed() < budget {
        for input in inputs {
            decode(black_box(input));
        }
        records += inputs.len() as u64;
    }
    records as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let budget =
        Duration::from_millis(std::env::var("SLUICE_BENCH_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(2_000));
    let plain: Vec<Vec<u8>> = (0..EVENTS).map(plain_json).collect();
    let envelope: Vec<Vec<u8>> = (0..EVENTS).map(envelope_json).collect();
    let avro_schema = apache_avro::Schema::parse_str(AVRO_SCHEMA).expect("valid Avro schema");
    let avro: Vec<Vec<u8>> = (0..EVENTS).map(|i| avro_payload(&avro_schema, i)).collect();

    let baseline = measure(&plain, budget, |b| {
        black_box(serde_json::from_slice::<serde_json::Value>(b).expect("valid JSON"));
    });

    let with_schemas = JsonConverter::from_config(&ConnectorConfig::default(), false).expect("default config");
    let envelope_rate = measure(&envelope, budget, |b| {
        black_box(with_schemas.to_connect("events", &[], Some(b)).expect("decodes"));
    });

    let schemaless_config: ConnectorConfig =
        ConnectorConfig::new([("schemas.enable".to_owned(), "false".to_owned())].into_iter().collect());
    let schemaless = JsonConverter::from_config(&schemaless_config, false).expect("schemaless config");
    let schemaless_rate = measure(&plain, budget, |b| {
        black_box(schemaless.to_connect("events", &[], Some(b)).expect("decodes"));
    });

    let format = AvroFormat::new(&ConnectorConfig::default()).expect("default config");
    let fetched = FetchedSchema {
        id: 1,
        kind: SchemaKind::Avro,
        text: AVRO_SCHEMA.to_owned(),
        references: Vec::new(),
        subject: Some("events-value".to_owned()),
        version: Some(1),
    };
    let parsed = format.parse(&fetched).expect("schema maps");
    let avro_rate = measure(&avro, budget, |b| {
        black_box(format.decode(&parsed, b).expect("decodes"));
    });

    println!("decode throughput, sample event, one thread ({EVENTS} distinct records, {budget:?} each)");
    println!("{:<44} {:>14} {:>12}", "format", "records/s", "vs serde_json");
    for (name, rate) in [
        ("serde_json::Value parse (baseline)", baseline),
        ("JsonConverter, schemas.enable=true", envelope_rate),
        ("JsonConverter, schemas.enable=false", schemaless_rate),
        ("AvroConverter (Confluent framing removed)", avro_rate),
    ] {
        println!("{name:<44} {rate:>14.0} {:>11.2}x", rate / baseline);
    }
}
