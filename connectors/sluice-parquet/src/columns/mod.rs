//! `RowBuffer`: the records of one file, appended column by column into Arrow-layout buffers
//! and handed to the Parquet writer as one `RecordBatch`.
//!
//! Values are written straight from the record into the column vectors (no per-record copy of
//! the `Value`), and [`RowBuffer::finish`] gives the vectors to Arrow without copying them.
//! A push that fails (a value that does not fit its column) cuts every column back to the row
//! count it had, so the buffer is exactly as before and the record can go to the dead letter
//! queue with the error's message.
//!
//! # Records with a schema
//! Columns follow the Connect schema as [`crate::schema`] maps it; values are coerced with
//! `sluice_api::coerce` (a JSON string `"42"` into an `Int32` column, decimals rescaled without
//! losing digits). A null or missing field takes the field's default, else null when the
//! field is optional; a required field without either fails the record. Records of another
//! version of the schema join the file as `schema.compatibility` allows (see
//! [`crate::schema`]): with `BACKWARD`/`FULL` the file adopts a newer schema (rows already in
//! it get the new fields' defaults, or nulls) and older records are projected onto it, so
//! interleaved versions share one file.
//!
//! # Schemaless records (JSON without a schema)
//! The file's Arrow schema is inferred from its records:
//! - an object's keys are columns, in order of first appearance; a key that first appears in
//!   a later record is added with nulls for the earlier rows, and a key a record lacks is null
//!   (a missing key never fails a record); of duplicate keys in one object the first counts;
//! - numbers are `Int64` until a number with a fraction appears, then the column is `Float64`
//!   (earlier integers widened; beyond 2^53 they lose precision);
//! - strings are `Utf8`, booleans `Boolean`, nested objects `Struct`, arrays `List`;
//! - a field whose values have conflicting types within the file (a string then an object, a
//!   number then a boolean…) becomes a `Utf8` column of JSON text, earlier values re-rendered
//!   as JSON (`"abc"` with its quotes, `{"a":1}`; null fields are left out of objects);
//! - a field that was only ever null is an all-null `Utf8` column; an object that never had
//!   a key is the text `{}`;
//! - a record that is not an object (a bare string, number or array) is stored as the object
//!   `{"value": …}`, i.e. in the single column `value`.
//!
//! The schema is inferred afresh for every file. A record that came as JSON text (the JSON
//! lane, `SinkTask::reads_json_values`) is appended from the top-level fields of its object,
//! read straight from the text ([`RowBuffer::push_json_fields`]): the same row as its parsed
//! value gives, without building that value.

mod inferred;
mod storage;
mod typed;

#[cfg(test)]
mod tests;

use std::fmt;
use std::mem;
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_schema::{Schema as ArrowSchema, SchemaRef as ArrowSchemaRef};
use sluice_api::json::FieldValue;
use sluice_api::{Schema, SchemaRef, SchemaType, Value};

use crate::schema::{self, show_at, Compatibility, Resolution, SchemaError, VALUE_COLUMN};
use storage::{Column, Data, StructData};

/// A record value that cannot be stored in the file: names the field and says what is wrong,
/// e.g. "field `amount`: 12345.678 has more digits than Decimal(10, 2) holds".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", show_at(path, message))]
pub struct ValueError {
    /// Path of the field at fault (`address.zip`, `items[2].price`, `attrs[0].value`); empty
    /// when the record as a whole is at fault.
    pub path: String,
    /// What is wrong with the value, as a sentence fragment.
    pub message: String,
}

impl ValueError {
    fn record(message: impl Into<String>) -> Self {
        ValueError { path: String::new(), message: message.into() }
    }
}

impl From<SchemaError> for ValueError {
    fn from(e: SchemaError) -> Self {
        ValueError { path: e.path, message: e.message }
    }
}

/// A failure inside an append; the path is collected on the way out, so the appends that
/// succeed build no strings.
struct Fail {
    /// Path segments, innermost first.
    segments: Vec<Segment>,
    message: String,
}

enum Segment {
    Field(String),
    Index(usize),
    MapKey,
    MapValue,
}

