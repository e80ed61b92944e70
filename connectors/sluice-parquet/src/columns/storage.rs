//! Column storage: plain vectors in Arrow's layout (values, offsets, validity bits) that turn
//! into arrays without copying, and that can be cut back to a row count, which is how a failed
//! push is undone.
//!
//! Every length below a column follows from its own: a struct's children have its length, a
//! list's items are as many as its last offset says. So truncating a column to `n` rows also
//! drops whatever half a row left in its children.

use std::mem;
use std::sync::Arc;

use arrow_array::types::{
    Date32Type, Decimal128Type, Decimal256Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type,
    Time32MillisecondType, Time64MicrosecondType, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType,
};
use arrow_array::{
    new_null_array, ArrayRef, ArrowPrimitiveType, BinaryArray, BooleanArray, ListArray, MapArray, PrimitiveArray,
    StringArray, StructArray,
};
use arrow_buffer::{i256, BooleanBufferBuilder, Buffer, NullBuffer, NullBufferBuilder, OffsetBuffer, ScalarBuffer};
use arrow_schema::{ArrowError, DataType, Field, Fields, TimeUnit};
use sluice_api::{SchemaRef, SchemaType};

use crate::schema::{self, SchemaError, LIST_ITEM};

/// One column (or nested child) of the file being filled.
pub(super) struct Column {
    /// The Connect schema of this position (nullability, default, projection); `None` in a
    /// schemaless file, where the type is inferred from the values.
    pub schema: Option<SchemaRef>,
    /// Validity bits; also the column's length. Kept unallocated until the first null.
    pub nulls: NullBufferBuilder,
    pub data: Data,
}

/// The values of a column; a null row holds a zero, an empty string, or an empty list.
pub(super) enum Data {
    /// Schemaless: only nulls so far. Written as an all-null `Utf8` column.
    Null,
    Boolean(BooleanBufferBuilder),
    Int8(Vec<i8>),
    Int16(Vec<i16>),
    Int32(Vec<i32>),
    Int64(Vec<i64>),
    Float32(Vec<f32>),
    Float64(Vec<f64>),
    Decimal128 {
        values: Vec<i128>,
        precision: u8,
        scale: i8,
    },
    Decimal256 {
        values: Vec<i256>,
        precision: u8,
        scale: i8,
    },
    /// Days since the epoch.
    Date32(Vec<i32>),
    /// Milliseconds since midnight.
    Time32(Vec<i32>),
    /// Microseconds since midnight.
    Time64(Vec<i64>),
    Timestamp {
        values: Vec<i64>,
        unit: TimeUnit,
        tz: Option<Arc<str>>,
    },
    Utf8(VarBytes),
    /// Schemaless: a `Utf8` column of JSON text, for a field whose type conflicts in the file.
    Json(VarBytes),
    Binary(VarBytes),
    Struct(StructData),
    List {
        offsets: Vec<i32>,
        item: Box<Column>,
        item_nullable: bool,
    },
    Map {
        offsets: Vec<i32>,
        keys: Box<Column>,
        values: Box<Column>,
        values_nullable: bool,
    },
}

/// Variable-length values: their bytes back to back, and where each ends.
pub(super) struct VarBytes {
    /// `offsets[i]..offsets[i + 1]` are the bytes of row `i`; starts with 0.
    pub offsets: Vec<i32>,
    pub bytes: Vec<u8>,
}

/// A struct's fields.
pub(super) struct StructData {
    pub children: Vec<Child>,
    /// The last schema projected from that is not the column's own (an older or newer version),
    /// with the index of each child's field in it: projection by name, looked up once.
    pub projection: Option<(SchemaRef, Vec<Option<usize>>)>,
}

/// One field of a struct column.
pub(super) struct Child {
    pub name: String,
    pub nullable: bool,
    pub column: Column,
}

impl VarBytes {
    /// Storage holding `rows` empty values.
    pub fn with_empty(rows: usize) -> Self {
        VarBytes { offsets: vec![0; rows + 1], bytes: Vec::new() }
    }

