//! The values of a `put` batch as the Parquet sink reads them: decoded values, or the
//! top-level fields of JSON text and Avro datums read once per batch before anything is buffered
//! (see the module doc of [`super`]), the small map of those fields routing reads, and the
//! directories of routed values already seen.

use rustc_hash::FxHashMap;
use sluice_api::json::{self, FieldValue, ObjectFields, ScalarValue};
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

/// The directories of routed values already seen, for a partitioner whose directory depends on
/// those values only (`Partitioner::reads_value_only`): a record whose routed fields are text or
/// integers seen before takes the directory found then, without building its routing map or
/// asking the partitioner. Values of other kinds (null, missing, nested, fractions) and decoded
/// values always take the long way.
#[derive(Default)]
pub(super) struct DirMemo {
    /// With a fast hash: record values choose the keys, but there are at most `MAX` of them.
    dirs: FxHashMap<Box<[u8]>, Box<str>>,
    /// The routed values of the record last looked up, encoded (reused).
    key: Vec<u8>,
    /// Whether `key` holds a record's values (the last lookup could encode them).
    keyed: bool,
}

impl DirMemo {
    /// Directories kept at most; all are forgotten when one more comes (a routed field with
    /// more values than that is not what the memo is for).
    const MAX: usize = 256;

    /// The directory of a record with the routed fields (`reads`) of `value`, if seen before.
    pub(super) fn get(&mut self, value: RecordValue<'_>, reads: &[String]) -> Option<&str> {
        self.keyed = self.encode(value, reads);
        if !self.keyed {
            return None;
        }
        self.dirs.get(self.key.as_slice()).map(|dir| &**dir)
    }

    /// Remembers `dir` as the directory of the record last looked up with [`DirMemo::get`].
    pub(super) fn remember(&mut self, dir: &str) {
        if !self.keyed {
            return;
        }
        if self.dirs.len() >= Self::MAX {
            self.dirs.clear();
        }
        self.dirs.insert(self.key.as_slice().into(), dir.into());
    }

    /// Encodes the routed fields' values into `key` (a kind byte, then the value; text with
    /// its length, so no two lists of values share an encoding); false for a value of a kind
    /// not kept, or a decoded value.
    fn encode(&mut self, value: RecordValue<'_>, reads: &[String]) -> bool {
        let fields = match value {
            RecordValue::Fields(fields) | RecordValue::DatumFields(fields) => fields,
            RecordValue::Decoded(_) => return false,
        };
        self.key.clear();
        for name in reads {
            // Of duplicate keys the first counts, as in routing.
            match fields.iter().find(|(key, _)| key == name).map(|&(_, field)| field) {
                Some(FieldValue::Text(text)) => {
                    self.key.push(b't');
                    self.key.extend_from_slice(&(text.len() as u64).to_le_bytes());
                    self.key.extend_from_slice(text.as_bytes());
                }
                Some(FieldValue::Scalar(ScalarValue::Int64(i))) => {
                    self.key.push(b'i');
                    self.key.extend_from_slice(&i.to_le_bytes());
                }
                _ => return false,
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use sluice_api::json::{FieldValue, ScalarValue};

    use super::{DirMemo, RecordValue};

    fn reads(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    /// A directory is found again only for the same routed values, whatever else the record
    /// holds; values of kinds the memo does not keep are never found.
    #[test]
    fn the_memo_finds_a_directory_only_for_the_same_routed_values() {
        let mut memo = DirMemo::default();
        let by_type = reads(&["event_type"]);
        let purchase = [("user_id", FieldValue::Text("u1")), ("event_type", FieldValue::Text("purchase"))];
        let click = [("event_type", FieldValue::Text("click")), ("user_id", FieldValue::Text("u2"))];
        assert_eq!(memo.get(RecordValue::Fields(&purchase), &by_type), None);
        memo.remember("event_type=purchase");
        assert_eq!(memo.get(RecordValue::Fields(&click), &by_type), None);
        memo.remember("event_type=click");
        let purchase_again = [("event_type", FieldValue::Text("purchase")), ("device", FieldValue::Text("ios"))];
        assert_eq!(memo.get(RecordValue::DatumFields(&purchase_again), &by_type), Some("event_type=purchase"));
        assert_eq!(memo.get(RecordValue::Fields(&click), &by_type), Some("event_type=click"));

        // Text and integers are told apart, and so are integers.
        let seven = [("event_type", FieldValue::Scalar(ScalarValue::Int64(7)))];
        let text_seven = [("event_type", FieldValue::Text("7"))];
        assert_eq!(memo.get(RecordValue::Fields(&seven), &by_type), None);
        memo.remember("event_type=7 (int)");
        assert_eq!(memo.get(RecordValue::Fields(&text_seven), &by_type), None);
        let eight = [("event_type", FieldValue::Scalar(ScalarValue::Int64(8)))];
        assert_eq!(memo.get(RecordValue::Fields(&eight), &by_type), None);
        assert_eq!(memo.get(RecordValue::Fields(&seven), &by_type), Some("event_type=7 (int)"));

        let zero = [("event_type", FieldValue::Scalar(ScalarValue::Int64(0)))];
        let empty = [("event_type", FieldValue::Text(""))];
        assert_eq!(memo.get(RecordValue::Fields(&zero), &by_type), None);
        memo.remember("event_type=0");
        assert_eq!(memo.get(RecordValue::Fields(&empty), &by_type), None);

        // Several routed fields: the split between their values counts.
        let two = reads(&["a", "b"]);
        let at_c = [("a", FieldValue::Text("at")), ("b", FieldValue::Text("c"))];
        let a_tc = [("a", FieldValue::Text("a")), ("b", FieldValue::Text("tc"))];
        assert_eq!(memo.get(RecordValue::Fields(&at_c), &two), None);
        memo.remember("a=at/b=c");
        assert_eq!(memo.get(RecordValue::Fields(&a_tc), &two), None);

        // A missing, null, fractional or nested routed field is never kept nor found.
        for odd in [
            vec![("user_id", FieldValue::Text("u1"))],
            vec![("event_type", FieldValue::Scalar(ScalarValue::Null))],
            vec![("event_type", FieldValue::Scalar(ScalarValue::Float64(1.5)))],
            vec![("event_type", FieldValue::Nested(b"{}"))],
        ] {
            assert_eq!(memo.get(RecordValue::Fields(&odd), &by_type), None);
            memo.remember("wrong");
            assert_eq!(memo.get(RecordValue::Fields(&odd), &by_type), None, "{odd:?}");
        }
        assert_eq!(memo.get(RecordValue::Decoded(&sluice_api::Value::Null), &by_type), None);
        // The first of duplicate keys counts, as in routing.
        let twice = [("event_type", FieldValue::Text("click")), ("event_type", FieldValue::Text("purchase"))];
        assert_eq!(memo.get(RecordValue::Fields(&twice), &by_type), Some("event_type=click"));
    }
}
