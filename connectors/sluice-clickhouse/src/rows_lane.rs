//! Rows straight from values handed on undecoded: JSON text ([`SinkRecord::value_json`]) and
//! datums ([`SinkRecord::value_datum`], Avro records of scalars). The record's fields are read
//! one by one ([`ObjectFields`], [`DatumReader::read_fields`]) and each is encoded into its
//! column as it is read, without building the record's value. The rows are byte for byte those
//! [`ClickhouseRowBatch::push_record`] makes from the decoded value (`rows_tests.rs` compares
//! both on every shape it knows).
//!
//! Text goes into a text column directly; any other scalar becomes the value the converter
//! would make of it and is encoded as the value path does; a nested JSON field (object or
//! array) is decoded on its own. The value path is taken for the whole record instead (it
//! decodes the value) whenever this one would have to make a choice of its own or meets
//! anything not plain: JSON that is not an object, escapes, a key given twice, a datum its
//! reader is not sure of, a column whose type Sluice cannot write, a field that does not fit
//! its column, or a record none of whose fields match a column. Those records then fail, or
//! not, exactly as they always did.
//!
//! [`SinkRecord::value_json`]: sluice_api::SinkRecord::value_json
//! [`SinkRecord::value_datum`]: sluice_api::SinkRecord::value_datum
//! [`DatumReader::read_fields`]: sluice_api::DatumReader::read_fields

use std::sync::Arc;

use sluice_api::json::{FieldValue, Key, NotPlain, ObjectFields, ScalarValue};
use sluice_api::{Datum, Value};

use super::{ClickhouseRowBatch, Coordinates};
use crate::encode::{encode_instant_text, encode_text, encode_value};
use crate::types::ClickhouseType;

/// What the record being read gave one column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LaneField {
    /// No key of that name.
    Absent,
    /// `null` for a column that cannot hold one: left out, so the column gets its default.
    Null,
    /// The column's encoded value, at `start..end` of the scratch buffer.
    At(u32, u32),
}

impl<'t> ClickhouseRowBatch<'t> {
    /// Appends the row of a record whose value is the JSON object `text`, read from `at`; the
    /// index of its group. `None`: not done here, the caller decodes the text and takes the
    /// value path (see the module doc). Nothing is appended then.
    pub(super) fn push_json(&mut self, text: &[u8], at: Coordinates<'_>) -> Option<usize> {
        if !self.lane {
            return None;
        }
        self.start_row();
        if !self.read_object(text) {
            return None;
        }
        self.finish_row(at)
    }

    /// Appends the row of a record whose value is `datum`, as [`Self::push_json`] does.
    pub(super) fn push_datum(&mut self, datum: &Datum, at: Coordinates<'_>) -> Option<usize> {
        if !self.lane {
            return None;
        }
        self.start_row();
        // The column of each field, found once per reader (per schema): records of a topic
        // mostly share one.
        if !self.datum_reader.as_ref().is_some_and(|reader| Arc::ptr_eq(reader, &datum.reader)) {
            let fields = &datum.reader.schema().fields;
            self.datum_columns = (0..fields.len()).map(|k| self.column_of(k, &fields[k].name)).collect();
            self.datum_reader = Some(datum.reader.clone());
        }
        let columns = std::mem::take(&mut self.datum_columns);
        let read = datum.reader.read_fields(&datum.data, &mut |k, value| match columns.get(k) {
            Some(&Some(i)) => self.lane_fields[i] == LaneField::Absent && self.put_field(i, value),
            Some(None) => true,
            None => false,
        });
        self.datum_columns = columns;
        if !read {
            return None;
        }
        self.finish_row(at)
    }

    fn start_row(&mut self) {
        self.scratch.clear();
        self.lane_fields.clear();
        self.lane_fields.resize(self.table.columns.len(), LaneField::Absent);
    }

    /// Fills the coordinate columns the record does not fill itself and appends the row to its
    /// group; its index. `None` when the record filled no column (the value path names the
    /// table and what to check) or a coordinate does not fit its column.
    fn finish_row(&mut self, at: Coordinates<'_>) -> Option<usize> {
        self.present.clear();
        let mut from_record = false;
        // Whether the columns' values lie in `scratch` in column order, back to back: fields
        // read in the table's order, coordinates after them (the usual case).
        let (mut in_order, mut next) = (true, 0);
        for i in 0..self.table.columns.len() {
            match self.lane_fields[i] {
                LaneField::At(start, end) => {
                    self.present.insert(i);
                    from_record = true;
                    (in_order, next) = (in_order && start == next, end);
                }
                LaneField::Null => {}
                LaneField::Absent => {
                    if let Some(k) = self.coordinate_columns.iter().position(|c| *c == Some(i)) {
                        let start = self.scratch.len() as u32;
                        if !self.encode_coordinate(i, k, at) {
                            return None;
                        }
                        let end = self.scratch.len() as u32;
                        self.lane_fields[i] = LaneField::At(start, end);
                        self.present.insert(i);
                        (in_order, next) = (in_order && start == next, end);
                    }
                }
            }
        }
        if !from_record {
            return None;
        }
        let g = super::group_for(&mut self.groups, &mut self.group_of, &mut self.last_group, &self.present);
        let group = &mut self.groups[g];
        if in_order && next as usize == self.scratch.len() {
            group.data.extend_from_slice(&self.scratch);
        } else {
            for i in group.columns.iter() {
                if let LaneField::At(start, end) = self.lane_fields[i] {
                    group.data.extend_from_slice(&self.scratch[start as usize..end as usize]);
                }
            }
        }
        group.rows += 1;
        Some(g)
    }

