//! Kafka Connect's `errors.*` keys: what a sink task does with a record that fails in a
//! converter, a transform or the sink's `put`.
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `errors.tolerance` | `none` | `none`: the first bad record fails the task. `all`: bad records are skipped (and sent to the DLQ, when one is set). |
//! | `errors.retry.timeout` | `0` | ms to keep retrying a retriable converter/transform failure (`-1`: forever, `0`: no retry). Retriable failures of `put` are always retried. |
//! | `errors.retry.delay.max.ms` | `60000` | cap of the exponential backoff (with jitter) between those retries. |
//! | `errors.log.enable` | `false` | log every tolerated failure. |
//! | `errors.log.include.messages` | `false` | include the record's key, value and headers in that log. |
//! | `errors.deadletterqueue.topic.name` | empty | topic the original bytes of tolerated records go to; empty: none. |
//! | `errors.deadletterqueue.topic.replication.factor` | `3` | replication factor used when Sluice creates the DLQ topic. |
//! | `errors.deadletterqueue.context.headers.enable` | **`true`** | add the `__connect.errors.*` headers. Kafka Connect defaults this to `false`; Sluice turns it on because a DLQ record without its context is hard to act on. |

use std::time::Duration;

use sluice_api::{ConfigDef, ConfigType, ConnectError, ConnectorConfig, Importance, Width};

/// The configuration keys.
pub mod keys {
    pub const TOLERANCE: &str = "errors.tolerance";
    pub const RETRY_TIMEOUT: &str = "errors.retry.timeout";
    pub const RETRY_DELAY_MAX_MS: &str = "errors.retry.delay.max.ms";
    pub const LOG_ENABLE: &str = "errors.log.enable";
    pub const LOG_INCLUDE_MESSAGES: &str = "errors.log.include.messages";
    pub const DLQ_TOPIC_NAME: &str = "errors.deadletterqueue.topic.name";
    pub const DLQ_REPLICATION_FACTOR: &str = "errors.deadletterqueue.topic.replication.factor";
    pub const DLQ_CONTEXT_HEADERS_ENABLE: &str = "errors.deadletterqueue.context.headers.enable";
}

/// Adds the `errors.*` keys, in Kafka Connect's "Error Handling" group, to a config definition.
pub fn define_keys(def: ConfigDef) -> ConfigDef {
    use ConfigType::{Boolean, Int, Long, String as Str};
    use Importance::{Low, Medium};
    const GROUP: &str = "Error Handling";
    def.optional(keys::RETRY_TIMEOUT, Long, "0", Medium, "Accepted for Kafka Connect compatibility (0, a duration in milliseconds, or -1). Sluice does not give up on an outage: retriable failures of the sink's put and of converter lookups (schema registry) are waited out until they succeed, so no record is skipped or dead-lettered because a dependency was down.")
        .in_group(GROUP, Width::Medium, "Retry Timeout for Errors")
        .optional(keys::RETRY_DELAY_MAX_MS, Long, "60000", Medium, "The maximum duration in milliseconds between consecutive retry attempts (exponential backoff with jitter).")
        .in_group(GROUP, Width::Medium, "Maximum Delay Between Retries for Errors")
        .optional(keys::TOLERANCE, Str, "none", Medium, "Behavior for tolerating errors: 'none' fails the task at the first bad record; 'all' skips bad records (logging and dead-lettering them as configured).")
        .in_group(GROUP, Width::Short, "Error Tolerance")
        .optional(keys::LOG_ENABLE, Boolean, "false", Medium, "If true, write each tolerated error with the failed operation and record details to the log.")
        .in_group(GROUP, Width::Short, "Log Errors")
        .optional(keys::LOG_INCLUDE_MESSAGES, Boolean, "false", Medium, "Whether to include the record's key, value and headers in the log of tolerated errors.")
        .in_group(GROUP, Width::Short, "Log Error Details")
        .optional(keys::DLQ_TOPIC_NAME, Str, "", Medium, "The topic tolerated records are written to, with their original bytes; empty disables the dead letter queue. Needs errors.tolerance=all.")
        .in_group(GROUP, Width::Medium, "Dead Letter Queue Topic Name")
        .optional(keys::DLQ_REPLICATION_FACTOR, Int, "3", Low, "Replication factor used to create the dead letter queue topic when it does not exist yet (-1: the broker's default).")
        .in_group(GROUP, Width::Medium, "Dead Letter Queue Topic Replication Factor")
        .optional(keys::DLQ_CONTEXT_HEADERS_ENABLE, Boolean, "true", Medium, "If true, add the __connect.errors.* headers (origin topic, partition, offset, stage, exception) to dead-lettered records. Sluice defaults this to true; Kafka Connect to false.")
        .in_group(GROUP, Width::Medium, "Enable Error Context Headers")
}

