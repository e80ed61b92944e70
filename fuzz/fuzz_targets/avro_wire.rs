//! Confluent-framed Avro records decoded with a registered schema (see `sluice_fuzz`). For a
//! schema the wire plan reads, the result must be apache-avro's own, value or error.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sluice_converters::avro::{AvroFormat, ParsedSchema};
use sluice_converters::registry::{SchemaKind, WireFormat};

static PARSED: OnceLock<Vec<ParsedSchema>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let format = AvroFormat::default();
    let parsed = PARSED.get_or_init(|| sluice_fuzz::parse_all(&format, SchemaKind::Avro, sluice_fuzz::AVRO_SCHEMAS));
    sluice_fuzz::decode_framed(&format, parsed, data);
    let Ok((id, payload)) = sluice_converters::registry::wire::split(data) else { return };
    let schema = &parsed[id as usize % parsed.len()];
    if schema.has_wire_plan() {
        // Debug text: NaN equals NaN there.
        let ours = format!("{:?}", format.decode(schema, payload).map(|v| v.value));
        let reference = format!("{:?}", format.decode_with_apache_avro(schema, payload).map(|v| v.value));
        assert_eq!(ours, reference, "the wire plan and apache-avro disagree");
    }
});
