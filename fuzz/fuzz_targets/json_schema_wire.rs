//! Confluent-framed JSON records decoded with a registered JSON Schema (see `sluice_fuzz`).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sluice_converters::json_schema::{JsonSchemaFormat, ParsedJsonSchema};
use sluice_converters::registry::SchemaKind;

static PARSED: OnceLock<Vec<ParsedJsonSchema>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let format = JsonSchemaFormat::default();
    let parsed =
        PARSED.get_or_init(|| sluice_fuzz::parse_all(&format, SchemaKind::Json, sluice_fuzz::JSON_SCHEMAS));
    sluice_fuzz::decode_framed(&format, parsed, data);
});
