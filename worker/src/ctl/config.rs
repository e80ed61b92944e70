//! Where `sluice ctl` connects: the command-line options, the environment and named contexts
//! from a YAML file (`$SLUICE_CTL_CONFIG`, else `~/.config/sluice/ctl.yaml`):
//!
//! ```yaml
//! current: prod
//! contexts:
//!   local: { url: "http://localhost:8083" }
//!   prod: { url: "https://connect.example.com:8443", user: ops, password: "…", ca_file: /etc/ssl/ca.pem }
//! ```
//!
//! Each setting comes from the first of: its option (`--url`, …), the context named by
//! `--context`, the environment (`SLUICE_URL`, `SLUICE_USER`, `SLUICE_PASSWORD`), the file's
//! `current` context, the default (`http://localhost:8083`, no auth).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::CtlError;

pub const DEFAULT_URL: &str = "http://localhost:8083";

/// The contexts file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextsFile {
    /// Named connection settings.
    #[serde(default)]
    pub contexts: BTreeMap<String, Context>,
    /// The context used when `--context` is not given.
    pub current: Option<String>,
}

/// One named cluster.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Context {
    /// Base URL of the REST API.
    pub url: Option<String>,
    /// Basic auth user.
    pub user: Option<String>,
    /// Basic auth password.
    pub password: Option<String>,
    /// PEM file of CA certificates to trust besides the system's.
    pub ca_file: Option<PathBuf>,
    /// Accept any server certificate.
    #[serde(default)]
    pub insecure: bool,
}

/// What the command line said about the connection.
#[derive(Debug, Default, Clone)]
pub struct ConnectionOptions {
    pub url: Option<String>,
    pub context: Option<String>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub insecure: bool,
}

/// The resolved connection settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub url: String,
    pub user: Option<String>,
    pub password: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub insecure: bool,
}

/// The contexts file's path and whether the user named it (then it must exist).
pub fn contexts_path(env: &dyn Fn(&str) -> Option<String>) -> Option<(PathBuf, bool)> {
    if let Some(path) = env("SLUICE_CTL_CONFIG") {
        return Some((PathBuf::from(path), true));
    }
    env("HOME").map(|home| (Path::new(&home).join(".config/sluice/ctl.yaml"), false))
}

/// Reads the contexts file; a default file that does not exist is an empty one.
pub fn load(path: &Path, named: bool) -> Result<ContextsFile, CtlError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && !named => return Ok(ContextsFile::default()),
        Err(source) => return Err(CtlError::Read { path: path.display().to_string(), source }),
    };
    if text.trim().is_empty() {
        return Ok(ContextsFile::default());
    }
    serde_norway::from_str(&text).map_err(|error| CtlError::Contexts {
        path: path.display().to_string(),
        message: format!(
            "{error}; expected `contexts: {{name: {{url, user, password, ca_file, insecure}}}}, current: name`"
        ),
    })
}

/// Layers the options, the named context, the environment and the current context.
pub fn resolve(
    options: &ConnectionOptions,
    env: &dyn Fn(&str) -> Option<String>,
    file: &ContextsFile,
    path: &Path,
) -> Result<Target, CtlError> {
    let lookup = |name: &str| {
        file.contexts.get(name).cloned().ok_or_else(|| {
            let known: Vec<&str> = file.contexts.keys().map(String::as_str).collect();
            CtlError::Contexts {
                path: path.display().to_string(),
                message: format!("no context named {name:?}; the file has {known:?}"),
            }
        })
    };
    let named = options.context.as_deref().map(lookup).transpose()?.unwrap_or_default();
    // A stale `current` is an error too: silently falling back to localhost would act on the
    // wrong cluster's namesake.
    let current = match (&options.context, &file.current) {
        (None, Some(name)) => lookup(name)?,
        _ => Context::default(),
    };
    let pick = |flag: &Option<String>, named: &Option<String>, var: &str, current: &Option<String>| {
        flag.clone().or_else(|| named.clone()).or_else(|| env(var)).or_else(|| current.clone())
    };
    Ok(Target {
        url: pick(&options.url, &named.url, "SLUICE_URL", &current.url).unwrap_or_else(|| DEFAULT_URL.to_owned()),
        user: pick(&options.user, &named.user, "SLUICE_USER", &current.user),
        password: pick(&options.password, &named.password, "SLUICE_PASSWORD", &current.password),
        ca_file: options.ca_file.clone().or(named.ca_file).or(current.ca_file),
        insecure: options.insecure || named.insecure || current.insecure,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "current: local\ncontexts:\n  local: {url: 'http://127.0.0.1:1'}\n  prod: {url: 'https://prod:8443', user: ops, password: pw, insecure: true}\n";

    fn file() -> ContextsFile {
        serde_norway::from_str(FILE).unwrap()
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn the_current_context_is_the_fallback_and_the_environment_beats_it() {
        let path = Path::new("ctl.yaml");
        let target = resolve(&ConnectionOptions::default(), &no_env, &file(), path).unwrap();
        assert_eq!(target.url, "http://127.0.0.1:1");
        let env = |name: &str| (name == "SLUICE_URL").then(|| "http://env:8083".to_owned());
        assert_eq!(resolve(&ConnectionOptions::default(), &env, &file(), path).unwrap().url, "http://env:8083");
    }

    #[test]
    fn a_named_context_beats_the_environment_and_a_flag_beats_both() {
        let path = Path::new("ctl.yaml");
        let env = |name: &str| (name == "SLUICE_URL").then(|| "http://env:8083".to_owned());
        let options = ConnectionOptions { context: Some("prod".into()), ..Default::default() };
        let target = resolve(&options, &env, &file(), path).unwrap();
        assert_eq!(
            target,
            Target {
                url: "https://prod:8443".into(),
                user: Some("ops".into()),
                password: Some("pw".into()),
                ca_file: None,
                insecure: true
            }
        );
        let options = ConnectionOptions { url: Some("http://flag".into()), ..options };
        assert_eq!(resolve(&options, &env, &file(), path).unwrap().url, "http://flag");
    }

    #[test]
    fn an_unknown_context_names_the_known_ones() {
        let options = ConnectionOptions { context: Some("staging".into()), ..Default::default() };
        let error = resolve(&options, &no_env, &file(), Path::new("ctl.yaml")).unwrap_err().to_string();
        assert!(error.contains("staging") && error.contains("prod"), "{error}");
    }

    #[test]
    fn without_a_file_the_default_url_is_used() {
        let target = resolve(&ConnectionOptions::default(), &no_env, &ContextsFile::default(), Path::new("x")).unwrap();
        assert_eq!(target.url, DEFAULT_URL);
        assert!(load(Path::new("/nonexistent/ctl.yaml"), false).unwrap().contexts.is_empty());
        assert!(load(Path::new("/nonexistent/ctl.yaml"), true).is_err());
    }
}
