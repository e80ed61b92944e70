//! Rows straight from JSON text ([`SinkRecord::value_json`](sluice_api::SinkRecord)): the
//! record's object is read key by key and each field is encoded into its column as it is read,
//! without building the record's value. The rows are byte for byte those
//! [`ClickhouseRowBatch::push_record`] makes from the decoded value (`rows_tests.rs` compares
//! both on every shape it knows).
//!
//! Scalars and text go into their column directly; a nested field (object or array) is decoded
//! on its own into a `Value` and encoded as the value path does. The value path is taken for
//! the whole record instead (it decodes the text) whenever this one would have to make a
//! choice of its own: a value that is not an object, a key given twice, a column whose type
//! Sluice cannot write, a field that does not fit its column, or a record none of whose fields
//! match a column. Those records then fail, or not, exactly as they always did.

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use sluice_api::json::SchemalessVisitor;
use sluice_api::Value;

use super::{ClickhouseRowBatch, Coordinates};
use crate::encode::{encode_text, encode_value};

/// What the JSON object being read gave one column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum JsonField {
    /// No key of that name.
    Absent,
    /// `null` for a column that cannot hold one: left out, so the column gets its default.
    Null,
    /// The column's encoded value, at `start..end` of the scratch buffer.
    At(u32, u32),
}

/// One record's read: the batch it writes into, and whether it stopped to leave the record to
/// the value path.
struct ObjectReader<'b, 't> {
    batch: &'b mut ClickhouseRowBatch<'t>,
    declined: bool,
}

impl<'t> ClickhouseRowBatch<'t> {
    /// Appends the row of a record whose value is the JSON object `text`, read from `at`; the
    /// index of its group. `Ok(None)`: not done here, the caller decodes the text and takes the
    /// value path (see the module doc). Nothing is appended then.
    pub(super) fn push_json(&mut self, text: &[u8], at: Coordinates<'_>) -> Option<usize> {
        if !self.json_lane {
            return None;
        }
        self.scratch.clear();
        self.json_fields.clear();
        self.json_fields.resize(self.table.columns.len(), JsonField::Absent);
        if !self.read_object(text) {
            return None;
        }
        // The coordinate columns the record does not fill itself.
        self.present.clear();
        let mut from_record = false;
        for i in 0..self.table.columns.len() {
            match self.json_fields[i] {
                JsonField::At(..) => {
                    self.present.insert(i);
                    from_record = true;
                }
                JsonField::Null => {}
                JsonField::Absent => {
                    if let Some(k) = self.coordinate_columns.iter().position(|c| *c == Some(i)) {
                        let start = self.scratch.len();
                        if !self.encode_coordinate(i, k, at) {
                            return None;
                        }
                        self.json_fields[i] = JsonField::At(start as u32, self.scratch.len() as u32);
                        self.present.insert(i);
                    }
                }
            }
        }
        if !from_record {
            return None; // the value path names the table and what to check
        }
        let g = super::group_for(&mut self.groups, &mut self.group_of, &mut self.last_group, &self.present);
        let group = &mut self.groups[g];
        for i in group.columns.iter() {
            if let JsonField::At(start, end) = self.json_fields[i] {
                group.data.extend_from_slice(&self.scratch[start as usize..end as usize]);
            }
        }
        group.rows += 1;
        Some(g)
    }

    /// Reads the object into `scratch` and `json_fields`; `false` when the value path must
    /// decide the record.
    fn read_object(&mut self, text: &[u8]) -> bool {
        let mut reader = ObjectReader { batch: self, declined: false };
        let mut de = serde_json::Deserializer::from_slice(text);
        let read = de.deserialize_any(ObjectVisitor { reader: &mut reader }).and_then(|()| de.end());
        read.is_ok() && !reader.declined
    }

    /// Encodes coordinate `k` (topic, partition, offset) for column `i` into `scratch`.
    fn encode_coordinate(&mut self, i: usize, k: usize, at: Coordinates<'_>) -> bool {
        let Ok(ty) = &self.table.columns[i].ty else { return false };
        let encoded = match k {
            0 => {
                if !matches!(&self.topic_value, Value::String(t) if t == at.topic) {
                    self.topic_value = Value::String(at.topic.into());
                }
                encode_value(&mut self.scratch, ty, &self.topic_value)
            }
            1 => encode_value(&mut self.scratch, ty, &Value::Int32(at.partition)),
            _ => encode_value(&mut self.scratch, ty, &Value::Int64(at.offset)),
        };
        encoded.is_ok()
    }
}

impl ObjectReader<'_, '_> {
    /// Stops the read: the value path decides the record.
    fn decline<E: serde::de::Error>(&mut self) -> E {
        self.declined = true;
        E::custom("left to the value path")
    }

