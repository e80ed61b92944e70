//! The registry keys of Confluent's converters (`value.converter.schema.registry.url`, …).

use std::time::Duration;

use sluice_api::{ConnectError, ConnectorConfig, Result};

/// Config keys, as Confluent's converters spell them.
pub mod keys {
    pub const URL: &str = "schema.registry.url";
    pub const BASIC_AUTH_SOURCE: &str = "basic.auth.credentials.source";
    pub const BASIC_AUTH_USER_INFO: &str = "basic.auth.user.info";
    pub const BEARER_AUTH_SOURCE: &str = "bearer.auth.credentials.source";
    pub const BEARER_AUTH_TOKEN: &str = "bearer.auth.token";
    pub const TRUSTSTORE_LOCATION: &str = "schema.registry.ssl.truststore.location";
    pub const TRUSTSTORE_TYPE: &str = "schema.registry.ssl.truststore.type";
    pub const TRUSTSTORE_CERTIFICATES: &str = "schema.registry.ssl.truststore.certificates";
    pub const ENDPOINT_IDENTIFICATION: &str = "schema.registry.ssl.endpoint.identification.algorithm";
    pub const KEY_SUBJECT_NAME_STRATEGY: &str = "key.subject.name.strategy";
    pub const VALUE_SUBJECT_NAME_STRATEGY: &str = "value.subject.name.strategy";
    pub const READ_TIMEOUT_MS: &str = "http.read.timeout.ms";
}

/// How credentials reach the registry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RegistryAuth {
    None,
    Basic { user: String, password: Option<String> },
    Bearer(String),
}

/// How the subject of a schema is named (Confluent's `*.subject.name.strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubjectNameStrategy {
    /// `<topic>-key` / `<topic>-value` (the default).
    TopicName,
    /// The record's fully qualified name.
    RecordName,
    /// `<topic>-<fully qualified record name>`.
    TopicRecordName,
}

impl SubjectNameStrategy {
    fn parse(key: &str, class: &str) -> Result<Self> {
        match class.rsplit('.').next().unwrap_or(class) {
            "TopicNameStrategy" => Ok(SubjectNameStrategy::TopicName),
            "RecordNameStrategy" => Ok(SubjectNameStrategy::RecordName),
            "TopicRecordNameStrategy" => Ok(SubjectNameStrategy::TopicRecordName),
            _ => Err(ConnectError::config(
                key,
                format!(
                    "Unknown subject name strategy {class:?}; use io.confluent.kafka.serializers.subject.\
                     TopicNameStrategy, RecordNameStrategy or TopicRecordNameStrategy."
                ),
            )),
        }
    }

    /// The subject a schema named `record_name` is registered under for `topic`.
    pub fn subject(self, topic: &str, is_key: bool, record_name: Option<&str>) -> Option<String> {
        match self {
            SubjectNameStrategy::TopicName => Some(format!("{topic}-{}", if is_key { "key" } else { "value" })),
            SubjectNameStrategy::RecordName => record_name.map(str::to_owned),
            SubjectNameStrategy::TopicRecordName => record_name.map(|r| format!("{topic}-{r}")),
        }
    }
}

/// Everything needed to talk to one registry. Equal configs share one client and cache.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RegistryConfig {
    /// Tried in order until one answers.
    pub urls: Vec<String>,
    pub auth: RegistryAuth,
    /// PEM certificates trusted in addition to the system's.
    pub trusted_pem: Option<String>,
    /// `false` when `schema.registry.ssl.endpoint.identification.algorithm` is empty.
    pub verify_hostname: bool,
    pub timeout: Duration,
    /// The strategy of the side (key or value) this converter decodes.
    pub subject_name_strategy: SubjectNameStrategy,
}

