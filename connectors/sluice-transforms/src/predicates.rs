//! Kafka's predicates, which decide whether a transform applies to a record:
//! `HasHeaderKey` (`name`), `RecordIsTombstone` (null value) and `TopicNameMatches`
//! (`pattern`, a regex the whole topic name must match).

use regex::Regex;
use sluice_api::{ConnectError, ConnectorConfig, Predicate, Result, SinkRecord};

use crate::util::full_match_regex;

/// True for records with at least one header called `name`.
pub struct HasHeaderKey {
    name: String,
}

impl HasHeaderKey {
    pub fn new(config: &ConnectorConfig) -> Result<Self> {
        match config.get("name") {
            Some(name) if !name.is_empty() => Ok(HasHeaderKey { name: name.to_owned() }),
            _ => Err(ConnectError::config("name", "String must be non-empty; set the header name to look for.")),
        }
    }
}

impl Predicate for HasHeaderKey {
    fn test(&self, record: &SinkRecord) -> bool {
        record.headers.iter().any(|h| h.key == self.name)
    }
}

/// True for tombstones: records whose value is null.
pub struct RecordIsTombstone;

impl RecordIsTombstone {
    pub fn new(_config: &ConnectorConfig) -> Result<Self> {
        Ok(RecordIsTombstone)
    }
}

impl Predicate for RecordIsTombstone {
    fn test(&self, record: &SinkRecord) -> bool {
        record.value.is_null()
    }
}

/// True for records whose whole topic name matches `pattern`.
pub struct TopicNameMatches {
    pattern: Regex,
}

impl TopicNameMatches {
    pub fn new(config: &ConnectorConfig) -> Result<Self> {
        let pattern = match config.get("pattern") {
            Some(p) if !p.is_empty() => p,
            _ => return Err(ConnectError::config("pattern", "String must be non-empty; set a regex for topic names.")),
        };
        Ok(TopicNameMatches { pattern: full_match_regex("pattern", pattern)? })
    }
}

impl Predicate for TopicNameMatches {
    fn test(&self, record: &SinkRecord) -> bool {
        self.pattern.is_match(&record.topic)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::test_support::*;
    use sluice_api::{Header, Value};

    fn with_headers(headers: Vec<Header>) -> SinkRecord {
        let mut r = value_record(None, Value::from("v"));
        r.headers = headers;
        r
    }

    #[test]
    fn has_header_key() {
        let p = HasHeaderKey::new(&cfg(&[("name", "foo")])).unwrap();
        assert!(!p.test(&with_headers(vec![])));
        assert!(!p.test(&with_headers(vec![header("bar", "x")])));
        assert!(p.test(&with_headers(vec![header("foo", "x")])));
        assert!(p.test(&with_headers(vec![header("bar", "x"), header("foo", "y"), header("foo", "z")])));
        assert!(p.test(&with_headers(vec![Header { key: "foo".into(), value: None }])));
        for bad in [cfg(&[]), cfg(&[("name", "")])] {
            assert_eq!(HasHeaderKey::new(&bad).err().unwrap().config_key(), Some("name"));
        }
    }

    #[test]
    fn record_is_tombstone() {
        let p = RecordIsTombstone::new(&cfg(&[])).unwrap();
        assert!(p.test(&value_record(None, Value::Null)));
        assert!(!p.test(&value_record(None, Value::from(""))));
        assert!(p.test(&record(None, Value::from("key"), None, Value::Null)));
    }

    #[test]
    fn topic_name_matches_whole_names() {
        let p = TopicNameMatches::new(&cfg(&[("pattern", "my-prefix-.*")])).unwrap();
        let on = |topic: &str| {
            let mut r = value_record(None, Value::Null);
            r.topic = Arc::from(topic);
            p.test(&r)
        };
        assert!(on("my-prefix-"));
        assert!(on("my-prefix-foo"));
        assert!(!on("x-my-prefix-"));
        assert!(!on("x-my-prefix-foo"));
        assert!(!on("your-prefix-"));
        assert!(!on(""));
        let alternation = TopicNameMatches::new(&cfg(&[("pattern", "a|ab")])).unwrap();
        let mut r = value_record(None, Value::Null);
        r.topic = Arc::from("ab");
        assert!(alternation.test(&r));
    }

    #[test]
    fn topic_name_matches_config_errors() {
        for bad in [cfg(&[]), cfg(&[("pattern", "")]), cfg(&[("pattern", "[")]), cfg(&[("pattern", "*")])] {
            assert_eq!(TopicNameMatches::new(&bad).err().unwrap().config_key(), Some("pattern"));
        }
    }
}
