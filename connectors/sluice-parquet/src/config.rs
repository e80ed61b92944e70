//! The sink's configuration: [`ParquetSinkConfig`], parsed from the connector's string map with
//! the keys of Confluent's S3 sink, and [`config_def`], their documentation. Each key is
//! declared once, as a [`KeySpec`](sluice_api::KeySpec) that both the docs and the parser read.

use std::time::Duration;

use parquet::basic::{Compression, GzipLevel, ZstdLevel};
use sluice_api::{ConfigDef, ConnectError, ConnectorConfig, KeySpec, Result};

use crate::partitioner::{self, PartitionerConfig, TimestampExtractor};
use crate::schema::Compatibility;

/// The connector class names this sink answers to.
pub const CLASS: &str = "io.sluice.connect.parquet.ParquetSinkConnector";
/// Confluent's S3 sink, accepted with `format.class` set to its Parquet format.
pub const CONFLUENT_S3_CLASS: &str = "io.confluent.connect.s3.S3SinkConnector";
const PARQUET_FORMAT: &str = "io.confluent.connect.s3.format.parquet.ParquetFormat";

use sluice_api::config_key as key;

key!(STORE_URL, "store.url", String, "", High, "Store URL",
    "Where files go: the S3-compatible endpoint (http(s)://host:port, as in Confluent's S3 sink; empty for AWS S3 in s3.region), or file:///some/dir for a local directory (then s3.bucket.name is not used).");
key!(
    BUCKET,
    "s3.bucket.name",
    String,
    "",
    High,
    "S3 Bucket",
    "The bucket files are written to (required unless store.url is a file:// URL)."
);
key!(REGION, "s3.region", String, "us-west-2", Medium, "S3 Region", "The bucket's region.");
key!(
    ACCESS_KEY,
    "aws.access.key.id",
    String,
    "",
    High,
    "AWS Access Key ID",
    "Access key; empty to take AWS_ACCESS_KEY_ID (and the rest of the AWS environment) from the worker's environment."
);
key!(
    SECRET_KEY,
    "aws.secret.access.key",
    Password,
    "",
    High,
    "AWS Secret Access Key",
    "Secret key for aws.access.key.id."
);
key!(
    PATH_STYLE,
    "s3.path.style.access.enabled",
    Boolean,
    "true",
    Low,
    "Path Style Access",
    "Address buckets as endpoint/bucket (path style, what most S3-compatible stores need) instead of bucket.endpoint."
);
key!(TOPICS_DIR, "topics.dir", String, "topics", High, "Topics Directory", "Top directory (key prefix) of every file.");
key!(
    FILE_DELIM,
    "file.delim",
    String,
    "+",
    Low,
    "File Delimiter",
    "Separator of topic, partition and offset in file names."
);
key!(FLUSH_SIZE, "flush.size", Int, "", High, "Flush Size",
    "Records of one Kafka partition per set of files: once a partition's open files hold this many records, they are published (and the offsets after them committed).");
key!(
    FILE_MAX_BYTES,
    "file.max.bytes",
    Long,
    "134217728",
    Medium,
    "Maximum File Bytes",
    "Buffered bytes of one Kafka partition's open files that publish them early, before flush.size is reached."
);
key!(ROTATE_INTERVAL, "rotate.interval.ms", Long, "-1", Medium, "Rotate Interval (record time)",
    "Publish a partition's files once a record's time (per timestamp.extractor) is this much later than the first record's in them; -1 is off. Deterministic: a replay cuts files at the same records.");
key!(ROTATE_SCHEDULE, "rotate.schedule.interval.ms", Long, "-1", Medium, "Rotate Interval (wall clock)",
    "Publish open files at every multiple of this interval of wall-clock time (UTC), even when no new record arrives; -1 is off.");
key!(MAX_OPEN_FILES, "partitioner.max.open.files", Int, "64", Medium, "Maximum Open Files",
    "Open files per task. A record that needs one more publishes the open files of the Kafka partition whose oldest file is oldest first.");
key!(BUFFER_MAX_BYTES, "buffer.max.bytes", Long, "33554432", Medium, "Maximum Buffered Bytes",
    "Bytes buffered per task in all open files; past this the Kafka partition holding the most is published, so memory stays bounded whatever the partitioning.");
