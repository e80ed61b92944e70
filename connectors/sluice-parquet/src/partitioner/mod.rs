//! Where each record's file goes: Confluent's partitioners and timestamp extractors, with their
//! class names and configuration keys, so an S3 sink configuration partitions the same way.
//!
//! | partitioner | directory of a record |
//! | --- | --- |
//! | Default | `partition=3` (the Kafka partition) |
//! | Field | `event_type=purchase/country=DE`, one `<field>=<value>` per `partition.field.name` |
//! | TimeBased | `path.format` of the record's time bucket, e.g. `year=2025/month=09/day=18/hour=22` |
//! | Daily, Hourly | TimeBased with `'year'=YYYY/'month'=MM/'day'=dd` (`/'hour'=HH`), 1 day (1 hour) |
//! | FieldTime | Field, then TimeBased: `event_type=purchase/year=2025/month=09/day=18` |
//!
//! A record the partitioner cannot place (a missing or null field, an unparseable timestamp)
//! is a [`PartitionError`], which names the field; the sink sends that record to the dead
//! letter queue.
//!
//! # Layout
//! - `config`: [`PartitionerConfig`] and every key's name, default and docs.
//! - `field`: dotted field paths into structs and schemaless maps; values as escaped
//!   directory names.
//! - `time`: `path.format` (a Joda-Time subset), time zones, `partition.duration.ms` buckets.
//! - `extractor`: `TimestampExtractor` (Wallclock, Record, RecordField).

mod config;
mod extractor;
mod field;
mod time;

use std::fmt::Write as _;

use sluice_api::{ConnectError, SinkRecord, Value};
use thiserror::Error;

pub use self::config::{add_config_keys, PartitionerConfig, PartitionerKind, TimeSettings};
pub use self::extractor::TimestampExtractor;
pub use self::field::FieldPath;
pub use self::time::{PartitionTimeZone, PathFormat, TimeBuckets};

/// Places records into directories. Built once per task from [`PartitionerConfig::build`].
pub trait Partitioner: Send + Sync {
    /// The directory (relative, no leading/trailing delimiter) of one record, written into
    /// `out` (reused buffer, cleared by the caller). `value` is the record's value: its
    /// `value` when decoded, or a map of the fields [`Partitioner::value_fields`] names when
    /// the sink reads the record's JSON text itself.
    fn encode_partition(&self, record: &SinkRecord, value: &Value, out: &mut String) -> Result<(), PartitionError>;

    /// The top-level fields of the record value this partitioner reads (the first segment of
    /// each field path, and of `timestamp.field` when it reads one).
    fn value_fields(&self) -> Vec<&str>;

    /// Whether a record's directory depends on nothing but the fields of
    /// [`Partitioner::value_fields`] (not on its partition, time or anything else), so that
    /// records with the same values of those fields always get the same directory.
    fn reads_value_only(&self) -> bool {
        false
    }
}

/// Why one record cannot be placed; the message names the field and is fit for a dead letter
/// queue header.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PartitionError {
    /// The record value has no such field.
    #[error("Field `{field}` is missing from the record value; records to partition by it must have it.")]
    MissingField {
        /// The configured field path.
        field: String,
    },
    /// The field is null (and its schema has no default).
    #[error("Field `{field}` is null; partitioning needs a value.")]
    NullField {
        /// The configured field path.
        field: String,
    },
    /// A step of the path is not a struct or map (including a null record value).
    #[error("Field `{field}` cannot be read: {parent} is {found}, not a struct or map.")]
    NotAContainer {
        /// The configured field path.
        field: String,
        /// What should have held the field: "the record value" or `a.b`.
        parent: String,
        /// The type found instead.
        found: &'static str,
    },
    /// The field's type cannot name a directory (bytes, arrays, maps, structs, times of day).
    #[error("Field `{field}` is of type {found}, which cannot name a directory; partition by a string, number, boolean, date or timestamp field.")]
    UnsupportedFieldType {
        /// The configured field path.
        field: String,
        /// The type found.
        found: &'static str,
    },
    /// The timestamp field holds something that is not a point in time.
    #[error("Timestamp field `{field}` holds {value}, which cannot be read as a time ({reason}). Send epoch milliseconds, a Connect Timestamp or an ISO-8601 string.")]
    BadTimestamp {
        /// The configured `timestamp.field`.
        field: String,
        /// The value, shortened.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `timestamp.extractor=Record` and the Kafka record has no timestamp.
    #[error("The record has no Kafka timestamp, which timestamp.extractor=Record needs; use RecordField or Wallclock for such topics.")]
    NoRecordTimestamp,
    /// The time cannot be represented as a calendar date.
    #[error("The time {ms} ms since the epoch is out of the range of calendar dates.")]
    TimeOutOfRange {
        /// The time, in milliseconds since the epoch.
        ms: i64,
    },
}