    /// Ends the value whose bytes were appended since the last call; returns the bytes the
    /// value holds (with its offset). Arrow's `Utf8`/`Binary` offsets are 32-bit.
    pub fn close(&mut self) -> Result<usize, String> {
        let start = self.offsets.last().copied().unwrap_or(0);
        let end = i32::try_from(self.bytes.len()).map_err(|_| {
            "the file's column would pass 2 GiB of text; lower flush.size so files rotate sooner".to_owned()
        })?;
        self.offsets.push(end);
        Ok((end - start) as usize + 4)
    }

    fn push_empty(&mut self) {
        let last = self.offsets.last().copied().unwrap_or(0);
        self.offsets.push(last);
    }

    fn truncate(&mut self, rows: usize) {
        self.offsets.truncate(rows + 1);
        let end = self.offsets.last().copied().unwrap_or(0);
        self.bytes.truncate(end as usize);
    }

    /// The bytes of row `row`.
    pub fn value(&self, row: usize) -> &[u8] {
        let start = self.offsets.get(row).copied().unwrap_or(0) as usize;
        let end = self.offsets.get(row + 1).copied().unwrap_or(0) as usize;
        self.bytes.get(start..end).unwrap_or_default()
    }

    fn take(&mut self) -> (OffsetBuffer<i32>, Buffer) {
        let offsets = mem::replace(&mut self.offsets, vec![0]);
        (OffsetBuffer::new(ScalarBuffer::from(offsets)), Buffer::from_vec(mem::take(&mut self.bytes)))
    }
}

impl StructData {
    pub fn new(children: Vec<Child>) -> Self {
        StructData { children, projection: None }
    }

    fn fields(&self) -> Fields {
        self.children.iter().map(|c| Field::new(c.name.clone(), c.column.data_type(), c.nullable)).collect()
    }
}

/// The list offsets of a column, checked against Arrow's 32-bit limit.
pub(super) fn end_offset(len: usize) -> Result<i32, String> {
    i32::try_from(len).map_err(|_| "the file's list would pass 2^31 items; lower flush.size".to_owned())
}

impl Column {
    /// An empty column of the given storage.
    pub fn new(schema: Option<SchemaRef>, data: Data) -> Self {
        Column { schema, nulls: NullBufferBuilder::new(0), data }
    }

    /// An empty column for values of `schema`, typed as [`schema::to_arrow_type`] maps it.
    pub fn for_schema(schema: &SchemaRef, path: &str) -> Result<Column, SchemaError> {
        let at = |name: &str| if path.is_empty() { name.to_owned() } else { format!("{path}.{name}") };
        let data = match schema.schema_type {
            SchemaType::Struct => Data::Struct(StructData::new(
                schema
                    .fields
                    .iter()
                    .map(|f| {
                        let column = Column::for_schema(&f.schema, &at(&f.name))?;
                        Ok(Child { name: f.name.clone(), nullable: f.schema.optional, column })
                    })
                    .collect::<Result<_, SchemaError>>()?,
            )),
            SchemaType::Array => {
                let items = schema.items().ok_or_else(|| missing(path, "array item"))?;
                let item = Column::for_schema(items, &format!("{path}[]"))?;
                Data::List { offsets: vec![0], item: Box::new(item), item_nullable: items.optional }
            }
            SchemaType::Map => {
                let (Some(k), Some(v)) = (&schema.key_schema, &schema.value_schema) else {
                    return Err(missing(path, "map key or value"));
                };
                Data::Map {
                    offsets: vec![0],
                    keys: Box::new(Column::for_schema(k, &at(schema::MAP_KEY))?),
                    values: Box::new(Column::for_schema(v, &at(schema::MAP_VALUE))?),
                    values_nullable: v.optional,
                }
            }
            _ => {
                let data_type =
                    schema::to_arrow_type(schema).map_err(|e| SchemaError { path: path.to_owned(), ..e })?;
                leaf(&data_type).ok_or_else(|| SchemaError {
                    path: path.to_owned(),
                    message: format!("{data_type} columns are not supported"),
                })?
            }
        };
        Ok(Column::new(Some(schema.clone()), data))
    }

    /// Rows (or list items) held.
    pub fn len(&self) -> usize {
        self.nulls.len()
    }