impl RegistryConfig {
    /// Reads the converter's keys (already stripped of `key.converter.` / `value.converter.`).
    pub fn from_config(config: &ConnectorConfig, is_key: bool) -> Result<Self> {
        let urls: Vec<String> = config
            .required(keys::URL)
            .map_err(|_| {
                ConnectError::config(
                    keys::URL,
                    "Missing: set the schema registry's URL (several may be given, comma-separated), \
                     for example value.converter.schema.registry.url=http://localhost:8081.",
                )
            })?
            .split(',')
            .map(|u| u.trim().trim_end_matches('/').to_owned())
            .filter(|u| !u.is_empty())
            .collect();
        if urls.is_empty() {
            return Err(ConnectError::config(keys::URL, "No URL given."));
        }
        for url in &urls {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConnectError::config(keys::URL, format!("{url:?} is not an http:// or https:// URL.")));
            }
        }

        let mut auth = RegistryAuth::None;
        let mut urls_without_credentials = Vec::with_capacity(urls.len());
        let basic_source = config.string_or(keys::BASIC_AUTH_SOURCE, "URL").to_ascii_uppercase();
        for url in urls {
            let (clean, credentials) = split_url_credentials(&url);
            if basic_source == "URL" {
                if let Some((user, password)) = credentials {
                    auth = RegistryAuth::Basic { user, password };
                }
            }
            urls_without_credentials.push(clean);
        }
        match basic_source.as_str() {
            "URL" => {}
            "USER_INFO" => {
                let info = config.get(keys::BASIC_AUTH_USER_INFO).filter(|s| !s.is_empty()).ok_or_else(|| {
                    ConnectError::config(
                        keys::BASIC_AUTH_USER_INFO,
                        "Missing: basic.auth.credentials.source=USER_INFO needs basic.auth.user.info=<user>:<password>.",
                    )
                })?;
                let (user, password) = match info.split_once(':') {
                    Some((u, p)) => (u.to_owned(), Some(p.to_owned())),
                    None => (info.to_owned(), None),
                };
                auth = RegistryAuth::Basic { user, password };
            }
            other => {
                return Err(ConnectError::config(
                    keys::BASIC_AUTH_SOURCE,
                    format!("{other:?} is not supported; use URL (credentials in the URL) or USER_INFO."),
                ))
            }
        }
        if let Some(source) = config.get(keys::BEARER_AUTH_SOURCE) {
            if !source.eq_ignore_ascii_case("STATIC_TOKEN") {
                return Err(ConnectError::config(
                    keys::BEARER_AUTH_SOURCE,
                    format!("{source:?} is not supported; use STATIC_TOKEN with bearer.auth.token."),
                ));
            }
            let token = config.get(keys::BEARER_AUTH_TOKEN).filter(|t| !t.is_empty()).ok_or_else(|| {
                ConnectError::config(
                    keys::BEARER_AUTH_TOKEN,
                    "Missing: bearer.auth.credentials.source=STATIC_TOKEN needs it.",
                )
            })?;
            auth = RegistryAuth::Bearer(token.to_owned());
        }

        let trusted_pem = match (config.get(keys::TRUSTSTORE_CERTIFICATES), config.get(keys::TRUSTSTORE_LOCATION)) {
            (Some(inline), _) if !inline.is_empty() => Some(inline.to_owned()),
            (_, Some(path)) if !path.is_empty() => {
                let kind = config.string_or(keys::TRUSTSTORE_TYPE, "PEM");
                if !kind.eq_ignore_ascii_case("PEM") {
                    return Err(ConnectError::config(
                        keys::TRUSTSTORE_TYPE,
                        format!(
                            "{kind:?} truststores are not supported; export the CA certificates to a PEM file \
                             (keytool -exportcert -rfc) and set schema.registry.ssl.truststore.type=PEM."
                        ),
                    ));
                }
                Some(std::fs::read_to_string(path).map_err(|e| {
                    ConnectError::config(keys::TRUSTSTORE_LOCATION, format!("Cannot read {path:?}: {e}"))
                })?)
            }
            _ => None,
        };
        let verify_hostname = config.get(keys::ENDPOINT_IDENTIFICATION).is_none_or(|v| !v.is_empty());
        let timeout = Duration::from_millis(config.int_or(keys::READ_TIMEOUT_MS, 10_000, 1, i32::MAX as i64)? as u64);
        let strategy_key = if is_key { keys::KEY_SUBJECT_NAME_STRATEGY } else { keys::VALUE_SUBJECT_NAME_STRATEGY };
        let subject_name_strategy = match config.get(strategy_key) {
            Some(class) => SubjectNameStrategy::parse(strategy_key, class)?,
            None => SubjectNameStrategy::TopicName,
        };
        Ok(RegistryConfig {
            urls: urls_without_credentials,
            auth,
            trusted_pem,
            verify_hostname,
            timeout,
            subject_name_strategy,
        })
    }
}

