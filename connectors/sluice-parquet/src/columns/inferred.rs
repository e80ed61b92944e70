//! Appending schemaless JSON records, the file's schema inferred and widened as they come (the
//! rules are in the module docs of `columns`).

use arrow_buffer::{BooleanBufferBuilder, NullBufferBuilder};
use sluice_api::json::FieldValue;
use sluice_api::{coerce, Value};

use super::storage::{end_offset, Child, Column, Data, StructData, VarBytes};
use super::{Ctx, Fail, Segment};
use crate::schema::VALUE_COLUMN;

/// The JSON type of a value, which decides its column's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Null,
    Bool,
    Int,
    Float,
    Text,
    Object,
    Array,
    /// No column type of its own (a map with non-string keys): JSON text.
    Other,
}

fn shape(value: &Value) -> Shape {
    match value {
        Value::Null => Shape::Null,
        Value::Boolean(_) => Shape::Bool,
        Value::Int8(_) | Value::Int16(_) | Value::Int32(_) | Value::Int64(_) => Shape::Int,
        Value::Float32(_) | Value::Float64(_) | Value::Decimal { .. } => Shape::Float,
        Value::String(_) | Value::Bytes(_) | Value::Date(_) | Value::Time(_) | Value::Timestamp(_) => Shape::Text,
        Value::Struct(_) => Shape::Object,
        Value::Map(entries) if entries.iter().all(|(k, _)| matches!(k, Value::String(_))) => Shape::Object,
        Value::Map(_) => Shape::Other,
        Value::Array(_) => Shape::Array,
    }
}

/// Whether a value of this shape goes into the column as it is.
fn fits(data: &Data, shape: Shape) -> bool {
    matches!(
        (data, shape),
        (Data::Json(_), _)
            | (Data::Boolean(_), Shape::Bool)
            | (Data::Int64(_), Shape::Int)
            | (Data::Float64(_), Shape::Int | Shape::Float)
            | (Data::Utf8(_), Shape::Text)
            | (Data::Struct(_), Shape::Object)
            | (Data::List { .. }, Shape::Array)
    )
}

/// A schemaless value to append: a decoded [`Value`], or a field read straight from the
/// record's JSON text (what `json::parse` would make of it, without making it).
pub(super) trait JsonElement: Copy {
    fn append_to(self, column: &mut Column, ctx: &mut Ctx) -> Result<(), Fail>;
}

impl JsonElement for &Value {
    fn append_to(self, column: &mut Column, ctx: &mut Ctx) -> Result<(), Fail> {
        column.append_json(self, ctx)
    }
}

impl JsonElement for FieldValue<'_> {
    fn append_to(self, column: &mut Column, ctx: &mut Ctx) -> Result<(), Fail> {
        match self {
            FieldValue::Text(text) => column.append_text(text, ctx),
            // Numbers, booleans and nulls cost nothing to make; objects and arrays inside a
            // record are rarer, and are decoded, then appended as values.
            other => {
                let value = other
                    .to_value()
                    .map_err(|e| Fail::new(format!("internal error: a nested value read as plain JSON is not: {e}")))?;
                column.append_json(&value, ctx)
            }
        }
    }
}

impl Column {
    /// A schemaless column of `rows` nulls, its type not known yet.
    fn nulls_only(rows: usize) -> Column {
        let mut nulls = NullBufferBuilder::new(0);
        nulls.append_n_nulls(rows);
        Column { schema: None, nulls, data: Data::Null }
    }

    /// Appends one schemaless record to the root column: an object's keys are columns; any
    /// other value is the object `{"value": …}`.
    pub(super) fn append_json_row(&mut self, value: &Value, ctx: &mut Ctx) -> Result<(), Fail> {
        match value {
            Value::Struct(s) => self.append_object(s.iter(), ctx),
            Value::Map(entries) if shape(value) == Shape::Object => self.append_object(string_keyed(entries), ctx),
            _ => self.append_object(std::iter::once((VALUE_COLUMN, value)), ctx),
        }
    }

