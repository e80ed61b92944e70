//! Kafka Connect schemas as Arrow schemas, and compatibility between versions of one subject.
//!
//! # Type map
//!
//! | Connect schema | Arrow type |
//! | --- | --- |
//! | `boolean` | `Boolean` |
//! | `int8` / `int16` / `int32` / `int64` | `Int8` / `Int16` / `Int32` / `Int64` |
//! | `float` / `double` | `Float32` / `Float64` |
//! | `string` (also Avro enums, `uuid`, `big-decimal`; JSON-text fields) | `Utf8` |
//! | `bytes` (also Avro `fixed`) | `Binary` |
//! | `Decimal` (scale `s`, precision `p` from `connect.decimal.precision`, else 38) | `Decimal128(p, s)`; `Decimal256(p, s)` when `p` > 38 |
//! | `Date` | `Date32` |
//! | `Time` | `Time32(Millisecond)` |
//! | `Timestamp` | `Timestamp(Millisecond, "UTC")` |
//! | `Timestamp` from Avro `local-timestamp-millis` | `Timestamp(Millisecond)` (no time zone) |
//! | `int64` from Avro `timestamp-micros` / `timestamp-nanos` | `Timestamp(Microsecond / Nanosecond, "UTC")` |
//! | `int64` from Avro `local-timestamp-micros` / `-nanos` | `Timestamp(Microsecond / Nanosecond)` (no time zone) |
//! | `int64` from Avro `time-micros` | `Time64(Microsecond)` |
//! | `struct` | `Struct` (fields in schema order) |
//! | `array` | `List` (item field `element`) |
//! | `map` | `Map` (entries `key_value`, non-null `key`, `value`) |
//!
//! An optional schema is a nullable field. A record whose schema is a struct gets one column
//! per field; any other record schema gets the single column `value`. The Avro logical types
//! Connect has no equivalent for arrive as `int64` with the parameter `avro.logicalType` (see
//! the Avro converter), which is how they are recognised here.
//!
//! # Compatibility (`schema.compatibility`)
//!
//! The rules of Confluent's S3 sink, applied to the one file being filled. "Newer" is the
//! higher schema `version` when both schemas carry one, else the one that arrived later.
//! - `NONE`: a record with any other schema needs a new file.
//! - `BACKWARD`: the file takes the newest schema seen; rows of older schemas are projected
//!   onto it (a field the older record lacks gets its default, or null). Compatible when every
//!   field of the newer schema that the older one lacks has a default or is optional.
//! - `FORWARD`: the file keeps the oldest schema seen; newer records are projected onto it
//!   (fields it lacks are dropped). Compatible when every field of the older schema that the
//!   newer one lacks has a default or is optional.
//! - `FULL`: as `BACKWARD`, and compatible only when both of the above hold.
//!
//! In every mode a field that changes type (including decimal precision or scale, or a
//! timestamp unit) is incompatible, and so is a field that is optional in the schema projected
//! from but required in the schema projected onto (its nulls would have no place).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use arrow_schema::{DataType, Field, Fields, Schema as ArrowSchema, TimeUnit};
use sluice_api::schema::logical;
use sluice_api::{Schema, SchemaType};

/// Column of a record whose schema is not a struct.
pub const VALUE_COLUMN: &str = "value";
/// Name of a list's item field (the Parquet LIST convention).
pub const LIST_ITEM: &str = "element";
/// Name of a map's entries field (the Parquet MAP convention).
pub const MAP_ENTRIES: &str = "key_value";
/// Name of a map entry's key field.
pub const MAP_KEY: &str = "key";
/// Name of a map entry's value field.
pub const MAP_VALUE: &str = "value";
/// Time zone of Connect timestamps, which are instants.
pub const UTC: &str = "UTC";
/// Schema parameter holding a Decimal's precision (written by the Avro, JSON Schema and
/// Protobuf converters when the source declares one).
pub const DECIMAL_PRECISION: &str = "connect.decimal.precision";
/// Precision of a Decimal whose schema declares none: the widest `Decimal128`.
pub const DEFAULT_DECIMAL_PRECISION: u8 = 38;
/// Schema parameter naming an Avro logical type Connect has no equivalent for.
const AVRO_LOGICAL_TYPE: &str = "avro.logicalType";
/// Widest precision Arrow's `Decimal256` holds.
const MAX_DECIMAL_PRECISION: u8 = 76;

