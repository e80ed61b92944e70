//! The topic routers: `RegexRouter` (`regex`, `replacement`) renames topics that match the regex
//! in full, with Java's replacement syntax (`$1`, `${name}`, `\$`); `TimestampRouter`
//! (`topic.format`, `timestamp.format`) renames to e.g. `${topic}-${timestamp}` with the
//! record timestamp formatted by a `SimpleDateFormat` pattern in UTC.

use std::collections::HashSet;
use std::sync::Arc;

use regex::Regex;
use sluice_api::{ConnectError, ConnectorConfig, Result, SinkRecord, Transform};

use crate::date_format::JavaDateFormat;
use crate::util::{self, full_match_regex};

/// `RegexRouter`.
pub struct RegexRouter {
    regex: Regex,
    /// The replacement in the regex crate's syntax (`${1}`, `$$`).
    replacement: String,
}

impl RegexRouter {
    pub fn new(config: &ConnectorConfig) -> Result<Self> {
        let regex = full_match_regex("regex", config.required("regex")?)?;
        let replacement = translate_replacement(util::present(config, "replacement")?, &regex)
            .map_err(|m| ConnectError::config("replacement", m))?;
        Ok(RegexRouter { regex, replacement })
    }
}

impl Transform for RegexRouter {
    fn apply(&self, mut record: SinkRecord) -> Result<Option<SinkRecord>> {
        if let Some(caps) = self.regex.captures(&record.topic) {
            let mut topic = String::new();
            caps.expand(&self.replacement, &mut topic);
            record.topic = Arc::from(topic);
        }
        Ok(Some(record))
    }
}

fn push_literal(out: &mut String, c: char) {
    if c == '$' {
        out.push_str("$$");
    } else {
        out.push(c);
    }
}

