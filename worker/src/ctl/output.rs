//! How answers are shown: aligned tables for people, JSON or YAML of the data for scripts, and
//! password values hidden whatever the server sent (a JVM runtime sends them in clear).

use serde::Serialize;
use serde_json::Value;
use sluice_api::secrets::{is_password_key, is_reference, HIDDEN};

use super::CtlError;

/// `-o`: the output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    #[default]
    Table,
    /// The data as JSON.
    Json,
    /// The data as YAML.
    Yaml,
}

/// A table: a header and rows of cells, printed with columns aligned by two spaces.
#[derive(Debug, Default)]
pub struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&'static str]) -> Self {
        Self { header: header.to_vec(), rows: Vec::new() }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let header: Vec<String> = self.header.iter().map(|h| (*h).to_owned()).collect();
        let lines: Vec<&Vec<String>> = std::iter::once(&header).chain(&self.rows).collect();
        let widths: Vec<usize> = (0..self.header.len())
            .map(|i| lines.iter().map(|l| l.get(i).map_or(0, |c| c.chars().count())).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for line in lines {
            let mut text = String::new();
            for (i, width) in widths.iter().enumerate() {
                let cell = line.get(i).map_or("", String::as_str);
                text.push_str(cell);
                if i + 1 < widths.len() {
                    text.push_str(&" ".repeat(width - cell.chars().count() + 2));
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        }
        out
    }
}

/// The data as JSON (pretty) or YAML.
pub fn data<T: Serialize>(value: &T, format: Format) -> Result<String, CtlError> {
    match format {
        Format::Yaml => serde_norway::to_string(value).map_err(|e| CtlError::Encode(e.to_string())),
        _ => serde_json::to_string_pretty(value).map(|s| s + "\n").map_err(|e| CtlError::Encode(e.to_string())),
    }
}

/// Replaces password values of a config object with `[hidden]` (Sluice already did; a JVM
/// runtime did not). Provider references are not secrets and stay.
pub fn hide_secrets(config: &mut Value) {
    if let Some(map) = config.as_object_mut() {
        for (key, value) in map.iter_mut() {
            let plain = value.as_str().is_some_and(|v| v != HIDDEN && !is_reference(v));
            if plain && is_password_key(key) {
                *value = Value::String(HIDDEN.to_owned());
            }
        }
    }
}

/// A JSON scalar as a config string (YAML and JSON files may write `tasks.max: 2`).
pub fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A string field of a JSON object, or "" (for table cells).
pub fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_table_aligns_its_columns() {
        let mut table = Table::new(&["NAME", "STATE"]);
        table.row(vec!["orders-sink".into(), "RUNNING".into()]);
        table.row(vec!["a".into(), "FAILED".into()]);
        assert_eq!(table.render(), "NAME         STATE\norders-sink  RUNNING\na            FAILED\n");
    }

    #[test]
    fn password_keys_are_hidden_but_references_stay() {
        let mut config = json!({
            "password": "p", "connection.password": "p", "sasl.jaas.config": "x", "api.secret": "s",
            "basic.auth.user.info": "u:p", "aws.secret.access.key": "k", "ssl.key.password": "${env:K}",
            "topics": "t", "tasks.max": 2
        });
        hide_secrets(&mut config);
        for key in [
            "password",
            "connection.password",
            "sasl.jaas.config",
            "api.secret",
            "basic.auth.user.info",
            "aws.secret.access.key",
        ] {
            assert_eq!(config[key], HIDDEN, "{key}");
        }
        assert_eq!(config["ssl.key.password"], "${env:K}");
        assert_eq!(config["topics"], "t");
    }

    #[test]
    fn data_prints_json_or_yaml() {
        let value = json!({"name": "a", "tasks": [1]});
        assert_eq!(data(&value, Format::Json).unwrap(), "{\n  \"name\": \"a\",\n  \"tasks\": [\n    1\n  ]\n}\n");
        assert_eq!(data(&value, Format::Yaml).unwrap(), "name: a\ntasks:\n- 1\n");
    }
}