key!(
    CODEC,
    "parquet.codec",
    String,
    "snappy",
    Medium,
    "Parquet Codec",
    "Compression of Parquet pages: snappy, zstd, gzip, lz4 or none."
);
key!(
    ROW_GROUP_ROWS,
    "parquet.row.group.size",
    Int,
    "100000",
    Low,
    "Row Group Size",
    "Rows per Parquet row group (at most)."
);
key!(
    DICTIONARY,
    "parquet.enable.dictionary",
    Boolean,
    "true",
    Low,
    "Dictionary Encoding",
    "Dictionary-encode columns. Text and binary columns whose values are mostly distinct (judged per file from a sample of 128 values: ids, session keys, timestamps as text) are written plain, as is any column whose dictionary passes Parquet's page size limit."
);
key!(COMPATIBILITY, "schema.compatibility", String, "NONE", Medium, "Schema Compatibility",
    "How records of different schema versions share a file: NONE (a new file per version), BACKWARD or FULL (the newest version, older records projected onto it), FORWARD (the oldest version, newer records projected onto it). Incompatible versions get a file each, not a file per record.");
key!(
    PAD_WIDTH,
    "filename.offset.zero.pad.width",
    Int,
    "10",
    Low,
    "Offset Zero Pad Width",
    "Digits of the first offset in file names, zero-padded."
);
key!(
    NULL_VALUES,
    "behavior.on.null.values",
    String,
    "fail",
    Low,
    "Behavior on Null Values",
    "Records with a null value (tombstones): fail (a bad record: errors.tolerance decides) or ignore."
);
key!(
    FORMAT_CLASS,
    "format.class",
    Class,
    "io.confluent.connect.s3.format.parquet.ParquetFormat",
    High,
    "Format Class",
    "The file format; only Confluent's ParquetFormat is written."
);
key!(
    STORAGE_CLASS,
    "storage.class",
    Class,
    "io.confluent.connect.s3.storage.S3Storage",
    Low,
    "Storage Class",
    "Accepted for compatibility with Confluent's S3 sink; store.url decides where files go."
);

const KEYS: &[&KeySpec] = &[
    &STORE_URL,
    &BUCKET,
    &REGION,
    &ACCESS_KEY,
    &SECRET_KEY,
    &PATH_STYLE,
    &TOPICS_DIR,
    &FILE_DELIM,
    &FLUSH_SIZE,
    &FILE_MAX_BYTES,
    &ROTATE_INTERVAL,
    &ROTATE_SCHEDULE,
    &MAX_OPEN_FILES,
    &BUFFER_MAX_BYTES,
    &CODEC,
    &ROW_GROUP_ROWS,
    &DICTIONARY,
    &COMPATIBILITY,
    &PAD_WIDTH,
    &NULL_VALUES,
    &FORMAT_CLASS,
    &STORAGE_CLASS,
];

/// The documented keys: the store, files and rotation, then the partitioner's.
pub fn config_def() -> ConfigDef {
    let def = KEYS.iter().fold(ConfigDef::new(), |def, key| key.add_to(def, "Parquet"));
    partitioner::add_config_keys(def)
}

/// Where files go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// A local directory.
    Local(std::path::PathBuf),
    /// An S3 bucket at `endpoint` (AWS itself when `None`).
    S3 {
        endpoint: Option<String>,
        bucket: String,
        region: String,
        access_key: Option<String>,
        secret_key: Option<String>,
        path_style: bool,
    },
}

/// What to do with a record whose value is null.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NullValues {
    Fail,
    Ignore,
}

/// The sink's settings, checked.
#[derive(Debug, Clone)]
pub struct ParquetSinkConfig {
    pub store: StoreLocation,
    /// `topics.dir`, without leading or trailing slashes.
    pub topics_dir: String,
    pub file_delim: String,
    pub flush_size: usize,
    pub file_max_bytes: usize,
    /// `rotate.interval.ms`, by record time.
    pub rotate_interval: Option<Duration>,
    /// `rotate.schedule.interval.ms`, by wall clock.
    pub rotate_schedule: Option<Duration>,
    pub max_open_files: usize,
    pub buffer_max_bytes: usize,
    pub codec: Compression,
    /// The codec's part of file names (`snappy`), empty for none.
    pub codec_extension: &'static str,
    pub row_group_rows: usize,
    pub dictionary: bool,
    pub compatibility: Compatibility,
    pub pad_width: usize,
    pub null_values: NullValues,
    pub partitioner: PartitionerConfig,
    /// The record time that `rotate.interval.ms` measures.
    pub rotation_time: TimestampExtractor,
}

