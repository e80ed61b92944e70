//! Tables from records: the column types a record needs, and the `CREATE TABLE` / `ALTER
//! TABLE … ADD COLUMN` that give a table those columns, written for the server's version.
//!
//! Configuration (declared in `config`): `auto.create` (boolean, default `false`) creates a
//! missing table with [`create_table`]; `auto.evolve` (boolean, default `false`) adds a column
//! for each record field the table lacks with [`add_columns`] (when `false`, such fields are
//! ignored); `auto.create.order.by` (list, default `_topic,_partition,_offset`) is the
//! `ORDER BY` key of created tables.
//!
//! # Type map
//!
//! | Connect schema                        | ClickHouse column                                       |
//! |---------------------------------------|---------------------------------------------------------|
//! | `int8`, `int16`, `int32`, `int64`     | `Int8`, `Int16`, `Int32`, `Int64`                       |
//! | `float32`, `float64`                  | `Float32`, `Float64`                                    |
//! | `boolean`                             | `Bool` (21.12+), else `UInt8`                           |
//! | `string`, `bytes`                     | `String`                                                |
//! | Decimal (`scale`)                     | `Decimal(P, scale)`: `P` from `connect.decimal.precision`, else 38; at most 76 (21.6+), else 38 |
//! | Date                                  | `Date32` (21.9+), else `Date` (1970-01-01 to 2149-06-06) |
//! | Time (milliseconds since midnight)    | `Int32`, the milliseconds as Connect counts them        |
//! | Timestamp                             | `DateTime64(3)` (20.1+), else `DateTime` (whole seconds) |
//! | `array<T>`                            | `Array(T)`                                              |
//! | `map<K, V>`                           | `Map(K, V)` (21.8+, keys string, integer or date), else `String` holding JSON |
//! | `struct`                              | `Tuple(name T, …)` (21.9+), else `String` holding JSON  |
//! | optional `T`                          | `Nullable(T)`, except `Array`, `Map` and `Tuple`, which cannot be `Nullable` |
//!
//! Connect's Time has no ClickHouse type on every supported server (`Time` is recent and
//! experimental), so it is kept as the number Connect carries, which sorts and compares as
//! the time of day does. A null for a column that cannot be `Nullable` leaves it out of the
//! insert, so it gets the type's default (an empty array, map or tuple).
//!
//! Schemaless JSON objects have no schema; their columns come from the values of the first
//! record(s): string → `Nullable(String)`, integer → `Nullable(Int64)`, number with a fraction
//! → `Nullable(Float64)`, boolean → `Nullable(Bool)` (or `Nullable(UInt8)`), object →
//! `Nullable(String)` holding JSON, array → `Array(T)` of its first non-null element, null
//! (or only nulls seen) → `Nullable(String)`. Every scalar is `Nullable` because nothing says
//! a later record carries the field. A field first seen as an integer and later with a
//! fraction becomes `Nullable(Float64)` when several records are looked at together.
//!
//! Every created table also gets the Kafka coordinate columns `_topic LowCardinality(String)`
//! (`String` before 19.3, where `LowCardinality` needs an experimental setting), `_partition
//! Int32` and `_offset Int64`; the engine is `MergeTree` ordered by `auto.create.order.by`.
//! Two tasks may create the same table or add the same column at once, so both statements
//! succeed when the table or column is already there.

use sluice_api::schema::logical;
use sluice_api::{ConnectError, Result, Schema, SchemaType, Value};

use crate::rows::{OFFSET_COLUMN, PARTITION_COLUMN, TOPIC_COLUMN};
use crate::service::{server_error_code, ClickhouseService};
use crate::table::{quote_ident, quote_qualified as qualified, ClickhouseTable};
use crate::types::ClickhouseType;
use crate::version::ServerVersion;

/// Schema parameter holding a Decimal's precision, as Confluent's converters set it.
pub const DECIMAL_PRECISION_PARAMETER: &str = "connect.decimal.precision";

/// Precision of a Decimal whose schema does not give one.
const DEFAULT_DECIMAL_PRECISION: u32 = 38;