    /// The column named `name`, remembering it as the `k`-th key's (records of a topic usually
    /// repeat one layout); unknown names are noted once.
    fn column_of(&mut self, k: usize, name: &str) -> Option<usize> {
        let batch = &mut *self.batch;
        if let Some(Some(i)) = batch.key_columns.get(k) {
            if batch.table.columns[*i].name == name {
                return Some(*i);
            }
        }
        let found = batch.table.column_index(name);
        if batch.key_columns.len() <= k {
            batch.key_columns.resize(k + 1, None);
        }
        batch.key_columns[k] = found;
        if found.is_none() && !batch.unknown_fields.contains(name) {
            batch.unknown_fields.insert(name.to_owned());
        }
        found
    }

    /// Encodes a JSON string into column `i`.
    fn put_text<E: serde::de::Error>(&mut self, i: usize, text: &str) -> Result<(), E> {
        let batch = &mut *self.batch;
        let table = batch.table;
        let Ok(ty) = &table.columns[i].ty else { return Err(self.decline()) };
        let start = batch.scratch.len();
        if encode_text(&mut batch.scratch, ty, text) {
            batch.json_fields[i] = JsonField::At(start as u32, batch.scratch.len() as u32);
            Ok(())
        } else {
            self.put_value(i, Value::String(text.into()))
        }
    }

    /// Encodes any other JSON value into column `i`, as the value path does.
    fn put_value<E: serde::de::Error>(&mut self, i: usize, value: Value) -> Result<(), E> {
        let batch = &mut *self.batch;
        let batch_table = batch.table;
        let column = &batch_table.columns[i];
        let Ok(ty) = &column.ty else { return Err(self.decline()) };
        if value.is_null() && !column.is_nullable() {
            batch.json_fields[i] = JsonField::Null;
            return Ok(());
        }
        let start = batch.scratch.len();
        if encode_value(&mut batch.scratch, ty, &value).is_err() {
            return Err(self.decline());
        }
        batch.json_fields[i] = JsonField::At(start as u32, batch.scratch.len() as u32);
        Ok(())
    }
}

/// The record's value: only an object is read here.
struct ObjectVisitor<'r, 'b, 't> {
    reader: &'r mut ObjectReader<'b, 't>,
}

impl<'de> Visitor<'de> for ObjectVisitor<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let reader = self.reader;
        let mut k = 0;
        while let Some(column) = map.next_key_seed(KeySeed { reader: &mut *reader, k })? {
            match column {
                Some(i) if reader.batch.json_fields[i] == JsonField::Absent => {
                    map.next_value_seed(FieldSeed { reader: &mut *reader, column: i })?;
                }
                Some(_) => return Err(reader.decline()), // a key given twice
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            k += 1;
        }
        Ok(())
    }

    // Any other value: the value path says what is wrong with it.
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<(), E> {
        Err(self.reader.decline())
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<(), E> {
        Err(self.reader.decline())
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<(), E> {
        Err(self.reader.decline())
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<(), E> {
        Err(self.reader.decline())
    }

    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<(), E> {
        Err(self.reader.decline())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        Err(self.reader.decline())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(self.reader.decline())
    }
}

/// A key: the index of its column, `None` for a field that matches none.
struct KeySeed<'r, 'b, 't> {
    reader: &'r mut ObjectReader<'b, 't>,
    k: usize,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_, '_, '_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<usize>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_, '_, '_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<Option<usize>, E> {
        Ok(self.reader.column_of(self.k, name))
    }
}

/// A field's value, for column `column`.
struct FieldSeed<'r, 'b, 't> {
    reader: &'r mut ObjectReader<'b, 't>,
    column: usize,
}

impl<'de> DeserializeSeed<'de> for FieldSeed<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// Scalars are turned into values by the JSON converter's own visitor, so each is exactly the
/// value the decoded record would hold.
impl<'de> Visitor<'de> for FieldSeed<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<(), E> {
        self.reader.put_text(self.column, text)
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<(), E> {
        self.reader.put_value(self.column, SchemalessVisitor.visit_bool::<E>(v)?)
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<(), E> {
        self.reader.put_value(self.column, SchemalessVisitor.visit_i64::<E>(v)?)
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<(), E> {
        self.reader.put_value(self.column, SchemalessVisitor.visit_u64::<E>(v)?)
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<(), E> {
        self.reader.put_value(self.column, SchemalessVisitor.visit_f64::<E>(v)?)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        self.reader.put_value(self.column, SchemalessVisitor.visit_unit::<E>()?)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        let value = SchemalessVisitor.visit_seq(seq)?;
        self.reader.put_value(self.column, value)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        let value = SchemalessVisitor.visit_map(map)?;
        self.reader.put_value(self.column, value)
    }
}
