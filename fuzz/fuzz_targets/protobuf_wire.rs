//! Confluent-framed Protobuf records (message indexes, then the message) decoded with a
//! registered schema (see `sluice_fuzz`).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sluice_converters::protobuf::{ParsedProtobuf, ProtobufFormat};
use sluice_converters::registry::SchemaKind;

static PARSED: OnceLock<Vec<ParsedProtobuf>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let format = ProtobufFormat::default();
    let parsed = PARSED
        .get_or_init(|| sluice_fuzz::parse_all(&format, SchemaKind::Protobuf, sluice_fuzz::PROTOBUF_SCHEMAS));
    sluice_fuzz::decode_framed(&format, parsed, data);
});
