//! The partitioner's configuration keys, each declared once (name, type, default, docs) in
//! [`KeySpec`](sluice_api::KeySpec) constants that both [`add_config_keys`] and the parser read.

use sluice_api::{ConfigDef, ConfigType, ConnectError, ConnectorConfig, Importance, Width};

use sluice_api::KeySpec;

use super::extractor::TimestampExtractor;
use super::field::FieldPath;
use super::time::{PartitionTimeZone, PathFormat, TimeBuckets};
use super::{DefaultPartitioner, FieldPartitioner, FieldTimePartitioner, Partitioner, TimeBasedPartitioner};

const PARTITIONER_CLASS: KeySpec = KeySpec {
    name: "partitioner.class",
    config_type: ConfigType::Class,
    default: "io.confluent.connect.storage.partitioner.DefaultPartitioner",
    importance: Importance::High,
    display: "Partitioner Class",
    doc: "Where each record's file goes. DefaultPartitioner: partition=<Kafka partition>. FieldPartitioner: \
          <field>=<value> for each field of partition.field.name. TimeBasedPartitioner: time directories \
          from path.format, partition.duration.ms, timezone and timestamp.extractor. DailyPartitioner and \
          HourlyPartitioner: TimeBasedPartitioner with 'year'=YYYY/'month'=MM/'day'=dd (and /'hour'=HH). \
          io.sluice.connect.parquet.FieldTimePartitioner: the field directories, then the time directories. \
          Confluent's class names (io.confluent.connect.storage.partitioner.*) and the short names Default, \
          Field, TimeBased, Daily, Hourly and FieldTime are accepted.",
};

const PARTITION_FIELD_NAME: KeySpec = KeySpec {
    name: "partition.field.name",
    config_type: ConfigType::List,
    default: "",
    importance: Importance::Medium,
    display: "Partition Field Name",
    doc: "Comma-separated fields of the record value (structs or schemaless JSON objects) whose values \
          name directories, for FieldPartitioner and FieldTimePartitioner; a.b names a nested field. \
          Strings, numbers, booleans, dates and timestamps are accepted; / and the directory delimiter in \
          values are %-escaped as Hive does. A record without the field, or with null, goes to the \
          dead letter queue.",
};

const PARTITION_DURATION_MS: KeySpec = KeySpec {
    name: "partition.duration.ms",
    config_type: ConfigType::Long,
    default: "-1",
    importance: Importance::Medium,
    display: "Partition Duration (ms)",
    doc: "Length of a time bucket in milliseconds, for TimeBasedPartitioner and FieldTimePartitioner \
          (required there): a record goes to the directories of the start of its bucket, the record's \
          local time in timezone floored to a multiple of the duration. Daily and Hourly set it.",
};

const PATH_FORMAT: KeySpec = KeySpec {
    name: "path.format",
    config_type: ConfigType::String,
    default: "",
    importance: Importance::Medium,
    display: "Path Format",
    doc: "Joda-Time pattern of the time directories, for TimeBasedPartitioner and FieldTimePartitioner \
          (required there), for example 'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH. Supported letters: \
          YYYY/yyyy, xxxx, MM, ww, DDD, dd, e, HH, mm, ss, SSS; quoted text is literal. Month and day \
          names are not supported.",
};

const LOCALE: KeySpec = KeySpec {
    name: "locale",
    config_type: ConfigType::String,
    default: "",
    importance: Importance::Medium,
    display: "Locale",
    doc: "Locale of time directories, such as en-US; checked for form and otherwise unused, since \
          only numeric date fields are supported.",
};

const TIMEZONE: KeySpec = KeySpec {
    name: "timezone",
    config_type: ConfigType::String,
    default: "",
    importance: Importance::Medium,
    display: "Timezone",
    doc: "Time zone of time directories and buckets, required by the time-based partitioners: an IANA \
          name such as UTC, Europe/Berlin or America/New_York, or a fixed offset such as +02:00.",
};

