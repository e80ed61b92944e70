//! `JsonConverter` with `schemas.enable=false`: any bytes as plain JSON. Also differential: the
//! converter's check (the JSON lane's) must fail exactly where decoding fails, with the same
//! error, and the lane's field reader, when it reads an object to the end, must see the fields
//! and values decoding gives.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_api::json::{FieldValue, ObjectFields};
use sluice_api::{Converter, Value};
use sluice_converters::json::JsonConverter;

fuzz_target!(|data: &[u8]| {
    let converter = JsonConverter::new(false);
    let result = converter.to_connect("fuzz", &[], Some(data));
    let checked = converter.check_json("fuzz", data);
    assert_eq!(
        checked.map_err(|e| e.to_string()),
        result.as_ref().map(|_| ()).map_err(|e| e.to_string()),
        "check_json and to_connect disagree"
    );
    if let Ok(mut fields) = ObjectFields::new(data) {
        let mut read = Vec::new();
        let complete = loop {
            match fields.next_field() {
                Ok(Some(field)) => read.push(field),
                Ok(None) => break true,
                Err(_) => break false,
            }
        };
        if complete {
            let Ok(decoded) = &result else { panic!("the field reader read an object decoding refuses") };
            let Value::Map(entries) = &decoded.value else { panic!("the field reader read a non-object") };
            assert_eq!(entries.len(), read.len());
            for ((key, value), (name, field)) in entries.iter().zip(&read) {
                assert_eq!(key, &Value::String((*name).into()));
                let expected = match field {
                    FieldValue::Text(text) => Value::String((*text).into()),
                    FieldValue::Scalar(scalar) => scalar.to_value(),
                    FieldValue::Nested(text) => sluice_api::json::parse(text).expect("a nested field decodes"),
                };
                // Compared as bits: NaN cannot occur in JSON, but -0.0 and 0.0 must stay apart.
                assert_eq!(format!("{value:?}"), format!("{expected:?}"), "field {name}");
            }
        }
    }
    if sluice_fuzz::verbose() {
        eprintln!("{:?}", result.map(|v| v.value));
    }
});
