//! The worker's in-process record path for the ClickHouse benchmark's table, one thread:
//! schemaless JSON bytes → `SinkRecord` (the JSON converter) → RowBinary rows
//! (`ClickhouseRowBatch::push_record`) → inserts, then each insert LZ4-compressed as the HTTP
//! client sends it; and the JSON lane the worker takes for schemaless JSON without
//! transforms: text → RowBinary rows straight, no value built and no separate check; and the
//! same events as Avro (the benchmark's Avro topic: five strings) → `SinkRecord` through the
//! Avro converter's decoding, as the registry converter calls it once the schema is fetched. No Kafka,
//! no network: what is left of the worker's CPU per record once consuming and sending are taken
//! away.
//!
//!     cargo bench -p sluice-clickhouse --bench encode
//!
//! Prints records/s and nanoseconds per record for each stage alone and for the whole path.
//! Profile it with `perf record -g target/release/deps/encode-*` (the bench binary); count
//! instructions per record with `tests/bench/instructions.sh` (see [`Budget`]).

#[path = "../../../tests/bench/record_path.rs"]
mod record_path;

use std::hint::black_box;
use std::sync::Arc;

use sluice_api::{ConnectorConfig, Converter, SinkRecord};
use sluice_clickhouse::rows::ClickhouseRowBatch;
use sluice_clickhouse::ClickhouseTable;
use sluice_converters::avro::AvroFormat;
use sluice_converters::json::JsonConverter;
use sluice_converters::registry::{FetchedSchema, SchemaKind, WireFormat};

use record_path::{event, Budget, BATCH};

fn table() -> ClickhouseTable {
    let columns = [
        ("user_id", "String"),
        ("event_type", "String"),
        ("timestamp", "DateTime"),
        ("session_id", "String"),
        ("device", "String"),
        ("_topic", "String"),
        ("_partition", "Int32"),
        ("_offset", "Int64"),
    ];
    ClickhouseTable::from_columns(
        "default",
        "events",
        columns.map(|(c, t)| (c.to_owned(), t.to_owned(), String::new())),
    )
}