impl Fail {
    fn new(message: impl Into<String>) -> Self {
        Fail { segments: Vec::new(), message: message.into() }
    }

    fn at(mut self, segment: Segment) -> Self {
        self.segments.push(segment);
        self
    }

    fn into_error(self) -> ValueError {
        let mut path = String::new();
        for segment in self.segments.iter().rev() {
            match segment {
                Segment::Field(name) => {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(name);
                }
                Segment::Index(i) => path.push_str(&format!("[{i}]")),
                Segment::MapKey => path.push_str(".key"),
                Segment::MapValue => path.push_str(".value"),
            }
        }
        ValueError { path, message: self.message }
    }
}

/// What one append did besides appending.
#[derive(Default)]
struct Ctx {
    /// Bytes the appended values hold.
    bytes: usize,
    /// Whether a schemaless column was added or changed type.
    changed: bool,
}

/// Records of one file, column by column, until [`RowBuffer::finish`] makes them a
/// `RecordBatch`. See the module docs for how values map and how schemas evolve.
pub struct RowBuffer {
    compatibility: Compatibility,
    mode: Mode,
    /// A struct column whose children are the file's columns.
    root: Column,
    rows: usize,
    /// Running count of the bytes the columns hold.
    bytes: usize,
    /// The schema `finish` would produce now, rebuilt when columns change.
    arrow: ArrowSchemaRef,
}

impl fmt::Debug for RowBuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RowBuffer");
        match &self.mode {
            Mode::Schemaless => d.field("schema", &"inferred"),
            Mode::Typed(typed) => d.field("schema", &typed.target.name).field("version", &typed.target.version),
        };
        d.field("compatibility", &self.compatibility)
            .field("rows", &self.rows)
            .field("buffered_bytes", &self.bytes)
            .finish_non_exhaustive()
    }
}

enum Mode {
    Schemaless,
    Typed(Typed),
}

/// State of a file of records with schemas.
struct Typed {
    /// The Connect schema the file is written with.
    target: SchemaRef,
    /// Why `target` cannot be stored in Parquet, if it cannot; every push of it fails so.
    unsupported: Option<SchemaError>,
    /// Schemas seen since the file started, in order of first arrival (which decides which is
    /// newer when they carry no version), with how their records join the file once known.
    seen: Vec<Seen>,
}

struct Seen {
    schema: SchemaRef,
    /// Relative to the current target; reset when the target changes.
    fate: Option<Result<Fate, SchemaError>>,
}

/// What `push` does with a record.
enum Step {
    Schemaless,
    Restart,
    Append,
    Adopt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Same,
    Project,
    Adopt,
}

impl Typed {
    fn new(target: SchemaRef) -> Self {
        let unsupported = schema::to_arrow_schema(&target).err();
        let seen = vec![Seen { schema: target.clone(), fate: Some(Ok(Fate::Same)) }];
        Typed { target, unsupported, seen }
    }

    fn position(&self, schema: &SchemaRef) -> Option<usize> {
        self.seen
            .iter()
            .position(|s| Arc::ptr_eq(&s.schema, schema))
            .or_else(|| self.seen.iter().position(|s| s.schema == *schema))
    }

    /// How a record of `schema` joins the file; an error says why it cannot.
    fn fate(&self, schema: &SchemaRef, compatibility: Compatibility) -> Result<Fate, SchemaError> {
        if Arc::ptr_eq(schema, &self.target) {
            return Ok(Fate::Same);
        }
        let at = self.position(schema);
        if let Some(fate) = at.and_then(|i| self.seen[i].fate.clone()) {
            return fate;
        }
        if **schema == *self.target {
            return Ok(Fate::Same);
        }
        schema::to_arrow_schema(schema)?;
        let newer =
            schema::is_newer_version(schema, &self.target).unwrap_or_else(|| match (at, self.position(&self.target)) {
                (Some(a), Some(t)) => a > t,
                (None, _) => true,
                (Some(_), None) => false,
            });
        Ok(match compatibility.resolve(&self.target, schema, newer)? {
            Resolution::ProjectRecord => Fate::Project,
            Resolution::AdoptRecordSchema => Fate::Adopt,
        })
    }