pub(super) const TIMESTAMP_EXTRACTOR: KeySpec = KeySpec {
    name: "timestamp.extractor",
    config_type: ConfigType::String,
    default: "Wallclock",
    importance: Importance::Medium,
    display: "Timestamp Extractor",
    doc: "The time a record counts as, for time-based partitioners: Wallclock (when the sink processes \
          it), Record (the Kafka record timestamp) or RecordField (the field timestamp.field). Only \
          Record and RecordField write the same files when records are replayed.",
};

pub(super) const TIMESTAMP_FIELD: KeySpec = KeySpec {
    name: "timestamp.field",
    config_type: ConfigType::String,
    default: "timestamp",
    importance: Importance::Medium,
    display: "Record Field for Timestamp Extractor",
    doc: "The field of the record value holding the time, for timestamp.extractor=RecordField; a.b names \
          a nested field. A Connect Timestamp or Date, a number of milliseconds since the epoch, or an \
          ISO-8601 string (UTC when it has no offset). A record without a usable time goes to the dead \
          letter queue.",
};

const DIRECTORY_DELIM: KeySpec = KeySpec {
    name: "directory.delim",
    config_type: ConfigType::String,
    default: "/",
    importance: Importance::Medium,
    display: "Directory Delimiter",
    doc: "The text between the directories of a partition, for the field partitioners.",
};

const KEYS: [&KeySpec; 9] = [
    &PARTITIONER_CLASS,
    &PARTITION_FIELD_NAME,
    &PARTITION_DURATION_MS,
    &PATH_FORMAT,
    &LOCALE,
    &TIMEZONE,
    &TIMESTAMP_EXTRACTOR,
    &TIMESTAMP_FIELD,
    &DIRECTORY_DELIM,
];

/// Adds the partitioner's keys to `def`, in the "Partitioner" group, all optional (which of
/// them a partitioner needs is checked by [`PartitionerConfig::from_connector_config`]).
pub fn add_config_keys(def: ConfigDef) -> ConfigDef {
    KEYS.iter().fold(def, |def, key| {
        def.optional(key.name, key.config_type, key.default, key.importance, key.doc).in_group(
            "Partitioner",
            Width::Long,
            key.display,
        )
    })
}

const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;
const DAILY_FORMAT: &str = "'year'=YYYY/'month'=MM/'day'=dd";
const HOURLY_FORMAT: &str = "'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH";

/// The partitioners `partitioner.class` can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionerKind {
    /// `partition=<Kafka partition>`.
    Default,
    /// `<field>=<value>` per field of `partition.field.name`.
    Field,
    /// Time directories from `path.format` and `partition.duration.ms`.
    TimeBased,
    /// Time-based with `'year'=YYYY/'month'=MM/'day'=dd` and one day.
    Daily,
    /// Time-based with `'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH` and one hour.
    Hourly,
    /// Field directories, then time directories (Sluice's; Confluent needs a custom class).
    FieldTime,
}

impl PartitionerKind {
    /// The kind a class name or short name stands for.
    pub fn from_class(name: &str) -> Option<Self> {
        let short = name
            .strip_prefix("io.confluent.connect.storage.partitioner.")
            .or_else(|| name.strip_prefix("io.sluice.connect.parquet."))
            .unwrap_or(name);
        Some(match short.strip_suffix("Partitioner").unwrap_or(short) {
            "Default" => PartitionerKind::Default,
            "Field" => PartitionerKind::Field,
            "TimeBased" => PartitionerKind::TimeBased,
            "Daily" => PartitionerKind::Daily,
            "Hourly" => PartitionerKind::Hourly,
            "FieldTime" => PartitionerKind::FieldTime,
            _ => return None,
        })
    }

    /// Whether records get time directories (and a record time).
    pub fn is_time_based(self) -> bool {
        !matches!(self, PartitionerKind::Default | PartitionerKind::Field)
    }

    fn uses_fields(self) -> bool {
        matches!(self, PartitionerKind::Field | PartitionerKind::FieldTime)
    }
}

