//! Rows straight from JSON text ([`SinkRecord::value_json`](sluice_api::SinkRecord)): the
//! record's object is read field by field ([`ObjectFields`]) and each field is encoded into its
//! column as it is read, without building the record's value. The rows are byte for byte those
//! [`ClickhouseRowBatch::push_record`] makes from the decoded value (`rows_tests.rs` compares
//! both on every shape it knows).
//!
//! Text goes into a text column directly; any other scalar becomes the value the JSON converter
//! would make of it and is encoded as the value path does; a nested field (object or array) is
//! decoded on its own. The value path is taken for the whole record instead (it decodes the
//! text) whenever this one would have to make a choice of its own or meets anything not plain:
//! a value that is not an object, escapes, a key given twice, a column whose type Sluice cannot
//! write, a field that does not fit its column, or a record none of whose fields match a
//! column. Those records then fail, or not, exactly as they always did.

use sluice_api::json::{FieldValue, NotPlain, ObjectFields};
use sluice_api::Value;

use super::{ClickhouseRowBatch, Coordinates};
use crate::encode::{encode_instant_text, encode_text, encode_value};
use crate::types::ClickhouseType;

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

impl<'t> ClickhouseRowBatch<'t> {
    /// Appends the row of a record whose value is the JSON object `text`, read from `at`; the
    /// index of its group. `None`: not done here, the caller decodes the text and takes the
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
        let Ok(mut fields) = ObjectFields::new(text) else { return false };
        let mut k = 0;
        loop {
            // The column of this place's key in the previous record, when its name is plain.
            let expected = match self.key_columns.get(k) {
                Some(&Some(i)) => self.plain_names[i].map(|name| (i, name)),
                _ => None,
            };
            let field = match expected {
                Some((i, name)) => {
                    fields.next_field_expecting(name).map(|f| f.map(|(n, v, hit)| (n, v, hit.then_some(i))))
                }
                None => fields.next_field().map(|f| f.map(|(n, v)| (n, v, None))),
            };
            match field {
                Err(NotPlain) => return false,
                Ok(None) => return true,
                Ok(Some((name, value, known))) => {
                    if let Some(i) = known.or_else(|| self.column_of(k, name)) {
                        // A key given twice, or a field the value path must decide.
                        if self.json_fields[i] != JsonField::Absent || !self.put_field(i, value) {
                            return false;
                        }
                    }
                    k += 1;
                }
            }
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
        let Ok(ty) = &column.ty else { return false };
        let start = self.scratch.len();
        let value = match value {
            FieldValue::Text(text)
                if encode_text(&mut self.scratch, ty, text) || encode_instant_text(&mut self.scratch, ty, text) =>
            {
                self.json_fields[i] = JsonField::At(start as u32, self.scratch.len() as u32);
                return true;
            }
            FieldValue::Text(text) => Value::String(text.into()),
            FieldValue::Scalar(scalar) => scalar.to_value(),
            FieldValue::Nested(text) => match sluice_api::json::parse(text) {
                Ok(value) => value,
                Err(_) => return false,
            },
        };
        if value.is_null() && !column.is_nullable() {
            self.json_fields[i] = JsonField::Null;
            return true;
        }
        if encode_value(&mut self.scratch, ty, &value).is_err() {
            return false;
        }
        self.json_fields[i] = JsonField::At(start as u32, self.scratch.len() as u32);
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
