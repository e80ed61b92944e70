//! `StringConverter`: the payload as UTF-8 text.

use std::sync::LazyLock;

use sluice_api::{ConnectError, Converter, Header, Result, Schema, SchemaAndValue, SchemaRef, SchemaType, Value};

/// The schema of every value, made once (not once per record).
static OPTIONAL_STRING: LazyLock<SchemaRef> = LazyLock::new(|| Schema::new(SchemaType::String).optional().into_ref());

/// Decodes UTF-8 bytes into an optional string; invalid UTF-8 is a record-level error.
pub struct StringConverter;

impl Converter for StringConverter {
    fn to_connect(&self, topic: &str, _headers: &[Header], data: Option<&[u8]>) -> Result<SchemaAndValue> {
        let schema = Some(OPTIONAL_STRING.clone());
        let Some(bytes) = data else {
            return Ok(SchemaAndValue { schema, value: Value::Null });
        };
        let text = std::str::from_utf8(bytes).map_err(|e| {
            ConnectError::data(format!("StringConverter: record from topic {topic} is not valid UTF-8 ({e})"))
        })?;
        Ok(SchemaAndValue { schema, value: Value::String(text.into()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_text_and_nulls() {
        let c = StringConverter;
        assert_eq!(c.to_connect("t", &[], Some(b"user_42")).unwrap().value, Value::String("user_42".into()));
        assert_eq!(c.to_connect("t", &[], None).unwrap().value, Value::Null);
        let err = c.to_connect("t", &[], Some(&[0xff, 0xfe])).unwrap_err();
        assert!(matches!(err, ConnectError::Data { .. }), "{err}");
    }
}