fn main() {
    let budget = Budget::from_env();
    let payloads: Vec<Vec<u8>> = (0..BATCH).map(event).collect();
    let config: ConnectorConfig =
        ConnectorConfig::new([("schemas.enable".to_owned(), "false".to_owned())].into_iter().collect());
    let converter = JsonConverter::from_config(&config, false).expect("schemaless config");
    let topic: Arc<str> = "bench-json-1m".into();
    let table = table();

    let decode = |payloads: &[Vec<u8>]| -> Vec<SinkRecord> {
        payloads
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let value = converter.to_connect(&topic, &[], Some(p)).expect("decodes");
                // As the worker's `RecordConverter::convert` builds it: the topic name shared.
                SinkRecord {
                    topic: topic.clone(),
                    partition: (i % 4) as i32,
                    offset: i as i64,
                    timestamp: Some(1_758_189_600_000),
                    key_schema: None,
                    key: sluice_api::Value::Null,
                    value_schema: value.schema,
                    value: value.value,
                    value_json: None,
                    value_datum: None,
                    headers: Vec::new(),
                    original_topic: topic.clone(),
                    original_partition: (i % 4) as i32,
                }
            })
            .collect()
    };
    let records = decode(&payloads);
    let encode = |records: &[SinkRecord]| {
        let mut batch = ClickhouseRowBatch::new(&table).expecting(records.len());
        for r in records {
            batch.push_record(r).expect("encodes");
        }
        batch.into_inserts()
    };
    let inserts = encode(&records);
    let body: usize = inserts.iter().map(|i| i.data.len()).sum();

    // The JSON lane (`SinkTask::reads_json_values`): the converter hands the text on unread,
    // the sink reads rows straight from it (and names what is not JSON).
    // Record `i` of the topic with `value`, the topic name shared, as the worker builds it.
    let record_at = |i: usize, value: sluice_api::Value| {
        let mut record = SinkRecord::with_value(&topic, (i % 4) as i32, i as i64, value);
        (record.topic, record.original_topic) = (topic.clone(), topic.clone());
        record.timestamp = Some(1_758_189_600_000);
        record
    };
    let as_text = |payloads: &[Vec<u8>]| -> Vec<SinkRecord> {
        payloads
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut record = record_at(i, sluice_api::Value::Null);
                record.value_json = Some(bytes::Bytes::copy_from_slice(p));
                record
            })
            .collect()
    };
    let texts = as_text(&payloads);
    let lane_inserts = encode(&texts);
    assert_eq!(
        lane_inserts.iter().map(|i| &i.data).collect::<Vec<_>>(),
        inserts.iter().map(|i| &i.data).collect::<Vec<_>>(),
        "both paths make the same rows"
    );

    // The same events as Confluent's AvroSerializer writes them with the benchmark's schema
    // (`tests/bench/bench_topics.py`): each field a zig-zag length and its bytes.
    let avro_format = AvroFormat::default();
    let avro_fetched = FetchedSchema {
        id: 1,
        kind: SchemaKind::Avro,
        text: r#"{"type":"record","name":"Event","namespace":"io.sluice.bench","fields":[
                {"name":"user_id","type":"string"},{"name":"event_type","type":"string"},
                {"name":"timestamp","type":"string"},{"name":"session_id","type":"string"},
                {"name":"device","type":"string"}]}"#
            .to_owned(),
        references: Vec::new(),
        subject: None,
        version: None,
    };
    let avro_schema = avro_format.parse(&avro_fetched).expect("the benchmark's Avro schema");
    let avro_payloads: Vec<Vec<u8>> = payloads
        .iter()
        .map(|p| {
            let event: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(p).expect("an object");
            let mut out = Vec::new();
            for field in ["user_id", "event_type", "timestamp", "session_id", "device"] {
                let text = event[field].as_str().expect("a string field");
                out.push((text.len() as u8) << 1); // every field is under 64 bytes
                out.extend_from_slice(text.as_bytes());
            }
            out
        })
        .collect();
    let decode_avro = |payloads: &[Vec<u8>]| -> Vec<SinkRecord> {
        payloads
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let value = avro_format.decode(&avro_schema, p).expect("decodes");
                let mut record = record_at(i, value.value);
                record.value_schema = value.schema;
                record
            })
            .collect()
    };
    let avro_inserts = encode(&decode_avro(&avro_payloads));
    assert_eq!(
        avro_inserts.iter().map(|i| &i.data).collect::<Vec<_>>(),
        inserts.iter().map(|i| &i.data).collect::<Vec<_>>(),
        "Avro makes the same rows"
    );

    // The Avro lane (`SinkTask::reads_datums`): the converter hands each datum on with its
    // schema's reader, the sink reads the fields straight into the columns.
    let avro_reader = AvroFormat::datum_reader(&Arc::new(avro_format.parse(&avro_fetched).expect("parses")))
        .expect("a record of strings is read by field");
    let datums: Vec<SinkRecord> = avro_payloads
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut record = record_at(i, sluice_api::Value::Null);
            record.value_schema = Some(avro_reader.schema().clone());
            record.value_datum =
                Some(sluice_api::Datum { reader: avro_reader.clone(), data: bytes::Bytes::copy_from_slice(p) });
            record
        })
        .collect();
    assert_eq!(
        encode(&datums).iter().map(|i| &i.data).collect::<Vec<_>>(),
        inserts.iter().map(|i| &i.data).collect::<Vec<_>>(),
        "the Avro lane makes the same rows"
    );

    let decode_ns = budget.measure("JSON → SinkRecord (converter)", || black_box(decode(&payloads)).len());
    let avro_decode_ns =
        budget.measure("Avro → SinkRecord (converter)", || black_box(decode_avro(&avro_payloads)).len());
    let lane_encode_ns = budget.measure("JSON lane: text → RowBinary (push_record)", || {
        black_box(encode(&texts));
        texts.len()
    });
    let datum_encode_ns = budget.measure("Avro lane: datum → RowBinary (push_record)", || {
        black_box(encode(&datums));
        datums.len()
    });
    let encode_ns = budget.measure("SinkRecord → RowBinary (push_record)", || {
        black_box(encode(&records));
        records.len()
    });
    let compress_ns = budget.measure("LZ4 of the inserts", || {
        for insert in &inserts {
            black_box(lz4_flex::block::compress(&insert.data));
        }
        records.len()
    });
    let whole_ns = budget.measure("the whole path, records dropped", || {
        let records = decode(&payloads);
        for insert in encode(&records) {
            black_box(lz4_flex::block::compress(&insert.data));
        }
        records.len()
    });
    // The records as the worker hands them on (payload bytes shared, not copied) are built
    // outside the timing, like the copies out of the consumer.
    let lane_whole_ns = budget.measure("JSON lane: the whole path (rows, LZ4)", || {
        for insert in encode(&texts) {
            black_box(lz4_flex::block::compress(&insert.data));
        }
        texts.len()
    });

    println!(
        "ClickHouse record path, one thread, batches of {BATCH} benchmark events ({} B of JSON, {} B of RowBinary per record)",
        payloads.iter().map(Vec::len).sum::<usize>() / BATCH,
        body / BATCH
    );
    println!("{:<48} {:>12} {:>10} {:>14}", "stage", "records/s", "ns/record", "CPU-s/M");
    for (name, ns) in
        [decode_ns, avro_decode_ns, encode_ns, compress_ns, whole_ns, lane_encode_ns, lane_whole_ns, datum_encode_ns]
    {
        if let Some(ns) = ns {
            println!("{name:<48} {:>12.0} {ns:>10.0} {:>14.3}", 1e9 / ns, ns / 1000.0);
        }
    }
}