/// `http://user:pass@host:8081` → (`http://host:8081`, `Some(("user", Some("pass")))`).
fn split_url_credentials(url: &str) -> (String, Option<(String, Option<String>)>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_owned(), None);
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((userinfo, host)) => {
            let credentials = match userinfo.split_once(':') {
                Some((u, p)) => (u.to_owned(), Some(p.to_owned())),
                None => (userinfo.to_owned(), None),
            };
            (format!("{scheme}://{host}{}", &rest[authority_end..]), Some(credentials))
        }
        None => (url.to_owned(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> ConnectorConfig {
        ConnectorConfig::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn several_urls_and_url_credentials() {
        let c =
            RegistryConfig::from_config(&config(&[(keys::URL, "http://u:p@a:8081/, http://b:8081")]), false).unwrap();
        assert_eq!(c.urls, ["http://a:8081", "http://b:8081"]);
        assert_eq!(c.auth, RegistryAuth::Basic { user: "u".into(), password: Some("p".into()) });
        assert_eq!(c.subject_name_strategy, SubjectNameStrategy::TopicName);
    }

    #[test]
    fn user_info_auth_and_strategies() {
        let c = RegistryConfig::from_config(
            &config(&[
                (keys::URL, "http://a:8081"),
                (keys::BASIC_AUTH_SOURCE, "USER_INFO"),
                (keys::BASIC_AUTH_USER_INFO, "alice:s3cret"),
                (keys::KEY_SUBJECT_NAME_STRATEGY, "io.confluent.kafka.serializers.subject.RecordNameStrategy"),
            ]),
            true,
        )
        .unwrap();
        assert_eq!(c.auth, RegistryAuth::Basic { user: "alice".into(), password: Some("s3cret".into()) });
        assert_eq!(c.subject_name_strategy, SubjectNameStrategy::RecordName);
        assert_eq!(
            c.subject_name_strategy.subject("t", true, Some("com.acme.Order")).as_deref(),
            Some("com.acme.Order")
        );
        assert_eq!(SubjectNameStrategy::TopicRecordName.subject("t", false, Some("a.B")).as_deref(), Some("t-a.B"));
        assert_eq!(SubjectNameStrategy::TopicName.subject("t", false, None).as_deref(), Some("t-value"));
    }

    #[test]
    fn bad_values_name_their_key() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[], keys::URL),
            (&[(keys::URL, "localhost:8081")], keys::URL),
            (&[(keys::URL, "http://a"), (keys::BASIC_AUTH_SOURCE, "USER_INFO")], keys::BASIC_AUTH_USER_INFO),
            (&[(keys::URL, "http://a"), (keys::BASIC_AUTH_SOURCE, "SASL_INHERIT")], keys::BASIC_AUTH_SOURCE),
            (
                &[(keys::URL, "http://a"), (keys::VALUE_SUBJECT_NAME_STRATEGY, "Nope")],
                keys::VALUE_SUBJECT_NAME_STRATEGY,
            ),
            (
                &[(keys::URL, "https://a"), (keys::TRUSTSTORE_LOCATION, "/x.jks"), (keys::TRUSTSTORE_TYPE, "JKS")],
                keys::TRUSTSTORE_TYPE,
            ),
            (&[(keys::URL, "https://a"), (keys::TRUSTSTORE_LOCATION, "/no/such.pem")], keys::TRUSTSTORE_LOCATION),
        ];
        for (pairs, key) in cases {
            let err = RegistryConfig::from_config(&config(pairs), false).unwrap_err();
            assert_eq!(err.config_key(), Some(*key), "{pairs:?}: {err}");
        }
    }
}
