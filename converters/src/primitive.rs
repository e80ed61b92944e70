//! Kafka's number and boolean converters (`org.apache.kafka.connect.converters.IntegerConverter`
//! and friends): the bytes Kafka's `IntegerSerializer`, `LongSerializer`, `ShortSerializer`,
//! `FloatSerializer`, `DoubleSerializer` and `BooleanSerializer` write, big-endian.

use sluice_api::{ConnectError, Converter, Header, Result, Schema, SchemaAndValue, SchemaRef, SchemaType, Value};

/// Which primitive a [`PrimitiveConverter`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Primitive {
    Short,
    Integer,
    Long,
    Float,
    Double,
    Boolean,
}

impl Primitive {
    fn width(self) -> usize {
        match self {
            Primitive::Boolean => 1,
            Primitive::Short => 2,
            Primitive::Integer | Primitive::Float => 4,
            Primitive::Long | Primitive::Double => 8,
        }
    }

    fn schema_type(self) -> SchemaType {
        match self {
            Primitive::Short => SchemaType::Int16,
            Primitive::Integer => SchemaType::Int32,
            Primitive::Long => SchemaType::Int64,
            Primitive::Float => SchemaType::Float32,
            Primitive::Double => SchemaType::Float64,
            Primitive::Boolean => SchemaType::Boolean,
        }
    }

    /// The converter's class name without its package, for messages.
    pub fn class(self) -> &'static str {
        match self {
            Primitive::Short => "ShortConverter",
            Primitive::Integer => "IntegerConverter",
            Primitive::Long => "LongConverter",
            Primitive::Float => "FloatConverter",
            Primitive::Double => "DoubleConverter",
            Primitive::Boolean => "BooleanConverter",
        }
    }
}

/// Decodes one fixed-width big-endian primitive; a null payload is a null value.
pub struct PrimitiveConverter {
    kind: Primitive,
    schema: SchemaRef,
}

impl PrimitiveConverter {
    pub fn new(kind: Primitive) -> Self {
        PrimitiveConverter { kind, schema: Schema::new(kind.schema_type()).optional().into_ref() }
    }
}

impl Converter for PrimitiveConverter {
    fn to_connect(&self, topic: &str, _headers: &[Header], data: Option<&[u8]>) -> Result<SchemaAndValue> {
        let schema = Some(self.schema.clone());
        let Some(bytes) = data else {
            return Ok(SchemaAndValue { schema, value: Value::Null });
        };
        if bytes.len() != self.kind.width() {
            return Err(ConnectError::data(format!(
                "{}: a record from topic {topic} has {} byte(s), expected {} (is the producer using the matching \
                 Kafka serializer?)",
                self.kind.class(),
                bytes.len(),
                self.kind.width()
            )));
        }
        let value = match self.kind {
            Primitive::Short => Value::Int16(i16::from_be_bytes([bytes[0], bytes[1]])),
            Primitive::Integer => Value::Int32(i32::from_be_bytes(bytes.try_into().unwrap_or_default())),
            Primitive::Long => Value::Int64(i64::from_be_bytes(bytes.try_into().unwrap_or_default())),
            Primitive::Float => Value::Float32(f32::from_be_bytes(bytes.try_into().unwrap_or_default())),
            Primitive::Double => Value::Float64(f64::from_be_bytes(bytes.try_into().unwrap_or_default())),
            Primitive::Boolean => match bytes[0] {
                0 => Value::Boolean(false),
                1 => Value::Boolean(true),
                other => {
                    return Err(ConnectError::data(format!(
                        "BooleanConverter: a record from topic {topic} holds byte {other:#04x}; expected 0x00 or 0x01."
                    )))
                }
            },
        };
        Ok(SchemaAndValue { schema, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(kind: Primitive, bytes: Option<&[u8]>) -> Result<Value> {
        PrimitiveConverter::new(kind).to_connect("t", &[], bytes).map(|s| s.value)
    }

    #[test]
    fn decodes_what_kafkas_serializers_write() {
        assert_eq!(decode(Primitive::Short, Some(&(-2i16).to_be_bytes())).unwrap(), Value::Int16(-2));
        assert_eq!(decode(Primitive::Integer, Some(&70_000i32.to_be_bytes())).unwrap(), Value::Int32(70_000));
        assert_eq!(decode(Primitive::Long, Some(&(1i64 << 40).to_be_bytes())).unwrap(), Value::Int64(1 << 40));
        assert_eq!(decode(Primitive::Float, Some(&1.5f32.to_be_bytes())).unwrap(), Value::Float32(1.5));
        assert_eq!(decode(Primitive::Double, Some(&(-0.25f64).to_be_bytes())).unwrap(), Value::Float64(-0.25));
        assert_eq!(decode(Primitive::Boolean, Some(&[1])).unwrap(), Value::Boolean(true));
        assert_eq!(decode(Primitive::Long, None).unwrap(), Value::Null);
        let schema = PrimitiveConverter::new(Primitive::Integer).to_connect("t", &[], None).unwrap().schema.unwrap();
        assert_eq!((schema.schema_type, schema.optional), (SchemaType::Int32, true));
    }

    #[test]
    fn wrong_widths_and_bytes_are_record_errors() {
        let err = decode(Primitive::Long, Some(&[0, 1])).unwrap_err().to_string();
        assert!(err.contains("LongConverter") && err.contains("2 byte(s), expected 8"), "{err}");
        assert!(decode(Primitive::Boolean, Some(&[7])).unwrap_err().to_string().contains("0x07"));
    }
}