/// The time half of a time-based partitioner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeSettings {
    /// Path format, bucket length and time zone.
    pub buckets: TimeBuckets,
    /// Where a record's time comes from.
    pub extractor: TimestampExtractor,
    /// The `locale` as configured (checked, otherwise unused: only numeric fields are written).
    pub locale: String,
}

/// The partitioner's settings, checked once when the connector starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionerConfig {
    /// Which partitioner `partitioner.class` names.
    pub kind: PartitionerKind,
    /// The fields of `partition.field.name`; empty unless the kind is Field or FieldTime.
    pub fields: Vec<FieldPath>,
    /// Time directories; `Some` exactly when the kind is time based.
    pub time: Option<TimeSettings>,
    /// `directory.delim`, between field directories and before the time directories.
    pub delim: String,
}

impl PartitionerConfig {
    /// Parses and checks the partitioner keys; each error names its key and says what to set.
    pub fn from_connector_config(config: &ConnectorConfig) -> Result<Self, ConnectError> {
        let class = PARTITIONER_CLASS.value(config);
        let kind = PartitionerKind::from_class(class).ok_or_else(|| {
            ConnectError::config(
                PARTITIONER_CLASS.name,
                format!(
                    "Unknown partitioner {class:?}; use DefaultPartitioner, FieldPartitioner, TimeBasedPartitioner, \
                     DailyPartitioner, HourlyPartitioner (io.confluent.connect.storage.partitioner.*) or \
                     io.sluice.connect.parquet.FieldTimePartitioner."
                ),
            )
        })?;
        // Not trimmed: the delimiter is literal text.
        let delim = config.get(DIRECTORY_DELIM.name).filter(|d| !d.is_empty()).unwrap_or(DIRECTORY_DELIM.default);
        // Checked for every partitioner, as Confluent's validators do.
        let zone = match TIMEZONE.value(config) {
            "" => None,
            text => Some(PartitionTimeZone::parse(text).map_err(|e| ConnectError::config(TIMEZONE.name, e))?),
        };
        let locale = LOCALE.value(config);
        check_locale(locale)?;
        let duration_ms = config.int_or(PARTITION_DURATION_MS.name, -1, i64::MIN, i64::MAX)?;

        let fields = if kind.uses_fields() { parse_fields(config)? } else { Vec::new() };
        let time = if kind.is_time_based() {
            let zone = zone.ok_or_else(|| {
                ConnectError::config(
                    TIMEZONE.name,
                    "Time-based partitioners need a time zone; set timezone to an IANA name such as UTC or Europe/Berlin.",
                )
            })?;
            let (pattern, duration_ms) = match kind {
                PartitionerKind::Daily => (DAILY_FORMAT, DAY_MS),
                PartitionerKind::Hourly => (HOURLY_FORMAT, HOUR_MS),
                _ => (PATH_FORMAT.value(config), duration_ms),
            };
            let format = PathFormat::parse(strip_delimiters(pattern, delim))
                .map_err(|e| ConnectError::config(PATH_FORMAT.name, e))?;
            let buckets = TimeBuckets::new(format, duration_ms, zone).map_err(|e| {
                ConnectError::config(
                    PARTITION_DURATION_MS.name,
                    format!("{e} Set it, for example to 3600000 for hours."),
                )
            })?;
            let extractor = TimestampExtractor::from_connector_config(config)?;
            Some(TimeSettings { buckets, extractor, locale: locale.to_owned() })
        } else {
            None
        };
        Ok(PartitionerConfig { kind, fields, time, delim: delim.to_owned() })
    }

    /// The partitioner these settings describe.
    pub fn build(&self) -> Box<dyn Partitioner> {
        let fields = || FieldPartitioner { fields: self.fields.clone(), delim: self.delim.clone() };
        match &self.time {
            None if self.kind.uses_fields() => Box::new(fields()),
            None => Box::new(DefaultPartitioner),
            Some(time) => {
                let time = TimeBasedPartitioner { buckets: time.buckets.clone(), extractor: time.extractor.clone() };
                if self.kind.uses_fields() {
                    Box::new(FieldTimePartitioner { fields: fields(), time })
                } else {
                    Box::new(time)
                }
            }
        }
    }