    /// Appends `value`, first widening the column's type if the value does not fit it.
    fn append_json(&mut self, value: &Value, ctx: &mut Ctx) -> Result<(), Fail> {
        let shape = shape(value);
        if shape == Shape::Null {
            ctx.bytes += self.push_null();
            return Ok(());
        }
        self.fit(shape, ctx)?;
        let added = match &mut self.data {
            Data::Boolean(b) => {
                b.append(matches!(value, Value::Boolean(true)));
                1
            }
            Data::Int64(v) => {
                v.push(value.as_i64().unwrap_or_default());
                8
            }
            Data::Float64(v) => {
                v.push(value.as_f64().unwrap_or(f64::NAN));
                8
            }
            Data::Utf8(t) => {
                match value {
                    Value::Bytes(b) => t.bytes.extend_from_slice(String::from_utf8_lossy(b).as_bytes()),
                    _ => coerce::write_text(value, &mut t.bytes),
                }
                t.close().map_err(Fail::new)?
            }
            Data::Json(t) => {
                write_json(value, &mut t.bytes);
                t.close().map_err(Fail::new)?
            }
            Data::Struct(_) => {
                return match value {
                    Value::Struct(s) => self.append_object(s.iter(), ctx),
                    Value::Map(entries) => self.append_object(string_keyed(entries), ctx),
                    _ => Err(Fail::new("internal error: a non-object in an object column")),
                };
            }
            Data::List { offsets, item, .. } => {
                let Value::Array(items) = value else {
                    return Err(Fail::new("internal error: a non-array in a list column"));
                };
                for (i, element) in items.iter().enumerate() {
                    item.append_json(element, ctx).map_err(|f| f.at(Segment::Index(i)))?;
                }
                offsets.push(end_offset(item.len()).map_err(Fail::new)?);
                4
            }
            _ => return Err(Fail::new("internal error: a typed column in a schemaless file")),
        };
        self.nulls.append_non_null();
        ctx.bytes += added;
        Ok(())
    }

    /// Appends a string, as [`Column::append_json`] appends `Value::String(text)`.
    fn append_text(&mut self, text: &str, ctx: &mut Ctx) -> Result<(), Fail> {
        self.fit(Shape::Text, ctx)?;
        let added = match &mut self.data {
            Data::Utf8(t) => {
                t.bytes.extend_from_slice(text.as_bytes());
                t.close().map_err(Fail::new)?
            }
            Data::Json(t) => {
                json_string(text, &mut t.bytes);
                t.close().map_err(Fail::new)?
            }
            _ => return Err(Fail::new("internal error: text in a schemaless column of another type")),
        };
        self.nulls.append_non_null();
        ctx.bytes += added;
        Ok(())
    }

    /// Widens the column's type first if a value of `shape` does not fit it (rarely: the
    /// check is inlined, the widening is not).
    #[inline]
    fn fit(&mut self, shape: Shape, ctx: &mut Ctx) -> Result<(), Fail> {
        if fits(&self.data, shape) {
            return Ok(());
        }
        self.widen(shape, ctx)
    }

    #[cold]
    fn widen(&mut self, shape: Shape, ctx: &mut Ctx) -> Result<(), Fail> {
        self.evolve(shape)?;
        ctx.changed = true;
        Ok(())
    }

    /// Appends an object to a struct column: its keys into their children (new keys become
    /// new children, null for the earlier rows), null into the children it lacks.
    pub(super) fn append_object<'a, E: JsonElement>(
        &mut self,
        entries: impl Iterator<Item = (&'a str, E)>,
        ctx: &mut Ctx,
    ) -> Result<(), Fail> {
        let rows = self.len();
        let Data::Struct(fields) = &mut self.data else {
            return Err(Fail::new("internal error: an object appended to a non-struct column"));
        };
        for (hint, (key, value)) in entries.enumerate() {
            // Objects of one stream usually list their keys in the same order.
            let at = match fields.children.get(hint) {
                Some(child) if child.name == key => hint,
                _ => match fields.children.iter().position(|c| c.name == key) {
                    Some(i) => i,
                    None => {
                        let column = Column::nulls_only(rows);
                        fields.children.push(Child { name: key.to_owned(), nullable: true, column });
                        ctx.changed = true;
                        fields.children.len() - 1
                    }
                },
            };
            let child = &mut fields.children[at].column;
            if child.len() > rows {
                continue; // a duplicate key: the first counts
            }
            value.append_to(child, ctx).map_err(|f| f.at(Segment::Field(key.to_owned())))?;
        }
        for child in &mut fields.children {
            if child.column.len() == rows {
                ctx.bytes += child.column.push_null();
            }
        }
        self.nulls.append_non_null();
        Ok(())
    }

