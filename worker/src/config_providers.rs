//! Config providers (Kafka's KIP-297 and KIP-421): values such as `${env:CH_PASSWORD}`,
//! `${file:/etc/sluice/secrets.properties:password}` or `${directory:/run/secrets:password}`
//! are resolved when a connector is validated or a task starts, never when a config is stored.
//! So the sled store and the config topic hold the reference, and a secret a provider gives
//! never lands in Kafka.
//!
//! Providers are named in the worker config, as in Kafka Connect:
//! `config.providers=env,file` and `config.providers.<name>.class=<class>` with Kafka's class
//! names (`org.apache.kafka.common.config.provider.EnvVarConfigProvider`,
//! `FileConfigProvider`, `DirectoryConfigProvider`; the simple names work too), and their
//! options as `config.providers.<name>.param.<option>` (`allowlist.pattern` for env,
//! `allowed.paths` for file and directory). A reference is `${provider:[path:]key}`, found
//! anywhere in a value with Kafka's `ConfigTransformer` pattern. Unlike Kafka, which leaves a
//! reference it cannot resolve in place, Sluice refuses it with an error naming the key and the
//! reference, so a connector never runs with the literal `${…}` as its password.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;
use sluice_api::{ConnectError, ConnectorConfig};

use crate::worker_config::read_properties;

/// Worker keys of the providers.
pub mod keys {
    /// `config.providers`: the provider names, comma-separated.
    pub const CONFIG_PROVIDERS: &str = "config.providers";
    /// Prefix of `config.providers.<name>.class` and `config.providers.<name>.param.<option>`.
    pub const PREFIX: &str = "config.providers.";
}

/// Kafka's `ConfigTransformer.DEFAULT_PATTERN`: `${provider:[path:]key}`.
static REFERENCE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\$\{([^}]*?):(?:([^}]*?):)?([^}]*?)\}").expect("the reference pattern is valid"));

const ENV_CLASS: &str = "org.apache.kafka.common.config.provider.EnvVarConfigProvider";
const FILE_CLASS: &str = "org.apache.kafka.common.config.provider.FileConfigProvider";
const DIRECTORY_CLASS: &str = "org.apache.kafka.common.config.provider.DirectoryConfigProvider";

/// One configured provider.
#[derive(Debug, Clone)]
enum Provider {
    /// `${env:VAR}`: the worker's environment, optionally only variables matching a pattern.
    Env { allowlist: Option<Regex> },
    /// `${file:/path.properties:key}`: a key of a `.properties` file.
    File { allowed: Option<Vec<PathBuf>> },
    /// `${directory:/dir:name}`: the whole content of the file `name` in `/dir`.
    Directory { allowed: Option<Vec<PathBuf>> },
}

/// The worker's config providers, by name.
#[derive(Debug, Clone, Default)]
pub struct ConfigProviders {
    providers: BTreeMap<String, Provider>,
}

impl ConfigProviders {
    /// Reads `config.providers` and each provider's class and options from the worker config.
    pub fn from_worker(worker: &ConnectorConfig) -> Result<Self, ConnectError> {
        let mut providers = BTreeMap::new();
        for name in worker.list(keys::CONFIG_PROVIDERS) {
            let class_key = format!("{}{name}.class", keys::PREFIX);
            let class = worker.required(&class_key)?;
            let params = worker.with_prefix(&format!("{}{name}.param.", keys::PREFIX));
            let allowed = || {
                params.get("allowed.paths").map(|_| params.list("allowed.paths").iter().map(PathBuf::from).collect())
            };
            let provider = match class.rsplit('.').next().unwrap_or(class) {
                "EnvVarConfigProvider" => {
                    let allowlist = match params.get("allowlist.pattern") {
                        Some(p) => Some(Regex::new(&format!("^(?:{p})$")).map_err(|e| {
                            ConnectError::config(
                                format!("{}{name}.param.allowlist.pattern", keys::PREFIX),
                                e.to_string(),
                            )
                        })?),
                        None => None,
                    };
                    Provider::Env { allowlist }
                }
                "FileConfigProvider" => Provider::File { allowed: allowed() },
                "DirectoryConfigProvider" => Provider::Directory { allowed: allowed() },
                _ => {
                    let known = format!("{ENV_CLASS}, {FILE_CLASS} or {DIRECTORY_CLASS}");
                    let message = format!("Unknown config provider class {class}; use {known}.");
                    return Err(ConnectError::config(class_key, message));
                }
            };
            providers.insert(name, provider);
        }
        Ok(ConfigProviders { providers })
    }

