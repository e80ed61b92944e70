//! `sluice gen`: a load generator for the sample event (`user_id`, `event_type`, `timestamp`,
//! `session_id`, `device`, all strings), the record the README, the demo and the benchmarks use.
//!
//! It writes a number of records, or for a duration, as fast as it can or at a rate, as
//! schemaless JSON or in Confluent's wire format through a schema registry (Avro, JSON Schema,
//! Protobuf: the schema is registered under `<topic>-value`, as Confluent's serializers do), with
//! no key or the user or session id as key. A progress line with its own rate goes to stderr
//! every second; the last line says how many records went out, how fast.
//!
//! Events are the same on every run (a fixed seed), and each has its own `timestamp` and
//! `session_id`, so a table or file holding them shows every one lost or written twice.
//!
//! The producer is librdkafka's (rdkafka's `ThreadedProducer`, acks=all, idempotence on):
//! sending is a blocking loop on a thread of its own; only registering the schema is async.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use apache_avro::types::Value as AvroValue;
use apache_avro::writer::datum::GenericDatumWriter;
use chrono::{DateTime, SecondsFormat};
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, Value as ProtoValue};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientConfig, ClientContext};

/// The wire format of the values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Schemaless JSON (`value.converter.schemas.enable=false`).
    Json,
    /// Avro in Confluent's wire format (registry required).
    Avro,
    /// JSON Schema in Confluent's wire format (registry required).
    JsonSchema,
    /// Protobuf in Confluent's wire format (registry required).
    Protobuf,
}

/// What each record's key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KeyChoice {
    /// No key: records spread over partitions by librdkafka's partitioner.
    None,
    /// The event's `user_id` as a UTF-8 string (StringConverter).
    UserId,
    /// The event's `session_id` as a UTF-8 string.
    SessionId,
}

/// What to generate, and where.
#[derive(Debug, Clone)]
pub struct GenOptions {
    pub bootstrap: String,
    pub topic: String,
    /// Stop after this many records (with `duration`, whichever comes first).
    pub count: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Records per second; `None` is as fast as the producer goes.
    pub rate: Option<u64>,
    pub format: Format,
    pub registry_url: Option<String>,
    pub key: KeyChoice,
    /// The first event's number: events `start..` (a second run can continue the first).
    pub start: u64,
    /// Extra librdkafka producer settings.
    pub producer: Vec<(String, String)>,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq)]
pub struct GenReport {
    pub records: u64,
    pub bytes: u64,
    pub elapsed: Duration,
}

impl GenReport {
    pub fn records_per_s(&self) -> f64 {
        self.records as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GenError {
    #[error("--format {0:?} needs a schema registry: pass --registry-url (or set SLUICE_REGISTRY_URL)")]
    NoRegistry(Format),
    #[error("neither --count nor --duration was given: say how many records, or for how long")]
    Unbounded,
    #[error("cannot register the schema under subject {subject} at {url}: {message}")]
    Registry { subject: String, url: String, message: String },
    #[error("cannot build the {0} schema: {1}")]
    Schema(&'static str, String),
    #[error("cannot encode event {0}: {1}")]
    Encode(u64, String),
    #[error("Kafka producer: {0}")]
    Kafka(#[from] KafkaError),
    #[error("{failed} of {sent} records were not delivered; first error: {first}")]
    Undelivered { failed: u64, sent: u64, first: String },
}

/// The sample event's schema in each registry format.
const AVRO_SCHEMA: &str = r#"{"type":"record","name":"Event","namespace":"io.sluice.sample","fields":[
{"name":"user_id","type":"string"},{"name":"event_type","type":"string"},{"name":"timestamp","type":"string"},
{"name":"session_id","type":"string"},{"name":"device","type":"string"}]}"#;
const JSON_SCHEMA: &str = r#"{"$schema":"http://json-schema.org/draft-07/schema#","title":"Event","type":"object",
"properties":{"user_id":{"type":"string"},"event_type":{"type":"string"},"timestamp":{"type":"string"},
"session_id":{"type":"string"},"device":{"type":"string"}},
"required":["user_id","event_type","timestamp","session_id","device"],"additionalProperties":false}"#;
const PROTO_SCHEMA: &str = r#"syntax = "proto3";
package io.sluice.sample;

message Event {
  string user_id = 1;
  string event_type = 2;
  string timestamp = 3;
  string session_id = 4;
  string device = 5;
}
"#;

pub const EVENT_TYPES: [&str; 16] = [
    "page_view",
    "click",
    "search",
    "add_to_cart",
    "remove_from_cart",
    "checkout",
    "purchase",
    "refund",
    "signup",
    "login",
    "logout",
    "share",
    "like",
    "comment",
    "video_play",
    "error",
];
const DEVICES: [&str; 4] = ["mobile", "desktop", "tablet", "tv"];
/// 2025-09-18T10:30:00Z, the README's sample timestamp; event `n` is `n` milliseconds later.
const BASE_MS: i64 = 1_758_191_400_000;

/// One sample event, its fields rendered into reused strings.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Event {
    pub user_id: String,
    pub event_type: &'static str,
    pub timestamp: String,
    pub session_id: String,
    pub device: &'static str,
}

