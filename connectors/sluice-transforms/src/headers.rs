//! The header transforms: `DropHeaders` (`headers`), `InsertHeader` (`header`,
//! `value.literal`) and `HeaderFrom$Key` / `HeaderFrom$Value` (`fields`, `headers`,
//! `operation` copy|move), which copies or moves fields into headers.
//!
//! Sluice headers are bytes, so a field value becomes a header the way Kafka's
//! `SimpleHeaderConverter` would write it (see [`sluice_api::coerce::header_bytes`]). HeaderFrom
//! passes a null key/value (tombstone) through, where Kafka's fails on it.

use std::collections::HashSet;

use bytes::Bytes;
use sluice_api::coerce::header_bytes;
use sluice_api::{
    ConnectError, ConnectorConfig, Header, Result, SchemaRef, SchemaType, SinkRecord, Struct, Transform, Value,
};

use crate::util::{
    self, copy_basics, field_value, map_get, map_remove, non_empty_list, push_field, require_map, require_struct,
    SchemaCache, Side,
};

/// `DropHeaders`: removes every header whose key is listed in `headers`.
pub struct DropHeaders {
    headers: HashSet<String>,
}

impl DropHeaders {
    pub fn new(config: &ConnectorConfig) -> Result<Self> {
        Ok(DropHeaders { headers: non_empty_list(config, "headers")?.into_iter().collect() })
    }
}

impl Transform for DropHeaders {
    fn apply(&self, mut record: SinkRecord) -> Result<Option<SinkRecord>> {
        record.headers.retain(|h| !self.headers.contains(&h.key));
        Ok(Some(record))
    }
}

/// `InsertHeader`: appends header `header` with the literal `value.literal` to every record.
pub struct InsertHeader {
    header: String,
    value: Bytes,
}

impl InsertHeader {
    pub fn new(config: &ConnectorConfig) -> Result<Self> {
        Ok(InsertHeader {
            header: util::present(config, "header")?.to_owned(),
            value: Bytes::copy_from_slice(util::present(config, "value.literal")?.as_bytes()),
        })
    }
}

impl Transform for InsertHeader {
    fn apply(&self, mut record: SinkRecord) -> Result<Option<SinkRecord>> {
        record.headers.push(Header { key: self.header.clone(), value: Some(self.value.clone()) });
        Ok(Some(record))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    Copy,
    Move,
}

/// `HeaderFrom$Key` / `HeaderFrom$Value`.
pub struct HeaderFrom {
    side: Side,
    fields: Vec<String>,
    headers: Vec<String>,
    operation: Operation,
    replace_null_with_default: bool,
    schemas: SchemaCache,
}

impl HeaderFrom {
    pub fn new(config: &ConnectorConfig, side: Side) -> Result<Self> {
        let fields = non_empty_list(config, "fields")?;
        let headers = non_empty_list(config, "headers")?;
        if fields.len() != headers.len() {
            return Err(ConnectError::config(
                "headers",
                "'fields' config must have the same number of elements as 'headers' config.",
            ));
        }
        let operation = match util::one_of(config, "operation", None, &["move", "copy"])? {
            "move" => Operation::Move,
            _ => Operation::Copy,
        };
        Ok(HeaderFrom {
            side,
            fields,
            headers,
            operation,
            replace_null_with_default: util::replace_null_with_default(config)?,
            schemas: SchemaCache::new(),
        })
    }

    fn purpose(&self) -> &'static str {
        match self.operation {
            Operation::Copy => "header copy",
            Operation::Move => "header move",
        }
    }

    fn moved_schema(&self, schema: &SchemaRef) -> Result<SchemaRef> {
        self.schemas.get_or_build(schema, || {
            let mut out = copy_basics(schema, SchemaType::Struct);
            for field in schema.fields.iter().filter(|f| !self.fields.contains(&f.name)) {
                push_field(&mut out, &field.name, field.schema.clone())?;
            }
            Ok(out.into_ref())
        })
    }
}

