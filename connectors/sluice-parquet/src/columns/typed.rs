//! Appending records that carry a Connect schema (values coerced with `sluice_api::coerce`),
//! and moving a file's columns to another version of the schema.

use std::mem;

use arrow_buffer::i256;
use arrow_schema::TimeUnit;
use sluice_api::json::FieldValue;
use sluice_api::{coerce, Schema, SchemaRef, SchemaType, Value};

use super::storage::{end_offset, Child, Column, Data, StructData, VarBytes};
use super::{Ctx, Fail, Segment};
use crate::schema::VALUE_COLUMN;

const NANOS_PER_DAY: i128 = 86_400 * 1_000_000_000;
const MILLIS_PER_DAY: i128 = 86_400_000;
const NULL: &Value = &Value::Null;

/// How to move a column to another schema version, prepared before anything moves.
pub(super) enum Plan {
    /// Same type: the values stay as they are.
    Keep,
    /// One part per field of the new struct schema, in its order.
    Struct(Vec<Part>),
    List(Box<Plan>),
    Map(Box<Plan>, Box<Plan>),
}

/// Where a field of the new struct schema comes from.
pub(super) enum Part {
    /// The existing child at this index, moved as its plan says.
    Move(usize, Plan),
    /// A field the column lacked: its default (or null) for every existing row.
    New(Column),
}

impl Column {
    /// Appends one record. `wrapped`: the record schema is not a struct, and the value goes
    /// into the single column `value`.
    pub(super) fn append_typed_row(&mut self, value: &Value, wrapped: bool, ctx: &mut Ctx) -> Result<(), Fail> {
        if !wrapped {
            return self.append_typed(value, ctx);
        }
        let Data::Struct(root) = &mut self.data else {
            return Err(Fail::new("internal error: the root column is not a struct"));
        };
        let Some(child) = root.children.first_mut() else {
            return Err(Fail::new("internal error: the root column has no `value` child"));
        };
        child.column.append_typed(value, ctx).map_err(|f| f.at(Segment::Field(VALUE_COLUMN.to_owned())))?;
        self.nulls.append_non_null();
        Ok(())
    }