    /// Reads the object into `scratch` and `lane_fields`; `false` when the value path must
    /// decide the record.
    fn read_object(&mut self, text: &[u8]) -> bool {
        let Ok(mut fields) = ObjectFields::new(text) else { return false };
        let mut k = 0;
        loop {
            // The column of this place's key in the previous record, when its name is plain.
            let expected = match self.key_columns.get(k) {
                Some(&Some(i)) => self.plain_names[i].map(|name| (i, name)),
                _ => None,
            };
            // Matched here, not mapped into one shape first: the field's value is moved once.
            let (column, value) = match expected {
                Some((i, name)) => match fields.next_field_expecting(name) {
                    Ok(Some((Key::Expected, v))) => (Some(i), v),
                    Ok(Some((Key::Other(name), v))) => (self.column_of(k, name), v),
                    Ok(None) => return true,
                    Err(NotPlain) => return false,
                },
                None => match fields.next_field() {
                    Ok(Some((name, v))) => (self.column_of(k, name), v),
                    Ok(None) => return true,
                    Err(NotPlain) => return false,
                },
            };
            if let Some(i) = column {
                // A key given twice, or a field the value path must decide.
                if self.lane_fields[i] != LaneField::Absent || !self.put_field(i, value) {
                    return false;
                }
            }
            k += 1;
        }
    }

    /// The column named `name`, remembering it as the `k`-th key's (records of a topic usually
    /// repeat one layout); unknown names are noted once.
    fn column_of(&mut self, k: usize, name: &str) -> Option<usize> {
        if let Some(Some(i)) = self.key_columns.get(k) {
            if self.table.columns[*i].name == name {
                return Some(*i);
            }
        }
        let found = self.table.column_index(name);
        if self.key_columns.len() <= k {
            self.key_columns.resize(k + 1, None);
        }
        self.key_columns[k] = found;
        if found.is_none() && !self.unknown_fields.contains(name) {
            self.unknown_fields.insert(name.to_owned());
        }
        found
    }

    /// Encodes one field into column `i`; `false` when the value path must decide the record.
    fn put_field(&mut self, i: usize, value: FieldValue<'_>) -> bool {
        let column = &self.table.columns[i];
        if value == FieldValue::Scalar(ScalarValue::Null) && !column.is_nullable() {
            // Whatever the column's type, as the value path does.
            self.lane_fields[i] = LaneField::Null;
            return true;
        }
        let Ok(ty) = &column.ty else { return false };
        let start = self.scratch.len();
        let value = match value {
            FieldValue::Text(text)
                if encode_text(&mut self.scratch, ty, text) || encode_instant_text(&mut self.scratch, ty, text) =>
            {
                self.lane_fields[i] = LaneField::At(start as u32, self.scratch.len() as u32);
                return true;
            }
            FieldValue::Text(text) => Value::String(text.into()),
            FieldValue::Scalar(scalar) => scalar.to_value(),
            FieldValue::Nested(text) => match sluice_api::json::parse(text) {
                Ok(value) => value,
                Err(_) => return false,
            },
        };
        if encode_value(&mut self.scratch, ty, &value).is_err() {
            return false;
        }
        self.lane_fields[i] = LaneField::At(start as u32, self.scratch.len() as u32);
        true
    }

    /// Encodes coordinate `k` (topic, partition, offset) for column `i` into `scratch`.
    fn encode_coordinate(&mut self, i: usize, k: usize, at: Coordinates<'_>) -> bool {
        let table = self.table;
        let Ok(ty) = &table.columns[i].ty else { return false };
        // The usual column types, written as `encode_value` writes them, without a value.
        match (k, ty) {
            (0, _) if encode_text(&mut self.scratch, ty, at.topic) => return true,
            (1, ClickhouseType::Int32) => self.scratch.extend_from_slice(&at.partition.to_le_bytes()),
            (2, ClickhouseType::Int64) => self.scratch.extend_from_slice(&at.offset.to_le_bytes()),
            _ => {
                let value = self.coordinate_value(k, at);
                return encode_value(&mut self.scratch, ty, value.as_ref().unwrap_or(&self.topic_value)).is_ok();
            }
        }
        true
    }
}
