//! The one error type plugins return.
//!
//! Whether a failure is worth retrying is carried by the variant, so the runtime decides
//! what to do by matching on data, never by reading messages.

use thiserror::Error;

pub type Result<T, E = ConnectError> = std::result::Result<T, E>;

/// An error from a connector, task, converter or transform.
#[derive(Debug, Error)]
pub enum ConnectError {
    /// A configuration key is missing or has a bad value. Fix the config and resubmit.
    #[error("Invalid value for configuration `{key}`: {message}")]
    Config { key: String, message: String },

    /// One record cannot be handled (bad bytes, a value that does not fit its column). Retrying
    /// will not help; error tolerance decides whether it is skipped or fails the task.
    #[error("{message}")]
    Data { message: String },

    /// An outside system is unavailable or overloaded; the same call may succeed later.
    #[error("{message} (retriable)")]
    Retriable { message: String },

    /// The task cannot go on (for example, its target table does not exist).
    #[error("{message}")]
    Fatal { message: String },

    /// Returned by `SinkTask::put` when some records of the batch failed and every other record
    /// was written: each failure names the record by its index in the batch handed to `put`.
    /// The runtime applies error tolerance to each (dead letter queue or task failure).
    #[error("{} record(s) of the batch failed; the first: {}", failures.len(), first_failure(failures))]
    Records { failures: Vec<(usize, ConnectError)> },

    /// Returned by `SinkTask::put` of a task that takes values undecoded, as JSON text
    /// ([`crate::SinkTask::reads_json_values`]) or datums ([`crate::SinkTask::reads_datums`]),
    /// when some of them do not decode (text that is not valid JSON, a datum its converter
    /// refuses): those records, by index in the batch. Nothing of the batch was written. The
    /// runtime fails them in the VALUE_CONVERTER stage, with the converter's own error, and
    /// hands the rest of the batch to `put` again.
    #[error("{} record(s) of the batch have values that do not decode", records.len())]
    Undecodable { records: Vec<usize> },
}

fn first_failure(failures: &[(usize, ConnectError)]) -> String {
    failures.first().map_or_else(String::new, |(i, e)| format!("record #{i}: {e}"))
}

impl ConnectError {
    pub fn config(key: impl Into<String>, message: impl Into<String>) -> Self {
        ConnectError::Config { key: key.into(), message: message.into() }
    }

    pub fn data(message: impl Into<String>) -> Self {
        ConnectError::Data { message: message.into() }
    }

    pub fn retriable(message: impl Into<String>) -> Self {
        ConnectError::Retriable { message: message.into() }
    }

    pub fn fatal(message: impl Into<String>) -> Self {
        ConnectError::Fatal { message: message.into() }
    }

    /// A `Records` error for the given `(index in batch, error)` pairs.
    pub fn records(failures: Vec<(usize, ConnectError)>) -> Self {
        ConnectError::Records { failures }
    }

    /// Whether the same operation may succeed if tried again later.
    pub fn is_retriable(&self) -> bool {
        matches!(self, ConnectError::Retriable { .. })
    }

    /// The configuration key at fault, for `Config` errors.
    pub fn config_key(&self) -> Option<&str> {
        match self {
            ConnectError::Config { key, .. } => Some(key),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_errors_name_the_key() {
        let e = ConnectError::config("topics", "must not be empty");
        assert_eq!(e.config_key(), Some("topics"));
        assert_eq!(e.to_string(), "Invalid value for configuration `topics`: must not be empty");
        assert!(!e.is_retriable());
        assert!(ConnectError::retriable("ClickHouse is unavailable").is_retriable());
    }

    #[test]
    fn record_failures_name_the_first_one() {
        let e = ConnectError::records(vec![(3, ConnectError::data("bad")), (7, ConnectError::data("worse"))]);
        assert_eq!(e.to_string(), "2 record(s) of the batch failed; the first: record #3: bad");
        assert!(!e.is_retriable());
    }
}