impl Transform for HeaderFrom {
    fn apply(&self, mut record: SinkRecord) -> Result<Option<SinkRecord>> {
        if self.side.value(&record).is_null() {
            return Ok(Some(record));
        }
        let (schema, value) = self.side.take(&mut record);
        let mut new_headers = Vec::with_capacity(self.fields.len());
        let (schema, value) = match schema {
            None => {
                let mut entries = require_map(value, self.purpose())?;
                for (field, header) in self.fields.iter().zip(&self.headers) {
                    let v = map_get(&entries, field).cloned().unwrap_or(Value::Null);
                    new_headers.push(Header { key: header.clone(), value: header_bytes(&v) });
                }
                if self.operation == Operation::Move {
                    for field in &self.fields {
                        map_remove(&mut entries, field);
                    }
                }
                (None, Value::Map(entries))
            }
            Some(schema) => {
                let value = require_struct(value, self.purpose())?;
                for (field, header) in self.fields.iter().zip(&self.headers) {
                    let f = value.schema.field(field).ok_or_else(|| {
                        ConnectError::data(format!(
                            "Field {field} is not in the record {}'s schema; HeaderFrom cannot copy it to header {header}.",
                            self.side.noun()
                        ))
                    })?;
                    let v = field_value(&value, f, self.replace_null_with_default);
                    new_headers.push(Header { key: header.clone(), value: header_bytes(&v) });
                }
                match self.operation {
                    Operation::Copy => (Some(schema), Value::Struct(value)),
                    Operation::Move => {
                        let moved = self.moved_schema(&schema)?;
                        let values = moved
                            .fields
                            .iter()
                            .map(|f| {
                                util::struct_get(&value, &f.name, self.replace_null_with_default).unwrap_or(Value::Null)
                            })
                            .collect();
                        (Some(moved.clone()), Value::Struct(Struct { schema: moved, values }))
                    }
                }
            }
        };
        self.side.set(&mut record, schema, value);
        record.headers.extend(new_headers);
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::*;
    use sluice_api::Schema;
    use sluice_api::SchemaType::*;

    fn headers_of(r: &SinkRecord) -> Vec<(&str, Option<&[u8]>)> {
        r.headers.iter().map(|h| (h.key.as_str(), h.value.as_deref())).collect()
    }

    #[test]
    fn drop_headers_removes_all_with_listed_names() {
        let t = DropHeaders::new(&cfg(&[("headers", "dropped, other")])).unwrap();
        let mut r = value_record(None, Value::Null);
        r.headers = vec![header("dropped", "a"), header("kept", "b"), header("other", "c"), header("dropped", "d")];
        let out = t.apply(r).unwrap().unwrap();
        assert_eq!(headers_of(&out), vec![("kept", Some(&b"b"[..]))]);
        assert_eq!(DropHeaders::new(&cfg(&[("headers", "")])).err().unwrap().config_key(), Some("headers"));
    }

    #[test]
    fn insert_header_appends_literal() {
        let t = InsertHeader::new(&cfg(&[("header", "inserted"), ("value.literal", "inserted-value")])).unwrap();
        let mut r = value_record(None, Value::Null);
        r.headers = vec![header("inserted", "existing-value")];
        let out = t.apply(r).unwrap().unwrap();
        assert_eq!(
            headers_of(&out),
            vec![("inserted", Some(&b"existing-value"[..])), ("inserted", Some(&b"inserted-value"[..]))]
        );
        let empty = InsertHeader::new(&cfg(&[("header", "h"), ("value.literal", "")])).unwrap();
        assert_eq!(
            empty.apply(value_record(None, Value::Null)).unwrap().unwrap().headers[0].value.as_deref(),
            Some(&b""[..])
        );
        assert_eq!(InsertHeader::new(&cfg(&[("header", "h")])).err().unwrap().config_key(), Some("value.literal"));
    }

    fn header_from(fields: &str, headers: &str, op: &str, side: Side) -> HeaderFrom {
        HeaderFrom::new(&cfg(&[("fields", fields), ("headers", headers), ("operation", op)]), side).unwrap()
    }

    #[test]
    fn header_from_config_errors() {
        let e = HeaderFrom::new(&cfg(&[("fields", "a,b"), ("headers", "x"), ("operation", "copy")]), Side::Value);
        assert_eq!(e.err().unwrap().config_key(), Some("headers"));
        let e = HeaderFrom::new(&cfg(&[("fields", "a"), ("headers", "x"), ("operation", "steal")]), Side::Value);
        assert_eq!(e.err().unwrap().config_key(), Some("operation"));
    }

    #[test]
    fn copy_and_move_with_schema() {
        let schema = struct_schema(&[("field1", prim(String)), ("field2", prim(String))]);
        let value = st(&schema, vec![Value::from("field1-value"), Value::from("field2-value")]);
        let mut r = value_record(Some(schema.clone()), value.clone());
        r.headers = vec![header("inserted1", "existing-value")];

        let copied = header_from("field1", "inserted1", "copy", Side::Value).apply(r.clone()).unwrap().unwrap();
        assert_eq!(copied.value, value);
        assert_eq!(
            headers_of(&copied),
            vec![("inserted1", Some(&b"existing-value"[..])), ("inserted1", Some(&b"field1-value"[..]))]
        );

        let moved = header_from("field1,field1", "inserted1,inserted2", "move", Side::Value).apply(r).unwrap().unwrap();
        let expected_schema = struct_schema(&[("field2", prim(String))]);
        assert_eq!(moved.value_schema, Some(expected_schema.clone()));
        assert_eq!(moved.value, st(&expected_schema, vec![Value::from("field2-value")]));
        assert_eq!(
            headers_of(&moved)[1..],
            [("inserted1", Some(&b"field1-value"[..])), ("inserted2", Some(&b"field1-value"[..]))]
        );
    }

    #[test]
    fn struct_fields_and_null_defaults() {
        let inner = struct_schema(&[("foo", prim(String))]);
        let with_default = Schema::new(String).optional().with_default(Value::from("default")).into_ref();
        let schema = struct_schema(&[("field1", inner.clone()), ("field2", with_default)]);
        let r = record(
            Some(schema.clone()),
            st(&schema, vec![st(&inner, vec![Value::from("foo-value")]), Value::Null]),
            None,
            Value::Null,
        );
        let keep_null = HeaderFrom::new(
            &cfg(&[
                ("fields", "field1,field2"),
                ("headers", "h1,h2"),
                ("operation", "move"),
                ("replace.null.with.default", "false"),
            ]),
            Side::Key,
        )
        .unwrap();
        let out = keep_null.apply(r.clone()).unwrap().unwrap();
        assert_eq!(headers_of(&out), vec![("h1", Some(&br#"{"foo":"foo-value"}"#[..])), ("h2", None)]);
        assert!(as_struct(&out.key).values.is_empty());
        let fill = header_from("field2", "h2", "copy", Side::Key).apply(r).unwrap().unwrap();
        assert_eq!(headers_of(&fill), vec![("h2", Some(&b"default"[..]))]);
    }

    #[test]
    fn schemaless_copy_and_move() {
        let value = map(&[("field1", Value::from("field1-value")), ("field2", Value::Int64(2))]);
        let moved = header_from("field1,field2,absent", "h1,h2,h3", "move", Side::Value)
            .apply(value_record(None, value.clone()))
            .unwrap()
            .unwrap();
        assert_eq!(moved.value, map(&[]));
        assert_eq!(headers_of(&moved), vec![("h1", Some(&b"field1-value"[..])), ("h2", Some(&b"2"[..])), ("h3", None)]);
        let copied =
            header_from("field2", "h2", "copy", Side::Value).apply(value_record(None, value.clone())).unwrap().unwrap();
        assert_eq!(copied.value, value);
        let err = header_from("f", "h", "copy", Side::Value).apply(value_record(None, Value::from("x"))).unwrap_err();
        assert_eq!(err.to_string(), "Only Map objects supported in absence of schema for [header copy], found: string");
        let tombstone =
            header_from("f", "h", "move", Side::Value).apply(value_record(None, Value::Null)).unwrap().unwrap();
        assert_eq!((tombstone.value, tombstone.headers.len()), (Value::Null, 0));
    }

    #[test]
    fn missing_field_with_schema_is_a_data_error() {
        let schema = struct_schema(&[("a", prim(Int32))]);
        let err = header_from("b", "h", "copy", Side::Value)
            .apply(value_record(Some(schema.clone()), st(&schema, vec![Value::Int32(1)])))
            .unwrap_err();
        assert!(matches!(err, ConnectError::Data { .. }));
    }
}
