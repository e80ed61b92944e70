//! The values of a `put` batch as the Parquet sink reads them: decoded values, or the
//! top-level fields of JSON text and Avro datums read once per batch before anything is buffered
//! (see the module doc of [`super`]), and the small map of those fields routing reads.

use sluice_api::json::{self, FieldValue, ObjectFields};
use sluice_api::{ConnectError, Result, SchemaRef, SinkRecord, Value};

/// A record's value as the sink reads it.
#[derive(Clone, Copy)]
pub(super) enum RecordValue<'a> {
    /// Decoded: by the converter, or here from JSON text that is not a plain object.
    Decoded(&'a Value),
    /// The top-level fields of a plain JSON object, read straight from the record's text.
    Fields(&'a [(&'a str, FieldValue<'a>)]),
    /// The top-level fields of a datum, in its schema's order (the record's value schema),
    /// read with its reader.
    DatumFields(&'a [(&'a str, FieldValue<'a>)]),
}

/// The values of a batch's records that came undecoded, as JSON text
/// ([`SinkRecord::value_json`]) or datums ([`SinkRecord::value_datum`]), each read once, before
/// anything of the batch is buffered.
#[derive(Default)]
pub(super) struct UndecodedValues<'a> {
    /// The top-level fields of every plain object and datum, record after record.
    fields: Vec<(&'a str, FieldValue<'a>)>,
    /// By index in the batch; empty when no record came undecoded.
    values: Vec<ReadValue>,
}

enum ReadValue {
    /// Decoded already, or a record that is skipped: the record's `value` holds it.
    NotRead,
    /// A plain JSON object's fields: `UndecodedValues::fields[start..end]`.
    Fields { start: usize, end: usize },
    /// A datum's fields, in its schema's order: `UndecodedValues::fields[start..end]`.
    DatumFields { start: usize, end: usize },
    /// Text that is not a plain object (a bare value, escapes in keys or strings, exponents),
    /// or a datum not read field by field: decoded.
    Decoded(Value),
}

impl<'a> UndecodedValues<'a> {
    /// Reads the value of every record that came undecoded and is not `skip`ped. Values that
    /// do not decode fail the whole batch with [`ConnectError::Undecodable`] naming those
    /// records, so that nothing of the batch is buffered (`SinkTask::reads_json_values`,
    /// `SinkTask::reads_datums`).
    pub(super) fn read(records: &'a [SinkRecord], mut skip: impl FnMut(&SinkRecord) -> bool) -> Result<Self> {
        let mut read = UndecodedValues::default();
        if records.iter().all(|r| r.value_json.is_none() && r.value_datum.is_none()) {
            return Ok(read);
        }
        read.values.reserve(records.len());
        let mut undecodable = Vec::new();
        for (index, record) in records.iter().enumerate() {
            let start = read.fields.len();
            let value = match (&record.value_json, &record.value_datum) {
                _ if skip(record) => Some(ReadValue::NotRead),
                (Some(text), _) => match ObjectFields::read_all(text, &mut read.fields) {
                    Ok(()) => Some(ReadValue::Fields { start, end: read.fields.len() }),
                    Err(_) => json::parse(text).ok().map(ReadValue::Decoded),
                },
                (None, Some(datum)) => {
                    let (fields, names) = (&mut read.fields, &datum.reader.schema().fields);
                    let by_field = datum.reader.read_fields(&datum.data, &mut |k, value| match names.get(k) {
                        Some(field) => {
                            fields.push((field.name.as_str(), value));
                            true
                        }
                        None => false,
                    });
                    if by_field {
                        Some(ReadValue::DatumFields { start, end: read.fields.len() })
                    } else {
                        read.fields.truncate(start);
                        datum.decode().ok().map(ReadValue::Decoded)
                    }
                }
                (None, None) => Some(ReadValue::NotRead),
            };
            if start == 0 && read.fields.len() > start {
                // Records of a topic mostly have as many fields as the first.
                read.fields.reserve(read.fields.len() * (records.len() - index - 1));
            }
            read.values.push(value.unwrap_or_else(|| {
                undecodable.push(index);
                ReadValue::NotRead
            }));
        }
        if undecodable.is_empty() {
            Ok(read)
        } else {
            Err(ConnectError::Undecodable { records: undecodable })
        }
    }

    /// The value of the record at `index` of the batch.
    pub(super) fn value<'b>(&'b self, index: usize, record: &'b SinkRecord) -> RecordValue<'b> {
        match self.values.get(index) {
            Some(ReadValue::Fields { start, end }) => RecordValue::Fields(&self.fields[*start..*end]),
            Some(ReadValue::DatumFields { start, end }) => RecordValue::DatumFields(&self.fields[*start..*end]),
            Some(ReadValue::Decoded(value)) => RecordValue::Decoded(value),
            _ => RecordValue::Decoded(&record.value),
        }
    }
}

/// What routing reads of a record's value: the value itself when decoded, else a map of the
/// fields routing reads (`reads`, each once), filled into `scratch`. The map keeps its keys
/// from record to record and only its values change; a record that lacks one of the fields
/// gets a map without it (so the partitioner says the field is missing, not null), and the
/// next record a map with every key again. A datum's null field reads as its schema's default
/// (`schema`, the record's value schema), as the field of the decoded struct does.
pub(super) fn routing_value<'v>(
    value: RecordValue<'v>,
    reads: &[String],
    scratch: &'v mut Value,
    schema: Option<&SchemaRef>,
) -> std::result::Result<&'v Value, String> {
    let (fields, defaults) = match value {
        RecordValue::Decoded(value) => return Ok(value),
        RecordValue::Fields(fields) => (fields, None),
        RecordValue::DatumFields(fields) => (fields, schema),
    };
    let keyed = matches!(scratch, Value::Map(entries) if entries.len() == reads.len());
    if !keyed {
        *scratch = Value::Map(reads.iter().map(|name| (Value::String(name.as_str().into()), Value::Null)).collect());
    }
    let mut missing = false;
    if let Value::Map(entries) = scratch {
        for (entry, name) in entries.iter_mut().zip(reads) {
            // Of duplicate keys the first counts, as in a parsed value.
            match fields.iter().position(|(key, _)| key == name) {
                Some(k) => {
                    let (key, field) = fields[k];
                    entry.1 = field.to_value().map_err(|e| format!("Field `{key}` is not valid JSON: {e}"))?;
                    let default = defaults.and_then(|schema| schema.fields.get(k)?.schema.default.as_ref());
                    if let Some(default) = default.filter(|_| entry.1.is_null()) {
                        entry.1 = default.clone();
                    }
                }
                None => missing = true,
            }
        }
        if missing {
            entries.retain(|(key, _)| fields.iter().any(|(k, _)| key.as_str() == Some(k)));
        }
    }
    Ok(scratch)
}