/// A schema that cannot be stored in Parquet, or two schemas that cannot share a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", show_at(path, message))]
pub struct SchemaError {
    /// Dotted path of the field at fault (`address.zip`, `items[]`); empty for the record.
    pub path: String,
    /// What is wrong, as a sentence.
    pub message: String,
}

impl SchemaError {
    fn new(path: &str, message: impl Into<String>) -> Self {
        SchemaError { path: path.to_owned(), message: message.into() }
    }
}

/// `field `path`: message`, or the message alone for the record itself.
pub(crate) fn show_at(path: &str, message: &str) -> String {
    if path.is_empty() {
        message.to_owned()
    } else {
        format!("field `{path}`: {message}")
    }
}

fn child_path(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// The Arrow schema of a file of records with this Connect schema: one column per field of a
/// struct, else the single column [`VALUE_COLUMN`].
pub fn to_arrow_schema(schema: &Schema) -> Result<ArrowSchema, SchemaError> {
    if schema.schema_type != SchemaType::Struct {
        return Ok(ArrowSchema::new(vec![field_at(VALUE_COLUMN, schema, VALUE_COLUMN)?]));
    }
    if schema.fields.is_empty() {
        return Err(SchemaError::new(
            "",
            "the record schema is a struct with no fields; a Parquet file needs a column",
        ));
    }
    Ok(ArrowSchema::new(struct_fields(schema, "")?))
}

/// The Arrow field `name` holding values of `schema`; nullable when the schema is optional.
pub fn to_arrow_field(name: &str, schema: &Schema) -> Result<Field, SchemaError> {
    field_at(name, schema, name)
}

/// The Arrow type of values of `schema` (see the type map in the module docs).
pub fn to_arrow_type(schema: &Schema) -> Result<DataType, SchemaError> {
    type_at(schema, "")
}

fn field_at(name: &str, schema: &Schema, path: &str) -> Result<Field, SchemaError> {
    Ok(Field::new(name, type_at(schema, path)?, schema.optional))
}

fn struct_fields(schema: &Schema, path: &str) -> Result<Vec<Field>, SchemaError> {
    schema.fields.iter().map(|f| field_at(&f.name, &f.schema, &child_path(path, &f.name))).collect()
}

fn type_at(schema: &Schema, path: &str) -> Result<DataType, SchemaError> {
    let missing = |what: &str| SchemaError::new(path, format!("the {what} schema is missing"));
    Ok(match schema.schema_type {
        SchemaType::Boolean => DataType::Boolean,
        SchemaType::Int8 => DataType::Int8,
        SchemaType::Int16 => DataType::Int16,
        SchemaType::Int32 if schema.is_logical(logical::DATE) => DataType::Date32,
        SchemaType::Int32 if schema.is_logical(logical::TIME) => DataType::Time32(TimeUnit::Millisecond),
        SchemaType::Int32 => DataType::Int32,
        SchemaType::Int64 if schema.is_logical(logical::TIMESTAMP) => {
            let local = avro_logical_type(schema) == Some("local-timestamp-millis");
            DataType::Timestamp(TimeUnit::Millisecond, (!local).then(|| UTC.into()))
        }
        SchemaType::Int64 => match avro_logical_type(schema) {
            Some("timestamp-micros") => DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into())),
            Some("timestamp-nanos") => DataType::Timestamp(TimeUnit::Nanosecond, Some(UTC.into())),
            Some("local-timestamp-micros") => DataType::Timestamp(TimeUnit::Microsecond, None),
            Some("local-timestamp-nanos") => DataType::Timestamp(TimeUnit::Nanosecond, None),
            Some("time-micros") => DataType::Time64(TimeUnit::Microsecond),
            _ => DataType::Int64,
        },
        SchemaType::Float32 => DataType::Float32,
        SchemaType::Float64 => DataType::Float64,
        SchemaType::Bytes if schema.is_logical(logical::DECIMAL) => decimal_type(schema, path)?,
        SchemaType::Bytes => DataType::Binary,
        SchemaType::String => DataType::Utf8,
        SchemaType::Struct => {
            if schema.fields.is_empty() {
                return Err(SchemaError::new(path, "a struct with no fields cannot be stored in Parquet"));
            }
            DataType::Struct(Fields::from(struct_fields(schema, path)?))
        }
        SchemaType::Array => {
            let items = schema.items().ok_or_else(|| missing("array item"))?;
            DataType::List(Arc::new(field_at(LIST_ITEM, items, &format!("{path}[]"))?))
        }
        SchemaType::Map => {
            let keys = schema.key_schema.as_deref().ok_or_else(|| missing("map key"))?;
            let values = schema.value_schema.as_deref().ok_or_else(|| missing("map value"))?;
            map_type(
                type_at(keys, &child_path(path, MAP_KEY))?,
                type_at(values, &child_path(path, MAP_VALUE))?,
                values.optional,
            )
        }
    })
}