/// A column to create: its name and type.
pub type ColumnDef = (String, ClickhouseType);

/// `TABLE_ALREADY_EXISTS`: another task created the table between the check and the create.
const TABLE_ALREADY_EXISTS: u32 = 57;
/// `ILLEGAL_COLUMN` (18.16: "Cannot add column c: column with this name already exists") and
/// `DUPLICATE_COLUMN` (current servers, same text).
const COLUMN_ALREADY_EXISTS: [u32; 2] = [44, 15];

/// The column type for a field with `schema` (see the module's type map).
pub fn column_type_for_schema(schema: &Schema, version: &ServerVersion) -> Result<ClickhouseType> {
    use ClickhouseType as T;
    let ty = match schema.schema_type {
        SchemaType::Int8 => T::Int8,
        SchemaType::Int16 => T::Int16,
        SchemaType::Int32 if schema.is_logical(logical::DATE) => date_type(version),
        // Milliseconds since midnight, kept as the number (see the module doc).
        SchemaType::Int32 => T::Int32,
        SchemaType::Int64 if schema.is_logical(logical::TIMESTAMP) => timestamp_type(version),
        SchemaType::Int64 => T::Int64,
        SchemaType::Float32 => T::Float32,
        SchemaType::Float64 => T::Float64,
        SchemaType::Boolean => bool_type(version),
        SchemaType::String => T::String,
        SchemaType::Bytes => match schema.decimal_scale() {
            Some(scale) => {
                let precision = schema.parameters.get(DECIMAL_PRECISION_PARAMETER).and_then(|p| p.trim().parse().ok());
                decimal_type(scale, precision, version)?
            }
            None => T::String,
        },
        SchemaType::Array => {
            let items = schema.items().ok_or_else(|| {
                ConnectError::data("An array schema has no element schema, so no column type can be chosen for it.")
            })?;
            T::Array(Box::new(column_type_for_schema(items, version)?))
        }
        SchemaType::Map => map_type(schema, version)?,
        SchemaType::Struct => struct_type(schema, version)?,
    };
    Ok(if schema.optional { nullable(ty) } else { ty })
}

/// The column type for a schemaless value (see the module doc); `Nullable(String)` for null.
pub fn column_type_for_value(value: &Value, version: &ServerVersion) -> Result<ClickhouseType> {
    Ok(infer(value, version)?.unwrap_or_else(|| fallback(value)))
}

/// The columns a record value needs, in field order: a struct's fields by their schema, a
/// schemaless object's fields by their values. Keys that are not strings are skipped (they
/// cannot name a column).
pub fn columns_for_record(value: &Value, version: &ServerVersion) -> Result<Vec<ColumnDef>> {
    columns_for_records([value], version)
}

/// [`columns_for_record`] over several records, in the order fields are first seen. A
/// schemaless field's type comes from its first value that says something (not null, not an
/// empty array); integers seen next to fractions become `Nullable(Float64)`.
pub fn columns_for_records<'a>(
    values: impl IntoIterator<Item = &'a Value>,
    version: &ServerVersion,
) -> Result<Vec<ColumnDef>> {
    // Per column: its name, its type once known, and the type to use if it never is.
    let mut columns: Vec<(String, Option<ClickhouseType>, ClickhouseType)> = Vec::new();
    let position = |columns: &[(String, Option<ClickhouseType>, ClickhouseType)], name: &str| {
        columns.iter().position(|(n, _, _)| n == name)
    };
    for value in values {
        match value {
            Value::Struct(s) => {
                for field in &s.schema.fields {
                    if position(&columns, &field.name).is_none() {
                        let ty = column_type_for_schema(&field.schema, version)?;
                        columns.push((field.name.clone(), Some(ty.clone()), ty));
                    }
                }
            }
            Value::Map(entries) => {
                for (key, v) in entries {
                    let Value::String(name) = key else { continue };
                    let seen = infer(v, version)?;
                    match position(&columns, name) {
                        Some(i) => {
                            let known = columns[i].1.take();
                            columns[i].1 = match (known, seen) {
                                (Some(known), Some(seen)) => Some(widen(known, seen)),
                                (known, seen) => known.or(seen),
                            };
                        }
                        None => columns.push((name.to_string(), seen, fallback(v))),
                    }
                }
            }
            other => {
                return Err(ConnectError::data(format!(
                    "The record value is a {}; a table can only be created or extended for a struct or a JSON object.",
                    other.type_name()
                )))
            }
        }
    }
    Ok(columns.into_iter().map(|(name, ty, fallback)| (name, ty.unwrap_or(fallback))).collect())
}

