//! Which configuration values are secrets, and how they are kept out of sight.
//!
//! One rule, used by the REST API, the logs and config validation alike: a key is a password
//! when a plugin's [`ConfigDef`] declares it [`ConfigType::Password`], or when its name says so
//! ([`is_password_key`]: `password`, `*.password`, `aws.secret.access.key`,
//! `basic.auth.user.info`, `sasl.jaas.config`, …). Such values are shown as [`HIDDEN`]; a config
//! sent back with [`HIDDEN`] keeps the value stored before ([`restore_hidden`]), so a
//! GET-edit-PUT round trip never overwrites a secret. A value that is a config provider
//! reference (`${env:CH_PASSWORD}`) is not a secret and is shown as it is.

use std::collections::BTreeMap;

use crate::config::{ConfigDef, ConfigType};
use crate::error::ConnectError;

/// What a secret value is shown as (Kafka Connect's word).
pub const HIDDEN: &str = "[hidden]";

/// Last name segments that mark a key as a secret, wherever it is prefixed
/// (`consumer.override.sasl.jaas.config`, `value.converter.basic.auth.user.info`, …).
const SECRET_NAMES: &[&str] = &[
    "password",
    "secret",
    "secret.key",
    "secret.access.key",
    "basic.auth.user.info",
    "user.info",
    "sasl.jaas.config",
    "bearer.auth.token",
    "auth.token",
    "ssl.keystore.key",
    "ssl.key.pem",
];

/// Whether the key's name alone marks it as a password (see the module docs).
pub fn is_password_key(key: &str) -> bool {
    let key = key.trim().to_ascii_lowercase();
    SECRET_NAMES.iter().any(|name| key == *name || key.strip_suffix(name).is_some_and(|head| head.ends_with('.')))
}

/// Whether `key` is a password by its name or by `def` (a plugin's declared keys).
pub fn is_password(key: &str, def: Option<&ConfigDef>) -> bool {
    is_password_key(key) || def.and_then(|d| d.key(key)).is_some_and(|k| k.config_type == ConfigType::Password)
}

/// Whether the whole value is one config provider reference, `${provider:[path:]key}`.
pub fn is_reference(value: &str) -> bool {
    let v = value.trim();
    v.starts_with("${") && v.ends_with('}') && v[2..v.len() - 1].contains(':') && !v[2..v.len() - 1].contains('}')
}

/// The config with every password value (that is not a provider reference) replaced by
/// [`HIDDEN`]; `is_password` decides which keys are passwords.
pub fn hide(config: &BTreeMap<String, String>, is_password: impl Fn(&str) -> bool) -> BTreeMap<String, String> {
    config
        .iter()
        .map(|(k, v)| {
            let shown = if is_password(k) && !is_reference(v) { HIDDEN.to_owned() } else { v.clone() };
            (k.clone(), shown)
        })
        .collect()
}

/// Puts the stored value back wherever `config` says [`HIDDEN`], so a config read from the
/// REST API (secrets hidden) and sent back unchanged keeps its secrets. A [`HIDDEN`] value with
/// nothing stored for its key is refused, naming the key.
pub fn restore_hidden(
    mut config: BTreeMap<String, String>,
    stored: Option<&BTreeMap<String, String>>,
) -> Result<BTreeMap<String, String>, Vec<ConnectError>> {
    let mut errors = Vec::new();
    for (key, value) in config.iter_mut() {
        if value.trim() != HIDDEN {
            continue;
        }
        match stored.and_then(|s| s.get(key)) {
            Some(previous) => value.clone_from(previous),
            None => errors.push(ConnectError::config(
                key.clone(),
                format!(
                    "The value {HIDDEN} keeps a stored secret, but none is stored for this key; send the real value."
                ),
            )),
        }
    }
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Importance;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn password_keys_are_known_by_name() {
        for key in [
            "password",
            "connection.password",
            "ssl.key.password",
            "consumer.override.ssl.keystore.password",
            "aws.secret.access.key",
            "basic.auth.user.info",
            "value.converter.basic.auth.user.info",
            "sasl.jaas.config",
            "consumer.override.sasl.jaas.config",
            "Password",
        ] {
            assert!(is_password_key(key), "{key}");
        }
        for key in ["username", "passwords.enabled", "hostname", "aws.access.key.id", "database", "mypassword"] {
            assert!(!is_password_key(key), "{key}");
        }
    }

    #[test]
    fn password_keys_are_known_from_the_config_def() {
        let def = ConfigDef::new()
            .optional("api.credential", ConfigType::Password, "", Importance::High, "x")
            .optional("port", ConfigType::Int, "1", Importance::High, "x");
        assert!(is_password("api.credential", Some(&def)));
        assert!(!is_password("port", Some(&def)));
        assert!(!is_password("api.credential", None));
    }

    #[test]
    fn hide_masks_passwords_but_not_references() {
        let config = map(&[("password", "s3cr3t"), ("ssl.key.password", "${env:KEY_PW}"), ("database", "db")]);
        let shown = hide(&config, is_password_key);
        assert_eq!(shown, map(&[("password", HIDDEN), ("ssl.key.password", "${env:KEY_PW}"), ("database", "db")]));
        assert!(is_reference("${file:/etc/secrets.properties:pw}"));
        assert!(!is_reference("abc${env:X}"), "only a whole reference is shown as it is");
        assert!(!is_reference("${nocolon}"));
    }

    #[test]
    fn hidden_values_keep_the_stored_secret() {
        let stored = map(&[("password", "s3cr3t"), ("database", "db")]);
        let sent = hide(&stored, is_password_key);
        let mut edited = sent.clone();
        edited.insert("database".into(), "other".into());
        let merged = restore_hidden(edited, Some(&stored)).unwrap();
        assert_eq!(merged, map(&[("password", "s3cr3t"), ("database", "other")]));

        let errors = restore_hidden(sent, None).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].config_key(), Some("password"));
        assert!(!errors[0].to_string().contains("s3cr3t"));
    }
}
