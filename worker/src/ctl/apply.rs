//! `sluice ctl apply -f FILE`: connector configs from JSON or YAML, created or updated with
//! `PUT /connectors/{name}/config` (idempotent, so a re-run changes nothing), or only checked
//! with `--dry-run` through `PUT /connector-plugins/{class}/config/validate`.
//!
//! A file holds one connector as `{name, config}`, a bare config map with `name` inside, a list
//! of either, or (YAML) several documents separated by `---`.

use std::collections::BTreeMap;

use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;
use sluice_api::secrets::HIDDEN;

use super::client::ConnectClient;
use super::output::scalar_text;
use super::CtlError;

/// One connector of an apply file.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorSpec {
    pub name: String,
    /// The config, `name` included (Kafka Connect keeps it there too).
    pub config: BTreeMap<String, String>,
}

/// Parses an apply file (`source` names it in errors).
pub fn parse(text: &str, source: &str) -> Result<Vec<ConnectorSpec>, CtlError> {
    let invalid = |message: String| CtlError::ApplyFile { file: source.to_owned(), message };
    let documents: Vec<Value> = match serde_json::from_str::<Value>(text) {
        Ok(value) => vec![value],
        Err(json_error) => {
            let mut documents = Vec::new();
            for document in serde_norway::Deserializer::from_str(text) {
                let value = Value::deserialize(document)
                    .map_err(|yaml_error| invalid(format!("neither JSON ({json_error}) nor YAML ({yaml_error})")))?;
                if !value.is_null() {
                    documents.push(value);
                }
            }
            documents
        }
    };
    let mut specs = Vec::new();
    for document in documents {
        match document {
            Value::Array(items) => {
                for item in items {
                    specs.push(spec(item).map_err(invalid)?);
                }
            }
            other => specs.push(spec(other).map_err(invalid)?),
        }
    }
    if specs.is_empty() {
        return Err(invalid("no connector in it".to_owned()));
    }
    let mut seen = std::collections::BTreeSet::new();
    for s in &specs {
        if !seen.insert(&s.name) {
            return Err(invalid(format!("connector {:?} is in it twice", s.name)));
        }
    }
    Ok(specs)
}

/// One connector from `{name, config}` or a bare config map with `name`.
fn spec(value: Value) -> Result<ConnectorSpec, String> {
    let Value::Object(mut object) = value else {
        return Err("each connector is an object: {name, config} or a config map with `name`".to_owned());
    };
    let (name, map) = match object.remove("config") {
        Some(Value::Object(config)) => {
            if let Some(extra) = object.keys().find(|k| !matches!(k.as_str(), "name" | "config")) {
                return Err(format!("unknown field {extra:?} beside `name` and `config`"));
            }
            let name = object.get("name").and_then(Value::as_str).map(str::to_owned);
            (name.or_else(|| config.get("name").and_then(Value::as_str).map(str::to_owned)), config)
        }
        Some(other) => {
            // A config map that has a key named `config` (no plugin uses one, but keep it).
            object.insert("config".to_owned(), other);
            (object.get("name").and_then(Value::as_str).map(str::to_owned), object)
        }
        None => (object.get("name").and_then(Value::as_str).map(str::to_owned), object),
    };
    let name = name.filter(|n| !n.trim().is_empty()).ok_or("a connector has no `name`")?;
    let mut config = BTreeMap::new();
    for (key, value) in map {
        let text = scalar_text(&value)
            .ok_or_else(|| format!("connector {name:?}: {key} must be a string, number or boolean, not {value}"))?;
        config.insert(key, text);
    }
    match config.get("name") {
        Some(inner) if *inner != name => {
            return Err(format!("connector {name:?}: its config says name={inner:?}; make them the same"))
        }
        _ => config.insert("name".to_owned(), name.clone()),
    };
    Ok(ConnectorSpec { name, config })
}

/// How a desired config compares with the one the server has.
#[derive(Debug, PartialEq, Eq)]
pub enum Comparison {
    Missing,
    Same,
    Different,
}