impl Event {
    /// Fills `self` with event `n`: the same `n` always gives the same event; timestamps and
    /// session ids differ between events.
    pub fn fill(&mut self, n: u64) {
        let h = mix(n);
        self.user_id.clear();
        let _ = write!(self.user_id, "user_{}", h % 50_000);
        self.event_type = EVENT_TYPES[(h >> 20) as usize % EVENT_TYPES.len()];
        self.device = DEVICES[(h >> 28) as usize % DEVICES.len()];
        self.timestamp.clear();
        let ts = DateTime::from_timestamp_millis(BASE_MS + n as i64).unwrap_or_default();
        let _ = write!(self.timestamp, "{}", ts.to_rfc3339_opts(SecondsFormat::Millis, true));
        self.session_id.clear();
        // The event number, scrambled: distinct for distinct events (mix is a bijection).
        let _ = write!(self.session_id, "sess_{:016x}", mix(n ^ 0x5eed));
    }

    fn fields(&self) -> [(&'static str, &str); 5] {
        [
            ("user_id", &self.user_id),
            ("event_type", self.event_type),
            ("timestamp", &self.timestamp),
            ("session_id", &self.session_id),
            ("device", self.device),
        ]
    }

    /// Appends the event as a JSON object.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        for (i, (name, value)) in self.fields().into_iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            // Names and values are plain ASCII without quotes or backslashes.
            out.extend_from_slice(b"\"");
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b"\":\"");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\"");
        }
        out.push(b'}');
    }
}

/// A bijective 64-bit mix (splitmix64's finalizer).
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Turns events into record values.
enum Encoder {
    Json,
    Avro { schema: Box<apache_avro::Schema>, id: u32 },
    JsonSchema { id: u32 },
    Protobuf { message: MessageDescriptor, id: u32 },
}

impl Encoder {
    async fn new(options: &GenOptions) -> Result<Encoder, GenError> {
        let registry = || options.registry_url.clone().ok_or(GenError::NoRegistry(options.format));
        Ok(match options.format {
            Format::Json => Encoder::Json,
            Format::Avro => {
                let schema =
                    apache_avro::Schema::parse_str(AVRO_SCHEMA).map_err(|e| GenError::Schema("Avro", e.to_string()))?;
                let id = register(&registry()?, &options.topic, AVRO_SCHEMA, "AVRO").await?;
                Encoder::Avro { schema: Box::new(schema), id }
            }
            Format::JsonSchema => {
                Encoder::JsonSchema { id: register(&registry()?, &options.topic, JSON_SCHEMA, "JSON").await? }
            }
            Format::Protobuf => {
                let files = protox::Compiler::with_file_resolver(SingleFile)
                    .open_file("event.proto")
                    .map_err(|e| GenError::Schema("Protobuf", e.to_string()))?
                    .file_descriptor_set();
                let pool = DescriptorPool::from_file_descriptor_set(files)
                    .map_err(|e| GenError::Schema("Protobuf", e.to_string()))?;
                let message = pool
                    .get_message_by_name("io.sluice.sample.Event")
                    .ok_or_else(|| GenError::Schema("Protobuf", "no message io.sluice.sample.Event".into()))?;
                let id = register(&registry()?, &options.topic, PROTO_SCHEMA, "PROTOBUF").await?;
                Encoder::Protobuf { message, id }
            }
        })
    }

