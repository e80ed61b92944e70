//! `JsonConverter` with `schemas.enable=false`: any bytes as plain JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_api::Converter;
use sluice_converters::json::JsonConverter;

fuzz_target!(|data: &[u8]| {
    let converter = JsonConverter::new(false);
    let result = converter.to_connect("fuzz", &[], Some(data));
    if sluice_fuzz::verbose() {
        eprintln!("{:?}", result.map(|v| v.value));
    }
});
