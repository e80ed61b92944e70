//! The worker's `listeners` value (`http://host:port,https://:8443`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_worker::rest::listeners::parse_listeners;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(listeners) = parse_listeners(text) {
        for listener in listeners {
            let _ = listener.bind_address();
            let _ = listener.to_string();
        }
    }
});