/// The Kafka coordinate columns every created table gets.
pub fn coordinate_columns(version: &ServerVersion) -> Vec<ColumnDef> {
    let topic = if version.has_low_cardinality() {
        ClickhouseType::LowCardinality(Box::new(ClickhouseType::String))
    } else {
        ClickhouseType::String
    };
    vec![
        (TOPIC_COLUMN.to_owned(), topic),
        (PARTITION_COLUMN.to_owned(), ClickhouseType::Int32),
        (OFFSET_COLUMN.to_owned(), ClickhouseType::Int64),
    ]
}

/// `CREATE TABLE IF NOT EXISTS` for `columns` plus the coordinate columns (whose definition
/// wins over a record field of the same name), `ENGINE = MergeTree ORDER BY order_by`
/// (`tuple()` when empty). Key columns are made non-`Nullable`, since a sorting key cannot
/// hold `NULL`. Fails, naming `auto.create.order.by`, when a key column is not a column.
pub fn create_table_sql(
    database: &str,
    table: &str,
    columns: &[ColumnDef],
    order_by: &[String],
    version: &ServerVersion,
) -> Result<String> {
    let coordinates = coordinate_columns(version);
    let mut all: Vec<ColumnDef> =
        columns.iter().filter(|(name, _)| !coordinates.iter().any(|(c, _)| c == name)).cloned().collect();
    all.extend(coordinates);
    for key in order_by {
        let Some(column) = all.iter_mut().find(|(name, _)| name == key) else {
            return Err(ConnectError::config(
                "auto.create.order.by",
                format!(
                    "`{key}` is not a column of the table to create {}; its columns are {}. Name columns of the records or the coordinate columns _topic, _partition, _offset.",
                    qualified(database, table),
                    all.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
                ),
            ));
        };
        if let ClickhouseType::Nullable(inner) = &column.1 {
            column.1 = (**inner).clone();
        }
    }
    let definitions: Vec<String> = all.iter().map(|(name, ty)| format!("{} {ty}", quote_ident(name))).collect();
    let key = if order_by.is_empty() {
        "tuple()".to_owned()
    } else {
        format!("({})", order_by.iter().map(|k| quote_ident(k)).collect::<Vec<_>>().join(", "))
    };
    Ok(format!(
        "CREATE TABLE IF NOT EXISTS {} ({}) ENGINE = MergeTree ORDER BY {key}",
        qualified(database, table),
        definitions.join(", ")
    ))
}

/// The statements adding `columns`, each made `Nullable` where ClickHouse allows it (rows
/// written before have no value). One `ADD COLUMN IF NOT EXISTS` statement where the server
/// understands it; before that (18.16 refuses it), one statement per column, so a column
/// another task added first fails alone and [`add_columns`] can pass over it.
pub fn add_columns_sql(database: &str, table: &str, columns: &[ColumnDef], version: &ServerVersion) -> Vec<String> {
    let add = |(name, ty): &ColumnDef, if_not_exists: &str| {
        format!("ADD COLUMN {if_not_exists}{} {}", quote_ident(name), nullable(ty.clone()))
    };
    let target = qualified(database, table);
    if columns.is_empty() {
        Vec::new()
    } else if version.has_add_column_if_not_exists() {
        let actions: Vec<String> = columns.iter().map(|c| add(c, "IF NOT EXISTS ")).collect();
        vec![format!("ALTER TABLE {target} {}", actions.join(", "))]
    } else {
        columns.iter().map(|c| format!("ALTER TABLE {target} {}", add(c, ""))).collect()
    }
}

