//! `HoistField$Key` / `HoistField$Value`: wraps the key or value in a struct (or schemaless map)
//! with the single field `field`.

use sluice_api::{ConnectorConfig, Result, Schema, SchemaRef, SinkRecord, Struct, Transform, Value};

use crate::util::{SchemaCache, Side};

pub struct HoistField {
    side: Side,
    field: String,
    schemas: SchemaCache,
}

impl HoistField {
    pub fn new(config: &ConnectorConfig, side: Side) -> Result<Self> {
        Ok(HoistField { side, field: config.required("field")?.to_owned(), schemas: SchemaCache::new() })
    }

    fn wrapper_schema(&self, schema: &SchemaRef) -> Result<SchemaRef> {
        self.schemas.get_or_build(schema, || Ok(Schema::structure([(self.field.clone(), schema.clone())]).into_ref()))
    }
}

impl Transform for HoistField {
    fn apply(&self, mut record: SinkRecord) -> Result<Option<SinkRecord>> {
        let (schema, value) = self.side.take(&mut record);
        let (schema, value) = match schema {
            None => (None, Value::Map(vec![(Value::String(self.field.as_str().into()), value)])),
            Some(schema) => {
                let wrapper = self.wrapper_schema(&schema)?;
                (Some(wrapper.clone()), Value::Struct(Struct { schema: wrapper, values: vec![value] }))
            }
        };
        self.side.set(&mut record, schema, value);
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::*;
    use sluice_api::SchemaType::*;

    #[test]
    fn schemaless_key() {
        let t = HoistField::new(&cfg(&[("field", "magic")]), Side::Key).unwrap();
        let r = t.apply(record(None, Value::Int64(42), None, Value::Null)).unwrap().unwrap();
        assert_eq!(r.key_schema, None);
        assert_eq!(r.key, map(&[("magic", Value::Int64(42))]));
    }

    #[test]
    fn with_schema_key() {
        let t = HoistField::new(&cfg(&[("field", "magic")]), Side::Key).unwrap();
        let r = t.apply(record(Some(prim(Int32)), Value::Int32(42), None, Value::Null)).unwrap().unwrap();
        let expected = struct_schema(&[("magic", prim(Int32))]);
        assert_eq!(r.key_schema, Some(expected.clone()));
        assert_eq!(r.key, st(&expected, vec![Value::Int32(42)]));
    }

    #[test]
    fn null_values_are_wrapped_too() {
        let t = HoistField::new(&cfg(&[("field", "magic")]), Side::Value).unwrap();
        let r = t.apply(value_record(None, Value::Null)).unwrap().unwrap();
        assert_eq!(r.value, map(&[("magic", Value::Null)]));
        let r = t.apply(value_record(Some(opt(Int32)), Value::Null)).unwrap().unwrap();
        assert_eq!(get(&r.value, "magic"), &Value::Null);
        assert_eq!(HoistField::new(&cfg(&[]), Side::Value).err().unwrap().config_key(), Some("field"));
    }
}