    /// The extractor `rotate.interval.ms` should use: the partitioner's own when it is time
    /// based, otherwise the Kafka record timestamp, as Confluent's S3 sink does.
    pub fn rotation_extractor(&self) -> TimestampExtractor {
        self.time.as_ref().map_or(TimestampExtractor::Record, |t| t.extractor.clone())
    }
}

fn parse_fields(config: &ConnectorConfig) -> Result<Vec<FieldPath>, ConnectError> {
    let names = config.list(PARTITION_FIELD_NAME.name);
    if names.is_empty() {
        return Err(ConnectError::config(
            PARTITION_FIELD_NAME.name,
            "The field partitioners need at least one field; set partition.field.name, for example to event_type.",
        ));
    }
    names
        .iter()
        .map(|name| {
            FieldPath::parse(name).ok_or_else(|| {
                ConnectError::config(
                    PARTITION_FIELD_NAME.name,
                    format!("{name:?} is not a field path such as a or a.b."),
                )
            })
        })
        .collect()
}

/// Drops delimiters at either end of the pattern, so directories have none (Confluent drops a
/// trailing one too).
fn strip_delimiters<'a>(mut pattern: &'a str, delim: &str) -> &'a str {
    for d in [delim, "/"] {
        while let Some(rest) = pattern.strip_suffix(d) {
            pattern = rest;
        }
        while let Some(rest) = pattern.strip_prefix(d) {
            pattern = rest;
        }
    }
    pattern
}