/// Translates Java's `Matcher.replaceFirst` syntax into the regex crate's. Java reads `$12` as
/// group 12 only when that group exists (else group 1 then a literal `2`); a reference to a
/// group that does not exist fails here, at configuration time, not on the first record.
pub fn translate_replacement(replacement: &str, regex: &Regex) -> std::result::Result<String, String> {
    let groups = regex.captures_len() - 1;
    let names: HashSet<&str> = regex.capture_names().flatten().collect();
    let chars: Vec<char> = replacement.chars().collect();
    let mut out = String::with_capacity(replacement.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                let c = chars.get(i + 1).ok_or("Character to be escaped is missing at the end of the replacement.")?;
                push_literal(&mut out, *c);
                i += 2;
            }
            '$' => match chars.get(i + 1) {
                Some('{') => {
                    let close = chars[i + 2..]
                        .iter()
                        .position(|&c| c == '}')
                        .ok_or("Named capturing group is missing trailing '}'.")?;
                    let name: String = chars[i + 2..i + 2 + close].iter().collect();
                    if !name.starts_with(|c: char| c.is_ascii_alphabetic())
                        || !name.chars().all(|c| c.is_ascii_alphanumeric())
                    {
                        return Err(format!("Named capturing group ${{{name}}} has an invalid name."));
                    }
                    if !names.contains(name.as_str()) {
                        return Err(format!("No group with name {{{name}}} in the regex."));
                    }
                    out.push_str(&format!("${{{name}}}"));
                    i += close + 3;
                }
                Some(d) if d.is_ascii_digit() => {
                    let mut group = d.to_digit(10).unwrap_or(0) as usize;
                    if group > groups {
                        return Err(format!("No group {group} in the regex (it has {groups})."));
                    }
                    i += 2;
                    while let Some(next) = chars.get(i).and_then(|c| c.to_digit(10)) {
                        let candidate = group * 10 + next as usize;
                        if candidate > groups {
                            break;
                        }
                        group = candidate;
                        i += 1;
                    }
                    out.push_str(&format!("${{{group}}}"));
                }
                _ => return Err("Illegal group reference: write $n, ${name}, or \\$ for a literal dollar sign.".into()),
            },
            c => {
                push_literal(&mut out, c);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// `TimestampRouter`.
pub struct TimestampRouter {
    topic_format: String,
    timestamp_format: JavaDateFormat,
}

impl TimestampRouter {
    pub fn new(config: &ConnectorConfig) -> Result<Self> {
        let pattern = config.string_or("timestamp.format", "yyyyMMdd");
        Ok(TimestampRouter {
            topic_format: config.string_or("topic.format", "${topic}-${timestamp}").to_owned(),
            timestamp_format: JavaDateFormat::new(pattern).map_err(|m| ConnectError::config("timestamp.format", m))?,
        })
    }
}

impl Transform for TimestampRouter {
    fn apply(&self, mut record: SinkRecord) -> Result<Option<SinkRecord>> {
        let ts = record.timestamp.ok_or_else(|| {
            ConnectError::data(format!("Timestamp missing on record {}@{}.", record.topic_partition(), record.offset))
        })?;
        let formatted = self.timestamp_format.format_millis(ts).map_err(ConnectError::data)?;
        let topic = self.topic_format.replace("${topic}", &record.topic).replace("${timestamp}", &formatted);
        record.topic = Arc::from(topic);
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::*;
    use sluice_api::Value;

    fn route(regex: &str, replacement: &str, topic: &str) -> String {
        let router = RegexRouter::new(&cfg(&[("regex", regex), ("replacement", replacement)])).unwrap();
        let mut r = value_record(None, Value::Null);
        r.topic = Arc::from(topic);
        router.apply(r).unwrap().unwrap().topic.to_string()
    }

    #[test]
    fn regex_router_cases_from_kafka() {
        assert_eq!(route("foo", "bar", "foo"), "bar");
        assert_eq!(route("foo", "bar", "orig"), "orig");
        assert_eq!(route("(.*)", "$1", "orig"), "orig");
        assert_eq!(route("(.*)", "prefix-$1", "orig"), "prefix-orig");
        assert_eq!(route("(.*)", "$1-suffix", "orig"), "orig-suffix");
        assert_eq!(route(r"(.*)-(\d\d\d\d\d\d\d\d)", "$1", "index-20160117"), "index");
    }

    #[test]
    fn regex_router_needs_a_full_match() {
        assert_eq!(route("foo", "bar", "foobar"), "foobar");
        assert_eq!(route("a|ab", "x", "ab"), "x");
    }

    #[test]
    fn java_replacement_syntax() {
        assert_eq!(route("(a)(b)", "$2$1", "ab"), "ba");
        assert_eq!(route("(a)(b)", "$12", "ab"), "a2");
        assert_eq!(route("(?<first>a)b", "${first}-x", "ab"), "a-x");
        assert_eq!(route("(a)b", r"\$1-$0", "ab"), "$1-ab");
        assert_eq!(route("(a)(b)?", "[$2]", "a"), "[]");
        assert_eq!(route("(?:x)?(.*)", "$1_suffix", "topic"), "topic_suffix");
    }

    #[test]
    fn regex_router_config_errors() {
        for (regex, replacement, key) in [
            ("(", "x", "regex"),
            ("(a)", "$2", "replacement"),
            ("(a)", "$x", "replacement"),
            ("(a)", "${nope}", "replacement"),
            ("(a)", "trailing\\", "replacement"),
        ] {
            let err = RegexRouter::new(&cfg(&[("regex", regex), ("replacement", replacement)])).err().unwrap();
            assert_eq!(err.config_key(), Some(key), "{regex} {replacement}");
        }
        assert_eq!(RegexRouter::new(&cfg(&[("regex", "a")])).err().unwrap().config_key(), Some("replacement"));
    }

    #[test]
    fn timestamp_router_default_configuration() {
        let t = TimestampRouter::new(&cfg(&[])).unwrap();
        let mut r = value_record(None, Value::Null);
        r.timestamp = Some(1_483_425_001_864);
        assert_eq!(t.apply(r.clone()).unwrap().unwrap().topic.as_ref(), "test-20170103");

        let custom = TimestampRouter::new(&cfg(&[
            ("topic.format", "${timestamp}_${topic}_${topic}"),
            ("timestamp.format", "yyyy-MM"),
        ]))
        .unwrap();
        assert_eq!(custom.apply(r).unwrap().unwrap().topic.as_ref(), "2017-01_test_test");
    }

    #[test]
    fn timestamp_router_failures() {
        let t = TimestampRouter::new(&cfg(&[])).unwrap();
        let err = t.apply(value_record(None, Value::Null)).unwrap_err();
        assert!(matches!(err, ConnectError::Data { .. }));
        let err = TimestampRouter::new(&cfg(&[("timestamp.format", "bad-format")])).err().unwrap();
        assert_eq!(err.config_key(), Some("timestamp.format"));
    }
}