impl From<PartitionError> for ConnectError {
    /// A bad record, not a bad configuration: error tolerance decides what happens to it.
    fn from(e: PartitionError) -> Self {
        ConnectError::data(e.to_string())
    }
}

/// `partition=<Kafka partition>`.
struct DefaultPartitioner;

impl Partitioner for DefaultPartitioner {
    fn encode_partition(&self, record: &SinkRecord, _value: &Value, out: &mut String) -> Result<(), PartitionError> {
        // Writing into a String cannot fail.
        let _ = write!(out, "partition={}", record.partition);
        Ok(())
    }

    fn value_fields(&self) -> Vec<&str> {
        Vec::new()
    }
}

/// `<field>=<value>` per field, joined by the delimiter.
struct FieldPartitioner {
    fields: Vec<FieldPath>,
    delim: String,
}

impl Partitioner for FieldPartitioner {
    fn encode_partition(&self, _record: &SinkRecord, value: &Value, out: &mut String) -> Result<(), PartitionError> {
        for (i, field) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push_str(&self.delim);
            }
            field.write_directory(value, &self.delim, out)?;
        }
        Ok(())
    }

    fn value_fields(&self) -> Vec<&str> {
        self.fields.iter().map(FieldPath::top_level).collect()
    }

    fn reads_value_only(&self) -> bool {
        true
    }
}

/// The directories of the record's time bucket.
struct TimeBasedPartitioner {
    buckets: TimeBuckets,
    extractor: TimestampExtractor,
}

impl Partitioner for TimeBasedPartitioner {
    fn encode_partition(&self, record: &SinkRecord, value: &Value, out: &mut String) -> Result<(), PartitionError> {
        self.buckets.write(self.extractor.extract(record, value)?, out)
    }

    fn value_fields(&self) -> Vec<&str> {
        self.extractor.value_field().into_iter().collect()
    }
}

/// Field directories, the delimiter, then time directories.
struct FieldTimePartitioner {
    fields: FieldPartitioner,
    time: TimeBasedPartitioner,
}

impl Partitioner for FieldTimePartitioner {
    fn encode_partition(&self, record: &SinkRecord, value: &Value, out: &mut String) -> Result<(), PartitionError> {
        self.fields.encode_partition(record, value, out)?;
        out.push_str(&self.fields.delim);
        self.time.encode_partition(record, value, out)
    }

    fn value_fields(&self) -> Vec<&str> {
        let mut fields = self.fields.value_fields();
        fields.extend(self.time.value_fields());
        fields
    }
}