    /// Changes the column's type so that a value of `shape` fits: a first type for a column of
    /// nulls, `Float64` for integers meeting a fraction, else JSON text of every earlier value.
    fn evolve(&mut self, shape: Shape) -> Result<(), Fail> {
        let rows = self.len();
        self.data = match (&self.data, shape) {
            (Data::Null, Shape::Bool) => {
                let mut b = BooleanBufferBuilder::new(rows);
                b.append_n(rows, false);
                Data::Boolean(b)
            }
            (Data::Null, Shape::Int) => Data::Int64(vec![0; rows]),
            (Data::Null, Shape::Float) => Data::Float64(vec![0.0; rows]),
            (Data::Null, Shape::Text) => Data::Utf8(VarBytes::with_empty(rows)),
            (Data::Null, Shape::Object) => Data::Struct(StructData::new(Vec::new())),
            (Data::Null, Shape::Array) => {
                Data::List { offsets: vec![0; rows + 1], item: Box::new(Column::nulls_only(0)), item_nullable: true }
            }
            (Data::Int64(v), Shape::Float) => Data::Float64(v.iter().map(|&i| i as f64).collect()),
            _ => {
                let mut text = VarBytes::with_empty(0);
                for row in 0..rows {
                    if self.nulls.is_valid(row) {
                        self.write_row_json(row, &mut text.bytes);
                    }
                    text.close().map_err(Fail::new)?;
                }
                Data::Json(text)
            }
        };
        Ok(())
    }

    /// Appends row `row` of a schemaless column as JSON (null fields of objects left out).
    fn write_row_json(&self, row: usize, out: &mut Vec<u8>) {
        if !self.nulls.is_valid(row) {
            out.extend_from_slice(b"null");
            return;
        }
        match &self.data {
            Data::Boolean(b) => out.extend_from_slice(if b.get_bit(row) { b"true" } else { b"false" }),
            Data::Int64(v) => out.extend_from_slice(v.get(row).copied().unwrap_or_default().to_string().as_bytes()),
            Data::Float64(v) => write_json(&Value::Float64(v.get(row).copied().unwrap_or(f64::NAN)), out),
            Data::Utf8(t) => json_string(&String::from_utf8_lossy(t.value(row)), out),
            Data::Json(t) => out.extend_from_slice(t.value(row)),
            Data::Struct(fields) => {
                out.push(b'{');
                let mut first = true;
                for child in fields.children.iter().filter(|c| c.column.nulls.is_valid(row)) {
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    json_string(&child.name, out);
                    out.push(b':');
                    child.column.write_row_json(row, out);
                }
                out.push(b'}');
            }
            Data::List { offsets, item, .. } => {
                let start = offsets.get(row).copied().unwrap_or(0) as usize;
                let end = offsets.get(row + 1).copied().unwrap_or(0) as usize;
                out.push(b'[');
                for i in start..end {
                    if i > start {
                        out.push(b',');
                    }
                    item.write_row_json(i, out);
                }
                out.push(b']');
            }
            _ => out.extend_from_slice(b"null"),
        }
    }
}

/// The entries of a JSON object (every key a string).
fn string_keyed(entries: &[(Value, Value)]) -> impl Iterator<Item = (&str, &Value)> {
    entries.iter().filter_map(|(k, v)| k.as_str().map(|k| (k, v)))
}

/// Appends `value` as JSON (bytes in base64, dates and times as ISO-8601 strings).
fn write_json(value: &Value, out: &mut Vec<u8>) {
    coerce::write_json(value, out);
}

/// Appends a stored string as a JSON string; only when a column turns into JSON text.
fn json_string(s: &str, out: &mut Vec<u8>) {
    coerce::write_json(&Value::String(s.into()), out);
}