/// The `columns` `table` lacks, in order. `MATERIALIZED` and `ALIAS` columns are not listed
/// in a described table, so they count as lacking; adding them is passed over like any
/// column that is already there.
pub fn missing_columns(table: &ClickhouseTable, columns: &[ColumnDef]) -> Vec<ColumnDef> {
    columns.iter().filter(|(name, _)| table.column_index(name).is_none()).cloned().collect()
}

/// Creates `database.table` with `columns`, the coordinate columns and the `order_by` key,
/// unless it exists (see [`create_table_sql`]).
pub async fn create_table(
    service: &ClickhouseService,
    database: &str,
    table: &str,
    columns: &[ColumnDef],
    order_by: &[String],
    version: &ServerVersion,
) -> Result<()> {
    let sql = create_table_sql(database, table, columns, order_by, version)?;
    let context = format!("Creating table {}", qualified(database, table));
    match service.execute(&context, &sql).await {
        Err(e) if !is_already_there(&e, &[TABLE_ALREADY_EXISTS]) => Err(e),
        _ => {
            tracing::info!(table = %qualified(database, table), columns = columns.len(), order_by = ?order_by, server = %version, "Created ClickHouse table (unless it existed).");
            Ok(())
        }
    }
}

/// Adds `columns` to `database.table` (see [`add_columns_sql`]); columns that already exist,
/// for example because another task added them first, are left as they are.
pub async fn add_columns(
    service: &ClickhouseService,
    database: &str,
    table: &str,
    columns: &[ColumnDef],
    version: &ServerVersion,
) -> Result<()> {
    let context = format!("Adding columns to table {}", qualified(database, table));
    for sql in add_columns_sql(database, table, columns, version) {
        match service.execute(&context, &sql).await {
            Err(e) if is_already_there(&e, &COLUMN_ALREADY_EXISTS) => {
                tracing::debug!(table = %qualified(database, table), error = %e, "Column already exists; leaving it.");
            }
            Err(e) => return Err(e),
            Ok(()) => {}
        }
    }
    let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
    tracing::info!(table = %qualified(database, table), columns = ?names, "Added columns to ClickHouse table.");
    Ok(())
}

/// Whether `error` is the server saying the table or column is already there.
fn is_already_there(error: &ConnectError, codes: &[u32]) -> bool {
    let text = error.to_string();
    server_error_code(&text).is_some_and(|code| codes.contains(&code)) && text.contains("already exists")
}

/// `Nullable(ty)`, or `ty` when ClickHouse does not allow it `Nullable`.
fn nullable(ty: ClickhouseType) -> ClickhouseType {
    use ClickhouseType as T;
    match ty {
        T::Array(_) | T::Map(..) | T::Tuple(_) | T::Nullable(_) | T::LowCardinality(_) => ty,
        other => T::Nullable(Box::new(other)),
    }
}

fn bool_type(version: &ServerVersion) -> ClickhouseType {
    if version.has_bool_type() {
        ClickhouseType::Bool
    } else {
        ClickhouseType::UInt8
    }
}

fn date_type(version: &ServerVersion) -> ClickhouseType {
    if version.has_date32() {
        ClickhouseType::Date32
    } else {
        ClickhouseType::Date
    }
}

fn timestamp_type(version: &ServerVersion) -> ClickhouseType {
    if version.has_datetime64() {
        ClickhouseType::DateTime64 { precision: 3, timezone: None }
    } else {
        ClickhouseType::DateTime(None)
    }
}

/// `Decimal(P, scale)`: `P` as asked (38 when not), raised to the scale, capped at what the
/// server has.
fn decimal_type(scale: u32, precision: Option<u32>, version: &ServerVersion) -> Result<ClickhouseType> {
    let cap = if version.has_decimal256() { 76 } else { 38 };
    if scale > cap {
        return Err(ConnectError::data(format!(
            "A Decimal with scale {scale} does not fit ClickHouse {version}, whose Decimals hold at most {cap} digits; lower the scale in the producer or the converter."
        )));
    }
    let precision = precision.unwrap_or(DEFAULT_DECIMAL_PRECISION).max(scale).clamp(1, cap);
    Ok(ClickhouseType::Decimal { precision, scale })
}

