//! Confluent-framed Avro records decoded with a registered schema (see `sluice_fuzz`).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sluice_converters::avro::{AvroFormat, ParsedSchema};
use sluice_converters::registry::SchemaKind;

static PARSED: OnceLock<Vec<ParsedSchema>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let format = AvroFormat::default();
    let parsed = PARSED.get_or_init(|| sluice_fuzz::parse_all(&format, SchemaKind::Avro, sluice_fuzz::AVRO_SCHEMAS));
    sluice_fuzz::decode_framed(&format, parsed, data);
});
