//! Timestamp extractors (`timestamp.extractor`): the time a record counts as, for time
//! directories and for `rotate.interval.ms`.

use sluice_api::coerce::to_epoch_millis;
use sluice_api::{ConnectError, ConnectorConfig, SinkRecord, Value};

use super::config::{TIMESTAMP_EXTRACTOR, TIMESTAMP_FIELD};
use super::field::{describe, FieldPath};
use super::PartitionError;

/// Where a record's time comes from. Only `Record` and `RecordField` give the same
/// directories when records are replayed, which exactly-once delivery needs; `Wallclock`
/// depends on when the sink sees the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimestampExtractor {
    /// The time the sink processes the record (Confluent's default).
    Wallclock,
    /// The Kafka record timestamp (create or log-append time).
    Record,
    /// A field of the record value (`timestamp.field`, a dotted path): a Connect Timestamp or
    /// Date, a number of milliseconds since the epoch, or an ISO-8601 string (without an
    /// offset, UTC).
    RecordField(FieldPath),
}

impl TimestampExtractor {
    /// Reads `timestamp.extractor` (`Wallclock`, `Record`, `RecordField`, or Confluent's class
    /// names for them) and, for `RecordField`, `timestamp.field`.
    pub fn from_connector_config(config: &ConnectorConfig) -> Result<Self, ConnectError> {
        const CONFLUENT_PREFIX: &str = "io.confluent.connect.storage.partitioner.TimeBasedPartitioner$";
        let name = TIMESTAMP_EXTRACTOR.value(config);
        let short =
            name.strip_prefix(CONFLUENT_PREFIX).and_then(|n| n.strip_suffix("TimestampExtractor")).unwrap_or(name);
        match short {
            "Wallclock" => Ok(TimestampExtractor::Wallclock),
            "Record" => Ok(TimestampExtractor::Record),
            "RecordField" => {
                let field = TIMESTAMP_FIELD.value(config);
                FieldPath::parse(field).map(TimestampExtractor::RecordField).ok_or_else(|| {
                    ConnectError::config(
                        TIMESTAMP_FIELD.name,
                        format!("{field:?} is not a field path; name a field of the record value, such as created_at or order.created_at."),
                    )
                })
            }
            _ => Err(ConnectError::config(
                TIMESTAMP_EXTRACTOR.name,
                format!("Unknown timestamp extractor {name:?}; use Wallclock, Record or RecordField (custom extractor classes are not supported)."),
            )),
        }
    }

    /// Whether replaying the same records gives the same times (not so for `Wallclock`).
    pub fn is_deterministic(&self) -> bool {
        !matches!(self, TimestampExtractor::Wallclock)
    }

    /// The top-level field of the record value this extractor reads, if it reads one.
    pub fn value_field(&self) -> Option<&str> {
        match self {
            TimestampExtractor::RecordField(path) => Some(path.top_level()),
            _ => None,
        }
    }