/// Compares configs; a value the server shows as `[hidden]` cannot be compared, so a config
/// with one counts as different (re-sending it is harmless: Kafka Connect's PUT is idempotent).
pub fn compare(current: Option<&BTreeMap<String, String>>, desired: &BTreeMap<String, String>) -> Comparison {
    let Some(current) = current else { return Comparison::Missing };
    let without_name = |m: &BTreeMap<String, String>| {
        m.iter().filter(|(k, _)| k.as_str() != "name").map(|(k, v)| (k.clone(), v.clone())).collect::<BTreeMap<_, _>>()
    };
    let (current, desired) = (without_name(current), without_name(desired));
    let hidden_unknown = current.iter().any(|(k, v)| v == HIDDEN && desired.get(k).is_some_and(|d| d != HIDDEN));
    if current == desired || (!hidden_unknown && same_but_hidden(&current, &desired)) {
        Comparison::Same
    } else {
        Comparison::Different
    }
}

/// Equal once values the file itself leaves as `[hidden]` (copied from a GET) count as equal.
fn same_but_hidden(current: &BTreeMap<String, String>, desired: &BTreeMap<String, String>) -> bool {
    current.len() == desired.len()
        && current
            .iter()
            .all(|(k, v)| desired.get(k).is_some_and(|d| d == v || (d == HIDDEN && current.contains_key(k))))
}

/// Creates or updates each connector, printing `created`, `configured` or `unchanged`; goes on
/// past a failure and fails at the end naming how many were not applied.
pub async fn apply(client: &ConnectClient, specs: &[ConnectorSpec]) -> Result<(), CtlError> {
    let mut failed = 0;
    for spec in specs {
        match apply_one(client, spec).await {
            Ok(outcome) => println!("connector {} {outcome}", spec.name),
            Err(error) => {
                eprintln!("error: connector {}: {error}", spec.name);
                failed += 1;
            }
        }
    }
    match failed {
        0 => Ok(()),
        n => Err(CtlError::Failed(format!("{n} of {} connectors were not applied (see above)", specs.len()))),
    }
}

async fn apply_one(client: &ConnectClient, spec: &ConnectorSpec) -> Result<&'static str, CtlError> {
    let path = ["connectors", spec.name.as_str(), "config"];
    let current = match client.get_if_found(&path).await? {
        Some(answer) => {
            let map: BTreeMap<String, Value> = answer.json("the connector's config")?;
            Some(map.into_iter().filter_map(|(k, v)| scalar_text(&v).map(|t| (k, t))).collect())
        }
        None => None,
    };
    if compare(current.as_ref(), &spec.config) == Comparison::Same {
        return Ok("unchanged");
    }
    let body =
        serde_json::to_value(&spec.config).map_err(|source| CtlError::Decode { what: "the config".into(), source })?;
    let answer = client.send(Method::PUT, &path, &[], Some(&body)).await?;
    Ok(if answer.status.as_u16() == 201 { "created" } else { "configured" })
}

/// A config error: connector, key, message.
#[derive(Debug, PartialEq)]
pub struct ValidationError {
    pub connector: String,
    pub key: String,
    pub message: String,
}

/// The errors of a `/config/validate` answer (Kafka Connect's `ConfigInfos`).
pub fn validation_errors(connector: &str, answer: &Value) -> Vec<ValidationError> {
    let configs = answer.get("configs").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    configs
        .iter()
        .flat_map(|c| {
            let key = c.pointer("/value/name").and_then(Value::as_str).unwrap_or("?").to_owned();
            let errors = c.pointer("/value/errors").and_then(Value::as_array).cloned().unwrap_or_default();
            errors.into_iter().map(move |e| ValidationError {
                connector: connector.to_owned(),
                key: key.clone(),
                message: e.as_str().map_or_else(|| e.to_string(), str::to_owned),
            })
        })
        .collect()
}