impl ParquetSinkConfig {
    /// Parses and checks the connector config; errors name the offending key.
    pub fn from_connector_config(config: &ConnectorConfig) -> Result<Self> {
        let class = config.get("connector.class").unwrap_or(CLASS);
        let format = FORMAT_CLASS.value(config);
        if class == CONFLUENT_S3_CLASS && format != PARQUET_FORMAT {
            return Err(ConnectError::config(
                FORMAT_CLASS.name,
                format!("Sluice writes Parquet only; set format.class to {PARQUET_FORMAT} (got {format})."),
            ));
        }
        if !format.ends_with("ParquetFormat") {
            return Err(ConnectError::config(FORMAT_CLASS.name, format!("Only Parquet is written; got {format}.")));
        }
        let flush_size = match config.get(FLUSH_SIZE.name).map(str::trim) {
            None | Some("") => {
                return Err(ConnectError::config(
                    FLUSH_SIZE.name,
                    "Missing: set the number of records per file set of a Kafka partition, e.g. 10000.",
                ))
            }
            Some(_) => FLUSH_SIZE.int(config, 1, i32::MAX as i64)? as usize,
        };
        let (codec, codec_extension) = codec(CODEC.value(config)).ok_or_else(|| {
            ConnectError::config(
                CODEC.name,
                format!("Expected snappy, zstd, gzip, lz4 or none, got {:?}.", CODEC.value(config)),
            )
        })?;
        let compatibility: Compatibility =
            COMPATIBILITY.value(config).parse().map_err(|e: crate::schema::UnknownCompatibility| {
                ConnectError::config(COMPATIBILITY.name, e.to_string())
            })?;
        let null_values = match NULL_VALUES.value(config).to_ascii_lowercase().as_str() {
            "fail" => NullValues::Fail,
            "ignore" => NullValues::Ignore,
            other => {
                return Err(ConnectError::config(
                    NULL_VALUES.name,
                    format!(
                        "Expected fail or ignore, got {other:?} (write is not supported: Parquet rows need a value)."
                    ),
                ))
            }
        };
        let partitioner = PartitionerConfig::from_connector_config(config)?;
        let rotation_time = partitioner.rotation_extractor();
        Ok(ParquetSinkConfig {
            store: store_location(config)?,
            topics_dir: TOPICS_DIR.value(config).trim_matches('/').to_owned(),
            file_delim: FILE_DELIM.value(config).to_owned(),
            flush_size,
            file_max_bytes: FILE_MAX_BYTES.int(config, 1024, i64::MAX)? as usize,
            rotate_interval: ROTATE_INTERVAL.millis(config)?,
            rotate_schedule: ROTATE_SCHEDULE.millis(config)?,
            max_open_files: MAX_OPEN_FILES.int(config, 1, 100_000)? as usize,
            buffer_max_bytes: BUFFER_MAX_BYTES.int(config, 1024 * 1024, i64::MAX)? as usize,
            codec,
            codec_extension,
            row_group_rows: ROW_GROUP_ROWS.int(config, 1, i32::MAX as i64)? as usize,
            dictionary: DICTIONARY.boolean(config)?,
            compatibility,
            pad_width: PAD_WIDTH.int(config, 1, 30)? as usize,
            null_values,
            partitioner,
            rotation_time,
        })
    }
}

fn codec(name: &str) -> Option<(Compression, &'static str)> {
    Some(match name.to_ascii_lowercase().as_str() {
        "snappy" => (Compression::SNAPPY, "snappy"),
        "zstd" => (Compression::ZSTD(ZstdLevel::default()), "zstd"),
        "gzip" => (Compression::GZIP(GzipLevel::default()), "gzip"),
        "lz4" => (Compression::LZ4_RAW, "lz4"),
        "none" | "uncompressed" => (Compression::UNCOMPRESSED, ""),
        _ => return None,
    })
}