/// The Arrow `Map` type with the Parquet MAP field names; keys are never null.
pub(crate) fn map_type(key: DataType, value: DataType, value_nullable: bool) -> DataType {
    let entries = Fields::from(vec![Field::new(MAP_KEY, key, false), Field::new(MAP_VALUE, value, value_nullable)]);
    DataType::Map(Arc::new(Field::new(MAP_ENTRIES, DataType::Struct(entries), false)), false)
}

fn avro_logical_type(schema: &Schema) -> Option<&str> {
    schema.parameters.get(AVRO_LOGICAL_TYPE).map(String::as_str)
}

fn decimal_type(schema: &Schema, path: &str) -> Result<DataType, SchemaError> {
    let scale = schema.decimal_scale().unwrap_or(0);
    let precision = match schema.parameters.get(DECIMAL_PRECISION) {
        None => DEFAULT_DECIMAL_PRECISION,
        Some(text) => {
            text.trim().parse::<u8>().ok().filter(|p| (1..=MAX_DECIMAL_PRECISION).contains(p)).ok_or_else(|| {
                SchemaError::new(
                    path,
                    format!("decimal precision {text:?} is not a number from 1 to {MAX_DECIMAL_PRECISION}"),
                )
            })?
        }
    };
    let scale = i8::try_from(scale).ok().filter(|s| *s as u8 <= precision).ok_or_else(|| {
        SchemaError::new(path, format!("decimal scale {scale} is larger than its precision {precision}"))
    })?;
    Ok(if precision <= DEFAULT_DECIMAL_PRECISION {
        DataType::Decimal128(precision, scale)
    } else {
        DataType::Decimal256(precision, scale)
    })
}

/// Confluent's `schema.compatibility`: whether records of several versions of a schema may
/// share one file, and which version the file is written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compatibility {
    /// Any change of schema starts a new file (Confluent's default).
    #[default]
    None,
    /// The file is written with the newest schema; older records are projected onto it.
    Backward,
    /// The file is written with the oldest schema; newer records are projected onto it.
    Forward,
    /// As `Backward`, for schemas that are both backward and forward compatible.
    Full,
}

/// A `schema.compatibility` value that is none of the four.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("schema.compatibility is `{0}`; use one of NONE, BACKWARD, FORWARD or FULL")]
pub struct UnknownCompatibility(pub String);

impl FromStr for Compatibility {
    type Err = UnknownCompatibility;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim().to_ascii_uppercase().as_str() {
            "NONE" => Compatibility::None,
            "BACKWARD" => Compatibility::Backward,
            "FORWARD" => Compatibility::Forward,
            "FULL" => Compatibility::Full,
            _ => return Err(UnknownCompatibility(s.to_owned())),
        })
    }
}