    /// Appends a null (and a placeholder value: a zero, an empty string or list, a null in
    /// every child); returns the bytes it holds.
    pub fn push_null(&mut self) -> usize {
        self.nulls.append_null();
        match &mut self.data {
            Data::Null => 0,
            Data::Boolean(b) => {
                b.append(false);
                1
            }
            Data::Int8(v) => push_zero(v),
            Data::Int16(v) => push_zero(v),
            Data::Int32(v) | Data::Date32(v) | Data::Time32(v) => push_zero(v),
            Data::Int64(v) | Data::Time64(v) | Data::Timestamp { values: v, .. } => push_zero(v),
            Data::Float32(v) => push_zero(v),
            Data::Float64(v) => push_zero(v),
            Data::Decimal128 { values, .. } => push_zero(values),
            Data::Decimal256 { values, .. } => push_zero(values),
            Data::Utf8(t) | Data::Json(t) | Data::Binary(t) => {
                t.push_empty();
                4
            }
            Data::Struct(s) => s.children.iter_mut().map(|c| c.column.push_null()).sum(),
            Data::List { offsets, .. } | Data::Map { offsets, .. } => {
                let last = offsets.last().copied().unwrap_or(0);
                offsets.push(last);
                4
            }
        }
    }

    /// Cuts the column back to `rows` rows, dropping whatever a failed append left below it.
    pub fn truncate(&mut self, rows: usize) {
        self.nulls.truncate(rows);
        match &mut self.data {
            Data::Null => {}
            Data::Boolean(b) => b.truncate(rows),
            Data::Int8(v) => v.truncate(rows),
            Data::Int16(v) => v.truncate(rows),
            Data::Int32(v) | Data::Date32(v) | Data::Time32(v) => v.truncate(rows),
            Data::Int64(v) | Data::Time64(v) | Data::Timestamp { values: v, .. } => v.truncate(rows),
            Data::Float32(v) => v.truncate(rows),
            Data::Float64(v) => v.truncate(rows),
            Data::Decimal128 { values, .. } => values.truncate(rows),
            Data::Decimal256 { values, .. } => values.truncate(rows),
            Data::Utf8(t) | Data::Json(t) | Data::Binary(t) => t.truncate(rows),
            Data::Struct(s) => s.children.iter_mut().for_each(|c| c.column.truncate(rows)),
            Data::List { offsets, item, .. } => {
                offsets.truncate(rows + 1);
                item.truncate(offsets.last().copied().unwrap_or(0) as usize);
            }
            Data::Map { offsets, keys, values, .. } => {
                offsets.truncate(rows + 1);
                let items = offsets.last().copied().unwrap_or(0) as usize;
                keys.truncate(items);
                values.truncate(items);
            }
        }
    }

    /// Bytes of data held (values, offsets, validity), the running count's reference.
    pub fn data_bytes(&self) -> usize {
        let bits = self.len().div_ceil(8);
        bits + match &self.data {
            Data::Null => 0,
            Data::Boolean(b) => b.len(),
            Data::Int8(v) => v.len(),
            Data::Int16(v) => v.len() * 2,
            Data::Int32(v) | Data::Date32(v) | Data::Time32(v) => v.len() * 4,
            Data::Int64(v) | Data::Time64(v) | Data::Timestamp { values: v, .. } => v.len() * 8,
            Data::Float32(v) => v.len() * 4,
            Data::Float64(v) => v.len() * 8,
            Data::Decimal128 { values, .. } => values.len() * 16,
            Data::Decimal256 { values, .. } => values.len() * 32,
            Data::Utf8(t) | Data::Json(t) | Data::Binary(t) => t.bytes.len() + t.offsets.len() * 4,
            Data::Struct(s) => s.children.iter().map(|c| c.column.data_bytes()).sum(),
            Data::List { offsets, item, .. } => offsets.len() * 4 + item.data_bytes(),
            Data::Map { offsets, keys, values, .. } => offsets.len() * 4 + keys.data_bytes() + values.data_bytes(),
        }
    }

