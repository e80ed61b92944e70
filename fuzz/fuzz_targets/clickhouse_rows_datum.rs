//! The ClickHouse sink's datum lane against its value path: any bytes as the Avro datum of a
//! record of scalars (`SinkRecord::value_datum`) make the same rows, byte for byte, as the datum
//! decoded by the Avro converter (`SinkRecord::value`), or fail alike; a datum that does not
//! decode never makes a row. Each record is pushed twice, so the second push reads with the
//! field → column mapping the first one left (`rows_lane.rs`). The schema has a field of each
//! scalar Avro type, most of them landing in a column of another type.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use sluice_api::{Datum, DatumReader, SinkRecord, Value};
use sluice_clickhouse::rows::ClickhouseRowBatch;
use sluice_clickhouse::ClickhouseTable;
use sluice_converters::avro::AvroFormat;
use sluice_converters::registry::{FetchedSchema, SchemaKind, WireFormat};

const SCHEMA: &str = r#"{"type":"record","name":"Row","namespace":"fuzz.datum","fields":[
    {"name":"s","type":"string"},
    {"name":"lc","type":"string"},
    {"name":"ns","type":["null","string"]},
    {"name":"u8","type":"int"},
    {"name":"i64","type":"long"},
    {"name":"f64","type":"double"},
    {"name":"ni32","type":["int","null"]},
    {"name":"dt","type":"string"},
    {"name":"dt64","type":{"type":"long","logicalType":"timestamp-millis"}},
    {"name":"d","type":{"type":"int","logicalType":"date"}},
    {"name":"d32","type":"string"},
    {"name":"ndt","type":["null",{"type":"long","logicalType":"timestamp-millis"}]},
    {"name":"b","type":"boolean"},
    {"name":"dec","type":"double"},
    {"name":"uuid","type":"string"},
    {"name":"e","type":"string"},
    {"name":"fs","type":"string"},
    {"name":"tiny","type":{"type":"int","connect.type":"int8"}},
    {"name":"f","type":"float"},
    {"name":"at_us","type":{"type":"long","logicalType":"timestamp-micros"}},
    {"name":"tod","type":{"type":"int","logicalType":"time-millis"}}
]}"#;

fn fixtures() -> &'static (ClickhouseTable, Arc<dyn DatumReader>) {
    static FIXTURES: OnceLock<(ClickhouseTable, Arc<dyn DatumReader>)> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let table = sluice_fuzz::clickhouse_table();
        let fetched = FetchedSchema {
            id: 1,
            kind: SchemaKind::Avro,
            text: SCHEMA.to_owned(),
            references: Vec::new(),
            subject: None,
            version: None,
        };
        let parsed = Arc::new(AvroFormat::default().parse(&fetched).expect("the fuzz schema parses"));
        (table, AvroFormat::datum_reader(&parsed).expect("a record of scalars is read by field"))
    })
}

fuzz_target!(|data: &[u8]| {
    let (table, reader) = fixtures();
    let datum = Datum { reader: reader.clone(), data: bytes::Bytes::copy_from_slice(data) };
    let mut record = SinkRecord::with_value("t", 1, 7, Value::Null);
    record.value_schema = Some(reader.schema().clone());
    let decoded = datum.decode();
    record.value_datum = Some(datum);
    let mut from_datum = ClickhouseRowBatch::new(table);
    let got: Vec<_> = (0..2).map(|_| from_datum.push_record(&record).map_err(|e| e.to_string())).collect();
    let Ok(value) = decoded else {
        assert!(got.iter().all(Result::is_err), "a row was made of a datum that does not decode");
        return;
    };
    let mut decoded = SinkRecord::with_value("t", 1, 7, value);
    decoded.value_schema = Some(reader.schema().clone());
    let mut from_value = ClickhouseRowBatch::new(table);
    let expected: Vec<_> = (0..2).map(|_| from_value.push_record(&decoded).map_err(|e| e.to_string())).collect();
    assert_eq!(got, expected, "the lane and the value path disagree");
    let (got, expected) = (from_datum.into_inserts(), from_value.into_inserts());
    assert_eq!(got.len(), expected.len());
    for (got, expected) in got.iter().zip(&expected) {
        assert_eq!((&got.sql, got.rows, &got.data), (&expected.sql, expected.rows, &expected.data));
    }
});
