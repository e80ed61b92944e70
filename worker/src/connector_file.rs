//! Connector configs passed to `sluice standalone` as files, in any of the forms Kafka Connect
//! standalone accepts: `{"name","config"}` JSON, a flat JSON object, or a `.properties` file.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value as Json;

use crate::worker_config::read_properties;

/// A connector config read from a file.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorFile {
    pub name: String,
    pub config: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectorFileError {
    #[error("cannot read connector config {path}: {message}")]
    Read { path: String, message: String },
    #[error("connector config {path}: {message}")]
    Invalid { path: String, message: String },
}

fn scalar(v: &Json) -> Option<String> {
    match v {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Reads one connector file.
pub fn read(path: &Path) -> Result<ConnectorFile, ConnectorFileError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConnectorFileError::Read { path: shown.clone(), message: e.to_string() })?;
    let invalid = |message: String| ConnectorFileError::Invalid { path: shown.clone(), message };
    let mut config: BTreeMap<String, String> = if path.extension().is_some_and(|e| e == "json") {
        let json: Json = serde_json::from_str(&text).map_err(|e| invalid(format!("not valid JSON: {e}")))?;
        let (outer_name, object) = match (json.get("name"), json.get("config")) {
            (name, Some(cfg)) => (name.and_then(scalar), cfg.clone()),
            _ => (None, json),
        };
        let object = object.as_object().ok_or_else(|| invalid("expected a JSON object".into()))?;
        let mut map = BTreeMap::new();
        for (k, v) in object {
            map.insert(k.clone(), scalar(v).ok_or_else(|| invalid(format!("key {k} must have a string value")))?);
        }
        if let Some(name) = outer_name {
            map.entry("name".into()).or_insert(name);
        }
        map
    } else {
        read_properties(text.as_bytes()).map_err(|e| invalid(e.to_string()))?.into_iter().collect()
    };
    let name = config
        .get("name")
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| invalid("no connector name; set \"name\"".into()))?;
    config.insert("name".into(), name.clone());
    Ok(ConnectorFile { name, config })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_text(file: &str, text: &str) -> Result<ConnectorFile, ConnectorFileError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(file);
        std::fs::write(&path, text).unwrap();
        read(&path)
    }

    #[test]
    fn all_three_forms() {
        let a = read_text("a.json", r#"{"name":"ch","config":{"topics":"events","tasks.max":2}}"#).unwrap();
        assert_eq!(a.name, "ch");
        assert_eq!(a.config["tasks.max"], "2");
        assert_eq!(a.config["name"], "ch");
        let b = read_text("b.json", r#"{"name":"flat","topics":"events"}"#).unwrap();
        assert_eq!(b.config["topics"], "events");
        let c = read_text("c.properties", "name=props\ntopics=events\n").unwrap();
        assert_eq!(c.name, "props");
        assert!(read_text("d.json", r#"{"config":{"topics":"x"}}"#).unwrap_err().to_string().contains("name"));
    }
}