    /// [`Typed::fate`], remembered for the next record of the same schema.
    fn fate_cached(&mut self, schema: &SchemaRef, compatibility: Compatibility) -> Result<Fate, SchemaError> {
        if Arc::ptr_eq(schema, &self.target) {
            return Ok(Fate::Same);
        }
        let at = self.position(schema);
        if let Some(fate) = at.and_then(|i| self.seen[i].fate.clone()) {
            return fate;
        }
        let fate = self.fate(schema, compatibility);
        match at {
            Some(i) => self.seen[i].fate = Some(fate.clone()),
            None => self.seen.push(Seen { schema: schema.clone(), fate: Some(fate.clone()) }),
        }
        fate
    }

    /// Makes `schema` the file's schema; what is known about the others no longer holds.
    fn adopt(&mut self, schema: &SchemaRef) {
        self.target = schema.clone();
        for seen in &mut self.seen {
            seen.fate = None;
        }
        let at = self.position(schema);
        match at {
            Some(i) => self.seen[i].fate = Some(Ok(Fate::Same)),
            None => self.seen.push(Seen { schema: schema.clone(), fate: Some(Ok(Fate::Same)) }),
        }
    }
}

/// The record schema as the root column's: itself for a struct, else a struct of one field
/// [`VALUE_COLUMN`].
fn root_schema(schema: &SchemaRef) -> SchemaRef {
    if schema.schema_type == SchemaType::Struct {
        schema.clone()
    } else {
        Schema::structure([(VALUE_COLUMN, schema.clone())]).into_ref()
    }
}

fn schemaless_root() -> Column {
    Column::new(None, Data::Struct(StructData::new(Vec::new())))
}

impl RowBuffer {
    /// An empty buffer for records with the Connect schema `schema`, or for schemaless JSON
    /// (`None`), whose schema is inferred. `compatibility` decides which other schemas
    /// [`RowBuffer::admits`]. A schema Parquet cannot hold fails every push with the reason.
    pub fn new(schema: Option<SchemaRef>, compatibility: Compatibility) -> Self {
        let (mode, root) = match schema {
            None => (Mode::Schemaless, schemaless_root()),
            Some(target) => {
                let root = Column::for_schema(&root_schema(&target), "").unwrap_or_else(|_| schemaless_root());
                (Mode::Typed(Typed::new(target)), root)
            }
        };
        let arrow = Arc::new(ArrowSchema::new(root.fields()));
        RowBuffer { compatibility, mode, root, rows: 0, bytes: 0, arrow }
    }

    /// Whether a record with this schema can go into this buffer: any record while it is
    /// empty; else one of the same kind (schemaless, or with a schema) whose schema is the
    /// file's or compatible with it under `schema.compatibility`. A record it does not admit
    /// needs a new file.
    pub fn admits(&self, schema: Option<&SchemaRef>) -> bool {
        if self.rows == 0 {
            return true;
        }
        match (&self.mode, schema) {
            (Mode::Schemaless, None) => true,
            (Mode::Typed(typed), Some(schema)) => {
                typed.unsupported.is_none() && typed.fate(schema, self.compatibility).is_ok()
            }
            _ => false,
        }
    }