/// `--dry-run`: validates each config and prints every error with its key.
pub async fn dry_run(client: &ConnectClient, specs: &[ConnectorSpec]) -> Result<(), CtlError> {
    let mut errors = Vec::new();
    for spec in specs {
        let Some(class) = spec.config.get("connector.class") else {
            errors.push(ValidationError {
                connector: spec.name.clone(),
                key: "connector.class".into(),
                message: "Missing required configuration \"connector.class\" which has no default value.".into(),
            });
            continue;
        };
        let body = serde_json::to_value(&spec.config)
            .map_err(|source| CtlError::Decode { what: "the config".into(), source })?;
        let path = ["connector-plugins", class.as_str(), "config", "validate"];
        let answer: Value = client.send(Method::PUT, &path, &[], Some(&body)).await?.json("the validation")?;
        let found = validation_errors(&spec.name, &answer);
        if found.is_empty() {
            println!("connector {} is valid", spec.name);
        }
        errors.extend(found);
    }
    for e in &errors {
        println!("connector {}: {}: {}", e.connector, e.key, e.message);
    }
    match errors.len() {
        0 => Ok(()),
        n => Err(CtlError::Failed(format!("{n} config error(s); fix the keys above (nothing was applied)"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names(specs: &[ConnectorSpec]) -> Vec<&str> {
        specs.iter().map(|s| s.name.as_str()).collect()
    }

    #[test]
    fn every_file_form_parses() {
        let one =
            parse(r#"{"name": "a", "config": {"connector.class": "FileStreamSink", "tasks.max": 2}}"#, "f").unwrap();
        assert_eq!(one[0].config["tasks.max"], "2");
        assert_eq!(one[0].config["name"], "a");
        let bare = parse(r#"{"name": "b", "connector.class": "FileStreamSink"}"#, "f").unwrap();
        assert_eq!(names(&bare), ["b"]);
        let list =
            parse("- name: a\n  config: {topics: t}\n- {name: b, topics: u, errors.tolerance: all}\n", "f").unwrap();
        assert_eq!(names(&list), ["a", "b"]);
        assert_eq!(list[1].config["errors.tolerance"], "all");
        let documents = parse("name: a\nconfig: {topics: t}\n---\nname: b\nconfig: {topics: u}\n", "f").unwrap();
        assert_eq!(names(&documents), ["a", "b"]);
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let error = |text: &str| parse(text, "f.yaml").unwrap_err().to_string();
        assert!(error("config: {topics: t}").contains("no `name`"));
        assert!(error("name: a\nconfig: {topics: [t]}").contains("topics must be"));
        assert!(error("[{name: a, topics: t}, {name: a, topics: u}]").contains("twice"));
        assert!(error("name: a\nconfig: {name: b}").contains("make them the same"));
        assert!(error("{{{").contains("neither JSON"));
    }

    #[test]
    fn comparison_ignores_name_and_treats_hidden_values_as_unknown() {
        let map = |pairs: &[(&str, &str)]| {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>()
        };
        let desired = map(&[("name", "a"), ("topics", "t")]);
        assert_eq!(compare(None, &desired), Comparison::Missing);
        assert_eq!(compare(Some(&map(&[("topics", "t")])), &desired), Comparison::Same);
        assert_eq!(compare(Some(&map(&[("topics", "u")])), &desired), Comparison::Different);
        let with_secret = map(&[("topics", "t"), ("password", "p")]);
        assert_eq!(compare(Some(&map(&[("topics", "t"), ("password", HIDDEN)])), &with_secret), Comparison::Different);
        let copied = map(&[("topics", "t"), ("password", HIDDEN)]);
        assert_eq!(compare(Some(&copied), &copied), Comparison::Same);
    }

    #[test]
    fn validation_errors_carry_their_key() {
        let answer = json!({"error_count": 1, "configs": [
            {"definition": null, "value": {"name": "topics", "value": "t", "errors": []}},
            {"definition": null, "value": {"name": "tasks.max", "value": "x", "errors": ["Invalid value x"]}}
        ]});
        assert_eq!(
            validation_errors("a", &answer),
            [ValidationError { connector: "a".into(), key: "tasks.max".into(), message: "Invalid value x".into() }]
        );
    }
}
