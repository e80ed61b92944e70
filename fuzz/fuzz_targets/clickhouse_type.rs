//! ClickHouse type strings as the server reports them (`Nullable(Decimal(18, 4))`, …). A type
//! that parses must print (as the sink's DDL prints it) to text that parses to the same type.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_clickhouse::ClickhouseType;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(ty) = ClickhouseType::parse(text) {
        let _ = ty.is_nullable();
        let printed = ty.to_string();
        match ClickhouseType::parse(&printed) {
            Ok(again) => assert_eq!(again, ty, "{text:?} printed as {printed:?} reads back differently"),
            Err(e) => panic!("{text:?} printed as {printed:?}, which does not parse: {e}"),
        }
    }
});