    /// Appends one record value (with its value schema). Call only when [`RowBuffer::admits`]
    /// the schema; the file's schema widens (schemaless) or moves to a newer version
    /// (`BACKWARD`/`FULL`) as needed. On error nothing was appended.
    pub fn push(&mut self, value: &Value, schema: Option<&SchemaRef>) -> Result<(), ValueError> {
        if value.is_null() {
            return Err(ValueError::record(
                "the record has no value (a tombstone); a Parquet row needs one, so such records are skipped or sent to the dead letter queue",
            ));
        }
        let step = match (&mut self.mode, schema) {
            (Mode::Schemaless, None) => Step::Schemaless,
            (Mode::Typed(typed), Some(schema)) => {
                if self.rows == 0 && !Arc::ptr_eq(schema, &typed.target) && **schema != *typed.target {
                    Step::Restart
                } else if let Some(e) = &typed.unsupported {
                    return Err(e.clone().into());
                } else {
                    match typed.fate_cached(schema, self.compatibility) {
                        Ok(Fate::Same | Fate::Project) => Step::Append,
                        Ok(Fate::Adopt) => Step::Adopt,
                        Err(e) => {
                            return Err(ValueError::record(format!(
                                "the record's schema cannot join the file's ({e}); start a new file for it"
                            )))
                        }
                    }
                }
            }
            _ if self.rows == 0 => Step::Restart,
            (_, Some(_)) => {
                return Err(ValueError::record("a record with a schema cannot join a file of schemaless records"))
            }
            (_, None) => {
                return Err(ValueError::record("a schemaless record cannot join a file of records with a schema"))
            }
        };
        match (step, schema) {
            (Step::Schemaless, _) => self.push_schemaless(value),
            (Step::Restart, schema) => self.restart(value, schema),
            (Step::Append, Some(schema)) => self.append_typed(value, schema),
            (Step::Adopt, Some(schema)) => self.adopt_and_append(value, schema),
            (Step::Append | Step::Adopt, None) => Err(ValueError::record("internal error: no schema to append with")),
        }
    }

    /// Rows pushed since the last `finish`.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The bytes the buffered rows hold (values, offsets, validity bits): a running count, for
    /// the sink's memory bound. Vectors grow by doubling, so the memory reserved can be up to
    /// twice this.
    pub fn buffered_bytes(&self) -> usize {
        self.bytes
    }

    /// The Arrow schema [`RowBuffer::finish`] would produce now.
    pub fn arrow_schema(&self) -> ArrowSchemaRef {
        self.arrow.clone()
    }

    /// Everything pushed since the last call, as one batch; the buffer is empty afterwards and
    /// keeps its schema (schemaless buffers infer theirs afresh).
    pub fn finish(&mut self) -> Result<RecordBatch, ValueError> {
        let rows = mem::take(&mut self.rows);
        self.bytes = 0;
        let schema = self.arrow.clone();
        let Data::Struct(root) = &mut self.root.data else {
            return Err(ValueError::record("internal error: the root column is not a struct"));
        };
        let columns: Result<Vec<ArrayRef>, _> = root.children.iter_mut().map(|c| c.column.finish()).collect();
        self.root.nulls.finish();
        match &mut self.mode {
            Mode::Schemaless => {
                self.root = schemaless_root();
                self.arrow = Arc::new(ArrowSchema::empty());
            }
            Mode::Typed(typed) => {
                let target = typed.target.clone();
                *typed = Typed::new(target);
            }
        }
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        columns
            .and_then(|columns| RecordBatch::try_new_with_options(schema, columns, &options))
            .map_err(|e| ValueError::record(format!("internal error building the record batch: {e}")))
    }

    /// Starts over for a record of another kind or schema while the buffer is empty: a new
    /// buffer, which replaces this one only if the record goes in.
    fn restart(&mut self, value: &Value, schema: Option<&SchemaRef>) -> Result<(), ValueError> {
        let mut fresh = RowBuffer::new(schema.cloned(), self.compatibility);
        if let Mode::Typed(typed) = &fresh.mode {
            if let Some(e) = &typed.unsupported {
                return Err(e.clone().into());
            }
        }
        fresh.push(value, schema)?;
        *self = fresh;
        Ok(())
    }