fn store_location(config: &ConnectorConfig) -> Result<StoreLocation> {
    let url = STORE_URL.value(config);
    if let Some(path) = url.strip_prefix("file://") {
        if !path.starts_with('/') {
            return Err(ConnectError::config(
                STORE_URL.name,
                format!("A local directory needs an absolute path, as file:///data/parquet; got {url:?}."),
            ));
        }
        return Ok(StoreLocation::Local(path.into()));
    }
    if !url.is_empty() && !url.starts_with("http://") && !url.starts_with("https://") {
        return Err(ConnectError::config(
            STORE_URL.name,
            format!("Expected an http(s):// S3 endpoint or a file:/// directory, got {url:?}."),
        ));
    }
    let bucket = BUCKET.value(config);
    if bucket.is_empty() {
        return Err(ConnectError::config(
            BUCKET.name,
            "Missing: name the bucket to write to (or set store.url to a file:/// directory).",
        ));
    }
    let non_empty = |v: &str| (!v.is_empty()).then(|| v.to_owned());
    Ok(StoreLocation::S3 {
        endpoint: non_empty(url.trim_end_matches('/')),
        bucket: bucket.to_owned(),
        region: REGION.value(config).to_owned(),
        access_key: non_empty(ACCESS_KEY.value(config)),
        secret_key: non_empty(SECRET_KEY.value(config)),
        path_style: PATH_STYLE.boolean(config)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> ConnectorConfig {
        pairs.iter().map(|(k, v)| (*k, *v)).collect()
    }

    #[test]
    fn a_confluent_s3_sink_config_parses() {
        let c = ParquetSinkConfig::from_connector_config(&cfg(&[
            ("connector.class", CONFLUENT_S3_CLASS),
            ("format.class", PARQUET_FORMAT),
            ("storage.class", "io.confluent.connect.s3.storage.S3Storage"),
            ("s3.bucket.name", "events"),
            ("store.url", "http://127.0.0.1:8333/"),
            ("flush.size", "1000"),
            ("parquet.codec", "zstd"),
        ]))
        .unwrap();
        assert_eq!(c.flush_size, 1000);
        assert_eq!(c.codec_extension, "zstd");
        assert_eq!(c.topics_dir, "topics");
        assert!(matches!(c.store, StoreLocation::S3 { ref endpoint, ref bucket, path_style: true, .. }
            if endpoint.as_deref() == Some("http://127.0.0.1:8333") && bucket == "events"));
    }

    #[test]
    fn errors_name_the_key() {
        let key = |pairs: &[(&str, &str)]| {
            ParquetSinkConfig::from_connector_config(&cfg(pairs)).unwrap_err().config_key().map(str::to_owned)
        };
        let local = ("store.url", "file:///tmp/x");
        assert_eq!(key(&[local]).as_deref(), Some("flush.size"));
        assert_eq!(key(&[local, ("flush.size", "0")]).as_deref(), Some("flush.size"));
        assert_eq!(key(&[("flush.size", "10")]).as_deref(), Some("s3.bucket.name"));
        assert_eq!(key(&[local, ("flush.size", "10"), ("parquet.codec", "brotli")]).as_deref(), Some("parquet.codec"));
        assert_eq!(key(&[("store.url", "file://rel"), ("flush.size", "10")]).as_deref(), Some("store.url"));
        assert_eq!(
            key(&[
                ("connector.class", CONFLUENT_S3_CLASS),
                ("format.class", "io.confluent.connect.s3.format.avro.AvroFormat"),
                local,
                ("flush.size", "10")
            ])
            .as_deref(),
            Some("format.class")
        );
        assert_eq!(
            key(&[local, ("flush.size", "10"), ("schema.compatibility", "SOMETIMES")]).as_deref(),
            Some("schema.compatibility")
        );
        assert_eq!(
            key(&[local, ("flush.size", "10"), ("partitioner.class", "Nope")]).as_deref(),
            Some("partitioner.class")
        );
    }

    #[test]
    fn every_key_is_documented_once() {
        let def = config_def();
        for key in KEYS {
            assert!(def.key(key.name).is_some(), "{} missing", key.name);
        }
        assert!(def.key("partition.field.name").is_some());
    }
}