    /// The record's time in milliseconds since the epoch. Sub-millisecond parts of ISO strings
    /// are dropped (floored). `value` is the record's value (see
    /// [`super::Partitioner::encode_partition`]).
    pub fn extract(&self, record: &SinkRecord, value: &Value) -> Result<i64, PartitionError> {
        match self {
            TimestampExtractor::Wallclock => Ok(chrono::Utc::now().timestamp_millis()),
            TimestampExtractor::Record => record.timestamp.ok_or(PartitionError::NoRecordTimestamp),
            TimestampExtractor::RecordField(path) => {
                let value = path.lookup(value)?;
                if value.is_null() {
                    return Err(PartitionError::NullField { field: path.name().to_owned() });
                }
                // Plain numbers count milliseconds, as in Confluent's RecordField extractor.
                to_epoch_millis(value).map_err(|reason| PartitionError::BadTimestamp {
                    field: path.name().to_owned(),
                    value: describe(value),
                    reason,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sluice_api::{Schema, SchemaType, Struct, Value};

    use super::super::test_record;
    use super::*;

    const T: i64 = 1_758_191_400_000; // 2025-09-18T10:30:00Z

    fn extractor(pairs: &[(&str, &str)]) -> Result<TimestampExtractor, ConnectError> {
        TimestampExtractor::from_connector_config(&pairs.iter().copied().collect())
    }

    /// The time `e` extracts from a record of this value and Kafka timestamp.
    fn extract(e: &TimestampExtractor, value: Value, timestamp: Option<i64>) -> Result<i64, PartitionError> {
        let record = test_record(value, timestamp);
        e.extract(&record, &record.value)
    }

    fn field_time(value: Value) -> Result<i64, PartitionError> {
        let e = extractor(&[("timestamp.extractor", "RecordField"), ("timestamp.field", "meta.ts")]).unwrap();
        assert_eq!(e.value_field(), Some("meta"));
        extract(&e, Value::Map(vec![("meta".into(), Value::Map(vec![("ts".into(), value)]))]), None)
    }

    #[test]
    fn names_and_confluent_class_names_are_accepted() {
        assert_eq!(extractor(&[]).unwrap(), TimestampExtractor::Wallclock);
        assert_eq!(extractor(&[("timestamp.extractor", "Record")]).unwrap(), TimestampExtractor::Record);
        let full = "io.confluent.connect.storage.partitioner.TimeBasedPartitioner$RecordTimestampExtractor";
        assert_eq!(extractor(&[("timestamp.extractor", full)]).unwrap(), TimestampExtractor::Record);
        // timestamp.field defaults to `timestamp`, as in Confluent.
        assert_eq!(
            extractor(&[("timestamp.extractor", "RecordField")]).unwrap(),
            TimestampExtractor::RecordField(FieldPath::parse("timestamp").unwrap())
        );
        let err = extractor(&[("timestamp.extractor", "com.acme.MyExtractor")]).unwrap_err();
        assert_eq!(err.config_key(), Some("timestamp.extractor"));
        let err = extractor(&[("timestamp.extractor", "RecordField"), ("timestamp.field", "a..b")]).unwrap_err();
        assert_eq!(err.config_key(), Some("timestamp.field"));
    }

    #[test]
    fn record_and_wallclock_times() {
        assert_eq!(extract(&TimestampExtractor::Record, Value::Null, Some(T)), Ok(T));
        assert_eq!(extract(&TimestampExtractor::Record, Value::Null, None), Err(PartitionError::NoRecordTimestamp));
        let before = chrono::Utc::now().timestamp_millis();
        let now = extract(&TimestampExtractor::Wallclock, Value::Null, Some(0)).unwrap();
        assert!(now >= before && now <= chrono::Utc::now().timestamp_millis());
        assert!(!TimestampExtractor::Wallclock.is_deterministic());
    }

    #[test]
    fn field_values_of_every_accepted_kind() {
        assert_eq!(field_time(Value::Int64(T)), Ok(T));
        assert_eq!(field_time(Value::Timestamp(T)), Ok(T));
        assert_eq!(field_time(Value::Date(20_349)), Ok(T - 37_800_000));
        assert_eq!(field_time(Value::Float64(T as f64 + 0.7)), Ok(T));
        assert_eq!(field_time("2025-09-18T10:30:00Z".into()), Ok(T));
        assert_eq!(field_time("2025-09-18T12:30:00.250+02:00".into()), Ok(T + 250));
        assert_eq!(field_time("2025-09-18 10:30:00".into()), Ok(T));
    }

    #[test]
    fn struct_fields_with_a_timestamp_schema() {
        let schema = Arc::new(Schema::structure([("created", Schema::timestamp().into_ref())]));
        let value = Value::Struct(Struct { schema, values: vec![Value::Timestamp(T)] });
        let e = extractor(&[("timestamp.extractor", "RecordField"), ("timestamp.field", "created")]).unwrap();
        assert_eq!(extract(&e, value, None), Ok(T));
        let schema = Arc::new(Schema::structure([("n", Schema::new(SchemaType::Int32).into_ref())]));
        let value = Value::Struct(Struct { schema, values: vec![Value::Int32(1)] });
        assert_eq!(extract(&e, value, None), Err(PartitionError::MissingField { field: "created".into() }));
    }

    #[test]
    fn unusable_fields_name_the_field_and_the_value() {
        let err = field_time("yesterday".into()).unwrap_err();
        assert!(
            matches!(&err, PartitionError::BadTimestamp { field, value, .. } if field == "meta.ts" && value == "\"yesterday\"")
        );
        let text = err.to_string();
        assert!(text.contains("`meta.ts`") && text.contains("\"yesterday\"") && text.contains("ISO-8601"), "{text}");
        assert_eq!(field_time(Value::Null), Err(PartitionError::NullField { field: "meta.ts".into() }));
        assert!(field_time(Value::Boolean(true)).unwrap_err().to_string().contains("true"));
        assert!(field_time(Value::Time(5)).is_err());
        assert!(matches!(field_time(Value::Float64(1e300)), Err(PartitionError::BadTimestamp { .. })));
    }
}