impl fmt::Display for Compatibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compatibility::None => "NONE",
            Compatibility::Backward => "BACKWARD",
            Compatibility::Forward => "FORWARD",
            Compatibility::Full => "FULL",
        })
    }
}

/// How a record whose schema differs from its file's goes into the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// The record is projected onto the file's schema.
    ProjectRecord,
    /// The file takes the record's schema; the rows already in it are projected onto it.
    AdoptRecordSchema,
}

/// Whether `record` is a newer version than `file` by their `version`s; `None` when either
/// has none or they are equal, and the order of arrival decides.
pub fn is_newer_version(record: &Schema, file: &Schema) -> Option<bool> {
    match (record.version, file.version) {
        (Some(r), Some(f)) if r != f => Some(r > f),
        _ => None,
    }
}

impl Compatibility {
    /// How a record with schema `record` (a different schema from the file's `file`) can join
    /// the file, given whether it is the newer of the two; an error says why it cannot.
    pub fn resolve(self, file: &Schema, record: &Schema, record_is_newer: bool) -> Result<Resolution, SchemaError> {
        let (older, newer) = if record_is_newer { (file, record) } else { (record, file) };
        match self {
            Compatibility::None => {
                return Err(SchemaError::new(
                    "",
                    "schema.compatibility is NONE, so a different schema needs a new file",
                ))
            }
            Compatibility::Backward => check_projection(older, newer)?,
            Compatibility::Forward => check_projection(newer, older)?,
            Compatibility::Full => {
                check_projection(older, newer)?;
                check_projection(newer, older)?;
            }
        }
        let adopt = match self {
            Compatibility::Forward => !record_is_newer,
            _ => record_is_newer,
        };
        Ok(if adopt { Resolution::AdoptRecordSchema } else { Resolution::ProjectRecord })
    }
}

/// Whether values of schema `from` can be projected onto schema `to`: every field of `to` is
/// in `from` with the same type, or has a default, or is optional (fields only in `from` are
/// dropped); a field optional in `from` is optional in `to`.
pub fn check_projection(from: &Schema, to: &Schema) -> Result<(), SchemaError> {
    if to.schema_type == SchemaType::Struct {
        project(from, to, "")
    } else {
        // Not a struct: the record is the column `value`, whose nulls need a nullable column.
        project_nested(from, to, VALUE_COLUMN)
    }
}

fn project(from: &Schema, to: &Schema, path: &str) -> Result<(), SchemaError> {
    if from.schema_type != to.schema_type {
        return Err(type_change(from, to, path));
    }
    match to.schema_type {
        SchemaType::Struct => {
            for field in &to.fields {
                let at = child_path(path, &field.name);
                match from.field(&field.name) {
                    Some(source) => project_nested(&source.schema, &field.schema, &at)?,
                    None if field.schema.default.is_some() || field.schema.optional => {}
                    None => {
                        return Err(SchemaError::new(
                            &at,
                            "is required and has no default, and the other schema version lacks it",
                        ))
                    }
                }
            }
            Ok(())
        }
        SchemaType::Array => match (from.items(), to.items()) {
            (Some(f), Some(t)) => project_nested(f, t, &format!("{path}[]")),
            _ => Err(type_change(from, to, path)),
        },
        SchemaType::Map => match (&from.key_schema, &to.key_schema, &from.value_schema, &to.value_schema) {
            (Some(fk), Some(tk), Some(fv), Some(tv)) => {
                project_nested(fk, tk, &child_path(path, MAP_KEY))?;
                project_nested(fv, tv, &child_path(path, MAP_VALUE))
            }
            _ => Err(type_change(from, to, path)),
        },
        _ => {
            let (f, t) = (type_at(from, path)?, type_at(to, path)?);
            if f == t {
                Ok(())
            } else {
                Err(SchemaError::new(path, format!("changes type from {f} to {t}")))
            }
        }
    }
}

/// `project` for a schema below the record, where optionality matters.
fn project_nested(from: &Schema, to: &Schema, path: &str) -> Result<(), SchemaError> {
    if from.optional && !to.optional {
        return Err(SchemaError::new(path, "is optional in one schema version and required in the other"));
    }
    project(from, to, path)
}

