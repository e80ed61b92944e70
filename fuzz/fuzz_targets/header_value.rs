//! `SimpleHeaderConverter`: any header bytes, read as Kafka's `Values.parseString` reads text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_api::Converter;
use sluice_converters::header::SimpleHeaderConverter;

fuzz_target!(|data: &[u8]| {
    let _ = SimpleHeaderConverter.to_connect("fuzz", &[], Some(data));
});