    /// Appends event `n`'s value to `out` (cleared first).
    fn encode(&self, n: u64, event: &Event, out: &mut Vec<u8>) -> Result<(), GenError> {
        out.clear();
        let framed = |out: &mut Vec<u8>, id: u32| {
            out.push(0); // Confluent's magic byte
            out.extend_from_slice(&id.to_be_bytes());
        };
        match self {
            Encoder::Json => event.write_json(out),
            Encoder::JsonSchema { id } => {
                framed(out, *id);
                event.write_json(out);
            }
            Encoder::Avro { schema, id } => {
                framed(out, *id);
                let record = AvroValue::Record(
                    event.fields().iter().map(|(k, v)| (k.to_string(), AvroValue::String(v.to_string()))).collect(),
                );
                GenericDatumWriter::builder(schema)
                    .build()
                    .and_then(|writer| writer.write_value(out, record))
                    .map_err(|e| GenError::Encode(n, e.to_string()))?;
            }
            Encoder::Protobuf { message, id } => {
                framed(out, *id);
                out.push(0); // message indexes: [0], the first message of the schema
                let mut m = DynamicMessage::new(message.clone());
                for (name, value) in event.fields() {
                    m.try_set_field_by_name(name, ProtoValue::String(value.to_owned()))
                        .map_err(|e| GenError::Encode(n, e.to_string()))?;
                }
                prost_reflect::prost::Message::encode(&m, out).map_err(|e| GenError::Encode(n, e.to_string()))?;
            }
        }
        Ok(())
    }
}

/// protox's file resolver for the one schema file.
struct SingleFile;

impl protox::file::FileResolver for SingleFile {
    fn open_file(&self, name: &str) -> Result<protox::file::File, protox::Error> {
        if name == "event.proto" {
            protox::file::File::from_source(name, PROTO_SCHEMA)
        } else {
            Err(protox::Error::file_not_found(name))
        }
    }
}

/// Registers `schema` under `<topic>-value` (Confluent's TopicNameStrategy); its id.
async fn register(url: &str, topic: &str, schema: &str, kind: &str) -> Result<u32, GenError> {
    let subject = format!("{topic}-value");
    let endpoint = format!("{}/subjects/{subject}/versions", url.trim_end_matches('/'));
    let fail = |message: String| GenError::Registry { subject: subject.clone(), url: url.to_owned(), message };
    let mut body = serde_json::json!({ "schema": schema });
    if kind != "AVRO" {
        body["schemaType"] = kind.into();
    }
    let response = reqwest::Client::new()
        .post(&endpoint)
        .header("Content-Type", "application/vnd.schemaregistry.v1+json")
        .json(&body)
        .send()
        .await
        .map_err(|e| fail(e.to_string()))?;
    let status = response.status();
    let text = response.text().await.map_err(|e| fail(e.to_string()))?;
    if !status.is_success() {
        return Err(fail(format!("HTTP {status}: {text}")));
    }
    serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v["id"].as_u64())
        .and_then(|id| u32::try_from(id).ok())
        .ok_or_else(|| fail(format!("the answer has no schema id: {text}")))
}

/// Counts deliveries and keeps the first failure.
#[derive(Default)]
struct Deliveries {
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((error, _)) = result {
            self.failed.fetch_add(1, Ordering::Relaxed);
            let mut first = self.first_error.lock().unwrap_or_else(|e| e.into_inner());
            first.get_or_insert_with(|| error.to_string());
        }
    }
}

/// Generates and sends the records; prints progress to stderr every second.
pub async fn run(options: GenOptions) -> Result<GenReport, GenError> {
    if options.count.is_none() && options.duration.is_none() {
        return Err(GenError::Unbounded);
    }
    let encoder = Encoder::new(&options).await?;
    tokio::task::spawn_blocking(move || produce(&options, &encoder))
        .await
        .map_err(|e| GenError::Encode(0, format!("the producing thread failed: {e}")))?
}