/// A record on `topic-3` at offset 7 with the given value and Kafka timestamp.
#[cfg(test)]
fn test_record(value: sluice_api::Value, timestamp: Option<i64>) -> SinkRecord {
    SinkRecord {
        topic: "topic".into(),
        partition: 3,
        offset: 7,
        timestamp,
        key_schema: None,
        key: sluice_api::Value::Null,
        value_schema: None,
        value,
        value_json: None,
        value_datum: None,
        headers: Vec::new(),
        original_topic: "topic".into(),
        original_partition: 3,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sluice_api::{ConnectorConfig, Schema, SchemaType, Struct, Value};

    use super::*;

    /// 2025-09-18T22:30:15.123Z: the 18th in UTC, the 19th in Berlin.
    const T: i64 = 1_758_234_615_123;

    fn partitioner(pairs: &[(&str, &str)]) -> Box<dyn Partitioner> {
        let config: ConnectorConfig = pairs.iter().copied().collect();
        PartitionerConfig::from_connector_config(&config).unwrap().build()
    }

    fn encode(p: &dyn Partitioner, record: &SinkRecord) -> Result<String, PartitionError> {
        let mut out = String::new();
        p.encode_partition(record, &record.value, &mut out).map(|()| out)
    }

    fn event(event_type: &str, ts: &str) -> Value {
        Value::Map(vec![("event_type".into(), event_type.into()), ("ts".into(), ts.into())])
    }

    #[test]
    fn default_partitioner_uses_the_kafka_partition() {
        let p = partitioner(&[]);
        let record = test_record(Value::Null, Some(T));
        assert_eq!(encode(p.as_ref(), &record).unwrap(), "partition=3");
        assert!(p.value_fields().is_empty());
    }

    #[test]
    fn field_partitioner_with_several_fields_and_a_delimiter() {
        let schema = Arc::new(Schema::structure([
            ("region", Schema::new(SchemaType::String).into_ref()),
            ("shard", Schema::new(SchemaType::Int32).into_ref()),
        ]));
        let value = Value::Struct(Struct { schema, values: vec!["eu/west".into(), Value::Int32(5)] });
        let p = partitioner(&[
            ("partitioner.class", "io.confluent.connect.storage.partitioner.FieldPartitioner"),
            ("partition.field.name", "region, shard"),
        ]);
        assert_eq!(encode(p.as_ref(), &test_record(value.clone(), None)).unwrap(), "region=eu%2Fwest/shard=5");
        assert_eq!(p.value_fields(), ["region", "shard"]);
        let p = partitioner(&[
            ("partitioner.class", "Field"),
            ("partition.field.name", "region,shard"),
            ("directory.delim", "#"),
        ]);
        assert_eq!(encode(p.as_ref(), &test_record(value, None)).unwrap(), "region=eu%2Fwest#shard=5");
        let err = encode(p.as_ref(), &test_record(event("a", "b"), None)).unwrap_err();
        assert_eq!(err, PartitionError::MissingField { field: "region".into() });
    }

    #[test]
    fn time_based_partitioners_bucket_the_extracted_time() {
        let record = test_record(event("purchase", "2025-09-18T22:30:15.123Z"), Some(T + 3_600_000));
        let hourly =
            partitioner(&[("partitioner.class", "Hourly"), ("timezone", "UTC"), ("timestamp.extractor", "Record")]);
        assert_eq!(encode(hourly.as_ref(), &record).unwrap(), "year=2025/month=09/day=18/hour=23");
        assert!(hourly.value_fields().is_empty(), "the Kafka timestamp");

        let daily = [("partitioner.class", "Daily"), ("timestamp.extractor", "RecordField"), ("timestamp.field", "ts")];
        let utc = partitioner(&[daily.as_slice(), &[("timezone", "UTC")]].concat());
        let berlin = partitioner(&[daily.as_slice(), &[("timezone", "Europe/Berlin")]].concat());
        assert_eq!(encode(utc.as_ref(), &record).unwrap(), "year=2025/month=09/day=18");
        assert_eq!(encode(berlin.as_ref(), &record).unwrap(), "year=2025/month=09/day=19");
        assert_eq!(berlin.value_fields(), ["ts"]);

        let quarter = partitioner(&[
            ("partitioner.class", "TimeBased"),
            ("path.format", "'dt'=YYYY-MM-dd/'hm'=HHmm/"),
            ("partition.duration.ms", "900000"),
            ("locale", "en-US"),
            ("timezone", "UTC"),
            ("timestamp.extractor", "RecordField"),
            ("timestamp.field", "ts"),
        ]);
        assert_eq!(encode(quarter.as_ref(), &record).unwrap(), "dt=2025-09-18/hm=2230");
        let bad = test_record(event("purchase", "soon"), None);
        assert!(matches!(encode(quarter.as_ref(), &bad), Err(PartitionError::BadTimestamp { .. })));
    }

    #[test]
    fn field_time_partitioner_puts_fields_before_time() {
        let p = partitioner(&[
            ("partitioner.class", "io.sluice.connect.parquet.FieldTimePartitioner"),
            ("partition.field.name", "event_type"),
            ("path.format", "'year'=YYYY/'month'=MM/'day'=dd"),
            ("partition.duration.ms", "86400000"),
            ("timezone", "UTC"),
            ("timestamp.extractor", "RecordField"),
            ("timestamp.field", "ts"),
        ]);
        let record = test_record(event("purchase", "2025-09-18T10:00:00Z"), None);
        assert_eq!(encode(p.as_ref(), &record).unwrap(), "event_type=purchase/year=2025/month=09/day=18");
        assert_eq!(p.value_fields(), ["event_type", "ts"]);
        let no_type = test_record(Value::Map(vec![("ts".into(), "2025-09-18".into())]), None);
        assert_eq!(encode(p.as_ref(), &no_type), Err(PartitionError::MissingField { field: "event_type".into() }));
    }

    #[test]
    fn errors_become_data_errors_naming_the_field() {
        let e: ConnectError = PartitionError::NullField { field: "user.id".into() }.into();
        assert!(matches!(&e, ConnectError::Data { message } if message.contains("`user.id`")));
        assert!(!e.is_retriable());
    }
}