    /// The Arrow type [`Column::finish`] produces.
    pub fn data_type(&self) -> DataType {
        match &self.data {
            Data::Null | Data::Utf8(_) | Data::Json(_) => DataType::Utf8,
            Data::Boolean(_) => DataType::Boolean,
            Data::Int8(_) => DataType::Int8,
            Data::Int16(_) => DataType::Int16,
            Data::Int32(_) => DataType::Int32,
            Data::Int64(_) => DataType::Int64,
            Data::Float32(_) => DataType::Float32,
            Data::Float64(_) => DataType::Float64,
            Data::Decimal128 { precision, scale, .. } => DataType::Decimal128(*precision, *scale),
            Data::Decimal256 { precision, scale, .. } => DataType::Decimal256(*precision, *scale),
            Data::Date32(_) => DataType::Date32,
            Data::Time32(_) => DataType::Time32(TimeUnit::Millisecond),
            Data::Time64(_) => DataType::Time64(TimeUnit::Microsecond),
            Data::Timestamp { unit, tz, .. } => DataType::Timestamp(*unit, tz.clone()),
            Data::Binary(_) => DataType::Binary,
            // Parquet has no empty groups: a schemaless object that never had a key is text.
            Data::Struct(s) if s.children.is_empty() && self.schema.is_none() => DataType::Utf8,
            Data::Struct(s) => DataType::Struct(s.fields()),
            Data::List { item, item_nullable, .. } => {
                DataType::List(Arc::new(Field::new(LIST_ITEM, item.data_type(), *item_nullable)))
            }
            Data::Map { keys, values, values_nullable, .. } => {
                schema::map_type(keys.data_type(), values.data_type(), *values_nullable)
            }
        }
    }

    /// The fields of a struct column (the columns of a record batch).
    pub fn fields(&self) -> Fields {
        match &self.data {
            Data::Struct(s) => s.fields(),
            _ => Fields::empty(),
        }
    }

    /// Hands the values over as an Arrow array (without copying them) and leaves the column
    /// empty, with the same type.
    pub fn finish(&mut self) -> Result<ArrayRef, ArrowError> {
        let len = self.len();
        let data_type = self.data_type();
        let nulls = self.nulls.finish();
        Ok(match &mut self.data {
            Data::Null => new_null_array(&DataType::Utf8, len),
            Data::Boolean(b) => Arc::new(BooleanArray::new(b.finish(), nulls)),
            Data::Int8(v) => primitive::<Int8Type>(v, nulls)?,
            Data::Int16(v) => primitive::<Int16Type>(v, nulls)?,
            Data::Int32(v) => primitive::<Int32Type>(v, nulls)?,
            Data::Int64(v) => primitive::<Int64Type>(v, nulls)?,
            Data::Float32(v) => primitive::<Float32Type>(v, nulls)?,
            Data::Float64(v) => primitive::<Float64Type>(v, nulls)?,
            Data::Date32(v) => primitive::<Date32Type>(v, nulls)?,
            Data::Time32(v) => primitive::<Time32MillisecondType>(v, nulls)?,
            Data::Time64(v) => primitive::<Time64MicrosecondType>(v, nulls)?,
            Data::Decimal128 { values, precision, scale } => Arc::new(
                PrimitiveArray::<Decimal128Type>::try_new(mem::take(values).into(), nulls)?
                    .with_precision_and_scale(*precision, *scale)?,
            ),
            Data::Decimal256 { values, precision, scale } => Arc::new(
                PrimitiveArray::<Decimal256Type>::try_new(mem::take(values).into(), nulls)?
                    .with_precision_and_scale(*precision, *scale)?,
            ),
            Data::Timestamp { values, unit, tz } => {
                let values = ScalarBuffer::from(mem::take(values));
                let tz = tz.clone();
                match unit {
                    TimeUnit::Second => {
                        Arc::new(PrimitiveArray::<TimestampSecondType>::try_new(values, nulls)?.with_timezone_opt(tz))
                    }
                    TimeUnit::Millisecond => Arc::new(
                        PrimitiveArray::<TimestampMillisecondType>::try_new(values, nulls)?.with_timezone_opt(tz),
                    ),
                    TimeUnit::Microsecond => Arc::new(
                        PrimitiveArray::<TimestampMicrosecondType>::try_new(values, nulls)?.with_timezone_opt(tz),
                    ),
                    TimeUnit::Nanosecond => Arc::new(
                        PrimitiveArray::<TimestampNanosecondType>::try_new(values, nulls)?.with_timezone_opt(tz),
                    ),
                }
            }
            Data::Utf8(t) | Data::Json(t) => {
                let (offsets, bytes) = t.take();
                Arc::new(StringArray::try_new(offsets, bytes, nulls)?)
            }
            Data::Binary(t) => {
                let (offsets, bytes) = t.take();
                Arc::new(BinaryArray::try_new(offsets, bytes, nulls)?)
            }
            Data::Struct(s) if s.children.is_empty() && self.schema.is_none() => {
                let mut text = VarBytes::with_empty(0);
                for row in 0..len {
                    if nulls.as_ref().is_none_or(|n| n.is_valid(row)) {
                        text.bytes.extend_from_slice(b"{}");
                    }
                    text.close().map_err(ArrowError::ComputeError)?;
                }
                let (offsets, bytes) = text.take();
                Arc::new(StringArray::try_new(offsets, bytes, nulls)?)
            }
            Data::Struct(s) => {
                let arrays = s.children.iter_mut().map(|c| c.column.finish()).collect::<Result<Vec<_>, _>>()?;
                Arc::new(StructArray::try_new_with_length(s.fields(), arrays, nulls, len)?)
            }
            Data::List { offsets, item, .. } => {
                let DataType::List(field) = data_type else {
                    return Err(ArrowError::SchemaError(format!("a list column has type {data_type}")));
                };
                let offsets = OffsetBuffer::new(ScalarBuffer::from(mem::replace(offsets, vec![0])));
                Arc::new(ListArray::try_new(field, offsets, item.finish()?, nulls)?)
            }
            Data::Map { offsets, keys, values, .. } => {
                let DataType::Map(field, _) = &data_type else {
                    return Err(ArrowError::SchemaError(format!("a map column has type {data_type}")));
                };
                let DataType::Struct(entry_fields) = field.data_type() else {
                    return Err(ArrowError::SchemaError(format!("map entries have type {}", field.data_type())));
                };
                let entries = StructArray::try_new(entry_fields.clone(), vec![keys.finish()?, values.finish()?], None)?;
                let offsets = OffsetBuffer::new(ScalarBuffer::from(mem::replace(offsets, vec![0])));
                Arc::new(MapArray::try_new(field.clone(), offsets, entries, nulls, false)?)
            }
        })
    }
}