    /// Appends one schemaless record given as the top-level fields of its JSON object, read
    /// straight from the text (`sluice_api::json::ObjectFields`): the same row as
    /// [`RowBuffer::push`] of the object's parsed value, without building that value. Call
    /// only when [`RowBuffer::admits`] schemaless records (`None`). On error nothing was
    /// appended.
    pub fn push_json_fields(&mut self, fields: &[(&str, FieldValue<'_>)]) -> Result<(), ValueError> {
        match self.mode {
            Mode::Schemaless => {}
            Mode::Typed(_) if self.rows == 0 => *self = RowBuffer::new(None, self.compatibility),
            Mode::Typed(_) => {
                return Err(ValueError::record("a schemaless record cannot join a file of records with a schema"))
            }
        }
        self.append_schemaless(|root, ctx| root.append_object(fields.iter().copied(), ctx))
    }

    /// Appends one record whose value is a datum of `schema`, given as its top-level fields in
    /// the schema's order (`sluice_api::DatumReader::read_fields`): the same row as
    /// [`RowBuffer::push`] of the value the datum decodes to, without building that value.
    /// `Ok(false)`, with nothing appended, when the record must be pushed as its decoded value
    /// instead: `schema` is not the file's own (a new file, another version to project or
    /// adopt) or cannot be stored. On error nothing was appended.
    pub fn push_fields(&mut self, fields: &[(&str, FieldValue<'_>)], schema: &SchemaRef) -> Result<bool, ValueError> {
        let Mode::Typed(typed) = &self.mode else { return Ok(false) };
        if !Arc::ptr_eq(schema, &typed.target)
            || typed.unsupported.is_some()
            || schema.schema_type != SchemaType::Struct
        {
            return Ok(false);
        }
        let mut ctx = Ctx::default();
        match self.root.append_fields_row(fields, &mut ctx) {
            Ok(false) => Ok(false),
            Ok(true) => {
                self.bytes += ctx.bytes;
                self.rows += 1;
                Ok(true)
            }
            Err(fail) => {
                self.root.truncate(self.rows);
                Err(fail.into_error())
            }
        }
    }

    fn push_schemaless(&mut self, value: &Value) -> Result<(), ValueError> {
        self.append_schemaless(|root, ctx| root.append_json_row(value, ctx))
    }

    /// Appends one schemaless row with `append`; undoes it if it fails.
    fn append_schemaless(
        &mut self,
        append: impl FnOnce(&mut Column, &mut Ctx) -> Result<(), Fail>,
    ) -> Result<(), ValueError> {
        let mut ctx = Ctx::default();
        let result = append(&mut self.root, &mut ctx);
        if result.is_err() {
            self.root.truncate(self.rows);
        }
        if ctx.changed {
            // Widening and re-rendering changed what earlier rows hold.
            self.bytes = self.root.data_bytes();
            self.arrow = Arc::new(ArrowSchema::new(self.root.fields()));
        } else if result.is_ok() {
            self.bytes += ctx.bytes;
        }
        result.map_err(Fail::into_error)?;
        self.rows += 1;
        Ok(())
    }

    /// Appends a record of the file's schema or of one projected onto it.
    fn append_typed(&mut self, value: &Value, schema: &SchemaRef) -> Result<(), ValueError> {
        let mut ctx = Ctx::default();
        let wrapped = schema.schema_type != SchemaType::Struct;
        if let Err(fail) = self.root.append_typed_row(value, wrapped, &mut ctx) {
            self.root.truncate(self.rows);
            return Err(fail.into_error());
        }
        self.bytes += ctx.bytes;
        self.rows += 1;
        Ok(())
    }

    /// Moves the file to the record's (newer, or with `FORWARD` older) schema, then appends
    /// the record. Everything that can fail is tried before the buffer changes.
    fn adopt_and_append(&mut self, value: &Value, schema: &SchemaRef) -> Result<(), ValueError> {
        let new_root = root_schema(schema);
        let wrapped = schema.schema_type != SchemaType::Struct;
        let mut probe = Column::for_schema(&new_root, "")?;
        probe.append_typed_row(value, wrapped, &mut Ctx::default()).map_err(Fail::into_error)?;
        let plan = self.root.plan_adoption(&new_root).map_err(Fail::into_error)?;
        let old = mem::replace(&mut self.root, schemaless_root());
        self.root = old.adopt(&new_root, plan);
        if let Mode::Typed(typed) = &mut self.mode {
            typed.adopt(schema);
        }
        self.bytes = self.root.data_bytes();
        self.arrow = Arc::new(ArrowSchema::new(self.root.fields()));
        self.append_typed(value, schema)
    }
}