/// `errors.tolerance`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tolerance {
    /// The first bad record fails the task.
    None,
    /// Bad records are skipped, logged and dead-lettered as configured.
    All,
}

/// `errors.retry.timeout`, validated and kept for compatibility: outages are always waited
/// out (see `sink_runner`), so no retry ever gives up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryTimeout {
    Never,
    Within(Duration),
    Forever,
}

/// The `errors.*` settings of one task, parsed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorConfig {
    pub tolerance: Tolerance,
    pub retry_timeout: RetryTimeout,
    /// Cap of the delay between retries.
    pub retry_delay_max: Duration,
    /// Log each tolerated failure.
    pub log_enable: bool,
    /// Put the record's content in that log.
    pub log_include_messages: bool,
    /// The dead letter queue topic, if any.
    pub dlq_topic: Option<String>,
    /// Replication factor for creating the DLQ topic (`-1`: the broker's default).
    pub dlq_replication_factor: i32,
    /// Add the `__connect.errors.*` headers to DLQ records.
    pub dlq_context_headers: bool,
}

impl Default for ErrorConfig {
    fn default() -> Self {
        ErrorConfig::parse(&ConnectorConfig::default()).expect("the defaults are valid")
    }
}

impl ErrorConfig {
    /// Parses the `errors.*` keys; a bad value is a `Config` error naming its key.
    pub fn parse(config: &ConnectorConfig) -> Result<Self, ConnectError> {
        let tolerance = match config.string_or(keys::TOLERANCE, "none").trim().to_ascii_lowercase().as_str() {
            "none" => Tolerance::None,
            "all" => Tolerance::All,
            other => {
                return Err(ConnectError::config(
                    keys::TOLERANCE,
                    format!("`{other}` is not a tolerance; use `none` (fail on the first bad record) or `all`."),
                ))
            }
        };
        let retry_timeout = match config.int_or(keys::RETRY_TIMEOUT, 0, -1, i64::MAX)? {
            -1 => RetryTimeout::Forever,
            0 => RetryTimeout::Never,
            ms => RetryTimeout::Within(Duration::from_millis(ms as u64)),
        };
        let retry_delay_max =
            Duration::from_millis(config.int_or(keys::RETRY_DELAY_MAX_MS, 60_000, 1, i64::MAX)? as u64);
        let dlq_topic = config.get(keys::DLQ_TOPIC_NAME).map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned);
        if let Some(topic) = &dlq_topic {
            let valid = topic.len() <= 249 && topic.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
            if !valid || topic == "." || topic == ".." {
                return Err(ConnectError::config(
                    keys::DLQ_TOPIC_NAME,
                    format!("`{topic}` is not a valid Kafka topic name (letters, digits, '.', '_', '-'; at most 249)."),
                ));
            }
            if config.list("topics").iter().any(|t| t == topic) {
                return Err(ConnectError::config(
                    keys::DLQ_TOPIC_NAME,
                    format!(
                        "The dead letter queue topic `{topic}` is also one of the connector's topics; use another."
                    ),
                ));
            }
        }
        let rf = config.int_or(keys::DLQ_REPLICATION_FACTOR, 3, -1, i16::MAX as i64)?;
        if rf == 0 {
            return Err(ConnectError::config(
                keys::DLQ_REPLICATION_FACTOR,
                "Must be a positive number, or -1 for the broker's default.",
            ));
        }
        Ok(ErrorConfig {
            tolerance,
            retry_timeout,
            retry_delay_max,
            log_enable: config.bool_or(keys::LOG_ENABLE, false)?,
            log_include_messages: config.bool_or(keys::LOG_INCLUDE_MESSAGES, false)?,
            dlq_topic,
            dlq_replication_factor: rf as i32,
            dlq_context_headers: config.bool_or(keys::DLQ_CONTEXT_HEADERS_ENABLE, true)?,
        })
    }

    /// Whether bad records are skipped rather than failing the task.
    pub fn tolerates(&self) -> bool {
        self.tolerance == Tolerance::All
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<ErrorConfig, ConnectError> {
        ErrorConfig::parse(&pairs.iter().copied().collect())
    }

    #[test]
    fn defaults_match_kafka_connect_except_context_headers() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.tolerance, Tolerance::None);
        assert_eq!(c.retry_timeout, RetryTimeout::Never);
        assert_eq!(c.retry_delay_max, Duration::from_secs(60));
        assert!(!c.log_enable && !c.log_include_messages);
        assert_eq!(c.dlq_topic, None);
        assert_eq!(c.dlq_replication_factor, 3);
        assert!(c.dlq_context_headers, "Sluice turns the context headers on by default");
        assert_eq!(c, ErrorConfig::default());
    }

    #[test]
    fn every_key_is_parsed() {
        let c = parse(&[
            ("errors.tolerance", "ALL"),
            ("errors.retry.timeout", "-1"),
            ("errors.retry.delay.max.ms", "500"),
            ("errors.log.enable", "true"),
            ("errors.log.include.messages", "true"),
            ("errors.deadletterqueue.topic.name", "dlq-orders"),
            ("errors.deadletterqueue.topic.replication.factor", "1"),
            ("errors.deadletterqueue.context.headers.enable", "false"),
        ])
        .unwrap();
        assert!(c.tolerates());
        assert_eq!(c.retry_timeout, RetryTimeout::Forever);
        assert_eq!(c.retry_delay_max, Duration::from_millis(500));
        assert!(c.log_enable && c.log_include_messages && !c.dlq_context_headers);
        assert_eq!(c.dlq_topic.as_deref(), Some("dlq-orders"));
        assert_eq!(c.dlq_replication_factor, 1);
        assert_eq!(
            parse(&[("errors.retry.timeout", "1500")]).unwrap().retry_timeout,
            RetryTimeout::Within(Duration::from_millis(1500))
        );
    }

    #[test]
    fn bad_values_name_their_key() {
        for (key, value) in [
            (keys::TOLERANCE, "some"),
            (keys::RETRY_TIMEOUT, "-2"),
            (keys::RETRY_TIMEOUT, "soon"),
            (keys::RETRY_DELAY_MAX_MS, "0"),
            (keys::LOG_ENABLE, "yes please"),
            (keys::LOG_INCLUDE_MESSAGES, "2"),
            (keys::DLQ_TOPIC_NAME, "bad topic!"),
            (keys::DLQ_REPLICATION_FACTOR, "0"),
            (keys::DLQ_CONTEXT_HEADERS_ENABLE, "maybe"),
        ] {
            let err = parse(&[(key, value)]).unwrap_err();
            assert_eq!(err.config_key(), Some(key), "{key}={value}: {err}");
        }
        let err = parse(&[("topics", "a,b"), (keys::DLQ_TOPIC_NAME, "b")]).unwrap_err();
        assert_eq!(err.config_key(), Some(keys::DLQ_TOPIC_NAME));
    }
}