/// Empty storage for a leaf of Arrow type `data_type`; `None` for types a Connect schema does
/// not map to.
fn leaf(data_type: &DataType) -> Option<Data> {
    Some(match data_type {
        DataType::Boolean => Data::Boolean(BooleanBufferBuilder::new(0)),
        DataType::Int8 => Data::Int8(Vec::new()),
        DataType::Int16 => Data::Int16(Vec::new()),
        DataType::Int32 => Data::Int32(Vec::new()),
        DataType::Int64 => Data::Int64(Vec::new()),
        DataType::Float32 => Data::Float32(Vec::new()),
        DataType::Float64 => Data::Float64(Vec::new()),
        DataType::Decimal128(precision, scale) => {
            Data::Decimal128 { values: Vec::new(), precision: *precision, scale: *scale }
        }
        DataType::Decimal256(precision, scale) => {
            Data::Decimal256 { values: Vec::new(), precision: *precision, scale: *scale }
        }
        DataType::Date32 => Data::Date32(Vec::new()),
        DataType::Time32(TimeUnit::Millisecond) => Data::Time32(Vec::new()),
        DataType::Time64(TimeUnit::Microsecond) => Data::Time64(Vec::new()),
        DataType::Timestamp(unit, tz) => Data::Timestamp { values: Vec::new(), unit: *unit, tz: tz.clone() },
        DataType::Utf8 => Data::Utf8(VarBytes::with_empty(0)),
        DataType::Binary => Data::Binary(VarBytes::with_empty(0)),
        _ => return None,
    })
}

fn missing(path: &str, what: &str) -> SchemaError {
    SchemaError { path: path.to_owned(), message: format!("the {what} schema is missing") }
}

fn push_zero<T: Default>(values: &mut Vec<T>) -> usize {
    values.push(T::default());
    mem::size_of::<T>()
}

fn primitive<T: ArrowPrimitiveType>(
    values: &mut Vec<T::Native>,
    nulls: Option<NullBuffer>,
) -> Result<ArrayRef, ArrowError> {
    Ok(Arc::new(PrimitiveArray::<T>::try_new(ScalarBuffer::from(mem::take(values)), nulls)?))
}