    /// The config with every reference replaced by what its provider gives; every reference
    /// that cannot be resolved is an error naming its key and the reference (never a value).
    pub fn resolve(&self, config: &ConnectorConfig) -> Result<ConnectorConfig, Vec<ConnectError>> {
        let mut errors = Vec::new();
        let mut resolved = BTreeMap::new();
        for (key, value) in config.as_map() {
            let mut failed = false;
            let new = REFERENCE.replace_all(value, |c: &regex::Captures<'_>| {
                let (provider, path, name) = (&c[1], c.get(2).map_or("", |m| m.as_str()), &c[3]);
                match self.lookup(provider, path, name) {
                    Ok(v) => v,
                    Err(reason) => {
                        failed = true;
                        errors.push(ConnectError::config(
                            key.clone(),
                            format!("The config provider reference {} cannot be resolved: {reason}", &c[0]),
                        ));
                        String::new()
                    }
                }
            });
            if !failed {
                resolved.insert(key.clone(), new.into_owned());
            }
        }
        if errors.is_empty() {
            Ok(ConnectorConfig::new(resolved))
        } else {
            Err(errors)
        }
    }

    /// One reference's value, or why there is none (never containing a secret).
    fn lookup(&self, provider: &str, path: &str, key: &str) -> Result<String, String> {
        let Some(p) = self.providers.get(provider) else {
            return Err(format!(
                "no config provider named {provider:?} is configured; add it to the worker's config.providers, with config.providers.{provider}.class."
            ));
        };
        match p {
            Provider::Env { allowlist } => {
                if !path.is_empty() {
                    return Err("the env provider takes no path; write ${env:VARIABLE}.".to_owned());
                }
                if allowlist.as_ref().is_some_and(|re| !re.is_match(key)) {
                    return Err(format!(
                        "environment variable {key} is not allowed by the provider's allowlist.pattern."
                    ));
                }
                std::env::var(key)
                    .map_err(|_| format!("environment variable {key} is not set in the worker's environment."))
            }
            Provider::File { allowed } => {
                let file = checked_path(path, allowed.as_deref())?;
                let reader = std::fs::File::open(&file).map_err(|e| format!("cannot read {}: {e}.", file.display()))?;
                let mut map = read_properties(std::io::BufReader::new(reader))
                    .map_err(|e| format!("cannot parse {} as a .properties file: {e}.", file.display()))?;
                map.remove(key).ok_or_else(|| format!("{} has no key {key:?}.", file.display()))
            }
            Provider::Directory { allowed } => {
                let dir = checked_path(path, allowed.as_deref())?;
                if key.is_empty() || key.contains(['/', '\\']) || key == ".." || key == "." {
                    return Err(format!("{key:?} is not a file name inside {}.", dir.display()));
                }
                let file = dir.join(key);
                if !file.is_file() {
                    return Err(format!("{} is not a file.", file.display()));
                }
                std::fs::read_to_string(&file).map_err(|e| format!("cannot read {}: {e}.", file.display()))
            }
        }
    }
}

