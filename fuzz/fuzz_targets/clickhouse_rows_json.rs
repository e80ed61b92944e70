//! The ClickHouse sink's JSON lane against its value path: any bytes as a record's JSON text
//! (`SinkRecord::value_json`) make the same rows, byte for byte, as the text decoded by the
//! JSON converter (`SinkRecord::value`), or fail alike; text that is not JSON never makes a
//! row. Each record is pushed twice, so the second push reads with the key layout the first
//! one left (`rows_lane.rs`). The table (`sluice_fuzz::clickhouse_table`) has a column of most
//! types a JSON field lands in.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_api::{SinkRecord, Value};
use sluice_clickhouse::rows::ClickhouseRowBatch;

fuzz_target!(|data: &[u8]| {
    let table = sluice_fuzz::clickhouse_table();
    let text = SinkRecord {
        value_json: Some(bytes::Bytes::copy_from_slice(data)),
        value_datum: None,
        ..SinkRecord::with_value("t", 1, 7, Value::Null)
    };
    let mut from_text = ClickhouseRowBatch::new(&table);
    let got: Vec<_> = (0..2).map(|_| from_text.push_record(&text).map_err(|e| e.to_string())).collect();
    let Ok(value) = sluice_api::json::parse(data) else {
        assert!(got.iter().all(Result::is_err), "a row was made of text that is not JSON");
        return;
    };
    let decoded = SinkRecord::with_value("t", 1, 7, value);
    let mut from_value = ClickhouseRowBatch::new(&table);
    let expected: Vec<_> = (0..2).map(|_| from_value.push_record(&decoded).map_err(|e| e.to_string())).collect();
    assert_eq!(got, expected, "the lane and the value path disagree");
    let (got, expected) = (from_text.into_inserts(), from_value.into_inserts());
    assert_eq!(got.len(), expected.len());
    for (got, expected) in got.iter().zip(&expected) {
        assert_eq!((&got.sql, got.rows, &got.data), (&expected.sql, expected.rows, &expected.data));
    }
});