    /// Appends one record of the column's own struct schema given as its top-level fields in
    /// the schema's order, read from its datum (`sluice_api::DatumReader::read_fields`): the
    /// row [`Column::append_typed_row`] appends for the value the datum decodes to. `Ok(false)`,
    /// with nothing appended, when the column is not a struct of that many fields.
    pub(super) fn append_fields_row(&mut self, fields: &[(&str, FieldValue<'_>)], ctx: &mut Ctx) -> Result<bool, Fail> {
        let Data::Struct(root) = &mut self.data else { return Ok(false) };
        if root.children.len() != fields.len() {
            return Ok(false);
        }
        for (child, &(_, value)) in root.children.iter_mut().zip(fields) {
            child.column.append_field(value, ctx).map_err(at(child))?;
        }
        self.nulls.append_non_null();
        Ok(true)
    }

    /// Appends one field read from a datum as [`Column::append_typed`] appends the value it
    /// decodes to: text into a string column straight, anything else as its value (a scalar's
    /// needs no allocation).
    fn append_field(&mut self, value: FieldValue<'_>, ctx: &mut Ctx) -> Result<(), Fail> {
        match (value, &mut self.data) {
            (FieldValue::Text(text), Data::Utf8(t)) => {
                t.bytes.extend_from_slice(text.as_bytes());
                ctx.bytes += t.close().map_err(Fail::new)?;
                self.nulls.append_non_null();
                Ok(())
            }
            (FieldValue::Scalar(scalar), _) => self.append_typed(&scalar.to_value(), ctx),
            (other, _) => {
                let value = other.to_value().map_err(|e| Fail::new(format!("is not valid JSON: {e}")))?;
                self.append_typed(&value, ctx)
            }
        }
    }

    /// Appends `value` as the column's Connect schema says. A null takes the schema's default,
    /// else is null when the schema is optional.
    pub(super) fn append_typed(&mut self, value: &Value, ctx: &mut Ctx) -> Result<(), Fail> {
        if value.is_null() {
            let Some(schema) = self.schema.clone() else {
                return Err(Fail::new("internal error: a schemaless column in a file with a schema"));
            };
            if let Some(default) = schema.default.as_ref().filter(|d| !d.is_null()) {
                return self.append_typed(default, ctx);
            }
            if !schema.optional {
                return Err(Fail::new("is null or missing, but its schema requires a value and has no default"));
            }
            ctx.bytes += self.push_null();
            return Ok(());
        }
        let Column { schema, nulls, data } = self;
        let Some(schema) = schema.as_deref() else {
            return Err(Fail::new("internal error: a schemaless column in a file with a schema"));
        };
        let added = match data {
            Data::Struct(fields) => {
                append_struct(fields, schema, value, ctx)?;
                0
            }
            Data::List { offsets, item, .. } => {
                let Value::Array(items) = value else {
                    return Err(Fail::new(cannot(value, "a list", "not an array")));
                };
                for (i, element) in items.iter().enumerate() {
                    item.append_typed(element, ctx).map_err(|f| f.at(Segment::Index(i)))?;
                }
                offsets.push(end_offset(item.len()).map_err(Fail::new)?);
                4
            }
            Data::Map { offsets, keys, values, .. } => {
                let Value::Map(entries) = value else {
                    return Err(Fail::new(cannot(value, "a map", "not a map")));
                };
                for (i, (k, v)) in entries.iter().enumerate() {
                    if k.is_null() {
                        let fail = Fail::new("is null; Parquet map keys cannot be null");
                        return Err(fail.at(Segment::MapKey).at(Segment::Index(i)));
                    }
                    keys.append_typed(k, ctx).map_err(|f| f.at(Segment::MapKey).at(Segment::Index(i)))?;
                    values.append_typed(v, ctx).map_err(|f| f.at(Segment::MapValue).at(Segment::Index(i)))?;
                }
                offsets.push(end_offset(keys.len()).map_err(Fail::new)?);
                4
            }
            leaf => append_leaf(leaf, value).map_err(Fail::new)?,
        };
        nulls.append_non_null();
        ctx.bytes += added;
        Ok(())
    }

    /// How to move this column (built for the file's schema) to `to`; fails, changing nothing,
    /// when a new field's default does not fit its column.
    pub(super) fn plan_adoption(&self, to: &SchemaRef) -> Result<Plan, Fail> {
        Ok(match (&self.data, to.schema_type) {
            (Data::Struct(s), SchemaType::Struct) => {
                let mut parts = Vec::with_capacity(to.fields.len());
                for field in &to.fields {
                    let at = |f: Fail| f.at(Segment::Field(field.name.clone()));
                    parts.push(match s.children.iter().position(|c| c.name == field.name) {
                        Some(i) => Part::Move(i, s.children[i].column.plan_adoption(&field.schema).map_err(at)?),
                        None => Part::New(Column::filled(&field.schema, self.len()).map_err(at)?),
                    });
                }
                Plan::Struct(parts)
            }
            (Data::List { item, .. }, SchemaType::Array) => match to.items() {
                Some(items) => Plan::List(Box::new(item.plan_adoption(items)?)),
                None => Plan::Keep,
            },
            (Data::Map { keys, values, .. }, SchemaType::Map) => match (&to.key_schema, &to.value_schema) {
                (Some(k), Some(v)) => Plan::Map(Box::new(keys.plan_adoption(k)?), Box::new(values.plan_adoption(v)?)),
                _ => Plan::Keep,
            },
            _ => Plan::Keep,
        })
    }

    /// This column moved to schema `to` as `plan` says: existing values move, new fields come
    /// from the plan, fields `to` lacks are dropped.
    pub(super) fn adopt(self, to: &SchemaRef, plan: Plan) -> Column {
        let Column { nulls, data, .. } = self;
        let data = match (data, plan) {
            (Data::Struct(s), Plan::Struct(parts)) => {
                let mut old: Vec<Option<Child>> = s.children.into_iter().map(Some).collect();
                let children = to
                    .fields
                    .iter()
                    .zip(parts)
                    .filter_map(|(field, part)| {
                        let column = match part {
                            Part::Move(i, plan) => old.get_mut(i)?.take()?.column.adopt(&field.schema, plan),
                            Part::New(column) => column,
                        };
                        Some(Child { name: field.name.clone(), nullable: field.schema.optional, column })
                    })
                    .collect();
                Data::Struct(StructData::new(children))
            }
            (Data::List { offsets, item, item_nullable }, Plan::List(plan)) => match to.items() {
                Some(items) => {
                    Data::List { offsets, item: Box::new(item.adopt(items, *plan)), item_nullable: items.optional }
                }
                None => Data::List { offsets, item, item_nullable },
            },
            (Data::Map { offsets, keys, values, values_nullable }, Plan::Map(key_plan, value_plan)) => {
                match (&to.key_schema, &to.value_schema) {
                    (Some(k), Some(v)) => Data::Map {
                        offsets,
                        keys: Box::new(keys.adopt(k, *key_plan)),
                        values: Box::new(values.adopt(v, *value_plan)),
                        values_nullable: v.optional,
                    },
                    _ => Data::Map { offsets, keys, values, values_nullable },
                }
            }
            (data, _) => data,
        };
        Column { schema: Some(to.clone()), nulls, data }
    }

    /// A column of `rows` copies of the schema's default (or nulls).
    fn filled(schema: &SchemaRef, rows: usize) -> Result<Column, Fail> {
        let mut column = Column::for_schema(schema, "").map_err(|e| Fail::new(e.message))?;
        let mut ctx = Ctx::default();
        for _ in 0..rows {
            column.append_typed(NULL, &mut ctx)?;
        }
        Ok(column)
    }
}

/// Appends a struct value (or a map with string keys) to a struct column; fields are taken by
/// position when the value has the column's schema, else by name (projection).
fn append_struct(fields: &mut StructData, schema: &Schema, value: &Value, ctx: &mut Ctx) -> Result<(), Fail> {
    match value {
        Value::Struct(st) if std::ptr::eq(&*st.schema, schema) || same_names(&st.schema, schema) => {
            for (i, child) in fields.children.iter_mut().enumerate() {
                let v = st.values.get(i).unwrap_or(NULL);
                child.column.append_typed(v, ctx).map_err(at(child))?;
            }
        }
        Value::Struct(st) => {
            let mapping = match mem::take(&mut fields.projection) {
                Some((source, mapping)) if std::sync::Arc::ptr_eq(&source, &st.schema) => mapping,
                _ => fields.children.iter().map(|c| st.schema.field(&c.name).map(|f| f.index)).collect(),
            };
            let result = fields.children.iter_mut().zip(&mapping).try_for_each(|(child, source)| {
                let v = source.and_then(|j| st.values.get(j)).unwrap_or(NULL);
                child.column.append_typed(v, ctx).map_err(at(child))
            });
            fields.projection = Some((st.schema.clone(), mapping));
            result?;
        }
        Value::Map(entries) => {
            for child in &mut fields.children {
                let v = entries.iter().find(|(k, _)| k.as_str() == Some(&child.name)).map_or(NULL, |(_, v)| v);
                child.column.append_typed(v, ctx).map_err(at(child))?;
            }
        }
        _ => return Err(Fail::new(cannot(value, "a struct", "not a struct"))),
    }
    Ok(())
}

/// Adds the field's name to the path of a failure inside it.
fn at(child: &Child) -> impl FnOnce(Fail) -> Fail + '_ {
    move |f| f.at(Segment::Field(child.name.clone()))
}

fn same_names(a: &Schema, b: &Schema) -> bool {
    a.fields.len() == b.fields.len() && a.fields.iter().zip(&b.fields).all(|(x, y)| x.name == y.name)
}

/// Appends a non-null value to a leaf column; returns the bytes it holds.
fn append_leaf(data: &mut Data, value: &Value) -> Result<usize, String> {
    Ok(match data {
        Data::Boolean(b) => {
            b.append(coerce::to_bool(value).map_err(|r| cannot(value, "Boolean", &r))?);
            1
        }
        Data::Int8(v) => push(v, int(value, "Int8")?),
        Data::Int16(v) => push(v, int(value, "Int16")?),
        Data::Int32(v) => push(v, int(value, "Int32")?),
        Data::Int64(v) => push(v, int(value, "Int64")?),
        Data::Float32(v) => push(v, float(value, "Float32")? as f32),
        Data::Float64(v) => push(v, float(value, "Float64")?),
        Data::Decimal128 { values, precision, scale } => push(values, decimal(value, *precision, *scale)?),
        Data::Decimal256 { values, precision, scale } => {
            push(values, i256::from_i128(decimal(value, *precision, *scale)?))
        }
        Data::Date32(v) => push(v, date(value)?),
        Data::Time32(v) => push(v, time_of_day(value, 1)?),
        Data::Time64(v) => push(v, time_of_day(value, 1_000)?),
        Data::Timestamp { values, unit, .. } => push(values, instant(value, *unit)?),
        Data::Utf8(t) => text(t, value)?,
        Data::Binary(t) => binary(t, value)?,
        Data::Null | Data::Json(_) | Data::Struct(_) | Data::List { .. } | Data::Map { .. } => {
            return Err(format!("internal error: {} is not a leaf column", value.type_name()))
        }
    })
}

fn push<T>(values: &mut Vec<T>, value: T) -> usize {
    values.push(value);
    mem::size_of::<T>()
}

fn int<T: TryFrom<i128>>(value: &Value, type_name: &str) -> Result<T, String> {
    let n = coerce::to_i128(value).map_err(|r| cannot(value, type_name, &r))?;
    T::try_from(n).map_err(|_| format!("{} is out of range for {type_name}", shown(value)))
}

fn float(value: &Value, type_name: &str) -> Result<f64, String> {
    coerce::to_f64(value).map_err(|r| cannot(value, type_name, &r))
}

/// An exact decimal at the column's scale that fits its precision.
fn decimal(value: &Value, precision: u8, scale: i8) -> Result<i128, String> {
    let too_many = || {
        let before = i32::from(precision) - i32::from(scale);
        format!(
            "{} has more digits than Decimal({precision}, {scale}) holds (at most {before} before the point and {scale} after)",
            shown(value)
        )
    };
    let unscaled = coerce::to_decimal(value, scale.unsigned_abs().into()).map_err(|reason| {
        // coerce says "digits" both for fraction digits it would lose and for overflow.
        if reason.contains("digit") {
            too_many()
        } else {
            cannot(value, &format!("Decimal({precision}, {scale})"), &reason)
        }
    })?;
    match 10i128.checked_pow(precision.into()) {
        Some(limit) if unscaled.unsigned_abs() >= limit.unsigned_abs() => Err(too_many()),
        _ => Ok(unscaled),
    }
}

/// Days since the epoch: Date values as they are, anything else as a point in time (plain
/// numbers count days).
fn date(value: &Value) -> Result<i32, String> {
    if let Value::Date(days) = value {
        return Ok(*days);
    }
    let nanos = coerce::to_epoch_nanos(value, NANOS_PER_DAY).map_err(|r| cannot(value, "a date", &r))?;
    i32::try_from(nanos.div_euclid(NANOS_PER_DAY)).map_err(|_| format!("{} is out of range for a date", shown(value)))
}

/// A time of day in units of `1/per_milli` milliseconds: Time values (milliseconds) and plain
/// numbers (the column's unit) from 0 to one day.
fn time_of_day<T: TryFrom<i128>>(value: &Value, per_milli: i128) -> Result<T, String> {
    let units = match value {
        Value::Time(ms) => i128::from(*ms) * per_milli,
        _ => coerce::to_i128(value).map_err(|r| cannot(value, "a time of day", &r))?,
    };
    let day = MILLIS_PER_DAY * per_milli;
    if !(0..day).contains(&units) {
        let unit = if per_milli == 1 { "milliseconds" } else { "microseconds" };
        return Err(format!("{} is not a time of day (0 to {} {unit} since midnight)", shown(value), day - 1));
    }
    T::try_from(units).map_err(|_| format!("{} is out of range for a time of day", shown(value)))
}

/// A point in time in the column's unit; plain numbers count that unit.
fn instant(value: &Value, unit: TimeUnit) -> Result<i64, String> {
    let unit_nanos: i128 = match unit {
        TimeUnit::Second => 1_000_000_000,
        TimeUnit::Millisecond => 1_000_000,
        TimeUnit::Microsecond => 1_000,
        TimeUnit::Nanosecond => 1,
    };
    if let (Value::Timestamp(ms), TimeUnit::Millisecond) = (value, unit) {
        return Ok(*ms);
    }
    let nanos = coerce::to_epoch_nanos(value, unit_nanos).map_err(|r| cannot(value, "a timestamp", &r))?;
    i64::try_from(nanos.div_euclid(unit_nanos)).map_err(|_| format!("{} is out of range for a timestamp", shown(value)))
}

/// Text of any value (containers as JSON); bytes only when they are UTF-8.
fn text(t: &mut VarBytes, value: &Value) -> Result<usize, String> {
    coerce::write_text(value, &mut t.bytes);
    if let Value::Bytes(b) = value {
        if std::str::from_utf8(b).is_err() {
            // The caller cuts the column back, dropping these bytes.
            return Err(format!("{} that are not UTF-8 cannot be stored as a string", shown(value)));
        }
    }
    t.close()
}

fn binary(t: &mut VarBytes, value: &Value) -> Result<usize, String> {
    match value {
        Value::Bytes(b) => t.bytes.extend_from_slice(b),
        Value::String(s) => t.bytes.extend_from_slice(s.as_bytes()),
        _ => return Err(cannot(value, "Binary", "not bytes")),
    }
    t.close()
}

/// "`value` (type) cannot be stored as `target`: reason".
fn cannot(value: &Value, target: &str, reason: &str) -> String {
    format!("{} ({}) cannot be stored as {target}: {reason}", shown(value), value.type_name())
}

/// A value as an error message shows it: short, strings quoted.
pub(super) fn shown(value: &Value) -> String {
    const MAX: usize = 60;
    let clip = |s: &str| match s.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &s[..end]),
        None => s.to_owned(),
    };
    match value {
        Value::String(s) => format!("\"{}\"", clip(s)),
        Value::Bytes(b) => format!("{} bytes", b.len()),
        _ => {
            let mut out = Vec::new();
            coerce::write_text(value, &mut out);
            clip(&String::from_utf8_lossy(&out))
        }
    }
}
