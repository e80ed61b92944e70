//! A worker `.properties` file: `read_properties`, then `WorkerConfig::from_map`, as
//! `WorkerConfig::load` does.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use sluice_worker::worker_config::WorkerConfig;

fuzz_target!(|data: &[u8]| {
    let Some(map) = sluice_fuzz::properties(data) else { return };
    // The worker reads the files its config names (keystores, login files, config providers'
    // files). The operator chooses them; the fuzzer must not make it read a device or a
    // process file that never ends, so values naming those are left out.
    if map.values().any(|v| ["dev/", "proc/", "sys/"].iter().any(|p| v.contains(p))) {
        return;
    }
    let result = WorkerConfig::from_map(map, Path::new("/nonexistent/sluice-fuzz"));
    if sluice_fuzz::verbose() {
        eprintln!("{:?}", result.err());
    }
});