/// A locale is a language, optionally followed by subtags (`en`, `en-US`, `fr_FR`): alphanumeric
/// parts of up to 8 characters, the first alphabetic. Java accepts more, but not spaces or
/// punctuation, which would only be typos.
fn check_locale(locale: &str) -> Result<(), ConnectError> {
    if locale.is_empty() {
        return Ok(());
    }
    let mut parts = locale.split(['-', '_']);
    let language_ok =
        parts.next().is_some_and(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphabetic()));
    let rest_ok = parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()));
    if language_ok && rest_ok {
        Ok(())
    } else {
        Err(ConnectError::config(
            LOCALE.name,
            format!("{locale:?} is not a locale; use a form such as en-US or fr-FR."),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<PartitionerConfig, ConnectError> {
        PartitionerConfig::from_connector_config(&pairs.iter().copied().collect())
    }

    fn key_of(pairs: &[(&str, &str)]) -> Option<String> {
        parse(pairs).err().and_then(|e| e.config_key().map(str::to_owned))
    }

    #[test]
    fn class_names_long_and_short() {
        assert_eq!(parse(&[]).unwrap().kind, PartitionerKind::Default);
        for (name, kind) in [
            ("io.confluent.connect.storage.partitioner.DefaultPartitioner", PartitionerKind::Default),
            ("Field", PartitionerKind::Field),
            ("io.confluent.connect.storage.partitioner.TimeBasedPartitioner", PartitionerKind::TimeBased),
            ("Daily", PartitionerKind::Daily),
            ("io.confluent.connect.storage.partitioner.HourlyPartitioner", PartitionerKind::Hourly),
            ("io.sluice.connect.parquet.FieldTimePartitioner", PartitionerKind::FieldTime),
            ("FieldTime", PartitionerKind::FieldTime),
        ] {
            assert_eq!(PartitionerKind::from_class(name), Some(kind), "{name}");
        }
        assert_eq!(PartitionerKind::from_class("com.acme.Custom"), None);
        assert_eq!(key_of(&[("partitioner.class", "com.acme.Custom")]).as_deref(), Some("partitioner.class"));
    }

    #[test]
    fn errors_name_the_key_at_fault() {
        let time = [("partitioner.class", "TimeBased"), ("timezone", "UTC"), ("partition.duration.ms", "3600000")];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut pairs = time.to_vec();
            pairs.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
            pairs.extend_from_slice(extra);
            key_of(&pairs)
        };
        assert_eq!(with(&[("path.format", "'hour'=HH")]), None);
        assert_eq!(with(&[]).as_deref(), Some("path.format"));
        assert_eq!(with(&[("path.format", "'month'=MMM")]).as_deref(), Some("path.format"));
        assert_eq!(with(&[("path.format", "HH"), ("timezone", "")]).as_deref(), Some("timezone"));
        assert_eq!(with(&[("path.format", "HH"), ("timezone", "Berlin")]).as_deref(), Some("timezone"));
        assert_eq!(
            with(&[("path.format", "HH"), ("partition.duration.ms", "-1")]).as_deref(),
            Some("partition.duration.ms")
        );
        assert_eq!(
            with(&[("path.format", "HH"), ("partition.duration.ms", "1h")]).as_deref(),
            Some("partition.duration.ms")
        );
        assert_eq!(with(&[("path.format", "HH"), ("locale", "en US")]).as_deref(), Some("locale"));
        assert_eq!(
            with(&[("path.format", "HH"), ("timestamp.extractor", "X")]).as_deref(),
            Some("timestamp.extractor")
        );
        assert_eq!(key_of(&[("partitioner.class", "Field")]).as_deref(), Some("partition.field.name"));
        assert_eq!(
            key_of(&[("partitioner.class", "Field"), ("partition.field.name", "a.")]).as_deref(),
            Some("partition.field.name")
        );
        assert_eq!(key_of(&[("partitioner.class", "Daily")]).as_deref(), Some("timezone"));
        // Confluent checks the time zone whatever the partitioner.
        assert_eq!(key_of(&[("timezone", "Nowhere/City")]).as_deref(), Some("timezone"));
    }

    #[test]
    fn daily_and_hourly_fix_their_format_and_duration() {
        let daily = parse(&[("partitioner.class", "Daily"), ("timezone", "UTC"), ("path.format", "ignored'")]).unwrap();
        let time = daily.time.unwrap();
        assert_eq!(time.buckets.format().pattern(), DAILY_FORMAT);
        assert_eq!(time.buckets.duration_ms(), DAY_MS);
        let hourly = parse(&[("partitioner.class", "Hourly"), ("timezone", "UTC"), ("locale", "en_US")]).unwrap();
        assert_eq!(hourly.time.unwrap().buckets.duration_ms(), HOUR_MS);
    }

    #[test]
    fn delimiters_around_the_path_format_are_dropped() {
        assert_eq!(strip_delimiters("/'y'=YYYY/", "/"), "'y'=YYYY");
        assert_eq!(strip_delimiters("'y'=YYYY/", "_"), "'y'=YYYY");
        assert_eq!(strip_delimiters("'y'=YYYY__", "_"), "'y'=YYYY");
    }

    #[test]
    fn rotation_uses_record_time_unless_time_based() {
        assert_eq!(parse(&[]).unwrap().rotation_extractor(), TimestampExtractor::Record);
        let c = parse(&[("partitioner.class", "Hourly"), ("timezone", "UTC"), ("timestamp.extractor", "Wallclock")]);
        assert_eq!(c.unwrap().rotation_extractor(), TimestampExtractor::Wallclock);
    }

    #[test]
    fn config_def_documents_every_key_once() {
        let def = add_config_keys(ConfigDef::new());
        assert_eq!(def.keys.len(), KEYS.len());
        for key in KEYS {
            let documented = def.key(key.name).unwrap();
            assert_eq!(documented.default, Some(key.default));
            assert!(!documented.documentation.is_empty());
        }
        assert_eq!(def.key("timestamp.extractor").unwrap().default, Some("Wallclock"));
        assert!(def.validate(&ConnectorConfig::default()).is_ok());
    }
}
