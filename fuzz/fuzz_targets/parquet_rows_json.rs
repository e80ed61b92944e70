//! The Parquet sink's JSON lane against its value path: the input's lines are the records of
//! one schemaless file. Appended from the fields of their text
//! (`RowBuffer::push_json_fields`, after `ObjectFields::read_all`; text that is not a plain
//! object is parsed and pushed as a value, as the sink does) or from their parsed values
//! (`RowBuffer::push`), they make the same file: the same inferred schema and byte count after
//! every record, the same error for the same record, and the same Arrow batch at the end.
//! Lines that are not JSON are left out of both, as the sink leaves them to the converter.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_api::json::{self, ObjectFields};
use sluice_parquet::columns::RowBuffer;
use sluice_parquet::schema::Compatibility;

fuzz_target!(|data: &[u8]| {
    let mut by_text = RowBuffer::new(None, Compatibility::None);
    let mut by_value = RowBuffer::new(None, Compatibility::None);
    let mut fields = Vec::new();
    for line in data.split(|&b| b == b'\n').take(64) {
        let Ok(value) = json::parse(line) else {
            fields.clear();
            assert!(ObjectFields::read_all(line, &mut fields).is_err(), "fields read from text that is not JSON");
            continue;
        };
        let expected = by_value.push(&value, None).map_err(|e| e.to_string());
        fields.clear();
        let got = match ObjectFields::read_all(line, &mut fields) {
            Ok(()) => by_text.push_json_fields(&fields),
            Err(_) => by_text.push(&value, None),
        };
        assert_eq!(got.map_err(|e| e.to_string()), expected, "the lane and the value path disagree");
        assert_eq!(by_text.rows(), by_value.rows());
        assert_eq!(by_text.buffered_bytes(), by_value.buffered_bytes(), "byte counts differ");
        assert_eq!(by_text.arrow_schema(), by_value.arrow_schema(), "inferred schemas differ");
    }
    let (got, expected) = (by_text.finish(), by_value.finish());
    assert_eq!(got.map_err(|e| e.to_string()), expected.map_err(|e| e.to_string()), "the files differ");
});