fn json_text() -> ClickhouseType {
    ClickhouseType::String
}

/// `Map(K, V)` where the server has it and `K` may key a map, else JSON text.
fn map_type(schema: &Schema, version: &ServerVersion) -> Result<ClickhouseType> {
    use ClickhouseType as T;
    let (Some(keys), Some(values)) = (&schema.key_schema, &schema.value_schema) else {
        return Err(ConnectError::data("A map schema lacks its key or value schema, so no column type can be chosen."));
    };
    if !version.has_map_type() {
        return Ok(json_text());
    }
    let key = match column_type_for_schema(keys, version)? {
        T::Nullable(inner) => *inner,
        other => other,
    };
    // Map keys may be strings, integers and dates; anything else is kept as JSON.
    if !matches!(key, T::String | T::Int8 | T::Int16 | T::Int32 | T::Int64 | T::Date | T::Date32) {
        return Ok(json_text());
    }
    Ok(T::Map(Box::new(key), Box::new(column_type_for_schema(values, version)?)))
}

/// A named `Tuple` of the struct's fields where the server can address them by name, else
/// JSON text (also for a struct without fields: `Tuple()` is not a type).
fn struct_type(schema: &Schema, version: &ServerVersion) -> Result<ClickhouseType> {
    if !version.has_named_tuple() || schema.fields.is_empty() {
        return Ok(json_text());
    }
    let elements = schema
        .fields
        .iter()
        .map(|f| Ok((Some(f.name.clone()), column_type_for_schema(&f.schema, version)?)))
        .collect::<Result<Vec<_>>>()?;
    Ok(ClickhouseType::Tuple(elements))
}

/// The type a schemaless value calls for; `None` when it says nothing (null, or an array of
/// nothing but nulls and empty arrays).
fn infer(value: &Value, version: &ServerVersion) -> Result<Option<ClickhouseType>> {
    use ClickhouseType as T;
    let scalar = |ty: ClickhouseType| Ok(Some(nullable(ty)));
    match value {
        Value::Null => Ok(None),
        Value::Boolean(_) => scalar(bool_type(version)),
        Value::Int8(_) | Value::Int16(_) | Value::Int32(_) | Value::Int64(_) => scalar(T::Int64),
        Value::Float32(_) | Value::Float64(_) => scalar(T::Float64),
        Value::String(_) | Value::Bytes(_) | Value::Map(_) => scalar(T::String),
        Value::Decimal { scale, .. } => scalar(decimal_type(*scale, None, version)?),
        Value::Date(_) => scalar(date_type(version)),
        Value::Time(_) => scalar(T::Int32),
        Value::Timestamp(_) => scalar(timestamp_type(version)),
        Value::Struct(s) => Ok(Some(nullable(column_type_for_schema(&s.schema, version)?))),
        Value::Array(items) => {
            for item in items {
                if let Some(ty) = infer(item, version)? {
                    return Ok(Some(T::Array(Box::new(ty))));
                }
            }
            Ok(None)
        }
    }
}

/// The type of a value [`infer`] learns nothing from.
fn fallback(value: &Value) -> ClickhouseType {
    let text = ClickhouseType::Nullable(Box::new(ClickhouseType::String));
    match value {
        Value::Array(_) => ClickhouseType::Array(Box::new(text)),
        _ => text,
    }
}

/// The type for a field seen as `known` and now as `seen`: integers widen to floats.
fn widen(known: ClickhouseType, seen: ClickhouseType) -> ClickhouseType {
    use ClickhouseType as T;
    let is = |ty: &T, want: &T| matches!(ty, T::Nullable(inner) if **inner == *want);
    if is(&known, &T::Int64) && is(&seen, &T::Float64) {
        seen
    } else {
        known
    }
}

#[cfg(test)]
#[path = "ddl_tests.rs"]
mod tests;
