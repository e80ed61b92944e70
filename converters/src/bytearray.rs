//! `ByteArrayConverter`: the payload as bytes, untouched.

use std::sync::LazyLock;

use bytes::Bytes;
use sluice_api::{Converter, Header, Result, Schema, SchemaAndValue, SchemaRef, SchemaType, Value};

/// The schema of every value, made once (not once per record).
static OPTIONAL_BYTES: LazyLock<SchemaRef> = LazyLock::new(|| Schema::new(SchemaType::Bytes).optional().into_ref());

/// Passes bytes through as an optional `bytes` value.
pub struct ByteArrayConverter;

impl Converter for ByteArrayConverter {
    fn to_connect(&self, _topic: &str, _headers: &[Header], data: Option<&[u8]>) -> Result<SchemaAndValue> {
        Ok(SchemaAndValue {
            schema: Some(OPTIONAL_BYTES.clone()),
            value: data.map_or(Value::Null, |b| Value::Bytes(Bytes::copy_from_slice(b))),
        })
    }

    fn accepts_any_bytes(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_bytes_through() {
        let got = ByteArrayConverter.to_connect("t", &[], Some(&[0, 1, 255])).unwrap();
        assert_eq!(got.value, Value::Bytes(Bytes::from_static(&[0, 1, 255])));
        assert_eq!(ByteArrayConverter.to_connect("t", &[], None).unwrap().value, Value::Null);
    }
}
