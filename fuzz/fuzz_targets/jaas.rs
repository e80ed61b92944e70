//! JAAS text: `sasl.jaas.config` entries and login files with sections.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_worker::jaas::{parse_entries, parse_section};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let entries = parse_entries(text);
    if sluice_fuzz::verbose() {
        eprintln!("{:?}", entries.map(|e| e.len()));
    }
    let _ = parse_section(text, "KafkaClient");
    let _ = parse_section(text, "sluice");
});