/// The path of a file or directory reference, if `allowed.paths` (when set) covers it.
fn checked_path(path: &str, allowed: Option<&[PathBuf]>) -> Result<PathBuf, String> {
    if path.is_empty() {
        return Err("the reference has no path; write ${provider:/path:key}.".to_owned());
    }
    let path = Path::new(path);
    if let Some(allowed) = allowed {
        let normal = path.components().collect::<PathBuf>();
        if path.components().any(|c| c == std::path::Component::ParentDir)
            || !allowed.iter().any(|a| normal.starts_with(a))
        {
            return Err(format!("{} is outside the provider's allowed.paths.", path.display()));
        }
    }
    Ok(path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> ConnectorConfig {
        pairs.iter().map(|(k, v)| (*k, *v)).collect()
    }

    fn providers(extra: &[(&str, &str)]) -> ConfigProviders {
        let mut pairs = vec![
            ("config.providers", "env,file,directory"),
            ("config.providers.env.class", ENV_CLASS),
            ("config.providers.file.class", FILE_CLASS),
            ("config.providers.directory.class", "DirectoryConfigProvider"),
        ];
        pairs.extend_from_slice(extra);
        ConfigProviders::from_worker(&config(&pairs)).unwrap()
    }

    #[test]
    fn env_file_and_directory_references_resolve() {
        let dir = tempfile::tempdir().unwrap();
        let props = dir.path().join("secrets.properties");
        std::fs::write(&props, "database=analytics\npassword = s3cr3t\n").unwrap();
        std::fs::write(dir.path().join("token"), "t0k3n\n").unwrap();
        // PATH is set in every test environment; no need to change the process's environment.
        let path = std::env::var("PATH").unwrap();
        let p = providers(&[]);
        let refs = config(&[
            ("database", &format!("${{file:{}:database}}", props.display())),
            ("password", &format!("${{file:{}:password}}", props.display())),
            ("token", &format!("${{directory:{}:token}}", dir.path().display())),
            ("search", "before-${env:PATH}-after"),
            ("plain", "no reference ${here}"),
        ]);
        let resolved = p.resolve(&refs).unwrap();
        assert_eq!(resolved.get("database"), Some("analytics"));
        assert_eq!(resolved.get("password"), Some("s3cr3t"));
        assert_eq!(resolved.get("token"), Some("t0k3n\n"), "a directory file is its whole content, as in Kafka");
        assert_eq!(resolved.get("search"), Some(format!("before-{path}-after").as_str()));
        assert_eq!(resolved.get("plain"), Some("no reference ${here}"));
    }

    #[test]
    fn unresolvable_references_name_the_key_and_the_reference() {
        let dir = tempfile::tempdir().unwrap();
        let props = dir.path().join("secrets.properties");
        std::fs::write(&props, "password=s3cr3t\n").unwrap();
        let p = providers(&[]);
        let cases = [
            ("${env:SLUICE_SURELY_UNSET_VARIABLE}", "SLUICE_SURELY_UNSET_VARIABLE is not set"),
            (&format!("${{file:{}:nope}}", props.display()) as &str, "has no key \"nope\""),
            ("${file:/no/such/file.properties:password}", "cannot read /no/such/file.properties"),
            (&format!("${{directory:{}:missing}}", dir.path().display()), "is not a file"),
            (&format!("${{directory:{}:../etc}}", dir.path().display()), "is not a file name"),
            ("${vault:secret/ch:password}", "no config provider named \"vault\""),
        ];
        for (reference, why) in cases {
            let errors = p.resolve(&config(&[("password", reference), ("database", "db")])).unwrap_err();
            assert_eq!(errors.len(), 1, "{reference}");
            assert_eq!(errors[0].config_key(), Some("password"));
            let message = errors[0].to_string();
            assert!(message.contains(reference) && message.contains(why), "{message}");
            assert!(!message.contains("s3cr3t"), "{message}");
        }
    }

    #[test]
    fn allowlists_and_allowed_paths_are_enforced() {
        let dir = tempfile::tempdir().unwrap();
        let props = dir.path().join("s.properties");
        std::fs::write(&props, "k=v\n").unwrap();
        let allowed = dir.path().display().to_string();
        let p = providers(&[
            ("config.providers.env.param.allowlist.pattern", "SLUICE_.*"),
            ("config.providers.file.param.allowed.paths", &allowed),
        ]);
        let err = p.resolve(&config(&[("a", "${env:PATH}")])).unwrap_err();
        assert!(err[0].to_string().contains("allowlist.pattern"), "{}", err[0]);
        assert!(p.resolve(&config(&[("a", &format!("${{file:{}:k}}", props.display()))])).is_ok());
        let err = p.resolve(&config(&[("a", "${file:/etc/passwd.properties:k}")])).unwrap_err();
        assert!(err[0].to_string().contains("allowed.paths"), "{}", err[0]);
    }

    #[test]
    fn unknown_provider_classes_are_refused() {
        let err = ConfigProviders::from_worker(&config(&[
            ("config.providers", "vault"),
            ("config.providers.vault.class", "com.example.VaultConfigProvider"),
        ]))
        .unwrap_err();
        assert_eq!(err.config_key(), Some("config.providers.vault.class"));
        let err = ConfigProviders::from_worker(&config(&[("config.providers", "env")])).unwrap_err();
        assert_eq!(err.config_key(), Some("config.providers.env.class"));
    }
}
