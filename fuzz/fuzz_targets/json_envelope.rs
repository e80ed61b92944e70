//! `JsonConverter` with `schemas.enable=true`: any bytes as a `{"schema":…,"payload":…}`
//! envelope, read with both decimal formats. A new converter per input, so no schema cached
//! from an earlier input changes what this one does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_api::{Converter, ConnectorConfig};
use sluice_converters::json::JsonConverter;

fuzz_target!(|data: &[u8]| {
    for decimals in ["BASE64", "NUMERIC"] {
        let config: ConnectorConfig =
            [("schemas.enable", "true"), ("schemas.cache.size", "1"), ("decimal.format", decimals)]
                .into_iter()
                .collect();
        let Ok(converter) = JsonConverter::from_config(&config, false) else {
            panic!("the fuzz target's converter config is valid");
        };
        let result = converter.to_connect("fuzz", &[], Some(data));
        if sluice_fuzz::verbose() {
            eprintln!("{decimals}: {:?}", result.map(|v| v.value));
        }
    }
});