fn type_change(from: &Schema, to: &Schema, path: &str) -> SchemaError {
    SchemaError::new(
        path,
        format!("changes type from {} to {}", from.schema_type.connect_name(), to.schema_type.connect_name()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_api::{SchemaRef, Value};

    fn prim(t: SchemaType) -> SchemaRef {
        Schema::new(t).into_ref()
    }

    #[test]
    fn types_map_as_the_table_says() {
        let micros = Schema::new(SchemaType::Int64).with_parameter(AVRO_LOGICAL_TYPE, "timestamp-micros");
        let local = Schema::timestamp().with_parameter(AVRO_LOGICAL_TYPE, "local-timestamp-millis");
        let cases: Vec<(Schema, DataType)> = vec![
            (Schema::new(SchemaType::Int16), DataType::Int16),
            (Schema::new(SchemaType::Float32), DataType::Float32),
            (Schema::new(SchemaType::Bytes), DataType::Binary),
            (Schema::decimal(2), DataType::Decimal128(38, 2)),
            (Schema::decimal(2).with_parameter(DECIMAL_PRECISION, "10"), DataType::Decimal128(10, 2)),
            (Schema::decimal(4).with_parameter(DECIMAL_PRECISION, "50"), DataType::Decimal256(50, 4)),
            (Schema::date(), DataType::Date32),
            (Schema::time(), DataType::Time32(TimeUnit::Millisecond)),
            (Schema::timestamp(), DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))),
            (local, DataType::Timestamp(TimeUnit::Millisecond, None)),
            (micros, DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))),
            // A logical name over the wrong physical type is only a name.
            (Schema::new(SchemaType::Int64).named(logical::DATE), DataType::Int64),
        ];
        for (schema, want) in cases {
            assert_eq!(to_arrow_type(&schema).unwrap(), want, "{schema:?}");
        }
        let map = Schema::map(prim(SchemaType::String), Schema::new(SchemaType::Int32).optional().into_ref());
        assert_eq!(to_arrow_type(&map).unwrap(), map_type(DataType::Utf8, DataType::Int32, true));
    }

    #[test]
    fn records_become_columns_and_unsupported_shapes_name_the_field() {
        let inner =
            Schema::structure([("zip", Schema::decimal(40).with_parameter(DECIMAL_PRECISION, "10").into_ref())]);
        let schema = Schema::structure([
            ("id", prim(SchemaType::Int64)),
            ("tags", Schema::array(Schema::new(SchemaType::String).optional().into_ref()).optional().into_ref()),
            ("address", inner.into_ref()),
        ]);
        let err = to_arrow_schema(&schema).unwrap_err();
        assert_eq!(err.path, "address.zip");
        assert_eq!(err.to_string(), "field `address.zip`: decimal scale 40 is larger than its precision 10");

        let ok = Schema::structure([("id", prim(SchemaType::Int64)), ("tags", schema.fields[1].schema.clone())]);
        let arrow = to_arrow_schema(&ok).unwrap();
        assert!(!arrow.field(0).is_nullable());
        let tags = arrow.field(1);
        assert!(tags.is_nullable());
        assert_eq!(tags.data_type(), &DataType::List(Arc::new(Field::new(LIST_ITEM, DataType::Utf8, true))));

        let bare = to_arrow_schema(&Schema::new(SchemaType::String)).unwrap();
        assert_eq!(bare.field(0).name(), VALUE_COLUMN);
        let empty = Schema::structure([("e", Schema::structure(Vec::<(String, SchemaRef)>::new()).into_ref())]);
        assert_eq!(to_arrow_schema(&empty).unwrap_err().path, "e");
    }

    #[test]
    fn compatibility_parses_case_insensitively() {
        assert_eq!("backward".parse::<Compatibility>(), Ok(Compatibility::Backward));
        assert_eq!(" FULL ".parse::<Compatibility>(), Ok(Compatibility::Full));
        assert_eq!("None".parse::<Compatibility>(), Ok(Compatibility::None));
        assert_eq!("Forward".parse::<Compatibility>().map(|c| c.to_string()), Ok("FORWARD".to_owned()));
        let err = "TRANSITIVE".parse::<Compatibility>().unwrap_err();
        assert!(err.to_string().contains("NONE, BACKWARD, FORWARD or FULL"), "{err}");
    }

    fn versions() -> (Schema, Schema) {
        let mut v1 = Schema::structure([("id", prim(SchemaType::Int64))]);
        v1.version = Some(1);
        let mut v2 = Schema::structure([
            ("id", prim(SchemaType::Int64)),
            ("note", Schema::new(SchemaType::String).optional().into_ref()),
            ("n", Schema::new(SchemaType::Int32).with_default(Value::Int32(0)).into_ref()),
        ]);
        v2.version = Some(2);
        (v1, v2)
    }

    #[test]
    fn backward_adopts_the_newer_schema_and_projects_the_older() {
        let (v1, v2) = versions();
        assert_eq!(is_newer_version(&v2, &v1), Some(true));
        let mode = Compatibility::Backward;
        assert_eq!(mode.resolve(&v1, &v2, true), Ok(Resolution::AdoptRecordSchema));
        assert_eq!(mode.resolve(&v2, &v1, false), Ok(Resolution::ProjectRecord));
        // FORWARD keeps the older: a v2 record is projected onto v1 (extra fields dropped).
        assert_eq!(Compatibility::Forward.resolve(&v1, &v2, true), Ok(Resolution::ProjectRecord));
        assert_eq!(Compatibility::Forward.resolve(&v2, &v1, false), Ok(Resolution::AdoptRecordSchema));
        assert!(Compatibility::None.resolve(&v1, &v2, true).is_err());

        // A required field added without a default breaks BACKWARD and FULL, not FORWARD.
        let mut v3 = v2.clone();
        v3.fields.push(sluice_api::Field { name: "must".into(), index: 3, schema: prim(SchemaType::Int32) });
        let err = mode.resolve(&v2, &v3, true).unwrap_err();
        assert_eq!(err.path, "must");
        assert!(Compatibility::Full.resolve(&v2, &v3, true).is_err());
        assert_eq!(Compatibility::Forward.resolve(&v2, &v3, true), Ok(Resolution::ProjectRecord));
        // FULL also needs the older schema's fields to be optional or defaulted in the newer.
        assert_eq!(Compatibility::Full.resolve(&v1, &v2, true), Ok(Resolution::AdoptRecordSchema));
        let dropped_id = Schema::structure([("note", Schema::new(SchemaType::String).optional().into_ref())]);
        assert_eq!(Compatibility::Full.resolve(&v1, &dropped_id, true).unwrap_err().path, "id");
    }

    #[test]
    fn type_changes_are_incompatible() {
        let a = Schema::structure([("amount", Schema::decimal(2).with_parameter(DECIMAL_PRECISION, "10").into_ref())]);
        let b = Schema::structure([("amount", Schema::decimal(2).with_parameter(DECIMAL_PRECISION, "12").into_ref())]);
        let err = Compatibility::Backward.resolve(&a, &b, true).unwrap_err();
        assert_eq!(err.to_string(), "field `amount`: changes type from Decimal128(10, 2) to Decimal128(12, 2)");
        let c = Schema::structure([("amount", prim(SchemaType::String))]);
        assert!(Compatibility::Full.resolve(&a, &c, true).is_err());
        let opt = Schema::structure([("amount", Schema::decimal(2).optional().into_ref())]);
        let req = Schema::structure([("amount", Schema::decimal(2).into_ref())]);
        assert!(Compatibility::Backward.resolve(&opt, &req, true).is_err());
        assert!(Compatibility::Backward.resolve(&req, &opt, true).is_ok());
        let bare = |s: Schema| Compatibility::Backward.resolve(&s.clone().optional(), &s, true).map_err(|e| e.path);
        assert_eq!(bare(Schema::new(SchemaType::String)), Err(VALUE_COLUMN.to_owned()));
    }
}