fn produce(options: &GenOptions, encoder: &Encoder) -> Result<GenReport, GenError> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &options.bootstrap)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "20")
        .set("batch.size", "1000000")
        .set("compression.type", "lz4");
    for (key, value) in &options.producer {
        config.set(key, value);
    }
    let producer: ThreadedProducer<Deliveries> = config.create_with_context(Deliveries::default())?;

    let started = Instant::now();
    let mut last_report = started;
    let (mut sent, mut bytes, mut reported) = (0u64, 0u64, 0u64);
    let mut event = Event::default();
    let mut value = Vec::with_capacity(256);
    loop {
        if options.count.is_some_and(|c| sent >= c) || options.duration.is_some_and(|d| started.elapsed() >= d) {
            break;
        }
        if let Some(rate) = options.rate.filter(|r| *r > 0) {
            // Ahead of the rate: wait until this record is due.
            let due = Duration::from_secs_f64(sent as f64 / rate as f64);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        let n = options.start + sent;
        event.fill(n);
        encoder.encode(n, &event, &mut value)?;
        let key: Option<&str> = match options.key {
            KeyChoice::None => None,
            KeyChoice::UserId => Some(&event.user_id),
            KeyChoice::SessionId => Some(&event.session_id),
        };
        let mut record: BaseRecord<'_, str, [u8]> = BaseRecord::to(&options.topic).payload(&value[..]);
        if let Some(k) = key {
            record = record.key(k);
        }
        let mut record = Some(record);
        while let Some(r) = record.take() {
            match producer.send(r) {
                Ok(()) => {}
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    // librdkafka's queue is full: wait for deliveries to make room.
                    std::thread::sleep(Duration::from_millis(5));
                    record = Some(r);
                }
                Err((error, _)) => return Err(error.into()),
            }
        }
        sent += 1;
        bytes += value.len() as u64;
        if sent % 1024 == 0 && last_report.elapsed() >= Duration::from_secs(1) {
            let rate = (sent - reported) as f64 / last_report.elapsed().as_secs_f64();
            eprintln!("gen: {sent} records sent, {rate:.0} records/s");
            (last_report, reported) = (Instant::now(), sent);
        }
    }
    producer.flush(Duration::from_secs(120))?;
    let elapsed = started.elapsed();
    let deliveries = producer.context();
    let failed = deliveries.failed.load(Ordering::Relaxed);
    if failed > 0 {
        let first = deliveries.first_error.lock().unwrap_or_else(|e| e.into_inner()).clone().unwrap_or_default();
        return Err(GenError::Undelivered { failed, sent, first });
    }
    Ok(GenReport { records: sent, bytes, elapsed })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_the_same_on_every_run_and_distinct_from_each_other() {
        let (mut a, mut b) = (Event::default(), Event::default());
        a.fill(7);
        b.fill(7);
        assert_eq!(a, b);
        assert_eq!(a.timestamp, "2025-09-18T10:30:00.007Z");
        let mut sessions = std::collections::HashSet::new();
        let mut types = std::collections::HashSet::new();
        for n in 0..10_000 {
            a.fill(n);
            assert!(sessions.insert(a.session_id.clone()), "session id of event {n} repeated");
            types.insert(a.event_type);
        }
        assert_eq!(types.len(), EVENT_TYPES.len());
    }

    #[test]
    fn json_values_parse_and_carry_every_field() {
        let mut e = Event::default();
        e.fill(42);
        let mut out = Vec::new();
        Encoder::Json.encode(42, &e, &mut out).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["user_id"], e.user_id.as_str());
        assert_eq!(v["event_type"], e.event_type);
        assert_eq!(v["timestamp"], e.timestamp.as_str());
        assert_eq!(v["session_id"], e.session_id.as_str());
        assert_eq!(v["device"], e.device);
        assert_eq!(v.as_object().unwrap().len(), 5);
    }

    #[test]
    fn registry_formats_carry_confluents_framing() {
        let mut e = Event::default();
        e.fill(1);
        let schema = apache_avro::Schema::parse_str(AVRO_SCHEMA).unwrap();
        let avro = Encoder::Avro { schema: Box::new(schema.clone()), id: 258 };
        let mut out = Vec::new();
        avro.encode(1, &e, &mut out).unwrap();
        assert_eq!(&out[..5], &[0, 0, 0, 1, 2]);
        let reader = apache_avro::reader::datum::GenericDatumReader::builder(&schema).build().unwrap();
        let decoded = reader.read_value(&mut &out[5..]).unwrap();
        let AvroValue::Record(fields) = decoded else { panic!("not a record: {decoded:?}") };
        assert_eq!(fields[3], ("session_id".to_owned(), AvroValue::String(e.session_id.clone())));

        Encoder::JsonSchema { id: 3 }.encode(1, &e, &mut out).unwrap();
        assert_eq!(&out[..5], &[0, 0, 0, 0, 3]);
        assert!(serde_json::from_slice::<serde_json::Value>(&out[5..]).is_ok());
    }
}
